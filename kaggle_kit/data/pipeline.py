"""The one input pipeline train, evaluate and predict share.

Read the prepared cache, never re-decode: positions are shuffled each epoch
(training only), batched, the batch's rows gathered from the ``ImageStore`` in
parallel (``os.pread`` releases the GIL), cast to float32 0–255 (models rescale
inside), augmented in parallel, and prefetched.

>>> ds = make_dataset(prepared.train_store(), rows, labels, 64, training=True, augment=config.augment)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, Sequence

import numpy as np

from kaggle_kit.config import AugmentConfig
from kaggle_kit.errors import DataError

if TYPE_CHECKING:
    import tensorflow as tf


class ImageSource(Protocol):
    """What the pipeline needs from an ``ImageStore``: uint8 rows by index."""

    shape: tuple[int, ...]

    def __len__(self) -> int: ...

    def read(self, rows: np.ndarray) -> np.ndarray: ...


def make_dataset(
    store: ImageSource,
    rows: Sequence[int] | np.ndarray,
    labels: Sequence[float] | np.ndarray | None = None,
    batch_size: int = 64,
    *,
    training: bool,
    augment: AugmentConfig | None = None,
    seed: int = 0,
) -> "tf.data.Dataset":
    """A ``tf.data.Dataset`` of ``(images, labels)`` batches, or images alone without labels.

    ``rows`` are the store rows to read, in the order batches keep when
    ``training=False``; ``training=True`` reshuffles them every epoch. Images are
    float32 ``(k, S, S, 3)`` in 0–255, labels float32 ``(k,)`` or ``(k, K)`` as given. ``augment`` (an
    ``AugmentConfig``) adds the augmentation stage; ``seed`` fixes the shuffle
    order and every augmentation draw.
    """
    import tensorflow as tf

    rows = _check_rows(store, rows)
    count = len(rows)
    image_shape = tuple(int(v) for v in store.shape[1:])
    positions = tf.data.Dataset.range(count)
    if training:
        # One shuffle buffer of int64 positions (8 bytes each), not of images.
        positions = positions.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    batches = positions.batch(batch_size)

    def gather(batch_positions: np.ndarray) -> np.ndarray:
        return np.asarray(store.read(rows[batch_positions]), dtype=np.uint8)

    def load(batch_positions):
        images = tf.numpy_function(gather, [batch_positions], tf.uint8, stateful=False)
        return tf.ensure_shape(images, (None, *image_shape)), batch_positions

    dataset = batches.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    # uint8 until the augmenter (flips move 4x fewer bytes), float32 after it.
    dataset = _augment_stage(dataset, augment, image_shape[0], seed)
    if labels is None:
        dataset = dataset.map(lambda images, _: images)
    else:
        label_table = tf.constant(_check_labels(labels, count), dtype=tf.float32)
        dataset = dataset.map(lambda images, pos: (images, tf.gather(label_table, pos)))
    return dataset.prefetch(tf.data.AUTOTUNE)


def _augment_stage(dataset: "tf.data.Dataset", augment: AugmentConfig | None, image_size: int, seed: int):
    """Map the augmenter over batches, each batch with its own stateless seed pair."""
    import tensorflow as tf

    from kaggle_kit.data.augment import build_augmenter

    augmenter = build_augmenter(augment, image_size, seed) if augment is not None else None
    if augmenter is None:
        return dataset.map(lambda images, pos: (tf.cast(images, tf.float32), pos))
    # A fresh, seed-determined stream every epoch: batch i of epoch e gets its own draws.
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    paired = tf.data.Dataset.zip((dataset, seeds))
    return paired.map(
        lambda batch, pair: (augmenter(batch[0], pair), batch[1]),
        num_parallel_calls=tf.data.AUTOTUNE,
    )


def _check_rows(store: ImageSource, rows) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.int64)
    if rows.ndim != 1 or len(rows) == 0:
        raise DataError("make_dataset needs a non-empty 1-D list of cache rows")
    if rows.min() < 0 or rows.max() >= len(store):
        raise DataError(
            f"cache rows must be 0..{len(store) - 1} (got {rows.min()}..{rows.max()}); "
            "the cache is stale: re-run kit prepare --force"
        )
    return rows


def _check_labels(labels, count: int) -> np.ndarray:
    """``(count,)`` targets (binary, ordinal) or ``(count, K)`` (one-hot classes, label columns, targets)."""
    labels = np.asarray(labels, dtype=np.float32)
    if labels.ndim not in (1, 2) or labels.shape[0] != count:
        raise DataError(f"make_dataset got {labels.shape[0] if labels.ndim else 0} labels for {count} rows")
    return labels
