"""One training unit (the hold-out, or one fold): build or restore, fit, predict validation.

Device placement lives here too: the distribution strategy and mixed
precision. A multi-worker strategy needs its own step loop (``model.fit`` fails
under it in Keras 3, see docs); it would replace :func:`_fit` and reuse the rest.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from kaggle_kit.config import TrainConfig
from kaggle_kit.errors import TrainingError
from kaggle_kit.runs import BEST_MODEL
from kaggle_kit.training.checkpoints import TrainingState, latest_checkpoint


@dataclass(frozen=True)
class UnitData:
    """What one unit trains and validates on: cache rows and labels."""

    store: Any  # an ImageStore (or anything with shape, __len__, read)
    train_rows: np.ndarray
    train_labels: np.ndarray
    val_rows: np.ndarray
    val_labels: np.ndarray
    class_weight: dict[int, float] | None = None


@dataclass(frozen=True)
class UnitResult:
    state: TrainingState
    val_probs: np.ndarray  # of the best model, in val_rows order


def fit_unit(
    unit_dir: Path, config: TrainConfig, metric: str, data: UnitData, *, fold: int = 0, progress: bool = True
) -> UnitResult:
    """Train one unit to its end (resuming from its last checkpoint), return the best model's predictions."""
    import keras

    from kaggle_kit.training.callbacks import LearningRateControl, RunKeeper, monitored_metric
    from kaggle_kit.training.distributed import fit_unit_multiworker, scaled_config

    if config.strategy == "multiworker":  # model.fit fails under it: the distributed module's own step loop
        return fit_unit_multiworker(unit_dir, config, metric, data, fold=fold, progress=progress)
    unit_dir.mkdir(parents=True, exist_ok=True)
    monitor = monitored_metric(metric)
    image_shape = tuple(int(v) for v in data.store.shape[1:])
    strategy = distribution_strategy(config)
    config = scaled_config(config, strategy)  # --batch-size is per replica; fit splits the global batch
    with precision_policy(config), strategy.scope():
        restored = latest_checkpoint(unit_dir)
        state = TrainingState() if restored is None else restored[1]
        if not state.finished(config.epochs):  # a finished unit (an earlier fold) only predicts
            keras.utils.set_random_seed(config.seed + fold)
            model = build_compiled_model(config, image_shape) if restored is None else load_model(restored[0])
            steps = math.ceil(len(data.train_rows) / config.batch_size)
            keeper = RunKeeper(unit_dir, state, monitor, config.early_stopping_patience, config.epochs)
            callbacks = [LearningRateControl(config, steps, state, monitor), keeper]
            _fit(model, config, data, callbacks, state.epochs_done, fold, progress)
            if keeper.nan_epoch is not None:
                raise TrainingError(_nan_message(unit_dir, keeper.nan_epoch, state))
        if state.best_score is None:
            raise TrainingError(
                f"no epoch of {unit_dir} produced a finite {monitor}; check the labels (both classes in validation?)"
            )
        best = load_model(unit_dir / BEST_MODEL)
        probs = predict_probs(best, data.store, data.val_rows, config.batch_size)
    return UnitResult(state=state, val_probs=probs)


def _fit(model, config: TrainConfig, data: UnitData, callbacks: list, initial_epoch: int, fold: int, progress: bool):
    import tensorflow as tf

    from kaggle_kit.data.pipeline import make_dataset

    # A resumed run draws a new, still seed-determined, order for the epochs it still has to do.
    data_seed = config.seed + 1000 * fold + initial_epoch
    train_ds = make_dataset(data.store, data.train_rows, data.train_labels, config.batch_size,
                            training=True, augment=config.augment, seed=data_seed)
    val_ds = make_dataset(data.store, data.val_rows, data.val_labels, config.batch_size, training=False)
    try:
        model.fit(train_ds, validation_data=val_ds, epochs=config.epochs, initial_epoch=initial_epoch,
                  class_weight=data.class_weight, callbacks=callbacks, verbose=1 if progress else 0, shuffle=False)
    except tf.errors.ResourceExhaustedError:
        raise TrainingError(
            f"out of memory training {config.model} on {config.image_size}×{config.image_size} images at "
            f"batch size {config.batch_size}; retry with --batch-size {max(1, config.batch_size // 2)} "
            "(or a smaller --image-size)"
        ) from None


def _nan_message(unit_dir: Path, epoch: int, state: TrainingState) -> str:
    kept = (
        f"the best model (epoch {state.best_epoch}) is kept in {unit_dir / BEST_MODEL}"
        if state.best_score is not None
        else "no model was saved"
    )
    return f"training loss became NaN in epoch {epoch} of {unit_dir}; {kept}; retry with a lower --lr"


def build_compiled_model(config: TrainConfig, image_shape: tuple[int, ...]):
    """``create_model`` from the config, compiled with the loss, optimizer and metrics of the loop."""
    import keras

    from kaggle_kit.models import create_model

    options = dict(config.model_options)
    if config.weights is not None:
        options["weights"] = config.weights
    model = create_model(config.model, image_shape, **options)
    model.compile(
        optimizer=make_optimizer(config),
        loss=keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=config.label_smoothing),
        metrics=[
            keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy"),  # logits: 0 is probability 0.5
            keras.metrics.AUC(from_logits=True, name="auc"),
        ],
    )
    return model


def make_optimizer(config: TrainConfig):
    import keras

    decay = config.weight_decay or None
    if config.optimizer == "adam":
        return keras.optimizers.Adam(config.lr, weight_decay=decay)
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(config.lr, weight_decay=decay)
    return keras.optimizers.SGD(config.lr, momentum=0.9, nesterov=True, weight_decay=decay)


def load_model(path: Path):
    """A saved ``.keras`` model, with the zoo's and the kit's custom layers registered first."""
    import keras

    import kaggle_kit.data._layers  # noqa: F401  (registers the kit's preprocessing layers)
    from kaggle_kit.models import list_models

    list_models()  # registers the zoo's builders and their custom layers
    return keras.models.load_model(path)


def predict_probs(model, store, rows: np.ndarray, batch_size: int) -> np.ndarray:
    """Sigmoid probabilities for ``rows``, in order, through the shared pipeline."""
    import tensorflow as tf

    from kaggle_kit.data.pipeline import make_dataset

    dataset = make_dataset(store, rows, None, batch_size, training=False)
    logits = model.predict(dataset, verbose=0).reshape(-1)
    return tf.math.sigmoid(tf.constant(logits, tf.float32)).numpy()


def gpu_count() -> int:
    import tensorflow as tf

    return len(tf.config.list_physical_devices("GPU"))


def distribution_strategy(config: TrainConfig):
    """``auto``: MirroredStrategy over all GPUs when there are several, else the default strategy."""
    from kaggle_kit.training.distributed import select_strategy

    return select_strategy(config)


@contextlib.contextmanager
def precision_policy(config: TrainConfig) -> Iterator[str]:
    """mixed_float16 on a GPU (``auto``) or when asked (``on``); the previous policy restored after."""
    import keras

    wanted = config.mixed_precision == "on" or (config.mixed_precision == "auto" and gpu_count() > 0)
    previous = keras.mixed_precision.global_policy().name
    policy = "mixed_float16" if wanted else "float32"
    keras.mixed_precision.set_global_policy(policy)
    try:
        yield policy
    finally:
        keras.mixed_precision.set_global_policy(previous)
