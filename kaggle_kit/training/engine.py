"""Training engines: one flow for a unit (:func:`fit_unit`), two ways to run its epochs.

A *unit* is one model trained to its end: the hold-out, or one fold. Whatever
the devices, :func:`fit_unit` builds or restores the model, assembles the
callbacks (:func:`kaggle_kit.training.callbacks.training_callbacks`), fits,
checks the outcome and predicts validation with the best model. An
:class:`Engine` supplies only what differs between device setups:

- :class:`FitEngine` — Keras ``model.fit`` on the default strategy (one device)
  or ``MirroredStrategy`` (this machine's GPUs, or logical CPUs);
- :class:`kaggle_kit.training.steploop.StepLoopEngine` — a ``strategy.run``
  step loop for ``MultiWorkerMirroredStrategy``, where ``model.fit`` fails in
  Keras 3 (keras-team/keras#20585).

Both drive the same callbacks, checkpoint state (:class:`TrainingState` through
the run folder) and scoring (the :class:`~kaggle_kit.training.task.Task`).

>>> result = fit_unit(run.unit(), config, make_task("auc"), data, FitEngine(tf.distribute.get_strategy()))
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, ContextManager

import numpy as np

from kaggle_kit.config import TrainConfig
from kaggle_kit.errors import TrainingError
from kaggle_kit.training.state import TrainingState

if TYPE_CHECKING:
    import keras

    from kaggle_kit.runfolder import UnitFolder
    from kaggle_kit.training.task import Task


@dataclass(frozen=True)
class UnitData:
    """What one unit trains and validates on: cache rows and labels."""

    store: Any  # an ImageStore (or anything with shape, __len__, read)
    train_rows: np.ndarray
    train_labels: np.ndarray
    val_rows: np.ndarray
    val_labels: np.ndarray
    class_weight: dict[int, float] | None = None

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(int(v) for v in self.store.shape[1:])


@dataclass(frozen=True)
class UnitResult:
    state: TrainingState
    val_probs: np.ndarray  # of the best model, in val_rows order


def unit_seed(config: TrainConfig, fold: int) -> int:
    """The seed of a unit's initialisation (Keras, NumPy and Python generators)."""
    return config.seed + fold


def data_seed(config: TrainConfig, fold: int, epoch: int) -> int:
    """The seed of a unit's input order and augmentation from ``epoch`` on.

    A resumed run draws a new, still seed-determined, order for the epochs it still has to do.
    """
    return config.seed + 1000 * fold + epoch


class Engine:
    """What differs between device setups; :func:`fit_unit` does the rest."""

    replicas: int = 1  # devices a step runs on, over all machines

    def scope(self) -> ContextManager:
        """Where models, optimizers and metrics are created (the strategy's scope)."""
        raise NotImplementedError

    def start(self, unit: "UnitFolder", config: TrainConfig, build: Callable[[], "keras.Model"]
              ) -> tuple["keras.Model | None", TrainingState]:
        """The unit's model (built, or restored from its last checkpoint) and loop state.

        ``None`` for the model when the unit had already finished and this
        engine needs none to predict (an earlier fold of a resumed run).
        """
        raise NotImplementedError

    def steps_per_epoch(self, config: TrainConfig, data: UnitData) -> int:
        raise NotImplementedError

    def fit(self, model: "keras.Model", config: TrainConfig, task: "Task", data: UnitData, callbacks: list,
            state: TrainingState, fold: int, progress: bool) -> None:
        """Train from ``state.epochs_done`` to ``config.epochs`` (or until a callback stops it)."""
        raise NotImplementedError

    def best_model(self, model: "keras.Model | None", unit: "UnitFolder") -> "keras.Model":
        """The unit's best model, as every worker sees it."""
        raise NotImplementedError

    def predict(self, model: "keras.Model", task: "Task", store, rows: np.ndarray, config: TrainConfig) -> np.ndarray:
        """Probabilities for ``rows`` of ``store``, in order, through the shared pipeline.

        A compiled forward pass on this process alone (``model.predict`` is unsafe under a
        multi-worker strategy), the same for every engine.
        """
        import tensorflow as tf

        from kaggle_kit.data.pipeline import make_dataset

        forward = tf.function(lambda images: task.probabilities(model(images, training=False)))
        batches = make_dataset(store, rows, None, config.batch_size * self.replicas, training=False)
        return np.concatenate([forward(images).numpy() for images in batches])

    def validation_logs(self, model: "keras.Model", task: "Task", data: UnitData, config: TrainConfig
                        ) -> dict[str, float]:
        """The ``val_`` logs of the whole validation set, scored from predictions (``task.score``)."""
        scores = task.score(data.val_labels, self.predict(model, task, data.store, data.val_rows, config))
        return {k: float(v) for k, v in scores.items() if k.startswith("val_")}

    def batch_figures(self, config: TrainConfig) -> dict[str, int]:
        """What ``metrics.json`` records about the batch: replicas, per-replica and global size."""
        return {
            "replicas": self.replicas,
            "batch_size_per_replica": config.batch_size,
            "global_batch_size": config.batch_size * self.replicas,
        }


