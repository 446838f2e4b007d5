"""The one table renderer of the listing commands: aligned text, JSON or CSV from the same rows.

A listing is rows (mappings of plain values), the ``keys`` scripts read (JSON
objects, CSV columns: raw values, numbers as numbers, missing as ``null`` or an
empty cell) and the ``columns`` people read (a title and how a row shows in it).

>>> rows = [{"slug": "galaxy-zoo-2", "score": 0.93}]
>>> print(render(rows, "csv", keys=["slug", "score"], columns=[column("slug")]))
slug,score
galaxy-zoo-2,0.93
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

FORMATS = ("table", "json", "csv")


@dataclass(frozen=True)
class Column:
    """One column of the text table: its title, and its cell text for a row."""

    title: str
    cell: Callable[[Mapping[str, Any]], str]


def column(key: str, title: str | None = None, text: Callable[[Any], str] | None = None) -> Column:
    """A column showing ``row[key]`` (through ``text``; by default ``-`` when missing)."""
    shown = text or plain_text
    return Column(title if title is not None else key, lambda row: shown(row.get(key)))


def plain_text(value: Any) -> str:
    return "-" if _data_value(value) is None else str(value)


def render(rows: Sequence[Mapping[str, Any]], fmt: str, *, keys: Sequence[str], columns: Sequence[Column]) -> str:
    """``rows`` as ``fmt`` (``table``, ``json`` or ``csv``), without a trailing newline.

    A table has a header line and left-aligned columns two spaces apart, each
    line stripped on the right; JSON is a list of objects with ``keys``; CSV
    has a header of ``keys``.
    """
    if fmt == "json":
        return json.dumps([{key: _data_value(row.get(key)) for key in keys} for row in rows], indent=2)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(keys)
        for row in rows:
            writer.writerow([_csv_cell(_data_value(row.get(key))) for key in keys])
        return buffer.getvalue().rstrip("\n")
    if fmt != "table":
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    lines = [[c.title for c in columns]] + [[c.cell(row) for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(columns))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines)


def _csv_cell(value: Any) -> Any:
    """A CSV cell: empty for a missing value, JSON for a list or mapping."""
    if value is None:
        return ""
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def _data_value(value: Any) -> Any:
    """A plain JSON value: numpy scalars unwrapped, tuples as lists, NaN/inf/NA as ``None``."""
    if isinstance(value, (tuple, list)):
        return [_data_value(item) for item in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if (isinstance(value, float) and not math.isfinite(value)) or type(value).__name__ in ("NAType", "NaTType"):
        return None
    if value is not None and not isinstance(value, (str, int, float, bool, list, dict)):
        return str(value)
    return value
