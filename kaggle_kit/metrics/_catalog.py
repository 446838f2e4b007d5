"""The front door to metrics: the built-ins and registered ones, by name.

>>> from kaggle_kit.metrics import score
>>> score("rmse", [[0.0, 1.0]], [[0.0, 0.5]])
0.3535533905932738
"""

from __future__ import annotations

from kaggle_kit.errors import UnknownNameError
from kaggle_kit.metrics import builtin  # noqa: F401  (importing it registers the built-ins)
from kaggle_kit.metrics._registry import Metric, registered


def get_metric(name: str) -> Metric:
    """The registered metric ``name``; :class:`UnknownNameError` lists the others."""
    metrics = registered()
    if name not in metrics:
        raise UnknownNameError("metric", name, sorted(metrics))
    return metrics[name]


def list_metrics(kind: str | None = None) -> list[str]:
    """Names of the registered metrics (those applying to task ``kind`` when given), sorted."""
    return sorted(name for name, metric in registered().items() if kind is None or kind in metric.kinds)


def score(name: str, y_true, y_pred) -> float:
    """``get_metric(name)(y_true, y_pred)``: the one call for a score."""
    return get_metric(name)(y_true, y_pred)
