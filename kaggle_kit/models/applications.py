"""``keras.applications`` backbones with a pooled float32 logit head.

``weights=None`` (random init) by default; ``weights="imagenet"`` downloads the
pretrained weights into ``~/.keras/models`` on first use. Each backbone is given
the input scaling its ImageNet weights expect, inside the model, so it still
takes raw 0–255 pixels.
"""

from __future__ import annotations

from typing import Callable

from kaggle_kit.errors import ConfigError
from kaggle_kit.models._layers import check_choice, check_range, logit_head, pixel_input
from kaggle_kit.models._registry import register_model

WEIGHTS = (None, "imagenet")


def _efficientnet_b0(shape, weights):
    import keras

    # Rescaling and ImageNet normalisation are built into EfficientNet: it takes 0–255.
    return keras.applications.EfficientNetB0(include_top=False, weights=weights, input_shape=shape, pooling="avg")


def _efficientnetv2_b0(shape, weights):
    import keras

    return keras.applications.EfficientNetV2B0(
        include_top=False, weights=weights, input_shape=shape, pooling="avg", include_preprocessing=True
    )


def _mobilenet_v3_small(shape, weights):
    import keras

    return keras.applications.MobileNetV3Small(
        include_top=False, weights=weights, input_shape=shape, pooling="avg", include_preprocessing=True
    )


def _mobilenet_v3_large(shape, weights):
    import keras

    return keras.applications.MobileNetV3Large(
        include_top=False, weights=weights, input_shape=shape, pooling="avg", include_preprocessing=True
    )


def _resnet50v2(shape, weights):
    import keras
    from keras import layers

    # ResNetV2's weights expect pixels scaled to [-1, 1] ("tf" mode).
    backbone = keras.applications.ResNet50V2(include_top=False, weights=weights, input_shape=shape, pooling="avg")
    inputs = keras.Input(shape=shape, name="pixels")
    scaled = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="rescale")(inputs)
    return keras.Model(inputs, backbone(scaled), name="resnet50v2_scaled")


def _build(name: str, backbone: Callable, input_shape, weights, dropout: float):
    import keras

    check_choice(name, "weights", weights, WEIGHTS)
    check_range(name, "dropout", dropout, 0.0, 1.0)
    if weights == "imagenet" and input_shape[-1] != 3:
        raise ConfigError(f"model '{name}' with weights='imagenet' needs 3-channel input, got {input_shape[-1]}")
    inputs = pixel_input(input_shape)
    features = _load_backbone(name, backbone, input_shape, weights)(inputs)
    return keras.Model(inputs, logit_head(features, dropout), name=name.replace("-", "_"))


def _load_backbone(name: str, backbone: Callable, input_shape, weights):
    if weights is None:
        return backbone(input_shape, None)
    try:
        return backbone(input_shape, weights)
    # keras' get_file raises a plain Exception on a failed download, so nothing narrower catches it.
    except Exception as exc:
        raise ConfigError(
            f"model '{name}': could not download the ImageNet weights ({exc}); connect to the internet once, "
            "or put the .h5 file in ~/.keras/models, or use weights=None"
        ) from exc


@register_model(name="efficientnet-b0")
def efficientnet_b0(input_shape, *, weights: str | None = None, dropout: float = 0.2):
    """keras.applications EfficientNetB0 (weights=None or 'imagenet')."""
    return _build("efficientnet-b0", _efficientnet_b0, input_shape, weights, dropout)


@register_model(name="efficientnetv2-b0")
def efficientnetv2_b0(input_shape, *, weights: str | None = None, dropout: float = 0.2):
    """keras.applications EfficientNetV2B0 (weights=None or 'imagenet')."""
    return _build("efficientnetv2-b0", _efficientnetv2_b0, input_shape, weights, dropout)


@register_model(name="mobilenet-v3-small")
def mobilenet_v3_small(input_shape, *, weights: str | None = None, dropout: float = 0.2):
    """keras.applications MobileNetV3Small, the cheapest backbone (weights=None or 'imagenet')."""
    return _build("mobilenet-v3-small", _mobilenet_v3_small, input_shape, weights, dropout)


@register_model(name="mobilenet-v3-large")
def mobilenet_v3_large(input_shape, *, weights: str | None = None, dropout: float = 0.2):
    """keras.applications MobileNetV3Large (weights=None or 'imagenet')."""
    return _build("mobilenet-v3-large", _mobilenet_v3_large, input_shape, weights, dropout)


@register_model(name="resnet50v2")
def resnet50v2(input_shape, *, weights: str | None = None, dropout: float = 0.2):
    """keras.applications ResNet50V2, pixels scaled to [-1, 1] inside (weights=None or 'imagenet')."""
    return _build("resnet50v2", _resnet50v2, input_shape, weights, dropout)
