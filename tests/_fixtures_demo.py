"""Session-wide generated competitions in their raw (as downloaded) layouts.

Read-only by convention: a test that changes files copies the folder first.
"""

from __future__ import annotations

import pytest

CANCER_TRAIN, CANCER_TEST = 48, 12
GALAXIES, GALAXY_UNREADABLE = 40, 2


@pytest.fixture(scope="session")
def cancer_raw(tmp_path_factory):
    """A histopathologic-cancer-detection raw folder: 48 train and 12 test patches."""
    from kaggle_kit.demo.generators import write_cancer_competition

    root = tmp_path_factory.mktemp("demo") / "cancer-raw"
    return write_cancer_competition(root, n_train=CANCER_TRAIN, n_test=CANCER_TEST, seed=7)


@pytest.fixture(scope="session")
def galaxy_raw(tmp_path_factory):
    """A Galaxy Zoo 2 raw folder: 40 galaxies, some ``A`` rows, 2 unreadable images."""
    from kaggle_kit.demo.generators import write_galaxy_dataset

    root = tmp_path_factory.mktemp("demo") / "galaxy-raw"
    return write_galaxy_dataset(root, n_galaxies=GALAXIES, seed=7, unreadable=GALAXY_UNREADABLE)
