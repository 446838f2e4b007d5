"""What a run folder holds, read once for the report (see the run folder contract in docs/architecture.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from kaggle_kit.config import TrainConfig
from kaggle_kit.errors import RunNotFoundError

REQUIRED_FILES = ("config.yaml", "metrics.json", "val_predictions.csv")


@dataclass(frozen=True)
class RunArtifacts:
    """A finished run's files: config, metrics, history, validation predictions and model paths."""

    folder: Path
    config: TrainConfig
    metrics: dict[str, Any]
    history: pd.DataFrame | None
    val: pd.DataFrame  # id, label, prob[, fold]
    models: dict[int | None, Path] = field(default_factory=dict)  # fold (None without folds) → best.keras

    @property
    def run_id(self) -> str:
        return self.folder.name

    @property
    def threshold(self) -> float:
        return float(self.metrics.get("threshold", 0.5))


def load_artifacts(folder: Path) -> RunArtifacts:
    """Read a run folder; ``RunNotFoundError`` names the missing file when the run is incomplete."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RunNotFoundError(f"run folder {folder} does not exist; list runs with 'kit runs SLUG'")
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise RunNotFoundError(
            f"run folder {folder} lacks {', '.join(missing)}; the run did not finish: train it again or resume it"
        )
    history_csv = folder / "history.csv"
    return RunArtifacts(
        folder=folder,
        config=TrainConfig.from_yaml(folder / "config.yaml"),
        metrics=json.loads((folder / "metrics.json").read_text(encoding="utf-8")),
        history=pd.read_csv(history_csv) if history_csv.is_file() else None,
        val=_read_val_predictions(folder / "val_predictions.csv"),
        models=model_files(folder),
    )


def model_files(folder: Path) -> dict[int | None, Path]:
    """``best.keras``, or one ``fold-<k>/best.keras`` per fold."""
    if (folder / "best.keras").is_file():
        return {None: folder / "best.keras"}
    folds = {}
    for path in sorted(folder.glob("fold-*/best.keras")):
        suffix = path.parent.name.removeprefix("fold-")
        if suffix.isdigit():
            folds[int(suffix)] = path
    return folds


def _read_val_predictions(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype={"id": str})
    missing = {"id", "label", "prob"} - set(frame.columns)
    if missing:
        raise RunNotFoundError(f"{path} lacks column(s) {', '.join(sorted(missing))}; train the run again")
    frame["label"] = frame["label"].astype(int)
    frame["prob"] = frame["prob"].astype(float)
    return frame
