"""Tiny raw competitions for the prepare tests: a few dozen small images, written in the
real layouts, with helpers to damage them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CANCER = "histopathologic-cancer-detection"
GALAXY = "galaxy-zoo-2"


def patch_pixels(seed: int, side: int) -> np.ndarray:
    """A deterministic RGB patch whose mean brightness encodes ``seed``."""
    rng = np.random.default_rng(seed)
    base = 40 + (seed * 7) % 180
    return np.clip(base + rng.integers(-20, 20, size=(side, side, 3)), 0, 255).astype(np.uint8)


def write_cancer_raw(raw: Path, n_train: int = 24, n_test: int = 8, positives: int = 8, side: int = 24) -> Path:
    """``train/*.tif``, ``test/*.tif``, ``train_labels.csv``, ``sample_submission.csv``."""
    (raw / "train").mkdir(parents=True)
    (raw / "test").mkdir()
    lines = ["id,label"]
    for i in range(n_train):
        image_id = f"tr{i:03d}"
        Image.fromarray(patch_pixels(i, side)).save(raw / "train" / f"{image_id}.tif")
        lines.append(f"{image_id},{1 if i < positives else 0}")
    (raw / "train_labels.csv").write_text("\n".join(lines) + "\n")
    sample = ["id,label"]
    for i in range(n_test):
        image_id = f"te{i:03d}"
        Image.fromarray(patch_pixels(1000 + i, side)).save(raw / "test" / f"{image_id}.tif")
        sample.append(f"{image_id},0")
    (raw / "sample_submission.csv").write_text("\n".join(sample) + "\n")
    return raw


def write_galaxy_raw(raw: Path, n: int = 30, side: int = 40) -> Path:
    """``images/<asset_id>.jpg``, ``gz2_filename_mapping.csv``, ``gz2_hart16.csv`` (E, S and A classes)."""
    (raw / "images").mkdir(parents=True)
    hart = ["dr7objid,gz2_class,t01_smooth_or_features_a01_smooth_debiased,"
            "t01_smooth_or_features_a02_features_or_disk_debiased,t01_smooth_or_features_a03_star_or_artifact_debiased"]
    mapping = ["objid,sample,asset_id"]
    for i in range(n):
        objid = 587722981736120000 + i
        gz2_class = "A" if i % 10 == 9 else ("Ei" if i % 2 else "Sc")
        confidence = 0.9 if i % 3 else 0.55
        hart.append(f"{objid},{gz2_class},{confidence if gz2_class[0] == 'E' else 1 - confidence:.2f},"
                    f"{confidence if gz2_class[0] == 'S' else 1 - confidence:.2f},0.0")
        mapping.append(f"{objid},original,{100 + i}")
        Image.fromarray(patch_pixels(i, side)).save(raw / "images" / f"{100 + i}.jpg", quality=90)
    (raw / "gz2_hart16.csv").write_text("\n".join(hart) + "\n")
    (raw / "gz2_filename_mapping.csv").write_text("\n".join(mapping) + "\n")
    return raw


@pytest.fixture
def cancer_tiny(workspace_env):
    """A tiny cancer competition in the workspace's raw folder: 24 train (8 positive), 8 test."""
    write_cancer_raw(workspace_env.raw_dir(CANCER))
    return workspace_env


@pytest.fixture
def galaxy_tiny(workspace_env):
    """A tiny Galaxy Zoo 2 layout: 30 galaxies, 3 of class A."""
    write_galaxy_raw(workspace_env.raw_dir(GALAXY))
    return workspace_env
