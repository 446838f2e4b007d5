"""Reading CSV tables whose id columns are text: ``NA``, ``None``, ``null``, ``nan`` and ``007`` are ids.

pandas reads ``NA``/``None``/``null``/``nan``/``N/A``... as missing values in every column by
default, and digit-only ids as numbers (``007`` → 7). Here the id columns are read as the text
written, and the other columns keep pandas' usual missing-value handling.

>>> read_csv("labels.csv", text_columns=("id",))["id"].tolist()
['NA', 'None', '007']
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from kaggle_kit.fsutil import open_regular

if TYPE_CHECKING:
    import pandas as pd

# pandas' default missing-value markers (the ``na_values`` list of ``pandas.read_csv``'s documentation).
PANDAS_NA_VALUES = (
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A",
    "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
)
_COMPRESSION = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zip": "zip", ".zst": "zstd"}


def read_csv(path: str | os.PathLike, text_columns: Iterable[str] = ("id",), **options: Any) -> "pd.DataFrame":
    """``pandas.read_csv`` of a regular file (never a FIFO: ``fsutil.NotRegularFile``), compressed by
    its extension or not, with ``text_columns`` (those present) read as text, missing values never."""
    import pandas as pd

    path = Path(path)
    compression = _COMPRESSION.get(path.suffix.lower())
    dtype = options.pop("dtype", None) or {}
    wanted = set(text_columns)
    with open_regular(path) as handle:
        layout = {key: options[key] for key in ("encoding", "sep") if key in options}  # what the header read needs
        header = pd.read_csv(handle, nrows=0, compression=compression, **layout).columns
        handle.seek(0)
        text = [column for column in header if str(column).strip() in wanted]  # " id" is still the id
        return pd.read_csv(
            handle,
            compression=compression,
            dtype={**dtype, **{column: str for column in text}},
            keep_default_na=False,
            na_values={column: list(PANDAS_NA_VALUES) for column in header if column not in text},
            **options,
        )
