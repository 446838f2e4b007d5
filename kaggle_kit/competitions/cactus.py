"""Aerial Cactus Identification: 32×32 aerial tiles, 1 = a columnar cactus in view; ROC AUC.

The layout (openai/mle-bench ``mlebench/competitions/aerial-cactus-identification/prepare.py``
and ``description.md``): the download holds ``train.zip`` (``train/<id>``) and
``test.zip`` (``test/<id>``) — archives inside the archive, extracted by ``kit
download`` — beside ``train.csv`` (``id,has_cactus``; the id is the file name,
``.jpg`` included) and ``sample_submission.csv`` (``id,has_cactus``). A
kernels-only competition: Kaggle takes its submissions from notebooks only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kaggle_kit.competitions._registry import (
    Competition,
    LabelOptions,
    LabelTables,
    counting_layout,
    register_competition,
)
from kaggle_kit.competitions.custom import GENERIC_RECIPE
from kaggle_kit.competitions._tables import attach_paths, binary_labels, check_unique_ids, read_table, require_extracted
from kaggle_kit.tasks import binary_task

SLUG = "aerial-cactus-identification"
LABEL = "has_cactus"
REQUIRED = ("train", "test", "train.csv", "sample_submission.csv")

# Native 32 px tiles, every orientation (aerial views have no up), a short schedule.
DEFAULT_RECIPE: dict[str, Any] = {
    **GENERIC_RECIPE,
    "image_size": 32,
    "epochs": 12,
    "lr": 2e-3,
    "augment": {"dihedral": True, "brightness_range": (0.9, 1.1)},
}


def build_labels(raw: Path, options: LabelOptions) -> LabelTables:
    require_extracted(raw, REQUIRED)
    labels_csv = raw / "train.csv"
    table = read_table(labels_csv, ["id", LABEL], hint="re-download the competition", id_column="id")
    check_unique_ids(table, "id", labels_csv)
    train = table[["id"]].assign(label=binary_labels(table, LABEL, labels_csv))
    train = attach_paths(train, "id", raw / "train", "", labels_csv)  # the id is the file name
    sample_csv = raw / "sample_submission.csv"
    sample = read_table(sample_csv, ["id", LABEL], hint="re-download the competition", id_column="id")
    check_unique_ids(sample, "id", sample_csv)
    test = attach_paths(sample[["id"]], "id", raw / "test", "", sample_csv)
    notes = {"train": len(train), "positive": int(train["label"].sum()), "test": len(test)}
    return LabelTables(train=train, test=test, sample_submission=sample, notes=notes)


@register_competition
def aerial_cactus_identification() -> Competition:
    return Competition(
        slug=SLUG,
        title="Aerial Cactus Identification",
        source_kind="competition",
        source_ref=SLUG,
        native_size=(32, 32),
        metric="auc",
        build_labels=build_labels,
        check_layout=counting_layout(build_labels),
        task=binary_task(("no cactus", "cactus")),
        kernels_only=True,
        nested_archives=True,
        recipes={"default": DEFAULT_RECIPE},
        description="32×32 aerial tiles of Mexican scrub; 1 = a columnar cactus; ROC AUC; code competition.",
    )
