"""The compiled model of a unit: the zoo's model, the task's loss and metrics, the optimizer; precision.

>>> model = build_compiled_model(config, make_task("auc"), (96, 96, 3))
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Iterator

import numpy as np

from kaggle_kit.config import TrainConfig

if TYPE_CHECKING:
    import keras

    from kaggle_kit.training.task import Task


def build_compiled_model(config: TrainConfig, task: "Task", image_shape: tuple[int, ...],
                         initial_bias: np.ndarray | None = None) -> "keras.Model":
    """``create_model`` from the config, compiled with the task's loss and metrics and the config's optimizer.

    ``initial_bias`` (the task's, from the training targets) starts the output layer at the prior.
    """
    from kaggle_kit.models import create_model

    model = create_model(config.model, image_shape, outputs=task.outputs, **model_options(config))
    if initial_bias is not None:
        set_output_bias(model, np.asarray(initial_bias, dtype="float32").reshape(-1))
    model.compile(optimizer=make_optimizer(config), loss=task.loss(config), metrics=task.metrics())
    return model


def check_model(config: TrainConfig) -> None:
    """Build the config's model once and drop it: its name, its options (names, types, ranges) and
    the image size are checked before anything is prepared or a run folder made."""
    from kaggle_kit.models import create_model

    create_model(config.model, (config.image_size, config.image_size, 3), **model_options(config))


def set_output_bias(model: "keras.Model", bias: np.ndarray) -> None:
    """Set the bias of the model's last layer that has one, when it is as wide as ``bias`` (the logits)."""
    head = next((layer for layer in reversed(model.layers) if getattr(layer, "bias", None) is not None), None)
    if head is not None and tuple(head.bias.shape) == bias.shape:
        head.bias.assign(bias)


def model_options(config: TrainConfig) -> dict:
    """The builder's keyword options: ``model_options``, plus ``weights`` when set."""
    options = dict(config.model_options)
    if config.weights is not None:
        options["weights"] = config.weights
    return options


def make_optimizer(config: TrainConfig) -> "keras.optimizers.Optimizer":
    """The config's optimizer; with ``ema_momentum`` it also keeps an exponential moving average of the
    weights (Keras' ``use_ema``; ``callbacks.AveragedWeights`` validates and saves that average)."""
    import keras

    decay = config.weight_decay or None
    ema = {"use_ema": True, "ema_momentum": config.ema_momentum} if config.ema_momentum else {}
    if config.optimizer == "adam":
        return keras.optimizers.Adam(config.lr, weight_decay=decay, **ema)
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(config.lr, weight_decay=config.weight_decay, **ema)
    if config.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(config.lr, weight_decay=decay, **ema)
    return keras.optimizers.SGD(config.lr, momentum=0.9, nesterov=True, weight_decay=decay, **ema)


def gpu_count() -> int:
    import tensorflow as tf

    return len(tf.config.list_physical_devices("GPU"))


@contextlib.contextmanager
def precision_policy(config: TrainConfig) -> Iterator[str]:
    """The policy ``config.mixed_precision`` asks for on this hardware (``training.precision``); restored after."""
    import keras

    from kaggle_kit.training.precision import cpu_supports_bfloat16, policy_name

    previous = keras.mixed_precision.global_policy().name
    policy = policy_name(config.mixed_precision, gpus=gpu_count(), cpu_bf16=cpu_supports_bfloat16())
    keras.mixed_precision.set_global_policy(policy)
    try:
        yield policy
    finally:
        keras.mixed_precision.set_global_policy(previous)
