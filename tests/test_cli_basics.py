"""The CLI's frame: help for every command, the competitions table, error handling."""

import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from kaggle_kit.cli import cli


def all_commands():
    return sorted(cli.commands)


@pytest.mark.parametrize("name", all_commands())
def test_every_command_has_help_text(name):
    command = cli.commands[name]
    assert command.help and command.help.strip(), f"kit {name} has no help text"
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0
    assert "Usage: cli " + name in result.output or f"Usage: cli {name}" in result.output


def test_kit_help_lists_commands():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in all_commands():
        assert name in result.output


def test_help_imports_neither_tensorflow_nor_kaggle():
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from kaggle_kit.cli import cli\n"
        "for name in [None] + sorted(cli.commands):\n"
        "    args = ['--help'] if name is None else [name, '--help']\n"
        "    assert CliRunner().invoke(cli, args).exit_code == 0\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'kaggle') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_competitions_table(workspace_env):
    result = CliRunner().invoke(cli, ["competitions"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["slug", "source", "task", "metric", "downloaded", "prepared"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert len(rows) == 7
    assert rows["galaxy-zoo-2"] == ["galaxy-zoo-2", "dataset:jaimetrickz/galaxy-zoo-2-images", "binary", "accuracy",
                                    "no", "no"]
    assert rows["histopathologic-cancer-detection"] == [
        "histopathologic-cancer-detection", "competition:histopathologic-cancer-detection", "binary", "auc", "no", "no",
    ]
    assert rows["dog-breed-identification"][2:4] == ["multiclass", "log_loss"]


def test_library_errors_become_one_line_click_errors():
    @cli.command("boom-for-test", help="test only")
    def boom():
        from kaggle_kit.errors import DataError

        raise DataError("train_labels.csv lacks column label; fix the header")

    try:
        result = CliRunner().invoke(cli, ["boom-for-test"])
    finally:
        del cli.commands["boom-for-test"]
    assert result.exit_code == 1
    assert result.output == "Error: train_labels.csv lacks column label; fix the header\n"


def test_python_dash_m_runs_the_cli():
    out = subprocess.run([sys.executable, "-m", "kaggle_kit", "--version"], capture_output=True, text=True)
    assert out.returncode == 0
    assert out.stdout.startswith("kit, version ")


def test_competitions_speak_json_and_csv(workspace_env):
    import json

    result = CliRunner().invoke(cli, ["competitions", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = {row["slug"]: row for row in json.loads(result.output)}
    assert len(rows) == 7
    assert rows["galaxy-zoo-2"] == {"slug": "galaxy-zoo-2", "source": "dataset:jaimetrickz/galaxy-zoo-2-images",
                                    "task": "binary", "metric": "accuracy", "downloaded": False, "prepared": False}
    assert rows["galaxy-zoo-the-galaxy-challenge"] == {
        "slug": "galaxy-zoo-the-galaxy-challenge", "source": "competition:galaxy-zoo-the-galaxy-challenge",
        "task": "regression", "metric": "rmse", "downloaded": False, "prepared": False}
    lines = CliRunner().invoke(cli, ["competitions", "--format", "csv"]).output.splitlines()
    assert lines[0] == "slug,source,task,metric,downloaded,prepared"
    assert "histopathologic-cancer-detection,competition:histopathologic-cancer-detection,binary,auc,False,False" in lines


@pytest.mark.parametrize("command", ["runs", "submissions", "leaderboard", "models", "competitions"])
def test_every_listing_command_takes_format_table_json_csv(command):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    assert "--format [table|json|csv]" in result.output
