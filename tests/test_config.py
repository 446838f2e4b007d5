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
        ({"epochs": 0}, "epochs must be from 1 to 100000"),
        ({"seed": 10**30}, "seed must be a whole number from 0 to 2147483647"),
        ({"seed": -1}, "seed must be a whole number from 0 to 2147483647"),
        ({"weight_decay": float("inf")}, "weight_decay must be from 0 to below 1"),
        ({"batch_size": 10**9}, "batch_size must be from 1 to 65536"),
        ({"augment": {"brightness_range": (0.5, float("inf"))}}, "both above 0 and at most 10"),
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


def test_fewer_epochs_carry_an_earlier_layers_warmup_down():
    """``kit train SLUG --epochs 1`` on a recipe with a 1-epoch warm-up trains without warm-up."""
    recipe = {"epochs": 14, "warmup_epochs": 3}
    assert layered_config("c", recipe, overrides={"epochs": 1}).warmup_epochs == 0
    assert layered_config("c", recipe, overrides={"epochs": "2"}).warmup_epochs == 1
    assert layered_config("c", recipe, overrides={"epochs": 5}).warmup_epochs == 3
    with pytest.raises(ConfigError, match="warmup_epochs must be from 0 to epochs - 1"):
        layered_config("c", recipe, overrides={"epochs": 2, "warmup_epochs": 2})  # both given: the user's word


def test_a_huge_seed_in_a_config_file_is_one_error(tmp_path):
    path = tmp_path / "seed.yaml"
    path.write_text("seed: 1e30\n")
    with pytest.raises(ConfigError, match=f"^{path}: seed must be a whole number from 0 to 2147483647$"):
        layered_config("c", {}, config_file=path)


def test_bad_config_file_names_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("epochs: [1\n")
    with pytest.raises(ConfigError, match=f"config file {path} line .* is not valid YAML"):
        layered_config("c", {}, config_file=path)


# --- one typed coercion path, every source ------------------------------------------------------
CANCER = "histopathologic-cancer-detection"


@pytest.mark.parametrize(
    "yaml_text, message",
    [
        ("augment: [1, 2]\n", "augment must be a mapping of augmentation options (got [1, 2])"),
        ("augment:\n  brightness_range: 0.9\n",
         "augment.brightness_range must be a pair [low, high] of numbers or null (got 0.9)"),
        ("augment:\n  dihedral: sometimes\n", "augment.dihedral must be true or false (got 'sometimes')"),
        ("lr: abc\n", "lr must be a number (got 'abc')"),
        ("epochs: 2.5\n", "epochs must be a whole number (got 2.5)"),
        ("epochs: true\n", "epochs must be a whole number (got true)"),
        ("model_options: 5\n", "model_options must be a mapping of name: value (got 5)"),
        ("model: 5\n", "model must be text (got 5)"),
        ("max_images: lots\n", "max_images must be a whole number or null (got 'lots')"),
        ("epochs: .nan\n", "epochs must be a whole number (got NaN)"),
    ],
)
def test_wrong_value_types_in_a_config_file_are_one_error_naming_the_file_and_key(workspace_env, tmp_path, yaml_text,
                                                                                 message):
    from click.testing import CliRunner

    from kaggle_kit.cli import cli

    path = tmp_path / "my.yaml"
    path.write_text(yaml_text)
    result = CliRunner().invoke(cli, ["train", CANCER, "--config", str(path), "--quiet"])
    assert (result.exit_code, result.output) == (1, f"Error: {path}: {message}\n")
    assert not workspace_env.runs_dir.exists() and not workspace_env.data_dir.exists()


def test_yaml_numbers_and_numeric_text_are_numbers_through_every_source(tmp_path):
    path = tmp_path / "my.yaml"
    path.write_text("lr: 1e-4\nweight_decay: 5E-3\nepochs: '12'\naugment:\n  zoom_range: .1\n  dihedral: yes\n")
    config = layered_config("c", {"lr": "2e-3"}, config_file=path, overrides={"warmup_epochs": 2.0})
    assert (config.lr, config.weight_decay, config.epochs, config.warmup_epochs) == (1e-4, 5e-3, 12, 2)
    assert (config.augment.zoom_range, config.augment.dihedral) == (0.1, True)
    assert all(type(v) is t for v, t in ((config.lr, float), (config.epochs, int), (config.warmup_epochs, int)))
    assert TrainConfig.from_yaml(_saved(tmp_path, config)) == config


def _saved(tmp_path, config):
    path = tmp_path / "saved.yaml"
    path.write_text(config.to_yaml())
    return path


@pytest.mark.parametrize(
    "options, message",
    [
        (["--model", "resnet-9000"], "unknown model 'resnet-9000'; choose one of: "),
        (["--model", "kit-resnet", "--model-option", "width=abc"],
         "model 'kit-resnet' option width must be a whole number (got 'abc')"),
        (["--model", "kit-resnet", "--model-option", "colour=red"],
         "model 'kit-resnet' has no option(s) colour; valid options are "),
        (["--model", "kit-resnet", "--model-option", "dropout=2"],
         "model 'kit-resnet' option dropout must be from 0.0 to below 1.0 (got 2.0)"),
        (["--model", "notebook-cnn", "--image-size", "8"], "model 'notebook-cnn' cannot be built for 8×8 images"),
    ],
)
def test_a_bad_model_or_model_option_fails_before_the_cache_or_a_run_folder_exists(workspace_env, cancer_raw, options,
                                                                                  message):
    from click.testing import CliRunner

    from kaggle_kit.cli import cli

    result = CliRunner().invoke(cli, ["train", CANCER, "--raw-dir", str(cancer_raw), *options, "--quiet"])
    assert result.exit_code == 1 and result.output.startswith(f"Error: {message}"), result.output
    assert "\n" not in result.output.rstrip("\n")
    assert not workspace_env.runs_dir.exists() and not workspace_env.data_dir.exists()
