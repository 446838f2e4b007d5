"""Learning curves: loss and the competition metric, train vs validation, per epoch."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from kaggle_kit.fsutil import atomic_path


def plot_learning_curves(history: pd.DataFrame, metric: str, target: Path, title: str = "") -> Path:
    """Two panels (loss, ``metric``) like the notebooks' plots; one line pair per fold if ``fold`` is a column.

    Written with matplotlib's Agg backend (no display needed), atomically.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = history.groupby("fold") if "fold" in history.columns else [(None, history)]
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    for axis, name in zip(axes, ("loss", metric)):
        for fold, part in groups:
            suffix = "" if fold is None else f" (fold {fold})"
            if name in part:
                axis.plot(part["epoch"], part[name], "o-", label=f"train{suffix}")
            if f"val_{name}" in part:
                axis.plot(part["epoch"], part[f"val_{name}"], "s--", label=f"validation{suffix}")
        axis.set_xlabel("epoch")
        axis.set_ylabel(name)
        axis.set_title(name)
        axis.grid(alpha=0.3)
        axis.legend(fontsize="small")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    with atomic_path(target) as tmp:
        figure.savefig(tmp, format="png", dpi=100)
    plt.close(figure)
    return target
