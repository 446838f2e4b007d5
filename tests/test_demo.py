"""``kit demo``: the whole loop on both generated competitions, offline, at the reduced size."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from click.testing import CliRunner

from kaggle_kit.cli import cli
from kaggle_kit.demo import run as demo_run

CANCER = "histopathologic-cancer-detection"
GALAXY = "galaxy-zoo-2"
DOGS = "dog-breed-identification"
APTOS = "aptos2019-blindness-detection"
STEPS = ("download:", "prepare:", "train:", "predict:", "submit:")


@pytest.mark.slow

def default_suffix(slug: str) -> str:
    """What submit's defaults add to a submission's name: TTA auto (dihedral) and the recipe's AdaBN."""
    from kaggle_kit.competitions import get_competition
    from kaggle_kit.runfolder import prediction_suffix

    return prediction_suffix("dihedral", get_competition(slug).recipes["default"].get("adabn", False))

def test_small_demo_runs_every_step_of_both_competitions_and_keeps_the_folder(tmp_path, monkeypatch):
    for name in ("KIT_DATA_DIR", "KIT_RUNS_DIR", "KIT_SUBMISSIONS_DIR"):  # the demo must ignore them
        monkeypatch.setenv(name, str(tmp_path / "elsewhere"))
    folder = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["demo", "--size", "small", "--keep", str(folder)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()

    assert lines[0] == f"kit demo (small): two generated competitions, no network, no Kaggle account, in {folder}"
    assert re.fullmatch(r"Generated 96 \+ 24 tissue patches and 60 galaxies \(2 unreadable\) in .+", lines[1])
    assert re.fullmatch(r"Stand-in Kaggle server on http://127\.0\.0\.1:\d+, reached by the real kaggle client; the "
                        r"Galaxy Zoo data site's stand-in serves the Hart et al\. table", lines[2])
    assert [line for line in lines if line.startswith("== ")] == [
        f"== Histopathologic Cancer Detection ({CANCER}): ROC AUC ==",
        f"== Galaxy Zoo 2: spiral vs elliptical ({GALAXY}): accuracy ==",
    ]
    assert [line for line in lines if line in STEPS] == list(STEPS) * 2
    assert re.fullmatch(r"Done in .+\.", lines[-1])
    assert not (tmp_path / "elsewhere").exists()

    # The galaxies' Kaggle dataset lacks the Hart table: it came from the Galaxy Zoo site's stand-in.
    assert (folder / "data" / GALAXY / "raw" / "gz2_hart16.csv.gz").is_file()
    assert "  labels: 60 galaxies of gz2_hart16.csv.gz matched to gz2_filename_mapping.csv by objid and sample" in lines
    for slug in (CANCER, GALAXY):
        assert f"  Downloaded {slug}: " in result.output
        validation = re.search(rf"run (\S+): validation (ROC AUC|accuracy) (\d\.\d{{4}})", result.output.split(slug, 2)[-1])
        assert validation, result.output
        # Both recipes train with the dihedral group, so submit's default TTA (auto) is the 8 views; AdaBN
        # where the recipe asks for it.
        submission = folder / "submissions" / slug / f"{validation.group(1)}{default_suffix(slug)}.csv"
        sample = pd.read_csv(folder / "data" / slug / "labels" / "sample_submission.csv", dtype={"id": str})
        assert len(sample) == 24 if slug == CANCER else 0 < len(sample) < 60  # galaxies: ~20 %, by each id's hash
        assert f"  Wrote {submission} ({len(sample)} rows, " in result.output
        assert list(pd.read_csv(submission, dtype={"id": str})["id"]) == list(sample["id"])

    # Cancer went to the stand-in Kaggle and was scored there; the galaxies on the local leaderboard.
    assert (f"  Uploaded {validation_run(result.output, CANCER)}{default_suffix(CANCER)}.csv to {CANCER} "
            "(submission 1000): ") in result.output
    assert re.search(r"^    1000 .+ COMPLETE +[01]\.\d{5} +[01]\.\d{5} ", result.output, re.MULTILINE)
    assert re.search(r"^  Rank 1 of 1 on .+leaderboard\.csv$", result.output, re.MULTILINE)
    assert (folder / "submissions" / GALAXY / "leaderboard.csv").is_file()


def validation_run(output: str, slug: str) -> str:
    return re.search(r"run (\S+): validation", output.split(f"({slug})", 1)[1]).group(1)


def test_keep_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "old.txt").write_text("x")
    result = CliRunner().invoke(cli, ["demo", "--keep", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output == f"Error: --keep {tmp_path} exists and is not an empty folder; pass a new folder\n"
    assert [p.name for p in tmp_path.iterdir()] == ["old.txt"]


def test_without_keep_the_demo_folder_is_temporary_and_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(demo_run.tempfile, "tempdir", str(tmp_path))
    with demo_run._demo_folder(None) as folder:
        assert folder.parent == tmp_path and folder.name.startswith("kit-demo-")
        (folder / "data").mkdir()
    assert not folder.exists()


def test_the_stand_in_scorer_gives_public_and_private_auc(tmp_path):
    solution = tmp_path / "solution.csv"
    ids = [f"{i:040x}" for i in range(40)]
    labels = [i % 2 for i in range(40)]
    pd.DataFrame({"id": ids, "label": labels}).to_csv(solution, index=False)
    score = demo_run.metric_scorer(CANCER, solution)
    perfect = pd.DataFrame({"id": ids[::-1], "label": [0.9 if y else 0.1 for y in labels[::-1]]}).to_csv(index=False)
    inverted = pd.DataFrame({"id": ids, "label": [0.1 if y else 0.9 for y in labels]}).to_csv(index=False)
    assert score(CANCER, perfect.encode()) == ("1.00000", "1.00000")
    assert score(CANCER, inverted.encode()) == ("0.00000", "0.00000")


def test_the_stand_in_scorer_says_nan_for_a_half_with_one_class(tmp_path):
    solution = tmp_path / "solution.csv"
    pd.DataFrame({"id": ["a", "b"], "label": [1, 1]}).to_csv(solution, index=False)
    submitted = pd.DataFrame({"id": ["a", "b"], "label": [0.2, 0.7]}).to_csv(index=False)
    assert demo_run.metric_scorer(CANCER, solution)(CANCER, submitted.encode()) == ("nan", "nan")


def test_the_stand_in_scorer_uses_each_competitions_metric_and_format(dogs_raw, aptos_raw):
    import math

    dogs_solution = dogs_raw[1]
    truth = pd.read_csv(dogs_solution, dtype={"id": str})
    uniform = pd.DataFrame({"id": truth["id"], **{breed: 1 / 120 for breed in truth.columns[1:]}})
    public, private = demo_run.metric_scorer(DOGS, dogs_solution)(DOGS, uniform.to_csv(index=False).encode())
    assert float(public) == pytest.approx(math.log(120), abs=1e-4) == float(private)  # log loss of a uniform guess
    grades = pd.read_csv(aptos_raw[1], dtype={"id_code": str})
    exact = demo_run.metric_scorer(APTOS, aptos_raw[1])(APTOS, grades.to_csv(index=False).encode())
    assert exact == ("1.00000", "1.00000")  # kappa of the true grades


def test_the_demo_knows_every_task_kind_competition_at_both_sizes():
    for size in demo_run.SIZES.values():
        assert set(size.generated) == set(demo_run.TASK_COMPETITIONS) <= set(size.training)
