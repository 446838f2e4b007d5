"""kit doctor: environment, data, credentials (never the key), devices, disk."""

import json

from click.testing import CliRunner

from kaggle_kit.cli import cli
from kaggle_kit.competitions import list_competitions
from kaggle_kit.doctor import run_checks
from kaggle_kit.paths import Workspace


def by_name(checks):
    return {c.name: c for c in checks}


def test_doctor_reports_a_kaggle_notebook_mount(tmp_path, monkeypatch, workspace_env):
    mount = tmp_path / "input"
    (mount / "histopathologic-cancer-detection").mkdir(parents=True)
    monkeypatch.setenv("KIT_KAGGLE_INPUT", str(mount))
    checks = by_name(run_checks(Workspace.resolve(), with_tensorflow=False))
    assert checks["environment"].detail == "kaggle-notebook"
    cancer = checks["histopathologic-cancer-detection"]
    assert cancer.status == "ok"
    assert cancer.detail == f"raw data {mount / 'histopathologic-cancer-detection'}; not prepared yet"
    assert checks["galaxy-zoo-2"].fix == "kit download galaxy-zoo-2"


def test_doctor_names_the_credentials_source_but_never_the_key(tmp_path, monkeypatch, workspace_env):
    config = tmp_path / "kaggle"
    config.mkdir()
    (config / "kaggle.json").write_text(json.dumps({"username": "ada", "key": "s3cr3t-key-123"}))
    (config / "kaggle.json").chmod(0o644)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(config))
    monkeypatch.delenv("KAGGLE_API_TOKEN", raising=False)
    monkeypatch.delenv("KAGGLE_KEY", raising=False)
    monkeypatch.delenv("KAGGLE_USERNAME", raising=False)
    check = by_name(run_checks(Workspace.resolve(), with_tensorflow=False))["kaggle credentials"]
    assert check.status == "warn"
    assert check.detail == f"key from {config / 'kaggle.json'}"
    assert check.fix.endswith(f"make it private: chmod 600 {config / 'kaggle.json'}")
    assert "s3cr3t" not in check.detail + check.fix


def test_doctor_flags_an_unwritable_data_root(tmp_path, workspace_env):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        workspace = Workspace.resolve(data_dir=locked / "data")
        check = by_name(run_checks(workspace, with_tensorflow=False))["data root"]
    finally:
        locked.chmod(0o700)
    import os

    if os.geteuid() == 0:  # root writes anywhere: the check then rightly passes
        assert check.status == "ok"
    else:
        assert check.status == "fail"
        assert check.fix == "point --data-dir / KIT_DATA_DIR at a writable folder"


def test_kit_doctor_prints_every_section(workspace_env, monkeypatch):
    monkeypatch.setenv("KAGGLE_USERNAME", "ada")
    monkeypatch.setenv("KAGGLE_KEY", "s3cr3t-key-123")
    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code == 0, result.output
    names = [line[7:].split()[0] for line in result.output.splitlines() if line.startswith("[")]
    assert names == [
        "environment", "data", "runs", "submissions", *list_competitions(), "kaggle", "tensorflow", "devices", "mixed",
        "disk",
    ]
    assert "key from KAGGLE_USERNAME/KAGGLE_KEY" in result.output
    assert "s3cr3t" not in result.output
