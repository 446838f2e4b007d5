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


def check_choice(model: str, option: str, value: Any, choices: tuple[Any, ...]) -> None:
    if value not in choices:
        raise ConfigError(
            f"model '{model}' option {option} must be one of {', '.join(map(str, choices))} (got {shown(value)})"
        )


def check_range(model: str, option: str, value: float, low: float, high: float) -> None:
    """``low <= value < high``, else a ConfigError naming the option."""
    if not (isinstance(value, (int, float)) and low <= value < high):
        raise ConfigError(f"model '{model}' option {option} must be from {low} to below {high} (got {shown(value)})")
