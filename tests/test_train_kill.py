"""A training process killed with SIGKILL mid-run resumes from its last finished epoch.

The child blocks right after saving its first epoch's checkpoint and says so
(as the prepare kill test's child does mid-decode), so the kill always lands at
the same point: one finished epoch on disk, the second never started.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from kaggle_kit.cli import cli
from kaggle_kit.runfolder import RunFolder, UnitFolder

CANCER = "histopathologic-cancer-detection"
EPOCHS = 3
CHILD = """
import sys, time
from pathlib import Path
from kaggle_kit.cli import cli
from kaggle_kit.runfolder import UnitFolder

marker = Path(sys.argv[1])
original = UnitFolder.save_checkpoint
def save_then_block(unit, model, state):
    saved = original(unit, model, state)
    marker.write_text(str(saved))  # the first epoch is on disk: the parent kills us now
    time.sleep(600)
UnitFolder.save_checkpoint = save_then_block
cli(sys.argv[2:], prog_name="kit")
"""


def wait_for(marker: Path, process, timeout=240.0) -> Path:
    deadline = time.monotonic() + timeout
    while not (marker.exists() and marker.read_text()):
        assert process.poll() is None, process.stderr.read().decode()[-3000:]
        assert time.monotonic() < deadline, "no checkpoint written in time"
        time.sleep(0.05)
    return Path(marker.read_text())


def test_sigkill_mid_training_then_resume_finishes_the_run(workspace_env, cancer_raw, tmp_path, monkeypatch):
    marker = tmp_path / "first-epoch.saved"
    command = [sys.executable, "-c", CHILD, str(marker), "train", CANCER, "--raw-dir", str(cancer_raw),
               "--model", "notebook-cnn", "--image-size", "32", "--epochs", str(EPOCHS), "--batch-size", "8",
               "--patience", "0", "--schedule", "constant", "--quiet"]
    process = subprocess.Popen(command, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        checkpoint = wait_for(marker, process)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL
    run_dir = checkpoint.parent.parent
    run = RunFolder.open(workspace_env, CANCER, run_dir.name)
    assert run.metrics is None  # unfinished: metrics.json is written last
    assert [p.name for p in (run_dir / "checkpoints").iterdir()] == ["epoch-0001"]
    saved = json.loads((checkpoint / "state.json").read_text())
    assert saved["epochs_done"] == 1

    saved_epochs = []
    original = UnitFolder.save_checkpoint

    def counting(unit, model, state):
        saved_epochs.append(state["epochs_done"])
        return original(unit, model, state)

    monkeypatch.setattr(UnitFolder, "save_checkpoint", counting)
    result = CliRunner().invoke(cli, ["train", CANCER, "--raw-dir", str(cancer_raw), "--resume", run.run_id, "--quiet"])
    assert result.exit_code == 0, result.output
    assert saved_epochs == [2, 3]  # only the missing epochs trained
    assert result.output.startswith(f"run {run.run_id}: validation auc ")
    assert run.metrics["epochs_run"] == EPOCHS
    history = pd.read_csv(run_dir / "history.csv")
    assert history["epoch"].tolist() == [1, 2, 3]
    # The epoch finished before the kill is kept as it was, not trained again.
    before = pd.DataFrame(saved["history"])
    pd.testing.assert_frame_equal(history.iloc[:1][before.columns].reset_index(drop=True), before, check_dtype=False)
    assert (run_dir / "best.keras").is_file()
