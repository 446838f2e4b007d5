"""Seeded stand-ins for the five task-kind competitions, each in its real Kaggle layout.

>>> from kaggle_kit.demo.task_generators import write_dog_breed_competition
>>> raw = write_dog_breed_competition(tmp / "dogs", n_train=240, n_test=40, seed=0, breeds=8)

What each writes (the real layouts, read from openai/mle-bench
``mlebench/competitions/<slug>/prepare.py`` and ``description.md`` and from public
notebooks; hidden test answers go to ``solution_path``, outside ``root``):

- ``aerial-cactus-identification`` (binary, ROC AUC): ``train.zip`` holding
  ``train/<id>.jpg`` and ``test.zip`` holding ``test/<id>.jpg`` — archives inside the
  competition archive — ``train.csv`` (``id,has_cactus``; the id is the file name,
  ``.jpg`` included) and ``sample_submission.csv`` (``id,has_cactus`` = 0.5). 32×32 JPEGs.
- ``dog-breed-identification`` (120 classes, multi-class log loss): ``train/<id>.jpg``,
  ``test/<id>.jpg`` (32-hex ids), ``labels.csv`` (``id,breed``) and a wide
  ``sample_submission.csv`` (``id`` and one column per breed, alphabetical, 1/120).
  JPEGs of varying size.
- ``aptos2019-blindness-detection`` (ordinal grades 0–4, quadratic weighted kappa):
  ``train_images/<id_code>.png``, ``test_images/<id_code>.png`` (12-hex ids),
  ``train.csv`` (``id_code,diagnosis``), ``test.csv`` (``id_code``),
  ``sample_submission.csv`` (``id_code,diagnosis`` = 0). PNGs of varying size.
- ``plant-pathology-2020-fgvc7`` (4 label columns, mean column-wise ROC AUC):
  ``images/Train_<i>.jpg`` and ``images/Test_<i>.jpg`` in one folder, ``train.csv``
  (``image_id,healthy,multiple_diseases,rust,scab``), ``test.csv`` (``image_id``),
  ``sample_submission.csv`` (the four columns at 0.25). 3:2 JPEGs.
- ``galaxy-zoo-the-galaxy-challenge`` (37 vote fractions, RMSE): every file is its own
  zip inside the download — ``images_training_rev1.zip``
  (``images_training_rev1/<GalaxyID>.jpg``), ``images_test_rev1.zip``,
  ``training_solutions_rev1.zip`` (``GalaxyID,Class1.1,…,Class11.6``), and the three
  benchmark submissions ``all_zeros_benchmark.zip``, ``all_ones_benchmark.zip``,
  ``central_pixel_benchmark.zip`` (a public Kaggle notebook unzips every file of
  ``/kaggle/input/galaxy-zoo-the-galaxy-challenge`` before use). 424×424 JPEGs.

The same seed gives byte-identical files; each writer fills a temporary folder
renamed onto ``root`` at the end. How the images are drawn, and what makes them
hard, is in ``_aerial.py``, ``_dogs.py``, ``_fundus.py``, ``_leaves.py`` and
``_sky.py`` / ``_tree_votes.py``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

from kaggle_kit.archive import build_archive
from kaggle_kit.competitions.galaxy_tree import CLASS_COLUMNS
from kaggle_kit.demo import _aerial, _dogs, _fundus, _leaves, _sky
from kaggle_kit.demo._tree_votes import tree_votes
from kaggle_kit.demo.generators import galaxy_kinds
from kaggle_kit.fsutil import atomic_dir, atomic_path

JPEG_QUALITY = 90
STAGE = ".stage"  # where the members of an inner archive are written before it is zipped
GALAXY_ID_RANGE = (100_000, 1_000_000)  # GalaxyIDs are six-digit numbers
ASPECTS = (0.75, 1.34)  # width / height of photos of varying shape


def write_cactus_competition(
    root: str | Path, n_train: int, n_test: int, seed: int = 0, image_size: int = _aerial.SIZE, *,
    solution_path: str | Path | None = None, progress: bool = False,
) -> Path:
    """Write aerial-cactus-identification (about 75 % of tiles with a cactus); return ``root``."""
    _check_counts(n_train, n_test)
    rng = np.random.default_rng(seed)
    total = n_train + n_test
    ids = [f"{hex_id}.jpg" for hex_id in hex_ids(rng, total, digits=32)]
    labels = (rng.random(total) < _aerial.POSITIVE_FRACTION).astype(np.int64)
    with atomic_dir(root) as tmp:
        tmp.chmod(0o755)  # a temporary folder is private; the competition folder is not
        stage = tmp / STAGE
        for split, rows in (("train", range(n_train)), ("test", range(n_train, total))):
            folder = stage / split
            folder.mkdir(parents=True)
            for i in tqdm(rows, desc=f"cactus {split}", unit="img", disable=not progress):
                _save(_aerial.render_tile(np.random.default_rng([seed, i]), bool(labels[i]), image_size), folder / ids[i])
            _zip_and_remove(folder, tmp / f"{split}.zip")
        shutil.rmtree(stage)
        pd.DataFrame({"id": ids[:n_train], "has_cactus": labels[:n_train]}).to_csv(tmp / "train.csv", index=False)
        pd.DataFrame({"id": ids[n_train:], "has_cactus": 0.5}).to_csv(tmp / "sample_submission.csv", index=False)
    _write_solution(solution_path, pd.DataFrame({"id": ids[n_train:], "has_cactus": labels[n_train:]}))
    return Path(root)


def write_dog_breed_competition(
    root: str | Path, n_train: int, n_test: int, seed: int = 0, image_size: int = 64, breeds: int = 120, *,
    solution_path: str | Path | None = None, progress: bool = False,
) -> Path:
    """Write dog-breed-identification; return ``root``.

    ``breeds`` of the 120 (spread over the list) appear in the images, in about equal
    numbers; the sample submission always has all 120 columns, as the real one does.
    Images are about ``image_size`` pixels across, in varying shapes.
    """
    _check_counts(n_train, n_test)
    if not 2 <= breeds <= len(_dogs.BREEDS):
        raise ValueError(f"breeds must be from 2 to {len(_dogs.BREEDS)}, got {breeds}")
    rng = np.random.default_rng(seed)
    total = n_train + n_test
    ids = hex_ids(rng, total, digits=32)
    used = np.unique(np.linspace(0, len(_dogs.BREEDS) - 1, breeds).round().astype(int))
    breed = rng.permutation(np.resize(used, total))
    with atomic_dir(root) as tmp:
        tmp.chmod(0o755)
        for split, rows in (("train", range(n_train)), ("test", range(n_train, total))):
            folder = tmp / split
            folder.mkdir()
            for i in tqdm(rows, desc=f"dogs {split}", unit="img", disable=not progress):
                image_rng = np.random.default_rng([seed, i])
                width, height = _photo_shape(image_rng, image_size)
                _save(_dogs.render_dog(image_rng, int(breed[i]), width, height), folder / f"{ids[i]}.jpg")
        names = np.array(_dogs.BREEDS)
        pd.DataFrame({"id": ids[:n_train], "breed": names[breed[:n_train]]}).to_csv(tmp / "labels.csv", index=False)
        sample = pd.DataFrame(1.0 / len(names), index=range(n_test), columns=list(names))
        sample.insert(0, "id", ids[n_train:])
        sample.to_csv(tmp / "sample_submission.csv", index=False)
    answers = pd.DataFrame(np.eye(len(names), dtype=np.int64)[breed[n_train:]], columns=list(names))
    answers.insert(0, "id", ids[n_train:])
    _write_solution(solution_path, answers)
    return Path(root)


def write_aptos_competition(
    root: str | Path, n_train: int, n_test: int, seed: int = 0, image_size: int = 128, *,
    solution_path: str | Path | None = None, progress: bool = False,
) -> Path:
    """Write aptos2019-blindness-detection (grades in the real proportions); return ``root``."""
    _check_counts(n_train, n_test)
    rng = np.random.default_rng(seed)
    total = n_train + n_test
    ids = hex_ids(rng, total, digits=12)
    grades = rng.choice(len(_fundus.GRADE_SHARES), size=total, p=_fundus.GRADE_SHARES)
    with atomic_dir(root) as tmp:
        tmp.chmod(0o755)
        for split, rows in (("train_images", range(n_train)), ("test_images", range(n_train, total))):
            folder = tmp / split
            folder.mkdir()
            for i in tqdm(rows, desc=split, unit="img", disable=not progress):
                image_rng = np.random.default_rng([seed, i])
                width, height = _photo_shape(image_rng, image_size, aspects=(1.0, 1.5))
                _save(_fundus.render_fundus(image_rng, int(grades[i]), width, height), folder / f"{ids[i]}.png")
        pd.DataFrame({"id_code": ids[:n_train], "diagnosis": grades[:n_train]}).to_csv(tmp / "train.csv", index=False)
        pd.DataFrame({"id_code": ids[n_train:]}).to_csv(tmp / "test.csv", index=False)
        pd.DataFrame({"id_code": ids[n_train:], "diagnosis": 0}).to_csv(tmp / "sample_submission.csv", index=False)
    _write_solution(solution_path, pd.DataFrame({"id_code": ids[n_train:], "diagnosis": grades[n_train:]}))
    return Path(root)


def write_plant_pathology_competition(
    root: str | Path, n_train: int, n_test: int, seed: int = 0, image_size: int = 96, *,
    solution_path: str | Path | None = None, progress: bool = False,
) -> Path:
    """Write plant-pathology-2020-fgvc7 (conditions in the real proportions); return ``root``.

    Images are ``image_size`` wide and two thirds of that high.
    """
    _check_counts(n_train, n_test)
    rng = np.random.default_rng(seed)
    total = n_train + n_test
    condition = rng.choice(len(_leaves.COLUMNS), size=total, p=_leaves.SHARES)
    image_ids = [f"Train_{i}" for i in range(n_train)] + [f"Test_{i}" for i in range(n_test)]
    height = max(8, round(image_size * 2 / 3))
    with atomic_dir(root) as tmp:
        tmp.chmod(0o755)
        folder = tmp / "images"
        folder.mkdir()
        for i in tqdm(range(total), desc="leaves", unit="img", disable=not progress):
            leaf = _leaves.render_leaf(np.random.default_rng([seed, i]), _leaves.COLUMNS[condition[i]], image_size, height)
            _save(leaf, folder / f"{image_ids[i]}.jpg")
        table = pd.DataFrame(np.eye(len(_leaves.COLUMNS), dtype=np.int64)[condition], columns=list(_leaves.COLUMNS))
        table.insert(0, "image_id", image_ids)
        table.iloc[:n_train].to_csv(tmp / "train.csv", index=False)
        table[["image_id"]].iloc[n_train:].to_csv(tmp / "test.csv", index=False)
        sample = table.iloc[n_train:].copy()
        sample[list(_leaves.COLUMNS)] = 0.25
        sample.to_csv(tmp / "sample_submission.csv", index=False)
    _write_solution(solution_path, table.iloc[n_train:].reset_index(drop=True))
    return Path(root)


def write_galaxy_challenge(
    root: str | Path, n_train: int, n_test: int, seed: int = 0, image_size: int = _sky.SIZE, *,
    solution_path: str | Path | None = None, progress: bool = False,
) -> Path:
    """Write galaxy-zoo-the-galaxy-challenge (every file zipped on its own); return ``root``.

    Galaxies are drawn by the Galaxy Zoo 2 renderer; their 37 vote fractions follow
    the decision tree. ``solution_path`` receives the test galaxies' fractions.
    """
    _check_counts(n_train, n_test)
    rng = np.random.default_rng(seed)
    total = n_train + n_test
    kinds = galaxy_kinds(max(total, 4), seed)[:total]
    galaxy_ids = np.sort(rng.choice(np.arange(*GALAXY_ID_RANGE), size=total, replace=False))
    is_test = np.zeros(total, dtype=bool)
    is_test[rng.choice(total, size=n_test, replace=False)] = True
    canvas = _sky.Canvas(size=min(_sky.SIZE // 2, max(64, 2 * image_size)))  # smaller canvas for small images
    votes = np.zeros((total, len(CLASS_COLUMNS)))
    centre_brightness = np.zeros(total)
    with atomic_dir(root) as tmp:
        tmp.chmod(0o755)
        stage = tmp / STAGE
        folders = {False: stage / "images_training_rev1", True: stage / "images_test_rev1"}
        for folder in folders.values():
            folder.mkdir(parents=True)
        for i in tqdm(range(total), desc="galaxies", unit="img", disable=not progress):
            galaxy = _sky.render(np.random.default_rng([seed, i]), canvas, kinds[i], image_size)
            votes[i] = tree_votes(np.random.default_rng([seed, i, 1]), galaxy.gz2_class, galaxy.smooth,
                                  galaxy.features, galaxy.star)
            centre = image_size // 2
            centre_brightness[i] = galaxy.image[centre - 1:centre + 2, centre - 1:centre + 2].mean()
            _save(galaxy.image, folders[bool(is_test[i])] / f"{galaxy_ids[i]}.jpg")
        for folder in folders.values():
            _zip_and_remove(folder, tmp / f"{folder.name}.zip")
        table = pd.DataFrame(votes.round(6), columns=list(CLASS_COLUMNS))
        table.insert(0, "GalaxyID", galaxy_ids)
        train, test = table[~is_test].reset_index(drop=True), table[is_test].reset_index(drop=True)
        benchmarks = {
            "training_solutions_rev1": train,
            "all_zeros_benchmark": _constant_submission(test, 0.0),
            "all_ones_benchmark": _constant_submission(test, 1.0),
            "central_pixel_benchmark": _central_pixel_benchmark(train, test, centre_brightness[~is_test],
                                                                centre_brightness[is_test]),
        }
        for name, frame in benchmarks.items():
            folder = stage / name
            folder.mkdir()
            frame.to_csv(folder / f"{name}.csv", index=False)
            build_archive(folder, tmp / f"{name}.zip")
        shutil.rmtree(stage)
    _write_solution(solution_path, test)
    return Path(root)


# --- shared ---------------------------------------------------------------------------------


def _check_counts(n_train: int, n_test: int) -> None:
    if n_train < 2 or n_test < 1:
        raise ValueError(f"need at least 2 train and 1 test images, got {n_train} and {n_test}")


def hex_ids(rng: np.random.Generator, count: int, digits: int) -> list[str]:
    """``count`` distinct ids of ``digits`` hex digits (Kaggle's image names: 32 for dogs and
    cacti, 12 for retinas)."""
    ids: dict[str, None] = {}
    while len(ids) < count:
        ids.setdefault(rng.bytes((digits + 1) // 2).hex()[:digits], None)
    return list(ids)


def _photo_shape(rng: np.random.Generator, size: int, aspects: tuple[float, float] = ASPECTS) -> tuple[int, int]:
    """(width, height) of a photo about ``size`` pixels across, of a random aspect ratio."""
    aspect = rng.uniform(*aspects)
    return max(8, round(size * np.sqrt(aspect))), max(8, round(size / np.sqrt(aspect)))


def _save(image: np.ndarray, path: Path) -> None:
    if path.suffix == ".png":
        Image.fromarray(image).save(path, format="PNG")
    else:
        Image.fromarray(image).save(path, format="JPEG", quality=JPEG_QUALITY)


def _zip_and_remove(folder: Path, zip_path: Path) -> None:
    """Zip ``folder`` as a top-level folder of its own archive (``train.zip`` → ``train/…``)."""
    parent = folder.parent / f"{folder.name}.parent"
    parent.mkdir()
    folder.rename(parent / folder.name)
    build_archive(parent, zip_path)
    shutil.rmtree(parent)


def _write_solution(path: str | Path | None, answers: pd.DataFrame) -> None:
    if path is not None:
        with atomic_path(path) as tmp_csv:
            answers.to_csv(tmp_csv, index=False)


def _constant_submission(test: pd.DataFrame, value: float) -> pd.DataFrame:
    frame = test.copy()
    frame[list(CLASS_COLUMNS)] = value
    return frame


def _central_pixel_benchmark(train: pd.DataFrame, test: pd.DataFrame, train_centre: np.ndarray,
                             test_centre: np.ndarray) -> pd.DataFrame:
    """Kaggle's third benchmark: galaxies grouped by the colour of their central pixels, each
    test galaxy given its group's mean training fractions (here: five brightness groups)."""
    edges = np.quantile(train_centre, [0.2, 0.4, 0.6, 0.8])
    group_of: Callable[[np.ndarray], np.ndarray] = lambda values: np.searchsorted(edges, values)  # noqa: E731
    means = train[list(CLASS_COLUMNS)].groupby(group_of(train_centre)).mean()
    overall = train[list(CLASS_COLUMNS)].mean()
    rows = [means.loc[g] if g in means.index else overall for g in group_of(test_centre)]
    frame = pd.DataFrame(rows, columns=list(CLASS_COLUMNS)).round(6).reset_index(drop=True)
    frame.insert(0, "GalaxyID", test["GalaxyID"].to_numpy())
    return frame
