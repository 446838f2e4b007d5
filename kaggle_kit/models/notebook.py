"""The two reference notebooks' networks, reproduced as named baselines (see docs/architecture.md)."""

from __future__ import annotations

from kaggle_kit.models._layers import check_choice, check_range, logit_head, pixel_input
from kaggle_kit.models._registry import register_model


@register_model(name="notebook-dense", reference_shape=(140, 140, 3))
def notebook_dense(
    input_shape, *, units: int = 32, l1: float = 0.01, l2: float = 0.0, dropout: float = 0.5, extra_layer: bool = False
):
    """Galaxy Zoo 2 notebook: flattened pixels → Dense 32 → Dense 32 (L1 0.01) → Dropout 0.5 → logit."""
    import keras
    from keras import layers, regularizers

    name = "notebook-dense"
    check_range(name, "units", units, 1, 1 << 16)
    check_range(name, "dropout", dropout, 0.0, 1.0)
    check_range(name, "l1", l1, 0.0, 10.0)
    check_range(name, "l2", l2, 0.0, 10.0)
    inputs = pixel_input(input_shape)
    x = layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(units, activation="relu", name="dense_1")(x)
    if extra_layer:  # the notebook's "one more hidden layer" variant
        x = layers.Dense(units, activation="relu", name="dense_extra")(x)
    penalty = regularizers.L1L2(l1=l1, l2=l2) if (l1 or l2) else None
    x = layers.Dense(units, activation="relu", kernel_regularizer=penalty, name="dense_2")(x)
    return keras.Model(inputs, logit_head(x, dropout), name="notebook_dense")


@register_model(name="notebook-cnn", reference_shape=(32, 32, 3))
def notebook_cnn(input_shape, *, bn_position: str = "before", bn_momentum: float = 0.99):
    """PCam notebook: (Conv-BN-ReLU-MaxPool3) ×2 → Dense 128-BN-ReLU → logit; BN before or after ReLU."""
    import keras
    from keras import layers

    check_choice("notebook-cnn", "bn_position", bn_position, ("before", "after"))
    check_range("notebook-cnn", "bn_momentum", bn_momentum, 0.0, 1.0)

    def normalised(x, tag: str):
        norm = layers.BatchNormalization(momentum=bn_momentum, name=f"{tag}_bn")
        relu = layers.ReLU(name=f"{tag}_relu")
        return relu(norm(x)) if bn_position == "before" else norm(relu(x))

    inputs = pixel_input(input_shape)
    x = layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    for filters, tag in ((32, "block1"), (64, "block2")):
        x = layers.Conv2D(filters, 3, name=f"{tag}_conv")(x)
        x = layers.MaxPooling2D(3, name=f"{tag}_pool")(normalised(x, tag))
    x = layers.Flatten(name="flatten")(x)
    x = normalised(layers.Dense(128, name="dense")(x), "dense")
    return keras.Model(inputs, logit_head(x), name="notebook_cnn")
