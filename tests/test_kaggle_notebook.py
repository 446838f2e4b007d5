"""Inside a Kaggle Notebook: read-only /kaggle/input used in place, everything written under
/kaggle/working, and the submission where a code competition scores it."""

import os
import stat

import pandas as pd
import pytest
from click.testing import CliRunner

from kaggle_kit.cli import cli
from kaggle_kit.competitions import get_competition
from kaggle_kit.demo.generators import write_cancer_competition
from kaggle_kit.paths import Workspace
from kaggle_kit.runs import list_runs

CANCER = "histopathologic-cancer-detection"


def snapshot(root):
    """Every path under root with its size and modification time."""
    return {
        str(path.relative_to(root)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(root.rglob("*"))
    }


def make_read_only(root):
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


@pytest.fixture
def kaggle_notebook(tmp_path, monkeypatch):
    """A fake /kaggle/input (read-only) and /kaggle/working, announced the way the code honours."""
    for name in ("KIT_DATA_DIR", "KIT_RUNS_DIR", "KIT_SUBMISSIONS_DIR"):
        monkeypatch.delenv(name, raising=False)
    mount, working = tmp_path / "input", tmp_path / "working"
    write_cancer_competition(mount / CANCER, n_train=32, n_test=8, seed=3)
    working.mkdir()
    make_read_only(mount)
    monkeypatch.setenv("KIT_KAGGLE_INPUT", str(mount))
    monkeypatch.setenv("KIT_KAGGLE_WORKING", str(working))
    monkeypatch.chdir(tmp_path)
    yield mount, working
    for path in [mount, *mount.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)


def test_workspace_uses_the_mount_and_writes_under_working(kaggle_notebook):
    mount, working = kaggle_notebook
    workspace = Workspace.resolve()
    assert workspace.data_dir == working / "data"
    assert workspace.runs_dir == working / "runs"
    assert workspace.submissions_dir == working / "submissions"
    assert get_competition(CANCER).raw_dir(workspace) == mount / CANCER


def test_a_dataset_is_found_under_its_own_mount_name(kaggle_notebook):
    mount, _ = kaggle_notebook
    (mount).chmod(0o755)
    (mount / "galaxy-zoo-2-images").mkdir()
    galaxy = get_competition("galaxy-zoo-2")
    assert galaxy.raw_dir(Workspace.resolve()) == mount / "galaxy-zoo-2-images"
    assert galaxy.raw_is_external(Workspace.resolve())


@pytest.mark.parametrize("layout", ["competitions/{slug}", "datasets/jaimetrickz/{slug}"])
def test_a_mount_one_or_two_folders_down_is_found_by_looking(tmp_path, monkeypatch, layout):
    # Kaggle Notebooks also mount competition data at /kaggle/input/competitions/<slug> (kaggle-cli#1140).
    mount = tmp_path / "input"
    for slug in (CANCER, "galaxy-zoo-2-images"):
        (mount / layout.format(slug=slug)).mkdir(parents=True)
    monkeypatch.setenv("KIT_KAGGLE_INPUT", str(mount))
    monkeypatch.setenv("KIT_KAGGLE_WORKING", str(tmp_path / "working"))
    workspace = Workspace.resolve()
    assert get_competition(CANCER).raw_dir(workspace) == mount / layout.format(slug=CANCER)
    assert get_competition("galaxy-zoo-2").raw_dir(workspace) == mount / layout.format(slug="galaxy-zoo-2-images")
    assert get_competition(CANCER).raw_is_external(workspace)


def test_the_shallowest_mount_wins(tmp_path, monkeypatch):
    mount = tmp_path / "input"
    (mount / "competitions" / CANCER).mkdir(parents=True)
    (mount / CANCER).mkdir()
    monkeypatch.setenv("KIT_KAGGLE_INPUT", str(mount))
    assert get_competition(CANCER).raw_dir(Workspace.resolve()) == mount / CANCER


def test_download_leaves_the_mount_alone(kaggle_notebook):
    mount, _ = kaggle_notebook
    result = CliRunner().invoke(cli, ["download", CANCER])
    assert result.exit_code == 0, result.output
    assert result.output == f"{CANCER}: the raw files are used in place from {mount / CANCER}; nothing to download\n"


@pytest.mark.slow
def test_prepare_train_submit_never_write_into_the_mount(kaggle_notebook):
    mount, working = kaggle_notebook
    before = snapshot(mount)
    runner = CliRunner()
    train = runner.invoke(cli, ["train", CANCER, "--recipe", "notebook", "--image-size", "32", "--epochs", "1",
                                "--batch-size", "8", "--quiet"])
    assert train.exit_code == 0, train.output
    (run,) = list_runs(Workspace.resolve(), CANCER)
    submit = runner.invoke(cli, ["submit", CANCER, "--run", run.run_id, "--no-progress", "--upload", "-m", "nb"])
    assert submit.exit_code == 0, submit.output
    notebook_file = working / "submission.csv"
    assert submit.output.splitlines()[1] == (
        f"Wrote {notebook_file}: the file Kaggle scores for this notebook (nothing uploaded from here)"
    )
    sample = pd.read_csv(mount / CANCER / "sample_submission.csv", dtype={"id": str})
    written = pd.read_csv(notebook_file, dtype={"id": str})
    assert list(written.columns) == list(sample.columns)
    assert written["id"].tolist() == sample["id"].tolist()
    assert written["label"].between(0, 1).all()
    assert (working / "submissions" / CANCER / f"{run.run_id}.csv").read_text() == notebook_file.read_text()
    assert snapshot(mount) == before
    assert not any(os.access(p, os.W_OK) and p.stat().st_mode & stat.S_IWUSR for p in mount.rglob("*"))
