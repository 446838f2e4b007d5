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


TASK_MODEL = "test-tiny-head"


def _tiny_head(input_shape, *, width: int = 8):
    """Test model: Rescaling → Conv → global pooling → the zoo's logit head (so it can be widened)."""
    import keras
    from keras import layers

    from kaggle_kit.models._layers import logit_head

    inputs = keras.Input(input_shape)
    x = layers.Rescaling(1 / 255)(inputs)
    x = layers.Conv2D(width, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, logit_head(x))


@pytest.fixture(scope="session")
def task_model():
    """A tiny registered model with the zoo's logit head, for K-output tasks; returns its name."""
    from kaggle_kit.models import list_models, register_model

    if TASK_MODEL not in list_models():
        register_model(_tiny_head, name=TASK_MODEL, reference_shape=(16, 16, 3))
    return TASK_MODEL
