"""The metric registry: every registered metric against known values and against scikit-learn."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from kaggle_kit.errors import DataError, UnknownNameError
from kaggle_kit.metrics import get_metric, list_metrics, register_metric, score
from kaggle_kit.metrics import _registry
from kaggle_kit.metrics.thresholds import (
    apply_ordinal_thresholds,
    binary_threshold,
    fit_ordinal_thresholds,
    quadratic_kappa,
    rounding_thresholds,
)

# Worked examples with their values computed by hand (or quoted from scikit-learn's documentation).
KNOWN = {
    # The ROC example of scikit-learn's user guide.
    "auc": ([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], 0.75),
    # Column 1: the example above (0.75); column 2 separates perfectly (1.0).
    "mean_column_auc": ([[0, 1], [0, 0], [1, 1], [1, 0]], [[0.1, 0.9], [0.4, 0.1], [0.35, 0.8], [0.8, 0.3]], 0.875),
    "accuracy": ([0, 1, 2, 3], [0, 2, 1, 3], 0.5),
    # Recall 3/4 on class 0 and 1/2 on class 1: (0.75 + 0.5) / 2.
    "balanced_accuracy": ([0, 1, 0, 0, 1, 0], [0, 1, 0, 0, 0, 1], 0.625),
    # scikit-learn's log_loss example (ham = 0, spam = 1).
    "log_loss": ([1, 0, 0, 1], [[0.1, 0.9], [0.9, 0.1], [0.8, 0.2], [0.35, 0.65]], 0.21616187468057912),
    # scikit-learn's f1_score example: per-class F1 0.8, 0, 0.
    "macro_f1": ([0, 1, 2, 0, 1, 2], [0, 2, 1, 0, 0, 1], 0.26666666666666666),
    "micro_f1": ([0, 1, 2, 0, 1, 2], [0, 2, 1, 0, 0, 1], 1 / 3),
    # Observed [[1, 1], [0, 2]], expected [[0.5, 1.5], [0.5, 1.5]]: 1 - 1 / (1.5 + 0.5).
    "qwk": ([0, 0, 1, 1], [0, 1, 1, 1], 0.5),
    # Over every cell: sqrt(2 / 4); a mean of per-column RMSEs would give 0.5.
    "rmse": ([[0, 0], [0, 0]], [[1, 0], [1, 0]], math.sqrt(0.5)),
}


def sklearn_reference(name: str, y_true, y_pred) -> float:
    """The same score computed directly with scikit-learn, as Kaggle defines the metric."""
    from sklearn import metrics

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if name == "auc":
        return metrics.roc_auc_score(y_true, y_pred)
    if name == "mean_column_auc":
        return np.mean([metrics.roc_auc_score(y_true[:, k], y_pred[:, k]) for k in range(y_true.shape[1])])
    if name == "accuracy":
        return metrics.accuracy_score(y_true, y_pred)
    if name == "balanced_accuracy":
        return metrics.balanced_accuracy_score(y_true, y_pred)
    if name == "log_loss":
        clipped = np.clip(y_pred, 1e-15, 1 - 1e-15)
        return metrics.log_loss(y_true, clipped / clipped.sum(axis=1, keepdims=True), labels=range(y_pred.shape[1]))
    if name in ("micro_f1", "macro_f1"):
        return metrics.f1_score(y_true, y_pred, average=name.split("_")[0], zero_division=0)
    if name == "qwk":
        return metrics.cohen_kappa_score(y_true, y_pred, weights="quadratic")
    if name == "rmse":
        return math.sqrt(np.mean((y_true - y_pred) ** 2))
    raise AssertionError(f"no reference for {name}: add one")


def random_case(name: str, seed: int):
    """Realistic predictions of the metric's kind: labels and noisy but informative scores."""
    rng = np.random.default_rng(seed)
    n, k = 60, 4
    metric = get_metric(name)
    if name in ("auc",):
        y = rng.integers(0, 2, n)
        return y, np.clip(y * 0.3 + rng.random(n) * 0.7, 0, 1)
    if name == "mean_column_auc":
        y = rng.integers(0, 2, (n, k))
        return y, np.clip(y * 0.3 + rng.random((n, k)) * 0.7, 0, 1)
    if name == "log_loss":
        y = rng.integers(0, k, n)
        logits = rng.normal(size=(n, k)) + 2 * np.eye(k)[y]
        probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        return y, probs
    if name == "rmse":
        y = rng.random((n, k))
        return y, np.clip(y + rng.normal(0, 0.1, (n, k)), 0, 1)
    if metric.needs == "labels":
        y = rng.integers(0, 5, n)
        noisy = np.where(rng.random(n) < 0.6, y, rng.integers(0, 5, n))
        return y, noisy
    raise AssertionError(f"no random case for {name}: add one")


