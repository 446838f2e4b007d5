"""Plots of runs and sweeps (report.html, learning_curves.png, a sweep's curves), as PNG bytes.

Drawn with matplotlib's Agg backend: each function takes plain arrays or frames
and returns a closed figure's PNG, so nothing here needs a display, a browser or
the network.
"""

from __future__ import annotations

import io
import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

# Columns of a Keras history that are bookkeeping, not curves.
NOT_CURVES = ("epoch", "fold", "lr", "learning_rate")
DPI = 100
LEGEND_ROWS = 14  # entries that fit beside a 3.4-inch-high row of panels


def new_figure(width: float, height: float, ncols: int = 1):
    """A figure and its axes on the Agg canvas (never pyplot: no global state, no display)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    axes = figure.subplots(1, ncols, squeeze=False)[0]
    return figure, list(axes)


def figure_png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def curve_metrics(history: pd.DataFrame) -> list[str]:
    """Metric names with a training column, in history order: ``loss``, ``auc``, ``accuracy``..."""
    names = [c for c in history.columns if not c.startswith("val_") and c not in NOT_CURVES]
    return [name for name in names if pd.api.types.is_numeric_dtype(history[name])]


def learning_curves_png(histories: Mapping[str, pd.DataFrame], metrics: Sequence[str] | None = None) -> bytes:
    """One panel per metric; a colour per series (run, fold or grid point); training solid, validation dashed."""
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    frames = {label: frame for label, frame in histories.items() if len(frame)}
    if metrics is None:
        found = dict.fromkeys(name for frame in frames.values() for name in curve_metrics(frame))
        metrics = sorted(found, key=lambda name: name != "loss")  # loss first, then history order
    metrics = list(metrics) or ["loss"]
    colours = series_colours(len(frames))
    legend_columns = math.ceil((len(frames) + 2) / LEGEND_ROWS)
    figure, axes = new_figure(4.2 * len(metrics) + 2.4 * legend_columns, 3.4, ncols=len(metrics))
    for axis, metric in zip(axes, metrics):
        for colour, frame in zip(colours, frames.values()):
            epochs = _epochs(frame)
            if metric in frame:
                axis.plot(epochs, frame[metric], color=colour)
            if f"val_{metric}" in frame:
                axis.plot(epochs, frame[f"val_{metric}"], color=colour, linestyle="--")
        axis.set_title(metric)
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
    # One legend entry per series and one per line style, beside the panels: 24 grid points stay readable.
    handles = [Line2D([], [], color=colour, label=label) for colour, label in zip(colours, frames)]
    handles += [Line2D([], [], color="black", label="training"),
                Line2D([], [], color="black", linestyle="--", label="validation")]
    figure.legend(handles=handles, loc="outside right upper", fontsize="small", ncols=legend_columns)
    return figure_png(figure)


def run_curves_png(history: pd.DataFrame, metrics: Sequence[str] | None = None) -> bytes:
    """One run's history.csv as learning curves: a series per fold when it has folds."""
    if "fold" in history:
        return learning_curves_png({f"fold {k}": part for k, part in history.groupby("fold")}, metrics)
    return learning_curves_png({"run": history}, metrics)


def series_colours(count: int) -> list:
    """Distinct colours: matplotlib's 10-colour cycle, or evenly spaced on a colormap for more series."""
    from matplotlib import colormaps

    if count <= 10:
        return [f"C{index}" for index in range(count)]
    return [colormaps["turbo"](index / (count - 1)) for index in range(count)]


def _epochs(frame: pd.DataFrame) -> np.ndarray:
    # kit's history.csv counts epochs from 1, as people do.
    if "epoch" in frame:
        return frame["epoch"].to_numpy()
    return np.arange(1, len(frame) + 1)


def roc_png(labels: np.ndarray, probs: np.ndarray) -> tuple[bytes, float | None]:
    """The ROC curve with its AUC in the legend; AUC is ``None`` when only one class is present."""
    from sklearn.metrics import roc_curve

    from kaggle_kit.metrics import score

    figure, (axis,) = new_figure(4.6, 4.2)
    axis.plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance")
    auc = None
    if len(np.unique(labels)) == 2:
        fpr, tpr, _ = roc_curve(labels, probs)
        auc = score("auc", labels, probs)
        axis.plot(fpr, tpr, color="C0", label=f"ROC (AUC = {auc:.4f})")
    axis.set_xlabel("false positive rate")
    axis.set_ylabel("true positive rate")
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1.01)
    axis.legend(loc="lower right")
    axis.grid(alpha=0.3)
    return figure_png(figure), auc


