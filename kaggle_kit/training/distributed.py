"""Scaling out with tf.distribute: strategy choice, batch scaling, and the multi-worker step loop.

``--batch-size`` is per replica: the global batch is ``batch_size × replicas``
(the learning rate is left as configured). ``none``/``auto``/``mirrored`` run
under ``model.fit`` (:mod:`kaggle_kit.training.loop`); ``multiworker`` runs
``MultiWorkerMirroredStrategy`` across the machines ``TF_CONFIG`` names, with the
project's own step loop, because ``model.fit`` fails under that strategy in
Keras 3 (keras-team/keras#20585).

Multi-worker rules:

- The chief (worker 0) creates the run folder, or opens the one being
  resumed, and sends the run id, the config and the training state to every
  worker, so the others need no shared disk and follow the chief's options.
- Each worker trains on its own shard of the training rows (an explicit shard
  of the index list: the cache-backed pipeline reads rows through
  ``numpy_function``, which tf.data's auto-sharding cannot split by file).
- Every worker validates the full validation set; the epoch logs every worker
  acts on (best model, early stopping, schedule) are the chief's, so their
  decisions cannot drift apart.
- Only the chief writes into the run folder; the other workers write the same
  files into a temporary folder that is removed at the end.
- Resume: the chief restores its last checkpoint (model, optimizer and loop
  state) and broadcasts weights and state before the first step.

>>> run = train_multiworker(competition, workspace, config)   # on every machine, TF_CONFIG set
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from kaggle_kit.config import TrainConfig
from kaggle_kit.errors import ConfigError, KitError, TrainingError
from kaggle_kit.fsutil import write_text_atomic

if TYPE_CHECKING:
    import tensorflow as tf

    from kaggle_kit.competitions import Competition
    from kaggle_kit.paths import Workspace
    from kaggle_kit.runs import Run
    from kaggle_kit.training.checkpoints import TrainingState
    from kaggle_kit.training.loop import UnitData, UnitResult

AUC_BINS = 200  # training AUC from per-replica histograms of probabilities (as keras.metrics.AUC)


# --- strategy choice and batch scaling ---------------------------------------------------------
def select_strategy(config: TrainConfig) -> "tf.distribute.Strategy":
    """The strategy ``config.strategy`` asks for (see the module docstring).

    ``mirrored`` mirrors over every GPU, or over the logical CPUs when there is
    no GPU (one CPU unless it was split with ``tf.config``); ``auto`` mirrors
    when there are several GPUs; ``none`` and ``auto`` otherwise use the default.
    """
    import tensorflow as tf

    if config.strategy == "multiworker":
        if not tf.distribute.has_strategy():
            raise TrainingError("strategy 'multiworker' runs through train_multiworker(), which sets up the workers")
        return tf.distribute.get_strategy()
    gpus = tf.config.list_logical_devices("GPU")
    if config.strategy == "mirrored" or (config.strategy == "auto" and len(gpus) > 1):
        devices = gpus or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    return tf.distribute.get_strategy()


def global_batch_size(config: TrainConfig, replicas: int) -> int:
    """``--batch-size`` is per replica; one step consumes this many images across all replicas."""
    return config.batch_size * replicas


def scaled_config(config: TrainConfig, strategy: "tf.distribute.Strategy") -> TrainConfig:
    """``config`` with ``batch_size`` set to the global batch, for ``model.fit`` (which splits it)."""
    return config.replace(batch_size=global_batch_size(config, strategy.num_replicas_in_sync))


def batch_figures(config: TrainConfig) -> dict[str, int]:
    """What ``metrics.json`` records about the batch: replicas, per-replica and global size."""
    replicas = select_strategy(config).num_replicas_in_sync
    return {
        "replicas": replicas,
        "batch_size_per_replica": config.batch_size,
        "global_batch_size": global_batch_size(config, replicas),
    }


def shard_rows(rows: np.ndarray, labels: np.ndarray, shards: int, index: int) -> tuple[np.ndarray, np.ndarray]:
    """Worker ``index``'s share of the rows: every ``shards``-th one, padded (cyclically) to equal length.

    Equal shard lengths give every worker the same number of steps, which the
    collective all-reduce of each step requires.
    """
    size = math.ceil(len(rows) / shards)
    picked = np.arange(index, len(rows), shards)
    picked = np.resize(picked, size) if len(picked) else np.resize(np.arange(len(rows)), size)
    return rows[picked], labels[picked]


def histogram_auc(positives: np.ndarray, negatives: np.ndarray) -> float:
    """ROC AUC from probability histograms (trapezoids between bin edges; NaN with one class)."""
    total_pos, total_neg = positives.sum(), negatives.sum()
    if total_pos == 0 or total_neg == 0:
        return math.nan
    tpr = np.concatenate([[0.0], np.cumsum(positives[::-1]) / total_pos])
    fpr = np.concatenate([[0.0], np.cumsum(negatives[::-1]) / total_neg])
    return float(np.sum((fpr[1:] - fpr[:-1]) * (tpr[1:] + tpr[:-1]) / 2))


# --- the workers --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cluster:
    """This process's place in the multi-worker cluster."""

    strategy: Any  # tf.distribute.MultiWorkerMirroredStrategy
    is_chief: bool
    workers: int
    worker_index: int

    @classmethod
    def start(cls) -> "Cluster":
        """Join the cluster ``TF_CONFIG`` describes (a cluster of one without it)."""
        import tensorflow as tf

        _check_tf_config(os.environ.get("TF_CONFIG"))
        return cls.of(tf.distribute.MultiWorkerMirroredStrategy())

    @classmethod
    def of(cls, strategy) -> "Cluster":
        """The cluster of a ``MultiWorkerMirroredStrategy`` already started."""
        resolver = strategy.cluster_resolver
        spec = resolver.cluster_spec().as_dict()
        workers = max(1, len(spec.get("worker", [])) + len(spec.get("chief", [])))
        return cls(strategy, bool(strategy.extended.should_checkpoint), workers, int(resolver.task_id or 0))

    def broadcast_json(self, value: Any) -> Any:
        """The chief's ``value`` (JSON-serialisable), on every worker; the others pass ``None``."""
        payload = json.dumps(value).encode() if self.is_chief else b""
        (length,) = self.broadcast_array(np.array([len(payload)], np.float64))
        data = np.zeros(int(length), np.float32)
        if self.is_chief:
            data[:] = np.frombuffer(payload, np.uint8)
        return json.loads(self.broadcast_array(data).astype(np.uint8).tobytes().decode())

    def broadcast_array(self, values: np.ndarray) -> np.ndarray:
        """The chief's ``values``; every worker passes an array of the same shape and dtype."""
        import tensorflow as tf

        (result,) = self._from_chief([tf.constant(values)])
        return result.numpy()

    def sync_variables(self, variables: list) -> None:
        """Give every worker the chief's values of ``variables`` (after the chief restored a checkpoint)."""
        values = self._from_chief([v.value for v in variables])
        for variable, value in zip(variables, values):
            variable.assign(value)

    def _from_chief(self, tensors: list) -> list:
        # An all-reduce SUM where every replica but the chief's first contributes zeros.
        import tensorflow as tf

        def chief_only(*values):
            keep = tf.equal(tf.distribute.get_replica_context().replica_id_in_sync_group, 0)
            return [tf.where(keep, tf.cast(v, tf.float64), tf.zeros_like(v, tf.float64)) for v in values]

        per_replica = self.strategy.run(chief_only, args=tensors)
        return [tf.cast(self.strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None), tensor.dtype)
                for value, tensor in zip(per_replica, tensors)]


