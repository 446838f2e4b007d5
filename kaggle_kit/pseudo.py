"""Pseudo-labelling: train on the confident test predictions of an earlier run (``kit train --pseudo-label RUN``).

A standard Kaggle semi-supervised step, and a remedy for domain shift: the
test images (other slides, other surveys) join the training rows with the
labels an earlier run gave them, where it was confident (probability at least
``pseudo_confidence`` or at most ``1 - pseudo_confidence``). They never enter
validation, which stays made of real labels only. RUN's test predictions are
made first if missing (``kit predict`` with its default TTA).

>>> pseudo = pseudo_labels(competition, workspace, config, prepared)
>>> len(pseudo.rows), pseudo.labels.mean()
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kaggle_kit.errors import ConfigError, DataError

if TYPE_CHECKING:
    from kaggle_kit.competitions import Competition
    from kaggle_kit.config import TrainConfig
    from kaggle_kit.data.cache import PreparedData
    from kaggle_kit.paths import Workspace


@dataclass(frozen=True)
class PseudoLabels:
    """Confident test predictions as labels: rows of the test store and 0/1 labels, and where they came from."""

    run_id: str
    source: Path  # the test predictions file read
    rows: np.ndarray
    labels: np.ndarray
    candidates: int  # readable test images considered

    def summary(self) -> str:
        return (f"pseudo-labels: {len(self.rows):,} of {self.candidates:,} test images ({int(self.labels.sum()):,} "
                f"positive) from run {self.run_id} ({self.source.name})")


def check_pseudo_label(competition: "Competition", config: "TrainConfig") -> None:
    """Refuse ``pseudo_label`` where confident 0/1 labels do not apply: any task but a binary one."""
    if config.pseudo_label and competition.task.kind != "binary":
        raise ConfigError(
            f"--pseudo-label works for binary competitions; {competition.slug} is {competition.task.describe()}: "
            "train without it"
        )


def pseudo_labels(competition: "Competition", workspace: "Workspace", config: "TrainConfig",
                  prepared: "PreparedData", progress: bool = False) -> PseudoLabels | None:
    """The pseudo-labelled test rows ``config.pseudo_label`` asks for, or ``None`` without it."""
    import pandas as pd

    from kaggle_kit.predict import ensure_predictions

    if not config.pseudo_label:
        return None
    check_pseudo_label(competition, config)
    path = ensure_predictions(competition, workspace, [config.pseudo_label], progress=progress)
    predictions = pd.read_csv(path, dtype={"id": str})
    index = prepared.test_index[prepared.test_index["readable"].astype(bool)]
    probs = predictions.set_index("id")["prob"].reindex(index["id"]).to_numpy(dtype=np.float64)
    if np.isnan(probs).any():
        raise DataError(
            f"{path} lacks predictions for {int(np.isnan(probs).sum())} test images of this cache; "
            f"predict them again with `kit predict {competition.slug} --run {config.pseudo_label}`"
        )
    confident = np.maximum(probs, 1 - probs) >= config.pseudo_confidence
    return PseudoLabels(run_id=config.pseudo_label, source=path, rows=index["row"].to_numpy(np.int64)[confident],
                        labels=(probs[confident] >= 0.5).astype(np.float32), candidates=len(index))
