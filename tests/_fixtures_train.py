"""Training fixtures: an in-memory image store, a separable toy task and tiny registered models.

Models are registered by session fixtures (not at import) under ``test-*`` names.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

__all__ = ["tiny_models", "toy_prepared"]  # what conftest re-exports; tests import the helpers by name

TOY_SIZE = 16
TINY_MODEL = "test-tiny-cnn"
NAN_MODEL = "test-nan-after-steps"
NAN_AFTER_STEPS = 4  # epoch 1 has 3 steps (one spare for a build-time call): NaN comes in epoch 2


class MemoryStore:
    """The ``ImageStore`` interface over an in-memory uint8 array (records every read)."""

    def __init__(self, images: np.ndarray):
        self.images = images
        self.shape = images.shape
        self.reads: list[np.ndarray] = []

    def __len__(self) -> int:
        return len(self.images)

    def read(self, rows) -> np.ndarray:
        rows = np.asarray(rows)
        self.reads.append(rows)
        return self.images[rows]


def toy_images(n: int, size: int = TOY_SIZE, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Noise images; label 1 has a bright square in the centre: separable by a small CNN."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    rng.shuffle(labels)
    images = rng.integers(0, 90, size=(n, size, size, 3), dtype=np.uint8)
    quarter = size // 4
    images[labels == 1, quarter:-quarter, quarter:-quarter, :] += 140
    return images, labels


@dataclass
class ToyPrepared:
    """What ``train_prepared`` reads from a ``PreparedData``."""

    store: MemoryStore
    train_index: pd.DataFrame
    class_weight: dict[int, float] | None = None
    image_size: int = TOY_SIZE

    def train_store(self) -> MemoryStore:
        return self.store


def toy_data(n: int = 96, seed: int = 0) -> ToyPrepared:
    images, labels = toy_images(n, seed=seed)
    index = pd.DataFrame({"id": [f"toy{i:04d}" for i in range(n)], "label": labels, "row": np.arange(n)})
    return ToyPrepared(MemoryStore(images), index)


@pytest.fixture
def toy_prepared():
    return toy_data()


def _tiny_cnn(input_shape, *, width: int = 8):
    """Test model: Rescaling → Conv → global pooling → logits."""
    import keras
    from keras import layers

    inputs = keras.Input(input_shape)
    x = layers.Rescaling(1 / 255)(inputs)
    x = layers.Conv2D(width, 3, padding="same", activation="relu")(x)
    x = layers.GlobalMaxPooling2D()(x)
    return keras.Model(inputs, layers.Dense(1, dtype="float32")(x))


def _nan_after_steps(input_shape, *, steps: int = NAN_AFTER_STEPS):
    """Test model: the tiny CNN whose output turns NaN after ``steps`` training steps."""
    import keras

    from _train_layers import NanAfterSteps

    base = _tiny_cnn(input_shape)
    return keras.Model(base.input, NanAfterSteps(steps)(base.output))


@pytest.fixture(scope="session")
def tiny_models():
    """Register the test models once; returns their names."""
    from kaggle_kit.models import list_models, register_model

    if TINY_MODEL not in list_models():
        register_model(_tiny_cnn, name=TINY_MODEL, reference_shape=(TOY_SIZE, TOY_SIZE, 3))
        register_model(_nan_after_steps, name=NAN_MODEL, reference_shape=(TOY_SIZE, TOY_SIZE, 3))
    return TINY_MODEL, NAN_MODEL
