"""Seeded procedural stand-ins for the two built-in competitions, in their real layouts.

>>> from kaggle_kit.demo.generators import write_cancer_competition, write_galaxy_dataset
>>> raw = write_cancer_competition(tmp / "cancer", n_train=200, n_test=50, seed=0)

``write_cancer_competition`` writes Kaggle's histopathologic-cancer-detection files
(``train/<id>.tif``, ``test/<id>.tif``, ``train_labels.csv``, ``sample_submission.csv``);
``write_galaxy_dataset`` writes the Galaxy Zoo 2 images dataset
(``images_gz2/images/<asset_id>.jpg``, ``gz2_filename_mapping.csv``) plus the Hart et
al. (2016) table ``gz2_hart16.csv``, both tables in the real files' shapes. The same seed gives byte-identical files. Both
write into a temporary folder renamed onto ``root`` at the end, so an interrupted
run leaves nothing half-written (``kaggle_kit.archive.build_archive`` zips a folder
the way Kaggle serves it).

How the images are made, and what makes them hard, is described in
``_histology.py`` (patches) and ``_sky.py`` (galaxies).
"""

from __future__ import annotations

import gzip
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
EXTRA_SAMPLE_FRACTION = 0.1  # GZ2's main sample: 245,609 "original" and 28,174 "extra" mapping rows
STRIPE82_FRACTION = 0.08  # 21,522 "stripe82" rows per 273,783 main-sample rows
COADD_FRACTION = 0.11  # 30,346 "stripe82_coadd_1" (and as many "_2") rows per 273,783
# The Galaxy Zoo 2 decision tree (Willett et al. 2013, table 2), as the Hart et al. table names its columns:
# 9 leading columns, then 6 measures for each of the 37 answers = 231 columns.
HART16_LEADING_COLUMNS = ("dr7objid", "ra", "dec", "rastring", "decstring", "sample", "gz2_class",
                          "total_classifications", "total_votes")