def test_every_registered_metric_has_a_known_value():
    assert set(list_metrics()) == set(KNOWN)


@pytest.mark.parametrize("name", list_metrics())
def test_each_metric_gives_its_known_value(name):
    y_true, y_pred, expected = KNOWN[name]
    assert get_metric(name)(y_true, y_pred) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", list_metrics())
def test_each_metric_matches_scikit_learn(name, seed):
    y_true, y_pred = random_case(name, seed)
    assert score(name, y_true, y_pred) == pytest.approx(sklearn_reference(name, y_true, y_pred), abs=1e-12)


@pytest.mark.parametrize("name", list_metrics())
def test_each_metric_rewards_better_predictions_in_its_own_direction(name):
    metric = get_metric(name)
    y_true, y_pred, _ = KNOWN[name]
    exact = np.eye(2)[np.asarray(y_true)] if name == "log_loss" else np.asarray(y_true)  # the truth itself
    perfect, known = metric(y_true, exact), metric(y_true, y_pred)
    assert metric.is_better(perfect, known)
    assert not metric.is_better(known, perfect)
    assert metric.direction == ("higher" if metric.greater_is_better else "lower")


def test_log_loss_uses_kaggles_clipping_and_rescales_rows():
    metric = get_metric("log_loss")
    # A certain, wrong prediction costs -log(1e-15), not infinity.
    assert metric([0], [[0.0, 1.0]]) == pytest.approx(-math.log(1e-15), rel=1e-9)
    # Rows that do not sum to 1 are rescaled first: (0.2, 0.2) is (0.5, 0.5).
    assert metric([0], [[0.2, 0.2]]) == pytest.approx(math.log(2))
    # Binary probabilities may be given as the positive class alone.
    assert metric([1, 0, 0, 1], [0.9, 0.1, 0.2, 0.65]) == pytest.approx(KNOWN["log_loss"][2])
    # A one-hot table of true classes, as a wide solution file holds it.
    assert metric([[0, 1], [1, 0], [1, 0], [0, 1]], KNOWN["log_loss"][1]) == pytest.approx(KNOWN["log_loss"][2])


def test_log_loss_counts_every_class_of_the_predictions_even_if_absent_from_the_labels():
    probs = np.full((2, 120), 1 / 120)
    assert get_metric("log_loss")([3, 7], probs) == pytest.approx(math.log(120))


def test_undefined_scores_are_nan_not_errors():
    assert math.isnan(score("auc", [1, 1, 1], [0.2, 0.5, 0.9]))
    assert math.isnan(score("mean_column_auc", [[1, 0], [1, 0]], [[0.1, 0.2], [0.3, 0.4]]))
    assert math.isnan(score("qwk", [2, 2], [2, 2]))
    assert math.isnan(score("accuracy", [], []))


def test_a_column_with_one_class_is_left_out_of_the_mean_column_auc():
    y_true = [[0, 1], [1, 1], [0, 1], [1, 1]]
    y_prob = [[0.1, 0.5], [0.9, 0.5], [0.2, 0.5], [0.8, 0.5]]
    assert score("mean_column_auc", y_true, y_prob) == 1.0


def test_mismatched_lengths_and_shapes_name_the_metric():
    with pytest.raises(DataError, match=r"^auc: 3 true values but 2 predictions"):
        score("auc", [0, 1, 1], [0.1, 0.2])
    with pytest.raises(DataError, match=r"^rmse: true values have shape \(2, 2\), predictions \(2, 3\)"):
        score("rmse", np.zeros((2, 2)), np.zeros((2, 3)))


def test_label_metrics_refuse_probabilities():
    with pytest.raises(DataError, match="qwk: predicted grades must be whole-number grades"):
        score("qwk", [0, 1, 2], [0.2, 1.4, 2.0])
    with pytest.raises(DataError, match="class labels must be whole numbers"):
        score("accuracy", [0, 1], [0.3, 0.9])


