"""Task kinds: head, loss, label tables, strata, averaging and thresholds per kind."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kaggle_kit.errors import ConfigError, DataError
from kaggle_kit.metrics import get_metric, list_metrics
from kaggle_kit.tasks import Task, binary_task

BINARY = binary_task(("elliptical", "spiral"))
MULTICLASS = Task("multiclass", ("beagle", "boxer", "pug"))
MULTILABEL = Task("multilabel", ("healthy", "multiple_diseases", "rust", "scab"))
REGRESSION = Task("regression", ("Class1.1", "Class1.2", "Class1.3"), bounded=True)
ORDINAL = Task("regression", ("diagnosis",), levels=5)
ALL = [BINARY, MULTICLASS, MULTILABEL, REGRESSION, ORDINAL]
IDS = ["binary", "multiclass", "multilabel", "regression", "ordinal"]


@pytest.mark.parametrize(
    "task, outputs, activation, metric",
    [
        (BINARY, 1, "sigmoid", "auc"),
        (MULTICLASS, 3, "softmax", "log_loss"),
        (MULTILABEL, 4, "sigmoid", "mean_column_auc"),
        (REGRESSION, 3, "sigmoid", "rmse"),
        (ORDINAL, 1, "linear", "qwk"),
        (Task("regression", ("price",)), 1, "linear", "rmse"),
    ],
)
def test_each_kind_has_its_head_and_default_metric(task, outputs, activation, metric):
    assert (task.outputs, task.activation, task.default_metric) == (outputs, activation, metric)


@pytest.mark.parametrize("task", ALL, ids=IDS)
def test_each_kinds_loss_is_finite_on_its_targets(task):
    rng = np.random.default_rng(0)
    labels = example_labels(task, 8, rng)
    logits = rng.normal(size=(8, task.outputs)).astype("float32")
    targets = task.targets(labels).reshape(8, task.outputs)
    loss = float(task.loss()(targets, logits))
    assert np.isfinite(loss) and loss > 0


def test_the_bounded_regression_loss_is_lowest_where_the_sigmoid_equals_the_fraction():
    fractions = np.array([[0.2, 0.7, 0.1]], dtype="float32")
    exact = np.log(fractions / (1 - fractions))
    loss = REGRESSION.loss()
    assert float(loss(fractions, exact)) < float(loss(fractions, exact + 0.3))
    assert float(loss(fractions, exact)) < float(loss(fractions, exact - 0.3))


@pytest.mark.parametrize("task", ALL, ids=IDS)
def test_probabilities_come_from_logits_in_the_shape_metrics_take(task):
    logits = np.array([[0.0] * task.outputs, [2.0] + [-1.0] * (task.outputs - 1)])
    values = task.probabilities(logits)
    if task.kind == "binary" or task.is_ordinal:
        assert values.shape == (2,)
    else:
        assert values.shape == (2, task.outputs)
    if task.kind == "multiclass":
        assert np.allclose(values.sum(axis=1), 1.0) and values[1].argmax() == 0
    if task.activation == "sigmoid":
        assert np.all((values > 0) & (values < 1)) and np.allclose(values[0], 0.5)
    if task.activation == "linear":
        assert np.array_equal(values, logits.reshape(values.shape))


def test_averaging_is_over_probabilities_not_logits():
    views = [MULTICLASS.probabilities([[4.0, 0.0, 0.0]]), MULTICLASS.probabilities([[0.0, 0.0, 0.0]])]
    averaged = Task.average(views)
    assert np.allclose(averaged, (views[0] + views[1]) / 2)
    assert not np.allclose(averaged, MULTICLASS.probabilities([[2.0, 0.0, 0.0]]))  # the mean logit differs


def test_label_tables_become_the_labels_metrics_take():
    table = pd.DataFrame({"id": ["a", "b", "c"], "label": [2, 0, 1]})
    assert list(MULTICLASS.labels(table)) == [2, 0, 1]
    assert MULTICLASS.targets(MULTICLASS.labels(table)).tolist() == [[0, 0, 1], [1, 0, 0], [0, 1, 0]]
    wide = pd.DataFrame({"image_id": ["x", "y"], "healthy": [1, 0], "multiple_diseases": [0, 0], "rust": [0, 1],
                         "scab": [0, 1]})
    assert MULTILABEL.labels(wide).tolist() == [[1, 0, 0, 0], [0, 0, 1, 1]]
    grades = pd.DataFrame({"id_code": ["p", "q"], "diagnosis": [4, 0]})
    assert ORDINAL.labels(grades).tolist() == [4, 0]


@pytest.mark.parametrize(
    "task, table, message",
    [
        (MULTICLASS, {"label": [0, 3]}, r"labels must be whole numbers 0..2 for this multiclass task; found 3 in 1 row"),
        (BINARY, {"label": [0, 0.5]}, r"labels must be whole numbers 0..1 for this binary task; found 0.5"),
        (MULTILABEL, {"healthy": [1], "multiple_diseases": [0], "rust": [2], "scab": [0]},
         r"multi-label columns healthy, multiple_diseases, rust, scab must hold only 0 and 1"),
        (REGRESSION, {"Class1.1": [1.2], "Class1.2": [0.0], "Class1.3": [0.0]},
         r"bounded targets Class1.1, Class1.2, Class1.3 must lie in \[0, 1\]"),
        (REGRESSION, {"Class1.1": [0.2], "Class1.2": [None], "Class1.3": [0.0]}, r"empty or non-numeric values"),
        (MULTILABEL, {"healthy": [1]}, r"the label table lacks column\(s\) multiple_diseases, rust, scab"),
    ],
)
def test_bad_label_tables_are_one_clear_error(task, table, message):
    with pytest.raises(DataError, match=message):
        task.labels(pd.DataFrame(table))


def test_strata_are_classes_grades_the_most_frequent_label_or_target_bins():
    assert MULTICLASS.strata(np.array([2, 0, 1])).tolist() == [2, 0, 1]
    assert ORDINAL.strata(np.array([4, 0, 2])).tolist() == [4, 0, 2]
    labels = np.array([[0, 0, 1, 1], [0, 0, 0, 1], [0, 1, 1, 0], [0, 0, 0, 0], [1, 0, 0, 0]])
    # Column totals 1, 1, 2, 2: a row goes to its most frequent positive label (the first on ties), none → 4.
    assert MULTILABEL.strata(labels).tolist() == [2, 3, 2, 4, 0]
    values = np.linspace(0, 1, 50)[:, None].repeat(3, axis=1)
    strata = REGRESSION.strata(values)
    assert sorted(set(strata.tolist())) == [0, 1, 2, 3, 4] and np.all(np.diff(strata) >= 0)
    assert np.bincount(strata).tolist() == [10] * 5


def test_class_counts_and_prevalence_per_kind():
    assert MULTICLASS.class_counts(np.array([0, 2, 2])) == {"beagle": 1, "boxer": 0, "pug": 2}
    assert MULTILABEL.class_counts(np.array([[1, 0, 1, 0], [0, 0, 1, 1]])) == {
        "healthy": 1, "multiple_diseases": 0, "rust": 2, "scab": 1}
    assert ORDINAL.class_counts(np.array([0, 0, 4])) == {"0": 2, "1": 0, "2": 0, "3": 0, "4": 1}
    assert REGRESSION.class_counts(np.zeros((2, 3))) == {}
    assert MULTICLASS.prevalence(np.array([0, 2, 2, 2])).tolist() == [0.25, 0.0, 0.75]
    assert float(BINARY.prevalence(np.array([0, 1, 1, 1]))) == 0.75
    assert MULTILABEL.prevalence(np.array([[1, 0, 1, 0], [0, 0, 1, 1]])).tolist() == [0.5, 0.0, 1.0, 0.5]


def test_decisions_use_the_thresholds_or_argmax():
    assert BINARY.decide(np.array([0.3, 0.6])).tolist() == [0, 1]
    assert BINARY.decide(np.array([0.3, 0.6]), [0.25]).tolist() == [1, 1]
    assert MULTICLASS.decide(np.array([[0.2, 0.5, 0.3]])).tolist() == [1]
    assert MULTILABEL.decide(np.array([[0.6, 0.2, 0.5, 0.1]]), [0.7, 0.1, 0.5, 0.5]).tolist() == [[0, 1, 1, 0]]
    assert ORDINAL.decide(np.array([0.4, 1.6, 7.0])).tolist() == [0, 2, 4]
    assert ORDINAL.decide(np.array([0.4, 1.6]), [0.3, 1.0, 2.0, 3.0]).tolist() == [1, 2]
    assert np.array_equal(REGRESSION.decide(np.full((1, 3), 0.3)), np.full((1, 3), 0.3))


def test_fitted_thresholds_per_kind():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, (200, 4))
    probs = np.clip(labels * 0.2 + rng.random((200, 4)) * 0.8, 0, 1)
    assert len(MULTILABEL.fit_thresholds(labels, probs)) == 4
    assert len(BINARY.fit_thresholds(labels[:, 0], probs[:, 0])) == 1
    grades = rng.integers(0, 5, 200)
    cuts = ORDINAL.fit_thresholds(grades, 1.5 + 0.5 * (grades - 2) + rng.normal(0, 0.3, 200))
    assert len(cuts) == 4 and cuts == sorted(cuts)
    assert MULTICLASS.fit_thresholds(np.array([0, 1]), np.eye(3)[[0, 1]]) == []
    assert REGRESSION.fit_thresholds(np.zeros((2, 3)), np.zeros((2, 3))) == []


@pytest.mark.parametrize("task", ALL, ids=IDS)
def test_every_metric_of_a_kind_scores_that_kinds_predictions(task):
    rng = np.random.default_rng(2)
    labels = example_labels(task, 40, rng)
    predictions = task.probabilities(rng.normal(size=(40, task.outputs)) + 2 * task.targets(labels).reshape(40, -1))
    names = [name for name in list_metrics(task.kind) if name != "qwk" or task.is_ordinal]
    assert task.default_metric in names
    for name in names:
        task.check_metric(name)
        value = get_metric(name)(labels, task.metric_input(name, predictions, task.fit_thresholds(labels, predictions)))
        assert np.isfinite(value), name


def test_a_metric_that_does_not_fit_the_task_is_refused_with_the_ones_that_do():
    with pytest.raises(ConfigError, match=r"metric rmse does not apply to a multiclass \(3 classes\) task; choose one of: "
                                          r"accuracy, balanced_accuracy, log_loss, macro_f1, micro_f1, qwk"):
        MULTICLASS.check_metric("rmse")
    with pytest.raises(ConfigError, match=r"metric qwk does not apply to a regression \(3 targets in \[0, 1\]\) task; "
                                          r"choose one of: rmse$"):
        REGRESSION.check_metric("qwk")
    ORDINAL.check_metric("qwk")


@pytest.mark.parametrize(
    "arguments, message",
    [
        (("ternary", ("a", "b")), r"task kind must be one of binary, multiclass, multilabel, regression \(got 'ternary'\)"),
        (("binary", ("a", "b", "c")), r"a binary task needs exactly 2 class names"),
        (("multiclass", ("a",)), r"a multiclass task needs at least 2 name\(s\)"),
        (("multiclass", ("a", "a")), r"names must be distinct"),
        (("multilabel", ("a",), True), r"bounded and levels apply to regression tasks only"),
        (("regression", ("a", "b"), False, 5), r"an ordinal regression \(levels\) has one unbounded target"),
    ],
)
def test_impossible_tasks_are_config_errors(arguments, message):
    with pytest.raises(ConfigError, match=message):
        Task(*arguments)


@pytest.mark.parametrize("task", ALL, ids=IDS)
def test_a_task_round_trips_through_its_dict(task):
    assert Task.from_dict(task.to_dict()) == task


def test_descriptions_name_the_kind_and_its_size():
    assert [task.describe() for task in ALL] == [
        "binary", "multiclass (3 classes)", "multilabel (4 labels)", "regression (3 targets in [0, 1])",
        "ordinal regression (5 grades)",
    ]


def example_labels(task: Task, n: int, rng: np.random.Generator) -> np.ndarray:
    if task.kind == "binary":
        return np.arange(n) % 2
    if task.kind == "multiclass":
        return np.arange(n) % len(task.names)
    if task.kind == "multilabel":
        return (rng.random((n, len(task.names))) < 0.5).astype(int) | np.eye(len(task.names), dtype=int)[np.arange(n) % len(task.names)]
    if task.is_ordinal:
        return np.arange(n) % task.levels
    return rng.random((n, len(task.names)))
