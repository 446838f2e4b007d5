"""The demo generators: real layouts, readable files, joinable tables, labels tied to the intended features."""

from __future__ import annotations

import re
import zipfile

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from _fixtures_demo import CANCER_TEST, CANCER_TRAIN, GALAXIES, GALAXY_UNREADABLE
from kaggle_kit.competitions import LabelOptions, get_competition
from kaggle_kit.demo import _histology
from kaggle_kit.archive import build_archive
from kaggle_kit.demo.generators import write_cancer_competition, write_galaxy_dataset

HEX_ID = re.compile(r"[0-9a-f]{40}")
CANCER = "histopathologic-cancer-detection"
GALAXY = "galaxy-zoo-2"


def test_cancer_patches_are_96px_rgb_tiffs_named_by_40_hex_ids(cancer_raw):
    for split, count in (("train", CANCER_TRAIN), ("test", CANCER_TEST)):
        files = sorted((cancer_raw / split).iterdir())
        assert len(files) == count
        for path in files:
            assert path.suffix == ".tif" and HEX_ID.fullmatch(path.stem)
            with Image.open(path) as image:
                assert (image.format, image.mode, image.size) == ("TIFF", "RGB", (96, 96))


def test_cancer_tables_join_with_the_images(cancer_raw):
    competition = get_competition(CANCER)
    tables = competition.build_labels(cancer_raw, LabelOptions())
    assert len(tables.train) == CANCER_TRAIN and len(tables.test) == CANCER_TEST
    assert set(tables.train["label"]) == {0, 1}
    assert 0.2 < tables.train["label"].mean() < 0.7
    sample = pd.read_csv(cancer_raw / "sample_submission.csv")
    assert list(sample.columns) == ["id", "label"] and (sample["label"] == 0).all()
    assert competition.check_layout(cancer_raw) == {"train_images": CANCER_TRAIN, "test_images": CANCER_TEST}


def test_cancer_solution_holds_the_hidden_test_labels(tmp_path):
    raw = write_cancer_competition(tmp_path / "raw", n_train=6, n_test=5, seed=1, solution_path=tmp_path / "solution.csv")
    solution = pd.read_csv(tmp_path / "solution.csv")
    sample = pd.read_csv(raw / "sample_submission.csv")
    assert list(solution["id"]) == list(sample["id"])
    assert set(solution["label"]) <= {0, 1}
    assert not (raw / "solution.csv").exists()


def test_the_same_seed_writes_identical_files_and_another_seed_does_not(tmp_path):
    first = write_cancer_competition(tmp_path / "a", n_train=4, n_test=2, seed=3)
    again = write_cancer_competition(tmp_path / "b", n_train=4, n_test=2, seed=3)
    other = write_cancer_competition(tmp_path / "c", n_train=4, n_test=2, seed=4)
    assert folder_bytes(first) == folder_bytes(again)
    assert folder_bytes(first) != folder_bytes(other)


