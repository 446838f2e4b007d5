"""The training configuration: a frozen dataclass, layered and validated.

Layers, later ones winning: the dataclass defaults → the competition's recipe
(``default`` or ``notebook``) → a YAML config file → command-line options. The
result is validated, frozen, and written as ``config.yaml`` into the run folder,
from which the run can be reproduced (``TrainConfig.from_yaml``).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from kaggle_kit.coerce import coerce, shown
from kaggle_kit.errors import ConfigError
from kaggle_kit.yamlfile import read_mapping

BALANCE_CHOICES = ("none", "undersample", "oversample", "class-weight")
FILL_MODES = ("reflect", "constant", "nearest", "wrap")
OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd")
SCHEDULES = ("constant", "cosine", "plateau")
STRATEGIES = ("auto", "none", "mirrored", "multiworker")
MIXED_PRECISION = ("auto", "on", "off", "float16", "bfloat16")
# Bounds that keep every derived value in range: seeds are offset by folds and epochs and must fit
# the 32-bit seeds of numpy and scikit-learn.
MAX_SEED = 2**31 - 1
MAX_EPOCHS = 100_000
MAX_BATCH = 65_536
DATA_SETTINGS = ("image_size", "crop", "balance", "min_vote_fraction", "max_images", "seed", "stain_norm")  # the cache's identity
STAIN_NORMS = ("none", "macenko")
THRESHOLD_RULES = ("accuracy", "balanced")


@dataclass(frozen=True)
class AugmentConfig:
    """ImageDataGenerator's vocabulary, built from Keras preprocessing layers.

    Ranges follow ImageDataGenerator: ``rotation_range`` and ``shear_range`` in
    degrees, shifts and zoom as fractions of the image size, ``brightness_range``
    as a (low, high) multiplier pair. ``dihedral`` draws one of the 8 flips and
    quarter-turns, for images with no preferred orientation. ``hed_range``,
    ``hue_range`` and ``saturation_range`` jitter each image's colour (stain and
    scanner variation between slides; the maths in ``data.stain``).
    """

    rotation_range: float = 0.0
    width_shift_range: float = 0.0
    height_shift_range: float = 0.0
    zoom_range: float = 0.0
    shear_range: float = 0.0
    horizontal_flip: bool = False
    vertical_flip: bool = False
    dihedral: bool = False
    brightness_range: tuple[float, float] | None = None
    contrast_range: float = 0.0
    fill_mode: str = "reflect"
    # Colour, for stain and scanner variation between slides (data/stain.py); not ImageDataGenerator's.
    hed_range: float = 0.0  # HED stain jitter σ (Tellez et al. 2019: 0.05 light, 0.2 strong)
    hue_range: float = 0.0  # hue turned by up to this fraction of the colour circle
    saturation_range: float = 0.0  # saturation multiplied by 1 ± this

    def __post_init__(self) -> None:
        _coerce_fields(self, prefix="augment.")

    def is_identity(self) -> bool:
        return self == AugmentConfig(fill_mode=self.fill_mode)


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs; saved as the run's ``config.yaml``."""

    competition: str
    recipe: str = "default"
    # data
    image_size: int = 96
    crop: float = 1.0  # fraction of the native frame kept (central crop) before resizing
    stain_norm: str = "none"  # "macenko": every image's H&E stains mapped onto one reference, in the cache
    balance: str = "none"
    min_vote_fraction: float | None = None  # Galaxy Zoo 2 confidence filter
    max_images: int | None = None
    pseudo_label: str | None = None  # a run whose confident test predictions join the training rows
    pseudo_confidence: float = 0.95  # ...those with probability >= this or <= 1 - this
    val_fraction: float = 0.2
    folds: int = 0  # 0 = one stratified hold-out split; K >= 2 = stratified K-fold
    # model
    model: str = "kit-resnet"
    model_options: Mapping[str, Any] = field(default_factory=dict)
    weights: str | None = None  # None, or "imagenet" for keras.applications backbones
    # optimisation
    epochs: int = 20
    batch_size: int = 64
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    schedule: str = "cosine"
    warmup_epochs: int = 0
    label_smoothing: float = 0.0
    ema_momentum: float = 0.0  # > 0: validate and keep the EMA of the weights (per step; e.g. 0.999), not the weights
    early_stopping_patience: int = 5
    time_limit: float = 0.0  # seconds for the whole training (0: none): epochs fitted after the first one
    seed: int = 42
    # The 0/1 cut of an accuracy submission, fitted on validation: best accuracy, or best balanced accuracy
    # (which holds when the test set's class balance differs).
    threshold_rule: str = "accuracy"
    # Predict and submit: re-estimate BatchNorm statistics on the test images first (AdaBN), unless told otherwise.
    adabn: bool = False
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    # hardware
    strategy: str = "auto"
    mixed_precision: str = "auto"

    def __post_init__(self) -> None:
        object.__setattr__(self, "augment", _augment_config(self.augment))
        _coerce_fields(self)
        _validate(self)

    def data_settings(self) -> dict[str, Any]:
        """What the prepared cache is built from: ``PrepareOptions(**config.data_settings())``."""
        return {name: getattr(self, name) for name in DATA_SETTINGS}

    # --- serialisation -------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["model_options"] = dict(self.model_options)
        if self.augment.brightness_range is not None:
            data["augment"]["brightness_range"] = list(self.augment.brightness_range)
        return data

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def digest(self) -> str:
        """A short stable hash of the whole config (for leaderboards and cache keys)."""
        blob = json.dumps(self.to_dict(), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "config") -> "TrainConfig":
        return _build(dict(data), source)

    @classmethod
    def from_yaml(cls, path: str | Path) -> "TrainConfig":
        return cls.from_dict(read_config_file(path), source=str(path))

    def replace(self, **changes: Any) -> "TrainConfig":
        return merge(self, changes, source="replace")


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping of options (``yamlfile``: no aliases, YAML 1.2 numbers, bounded size)."""
    return read_mapping(path, kind="config file", missing_fix="check the path given to --config")


def merge(base: TrainConfig, changes: Mapping[str, Any], source: str) -> TrainConfig:
    """Return ``base`` with ``changes`` applied (nested ``augment`` keys merge too).

    Fewer ``epochs`` than an earlier layer's ``warmup_epochs`` carry the warm-up down with them
    (``--epochs 1`` on a recipe with a 1-epoch warm-up trains, without warm-up), unless the same
    layer sets ``warmup_epochs`` too.
    """
    data = base.to_dict()
    if "epochs" in changes and "warmup_epochs" not in changes:
        try:
            epochs = coerce(int, changes["epochs"], "epochs")
        except ConfigError:
            epochs = None  # _build reports it, naming the source
        if epochs is not None and epochs >= 1 and data["warmup_epochs"] >= epochs:
            data["warmup_epochs"] = epochs - 1
    for key, value in changes.items():
        if key == "augment" and isinstance(value, Mapping):
            data["augment"] = {**data["augment"], **value}
        elif key == "model_options" and isinstance(value, Mapping):
            data["model_options"] = {**data["model_options"], **value}
        else:
            data[key] = value
    return _build(data, source)


def layered_config(
    competition: str,
    recipe: Mapping[str, Any],
    recipe_name: str = "default",
    config_file: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> TrainConfig:
    """Defaults → recipe → config file → CLI overrides (``None`` values are ignored)."""
    config = _build({"competition": competition, "recipe": recipe_name}, "defaults")
    config = merge(config, recipe, source=f"recipe '{recipe_name}'")
    if config_file is not None:
        from_file = read_config_file(config_file)
        from_file.pop("competition", None)
        config = merge(config, from_file, source=str(config_file))
    if overrides:
        given = {k: v for k, v in overrides.items() if v is not None}
        config = merge(config, given, source="command-line options")
    return config


def _build(data: dict[str, Any], source: str) -> TrainConfig:
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(data) - known, key=str)
    if unknown:
        raise ConfigError(
            f"{source}: unknown option(s) {', '.join(map(str, unknown))}; valid options are {', '.join(sorted(known))}"
        )
    try:
        return TrainConfig(**data)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except TypeError as exc:  # a required field missing (competition)
        raise ConfigError(f"{source}: {exc}") from None


def _augment_config(value: Any) -> AugmentConfig:
    """``augment`` as an ``AugmentConfig``: a mapping of its options (unknown ones refused) or one already."""
    if isinstance(value, AugmentConfig):
        return value
    if value is None:
        return AugmentConfig()
    if not isinstance(value, Mapping):
        raise ConfigError(f"augment must be a mapping of augmentation options (got {shown(value)})")
    known = {f.name for f in fields(AugmentConfig)}
    unknown = sorted(set(value) - known, key=str)
    if unknown:
        raise ConfigError(f"unknown augment option(s) {', '.join(map(str, unknown))}; "
                          f"valid are {', '.join(sorted(known))}")
    return AugmentConfig(**value)


@functools.cache
def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _coerce_fields(instance: Any, prefix: str = "") -> None:
    """Every field of a frozen config dataclass as its annotated type (``coerce``: the one path)."""
    types = _field_types(type(instance))
    for f in fields(instance):
        if types[f.name] is AugmentConfig:
            continue  # already coerced by its own __post_init__
        object.__setattr__(instance, f.name, coerce(types[f.name], getattr(instance, f.name), prefix + f.name))


TIME_UNITS = {"s": 1, "m": 60, "h": 3600}


def parse_duration(text: str) -> float:
    """``"30m"``, ``"1h30m"``, ``"90s"`` or a bare number of seconds → seconds (``--time-limit``)."""
    import re

    cleaned = str(text).strip().lower().replace(" ", "")
    try:
        seconds = float(cleaned)
    except ValueError:
        parts = re.fullmatch(r"((\d+(\.\d+)?)h)?((\d+(\.\d+)?)m)?((\d+(\.\d+)?)s)?", cleaned)
        if not cleaned or parts is None:
            raise ConfigError(f"time limit '{text}' is not a duration; write it like 30m, 1h30m, 90s or 1800")
        seconds = sum(float(parts.group(i) or 0) * TIME_UNITS[unit] for i, unit in ((2, "h"), (5, "m"), (8, "s")))
    if seconds <= 0:
        raise ConfigError(f"time limit '{text}' must be longer than zero")
    return seconds


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def _choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    _check(value in choices, f"{name} must be one of {', '.join(choices)} (got '{value}')")


def _validate(c: TrainConfig) -> None:
    _check(isinstance(c.image_size, int) and 8 <= c.image_size <= 1024, "image_size must be an integer from 8 to 1024")
    _check(0.05 <= float(c.crop) <= 1.0, "crop must be a fraction of the frame from 0.05 to 1.0")
    _choice("balance", c.balance, BALANCE_CHOICES)
    _choice("stain_norm", c.stain_norm, STAIN_NORMS)
    _choice("threshold_rule", c.threshold_rule, THRESHOLD_RULES)
    _check(c.min_vote_fraction is None or 0.0 <= c.min_vote_fraction <= 1.0, "min_vote_fraction must be from 0 to 1")
    _check(c.max_images is None or c.max_images >= 4, "max_images must be at least 4")
    _check(0.0 < c.val_fraction < 0.9, "val_fraction must be above 0 and below 0.9")
    _check(0.5 < c.pseudo_confidence < 1.0, "pseudo_confidence must be above 0.5 and below 1, e.g. 0.95")
    _check(c.folds == 0 or 2 <= c.folds <= 20, "folds must be 0 (hold-out) or from 2 to 20")
    _check(1 <= c.epochs <= MAX_EPOCHS, f"epochs must be from 1 to {MAX_EPOCHS}")
    _check(1 <= c.batch_size <= MAX_BATCH, f"batch_size must be from 1 to {MAX_BATCH}")
    _choice("optimizer", c.optimizer, OPTIMIZERS)
    _check(0.0 < c.lr < 10.0, "lr must be a positive learning rate below 10")
    _check(0.0 <= c.weight_decay < 1.0, "weight_decay must be from 0 to below 1")
    _choice("schedule", c.schedule, SCHEDULES)
    _check(0 <= c.warmup_epochs < c.epochs, "warmup_epochs must be from 0 to epochs - 1")
    _check(0.0 <= c.label_smoothing < 0.5, "label_smoothing must be from 0 to below 0.5")
    _check(0.0 <= c.ema_momentum < 1.0, "ema_momentum must be 0 (off) or a momentum below 1, e.g. 0.999")
    _check(0 <= c.early_stopping_patience <= MAX_EPOCHS, "early_stopping_patience must be 0 (off) or more")
    _check(0 <= c.seed <= MAX_SEED, f"seed must be a whole number from 0 to {MAX_SEED}")
    _check(c.weights in (None, "imagenet"), "weights must be empty or 'imagenet'")
    _choice("strategy", c.strategy, STRATEGIES)
    _check(c.time_limit >= 0, "time_limit must be 0 (none) or a number of seconds")
    _check(not (c.time_limit and c.strategy == "multiworker"),
           "time_limit does not work with strategy multiworker (each worker would time its own epochs); "
           "set --epochs instead")
    _choice("mixed_precision", c.mixed_precision, MIXED_PRECISION)
    a = c.augment
    _check(0.0 <= a.rotation_range <= 360.0, "augment.rotation_range must be degrees from 0 to 360")
    for name in ("width_shift_range", "height_shift_range", "zoom_range", "contrast_range"):
        _check(0.0 <= getattr(a, name) < 1.0, f"augment.{name} must be a fraction from 0 to below 1")
    _check(0.0 <= a.shear_range < 90.0, "augment.shear_range must be degrees from 0 to below 90")
    _check(0.0 <= a.hed_range <= 1.0, "augment.hed_range must be from 0 to 1 (Tellez et al.: 0.05 light, 0.2 strong)")
    _check(0.0 <= a.hue_range <= 0.5, "augment.hue_range must be a fraction of the colour circle from 0 to 0.5")
    _check(0.0 <= a.saturation_range < 1.0, "augment.saturation_range must be a fraction from 0 to below 1")
    if a.brightness_range is not None:
        low, high = a.brightness_range
        _check(0.0 < low <= high <= 10.0, "augment.brightness_range must be a pair low <= high, both above 0 and at most 10")
    _choice("augment.fill_mode", a.fill_mode, FILL_MODES)
