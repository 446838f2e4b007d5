"""Colour augmentation for stain variation: the HED round trip, pure stains, the jitter's maths, HSV."""

from __future__ import annotations

import numpy as np
import pytest

from kaggle_kit.config import AugmentConfig
from kaggle_kit.data.augment import build_augmenter
from kaggle_kit.data.stain import LOG_FLOOR, RGB_FROM_HED, hed_jitter, hed_to_rgb, hue_saturation_jitter, rgb_to_hed


def tf_constant(array):
    import tensorflow as tf

    return tf.constant(np.asarray(array, np.float32))


def random_images(n: int = 3, size: int = 6, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(1, 256, size=(n, size, size, 3)).astype(np.float32)


def stain_pixel(concentrations) -> np.ndarray:
    """The 0–255 RGB colour of given H, E, D concentrations, from Beer-Lambert with skimage's scale."""
    density = np.asarray(concentrations, np.float64) @ RGB_FROM_HED
    return np.exp(density * LOG_FLOOR) * 255.0


def test_hed_round_trip_returns_the_pixels():
    images = random_images()
    back = hed_to_rgb(rgb_to_hed(tf_constant(images))).numpy()
    np.testing.assert_allclose(back, images, atol=0.05)


def test_a_pure_stain_pixel_unmixes_into_that_stain_alone():
    pixels = np.stack([stain_pixel([0.04, 0, 0]), stain_pixel([0, 0.03, 0]), stain_pixel([0.02, 0.01, 0])])
    hed = rgb_to_hed(tf_constant(pixels.reshape(1, 1, 3, 3))).numpy().reshape(3, 3)
    np.testing.assert_allclose(hed, [[0.04, 0, 0], [0, 0.03, 0], [0.02, 0.01, 0]], atol=1e-5)


def test_hed_jitter_scales_and_shifts_each_stain_of_each_image():
    # Image 0: haematoxylin doubled; image 1: eosin shifted by 0.01 (on skimage's scale), the rest untouched.
    pixel = stain_pixel([0.03, 0.02, 0.0])
    images = np.broadcast_to(pixel, (2, 2, 2, 3)).copy()
    scale = [[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    shift = [[0.0, 0.0, 0.0], [0.0, 0.01 * -LOG_FLOOR, 0.0]]  # shifts are optical densities
    out = hed_jitter(tf_constant(images), tf_constant(scale), tf_constant(shift)).numpy()
    np.testing.assert_allclose(out[0], np.broadcast_to(stain_pixel([0.06, 0.02, 0.0]), (2, 2, 3)), atol=0.05)
    np.testing.assert_allclose(out[1], np.broadcast_to(stain_pixel([0.03, 0.03, 0.0]), (2, 2, 3)), atol=0.05)


def test_a_hed_shift_is_an_optical_density_so_light_jitter_stays_light():
    # A shift of 0.05 in haematoxylin multiplies each channel by e^(−0.05 × its H density): at most ~5 %.
    pixel = stain_pixel([0.03, 0.02, 0.0])
    images = np.broadcast_to(pixel, (1, 2, 2, 3)).copy()
    out = hed_jitter(tf_constant(images), tf_constant([[0.0] * 3]), tf_constant([[0.05, 0.0, 0.0]])).numpy()
    np.testing.assert_allclose(out[0, 0, 0], pixel * np.exp(-0.05 * RGB_FROM_HED[0]), rtol=1e-4)


def test_zero_jitter_is_the_identity():
    images = random_images()
    zeros = np.zeros((3, 3))
    np.testing.assert_allclose(hed_jitter(tf_constant(images), tf_constant(zeros), tf_constant(zeros)).numpy(),
                               images, atol=0.05)
    np.testing.assert_allclose(
        hue_saturation_jitter(tf_constant(images), tf_constant([0.0] * 3), tf_constant([1.0] * 3)).numpy(),
        images, atol=0.05)


def test_hue_turns_round_the_colour_circle_and_saturation_zero_is_grey():
    primaries = tf_constant([[[[255, 0, 0], [0, 255, 0], [0, 0, 255]]]] * 2)
    turned = hue_saturation_jitter(primaries, tf_constant([1 / 3, 1.0]), tf_constant([1.0, 1.0])).numpy()
    np.testing.assert_allclose(turned[0, 0], [[0, 255, 0], [0, 0, 255], [255, 0, 0]], atol=0.01)  # red → green…
    np.testing.assert_allclose(turned[1], primaries.numpy()[1], atol=0.01)  # a full turn changes nothing
    images = random_images(1)
    grey = hue_saturation_jitter(tf_constant(images), tf_constant([0.0]), tf_constant([0.0])).numpy()
    np.testing.assert_allclose(grey[..., 0], grey[..., 1], atol=1e-3)
    np.testing.assert_allclose(grey[..., 1], grey[..., 2], atol=1e-3)
    np.testing.assert_allclose(grey[..., 0], images.max(axis=-1), atol=0.01)  # the value (max channel) is kept


@pytest.mark.parametrize(
    "options, layer",
    [({"hed_range": 0.05}, "RandomStainJitter"), ({"hue_range": 0.1}, "RandomHueSaturation"),
     ({"saturation_range": 0.2}, "RandomHueSaturation")],
)
def test_colour_options_build_their_layer_seeded_per_image(options, layer):
    import tensorflow as tf

    augmenter = build_augmenter(AugmentConfig(**options), 6, seed=0)
    assert [type(each).__name__ for each in augmenter.layers] == [layer]
    images = np.broadcast_to(random_images(1), (4, 6, 6, 3)).copy()  # one image four times
    first = augmenter(tf_constant(images), tf.constant((1, 2), tf.int64)).numpy()
    again = augmenter(tf_constant(images), tf.constant((1, 2), tf.int64)).numpy()
    other = augmenter(tf_constant(images), tf.constant((3, 4), tf.int64)).numpy()
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
    assert len({first[i].tobytes() for i in range(4)}) == 4  # each copy drew its own colour
    assert first.dtype == np.float32 and first.min() >= 0 and first.max() <= 255


def test_colour_draws_stay_in_their_ranges():
    import tensorflow as tf

    from kaggle_kit.data._layers import RandomHueSaturation, RandomStainJitter, StatelessSeeds

    draws = RandomStainJitter(0.05).draw(500, StatelessSeeds(tf.constant((5, 6), tf.int64)))
    for name in ("scale", "shift"):
        values = draws[name].numpy()
        assert values.shape == (500, 3) and values.min() >= -0.05 and values.max() <= 0.05
        assert values.min() < -0.045 and values.max() > 0.045
    draws = RandomHueSaturation(0.1, 0.3).draw(500, StatelessSeeds(tf.constant((5, 6), tf.int64)))
    assert -0.1 <= draws["hue_shift"].numpy().min() < -0.09
    assert 0.7 <= draws["saturation_scale"].numpy().min() < 0.72 and 1.28 < draws["saturation_scale"].numpy().max() <= 1.3


@pytest.mark.parametrize(
    "options, message",
    [({"hed_range": 1.5}, "augment.hed_range must be from 0 to 1"),
     ({"hue_range": 0.6}, "augment.hue_range must be a fraction of the colour circle from 0 to 0.5"),
     ({"saturation_range": -0.1}, "augment.saturation_range must be a fraction from 0 to below 1")],
)
def test_colour_ranges_out_of_bounds_are_config_errors(options, message):
    from kaggle_kit.config import TrainConfig
    from kaggle_kit.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        TrainConfig.from_dict({"competition": "t", "augment": options})


def rendered(stains: np.ndarray, concentrations: np.ndarray) -> np.ndarray:
    """Pixels (as a 16×16 uint8 image) of H, E concentrations (2, 256) under stain directions (3, 2), Beer-Lambert."""
    from kaggle_kit.data.stain import MACENKO_LIGHT

    light = MACENKO_LIGHT * np.exp(-(stains @ concentrations)).T
    return np.clip(np.rint(light - 1.0), 0, 255).astype(np.uint8).reshape(16, 16, 3)  # (I + 1) in the density


def tissue_concentrations(seed: int = 0) -> np.ndarray:
    """H, E concentrations of 256 pixels: mixtures, pure nuclei, pure cytoplasm and some background."""
    rng = np.random.default_rng(seed)
    h, e = rng.uniform(0.3, 1.8, 256), rng.uniform(0.3, 1.0, 256)
    h[:40], e[40:80], h[80:100], e[80:100] = 0.0, 0.0, 0.02, 0.02  # pure eosin, pure haematoxylin, background
    return np.stack([h, e])


def test_macenko_leaves_an_image_in_the_reference_stains_as_it_is():
    from kaggle_kit.data.stain import MACENKO_STAINS, macenko_normalize

    concentrations = tissue_concentrations()
    concentrations *= (np.array([1.9705, 1.0308]) / np.percentile(concentrations, 99, axis=1))[:, None]
    image = rendered(MACENKO_STAINS, concentrations)
    assert np.abs(macenko_normalize(image).astype(int) - image.astype(int)).mean() < 1.5


def test_macenko_maps_other_stains_and_strengths_onto_the_reference():
    from kaggle_kit.data.stain import MACENKO_STAINS, macenko_normalize

    concentrations = tissue_concentrations(1)
    reference = rendered(MACENKO_STAINS, concentrations * (np.array([1.9705, 1.0308])
                                                           / np.percentile(concentrations, 99, axis=1))[:, None])
    # Another lab: a bluer haematoxylin, a pinker eosin, 40 % more haematoxylin and 20 % less eosin taken up.
    other_stains = np.array([[0.45, 0.28], [0.70, 0.85], [0.55, 0.45]])
    other_stains /= np.linalg.norm(other_stains, axis=0)
    other = rendered(other_stains, concentrations * np.array([[1.4], [0.8]]))
    assert np.abs(other.astype(int) - reference.astype(int)).mean() > 8  # visibly another stain
    assert np.abs(macenko_normalize(other).astype(int) - reference.astype(int)).mean() < 3


def test_macenko_keeps_an_image_without_enough_tissue():
    from kaggle_kit.data.stain import macenko_normalize

    blank = np.full((16, 16, 3), 236, np.uint8)
    blank[0, 0] = (120, 60, 140)  # one stained pixel is not enough to estimate two stains
    np.testing.assert_array_equal(macenko_normalize(blank), blank)
