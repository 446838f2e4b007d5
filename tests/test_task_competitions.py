"""The five task-kind built-ins, end to end offline: download from the stand-in Kaggle (the real client),
prepare, train, predict, submit in the exact sample format, upload or refuse it, validate."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from _fixtures_tasks import TASK_TEST
from kaggle_kit.cli import cli
from kaggle_kit.competitions import get_competition
from kaggle_kit.competitions.galaxy_tree import CLASS_COLUMNS
from kaggle_kit.competitions.dogs import BREEDS
from kaggle_kit.predict import open_runs, resolve_tta

RAW = {
    "aerial-cactus-identification": "cactus_raw",
    "dog-breed-identification": "dogs_raw",
    "aptos2019-blindness-detection": "aptos_raw",
    "plant-pathology-2020-fgvc7": "plant_raw",
    "galaxy-zoo-the-galaxy-challenge": "galaxy_challenge_raw",
}
HEADERS = {
    "aerial-cactus-identification": ["id", "has_cactus"],
    "dog-breed-identification": ["id", *BREEDS],
    "aptos2019-blindness-detection": ["id_code", "diagnosis"],
    "plant-pathology-2020-fgvc7": ["image_id", "healthy", "multiple_diseases", "rust", "scab"],
    "galaxy-zoo-the-galaxy-challenge": ["GalaxyID", *CLASS_COLUMNS],
}
VALUES = {  # what `kit submit` says it wrote
    "aerial-cactus-identification": "probabilities",
    "dog-breed-identification": "probabilities in 120 columns",
    "aptos2019-blindness-detection": r"grades cut at \d\.\d{3}, \d\.\d{3}, \d\.\d{3}, \d\.\d{3}",
    "plant-pathology-2020-fgvc7": "probabilities in 4 columns",
    "galaxy-zoo-the-galaxy-challenge": "values in 37 columns",
}


def kit(*args):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def served(request, kaggle_home, workspace_env, monkeypatch):
    """The competition's generated download on a stand-in Kaggle that scores uploads with its metric."""
    from kaggle_kit.demo.run import metric_scorer
    from kaggle_kit.standin import StandinKaggle, zip_folder

    slug = request.param
    raw, solution = request.getfixturevalue(RAW[slug])
    with StandinKaggle(scorer=metric_scorer(slug, solution)) as server:
        server.add_competition(slug, zip_folder(raw))
        for name, value in server.client_env().items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        yield slug, server, workspace_env


@pytest.mark.slow
@pytest.mark.parametrize("served", sorted(RAW), indirect=True)
def test_download_train_predict_submit_validate_in_the_real_format(served, task_model):
    slug, server, workspace = served
    competition = get_competition(slug)
    downloaded = kit("download", slug, "--no-progress")
    assert downloaded.exit_code == 0, downloaded.output
    assert not list(competition.raw_dir(workspace).glob("*.zip"))  # inner archives extracted and removed

    trained = kit("train", slug, "--model", task_model, "--image-size", "16", "--epochs", "1", "--warmup-epochs", "0", "--batch-size", "16",
                  "--quiet")
    assert trained.exit_code == 0, trained.output
    run_id = re.match(r"run (\S+): validation ", trained.output).group(1)
    metrics = competition_metrics(workspace, slug, run_id)
    recorded = metrics.get("task", {"kind": "binary"})  # a binary AUC run keeps the metrics it always had
    assert metrics["metric"] == competition.metric and recorded["kind"] == competition.task.kind

    upload = [] if competition.kernels_only else ["--upload", "-m", "kit test"]
    submitted = kit("submit", slug, "--run", run_id, "--no-progress", "--no-report", *upload)
    assert submitted.exit_code == 0, submitted.output
    tta = resolve_tta("auto", open_runs(workspace, slug, [run_id]))  # the default: the views it trained blind to
    path = workspace.submission_dir(slug) / (f"{run_id}.csv" if tta == "none" else f"{run_id}-{tta}.csv")
    views = {"none": "", "flips": ", 4-view TTA", "dihedral": ", 8-view TTA"}[tta]
    assert re.match(rf"Wrote {re.escape(str(path))} \({TASK_TEST} rows, {VALUES[slug]}{views}\)", submitted.output)

    written = pd.read_csv(path, dtype={HEADERS[slug][0]: str})
    sample = pd.read_csv(workspace.labels_dir(slug) / "sample_submission.csv", dtype={HEADERS[slug][0]: str})
    assert list(written.columns) == list(sample.columns) == HEADERS[slug]
    assert list(written.iloc[:, 0]) == list(sample.iloc[:, 0])
    check_values(slug, written.iloc[:, 1:].to_numpy(dtype=np.float64))

    if competition.kernels_only:
        assert not server.submissions
    else:
        assert len(server.submissions) == 1 and "Uploaded" in submitted.output
        public = float(server.submissions[0]["publicScore"])  # the stand-in scored it with the metric
        assert np.isnan(public) or public >= 0

    validated = kit("validate", slug, str(path))
    assert validated.exit_code == 0, validated.output
    assert validated.output == f"OK: {path} matches the sample submission ({TASK_TEST} rows, metric {competition.metric})\n"


