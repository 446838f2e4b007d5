"""Submission validation: each defect found with its exact message and line; `kit validate`."""

from __future__ import annotations

import os
import tracemalloc

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from kaggle_kit.cli import cli
from kaggle_kit.errors import SubmissionError, UnknownNameError
from kaggle_kit.validate import MAX_PROBLEMS, Problem, validate_submission

SAMPLE = pd.DataFrame({"id": ["a", "b", "c", "d"], "label": [0, 0, 0, 0]})


def write(tmp_path, text: str, name: str = "sub.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def messages(problems):
    return [str(p) for p in problems]


def test_valid_probability_file_has_no_problems(tmp_path):
    path = write(tmp_path, "id,label\na,0.1\nb,0.9\nc,0\nd,1\n")
    assert validate_submission(path, SAMPLE, "auc") == []


def test_valid_frame_round_trips_through_csv(tmp_path):
    frame = pd.DataFrame({"id": ["a", "b", "c", "d"], "label": [0.25, 0.5, 0.125, 1.0]})
    path = tmp_path / "round.csv"
    frame.to_csv(path, index=False)
    assert validate_submission(frame, SAMPLE, "auc") == []
    assert validate_submission(path, SAMPLE, "auc") == []
    back = pd.read_csv(path, dtype={"id": str})
    pd.testing.assert_frame_equal(back, frame)


# One row per defect: the file's text, the metric, and exactly what validation says about it.
DEFECTS = {
    "missing id, reported on the line the sample has it": (
        "id,label\na,0.1\nb,0.2\nd,0.4\n", "auc",
        ["line 4: id c is missing (the sample submission has it on this line)"]),
    "extra id": (
        "id,label\na,0.1\nb,0.2\nzz,0.5\nc,0.3\nd,0.4\n", "auc",
        ["line 4: id zz is not in the sample submission"]),
    "duplicate id, naming the first occurrence": (
        "id,label\na,0.1\nb,0.2\nc,0.3\nd,0.4\nb,0.2\n", "auc",
        ["line 6: id b is a duplicate of line 3"]),
    "reordered ids, the first row out of place": (
        "id,label\na,0.1\nc,0.3\nb,0.2\nd,0.4\n", "auc",
        ["line 3: id c is out of order: the sample submission has b here; keep the sample's row order"]),
    "NaN, inf and empty values": (
        "id,label\na,nan\nb,inf\nc,\nd,0.4\n", "auc",
        ["line 2: NaN in column label", "line 3: infinite value inf in column label",
         "line 4: empty value in column label"]),
    "probability out of range": (
        "id,label\na,1.5\nb,-0.1\nc,0.3\nd,0.4\n", "auc",
        ["line 2: value 1.5 in column label is outside [0, 1] (probabilities for auc)",
         "line 3: value -0.1 in column label is outside [0, 1] (probabilities for auc)"]),
    "accuracy needs hard labels": (
        "id,label\na,1\nb,0\nc,0.7\nd,1.0\n", "accuracy",
        ["line 4: value 0.7 in column label is not 0 or 1 (class labels for accuracy)"]),
    "wrong header": (
        "label,id\na,0.1\nb,0.2\nc,0.3\nd,0.4\n", "auc",
        ["line 1: header is label,id; expected id,label (same columns, same order)"]),
    "non-numeric value": (
        "id,label\na,0.1\nb,yes\nc,0.3\nd,0.4\n", "auc",
        ["line 3: value 'yes' in column label is not a number"]),
    "row with the wrong field count": (
        "id,label\na,0.1\nb,0.2,7\nc,0.3\nd,0.4\n", "auc",
        ["line 3: has 3 field(s); expected 2", "line 3: id b is missing (the sample submission has it on this line)"]),
    "empty file": (
        "", "auc", ["line 1: the file is empty; expected the header id,label"]),
    "several defects, all listed in line order": (
        "id,label\nb,nan\nb,0.2\nc,2\n", "auc",
        ["line 2: id a is missing (the sample submission has it on this line)",
         "line 2: NaN in column label",
         "line 3: id b is a duplicate of line 2",
         "line 4: value 2 in column label is outside [0, 1] (probabilities for auc)",
         "line 5: id d is missing (the sample submission has it on this line)"]),
}


@pytest.mark.parametrize("text, metric, expected", list(DEFECTS.values()), ids=list(DEFECTS))
def test_each_defect_is_reported_with_its_line_and_message(tmp_path, text, metric, expected):
    assert messages(validate_submission(write(tmp_path, text), SAMPLE, metric)) == expected


def test_nan_in_a_frame_is_found_before_any_file_exists():
    frame = pd.DataFrame({"id": ["a", "b", "c", "d"], "label": [0.1, np.nan, 0.3, 0.4]})
    assert validate_submission(frame, SAMPLE, "auc") == [Problem(3, "NaN in column label")]


def test_windows_line_endings_and_bom_are_accepted(tmp_path):
    path = tmp_path / "win.csv"
    path.write_bytes("\ufeffid,label\r\na,0.1\r\nb,0.2\r\nc,0.3\r\nd,0.4\r\n".encode("utf-8"))
    assert validate_submission(path, SAMPLE, "auc") == []


def test_unknown_metric_is_refused():
    with pytest.raises(UnknownNameError, match="unknown metric 'rmse'"):
        validate_submission(SAMPLE, SAMPLE, "rmse")


# --- kit validate ---------------------------------------------------------


@pytest.fixture
def prepared_labels(workspace_env):
    labels = workspace_env.labels_dir("histopathologic-cancer-detection")
    labels.mkdir(parents=True)
    SAMPLE.to_csv(labels / "sample_submission.csv", index=False)
    return workspace_env


def test_kit_validate_lists_every_problem_and_exits_1(prepared_labels, tmp_path):
    path = write(tmp_path, "id,label\na,0.1\nb,nan\nd,0.4\n")
    result = CliRunner().invoke(cli, ["validate", "histopathologic-cancer-detection", str(path)])
    assert result.exit_code == 1
    assert result.output == (
        "line 3: NaN in column label\n"
        "line 4: id c is missing (the sample submission has it on this line)\n"
        f"Error: {path}: 2 problem(s); fix them and run 'kit validate' again\n"
    )


def test_kit_validate_ok(prepared_labels, tmp_path):
    path = write(tmp_path, "id,label\na,0.1\nb,0.2\nc,0.3\nd,0.4\n")
    result = CliRunner().invoke(cli, ["validate", "histopathologic-cancer-detection", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output == f"OK: {path} matches the sample submission (4 rows, metric auc)\n"


def test_kit_validate_without_prepared_labels_says_to_prepare(workspace_env, tmp_path):
    path = write(tmp_path, "id,label\na,0.1\n")
    result = CliRunner().invoke(cli, ["validate", "histopathologic-cancer-detection", str(path)])
    assert result.exit_code == 1
    sample = workspace_env.labels_dir("histopathologic-cancer-detection") / "sample_submission.csv"
    assert result.output == f"Error: {sample} not found; run 'kit prepare' for this competition first\n"


# --- what Kaggle's reader refuses, and files too big or broken to list ------------------------

REFUSED = {
    "non-ASCII digits": ("id,label\na,\u0660.\u0665\nb,0.2\nc,0.3\nd,0.4\n", "auc",
                         ["line 2: value '\u0660.\u0665' in column label is not a number"]),
    "underscore in a number": ("id,label\na,0_0\nb,1_0\nc,0\nd,1\n", "accuracy",
                               ["line 2: value '0_0' in column label is not a number",
                                "line 3: value '1_0' in column label is not a number"]),
    "id with a trailing space": ("id,label\na ,0.1\nb,0.2\nc,0.3\nd,0.4\n", "auc",
                                 ["line 2: id 'a ' has spaces around it; Kaggle compares ids exactly: remove them",
                                  "line 2: id a is missing (the sample submission has it on this line)"]),
    "spaces around header names": ("id, label\na,0.1\nb,0.2\nc,0.3\nd,0.4\n", "auc",
                                   ["line 1: header 'id, label' has spaces around its names; write exactly id,label"]),
    "spaces around a value": ("id,label\na, 0.1\nb,0.2\nc,0.3\nd,0.4\n", "auc",
                              ["line 2: value ' 0.1' in column label has spaces around it; remove them"]),
    "hexadecimal and words for numbers": ("id,label\na,0x1\nb,Infinity\nc,1e999\nd,-NaN\n", "auc",
                                          ["line 2: value '0x1' in column label is not a number",
                                           "line 3: infinite value Infinity in column label",
                                           "line 4: value 1e999 in column label is too large for a number",
                                           "line 5: NaN in column label"]),
}


@pytest.mark.parametrize("text, metric, expected", list(REFUSED.values()), ids=list(REFUSED))
def test_what_kaggle_would_refuse_is_refused(tmp_path, text, metric, expected):
    assert messages(validate_submission(write(tmp_path, text), SAMPLE, metric)) == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ('id,label\na,0.1\nb,"0.2\nc,0.3\nd,0.4\n', "line 3: a quote opened here is never closed; fix the file"),
        ("id,label\na,0.1\nb," + "9" * 200_000 + "\n",
         "line 3: a field is longer than 131,072 characters, or a quote opened here is never closed; fix the file"),
        ('id,label\na,0.1\nb,"0.2"x\n', "line 3: not valid CSV (',' expected after '\"'); fix the file"),
    ],
)
def test_broken_csv_is_one_error_naming_the_line(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(SubmissionError) as err:
        validate_submission(path, SAMPLE, "auc")
    assert str(err.value) == f"{path} {message}"


def test_a_huge_bad_file_is_streamed_and_its_problems_capped(tmp_path):
    path = tmp_path / "huge.csv"
    with path.open("w") as handle:
        handle.write("id,label\n")
        for i in range(100_000):
            handle.write(f"x{i},0.5\n")
    tracemalloc.start()
    problems = validate_submission(path, SAMPLE, "auc")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(problems) == MAX_PROBLEMS and problems.total == 100_004 and problems.more == 100_004 - MAX_PROBLEMS
    assert [p.line for p in problems] == sorted(p.line for p in problems)
    assert messages(problems[:2]) == ["line 2: id x0 is not in the sample submission",
                                      "line 2: id a is missing (the sample submission has it on this line)"]
    assert peak < 2_000_000  # the file is 1.1 MB; holding its rows took ~30 MB


def test_kit_validate_caps_the_list_and_counts_the_rest(prepared_labels, tmp_path):
    path = write(tmp_path, "id,label\n" + "".join(f"z{i},0.5\n" for i in range(MAX_PROBLEMS + 10)))
    result = CliRunner().invoke(cli, ["validate", "histopathologic-cancer-detection", str(path)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert len(lines) == MAX_PROBLEMS + 2
    assert lines[-2] == "... and 14 more problem(s), not listed"
    assert lines[-1] == f"Error: {path}: {MAX_PROBLEMS + 14} problem(s); fix them and run 'kit validate' again"


def test_a_fifo_named_like_a_submission_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "sub.csv"
    os.mkfifo(fifo)
    with pytest.raises(SubmissionError) as err:
        validate_submission(fifo, SAMPLE, "auc")
    assert str(err.value) == f"{fifo} is a FIFO (named pipe), not a file; point at a regular file"


@pytest.mark.parametrize(
    "text",
    ["0123456789abcdef0123456789abcdef\n",  # a token file
     "KAGGLE_USERNAME=alice\nKAGGLE_KEY=0123456789abcdef0123456789abcdef\n",  # an .env file
     "user,secret\nalice,0123456789abcdef0123456789abcdef\n"],
    ids=["token", "env", "credentials-csv"],
)
def test_a_file_that_is_not_a_submission_is_never_echoed(tmp_path, text):
    problems = validate_submission(write(tmp_path, text, "secrets.txt"), SAMPLE, "auc")
    shown = " ".join(messages(problems))
    assert "0123456789abcdef" not in shown and "alice" not in shown
    columns = len(text.splitlines()[0].split(","))
    assert messages(problems) == [
        f"line 1: header has {columns} column(s), {columns} of them not in the sample submission; "
        "expected id,label (same columns, same order)",
        "line 1: this is not a submission file (no column of the sample submission); its rows are not checked or shown",
    ]
