"""Reading and checking label tables: shared by every competition's label builder."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from kaggle_kit.csvread import read_csv
from kaggle_kit.errors import DataError, shown

COLUMN_NAME = re.compile(r"[A-Za-z_][\w .()%/+:-]{0,63}")


def read_table(path: Path, required: Iterable[str], hint: str = "", id_column: str | None = None,
               text_columns: Iterable[str] = (), only: Iterable[str] | None = None) -> pd.DataFrame:
    """Read a CSV (optionally gzipped; BOM and Windows line endings tolerated) and
    check it has the ``required`` columns and at least one row. Extra columns are kept.

    ``id_column`` and ``text_columns`` are read as the text written, so ids such as ``007``
    keep their leading zeros, 19-digit object ids are not rounded through a float, and
    ``NA``, ``None`` or ``null`` are ids, not missing values; an empty id is an error.
    ``only`` keeps just these columns (and the required ones): a wide table reads faster.
    A FIFO or folder given as the table is refused at once (``fsutil.NotRegularFile``).
    """
    required = list(required)
    text = [*([id_column] if id_column else []), *text_columns]
    try:
        header = [str(c).strip() for c in read_csv(path, text_columns=(), encoding="utf-8-sig", nrows=0).columns]
        missing = [c for c in required if c not in header]
        if missing:
            raise DataError(
                f"{path} lacks column(s) {', '.join(missing)} ({describe_header(header)}); "
                "fix the header or pass the right file"
            )
        wanted = None if only is None else {*only, *required}
        usecols = None if wanted is None else (lambda name: str(name).strip() in wanted)
        frame = read_csv(path, text_columns=text, encoding="utf-8-sig", low_memory=False, usecols=usecols)
    except FileNotFoundError:
        raise DataError(f"{path} not found{'; ' + hint if hint else ''}") from None
    except PermissionError:
        raise DataError(f"cannot read {path} (permission denied); check its permissions") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        raise DataError(f"{path} is not a readable CSV ({type(exc).__name__}); re-download or fix the file") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise DataError(f"{path} has a header but no rows; add the rows or pass the right file")
    if id_column is not None:
        empty = np.flatnonzero(frame[id_column].str.strip().eq("").to_numpy())
        if len(empty):
            raise DataError(f"{path} has {len(empty)} empty id(s) in column '{id_column}' (first on line "
                            f"{empty[0] + 2}); fill them in or remove those rows")
    return frame


def describe_header(columns: Iterable[object]) -> str:
    """What a header holds, for an error: its column names when they look like names, else only
    that they do not; a file given by mistake (kaggle.json) must not be echoed into the message."""
    names = [str(c) for c in columns]
    if names and all(_looks_like_column_name(name) for name in names[:12]):
        return "has: " + ", ".join(names[:12]) + (f", … ({len(names)} columns)" if len(names) > 12 else "")
    return f"its first line is not shown: {len(names)} field(s) that do not look like column names"


def _looks_like_column_name(name: str) -> bool:
    """Words joined by ``_``, ``-``, spaces or dots, each short or plain lowercase/uppercase letters:
    ``t01_smooth_or_features_a01_smooth_debiased`` is a name; a bare key or token on the first line
    of a file given by mistake (``8f3a…`` hex, ``KGAT_…``, random letters) is not, and is never echoed."""
    if not COLUMN_NAME.fullmatch(name):
        return False
    return all(len(word) < 16 or word.islower() and word.isalpha() or word.isupper() and word.isalpha()
               for word in re.split(r"[_\-. ]+", name))


def check_unique_ids(frame: pd.DataFrame, column: str, path: Path) -> None:
    duplicated = frame[column][frame[column].duplicated()]
    if len(duplicated):
        first = duplicated.iloc[0]
        raise DataError(
            f"{path} has {len(duplicated)} duplicate id(s) in column '{column}', e.g. '{first}'; "
            "remove the duplicates"
        )


def binary_labels(frame: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """The label column as int 0/1, or a clear error listing the bad values."""
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = frame[column][values.isna() | ~values.isin([0, 1])]
    if len(bad):
        examples = ", ".join(shown(v) for v in pd.unique(bad)[:5])
        raise DataError(
            f"{path} column '{column}' must hold only 0 and 1; found {examples} "
            f"in {len(bad)} row(s); map the labels to 0/1"
        )
    return values.astype(np.int64)


def attach_paths(
    frame: pd.DataFrame, id_column: str, image_dir: Path, ext: str, table: Path, missing_ok: bool = False
) -> pd.DataFrame:
    """Add a ``path`` column (image_dir/<id><ext>); fail listing ids with no image.

    With ``missing_ok`` the rows of missing images are kept, to be skipped and
    listed by the cache build like images that exist but cannot be decoded.
    """
    if not image_dir.is_dir():
        raise DataError(f"image folder {image_dir} not found; check the download or the images path")
    present = set(os.listdir(image_dir))  # names only: 277k Path objects would take seconds
    if not present:
        raise DataError(f"image folder {image_dir} is empty; re-download the data or fix the images path")
    names = frame[id_column].astype(str) + ext
    missing = ~names.isin(present)
    if missing.any() and not missing_ok:
        examples = ", ".join(names[missing].head(3))
        raise DataError(
            f"{missing.sum()} id(s) in {table} have no image in {image_dir} (e.g. {examples}); "
            "re-download or remove those rows"
        )
    out = frame.copy()
    out["path"] = os.path.join(str(image_dir), "") + names  # plain strings: fast at 277k rows
    return out


def stable_fraction(key: str) -> float:
    """A number in [0, 1) from a string, the same on every machine and Python."""
    digest = hashlib.sha1(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def hash_split(ids: pd.Series, fraction: float) -> np.ndarray:
    """A held-out mask fixed by each id alone: the ids whose hash falls below ``fraction``.

    Membership never depends on the other rows, so removing or adding images moves no
    other id between the splits; the held-out share of each class is ``fraction`` on
    average (not exactly, as a per-class quota would be, at the price of that stability).
    """
    return ids.astype(str).map(stable_fraction).to_numpy() < fraction


def find_one(root: Path, names: Iterable[str]) -> Path | None:
    """The first file under ``root`` (recursively, shallowest first) with one of ``names``."""
    names = list(names)
    hits = [p for p in root.rglob("*") if p.name in names and p.is_file()]
    if not hits:
        return None
    return min(hits, key=lambda p: (len(p.parts), names.index(p.name), str(p)))


def find_image_dir(root: Path, ext: str) -> Path | None:
    """The folder under ``root`` holding the most ``ext`` files."""
    counts: dict[Path, int] = {}
    for path in root.rglob(f"*{ext}"):
        counts[path.parent] = counts.get(path.parent, 0) + 1
    if not counts:
        return None
    return max(counts, key=lambda d: (counts[d], -len(d.parts)))


def require_extracted(raw: Path, names: Iterable[str], hint: str = "re-run with --force") -> None:
    """Every one of ``names`` under ``raw``; a missing folder whose ``.zip`` is there is named as unextracted."""
    missing = [name for name in names if not (raw / name).exists()]
    if not missing:
        return
    zipped = [name for name in missing if (raw / f"{Path(name).stem}.zip").is_file()]
    if zipped:
        raise DataError(
            f"{raw} holds {', '.join(f'{Path(name).stem}.zip' for name in zipped)} but not the extracted "
            f"{', '.join(zipped)}; `kit download` extracts them: run it, or point --raw-dir at an extracted copy"
        )
    raise DataError(f"{raw} lacks {', '.join(missing)}; the archive is incomplete: {hint}")
