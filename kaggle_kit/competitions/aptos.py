"""APTOS 2019 Blindness Detection: diabetic retinopathy graded 0–4; quadratic weighted kappa.

The layout (openai/mle-bench ``mlebench/competitions/aptos2019-blindness-detection``:
``prepare.py``, ``grade.py``, ``description.md``): ``train_images/<id_code>.png``,
``test_images/<id_code>.png``, ``train.csv`` (``id_code,diagnosis``), ``test.csv``
(``id_code``) and ``sample_submission.csv`` (``id_code,diagnosis``), scored by
``cohen_kappa_score(..., weights="quadratic")``. Trained here as a regression on the
grade, cut into grades at thresholds fitted on validation (the approach of the
competition's strongest public notebooks). A kernels-only competition.
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

SLUG = "aptos2019-blindness-detection"
GRADE = "diagnosis"
REQUIRED = ("train_images", "test_images", "train.csv", "sample_submission.csv")

DEFAULT_RECIPE: dict[str, Any] = {
    **GENERIC_RECIPE,
    "image_size": 128,
    "crop": 0.9,  # most photos have black margins around the retina
    "epochs": 20,
    "batch_size": 32,
    "augment": {"dihedral": True, "rotation_range": 180.0, "brightness_range": (0.8, 1.2), "fill_mode": "constant"},
}


def build_labels(raw: Path, options: LabelOptions) -> LabelTables:
    require_extracted(raw, REQUIRED)
    labels_csv = raw / "train.csv"
    table = read_table(labels_csv, ["id_code", GRADE], hint="re-download the competition", id_column="id_code")
    check_unique_ids(table, "id_code", labels_csv)
    train = pd.DataFrame({"id": table["id_code"].astype(str), GRADE: table[GRADE]})
    train = attach_paths(train, "id", raw / "train_images", ".png", labels_csv)
    sample_csv = raw / "sample_submission.csv"
    sample = read_table(sample_csv, ["id_code", GRADE], hint="re-download the competition", id_column="id_code")
    check_unique_ids(sample, "id_code", sample_csv)
    test = attach_paths(sample[["id_code"]].rename(columns={"id_code": "id"}), "id", raw / "test_images", ".png",
                        sample_csv)
    notes = {"train": len(train), "test": len(test)}
    return LabelTables(train=train, test=test, sample_submission=sample, notes=notes)


@register_competition
def aptos2019_blindness_detection() -> Competition:
    return Competition(
        slug=SLUG,
        title="APTOS 2019 Blindness Detection",
        source_kind="competition",
        source_ref=SLUG,
        native_size=(0, 0),
        metric="qwk",
        build_labels=build_labels,
        check_layout=counting_layout(build_labels),
        task=Task("regression", (GRADE,), levels=5),
        kernels_only=True,
        recipes={"default": DEFAULT_RECIPE},
        description="Retina photos graded 0-4 for diabetic retinopathy; quadratic weighted kappa; code competition.",
    )
