"""Thresholds that turn probabilities and continuous grades into labels, fitted on validation.

Binary (and each multi-label column): the cut ``t`` (predict 1 when p >= t) that
maximises accuracy, balanced accuracy or F1 on validation, chosen among midpoints
between distinct probabilities so it never sits on one prediction. Balanced
accuracy (the mean of the two recalls) does not depend on the class balance, so
its threshold holds when the test set's balance differs from validation's;
accuracy's leans toward the majority class of validation.

Ordinal grades: a regression on the grade (0..L−1) scored by quadratic weighted
kappa does better with cut points fitted to the validation predictions than with
plain rounding, because the outputs are squeezed toward the mean grade (the usual
approach in aptos2019-blindness-detection notebooks, there with Nelder–Mead). Here
the fit is deterministic: coordinate ascent over midpoints between distinct
predictions, starting from rounding (cuts at 0.5, 1.5, …) and keeping each cut
between its neighbours, so the same predictions always give the same cuts.

>>> cuts = fit_ordinal_thresholds(val_grades, val_values, levels=5)
>>> apply_ordinal_thresholds(test_values, cuts)
array([0, 2, 4, ...])
"""

from __future__ import annotations

import numpy as np

MAX_CANDIDATES = 200  # per cut and pass: quantiles of the predictions beyond this
PASSES = 4
EPSILON = 1e-7
OBJECTIVES = ("accuracy", "balanced_accuracy", "f1")


def binary_threshold(labels, probs, objective: str = "accuracy") -> tuple[float, float]:
    """The threshold with the best ``objective`` (accuracy, balanced accuracy or F1) on these rows, and that value."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    labels = np.asarray(labels).reshape(-1) >= 0.5
    probs = np.asarray(probs, dtype=np.float64).reshape(-1)
    order = np.argsort(-probs, kind="stable")
    sorted_probs, sorted_labels = probs[order], labels[order]
    # Predicting the top k as positive: true positives among them, false positives, false negatives below.
    true_pos = np.concatenate([[0], np.cumsum(sorted_labels)])
    false_pos = np.concatenate([[0], np.cumsum(~sorted_labels)])
    false_neg = labels.sum() - true_pos
    if objective == "accuracy":
        value = (true_pos + (~labels).sum() - false_pos) / max(len(probs), 1)
    elif objective == "balanced_accuracy":
        value = (true_pos / max(labels.sum(), 1) + 1 - false_pos / max((~labels).sum(), 1)) / 2
    else:
        value = 2 * true_pos / np.maximum(2 * true_pos + false_pos + false_neg, 1)
    # Only cut between distinct values: k where the next probability differs (or the ends).
    k = np.arange(len(probs) + 1)
    valid = (k == 0) | (k == len(probs))
    valid[1:-1] = sorted_probs[:-1] != sorted_probs[1:]
    best_k = int(k[valid][np.argmax(value[valid])])
    if best_k == 0:
        threshold = float(sorted_probs[0]) + EPSILON if len(probs) else 0.5
    elif best_k == len(probs):
        threshold = float(sorted_probs[-1])
    else:
        threshold = float((sorted_probs[best_k - 1] + sorted_probs[best_k]) / 2)
    return min(max(threshold, 0.0), 1.0), float(value[best_k])


def rounding_thresholds(levels: int) -> np.ndarray:
    """Cuts at 0.5, 1.5, …, L − 1.5: plain rounding, clipped to the grades."""
    if levels < 2:
        raise ValueError(f"an ordinal target needs at least 2 levels, got {levels}")
    return np.arange(levels - 1, dtype=np.float64) + 0.5


def apply_ordinal_thresholds(values, thresholds) -> np.ndarray:
    """The grade of each value: how many cuts lie at or below it (0..len(thresholds))."""
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    return np.searchsorted(np.asarray(thresholds, dtype=np.float64), values, side="right").astype(np.int64)


def fit_ordinal_thresholds(y_true, values, levels: int) -> np.ndarray:
    """Increasing cuts maximising the quadratic weighted kappa of ``values`` against ``y_true``.

    Falls back to rounding when kappa is undefined (a single grade in validation).
    """
    y_true = np.asarray(y_true).reshape(-1).astype(np.int64)
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    cuts = rounding_thresholds(levels)
    best = quadratic_kappa(y_true, apply_ordinal_thresholds(values, cuts), levels)
    if not np.isfinite(best):
        return cuts
    points = np.unique(values)
    midpoints = (points[:-1] + points[1:]) / 2 if len(points) > 1 else points
    for _ in range(PASSES):
        improved = False
        for i in range(len(cuts)):
            low = cuts[i - 1] if i > 0 else -np.inf
            high = cuts[i + 1] if i + 1 < len(cuts) else np.inf
            for candidate in _candidates(midpoints, low, high):
                trial = cuts.copy()
                trial[i] = candidate
                kappa = quadratic_kappa(y_true, apply_ordinal_thresholds(values, trial), levels)
                if kappa > best + 1e-12:
                    best, cuts, improved = kappa, trial, True
        if not improved:
            break
    return cuts


def quadratic_kappa(y_true: np.ndarray, y_pred: np.ndarray, levels: int) -> float:
    """Quadratic weighted kappa from the confusion counts (what ``cohen_kappa_score`` computes,
    fast enough to call thousands of times in the fit)."""
    size = max(levels, int(y_true.max(initial=0)) + 1, int(y_pred.max(initial=0)) + 1)
    observed = np.bincount(y_true * size + y_pred, minlength=size * size).reshape(size, size).astype(np.float64)
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / max(observed.sum(), 1.0)
    grades = np.arange(size)
    weights = (grades[:, None] - grades[None, :]) ** 2
    denominator = (weights * expected).sum()
    return float(1.0 - (weights * observed).sum() / denominator) if denominator > 0 else float("nan")


def _candidates(midpoints: np.ndarray, low: float, high: float) -> np.ndarray:
    inside = midpoints[(midpoints > low) & (midpoints < high)]
    if len(inside) > MAX_CANDIDATES:
        inside = np.unique(np.quantile(inside, np.linspace(0, 1, MAX_CANDIDATES)))
    return inside
