"""Check a submission CSV against the competition's ``sample_submission.csv``.

Every problem is reported with the CSV line it is on (the header is line 1), so a
hand-made file can be fixed in an editor. The checks, in the order Kaggle's
scorer would trip on them: the header (same columns, same order), the shape of
each row, the ids (none missing, extra or duplicated, and in the sample's order),
and the values (numbers, not NaN/inf/empty, in the metric's range).

>>> problems = validate_submission("my.csv", "data/galaxy-zoo-2/labels/sample_submission.csv", "accuracy")
>>> [str(p) for p in problems]
['line 4: value 0.7 in column label is not 0 or 1 (class labels for accuracy)']
"""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from kaggle_kit.errors import DataError, SubmissionError, UnknownNameError

if TYPE_CHECKING:
    import pandas as pd

    from kaggle_kit.competitions import Competition
    from kaggle_kit.paths import Workspace

HEADER_LINE = 1


@dataclass(frozen=True)
class Problem:
    """One defect of a submission: the CSV line it is on (header = 1) and what is wrong."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True)
class _Table:
    """A CSV as text cells: the header and the data rows with their line numbers."""

    header: list[str]
    rows: list[tuple[int, list[str]]]


def validate_submission(frame_or_path, sample_submission, metric: str) -> list[Problem]:
    """Every problem of a submission (a DataFrame or a CSV path), in line order; empty if valid.

    ``sample_submission`` (a DataFrame or a CSV path) fixes the header, the ids and
    their order; its first column is the id. ``metric`` fixes the value range:
    probabilities in [0, 1] for ``auc``, exactly 0 or 1 for ``accuracy``.
    """
    check_value = _value_checker(metric)
    sample = _as_table(sample_submission)
    table = _as_table(frame_or_path)
    if not table.header:
        return [Problem(HEADER_LINE, f"the file is empty; expected the header {','.join(sample.header)}")]
    problems = _header_problems(table.header, sample.header)
    problems += _shape_problems(table, len(sample.header))
    well_formed = [(line, cells) for line, cells in table.rows if len(cells) == len(sample.header)]
    problems += _id_problems(well_formed, [cells[0] for _, cells in sample.rows])
    problems += _value_problems(well_formed, sample.header, check_value)
    return sorted(problems, key=lambda p: p.line)


@dataclass(frozen=True)
class ValidationReport:
    """What ``kit validate`` found in one file."""

    path: Path
    metric: str
    rows: int
    problems: list[Problem]


def sample_submission_path(workspace: "Workspace", slug: str) -> Path:
    """The prepared copy of the competition's sample submission: the format every submission copies."""
    return workspace.labels_dir(slug) / "sample_submission.csv"


def validate_file(competition: "Competition", workspace: "Workspace", path: str | os.PathLike) -> ValidationReport:
    """Validate any CSV (written by ``kit submit`` or by hand) against the competition's format."""
    sample = read_sample_submission(sample_submission_path(workspace, competition.slug))
    problems = validate_submission(path, sample, competition.metric)
    return ValidationReport(Path(path), competition.metric, len(sample), problems)


def read_sample_submission(path: str | os.PathLike) -> "pd.DataFrame":
    """The sample submission with every cell kept as text (ids are never reparsed as numbers)."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} not found; run 'kit prepare' for this competition first")
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def validation_error(problems: list[Problem], what: str, fix: str) -> SubmissionError:
    """One-line error for something that failed validation: the count, the first problem, the fix."""
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return SubmissionError(f"{what} failed validation: {problems[0]}{more}; {fix}")


# --- reading ------------------------------------------------------------


def _as_table(frame_or_path) -> _Table:
    """Parse a CSV file, or a DataFrame rendered as the CSV it would be written as.

    One parser for both means the line numbers a frame's problems get are those of
    the file that frame would become.
    """
    if isinstance(frame_or_path, (str, os.PathLike)):
        path = Path(frame_or_path)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise SubmissionError(f"{path} not found; check the path of the submission file") from None
        except UnicodeDecodeError:
            raise SubmissionError(f"{path} is not UTF-8 text; save it as a UTF-8 CSV") from None
    else:
        text = frame_or_path.to_csv(index=False, na_rep="NaN")
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] = []
    rows: list[tuple[int, list[str]]] = []
    for cells in reader:
        if not header:
            header = [cell.strip() for cell in cells]
            continue
        if cells:  # a blank line (e.g. the one an editor leaves at the end) is not a row
            rows.append((reader.line_num, [cell.strip() for cell in cells]))
    return _Table(header, rows)


# --- checks -------------------------------------------------------------


def _header_problems(header: list[str], expected: list[str]) -> list[Problem]:
    if header == expected:
        return []
    return [Problem(HEADER_LINE, f"header is {','.join(header)}; expected {','.join(expected)} (same columns, same order)")]


def _shape_problems(table: _Table, n_columns: int) -> list[Problem]:
    return [
        Problem(line, f"has {len(cells)} field(s); expected {n_columns}")
        for line, cells in table.rows
        if len(cells) != n_columns
    ]


def _id_problems(rows: list[tuple[int, list[str]]], expected_ids: list[str]) -> list[Problem]:
    problems = []
    expected = set(expected_ids)
    first_line: dict[str, int] = {}
    for line, cells in rows:
        row_id = cells[0]
        if row_id in first_line:
            problems.append(Problem(line, f"id {row_id} is a duplicate of line {first_line[row_id]}"))
        elif row_id not in expected:
            problems.append(Problem(line, f"id {row_id} is not in the sample submission"))
        first_line.setdefault(row_id, line)
    for position, row_id in enumerate(expected_ids):
        if row_id not in first_line:
            problems.append(Problem(position + 2, f"id {row_id} is missing (the sample submission has it on this line)"))
    if not problems:
        problems += _order_problems(rows, expected_ids)
    return problems


def _order_problems(rows: list[tuple[int, list[str]]], expected_ids: list[str]) -> list[Problem]:
    """The first row out of the sample's order (only meaningful once the id sets match)."""
    for (line, cells), expected in zip(rows, expected_ids):
        if cells[0] != expected:
            return [Problem(line, f"id {cells[0]} is out of order: the sample submission has {expected} here; "
                                  "keep the sample's row order")]
    return []


def _value_problems(rows, header: list[str], check_value: Callable[[float], str | None]) -> list[Problem]:
    problems = []
    for line, cells in rows:
        for column, cell in zip(header[1:], cells[1:]):
            message = _cell_problem(cell, column, check_value)
            if message:
                problems.append(Problem(line, message))
    return problems


def _cell_problem(cell: str, column: str, check_value: Callable[[float], str | None]) -> str | None:
    if cell == "":
        return f"empty value in column {column}"
    try:
        value = float(cell)
    except ValueError:
        return f"value {cell!r} in column {column} is not a number"
    if math.isnan(value):
        return f"NaN in column {column}"
    if math.isinf(value):
        return f"infinite value {cell} in column {column}"
    problem = check_value(value)
    return f"value {cell} in column {column} {problem}" if problem else None


def _value_checker(metric: str) -> Callable[[float], str | None]:
    """What each metric accepts: probabilities for AUC, hard class labels for accuracy."""

    def probability(value: float) -> str | None:
        return None if 0.0 <= value <= 1.0 else "is outside [0, 1] (probabilities for auc)"

    def class_label(value: float) -> str | None:
        return None if value in (0.0, 1.0) else "is not 0 or 1 (class labels for accuracy)"

    checkers = {"auc": probability, "accuracy": class_label}
    if metric not in checkers:
        raise UnknownNameError("metric", metric, sorted(checkers))
    return checkers[metric]
