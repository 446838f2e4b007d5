"""Fake run folders in the run folder contract's layout (docs/architecture.md), without training.

``write_fake_run`` writes ``config.yaml``, a tiny untrained ``best.keras`` (or one
per fold), ``history.csv``, ``metrics.json`` and ``val_predictions.csv``, so
reports, predictions and leaderboards can be tested in well under a second each.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import pytest

__all__ = ["fake_run"]  # what conftest re-exports; tests import the helpers by name

FAKE_CANCER = "histopathologic-cancer-detection"
FAKE_RUN_ID = "20260101-000000-fake"


def tiny_model(image_size: int, conv: bool = True, seed: int = 0):
    """A few-hundred-parameter model with the zoo's contract: raw pixels in, (batch, 1) logits out."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((image_size, image_size, 3), name="image")
    x = layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    if conv:
        x = layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(x)
        x = layers.GlobalAveragePooling2D(name="pool")(x)
    else:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(4, activation="relu", name="dense")(x)
    return keras.Model(inputs, layers.Dense(1, dtype="float32", name="logits")(x))


def fake_predictions(ids: Sequence[str], seed: int = 0, folds: int = 0) -> pd.DataFrame:
    """Labels alternating 0/1 and probabilities that are mostly right, with a few confident mistakes."""
    rng = np.random.default_rng(seed)
    labels = np.arange(len(ids)) % 2
    probs = np.clip(np.where(labels == 1, 0.7, 0.3) + rng.normal(0, 0.2, len(ids)), 0.01, 0.99)
    probs[:2] = 1.0 - labels[:2] * 0.98 - 0.01  # two confident mistakes at the top
    frame = pd.DataFrame({"id": list(ids), "label": labels, "prob": probs.round(6)})
    if folds:
        frame["fold"] = np.arange(len(ids)) % folds
    return frame


def fake_history(epochs: int = 4, folds: int = 0) -> pd.DataFrame:
    """A kit-style history.csv: loss falling, AUC and accuracy rising."""
    parts = []
    for fold in range(max(folds, 1)):
        step = np.arange(epochs)
        part = pd.DataFrame({
            "epoch": step + 1,  # kit's history.csv counts epochs from 1
            "loss": 0.7 - 0.05 * step - 0.01 * fold,
            "auc": 0.6 + 0.05 * step,
            "accuracy": 0.55 + 0.04 * step,
            "val_loss": 0.72 - 0.04 * step,
            "val_auc": 0.58 + 0.045 * step,
            "val_accuracy": 0.54 + 0.035 * step,
        })
        if folds:
            part.insert(0, "fold", fold)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def write_fake_run(
    folder: Path,
    ids: Sequence[str],
    *,
    competition: str = FAKE_CANCER,
    model: str = "notebook-cnn",
    image_size: int = 16,
    conv: bool = True,
    folds: int = 0,
    threshold: float = 0.5,
    seed: int = 0,
) -> Path:
    """Write a complete run folder for ``ids`` (validation image ids) and return it."""
    from kaggle_kit.config import TrainConfig

    folder.mkdir(parents=True, exist_ok=True)
    config = TrainConfig(competition=competition, model=model, image_size=image_size, epochs=4, folds=folds)
    (folder / "config.yaml").write_text(config.to_yaml())
    for fold in range(folds) if folds else [None]:
        target = folder / "best.keras" if fold is None else folder / f"fold-{fold}" / "best.keras"
        target.parent.mkdir(parents=True, exist_ok=True)
        tiny_model(image_size, conv=conv, seed=seed + (fold or 0)).save(target)
    fake_history(folds=folds).to_csv(folder / "history.csv", index=False)
    val = fake_predictions(ids, seed=seed, folds=folds)
    val.to_csv(folder / "val_predictions.csv", index=False)
    accuracy = float(((val["prob"] >= threshold).astype(int) == val["label"]).mean())
    metrics = {
        "metric": "auc", "score": 0.81, "val_auc": 0.81, "val_accuracy": accuracy, "val_loss": 0.52,
        "threshold": threshold, "best_epoch": 3, "epochs_run": 4, "train_seconds": 1.5, "model": model,
        "image_size": image_size, "n_train": 4 * len(ids), "n_val": len(ids),
    }
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return folder


@pytest.fixture
def fake_run(workspace_env) -> Path:
    """A cancer run folder in the workspace, 20 validation ids that no cache holds."""
    ids = [f"v{i:03d}" for i in range(20)]
    return write_fake_run(workspace_env.runs_root(FAKE_CANCER) / FAKE_RUN_ID, ids)
