"""The run folder's learning_curves.png: loss and the competition metric, train vs validation."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from kaggle_kit.fsutil import atomic_path


def plot_learning_curves(history: pd.DataFrame, metric: str, target: Path) -> Path:
    """Two panels (loss, ``metric``) like the notebooks' plots, a series per fold; written atomically.

    Drawn by the report's figure code, so the run folder and report.html show the same curves.
    """
    from kaggle_kit.report.figures import run_curves_png

    png = run_curves_png(history, ("loss", metric))
    with atomic_path(target) as tmp:
        tmp.write_bytes(png)
    return target
