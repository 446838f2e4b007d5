"""Stratified hold-out and K-fold splits over unique image ids.

Split on ids, not index rows: an oversampled cache repeats rows of the minority
class, and a copy on each side of the split would leak into validation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from kaggle_kit.errors import DataError


@dataclass(frozen=True)
class Split:
    """Positions into the cache's ``train_index`` for one fold (``fold`` is 0 for a hold-out)."""

    fold: int
    train: np.ndarray  # every index row of the training ids (repeats kept)
    val: np.ndarray  # one index row per validation id


def holdout_split(index: pd.DataFrame, val_fraction: float, seed: int) -> Split:
    """One stratified hold-out split of ``index`` (``id,label,row``)."""
    from sklearn.model_selection import train_test_split

    ids = _unique_ids(index)
    _require_per_class(ids, 2, "a hold-out split")
    train_ids, val_ids = train_test_split(
        ids["id"], test_size=val_fraction, stratify=ids["label"], random_state=seed
    )
    return _positions(index, 0, set(train_ids), set(val_ids))


def kfold_splits(index: pd.DataFrame, folds: int, seed: int) -> list[Split]:
    """``folds`` stratified folds; each id is validated exactly once."""
    from sklearn.model_selection import StratifiedKFold

    ids = _unique_ids(index)
    _require_per_class(ids, folds, f"{folds} folds")
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [
        _positions(index, fold, set(ids["id"].iloc[train]), set(ids["id"].iloc[val]))
        for fold, (train, val) in enumerate(splitter.split(ids["id"], ids["label"]))
    ]


def _unique_ids(index: pd.DataFrame) -> pd.DataFrame:
    return index.drop_duplicates("id")[["id", "label"]].reset_index(drop=True)


def _require_per_class(ids: pd.DataFrame, needed: int, what: str) -> None:
    counts = ids["label"].value_counts()
    if len(counts) < 2 or counts.min() < needed:
        raise DataError(
            f"the training set has {counts.to_dict()} images per class; {what} needs at least {needed} of each "
            "class: raise --max-images or lower --folds"
        )


def _positions(index: pd.DataFrame, fold: int, train_ids: set, val_ids: set) -> Split:
    in_train = index["id"].isin(train_ids).to_numpy()
    first_of_val = (index["id"].isin(val_ids) & ~index["id"].duplicated()).to_numpy()
    return Split(fold=fold, train=np.flatnonzero(in_train), val=np.flatnonzero(first_of_val))
