"""Local scoring against the private test labels, and the local leaderboard file."""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
import pytest
from click.testing import CliRunner

from kaggle_kit.cli import cli
from kaggle_kit.competitions import get_competition
from kaggle_kit.errors import DataError, SubmissionError
from kaggle_kit.leaderboard import (
    Entry,
    format_confusion,
    read_leaderboard,
    record_score,
    score_submission,
)

GALAXY = "galaxy-zoo-2"
TRUTH = pd.DataFrame({"id": ["10", "11", "12", "13"], "label": [0, 1, 1, 0]})


@pytest.fixture
def galaxy_labels(workspace_env):
    labels = workspace_env.labels_dir(GALAXY)
    labels.mkdir(parents=True)
    TRUTH.to_csv(labels / "test_labels.csv", index=False)
    TRUTH.assign(label=0).to_csv(labels / "sample_submission.csv", index=False)
    return workspace_env


def write(path, ids, values, column="label"):
    pd.DataFrame({"id": ids, column: values}).to_csv(path, index=False)
    return path


def entry(run: str) -> Entry:
    return Entry(run=run, model="tiny", image_size="8", tta="none", config_hash="abc123", file=f"{run}.csv")


def at(minute: int) -> datetime:
    return datetime(2026, 11, 22, 3, minute, tzinfo=timezone.utc)


def test_accuracy_auc_and_confusion_matrix(galaxy_labels, tmp_path):
    submission = write(tmp_path / "s.csv", ["10", "11", "12", "13"], [0, 1, 0, 1])
    probs = write(tmp_path / "p.csv", ["10", "11", "12", "13"], [0.1, 0.9, 0.4, 0.6], column="prob")
    score = score_submission(get_competition(GALAXY), galaxy_labels, submission, probs)
    assert score.metric == "accuracy"
    assert score.score == score.accuracy == 0.5
    assert score.auc == 0.75
    assert score.confusion == ((1, 1), (1, 1))
    assert score.rows == 4


def test_scoring_aligns_ids_whatever_the_file_order(galaxy_labels, tmp_path):
    submission = write(tmp_path / "s.csv", ["13", "12", "11", "10"], [0, 1, 1, 0])
    score = score_submission(get_competition(GALAXY), galaxy_labels, submission)
    assert score.accuracy == 1.0
    assert score.auc is None  # no probabilities given for an accuracy submission
    assert score.confusion == ((2, 0), (0, 2))


def test_scoring_refuses_a_file_missing_ids(galaxy_labels, tmp_path):
    submission = write(tmp_path / "s.csv", ["10", "11"], [0, 1])
    with pytest.raises(SubmissionError, match=r"does not cover the test labels one value per id \(2 missing\)"):
        score_submission(get_competition(GALAXY), galaxy_labels, submission)


def test_kaggle_scored_competition_is_not_scored_locally(workspace_env, tmp_path):
    with pytest.raises(SubmissionError, match="is scored by Kaggle, not locally"):
        score_submission(get_competition("histopathologic-cancer-detection"), workspace_env, tmp_path / "s.csv")


def test_missing_test_labels_says_to_prepare(workspace_env, tmp_path):
    with pytest.raises(DataError, match="test_labels.csv not found; run 'kit prepare'"):
        score_submission(get_competition(GALAXY), workspace_env, tmp_path / "s.csv")


def test_leaderboard_rows_accumulate_and_rank_best_first(galaxy_labels, tmp_path):
    competition = get_competition(GALAXY)
    scores = {}
    for name, values in (("weak", [1, 1, 1, 1]), ("best", [0, 1, 1, 0]), ("mid", [0, 1, 1, 1])):
        scores[name] = score_submission(competition, galaxy_labels, write(tmp_path / f"{name}.csv", TRUTH["id"], values))
    first = record_score(galaxy_labels, GALAXY, entry("weak"), scores["weak"], now=at(1))
    second = record_score(galaxy_labels, GALAXY, entry("best"), scores["best"], now=at(2))
    third = record_score(galaxy_labels, GALAXY, entry("mid"), scores["mid"], now=at(3))
    assert (first.rank, second.rank, third.rank) == (1, 1, 2)
    board = read_leaderboard(galaxy_labels, GALAXY)
    assert board["run"].tolist() == ["best", "mid", "weak"]
    assert board["rank"].tolist() == [1, 2, 3]
    assert board["score"].tolist() == [1.0, 0.75, 0.5]
    on_disk = pd.read_csv(galaxy_labels.submission_dir(GALAXY) / "leaderboard.csv", dtype=str)
    assert on_disk.columns.tolist() == [
        "run", "time", "score", "metric", "accuracy", "auc", "model", "image_size", "tta", "config_hash", "file",
    ]
    assert on_disk["time"].tolist() == ["2026-11-22T03:01:00Z", "2026-11-22T03:02:00Z", "2026-11-22T03:03:00Z"]
    assert set(on_disk["config_hash"]) == {"abc123"}


def test_equal_scores_share_a_rank_earlier_listed_first(galaxy_labels, tmp_path):
    competition = get_competition(GALAXY)
    score = score_submission(competition, galaxy_labels, write(tmp_path / "s.csv", TRUTH["id"], [0, 1, 1, 1]))
    record_score(galaxy_labels, GALAXY, entry("early"), score, now=at(1))
    late = record_score(galaxy_labels, GALAXY, entry("late"), score, now=at(2))
    assert late.rank == 1
    assert read_leaderboard(galaxy_labels, GALAXY)["run"].tolist() == ["early", "late"]


def test_confusion_matrix_text():
    from kaggle_kit.leaderboard import LocalScore

    score = LocalScore("accuracy", 0.75, 0.75, None, ((10, 2), (3, 105)), 120)
    assert format_confusion(score, ("elliptical", "spiral")) == [
        "                 pred elliptical  pred spiral",
        "true elliptical               10            2",
        "true spiral                    3          105",
    ]