def _check_tf_config(raw: str | None) -> None:
    if raw is None:
        return
    try:
        parsed = json.loads(raw)
        parsed["cluster"], parsed["task"]["type"], parsed["task"]["index"]
    except (ValueError, KeyError, TypeError):
        raise ConfigError(
            "TF_CONFIG is not valid: it must be JSON like "
            '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}'
        ) from None


def wants_multiworker(workspace: "Workspace", slug: str, config: TrainConfig | None, resume: str | None) -> bool:
    """Whether ``train()`` takes the multi-worker path.

    A new run: when its config says so. A resumed run: when ``TF_CONFIG`` is
    set (the other workers have no run folder to read; the chief checks the
    run's saved config once the cluster is up, so no worker is left waiting),
    or else when its saved config says so (a cluster of one).
    """
    from kaggle_kit.runs import Run

    if config is not None or resume is None:
        return config is not None and config.strategy == "multiworker"
    _check_tf_config(os.environ.get("TF_CONFIG"))
    return "TF_CONFIG" in os.environ or Run.open(workspace, slug, resume).config.strategy == "multiworker"


def train_multiworker(
    competition: "Competition",
    workspace: "Workspace",
    config: TrainConfig | None,
    *,
    resume: str | None = None,
    progress: bool = True,
) -> "Run":
    """``train()`` for ``--strategy multiworker``: run the same command on every worker.

    Returns the chief's run; on the other workers, the run of that id in this
    worker's runs folder (the chief's own on a shared disk, absent elsewhere).
    """
    import tensorflow as tf

    from kaggle_kit.runs import Run
    from kaggle_kit.train import prepared_data, train_prepared

    cluster = Cluster.start()
    with _run_of_this_worker(cluster, competition, workspace, config, resume) as (run, config, finished):
        if finished:  # resuming a run that already finished: nothing to do, as train() does
            return run
        prepared = prepared_data(competition, workspace, config, progress and cluster.is_chief)
        try:
            with cluster.strategy.scope():
                train_prepared(run, config, competition.metric, prepared, progress=progress and cluster.is_chief)
        except tf.errors.UnavailableError:  # TensorFlow's heartbeat check: another worker stopped
            raise TrainingError(
                f"a worker of TF_CONFIG stopped during run {run.run_id}; restart every worker with "
                f"`kit train {competition.slug} --resume {run.run_id}`"
            ) from None
        cluster.broadcast_json(run.complete)  # a barrier: no worker returns before the chief wrote the run
    if not cluster.is_chief:
        return Run(competition.slug, run.run_id, workspace.runs_root(competition.slug) / run.run_id)
    from kaggle_kit.report import try_write_report

    try_write_report(run, workspace)
    return run


