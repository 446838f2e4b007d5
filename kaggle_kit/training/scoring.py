"""Scores of validation predictions: AUC (the metrics registry's), accuracy, log loss and the best threshold."""

from __future__ import annotations

import math

import numpy as np

from kaggle_kit.metrics import score
from kaggle_kit.metrics.thresholds import binary_threshold

PROB_EPSILON = 1e-7  # keeps log loss finite for confident, wrong predictions


def score_predictions(labels: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    """``val_auc``, ``val_accuracy`` (at 0.5), ``val_loss`` and the accuracy-maximising ``threshold``."""
    labels = np.asarray(labels, dtype=np.float64)
    probs = np.asarray(probs, dtype=np.float64)
    clipped = np.clip(probs, PROB_EPSILON, 1 - PROB_EPSILON)
    threshold, _ = best_threshold(labels, probs)
    return {
        "val_auc": score("auc", labels, probs),
        "val_accuracy": float(np.mean((probs >= 0.5) == (labels >= 0.5))),
        "val_loss": float(-np.mean(labels * np.log(clipped) + (1 - labels) * np.log(1 - clipped))),
        "threshold": threshold,
    }


def competition_score(metric: str, scores: dict[str, float]) -> float:
    """The competition metric among ``score_predictions``' results."""
    return scores["val_auc"] if metric == "auc" else scores["val_accuracy"]


def best_threshold(labels: np.ndarray, probs: np.ndarray) -> tuple[float, float]:
    """The threshold ``t`` (predict 1 when prob >= t) with the highest accuracy, and that accuracy.

    Candidates are midpoints between consecutive distinct probabilities (and
    the two ends), so the threshold does not sit on any one prediction.
    """
    return binary_threshold(labels, probs, "accuracy")  # the one implementation, in the metrics layer


def histogram_auc(positives: np.ndarray, negatives: np.ndarray) -> float:
    """ROC AUC from probability histograms (trapezoids between bin edges; NaN with one class).

    The step loop's per-epoch *training* AUC, summed over replicas cheaply: the
    same 200-threshold estimate ``keras.metrics.AUC`` gives under ``model.fit``.
    """
    total_pos, total_neg = positives.sum(), negatives.sum()
    if total_pos == 0 or total_neg == 0:
        return math.nan
    tpr = np.concatenate([[0.0], np.cumsum(positives[::-1]) / total_pos])
    fpr = np.concatenate([[0.0], np.cumsum(negatives[::-1]) / total_neg])
    return float(np.sum((fpr[1:] - fpr[:-1]) * (tpr[1:] + tpr[:-1]) / 2))
