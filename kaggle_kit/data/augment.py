"""ImageDataGenerator's augmentation vocabulary as Keras 3 preprocessing layers.

``build_augmenter(config.augment, image_size, seed)`` returns an :class:`Augmenter`
(or ``None`` for the identity config) that turns a uint8 batch into augmented
float32 0–255 pixels inside ``tf.data``. Keras' random layers keep their random state in a
variable, which parallel ``tf.data`` maps race on, so runs would not repeat;
here every layer draws from a *stateless* seed derived from the batch's own seed
(``pipeline.make_dataset`` supplies one per batch), so a seed fixes every draw.

>>> augmenter = build_augmenter(AugmentConfig(dihedral=True, zoom_range=0.2), 96, seed=42)
>>> [type(layer).__name__ for layer in augmenter.layers]
['RandomDihedral', 'RandomAffine']
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kaggle_kit.config import AugmentConfig

if TYPE_CHECKING:
    import tensorflow as tf


class Augmenter:
    """A stack of preprocessing layers applied with stateless, per-batch seeds."""

    def __init__(self, layers: list, image_size: int, seed: int):
        self.layers = list(layers)
        self.image_size = image_size
        self.seed = seed

    def __call__(self, images: "tf.Tensor", seed: "tf.Tensor") -> "tf.Tensor":
        """Augment a batch ``(k, S, S, 3)`` (uint8 or float32) into float32 0–255; ``seed`` is an int64 pair."""
        import tensorflow as tf

        from kaggle_kit.data._layers import StatelessSeeds

        seed = tf.cast(seed, tf.int64)
        for position, layer in enumerate(self.layers):
            seeds = StatelessSeeds(tf.random.experimental.stateless_fold_in(seed, position))
            transformation = layer.get_random_transformation(images, training=True, seed=seeds)
            images = layer.transform_images(images, transformation, training=True)
        return tf.cast(images, tf.float32)

    def __repr__(self) -> str:
        names = ", ".join(type(layer).__name__ for layer in self.layers)
        return f"Augmenter([{names}], image_size={self.image_size}, seed={self.seed})"


def build_augmenter(augment: AugmentConfig, image_size: int, seed: int) -> Augmenter | None:
    """The layers an ``AugmentConfig`` asks for.

    Flips and the dihedral group (``RandomDihedral``: one pixel gather, on the
    uint8 batch), then rotation, shift, shear and zoom composed into one matrix
    and one bilinear resampling with ``fill_mode`` (``RandomAffine``, as
    ImageDataGenerator's ``apply_affine_transform``), then colour: HED stain
    jitter (``RandomStainJitter``) and hue/saturation (``RandomHueSaturation``),
    then brightness (a
    multiplier, as ImageDataGenerator's ``brightness_range``) and contrast
    (Keras ``RandomContrast``). Returns ``None`` when nothing is asked for: no
    augmentation stage at all.
    """
    if augment.is_identity():
        return None
    return Augmenter(_layers_for(augment, seed), image_size, seed)


def _layers_for(a: AugmentConfig, seed: int) -> list:
    from keras import layers

    from kaggle_kit.data._layers import RandomAffine, RandomHueSaturation, RandomStainJitter

    stack: list = []
    orientations = _orientations(a)
    if orientations:
        # Flips first: they commute in distribution with the symmetric affine ranges, and run on uint8.
        stack.append(random_dihedral_layer(orientations, seed))
    if a.rotation_range or a.width_shift_range or a.height_shift_range or a.shear_range or a.zoom_range:
        stack.append(RandomAffine(a.rotation_range, a.width_shift_range, a.height_shift_range, a.shear_range,
                                  a.zoom_range, fill_mode=a.fill_mode, seed=seed))
    if a.hed_range:
        stack.append(RandomStainJitter(a.hed_range, seed=seed))
    if a.hue_range or a.saturation_range:
        stack.append(RandomHueSaturation(a.hue_range, a.saturation_range, seed=seed))
    if a.brightness_range is not None and tuple(a.brightness_range) != (1.0, 1.0):
        stack.append(random_brightness_multiplier_layer(a.brightness_range, seed))
    if a.contrast_range:
        # RandomContrast draws from [1 - factor[0], 1 + factor[1]]; a bare float would clamp the low side to 1.
        symmetric = (a.contrast_range, a.contrast_range)
        stack.append(layers.RandomContrast(symmetric, value_range=(0, 255), seed=seed))
    return stack


def _orientations(a: AugmentConfig) -> tuple[int, ...] | None:
    """Which members of the dihedral group the flips and ``dihedral`` options allow (None: no layer)."""
    from kaggle_kit.data import _layers

    if a.dihedral:  # holds both flips
        return _layers.ALL_DIHEDRAL
    if a.horizontal_flip and a.vertical_flip:
        return _layers.BOTH_FLIPS
    if a.horizontal_flip:
        return _layers.HORIZONTAL_FLIP
    if a.vertical_flip:
        return _layers.VERTICAL_FLIP
    return None


def random_dihedral_layer(transforms: tuple[int, ...] | None = None, seed: int | None = None):
    """A layer drawing, per image, one of ``transforms`` (default: all 8 flips and quarter-turns)."""
    from kaggle_kit.data._layers import ALL_DIHEDRAL, RandomDihedral

    return RandomDihedral(transforms or ALL_DIHEDRAL, seed=seed)


def random_brightness_multiplier_layer(brightness_range: tuple[float, float], seed: int | None = None):
    """A layer multiplying each image by a factor drawn from ``brightness_range`` (clipped to 0–255)."""
    from kaggle_kit.data._layers import RandomBrightnessMultiplier

    return RandomBrightnessMultiplier(brightness_range, seed=seed)


def preprocessing_layers() -> dict[str, type]:
    """The kit's own layers by name, for loading a saved model that holds them (``custom_objects``)."""
    from kaggle_kit.data._layers import (
        RandomAffine, RandomBrightnessMultiplier, RandomDihedral, RandomHueSaturation, RandomStainJitter,
    )

    return {layer.__name__: layer for layer in (RandomAffine, RandomBrightnessMultiplier, RandomDihedral,
                                                RandomHueSaturation, RandomStainJitter)}


def dihedral_transform(images: "tf.Tensor", index: int) -> "tf.Tensor":
    """Transform ``index`` (0–7) of the dihedral group: ``index // 4`` flips, ``index % 4`` quarter-turns.

    The same numbering as the augmenter's ``RandomDihedral`` layer; for test-time augmentation.
    """
    import tensorflow as tf

    if index // 4:
        images = tf.reverse(images, axis=[-2])
    return tf.image.rot90(images, k=index % 4)
