"""kit submit: the exact sample_submission format, validation before any write or upload,
overwrite protection, local scoring, and uploads through the stand-in Kaggle server."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from _fixtures_predict import CANCER, GALAXY, make_run
from kaggle_kit.cli import cli
from kaggle_kit.competitions import get_competition
from kaggle_kit.errors import SubmissionError
from kaggle_kit.predict import predictions_path
from kaggle_kit.submit import submit


def sample_of(workspace, slug) -> pd.DataFrame:
    return pd.read_csv(workspace.labels_dir(slug) / "sample_submission.csv", dtype=str)


def write_predictions(workspace, slug, run_id, probs, ids=None) -> pd.DataFrame:
    """Predictions written by hand after the run's models, so submit uses them as they are."""
    ids = sample_of(workspace, slug)["id"].tolist() if ids is None else ids
    frame = pd.DataFrame({"id": ids, "prob": probs})
    frame.to_csv(predictions_path(workspace, slug, [run_id]), index=False)
    return frame


def invoke(*args):
    return CliRunner().invoke(cli, ["submit", *args, "--no-progress", "--no-report"])


@pytest.fixture
def cancer_run(cancer_prepared):
    make_run(cancer_prepared, CANCER, "run-1")
    return cancer_prepared


@pytest.fixture
def galaxy_run(galaxy_prepared):
    make_run(galaxy_prepared, GALAXY, "gal-1", threshold=0.6)
    return galaxy_prepared


def test_auc_submission_copies_the_sample_format_with_probabilities(cancer_run):
    result = invoke(CANCER, "--run", "run-1")
    assert result.exit_code == 0, result.output
    path = cancer_run.submission_dir(CANCER) / "run-1.csv"
    assert result.output == (
        f"Wrote {path} (8 rows, probabilities)\n"
        "Not uploaded; add --upload -m MESSAGE to send it to Kaggle\n"
    )
    written = pd.read_csv(path, dtype={"id": str})
    sample = sample_of(cancer_run, CANCER)
    assert written.columns.tolist() == sample.columns.tolist()
    assert written["id"].tolist() == sample["id"].tolist()
    predicted = pd.read_csv(predictions_path(cancer_run, CANCER, ["run-1"]), dtype={"id": str})
    np.testing.assert_allclose(written["label"], predicted["prob"])  # predict ran first, the file is its output


def test_accuracy_submission_thresholds_at_the_validation_threshold_and_is_scored_locally(galaxy_run):
    truth = pd.read_csv(galaxy_run.labels_dir(GALAXY) / "test_labels.csv", dtype={"id": str})["label"].tolist()
    assert truth.count(0) >= 2 and truth.count(1) >= 2
    # Right everywhere except one positive just under the 0.6 threshold and one negative exactly on it.
    probs = [0.9 if label else 0.2 for label in truth]
    probs[truth.index(1)], probs[truth.index(0)] = 0.59, 0.6
    write_predictions(galaxy_run, GALAXY, "gal-1", probs)
    result = invoke(GALAXY, "--run", "gal-1", "--upload")
    assert result.exit_code == 0, result.output

    path = galaxy_run.submission_dir(GALAXY) / "gal-1.csv"
    ids = sample_of(galaxy_run, GALAXY)["id"].tolist()
    labels = [int(p >= 0.6) for p in probs]
    assert pd.read_csv(path, dtype={"id": str}).to_dict("list") == {"id": ids, "label": labels}
    assert pd.read_csv(path.with_name("gal-1.probabilities.csv"))["prob"].tolist() == probs
    board_path = galaxy_run.submission_dir(GALAXY) / "leaderboard.csv"
    board = pd.read_csv(board_path, dtype=str)
    n = len(truth)
    accuracy = (n - 2) / n  # the two near-threshold mistakes
    assert board[["run", "score", "model", "image_size", "tta", "file"]].values.tolist() == [
        ["gal-1", str(accuracy), "notebook-cnn", "8", "none", "gal-1.csv"]]
    positives, negatives = truth.count(1), truth.count(0)
    auc = 1 - 1 / (positives * negatives)  # one misordered pair: 0.59 (positive) below 0.6 (negative)
    assert result.output.splitlines() == [
        f"Wrote {path} ({n} rows, 0/1 labels at threshold 0.6000 (accuracy rule))",
        "galaxy-zoo-2 is scored locally (no Kaggle leaderboard): nothing uploaded",
        f"Local score on {n} test images: accuracy {accuracy:.4f}, AUC {auc:.4f} (metric: accuracy)",
        "                 pred elliptical  pred spiral",
        f"true elliptical  {negatives - 1:>15}  {1:>11}",
        f"true spiral      {1:>15}  {positives - 1:>11}",
        f"Rank 1 of 1 on {board_path}",
        "   rank  score   accuracy  auc     run    model         size  tta   time",
        f"*  1     {accuracy:.4f}  {accuracy:.4f}    {auc:.4f}  gal-1  notebook-cnn  8     none  {board.loc[0, 'time']}",
    ]


