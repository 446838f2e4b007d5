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

import contextlib
import csv
import heapq
import io
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from kaggle_kit.errors import DataError, SubmissionError, UnknownNameError
from kaggle_kit.fsutil import open_regular

if TYPE_CHECKING:
    import pandas as pd

    from kaggle_kit.competitions import Competition
    from kaggle_kit.paths import Workspace
    from kaggle_kit.submission_format import SubmissionFormat

HEADER_LINE = 1
MAX_PROBLEMS = 200  # listed; beyond this they are counted ("and N more")
_NUMBER = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?", re.ASCII)
_NAN = re.compile(r"[-+]?nan", re.IGNORECASE)
_INF = re.compile(r"[-+]?inf(?:inity)?", re.IGNORECASE)
_SHAPE, _ID, _MISSING_ID, _VALUE = range(4)  # on one line, problems are listed in this order


@dataclass(frozen=True)
class Problem:
    """One defect of a submission: the CSV line it is on (header = 1) and what is wrong."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class Problems(list):
    """The first problems in line order (at most the limit asked for); ``total`` counts them all."""

    def __init__(self, problems=(), total: int | None = None):
        super().__init__(problems)
        self.total = len(self) if total is None else total

    @property
    def more(self) -> int:
        """How many problems were found beyond those listed."""
        return self.total - len(self)


def validate_submission(frame_or_path, sample_submission, value_format: "SubmissionFormat | str", *,
                        limit: int = MAX_PROBLEMS) -> Problems:
    """The problems of a submission (a DataFrame or a CSV path), in line order; empty if valid.

    ``sample_submission`` (a DataFrame or a CSV path) fixes the header, the ids and
    their order; its first column is the id. ``value_format`` (a
    :class:`~kaggle_kit.submission_format.SubmissionFormat`, or the metric of a binary
    task) fixes what each value may be: probabilities in [0, 1] for ``auc``, exactly 0
    or 1 for ``accuracy``, class names, whole grades, fractions… The file is
    streamed: memory grows with the sample, not with the file, and only the first
    ``limit`` problems (by line) are kept; ``.total`` counts every one.
    """
    sample_header, sample_rows = _read_all(sample_submission)
    fmt = _format(value_format, sample_header)
    checks = {column: fmt.cell_check(column) for column in sample_header[1:]}
    found = _Findings(limit)
    with _rows(frame_or_path) as rows:
        first = next(rows, None)
        if first is None:
            return Problems([Problem(HEADER_LINE, f"the file is empty; expected the header {','.join(sample_header)}")])
        found.add_all(_header_problems(first[1], sample_header))
        if not _is_submission(first[1], sample_header):
            found.add(Problem(HEADER_LINE, "this is not a submission file (no column of the sample submission); "
                                           "its rows are not checked or shown"))
            return found.result()
        ids = _IdTracker([cells[0] for _, cells in sample_rows])
        for line, cells in rows:
            if len(cells) != len(sample_header):
                found.add(Problem(line, f"has {len(cells)} field(s); expected {len(sample_header)}"))
                continue
            found.add_all(ids.see(line, cells[0]), kind=_ID)
            for column, cell in zip(sample_header[1:], cells[1:]):
                message = _cell_problem(cell, column, checks[column], fmt.numeric)
                if message:
                    found.add(Problem(line, message), kind=_VALUE)
    found.add_all(ids.finish(), kind=_MISSING_ID)
    return found.result()


@dataclass(frozen=True)
class ValidationReport:
    """What ``kit validate`` found in one file."""

    path: Path
    metric: str
    rows: int
    problems: Problems  # the first MAX_PROBLEMS by line; .total counts all


def sample_submission_path(workspace: "Workspace", slug: str) -> Path:
    """The prepared copy of the competition's sample submission: the format every submission copies."""
    return workspace.labels_dir(slug) / "sample_submission.csv"


def validate_file(competition: "Competition", workspace: "Workspace", path: str | os.PathLike) -> ValidationReport:
    """Validate any CSV (written by ``kit submit`` or by hand) against the competition's format."""
    from kaggle_kit.competitions.custom import check_slug_owner

    check_slug_owner(competition, workspace)
    sample = read_sample_submission(sample_submission_path(workspace, competition.slug))
    problems = validate_submission(path, sample, submission_format(competition, sample))
    return ValidationReport(Path(path), competition.metric, len(sample), problems)