HART16_MEASURES = ("count", "weight", "fraction", "weighted_fraction", "debiased", "flag")
GZ2_TASKS = {
    "t01_smooth_or_features": ("a01_smooth", "a02_features_or_disk", "a03_star_or_artifact"),
    "t02_edgeon": ("a04_yes", "a05_no"),
    "t03_bar": ("a06_bar", "a07_no_bar"),
    "t04_spiral": ("a08_spiral", "a09_no_spiral"),
    "t05_bulge_prominence": ("a10_no_bulge", "a11_just_noticeable", "a12_obvious", "a13_dominant"),
    "t06_odd": ("a14_yes", "a15_no"),
    "t07_rounded": ("a16_completely_round", "a17_in_between", "a18_cigar_shaped"),
    "t08_odd_feature": ("a19_ring", "a20_lens_or_arc", "a21_disturbed", "a22_irregular", "a23_other",
                        "a24_merger", "a38_dust_lane"),
    "t09_bulge_shape": ("a25_rounded", "a26_boxy", "a27_no_bulge"),
    "t10_arms_winding": ("a28_tight", "a29_medium", "a30_loose"),
    "t11_arms_number": ("a31_1", "a32_2", "a33_3", "a34_4", "a36_more_than_4", "a37_cant_tell"),
}


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
    (truncated or garbage bytes).

    The tables have the real files' shapes (GZ2 release, Zenodo record 3565489, and the
    Hart et al. 2016 table): ``gz2_filename_mapping.csv`` is ``objid,sample,asset_id``
    with ``asset_id`` running 1..N and five samples: the main sample (``original``,
    ``extra``: the galaxies the Hart table covers, imaged under ``images_gz2/images``)
    and the Stripe 82 samples (``stripe82`` normal depth, ``stripe82_coadd_1`` and
    ``stripe82_coadd_2``: the same co-added objects twice, so ``objid`` repeats, and
    one normal-depth row repeats a main-sample galaxy's ``objid``), which have no
    images here. The Hart table has its 231 columns (``sample`` included). What a join
    must also handle: one imaged main-sample galaxy missing from the Hart table, and
    one Hart row with no image. The Hart table goes to ``root/gz2_hart16.csv``, or to
    ``hart16_path`` (outside ``root``, gzipped when it ends in ``.gz``: the real Kaggle
    dataset lacks it; the Galaxy Zoo data site serves ``gz2_hart16.csv.gz``).
    """
    kinds = galaxy_kinds(n_galaxies, seed)
    labelled = np.flatnonzero(kinds != "artefact")
    if not 0 <= unreadable <= len(labelled):
        raise ValueError(f"unreadable must be between 0 and {len(labelled)} (the labelled galaxies), got {unreadable}")
    root = Path(root)
    rng = np.random.default_rng(seed)
    # One extra imaged galaxy missing from the Hart table, one Hart row missing from the mapping.
    objids = unique_objids(rng, n_galaxies + 2)
    samples = np.where(rng.random(n_galaxies + 2) < EXTRA_SAMPLE_FRACTION, "extra", "original")
    broken = set(rng.choice(labelled, unreadable, replace=False).tolist())
    mapping = filename_mapping(rng, objids[: n_galaxies + 1], samples[: n_galaxies + 1])
    canvas = _sky.Canvas()

    rows = []
    with atomic_dir(root) as tmp:
        tmp.chmod(0o755)  # a temporary folder is private; the dataset folder is not
        images = tmp / GALAXY_IMAGES
        images.mkdir(parents=True)
        for i in tqdm(range(n_galaxies + 1), desc="galaxies", unit="img", disable=not progress):
            kind = kinds[i] if i < n_galaxies else "elliptical"
            galaxy = _sky.render(np.random.default_rng([seed, i]), canvas, kind, image_size)
            target = images / f"{mapping['asset_id'][i]}.jpg"
            if i in broken:
                target.write_bytes(corrupt_jpeg(galaxy.image, np.random.default_rng([seed, i, 1])))
            else:
                Image.fromarray(galaxy.image).save(target, format="JPEG", quality=JPEG_QUALITY)
            rows.append(galaxy)
        mapping.to_csv(tmp / MAPPING_FILE, index=False)
        keep = np.r_[0:n_galaxies, n_galaxies + 1]  # the Hart rows: every labelled galaxy and the unimaged one
        hart16 = hart16_table(rng, objids[keep], samples[keep], rows[:n_galaxies])
        if hart16_path is None:
            hart16.to_csv(tmp / HART16_FILE, index=False)
    if hart16_path is not None:
        with atomic_path(hart16_path) as tmp_csv:
            text = hart16.to_csv(index=False).encode()
            tmp_csv.write_bytes(gzip.compress(text, mtime=0) if str(hart16_path).endswith(".gz") else text)
    return root


def filename_mapping(rng: np.random.Generator, objids: np.ndarray, samples: np.ndarray) -> pd.DataFrame:
    """``objid,sample,asset_id``: the main-sample rows given, then the three Stripe 82 samples
    in the real file's proportions; ``asset_id`` runs 1..N in that order."""
    main = len(objids)
    normal = max(2, round(STRIPE82_FRACTION * main))
    coadds = max(2, round(COADD_FRACTION * main))
    normal_ids = unique_objids(rng, normal)
    normal_ids[0] = objids[0]  # a galaxy of the main sample imaged again at normal Stripe 82 depth
    coadd_ids = np.array([8647474690000000000 + int(v) for v in rng.choice(10**9, coadds, replace=False)],
                         dtype=np.int64)
    table = pd.DataFrame({
        "objid": np.concatenate([objids, normal_ids, coadd_ids, coadd_ids]),
        "sample": np.concatenate([samples, ["stripe82"] * normal, ["stripe82_coadd_1"] * coadds,
                                  ["stripe82_coadd_2"] * coadds]),
    })
    table["asset_id"] = np.arange(1, len(table) + 1)
    return table


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


def hart16_columns() -> list[str]:
    """The 231 columns of the Hart et al. (2016) table, in its order."""
    columns = list(HART16_LEADING_COLUMNS)
    for task, answers in GZ2_TASKS.items():
        for answer in answers:
            columns += [f"{task}_{answer}_{measure}" for measure in HART16_MEASURES]
    return columns


def hart16_table(rng: np.random.Generator, objids: np.ndarray, samples: np.ndarray,
                 galaxies: list[_sky.Galaxy]) -> pd.DataFrame:
    """The Hart et al. table for ``galaxies`` (then one more row, for an unimaged galaxy): all 231 columns.

    Task 1's debiased fractions come from the rendered galaxy; raw fractions are the
    debiased ones plus noise, renormalised, as in the real table where debiasing moves
    fractions by a few per cent. The other tasks carry plausible vote splits.
    """
    n = len(galaxies) + 1
    debiased = np.array([[g.smooth, g.features, g.star] for g in galaxies] + [[0.7, 0.28, 0.02]])
    raw = np.clip(debiased + rng.normal(0, 0.03, debiased.shape), 0, None)
    raw /= raw.sum(axis=1, keepdims=True)
    classifications = rng.integers(25, 65, n)
    ra, dec = rng.uniform(0, 360, n), rng.uniform(-10, 70, n)
    values: dict[str, object] = {
        "dr7objid": objids, "ra": ra.round(6), "dec": dec.round(6),
        "rastring": [_sexagesimal(v / 15, signed=False) for v in ra],
        "decstring": [_sexagesimal(v, signed=True) for v in dec],
        "sample": samples, "gz2_class": [g.gz2_class for g in galaxies] + ["Ei"],
        "total_classifications": classifications, "total_votes": classifications * rng.integers(4, 9, n),
    }
    for task, answers in GZ2_TASKS.items():
        fractions = raw if task == "t01_smooth_or_features" else rng.dirichlet(np.ones(len(answers)), n)
        clean = debiased if task == "t01_smooth_or_features" else fractions
        voters = classifications if task == "t01_smooth_or_features" else rng.integers(0, 40, n)
        for k, answer in enumerate(answers):
            counts = np.round(fractions[:, k] * voters).astype(np.int64)
            prefix = f"{task}_{answer}"
            values[f"{prefix}_count"] = counts
            values[f"{prefix}_weight"] = counts.astype(float)
            values[f"{prefix}_fraction"] = fractions[:, k].round(3)
            values[f"{prefix}_weighted_fraction"] = fractions[:, k].round(3)
            values[f"{prefix}_debiased"] = clean[:, k].round(3)
            values[f"{prefix}_flag"] = (clean[:, k] > 0.8).astype(np.int64)
    return pd.DataFrame(values, columns=hart16_columns())


def _sexagesimal(value: float, *, signed: bool) -> str:
    """``195.45 / 15`` → ``13:01:48.00``; ``14.23`` → ``+14:13:48.0`` (the Hart table's ra/dec strings)."""
    sign = "-" if value < 0 else "+"
    value = abs(value)
    degrees, minutes = int(value), int(value * 60) % 60
    seconds = value * 3600 - degrees * 3600 - minutes * 60
    return f"{sign}{degrees:02d}:{minutes:02d}:{seconds:04.1f}" if signed else f"{degrees:02d}:{minutes:02d}:{seconds:05.2f}"


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
