"""Run folders: ids, opening, listing, the latest finished run, `kit runs`, learning curves."""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
import pytest
from click.testing import CliRunner

from _fixtures_runs import write_fake_run
from kaggle_kit.cli import cli
from kaggle_kit.config import TrainConfig
from kaggle_kit.errors import RunNotFoundError
from kaggle_kit.runfolder import RunFolder
from kaggle_kit.runs import latest_run, list_runs

CANCER = "histopathologic-cancer-detection"
NOON = datetime(2026, 11, 22, 12, 0, 5, tzinfo=timezone.utc)


def write_run(workspace, run_id: str, score: float | None, model: str = "kit-resnet", folds: int = 0) -> RunFolder:
    """A finished run folder scoring ``score``; with ``score=None``, one that has only its config (just started)."""
    folder = workspace.runs_root(CANCER) / run_id
    if score is None:
        folder.mkdir(parents=True)
        run = RunFolder(CANCER, run_id, folder)
        run.write_config(TrainConfig(competition=CANCER, model=model, folds=folds))
        return run
    write_fake_run(folder, ["v0", "v1", "v2", "v3"], model=model, image_size=96, folds=folds, threshold=0.41,
                   score=score, best_epoch=7, epochs_run=10, train_seconds=754.4)
    return RunFolder(CANCER, run_id, folder)


def test_run_ids_are_time_and_model_and_never_collide(workspace_env):
    config = TrainConfig(competition=CANCER, model="kit-resnet")
    first = RunFolder.create(workspace_env, CANCER, config, now=NOON)
    second = RunFolder.create(workspace_env, CANCER, config, now=NOON)
    assert (first.run_id, second.run_id) == ("20261122-120005-kit-resnet", "20261122-120005-kit-resnet-2")
    assert first.config == config


def test_open_an_unknown_run_lists_recent_ones(workspace_env):
    write_run(workspace_env, "20261122-010000-kit-resnet", 0.9)
    with pytest.raises(RunNotFoundError) as error:
        RunFolder.open(workspace_env, CANCER, "nope")
    assert str(error.value) == (
        f"no run 'nope' of {CANCER} in {workspace_env.runs_root(CANCER)} (recent: 20261122-010000-kit-resnet); "
        f"see `kit runs {CANCER}`"
    )


def test_latest_run_is_the_newest_finished_one(workspace_env):
    write_run(workspace_env, "20261122-010000-kit-resnet", 0.9)
    write_run(workspace_env, "20261122-020000-kit-resnet", 0.95)
    write_run(workspace_env, "20261122-030000-kit-resnet", None)  # still training
    assert [r.run_id for r in list_runs(workspace_env, CANCER)] == [
        "20261122-010000-kit-resnet", "20261122-020000-kit-resnet", "20261122-030000-kit-resnet"]
    assert latest_run(workspace_env, CANCER).run_id == "20261122-020000-kit-resnet"


def test_no_finished_run_is_a_clear_error(workspace_env):
    with pytest.raises(RunNotFoundError, match=f"no finished run of {CANCER} in .*; run `kit train {CANCER}` first"):
        latest_run(workspace_env, CANCER)


def test_model_paths_of_a_kfold_run_and_of_an_unfinished_one(workspace_env):
    folded = write_run(workspace_env, "20261122-010000-kit-resnet", 0.9, folds=2)
    assert [p.relative_to(folded.path).as_posix() for p in folded.model_paths()] == [
        "fold-0/best.keras", "fold-1/best.keras"]
    unfinished = write_run(workspace_env, "20261122-020000-kit-resnet", None)
    with pytest.raises(RunNotFoundError) as error:
        unfinished.model_paths()
    assert str(error.value) == (
        f"run 20261122-020000-kit-resnet has no best.keras in {unfinished.path}; finish it with "
        f"`kit train {CANCER} --resume 20261122-020000-kit-resnet`"
    )


def test_kit_runs_lists_model_size_score_epochs_and_date(workspace_env):
    write_run(workspace_env, "20261122-010000-notebook-cnn", 0.8123, model="notebook-cnn")
    write_run(workspace_env, "20261122-020000-kit-resnet", None)
    result = CliRunner().invoke(cli, ["runs", CANCER])
    assert result.exit_code == 0, result.output
    assert result.output == (
        "run                           model         size  score       epochs      date\n"
        "20261122-010000-notebook-cnn  notebook-cnn  96    auc 0.8123  7/10        2026-11-22 01:00\n"
        "20261122-020000-kit-resnet    kit-resnet    96    -           unfinished  2026-11-22 02:00\n"
    )


def test_kit_runs_without_runs_says_how_to_start(workspace_env):
    result = CliRunner().invoke(cli, ["runs", CANCER])
    assert result.exit_code == 0
    assert result.output == (
        f"No runs of {CANCER} in {workspace_env.runs_root(CANCER)}; start one with `kit train {CANCER}`\n"
    )


def test_summary_line_of_a_finished_and_an_unfinished_run(workspace_env):
    from kaggle_kit.runs import summary_line

    done = write_run(workspace_env, "20261122-010000-kit-resnet", 0.91234)
    assert summary_line(done) == (
        f"run 20261122-010000-kit-resnet: validation auc 0.9123 (best epoch 7 of 10, threshold 0.410, 12m34s) "
        f"in {done.path}"
    )
    pending = write_run(workspace_env, "20261122-020000-kit-resnet", None)
    assert summary_line(pending) == (
        f"run 20261122-020000-kit-resnet is unfinished; continue it with "
        f"`kit train {CANCER} --resume 20261122-020000-kit-resnet`"
    )


def test_learning_curves_png_has_loss_and_metric_panels(tmp_path):
    from kaggle_kit.figures import run_curves_png

    history = pd.DataFrame({"epoch": [1, 2, 3], "loss": [0.7, 0.5, 0.4], "val_loss": [0.69, 0.6, 0.55],
                            "auc": [0.6, 0.8, 0.9], "val_auc": [0.58, 0.7, 0.8]})
    run = RunFolder(CANCER, "r", tmp_path)
    run.write_learning_curves(run_curves_png(history, ("loss", "auc")))
    path = tmp_path / "learning_curves.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_kit_runs_speaks_json_and_csv(workspace_env):
    import json

    write_run(workspace_env, "20261122-010000-notebook-cnn", 0.8123, model="notebook-cnn")
    write_run(workspace_env, "20261122-020000-kit-resnet", None)
    result = CliRunner().invoke(cli, ["runs", CANCER, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [
        {"run_id": "20261122-010000-notebook-cnn", "model": "notebook-cnn", "image_size": 96, "metric": "auc",
         "score": 0.8123, "best_epoch": 7, "epochs_run": 10, "finished": True, "date": "2026-11-22 01:00"},
        {"run_id": "20261122-020000-kit-resnet", "model": "kit-resnet", "image_size": 96, "metric": None,
         "score": None, "best_epoch": None, "epochs_run": None, "finished": False, "date": "2026-11-22 02:00"},
    ]
    assert CliRunner().invoke(cli, ["runs", CANCER, "--format", "csv"]).output == (
        "run_id,model,image_size,metric,score,best_epoch,epochs_run,finished,date\n"
        "20261122-010000-notebook-cnn,notebook-cnn,96,auc,0.8123,7,10,True,2026-11-22 01:00\n"
        "20261122-020000-kit-resnet,kit-resnet,96,,,,,False,2026-11-22 02:00\n"
    )
    assert CliRunner().invoke(cli, ["runs", "galaxy-zoo-2", "--format", "json"]).output == "[]\n"