def submission_format(competition: "Competition", sample: "pd.DataFrame") -> "SubmissionFormat":
    """The competition's value format, read off its sample submission's header and values."""
    from kaggle_kit.submission_format import SubmissionFormat

    first_values = sample.iloc[:, 1].tolist() if sample.shape[1] > 1 else []
    return SubmissionFormat.of(competition, list(sample.columns), first_values)


def read_sample_submission(path: str | os.PathLike) -> "pd.DataFrame":
    """The sample submission with every cell kept as text (ids are never reparsed as numbers)."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} not found; run 'kit prepare' for this competition first")
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def validation_error(problems: list[Problem], what: str, fix: str) -> SubmissionError:
    """One-line error for something that failed validation: the count, the first problem, the fix."""
    total = getattr(problems, "total", len(problems))
    more = f" (and {total - 1} more)" if total > 1 else ""
    return SubmissionError(f"{what} failed validation: {problems[0]}{more}; {fix}")


# --- reading ------------------------------------------------------------


@contextlib.contextmanager
def _rows(frame_or_path) -> Iterator[Iterator[tuple[int, list[str]]]]:
    """The CSV's records as (line, cells), streamed; a DataFrame is read as the CSV it would be written as.

    One parser for both means the line numbers a frame's problems get are those of
    the file that frame would become. Cells are kept exactly as written (Kaggle
    compares ids verbatim). A field over the csv module's limit or an unclosed quote
    is one ``SubmissionError`` naming the line.
    """
    if isinstance(frame_or_path, (str, os.PathLike)):
        path = Path(frame_or_path)
        try:
            handle = io.TextIOWrapper(open_regular(path), encoding="utf-8-sig", newline="")
        except FileNotFoundError:
            raise SubmissionError(f"{path} not found; check the path of the submission file") from None
        except PermissionError:
            raise SubmissionError(f"{path} cannot be read (permission denied); check its permissions") from None
        except DataError as exc:
            raise SubmissionError(str(exc)) from None
        name = str(path)
    else:
        handle = io.StringIO(frame_or_path.to_csv(index=False, na_rep="NaN"), newline="")
        name = "the submission"
    with handle:
        yield _records(handle, name)


def _records(handle, name: str) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(handle, strict=True)
    start = 1  # the line the next record starts on (a quoted field may span lines)
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise SubmissionError(f"{name} line {start}: {_csv_problem(exc)}; fix the file") from None
        except UnicodeDecodeError:
            raise SubmissionError(f"{name} is not UTF-8 text (after line {start - 1}); save it as a UTF-8 CSV") from None
        if cells:  # a blank line (e.g. the one an editor leaves at the end) is not a row
            yield start, cells
        start = reader.line_num + 1


def _csv_problem(exc: csv.Error) -> str:
    text = str(exc)
    if "field larger than field limit" in text:
        return f"a field is longer than {csv.field_size_limit():,} characters, or a quote opened here is never closed"
    if "unexpected end of data" in text:
        return "a quote opened here is never closed"
    return f"not valid CSV ({text})"


def _read_all(frame_or_path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The sample submission's header and rows (the competition's own file: a bounded size)."""
    with _rows(frame_or_path) as rows:
        header = next(rows, (HEADER_LINE, []))[1]
        return header, list(rows)


class _Findings:
    """The ``limit`` problems with the lowest lines, and a count of all: bounded memory at any file size."""

    def __init__(self, limit: int):
        self.limit, self.total, self.heap = limit, 0, []

    def add(self, problem: Problem, kind: int = _SHAPE) -> None:
        """``kind`` orders the problems of one line (``_SHAPE`` < ``_ID`` < ``_MISSING_ID`` < ``_VALUE``)."""
        self.total += 1
        entry = (-problem.line, -kind, -self.total, problem)  # a max-heap on (line, kind, order found)
        if len(self.heap) < self.limit:
            heapq.heappush(self.heap, entry)
        elif entry > self.heap[0]:
            heapq.heapreplace(self.heap, entry)

    def add_all(self, problems, kind: int = _SHAPE) -> None:
        for problem in problems:
            self.add(problem, kind)

    def result(self) -> Problems:
        ordered = sorted(self.heap, key=lambda entry: (-entry[0], -entry[1], -entry[2]))
        return Problems([problem for *_, problem in ordered], self.total)


