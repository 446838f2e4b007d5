"""The metric registry: what a metric is, and the decorator that registers one.

A metric function takes ``(y_true, y_pred)`` as numpy arrays and returns a float;
``nan`` when the metric is undefined on these rows (ROC AUC of a single class),
so a tiny validation split never crashes a run. Its registration says which way
is better (so it can drive early stopping and the best checkpoint), what the
predictions are (``probabilities``, hard ``labels`` or continuous ``values``) and
which task kinds it applies to.

The front door (``get_metric``, ``list_metrics``, ``score``) is ``_catalog.py``,
which also loads the built-ins; a module defining metrics imports only this one.

>>> from kaggle_kit.metrics import get_metric
>>> metric = get_metric("log_loss")
>>> metric.greater_is_better, metric.needs
(False, 'probabilities')
>>> metric([0, 1], [0.2, 0.9]) < 0.2
True
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from kaggle_kit.errors import DataError

KINDS = ("binary", "multiclass", "multilabel", "regression")
NEEDS = ("probabilities", "labels", "values")

MetricFunction = Callable[[np.ndarray, np.ndarray], float]


@dataclass(frozen=True)
class Metric:
    """A registered metric: the function and what the rest of the kit needs to know about it."""

    name: str
    title: str  # how reports and messages name it ("ROC AUC")
    greater_is_better: bool
    needs: str  # what y_pred holds: "probabilities", "labels" or "values"
    kinds: tuple[str, ...]  # task kinds it applies to
    function: MetricFunction = field(repr=False, compare=False)
    description: str = ""

    def __call__(self, y_true, y_pred) -> float:
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        if len(y_true) != len(y_pred):
            raise DataError(
                f"{self.name}: {len(y_true)} true values but {len(y_pred)} predictions; "
                "score the predictions of exactly the labelled rows"
            )
        if len(y_true) == 0:
            return math.nan
        return float(self.function(y_true, y_pred))

    @property
    def direction(self) -> str:
        """``higher`` or ``lower``: which scores are better, as messages say it."""
        return "higher" if self.greater_is_better else "lower"

    @property
    def worst(self) -> float:
        """A score every finite score beats."""
        return -math.inf if self.greater_is_better else math.inf

    def is_better(self, score: float | None, best: float | None) -> bool:
        """True when ``score`` is finite and beats ``best`` (``None`` or ``nan``: nothing yet)."""
        if score is None or not math.isfinite(score):
            return False
        if best is None or not math.isfinite(best):
            return True
        return score > best if self.greater_is_better else score < best

    def applies_to(self, kind: str) -> bool:
        return kind in self.kinds


_METRICS: dict[str, Metric] = {}


def register_metric(
    name: str, *, title: str, greater_is_better: bool, needs: str, kinds: tuple[str, ...]
) -> Callable[[MetricFunction], MetricFunction]:
    """Decorator: register ``function(y_true, y_pred) -> float`` as the metric ``name``.

    Registering a name twice warns and the later one wins.
    """
    if needs not in NEEDS:
        raise ValueError(f"needs must be one of {NEEDS}, got {needs!r}")
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown or not kinds:
        raise ValueError(f"kinds must be a non-empty subset of {KINDS}, got {kinds!r}")

    def decorate(function: MetricFunction) -> MetricFunction:
        if name in _METRICS:
            warnings.warn(f"metric '{name}' registered twice; the later one wins", stacklevel=2)
        _METRICS[name] = Metric(
            name=name,
            title=title,
            greater_is_better=greater_is_better,
            needs=needs,
            kinds=tuple(kinds),
            function=function,
            description=_first_line(function.__doc__),
        )
        return function

    return decorate


def registered() -> dict[str, Metric]:
    """The registered metrics by name (the built-ins registered by ``kaggle_kit.metrics._catalog``)."""
    return dict(_METRICS)


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().splitlines()[0] if doc and doc.strip() else ""

