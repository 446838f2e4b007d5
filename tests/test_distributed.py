"""kit train --strategy mirrored|multiworker: real tf.distribute runs in subprocesses, and the helpers.

The strategies need a fresh TensorFlow per process (logical devices and the
multi-worker cluster are fixed when TF initialises), so the two training tests
start ``kit`` in subprocesses on CPU.
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kaggle_kit.runs import closing_line
from kaggle_kit.training.distributed import shard_rows
from kaggle_kit.training.scoring import histogram_auc

CANCER = "histopathologic-cancer-detection"
PER_REPLICA_BATCH = 8
# A tiny run: the notebook CNN at its smallest input size, two epochs.
TINY_TRAINING = ["--model", "notebook-cnn", "--image-size", "32", "--epochs", "2",
                 "--batch-size", str(PER_REPLICA_BATCH), "--quiet"]
TIMEOUT = 300  # seconds per subprocess; a hung collective fails the test instead of hanging it
TWO_LOGICAL_CPUS = """
import sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from kaggle_kit.cli import cli
cli(sys.argv[1:], prog_name="kit")
"""


def kit_env(root: Path, **extra: str) -> dict[str, str]:
    """This environment with the workspace under ``root``, CPU only, quiet TensorFlow."""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CONFIG", "KIT_KAGGLE_INPUT", "KIT_KAGGLE_WORKING")}
    (root / "tmp").mkdir(exist_ok=True)
    env.update(KIT_DATA_DIR=str(root / "data"), KIT_RUNS_DIR=str(root / "runs"), TMPDIR=str(root / "tmp"),
               CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="3", **extra)
    return env


def only_run_folder(root: Path) -> Path:
    (run_dir,) = (root / "runs" / CANCER).iterdir()
    return run_dir


def assert_loadable_run(run_dir: Path, replicas: int) -> dict:
    import keras

    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["replicas"] == replicas
    assert metrics["batch_size_per_replica"] == PER_REPLICA_BATCH
    assert metrics["global_batch_size"] == PER_REPLICA_BATCH * replicas
    assert metrics["epochs_run"] == 2 and 0.0 <= metrics["score"] <= 1.0
    assert list(pd.read_csv(run_dir / "history.csv")["epoch"]) == [1, 2]
    model = keras.saving.load_model(run_dir / "best.keras")
    assert model.predict(np.zeros((2, 32, 32, 3), np.float32), verbose=0).shape == (2, 1)
    return metrics


def free_loopback_ports(count: int) -> list[int]:
    """Ports the kernel hands out now; all sockets are held open together so the ports differ."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def tf_config(ports: list[int], index: int) -> str:
    workers = [f"127.0.0.1:{port}" for port in ports]
    return json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})


