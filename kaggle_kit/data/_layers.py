"""The project's own preprocessing layers and the stateless seed source.

Imported only from inside functions (it imports keras and TensorFlow at the top).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


class StatelessSeeds(keras.random.SeedGenerator):
    """Stands in for a layer's ``SeedGenerator``: each ``next()`` is a fresh stateless seed.

    Keras layers draw several numbers from one generator; folding a trace-time
    counter into the batch seed gives each draw its own seed, with no variable
    for parallel ``tf.data`` calls to race on.
    """

    def __init__(self, base: tf.Tensor):  # deliberately no state variable, unlike SeedGenerator
        self._base = base
        self._draws = 0

    def next(self, ordered: bool = True) -> tf.Tensor:
        self._draws += 1
        return tf.random.experimental.stateless_fold_in(self._base, self._draws)


class _PerImageLayer(keras.layers.Layer):
    """Shared plumbing: a seed generator, identity outside training, shape kept.

    The same two-step interface as Keras' own image preprocessing layers
    (``get_random_transformation``, then ``transform_images``), so the augmenter
    drives these and ``keras.layers.RandomContrast`` alike; built on the public
    ``keras.layers.Layer`` only.
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=True):
        return self.transform_images(images, self.get_random_transformation(images, training=training),
                                     training=training)

    def get_random_transformation(self, data, training=True, seed=None):
        if not training:
            return None
        images = data["images"] if isinstance(data, dict) else data
        batch = tf.shape(images)[0] if len(images.shape) == 4 else 1
        return self.draw(batch, self.generator if seed is None else seed)

    keeps_dtype = False  # True: works on any dtype (uint8 moves 4x fewer bytes than float32)

    def transform_images(self, images, transformation, training=True):
        if not self.keeps_dtype:
            images = tf.cast(images, self.compute_dtype)
        if not training or transformation is None:
            return images
        return self.apply(images, transformation)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


# The dihedral group of a square: transform i flips the width axis when i >= 4, then turns i % 4 quarter-turns
# counter-clockwise (tf.image.rot90's direction). Flips are members: 4 = horizontal, 6 = vertical, 2 = both.
ALL_DIHEDRAL = tuple(range(8))
HORIZONTAL_FLIP = (0, 4)
VERTICAL_FLIP = (0, 6)
BOTH_FLIPS = (0, 2, 4, 6)


def dihedral_source_indices(size: int) -> np.ndarray:
    """(8, size*size): output pixel p of transform i is input pixel table[i, p] (row-major)."""
    grid = np.arange(size * size).reshape(size, size)
    return np.stack([np.rot90(np.flip(grid, 1) if i >= 4 else grid, i % 4).ravel() for i in ALL_DIHEDRAL])