def test_an_unknown_metric_lists_the_registered_ones():
    with pytest.raises(UnknownNameError, match=r"unknown metric 'f2'; choose one of: accuracy, auc, balanced_accuracy"):
        get_metric("f2")


def test_metrics_are_listed_per_task_kind():
    assert list_metrics("regression") == ["qwk", "rmse"]
    assert list_metrics("multilabel") == ["accuracy", "macro_f1", "mean_column_auc", "micro_f1"]
    assert "log_loss" in list_metrics("multiclass") and "rmse" not in list_metrics("multiclass")


def test_a_registered_metric_is_found_and_a_second_registration_warns(monkeypatch):
    monkeypatch.setattr(_registry, "_METRICS", dict(_registry._METRICS))

    @register_metric("max_error", title="max error", greater_is_better=False, needs="values", kinds=("regression",))
    def max_error(y_true, y_pred):
        """The largest absolute error."""
        return float(np.max(np.abs(y_true - y_pred)))

    assert score("max_error", [1.0, 2.0], [1.5, 4.0]) == 2.0
    assert get_metric("max_error").description == "The largest absolute error."
    with pytest.warns(UserWarning, match="metric 'max_error' registered twice"):
        register_metric("max_error", title="x", greater_is_better=False, needs="values", kinds=("regression",))(max_error)


def test_is_better_ignores_missing_and_non_finite_scores():
    auc, loss = get_metric("auc"), get_metric("log_loss")
    assert auc.is_better(0.6, None) and auc.is_better(0.6, math.nan) and not auc.is_better(math.nan, 0.5)
    assert loss.is_better(0.3, 0.4) and not loss.is_better(0.5, 0.4)
    assert auc.worst == -math.inf and loss.worst == math.inf


# --- thresholds -------------------------------------------------------------------------------


def test_the_binary_accuracy_threshold_is_the_one_training_always_used():
    from kaggle_kit.training.scoring import best_threshold

    rng = np.random.default_rng(5)
    labels = rng.integers(0, 2, 200)
    probs = np.round(np.clip(labels * 0.25 + rng.random(200) * 0.75, 0, 1), 2)  # ties included
    assert binary_threshold(labels, probs, "accuracy") == best_threshold(labels, probs)


def test_the_f1_threshold_maximises_f1():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(6)
    labels = (rng.random(300) < 0.2).astype(int)
    probs = np.clip(labels * 0.3 + rng.random(300) * 0.7, 0, 1)
    threshold, value = binary_threshold(labels, probs, "f1")
    assert value == pytest.approx(f1_score(labels, probs >= threshold))
    for other in np.linspace(0.05, 0.95, 19):
        assert f1_score(labels, probs >= other, zero_division=0) <= value + 1e-12


def test_fitted_grade_cuts_beat_rounding_on_squeezed_predictions_and_are_deterministic():
    rng = np.random.default_rng(3)
    grades = rng.integers(0, 5, 400)
    values = 2.0 + 0.45 * (grades - 2.0) + rng.normal(0, 0.3, 400)  # a model that shrinks toward the mean
    cuts = fit_ordinal_thresholds(grades, values, levels=5)
    assert np.all(np.diff(cuts) > 0) and len(cuts) == 4
    fitted = score("qwk", grades, apply_ordinal_thresholds(values, cuts))
    rounded = score("qwk", grades, apply_ordinal_thresholds(values, rounding_thresholds(5)))
    assert fitted > rounded + 0.02
    assert np.array_equal(cuts, fit_ordinal_thresholds(grades, values, levels=5))


def test_grade_cuts_fall_back_to_rounding_when_kappa_is_undefined():
    assert list(fit_ordinal_thresholds([2, 2, 2], [2.1, 1.9, 2.4], levels=5)) == [0.5, 1.5, 2.5, 3.5]


def test_apply_ordinal_thresholds_counts_the_cuts_at_or_below_each_value():
    assert list(apply_ordinal_thresholds([-1.0, 0.5, 0.7, 3.6, 9.0], rounding_thresholds(5))) == [0, 1, 1, 4, 4]


def test_the_fast_kappa_of_the_fit_is_scikit_learns():
    from sklearn.metrics import cohen_kappa_score

    rng = np.random.default_rng(8)
    y, p = rng.integers(0, 5, 100), rng.integers(0, 5, 100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert quadratic_kappa(y, p, 5) == pytest.approx(cohen_kappa_score(y, p, weights="quadratic"))
