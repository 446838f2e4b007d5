"""Turn a run's test predictions into a submission file, validate it, and hand it in.

The file copies ``sample_submission.csv`` exactly: the same columns in the same
order, the same ids in the same order. The values follow the task, the metric and
the sample's header (:mod:`kaggle_kit.submission_format`): the probability for AUC,
a 0/1 label for accuracy (thresholded where the run's validation accuracy peaked),
one probability column per class, class names, grades cut at fitted thresholds,
regression values. A code competition (``kernels_only``) takes no API upload. Nothing is written, and nothing uploaded, unless the
file passes :func:`validate_submission`; an existing file is never replaced
without ``overwrite``. Kaggle competitions upload through the ``kaggle`` client;
locally scored ones (Galaxy Zoo 2, custom) are scored against the private test
labels and ranked on the local leaderboard instead.

>>> outcome = submit(get_competition("galaxy-zoo-2"), workspace, ["run-1"], tta="flips")
>>> outcome.path, outcome.standing.rank
(PosixPath('submissions/galaxy-zoo-2/run-1-flips.csv'), 1)
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from kaggle_kit.competitions.custom import check_slug_owner
from kaggle_kit.errors import SubmissionError
from kaggle_kit.fsutil import publish_bytes, same_content, storage_error, write_text_atomic
from kaggle_kit.leaderboard import (
    Entry,
    Standing,
    format_confusion,
    render_leaderboard,
    record_score,
    score_submission,
)
from kaggle_kit.predict import check_tta, ensure_predictions, open_runs, prediction_name, resolve_adabn, resolve_tta
from kaggle_kit.validate import (
    read_sample_submission,
    sample_submission_path,
    submission_format,
    validate_submission,
    validation_error,
)

NOTEBOOK_SUBMISSION = "submission.csv"

if TYPE_CHECKING:
    import pandas as pd

    from kaggle_kit.competitions import Competition
    from kaggle_kit.paths import Workspace
    from kaggle_kit.runfolder import RunFolder
    from kaggle_kit.submission_format import SubmissionFormat
    from kaggle_kit.tasks import Task


@dataclass(frozen=True)
class SubmitOutcome:
    """What ``submit`` did: the file, how its values were made, and the upload or local score."""

    competition: "Competition"
    path: Path
    rows: int
    values: str  # "probabilities", or "0/1 labels at threshold 0.4321"
    unchanged: bool  # an identical file was already there: nothing rewritten
    upload_requested: bool = False
    upload: Any = None  # kaggle_api.SubmitResult when uploaded
    standing: Standing | None = None  # the local score and rank, for locally scored competitions
    reports: tuple[Path, ...] = ()  # run reports written because they were missing
    notebook_copy: Path | None = None  # /kaggle/working/submission.csv inside a Kaggle Notebook


def submit(
    competition: "Competition",
    workspace: "Workspace",
    run_ids: Sequence[str],
    *,
    tta: str = "auto",
    adabn: bool | None = None,
    threshold_rule: str | None = None,
    output: str | os.PathLike | None = None,
    overwrite: bool = False,
    upload: bool = False,
    message: str | None = None,
    batch_size: int | None = None,
    progress: bool = True,
    report: bool = True,
) -> SubmitOutcome:
    """Write ``submissions/<slug>/<run-id>[-tta][-adabn].csv`` (or ``output``), then upload or score it.

    Predicts first when the runs' ``test_predictions`` for this TTA and AdaBN are missing or stale.
    ``threshold_rule`` (``accuracy`` or ``balanced``; default: the runs' ``threshold_rule``) picks
    the validation threshold that turns probabilities into 0/1 labels.
    With ``report``, a run lacking its ``report.html`` (trained before reports, or
    its report failed) gets one; a report failure never fails the submission.
    """
    check_slug_owner(competition, workspace)
    check_tta(tta)
    runs = open_runs(workspace, competition.slug, run_ids)
    tta = resolve_tta(tta, runs)  # auto: the views the runs were trained to be blind to
    adabn = resolve_adabn(adabn, runs)  # None: the runs' recipe's choice
    target = Path(output) if output else submission_path(workspace, competition.slug, run_ids, tta, adabn)
    sample = read_sample_submission(sample_submission_path(workspace, competition.slug))
    fmt = submission_format(competition, sample)
    if upload and competition.kernels_only and workspace.kaggle_working is None:
        raise _kernels_only_error(competition)
    predictions = read_predictions(ensure_predictions(competition, workspace, run_ids, tta, adabn=adabn,
                                                      batch_size=batch_size, progress=progress), competition.task)
    probabilities = aligned_probabilities(predictions, sample, competition.task)
    rule = threshold_rule or runs_threshold_rule(runs)
    thresholds = run_thresholds(runs, rule) if fmt.keeps_probabilities and fmt.layout != "class" else None
    frame = submission_frame(sample, probabilities, fmt, thresholds)
    files = {target: frame}
    if fmt.keeps_probabilities:
        files[probabilities_path(target)] = probabilities
    unchanged = publish(files, sample, fmt, overwrite)
    notebook_copy = write_notebook_submission(workspace, frame)
    standing = result = None
    if competition.locally_scored:
        standing = score_locally(competition, workspace, runs, tta + ("+adabn" if adabn else ""), target, fmt,
                                 thresholds, rule)
    elif upload and notebook_copy is None:
        result = upload_file(competition, target, sample, message, fmt)
    values = fmt.describe(thresholds)
    if thresholds is not None and competition.task.kind == "binary":
        values += f" ({rule} rule)"
    values += {"none": "", "flips": ", 4-view TTA", "dihedral": ", 8-view TTA"}[tta] + (", AdaBN" if adabn else "")
    reports = write_missing_reports(workspace, runs) if report else ()
    return SubmitOutcome(
        competition, target, len(frame), values, unchanged, upload, result, standing, reports, notebook_copy
    )


def write_notebook_submission(workspace: "Workspace", frame: "pd.DataFrame") -> Path | None:
    """Inside a Kaggle Notebook, also write the (already validated) file Kaggle scores:
    ``/kaggle/working/submission.csv``, replaced by each submit. Elsewhere nothing."""
    if workspace.kaggle_working is None:
        return None
    target = workspace.kaggle_working / NOTEBOOK_SUBMISSION
    write_text_atomic(target, frame.to_csv(index=False))
    return target


def write_missing_reports(workspace: "Workspace", runs: dict[str, "RunFolder"]) -> tuple[Path, ...]:
    """Each submitted run's review page, when it has none; a report failure only logs a warning."""
    from kaggle_kit.report import try_write_report

    missing = [run for run in runs.values() if not run.report_path.is_file()]
    return tuple(path for path in (try_write_report(run, workspace) for run in missing) if path is not None)


def describe(outcome: SubmitOutcome) -> list[str]:
    """What ``kit submit`` prints: the file, then the upload or the local score and rank."""
    competition = outcome.competition
    verb = "Unchanged" if outcome.unchanged else "Wrote"
    lines = [f"{verb} {outcome.path} ({outcome.rows} rows, {outcome.values})"]
    if outcome.notebook_copy is not None:
        lines.append(f"Wrote {outcome.notebook_copy}: the file Kaggle scores for this notebook (nothing uploaded from here)")
    if outcome.standing is not None:
        if outcome.upload_requested:
            lines.append(f"{competition.slug} is scored locally (no Kaggle leaderboard): nothing uploaded")
        lines += _standing_lines(outcome.standing, competition.class_names)
    elif outcome.upload is not None:
        lines += upload_lines(outcome.upload)
    elif outcome.notebook_copy is None:
        lines.append("Not uploaded; add --upload -m MESSAGE to send it to Kaggle")
    return lines + [f"Report: {path}" for path in outcome.reports]


def submission_path(workspace: "Workspace", slug: str, run_ids: Sequence[str], tta: str = "none",
                    adabn: bool = False) -> Path:
    return workspace.submission_dir(slug) / f"{prediction_name(run_ids, tta, adabn)}.csv"


def probabilities_path(submission: Path) -> Path:
    """Where an accuracy submission's probabilities are kept (local AUC needs them)."""
    return submission.with_name(f"{submission.stem}.probabilities.csv")


def read_predictions(path: Path, task: "Task | None" = None) -> "pd.DataFrame":
    """A ``test_predictions`` file: ``id,prob`` (binary) or ``id`` and ``pred_<name>`` per output."""
    from kaggle_kit.csvread import read_csv
    from kaggle_kit.runfolder import prediction_columns
    from kaggle_kit.tasks import binary_task

    expected = ["id", *prediction_columns(task or binary_task())]
    frame = read_csv(path)
    if list(frame.columns) != expected:
        shown = ",".join(expected) if len(expected) <= 4 else f"{','.join(expected[:3])},…"
        raise SubmissionError(f"{path} has columns {','.join(frame.columns[:6])}, not {shown}; re-run 'kit predict'")
    return frame


def aligned_probabilities(predictions: "pd.DataFrame", sample: "pd.DataFrame", task: "Task | None" = None
                          ) -> "pd.DataFrame":
    """The predictions in the sample's id order (its id column's name), after checking they cover it
    exactly and hold usable values (probabilities in [0, 1], finite values)."""
    import pandas as pd

    id_column = sample.columns[0]
    if len(predictions) != len(sample) or set(predictions["id"]) != set(sample[id_column]):
        raise SubmissionError(
            f"the test predictions hold {len(predictions)} rows for {len(sample)} sample submission ids "
            "(or other ids); nothing was written: re-run 'kit prepare' then 'kit predict'"
        )
    columns = list(predictions.columns[1:])
    ordered = predictions.set_index("id").reindex(sample[id_column])
    frame = pd.DataFrame({id_column: sample[id_column].to_numpy(), **{c: ordered[c].to_numpy() for c in columns}})
    if columns == ["prob"]:  # binary: checked as the probability column it will fill
        checked, check_sample, checker = frame.rename(columns={"prob": sample.columns[1]}), sample, "auc"
    else:
        checked, check_sample, checker = frame, frame, _predictions_format(task, columns)
    problems = validate_submission(checked, check_sample, checker)
    if problems:
        raise validation_error(problems, "the test predictions", "nothing was written: re-run 'kit predict' and check the "
                        "run's history.csv for a NaN loss")
    return frame


def _predictions_format(task: "Task", columns: list[str]):
    """How to check a task's prediction columns: probabilities in [0, 1], or finite values."""
    from kaggle_kit.submission_format import SubmissionFormat

    layout = "values" if task.activation == "linear" else ("wide" if task.kind == "multiclass" else "columns")
    metric = {"values": "rmse", "wide": "log_loss", "columns": "mean_column_auc"}[layout]
    return SubmissionFormat(layout, tuple(columns), task, metric)


def submission_frame(sample: "pd.DataFrame", probabilities: "pd.DataFrame", fmt: "SubmissionFormat",
                     thresholds: list[float] | None = None) -> "pd.DataFrame":
    """The sample submission with its value columns filled as ``fmt`` says: probabilities, 0/1 or grades
    at ``thresholds``, class names or indices, values."""
    from kaggle_kit.submission_format import predictions_table

    values = fmt.values(predictions_table(probabilities.rename(columns={probabilities.columns[0]: "id"}), fmt.task),
                        thresholds)
    frame = sample.copy()
    for column, column_values in values.items():
        frame[column] = column_values
    return frame


def runs_threshold_rule(runs: dict[str, "RunFolder"]) -> str:
    """The runs' own ``threshold_rule`` (their recipe's); ``balanced`` if any of an ensemble asks for it."""
    rules = {run.config.threshold_rule for run in runs.values()}
    return "balanced" if "balanced" in rules else "accuracy"


def run_thresholds(runs: dict[str, "RunFolder"], rule: str = "accuracy") -> list[float]:
    """The cut points fitted on validation (``thresholds``, or a binary run's ``threshold``), averaged
    over an ensemble's runs. With ``rule`` ``balanced`` a binary run's cut is the one maximising
    balanced accuracy on its validation predictions instead of accuracy."""
    from kaggle_kit.metrics.thresholds import binary_threshold

    fitted = []
    for run_id, run in runs.items():
        metrics = run.metrics or {}  # None while a run is unfinished
        values = metrics.get("thresholds")
        if values is None and metrics.get("threshold") is not None:
            values = [metrics["threshold"]]
        if not values:
            raise SubmissionError(
                f"run {run_id} has no threshold in {run.path / 'metrics.json'}; finish or re-run its training first"
            )
        if rule == "balanced":
            validation = run.val_predictions()
            if {"label", "prob"} <= set(validation.columns):  # a binary run: its one cut, for balanced accuracy
                values = [binary_threshold(validation["label"].to_numpy(), validation["prob"].to_numpy(),
                                           "balanced_accuracy")[0]]
        fitted.append([float(v) for v in values])
    if len({len(v) for v in fitted}) > 1:
        raise SubmissionError(f"runs {', '.join(runs)} were cut at different numbers of thresholds; "
                              "ensemble runs of the same task only")
    return [sum(column) / len(column) for column in zip(*fitted)]


def publish(files: dict[Path, "pd.DataFrame"], sample: "pd.DataFrame", value_format: "SubmissionFormat | str",
            overwrite: bool) -> bool:
    """Validate the submission (the first of ``files``), then write every file; return True when
    the submission was already there, identical.

    Every file is checked before any is written: without ``overwrite`` none replaces an
    existing file with other content (the probabilities kept beside an accuracy submission
    included), and each is linked into place, so one appearing meanwhile is not clobbered.
    """
    target, frame = next(iter(files.items()))
    problems = validate_submission(frame, sample, value_format)
    if problems:
        raise validation_error(problems, f"the submission for {target}", "nothing was written")
    contents = {path: table.to_csv(index=False).encode("utf-8") for path, table in files.items()}
    for path, data in contents.items():
        try:
            is_dir, exists = path.is_dir(), path.exists()
        except OSError as exc:  # a name too long for the file system, a folder that cannot be read
            raise storage_error(exc, path) from None
        if is_dir:
            raise SubmissionError(f"{path} is a folder; pass --output with a file name")
        if exists and not overwrite and not same_content(path, data):
            raise _exists_error(path)
    unchanged = {}
    for path, data in contents.items():
        try:
            unchanged[path] = publish_bytes(path, data, overwrite=overwrite)
        except FileExistsError:
            raise _exists_error(path) from None
    return unchanged[target]


def upload_file(competition: "Competition", path: Path, sample: "pd.DataFrame", message: str | None,
                value_format: "SubmissionFormat | None" = None):
    """Validate the file on disk once more (it is what gets sent), then upload it."""
    from kaggle_kit import kaggle_api

    if competition.kernels_only:
        raise _kernels_only_error(competition)
    problems = validate_submission(path, sample, value_format or submission_format(competition, sample))
    if problems:
        raise validation_error(problems, str(path), "nothing was uploaded: see every problem with 'kit validate'")
    return kaggle_api.submit_file(competition.source_ref, path, message or f"kaggle-kit {path.stem}")


def score_locally(
    competition: "Competition", workspace: "Workspace", runs: dict[str, "RunFolder"], tta: str, path: Path,
    fmt: "SubmissionFormat", thresholds: list[float] | None, rule: str = "accuracy",
) -> Standing:
    """Score against the private test labels and rank. A file of cut labels (binary accuracy, grades,
    0/1 columns) is scored as it is, and its AUC comes from the probabilities kept beside it; a file of
    probabilities is cut at the runs' validation thresholds (of ``rule``) for the accuracy and confusion
    matrix."""
    probabilities = probabilities_path(path) if fmt.keeps_probabilities else None
    cuts = thresholds
    if cuts is None and (competition.task.kind in ("binary", "multilabel") or competition.task.is_ordinal):
        cuts = run_thresholds(runs, rule)
    if competition.task.kind == "binary" and competition.metric in ("auc", "accuracy"):
        score = score_submission(competition, workspace, path, probabilities, cuts[0])
    else:
        score = score_submission(competition, workspace, path, probabilities, thresholds=cuts)
    return record_score(workspace, competition.slug, leaderboard_entry(runs, tta, path), score)


def leaderboard_entry(runs: dict[str, "RunFolder"], tta: str, path: Path) -> Entry:
    """The board's description of a submission; an ensemble joins its runs' values with ``+``."""
    digests = [run.config.digest() for run in runs.values()]
    config_hash = digests[0] if len(digests) == 1 else hashlib.sha256("+".join(digests).encode()).hexdigest()[:12]
    return Entry(
        run="+".join(runs),
        model="+".join(sorted({run.config.model for run in runs.values()})),
        image_size="+".join(sorted({str(run.config.image_size) for run in runs.values()}, key=int)),
        tta=tta,
        config_hash=config_hash,
        file=path.name,
    )


def upload_lines(result) -> list[str]:
    """A ``kaggle_api.SubmitResult`` as text: what Kaggle said, and the submissions left today."""
    reference = f" (submission {result.ref})" if result.ref is not None else ""
    left = "unknown" if result.remaining_today is None else str(result.remaining_today)
    return [
        f"Uploaded {result.file_name} to {result.competition}{reference}: {result.message}",
        f"Submissions left today: {left}",
    ]


def _standing_lines(standing: Standing, class_names: Sequence[str]) -> list[str]:
    score = standing.score
    if score.metric in ("auc", "accuracy"):
        auc = "n/a" if score.auc is None else f"{score.auc:.4f}"
        lines = [f"Local score on {score.rows} test images: accuracy {score.accuracy:.4f}, AUC {auc} "
                 f"(metric: {score.metric})"]
    else:
        extras = [f"{name} {value:.4f}" for name, value in (("accuracy", score.accuracy), ("AUC", score.auc))
                  if value is not None]
        lines = [f"Local score on {score.rows} test images: {score.metric} {score.score:.4f}"
                 + (f" ({', '.join(extras)})" if extras else "")]
    lines += format_confusion(score, class_names)
    lines.append(f"Rank {standing.rank} of {len(standing.board)} on {standing.path}")
    return lines + render_leaderboard(standing.board, highlight=standing.position).split("\n")


def _kernels_only_error(competition: "Competition") -> SubmissionError:
    return SubmissionError(
        f"{competition.slug} takes submissions only from a Kaggle Notebook (a code competition), not through the "
        "API; run kit there (it writes /kaggle/working/submission.csv), or check the file here with 'kit validate'"
    )


def _exists_error(target: Path) -> SubmissionError:
    return SubmissionError(f"{target} already exists; pass --overwrite to replace it, or --output to write elsewhere")