def confusion(labels: np.ndarray, probs: np.ndarray, threshold: float) -> np.ndarray:
    """2×2 counts, rows = true class (0, 1), columns = predicted class at ``threshold``."""
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(labels, (probs >= threshold).astype(int), labels=[0, 1])


def confusion_png(matrix: np.ndarray, class_names: Sequence[str], threshold: float) -> bytes:
    figure, (axis,) = new_figure(4.4, 3.8)
    axis.imshow(matrix, cmap="Blues")
    total = max(int(matrix.sum()), 1)
    darkest = matrix.max() or 1
    for (row, col), count in np.ndenumerate(matrix):
        colour = "white" if count > darkest / 2 else "black"
        axis.text(col, row, f"{count}\n{count / total:.1%}", ha="center", va="center", color=colour)
    axis.set_xticks([0, 1], list(class_names))
    axis.set_yticks([0, 1], list(class_names), rotation=90, va="center")
    axis.set_xlabel(f"predicted (probability ≥ {threshold:.3f})")
    axis.set_ylabel("true class")
    return figure_png(figure)


def calibration(labels: np.ndarray, probs: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Per-bin mean predicted probability, observed positive rate and count (empty bins dropped)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(probs, edges[1:-1]), 0, bins - 1)
    frame = pd.DataFrame({"bin": which, "prob": probs, "label": labels})
    table = frame.groupby("bin").agg(mean_prob=("prob", "mean"), positive_rate=("label", "mean"), count=("label", "size"))
    return table.reset_index()


def expected_calibration_error(table: pd.DataFrame) -> float:
    """Count-weighted mean gap between predicted probability and observed rate."""
    weights = table["count"] / table["count"].sum()
    return float((weights * (table["mean_prob"] - table["positive_rate"]).abs()).sum())


def calibration_png(labels: np.ndarray, probs: np.ndarray, bins: int = 10) -> tuple[bytes, float]:
    """A reliability diagram above a histogram of the predicted probabilities; returns the ECE too."""
    from matplotlib.figure import Figure

    table = calibration(labels, probs, bins)
    ece = expected_calibration_error(table)
    figure = Figure(figsize=(4.6, 5.0), dpi=DPI, layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    top.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfectly calibrated")
    top.plot(table["mean_prob"], table["positive_rate"], marker="o", color="C1", label=f"model (ECE = {ece:.3f})")
    top.set_ylabel("observed positive rate")
    top.set_ylim(0, 1)
    top.legend(loc="upper left")
    top.grid(alpha=0.3)
    bottom.hist(probs, bins=np.linspace(0, 1, bins + 1), color="C0")
    bottom.set_xlabel("predicted probability")
    bottom.set_ylabel("images")
    bottom.set_xlim(0, 1)
    return figure_png(figure), ece


MAX_ROC_CURVES = 10  # per-class ROC curves drawn (the classes with the most validation images)
MAX_ANNOTATED_CLASSES = 12  # a larger confusion matrix is a heat map without counts


def per_class_roc_png(onehot: np.ndarray, probs: np.ndarray, names: Sequence[str]) -> tuple[bytes, float | None]:
    """One-vs-rest ROC curves of the classes (or label columns) with both outcomes among the rows; the
    legend gives each AUC, the title their mean (``None`` when no class has both outcomes)."""
    from sklearn.metrics import roc_auc_score, roc_curve

    figure, (axis,) = new_figure(5.6, 4.6)
    axis.plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance")
    scorable = [k for k in range(onehot.shape[1]) if len(np.unique(onehot[:, k])) == 2]
    aucs = {k: float(roc_auc_score(onehot[:, k], probs[:, k])) for k in scorable}
    shown = sorted(scorable, key=lambda k: -onehot[:, k].sum())[:MAX_ROC_CURVES]
    for colour, k in zip(series_colours(len(shown)), shown):
        fpr, tpr, _ = roc_curve(onehot[:, k], probs[:, k])
        axis.plot(fpr, tpr, color=colour, label=f"{names[k]} ({aucs[k]:.3f})")
    mean = float(np.mean(list(aucs.values()))) if aucs else None
    more = f", {len(shown)} of {len(scorable)} drawn" if len(shown) < len(scorable) else ""
    axis.set_title("one vs rest" + (f": mean AUC {mean:.4f}{more}" if mean is not None else ""))
    axis.set_xlabel("false positive rate")
    axis.set_ylabel("true positive rate")
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1.01)
    axis.legend(loc="lower right", fontsize="small")
    axis.grid(alpha=0.3)
    return figure_png(figure), mean


