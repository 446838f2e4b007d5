"""Submission formats per task kind: which layout a sample header means, the values written, every bad
cell named by kit validate's checks, and the values read back for local scoring."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kaggle_kit.errors import ConfigError
from kaggle_kit.submission_format import SubmissionFormat
from kaggle_kit.tasks import Task, binary_task
from kaggle_kit.validate import validate_submission

BREEDS = Task("multiclass", ("beagle", "boxer", "pug"))
LEAVES = Task("multilabel", ("healthy", "rust", "scab"))
GRADES = Task("regression", ("diagnosis",), levels=5)
VOTES = Task("regression", ("Class1.1", "Class1.2"), bounded=True)


@pytest.mark.parametrize(
    "task, metric, header, sample_values, layout",
    [
        (binary_task(), "auc", ["id", "label"], [], "probability"),
        (binary_task(), "accuracy", ["id", "label"], [], "label"),
        (BREEDS, "log_loss", ["id", "pug", "beagle", "boxer"], [], "wide"),
        (BREEDS, "accuracy", ["id", "breed"], ["beagle"], "class"),
        (BREEDS, "accuracy", ["id", "pug", "beagle", "boxer"], [], "wide"),
        (LEAVES, "mean_column_auc", ["image_id", "healthy", "rust", "scab"], [], "columns"),
        (GRADES, "qwk", ["id_code", "diagnosis"], ["0"], "grade"),
        (GRADES, "rmse", ["id_code", "diagnosis"], ["0"], "values"),
        (VOTES, "rmse", ["GalaxyID", "Class1.2", "Class1.1"], [], "values"),
    ],
)
def test_the_layout_follows_the_task_the_metric_and_the_header(task, metric, header, sample_values, layout):
    assert SubmissionFormat.for_task(task, metric, header, sample_values).layout == layout


def test_a_header_that_does_not_fit_the_task_is_refused():
    with pytest.raises(ConfigError, match=r"sample submission has the value column\(s\) id_code,label, which do not fit "
                                          r"a multiclass \(3 classes\) task scored by log_loss; expected one column per "
                                          r"class, named as the classes"):
        SubmissionFormat.for_task(BREEDS, "log_loss", ["x", "id_code", "label"])


def test_values_fill_the_sample_columns_in_the_samples_order():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    wide = SubmissionFormat.for_task(BREEDS, "log_loss", ["id", "pug", "beagle", "boxer"])
    assert {k: v.tolist() for k, v in wide.values(probs).items()} == {
        "pug": [0.1, 0.8], "beagle": [0.7, 0.1], "boxer": [0.2, 0.1]}
    names = SubmissionFormat.for_task(BREEDS, "accuracy", ["id", "breed"], ["beagle"])
    assert names.values(probs)["breed"].tolist() == ["beagle", "pug"]
    indices = SubmissionFormat.for_task(BREEDS, "accuracy", ["id", "breed"], ["0"])
    assert indices.values(probs)["breed"].tolist() == [0, 2]
    grades = SubmissionFormat.for_task(GRADES, "qwk", ["id_code", "diagnosis"], ["0"])
    assert grades.values(np.array([0.4, 2.6, 9.0]), [0.5, 1.5, 2.5, 3.5])["diagnosis"].tolist() == [0, 3, 4]
    labels = SubmissionFormat.for_task(LEAVES, "macro_f1", ["image_id", "healthy", "rust", "scab"])
    assert labels.values(np.array([[0.6, 0.4, 0.2]]), [0.5, 0.3, 0.5])["rust"].tolist() == [1]


def validate(fmt: SubmissionFormat, rows: list[list[str]]) -> list[str]:
    header = ["id", *fmt.columns]
    sample = pd.DataFrame([[f"i{k}", *(["0"] * len(fmt.columns))] for k in range(len(rows))], columns=header)
    frame = pd.DataFrame([[f"i{k}", *row] for k, row in enumerate(rows)], columns=header)
    return [str(problem) for problem in validate_submission(frame, sample, fmt)]


def test_every_layout_names_its_bad_cells():
    wide = SubmissionFormat.for_task(BREEDS, "log_loss", ["id", "beagle", "boxer", "pug"])
    assert validate(wide, [["0.2", "1.3", "0.1"]]) == [
        "line 2: value 1.3 in column boxer is outside [0, 1] (probabilities for log_loss)"]
    names = SubmissionFormat.for_task(BREEDS, "accuracy", ["id", "breed"], ["beagle"])
    assert validate(names, [["poodle"], ["pug"]]) == [
        "line 2: value poodle in column breed is not one of the 3 class names (e.g. beagle)"]
    indices = SubmissionFormat.for_task(BREEDS, "accuracy", ["id", "breed"], ["0"])
    assert validate(indices, [["3"], ["1.5"]]) == [
        "line 2: value 3 in column breed is not a class index from 0 to 2",
        "line 3: value 1.5 in column breed is not a class index from 0 to 2"]
    grades = SubmissionFormat.for_task(GRADES, "qwk", ["id", "diagnosis"], ["0"])
    assert validate(grades, [["5"], ["2.5"], ["4"]]) == [
        "line 2: value 5 in column diagnosis is not a whole grade from 0 to 4",
        "line 3: value 2.5 in column diagnosis is not a whole grade from 0 to 4"]
    votes = SubmissionFormat.for_task(VOTES, "rmse", ["id", "Class1.1", "Class1.2"])
    assert validate(votes, [["1.2", "nan"]]) == [
        "line 2: value 1.2 in column Class1.1 is outside [0, 1] (these targets are fractions)",
        "line 2: NaN in column Class1.2"]
    columns = SubmissionFormat.for_task(LEAVES, "macro_f1", ["id", "healthy", "rust", "scab"])
    assert validate(columns, [["1", "0.5", "0"]]) == [
        "line 2: value 0.5 in column rust is not 0 or 1 (class labels for macro_f1)"]


def test_a_submission_is_read_back_in_the_tasks_order():
    wide = SubmissionFormat.for_task(BREEDS, "log_loss", ["id", "pug", "beagle", "boxer"])
    frame = pd.DataFrame({"id": ["a"], "pug": ["0.5"], "beagle": ["0.3"], "boxer": ["0.2"]})
    assert wide.read(frame).tolist() == [[0.3, 0.2, 0.5]]
    names = SubmissionFormat.for_task(BREEDS, "accuracy", ["id", "breed"], ["beagle"])
    assert names.read(pd.DataFrame({"id": ["a", "b"], "breed": ["pug", "beagle"]})).tolist() == [2, 0]
    grades = SubmissionFormat.for_task(GRADES, "qwk", ["id", "diagnosis"], ["0"])
    assert grades.read(pd.DataFrame({"id": ["a"], "diagnosis": ["3"]})).tolist() == [3]
