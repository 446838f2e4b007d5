"""The one typed coercion of configuration values, wherever they come from.

A YAML config file, a custom competition's recipe, ``--model-option KEY=VALUE``,
a sweep's ``--grid key=v1,v2`` and the command line all reach a ``TrainConfig``
field (or a model option) through :func:`coerce`: the value becomes the field's
type, or a ``ConfigError`` names the key, what it must be and what it got.

>>> coerce(float, "1e-4", "lr")
0.0001
>>> coerce(int, 2.5, "epochs")
Traceback (most recent call last):
kaggle_kit.errors.ConfigError: epochs must be a whole number (got 2.5)
"""

from __future__ import annotations

import json
import math
import types
import typing
from typing import Any, Mapping

from kaggle_kit.errors import ConfigError

TRUE_WORDS, FALSE_WORDS = ("true", "yes", "on", "1"), ("false", "no", "off", "0")
NONE_WORDS = ("none", "null", "~", "")


def coerce(kind: Any, value: Any, name: str) -> Any:
    """``value`` as ``kind``: ``int``, ``float``, ``bool``, ``str``, ``X | None``, ``tuple[X, ...]``,
    ``Mapping``, or ``Any``/``None`` (kept as it is). Text is read as the type it must be
    (``"1e-4"`` for a float, ``"yes"`` for a bool, ``"none"`` for an optional value)."""
    if kind is Any or kind is None:
        return value
    value = _plain(value)
    args = typing.get_args(kind)
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.strip().lower() in NONE_WORDS):
            if type(None) in args:
                return None
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            try:
                return coerce(inner[0], value, name)
            except ConfigError:
                raise ConfigError(f"{name} must be {describe(inner[0])} or null (got {shown(value)})") from None
        return value
    origin = typing.get_origin(kind) or kind
    if origin is tuple:
        return _tuple(args, value, name)
    if origin in (dict, Mapping) or (isinstance(origin, type) and issubclass(origin, Mapping)):
        if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
            raise ConfigError(f"{name} must be {describe(kind)} (got {shown(value)})")
        return dict(value)
    if kind in _SCALARS:
        converted = _SCALARS[kind](value)
        if converted is _FAIL:
            raise ConfigError(f"{name} must be {describe(kind)} (got {shown(value)})")
        return converted
    return value


def describe(kind: Any) -> str:
    """How an error names a type: "a whole number", "a pair [low, high] of numbers"…"""
    origin = typing.get_origin(kind) or kind
    if origin is tuple:
        return "a pair [low, high] of numbers" if len(typing.get_args(kind)) == 2 else "a list"
    if origin in (dict, Mapping) or (isinstance(origin, type) and issubclass(origin, Mapping)):
        return "a mapping of name: value"
    return {int: "a whole number", float: "a number", bool: "true or false", str: "text"}.get(kind, str(kind))


def shown(value: Any) -> str:
    """A value as an error quotes it: text in quotes, the rest as YAML/JSON writes it (numpy unwrapped)."""
    value = _plain(value)
    if isinstance(value, str):
        return repr(value) if len(value) <= 60 else repr(value[:57] + "...")
    try:
        text = json.dumps(value, default=str)
    except (TypeError, ValueError):
        text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


_FAIL = object()


def _plain(value: Any) -> Any:
    """numpy scalars as Python ones (a message shows ``nan``, never ``np.float64(nan)``)."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes, list, tuple, dict)):
        try:
            return value.item()
        except (TypeError, ValueError):
            return value
    return value


def _to_int(value: Any) -> Any:
    if isinstance(value, bool):
        return _FAIL
    if isinstance(value, int):
        return value
    number = _to_float(value)
    if number is _FAIL or not math.isfinite(number) or not float(number).is_integer():
        return _FAIL
    return int(number)


def _to_float(value: Any) -> Any:
    if isinstance(value, bool):
        return _FAIL
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return _FAIL
    return _FAIL


def _to_bool(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in TRUE_WORDS + FALSE_WORDS:
        return value.strip().lower() in TRUE_WORDS
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    return _FAIL


def _to_str(value: Any) -> Any:
    return value if isinstance(value, str) else _FAIL


_SCALARS = {int: _to_int, float: _to_float, bool: _to_bool, str: _to_str}


def _tuple(args: tuple, value: Any, name: str) -> tuple:
    kind = tuple if not args else typing.Tuple[args]  # noqa: UP006 - for describe()
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ConfigError(f"{name} must be {describe(kind)} (got {shown(value)})")
    if args and args[-1] is not Ellipsis and len(value) != len(args):
        raise ConfigError(f"{name} must be {describe(kind)} (got {shown(value)})")
    items = args if args and args[-1] is not Ellipsis else (args[0] if args else Any,) * len(value)
    try:
        return tuple(coerce(item, element, name) for item, element in zip(items, value))
    except ConfigError:
        raise ConfigError(f"{name} must be {describe(kind)} (got {shown(value)})") from None
