"""Galaxy Zoo 2, spiral vs elliptical: a Kaggle dataset run as a locally scored competition.

Labels come from the Hart et al. (2016) table ``gz2_hart16``: ``gz2_class``
starting with ``E`` is elliptical (0), ``S`` spiral (1), ``A`` (star/artefact) is
dropped. A fixed 20 % of the galaxies, chosen per class by a hash of ``objid``,
form the held-out test set; its labels are private to local scoring. The
optional confidence filter (``min_vote_fraction``) thins the training rows only:
the test set never changes, so every run is scored on the same galaxies.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kaggle_kit.competitions._registry import Competition, LabelOptions, LabelTables, register_competition
from kaggle_kit.competitions.custom import GENERIC_RECIPE
from kaggle_kit.competitions._tables import attach_paths, check_unique_ids, find_image_dir, find_one, hash_split, read_table
from kaggle_kit.errors import DataError

SLUG = "galaxy-zoo-2"
DATASET = "jaimetrickz/galaxy-zoo-2-images"
MAPPING = "gz2_filename_mapping.csv"
HART16 = ("gz2_hart16.csv", "gz2_hart16.csv.gz")
TEST_FRACTION = 0.2
# Debiased vote fractions of decision-tree task 1 (smooth / features or disc / star).
TASK1_COLUMNS = (
    "t01_smooth_or_features_a01_smooth_debiased",
    "t01_smooth_or_features_a02_features_or_disk_debiased",
    "t01_smooth_or_features_a03_star_or_artifact_debiased",
)

# The generic recipe, measured on the real galaxy sample (docs/benchmarks.md), with the centre crop
# and the rotations galaxies allow.
DEFAULT_RECIPE: dict[str, Any] = {
    **GENERIC_RECIPE,
    "crop": 0.5,  # galaxies sit in the middle of the 424×424 frame
    "augment": {"dihedral": True, "rotation_range": 180.0, "zoom_range": 0.1, "fill_mode": "reflect"},
}

# The Galaxy Zoo 2 notebook: whole frame at 140×140, flattened into a small dense net.
NOTEBOOK_RECIPE: dict[str, Any] = {
    "image_size": 140,
    "crop": 1.0,
    "model": "notebook-dense",
    "max_images": 70_000,
    "epochs": 50,
    "batch_size": 512,
    "optimizer": "rmsprop",
    "lr": 1e-4,
    "schedule": "constant",
    "early_stopping_patience": 0,
    "augment": {},
}


def locate(raw: Path, labels_file: Path | None = None) -> dict[str, Path]:
    """Find the images folder, the filename mapping and the hart16 table under ``raw``."""
    images = find_image_dir(raw, ".jpg")
    mapping = find_one(raw, [MAPPING])
    hart16 = labels_file if labels_file is not None else find_one(raw, HART16)
    if images is None:
        raise DataError(f"no .jpg images found under {raw}; re-download the dataset or pass --raw-dir")
    if mapping is None:
        raise DataError(f"{MAPPING} not found under {raw}; the dataset upload lacks it: re-download with --force")
    if hart16 is None:
        raise DataError(
            f"gz2_hart16.csv(.gz) not found under {raw}; download it from the Galaxy Zoo data site "
            "(data.galaxyzoo.org) and pass it with --labels PATH"
        )
    return {"images": images, "mapping": mapping, "hart16": Path(hart16)}


def check_layout(raw: Path) -> dict[str, Any]:
    found = locate(raw)
    return {
        "images": sum(1 for _ in found["images"].glob("*.jpg")),
        "images_dir": str(found["images"].relative_to(raw)),
        "mapping": str(found["mapping"].relative_to(raw)),
        "hart16": str(found["hart16"].relative_to(raw)) if found["hart16"].is_relative_to(raw) else str(found["hart16"]),
    }


def classify(gz2_class: pd.Series) -> pd.Series:
    """E… → 0 (elliptical), S… → 1 (spiral), anything else (A…) → NaN (dropped)."""
    first = gz2_class.astype(str).str.strip().str[:1]
    return first.map({"E": 0, "S": 1})


def winning_vote_fraction(table: pd.DataFrame, path: Path) -> pd.Series:
    missing = [c for c in TASK1_COLUMNS if c not in table.columns]
    if missing:
        raise DataError(f"{path} lacks {', '.join(missing)}, needed by --min-vote-fraction; drop that option")
    return table[list(TASK1_COLUMNS)].max(axis=1)


def build_labels(raw: Path, options: LabelOptions) -> LabelTables:
    found = locate(raw, options.labels_file)
    hart16 = read_table(found["hart16"], ["dr7objid", "gz2_class"], hint="pass the Hart et al. 2016 table with --labels")
    mapping = read_table(found["mapping"], ["objid", "asset_id"], hint="re-download the dataset")
    check_unique_ids(hart16, "dr7objid", found["hart16"])
    check_unique_ids(mapping, "objid", found["mapping"])

    joined = hart16.merge(mapping[["objid", "asset_id"]], left_on="dr7objid", right_on="objid", how="inner")
    joined["label"] = classify(joined["gz2_class"])
    notes: dict[str, Any] = {"joined": len(joined), "dropped_A": int(joined["label"].isna().sum())}
    joined = joined[joined["label"].notna()].reset_index(drop=True)
    if joined.empty:
        raise DataError(f"no labelled galaxies left after joining {found['hart16']} with {found['mapping']}; check both files")
    joined["label"] = joined["label"].astype(np.int64)
    joined["id"] = joined["asset_id"].astype(np.int64).astype(str)
    joined["objid"] = joined["objid"].astype(str)
    check_unique_ids(joined, "id", found["mapping"])
    notes["elliptical"] = int((joined["label"] == 0).sum())
    notes["spiral"] = int((joined["label"] == 1).sum())

    # The held-out split is drawn from every E/S galaxy BEFORE any confidence filter,
    # so the test set (and sample_submission.csv) is the same competition whatever
    # filter a run trains with; the filter only thins the training rows.
    held_out = hash_split(joined["objid"], joined["label"], TEST_FRACTION)
    if options.min_vote_fraction is not None:
        confident = (winning_vote_fraction(joined, found["hart16"]) >= options.min_vote_fraction).to_numpy()
        notes["dropped_low_confidence"] = int((~confident & ~held_out).sum())
        notes["min_vote_fraction"] = options.min_vote_fraction
        keep = confident | held_out
        if not (keep & ~held_out).any():
            raise DataError(
                f"no training galaxy in {found['hart16']} reaches --min-vote-fraction "
                f"{options.min_vote_fraction}; lower it"
            )
        joined, held_out = joined[keep].reset_index(drop=True), held_out[keep]
    # A big upload may lack a few images: their rows reach the cache build, which
    # lists them in skipped.csv (train) or predicts the prevalence for them (test).
    table = attach_paths(joined[["id", "objid", "label"]], "id", found["images"], ".jpg", found["mapping"], missing_ok=True)
    notes["missing_images"] = int(sum(not os.path.exists(path) for path in table["path"]))
    train = table[~held_out].reset_index(drop=True)
    test_rows = table[held_out].reset_index(drop=True)
    sample = pd.DataFrame({"id": test_rows["id"], "label": 0})
    notes.update(train=len(train), test=len(test_rows))
    return LabelTables(
        train=train[["id", "label", "path"]],
        test=test_rows[["id", "path"]],
        sample_submission=sample,
        test_labels=test_rows[["id", "label"]],
        notes=notes,
    )


def add_labels(table: Path, raw: Path) -> str:
    """``kit download --labels``: the Hart et al. table joins the dataset's files (gz2_hart16.csv[.gz])."""
    name = HART16[1] if table.name.endswith(".gz") else HART16[0]
    shutil.copyfile(table, raw / name)
    return name


@register_competition
def galaxy_zoo_2() -> Competition:
    return Competition(
        slug=SLUG,
        title="Galaxy Zoo 2: spiral vs elliptical",
        source_kind="dataset",
        source_ref=DATASET,
        native_size=(424, 424),
        metric="accuracy",
        build_labels=build_labels,
        check_layout=check_layout,
        class_names=("elliptical", "spiral"),
        locally_scored=True,
        recipes={"default": DEFAULT_RECIPE, "notebook": NOTEBOOK_RECIPE},
        add_labels=add_labels,
        description="SDSS galaxies labelled by Galaxy Zoo 2 volunteers; fixed 20 % held-out test; accuracy.",
    )
