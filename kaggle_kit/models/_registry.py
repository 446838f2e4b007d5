"""The model registry: builders registered by a decorator, one front door to build them.

The built-ins register when ``kaggle_kit.models`` is imported (its ``__init__``
imports them); a model module imports only this one.

A builder is a function ``builder(input_shape, *, option=default, ...) ->
keras.Model``; its keyword-only parameters are the model's options, its
docstring's first line the description. Every model takes raw pixels (0–255,
float32) and returns ``(batch, outputs)`` float32 logits: one for a binary task
(``create_model(..., outputs=K)`` widens the head for K classes, labels or targets).

>>> from kaggle_kit.models import create_model, list_models
>>> "kit-resnet" in list_models()
True
>>> create_model("notebook-cnn", (32, 32, 3), bn_position="after").output.shape
(None, 1)
"""

from __future__ import annotations

import dataclasses
import inspect
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

from kaggle_kit.coerce import coerce
from kaggle_kit.errors import ConfigError, UnknownNameError

if TYPE_CHECKING:
    import keras

Builder = Callable[..., "keras.Model"]
LOGITS = "logits"  # the name of every builder's output layer (``_layers.logit_head``)


@dataclass(frozen=True)
class ModelInfo:
    """What ``kit models`` shows about a registered model."""

    name: str
    description: str
    options: Mapping[str, Any] = field(default_factory=dict)  # option -> default value
    reference_shape: tuple[int, int, int] = (96, 96, 3)  # the input its parameter count is quoted at
    builder: Builder | None = field(default=None, repr=False, compare=False)


_MODELS: dict[str, ModelInfo] = {}


def register_model(
    builder: Builder | None = None, *, name: str | None = None, reference_shape: tuple[int, int, int] = (96, 96, 3)
):
    """Decorator: register ``builder`` under ``name`` (default: its name with ``_`` → ``-``).

    Use bare (``@register_model``) or with arguments
    (``@register_model(name="notebook-cnn", reference_shape=(32, 32, 3))``).
    Registering a name twice warns and the later one wins.
    """

    def decorate(function: Builder) -> Builder:
        model_name = name or function.__name__.replace("_", "-")
        if model_name in _MODELS:
            warnings.warn(f"model '{model_name}' registered twice; the later one wins", stacklevel=3)
        _MODELS[model_name] = ModelInfo(
            name=model_name,
            description=_first_line(function.__doc__),
            options=_keyword_defaults(function),
            reference_shape=tuple(reference_shape),
            builder=function,
        )
        return function

    return decorate(builder) if builder is not None else decorate


def list_models() -> list[str]:
    """Names of the registered models, sorted."""
    return sorted(_MODELS)


def model_info(name: str) -> ModelInfo:
    """Description, options with their defaults and reference input shape of a model."""
    if name not in _MODELS:
        raise UnknownNameError("model", name, sorted(_MODELS))
    return _MODELS[name]


def create_model(name: str, input_shape: tuple[int, int, int], outputs: int = 1, **options: Any) -> "keras.Model":
    """Build the uncompiled model ``name`` for ``input_shape`` (H, W, channels) with ``outputs`` logits.

    Builders end in the one-logit head (``logit_head``); ``outputs`` > 1 (a class
    per output, a label column, a regression target) replaces it by a head as
    wide, on the same features. Unknown options raise :class:`ConfigError`
    naming the valid ones.
    """
    if not (isinstance(outputs, int) and outputs >= 1):
        raise ConfigError(f"model '{name}' needs a positive number of outputs, got {outputs!r}")
    model = _build(name, input_shape, **options)
    return model if outputs == 1 else _widen_head(model, name, outputs)


def _widen_head(model: "keras.Model", name: str, outputs: int) -> "keras.Model":
    """``model`` with its one-logit ``logits`` layer replaced by ``outputs`` float32 logits."""
    import keras
    from keras import layers

    try:
        head = model.get_layer(LOGITS)
    except ValueError:
        raise ConfigError(f"model '{name}' has no layer named '{LOGITS}' to widen to {outputs} outputs; "
                          "end its builder with models._layers.logit_head") from None
    logits = layers.Dense(outputs, dtype="float32", name=LOGITS)(head.input)
    return keras.Model(model.inputs, logits, name=model.name)


def _build(name: str, input_shape: tuple[int, int, int], **options: Any) -> "keras.Model":
    info = model_info(name)
    unknown = sorted(set(options) - set(info.options))
    if unknown:
        valid = ", ".join(sorted(info.options)) or "none"
        raise ConfigError(
            f"model '{name}' has no option(s) {', '.join(unknown)}; valid options are {valid}"
        )
    options = {key: coerce(option_type(info.options[key]), value, f"model '{name}' option {key}")
               for key, value in options.items()}
    shape = _check_shape(name, input_shape)
    try:
        return info.builder(shape, **options)
    except ValueError as exc:
        # Keras reports a too-small input as a shape error deep inside a layer
        # (e.g. a pooling window larger than what is left of the image).
        if "negative" in str(exc) or "zero" in str(exc):
            raise ConfigError(
                f"model '{name}' cannot be built for {shape[0]}×{shape[1]} images: its layers shrink them to "
                "nothing; use a larger --image-size"
            ) from None
        raise


def count_params(name: str, input_shape: tuple[int, int, int] | None = None, **options: Any) -> int:
    """Parameters of ``name`` built at ``input_shape`` (default: its reference shape)."""
    shape = input_shape or model_info(name).reference_shape
    return int(create_model(name, shape, **options).count_params())


def _check_shape(name: str, input_shape: Any) -> tuple[int, int, int]:
    shape = tuple(input_shape)
    if len(shape) != 3 or not all(isinstance(v, int) and v > 0 for v in shape):
        raise ConfigError(f"model '{name}' needs input_shape (height, width, channels) of positive ints, got {input_shape}")
    return shape


def option_type(default: Any) -> type | None:
    """The type a model option's values take: its default's (any value when the default is ``None``)."""
    return None if default is None else type(default)


def _keyword_defaults(function: Builder) -> dict[str, Any]:
    parameters = inspect.signature(function).parameters.values()
    return {p.name: p.default for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().splitlines()[0] if doc and doc.strip() else ""


@dataclass(frozen=True)
class ModelSummary:
    """One row of ``kit models``."""

    name: str
    params: int
    reference_shape: tuple[int, int, int]
    description: str


def describe_models(names: list[str] | None = None) -> list[ModelSummary]:
    """Parameters (built at each model's reference shape) and description of ``names`` (default: all)."""
    chosen = list_models() if not names else [model_info(n).name for n in names]
    summaries = []
    for name in chosen:
        info = model_info(name)
        params = count_params(name)
        summaries.append(ModelSummary(name, params, info.reference_shape, info.description))
    return summaries


def render_models(summaries: list[ModelSummary], fmt: str = "table") -> str:
    """``kit models``: name, parameters, reference input and description, as ``fmt``."""
    from kaggle_kit.tables import Column, column, render

    rows = [dataclasses.asdict(summary) for summary in summaries]
    columns = [column("name"), Column("params", lambda row: f"{row['params']:,}"),
               Column("input", lambda row: "x".join(map(str, row["reference_shape"]))), column("description")]
    return render(rows, fmt, keys=[f.name for f in dataclasses.fields(ModelSummary)], columns=columns)