def start_workers(root: Path, args: list[str]) -> list[tuple[int, str, str]]:
    """Run ``kit train ARGS`` as worker 0 and worker 1 of a loopback cluster; (exit code, out, err) each."""
    ports = free_loopback_ports(2)
    workers = [
        subprocess.Popen([sys.executable, "-m", "kaggle_kit", "train", *args], env=kit_env(root, TF_CONFIG=tf_config(ports, i)),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(2)
    ]
    try:
        outputs = [worker.communicate(timeout=TIMEOUT) for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
    return [(worker.returncode, out, err) for worker, (out, err) in zip(workers, outputs)]


def run_two_workers(root: Path, args: list[str]) -> list[tuple[int, str, str]]:
    """``start_workers``, once more on new ports if another process took one in between."""
    results = start_workers(root, args)
    if any(code != 0 and "address already in use" in err.lower() for code, _, err in results):
        results = start_workers(root, args)
    return results


# --- helpers ------------------------------------------------------------------------------------
def test_shards_cover_every_row_and_have_equal_lengths():
    rows, labels = np.arange(100, 111), np.arange(11) % 2
    shards = [shard_rows(rows, labels, 3, i) for i in range(3)]
    assert {len(r) for r, _ in shards} == {4}
    assert set(np.concatenate([r for r, _ in shards])) == set(rows)
    for shard, shard_labels in shards:
        assert list(shard_labels) == [labels[list(rows).index(r)] for r in shard]


def test_histogram_auc_matches_the_exact_auc_when_bins_separate_the_scores():
    from sklearn.metrics import roc_auc_score

    probs = np.array([0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95])
    labels = np.array([0, 1, 0, 0, 1, 1, 1])
    bins = np.minimum((probs * 200).astype(int), 199)
    positives = np.bincount(bins[labels == 1], minlength=200)
    negatives = np.bincount(bins[labels == 0], minlength=200)
    assert histogram_auc(positives, negatives) == pytest.approx(roc_auc_score(labels, probs))
    assert np.isnan(histogram_auc(positives, np.zeros(200)))


def test_a_worker_without_the_chiefs_run_folder_ends_with_where_the_run_is(tmp_path):
    from kaggle_kit.runfolder import RunFolder

    line = closing_line(RunFolder(CANCER, "20260101-000000-notebook-cnn", tmp_path / "elsewhere"))
    assert line == ("run 20260101-000000-notebook-cnn: this worker's share is done; "
                    "the chief worker (TF_CONFIG index 0) wrote the run folder")


# --- real runs ----------------------------------------------------------------------------------
def test_mirrored_over_two_logical_cpus_trains_with_a_doubled_global_batch(tmp_path, cancer_raw):
    result = subprocess.run(
        [sys.executable, "-c", TWO_LOGICAL_CPUS, "train", CANCER, "--raw-dir", str(cancer_raw), *TINY_TRAINING,
         "--strategy", "mirrored"],
        env=kit_env(tmp_path), capture_output=True, text=True, timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = only_run_folder(tmp_path)
    assert result.stdout.startswith(f"run {run_dir.name}: validation auc ")
    assert_loadable_run(run_dir, replicas=2)


def test_two_workers_on_loopback_train_one_run_folder_written_by_the_chief_and_resume_it(tmp_path, cancer_raw):
    # Phase 1 trains one epoch; extending the saved config to two epochs and removing metrics.json
    # leaves the folder exactly as a run killed after its first epoch, which phase 2 resumes.
    first = run_two_workers(tmp_path, [CANCER, "--raw-dir", str(cancer_raw), *TINY_TRAINING, "--epochs", "1",
                                       "--warmup-epochs", "0", "--strategy", "multiworker"])
    for index, (code, _, err) in enumerate(first):
        assert code == 0, f"worker {index}: {err[-3000:]}"
    run_dir = only_run_folder(tmp_path)
    summary = re.escape(f"run {run_dir.name}: validation auc ")
    assert all(re.match(summary, out) for _, out, _ in first), [out for _, out, _ in first]
    assert not list((tmp_path / "tmp").iterdir())  # the other worker's scratch folder is gone
    epoch_one = pd.read_csv(run_dir / "history.csv")
    config = run_dir / "config.yaml"
    config.write_text(config.read_text().replace("\nepochs: 1\n", "\nepochs: 2\n"))
    (run_dir / "metrics.json").unlink()

    second = run_two_workers(tmp_path, [CANCER, "--resume", run_dir.name, "--quiet"])
    for index, (code, _, err) in enumerate(second):
        assert code == 0, f"worker {index}: {err[-3000:]}"
    assert only_run_folder(tmp_path) == run_dir
    metrics = assert_loadable_run(run_dir, replicas=2)
    assert metrics["n_train"] + metrics["n_val"] == 48
    pd.testing.assert_frame_equal(pd.read_csv(run_dir / "history.csv").iloc[:1], epoch_one)  # epoch 1 kept
    from kaggle_kit.runfolder import load_model

    # The optimizer continued from the checkpoint: its step count covers both epochs.
    steps_per_epoch = math.ceil(math.ceil(metrics["n_train"] / 2) / PER_REPLICA_BATCH)  # each worker's shard
    checkpoint = load_model(run_dir / "checkpoints" / "epoch-0002" / "model.keras", with_optimizer=True)
    assert int(checkpoint.optimizer.iterations.numpy()) == 2 * steps_per_epoch
