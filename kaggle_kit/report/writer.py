"""``write_report``: a run folder → ``report.html`` beside it, self-contained."""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kaggle_kit import __version__
from kaggle_kit.errors import KitError, RunNotFoundError
from kaggle_kit.runfolder import RunFolder
from kaggle_kit import figures
from kaggle_kit.report.artifacts import RunArtifacts, load_artifacts
from kaggle_kit.report.gallery import build_gallery
from kaggle_kit.report.html import Page, Plot, render

if TYPE_CHECKING:
    from kaggle_kit.paths import Workspace
    from kaggle_kit.tasks import Task

GALLERY_SIZE = 12


def write_report(run, workspace: "Workspace", *, gallery_size: int = GALLERY_SIZE) -> Path:
    """Write ``report.html`` into the run folder and return its path.

    ``run`` is a :class:`kaggle_kit.runfolder.RunFolder` or a run folder path. Images for the
    gallery come from the run's prepared cache in ``workspace``; without it the
    report still has every plot, and says why the images are missing.

    >>> write_report(RunFolder.open(workspace, "galaxy-zoo-2", run_id), workspace)
    PosixPath('runs/galaxy-zoo-2/<run-id>/report.html')
    """
    folder = as_run_folder(run)
    artifacts = load_artifacts(folder)
    return folder.write_report(render(build_page(artifacts, workspace, gallery_size)))


def try_write_report(run, workspace: "Workspace") -> Path | None:
    """``write_report`` for the end of ``kit train`` / ``kit submit``: a failure is logged, never raised.

    The report is a by-product; a broken plot or an unloadable model must not
    turn a finished training run or an uploaded submission into a failed command.
    """
    try:
        return write_report(run, workspace)
    # Deliberately broad: anything from matplotlib, keras or Pillow only costs the report.
    except Exception as exc:  # noqa: BLE001
        logging.getLogger(__name__).warning(
            "report.html not written for %s (%s: %s); retry with `kit report %s`",
            run_folder(run), type(exc).__name__, exc, run_folder(run),
        )
        return None


def as_run_folder(run) -> RunFolder:
    """``run`` itself, or the run folder at a path given directly."""
    return RunFolder.at(run) if isinstance(run, (str, os.PathLike)) else run


def run_folder(run) -> Path:
    """The path of a ``RunFolder``, or a path given directly."""
    return Path(run) if isinstance(run, (str, os.PathLike)) else run.path


def find_run_folder(workspace: "Workspace", run: str, slug: str | None = None) -> Path:
    """Resolve what the user typed: ``SLUG RUN``, a run folder path, a run id unique across
    competitions, or a lone ``SLUG`` (its latest finished run)."""
    from kaggle_kit.competitions import list_competitions
    from kaggle_kit.runs import latest_run

    if slug is not None:
        return RunFolder.open(workspace, _slug_of(slug, workspace), run).path
    if _is_dir(Path(run)):
        return Path(run)
    matches = sorted(path for path in workspace.runs_dir.glob(f"*/{run}") if path.is_dir())
    if len(matches) > 1:
        slugs = ", ".join(path.parent.name for path in matches)
        raise RunNotFoundError(f"run id '{run}' exists for several competitions ({slugs}); give SLUG before RUN")
    if matches:
        return matches[0]
    if run in list_competitions() or run.endswith((".yaml", ".yml", ".toml")):  # a slug or a custom competition file
        return latest_run(workspace, _slug_of(run, workspace)).path
    raise RunNotFoundError(
        f"no run '{run}' under {workspace.runs_dir}; give a run folder path, or SLUG and RUN ('kit runs SLUG' lists them)"
    )


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # a name too long for the file system is no run folder
        return False


def _slug_of(slug_or_spec: str, workspace: "Workspace") -> str:
    from kaggle_kit.competitions import get_competition

    return get_competition(slug_or_spec, workspace).slug


def build_page(artifacts: RunArtifacts, workspace: "Workspace", gallery_size: int) -> Page:
    task = run_task(artifacts, workspace)
    if task.kind != "binary":
        return build_task_page(artifacts, task)
    labels = artifacts.val["label"].to_numpy()
    probs = artifacts.val["prob"].to_numpy(dtype=np.float64)
    threshold = artifacts.threshold
    class_names = _class_names(artifacts.config.competition, workspace)
    roc, auc = figures.roc_png(labels, probs)
    calibration, ece = figures.calibration_png(labels, probs)
    matrix = figures.confusion(labels, probs, threshold)
    metrics = {**artifacts.metrics, "ece (calibration error)": ece}
    if auc is not None:
        metrics.setdefault("val_auc", auc)
    return Page(
        title=f"Run {artifacts.run_id} · {artifacts.config.competition}",
        subtitle=_subtitle(artifacts, len(labels)),
        metrics=metrics,
        config_yaml=artifacts.config.to_yaml(),
        learning_curves=_learning_curves(artifacts),
        plots=[
            Plot("roc", "ROC curve", roc, "ROC curve"),
            Plot("confusion", f"Confusion matrix at threshold {threshold:.3f}",
                 figures.confusion_png(matrix, class_names, threshold), "confusion matrix"),
            Plot("calibration", "Calibration (reliability diagram)", calibration, "reliability diagram"),
        ],
        gallery=build_gallery(artifacts, workspace, gallery_size),
        class_names=class_names,
        footer=_footer(artifacts),
    )


