"""The step-loop engine: ``strategy.run`` steps under ``MultiWorkerMirroredStrategy``.

``model.fit`` fails under that strategy in Keras 3 (keras-team/keras#20585), so
this engine runs the epochs itself and drives the same callbacks ``fit`` would
(epoch, batch and test hooks), with the same schedule, best model, early
stopping and checkpoints.

- Each worker trains on its own shard of the training rows (an explicit shard
  of the index list: the cache-backed pipeline reads rows through
  ``numpy_function``, which tf.data's auto-sharding cannot split by file).
- Every worker validates the full validation set; the epoch logs every worker
  acts on (best model, early stopping, schedule) are the chief's, so their
  decisions cannot drift apart.
- Resume: the chief restores its last checkpoint (model, optimizer and loop
  state) and broadcasts weights and state before the first step.
"""

from __future__ import annotations

import math
from contextlib import AbstractContextManager
from pathlib import Path

import numpy as np

from kaggle_kit.config import TrainConfig
from kaggle_kit.errors import TrainingError
from kaggle_kit.training.distributed import Cluster, shard_rows
from kaggle_kit.training.engine import Engine, UnitData, data_seed
from kaggle_kit.training.state import TrainingState
from kaggle_kit.training.task import Task


class StepLoopEngine(Engine):
    """The multi-worker engine (see the module docstring)."""

    def __init__(self, cluster: Cluster):
        self.cluster = cluster
        self.replicas = int(cluster.strategy.num_replicas_in_sync)

    def scope(self) -> AbstractContextManager:
        return self.cluster.strategy.scope()

    def start(self, unit, config, build):
        # Every worker builds the model (variable creation is collective), then takes the chief's checkpoint.
        model = build()
        model.optimizer.build(model.trainable_variables)
        restored = unit.latest_checkpoint() if self.cluster.is_chief else None
        _load_chief_file(self.cluster, model, restored[0] if restored else None, with_optimizer=True)
        state = self.cluster.broadcast_json(restored[1] if restored is not None else TrainingState().to_json())
        return model, TrainingState.from_json(state)

    def steps_per_epoch(self, config, data):
        shard = math.ceil(len(data.train_rows) / self.cluster.workers)
        local_replicas = max(1, self.replicas // self.cluster.workers)
        return math.ceil(shard / config.batch_size / local_replicas)

    def fit(self, model, config, task, data, callbacks, state, fold, progress):
        from tqdm.auto import tqdm

        stepper = _Stepper(self.cluster.strategy, model, config, task, data)
        steps = self.steps_per_epoch(config, data)
        for callback in callbacks:
            callback.set_model(model)
            callback.on_train_begin()
        for epoch in range(state.epochs_done, config.epochs):
            for callback in callbacks:
                callback.on_epoch_begin(epoch)
            totals = 0.0
            batches = stepper.distributed_batches(data_seed(config, fold, epoch))
            for step, batch in enumerate(tqdm(batches, desc=f"epoch {epoch + 1}/{config.epochs}", disable=not progress,
                                              total=steps, leave=False)):
                for callback in callbacks:
                    callback.on_train_batch_begin(step)
                totals = totals + stepper.step(batch)
                for callback in callbacks:
                    callback.on_train_batch_end(step)
            for callback in callbacks:
                callback.on_test_begin()
            val_logs = self.validation_logs(model, task, data, config)
            for callback in callbacks:
                callback.on_test_end()
            logs = self.cluster.broadcast_json({**task.train_logs(totals), **val_logs})  # the chief's figures rule
            for callback in callbacks:
                callback.on_epoch_end(epoch, logs)
            if model.stop_training:
                break
        for callback in callbacks:
            callback.on_train_end()

    def best_model(self, model, unit):
        _load_chief_file(self.cluster, model, unit.best_model_path if self.cluster.is_chief else None,
                         with_optimizer=False)
        return model



def _load_chief_file(cluster: Cluster, model, path: Path | None, *, with_optimizer: bool) -> None:
    """The weights (and optimizer state) the chief has saved in ``path``, on every worker.

    The chief loads the file in a helper thread: strategy scopes are per
    thread, so its variables are plain ones whose creation starts no
    collective the other workers would not match. Their values are copied
    into ``model`` and then sent from the chief to every worker (the others
    pass ``path=None``: their own files may not exist, e.g. an earlier fold's).
    """
    from concurrent.futures import ThreadPoolExecutor

    from kaggle_kit.runfolder import load_model

    def state_of(owner) -> list:
        return list(owner.weights) + (list(owner.optimizer.variables) if with_optimizer else [])

    variables = state_of(model)
    if cluster.is_chief and path is not None:
        with ThreadPoolExecutor(max_workers=1) as pool:
            saved = state_of(pool.submit(load_model, path, with_optimizer=with_optimizer).result())
        if len(saved) != len(variables):
            raise TrainingError(f"{path} holds {len(saved)} variables, the model {len(variables)}; "
                                "it is not this run's model: delete it and train again")
        for variable, value in zip(variables, saved):
            variable.assign(value.numpy())
    cluster.sync_variables(variables)


class _Stepper:
    """The distributed dataset and the compiled train step of one unit."""

    def __init__(self, strategy, model, config: TrainConfig, task: Task, data: UnitData):
        import tensorflow as tf

        self.strategy, self.model, self.config, self.task, self.data = strategy, model, config, task, data
        self.global_batch = config.batch_size * strategy.num_replicas_in_sync
        self.loss = task.loss(config, reduction=None)
        self.step_function = tf.function(self._step)

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

        model, optimizer, task = self.model, self.model.optimizer, self.task
        with tf.GradientTape() as tape:
            outputs = model(images, training=True)
            per_example = (task.per_example_loss(self.loss, labels, outputs)
                           * task.example_weights(labels, self.data.class_weight))
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=self.global_batch)
            if model.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
            scaled = optimizer.scale_loss(loss)  # the loss scale of mixed precision; loss itself otherwise
        gradients = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return task.batch_totals(outputs, labels, per_example)
