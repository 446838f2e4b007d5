"""Seeded procedural stand-ins for the two built-in competitions, in their real layouts.

>>> from kaggle_kit.demo.generators import write_cancer_competition, write_galaxy_dataset
>>> raw = write_cancer_competition(tmp / "cancer", n_train=200, n_test=50, seed=0)

``write_cancer_competition`` writes Kaggle's histopathologic-cancer-detection files
(``train/<id>.tif``, ``test/<id>.tif``, ``train_labels.csv``, ``sample_submission.csv``);
``write_galaxy_dataset`` writes the Galaxy Zoo 2 images dataset
(``images_gz2/images/<asset_id>.jpg``, ``gz2_filename_mapping.csv``) plus the Hart et
al. (2016) table ``gz2_hart16.csv``. The same seed gives byte-identical files. Both
write into a temporary folder renamed onto ``root`` at the end, so an interrupted
run leaves nothing half-written (``kaggle_kit.archive.build_archive`` zips a folder
the way Kaggle serves it).

How the images are made, and what makes them hard, is described in
``_histology.py`` (patches) and ``_sky.py`` (galaxies).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

from kaggle_kit.demo import _histology, _sky
from kaggle_kit.fsutil import atomic_dir, atomic_path

PATCH_BATCH = 256  # patches rendered per numpy batch: bounds memory for any n
PATCHES_PER_SLIDE = 64
POSITIVE_FRACTION = 0.42  # Kaggle's training set is about 40 % positive
ARTEFACT_FRACTION = 0.06
SPIRAL_FRACTION = 0.5
JPEG_QUALITY = 85
HART16_FILE = "gz2_hart16.csv"
MAPPING_FILE = "gz2_filename_mapping.csv"
GALAXY_IMAGES = Path("images_gz2") / "images"
# Galaxy Zoo 2's task-1 columns, as the Hart et al. table names them.
TASK1_ANSWERS = ("a01_smooth", "a02_features_or_disk", "a03_star_or_artifact")


def write_cancer_competition(
    root: str | Path,
    n_train: int,
    n_test: int,
    seed: int = 0,
    image_size: int = 96,
    *,
    solution_path: str | Path | None = None,
    progress: bool = False,
) -> Path:
    """Write a histopathologic-cancer-detection competition with generated patches; return ``root``.

    Label 1 means tumour-like tissue in the centre 32×32 (about 42 % of patches).
    ``solution_path``, if given, receives the hidden test labels (``id,label``),
    outside ``root``, for whoever scores submissions (the stand-in server).
    """
    if n_train < 2 or n_test < 1:
        raise ValueError(f"need at least 2 train and 1 test patches, got {n_train} and {n_test}")
    root = Path(root)
    rng = np.random.default_rng(seed)
    total = n_train + n_test
    ids = unique_hex_ids(rng, total)
    labels = (rng.random(total) < POSITIVE_FRACTION).astype(np.int64)
    stains = _histology.random_stains(rng, max(2, total // PATCHES_PER_SLIDE))
    split = np.array(["train"] * n_train + ["test"] * n_test)

    with atomic_dir(root) as tmp:
        tmp.chmod(0o755)  # a temporary folder is private; the competition folder is not
        for folder in ("train", "test"):
            (tmp / folder).mkdir()
        batches = range(0, total, PATCH_BATCH)
        for start in tqdm(batches, desc="patches", unit="batch", disable=not progress):
            stop = min(start + PATCH_BATCH, total)
            batch_rng = np.random.default_rng([seed, start])
            patches = _histology.render_patches(batch_rng, labels[start:stop], stains)
            for offset, patch in enumerate(patches):
                i = start + offset
                image = Image.fromarray(patch)
                if image_size != _histology.PATCH:
                    image = image.resize((image_size, image_size), Image.Resampling.BILINEAR)
                image.save(tmp / split[i] / f"{ids[i]}.tif", format="TIFF")
        train = pd.DataFrame({"id": ids[:n_train], "label": labels[:n_train]})
        train.to_csv(tmp / "train_labels.csv", index=False)
        pd.DataFrame({"id": ids[n_train:], "label": 0}).to_csv(tmp / "sample_submission.csv", index=False)
    if solution_path is not None:
        with atomic_path(solution_path) as tmp_csv:
            pd.DataFrame({"id": ids[n_train:], "label": labels[n_train:]}).to_csv(tmp_csv, index=False)
    return root


def write_galaxy_dataset(
    root: str | Path,
    n_galaxies: int,
    seed: int = 0,
    unreadable: int = 3,
    image_size: int = 424,
    *,
    hart16_path: str | Path | None = None,
    progress: bool = False,
) -> Path:
    """Write a Galaxy Zoo 2 images dataset with generated galaxies; return ``root``.

    About half the labelled galaxies are spirals (``gz2_class`` S…), half
    ellipticals (E…), and about 6 % are star/artefact rows (``A``), which the
    competition drops. ``unreadable`` labelled galaxies get a corrupt ``.jpg``
    (truncated or garbage bytes). The tables also hold what the real ones do and a
    join must handle: one mapping row whose galaxy is not in the Hart table, and one
    Hart row with no image. The Hart table goes to ``root/gz2_hart16.csv``, or to
    ``hart16_path`` (outside ``root``: the real Kaggle dataset lacks it, and users
    pass it to ``kit download --labels``).
    """
    kinds = galaxy_kinds(n_galaxies, seed)
    labelled = np.flatnonzero(kinds != "artefact")
    if not 0 <= unreadable <= len(labelled):
        raise ValueError(f"unreadable must be between 0 and {len(labelled)} (the labelled galaxies), got {unreadable}")
    root = Path(root)
    rng = np.random.default_rng(seed)
    # One extra imaged galaxy missing from the Hart table, one Hart row missing from the mapping.
    objids = unique_objids(rng, n_galaxies + 2)
    asset_ids = np.sort(rng.choice(np.arange(1, 50 * (n_galaxies + 2)), n_galaxies + 1, replace=False))
    broken = set(rng.choice(labelled, unreadable, replace=False).tolist())
    canvas = _sky.Canvas()

    rows = []
    with atomic_dir(root) as tmp:
        tmp.chmod(0o755)  # a temporary folder is private; the dataset folder is not
        images = tmp / GALAXY_IMAGES
        images.mkdir(parents=True)
        for i in tqdm(range(n_galaxies + 1), desc="galaxies", unit="img", disable=not progress):
            kind = kinds[i] if i < n_galaxies else "elliptical"
            galaxy = _sky.render(np.random.default_rng([seed, i]), canvas, kind, image_size)
            target = images / f"{asset_ids[i]}.jpg"
            if i in broken:
                target.write_bytes(corrupt_jpeg(galaxy.image, np.random.default_rng([seed, i, 1])))
            else:
                Image.fromarray(galaxy.image).save(target, format="JPEG", quality=JPEG_QUALITY)
            rows.append(galaxy)
        mapping = pd.DataFrame(
            {"objid": objids[: n_galaxies + 1], "sample": "original", "asset_id": asset_ids}
        )
        mapping.loc[n_galaxies, "sample"] = "stripe82"
        mapping.to_csv(tmp / MAPPING_FILE, index=False)
        hart16 = hart16_table(rng, objids, rows[:n_galaxies])
        if hart16_path is None:
            hart16.to_csv(tmp / HART16_FILE, index=False)
    if hart16_path is not None:
        with atomic_path(hart16_path) as tmp_csv:
            hart16.to_csv(tmp_csv, index=False)
    return root


def galaxy_kinds(n_galaxies: int, seed: int) -> np.ndarray:
    """The kind of each generated galaxy: "artefact" (at least one once there are 10),
    then spirals and ellipticals in about equal numbers, shuffled by ``seed``."""
    if n_galaxies < 4:
        raise ValueError(f"need at least 4 galaxies, got {n_galaxies}")
    artefacts = max(1, round(ARTEFACT_FRACTION * n_galaxies)) if n_galaxies >= 10 else 0
    spirals = round(SPIRAL_FRACTION * (n_galaxies - artefacts))
    kinds = np.array(
        ["artefact"] * artefacts + ["spiral"] * spirals + ["elliptical"] * (n_galaxies - artefacts - spirals)
    )
    return np.random.default_rng([seed, 2**31]).permutation(kinds)


def hart16_table(rng: np.random.Generator, objids: np.ndarray, galaxies: list[_sky.Galaxy]) -> pd.DataFrame:
    """The gz2_hart16 columns kaggle-kit and users read, for ``galaxies`` plus one unmatched row.

    Raw vote fractions are the debiased ones plus noise, renormalised, as in the
    real table where debiasing moves fractions by a few per cent.
    """
    n = len(galaxies)
    debiased = np.array([[g.smooth, g.features, g.star] for g in galaxies] + [[0.7, 0.28, 0.02]])
    raw = np.clip(debiased + rng.normal(0, 0.03, debiased.shape), 0, None)
    raw /= raw.sum(axis=1, keepdims=True)
    votes = rng.integers(25, 65, n + 1)
    table = pd.DataFrame(
        {
            "dr7objid": np.concatenate([objids[:n], objids[n + 1 :]]),
            "ra": rng.uniform(0, 360, n + 1).round(6),
            "dec": rng.uniform(-10, 70, n + 1).round(6),
            "sample": rng.choice(["original", "extra"], n + 1, p=[0.85, 0.15]),
            "gz2_class": [g.gz2_class for g in galaxies] + ["Ei"],
            "total_classifications": votes,
            "total_votes": votes * rng.integers(4, 9, n + 1),
        }
    )
    for k, answer in enumerate(TASK1_ANSWERS):
        column = f"t01_smooth_or_features_{answer}"
        table[f"{column}_fraction"] = raw[:, k].round(3)
        table[f"{column}_debiased"] = debiased[:, k].round(3)
    return table


def corrupt_jpeg(image: np.ndarray, rng: np.random.Generator) -> bytes:
    """Bytes no decoder can read as an image: a truncated JPEG, or garbage."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=JPEG_QUALITY)
    if rng.random() < 0.5:
        return buffer.getvalue()[:300]
    return rng.bytes(2048)


def unique_hex_ids(rng: np.random.Generator, count: int) -> list[str]:
    """``count`` distinct 40-hex-digit ids, like Kaggle's patch names."""
    ids: dict[str, None] = {}
    while len(ids) < count:
        ids.setdefault(rng.bytes(20).hex(), None)
    return list(ids)


def unique_objids(rng: np.random.Generator, count: int) -> np.ndarray:
    """``count`` distinct SDSS DR7-style object ids (18 digits starting 5877…)."""
    ids: dict[int, None] = {}
    while len(ids) < count:
        ids.setdefault(587700000000000000 + int(rng.integers(0, 10**14)), None)
    return np.array(list(ids), dtype=np.int64)