@keras.saving.register_keras_serializable(package="kaggle_kit")
class RandomDihedral(_PerImageLayer):
    """Per image, one transform drawn from ``transforms`` (a subset of the 8 flips and quarter-turns).

    All 8 for ``dihedral``; ``HORIZONTAL_FLIP``/``VERTICAL_FLIP``/``BOTH_FLIPS``
    replace ``RandomFlip``. One gather of pixel indices, far cheaper than flipping
    and rotating whole batches and selecting with ``tf.where``.
    """

    keeps_dtype = True

    def __init__(self, transforms=ALL_DIHEDRAL, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.transforms = tuple(int(t) for t in transforms)

    def draw(self, batch, seed):
        choice = keras.random.randint((batch,), 0, len(self.transforms), dtype="int32", seed=seed)
        return tf.gather(tf.constant(self.transforms, tf.int32), choice)

    def apply(self, images, transformation):
        height, width, channels = images.shape[-3:]
        if height != width:
            raise ValueError(f"RandomDihedral needs square images, got {height}x{width}")
        table = tf.constant(dihedral_source_indices(height), tf.int32)
        flat = tf.reshape(images, (-1, height * width, channels))
        gathered = tf.gather(flat, tf.gather(table, transformation), batch_dims=1)
        return tf.reshape(gathered, tf.shape(images))

    def get_config(self):
        return {**super().get_config(), "transforms": list(self.transforms)}


@keras.saving.register_keras_serializable(package="kaggle_kit")
class RandomBrightnessMultiplier(_PerImageLayer):
    """ImageDataGenerator's ``brightness_range``: multiply by U(low, high), clip to 0–255."""

    def __init__(self, brightness_range, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.brightness_range = tuple(float(v) for v in brightness_range)

    def draw(self, batch, seed):
        low, high = self.brightness_range
        return keras.random.uniform((batch, 1, 1, 1), low, high, seed=seed)

    def apply(self, images, transformation):
        return tf.clip_by_value(images * tf.cast(transformation, images.dtype), 0.0, 255.0)

    def get_config(self):
        return {**super().get_config(), "brightness_range": self.brightness_range}


FILL_MODES = {"reflect": "REFLECT", "constant": "CONSTANT", "nearest": "NEAREST", "wrap": "WRAP"}


@keras.saving.register_keras_serializable(package="kaggle_kit")
class RandomAffine(_PerImageLayer):
    """ImageDataGenerator's random affine transform: rotation, shift, shear and zoom in ONE resampling.

    Ranges as ImageDataGenerator's: degrees for ``rotation_range`` and
    ``shear_range``, fractions of the size for the shifts, zoom factors drawn
    independently per axis from [1 - zoom_range, 1 + zoom_range]. Composing
    them into one matrix per image costs one bilinear resampling instead of one
    per Keras layer (RandomRotation, RandomTranslation, RandomShear, RandomZoom).
    """

    def __init__(self, rotation_range=0.0, width_shift_range=0.0, height_shift_range=0.0, shear_range=0.0,
                 zoom_range=0.0, fill_mode="reflect", seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rotation_range, self.shear_range = float(rotation_range), float(shear_range)
        self.width_shift_range, self.height_shift_range = float(width_shift_range), float(height_shift_range)
        self.zoom_range, self.fill_mode = float(zoom_range), fill_mode

    def draw(self, batch, seed):
        def uniform(half_width, centre=0.0):
            return keras.random.uniform((batch,), centre - half_width, centre + half_width, seed=seed)

        return {
            "theta": uniform(np.deg2rad(self.rotation_range)),
            "shift_rows": uniform(self.height_shift_range),
            "shift_cols": uniform(self.width_shift_range),
            "shear": uniform(np.deg2rad(self.shear_range)),
            "zoom_rows": uniform(self.zoom_range, 1.0),
            "zoom_cols": uniform(self.zoom_range, 1.0),
        }

    def apply(self, images, transformation):
        return apply_affine(images, **transformation, fill_mode=self.fill_mode)

    def get_config(self):
        return {**super().get_config(), "rotation_range": self.rotation_range, "shear_range": self.shear_range,
                "width_shift_range": self.width_shift_range, "height_shift_range": self.height_shift_range,
                "zoom_range": self.zoom_range, "fill_mode": self.fill_mode}


def apply_affine(images, theta, shift_rows, shift_cols, shear, zoom_rows, zoom_cols, fill_mode="reflect"):
    """Resample a batch through ImageDataGenerator's matrix ``rotation @ shift @ shear @ zoom``, per image.

    Angles in radians, shifts as fractions of the size; one value per image for each argument.
    The matrix maps output (row, col) to input (row, col) about the image centre, as scipy's
    ``affine_transform`` in ImageDataGenerator does; bilinear, outside pixels per ``fill_mode``.
    """
    height, width = images.shape[-3], images.shape[-2]
    images = tf.cast(images, tf.float32)
    one, zero = tf.ones_like(theta), tf.zeros_like(theta)

    def matrices(rows):
        return tf.stack([tf.stack(row, axis=-1) for row in rows], axis=-2)  # (batch, 3, 3)

    cos, sin = tf.cos(theta), tf.sin(theta)
    rotation = matrices([[cos, -sin, zero], [sin, cos, zero], [zero, zero, one]])
    shift = matrices([[one, zero, shift_rows * height], [zero, one, shift_cols * width], [zero, zero, one]])
    shearing = matrices([[one, -tf.sin(shear), zero], [zero, tf.cos(shear), zero], [zero, zero, one]])
    zoom = matrices([[zoom_rows, zero, zero], [zero, zoom_cols, zero], [zero, zero, one]])
    centre_rows, centre_cols = (height - 1) / 2, (width - 1) / 2
    to_centre = matrices([[one, zero, -centre_rows * one], [zero, one, -centre_cols * one], [zero, zero, one]])
    back = matrices([[one, zero, centre_rows * one], [zero, one, centre_cols * one], [zero, zero, one]])
    m = back @ rotation @ shift @ shearing @ zoom @ to_centre
    # ImageProjectiveTransformV3 wants (x=col, y=row): input col = a0 x + a1 y + a2, input row = b0 x + b1 y + b2.
    transforms = tf.stack([m[:, 1, 1], m[:, 1, 0], m[:, 1, 2], m[:, 0, 1], m[:, 0, 0], m[:, 0, 2], zero, zero], axis=-1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=[height, width], fill_value=0.0,
        interpolation="BILINEAR", fill_mode=FILL_MODES[fill_mode],
    )


@keras.saving.register_keras_serializable(package="kaggle_kit")
class RandomStainJitter(_PerImageLayer):
    """HED stain augmentation (Tellez et al. 2019): per image and stain, concentration × (1 + α) + β,
    α and β ~ U(−hed_range, hed_range). The maths: ``data.stain.hed_jitter``."""

    def __init__(self, hed_range, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.hed_range = float(hed_range)

    def draw(self, batch, seed):
        spread = self.hed_range
        return {"scale": keras.random.uniform((batch, 3), -spread, spread, seed=seed),
                "shift": keras.random.uniform((batch, 3), -spread, spread, seed=seed)}

    def apply(self, images, transformation):
        from kaggle_kit.data.stain import hed_jitter

        return hed_jitter(images, transformation["scale"], transformation["shift"])

    def get_config(self):
        return {**super().get_config(), "hed_range": self.hed_range}


@keras.saving.register_keras_serializable(package="kaggle_kit")
class RandomHueSaturation(_PerImageLayer):
    """Per image, hue turned by U(−hue_range, hue_range) of the colour circle and saturation multiplied
    by U(1 − saturation_range, 1 + saturation_range). The maths: ``data.stain.hue_saturation_jitter``."""

    def __init__(self, hue_range=0.0, saturation_range=0.0, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.hue_range, self.saturation_range = float(hue_range), float(saturation_range)

    def draw(self, batch, seed):
        return {"hue_shift": keras.random.uniform((batch,), -self.hue_range, self.hue_range, seed=seed),
                "saturation_scale": keras.random.uniform(
                    (batch,), 1.0 - self.saturation_range, 1.0 + self.saturation_range, seed=seed)}

    def apply(self, images, transformation):
        from kaggle_kit.data.stain import hue_saturation_jitter

        return hue_saturation_jitter(images, transformation["hue_shift"], transformation["saturation_scale"])

    def get_config(self):
        return {**super().get_config(), "hue_range": self.hue_range, "saturation_range": self.saturation_range}
