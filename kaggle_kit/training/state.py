"""The loop's resumable state, saved with every checkpoint (``state.json``) by the run folder."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass
class TrainingState:
    """What the loop needs to continue exactly where it stopped.

    The callbacks share one instance, so early stopping, the plateau schedule
    and the best score survive a resume.
    """

    epochs_done: int = 0
    best_score: float | None = None
    best_epoch: int = 0
    wait: int = 0  # epochs since the best one (early stopping)
    lr_scale: float = 1.0  # the plateau schedule's reductions so far
    plateau_wait: int = 0
    stopped_early: bool = False
    train_seconds: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)
    fitted_epochs: int | None = None  # the epochs a time limit leaves room for (fixed after the first epoch)

    def epochs(self, configured: int) -> int:
        """The unit's epochs: the configured ones, or fewer when a time limit fitted them."""
        return min(configured, self.fitted_epochs or configured)

    def finished(self, epochs: int) -> bool:
        return self.stopped_early or self.epochs_done >= self.epochs(epochs)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "TrainingState":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
