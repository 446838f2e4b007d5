"""kit prepare: label tables, rebalancing, the cache build, bad inputs, interruption and concurrency."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image

from _fixtures_demo import CANCER_TEST, GALAXY_UNREADABLE
from _fixtures_prepare import CANCER, GALAXY, patch_pixels
from kaggle_kit.cli import cli
from kaggle_kit.competitions import LabelOptions, get_competition
from kaggle_kit.data import PrepareOptions, load_prepared, prepare
from kaggle_kit.data.prepare import summary_lines
from kaggle_kit.errors import CacheError, ConfigError, DataError, StorageError


def run_prepare(workspace, slug=CANCER, workers=1, force=False, **options):
    options.setdefault("image_size", 24)
    return prepare(get_competition(slug), workspace, PrepareOptions(**options), force=force, workers=workers, progress=False)


def cache_folders(workspace, slug=CANCER):
    return sorted(p.name for p in workspace.cache_root(slug).iterdir() if not p.name.startswith("."))


# --- label tables and the cache ------------------------------------------------------
def test_prepare_writes_the_label_tables(cancer_tiny):
    run_prepare(cancer_tiny)
    labels = cancer_tiny.labels_dir(CANCER)
    assert sorted(p.name for p in labels.iterdir()) == ["notes.json", "sample_submission.csv", "test.csv", "train.csv"]
    raw = cancer_tiny.raw_dir(CANCER)
    assert (labels / "sample_submission.csv").read_text() == (raw / "sample_submission.csv").read_text()
    assert json.loads((labels / "notes.json").read_text()) == {"positive": 8, "test": 8, "train": 24}
    assert list(pd.read_csv(labels / "train.csv").columns) == ["id", "label", "path"]


def test_cache_holds_every_image_decoded_in_index_order(cancer_tiny):
    data = run_prepare(cancer_tiny, workers=2)  # the parallel path, on 2 processes
    assert sorted(p.name for p in data.root.iterdir()) == [
        "manifest.json", "skipped.csv", "test.npy", "test_index.csv", "train.npy", "train_index.csv"]
    train = data.train_store()
    assert train.shape == (24, 24, 24, 3)
    for row, image_id in zip(data.train_index["row"], data.train_index["id"]):
        assert np.array_equal(train.read([row])[0], patch_pixels(int(image_id[2:]), 24))
    sample = pd.read_csv(cancer_tiny.raw_dir(CANCER) / "sample_submission.csv", dtype=str)
    assert data.test_index["id"].tolist() == sample["id"].tolist()
    assert data.test_index["readable"].tolist() == [1] * 8
    assert np.array_equal(data.test_store().read([3])[0], patch_pixels(1003, 24))


def test_manifest_records_what_the_cache_was_built_from(cancer_tiny):
    data = run_prepare(cancer_tiny, image_size=16, crop=0.5)
    manifest = data.manifest
    assert manifest["settings"] == {"image_size": 16, "crop": 0.5, "balance": "none", "min_vote_fraction": None,
                                    "max_images": None, "seed": 42}
    assert manifest["counts"] == {"train_images": 24, "train_rows": 24, "positive": 8, "negative": 16,
                                  "test_images": 8, "test_unreadable": 0, "skipped": 0}
    assert sorted(manifest["source"]) == ["images_digest", "labels_digest", "labels_file", "raw_dir", "test_rows",
                                          "train_rows"]
    assert (manifest["source"]["train_rows"], manifest["source"]["test_rows"]) == (24, 8)
    assert manifest["balance_done"] == ["none"] and manifest["seconds"] >= 0
    assert data.root.name.startswith("16px-crop0.5-none-seed42-")
    assert data.image_size == 16 and data.class_weight is None


def test_a_matching_cache_is_reused_and_force_rebuilds_it(cancer_tiny):
    first = run_prepare(cancer_tiny)
    again = run_prepare(cancer_tiny)
    assert (again.root, again.reused, first.reused) == (first.root, True, False)
    assert again.manifest["created"] == first.manifest["created"]
    forced = run_prepare(cancer_tiny, force=True)
    assert forced.root == first.root and not forced.reused
    assert cache_folders(cancer_tiny) == [first.root.name]
    assert not any((cancer_tiny.cache_root(CANCER) / ".building").iterdir())


def test_changed_labels_make_a_new_cache(cancer_tiny):
    first = run_prepare(cancer_tiny)
    labels = cancer_tiny.raw_dir(CANCER) / "train_labels.csv"
    labels.write_text(labels.read_text().replace("tr023,0", "tr023,1"))
    second = run_prepare(cancer_tiny)
    assert second.root != first.root and second.manifest["counts"]["positive"] == 9


@pytest.mark.parametrize("change", ["replaced", "emptied", "removed", "added to the labels"])
def test_changed_images_make_a_new_cache_and_remove_the_stale_one(cancer_tiny, change):
    first = run_prepare(cancer_tiny)
    raw = cancer_tiny.raw_dir(CANCER)
    image = raw / "train" / "tr005.tif"
    if change == "replaced":  # another picture under the same name
        Image.fromarray(patch_pixels(99, 24)).save(image)
    elif change == "emptied":
        image.write_bytes(b"")
    elif change == "removed":
        image.unlink()
        labels = raw / "train_labels.csv"
        labels.write_text(labels.read_text().replace("tr005,1\n", ""))
    else:
        Image.fromarray(patch_pixels(77, 24)).save(raw / "train" / "tr077.tif")
        with (raw / "train_labels.csv").open("a") as labels:
            labels.write("tr077,0\n")
    second = run_prepare(cancer_tiny)
    assert second.root != first.root and not second.reused
    assert cache_folders(cancer_tiny) == [second.root.name]
    assert summary_lines(second)[-1] == (
        f"removed 1 stale cache(s) with these settings, built from labels or images that have changed since: "
        f"{first.root.name}"
    )
    if change == "replaced":
        row = second.train_index.set_index("id").loc["tr005", "row"]
        assert np.array_equal(second.train_store().read([row])[0], patch_pixels(99, 24))
    if change == "emptied":
        assert second.skipped["id"].tolist() == ["tr005"]


def test_an_unchanged_source_reuses_the_cache_whatever_else_changes_in_raw(cancer_tiny):
    first = run_prepare(cancer_tiny)
    (cancer_tiny.raw_dir(CANCER) / "README.txt").write_text("notes that are not data")
    assert run_prepare(cancer_tiny).root == first.root


def test_train_never_reuses_a_cache_built_from_labels_changed_since(cancer_tiny):
    from kaggle_kit.config import layered_config
    from kaggle_kit.train import prepared_data

    competition = get_competition(CANCER)
    config = layered_config(CANCER, {"image_size": 24})
    first = prepared_data(competition, cancer_tiny, config, progress=False)
    assert prepared_data(competition, cancer_tiny, config, progress=False).root == first.root
    labels = cancer_tiny.raw_dir(CANCER) / "train_labels.csv"
    labels.write_text(labels.read_text().replace("tr023,0", "tr023,1"))
    again = prepared_data(competition, cancer_tiny, config, progress=False)
    assert again.root != first.root and again.manifest["counts"]["positive"] == 9
    assert again.train_index.set_index("id").loc["tr023", "label"] == 1


def test_without_its_raw_files_a_cache_is_used_unchecked_with_a_warning(cancer_tiny, tmp_path):
    from kaggle_kit.data.prepare import UncheckedCacheWarning, prepare_current

    built = run_prepare(cancer_tiny)
    raw = cancer_tiny.raw_dir(CANCER)
    shutil.move(raw, tmp_path / "moved-away")
    with pytest.warns(UncheckedCacheWarning) as caught:
        used = prepare_current(get_competition(CANCER), cancer_tiny, PrepareOptions(image_size=24), progress=False)
    assert used.root == built.root
    assert str(caught[0].message) == (
        f"raw files of {CANCER} not found at {raw}: using the cache {built.root.name} without checking its labels "
        "and images for changes; pass --raw-dir to check them"
    )


def test_prepare_current_rebuilds_with_the_labels_file_the_cache_was_built_with(galaxy_tiny, tmp_path):
    from kaggle_kit.data.prepare import prepare_current

    raw = galaxy_tiny.raw_dir(GALAXY)
    outside = tmp_path / "hart16-elsewhere.csv"
    shutil.move(raw / "gz2_hart16.csv", outside)
    competition = get_competition(GALAXY)
    built = prepare(competition, galaxy_tiny, PrepareOptions(image_size=16, labels_file=outside), progress=False)
    assert prepare_current(competition, galaxy_tiny, PrepareOptions(image_size=16), progress=False).root == built.root
    outside.write_text(outside.read_text().replace(",Sc,", ",Ei,", 1))  # the user relabels one galaxy
    rebuilt = prepare_current(competition, galaxy_tiny, PrepareOptions(image_size=16), progress=False)
    assert rebuilt.root != built.root and rebuilt.manifest["source"]["labels_file"] == str(outside)


def test_the_held_out_split_depends_on_each_id_alone(galaxy_tiny, tmp_path):
    raw = galaxy_tiny.raw_dir(GALAXY)
    before = get_competition(GALAXY).build_labels(raw, LabelOptions())
    removed = set(before.train["id"][::3])  # a third of the training galaxies go missing from the tables
    mapping = raw / "gz2_filename_mapping.csv"
    kept = [line for line in mapping.read_text().splitlines() if line.rsplit(",", 1)[-1] not in removed]
    mapping.write_text("\n".join(kept) + "\n")
    after = get_competition(GALAXY).build_labels(raw, LabelOptions())
    assert after.test["id"].tolist() == before.test["id"].tolist()
    assert set(after.train["id"]) == set(before.train["id"]) - removed


def test_load_prepared_finds_the_cache_or_says_how_to_build_it(cancer_tiny):
    competition = get_competition(CANCER)
    with pytest.raises(CacheError) as err:
        load_prepared(competition, cancer_tiny, PrepareOptions(image_size=32, balance="undersample"))
    assert str(err.value) == (
        f"no prepared cache of {CANCER} for 32px-crop1-undersample-seed42 in {cancer_tiny.cache_root(CANCER)}; "
        f"run `kit prepare {CANCER} --image-size 32 --crop 1 --balance undersample`"
    )
    built = run_prepare(cancer_tiny, image_size=32, balance="undersample")
    assert load_prepared(competition, cancer_tiny, PrepareOptions(image_size=32, balance="undersample")).root == built.root


def test_stain_normalisation_is_applied_in_the_cache_and_is_part_of_its_key(cancer_tiny):
    from kaggle_kit.data.stain import macenko_normalize

    plain = run_prepare(cancer_tiny)
    normalised = run_prepare(cancer_tiny, stain_norm="macenko", workers=2)
    assert normalised.root != plain.root and normalised.root.name.startswith("24px-crop1-none-macenko-seed42-")
    assert normalised.manifest["settings"]["stain_norm"] == "macenko"
    assert "stain_norm" not in plain.manifest["settings"]  # caches built before the option still match
    for store, split in ((normalised.train_store(), "train"), (normalised.test_store(), "test")):
        raw = (plain.train_store() if split == "train" else plain.test_store()).read(np.arange(len(store)))
        expected = np.stack([macenko_normalize(image) for image in raw])
        np.testing.assert_array_equal(store.read(np.arange(len(store))), expected)
        assert not np.array_equal(expected, raw)  # the normaliser did change these images
    competition = get_competition(CANCER)
    with pytest.raises(CacheError, match="--stain-norm macenko"):
        load_prepared(competition, cancer_tiny, PrepareOptions(image_size=32, stain_norm="macenko"))
    assert load_prepared(competition, cancer_tiny, PrepareOptions(image_size=24, stain_norm="macenko")).root == normalised.root
    assert load_prepared(competition, cancer_tiny, PrepareOptions(image_size=24)).root == plain.root


def test_missing_raw_folder_says_to_download(workspace_env):
    with pytest.raises(DataError) as err:
        run_prepare(workspace_env)
    assert str(err.value) == (
        f"raw files of {CANCER} not found at {workspace_env.raw_dir(CANCER)}; "
        f"run `kit download {CANCER}` first, or pass --raw-dir"
    )


# --- rebalancing and subsampling ---------------------------------------------------------
def test_undersample_drops_the_majority_to_50_50(cancer_tiny):
    data = run_prepare(cancer_tiny, balance="undersample")
    assert data.train_index["label"].value_counts().to_dict() == {1: 8, 0: 8}
    assert data.train_store().shape[0] == 16  # dropped images are never decoded
    assert data.manifest["balance_done"] == ["undersample: label 0 16 → 8 (50/50)"]


def test_oversample_repeats_minority_rows_without_new_images(cancer_tiny):
    data = run_prepare(cancer_tiny, balance="oversample")
    index = data.train_index
    assert index["label"].value_counts().to_dict() == {0: 16, 1: 16}
    assert data.train_store().shape[0] == 24
    repeated = index[index.duplicated("row", keep=False)]
    assert set(repeated["label"]) == {1} and len(repeated) == 16  # each positive twice
    assert data.manifest["balance_done"] == ["oversample: label 1 8 → 16 rows (images repeated)"]


def test_class_weight_is_recorded_not_applied_to_rows(cancer_tiny):
    data = run_prepare(cancer_tiny, balance="class-weight")
    assert len(data.train_index) == 24
    assert data.class_weight == {0: 0.75, 1: 1.5}
    assert data.manifest["class_weight"] == {"0": 0.75, "1": 1.5}


def test_max_images_is_a_stratified_seeded_subsample_of_train_only(cancer_tiny):
    data = run_prepare(cancer_tiny, max_images=12)
    assert data.train_index["label"].value_counts().to_dict() == {0: 8, 1: 4}
    assert len(data.test_index) == 8
    same = run_prepare(cancer_tiny, max_images=12, force=True)
    other_seed = run_prepare(cancer_tiny, max_images=12, seed=7)
    assert same.train_index["id"].tolist() == data.train_index["id"].tolist()
    assert other_seed.train_index["id"].tolist() != data.train_index["id"].tolist()


def test_subsampling_is_reported_apart_from_balancing(cancer_tiny):
    data = run_prepare(cancer_tiny, max_images=12, balance="undersample")
    assert data.manifest["balance_done"] == ["undersample: label 0 16 → 8 (50/50)"]
    assert data.manifest["subsample"] == "12 of 16 training rows (stratified, seed 42)"
    assert summary_lines(data)[3:5] == ["balance: undersample: label 0 16 → 8 (50/50)",
                                        "subsample: 12 of 16 training rows (stratified, seed 42)"]


def test_a_labels_file_for_a_competition_that_takes_none_is_refused(cancer_tiny, tmp_path):
    table = tmp_path / "gz2_hart16.csv"
    table.write_text("dr7objid,gz2_class\n1,Ei\n")
    with pytest.raises(ConfigError) as err:
        run_prepare(cancer_tiny, labels_file=table)
    assert str(err.value) == ("--labels supplies the gz2_hart16 table of galaxy-zoo-2; histopathologic-cancer-detection "
                              "takes its labels from its own files: drop the option")
    assert not cache_folders(cancer_tiny)


def test_a_vote_filter_on_a_competition_without_votes_is_refused(cancer_tiny):
    with pytest.raises(ConfigError) as err:
        run_prepare(cancer_tiny, min_vote_fraction=0.8)
    assert str(err.value) == (
        f"--min-vote-fraction needs volunteer vote fractions, which {CANCER} does not have "
        "(galaxy-zoo-2 does); drop the option"
    )


def test_balancing_a_single_class_table_fails_clearly(cancer_tiny):
    labels = cancer_tiny.raw_dir(CANCER) / "train_labels.csv"
    labels.write_text(labels.read_text().replace(",1\n", ",0\n"))
    with pytest.raises(DataError) as err:
        run_prepare(cancer_tiny, balance="undersample")
    assert str(err.value) == "--balance undersample needs at least two classes in the training rows, found only [0]; use --balance none"


def test_options_are_validated():
    with pytest.raises(ConfigError) as err:
        PrepareOptions(image_size=24, balance="smote")
    assert str(err.value) == "balance must be one of none, undersample, oversample, class-weight (got 'smote')"


def test_options_default_to_the_competition_recipe():
    from kaggle_kit.train import prepare_options

    galaxy = prepare_options(get_competition(GALAXY), image_size=64)
    assert (galaxy.image_size, galaxy.crop, galaxy.balance) == (64, 0.5, "none")
    notebook = prepare_options(get_competition(CANCER), recipe="notebook")
    assert (notebook.image_size, notebook.balance, notebook.max_images) == (32, "undersample", 50_000)


# --- Galaxy Zoo 2 -------------------------------------------------------------------------
def test_galaxy_labels_split_and_crop(galaxy_tiny):
    data = run_prepare(galaxy_tiny, slug=GALAXY, image_size=16, crop=0.5)
    labels = galaxy_tiny.labels_dir(GALAXY)
    notes = json.loads((labels / "notes.json").read_text())
    assert (notes["elliptical"], notes["spiral"], notes["dropped_A"]) == (12, 15, 3)
    test_labels = pd.read_csv(labels / "test_labels.csv", dtype={"id": str})
    sample = pd.read_csv(labels / "sample_submission.csv", dtype={"id": str})
    assert sample["id"].tolist() == test_labels["id"].tolist() == data.test_index["id"].tolist()
    assert len(test_labels) == notes["test"] and 0 < notes["test"] < 27  # about 20 %, by a hash of each objid
    assert data.train_store().shape == (27 - notes["test"], 16, 16, 3) and data.manifest["crop"] == 0.5


def test_galaxy_confidence_filter_thins_train_and_keeps_the_test_split(galaxy_tiny):
    plain = run_prepare(galaxy_tiny, slug=GALAXY, image_size=16)
    confident = run_prepare(galaxy_tiny, slug=GALAXY, image_size=16, min_vote_fraction=0.8)
    assert confident.test_index["id"].tolist() == plain.test_index["id"].tolist()
    assert set(confident.train_index["id"]) < set(plain.train_index["id"])
    assert confident.manifest["settings"]["min_vote_fraction"] == 0.8
    assert confident.manifest["label_notes"]["dropped_low_confidence"] == len(plain.train_index) - len(confident.train_index)


# --- the demo generators' competitions ----------------------------------------------------------
def test_generated_galaxy_dataset_prepares_and_lists_its_unreadable_images(galaxy_raw, workspace_env):
    shutil.copytree(galaxy_raw, workspace_env.raw_dir(GALAXY))
    data = run_prepare(workspace_env, slug=GALAXY, image_size=32, crop=0.5, workers=2)
    skipped = data.skipped
    assert len(skipped) == GALAXY_UNREADABLE and set(skipped["split"]) <= {"train", "test"}
    assert set(skipped["reason"]) <= {"truncated image data", "not a readable image (corrupt file or unknown format)"}
    notes = json.loads((workspace_env.labels_dir(GALAXY) / "notes.json").read_text())
    assert len(data.test_index) == notes["test"] and (data.test_index["readable"] == 0).sum() == (skipped["split"] == "test").sum()
    assert data.manifest["counts"]["train_images"] == notes["train"] - (skipped["split"] == "train").sum()


def test_galaxy_images_missing_from_the_upload_are_skipped_and_counted(galaxy_raw, workspace_env):
    raw = workspace_env.raw_dir(GALAXY)
    shutil.copytree(galaxy_raw, raw)
    train = get_competition(GALAXY).build_labels(raw, LabelOptions()).train
    gone = Path(train["path"].iloc[0])
    gone.unlink()
    data = run_prepare(workspace_env, slug=GALAXY, image_size=32, crop=0.5)
    missing = data.skipped[data.skipped["reason"] == "missing file"]
    assert missing["id"].tolist() == [gone.stem] and missing["split"].tolist() == ["train"]
    assert json.loads((workspace_env.labels_dir(GALAXY) / "notes.json").read_text())["missing_images"] == 1


def test_generated_cancer_competition_prepares_with_the_notebook_balance(cancer_raw, workspace_env):
    shutil.copytree(cancer_raw, workspace_env.raw_dir(CANCER))
    data = run_prepare(workspace_env, image_size=32, balance="undersample")
    counts = data.train_index["label"].value_counts()
    assert counts[0] == counts[1] and len(data.test_index) == CANCER_TEST and data.skipped.empty


# --- bad input: tables ---------------------------------------------------------------------
def rewrite_labels(workspace, text):
    path = workspace.raw_dir(CANCER) / "train_labels.csv"
    path.write_bytes(text.encode("utf-8"))
    return path


def label_lines(n=24, positives=8):
    return [f"tr{i:03d},{1 if i < positives else 0}" for i in range(n)]


def test_bom_crlf_and_extra_columns_are_accepted(cancer_tiny):
    lines = [f"{line},extra" for line in label_lines()]
    rewrite_labels(cancer_tiny, "\ufeffid,label,note\r\n" + "\r\n".join(lines) + "\r\n")
    data = run_prepare(cancer_tiny)
    assert data.train_index["id"].tolist()[:2] == ["tr000", "tr001"] and data.manifest["counts"]["positive"] == 8


@pytest.mark.parametrize(
    "text, message",
    [
        ("id\n" + "\n".join(f"tr{i:03d}" for i in range(24)) + "\n",
         "{path} lacks column(s) label (has: id); fix the header or pass the right file"),
        ("id,label\n" + "\n".join(label_lines() + ["tr003,1"]) + "\n",
         "{path} has 1 duplicate id(s) in column 'id', e.g. 'tr003'; remove the duplicates"),
        ("id,label\n" + "\n".join(label_lines()[:-2] + ["tr022,2", "tr023,yes"]) + "\n",
         "{path} column 'label' must hold only 0 and 1; found '2', 'yes' in 2 row(s); map the labels to 0/1"),
        ("id,label\n", "{path} has a header but no rows; add the rows or pass the right file"),
        ("id,label\n" + "\n".join(label_lines()[:-1] + [",0"]) + "\n",
         "{path} has 1 empty id(s) in column 'id' (first on line 25); fill them in or remove those rows"),
        ("id,label\n" + "\n".join(label_lines()[:-1] + ["tr023,NA"]) + "\n",
         "{path} column 'label' must hold only 0 and 1; found nan in 1 row(s); map the labels to 0/1"),
        ("id,label\n" + "\n".join(label_lines()[:-2] + ["tr022,0.5", "tr023,"]) + "\n",  # numpy floats in the message
         "{path} column 'label' must hold only 0 and 1; found 0.5, nan in 2 row(s); map the labels to 0/1"),
    ],
    ids=["missing-column", "duplicate-ids", "non-binary-labels", "header-only", "empty-id", "missing-label",
         "numpy-values"],
)
def test_bad_label_tables_fail_with_the_file_and_the_fix(cancer_tiny, text, message):
    path = rewrite_labels(cancer_tiny, text)
    with pytest.raises(DataError) as err:
        run_prepare(cancer_tiny)
    assert str(err.value) == message.format(path=path)
    assert not cache_folders(cancer_tiny)


@pytest.mark.parametrize("name", ["NA", "None", "null", "nan", "N/A", "NULL"])
def test_ids_that_pandas_reads_as_missing_are_ids(cancer_tiny, name):
    raw = cancer_tiny.raw_dir(CANCER)
    (raw / "train" / "tr007.tif").rename(raw / "train" / f"{name.replace('/', '_')}.tif")
    if "/" in name:  # not a file name: the id cannot have an image, and says so
        rewrite_labels(cancer_tiny, "id,label\n" + "\n".join(label_lines()).replace("tr007", name) + "\n")
        with pytest.raises(DataError, match=f"have no image .*e.g. {name}.tif"):
            run_prepare(cancer_tiny)
        return
    rewrite_labels(cancer_tiny, "id,label\n" + "\n".join(label_lines()).replace("tr007", name) + "\n")
    data = run_prepare(cancer_tiny)
    assert name in data.train_index["id"].tolist() and "nan" not in set(data.train_index["id"]) - {name}
    assert name in pd.read_csv(cancer_tiny.labels_dir(CANCER) / "train.csv", dtype=str, keep_default_na=False)["id"].tolist()


def test_ids_with_no_image_fail_listing_them(cancer_tiny):
    images = cancer_tiny.raw_dir(CANCER) / "train"
    (images / "tr005.tif").unlink()
    with pytest.raises(DataError) as err:
        run_prepare(cancer_tiny)
    assert str(err.value) == (
        f"1 id(s) in {cancer_tiny.raw_dir(CANCER) / 'train_labels.csv'} have no image in {images} (e.g. tr005.tif); "
        "re-download or remove those rows"
    )


def test_an_empty_images_folder_fails_clearly(cancer_tiny):
    images = cancer_tiny.raw_dir(CANCER) / "train"
    for path in images.iterdir():
        path.unlink()
    with pytest.raises(DataError) as err:
        run_prepare(cancer_tiny)
    assert str(err.value) == f"image folder {images} is empty; re-download the data or fix the images path"


# --- bad input: images ----------------------------------------------------------------------
def damage(workspace, split, image_id, how):
    path = workspace.raw_dir(CANCER) / split / f"{image_id}.tif"
    if how == "corrupt":
        path.write_bytes(b"II*\x00garbage" * 10)
    elif how == "truncated":
        path.write_bytes(path.read_bytes()[:300])
    elif how == "zero-byte":
        path.write_bytes(b"")
    elif how == "1x1":
        Image.new("RGB", (1, 1)).save(path, format="TIFF")
    elif how == "wrong-mode":
        Image.fromarray(patch_pixels(5, 24)[..., 0]).convert("P").save(path, format="TIFF")
    return path


def test_bad_train_images_are_skipped_and_listed(cancer_tiny):
    paths = {how: damage(cancer_tiny, "train", f"tr{i:03d}", how)
             for i, how in enumerate(["corrupt", "truncated", "zero-byte", "1x1"], start=10)}
    damage(cancer_tiny, "train", "tr005", "wrong-mode")
    data = run_prepare(cancer_tiny, workers=2)
    skipped = data.skipped
    assert skipped["id"].tolist() == ["tr010", "tr011", "tr012", "tr013"]
    assert skipped["split"].tolist() == ["train"] * 4
    assert skipped["path"].tolist() == [str(p) for p in paths.values()]
    assert skipped["reason"].tolist()[2:] == ["empty file (0 bytes)", "image is 1×1 pixels, too small to use"]
    assert skipped["reason"].iloc[1] in {"truncated image data", "not a readable image (corrupt file or unknown format)"}
    assert len(data.train_index) == 20 and "tr010" not in set(data.train_index["id"])
    assert data.manifest["counts"]["skipped"] == 4
    wrong_mode_row = data.train_index.set_index("id").at["tr005", "row"]
    assert data.train_store().read([wrong_mode_row]).shape == (1, 24, 24, 3)


@pytest.mark.timeout(120)  # a hang (a FIFO opened) fails the test instead of stopping the suite
@pytest.mark.parametrize("workers", [1, 2])
def test_fifos_sockets_devices_and_folders_named_like_images_are_skipped(cancer_tiny, monkeypatch, workers):
    import socket

    train, test = cancer_tiny.raw_dir(CANCER) / "train", cancer_tiny.raw_dir(CANCER) / "test"
    for path in (train / "tr010.tif", train / "tr011.tif", train / "tr012.tif", train / "tr013.tif", test / "te001.tif"):
        path.unlink()
    os.mkfifo(train / "tr010.tif")
    listener = socket.socket(socket.AF_UNIX)
    monkeypatch.chdir(train)  # a socket's path has a short length limit
    listener.bind("tr011.tif")
    monkeypatch.undo()
    (train / "tr012.tif").mkdir()
    (train / "tr013.tif").symlink_to("/dev/zero")
    os.mkfifo(test / "te001.tif")
    try:
        data = run_prepare(cancer_tiny, workers=workers)
    finally:
        listener.close()
    assert data.skipped[["split", "id", "reason"]].values.tolist() == [
        ["train", "tr010", "not a regular file (a FIFO (named pipe))"],
        ["train", "tr011", "not a regular file (a socket)"],
        ["train", "tr012", "not a regular file (a folder)"],
        ["train", "tr013", "not a regular file (a character device)"],
        ["test", "te001", "not a regular file (a FIFO (named pipe))"],
    ]
    assert data.test_index["readable"].tolist() == [1, 0, 1, 1, 1, 1, 1, 1]


@pytest.mark.timeout(120)
def test_a_fifo_given_as_a_labels_table_is_refused_at_once(cancer_tiny):
    labels = cancer_tiny.raw_dir(CANCER) / "train_labels.csv"
    labels.unlink()
    os.mkfifo(labels)
    with pytest.raises(DataError) as err:
        run_prepare(cancer_tiny)
    assert str(err.value) == f"{labels} is a FIFO (named pipe), not a file; point at a regular file"


# --- disk full, short writes --------------------------------------------------------------
def test_too_little_free_space_is_refused_before_building(cancer_tiny, small_disk):
    shutil.copytree(cancer_tiny.raw_dir(CANCER), small_disk / "raw")
    workspace = cancer_tiny.__class__.resolve(data_dir=small_disk / "data", raw_dir=small_disk / "raw")
    with pytest.raises(StorageError) as err:
        prepare(get_competition(CANCER), workspace, PrepareOptions(image_size=96), progress=False)
    cache_root = workspace.cache_root(CANCER)
    needed = 32 * 96 * 96 * 3 + 32 * 100 + 2**20
    assert re.fullmatch(
        re.escape(f"not enough free space in {cache_root} for the 96px-crop1-none-seed42 cache: it needs "
                  f"{needed / 1e6:.1f} MB and ") + r"0\.[0-9] MB" + re.escape(
                  " are free; free some space, use a smaller --image-size or --max-images, or a --data-dir on a "
                  "larger disk"), str(err.value))
    assert not [p for p in cache_root.rglob("*") if p.is_file() and p.name != ".prepare.lock"]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_disk_filling_up_mid_build_is_one_line_and_publishes_nothing(cancer_tiny, small_disk, monkeypatch, workers):
    prepare_module = sys.modules["kaggle_kit.data.prepare"]  # `kaggle_kit.data.prepare` is also the function
    monkeypatch.setattr(prepare_module, "check_free_space", lambda *args: None)  # as if another writer took the space
    shutil.copytree(cancer_tiny.raw_dir(CANCER), small_disk / "raw")
    workspace = cancer_tiny.__class__.resolve(data_dir=small_disk / "data", raw_dir=small_disk / "raw")
    with pytest.raises(StorageError) as err:
        prepare(get_competition(CANCER), workspace, PrepareOptions(image_size=96), workers=workers, progress=False)
    assert str(err.value).startswith("cannot write ")
    assert str(err.value).endswith(": no space left on the device; free some space, or write elsewhere")
    assert not list(workspace.cache_root(CANCER).glob("*/manifest.json"))
    assert not any((workspace.cache_root(CANCER) / ".building").iterdir())


@pytest.mark.parametrize("short", ["half", "nothing"])
def test_short_writes_are_completed_or_fail_never_leaving_blank_rows(cancer_tiny, monkeypatch, short):
    import kaggle_kit.data.decode as decode

    real_pwrite = os.pwrite

    def short_pwrite(fd, data, offset):
        if short == "nothing":
            return 0
        return real_pwrite(fd, bytes(data)[: max(1, len(data) // 2)], offset)

    monkeypatch.setattr(decode.os, "pwrite", short_pwrite)
    if short == "nothing":
        with pytest.raises(StorageError, match="cannot write .*train.npy: "):
            run_prepare(cancer_tiny)
        assert not cache_folders(cancer_tiny)
        return
    data = run_prepare(cancer_tiny)
    for row, image_id in zip(data.train_index["row"], data.train_index["id"]):
        assert np.array_equal(data.train_store().read([row])[0], patch_pixels(int(image_id[2:]), 24))


def test_an_unreadable_test_image_keeps_its_row_blank(cancer_tiny):
    damage(cancer_tiny, "test", "te002", "corrupt")
    data = run_prepare(cancer_tiny)
    assert data.test_index["readable"].tolist() == [1, 1, 0, 1, 1, 1, 1, 1]
    assert len(data.test_index) == 8 and not data.test_store().read([2]).any()
    assert data.skipped[["split", "id"]].values.tolist() == [["test", "te002"]]


def test_all_training_images_unreadable_fails(cancer_tiny):
    for i in range(24):
        damage(cancer_tiny, "train", f"tr{i:03d}", "zero-byte")
    with pytest.raises(DataError) as err:
        run_prepare(cancer_tiny)
    assert str(err.value) == (
        f"none of the 24 training images of {CANCER} could be decoded (e.g. empty file (0 bytes)); "
        f"check the image files under {cancer_tiny.raw_dir(CANCER) / 'train'}"
    )
    assert not cache_folders(cancer_tiny)


# --- interruption and concurrency --------------------------------------------------------------
# A prepare in a child process; decoding is slowed (and announced) so the parent can act mid-build.
CHILD = """
import os, sys, time
from pathlib import Path
from kaggle_kit.competitions import get_competition
from kaggle_kit.data import cache
from kaggle_kit.data.prepare import PrepareOptions, prepare, summary_lines
from kaggle_kit.paths import Workspace

