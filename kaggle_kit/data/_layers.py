"""The project's own preprocessing layers and the stateless seed source.

Imported only from inside functions (it imports keras and TensorFlow at the top).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras.src.layers.preprocessing.image_preprocessing.base_image_preprocessing_layer import (
    BaseImagePreprocessingLayer,
)
from keras.src.random.seed_generator import SeedGenerator


class StatelessSeeds(SeedGenerator):
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


class _PerImageLayer(BaseImagePreprocessingLayer):
    """Shared plumbing: a seed generator, identity outside training, shape kept."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.generator = SeedGenerator(seed)

    def get_random_transformation(self, data, training=True, seed=None):
        if not training:
            return None
        images = data["images"] if isinstance(data, dict) else data
        batch = tf.shape(images)[0] if len(images.shape) == 4 else 1
        seed = self._get_seed_generator(self.backend._backend) if seed is None else seed
        return self.draw(batch, seed)

    def transform_images(self, images, transformation, training=True):
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
