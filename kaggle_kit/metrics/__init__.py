"""Competition metrics: ``get_metric(name)``, ``list_metrics(kind)``, ``score(name, y_true, y_pred)``.

Register your own with ``@register_metric(name, title=..., greater_is_better=...,
needs=..., kinds=...)``; the built-ins (``builtin.py``) are ROC AUC, mean
column-wise ROC AUC, accuracy, balanced accuracy, log loss (Kaggle's clipping),
micro/macro F1, quadratic weighted kappa and RMSE. ``thresholds`` turns
probabilities and continuous grades into labels.
"""

from kaggle_kit.metrics._catalog import get_metric, list_metrics, score
from kaggle_kit.metrics._registry import KINDS, Metric, register_metric

__all__ = ["KINDS", "Metric", "get_metric", "list_metrics", "register_metric", "score"]
