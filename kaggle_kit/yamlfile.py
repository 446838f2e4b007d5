"""The one reader of the small YAML and TOML files a user writes (config files, custom competitions).

``yaml.safe_load`` alone is not safe enough for them: a few hundred bytes of nested aliases
(``&a [*b, *b, ...]``) expand to gigabytes as soon as the result is copied, and YAML 1.1 reads
``1e-4`` as a string. This reader refuses anchors and aliases, documents over ``MAX_BYTES``,
values over ``MAX_SCALAR_CHARS``, nesting deeper than ``MAX_DEPTH``, more than ``MAX_NODES``
values, duplicate or non-text keys and tags outside the core types; it reads numbers as the
YAML 1.2 core schema does (``1e-4``, ``5E3``, ``0x1F``; ``010`` is ten, ``1:30`` and
``2024-01-01`` stay text). Every error names the file and, for YAML, the line.

>>> read_mapping("my.yaml", kind="config file")
{'lr': 0.0001, 'epochs': 3}
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from kaggle_kit.errors import ConfigError, KitError
from kaggle_kit.fsutil import read_regular_file

MAX_BYTES = 256 * 1024  # a hand-written file is a few kB; this bounds parse time (~0.3 s) and memory
MAX_SCALAR_CHARS = 4096  # the longest path a file system allows
MAX_DEPTH = 32
MAX_NODES = 10_000

_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_CORE + t for t in ("str", "int", "float", "bool", "null")}
# YAML 1.2 core schema numbers (https://yaml.org/spec/1.2.2/#1032-tag-resolution), with
# underscores between digits allowed as YAML 1.1 did.
_INT = re.compile(r"[-+]?[0-9][0-9_]*|0o[0-7][0-7_]*|0x[0-9a-fA-F][0-9a-fA-F_]*")
_FLOAT = re.compile(
    r"[-+]?(?:\.[0-9][0-9_]*|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
)
_BOOL = re.compile(r"yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF")
_NULL = re.compile(r"~|null|Null|NULL|")


class _Refused(Exception):
    """A structural problem found while composing, with the line it starts on (0-based)."""

    def __init__(self, message: str, mark) -> None:
        super().__init__(message)
        self.line = None if mark is None else mark.line


def read_mapping(path: str | Path, *, kind: str, missing_fix: str = "check the path") -> dict[str, Any]:
    """The mapping a ``.toml`` or YAML file holds; ``{}`` for an empty YAML file.

    ``kind`` names the file in errors (``"config file"``); ``missing_fix`` is the advice
    when it does not exist. Raises ``ConfigError`` naming the file (and line) otherwise.
    """
    path = Path(path)
    try:
        raw = read_regular_file(path, MAX_BYTES)
    except FileNotFoundError:
        raise ConfigError(f"{kind} {path} not found; {missing_fix}") from None
    except KitError as exc:
        raise ConfigError(f"{kind} {exc}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {kind} {path} ({exc.strerror}); check its permissions") from None
    if raw is None:
        raise ConfigError(f"{kind} {path} is larger than {MAX_BYTES // 1024} kB; a config is a few lines, check the file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{kind} {path} line {line} is not UTF-8 text; save the file as UTF-8") from None
    data = _load_toml(text, path, kind) if path.suffix == ".toml" else _load_yaml(text, f"{kind} {path}")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{kind} {path} must hold a mapping of key: value, not a {_type_word(data)}")
    return data


def parse_value(text: str, *, source: str) -> Any:
    """One YAML value written on the command line (``KEY=VALUE``), read like a file's values."""
    if len(text) > MAX_SCALAR_CHARS:
        raise ConfigError(f"{source}: the value is longer than {MAX_SCALAR_CHARS} characters; shorten it")
    return _load_yaml(text, source, lines=False)


def _load_yaml(text: str, where: str, lines: bool = True) -> Any:
    import yaml

    try:
        return yaml.load(text, Loader=_loader_class())  # noqa: S506 - our loader is a SafeLoader
    except _Refused as exc:
        line = f" line {exc.line + 1}" if lines and exc.line is not None else ""
        raise ConfigError(f"{where}{line}: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{where} nests deeper than {MAX_DEPTH} levels; flatten it") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if lines and mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid syntax"
        raise ConfigError(f"{where}{line} is not valid YAML ({problem}); fix the syntax there") from None


def _load_toml(text: str, path: Path, kind: str) -> dict[str, Any]:
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{kind} {path} is not valid TOML ({exc}); fix the syntax there") from None
    except RecursionError:
        raise ConfigError(f"{kind} {path} nests deeper than {MAX_DEPTH} levels; flatten it") from None
    problem = _oversized(data, "", 0, [0])
    if problem:
        raise ConfigError(f"{kind} {path}: {problem}")
    return data