def run_task(artifacts: RunArtifacts, workspace: "Workspace") -> "Task":
    """The task the run was trained for (``metrics.json`` records it; a binary run from before task kinds does not)."""
    from kaggle_kit.tasks import Task, binary_task

    recorded = artifacts.metrics.get("task")
    return Task.from_dict(recorded) if recorded else binary_task(_class_names(artifacts.config.competition, workspace))


def build_task_page(artifacts: RunArtifacts, task: "Task") -> Page:
    """The page of a multi-class, multi-label or regression run: per-class ROC curves and confusion
    matrices, or residual plots; no image gallery (it reviews binary decisions)."""
    from kaggle_kit.runfolder import prediction_columns

    val = artifacts.val
    labels = task.labels(val, source=f"{artifacts.folder}/val_predictions.csv")
    predictions = val[list(prediction_columns(task))].to_numpy(dtype=np.float64)
    thresholds = artifacts.metrics.get("thresholds") or None
    plots = []
    if task.kind == "multiclass":
        roc, _ = figures.per_class_roc_png(task.targets(labels), predictions, task.names)
        predicted = task.decide(predictions)
        classes = list(range(len(task.names)))
        if len(classes) > figures.MAX_ANNOTATED_CLASSES:  # 120 breeds: only those validated or predicted
            classes = sorted(set(labels.tolist()) | set(predicted.tolist()))
        matrix = confusion_matrix(labels, predicted, classes)
        names = [task.names[k] for k in classes]
        heading = "Confusion matrix (the most probable class)" + (
            f"; the {len(classes)} of {len(task.names)} classes validated or predicted"
            if len(classes) < len(task.names) else "")
        plots = [Plot("roc", "ROC curve per class (one vs rest)", roc, "per-class ROC curves"),
                 Plot("confusion", heading, figures.class_confusion_png(matrix, names, "predicted class"),
                      "confusion matrix")]
    elif task.kind == "multilabel":
        roc, _ = figures.per_class_roc_png(labels, predictions, task.names)
        predicted = task.decide(predictions, thresholds)
        plots = [Plot("roc", "ROC curve per label", roc, "per-label ROC curves"),
                 Plot("confusion", "Confusion matrix per label (at its fitted threshold)",
                      figures.label_confusions_png(labels, predicted, task.names), "confusion matrices")]
    elif task.is_ordinal:
        grades = [str(level) for level in range(task.levels)]
        matrix = confusion_matrix(labels, task.decide(predictions[:, 0], thresholds), range(task.levels))
        plots = [Plot("confusion", "Confusion matrix of grades (cut at the fitted thresholds)",
                      figures.class_confusion_png(matrix, grades, "predicted grade"), "confusion matrix"),
                 Plot("residuals", "Residuals of the predicted grade",
                      figures.residuals_png(labels.astype(np.float64), predictions[:, 0]), "residual plots")]
    else:
        plots = [Plot("residuals", "Residuals (every target)", figures.residuals_png(labels, predictions),
                      "residual plots"),
                 Plot("targets", "RMSE per target", figures.target_errors_png(labels, predictions, task.names),
                      "RMSE per target")]
    return Page(
        title=f"Run {artifacts.run_id} · {artifacts.config.competition}",
        subtitle=_subtitle(artifacts, len(val)),
        metrics={"task": task.describe(), **{k: v for k, v in artifacts.metrics.items() if k != "task"}},
        config_yaml=artifacts.config.to_yaml(),
        learning_curves=_learning_curves(artifacts),
        plots=plots,
        gallery=None,
        gallery_note=f"The image gallery reviews binary decisions; this run is {task.describe()}.",
        class_names=task.names,
        footer=_footer(artifacts),
    )


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, classes) -> np.ndarray:
    from sklearn.metrics import confusion_matrix as counts

    return counts(labels, predicted, labels=list(classes))


def _footer(artifacts: RunArtifacts) -> str:
    return (f"Written by kaggle-kit {__version__} on {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC "
            f"from {artifacts.folder}.")


def _subtitle(artifacts: RunArtifacts, n_val: int) -> str:
    metrics = artifacts.metrics
    score = metrics.get("score")
    scored = f"{metrics.get('metric', 'score')} {score:.4f} · " if isinstance(score, (int, float)) else ""
    return f"{scored}model {artifacts.config.model} · {artifacts.config.image_size}px · {n_val} validation images"


def _learning_curves(artifacts: RunArtifacts) -> bytes | None:
    history = artifacts.history
    if history is None or history.empty:
        return None
    return figures.run_curves_png(history)


def _class_names(slug: str, workspace: "Workspace") -> tuple[str, ...]:
    """The competition's class names (a custom one's from its file, recorded in the workspace);
    plain 0 and 1 when its file cannot be found."""
    from kaggle_kit.competitions import get_competition

    try:
        return tuple(get_competition(slug, workspace).class_names)
    except KitError:
        return ("0", "1")
