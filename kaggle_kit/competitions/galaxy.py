"""Galaxy Zoo 2, spiral vs elliptical: a Kaggle dataset run as a locally scored competition.

Labels come from the Hart et al. (2016) table ``gz2_hart16``, joined to the
images through ``gz2_filename_mapping.csv`` by object id and sample (see
``join_tables``): ``gz2_class`` starting with ``E`` is elliptical (0), ``S``
spiral (1), ``A`` (star/artefact) is dropped. The Kaggle dataset lacks the Hart
table; ``kit download`` fetches it from the Galaxy Zoo data site. A fixed 20 % of
the galaxies, chosen by a hash of each ``objid`` alone, form the held-out test set;
its labels are private to local scoring. The optional confidence filter
(``min_vote_fraction``) thins the training rows only:
the test set never changes, so every run is scored on the same galaxies.
"""

from __future__ import annotations

import gzip
import os
import shutil
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kaggle_kit.competitions._registry import Competition, LabelOptions, LabelTables, register_competition
from kaggle_kit.competitions.custom import GENERIC_RECIPE
from kaggle_kit.competitions._tables import attach_paths, check_unique_ids, find_image_dir, find_one, hash_split, read_table
from kaggle_kit.errors import DataError
from kaggle_kit.secrets import redact_url
from kaggle_kit.tasks import binary_task

SLUG = "galaxy-zoo-2"
DATASET = "jaimetrickz/galaxy-zoo-2-images"
MAPPING = "gz2_filename_mapping.csv"
HART16 = ("gz2_hart16.csv", "gz2_hart16.csv.gz")
# The Hart et al. (2016) table's public home, "Galaxy Zoo 2 Table 1" on https://data.galaxyzoo.org; the
# Kaggle dataset lacks it.
HART16_URL = "https://gz2hart.s3.amazonaws.com/gz2_hart16.csv.gz"
HART16_URL_VARIABLE = "KIT_GZ2_HART16_URL"
MAIN_SAMPLES = ("original", "extra")  # GZ2's main sample: what the Hart et al. table covers
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
    # Other galaxies come in other mixes of spirals and ellipticals (survey depth, selection): the cut with
    # the best balanced accuracy holds on any mix; on the galaxy sample it gained +0.07 balanced accuracy
    # and cost 0.01-0.04 accuracy at two seeds (docs/benchmarks.md).
    "threshold_rule": "balanced",
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


def hart16_url() -> str:
    """Where the Hart et al. table is fetched from when the dataset lacks it (``KIT_GZ2_HART16_URL`` overrides)."""
    return os.environ.get(HART16_URL_VARIABLE) or HART16_URL


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
            f"gz2_hart16.csv(.gz) not found under {raw}; `kit download {SLUG}` fetches it from {hart16_url()}, "
            "or download it by hand and pass it with --labels PATH"
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


def check_hart16(path: Path) -> None:
    """``DataError`` (saying why, in a few words) unless ``path`` is a whole gz2_hart16 table: plain CSV,
    or a complete gzip stream (its CRC checked to the end), whose header names ``dr7objid`` and ``gz2_class``."""
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    try:
        with (gzip.open(path, "rb") if gzipped else open(path, "rb")) as stream:
            header = stream.readline(1 << 16).decode("utf-8-sig", errors="replace")
            while stream.read(1 << 20):
                pass
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"not a complete {'gzip file' if gzipped else 'file'}: {type(exc).__name__}") from None
    columns = {column.strip() for column in header.split(",")}
    if not {"dr7objid", "gz2_class"} <= columns:
        raise DataError("not the gz2_hart16 table: its header lacks dr7objid and gz2_class")


def fetch_hart16(folder: Path, *, progress: bool = True, retry=None) -> Path:
    """``folder/gz2_hart16.csv.gz`` from the Galaxy Zoo data site, fetched (or resumed) and verified."""
    from kaggle_kit.fetch import fetch_url

    return fetch_url(hart16_url(), folder / HART16[1], what="the Hart et al. 2016 table", verify=check_hart16,
                     hint="download gz2_hart16.csv.gz by hand (data.galaxyzoo.org) and pass it with --labels PATH",
                     retry=retry, progress=progress)


