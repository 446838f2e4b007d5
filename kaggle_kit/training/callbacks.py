"""The loop's Keras callbacks, assembled in one place: the learning-rate schedule and the run keeper.

They share one :class:`TrainingState`, saved with every checkpoint, so early
stopping, the plateau schedule and the best score survive a resume. Both
engines drive the same list (``model.fit`` itself; the step loop by hand), so a
callback added in :func:`training_callbacks` works under every strategy.
"""

from __future__ import annotations

import contextlib
import math
import time
from typing import TYPE_CHECKING, Callable, Iterator

import keras

from kaggle_kit.config import TrainConfig
from kaggle_kit.training.state import TrainingState

if TYPE_CHECKING:
    import pandas as pd

    from kaggle_kit.runfolder import UnitFolder

PLATEAU_FACTOR = 0.5  # the plateau schedule halves the rate...
MIN_LR_SCALE = 1e-3  # ...down to a thousandth of the configured rate


def training_callbacks(config: TrainConfig, steps_per_epoch: int, state: TrainingState, monitor: str,
                       keeper: "RunKeeper", greater_is_better: bool = True) -> list[keras.callbacks.Callback]:
    """The callbacks of a unit, in the order they run after each epoch.

    The schedule first (it adds ``lr`` to the epoch's logs), the run keeper last
    (it saves the epoch: history, best model, checkpoint). With ``ema_momentum``,
    :class:`AveragedWeights` between them: validation scores the weights' moving
    average, and the keeper saves that average as the best model.
    """
    callbacks: list[keras.callbacks.Callback] = [
        LearningRateControl(config, steps_per_epoch, state, monitor, greater_is_better)]
    if config.time_limit:
        callbacks.append(TimeBudget(config.time_limit / max(1, config.folds), config.epochs, state))
    if config.ema_momentum:
        keeper.averaged = AveragedWeights()
        callbacks.append(keeper.averaged)
    return callbacks + [keeper]


def improved(score: float | None, best: float | None, greater_is_better: bool = True) -> bool:
    """Whether a finite ``score`` beats ``best`` (``None``: nothing yet) in the monitor's direction."""
    if score is None or not math.isfinite(score):
        return False
    if best is None:
        return True
    return score > best if greater_is_better else score < best


