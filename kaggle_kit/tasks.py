"""What a competition predicts: binary, multi-class, multi-label or regression, and what follows.

A :class:`Task` knows, for its kind, the model head (outputs and activation), the
loss, the shape of the label table, how to stratify splits, how to average TTA
views, folds and ensembles (probabilities, never logits), and how thresholds turn
probabilities or continuous grades into labels.

=============  =========  ===========  =====================================  ==========================
kind           outputs    activation   label table columns                    labels (``y_true``)
=============  =========  ===========  =====================================  ==========================
binary         1          sigmoid      ``label`` (0/1)                        ``(n,)`` 0/1
multiclass     K          softmax      ``label`` (class index 0..K−1)         ``(n,)`` class index
multilabel     K          sigmoid      one 0/1 column per label               ``(n, K)`` 0/1
regression     K          linear, or   one column per target                  ``(n, K)`` float; ``(n,)``
                          sigmoid if                                          grade when ordinal
                          ``bounded``
=============  =========  ===========  =====================================  ==========================

>>> task = Task("multiclass", ("cat", "dog", "fox"))
>>> task.outputs, task.activation, task.default_metric
(3, 'softmax', 'log_loss')
>>> Task("regression", ("diagnosis",), levels=5).default_metric
'qwk'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from kaggle_kit.errors import ConfigError, DataError

if TYPE_CHECKING:
    import pandas as pd

KINDS = ("binary", "multiclass", "multilabel", "regression")
LABEL = "label"  # the one label column of binary and multi-class label tables
REGRESSION_STRATA = 5  # quantile bins of the first target, for stratified splits of a regression
PROBABILITY_EPSILON = 1e-7  # keeps the validation loss finite for confident, wrong predictions


@dataclass(frozen=True)
class Task:
    """A task kind and the names of what it predicts.

    ``names``: the two class names (negative, positive) of a binary task; the K
    class names of a multi-class task (in output order); the K label columns of a
    multi-label task; the K target columns of a regression. ``bounded``: a
    regression whose targets all lie in [0, 1] (vote fractions): a sigmoid head.
    ``levels``: a one-target regression on an ordinal grade 0..levels−1, turned
    into grades by cut points fitted on validation.
    """

    kind: str
    names: tuple[str, ...]
    bounded: bool = False
    levels: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(str(name) for name in self.names))
        if self.kind not in KINDS:
            raise ConfigError(f"task kind must be one of {', '.join(KINDS)} (got '{self.kind}')")
        if len(set(self.names)) != len(self.names) or any(not name for name in self.names):
            raise ConfigError(f"the {self.kind} task's names must be distinct and non-empty: {list(self.names)}")
        minimum = {"binary": 2, "multiclass": 2, "multilabel": 1, "regression": 1}[self.kind]
        if len(self.names) < minimum or (self.kind == "binary" and len(self.names) != 2):
            expected = "exactly 2 class names" if self.kind == "binary" else f"at least {minimum} name(s)"
            raise ConfigError(f"a {self.kind} task needs {expected}, got {list(self.names)}")
        if self.kind != "regression" and (self.bounded or self.levels is not None):
            raise ConfigError("bounded and levels apply to regression tasks only")
        if self.levels is not None and (self.levels < 2 or len(self.names) != 1 or self.bounded):
            raise ConfigError("an ordinal regression (levels) has one unbounded target and at least 2 levels")

    # --- the model ---------------------------------------------------------------------
    @property
    def outputs(self) -> int:
        """Logits the model returns per image: 1 for binary (as the models always did), else K."""
        return 1 if self.kind == "binary" else len(self.names)

    @property
    def activation(self) -> str:
        """What turns the logits into predictions: ``sigmoid``, ``softmax`` or ``linear``."""
        if self.kind == "multiclass":
            return "softmax"
        if self.kind == "regression" and not self.bounded:
            return "linear"
        return "sigmoid"

    def loss(self, label_smoothing: float = 0.0, reduction: str | None = "sum_over_batch_size"):
        """The Keras loss on logits: cross-entropy for classes and bounded targets, MSE otherwise.

        Bounded targets (vote fractions) use binary cross-entropy with soft targets,
        minimised where sigmoid(logit) equals the fraction. ``reduction=None`` gives
        one loss per example (the step loop's).
        """
        import keras

        if self.kind == "multiclass":
            return keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=label_smoothing,
                                                        reduction=reduction)
        if self.kind == "regression" and not self.bounded:
            return keras.losses.MeanSquaredError(reduction=reduction)
        smoothing = label_smoothing if self.kind != "regression" else 0.0
        return keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=smoothing, reduction=reduction)

    def numpy_loss(self, targets: np.ndarray, predictions: np.ndarray) -> float:
        """The mean of :meth:`loss` (without smoothing) from predictions, not logits: the validation loss."""
        targets = np.asarray(targets, dtype=np.float64).reshape(len(targets), -1)
        predictions = np.asarray(predictions, dtype=np.float64).reshape(len(predictions), -1)
        if self.kind == "regression" and not self.bounded:
            return float(np.mean((targets - predictions) ** 2))
        clipped = np.clip(predictions, PROBABILITY_EPSILON, 1 - PROBABILITY_EPSILON)
        if self.kind == "multiclass":
            return float(-np.mean(np.sum(targets * np.log(clipped), axis=1)))
        return float(-np.mean(targets * np.log(clipped) + (1 - targets) * np.log(1 - clipped)))

    def probabilities(self, logits) -> np.ndarray:
        """Predictions from logits: ``(n,)`` for binary, ``(n, K)`` otherwise (float64)."""
        logits = np.asarray(logits, dtype=np.float64)
        logits = logits.reshape(len(logits), -1)
        if self.activation == "softmax":
            shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
            values = shifted / shifted.sum(axis=1, keepdims=True)
        elif self.activation == "sigmoid":
            values = 1.0 / (1.0 + np.exp(-logits))
        else:
            values = logits
        return values[:, 0] if self.kind == "binary" or self.is_ordinal else values

    def initial_bias(self, targets: np.ndarray) -> np.ndarray:
        """The output bias that makes an untrained model predict the training prior: the log class
        frequencies (softmax), the logits of label or target means (sigmoid), the target means
        (linear). Training starts from the mean instead of 0.5 everywhere."""
        targets = np.asarray(targets, dtype=np.float64).reshape(len(targets), -1)
        mean = targets.mean(axis=0)
        if self.activation == "linear":
            return mean
        clipped = np.clip(mean, 1e-4, 1 - 1e-4)
        return np.log(clipped) if self.activation == "softmax" else np.log(clipped / (1 - clipped))

    @staticmethod
    def average(predictions: Sequence[np.ndarray]) -> np.ndarray:
        """The mean of several prediction arrays (TTA views, folds, runs): probabilities, never logits."""
        if not predictions:
            raise ValueError("nothing to average")
        return np.mean(np.stack([np.asarray(p, dtype=np.float64) for p in predictions]), axis=0)

    # --- label tables ------------------------------------------------------------------
    @property
    def is_ordinal(self) -> bool:
        return self.levels is not None

    @property
    def has_classes(self) -> bool:
        """Whether each image has one class (binary, multi-class, an ordinal grade): what rebalancing needs."""
        return self.kind in ("binary", "multiclass") or self.is_ordinal

    @property
    def label_columns(self) -> tuple[str, ...]:
        """The label table's columns after ``id``: ``label`` for binary and multi-class, else the names."""
        return (LABEL,) if self.kind in ("binary", "multiclass") else self.names

    def labels(self, table: "pd.DataFrame", source: str = "the label table") -> np.ndarray:
        """What metrics take as ``y_true``, from a label table (checked; errors name ``source``)."""
        import pandas as pd

        missing = [c for c in self.label_columns if c not in table.columns]
        if missing:
            raise DataError(f"{source} lacks column(s) {', '.join(missing)} of this {self.kind} task")
        if self.kind == "binary":
            return self._whole(table[LABEL], 2, source)
        if self.kind == "multiclass":
            return self._whole(table[LABEL], len(self.names), source)
        if self.is_ordinal:
            return self._whole(table[self.names[0]], self.levels, source)
        values = table[list(self.names)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
        if not np.isfinite(values).all():
            raise DataError(f"{source} has empty or non-numeric values in {', '.join(self.names)}; fill them in")
        if self.kind == "multilabel":
            if not np.isin(values, (0.0, 1.0)).all():
                raise DataError(f"{source}: multi-label columns {', '.join(self.names)} must hold only 0 and 1")
            return values.astype(np.int64)
        if self.bounded and ((values < 0) | (values > 1)).any():
            raise DataError(f"{source}: bounded targets {', '.join(self.names)} must lie in [0, 1]")
        return values

    def targets(self, labels: np.ndarray) -> np.ndarray:
        """The float32 training targets of ``labels``: one-hot for multi-class, ``(n,)`` for binary
        and ordinal, else ``(n, K)``."""
        labels = np.asarray(labels)
        if self.kind == "multiclass":
            return np.eye(len(self.names), dtype=np.float32)[labels.astype(np.int64)]
        return labels.astype(np.float32)

    def from_targets(self, targets: np.ndarray) -> np.ndarray:
        """The labels (``y_true``) back from :meth:`targets`."""
        targets = np.asarray(targets)
        if self.kind == "multiclass":
            return targets.argmax(axis=1).astype(np.int64) if targets.ndim == 2 else targets.astype(np.int64)
        if self.kind in ("binary", "multilabel") or self.is_ordinal:
            return np.rint(targets).astype(np.int64)
        return targets.astype(np.float64)

    def _whole(self, column: "pd.Series", count: int, source: str) -> np.ndarray:
        import pandas as pd

        values = pd.to_numeric(column, errors="coerce")
        bad = column[values.isna() | ~values.isin(range(count))]
        if len(bad):
            examples = ", ".join(repr(v) for v in pd.Series(pd.unique(bad)[:5]).tolist())
            raise DataError(f"{source}: labels must be whole numbers 0..{count - 1} for this {self.kind} task; "
                            f"found {examples} in {len(bad)} row(s)")
        return values.to_numpy().astype(np.int64)

    # --- balance and splits -------------------------------------------------------------
    def class_counts(self, labels: np.ndarray) -> dict[str, int]:
        """Images per class (binary, multi-class, ordinal grade) or positives per label column;
        empty for a continuous regression."""
        labels = np.asarray(labels)
        if self.kind in ("binary", "multiclass"):
            counts = np.bincount(labels.astype(np.int64), minlength=len(self.names))
            return {name: int(count) for name, count in zip(self.names, counts)}
        if self.kind == "multilabel":
            return {name: int(count) for name, count in zip(self.names, labels.sum(axis=0))}
        if self.is_ordinal:
            counts = np.bincount(labels.astype(np.int64), minlength=self.levels)
            return {str(level): int(count) for level, count in enumerate(counts)}
        return {}

    def strata(self, labels: np.ndarray) -> np.ndarray:
        """One stratum per row, for stratified hold-out and K-fold splits.

        By class for binary and multi-class, by grade for an ordinal target; a
        multi-label row by its most frequent positive label (a row without one is
        its own stratum, ``K``); a regression by quantile bin of its first target.
        """
        labels = np.asarray(labels)
        if self.kind in ("binary", "multiclass") or self.is_ordinal:
            return labels.astype(np.int64).reshape(-1)
        if self.kind == "multilabel":
            frequency = labels.sum(axis=0)
            ranked = np.where(labels > 0, frequency[None, :], -1)
            return np.where(labels.any(axis=1), ranked.argmax(axis=1), labels.shape[1]).astype(np.int64)
        first = labels.reshape(len(labels), -1)[:, 0]
        edges = np.unique(np.quantile(first, np.linspace(0, 1, REGRESSION_STRATA + 1)[1:-1]))
        return np.searchsorted(edges, first, side="right").astype(np.int64)

    def prevalence(self, labels: np.ndarray) -> np.ndarray:
        """The prediction for an image the model cannot see (unreadable): the training mean,
        as probabilities (class frequencies for multi-class)."""
        labels = np.asarray(labels)
        if self.kind == "multiclass":
            counts = np.bincount(labels.astype(np.int64), minlength=len(self.names))
            return counts / max(counts.sum(), 1)
        return np.asarray(labels.astype(np.float64).mean(axis=0))

    # --- metrics and thresholds ----------------------------------------------------------
    @property
    def default_metric(self) -> str:
        if self.kind == "regression":
            return "qwk" if self.is_ordinal else "rmse"
        return {"binary": "auc", "multiclass": "log_loss", "multilabel": "mean_column_auc"}[self.kind]

    def check_metric(self, name: str) -> None:
        """A :class:`ConfigError` unless metric ``name`` exists and applies to this task."""
        from kaggle_kit.metrics import get_metric, list_metrics

        metric = get_metric(name)
        applies = metric.applies_to(self.kind)
        if name == "qwk" and self.kind == "regression":
            applies = self.is_ordinal  # kappa needs grades
        if not applies:
            valid = [m for m in list_metrics(self.kind) if m != "qwk" or self.kind != "regression" or self.is_ordinal]
            raise ConfigError(f"metric {name} does not apply to a {self.describe()} task; "
                              f"choose one of: {', '.join(valid)}")

    def fit_thresholds(self, labels: np.ndarray, predictions: np.ndarray, objective: str = "accuracy") -> list[float]:
        """Cut points fitted on validation: one for binary, one per multi-label column
        (each maximising ``objective``, accuracy or f1), the grade cuts of an ordinal
        regression (maximising quadratic weighted kappa); none otherwise."""
        from kaggle_kit.metrics.thresholds import binary_threshold, fit_ordinal_thresholds

        labels, predictions = np.asarray(labels), np.asarray(predictions)
        if self.kind == "binary":
            return [binary_threshold(labels, predictions, objective)[0]]
        if self.kind == "multilabel":
            return [binary_threshold(labels[:, k], predictions[:, k], objective)[0] for k in range(labels.shape[1])]
        if self.is_ordinal:
            return [float(cut) for cut in fit_ordinal_thresholds(labels, predictions, self.levels)]
        return []

    def decide(self, predictions: np.ndarray, thresholds: Sequence[float] | None = None) -> np.ndarray:
        """Hard labels from predictions: cut at the thresholds (0.5 and rounding without them),
        the most probable class for multi-class; continuous values are returned as they are."""
        from kaggle_kit.metrics.thresholds import apply_ordinal_thresholds, rounding_thresholds

        predictions = np.asarray(predictions, dtype=np.float64)
        if self.kind == "multiclass":
            return predictions.argmax(axis=1).astype(np.int64)
        if self.kind == "binary":
            cut = thresholds[0] if thresholds else 0.5
            return (predictions >= cut).astype(np.int64)
        if self.kind == "multilabel":
            cuts = np.asarray(thresholds if thresholds else [0.5] * len(self.names), dtype=np.float64)
            return (predictions >= cuts[None, :]).astype(np.int64)
        if self.is_ordinal:
            return apply_ordinal_thresholds(predictions, thresholds if thresholds else rounding_thresholds(self.levels))
        return predictions

    def metric_input(self, metric_name: str, predictions: np.ndarray, thresholds: Sequence[float] | None = None):
        """What metric ``metric_name`` scores: the predictions, or the labels ``decide`` makes of them."""
        from kaggle_kit.metrics import get_metric

        return self.decide(predictions, thresholds) if get_metric(metric_name).needs == "labels" else predictions

    # --- description ---------------------------------------------------------------------
    def describe(self) -> str:
        """``binary``, ``multiclass (120 classes)``, ``multilabel (4 labels)``,
        ``regression (37 targets in [0, 1])``, ``ordinal regression (5 grades)``."""
        if self.kind == "binary":
            return "binary"
        if self.kind == "multiclass":
            return f"multiclass ({len(self.names)} classes)"
        if self.kind == "multilabel":
            return f"multilabel ({len(self.names)} labels)"
        if self.is_ordinal:
            return f"ordinal regression ({self.levels} grades)"
        plural = "s" if len(self.names) > 1 else ""
        return f"regression ({len(self.names)} target{plural}{' in [0, 1]' if self.bounded else ''})"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "names": list(self.names), "bounded": self.bounded, "levels": self.levels}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Task":
        unknown = sorted(set(data) - {"kind", "names", "bounded", "levels"})
        if unknown:
            raise ConfigError(f"unknown task key(s) {', '.join(unknown)}; valid are kind, names, bounded, levels")
        if "kind" not in data or "names" not in data:
            raise ConfigError("a task needs a kind and the names of what it predicts")
        levels = data.get("levels")
        return cls(str(data["kind"]), tuple(data["names"]), bool(data.get("bounded", False)),
                   None if levels is None else int(levels))


def binary_task(class_names: Sequence[str] = ("negative", "positive")) -> Task:
    """The task of every competition before task kinds: one 0/1 label."""
    return Task("binary", tuple(class_names))
