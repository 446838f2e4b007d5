"""The runs of a competition: listing, the latest finished run, the lines ``kit runs`` and ``kit train`` print.

One run's files are read and written by :class:`kaggle_kit.runfolder.RunFolder`.

>>> run = latest_run(workspace, "histopathologic-cancer-detection")
>>> summary_line(run)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime

from kaggle_kit.errors import KitError, RunNotFoundError
from kaggle_kit.paths import Workspace
from kaggle_kit.runfolder import RUN_ID_TIME, RunFolder, run_ids
from kaggle_kit.tables import Column, column, render


def list_runs(workspace: Workspace, slug: str) -> list[RunFolder]:
    """Every run folder of ``slug`` (finished or not), oldest first."""
    root = workspace.runs_root(slug)
    return [RunFolder(slug, run_id, root / run_id) for run_id in run_ids(root)]


def latest_run(workspace: Workspace, slug: str) -> RunFolder:
    """The newest finished run of ``slug``."""
    finished = [run for run in list_runs(workspace, slug) if run.complete]
    if not finished:
        raise RunNotFoundError(f"no finished run of {slug} in {workspace.runs_root(slug)}; run `kit train {slug}` first")
    return finished[-1]


def best_run(workspace: Workspace, slug: str) -> RunFolder:
    """The finished run of ``slug`` with the best validation score (its metric's direction; ties: the newest).

    What ``kit submit`` and ``kit predict`` use when no ``--run`` is given. Runs
    whose files cannot be read are passed over.
    """
    from kaggle_kit.metrics import get_metric, list_metrics

    scored = []
    for position, run in enumerate(list_runs(workspace, slug)):
        try:
            metrics = run.metrics
        except KitError:
            continue
        if metrics is None or metrics.get("score") is None:
            continue
        sign = 1 if metrics["metric"] not in list_metrics() or get_metric(metrics["metric"]).greater_is_better else -1
        scored.append((sign * float(metrics["score"]), position, run))
    if not scored:
        raise RunNotFoundError(f"no finished run of {slug} in {workspace.runs_root(slug)}; run `kit train {slug}` first")
    return max(scored, key=lambda item: item[:2])[2]


def chosen_run_line(run: RunFolder, finished: int) -> str:
    """What ``kit submit``/``kit predict`` say when they pick the best run themselves."""
    metrics = run.metrics or {}
    return (f"Using run {run.run_id}: the best validation {metrics.get('metric')} ({metrics.get('score'):.4f}) "
            f"of {finished} finished run{'s' if finished != 1 else ''}; pass --run RUN to choose another")


@dataclass(frozen=True)
class RunSummary:
    """One row of ``kit runs``."""

    run_id: str
    model: str
    image_size: int
    metric: str | None
    score: float | None
    best_epoch: int | None
    epochs_run: int | None
    finished: bool
    date: str  # "YYYY-MM-DD HH:MM" from the run id, or "-"


@dataclass(frozen=True)
class RunListing:
    """``kit runs``: the readable runs, and one warning per run that could not be read (skipped)."""

    rows: list[RunSummary]
    skipped: list[str] = field(default_factory=list)

    def render(self, fmt: str = "table") -> str:
        """The rows as ``kit runs --format`` prints them."""
        return render([asdict(row) for row in self.rows], fmt, keys=[f.name for f in fields(RunSummary)],
                      columns=RUN_COLUMNS)


RUN_COLUMNS = [
    column("run_id", "run"),
    column("model"),
    column("image_size", "size"),
    Column("score", lambda r: f"{r['metric']} {r['score']:.4f}" if r["finished"] else "-"),
    Column("epochs", lambda r: f"{r['best_epoch']}/{r['epochs_run']}" if r["finished"] else "unfinished"),
    column("date"),
]


def summarize_runs(runs: list[RunFolder]) -> RunListing:
    """A row per run; a run whose ``config.yaml`` or ``metrics.json`` cannot be read is skipped with a warning."""
    rows, skipped = [], []
    for run in runs:
        try:
            config, metrics = run.config, run.metrics
        except KitError as exc:
            skipped.append(f"skipped run {run.run_id}: {exc}")
            continue
        rows.append(RunSummary(
            run_id=run.run_id,
            model=config.model,
            image_size=config.image_size,
            metric=metrics["metric"] if metrics else None,
            score=metrics["score"] if metrics else None,
            best_epoch=metrics["best_epoch"] if metrics else None,
            epochs_run=metrics["epochs_run"] if metrics else None,
            finished=metrics is not None,
            date=_run_date(run),
        ))
    return RunListing(rows, skipped)


def summary_line(run: RunFolder) -> str:
    """The one line ``kit train`` ends with."""
    m = run.metrics
    if m is None:
        return f"run {run.run_id} is unfinished; continue it with `kit train {run.slug} --resume {run.run_id}`"
    what = f"CV {m['metric']} over {m['folds']} folds" if m.get("folds") else f"validation {m['metric']}"
    minutes, seconds = divmod(int(round(m["train_seconds"])), 60)
    cut = "" if m["threshold"] is None else f"threshold {m['threshold']:.3f}, "  # a binary task's only
    return (
        f"run {run.run_id}: {what} {m['score']:.4f} (best epoch {m['best_epoch']} of {m['epochs_run']}, "
        f"{cut}{minutes}m{seconds:02d}s) in {run.path}"
    )


def _run_date(run: RunFolder) -> str:
    try:
        return datetime.strptime(run.run_id[:15], RUN_ID_TIME).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return "-"


def closing_line(run: RunFolder) -> str:
    """The line ``kit train`` ends with; on a worker that does not see the chief's run folder, where it is."""
    if run.path.is_dir():
        return summary_line(run)
    return f"run {run.run_id}: this worker's share is done; the chief worker (TF_CONFIG index 0) wrote the run folder"