def classify(gz2_class: pd.Series) -> pd.Series:
    """E… → 0 (elliptical), S… → 1 (spiral), anything else (A…) → NaN (dropped)."""
    first = gz2_class.astype(str).str.strip().str[:1]
    return first.map({"E": 0, "S": 1})


def winning_vote_fraction(table: pd.DataFrame, path: Path) -> pd.Series:
    """The debiased task-1 vote fraction of each galaxy's own class: smooth for an elliptical,
    features/disk for a spiral (not the largest of the three answers)."""
    smooth, features = TASK1_COLUMNS[0], TASK1_COLUMNS[1]
    missing = [c for c in (smooth, features) if c not in table.columns]
    if missing:
        raise DataError(f"{path} lacks {', '.join(missing)}, needed by --min-vote-fraction; drop that option")
    votes = {column: pd.to_numeric(table[column], errors="coerce") for column in (smooth, features)}
    return votes[features].where(table["label"] == 1, votes[smooth])


def join_tables(hart16: pd.DataFrame, mapping: pd.DataFrame, hart16_path: Path,
                mapping_path: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The Hart rows with their image's ``asset_id``, joined as the GZ2 release means it, and what was left out.

    ``objid`` repeats in the mapping (the Stripe 82 co-adds image the same objects twice,
    and a galaxy can be in a main and a Stripe 82 sample); ``sample`` says which imaging a
    row is. The Hart table covers the main sample (``original``, ``extra``) and names each
    row's sample, so rows join on (objid, sample); without a ``sample`` column in the Hart
    table, the mapping's main-sample rows are used. Rows with a blank or non-numeric
    ``asset_id`` (or ``objid``) are skipped and counted.
    """
    hart16 = hart16.assign(dr7objid=_text(hart16["dr7objid"]))
    mapping = mapping.assign(objid=_text(mapping["objid"]))
    check_unique_ids(hart16[hart16["dr7objid"] != ""], "dr7objid", hart16_path)
    asset = pd.to_numeric(_text(mapping["asset_id"]), errors="coerce")
    usable = (asset > 0) & (asset == np.floor(asset)) & (mapping["objid"] != "")
    notes: dict[str, Any] = {"mapping_rows": len(mapping), "hart16_rows": len(hart16)}
    report: list[str] = []
    if not usable.all():
        lines = [str(i + 2) for i in np.flatnonzero(~usable.to_numpy())[:3]]
        notes["skipped_bad_asset_id"] = int((~usable).sum())
        report.append(f"{notes['skipped_bad_asset_id']:,} row(s) of {mapping_path.name} skipped: blank or "
                      f"non-numeric asset_id or objid (line {', '.join(lines)}{', …' if (~usable).sum() > 3 else ''})")
    mapping = mapping[usable].assign(asset_id=asset[usable].astype(np.int64))

    key = ["objid"]
    if "sample" in mapping.columns:
        mapping = mapping.assign(sample=_text(mapping["sample"]).str.lower())
        if "sample" in hart16.columns:
            hart16 = hart16.assign(sample=_text(hart16["sample"]).str.lower())
            covered, key = set(hart16["sample"]), ["objid", "sample"]
        else:
            covered = set(MAIN_SAMPLES)
        other = mapping[~mapping["sample"].isin(covered)]["sample"].value_counts().sort_index()
        if len(other):
            notes["other_samples"] = {str(name): int(count) for name, count in other.items()}
            listed = ", ".join(f"{name} {count:,}" for name, count in other.items())
            report.append(f"{int(other.sum()):,} row(s) of {mapping_path.name} from samples the Hart table does "
                          f"not cover left out ({listed})")
        mapping = mapping[mapping["sample"].isin(covered)]
    repeated = mapping[mapping.duplicated(key, keep=False)]
    if len(repeated):
        first = repeated.iloc[0]
        which = f"objid {first['objid']}" + (f", sample {first['sample']}" if "sample" in key else "")
        raise DataError(f"{mapping_path} has {len(repeated)} rows for the same galaxy{' and sample' * (len(key) > 1)} "
                        f"(e.g. {which}); one image per galaxy is expected: remove the duplicates")

    joined = hart16.rename(columns={"dr7objid": "objid"}).merge(mapping[key + ["asset_id"]], on=key, how="inner")
    notes["joined"] = len(joined)
    notes["hart16_without_image"] = len(hart16) - len(joined)
    report.insert(0, f"{len(joined):,} galaxies of {hart16_path.name} matched to {mapping_path.name} by "
                     f"{' and '.join(key)}")
    if notes["hart16_without_image"]:
        report.append(f"{notes['hart16_without_image']:,} row(s) of {hart16_path.name} have no image in "
                      f"{mapping_path.name}")
    notes["report"] = report
    return joined, notes


def _text(column: pd.Series) -> pd.Series:
    return column.fillna("").astype(str).str.strip()


def build_labels(raw: Path, options: LabelOptions) -> LabelTables:
    found = locate(raw, options.labels_file)
    hart16 = read_table(found["hart16"], ["dr7objid", "gz2_class"], hint="pass the Hart et al. 2016 table with --labels",
                        text_columns=["dr7objid", "sample"], only=["sample", *TASK1_COLUMNS])
    mapping = read_table(found["mapping"], ["objid", "asset_id"], hint="re-download the dataset",
                         text_columns=["objid", "sample", "asset_id"])
    joined, notes = join_tables(hart16, mapping, found["hart16"], found["mapping"])
    notes["labels_file"] = str(found["hart16"])  # this competition takes a labels file (`prepare --labels`)
    joined["label"] = classify(joined["gz2_class"])
    notes["dropped_A"] = int(joined["label"].isna().sum())
    if notes["dropped_A"]:
        notes["report"].append(f"{notes['dropped_A']:,} star/artefact (A) galaxies dropped")
    joined = joined[joined["label"].notna()].reset_index(drop=True)
    if joined.empty:
        raise DataError(f"no labelled galaxies left after joining {found['hart16']} with {found['mapping']}; check both files")
    joined["label"] = joined["label"].astype(np.int64)
    joined["id"] = joined["asset_id"].astype(str)
    check_unique_ids(joined, "id", found["mapping"])
    notes["elliptical"] = int((joined["label"] == 0).sum())
    notes["spiral"] = int((joined["label"] == 1).sum())

    # The held-out split is drawn from every E/S galaxy BEFORE any confidence filter,
    # so the test set (and sample_submission.csv) is the same competition whatever
    # filter a run trains with; the filter only thins the training rows.
    held_out = hash_split(joined["objid"], TEST_FRACTION)
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
    if notes["missing_images"]:
        notes["report"].append(f"{notes['missing_images']:,} matched galaxies have no image file in {found['images']}")
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
    """``kit download --labels``: the Hart et al. table joins the dataset's files (gz2_hart16.csv[.gz]),
    once checked to be that table (a wrong file, a kaggle.json say, is never copied into the data)."""
    try:
        check_hart16(table)
    except DataError as exc:
        raise DataError(f"--labels {table} is {exc}; pass gz2_hart16.csv or gz2_hart16.csv.gz "
                        "(from data.galaxyzoo.org)") from None
    name = HART16[1] if table.name.endswith(".gz") else HART16[0]
    shutil.copyfile(table, raw / name)
    return name


def fetch_labels(names: list[str], folder: Path, *, progress: bool = True, retry=None) -> tuple[Path, str] | None:
    """``kit download`` without ``--labels``: the Hart table from the Galaxy Zoo data site when the
    archive lacks it (the Kaggle dataset does), with its URL (no credentials) for download.json."""
    if any(name.replace("\\", "/").rsplit("/", 1)[-1] in HART16 for name in names):
        return None
    return fetch_hart16(folder, progress=progress, retry=retry), redact_url(hart16_url())


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
        task=binary_task(("elliptical", "spiral")),
        locally_scored=True,
        recipes={"default": DEFAULT_RECIPE, "notebook": NOTEBOOK_RECIPE},
        add_labels=add_labels,
        fetch_labels=fetch_labels,
        description="SDSS galaxies labelled by Galaxy Zoo 2 volunteers; fixed 20 % held-out test; accuracy.",
    )
