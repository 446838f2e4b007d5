"""Plant Pathology 2020 (FGVC7): apple leaves, four 0/1 columns; mean column-wise ROC AUC.

The layout (openai/mle-bench ``mlebench/competitions/plant-pathology-2020-fgvc7``:
``prepare.py``, ``grade.py``, ``description.md``): every image in ``images/``
(``Train_<i>.jpg``, ``Test_<i>.jpg``), ``train.csv`` (``image_id,healthy,
multiple_diseases,rust,scab``), ``test.csv`` (``image_id``) and
``sample_submission.csv`` with the same four columns, scored as the mean of each
column's ROC AUC. Each row has exactly one column set, but the metric scores the
columns independently, so it is trained as four independent sigmoids.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from kaggle_kit.competitions._registry import (
    Competition,
    LabelOptions,
    LabelTables,
    counting_layout,
    register_competition,
)
from kaggle_kit.competitions.custom import GENERIC_RECIPE
from kaggle_kit.competitions._tables import attach_paths, check_unique_ids, read_table, require_extracted
from kaggle_kit.tasks import Task

SLUG = "plant-pathology-2020-fgvc7"
COLUMNS = ("healthy", "multiple_diseases", "rust", "scab")
REQUIRED = ("images", "train.csv", "sample_submission.csv")

DEFAULT_RECIPE: dict[str, Any] = {
    **GENERIC_RECIPE,
    "image_size": 128,
    "epochs": 20,
    "batch_size": 32,
    "augment": {"dihedral": True, "zoom_range": 0.1, "brightness_range": (0.85, 1.15), "fill_mode": "reflect"},
}


def build_labels(raw: Path, options: LabelOptions) -> LabelTables:
    require_extracted(raw, REQUIRED)
    labels_csv = raw / "train.csv"
    table = read_table(labels_csv, ["image_id", *COLUMNS], hint="re-download the competition", id_column="image_id")
    check_unique_ids(table, "image_id", labels_csv)
    train = pd.DataFrame({"id": table["image_id"].astype(str), **{c: table[c] for c in COLUMNS}})
    train = attach_paths(train, "id", raw / "images", ".jpg", labels_csv)
    sample_csv = raw / "sample_submission.csv"
    sample = read_table(sample_csv, ["image_id", *COLUMNS], hint="re-download the competition", id_column="image_id")
    check_unique_ids(sample, "image_id", sample_csv)
    test = attach_paths(sample[["image_id"]].rename(columns={"image_id": "id"}), "id", raw / "images", ".jpg",
                        sample_csv)
    notes = {"train": len(train), "test": len(test)}
    return LabelTables(train=train, test=test, sample_submission=sample, notes=notes)


@register_competition
def plant_pathology_2020_fgvc7() -> Competition:
    return Competition(
        slug=SLUG,
        title="Plant Pathology 2020 - FGVC7",
        source_kind="competition",
        source_ref=SLUG,
        native_size=(1365, 2048),
        metric="mean_column_auc",
        build_labels=build_labels,
        check_layout=counting_layout(build_labels),
        task=Task("multilabel", COLUMNS),
        recipes={"default": DEFAULT_RECIPE},
        description="Apple leaves: healthy, rust, scab or several diseases; mean column-wise ROC AUC over 4 columns.",
    )
