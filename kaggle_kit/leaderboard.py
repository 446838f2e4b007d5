"""Local scoring and the local leaderboard, for competitions Kaggle does not score.

Galaxy Zoo 2 and custom competitions keep their test labels private in
``data/<slug>/labels/test_labels.csv``. A submission is scored against them
(the competition's metric; accuracy, ROC AUC and the confusion matrix where they
apply) and recorded as one row of ``submissions/<slug>/leaderboard.csv``; the board
ranks every submission by the competition's metric in its direction (lower is better
for a loss or an error; equal scores share a rank, the earlier submission listed first).

>>> score = score_submission(competition, workspace, "submissions/galaxy-zoo-2/run-1.csv")
>>> standing = record_score(workspace, "galaxy-zoo-2", entry, score)
>>> standing.rank, len(standing.board)
(1, 3)
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from kaggle_kit.csvread import read_csv
from kaggle_kit.errors import DataError, SubmissionError, shown
from kaggle_kit.fsutil import locked, write_csv_atomic
from kaggle_kit.tables import Column, column, render

if TYPE_CHECKING:
    import pandas as pd

    from kaggle_kit.competitions import Competition
    from kaggle_kit.paths import Workspace

LEADERBOARD = "leaderboard.csv"
COLUMNS = ("run", "time", "score", "metric", "accuracy", "auc", "model", "image_size", "tta", "config_hash", "file")


@dataclass(frozen=True)
class LocalScore:
    """A submission scored against the private test labels.

    ``accuracy`` and ``auc`` where they apply (``None`` otherwise: a regression, no
    probabilities, one class); ``confusion`` for tasks with classes (rows true,
    columns predicted; binary: ``((tn, fp), (fn, tp))``), ``None`` otherwise.
    """

    metric: str
    score: float
    accuracy: float | None
    auc: float | None
    confusion: tuple[tuple[int, ...], ...] | None
    rows: int


@dataclass(frozen=True)
class Entry:
    """What the leaderboard records about a submission besides its score."""

    run: str
    model: str
    image_size: str
    tta: str
    config_hash: str
    file: str


@dataclass(frozen=True)
class Standing:
    """A scored submission's place on the board (``board`` sorted best first, with ``rank``)."""

    score: LocalScore
    rank: int
    board: "pd.DataFrame"
    position: int  # this submission's row in ``board``
    path: Path


def leaderboard_path(workspace: "Workspace", slug: str) -> Path:
    return workspace.submission_dir(slug) / LEADERBOARD


def private_labels_path(workspace: "Workspace", slug: str) -> Path:
    return workspace.labels_dir(slug) / "test_labels.csv"


def score_submission(
    competition: "Competition",
    workspace: "Workspace",
    submission: str | os.PathLike,
    probabilities: str | os.PathLike | None = None,
    threshold: float = 0.5,
    thresholds: list[float] | None = None,
) -> LocalScore:
    """Score a validated submission file against the private test labels.

    A binary submission's values are 0/1 labels (accuracy) or probabilities (AUC).
    AUC needs probabilities: for an accuracy submission pass the ``id,prob`` file
    kept beside it. Probabilities become labels at ``threshold`` for the accuracy
    and the confusion matrix. Any other task or metric: the file is scored by the
    competition's metric as its format reads it (``SubmissionFormat.read``); the
    probabilities beside a file of labels, cut at ``thresholds``, give the accuracy,
    AUC and confusion matrix where they apply.
    """
    if not competition.locally_scored:
        raise SubmissionError(
            f"{competition.slug} is scored by Kaggle, not locally; upload with 'kit submit {competition.slug} --upload'"
        )
    if competition.task.kind != "binary" or competition.metric not in ("auc", "accuracy"):
        return _score_any(competition, workspace, submission, probabilities, thresholds)
    truth = _read_test_labels(private_labels_path(workspace, competition.slug))
    values = _aligned_column(submission, truth.index, what="submission")
    probs = values if competition.metric == "auc" else None
    if probabilities is not None:
        probs = _aligned_column(probabilities, truth.index, what="probability file")
    predicted = values.to_numpy() if competition.metric == "accuracy" else (values.to_numpy() >= threshold)
    return _score(competition.metric, truth.to_numpy(), predicted.astype(int), None if probs is None else probs.to_numpy())


