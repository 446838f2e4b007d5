"""The built-in metrics, each computed by scikit-learn as Kaggle defines it.

Shapes: ``binary`` labels are ``(n,)`` 0/1 and their probabilities ``(n,)`` (the
positive class); ``multiclass`` labels are ``(n,)`` class indices (a one-hot
``(n, K)`` table is accepted too) and their probabilities ``(n, K)``;
``multilabel`` labels and probabilities are ``(n, K)``; ``regression`` values are
``(n,)`` or ``(n, K)``.

Where Kaggle's definition differs from scikit-learn's default, it is Kaggle's:
log loss clips probabilities to [1e-15, 1 − 1e-15] and rescales each row to sum
to 1 (https://www.kaggle.com/wiki/MultiClassLogLoss); RMSE of several columns is
the root of the mean over every cell, as the Galaxy Zoo challenge scores it
(sqrt(1/(37N) ΣΣ (t−p)²)), not a mean of per-column RMSEs; mean column-wise ROC
AUC is the mean of each column's AUC (plant-pathology-2020-fgvc7; openai/mle-bench
``mlebench/competitions/plant-pathology-2020-fgvc7/grade.py``).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from kaggle_kit.errors import DataError
from kaggle_kit.metrics._registry import register_metric

KAGGLE_LOG_LOSS_EPSILON = 1e-15


@register_metric("auc", title="ROC AUC", greater_is_better=True, needs="probabilities", kinds=("binary",))
def roc_auc(y_true: np.ndarray, y_prob: np.ndarray) -> float:
    """Area under the ROC curve of the positive-class probability."""
    from sklearn.metrics import roc_auc_score

    y_true, y_prob = _column(y_true), _column(y_prob)
    if len(np.unique(y_true)) < 2:
        return math.nan  # undefined on one class
    return float(roc_auc_score(y_true, y_prob))


@register_metric(
    "mean_column_auc", title="mean column-wise ROC AUC", greater_is_better=True, needs="probabilities",
    kinds=("multilabel",),
)
def mean_column_auc(y_true: np.ndarray, y_prob: np.ndarray) -> float:
    """The mean of every label column's ROC AUC (a column holding one class is left out: undefined)."""
    from sklearn.metrics import roc_auc_score

    y_true, y_prob = _table(y_true), _table(y_prob)
    _same_columns(y_true, y_prob, "mean_column_auc")
    aucs = [
        roc_auc_score(y_true[:, k], y_prob[:, k])
        for k in range(y_true.shape[1])
        if len(np.unique(y_true[:, k])) == 2
    ]
    return float(np.mean(aucs)) if aucs else math.nan


@register_metric(
    "accuracy", title="accuracy", greater_is_better=True, needs="labels",
    kinds=("binary", "multiclass", "multilabel"),
)
def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """The fraction of rows predicted exactly right (every label of a row, for multi-label)."""
    from sklearn.metrics import accuracy_score

    y_true, y_pred = _labels(y_true), _labels(y_pred)
    return float(accuracy_score(y_true, y_pred))


@register_metric(
    "balanced_accuracy", title="balanced accuracy", greater_is_better=True, needs="labels",
    kinds=("binary", "multiclass"),
)
def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """The mean of the recall of each class present in the labels."""
    from sklearn.metrics import balanced_accuracy_score

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "y_pred contains classes not in y_true": expected on small sets
        return float(balanced_accuracy_score(_column(_labels(y_true)), _column(_labels(y_pred))))


@register_metric(
    "log_loss", title="log loss", greater_is_better=False, needs="probabilities",
    kinds=("binary", "multiclass"),
)
def kaggle_log_loss(y_true: np.ndarray, y_prob: np.ndarray) -> float:
    """Log loss with Kaggle's clipping to [1e-15, 1 - 1e-15] and rows rescaled to sum to 1."""
    from sklearn.metrics import log_loss

    y_prob = np.asarray(y_prob, dtype=np.float64)
    if y_prob.ndim == 1 or (y_prob.ndim == 2 and y_prob.shape[1] == 1):
        positive = _column(y_prob)
        y_prob = np.column_stack([1.0 - positive, positive])
    y_true = np.asarray(y_true)
    if y_true.ndim == 2 and y_true.shape[1] > 1:
        y_true = y_true.argmax(axis=1)  # a one-hot table, as a wide solution file holds it
    y_true = _column(_labels(y_true))
    classes = y_prob.shape[1]
    if y_true.min() < 0 or y_true.max() >= classes:
        raise DataError(f"log_loss: class indices must be 0..{classes - 1}, found {y_true.min()}..{y_true.max()}")
    clipped = np.clip(y_prob, KAGGLE_LOG_LOSS_EPSILON, 1 - KAGGLE_LOG_LOSS_EPSILON)
    clipped /= clipped.sum(axis=1, keepdims=True)
    return float(log_loss(y_true, clipped, labels=np.arange(classes)))


