"""The five task-kind stand-ins: real layouts, joinable tables, hidden answers, and a signal to learn."""

from __future__ import annotations

import io
import re
import zipfile

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from _fixtures_tasks import DOG_BREEDS, TASK_TEST, TASK_TRAIN
from kaggle_kit.competitions.galaxy_tree import CLASS_COLUMNS, spiral_or_elliptical, tree_violations
from kaggle_kit.demo import _aerial, _dogs, _fundus, _leaves, _sky, task_generators
from kaggle_kit.demo._tree_votes import tree_votes

HEX32 = re.compile(r"[0-9a-f]{32}")
HEX12 = re.compile(r"[0-9a-f]{12}")


def zip_names(path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return sorted(archive.namelist())


def top_level(root) -> list[str]:
    return sorted(p.name for p in root.iterdir())


def test_cactus_is_two_inner_archives_and_two_tables(cactus_raw):
    raw, solution = cactus_raw
    assert top_level(raw) == ["sample_submission.csv", "test.zip", "train.csv", "train.zip"]
    train = pd.read_csv(raw / "train.csv")
    assert list(train.columns) == ["id", "has_cactus"] and len(train) == TASK_TRAIN
    assert all(re.fullmatch(r"[0-9a-f]{32}\.jpg", i) for i in train["id"])  # the id is the file name
    assert zip_names(raw / "train.zip") == sorted(f"train/{i}" for i in train["id"])
    sample = pd.read_csv(raw / "sample_submission.csv")
    assert list(sample.columns) == ["id", "has_cactus"] and (sample["has_cactus"] == 0.5).all()
    assert zip_names(raw / "test.zip") == sorted(f"test/{i}" for i in sample["id"])
    answers = pd.read_csv(solution)
    assert list(answers["id"]) == list(sample["id"]) and set(answers["has_cactus"]) <= {0, 1}
    with zipfile.ZipFile(raw / "train.zip") as archive:
        image = Image.open(io.BytesIO(archive.read(f"train/{train['id'][0]}")))
        assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (32, 32))


def test_dog_breeds_are_folders_a_labels_table_and_a_wide_sample(dogs_raw):
    raw, solution = dogs_raw
    assert top_level(raw) == ["labels.csv", "sample_submission.csv", "test", "train"]
    labels = pd.read_csv(raw / "labels.csv")
    assert list(labels.columns) == ["id", "breed"] and len(labels) == TASK_TRAIN
    assert all(HEX32.fullmatch(i) for i in labels["id"])
    assert sorted(p.stem for p in (raw / "train").glob("*.jpg")) == sorted(labels["id"])
    assert labels["breed"].nunique() == DOG_BREEDS and set(labels["breed"]) <= set(_dogs.BREEDS)
    sample = pd.read_csv(raw / "sample_submission.csv")
    assert list(sample.columns) == ["id", *sorted(_dogs.BREEDS)] and len(sample.columns) == 121
    assert np.allclose(sample.iloc[:, 1:].to_numpy(), 1 / 120)
    answers = pd.read_csv(solution)
    assert list(answers.columns) == list(sample.columns) and list(answers["id"]) == list(sample["id"])
    assert (answers.iloc[:, 1:].sum(axis=1) == 1).all()
    sizes = {Image.open(p).size for p in (raw / "test").glob("*.jpg")}
    assert len(sizes) > 1  # photos of varying shape, as the real ones


def test_aptos_is_png_folders_with_grades(aptos_raw):
    raw, solution = aptos_raw
    assert top_level(raw) == ["sample_submission.csv", "test.csv", "test_images", "train.csv", "train_images"]
    train = pd.read_csv(raw / "train.csv", dtype={"id_code": str})
    assert list(train.columns) == ["id_code", "diagnosis"] and set(train["diagnosis"]) <= set(range(5))
    assert all(HEX12.fullmatch(i) for i in train["id_code"])
    assert sorted(p.name for p in (raw / "train_images").iterdir()) == sorted(f"{i}.png" for i in train["id_code"])
    test = pd.read_csv(raw / "test.csv", dtype={"id_code": str})
    sample = pd.read_csv(raw / "sample_submission.csv", dtype={"id_code": str})
    assert list(test.columns) == ["id_code"] and list(sample["id_code"]) == list(test["id_code"])
    assert list(sample.columns) == ["id_code", "diagnosis"] and (sample["diagnosis"] == 0).all()
    assert list(pd.read_csv(solution, dtype={"id_code": str})["id_code"]) == list(test["id_code"])


