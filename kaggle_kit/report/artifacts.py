"""What a finished run folder holds, read once (through its ``RunFolder``) for the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from kaggle_kit.config import TrainConfig
from kaggle_kit.errors import RunNotFoundError
from kaggle_kit.runfolder import CONFIG_FILE, METRICS_FILE, VAL_PREDICTIONS_FILE, RunFolder


@dataclass(frozen=True)
class RunArtifacts:
    """A finished run's files: config, metrics, history, validation predictions and model paths."""

    folder: Path
    config: TrainConfig
    metrics: dict[str, Any]
    history: pd.DataFrame | None
    val: pd.DataFrame  # id, label, prob[, fold]; id, label columns, pred_<name>…[, fold] for other tasks
    models: dict[int | None, Path] = field(default_factory=dict)  # fold (None without folds) → best.keras

    @property
    def run_id(self) -> str:
        return self.folder.name

    @property
    def threshold(self) -> float:
        """A binary run's decision threshold (0.5 where none was fitted)."""
        value = self.metrics.get("threshold")
        return 0.5 if value is None else float(value)


def load_artifacts(run: RunFolder) -> RunArtifacts:
    """Read a run folder; ``RunNotFoundError`` names the missing file when the run is incomplete."""
    missing = [name for name in (CONFIG_FILE, METRICS_FILE, VAL_PREDICTIONS_FILE) if not (run.path / name).is_file()]
    if missing:
        raise RunNotFoundError(
            f"run folder {run.path} lacks {', '.join(missing)}; the run did not finish: train it again or resume it"
        )
    return RunArtifacts(
        folder=run.path,
        config=run.config,
        metrics=run.metrics,
        history=run.history(),
        val=run.val_predictions(),
        models=run.best_models(),
    )