@register_metric(
    "micro_f1", title="micro F1", greater_is_better=True, needs="labels", kinds=("binary", "multiclass", "multilabel")
)
def micro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """F1 over every (row, class) decision pooled together."""
    return _f1(y_true, y_pred, "micro")


@register_metric(
    "macro_f1", title="macro F1", greater_is_better=True, needs="labels", kinds=("binary", "multiclass", "multilabel")
)
def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """The unweighted mean of each class's F1."""
    return _f1(y_true, y_pred, "macro")


@register_metric(
    "qwk", title="quadratic weighted kappa", greater_is_better=True, needs="labels",
    kinds=("multiclass", "regression"),
)
def quadratic_weighted_kappa(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Cohen's kappa with quadratic weights between ordinal grades (aptos2019-blindness-detection)."""
    from sklearn.metrics import cohen_kappa_score

    y_true, y_pred = _column(_grades(y_true, "true grades")), _column(_grades(y_pred, "predicted grades"))
    if len(np.union1d(y_true, y_pred)) < 2:
        return math.nan  # one grade everywhere: kappa divides by zero
    return float(cohen_kappa_score(y_true, y_pred, weights="quadratic"))


@register_metric("rmse", title="RMSE", greater_is_better=False, needs="values", kinds=("regression",))
def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Root mean squared error over every cell (the Galaxy Zoo challenge's definition)."""
    from sklearn.metrics import mean_squared_error

    y_true, y_pred = _table(y_true), _table(y_pred)
    _same_columns(y_true, y_pred, "rmse")
    # The mean of equal-length columns' MSEs is the MSE over every cell.
    return float(math.sqrt(mean_squared_error(y_true, y_pred, multioutput="uniform_average")))


# --- shapes ---------------------------------------------------------------------------------


def _f1(y_true: np.ndarray, y_pred: np.ndarray, average: str) -> float:
    from sklearn.metrics import f1_score

    y_true, y_pred = _labels(y_true), _labels(y_pred)
    if y_true.ndim == 1:
        labels = np.union1d(y_true, y_pred)
        return float(f1_score(y_true, y_pred, average=average, labels=labels, zero_division=0))
    return float(f1_score(y_true, y_pred, average=average, zero_division=0))


def _column(values: np.ndarray) -> np.ndarray:
    """``(n,)`` from ``(n,)`` or ``(n, 1)``."""
    values = np.asarray(values)
    if values.ndim == 2 and values.shape[1] == 1:
        return values[:, 0]
    if values.ndim != 1:
        raise DataError(f"expected one column of values, got an array of shape {values.shape}")
    return values


def _table(values: np.ndarray) -> np.ndarray:
    """``(n, K)`` float64 from ``(n,)`` or ``(n, K)``."""
    values = np.asarray(values, dtype=np.float64)
    return values[:, None] if values.ndim == 1 else values


def _same_columns(y_true: np.ndarray, y_pred: np.ndarray, name: str) -> None:
    if y_true.shape != y_pred.shape:
        raise DataError(f"{name}: true values have shape {y_true.shape}, predictions {y_pred.shape}; "
                        "predict one value per labelled column")


def _labels(values: np.ndarray) -> np.ndarray:
    """Whole-number class labels as int64 (floats such as 1.0 accepted)."""
    values = np.asarray(values)
    if values.dtype.kind in "iub":
        return values.astype(np.int64)
    as_float = values.astype(np.float64)
    if not np.all(np.isfinite(as_float)) or not np.all(as_float == np.round(as_float)):
        raise DataError("class labels must be whole numbers; threshold probabilities into labels first")
    return as_float.astype(np.int64)


def _grades(values: np.ndarray, what: str) -> np.ndarray:
    try:
        return _labels(values)
    except DataError:
        raise DataError(f"qwk: {what} must be whole-number grades; round continuous predictions "
                        "(or fit thresholds on validation) first") from None