def test_plant_pathology_is_one_image_folder_and_four_label_columns(plant_raw):
    raw, solution = plant_raw
    assert top_level(raw) == ["images", "sample_submission.csv", "test.csv", "train.csv"]
    train = pd.read_csv(raw / "train.csv")
    assert list(train.columns) == ["image_id", *_leaves.COLUMNS]
    assert list(train["image_id"]) == [f"Train_{i}" for i in range(TASK_TRAIN)]
    assert (train[list(_leaves.COLUMNS)].sum(axis=1) == 1).all()  # exactly one condition per leaf
    names = sorted(p.name for p in (raw / "images").iterdir())
    assert names == sorted([f"Train_{i}.jpg" for i in range(TASK_TRAIN)] + [f"Test_{i}.jpg" for i in range(TASK_TEST)])
    sample = pd.read_csv(raw / "sample_submission.csv")
    assert list(sample.columns) == list(train.columns) and (sample.iloc[:, 1:] == 0.25).all().all()
    assert list(pd.read_csv(raw / "test.csv")["image_id"]) == list(sample["image_id"])
    assert list(pd.read_csv(solution).columns) == list(train.columns)
    assert Image.open(raw / "images" / "Train_0.jpg").size == (36, 24)  # 3:2, as the real photos


def test_galaxy_challenge_zips_every_file_and_its_fractions_follow_the_tree(galaxy_challenge_raw):
    raw, solution = galaxy_challenge_raw
    assert top_level(raw) == [
        "all_ones_benchmark.zip", "all_zeros_benchmark.zip", "central_pixel_benchmark.zip",
        "images_test_rev1.zip", "images_training_rev1.zip", "training_solutions_rev1.zip",
    ]
    with zipfile.ZipFile(raw / "training_solutions_rev1.zip") as archive:
        assert archive.namelist() == ["training_solutions_rev1.csv"]
        train = pd.read_csv(archive.open("training_solutions_rev1.csv"))
    assert list(train.columns) == ["GalaxyID", *CLASS_COLUMNS] and len(train.columns) == 38
    assert train["GalaxyID"].between(100_000, 999_999).all() and train["GalaxyID"].is_monotonic_increasing
    assert zip_names(raw / "images_training_rev1.zip") == sorted(f"images_training_rev1/{g}.jpg" for g in train["GalaxyID"])
    assert set(tree_violations(train[list(CLASS_COLUMNS)].to_numpy(), tolerance=1e-5).values()) == {0}
    answers = pd.read_csv(solution)
    with zipfile.ZipFile(raw / "all_zeros_benchmark.zip") as archive:
        zeros = pd.read_csv(archive.open("all_zeros_benchmark.csv"))
    assert list(zeros.columns) == list(train.columns) and (zeros.iloc[:, 1:] == 0).all().all()
    assert list(zeros["GalaxyID"]) == list(answers["GalaxyID"])
    assert zip_names(raw / "images_test_rev1.zip") == sorted(f"images_test_rev1/{g}.jpg" for g in zeros["GalaxyID"])
    assert not set(zeros["GalaxyID"]) & set(train["GalaxyID"])


def test_the_central_pixel_benchmark_beats_the_constant_ones(galaxy_challenge_raw):
    raw, solution = galaxy_challenge_raw
    truth = pd.read_csv(solution).iloc[:, 1:].to_numpy()

    def rmse(name: str) -> float:
        with zipfile.ZipFile(raw / f"{name}.zip") as archive:
            predicted = pd.read_csv(archive.open(f"{name}.csv")).iloc[:, 1:].to_numpy()
        return float(np.sqrt(np.mean((truth - predicted) ** 2)))

    assert rmse("central_pixel_benchmark") < min(rmse("all_zeros_benchmark"), rmse("all_ones_benchmark"))