def folder_bytes(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def patch_features(patches: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Colour means, spread and dark-pixel fractions of the pixels in ``region``."""
    pixels = patches[:, region].astype(np.float32)  # (n, pixels, 3)
    grey = pixels.mean(axis=-1)
    return np.column_stack(
        [pixels.mean(axis=1), grey.std(axis=1), (grey < 100).mean(axis=1), (grey < 130).mean(axis=1)]
    )


def cross_validated_auc(features: np.ndarray, labels: np.ndarray) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression())
    scores = cross_val_predict(model, features, labels, cv=5, method="predict_proba")[:, 1]
    return float(roc_auc_score(labels, scores))


@pytest.fixture(scope="module")
def labelled_patches():
    rng = np.random.default_rng(11)
    labels = (rng.random(400) < 0.45).astype(np.int64)
    patches = _histology.render_patches(rng, labels, _histology.random_stains(rng, 6))
    return patches, labels


def test_the_outer_frame_says_nothing_about_the_label(labelled_patches):
    patches, labels = labelled_patches
    frame = np.ones((96, 96), dtype=bool)
    frame[16:80, 16:80] = False  # the outer 16 pixels: a centre-blind view
    assert 0.4 < cross_validated_auc(patch_features(patches, frame), labels) < 0.6


def test_the_centre_separates_the_classes_but_not_perfectly(labelled_patches):
    patches, labels = labelled_patches
    centre = np.zeros((96, 96), dtype=bool)
    centre[32:64, 32:64] = True
    auc = cross_validated_auc(patch_features(patches, centre), labels)
    assert 0.75 < auc < 0.97


def test_negatives_never_have_tumour_in_the_centre_but_may_outside():
    rng = np.random.default_rng(2)
    labels = np.array([0] * 200 + [1] * 200)
    masks = _histology.tumour_masks(rng, labels)
    lo, hi = _histology.NEGATIVE_EXCLUSION
    assert not masks[:200, lo:hi, lo:hi].any()
    assert masks[:200].any(axis=(1, 2)).mean() > 0.2
    assert masks[200:, 32:64, 32:64].any(axis=(1, 2)).all()


def test_galaxy_images_are_424px_rgb_jpegs_and_exactly_the_broken_ones_fail(galaxy_raw):
    images = sorted((galaxy_raw / "images_gz2" / "images").glob("*.jpg"))
    assert len(images) == GALAXIES + 1  # one imaged galaxy is missing from the Hart table
    unreadable = 0
    for path in images:
        assert path.stem.isdigit()
        try:
            with Image.open(path) as image:
                image.load()
                assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (424, 424))
        except OSError:
            unreadable += 1
    assert unreadable == GALAXY_UNREADABLE


def test_galaxy_tables_join_and_drop_the_artefact_rows(galaxy_raw):
    hart16 = pd.read_csv(galaxy_raw / "gz2_hart16.csv")
    mapping = pd.read_csv(galaxy_raw / "gz2_filename_mapping.csv")
    assert list(mapping.columns) == ["objid", "sample", "asset_id"]
    artefacts = int((hart16["gz2_class"] == "A").sum())
    assert artefacts >= 1
    tables = get_competition(GALAXY).build_labels(galaxy_raw, LabelOptions())
    assert tables.notes["joined"] == GALAXIES  # one Hart row has no image, one image no Hart row
    assert tables.notes["dropped_A"] == artefacts
    assert len(tables.train) + len(tables.test) == GALAXIES - artefacts
    assert set(tables.train["label"]) == {0, 1}
    assert abs(tables.notes["spiral"] - tables.notes["elliptical"]) <= 1


def test_galaxy_classes_look_like_galaxy_zoo_and_agree_with_the_votes(tmp_path):
    hart16 = pd.read_csv(write_galaxy_dataset(tmp_path / "gz", n_galaxies=80, seed=5, unreadable=0) / "gz2_hart16.csv")
    classes = set(hart16["gz2_class"])
    assert {"Er", "Ei", "Ec"} <= classes
    assert any(re.fullmatch(r"SB?[abcd][1234+][tml]", c) for c in classes)
    assert any(c.startswith("Se") for c in classes)  # edge-on spirals: the hard ones
    smooth = hart16["t01_smooth_or_features_a01_smooth_debiased"]
    features = hart16["t01_smooth_or_features_a02_features_or_disk_debiased"]
    star = hart16["t01_smooth_or_features_a03_star_or_artifact_debiased"]
    first = hart16["gz2_class"].str[0]
    assert (smooth[first == "E"] > features[first == "E"]).all()
    assert (features[first == "S"] > smooth[first == "S"]).all()
    assert (star[first == "A"] > 0.4).all()
    assert np.allclose(smooth + features + star, 1, atol=0.01)


def test_min_vote_fraction_filters_the_generated_galaxies(galaxy_raw):
    tables = get_competition(GALAXY).build_labels(galaxy_raw, LabelOptions(min_vote_fraction=0.8))
    assert 0 < tables.notes["dropped_low_confidence"] < GALAXIES


def test_archive_holds_the_folder_with_relative_paths_and_is_reproducible(cancer_raw, tmp_path):
    first = build_archive(cancer_raw, tmp_path / "a.zip")
    again = build_archive(cancer_raw, tmp_path / "b.zip")
    assert first.read_bytes() == again.read_bytes()
    with zipfile.ZipFile(first) as archive:
        names = archive.namelist()
        assert archive.read("train_labels.csv") == (cancer_raw / "train_labels.csv").read_bytes()
    expected = sorted(p.relative_to(cancer_raw).as_posix() for p in cancer_raw.rglob("*") if p.is_file())
    assert names == expected
