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
    assert lines[0].split() == ["slug", "source", "metric", "downloaded", "prepared"]
    assert lines[1].split() == ["galaxy-zoo-2", "dataset:jaimetrickz/galaxy-zoo-2-images", "accuracy", "no", "no"]
    assert lines[2].split() == [
        "histopathologic-cancer-detection", "competition:histopathologic-cancer-detection", "auc", "no", "no",
    ]


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
    assert json.loads(result.output) == [
        {"slug": "galaxy-zoo-2", "source": "dataset:jaimetrickz/galaxy-zoo-2-images", "metric": "accuracy",
         "downloaded": False, "prepared": False},
        {"slug": "histopathologic-cancer-detection", "source": "competition:histopathologic-cancer-detection",
         "metric": "auc", "downloaded": False, "prepared": False},
    ]
    assert CliRunner().invoke(cli, ["competitions", "--format", "csv"]).output == (
        "slug,source,metric,downloaded,prepared\n"
        "galaxy-zoo-2,dataset:jaimetrickz/galaxy-zoo-2-images,accuracy,False,False\n"
        "histopathologic-cancer-detection,competition:histopathologic-cancer-detection,auc,False,False\n"
    )


@pytest.mark.parametrize("command", ["runs", "submissions", "leaderboard", "models", "competitions"])
def test_every_listing_command_takes_format_table_json_csv(command):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    assert "--format [table|json|csv]" in result.output