def closing_line(run: "Run") -> str:
    """The line ``kit train`` ends with; on a worker that does not see the chief's run folder, where it is."""
    from kaggle_kit.runs import summary_line

    if run.path.is_dir():
        return summary_line(run)
    return f"run {run.run_id}: this worker's share is done; the chief worker (TF_CONFIG index 0) wrote the run folder"


@contextlib.contextmanager
def _run_of_this_worker(cluster: Cluster, competition, workspace, config, resume
                        ) -> Iterator[tuple["Run", TrainConfig, bool]]:
    """The chief's run folder (new or resumed), a temporary one on the other workers; config; finished."""
    from kaggle_kit.runs import Run

    if cluster.is_chief:
        try:
            run, config = _chief_run(competition, workspace, config, resume)
        except KitError as exc:  # tell the others, which would otherwise wait for the chief forever
            cluster.broadcast_json({"error": str(exc)})
            raise
        cluster.broadcast_json({"run_id": run.run_id, "config": config.to_dict(), "finished": run.complete})
        yield run, config, run.complete
        return
    shared = cluster.broadcast_json(None)
    if "error" in shared:
        raise TrainingError(f"the chief worker stopped: {shared['error']}")
    config = TrainConfig.from_dict(shared["config"], source="the chief worker's config")
    with tempfile.TemporaryDirectory(prefix=f"kit-worker{cluster.worker_index}-") as scratch:
        yield Run(competition.slug, shared["run_id"], Path(scratch)), config, shared["finished"]


def _chief_run(competition, workspace, config, resume) -> tuple["Run", TrainConfig]:
    """The run being resumed, or a new run folder with the config written first (as ``train()``)."""
    from kaggle_kit.runs import CONFIG_FILE, Run, new_run_dir

    if resume is not None:
        run = Run.open(workspace, competition.slug, resume)
        if run.config.strategy != "multiworker":
            raise ConfigError(f"run {resume} was trained with --strategy {run.config.strategy}, not multiworker; "
                              "unset TF_CONFIG to resume it on one machine")
        return run, run.config
    run_dir = new_run_dir(workspace, competition.slug, config.model)
    write_text_atomic(run_dir / CONFIG_FILE, config.to_yaml())
    return Run(competition.slug, run_dir.name, run_dir), config