def class_confusion_png(matrix: np.ndarray, names: Sequence[str], xlabel: str) -> bytes:
    """A K×K confusion matrix (rows true, columns predicted); counts written in each cell up to
    ``MAX_ANNOTATED_CLASSES`` classes."""
    size = len(names)
    side = min(3.8 + 0.35 * size, 14.0)
    figure, (axis,) = new_figure(side + 0.6, side)
    axis.imshow(matrix, cmap="Blues")
    if size <= MAX_ANNOTATED_CLASSES:
        darkest = matrix.max() or 1
        for (row, col), count in np.ndenumerate(matrix):
            axis.text(col, row, str(count), ha="center", va="center", color="white" if count > darkest / 2 else "black")
    ticks = list(range(size))
    font = "small" if size <= 30 else 5
    axis.set_xticks(ticks, list(names), rotation=90, fontsize=font)
    axis.set_yticks(ticks, list(names), fontsize=font)
    axis.set_xlabel(xlabel)
    axis.set_ylabel("true class")
    return figure_png(figure)


def label_confusions_png(labels: np.ndarray, predicted: np.ndarray, names: Sequence[str]) -> bytes:
    """A 2×2 confusion matrix per label column (rows true 0/1, columns predicted 0/1)."""
    from sklearn.metrics import confusion_matrix

    figure, axes = new_figure(2.6 * len(names), 2.8, ncols=len(names))
    for axis, k in zip(axes, range(len(names))):
        matrix = confusion_matrix(labels[:, k], predicted[:, k], labels=[0, 1])
        axis.imshow(matrix, cmap="Blues")
        darkest = matrix.max() or 1
        for (row, col), count in np.ndenumerate(matrix):
            axis.text(col, row, str(count), ha="center", va="center", color="white" if count > darkest / 2 else "black")
        axis.set_title(names[k], fontsize="small")
        axis.set_xticks([0, 1], ["0", "1"])
        axis.set_yticks([0, 1], ["0", "1"])
        axis.set_xlabel("predicted")
    axes[0].set_ylabel("true")
    return figure_png(figure)


def residuals_png(truth: np.ndarray, predicted: np.ndarray) -> bytes:
    """Predicted against true values (every target pooled) and the histogram of the residuals."""
    truth, predicted = truth.reshape(-1), predicted.reshape(-1)
    residuals = predicted - truth
    figure, (scatter, histogram) = new_figure(9.0, 4.0, ncols=2)
    low, high = float(min(truth.min(), predicted.min())), float(max(truth.max(), predicted.max()))
    scatter.plot([low, high], [low, high], color="grey", linestyle=":", label="perfect")
    scatter.scatter(truth, predicted, s=6, alpha=0.35, color="C0", label="validation")
    scatter.set_xlabel("true value")
    scatter.set_ylabel("predicted value")
    scatter.legend(loc="upper left")
    scatter.grid(alpha=0.3)
    rmse = float(np.sqrt(np.mean(residuals ** 2)))
    histogram.hist(residuals, bins=40, color="C1")
    histogram.set_title(f"residuals (RMSE {rmse:.4f}, mean {residuals.mean():+.4f})")
    histogram.set_xlabel("predicted − true")
    histogram.set_ylabel("values")
    return figure_png(figure)


def target_errors_png(truth: np.ndarray, predicted: np.ndarray, names: Sequence[str]) -> bytes:
    """Each target's RMSE beside the RMSE of predicting its mean (what the model must beat)."""
    errors = np.sqrt(np.mean((predicted - truth) ** 2, axis=0))
    baseline = np.sqrt(np.mean((truth - truth.mean(axis=0)) ** 2, axis=0))
    figure, (axis,) = new_figure(max(5.0, 0.3 * len(names) + 2), 3.8)
    positions = np.arange(len(names))
    axis.bar(positions - 0.2, baseline, width=0.4, color="lightgrey", label="predicting the mean")
    axis.bar(positions + 0.2, errors, width=0.4, color="C0", label="model")
    axis.set_xticks(positions, list(names), rotation=90, fontsize="small")
    axis.set_ylabel("RMSE")
    axis.legend(loc="upper right")
    axis.grid(alpha=0.3, axis="y")
    return figure_png(figure)
