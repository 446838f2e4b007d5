"""The run folder: the fixtures' fake runs have the files of a real run; ids; refusals; durability; leftovers."""

from __future__ import annotations

import json
import os
import re

import pandas as pd
import pytest
from click.testing import CliRunner

from _fixtures_runs import write_fake_run
from _fixtures_train import TOY_SIZE, toy_data
from kaggle_kit.cli import cli
from kaggle_kit.config import TrainConfig
from kaggle_kit.errors import RunNotFoundError, TrainingError
from kaggle_kit.runfolder import RunFolder
from kaggle_kit.train import train_prepared

CANCER = "histopathologic-cancer-detection"
GALAXY = "galaxy-zoo-2"


def layout(folder) -> dict:
    """What a reader of the folder relies on: file names (epoch numbers aside), table columns, JSON keys."""
    files = sorted(re.sub(r"epoch-\d{4}", "epoch-N", p.relative_to(folder).as_posix())
                   for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    state_files = sorted(folder.glob("**/state.json"))
    return {
        "files": files,
        "config": sorted(TrainConfig.from_yaml(folder / "config.yaml").to_dict()),
        "metrics": sorted(json.loads((folder / "metrics.json").read_text())),
        "history": list(pd.read_csv(folder / "history.csv").columns),
        "val_predictions": list(pd.read_csv(folder / "val_predictions.csv").columns),
        "state": sorted(json.loads(state_files[0].read_text())),
        "unit_history": [list(pd.read_csv(p).columns) for p in sorted(folder.glob("fold-*/history.csv"))],
    }


@pytest.mark.parametrize("folds", [0, 2], ids=["hold-out", "2-folds"])
def test_a_fixture_run_has_the_files_columns_and_keys_of_a_real_tiny_run(workspace_env, tiny_models, tmp_path, folds):
    config = TrainConfig.from_dict(dict(competition="toy", model=tiny_models[0], image_size=TOY_SIZE, epochs=1,
                                        batch_size=32, folds=folds, schedule="constant", seed=1))
    real = RunFolder.create(workspace_env, "toy", config)
    train_prepared(real, config, "auc", toy_data(n=48), progress=False)
    fake = write_fake_run(tmp_path / "fake", ["v0", "v1", "v2", "v3"], folds=folds)
    assert layout(fake) == layout(real.path)


def test_a_run_id_that_is_a_path_or_another_competitions_run_is_refused_by_resume(workspace_env, tmp_path):
    galaxy_run = write_fake_run(workspace_env.runs_root(GALAXY) / "20260101-000000-g", ["v0", "v1"], competition=GALAXY)
    (workspace_env.runs_root(CANCER)).mkdir(parents=True)
    os.symlink(galaxy_run, workspace_env.runs_root(CANCER) / "linked")
    copied = workspace_env.runs_root(CANCER) / "copied"
    copied.mkdir()
    (copied / "config.yaml").write_text((galaxy_run / "config.yaml").read_text())
    expected = {
        f"../{GALAXY}/{galaxy_run.name}": f"'../{GALAXY}/{galaxy_run.name}' is not a run id; pass the name of a "
                                          "folder in runs/<slug>/ (see 'kit runs')",
        "..": "'..' is not a run id; pass the name of a folder in runs/<slug>/ (see 'kit runs')",
        str(galaxy_run): f"'{galaxy_run}' is not a run id; pass the name of a folder in runs/<slug>/ (see 'kit runs')",
        "linked": f"run 'linked' links to {galaxy_run.resolve()}, outside {workspace_env.runs_root(CANCER)}; pass a "
                  "run of this competition (see `kit runs`)",
        "copied": f"run 'copied' in {workspace_env.runs_root(CANCER)} was trained for {GALAXY}, not {CANCER}; "
                  f"use it with `kit ... {GALAXY}`",
    }
    for run_id, message in expected.items():
        result = CliRunner().invoke(cli, ["train", CANCER, "--resume", run_id, "--quiet"])
        assert (result.exit_code, result.output) == (1, f"Error: {message}\n"), run_id
    assert sorted(p.name for p in galaxy_run.iterdir()) == sorted(  # the other competition's run untouched
        ["best.keras", "checkpoints", "config.yaml", "history.csv", "learning_curves.png", "metrics.json",
         "val_predictions.csv"])


def test_kit_runs_skips_a_run_with_a_truncated_metrics_or_a_bad_config_and_lists_the_rest(workspace_env):
    root = workspace_env.runs_root(CANCER)
    for name in ("20260101-010000-a", "20260101-020000-b", "20260101-030000-c", "20260101-040000-d"):
        write_fake_run(root / name, ["v0", "v1"], model="kit-resnet", image_size=16)
    metrics = root / "20260101-010000-a" / "metrics.json"
    metrics.write_text(metrics.read_text()[:25])
    (root / "20260101-020000-b" / "config.yaml").write_text("epochs: [1, 2\n")
    (root / "20260101-030000-c" / "config.yaml").write_text("competition: x\nepochs: 0\n")
    result = CliRunner().invoke(cli, ["runs", CANCER])
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "run                model       size  score       epochs  date\n"
        "20260101-040000-d  kit-resnet  16    auc 0.8100  3/4     2026-01-01 04:00\n"
    )
    assert result.stderr == (
        f"Warning: skipped run 20260101-010000-a: {metrics} is unreadable (JSONDecodeError); resume the run with "
        f"`kit train {CANCER} --resume 20260101-010000-a` after deleting it\n"
        f"Warning: skipped run 20260101-020000-b: config file {root / '20260101-020000-b' / 'config.yaml'} line 2 "
        "is not valid YAML (expected ',' or ']', but got '<stream end>'); fix the syntax there\n"
        f"Warning: skipped run 20260101-030000-c: {root / '20260101-030000-c' / 'config.yaml'}: epochs must be from "
        "1 to 100000\n"
    )