# --- one unit, step by step ---------------------------------------------------------------------
def fit_unit_multiworker(
    unit_dir: Path, config: TrainConfig, metric: str, data: "UnitData", *, fold: int = 0, progress: bool = True
) -> "UnitResult":
    """``fit_unit`` under the multi-worker strategy of the enclosing ``strategy.scope()``.

    The same callbacks as ``model.fit`` (schedule, best model, early stopping,
    checkpoints) are driven by hand after each step and epoch.
    """
    import keras
    import tensorflow as tf

    from kaggle_kit.training.callbacks import LearningRateControl, RunKeeper, monitored_metric
    from kaggle_kit.training.checkpoints import BEST_MODEL
    from kaggle_kit.training.loop import UnitResult, _nan_message, build_compiled_model, precision_policy

    strategy = tf.distribute.get_strategy()
    cluster = Cluster.of(strategy)
    unit_dir.mkdir(parents=True, exist_ok=True)
    monitor = monitored_metric(metric)
    with precision_policy(config):
        keras.utils.set_random_seed(config.seed + fold)
        model = build_compiled_model(config, tuple(int(v) for v in data.store.shape[1:]))
        model.optimizer.build(model.trainable_variables)
        state = _restore(cluster, unit_dir, model)
        if not state.finished(config.epochs):
            stepper = _Stepper(strategy, model, config, data)
            keeper = RunKeeper(unit_dir, state, monitor, config.early_stopping_patience, config.epochs)
            callbacks = [LearningRateControl(config, stepper.steps_per_epoch(cluster), state, monitor), keeper]
            for callback in callbacks:
                callback.set_model(model)
            _epochs(cluster, stepper, callbacks, config, fold, progress)
            if keeper.nan_epoch is not None:
                raise TrainingError(_nan_message(unit_dir, keeper.nan_epoch, state))
        if state.best_score is None:
            raise TrainingError(
                f"no epoch of {unit_dir} produced a finite {monitor}; check the labels (both classes in validation?)"
            )
        _load_chief_file(cluster, model, unit_dir / BEST_MODEL, with_optimizer=False)
        probs = _predict_probs(model, data.store, data.val_rows, config.batch_size)
    return UnitResult(state=state, val_probs=probs)


def _restore(cluster: Cluster, unit_dir: Path, model) -> "TrainingState":
    """The chief's last checkpoint into ``model`` on every worker; returns the chief's loop state."""
    from kaggle_kit.training.checkpoints import TrainingState, latest_checkpoint

    restored = latest_checkpoint(unit_dir) if cluster.is_chief else None
    _load_chief_file(cluster, model, restored[0] if restored else None, with_optimizer=True)
    state = cluster.broadcast_json(restored[1].to_json() if restored is not None else TrainingState().to_json())
    return TrainingState.from_json(state)


def _load_chief_file(cluster: Cluster, model, path: Path | None, *, with_optimizer: bool) -> None:
    """The weights (and optimizer state) the chief has saved in ``path``, on every worker.

    The chief loads the file in a helper thread: strategy scopes are per
    thread, so its variables are plain ones whose creation starts no
    collective the other workers would not match. Their values are copied
    into ``model`` and then sent from the chief to every worker (the others
    pass ``path=None``: their own files may not exist, e.g. an earlier fold's).
    """
    from concurrent.futures import ThreadPoolExecutor

    from kaggle_kit.training.loop import load_model

    def state_of(owner) -> list:
        return list(owner.weights) + (list(owner.optimizer.variables) if with_optimizer else [])

    variables = state_of(model)
    if cluster.is_chief and path is not None:
        with ThreadPoolExecutor(max_workers=1) as pool:
            saved = state_of(pool.submit(load_model, path).result())
        if len(saved) != len(variables):
            raise TrainingError(f"{path} holds {len(saved)} variables, the model {len(variables)}; "
                                "it is not this run's model: delete it and train again")
        for variable, value in zip(variables, saved):
            variable.assign(value.numpy())
    cluster.sync_variables(variables)


def _epochs(cluster: Cluster, stepper: "_Stepper", callbacks: list, config: TrainConfig, fold: int, progress: bool):
    from tqdm.auto import tqdm

    model = callbacks[0].model
    state = callbacks[1].state
    for epoch in range(state.epochs_done, config.epochs):
        for callback in callbacks:
            callback.on_epoch_begin(epoch)
        # A resumed run draws a new, still seed-determined, order for the epochs it still has to do.
        batches = stepper.distributed_batches(config.seed + 1000 * fold + epoch)
        totals = np.zeros(3 + 2 * AUC_BINS)
        for step, batch in enumerate(tqdm(batches, desc=f"epoch {epoch + 1}/{config.epochs}", disable=not progress,
                                          total=stepper.steps_per_epoch(cluster), leave=False)):
            callbacks[0].on_train_batch_begin(step)
            totals += stepper.step(batch)
        logs = cluster.broadcast_json({**_train_logs(totals), **stepper.validate()})  # the chief's figures rule
        for callback in callbacks:
            callback.on_epoch_end(epoch, logs)
        if model.stop_training:
            return