class _IdTracker:
    """Missing, extra, duplicate and out-of-order ids; remembers only the sample's ids."""

    def __init__(self, expected_ids: list[str]):
        self.expected_ids = expected_ids
        self.expected = set(expected_ids)
        self.first_line: dict[str, int] = {}
        self.position = 0
        self.out_of_order: Problem | None = None
        self.other_problems = False

    def see(self, line: int, row_id: str) -> list[Problem]:
        problems = []
        if row_id in self.first_line:
            problems.append(Problem(line, f"id {row_id} is a duplicate of line {self.first_line[row_id]}"))
        elif row_id in self.expected:
            self.first_line[row_id] = line
        elif row_id.strip() in self.expected:
            problems.append(Problem(line, f"id {row_id!r} has spaces around it; Kaggle compares ids exactly: remove them"))
        else:
            problems.append(Problem(line, f"id {row_id} is not in the sample submission"))
        if self.out_of_order is None and self.position < len(self.expected_ids):
            wanted = self.expected_ids[self.position]
            if row_id != wanted:
                self.out_of_order = Problem(line, f"id {row_id} is out of order: the sample submission has {wanted} "
                                                  "here; keep the sample's row order")
        self.position += 1
        self.other_problems = self.other_problems or bool(problems)
        return problems

    def finish(self) -> list[Problem]:
        """The missing ids, on the lines the sample has them; the order is judged only when the ids match."""
        missing = [Problem(position + 2, f"id {row_id} is missing (the sample submission has it on this line)")
                   for position, row_id in enumerate(self.expected_ids) if row_id not in self.first_line]
        if missing or self.other_problems or self.out_of_order is None:
            return missing
        return [self.out_of_order]


# --- checks -------------------------------------------------------------


def _header_problems(header: list[str], expected: list[str]) -> list[Problem]:
    """The header's problem. Only the expected names are ever quoted: a file that is not a
    submission at all (a token file, ``.env``) must not have its first line printed."""
    if header == expected:
        return []
    if [name.strip() for name in header] == expected:
        return [Problem(HEADER_LINE, f"header {','.join(header)!r} has spaces around its names; "
                                     f"write exactly {','.join(expected)}")]
    if set(header) <= set(expected):
        return [Problem(HEADER_LINE, f"header is {','.join(header)}; expected {','.join(expected)} "
                                     "(same columns, same order)")]
    known = [name for name in header if name in expected]
    return [Problem(HEADER_LINE, f"header has {len(header)} column(s), {len(header) - len(known)} of them not in "
                                 f"the sample submission; expected {','.join(expected)} (same columns, same order)")]


def _is_submission(header: list[str], expected: list[str]) -> bool:
    """Whether the file is meant as a submission: its header has one of the expected column names."""
    return any(name.strip() in expected for name in header)


def _cell_problem(cell: str, column: str, check: Callable[[str], str | None], numeric: bool) -> str | None:
    if cell == "":
        return f"empty value in column {column}"
    if cell.strip() != cell:
        return f"value {cell!r} in column {column} has spaces around it; remove them"
    if numeric:
        if _NAN.fullmatch(cell):
            return f"NaN in column {column}"
        if _INF.fullmatch(cell):
            return f"infinite value {cell} in column {column}"
        # Plain ASCII decimals only: float() also takes 0_5 and non-ASCII digits, which Kaggle's reader refuses.
        if not _NUMBER.fullmatch(cell):
            return f"value {cell!r} in column {column} is not a number"
        if math.isinf(float(cell)):
            return f"value {cell} in column {column} is too large for a number"
    problem = check(cell)
    return f"value {cell} in column {column} {problem}" if problem else None


def _format(value_format: "SubmissionFormat | str", header: list[str]) -> "SubmissionFormat":
    """A metric name means a binary task's format (what every caller passed before task kinds)."""
    from kaggle_kit.submission_format import SubmissionFormat
    from kaggle_kit.tasks import binary_task

    if not isinstance(value_format, str):
        return value_format
    if value_format not in ("auc", "accuracy"):
        raise UnknownNameError("metric", value_format, ["accuracy", "auc"])
    return SubmissionFormat.for_task(binary_task(), value_format, header)
