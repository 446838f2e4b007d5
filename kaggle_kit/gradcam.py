"""Grad-CAM heatmaps for any kit model: which pixels pushed the logit towards its prediction.

The target is found generically: the last feature map (rank-4 output) that comes
after a convolution, skipping trailing pooling layers so the map keeps the
convolution's resolution. Backbones nested as one layer (``keras.applications``)
are searched inside when the outer model is a plain chain of layers. Models
without convolutions (``notebook-dense``) have no feature map to explain:
:func:`find_target` returns ``None`` and the caller says so.

>>> explainer = find_target(model)
>>> heatmaps = gradcam(model, images, explainer)      # (n, H, W) in [0, 1]
>>> tiles = overlay(images, heatmaps)                  # uint8 RGB, same size as images
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

if TYPE_CHECKING:
    import keras

CONV_TYPES = ("Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Conv2DTranspose")
POOL_TYPES = ("MaxPooling2D", "AveragePooling2D")
# A chain rebuilt layer by layer must reproduce the model's own logits to this tolerance.
CHAIN_TOLERANCE = 1e-3


@dataclass(frozen=True)
class Explainer:
    """How to get (feature map, logits) from a model in one differentiable call."""

    layer_name: str  # the feature map explained, e.g. "block2_relu" or "efficientnetb0/top_activation"
    split: Callable[[Any], tuple[Any, Any]]  # images → (features (n, h, w, c), logits (n, 1))
    via_chain: bool  # True when rebuilt layer by layer (checked against the model on each call)


def find_target(model: "keras.Model") -> Explainer | None:
    """The explainer for ``model``'s last convolutional feature map, or ``None`` if it has none."""
    import keras

    layer = _last_feature_layer(model.layers)
    if layer is not None and not isinstance(layer, keras.Model):
        split_model = keras.Model(model.inputs, [layer.output, model.outputs[0]])
        return Explainer(layer.name, lambda x: tuple(split_model(x, training=False)), via_chain=False)
    return _chain_explainer(model)


def gradcam(model: "keras.Model", images: np.ndarray, explainer: Explainer) -> np.ndarray:
    """Heatmaps ``(n, H, W)`` in [0, 1] explaining each image's predicted class.

    For a logit above 0 (predicted positive) the gradient of the logit is used,
    otherwise that of its negation, so the map shows the evidence for what the
    model decided, right or wrong. Raises ``ValueError`` when a chain explainer
    does not reproduce the model's logits (an architecture it cannot follow).
    """
    import tensorflow as tf

    batch = tf.convert_to_tensor(np.asarray(images, dtype=np.float32))
    with tf.GradientTape() as tape:
        try:
            features, logits = explainer.split(batch)
        except (ValueError, TypeError):
            if not explainer.via_chain:
                raise
            raise ValueError(_not_a_chain(model)) from None  # a layer got another branch's input
        logits = tf.cast(logits[:, 0], tf.float32)
        evidence = tf.where(logits >= 0, logits, -logits)
    grads = tf.cast(tape.gradient(evidence, features), tf.float32)
    if explainer.via_chain:
        _check_chain(model, batch, logits)
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    cams = tf.nn.relu(tf.reduce_sum(weights * tf.cast(features, tf.float32), axis=-1)).numpy()
    return np.stack([_resize_unit(cam, images.shape[1:3]) for cam in cams])


def overlay(images: np.ndarray, heatmaps: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Blend a jet-coloured heatmap over each uint8 RGB image."""
    from matplotlib import colormaps

    colours = colormaps["jet"](heatmaps)[..., :3] * 255.0
    blended = (1.0 - alpha) * images.astype(np.float32) + alpha * colours
    return np.clip(blended, 0, 255).astype(np.uint8)


def _resize_unit(cam: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Scale a coarse map to [0, 1] and resize it (bilinear) to the image size."""
    from PIL import Image

    peak = float(cam.max())
    unit = cam / peak if peak > 0 else np.zeros_like(cam)
    resized = Image.fromarray(unit.astype(np.float32), mode="F").resize((size[1], size[0]), Image.BILINEAR)
    return np.clip(np.asarray(resized), 0.0, 1.0)


def _is_feature_map(layer) -> bool:
    shape = getattr(layer, "output", None)
    shape = getattr(shape, "shape", None)
    return shape is not None and len(shape) == 4


def _contains_conv(layer) -> bool:
    import keras

    if type(layer).__name__ in CONV_TYPES:
        return True
    return isinstance(layer, keras.Model) and any(_contains_conv(inner) for inner in layer.layers)


def _last_feature_layer(layers: list) -> Any | None:
    """The last rank-4 layer at or after the first convolution, ignoring trailing pooling."""
    first_conv = next((i for i, layer in enumerate(layers) if _contains_conv(layer)), None)
    if first_conv is None:
        return None
    for layer in reversed(layers[first_conv:]):
        if _is_feature_map(layer) and type(layer).__name__ not in POOL_TYPES:
            return layer
    return None


def _chain_explainer(model: "keras.Model", prefix: str = "") -> Explainer | None:
    """Explain a model that is a plain chain of layers, one of which is a nested backbone."""
    import keras

    chain = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    for index, layer in enumerate(chain):
        if not (isinstance(layer, keras.Model) and _contains_conv(layer)):
            continue
        inner = find_target(layer) if not _is_feature_map(layer) else None
        name = f"{prefix}{layer.name}"
        if inner is None and not _is_feature_map(layer):
            continue
        before, after = chain[:index], chain[index + 1:]

        def split(x, before=before, after=after, layer=layer, inner=inner):
            for step in before:
                x = step(x, training=False)
            if inner is None:  # the backbone's own output is the feature map
                features = x = layer(x, training=False)
            else:
                features, x = inner.split(x)
            for step in after:
                x = step(x, training=False)
            return features, x

        label = name if inner is None else f"{name}/{inner.layer_name}"
        return Explainer(label, split, via_chain=True)
    return None


def _check_chain(model: "keras.Model", batch, chain_logits) -> None:
    reference = np.asarray(model(batch, training=False), dtype=np.float32)[:, 0]
    if not np.allclose(reference, np.asarray(chain_logits), atol=CHAIN_TOLERANCE):
        raise ValueError(_not_a_chain(model))


def _not_a_chain(model: "keras.Model") -> str:
    return f"model '{model.name}' is not a plain chain of layers around its backbone; Grad-CAM cannot follow it"
