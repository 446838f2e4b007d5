"""The task kind a model is trained for: what the engines ask of it.

An engine never hard-codes a loss, a metric or an output activation; it asks
the task: ``loss`` and ``metrics`` to compile, ``probabilities`` from the model's
raw outputs, ``monitor`` (the validation log that picks the best model), ``score``
of validation predictions, and, for the step loop, per-example weights and the
per-epoch training logs from summed batch totals. A new kind (multi-class,
multi-label, regression) is a class with these methods, returned by
:func:`make_task`; docs/architecture.md, "Where things plug in". Binary tasks
scored by AUC or accuracy are :class:`BinaryTask`; every other kind and metric
is :class:`KindTask`, built on the competition's :class:`kaggle_kit.tasks.Task`.

>>> task = make_task("auc")
>>> task.monitor
'val_auc'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from kaggle_kit import tasks

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

    from kaggle_kit.config import TrainConfig

AUC_BINS = 200  # the step loop's training AUC: per-replica histograms of probabilities (as keras.metrics.AUC)


class Task(Protocol):
    """What every task kind provides (see the module docstring)."""

    metric: str
    greater_is_better: bool  # the monitor's direction: the best model and early stopping follow it
    validates_by_prediction: bool  # validation logs come from ``score`` of predictions, not compiled metrics
    outputs: int  # logits per image: the model head's width

    @property
    def monitor(self) -> str: ...
    def loss(self, config: "TrainConfig", *, reduction: str | None = ...) -> "keras.losses.Loss": ...
    def initial_bias(self, targets: np.ndarray) -> np.ndarray | None: ...
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
    greater_is_better = True
    validates_by_prediction = False  # model.fit's compiled val_auc / val_accuracy, as always
    outputs = 1

    @property
    def monitor(self) -> str:
        """The validation log the best model, early stopping and the plateau schedule follow."""
        return "val_auc" if self.metric == "auc" else "val_accuracy"

    def initial_bias(self, targets: np.ndarray) -> None:
        """None: the logit starts where the zoo's builder put it, as it always has."""
        return None

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


