"""Augmentation: ImageDataGenerator options → Keras layers, shapes kept, seeded, the dihedral group."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kaggle_kit.config import AugmentConfig
from kaggle_kit.data.augment import build_augmenter, dihedral_transform

SIZE = 12


def layer_summary(augmenter) -> list[tuple[str, dict]]:
    """(layer class, the settings that matter) for each layer of an augmenter."""
    keys = ("factor", "rotation_range", "width_shift_range", "height_shift_range", "shear_range", "zoom_range",
            "fill_mode", "transforms", "brightness_range", "value_range")
    return [
        (type(layer).__name__, {k: getattr(layer, k) for k in keys if hasattr(layer, k)})
        for layer in augmenter.layers
    ]


def run_augmenter(augmenter, images: np.ndarray, seed=(1, 2)) -> np.ndarray:
    import tensorflow as tf

    return augmenter(tf.constant(images, tf.float32), tf.constant(seed, tf.int64)).numpy()


def random_images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, SIZE, SIZE, 3)).astype(np.float32)


def test_identity_config_builds_no_augmentation_stage():
    assert build_augmenter(AugmentConfig(), SIZE, seed=0) is None
    assert build_augmenter(AugmentConfig(fill_mode="constant"), SIZE, seed=0) is None


@pytest.mark.parametrize(
    "options, expected",
    [
        ({"rotation_range": 90.0}, [("RandomAffine", {"rotation_range": 90.0, "fill_mode": "reflect"})]),
        ({"width_shift_range": 0.1, "height_shift_range": 0.2, "fill_mode": "wrap"},
         [("RandomAffine", {"height_shift_range": 0.2, "width_shift_range": 0.1, "fill_mode": "wrap"})]),
        ({"zoom_range": 0.2, "fill_mode": "nearest"}, [("RandomAffine", {"zoom_range": 0.2, "fill_mode": "nearest"})]),
        ({"shear_range": 45.0, "fill_mode": "constant"},
         [("RandomAffine", {"shear_range": 45.0, "rotation_range": 0.0, "fill_mode": "constant"})]),
        ({"horizontal_flip": True}, [("RandomDihedral", {"transforms": (0, 4)})]),
        ({"vertical_flip": True}, [("RandomDihedral", {"transforms": (0, 6)})]),
        ({"horizontal_flip": True, "vertical_flip": True}, [("RandomDihedral", {"transforms": (0, 2, 4, 6)})]),
        ({"dihedral": True, "horizontal_flip": True}, [("RandomDihedral", {"transforms": tuple(range(8))})]),
        ({"brightness_range": (0.8, 1.2)}, [("RandomBrightnessMultiplier", {"brightness_range": (0.8, 1.2)})]),
        ({"contrast_range": 0.3}, [("RandomContrast", {"factor": (0.3, 0.3), "value_range": (0, 255)})]),
    ],
)
def test_each_option_maps_to_its_layer(options, expected):
    augmenter = build_augmenter(AugmentConfig(**options), SIZE, seed=0)
    summary = layer_summary(augmenter)
    assert [name for name, _ in summary] == [name for name, _ in expected]
    for (_, actual), (_, wanted) in zip(summary, expected):
        for key, value in wanted.items():
            got = actual[key]
            if isinstance(value, str):
                assert got == value, key
            else:
                assert np.allclose(got, value), key


def test_geometry_is_one_resampling_after_the_flips():
    config = AugmentConfig(contrast_range=0.1, brightness_range=(0.9, 1.1), dihedral=True, zoom_range=0.1,
                           shear_range=5.0, width_shift_range=0.1, rotation_range=10.0)
    names = [type(layer).__name__ for layer in build_augmenter(config, SIZE, seed=0).layers]
    assert names == ["RandomDihedral", "RandomAffine", "RandomBrightnessMultiplier", "RandomContrast"]


def affine(images: np.ndarray, **params) -> np.ndarray:
    import tensorflow as tf

    from kaggle_kit.data._layers import apply_affine

    values = {"theta": 0.0, "shift_rows": 0.0, "shift_cols": 0.0, "shear": 0.0, "zoom_rows": 1.0, "zoom_cols": 1.0}
    values.update(params)
    fill_mode = values.pop("fill_mode", "constant")
    batch = {k: tf.constant([v] * len(images), tf.float32) for k, v in values.items()}
    return apply_affine(tf.constant(images), **batch, fill_mode=fill_mode).numpy()


def test_affine_identity_quarter_turn_and_shift_are_exact():
    images = random_images(2)
    assert np.allclose(affine(images), images)
    turned = affine(images, theta=math.pi / 2)
    assert any(np.allclose(turned, np.rot90(images, k, axes=(1, 2)), atol=1e-3) for k in (1, 3))
    shifted = affine(images, shift_rows=1 / SIZE)  # one pixel: output row r reads input row r + 1
    assert np.allclose(shifted[:, :-1], images[:, 1:]) and np.all(shifted[:, -1] == 0)


def test_affine_zoom_below_one_magnifies_about_the_centre():
    ramp = np.tile(np.arange(SIZE, dtype=np.float32)[None, :, None, None], (1, 1, SIZE, 3))  # value = row
    zoomed = affine(ramp, zoom_rows=0.5, zoom_cols=0.5)
    centre = (SIZE - 1) / 2
    assert np.allclose(zoomed[0, :, 0, 0], centre + (np.arange(SIZE) - centre) * 0.5)


@pytest.mark.parametrize(
    "options",
    [{"rotation_range": 30.0}, {"width_shift_range": 0.2, "height_shift_range": 0.2}, {"zoom_range": 0.3},
     {"shear_range": 15.0}, {"horizontal_flip": True}, {"dihedral": True}, {"brightness_range": (0.5, 1.5)},
     {"contrast_range": 0.4}],
)
def test_every_option_keeps_shape_dtype_and_pixel_range(options):
    images = random_images(5)
    out = run_augmenter(build_augmenter(AugmentConfig(**options), SIZE, seed=3), images)
    assert out.shape == images.shape
    assert out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 255.0 + 1e-3
    assert not np.allclose(out, images), "the augmentation changed nothing"


def test_dihedral_produces_only_the_eight_flips_and_turns():
    images = random_images(64, seed=1)
    out = run_augmenter(build_augmenter(AugmentConfig(dihedral=True), SIZE, seed=5), images)
    seen = set()
    for image, augmented in zip(images, out):
        matches = [i for i in range(8) if np.array_equal(dihedral_transform(image, i).numpy(), augmented)]
        assert len(matches) == 1, "not one of the 8 dihedral transforms"
        seen.add(matches[0])
    assert seen == set(range(8))


def test_horizontal_flip_only_mirrors_left_right():
    images = random_images(32, seed=2)
    out = run_augmenter(build_augmenter(AugmentConfig(horizontal_flip=True), SIZE, seed=5), images)
    mirrored = [np.array_equal(a, img[:, ::-1]) for img, a in zip(images, out)]
    kept = [np.array_equal(a, img) for img, a in zip(images, out)]
    assert all(m or k for m, k in zip(mirrored, kept))
    assert any(mirrored) and any(kept)


def test_brightness_multiplies_each_image_by_one_factor_in_range():
    images = np.full((16, SIZE, SIZE, 3), 100.0, dtype=np.float32)
    out = run_augmenter(build_augmenter(AugmentConfig(brightness_range=(0.5, 1.5)), SIZE, seed=1), images)
    factors = out[:, 0, 0, 0] / 100.0
    assert np.all((factors >= 0.5) & (factors <= 1.5))
    assert np.allclose(out, factors[:, None, None, None] * 100.0, atol=1e-3)
    assert len(np.unique(np.round(factors, 4))) > 8


def test_same_seed_same_draws_other_seed_other_draws(op_determinism):
    config = AugmentConfig(rotation_range=40.0, zoom_range=0.2, dihedral=True, brightness_range=(0.7, 1.3))
    images = random_images(8)
    first = run_augmenter(build_augmenter(config, SIZE, seed=0), images, seed=(4, 5))
    again = run_augmenter(build_augmenter(config, SIZE, seed=0), images, seed=(4, 5))
    other = run_augmenter(build_augmenter(config, SIZE, seed=0), images, seed=(4, 6))
    assert np.array_equal(first, again)
    assert not np.allclose(first, other)


def test_kit_layers_survive_a_keras_save_and_load(tmp_path):
    import keras

    from kaggle_kit.data.augment import random_brightness_multiplier_layer, random_dihedral_layer

    inputs = keras.Input((SIZE, SIZE, 3))
    from kaggle_kit.data._layers import RandomAffine

    x = random_dihedral_layer((0, 4), seed=1)(inputs)
    x = random_brightness_multiplier_layer((0.9, 1.1), seed=1)(RandomAffine(zoom_range=0.2, seed=1)(x))
    keras.Model(inputs, x).save(tmp_path / "m.keras")
    from kaggle_kit.runfolder import load_model

    loaded = load_model(tmp_path / "m.keras")
    assert [type(layer).__name__ for layer in loaded.layers[1:]] == [
        "RandomDihedral", "RandomAffine", "RandomBrightnessMultiplier"]
    assert loaded.layers[2].zoom_range == 0.2
    assert loaded.layers[1].transforms == (0, 4)
    images = random_images(2)
    assert np.allclose(loaded.predict(images, verbose=0), images)  # inference: identity