def competition_metrics(workspace, slug: str, run_id: str) -> dict:
    from kaggle_kit.runfolder import RunFolder

    return RunFolder.open(workspace, slug, run_id).metrics


def check_values(slug: str, values: np.ndarray) -> None:
    if slug == "aptos2019-blindness-detection":
        assert set(np.unique(values)) <= set(range(5))
    elif slug == "dog-breed-identification":
        assert np.allclose(values.sum(axis=1), 1.0, atol=1e-4)  # softmax rows
    assert np.all((values >= 0) & (values <= 1)) or slug == "aptos2019-blindness-detection"


@pytest.mark.parametrize("served", ["aerial-cactus-identification"], indirect=True)
def test_a_code_competition_refuses_an_api_upload(served, task_model):
    slug, server, workspace = served
    assert kit("download", slug, "--no-progress").exit_code == 0
    trained = kit("train", slug, "--model", task_model, "--image-size", "16", "--epochs", "1", "--warmup-epochs", "0",
                  "--quiet")
    run_id = re.match(r"run (\S+): validation ", trained.output).group(1)
    refused = kit("submit", slug, "--run", run_id, "--upload", "-m", "x", "--no-progress", "--no-report")
    assert refused.exit_code == 1
    assert refused.output == (
        f"Error: {slug} takes submissions only from a Kaggle Notebook (a code competition), not through the API; "
        "run kit there (it writes /kaggle/working/submission.csv), or check the file here with 'kit validate'\n"
    )
    assert not server.submissions and not (workspace.submission_dir(slug) / f"{run_id}.csv").exists()


def test_a_damaged_archive_inside_the_download_is_refused_and_nothing_installed(cactus_raw, workspace_env, kaggle_home,
                                                                                monkeypatch, tmp_path):
    import shutil

    from kaggle_kit.standin import StandinKaggle, zip_folder

    slug = "aerial-cactus-identification"
    damaged = tmp_path / "damaged"
    shutil.copytree(cactus_raw[0], damaged)
    data = (damaged / "train.zip").read_bytes()
    (damaged / "train.zip").write_bytes(data[: len(data) // 2])
    with StandinKaggle() as server:
        server.add_competition(slug, zip_folder(damaged))
        for name, value in server.client_env().items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        result = kit("download", slug, "--no-progress")
    assert result.exit_code == 1
    assert re.fullmatch(rf"Error: archive .+{slug}\.zip: train\.zip is not a complete zip archive \(.+\); the download "
                        r"holds a damaged inner archive: re-run with --force\n", result.output), result.output
    assert not (workspace_env.competition_dir(slug) / "raw").exists()
    assert not (workspace_env.competition_dir(slug) / "download.json").exists()


def test_a_raw_folder_with_its_inner_archives_still_zipped_says_so(cactus_raw, workspace_env):
    result = kit("prepare", "aerial-cactus-identification", "--raw-dir", str(cactus_raw[0]), "--no-progress")
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {cactus_raw[0]} holds train.zip, test.zip but not the extracted train, test; `kit download` extracts "
        "them: run it, or point --raw-dir at an extracted copy\n"
    )
