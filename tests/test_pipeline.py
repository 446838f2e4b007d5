"""The shared tf.data pipeline: order, per-epoch reshuffle, dtypes, labels, seeds, the real ImageStore."""

from __future__ import annotations

import numpy as np
import pytest

from _fixtures_train import MemoryStore
from kaggle_kit.config import AugmentConfig
from kaggle_kit.data.pipeline import make_dataset
from kaggle_kit.errors import DataError

SIZE = 8


def numbered_store(n: int = 20) -> MemoryStore:
    """Image i is filled with the value i, so a batch tells which rows it holds."""
    return MemoryStore(np.repeat(np.arange(n, dtype=np.uint8), SIZE * SIZE * 3).reshape(n, SIZE, SIZE, 3))


def epoch(dataset) -> tuple[np.ndarray, np.ndarray]:
    images, labels = zip(*[(x.numpy(), y.numpy()) for x, y in dataset])
    return np.concatenate(images), np.concatenate(labels)


def test_evaluation_keeps_the_order_of_rows_and_their_labels():
    store = numbered_store()
    rows = np.array([7, 3, 19, 0, 4, 11, 5])
    images, labels = epoch(make_dataset(store, rows, rows * 10.0, 3, training=False))
    assert images[:, 0, 0, 0].tolist() == rows.tolist()
    assert labels.tolist() == (rows * 10.0).tolist()
    assert images.dtype == np.float32 and labels.dtype == np.float32
    assert images.shape == (7, SIZE, SIZE, 3)


def test_without_labels_the_dataset_yields_images_alone():
    batches = list(make_dataset(numbered_store(), np.arange(5), None, 2, training=False))
    assert [tuple(b.shape) for b in batches] == [(2, SIZE, SIZE, 3), (2, SIZE, SIZE, 3), (1, SIZE, SIZE, 3)]


def test_training_reshuffles_every_epoch_and_keeps_labels_with_images():
    rows = np.arange(20)
    dataset = make_dataset(numbered_store(), rows, rows.astype(float), 4, training=True, seed=1)
    first_images, first_labels = epoch(dataset)
    second_images, _ = epoch(dataset)
    first, second = first_images[:, 0, 0, 0], second_images[:, 0, 0, 0]
    assert sorted(first) == sorted(second) == list(range(20))
    assert first.tolist() != second.tolist()
    assert first.tolist() == first_labels.tolist()


def test_same_seed_same_order_and_augmentation_across_datasets(op_determinism):
    rows = np.arange(20)
    store = MemoryStore(np.random.default_rng(0).integers(0, 255, (20, SIZE, SIZE, 3), dtype=np.uint8))
    augment = AugmentConfig(dihedral=True, brightness_range=(0.8, 1.2))

    def two_epochs(seed):
        dataset = make_dataset(store, rows, rows.astype(float), 8, training=True, augment=augment, seed=seed)
        return [epoch(dataset) for _ in range(2)]

    first, again, other = two_epochs(3), two_epochs(3), two_epochs(4)
    for (a_img, a_lab), (b_img, b_lab) in zip(first, again):
        assert np.array_equal(a_img, b_img) and np.array_equal(a_lab, b_lab)
    assert not np.array_equal(first[0][0], other[0][0])
    assert not np.array_equal(first[0][0], first[1][0]), "a new augmentation every epoch"


def test_without_augmentation_pixels_arrive_unchanged():
    store = MemoryStore(np.random.default_rng(1).integers(0, 256, (6, SIZE, SIZE, 3), dtype=np.uint8))
    images, _ = epoch(make_dataset(store, np.arange(6), np.zeros(6), 4, training=False, augment=AugmentConfig()))
    assert np.array_equal(images, store.images.astype(np.float32))


def test_batches_are_gathered_from_the_store_batch_by_batch():
    store = numbered_store()
    epoch(make_dataset(store, np.arange(20), np.zeros(20), 5, training=True, seed=0))
    assert sorted(len(r) for r in store.reads) == [5, 5, 5, 5]


def test_reads_a_real_cache_file(tmp_path):
    from kaggle_kit.data.cache import ImageStore

    images = np.random.default_rng(2).integers(0, 256, (9, SIZE, SIZE, 3), dtype=np.uint8)
    np.save(tmp_path / "train.npy", images)
    rows = np.array([8, 2, 5])
    got = np.concatenate(list(make_dataset(ImageStore(tmp_path / "train.npy"), rows, None, 2, training=False)))
    assert np.array_equal(got, images[rows].astype(np.float32))


@pytest.mark.parametrize("rows, message", [
    ([], "make_dataset needs a non-empty 1-D list of cache rows"),
    ([0, 20], "cache rows must be 0..19 (got 0..20); the cache is stale: re-run kit prepare --force"),
])
def test_bad_rows_are_refused_with_the_fix(rows, message):
    with pytest.raises(DataError) as error:
        make_dataset(numbered_store(), rows, None, 4, training=False)
    assert str(error.value) == message


def test_labels_must_match_rows():
    with pytest.raises(DataError, match="make_dataset got 2 labels for 3 rows"):
        make_dataset(numbered_store(), [0, 1, 2], [0.0, 1.0], 4, training=False)
