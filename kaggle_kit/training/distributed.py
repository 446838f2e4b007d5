"""Scaling out with tf.distribute: the strategy choice, the multi-worker cluster and its broadcasts.

``--batch-size`` is per replica: the global batch is ``batch_size × replicas``
(the learning rate is left as configured). ``none``/``auto``/``mirrored`` train
with ``model.fit`` (:class:`~kaggle_kit.training.engine.FitEngine`);
``multiworker`` joins the ``MultiWorkerMirroredStrategy`` cluster ``TF_CONFIG``
describes and trains with the step loop
(:class:`~kaggle_kit.training.steploop.StepLoopEngine`). Which worker writes
the run folder is decided by ``kaggle_kit.train``; this module only sets the
cluster up and moves the chief's values to every worker.

>>> cluster = Cluster.start()          # on every machine, TF_CONFIG set
>>> cluster.broadcast_json({"run_id": "..."} if cluster.is_chief else None)
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from kaggle_kit.config import TrainConfig
from kaggle_kit.errors import ConfigError

if TYPE_CHECKING:
    import tensorflow as tf


def select_strategy(config: TrainConfig) -> "tf.distribute.Strategy":
    """The single-machine strategy ``config.strategy`` asks for.

    ``mirrored`` mirrors over every GPU, or over the logical CPUs when there is
    no GPU (one CPU unless it was split with ``tf.config``); ``auto`` mirrors
    when there are several GPUs; ``none`` and ``auto`` otherwise use the default.
    """
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    if config.strategy == "mirrored" or (config.strategy == "auto" and len(gpus) > 1):
        devices = gpus or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    return tf.distribute.get_strategy()


def shard_rows(rows: np.ndarray, labels: np.ndarray, shards: int, index: int) -> tuple[np.ndarray, np.ndarray]:
    """Worker ``index``'s share of the rows: every ``shards``-th one, padded (cyclically) to equal length.

    Equal shard lengths give every worker the same number of steps, which the
    collective all-reduce of each step requires.
    """
    size = math.ceil(len(rows) / shards)
    picked = np.arange(index, len(rows), shards)
    picked = np.resize(picked, size) if len(picked) else np.resize(np.arange(len(rows)), size)
    return rows[picked], labels[picked]


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

        check_tf_config()
        return cls.of(tf.distribute.MultiWorkerMirroredStrategy())

    @classmethod
    def of(cls, strategy) -> "Cluster":
        """The cluster of a ``MultiWorkerMirroredStrategy`` already started."""
        resolver = strategy.cluster_resolver
        spec = resolver.cluster_spec().as_dict()
        workers = max(1, len(spec.get("worker", [])) + len(spec.get("chief", [])))
        return cls(strategy, bool(strategy.extended.should_checkpoint), workers, int(resolver.task_id or 0))

    def broadcast_json(self, value: Any) -> Any:
        """The chief's ``value`` (JSON-serialisable), on every worker; the others pass ``None``.

        Every worker must call it at the same point: it is also a barrier.
        """
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


def check_tf_config() -> None:
    """``TF_CONFIG``, when set, must be the JSON TensorFlow expects."""
    raw = os.environ.get("TF_CONFIG")
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
