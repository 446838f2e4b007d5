"""The task kind a model is trained for: what the engines ask of it.

An engine never hard-codes a loss, a metric or an output activation; it asks
the task: ``loss`` and ``metrics`` to compile, ``probabilities`` from the model's
raw outputs, ``monitor`` (the validation log that picks the best model), ``score``
of validation predictions, and, for the step loop, per-example weights and the
per-epoch training logs from summed batch totals. A new kind (multi-class,
multi-label, regression) is a new class with these methods, returned by
:func:`make_task`; docs/architecture.md, "Where things plug in".

>>> task = make_task("auc")
>>> task.monitor
'val_auc'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from kaggle_kit.errors import ConfigError

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

    from kaggle_kit.config import TrainConfig

AUC_BINS = 200  # the step loop's training AUC: per-replica histograms of probabilities (as keras.metrics.AUC)


class Task(Protocol):
    """What every task kind provides (see the module docstring)."""

    metric: str

    @property
    def monitor(self) -> str: ...
    def loss(self, config: "TrainConfig", *, reduction: str | None = ...) -> "keras.losses.Loss": ...
    def metrics(self) -> list["keras.metrics.Metric"]: ...
    def probabilities(self, outputs: "tf.Tensor") -> "tf.Tensor": ...
    def score(self, labels: np.ndarray, probs: np.ndarray) -> dict[str, float]: ...
    def example_weights(self, labels: "tf.Tensor", class_weight: dict[int, float] | None) -> "tf.Tensor": ...
    def per_example_loss(self, loss: "keras.losses.Loss", labels: "tf.Tensor", outputs: "tf.Tensor") -> "tf.Tensor": ...
    def batch_totals(self, outputs: "tf.Tensor", labels: "tf.Tensor", per_example: "tf.Tensor") -> "tf.Tensor": ...
    def train_logs(self, totals: np.ndarray) -> dict[str, float]: ...


@dataclass(frozen=True)
class BinaryTask:
    """Two classes, one logit per image; scored by ROC AUC or accuracy."""

    metric: str  # the competition's: "auc" or "accuracy"

    @property
    def monitor(self) -> str:
        """The validation log the best model, early stopping and the plateau schedule follow."""
        return "val_auc" if self.metric == "auc" else "val_accuracy"

    def loss(self, config: "TrainConfig", *, reduction: str | None = "sum_over_batch_size") -> "keras.losses.Loss":
        import keras

        return keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=config.label_smoothing,
                                               reduction=reduction)

    def metrics(self) -> list["keras.metrics.Metric"]:
        """What ``model.fit`` logs each epoch (``accuracy``, ``auc``; ``val_`` ones on validation)."""
        import keras

        return [
            keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy"),  # logits: 0 is probability 0.5
            keras.metrics.AUC(from_logits=True, name="auc"),
        ]

    def probabilities(self, outputs: "tf.Tensor") -> "tf.Tensor":
        """The model's ``(batch, 1)`` logits → ``(batch,)`` float32 probabilities."""
        import tensorflow as tf

        return tf.math.sigmoid(tf.cast(tf.reshape(outputs, [-1]), tf.float32))

    def score(self, labels: np.ndarray, probs: np.ndarray) -> dict[str, float]:
        """``val_auc``, ``val_accuracy``, ``val_loss``, ``threshold``, and ``score`` (the competition's metric)."""
        from kaggle_kit.training.scoring import competition_score, score_predictions

        scores = score_predictions(labels, probs)
        return {"score": competition_score(self.metric, scores), **scores}

    # --- the step loop's pieces (model.fit does these itself) --------------------------------------
    def example_weights(self, labels: "tf.Tensor", class_weight: dict[int, float] | None) -> "tf.Tensor":
        import tensorflow as tf

        weights = class_weight or {0: 1.0, 1: 1.0}
        return tf.where(labels > 0.5, float(weights[1]), float(weights[0]))

    def per_example_loss(self, loss: "keras.losses.Loss", labels: "tf.Tensor", outputs: "tf.Tensor") -> "tf.Tensor":
        import tensorflow as tf

        logits = tf.cast(tf.reshape(outputs, [-1]), tf.float32)
        return loss(labels[:, None], logits[:, None])

    def batch_totals(self, outputs: "tf.Tensor", labels: "tf.Tensor", per_example: "tf.Tensor") -> "tf.Tensor":
        """Loss sum, correct count, count, and both classes' probability histograms (summed over replicas)."""
        import tensorflow as tf

        logits = tf.cast(tf.reshape(outputs, [-1]), tf.float32)
        bins = tf.clip_by_value(tf.cast(tf.math.sigmoid(logits) * AUC_BINS, tf.int32), 0, AUC_BINS - 1)
        positive = tf.cast(labels > 0.5, tf.float32)
        correct = tf.reduce_sum(tf.cast(tf.equal(logits > 0, labels > 0.5), tf.float32))
        counts = tf.stack([tf.reduce_sum(per_example), correct, tf.cast(tf.size(labels), tf.float32)])
        histogram = [tf.math.bincount(bins, weights=w, minlength=AUC_BINS, maxlength=AUC_BINS, dtype=tf.float32)
                     for w in (positive, 1.0 - positive)]
        return tf.cast(tf.concat([counts, *histogram], axis=0), tf.float64)

    def train_logs(self, totals: np.ndarray) -> dict[str, float]:
        """An epoch's ``loss``, ``accuracy`` and ``auc`` from its summed :meth:`batch_totals`."""
        from kaggle_kit.training.scoring import histogram_auc

        loss_sum, correct, count = totals[:3]
        return {
            "loss": float(loss_sum / count),
            "accuracy": float(correct / count),
            "auc": histogram_auc(totals[3:3 + AUC_BINS], totals[3 + AUC_BINS:]),
        }


def make_task(metric: str) -> Task:
    """The task a competition's metric asks for."""
    if metric not in ("auc", "accuracy"):
        raise ConfigError(f"metric must be auc or accuracy (got '{metric}')")
    return BinaryTask(metric)