WRITERS = {
    "cactus": (task_generators.write_cactus_competition, {"image_size": 16}),
    "dogs": (task_generators.write_dog_breed_competition, {"image_size": 16, "breeds": 3}),
    "aptos": (task_generators.write_aptos_competition, {"image_size": 16}),
    "plant": (task_generators.write_plant_pathology_competition, {"image_size": 18}),
    "galaxy": (task_generators.write_galaxy_challenge, {"image_size": 16}),
}


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_the_same_seed_writes_identical_files_and_another_seed_does_not(tmp_path, name):
    write, options = WRITERS[name]
    first = write(tmp_path / "a", 4, 2, seed=3, solution_path=tmp_path / "a.csv", **options)
    again = write(tmp_path / "b", 4, 2, seed=3, solution_path=tmp_path / "b.csv", **options)
    other = write(tmp_path / "c", 4, 2, seed=4, **options)
    assert folder_bytes(first) == folder_bytes(again)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert folder_bytes(first) != folder_bytes(other)
    assert not list(first.rglob(".stage*"))  # no staging folder left inside


def folder_bytes(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_too_few_images_are_refused(tmp_path, name):
    write, options = WRITERS[name]
    with pytest.raises(ValueError, match="need at least 2 train and 1 test images, got 1 and 1"):
        write(tmp_path / "x", 1, 1, **options)


# --- the signal ---------------------------------------------------------------------------


def test_cactus_colour_statistics_alone_do_not_separate_the_tiles():
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    labels = (rng.random(240) < _aerial.POSITIVE_FRACTION).astype(int)
    tiles = np.array([_aerial.render_tile(np.random.default_rng([1, i]), bool(y)) for i, y in enumerate(labels)])
    pixels = tiles.reshape(len(tiles), -1, 3).astype(np.float32)
    features = np.column_stack([pixels.mean(axis=1), pixels.std(axis=1),
                                np.percentile(pixels, [5, 25, 50, 75, 95], axis=1).transpose(1, 0, 2).reshape(len(tiles), -1)])
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    scores = cross_val_predict(model, features, labels, cv=5, method="predict_proba")[:, 1]
    assert 0.5 < roc_auc_score(labels, scores) < 0.8  # a small CNN reaches about 0.96 on the shapes


def test_retina_lesions_grow_with_the_grade():
    def lesion_fraction(image: np.ndarray) -> float:
        pixels = image.astype(int)
        inside = pixels.sum(axis=-1) > 30
        red = pixels[..., 0]
        return float((inside & (red < 0.75 * np.median(red[inside]))).mean())

    means = [np.mean([lesion_fraction(_fundus.render_fundus(np.random.default_rng([g, i]), g, 48, 40))
                      for i in range(24)]) for g in range(5)]
    assert means[0] < means[1] < means[2] < means[3]
    assert means[4] > means[2]


def test_rust_leaves_have_orange_spots_and_healthy_ones_none():
    def orange_fraction(image: np.ndarray) -> float:
        r, g, b = (image[..., k].astype(int) for k in range(3))
        return float(((r > 180) & (g > 110) & (g < 200) & (b < 90)).mean())

    def mean_orange(condition: str) -> float:
        return np.mean([orange_fraction(_leaves.render_leaf(np.random.default_rng([5, i]), condition, 48, 32))
                        for i in range(16)])

    assert mean_orange("healthy") == 0 and mean_orange("scab") == 0
    assert mean_orange("rust") > 0.005 and mean_orange("multiple_diseases") > 0.002


def test_every_breed_has_its_own_combination_of_traits():
    looks = {tuple(_dogs.breed_traits(b).values()) for b in range(len(_dogs.BREEDS))}
    assert len(looks) == len(_dogs.BREEDS) == 120
    assert _dogs.BREEDS == sorted(_dogs.BREEDS)  # the sample submission's column order


def test_tree_votes_say_what_the_galaxy_is():
    canvas = _sky.Canvas(size=64)
    derived = {}
    for kind in ("elliptical", "spiral"):
        votes = []
        for i in range(30):
            galaxy = _sky.render(np.random.default_rng([3, i]), canvas, kind, 32)
            votes.append(tree_votes(np.random.default_rng([3, i, 1]), galaxy.gz2_class, galaxy.smooth,
                                    galaxy.features, galaxy.star))
        derived[kind] = spiral_or_elliptical(np.array(votes))
    assert (derived["elliptical"] == 0).all()
    assert (derived["spiral"] != 0).all() and (derived["spiral"] == 1).mean() > 0.5  # edge-on and faint: neither
