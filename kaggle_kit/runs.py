"""Run folders: ``runs/<slug>/<run-id>/``, one per ``kit train``.

A run folder holds ``config.yaml`` (written first: the run can be resumed or
reproduced from it), ``best.keras`` (or ``fold-<k>/best.keras``), the resumable
``checkpoints/``, ``history.csv``, ``val_predictions.csv``,
``learning_curves.png`` and ``metrics.json`` (written last: its presence means
the run finished).

>>> run = latest_run(workspace, "histopathologic-cancer-detection")
>>> run.metrics["score"], run.model_paths()
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kaggle_kit.config import TrainConfig
from kaggle_kit.errors import RunNotFoundError
from kaggle_kit.paths import Workspace

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.json"
BEST_MODEL = "best.keras"
RUN_ID_TIME = "%Y%m%d-%H%M%S"


@dataclass(frozen=True)
class Run:
    """One run folder."""

    slug: str
    run_id: str
    path: Path

    @classmethod
    def open(cls, workspace: Workspace, slug: str, run_id: str) -> "Run":
        """The run ``run_id`` of ``slug``; :class:`RunNotFoundError` when it does not exist."""
        path = workspace.runs_root(slug) / run_id
        if not (path / CONFIG_FILE).is_file():
            known = ", ".join(r.run_id for r in list_runs(workspace, slug)[-5:]) or "none yet"
            raise RunNotFoundError(
                f"no run '{run_id}' of {slug} in {workspace.runs_root(slug)} (recent: {known}); see `kit runs {slug}`"
            )
        return cls(slug, run_id, path)

    @property
    def config(self) -> TrainConfig:
        return TrainConfig.from_yaml(self.path / CONFIG_FILE)

    @property
    def complete(self) -> bool:
        return (self.path / METRICS_FILE).is_file()

    @property
    def metrics(self) -> dict[str, Any] | None:
        """``metrics.json``, or ``None`` while the run is unfinished."""
        if not self.complete:
            return None
        return json.loads((self.path / METRICS_FILE).read_text(encoding="utf-8"))

    def model_paths(self) -> list[Path]:
        """The best model of the run (one per fold with ``--folds``)."""
        single = self.path / BEST_MODEL
        paths = [single] if single.is_file() else sorted(self.path.glob(f"fold-*/{BEST_MODEL}"))
        if not paths:
            raise RunNotFoundError(
                f"run {self.run_id} has no {BEST_MODEL} in {self.path}; finish it with "
                f"`kit train {self.slug} --resume {self.run_id}`"
            )
        return paths


def list_runs(workspace: Workspace, slug: str) -> list[Run]:
    """Every run folder of ``slug`` (finished or not), oldest first."""
    root = workspace.runs_root(slug)
    if not root.is_dir():
        return []
    return [Run(slug, p.name, p) for p in sorted(root.iterdir()) if (p / CONFIG_FILE).is_file()]


def latest_run(workspace: Workspace, slug: str) -> Run:
    """The newest finished run of ``slug``."""
    finished = [run for run in list_runs(workspace, slug) if run.complete]
    if not finished:
        raise RunNotFoundError(f"no finished run of {slug} in {workspace.runs_root(slug)}; run `kit train {slug}` first")
    return finished[-1]


def new_run_dir(workspace: Workspace, slug: str, model: str, now: datetime | None = None) -> Path:
    """Create ``runs/<slug>/<time>-<model>`` (``-2``, ``-3``… when taken) and return it."""
    now = now or datetime.now(timezone.utc)
    return create_unique_dir(workspace.runs_root(slug), f"{now.strftime(RUN_ID_TIME)}-{model}")


def create_unique_dir(root: Path, base: str) -> Path:
    """Create ``root/base`` (``base-2``, ``base-3``… when taken) and return it; run and sweep folders use it."""
    root.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, 1000):
        path = root / (base if attempt == 1 else f"{base}-{attempt}")
        try:
            path.mkdir()  # atomic: two runs started in the same second get different folders
            return path
        except FileExistsError:
            continue
    raise RunNotFoundError(f"could not create a run folder under {root}: too many runs named {base}")


@dataclass(frozen=True)
class RunSummary:
    """One line of ``kit runs``."""

    run_id: str
    model: str
    image_size: int
    metric: str
    score: float | None
    epochs: str  # "best/run", or "unfinished"
    date: str


def summarize_runs(runs: list[Run]) -> list[RunSummary]:
    rows = []
    for run in runs:
        config, metrics = run.config, run.metrics
        rows.append(RunSummary(
            run_id=run.run_id,
            model=config.model,
            image_size=config.image_size,
            metric=metrics["metric"] if metrics else "",
            score=metrics["score"] if metrics else None,
            epochs=f"{metrics['best_epoch']}/{metrics['epochs_run']}" if metrics else "unfinished",
            date=_run_date(run),
        ))
    return rows


def runs_table(runs: list[Run]) -> list[str]:
    """Aligned text lines for ``kit runs``: a header, then one line per run."""
    header = ("run", "model", "size", "score", "epochs", "date")
    lines = [header]
    for row in summarize_runs(runs):
        score = f"{row.metric} {row.score:.4f}" if row.score is not None else "-"
        lines.append((row.run_id, row.model, str(row.image_size), score, row.epochs, row.date))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in lines]


def summary_line(run: Run) -> str:
    """The one line ``kit train`` ends with."""
    m = run.metrics
    if m is None:
        return f"run {run.run_id} is unfinished; continue it with `kit train {run.slug} --resume {run.run_id}`"
    what = f"CV {m['metric']} over {m['folds']} folds" if m.get("folds") else f"validation {m['metric']}"
    minutes, seconds = divmod(int(round(m["train_seconds"])), 60)
    return (
        f"run {run.run_id}: {what} {m['score']:.4f} (best epoch {m['best_epoch']} of {m['epochs_run']}, "
        f"threshold {m['threshold']:.3f}, {minutes}m{seconds:02d}s) in {run.path}"
    )


def _run_date(run: Run) -> str:
    try:
        return datetime.strptime(run.run_id[:15], RUN_ID_TIME).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return "-"
