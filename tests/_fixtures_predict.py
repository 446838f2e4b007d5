"""Tiny prepared competitions and fake run folders (the report fixtures' layout) with models
chosen for the predict and submit tests: orientation-invariant, oriented, or NaN."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from _fixtures_prepare import CANCER, GALAXY, write_cancer_raw, write_galaxy_raw
from _fixtures_runs import write_fake_run

__all__ = ["cancer_prepared", "galaxy_prepared", "custom_auc_prepared"]  # what conftest re-exports; tests import helpers by name

IMAGE_SIZE = 8
UNREADABLE_TEST_ID = "te003"


def invariant_model(seed: int, broken: bool = False):
    """A per-pixel op then global average pooling: blind to flips and quarter-turns.
    ``broken`` sets the head's weights to NaN, so every prediction is NaN."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3))
    x = layers.Rescaling(1 / 255)(inputs)
    x = layers.GlobalAveragePooling2D()(layers.Conv2D(4, 1, activation="tanh")(x))
    head = layers.Dense(1)
    model = keras.Model(inputs, head(x))
    if broken:
        head.set_weights([np.full_like(w, np.nan) for w in head.get_weights()])
    return model


def make_run(workspace, slug: str, run_id: str, kind: str = "invariant", seed: int = 0, folds: int = 0,
             threshold: float = 0.5) -> Path:
    """A finished run folder in the contract's layout (``write_fake_run``), its model(s) of ``kind``:
    ``invariant`` (orientation-blind), ``oriented`` (dense on flattened pixels) or ``nan``.
    Fold ``k`` is built with ``seed + k``, so fold models equal single runs of those seeds."""
    build = None if kind == "oriented" else lambda fold: invariant_model(seed + fold, broken=kind == "nan")
    return write_fake_run(workspace.runs_root(slug) / run_id, [f"v{i}" for i in range(8)], competition=slug,
                          image_size=IMAGE_SIZE, conv=kind != "oriented", folds=folds, threshold=threshold, seed=seed,
                          build_model=build)


def prepare_tiny(workspace, name: str):
    """Prepare a competition (a slug or a custom competition file) at the fake runs' image size."""
    from kaggle_kit.competitions import get_competition
    from kaggle_kit.data.prepare import PrepareOptions, prepare

    competition = get_competition(name)
    options = PrepareOptions(image_size=IMAGE_SIZE)
    return prepare(competition, workspace, options, workers=1, progress=False)


@pytest.fixture
def cancer_prepared(workspace_env):
    """A tiny prepared cancer competition (24 train, 8 test); test image te003 is unreadable."""
    raw = write_cancer_raw(workspace_env.raw_dir(CANCER))
    (raw / "test" / f"{UNREADABLE_TEST_ID}.tif").write_bytes(b"not a tiff")
    prepare_tiny(workspace_env, CANCER)
    return workspace_env


@pytest.fixture
def galaxy_prepared(workspace_env):
    """A tiny prepared Galaxy Zoo 2 (locally scored): 27 labelled galaxies, a fifth held out."""
    write_galaxy_raw(workspace_env.raw_dir(GALAXY))
    prepare_tiny(workspace_env, GALAXY)
    return workspace_env


@pytest.fixture
def custom_auc_prepared(workspace_env, tmp_path):
    """A prepared custom competition scored by AUC (locally): 30 PNGs, labels alternating; returns
    the competition file's path."""
    from PIL import Image

    from _fixtures_prepare import patch_pixels

    (tmp_path / "mine" / "images").mkdir(parents=True)
    for i in range(30):
        Image.fromarray(patch_pixels(i, 12)).save(tmp_path / "mine" / "images" / f"img{i:02d}.png")
    (tmp_path / "mine" / "labels.csv").write_text("id,label\n" + "".join(f"img{i:02d},{i % 2}\n" for i in range(30)))
    spec = tmp_path / "mine" / "mine.yaml"
    spec.write_text("slug: mine\nimages: images\nlabels: labels.csv\nextension: .png\nmetric: auc\n")
    prepare_tiny(workspace_env, str(spec))
    return spec
