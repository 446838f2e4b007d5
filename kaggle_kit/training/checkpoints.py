"""Resumable checkpoints: the model with its optimizer, and the loop's state, saved together.

Each finished epoch is written as ``checkpoints/epoch-NNNN/`` (``model.keras`` +
``state.json``) in a temporary folder renamed into place, then older epochs are
removed. A kill at any moment leaves the previous complete epoch; resuming loses
at most the epoch that was running.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kaggle_kit.errors import RunNotFoundError
from kaggle_kit.fsutil import atomic_dir, write_json_atomic
from kaggle_kit.runs import BEST_MODEL  # noqa: F401  (re-exported for the loop)

if TYPE_CHECKING:
    import keras

CHECKPOINTS = "checkpoints"
MODEL_FILE = "model.keras"
STATE_FILE = "state.json"



@dataclass
class TrainingState:
    """What the loop needs to continue exactly where it stopped."""

    epochs_done: int = 0
    best_score: float | None = None
    best_epoch: int = 0
    wait: int = 0  # epochs since the best one (early stopping)
    lr_scale: float = 1.0  # the plateau schedule's reductions so far
    plateau_wait: int = 0
    stopped_early: bool = False
    train_seconds: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)

    def finished(self, epochs: int) -> bool:
        return self.stopped_early or self.epochs_done >= epochs

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "TrainingState":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def save_model_atomic(model: "keras.Model", target: Path) -> None:
    """``model.save`` to a temporary ``.keras`` file beside ``target``, renamed into place.

    (``fsutil.atomic_path`` names its temporary ``.tmp``; Keras insists on ``.keras``.)
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".keras", dir=target.parent)
    os.close(fd)
    try:
        model.save(name)
        os.replace(name, target)
    finally:
        if os.path.exists(name):
            os.unlink(name)


def save_checkpoint(unit_dir: Path, model: "keras.Model", state: TrainingState) -> Path:
    """Write the epoch's checkpoint folder atomically, then drop the older ones."""
    root = unit_dir / CHECKPOINTS
    target = root / f"epoch-{state.epochs_done:04d}"
    with atomic_dir(target) as tmp:
        model.save(tmp / MODEL_FILE)
        write_json_atomic(tmp / STATE_FILE, state.to_json())
    for older in _complete_checkpoints(unit_dir)[:-1]:
        shutil.rmtree(older, ignore_errors=True)
    return target


def latest_checkpoint(unit_dir: Path) -> tuple[Path, TrainingState] | None:
    """The newest complete checkpoint's model path and state, or ``None`` before the first epoch."""
    complete = _complete_checkpoints(unit_dir)
    if not complete:
        return None
    newest = complete[-1]
    try:
        state = TrainingState.from_json(json.loads((newest / STATE_FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise RunNotFoundError(f"checkpoint {newest} is unreadable ({exc}); delete that folder and resume again")
    return newest / MODEL_FILE, state


def _complete_checkpoints(unit_dir: Path) -> list[Path]:
    # Temporary folders start with "." (atomic_dir), so only renamed, complete ones match.
    root = unit_dir / CHECKPOINTS
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("epoch-*") if (p / STATE_FILE).is_file() and (p / MODEL_FILE).is_file())
