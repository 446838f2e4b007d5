"""``kit-resnet``: a compact residual CNN, the default model (design measured in docs/benchmarks.md)."""

from __future__ import annotations

from kaggle_kit.models._layers import POOLINGS, check_choice, check_range, global_pool, logit_head, pixel_input
from kaggle_kit.models._registry import register_model

NAME = "kit-resnet"


@register_model(name=NAME)
def kit_resnet(
    input_shape,
    *,
    width: int = 32,
    stages: int = 4,
    depth: int = 2,
    stem_stride: int = 4,
    pooling: str = "avgmax",
    dropout: float = 0.2,
    bn_momentum: float = 0.9,
):
    """Compact ResNet, the default: stride-4 stem, stages of basic blocks doubling the width, avg+max pooled logit."""
    import keras
    from keras import layers

    check_range(NAME, "width", width, 4, 1025)
    check_range(NAME, "stages", stages, 1, 7)
    check_range(NAME, "depth", depth, 1, 17)
    check_choice(NAME, "stem_stride", stem_stride, (1, 2, 4))
    check_choice(NAME, "pooling", pooling, POOLINGS)
    check_range(NAME, "dropout", dropout, 0.0, 1.0)
    check_range(NAME, "bn_momentum", bn_momentum, 0.0, 1.0)

    def conv_bn(x, filters, stride, tag, relu=True):
        x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, name=f"{tag}_conv")(x)
        x = layers.BatchNormalization(momentum=bn_momentum, name=f"{tag}_bn")(x)
        return layers.ReLU(name=f"{tag}_relu")(x) if relu else x

    def basic_block(x, filters, stride, tag):
        shortcut = x
        if stride != 1 or x.shape[-1] != filters:
            # Projection shortcut where the block changes resolution or width.
            shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False, name=f"{tag}_proj")(x)
            shortcut = layers.BatchNormalization(momentum=bn_momentum, name=f"{tag}_proj_bn")(shortcut)
        y = conv_bn(x, filters, stride, f"{tag}_a")
        y = conv_bn(y, filters, 1, f"{tag}_b", relu=False)
        return layers.ReLU(name=f"{tag}_out")(layers.Add(name=f"{tag}_add")([shortcut, y]))

    inputs = pixel_input(input_shape)
    x = layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    x = conv_bn(x, width, min(stem_stride, 2), "stem")
    if stem_stride == 4:
        x = layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    for stage in range(stages):
        for block in range(depth):
            stride = 2 if stage > 0 and block == 0 else 1
            x = basic_block(x, width * 2**stage, stride, f"stage{stage + 1}_block{block + 1}")
    x = global_pool(x, pooling)
    return keras.Model(inputs, logit_head(x, dropout), name="kit_resnet")