def _oversized(value: Any, key: str, depth: int, count: list[int]) -> str | None:
    """The first limit a parsed TOML value breaks (TOML has no aliases, only size)."""
    count[0] += 1
    where = f" (at {key})" if key else ""
    if count[0] > MAX_NODES:
        return f"holds more than {MAX_NODES} values; a config is a few lines, check the file"
    if depth > MAX_DEPTH:
        return f"nests deeper than {MAX_DEPTH} levels{where}; flatten it"
    if isinstance(value, str) and len(value) > MAX_SCALAR_CHARS:
        return f"a value is longer than {MAX_SCALAR_CHARS} characters{where}; shorten it"
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for name, child in children:
        problem = _oversized(child, f"{key}.{name}" if key else str(name), depth + 1, count)
        if problem:
            return problem
    return None


def _type_word(value: Any) -> str:
    return {list: "list", str: "text value", int: "number", float: "number", bool: "true/false"}.get(type(value), type(value).__name__)


@functools.cache
def _loader_class():
    """A SafeLoader with the limits above, built on first use (``kit --help`` never imports yaml)."""
    import yaml
    from yaml.events import AliasEvent, MappingStartEvent, ScalarEvent, SequenceStartEvent
    from yaml.nodes import MappingNode, ScalarNode, SequenceNode

    class Resolver(yaml.resolver.BaseResolver):
        pass

    for tag, pattern, first in (
        ("bool", _BOOL, "yYnNtTfFoO"),
        ("int", _INT, "-+0123456789"),
        ("float", _FLOAT, "-+0123456789."),
        ("null", _NULL, ["~", "n", "N", ""]),
    ):
        Resolver.add_implicit_resolver(_CORE + tag, re.compile(rf"^(?:{pattern.pattern})$"), list(first))

    class Constructor(yaml.constructor.SafeConstructor):
        def construct_yaml_int(self, node):
            text = self.construct_scalar(node).replace("_", "")
            sign, digits = (-1, text[1:]) if text[0] == "-" else (1, text.lstrip("+"))
            base = {"0x": 16, "0o": 8}.get(digits[:2], 10)
            return sign * int(digits[2:] if base != 10 else digits, base)

    Constructor.add_constructor(_CORE + "int", Constructor.construct_yaml_int)

    class Loader(
        yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer,
        Constructor, Resolver,
    ):
        def __init__(self, stream):
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            yaml.composer.Composer.__init__(self)
            Constructor.__init__(self)
            Resolver.__init__(self)
            self.depth = 0
            self.nodes = 0

        def compose_node(self, parent, index):
            event = self.peek_event()
            if isinstance(event, AliasEvent) or event.anchor is not None:
                raise _Refused("anchors and aliases (&name, *name) are not accepted; write each value out", event.start_mark)
            self.nodes += 1
            if self.nodes > MAX_NODES:
                raise _Refused(f"holds more than {MAX_NODES} values; a config is a few lines, check the file", event.start_mark)
            if isinstance(event, ScalarEvent) and len(event.value) > MAX_SCALAR_CHARS:
                raise _Refused(f"a value is longer than {MAX_SCALAR_CHARS} characters; shorten it", event.start_mark)
            if isinstance(event, (MappingStartEvent, SequenceStartEvent)):
                self.depth += 1
                if self.depth > MAX_DEPTH:
                    raise _Refused(f"nests deeper than {MAX_DEPTH} levels; flatten it", event.start_mark)
            node = super().compose_node(parent, index)
            if isinstance(node, (MappingNode, SequenceNode)):
                self.depth -= 1
            wanted = _SCALAR_TAGS if isinstance(node, ScalarNode) else {_CORE + ("map" if isinstance(node, MappingNode) else "seq")}
            if node.tag not in wanted:
                raise _Refused(f"the tag {node.tag} is not accepted; write a plain value", node.start_mark)
            return node

        def compose_mapping_node(self, anchor):
            node = super().compose_mapping_node(anchor)
            seen = set()
            for key, _ in node.value:
                if not isinstance(key, ScalarNode) or key.tag != _CORE + "str":
                    raise _Refused("keys must be names (text), not numbers or lists; quote the key", key.start_mark)
                if key.value in seen:
                    raise _Refused(f"the key '{key.value}' appears twice; keep one", key.start_mark)
                seen.add(key.value)
            return node

    return Loader