marker, pause, workers = Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
original = cache.decode_chunk
def slow_chunk(*args):
    marker.write_text(str(os.getpid()))  # the decoding process: the parent, or a worker
    time.sleep(pause)
    return original(*args)
cache.decode_chunk = slow_chunk
if __name__ == "__main__":
    data = prepare(get_competition("%s"), Workspace.resolve(), PrepareOptions(image_size=24), workers=workers, progress=False)
    print(summary_lines(data)[-1])
""" % CANCER


def start_child(tmp_path, name, pause, workers=1):
    marker = tmp_path / f"{name}.started"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    process = subprocess.Popen([sys.executable, "-c", CHILD, str(marker), str(pause), str(workers)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return process, marker


def wait_for(path, process, seconds=30):
    deadline = time.monotonic() + seconds
    while not (path.exists() and path.read_text()):
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline, "the child never started decoding"
        time.sleep(0.05)


def process_gone(pid, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":  # exited, waiting to be reaped
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("workers", [1, 2], ids=["in-process", "worker-pool"])
def test_a_build_killed_midway_leaves_nothing_complete_and_reruns(cancer_tiny, tmp_path, workers):
    child, marker = start_child(tmp_path, "killed", pause=60, workers=workers)
    wait_for(marker, child)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert process_gone(int(marker.read_text()))  # no orphaned worker keeps decoding
    assert not cache_folders(cancer_tiny)
    assert list((cancer_tiny.cache_root(CANCER) / ".building").iterdir())  # the half-built leftover
    with pytest.raises(CacheError):
        load_prepared(get_competition(CANCER), cancer_tiny, PrepareOptions(image_size=24))
    data = run_prepare(cancer_tiny)
    assert not data.reused and len(data.train_index) == 24
    assert not list((cancer_tiny.cache_root(CANCER) / ".building").iterdir())  # leftover cleared


def test_two_concurrent_prepares_build_once(cancer_tiny, tmp_path):
    first, first_marker = start_child(tmp_path, "first", pause=0.5)
    wait_for(first_marker, first)
    second, _ = start_child(tmp_path, "second", pause=0.5)
    outputs = [process.communicate(timeout=60) for process in (first, second)]
    assert [process.returncode for process in (first, second)] == [0, 0], outputs
    [folder] = cache_folders(cancer_tiny)
    root = cancer_tiny.cache_root(CANCER) / folder
    assert [out for out, _ in outputs] == [f"cache: {root} (built)\n", f"cache: {root} (reused)\n"]


# --- the command --------------------------------------------------------------------------------
def test_prepare_command_prints_counts_balance_and_cache(cancer_tiny):
    damage(cancer_tiny, "train", "tr002", "zero-byte")  # a positive: undersampling keeps every positive
    result = CliRunner().invoke(cli, ["prepare", CANCER, "--image-size", "24", "--balance", "undersample",
                                      "--workers", "1", "--no-progress"])
    assert result.exit_code == 0, result.output
    [root] = [cancer_tiny.cache_root(CANCER) / name for name in cache_folders(cancer_tiny)]
    assert result.output == (
        "train: 15 images, 7 positive, 8 negative (15 index rows)\n"
        "test: 8 images (0 unreadable, kept as blank rows)\n"
        f"skipped: 1 (listed in {root / 'skipped.csv'})\n"
        "balance: undersample: label 0 16 → 8 (50/50)\n"
        f"cache: {root} (built)\n"
    )


def test_prepare_command_reports_bad_input_as_an_error(cancer_tiny):
    rewrite_labels(cancer_tiny, "id\ntr000\n")
    result = CliRunner().invoke(cli, ["prepare", CANCER])
    assert result.exit_code == 1
    path = cancer_tiny.raw_dir(CANCER) / "train_labels.csv"
    assert result.output == f"Error: {path} lacks column(s) label (has: id); fix the header or pass the right file\n"
