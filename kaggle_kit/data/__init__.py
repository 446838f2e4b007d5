"""Prepared data: label tables, rebalancing and the decoded image cache (``kit prepare``).

The names below are imported on first use, so decode workers (which import
``kaggle_kit.data.decode``) start without pandas.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kaggle_kit.data.cache import ImageStore, PreparedData
    from kaggle_kit.data.prepare import PrepareOptions, load_prepared, prepare

_EXPORTS = {
    "ImageStore": "kaggle_kit.data.cache",
    "PreparedData": "kaggle_kit.data.cache",
    "PrepareOptions": "kaggle_kit.data.prepare",
    "load_prepared": "kaggle_kit.data.prepare",
    "prepare": "kaggle_kit.data.prepare",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'kaggle_kit.data' has no attribute '{name}'")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
