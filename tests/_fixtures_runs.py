"""Fake run folders, written through ``RunFolder`` as train writes them, without training.

``write_fake_run`` writes every file a finished run has (``config.yaml``, a tiny
untrained ``best.keras`` or one per fold, checkpoints, ``history.csv``,
``val_predictions.csv``, ``learning_curves.png``, ``metrics.json``), so reports,
predictions and leaderboards can be tested in well under a second each;
``test_runfolder.py`` checks it against a real tiny run.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np
import pandas as pd
import pytest

if TYPE_CHECKING:
    import keras

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
    """A kit-style history.csv: loss falling, AUC and accuracy rising (``fold`` last with folds, as train writes it)."""
    parts = []
    for fold in range(max(folds, 1)):
        step = np.arange(epochs)
        part = pd.DataFrame({
            "epoch": step + 1,  # kit's history.csv counts epochs from 1
            "accuracy": 0.55 + 0.04 * step,
            "auc": 0.6 + 0.05 * step,
            "loss": 0.7 - 0.05 * step - 0.01 * fold,
            "lr": np.full(epochs, 1e-3),
            "val_accuracy": 0.54 + 0.035 * step,
            "val_auc": 0.58 + 0.045 * step,
            "val_loss": 0.72 - 0.04 * step,
        })
        if folds:
            part["fold"] = fold
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def fake_metrics(val: pd.DataFrame, *, model: str, image_size: int, folds: int, threshold: float,
                 **changes) -> dict:
    """Every key train writes into metrics.json, with plausible values."""
    accuracy = float(((val["prob"] >= threshold).astype(int) == val["label"]).mean())
    return {
        "metric": "auc", "score": 0.81, "val_auc": 0.81, "val_accuracy": accuracy, "val_loss": 0.52,
        "threshold": threshold, "best_epoch": 3, "epochs_run": 4 * max(folds, 1), "stopped_early": False,
        "train_seconds": 1.5, "model": model, "image_size": image_size, "replicas": 1,
        "batch_size_per_replica": 64, "global_batch_size": 64, "n_train": 4 * len(val), "n_val": len(val),
        "folds": folds, "fold_scores": [0.81] * folds, "n_pseudo": 0, "finished_at": "2026-01-01T00:00:00Z",
        **changes,
    }


ONE_PIXEL_PNG = bytes.fromhex(  # a valid 1×1 black PNG: learning_curves.png without drawing one
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
    "0000000c49444154789c63606060000000040001f61738550000000049454e44ae426082"
)


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
    build_model: Callable[[int], "keras.Model"] | None = None,
    finished: bool = True,
    **metrics,
) -> Path:
    """Write a run folder for ``ids`` (validation image ids) through ``RunFolder``, as train writes one.

    ``build_model(fold)`` makes each unit's best model (default: ``tiny_model``);
    ``finished=False`` stops where a run killed after its last epoch would;
    ``metrics`` override values of metrics.json.
    """
    from kaggle_kit.config import TrainConfig
    from kaggle_kit.runfolder import RunFolder
    from kaggle_kit.training.state import TrainingState

    build_model = build_model or (lambda fold: tiny_model(image_size, conv=conv, seed=seed + fold))
    folder.mkdir(parents=True, exist_ok=True)
    run = RunFolder(competition, folder.name, folder)
    run.write_config(TrainConfig(competition=competition, model=model, image_size=image_size, epochs=4, folds=folds))
    history = fake_history(folds=folds)
    for fold in range(folds) if folds else [None]:
        unit, model_of_unit = run.unit(fold), build_model(fold or 0)
        unit_history = history[history["fold"] == fold].drop(columns="fold") if folds else history
        unit.save_best(model_of_unit)
        unit.write_history(unit_history)
        state = TrainingState(epochs_done=4, best_score=0.81, best_epoch=3, wait=1, train_seconds=1.5,
                              history=unit_history.to_dict("records"))
        unit.save_checkpoint(model_of_unit, state.to_json())
    if not finished:
        return folder
    run.write_history(history)
    val = fake_predictions(ids, seed=seed, folds=folds)
    run.write_val_predictions(val)
    run.write_learning_curves(ONE_PIXEL_PNG)
    run.write_metrics(fake_metrics(val, model=model, image_size=image_size, folds=folds, threshold=threshold,
                                   **metrics))
    return folder


@pytest.fixture
def fake_run(workspace_env) -> Path:
    """A cancer run folder in the workspace, 20 validation ids that no cache holds."""
    ids = [f"v{i:03d}" for i in range(20)]
    return write_fake_run(workspace_env.runs_root(FAKE_CANCER) / FAKE_RUN_ID, ids)
