"""Session-wide generated stand-ins of the five task-kind competitions, in their raw (downloaded) layouts.

Read-only by convention: a test that changes files copies the folder first. Each
fixture returns ``(raw folder, hidden test answers csv)``.
"""

from __future__ import annotations

import pytest

TASK_TRAIN, TASK_TEST = 48, 12
DOG_BREEDS = 4


@pytest.fixture(scope="session")
def task_raw_root(tmp_path_factory):
    return tmp_path_factory.mktemp("task-competitions")


@pytest.fixture(scope="session")
def cactus_raw(task_raw_root):
    from kaggle_kit.demo.task_generators import write_cactus_competition

    solution = task_raw_root / "cactus-solution.csv"
    return write_cactus_competition(task_raw_root / "cactus", TASK_TRAIN, TASK_TEST, seed=7,
                                    solution_path=solution), solution


@pytest.fixture(scope="session")
def dogs_raw(task_raw_root):
    from kaggle_kit.demo.task_generators import write_dog_breed_competition

    solution = task_raw_root / "dogs-solution.csv"
    return write_dog_breed_competition(task_raw_root / "dogs", TASK_TRAIN, TASK_TEST, seed=7, image_size=32,
                                       breeds=DOG_BREEDS, solution_path=solution), solution


@pytest.fixture(scope="session")
def aptos_raw(task_raw_root):
    from kaggle_kit.demo.task_generators import write_aptos_competition

    solution = task_raw_root / "aptos-solution.csv"
    return write_aptos_competition(task_raw_root / "aptos", TASK_TRAIN, TASK_TEST, seed=7, image_size=40,
                                   solution_path=solution), solution


@pytest.fixture(scope="session")
def plant_raw(task_raw_root):
    from kaggle_kit.demo.task_generators import write_plant_pathology_competition

    solution = task_raw_root / "plant-solution.csv"
    return write_plant_pathology_competition(task_raw_root / "plant", TASK_TRAIN, TASK_TEST, seed=7, image_size=36,
                                             solution_path=solution), solution


@pytest.fixture(scope="session")
def galaxy_challenge_raw(task_raw_root):
    from kaggle_kit.demo.task_generators import write_galaxy_challenge

    solution = task_raw_root / "galaxy-challenge-solution.csv"
    return write_galaxy_challenge(task_raw_root / "galaxy-challenge", TASK_TRAIN, TASK_TEST, seed=7, image_size=32,
                                  solution_path=solution), solution