def test_kit_leaderboard_prints_the_board(galaxy_labels, tmp_path):
    score = score_submission(get_competition(GALAXY), galaxy_labels, write(tmp_path / "s.csv", TRUTH["id"], [0, 1, 1, 1]))
    record_score(galaxy_labels, GALAXY, entry("run-a"), score, now=at(5))
    result = CliRunner().invoke(cli, ["leaderboard", GALAXY])
    assert result.exit_code == 0, result.output
    assert result.output == (
        "   rank  score   accuracy  auc  run    model  size  tta   time\n"
        "   1     0.7500  0.7500    n/a  run-a  tiny   8     none  2026-11-22T03:05:00Z\n"
    )


def test_kit_leaderboard_when_nothing_was_scored(galaxy_labels):
    result = CliRunner().invoke(cli, ["leaderboard", GALAXY])
    assert result.exit_code == 0
    assert result.output == "No scored submissions for galaxy-zoo-2 yet; make one with 'kit submit galaxy-zoo-2 --run RUN'\n"


def test_kit_leaderboard_of_a_kaggle_competition_points_to_kaggle(workspace_env):
    result = CliRunner().invoke(cli, ["leaderboard", "histopathologic-cancer-detection"])
    assert result.exit_code == 1
    assert result.output == (
        "Error: histopathologic-cancer-detection is scored by Kaggle, not locally; "
        "its leaderboard is on kaggle.com (list your submissions with 'kit submissions')\n"
    )


def test_concurrent_records_all_land_on_the_board(galaxy_labels, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    score = score_submission(get_competition(GALAXY), galaxy_labels, write(tmp_path / "s.csv", TRUTH["id"], [0, 1, 1, 1]))
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda i: record_score(galaxy_labels, GALAXY, entry(f"run-{i}"), score), range(24)))
    assert sorted(read_leaderboard(galaxy_labels, GALAXY)["run"]) == sorted(f"run-{i}" for i in range(24))


def test_the_same_file_scored_again_keeps_one_row(galaxy_labels, tmp_path):
    score = score_submission(get_competition(GALAXY), galaxy_labels, write(tmp_path / "s.csv", TRUTH["id"], [0, 1, 1, 1]))
    first = record_score(galaxy_labels, GALAXY, entry("run-a"), score, now=at(1))
    again = record_score(galaxy_labels, GALAXY, entry("run-a"), score, now=at(2))
    assert (first.rank, again.rank, len(again.board)) == (1, 1, 1)
    assert read_leaderboard(galaxy_labels, GALAXY)["time"].tolist() == ["2026-11-22T03:01:00Z"]


def test_kit_leaderboard_speaks_json_and_csv(galaxy_labels, tmp_path):
    import json

    score = score_submission(get_competition(GALAXY), galaxy_labels, write(tmp_path / "s.csv", TRUTH["id"], [0, 1, 1, 1]))
    record_score(galaxy_labels, GALAXY, entry("run-a"), score, now=at(5))
    result = CliRunner().invoke(cli, ["leaderboard", GALAXY, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [{
        "rank": 1, "run": "run-a", "time": "2026-11-22T03:05:00Z", "score": 0.75, "metric": "accuracy",
        "accuracy": 0.75, "auc": None, "model": "tiny", "image_size": "8", "tta": "none", "config_hash": "abc123",
        "file": "run-a.csv",
    }]
    result = CliRunner().invoke(cli, ["leaderboard", GALAXY, "--format", "csv"])
    assert result.output == (
        "rank,run,time,score,metric,accuracy,auc,model,image_size,tta,config_hash,file\n"
        "1,run-a,2026-11-22T03:05:00Z,0.75,accuracy,0.75,,tiny,8,none,abc123,run-a.csv\n"
    )


def test_an_empty_leaderboard_is_an_empty_list_in_json(galaxy_labels):
    assert CliRunner().invoke(cli, ["leaderboard", GALAXY, "--format", "json"]).output == "[]\n"


@pytest.mark.parametrize("column, value, shown", [("score", "great", "'great'"), ("accuracy", "", "nan"),
                                                   ("auc", "0,9", "'0,9'"), ("score", "NA", "nan")])
def test_a_hand_edited_board_is_one_line_naming_the_row(galaxy_labels, tmp_path, column, value, shown):
    score = score_submission(get_competition(GALAXY), galaxy_labels, write(tmp_path / "s.csv", TRUTH["id"], [0, 1, 1, 1]))
    record_score(galaxy_labels, GALAXY, entry("run-a"), score, now=at(5))
    record_score(galaxy_labels, GALAXY, entry("run-b"), score, now=at(6))
    path = galaxy_labels.submission_dir(GALAXY) / "leaderboard.csv"
    board = pd.read_csv(path, dtype=str, keep_default_na=False)
    board.loc[1, column] = value
    board.to_csv(path, index=False)
    result = CliRunner().invoke(cli, ["leaderboard", GALAXY])
    assert result.exit_code == 1
    assert result.output == f"Error: {path} line 3: {column} {shown} is not a number; fix or delete that row\n"


@pytest.mark.timeout(120)
def test_a_fifo_in_place_of_the_board_is_refused_not_waited_on(galaxy_labels):
    import os

    path = galaxy_labels.submission_dir(GALAXY) / "leaderboard.csv"
    path.parent.mkdir(parents=True)
    os.mkfifo(path)
    result = CliRunner().invoke(cli, ["leaderboard", GALAXY])
    assert result.exit_code == 1
    assert result.output == f"Error: {path} is a FIFO (named pipe), not a file; point at a regular file\n"
