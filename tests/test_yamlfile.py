"""The safe reader of config files and custom competition files (``kaggle_kit.yamlfile``)."""

import os

import pytest
from click.testing import CliRunner

from kaggle_kit.cli import cli
from kaggle_kit.competitions import get_competition
from kaggle_kit.config import layered_config
from kaggle_kit.errors import ConfigError
from kaggle_kit.yamlfile import MAX_BYTES, read_mapping


def alias_bomb(levels: int) -> str:
    """``levels`` rows of 9 aliases each to the row above: 9**levels leaves once expanded."""
    rows = ["  a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels + 1):
        rows.append(f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "model_options:\n" + "\n".join(rows) + "\n"


def read_config(tmp_path, text, name="config.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path, layered_config("c", {}, config_file=path)


@pytest.mark.parametrize(
    "text, line",
    [
        (alias_bomb(2), 2),  # small enough to expand quickly where aliases were accepted
        ("epochs: &e 3\nbatch_size: *e\n", 1),
        ("augment: &aug\n  dihedral: true\nmodel_options:\n  <<: *aug\n", 1),
    ],
)
def test_anchors_and_aliases_are_refused_with_the_line(tmp_path, text, line):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        layered_config("c", {}, config_file=path)
    assert str(err.value) == (
        f"config file {path} line {line}: anchors and aliases (&name, *name) are not accepted; write each value out"
    )


def test_the_alias_bomb_is_refused_before_expanding(tmp_path):
    # 9**8 = 43 million leaves if expanded: only refusing it up front keeps this test short.
    path = tmp_path / "config.yaml"
    path.write_text(alias_bomb(8))
    with pytest.raises(ConfigError, match="line 2: anchors and aliases"):
        layered_config("c", {}, config_file=path)


@pytest.mark.parametrize(
    "written, value",
    [("1e-4", 1e-4), ("1E-4", 1e-4), ("5e-3", 5e-3), ("+1e-2", 1e-2), (".5", 0.5), ("1.0e-05", 1e-05), ("0.001", 0.001)],
)
def test_yaml_1_2_numbers_are_numbers(tmp_path, written, value):
    _, config = read_config(tmp_path, f"lr: {written}\n")
    assert config.lr == value and isinstance(config.lr, float)


def test_integers_are_decimal_and_times_and_dates_stay_text(tmp_path):
    path = tmp_path / "values.yaml"
    path.write_text("a: 010\nb: 0x1F\nc: 0o17\nd: 1:30\ne: 2024-01-01\nf: 1_000\ng: '1e-4'\nh: yes\ni: ~\nj: -.inf\n")
    assert read_mapping(path, kind="config file") == {
        "a": 10, "b": 31, "c": 15, "d": "1:30", "e": "2024-01-01", "f": 1000, "g": "1e-4", "h": True, "i": None,
        "j": float("-inf"),
    }


@pytest.mark.parametrize(
    "text, message",
    [
        ("- epochs: 3\n", "must hold a mapping of key: value, not a list"),
        ("just words\n", "must hold a mapping of key: value, not a text value"),
        ("epochs: 3\nlr: 0.1\nepochs: 4\n", "line 3: the key 'epochs' appears twice; keep one"),
        ("epochs: 3\n1: 2\n", "line 2: keys must be names (text), not numbers or lists; quote the key"),
        ("lr: !!binary aGVsbG8=\n", "line 1: the tag tag:yaml.org,2002:binary is not accepted; write a plain value"),
        ("lr: !!python/object/apply:os.getcwd []\n", "line 1: the tag tag:yaml.org,2002:python/object/apply:os.getcwd is not accepted"),
        ("model_options:\n  w: " + "[" * 40 + "]" * 40 + "\n", "line 2: nests deeper than 32 levels; flatten it"),
        ("model_options:\n  name: " + "x" * 5000 + "\n", "line 2: a value is longer than 4096 characters; shorten it"),
        ("model_options:\n  w: [" + ", ".join(["1"] * 10_001) + "]\n", "line 2: holds more than 10000 values"),
        ("epochs: [3\n", "line 2 is not valid YAML (expected ',' or ']', but got '<stream end>'); fix the syntax there"),
        ("epochs: 3\n---\nepochs: 4\n", "line 2 is not valid YAML (but found another document)"),
    ],
)
def test_bad_documents_are_one_error_naming_the_file(tmp_path, text, message):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        layered_config("c", {}, config_file=path)
    assert str(err.value).startswith(f"config file {path}")
    assert message in str(err.value)


def test_oversized_and_non_utf8_files_are_refused_unread(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("# padding\n" * (MAX_BYTES // 10 + 1))
    with pytest.raises(ConfigError) as err:
        read_mapping(big, kind="config file")
    assert str(err.value) == f"config file {big} is larger than 256 kB; a config is a few lines, check the file"
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("epochs: 3\ntitle: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError) as err:
        read_mapping(latin, kind="config file")
    assert str(err.value) == f"config file {latin} line 2 is not UTF-8 text; save the file as UTF-8"


def test_a_fifo_or_folder_named_like_a_config_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "config.yaml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError) as err:
        read_mapping(fifo, kind="config file")
    assert str(err.value) == f"config file {fifo} is a FIFO (named pipe), not a file; point at a regular file"
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    with pytest.raises(ConfigError, match="is a folder, not a file"):
        read_mapping(folder, kind="config file")


def test_custom_competition_files_use_the_same_reader(tmp_path):
    spec = tmp_path / "comp.yaml"
    spec.write_text("slug: &s mine\ntitle: *s\nimages: imgs\nlabels: labels.csv\n")
    with pytest.raises(ConfigError) as err:
        get_competition(str(spec))
    assert str(err.value) == (
        f"custom competition file {spec} line 1: anchors and aliases (&name, *name) are not accepted; write each value out"
    )
    toml = tmp_path / "deep.toml"
    toml.write_text("slug = 'x'\nimages = 'imgs'\nlabels = 'l.csv'\nrecipe = {model_options = {name = '" + "y" * 5000 + "'}}\n")
    with pytest.raises(ConfigError) as err:
        get_competition(str(toml))
    assert str(err.value) == (
        f"custom competition file {toml}: a value is longer than 4096 characters (at recipe.model_options.name); shorten it"
    )


def test_model_option_values_on_the_command_line_are_read_the_same_way(workspace_env):
    result = CliRunner().invoke(cli, ["train", "c.yaml", "--model-option", "w=&a [*a]"])
    assert result.exit_code == 2
    assert "Invalid value for '--model-option': w: anchors and aliases (&name, *name) are not accepted" in result.output