def fit_unit(unit: "UnitFolder", config: TrainConfig, task: "Task", data: UnitData, engine: Engine, *,
             fold: int = 0, progress: bool = True) -> UnitResult:
    """Train one unit to its end (resuming from its last checkpoint); the best model's validation probabilities."""
    import keras

    from kaggle_kit.training.callbacks import RunKeeper, training_callbacks
    from kaggle_kit.training.model import build_compiled_model, precision_policy

    unit.path.mkdir(parents=True, exist_ok=True)
    with precision_policy(config), engine.scope():
        keras.utils.set_random_seed(unit_seed(config, fold))
        model, state = engine.start(unit, config, lambda: build_compiled_model(
            config, task, data.image_shape, task.initial_bias(data.train_labels)))
        if not state.finished(config.epochs):
            keeper = RunKeeper(unit, state, task.monitor, config.early_stopping_patience, config.epochs,
                               task.greater_is_better)
            callbacks = training_callbacks(config, engine.steps_per_epoch(config, data), state, task.monitor, keeper,
                                           task.greater_is_better)
            engine.fit(model, config, task, data, callbacks, state, fold, progress)
            if keeper.nan_epoch is not None:
                raise TrainingError(nan_message(unit, keeper.nan_epoch, state))
        if state.best_score is None:
            raise TrainingError(
                f"no epoch of {unit.path} produced a finite {task.monitor}; check the labels (both classes in validation?)"
            )
        best = engine.best_model(model, unit)
        probs = engine.predict(best, task, data.store, data.val_rows, config)
    return UnitResult(state=state, val_probs=probs)


def nan_message(unit: "UnitFolder", epoch: int, state: TrainingState) -> str:
    kept = (
        f"the best model (epoch {state.best_epoch}) is kept in {unit.best_model_path}"
        if state.best_score is not None
        else "no model was saved"
    )
    return f"training loss became NaN in epoch {epoch} of {unit.path}; {kept}; retry with a lower --lr"


def out_of_memory_message(config: TrainConfig) -> str:
    return (
        f"out of memory training {config.model} on {config.image_size}×{config.image_size} images at "
        f"batch size {config.batch_size}; retry with --batch-size {max(1, config.batch_size // 2)} "
        "(or a smaller --image-size)"
    )


class FitEngine(Engine):
    """Keras ``model.fit`` under the default strategy or ``MirroredStrategy``.

    ``--batch-size`` is per replica: ``fit`` gets the global batch and splits it.
    """

    def __init__(self, strategy):
        self.strategy = strategy
        self.replicas = int(strategy.num_replicas_in_sync)

    def scope(self) -> ContextManager:
        return self.strategy.scope()

    def start(self, unit, config, build):
        from kaggle_kit.runfolder import load_model

        restored = unit.latest_checkpoint()
        state = TrainingState() if restored is None else TrainingState.from_json(restored[1])
        if state.finished(config.epochs):  # a finished unit (an earlier fold) only predicts
            return None, state
        model = build() if restored is None else load_model(restored[0], with_optimizer=True)
        return model, state

    def steps_per_epoch(self, config, data):
        return math.ceil(len(data.train_rows) / (config.batch_size * self.replicas))

    def fit(self, model, config, task, data, callbacks, state, fold, progress):
        import tensorflow as tf

        from kaggle_kit.data.pipeline import make_dataset

        batch = config.batch_size * self.replicas
        train_ds = make_dataset(data.store, data.train_rows, data.train_labels, batch, training=True,
                                augment=config.augment, seed=data_seed(config, fold, state.epochs_done))
        val_ds = None
        if task.validates_by_prediction:  # the validation logs first, so every other callback sees them
            from kaggle_kit.training.callbacks import AveragedWeights, ValidationFromPredictions

            averaged = next((c for c in callbacks if isinstance(c, AveragedWeights)), None)

            def validation_logs() -> dict[str, float]:  # with EMA, validation scores the average, as fit's would
                with averaged.in_model() if averaged is not None else contextlib.nullcontext():
                    return self.validation_logs(model, task, data, config)

            callbacks = [ValidationFromPredictions(validation_logs), *callbacks]
        else:
            val_ds = make_dataset(data.store, data.val_rows, data.val_labels, batch, training=False)
        try:
            model.fit(train_ds, validation_data=val_ds, epochs=config.epochs, initial_epoch=state.epochs_done,
                      class_weight=data.class_weight, callbacks=callbacks, verbose=1 if progress else 0, shuffle=False)
        except tf.errors.ResourceExhaustedError:
            raise TrainingError(out_of_memory_message(config)) from None

    def best_model(self, model, unit):
        from kaggle_kit.runfolder import load_model

        return load_model(unit.best_model_path)