def test_nan_predictions_never_produce_a_file(cancer_run):
    write_predictions(cancer_run, CANCER, "run-1", [0.1, np.nan, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])
    result = invoke(CANCER, "--run", "run-1")
    assert result.exit_code == 1
    assert result.output == (
        "Error: the test predictions failed validation: line 3: NaN in column label; nothing was written: "
        "re-run 'kit predict' and check the run's history.csv for a NaN loss\n"
    )
    assert not (cancer_run.submission_dir(CANCER) / "run-1.csv").exists()


def test_predictions_of_the_wrong_length_never_produce_a_file(cancer_run):
    ids = sample_of(cancer_run, CANCER)["id"].tolist()[:-1]
    write_predictions(cancer_run, CANCER, "run-1", [0.5] * 7, ids=ids)
    with pytest.raises(SubmissionError) as error:
        submit(get_competition(CANCER), cancer_run, ["run-1"], progress=False)
    assert str(error.value) == (
        "the test predictions hold 7 rows for 8 sample submission ids (or other ids); nothing was written: "
        "re-run 'kit prepare' then 'kit predict'"
    )
    assert not cancer_run.submission_dir(CANCER).exists()


def test_an_existing_submission_is_never_overwritten_without_overwrite(cancer_run):
    path = cancer_run.submission_dir(CANCER) / "run-1.csv"
    write_predictions(cancer_run, CANCER, "run-1", [0.5] * 8)
    assert invoke(CANCER, "--run", "run-1").exit_code == 0
    before = path.read_bytes()

    again = invoke(CANCER, "--run", "run-1")  # the same content: nothing to overwrite
    assert again.exit_code == 0
    assert again.output.splitlines()[0] == f"Unchanged {path} (8 rows, probabilities)"

    write_predictions(cancer_run, CANCER, "run-1", [0.25] * 8)
    refused = invoke(CANCER, "--run", "run-1")
    assert refused.exit_code == 1
    assert refused.output == (
        f"Error: {path} already exists; pass --overwrite to replace it, or --output to write elsewhere\n"
    )
    assert path.read_bytes() == before

    replaced = invoke(CANCER, "--run", "run-1", "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    assert pd.read_csv(path)["label"].tolist() == [0.25] * 8
    assert sorted(p.name for p in path.parent.iterdir()) == ["run-1.csv"]  # no temporary files left


def test_output_option_and_tta_name(cancer_run, tmp_path):
    target = tmp_path / "elsewhere" / "mine.csv"
    result = invoke(CANCER, "--run", "run-1", "--tta", "flips", "--output", str(target))
    assert result.exit_code == 0, result.output
    assert target.is_file()
    assert predictions_path(cancer_run, CANCER, ["run-1"], "flips").is_file()
    assert not cancer_run.submission_dir(CANCER).exists()


def test_submit_writes_a_missing_run_report_and_says_where(cancer_run, monkeypatch):
    import kaggle_kit.report

    written = []

    def fake_report(run, workspace):
        written.append(run.run_id)
        return run.path / "report.html"

    monkeypatch.setattr(kaggle_kit.report, "try_write_report", fake_report)
    result = CliRunner().invoke(cli, ["submit", CANCER, "--run", "run-1", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert written == ["run-1"]
    assert result.output.splitlines()[-1] == f"Report: {cancer_run.runs_root(CANCER) / 'run-1' / 'report.html'}"


# --- uploads through the stand-in Kaggle server and the real client --------------------------------


def test_upload_sends_the_validated_file_and_reports_what_is_left(cancer_run, standin):
    write_predictions(cancer_run, CANCER, "run-1", [0.5] * 8)
    result = invoke(CANCER, "--run", "run-1", "--upload", "-m", "first try")
    assert result.exit_code == 0, result.output
    path = cancer_run.submission_dir(CANCER) / "run-1.csv"
    assert result.output == (
        f"Wrote {path} (8 rows, probabilities)\n"
        f"Uploaded run-1.csv to {CANCER} (submission 1000): Successfully submitted to {CANCER}\n"
        "Submissions left today: 4\n"
    )
    assert standin.submissions[0]["content"] == path.read_bytes()


def test_a_failed_upload_put_exits_non_zero(cancer_run, standin):
    write_predictions(cancer_run, CANCER, "run-1", [0.5] * 8)
    standin.fail("upload", 500)
    result = invoke(CANCER, "--run", "run-1", "--upload", "-m", "m")
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == (
        f"Error: the upload of run-1.csv to competition '{CANCER}' failed (Kaggle's storage refused the file), "
        "so nothing was submitted: re-run the upload"
    )
    assert standin.submissions == []


@pytest.mark.parametrize("status, expected", [
    (403, f"Error: Kaggle refused the submission of competition '{CANCER}' (HTTP 403: Permission denied): accept the "
          f"competition's rules at https://www.kaggle.com/c/{CANCER}/rules, then re-run"),
    (404, f"Error: competition '{CANCER}' not found on Kaggle (HTTP 404) during the submission of competition "
          f"'{CANCER}': check the slug (it is the last part of the competition's URL)"),
])
def test_refused_uploads_exit_non_zero_with_the_fix(cancer_run, standin, status, expected):
    write_predictions(cancer_run, CANCER, "run-1", [0.5] * 8)
    standin.fail("StartSubmissionUpload", status)
    result = invoke(CANCER, "--run", "run-1", "--upload", "-m", "m")
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == expected
    assert standin.submissions == []


def test_an_invalid_file_is_never_uploaded(cancer_run, standin):
    from kaggle_kit.submit import upload_file

    path = cancer_run.submission_dir(CANCER) / "hand.csv"
    path.parent.mkdir(parents=True)
    path.write_text("id,label\nx,0.5\n")
    with pytest.raises(SubmissionError, match=r"hand.csv failed validation: line 2: id x is not in the sample"):
        upload_file(get_competition(CANCER), path, sample_of(cancer_run, CANCER), "m")
    assert standin.requests == []


def test_a_custom_auc_competition_is_scored_locally_with_probabilities(workspace_env, custom_auc_prepared):
    from sklearn.metrics import roc_auc_score

    make_run(workspace_env, "mine", "c-1", threshold=0.3)
    truth = pd.read_csv(workspace_env.labels_dir("mine") / "test_labels.csv", dtype={"id": str})
    probs = np.linspace(0.05, 0.95, len(truth)).round(4)
    write_predictions(workspace_env, "mine", "c-1", probs)
    result = invoke(str(custom_auc_prepared), "--run", "c-1")
    assert result.exit_code == 0, result.output
    written = pd.read_csv(workspace_env.submission_dir("mine") / "c-1.csv", dtype={"id": str})
    assert written["label"].tolist() == probs.tolist()  # probabilities, not labels, for AUC
    board = pd.read_csv(workspace_env.submission_dir("mine") / "leaderboard.csv")
    assert board["metric"].tolist() == ["auc"]
    assert board["score"].iloc[0] == pytest.approx(roc_auc_score(truth["label"], probs))
    assert board["accuracy"].iloc[0] == pytest.approx(((probs >= 0.3).astype(int) == truth["label"]).mean())


# --- every file a submit writes is checked; writes that fail are one line ---------------------------


@pytest.mark.parametrize("second_submit", ["unchanged", "other values"])
def test_a_users_file_beside_the_output_is_never_overwritten(galaxy_run, tmp_path, second_submit):
    target = tmp_path / "mine.csv"
    theirs = tmp_path / "mine.probabilities.csv"
    first = invoke(GALAXY, "--run", "gal-1", "--output", str(target))
    assert first.exit_code == 0, first.output
    theirs.write_text("my own notes\n")  # the user's file, with the name kit keeps probabilities under
    if second_submit == "other values":
        target.unlink()
        write_predictions(galaxy_run, GALAXY, "gal-1", np.linspace(0.95, 0.05, len(sample_of(galaxy_run, GALAXY))))
    again = invoke(GALAXY, "--run", "gal-1", "--output", str(target))
    assert again.exit_code == 1
    assert again.output == (
        f"Error: {theirs} already exists; pass --overwrite to replace it, or --output to write elsewhere\n"
    )
    assert theirs.read_text() == "my own notes\n"
    assert target.exists() == (second_submit == "unchanged")  # nothing written when any file is refused


@pytest.fixture
def read_only_disk(tmp_path):
    """A read-only tmpfs (mounting needs root: skipped otherwise); root cannot write there either."""
    import subprocess

    mount = tmp_path / "read-only"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("mounting a tmpfs needs root")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_submissions_folder_is_one_line(cancer_run, small_disk):
    write_predictions(cancer_run, CANCER, "run-1", [0.5] * 8)
    with open(small_disk / "filler", "wb", buffering=0) as filler:  # fill the disk to the last byte
        with pytest.raises(OSError):
            while True:
                filler.write(b"x" * 4096)
    result = CliRunner().invoke(cli, ["submit", CANCER, "--run", "run-1", "--no-progress", "--no-report",
                                      "--submissions-dir", str(small_disk)])
    path = small_disk / CANCER / "run-1.csv"
    assert result.exit_code == 1
    assert result.output == f"Error: cannot write {path}: no space left on the device; free some space, or write elsewhere\n"
    assert sorted(p.name for p in path.parent.iterdir()) == []


def test_a_read_only_submissions_folder_is_one_line(cancer_run, read_only_disk):
    write_predictions(cancer_run, CANCER, "run-1", [0.5] * 8)
    target = read_only_disk / "sub.csv"
    result = invoke(CANCER, "--run", "run-1", "--output", str(target))
    assert result.exit_code == 1
    assert result.output == f"Error: cannot write {target}: the file system is read-only; write elsewhere\n"


@pytest.mark.parametrize("case", ["parent is a file", "output is not UTF-8", "name too long"])
def test_bad_output_paths_are_one_line(cancer_run, tmp_path, case):
    write_predictions(cancer_run, CANCER, "run-1", [0.5] * 8)
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file")
    target = {"parent is a file": blocker / "sub.csv", "output is not UTF-8": tmp_path / "latin.csv",
              "name too long": tmp_path / ("s" * 300 + ".csv")}[case]
    if case == "output is not UTF-8":
        target.write_bytes("caf\xe9\n".encode("latin-1"))
    result = invoke(CANCER, "--run", "run-1", "--output", str(target))
    assert result.exit_code == 1
    assert result.output == {
        "parent is a file": f"Error: cannot write {target}: a file is in the way where a folder should be; "
                            "move that file, or write elsewhere\n",
        "output is not UTF-8": f"Error: {target} already exists; pass --overwrite to replace it, "
                               "or --output to write elsewhere\n",
        "name too long": f"Error: cannot write {target}: the name is too long for the file system; use a shorter name\n",
    }[case]
    assert blocker.read_text() == "a file"


def test_an_output_that_is_a_folder_is_refused(cancer_run, tmp_path):
    write_predictions(cancer_run, CANCER, "run-1", [0.5] * 8)
    with pytest.raises(SubmissionError) as error:
        submit(get_competition(CANCER), cancer_run, ["run-1"], output=tmp_path, overwrite=True, progress=False)
    assert str(error.value) == f"{tmp_path} is a folder; pass --output with a file name"


def set_metrics(workspace, slug, run_id, **values):
    import json

    path = workspace.runs_root(slug) / run_id / "metrics.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **values}))


def test_without_run_the_best_finished_run_is_used_and_named(cancer_prepared):
    for run_id, score in (("20260101-000000-a", 0.85), ("20260102-000000-b", 0.91), ("20260103-000000-c", 0.88)):
        make_run(cancer_prepared, CANCER, run_id)
        set_metrics(cancer_prepared, CANCER, run_id, score=score)
    result = invoke(CANCER)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:2] == [
        "Using run 20260102-000000-b: the best validation auc (0.9100) of 3 finished runs; pass --run RUN to choose another",
        f"Wrote {cancer_prepared.submission_dir(CANCER) / '20260102-000000-b.csv'} (8 rows, probabilities)",
    ]


def test_without_any_finished_run_submit_says_to_train_first(cancer_prepared):
    result = invoke(CANCER)
    assert result.exit_code == 1
    assert result.output == (f"Error: no finished run of {CANCER} in {cancer_prepared.runs_root(CANCER)}; "
                             f"run `kit train {CANCER}` first\n")


def write_imbalanced_validation(workspace, slug, run_id) -> None:
    """20 validation rows, 4 positives: accuracy peaks at 0.45 (one positive missed), balanced
    accuracy at 0.2 (every positive found, three negatives wrong)."""
    probs = [0.1] * 13 + [0.4] * 3 + [0.3, 0.5, 0.8, 0.9]
    labels = [0] * 16 + [1] * 4
    frame = pd.DataFrame({"id": [f"v{i}" for i in range(20)], "label": labels, "prob": probs})
    frame.to_csv(workspace.runs_root(slug) / run_id / "val_predictions.csv", index=False)


def test_the_balanced_threshold_rule_cuts_where_balanced_accuracy_peaks_on_validation(galaxy_run):
    from kaggle_kit.metrics.thresholds import binary_threshold

    write_imbalanced_validation(galaxy_run, GALAXY, "gal-1")
    validation = pd.read_csv(galaxy_run.runs_root(GALAXY) / "gal-1" / "val_predictions.csv")
    assert binary_threshold(validation["label"], validation["prob"], "accuracy") == (0.45, 0.95)
    assert binary_threshold(validation["label"], validation["prob"], "balanced_accuracy") == (0.2, 13 / 32 + 0.5)
    truth = pd.read_csv(galaxy_run.labels_dir(GALAXY) / "test_labels.csv", dtype={"id": str})["label"].tolist()
    probs = [0.25 if label else 0.15 for label in truth]  # all correct at 0.2, all "0" at the run's 0.6
    write_predictions(galaxy_run, GALAXY, "gal-1", probs)
    result = invoke(GALAXY, "--run", "gal-1", "--threshold-rule", "balanced")
    assert result.exit_code == 0, result.output
    path = galaxy_run.submission_dir(GALAXY) / "gal-1.csv"
    assert result.output.splitlines()[0] == (
        f"Wrote {path} ({len(truth)} rows, 0/1 labels at threshold 0.2000 (balanced rule))")
    assert pd.read_csv(path)["label"].tolist() == truth


def test_a_recipe_can_make_the_balanced_rule_its_default(galaxy_run):
    from kaggle_kit.runfolder import RunFolder

    run = RunFolder.open(galaxy_run, GALAXY, "gal-1")
    run.write_config(run.config.replace(threshold_rule="balanced"))
    write_imbalanced_validation(galaxy_run, GALAXY, "gal-1")
    write_predictions(galaxy_run, GALAXY, "gal-1", [0.3] * len(sample_of(galaxy_run, GALAXY)))
    outcome = submit(get_competition(GALAXY), galaxy_run, ["gal-1"], progress=False, report=False)
    assert outcome.values == "0/1 labels at threshold 0.2000 (balanced rule)"
    again = submit(get_competition(GALAXY), galaxy_run, ["gal-1"], threshold_rule="accuracy", overwrite=True,
                   progress=False, report=False)
    assert again.values == "0/1 labels at threshold 0.6000 (accuracy rule)"  # the run's metrics.json threshold