def record_score(
    workspace: "Workspace", slug: str, entry: Entry, score: LocalScore, now: datetime | None = None
) -> Standing:
    """Append one row to ``submissions/<slug>/leaderboard.csv`` and return its rank.

    Submitting the same file again (same name, config and score) does not add a
    second row: its standing is the existing row's. The file is rewritten
    atomically under a lock, so two submits at once both land and a crash never
    leaves a half-written board.
    """
    import pandas as pd

    when = (now or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
    row = {
        **dataclasses.asdict(entry),
        "time": when,
        "score": score.score,
        "metric": score.metric,
        "accuracy": score.accuracy,
        "auc": score.auc,
    }
    path = leaderboard_path(workspace, slug)
    with locked(path.with_name(f".{path.name}.lock")):  # read-modify-write of the board is one step
        board = read_leaderboard_file(path)
        same = board.index[(board["file"] == entry.file) & (board["config_hash"] == entry.config_hash)
                           & (board["run"] == entry.run) & (board["score"] == score.score)]
        if len(same):
            position = same[-1]
        else:
            board = pd.concat([board, pd.DataFrame([row], columns=list(COLUMNS))], ignore_index=True)
            write_csv_atomic(path, board[list(COLUMNS)])
            position = len(board) - 1
    ranked = _ranked(board).sort_values("rank", kind="stable")
    row_position = list(ranked.index).index(position)
    return Standing(score, int(ranked["rank"].iloc[row_position]), ranked.reset_index(drop=True), row_position, path)


def read_leaderboard(workspace: "Workspace", slug: str) -> "pd.DataFrame":
    """The board, best first, with a ``rank`` column (empty when nothing was scored yet)."""
    ranked = _ranked(read_leaderboard_file(leaderboard_path(workspace, slug)))
    return ranked.sort_values("rank", kind="stable").reset_index(drop=True)


def leaderboard_text(competition: "Competition", workspace: "Workspace", fmt: str = "table") -> str:
    """What ``kit leaderboard`` prints: the board as ``fmt``, or (as a table) how to get a first entry."""
    from kaggle_kit.competitions.custom import check_slug_owner

    slug = competition.slug
    if not competition.locally_scored:
        raise SubmissionError(
            f"{slug} is scored by Kaggle, not locally; its leaderboard is on kaggle.com "
            "(list your submissions with 'kit submissions')"
        )
    check_slug_owner(competition, workspace)
    board = read_leaderboard(workspace, slug)
    if board.empty and fmt == "table":
        return f"No scored submissions for {slug} yet; make one with 'kit submit {competition.command_name} --run RUN'"
    return render_leaderboard(board, fmt)


def read_leaderboard_file(path: Path) -> "pd.DataFrame":
    import pandas as pd

    if not path.exists():
        return pd.DataFrame(columns=list(COLUMNS))
    try:
        board = read_csv(path, text_columns=("run", "tta", "config_hash", "image_size", "file"))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{path} is not a readable leaderboard ({type(exc).__name__}); fix or delete it") from None
    missing = [c for c in COLUMNS if c not in board.columns]
    if missing:
        raise DataError(f"{path} lacks column(s) {', '.join(missing)}; fix or delete it")
    for column in ("score", "accuracy", "auc"):  # a hand-edited cell must not break the ranking
        numbers = pd.to_numeric(board[column], errors="coerce")
        bad = (numbers.isna() & board[column].notna()) if column == "auc" else numbers.isna()  # no AUC: empty
        if bad.any():
            row = list(bad).index(True)
            raise DataError(f"{path} line {row + 2}: {column} {shown(board[column].iloc[row])} is not a number; "
                            "fix or delete that row")
        board[column] = numbers
    return board


# What scripts read from ``kit leaderboard --format json|csv``: the file's columns, best first, with the rank.
BOARD_KEYS = ("rank", *COLUMNS)


def render_leaderboard(board: "pd.DataFrame", fmt: str = "table", highlight: int | None = None) -> str:
    """The board as ``fmt``; in a table the row at position ``highlight`` is marked with ``*``."""
    rows = [{**row, "rank": int(row["rank"]), "position": position}
            for position, row in enumerate(board.to_dict("records"))]
    columns = [
        Column(" ", lambda row: "*" if row["position"] == highlight else " "),
        column("rank"),
        Column("score", lambda row: f"{row['score']:.4f}"),
        column("accuracy", text=_number),
        column("auc", text=_number),
        *(column(key, title) for key, title in (("run", None), ("model", None), ("image_size", "size"),
                                                ("tta", None), ("time", None))),
    ]
    return render(rows, fmt, keys=BOARD_KEYS, columns=columns)


MAX_CONFUSION_CLASSES = 10  # a larger matrix is left to the run report's figure


def format_confusion(score: LocalScore, class_names: Sequence[str]) -> list[str]:
    """The confusion matrix as text: rows are the true class, columns the predicted one (none when the
    task has no classes, or more than ``MAX_CONFUSION_CLASSES``)."""
    if score.confusion is None or len(score.confusion) > MAX_CONFUSION_CLASSES:
        return []
    matrix = score.confusion
    labels = list(class_names) if len(class_names) == len(matrix) else [str(k) for k in range(len(matrix))]
    names = [f"true {name}" for name in labels]
    width = max(len(n) for n in names)
    columns = [f"pred {name}" for name in labels]
    widths = [max(len(column), *(len(str(row[k])) for row in matrix)) for k, column in enumerate(columns)]
    lines = [" " * width + "  " + "  ".join(c.rjust(w) for c, w in zip(columns, widths))]
    for name, cells in zip(names, matrix):
        lines.append(name.ljust(width) + "  " + "  ".join(str(c).rjust(w) for c, w in zip(cells, widths)))
    return lines


# --- helpers ------------------------------------------------------------


def _read_test_labels(path: Path) -> "pd.Series":
    if not path.is_file():
        raise DataError(f"{path} not found; run 'kit prepare' for this competition first (it writes the test labels)")
    table = read_csv(path)
    return table.set_index("id")["label"].astype(int)


def _aligned_column(path: str | os.PathLike, ids: "pd.Index", what: str) -> "pd.Series":
    """The file's value column (its second column), reordered to ``ids``; every id must be there."""
    import pandas as pd

    table = pd.read_csv(path, dtype={0: str}, keep_default_na=False)
    values = pd.to_numeric(table.iloc[:, 1], errors="coerce")
    series = pd.Series(values.to_numpy(), index=table.iloc[:, 0].astype(str))
    missing = ids.difference(series.index)
    if len(missing) or series.index.duplicated().any() or series.isna().any():
        raise SubmissionError(
            f"{what} {path} does not cover the test labels one value per id "
            f"({len(missing)} missing); run 'kit validate' on it and rebuild it"
        )
    return series.loc[ids]


def _score(metric: str, truth, predicted, probs) -> LocalScore:
    from sklearn.metrics import confusion_matrix

    from kaggle_kit.metrics import score as metric_score

    accuracy = float((truth == predicted).mean())
    auc = metric_score("auc", truth, probs) if probs is not None and len(set(truth)) == 2 else None
    (tn, fp), (fn, tp) = confusion_matrix(truth, predicted, labels=[0, 1]).tolist()
    score = accuracy if metric == "accuracy" else auc
    if score is None:
        raise SubmissionError("AUC is undefined: the test labels hold a single class; use metric accuracy")
    return LocalScore(metric, score, accuracy, auc, ((tn, fp), (fn, tp)), len(truth))


def _score_any(competition: "Competition", workspace: "Workspace", submission, probabilities,
               thresholds: list[float] | None) -> LocalScore:
    """Any task and metric: the file as its format reads it, scored by the competition's metric."""
    from kaggle_kit.metrics import get_metric
    from kaggle_kit.submission_format import predictions_table
    from kaggle_kit.validate import read_sample_submission, sample_submission_path, submission_format

    task = competition.task
    labels_path = private_labels_path(workspace, competition.slug)
    truth = _read_test_table(labels_path)
    y_true = task.labels(truth, source=str(labels_path))
    fmt = submission_format(competition, read_sample_submission(sample_submission_path(workspace, competition.slug)))
    in_file = fmt.read(_aligned_rows(submission, truth["id"], "submission"))
    score = get_metric(competition.metric)(y_true, in_file)
    if not np.isfinite(score):
        raise SubmissionError(f"{competition.metric} is undefined on these test labels (a single class?); "
                              "score it with another metric")
    holds_labels = fmt.needs == "labels"
    probs = None if holds_labels else in_file
    if probabilities is not None:
        probs = predictions_table(_aligned_rows(probabilities, truth["id"], "probability file"), task)
    predicted = None  # hard labels, where the task has them
    if holds_labels:
        predicted = in_file
    elif probs is not None and (task.has_classes or task.kind == "multilabel"):
        predicted = task.decide(probs, thresholds)
    if predicted is None:
        accuracy = None
    elif task.kind == "regression":  # ordinal grades
        accuracy = float(np.mean(y_true == predicted))
    else:
        accuracy = get_metric("accuracy")(y_true, predicted)
    auc_name = {"binary": "auc", "multilabel": "mean_column_auc"}.get(task.kind)
    auc = get_metric(auc_name)(y_true, probs) if auc_name and probs is not None else None
    confusion = None
    if task.has_classes and predicted is not None:
        from sklearn.metrics import confusion_matrix

        classes = len(task.names) if task.kind != "regression" else task.levels
        confusion = tuple(tuple(row) for row in confusion_matrix(y_true, predicted, labels=range(classes)).tolist())
    return LocalScore(competition.metric, float(score), accuracy,
                      None if auc is None or not np.isfinite(auc) else float(auc), confusion, len(truth))


def _read_test_table(path: Path) -> "pd.DataFrame":
    import pandas as pd

    if not path.is_file():
        raise DataError(f"{path} not found; run 'kit prepare' for this competition first (it writes the test labels)")
    return pd.read_csv(path, dtype={"id": str})


def _aligned_rows(path: str | os.PathLike, ids: "pd.Series", what: str) -> "pd.DataFrame":
    """The file's rows in the order of ``ids`` (its first column is the id); every id once."""
    import pandas as pd

    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    keys = table.iloc[:, 0].astype(str)
    missing = ~ids.isin(keys)
    if missing.any() or keys.duplicated().any():
        raise SubmissionError(
            f"{what} {path} does not cover the test labels one row per id ({int(missing.sum())} missing); "
            "run 'kit validate' on it and rebuild it"
        )
    return table.set_index(keys).loc[ids.to_numpy()].reset_index(drop=True)


def _ranked(board: "pd.DataFrame") -> "pd.DataFrame":
    """Rank 1 = best score (the highest, or the lowest for a loss or an error); equal scores share the better rank."""
    ranked = board.copy()
    if not len(board):
        ranked["rank"] = []
        return ranked
    ascending = not _greater_is_better(str(board["metric"].iloc[-1]))
    ranked["rank"] = ranked["score"].rank(ascending=ascending, method="min").fillna(len(board)).astype(int)
    return ranked


def _greater_is_better(metric: str) -> bool:
    from kaggle_kit.errors import UnknownNameError
    from kaggle_kit.metrics import get_metric

    try:
        return get_metric(metric).greater_is_better
    except UnknownNameError:
        return True  # a board written by hand with a metric of its own: higher is better, as before


def _number(value) -> str:
    import pandas as pd

    return "n/a" if value is None or pd.isna(value) else f"{float(value):.4f}"
