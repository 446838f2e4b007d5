"""Stratified hold-out and K-fold splits over unique image ids.

Split on ids, not index rows: an oversampled cache repeats rows of the minority
class, and a copy on each side of the split would leak into validation. Each id
has a stratum (``Task.strata``: its class, its grade, its most frequent label, or
a bin of its first target); with more than two strata, those with too few ids to
appear on both sides are merged together (and into the smallest other stratum if
still too few), so 120 breeds with a handful of images each can still be split.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kaggle_kit.errors import DataError

RARE = -1  # the stratum that collects strata too small to split on their own


@dataclass(frozen=True)
class Split:
    """Positions into the cache's ``train_index`` for one fold (``fold`` is 0 for a hold-out)."""

    fold: int
    train: np.ndarray  # every index row of the training ids (repeats kept)
    val: np.ndarray  # one index row per validation id


def holdout_split(index: pd.DataFrame, val_fraction: float, seed: int, strata: np.ndarray | None = None) -> Split:
    """One stratified hold-out split of ``index`` (``id``, label columns, ``row``).

    ``strata`` holds one stratum per index row (default: the ``label`` column).
    """
    from sklearn.model_selection import train_test_split

    ids = _unique_ids(index, strata)
    _require_per_stratum(ids, 2, "a hold-out split")
    merged = _merge_rare(ids["stratum"], 2)
    val_count = math.ceil(val_fraction * len(ids))
    merged = _at_most(merged, min(val_count, len(ids) - val_count))  # each side needs a row of every stratum
    train_ids, val_ids = train_test_split(ids["id"], test_size=val_fraction, stratify=merged, random_state=seed)
    return _positions(index, 0, set(train_ids), set(val_ids))


def kfold_splits(index: pd.DataFrame, folds: int, seed: int, strata: np.ndarray | None = None) -> list[Split]:
    """``folds`` stratified folds; each id is validated exactly once."""
    from sklearn.model_selection import StratifiedKFold

    ids = _unique_ids(index, strata)
    _require_per_stratum(ids, folds, f"{folds} folds")
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [
        _positions(index, fold, set(ids["id"].iloc[train]), set(ids["id"].iloc[val]))
        for fold, (train, val) in enumerate(splitter.split(ids["id"], _merge_rare(ids["stratum"], folds)))
    ]


def _unique_ids(index: pd.DataFrame, strata: np.ndarray | None) -> pd.DataFrame:
    stratum = index["label"].to_numpy() if strata is None else np.asarray(strata)
    frame = pd.DataFrame({"id": index["id"].to_numpy(), "stratum": stratum})
    return frame.drop_duplicates("id").reset_index(drop=True)


def _merge_rare(strata: pd.Series, needed: int) -> np.ndarray:
    """The strata with those of fewer than ``needed`` ids merged into one, itself merged into the
    smallest other stratum while still too small. Two strata (a binary task's classes) are never
    merged: a class that small is refused instead."""
    counts = strata.value_counts()
    values = strata.to_numpy()
    if len(counts) <= 2:
        return values
    rare = counts.index[counts < needed]
    values = np.where(strata.isin(rare), RARE, values)
    if 0 < int((values == RARE).sum()) < needed:
        others = counts.drop(rare)
        if len(others):
            values = np.where(values == RARE, others.index[np.argmin(others.to_numpy())], values)
    return values


def _at_most(strata: np.ndarray, limit: int) -> np.ndarray:
    """Merge the smallest strata into one until at most ``limit`` remain (more than two strata only:
    120 breeds in a validation set of 30 images)."""
    counts = pd.Series(strata).value_counts()
    if len(counts) <= max(limit, 2):
        return strata
    kept = set(counts.index[: max(limit - 1, 1)])
    return np.where(pd.Series(strata).isin(kept), strata, RARE)


def _require_per_stratum(ids: pd.DataFrame, needed: int, what: str) -> None:
    """At least two strata once the rare ones are merged, each with ``needed`` ids."""
    counts = ids["stratum"].value_counts()
    merged = pd.Series(_merge_rare(ids["stratum"], needed)).value_counts()
    if len(counts) < 2 or len(merged) < 2 or merged.min() < needed:
        shown = {int(k) if isinstance(k, (int, np.integer)) else k: int(v) for k, v in counts.items()}
        raise DataError(
            f"the training set has {shown} images per class; {what} needs at least {needed} of each "
            "class: raise --max-images or lower --folds"
        )


def _positions(index: pd.DataFrame, fold: int, train_ids: set, val_ids: set) -> Split:
    in_train = index["id"].isin(train_ids).to_numpy()
    first_of_val = (index["id"].isin(val_ids) & ~index["id"].duplicated()).to_numpy()
    return Split(fold=fold, train=np.flatnonzero(in_train), val=np.flatnonzero(first_of_val))