def plateau_patience(config: TrainConfig) -> int:
    """Epochs without improvement before the plateau schedule lowers the rate."""
    return max(1, config.early_stopping_patience // 2) if config.early_stopping_patience else 2


def learning_rate_at(config: TrainConfig, step: int, steps_per_epoch: int, lr_scale: float = 1.0,
                     epochs: int | None = None) -> float:
    """The configured schedule's learning rate at global ``step`` (linear warmup first); the cosine
    decays over ``epochs`` (default ``config.epochs``; fewer when a time limit fitted them)."""
    warmup = config.warmup_epochs * steps_per_epoch
    if step < warmup:
        return config.lr * (step + 1) / warmup
    if config.schedule == "cosine":
        span = max(1, (epochs or config.epochs) * steps_per_epoch - warmup)
        progress = min(1.0, (step - warmup) / span)
        return config.lr * 0.5 * (1.0 + math.cos(math.pi * progress))
    if config.schedule == "plateau":
        return config.lr * lr_scale
    return config.lr


class LearningRateControl(keras.callbacks.Callback):
    """Sets the optimizer's rate before every batch from the schedule and the shared state."""

    def __init__(self, config: TrainConfig, steps_per_epoch: int, state: TrainingState, monitor: str,
                 greater_is_better: bool = True):
        super().__init__()
        self.config, self.steps_per_epoch, self.state, self.monitor = config, steps_per_epoch, state, monitor
        self.greater_is_better = greater_is_better
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        step = self._epoch * self.steps_per_epoch + batch
        self.model.optimizer.learning_rate = learning_rate_at(
            self.config, step, self.steps_per_epoch, self.state.lr_scale, self.state.epochs(self.config.epochs)
        )

    def on_epoch_end(self, epoch, logs=None):
        logs["lr"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        if self.config.schedule != "plateau":
            return
        if improved(logs.get(self.monitor), self.state.best_score, self.greater_is_better):
            self.state.plateau_wait = 0
            return
        self.state.plateau_wait += 1
        if self.state.plateau_wait >= plateau_patience(self.config):
            self.state.lr_scale = max(self.state.lr_scale * PLATEAU_FACTOR, MIN_LR_SCALE)
            self.state.plateau_wait = 0


class TimeBudget(keras.callbacks.Callback):
    """``--time-limit``: after the first epoch, fit the unit's epochs to its share of the budget.

    The first epoch (training, validation; tracing included, so the estimate errs
    on the short side) sets the pace: the unit gets as many epochs as fit in
    ``seconds``, at least 1 and at most the configured ones, and the cosine decay
    is stretched over exactly those (AutoGluon's ``time_limit`` in spirit). The
    choice is saved in the loop state: a resumed run keeps it.
    """

    clock = staticmethod(time.monotonic)

    def __init__(self, seconds: float, epochs: int, state: TrainingState):
        super().__init__()
        self.seconds, self.configured, self.state = seconds, epochs, state
        self._started = self.clock()

    def on_epoch_begin(self, epoch, logs=None):
        self._started = self.clock()

    def on_epoch_end(self, epoch, logs=None):
        if self.state.fitted_epochs is None:
            self.state.fitted_epochs = fitted_epochs(self.seconds, self.clock() - self._started, self.configured)


def fitted_epochs(budget: float, first_epoch: float, configured: int) -> int:
    """How many epochs of ``first_epoch`` seconds fit in ``budget``: from 1 to ``configured``."""
    return max(1, min(configured, int(budget // max(first_epoch, 1e-9))))


class AveragedWeights(keras.callbacks.SwapEMAWeights):
    """Validation sees the optimizer's exponential moving average of the weights (Keras'
    ``SwapEMAWeights``: swapped in for each evaluation, out after); :meth:`in_model` swaps it in
    for the run keeper to save as the best model. Training itself, and the checkpoint, keep the
    raw weights (the average lives in the optimizer's state), so a resume continues exactly."""

    @contextlib.contextmanager
    def in_model(self) -> Iterator[None]:
        if self._ema_weights_in_model:
            yield
            return
        self._swap_variables()  # Keras' own swap: in place, also under a distribution strategy
        self._ema_weights_in_model = True
        try:
            yield
        finally:
            self._swap_variables()
            self._ema_weights_in_model = False


class RunKeeper(keras.callbacks.Callback):
    """After each epoch: history, best model, early stopping, then the resumable checkpoint.

    A NaN loss stops training before anything of that epoch is saved, so the
    best model and the last checkpoint stay the last good ones. With
    ``averaged`` (EMA), the best model saved is the weights' moving average.
    """

    def __init__(self, unit: "UnitFolder", state: TrainingState, monitor: str, patience: int, epochs: int,
                 greater_is_better: bool = True):
        super().__init__()
        self.unit, self.state, self.monitor = unit, state, monitor
        self.patience, self.epochs, self.greater_is_better = patience, epochs, greater_is_better
        self.nan_epoch: int | None = None
        self.averaged: AveragedWeights | None = None
        self._started = time.monotonic()

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        logs = {k: float(v) for k, v in (logs or {}).items()}
        if not math.isfinite(logs.get("loss", math.nan)):
            self.nan_epoch = epoch + 1
            self.model.stop_training = True
            return
        state = self.state
        state.epochs_done = epoch + 1
        state.train_seconds += time.monotonic() - self._started
        state.history.append({"epoch": epoch + 1, **logs})
        if improved(logs.get(self.monitor, math.nan), state.best_score, self.greater_is_better):
            score = logs[self.monitor]
            state.best_score, state.best_epoch, state.wait = score, epoch + 1, 0
            with self.averaged.in_model() if self.averaged is not None else contextlib.nullcontext():
                self.unit.save_best(self.model)
        else:
            state.wait += 1
        if self.patience and state.wait >= self.patience and state.epochs_done < state.epochs(self.epochs):
            state.stopped_early = True
            self.model.stop_training = True
        if state.epochs_done >= state.epochs(self.epochs):  # a time limit fitted fewer epochs than fit() runs
            self.model.stop_training = True
        self.unit.write_history(history_frame(state.history))
        self.unit.save_checkpoint(self.model, state.to_json())


class ValidationFromPredictions(keras.callbacks.Callback):
    """Adds the validation logs scored from predictions (``task.score``) to each epoch's logs.

    For tasks whose metric Keras cannot compute batch by batch (log loss with
    Kaggle's clipping, kappa after fitted cuts, RMSE of vote fractions):
    ``model.fit`` runs without validation data and this callback, first in the
    list, makes one prediction pass over the validation rows, as the step loop does.
    """

    def __init__(self, validation_logs: Callable[[], dict[str, float]]):
        super().__init__()
        self.validation_logs = validation_logs

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs.update(self.validation_logs())


def history_frame(history: list[dict[str, float]]) -> "pd.DataFrame":
    """The per-epoch logs as a table: ``epoch`` first, then the logs in name order (stable across resumes)."""
    import pandas as pd

    frame = pd.DataFrame(history)
    return frame[["epoch", *sorted(c for c in frame.columns if c != "epoch")]] if len(frame) else frame