@dataclass(frozen=True)
class KindTask:
    """Any task kind (:class:`kaggle_kit.tasks.Task`) scored by any registered metric that applies to it.

    Its validation logs come from predictions (:meth:`score`): ``val_loss``,
    ``val_<metric>`` for every metric of the kind, ``val_score`` the competition's,
    after fitting thresholds where they apply (grade cuts for quadratic weighted
    kappa, per-column cuts for label metrics).
    """

    spec: tasks.Task
    metric: str
    validates_by_prediction = True

    @property
    def outputs(self) -> int:
        return self.spec.outputs

    @property
    def greater_is_better(self) -> bool:
        from kaggle_kit.metrics import get_metric

        return get_metric(self.metric).greater_is_better

    @property
    def monitor(self) -> str:
        return f"val_{self.metric}"

    def loss(self, config: "TrainConfig", *, reduction: str | None = "sum_over_batch_size") -> "keras.losses.Loss":
        return self.spec.loss(config.label_smoothing, reduction=reduction)

    def initial_bias(self, targets: np.ndarray) -> np.ndarray:
        return self.spec.initial_bias(targets)

    def metrics(self) -> list["keras.metrics.Metric"]:
        """The training logs besides the loss: accuracy for classes and labels, RMSE of an unbounded regression."""
        import keras

        if self.spec.kind == "multiclass":
            return [keras.metrics.CategoricalAccuracy(name="accuracy")]
        if self.spec.kind in ("binary", "multilabel"):
            return [keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")]  # logits: 0 is probability 0.5
        if not self.spec.bounded:
            return [keras.metrics.RootMeanSquaredError(name="rmse")]
        return []

    def probabilities(self, outputs: "tf.Tensor") -> "tf.Tensor":
        """Logits → ``(batch,)`` for binary and ordinal tasks, ``(batch, K)`` otherwise (float32)."""
        import tensorflow as tf

        logits = tf.cast(outputs, tf.float32)
        if self.spec.activation == "softmax":
            values = tf.nn.softmax(logits, axis=-1)
        elif self.spec.activation == "sigmoid":
            values = tf.math.sigmoid(logits)
        else:
            values = logits
        return tf.reshape(values, [-1]) if self.spec.outputs == 1 and (self.spec.kind == "binary" or self.spec.is_ordinal) else values

    def score(self, labels: np.ndarray, probs: np.ndarray) -> dict[str, Any]:
        """``score``, ``val_loss``, ``val_<metric>`` per metric of the kind, and the fitted ``thresholds``.

        ``labels`` are training targets (:meth:`kaggle_kit.tasks.Task.targets`) or labels.
        """
        from kaggle_kit.metrics import get_metric, list_metrics

        spec = self.spec
        targets = np.asarray(labels)
        y_true = spec.from_targets(targets)
        probs = np.asarray(probs, dtype=np.float64)
        scores: dict[str, Any] = {"val_loss": spec.numpy_loss(spec.targets(y_true), probs)}
        thresholds = spec.fit_thresholds(y_true, probs, objective=self.threshold_objective)
        for name in self.scored_metrics(list_metrics(spec.kind)):
            scores[f"val_{name}"] = get_metric(name)(y_true, spec.metric_input(name, probs, thresholds))
        return {"score": scores[self.monitor], **scores, "thresholds": thresholds}

    @property
    def threshold_objective(self) -> str:
        """What the label cuts maximise: F1 for an F1 metric, accuracy otherwise."""
        return "f1" if self.metric.endswith("_f1") else "accuracy"

    def scored_metrics(self, names: list[str]) -> list[str]:
        """The metrics of the kind that mean something for this task, the competition's first: kappa
        only for grades (an ordinal target, or classes the competition scores by kappa)."""
        ordered = self.spec.is_ordinal or self.metric == "qwk"
        usable = [name for name in names if name != "qwk" or ordered]
        return [self.metric, *[name for name in usable if name != self.metric]]

    # --- the step loop's pieces --------------------------------------------------------------------
    def example_weights(self, labels: "tf.Tensor", class_weight: dict[int, float] | None) -> "tf.Tensor":
        import tensorflow as tf

        count = tf.shape(labels)[0]
        if not class_weight:
            return tf.ones([count], tf.float32)
        table = tf.constant([float(class_weight.get(k, 1.0)) for k in range(max(class_weight) + 1)], tf.float32)
        if self.spec.kind == "multiclass":
            classes = tf.argmax(labels, axis=-1, output_type=tf.int32)
        else:
            classes = tf.cast(tf.round(tf.reshape(labels, [-1])), tf.int32)
        return tf.gather(table, tf.clip_by_value(classes, 0, len(class_weight) - 1))

    def per_example_loss(self, loss: "keras.losses.Loss", labels: "tf.Tensor", outputs: "tf.Tensor") -> "tf.Tensor":
        import tensorflow as tf

        logits = tf.cast(outputs, tf.float32)
        targets = tf.reshape(labels, tf.shape(logits))
        return loss(targets, logits)

    def batch_totals(self, outputs: "tf.Tensor", labels: "tf.Tensor", per_example: "tf.Tensor") -> "tf.Tensor":
        """Loss sum and count (summed over replicas)."""
        import tensorflow as tf

        count = tf.cast(tf.shape(per_example)[0], tf.float32)
        return tf.cast(tf.stack([tf.reduce_sum(per_example), count]), tf.float64)

    def train_logs(self, totals: np.ndarray) -> dict[str, float]:
        loss_sum, count = totals[:2]
        return {"loss": float(loss_sum / count)}


def make_task(metric: str, spec: tasks.Task | None = None) -> Task:
    """What the engines train for: the competition's task kind and metric.

    A binary task scored by ROC AUC or accuracy trains as it always has (compiled
    Keras metrics pick the best model); every other task and metric is a
    :class:`KindTask`.
    """
    spec = spec or tasks.binary_task()
    spec.check_metric(metric)
    if spec.kind == "binary" and metric in ("auc", "accuracy"):
        return BinaryTask(metric)
    return KindTask(spec, metric)
