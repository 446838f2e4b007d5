"""``keras.applications`` backbones with a pooled float32 logit head.

``weights=None`` (random init) by default; ``weights="imagenet"`` downloads the
pretrained weights into ``~/.keras/models`` on first use. Each backbone is given
the input scaling its ImageNet weights expect, inside the model, so it still
takes raw 0–255 pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kaggle_kit.errors import ConfigError
from kaggle_kit.models._layers import check_choice, check_range, logit_head, pixel_input
from kaggle_kit.models._registry import register_model

WEIGHTS = (None, "imagenet")


@dataclass(frozen=True)
class Backbone:
    """A ``keras.applications`` class and the input scaling its ImageNet weights expect."""

    name: str
    application: str  # the class name in keras.applications
    description: str
    # Rescaling(scale, offset) in front of the backbone; None when the backbone scales 0–255 itself.
    scaling: tuple[float, float] | None = None
    extra: tuple[tuple[str, Any], ...] = ()  # more keyword arguments of the application


BACKBONES = (
    # EfficientNet and MobileNetV3 have their rescaling/normalisation built in: they take 0–255.
    Backbone("efficientnet-b0", "EfficientNetB0", "keras.applications EfficientNetB0"),
    Backbone("efficientnetv2-b0", "EfficientNetV2B0", "keras.applications EfficientNetV2B0",
             extra=(("include_preprocessing", True),)),
    Backbone("mobilenet-v3-small", "MobileNetV3Small", "keras.applications MobileNetV3Small, the cheapest backbone",
             extra=(("include_preprocessing", True),)),
    Backbone("mobilenet-v3-large", "MobileNetV3Large", "keras.applications MobileNetV3Large",
             extra=(("include_preprocessing", True),)),
    # ResNetV2's weights expect pixels scaled to [-1, 1] ("tf" mode).
    Backbone("resnet50v2", "ResNet50V2", "keras.applications ResNet50V2, pixels scaled to [-1, 1] inside",
             scaling=(1.0 / 127.5, -1.0)),
)


def _register(backbone: Backbone) -> None:
    def builder(input_shape, *, weights: str | None = None, dropout: float = 0.2):
        return _build(backbone, input_shape, weights, dropout)

    builder.__doc__ = f"{backbone.description} (weights=None or 'imagenet')."
    register_model(name=backbone.name)(builder)


def _build(backbone: Backbone, input_shape, weights, dropout: float):
    import keras
    from keras import layers

    name = backbone.name
    check_choice(name, "weights", weights, WEIGHTS)
    check_range(name, "dropout", dropout, 0.0, 1.0)
    if weights == "imagenet" and input_shape[-1] != 3:
        raise ConfigError(f"model '{name}' with weights='imagenet' needs 3-channel input, got {input_shape[-1]}")
    inputs = pixel_input(input_shape)
    x = inputs
    if backbone.scaling is not None:
        x = layers.Rescaling(backbone.scaling[0], offset=backbone.scaling[1], name="rescale")(x)
    features = _load_backbone(backbone, input_shape, weights)(x)
    return keras.Model(inputs, logit_head(features, dropout), name=name.replace("-", "_"))


def _load_backbone(backbone: Backbone, input_shape, weights):
    import keras

    application = getattr(keras.applications, backbone.application)
    kwargs = dict(include_top=False, input_shape=input_shape, pooling="avg", **dict(backbone.extra))
    if weights is None:
        return application(weights=None, **kwargs)
    try:
        return application(weights=weights, **kwargs)
    # keras' get_file raises a plain Exception on a failed download, so nothing narrower catches it.
    except Exception as exc:
        raise ConfigError(
            f"model '{backbone.name}': could not download the ImageNet weights ({exc}); connect to the internet "
            "once, or put the .h5 file in ~/.keras/models, or use weights=None"
        ) from exc


for _backbone in BACKBONES:
    _register(_backbone)