def test_metrics_json_is_fsynced_with_its_folder(workspace_env, monkeypatch):
    run = RunFolder(CANCER, "r", workspace_env.runs_root(CANCER) / "r")
    run.path.mkdir(parents=True)
    synced = []
    real_fsync = os.fsync

    def recording(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording)
    run.write_metrics({"metric": "auc", "score": 0.9, "threshold": 0.5, "best_epoch": 1, "epochs_run": 1,
                       "train_seconds": 1.0, "model": "m", "image_size": 8, "folds": 0})
    assert synced[-1] == str(run.path)  # the rename made durable...
    assert re.fullmatch(rf"{re.escape(str(run.path))}/\.metrics\.json\.\w+\.tmp", synced[-2])  # ...after the data


def test_leftovers_of_a_kill_mid_save_are_removed_when_the_run_is_trained_again(workspace_env, tmp_path):
    folder = write_fake_run(tmp_path / "run", ["v0", "v1"], folds=2, finished=False)
    leftovers = [folder / "checkpoints" / ".epoch-0005.k3j2.partial", folder / "fold-1" / "checkpoints" / ".epoch-0005.old",
                 folder / "fold-0" / "checkpoints" / ".epoch-0002.x1.partial"]
    for path in leftovers:
        (path / "model.keras").parent.mkdir(parents=True)
        (path / "model.keras").write_bytes(b"half a model")
    stray_files = [folder / "fold-0" / ".best.keras.a8x.keras", folder / ".history.csv.q1.tmp"]
    for path in stray_files:
        path.write_bytes(b"half")
    kept = [folder / ".gitignore", folder / "fold-0" / "checkpoints" / "epoch-0004" / "model.keras"]
    kept[0].write_text("*\n")
    with RunFolder(CANCER, "run", folder).training():
        pass
    assert not any(p.exists() for p in leftovers + stray_files)
    assert all(p.exists() for p in kept)


def test_a_run_being_trained_cannot_be_trained_by_a_second_process_at_once(workspace_env, tmp_path):
    run = RunFolder(CANCER, "run", tmp_path)
    with run.training():
        with pytest.raises(TrainingError) as error, run.training():
            pass
    assert str(error.value) == (f"run run is being trained by another process ({tmp_path}); wait for it to finish, "
                                "or stop it first")


def test_an_unreadable_model_is_a_clear_error(tmp_path):
    from kaggle_kit.runfolder import load_model

    (tmp_path / "best.keras").write_bytes(b"not a zip")
    with pytest.raises(RunNotFoundError, match=rf"cannot load model {re.escape(str(tmp_path))}/best.keras \(.*\); "
                                               "delete it and train the run again"):
        load_model(tmp_path / "best.keras")


def test_a_new_run_removes_the_leftovers_of_killed_runs_but_not_of_one_being_trained(workspace_env, cancer_raw,
                                                                                     tiny_models):
    root = workspace_env.runs_root(CANCER)
    killed, busy = (write_fake_run(root / name, ["v0", "v1"], finished=False) for name in ("killed", "busy"))
    leftovers = {run: run / "checkpoints" / ".epoch-0005.k3j2.partial" for run in (killed, busy)}
    with RunFolder(CANCER, "busy", busy).training():  # as another process training it would hold it
        for path in leftovers.values():  # "busy"'s is its trainer's checkpoint being written
            path.mkdir()
            (path / "model.keras").write_bytes(b"half a model")
        result = CliRunner().invoke(cli, ["train", CANCER, "--raw-dir", str(cancer_raw), "--model", tiny_models[0],
                                          "--image-size", "16", "--epochs", "1", "--warmup-epochs", "0", "--quiet"])
        assert result.exit_code == 0, result.output
        assert not leftovers[killed].exists()
        assert leftovers[busy].exists()