def _train_logs(totals: np.ndarray) -> dict[str, float]:
    loss_sum, correct, count = totals[:3]
    return {
        "loss": float(loss_sum / count),
        "accuracy": float(correct / count),
        "auc": histogram_auc(totals[3:3 + AUC_BINS], totals[3 + AUC_BINS:]),
    }


class _Stepper:
    """The distributed dataset and the compiled train step of one unit."""

    def __init__(self, strategy, model, config: TrainConfig, data: "UnitData"):
        import keras
        import tensorflow as tf

        self.strategy, self.model, self.config, self.data = strategy, model, config, data
        self.global_batch = global_batch_size(config, strategy.num_replicas_in_sync)
        self.loss = keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=config.label_smoothing,
                                                    reduction=None)
        weights = data.class_weight or {0: 1.0, 1: 1.0}
        self.class_weights = (float(weights[0]), float(weights[1]))
        self.step_function = tf.function(self._step)

    def steps_per_epoch(self, cluster: Cluster) -> int:
        shard = math.ceil(len(self.data.train_rows) / cluster.workers)
        local_replicas = max(1, self.strategy.num_replicas_in_sync // cluster.workers)
        return math.ceil(shard / self.config.batch_size / local_replicas)

    def distributed_batches(self, seed: int):
        from kaggle_kit.data.pipeline import make_dataset

        def per_worker(context):
            rows, labels = shard_rows(self.data.train_rows, self.data.train_labels,
                                      context.num_input_pipelines, context.input_pipeline_id)
            return make_dataset(self.data.store, rows, labels, context.get_per_replica_batch_size(self.global_batch),
                                training=True, augment=self.config.augment,
                                seed=seed + 7919 * context.input_pipeline_id)

        return self.strategy.distribute_datasets_from_function(per_worker)

    def step(self, batch) -> np.ndarray:
        return self.step_function(batch).numpy()

    def _step(self, batch):
        import tensorflow as tf

        per_replica = self.strategy.run(self._replica_step, args=batch)
        return self.strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    def _replica_step(self, images, labels):
        import tensorflow as tf

        model, optimizer = self.model, self.model.optimizer
        weights = tf.where(labels > 0.5, self.class_weights[1], self.class_weights[0])
        with tf.GradientTape() as tape:
            logits = tf.cast(tf.reshape(model(images, training=True), [-1]), tf.float32)
            per_example = self.loss(labels[:, None], logits[:, None]) * weights
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=self.global_batch)
            if model.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
            scaled = optimizer.scale_loss(loss)  # the loss scale of mixed precision; loss itself otherwise
        gradients = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return _batch_totals(logits, labels, per_example)

    def validate(self) -> dict[str, float]:
        """Validation logs from the full validation set (every worker predicts all of it)."""
        from kaggle_kit.training.scoring import score_predictions

        scores = score_predictions(self.data.val_labels, _predict_probs(self.model, self.data.store, self.data.val_rows,
                                                                         self.config.batch_size))
        return {k: scores[k] for k in ("val_loss", "val_accuracy", "val_auc")}


def _batch_totals(logits, labels, per_example):
    """Loss sum, correct count, count, and the probability histograms of both classes (for the AUC)."""
    import tensorflow as tf

    bins = tf.clip_by_value(tf.cast(tf.math.sigmoid(logits) * AUC_BINS, tf.int32), 0, AUC_BINS - 1)
    positive = tf.cast(labels > 0.5, tf.float32)
    correct = tf.reduce_sum(tf.cast(tf.equal(logits > 0, labels > 0.5), tf.float32))
    counts = tf.stack([tf.reduce_sum(per_example), correct, tf.cast(tf.size(labels), tf.float32)])
    histogram = [tf.math.bincount(bins, weights=w, minlength=AUC_BINS, maxlength=AUC_BINS, dtype=tf.float32)
                 for w in (positive, 1.0 - positive)]
    return tf.cast(tf.concat([counts, *histogram], axis=0), tf.float64)


def _predict_probs(model, store, rows: np.ndarray, batch_size: int) -> np.ndarray:
    """Sigmoid probabilities for ``rows`` from this worker alone (``model.predict`` is unsafe here)."""
    import tensorflow as tf

    from kaggle_kit.data.pipeline import make_dataset

    forward = tf.function(lambda images: tf.math.sigmoid(tf.cast(tf.reshape(model(images, training=False), [-1]),
                                                                  tf.float32)))
    batches = make_dataset(store, rows, None, batch_size, training=False)
    return np.concatenate([forward(images).numpy() for images in batches])
