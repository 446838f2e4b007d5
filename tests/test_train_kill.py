"""A training process killed with SIGKILL mid-run resumes from its last finished epoch."""

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
from click.testing import CliRunner

from kaggle_kit.cli import cli
from kaggle_kit.runfolder import RunFolder, UnitFolder

CANCER = "histopathologic-cancer-detection"
EPOCHS = 12


def wait_for_first_checkpoint(runs_root, process, timeout=240.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "training ended before it could be killed"
        found = sorted(runs_root.glob("*/checkpoints/epoch-*"))
        if found:
            return found[0].parent.parent
        time.sleep(0.05)
    raise AssertionError("no checkpoint written in time")


def test_sigkill_mid_training_then_resume_finishes_the_run(workspace_env, cancer_raw, monkeypatch):
    command = [sys.executable, "-m", "kaggle_kit", "train", CANCER, "--raw-dir", str(cancer_raw),
               "--model", "notebook-cnn", "--image-size", "32", "--epochs", str(EPOCHS), "--batch-size", "8",
               "--patience", "0", "--schedule", "constant", "--quiet"]
    process = subprocess.Popen(command, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        run_dir = wait_for_first_checkpoint(workspace_env.runs_root(CANCER), process)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL
    run = RunFolder.open(workspace_env, CANCER, run_dir.name)
    assert run.metrics is None  # unfinished: metrics.json is written last
    checkpoint = sorted((run_dir / "checkpoints").glob("epoch-*"))[-1]
    saved = json.loads((checkpoint / "state.json").read_text())
    assert 1 <= saved["epochs_done"] < EPOCHS
    assert checkpoint.name == f"epoch-{saved['epochs_done']:04d}"

    saved_epochs = []
    original = UnitFolder.save_checkpoint

    def counting(unit, model, state):
        saved_epochs.append(state["epochs_done"])
        return original(unit, model, state)

    monkeypatch.setattr(UnitFolder, "save_checkpoint", counting)
    result = CliRunner().invoke(cli, ["train", CANCER, "--raw-dir", str(cancer_raw), "--resume", run.run_id, "--quiet"])
    assert result.exit_code == 0, result.output
    assert saved_epochs == list(range(saved["epochs_done"] + 1, EPOCHS + 1))  # only the missing epochs trained
    assert result.output.startswith(f"run {run.run_id}: validation auc ")
    assert run.metrics["epochs_run"] == EPOCHS
    history = pd.read_csv(run_dir / "history.csv")
    assert history["epoch"].tolist() == list(range(1, EPOCHS + 1))
    # The epochs finished before the kill are kept as they were, not trained again.
    before = pd.DataFrame(saved["history"])
    pd.testing.assert_frame_equal(history.iloc[: len(before)][before.columns].reset_index(drop=True), before,
                                  check_dtype=False)
    assert (run_dir / "best.keras").is_file()
