"""Galaxy Zoo – The Galaxy Challenge: 37 decision-tree vote fractions per galaxy; RMSE.

The layout (Kaggle's data page, as public notebooks and the winning entry's code
read it, e.g. github.com/benanne/kaggle-galaxies): every file of the download is
a zip of its own — ``images_training_rev1.zip`` (``images_training_rev1/<GalaxyID>.jpg``,
424×424), ``images_test_rev1.zip``, ``training_solutions_rev1.zip``
(``GalaxyID,Class1.1,…,Class11.6``), and three benchmark submissions
(``all_zeros_benchmark``, ``all_ones_benchmark``, ``central_pixel_benchmark``);
``kit download`` extracts them. The all-zeros benchmark is the sample submission:
its columns and its GalaxyIDs, in order. Scored by the RMSE over every cell; the
winning entry scored 0.07492 on the private leaderboard. Spiral vs elliptical is
derived from the predicted fractions by following the decision tree
(``galaxy_tree.py``) and reported beside the RMSE.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kaggle_kit.competitions.galaxy_tree import CLASS_COLUMNS, spiral_or_elliptical, spiral_probability
from kaggle_kit.competitions._registry import (
    Competition,
    LabelOptions,
    LabelTables,
    counting_layout,
    register_competition,
)
from kaggle_kit.competitions.custom import GENERIC_RECIPE
from kaggle_kit.competitions._tables import attach_paths, check_unique_ids, read_table, require_extracted
from kaggle_kit.tasks import Task

SLUG = "galaxy-zoo-the-galaxy-challenge"
TRAIN_IMAGES, TEST_IMAGES = "images_training_rev1", "images_test_rev1"
SOLUTIONS = "training_solutions_rev1.csv"
SAMPLE = "all_zeros_benchmark.csv"
WINNING_RMSE = 0.07492  # private leaderboard, 1st place (Sander Dieleman's team)

# Dieleman's entry cropped the central 207 of 424 pixels and used every rotation and flip.
DEFAULT_RECIPE: dict[str, Any] = {
    **GENERIC_RECIPE,
    "image_size": 64,
    "crop": 0.5,
    "epochs": 20,
    "lr": 2e-3,
    "augment": {"dihedral": True, "rotation_range": 180.0, "zoom_range": 0.1, "fill_mode": "reflect"},
}


def build_labels(raw: Path, options: LabelOptions) -> LabelTables:
    require_extracted(raw, (TRAIN_IMAGES, TEST_IMAGES))
    solutions = _table(raw, SOLUTIONS)
    train = pd.DataFrame({"id": solutions["GalaxyID"].astype(str), **{c: solutions[c] for c in CLASS_COLUMNS}})
    train = attach_paths(train, "id", raw / TRAIN_IMAGES, ".jpg", raw / SOLUTIONS)
    sample = _table(raw, SAMPLE)
    test = attach_paths(sample[["GalaxyID"]].rename(columns={"GalaxyID": "id"}), "id", raw / TEST_IMAGES, ".jpg",
                        raw / SAMPLE)
    notes = {"train": len(train), "test": len(test)}
    return LabelTables(train=train, test=test, sample_submission=sample, notes=notes)


def _table(raw: Path, name: str) -> pd.DataFrame:
    """A CSV of the download, found at the top level or inside the folder of the same name
    (users who unzip each benchmark into its own folder)."""
    path = raw / name if (raw / name).is_file() else raw / name.removesuffix(".csv") / name
    if not path.is_file():
        require_extracted(raw, [name])
    table = read_table(path, ["GalaxyID", *CLASS_COLUMNS], hint="re-download the competition", id_column="GalaxyID")
    check_unique_ids(table, "GalaxyID", path)
    return table


def spiral_vs_elliptical(labels: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    """Spiral vs elliptical on the galaxies the volunteers' majority path calls one or the other:
    how many, the accuracy of the predicted fractions' own path, and the ROC AUC of
    ``Class4.1 / (Class1.1 + Class4.1)``."""
    from kaggle_kit.metrics import get_metric

    truth = spiral_or_elliptical(labels)
    chosen = truth >= 0
    predicted = spiral_or_elliptical(predictions)[chosen]
    scores = {"spiral_vs_elliptical_galaxies": int(chosen.sum())}
    if chosen.any():
        scores["spiral_vs_elliptical_accuracy"] = float(np.mean(predicted == truth[chosen]))
        scores["spiral_vs_elliptical_auc"] = get_metric("auc")(truth[chosen], spiral_probability(predictions)[chosen])
    return scores


@register_competition
def galaxy_zoo_the_galaxy_challenge() -> Competition:
    return Competition(
        slug=SLUG,
        title="Galaxy Zoo - The Galaxy Challenge",
        source_kind="competition",
        source_ref=SLUG,
        native_size=(424, 424),
        metric="rmse",
        build_labels=build_labels,
        check_layout=counting_layout(build_labels),
        task=Task("regression", CLASS_COLUMNS, bounded=True),
        nested_archives=True,
        derived_scores=spiral_vs_elliptical,
        recipes={"default": DEFAULT_RECIPE},
        description="SDSS galaxies, 37 Galaxy Zoo vote fractions per galaxy; RMSE (winning entry 0.07492); "
                    "spiral vs elliptical derived.",
    )
