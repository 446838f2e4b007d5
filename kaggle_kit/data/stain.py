"""Stain and colour maths for H&E images: HED colour deconvolution and per-image colour jitter.

HED (Ruifrok & Johnston 2001, as ``skimage.color.rgb2hed``): an RGB pixel's
optical density is a mix of haematoxylin (nuclei, blue-purple), eosin
(cytoplasm, pink) and DAB; ``rgb_to_hed`` unmixes it into the three stain
concentrations and ``hed_to_rgb`` mixes them back. Slides from other labs
differ mostly in how much of each stain they took up, which is what
``hed_jitter`` imitates (Tellez et al. 2019, "Quantifying the effects of data
augmentation and stain color normalization in convolutional neural networks for
computational pathology", Medical Image Analysis 58: per image and stain,
concentration × (1 + α) + β with α, β ~ U(−σ, σ); σ = 0.05 "HED-light", 0.2
"HED-strong"; their reference code: DIAGNijmegen pathology-data-augmentation,
``HedColorAugmenter``). ``hue_saturation_jitter`` is the HSV counterpart.

The augmentation functions are TensorFlow functions on batches ``(k, H, W, 3)``
of float 0–255 pixels, used inside ``tf.data`` by the augmenter's layers.
``macenko_normalize`` is the opposite remedy, applied once per image when the
cache is built (``kit prepare --stain-norm macenko``): it maps every image's
two stains onto one reference H&E appearance (Macenko et al. 2009, "A method
for normalizing histology slides for quantitative analysis", ISBI; reference
stain matrix and concentrations, Io = 240, β = 0.15, α = 1 as in M. Veta's
``normalizeStaining.m``, github.com/mitkovetta/staining-normalization).

>>> hed = rgb_to_hed(images)          # (k, H, W, 3): H, E, D concentrations
>>> back = hed_to_rgb(hed)            # the same pixels again (to float rounding)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import tensorflow as tf

# Rows: the RGB optical-density direction of haematoxylin, eosin and DAB (skimage's rgb_from_hed).
RGB_FROM_HED = np.array([[0.65, 0.70, 0.29], [0.07, 0.99, 0.11], [0.27, 0.57, 0.78]])
HED_FROM_RGB = np.linalg.inv(RGB_FROM_HED)
# skimage's scale: intensities floored at 1e-6 and optical density divided by -log(1e-6), so a
# fully dark pixel has density 1.
LOG_FLOOR = float(np.log(1e-6))


def rgb_to_hed(images: "tf.Tensor") -> "tf.Tensor":
    """Stain concentrations (H, E, D) of float 0–255 RGB pixels, ``skimage.color.rgb2hed``'s scale.

    Unlike skimage, negative concentrations are kept (not clipped to 0), so
    ``hed_to_rgb`` inverts this exactly.
    """
    import tensorflow as tf

    intensity = tf.maximum(tf.cast(images, tf.float32) / 255.0, 1e-6)
    density = tf.math.log(intensity) / LOG_FLOOR
    return tf.einsum("...c,cs->...s", density, tf.constant(HED_FROM_RGB, tf.float32))


def hed_to_rgb(stains: "tf.Tensor") -> "tf.Tensor":
    """Float 0–255 RGB pixels of stain concentrations (the inverse of :func:`rgb_to_hed`), clipped to 0–255."""
    import tensorflow as tf

    density = tf.einsum("...s,sc->...c", stains, tf.constant(RGB_FROM_HED, tf.float32))
    return tf.clip_by_value(tf.exp(density * LOG_FLOOR) * 255.0, 0.0, 255.0)


def hed_jitter(images: "tf.Tensor", scale: "tf.Tensor", shift: "tf.Tensor") -> "tf.Tensor":
    """Each image's stains rescaled and shifted: ``hed × (1 + scale) + shift``; ``scale``, ``shift`` are (k, 3).

    ``shift`` is in optical-density units (natural log), not in skimage's scale: skimage divides
    densities by −log(1e-6) ≈ 13.8, where typical H&E concentrations are about 0.02, so a shift of
    0.05 there would move pixels by ~40 of 255 levels on PCam patches — far from "light". In optical
    density a shift of σ changes each channel's intensity by at most a factor e^±σ (σ = 0.05: ~5 %).
    """
    import tensorflow as tf

    stains = rgb_to_hed(images)
    scale = tf.reshape(tf.cast(scale, tf.float32), (-1, 1, 1, 3))
    shift = tf.reshape(tf.cast(shift, tf.float32), (-1, 1, 1, 3)) / -LOG_FLOOR
    return hed_to_rgb(stains * (1.0 + scale) + shift)


def hue_saturation_jitter(images: "tf.Tensor", hue_shift: "tf.Tensor", saturation_scale: "tf.Tensor") -> "tf.Tensor":
    """Each image's hue turned by ``hue_shift`` (a fraction of the colour circle) and its saturation
    multiplied by ``saturation_scale`` (clipped to 0–1); both (k,). Float 0–255 in and out."""
    import tensorflow as tf

    hsv = tf.image.rgb_to_hsv(tf.clip_by_value(tf.cast(images, tf.float32) / 255.0, 0.0, 1.0))
    hue = tf.math.floormod(hsv[..., 0] + tf.reshape(tf.cast(hue_shift, tf.float32), (-1, 1, 1)), 1.0)
    saturation = tf.clip_by_value(hsv[..., 1] * tf.reshape(tf.cast(saturation_scale, tf.float32), (-1, 1, 1)), 0.0, 1.0)
    rgb = tf.image.hsv_to_rgb(tf.stack([hue, saturation, hsv[..., 2]], axis=-1))
    return tf.clip_by_value(rgb * 255.0, 0.0, 255.0)


# Macenko's reference: the optical-density directions of haematoxylin and eosin (columns) and
# the 99th-percentile concentration of each (Veta's normalizeStaining.m defaults).
MACENKO_STAINS = np.array([[0.5626, 0.2159], [0.7201, 0.8012], [0.4062, 0.5581]])
MACENKO_MAX_CONCENTRATIONS = np.array([1.9705, 1.0308])
MACENKO_LIGHT = 240.0  # Io: the intensity of the light through glass (background)
MACENKO_TRANSPARENT = 0.15  # β: pixels with an optical density below this in any channel carry no stain
MACENKO_PERCENTILE = 1.0  # α: the robust extremes of the stain angles, in percent
MACENKO_MIN_TISSUE = 0.05  # fewer stained pixels than this fraction: too little tissue to estimate stains


def optical_density(image: np.ndarray) -> np.ndarray:
    """(N, 3) optical densities of uint8 RGB pixels (``-log((I + 1) / Io)``)."""
    return -np.log((image.reshape(-1, 3).astype(np.float64) + 1.0) / MACENKO_LIGHT)


def macenko_stains(density: np.ndarray) -> np.ndarray | None:
    """The (3, 2) optical-density directions of H and E in these pixels, or None (too little tissue).

    The stained pixels' densities span a plane (two stains); the two stain directions are the
    robust extreme angles (α and 100 − α percentiles) of the pixels projected onto that plane.
    """
    stained = density[np.all(density >= MACENKO_TRANSPARENT, axis=1)]
    if len(stained) < max(3, MACENKO_MIN_TISSUE * len(density)):
        return None
    _, vectors = np.linalg.eigh(np.cov(stained.T))
    plane = vectors[:, 1:3]  # the two largest eigenvectors
    projected = stained @ plane
    angles = np.arctan2(projected[:, 1], projected[:, 0])
    low, high = np.percentile(angles, [MACENKO_PERCENTILE, 100 - MACENKO_PERCENTILE])
    first = plane @ np.array([np.cos(low), np.sin(low)])
    second = plane @ np.array([np.cos(high), np.sin(high)])
    # Haematoxylin absorbs more red than eosin does: it goes first.
    stains = np.stack([first, second], axis=1) if first[0] > second[0] else np.stack([second, first], axis=1)
    return stains * np.sign(stains.sum(axis=0, keepdims=True))  # point both into positive density


def macenko_normalize(image: np.ndarray) -> np.ndarray:
    """``image`` (H, W, 3 uint8) with its stains mapped onto the reference H&E appearance.

    Each pixel's H and E concentrations are solved for the image's own stain directions, scaled so
    their 99th percentiles match the reference, and re-rendered with the reference directions.
    An image with too little stained tissue to estimate its stains (mostly background) is kept as it is.
    """
    density = optical_density(image)
    stains = macenko_stains(density)
    if stains is None:
        return image
    concentrations = np.linalg.lstsq(stains, density.T, rcond=None)[0]  # (2, N)
    peaks = np.percentile(concentrations, 99, axis=1)
    if np.any(peaks <= 0):
        return image
    concentrations *= (MACENKO_MAX_CONCENTRATIONS / peaks)[:, None]
    rendered = MACENKO_LIGHT * np.exp(-(MACENKO_STAINS @ concentrations)).T
    return np.clip(np.rint(rendered), 0, 255).astype(np.uint8).reshape(image.shape)


STAIN_NORMALIZERS = {"macenko": macenko_normalize}
