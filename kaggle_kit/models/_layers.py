"""Pieces every builder shares: the raw-pixel input and the float32 logit head."""

from __future__ import annotations

from typing import Any

from kaggle_kit.errors import ConfigError, shown


def pixel_input(input_shape: tuple[int, int, int]):
    """A ``keras.Input`` for raw 0–255 float32 pixels."""
    import keras

    return keras.Input(shape=input_shape, dtype="float32", name="image")


def logit_head(x, dropout: float = 0.0):
    """Dropout (if any) → Dense(1) in float32, so logits stay float32 under mixed precision."""
    from keras import layers

    if dropout:
        x = layers.Dropout(dropout, name="head_dropout")(x)
    return layers.Dense(1, dtype="float32", name="logits")(x)  # create_model(outputs=K) widens it


POOLINGS = ("avg", "max", "avgmax", "centre")


def global_pool(x, pooling: str):
    """Feature map → vector: ``avg``, ``max``, ``avgmax`` (both), or ``centre`` (avgmax + the mean of the
    central third of the map).

    avg+max: the mean sees the whole image, the max keeps a small strong signal (a few tumour cells).
    ``centre`` adds what lies over the middle of the image, where a PCam label is decided (the
    centre 32×32 of a 96×96 patch): the last map of a stride-32 net on 96 px is 3×3, its middle cell.
    """
    from keras import layers

    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name="max_pool")(x)
    pooled = [layers.GlobalAveragePooling2D(name="avg_pool")(x), layers.GlobalMaxPooling2D(name="max_pool")(x)]
    if pooling == "centre":
        height, width = int(x.shape[1]), int(x.shape[2])
        keep_rows, keep_cols = max(1, round(height / 3)), max(1, round(width / 3))
        top, left = (height - keep_rows) // 2, (width - keep_cols) // 2
        centre = layers.Cropping2D(((top, height - keep_rows - top), (left, width - keep_cols - left)),
                                   name="centre_crop")(x)
        pooled.append(layers.GlobalAveragePooling2D(name="centre_avg_pool")(centre))
    return layers.Concatenate(name=f"{pooling}_pool")(pooled)


def check_choice(model: str, option: str, value: Any, choices: tuple[Any, ...]) -> None:
    if value not in choices:
        raise ConfigError(
            f"model '{model}' option {option} must be one of {', '.join(map(str, choices))} (got {shown(value)})"
        )


def check_range(model: str, option: str, value: float, low: float, high: float) -> None:
    """``low <= value < high``, else a ConfigError naming the option."""
    if not (isinstance(value, (int, float)) and low <= value < high):
        raise ConfigError(f"model '{model}' option {option} must be from {low} to below {high} (got {shown(value)})")
