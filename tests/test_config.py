"""Layered, validated, frozen training configs."""

import dataclasses

import pytest

from kaggle_kit.config import TrainConfig, layered_config
from kaggle_kit.errors import ConfigError


def test_layers_apply_in_order(tmp_path):
    config_file = tmp_path / "c.yaml"
    config_file.write_text("epochs: 7\nlr: 0.01\naugment:\n  vertical_flip: true\n")
    config = layered_config(
        "comp",
        {"epochs": 3, "batch_size": 16, "augment": {"dihedral": True}},
        config_file=config_file,
        overrides={"lr": 0.05, "batch_size": None},
    )
    assert (config.epochs, config.batch_size, config.lr) == (7, 16, 0.05)
    assert config.augment.dihedral and config.augment.vertical_flip


def test_config_is_frozen():
    config = TrainConfig(competition="c")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.epochs = 3


def test_yaml_round_trip(tmp_path):
    config = layered_config("c", {"augment": {"brightness_range": (0.8, 1.2)}, "model_options": {"width": 32}})
    path = tmp_path / "config.yaml"
    path.write_text(config.to_yaml())
    again = TrainConfig.from_yaml(path)
    assert again == config
    assert again.digest() == config.digest()


@pytest.mark.parametrize(
    "change, message",
    [
        ({"epochs": 0}, "epochs must be at least 1"),
        ({"balance": "smote"}, "balance must be one of none, undersample, oversample, class-weight (got 'smote')"),
        ({"crop": 2.0}, "crop must be a fraction"),
        ({"augment": {"fill_mode": "mirror"}}, "augment.fill_mode must be one of"),
        ({"augment": {"brightness_range": (1.2, 0.8)}}, "brightness_range must be a pair low <= high"),
        ({"colour": "red"}, "unknown option(s) colour"),
        ({"augment": {"spin": 1}}, "unknown augment option(s) spin"),
    ],
)
def test_invalid_values_are_refused_with_their_source(change, message):
    with pytest.raises(ConfigError) as err:
        layered_config("c", {}, overrides=change)
    assert message in str(err.value)
    assert str(err.value).startswith("command-line options: ")


def test_bad_config_file_names_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("epochs: [1\n")
    with pytest.raises(ConfigError, match=f"config file {path} line .* is not valid YAML"):
        layered_config("c", {}, config_file=path)
