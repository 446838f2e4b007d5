"""Custom competition files with ``task:`` and ``layout:``: class folders, labels in file names,
label columns, ordinal grades; and one such competition through prepare → train → submit → local score."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image

from kaggle_kit.cli import cli
from kaggle_kit.competitions import LabelOptions, get_competition
from kaggle_kit.errors import ConfigError, DataError

COLOURS = {"red": (220, 40, 40), "green": (40, 200, 60), "blue": (40, 60, 220)}


def image(path, colour, seed: int) -> None:
    rng = np.random.default_rng(seed)
    pixels = np.clip(np.array(colour) + rng.normal(0, 25, (12, 12, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path)


def spec(tmp_path, text: str):
    path = tmp_path / "comp.yaml"
    path.write_text(text)
    return path


@pytest.fixture
def folders(tmp_path):
    """images/<colour>/<colour>-<i>.png, 10 of each of three colours."""
    for name, colour in COLOURS.items():
        (tmp_path / "images" / name).mkdir(parents=True)
        for i in range(10):
            image(tmp_path / "images" / name / f"{name}-{i}.png", colour, hash((name, i)) % 1000)
    return tmp_path


@pytest.fixture
def named_files(tmp_path):
    """images/<colour>.<i>.png (the label in the file name, as cat.123.jpg)."""
    (tmp_path / "images").mkdir()
    for name, colour in COLOURS.items():
        for i in range(10):
            image(tmp_path / "images" / f"{name}.{i}.png", colour, i)
    return tmp_path


@pytest.fixture
def table(tmp_path):
    """images/img<i>.png with a table of a class name, two 0/1 labels, two fractions and a grade per image."""
    (tmp_path / "images").mkdir()
    names = list(COLOURS)
    rows = []
    for i in range(30):
        name = names[i % 3]
        image(tmp_path / "images" / f"img{i}.png", COLOURS[name], i)
        rows.append({"id": f"img{i}", "colour": name, "warm": int(name == "red"), "cold": int(name == "blue"),
                     "r": COLOURS[name][0] / 255, "b": COLOURS[name][2] / 255, "grade": i % 3})
    pd.DataFrame(rows).to_csv(tmp_path / "labels.csv", index=False)
    return tmp_path


def test_a_folder_per_class_is_a_multiclass_competition(folders):
    competition = get_competition(str(spec(folders, "slug: colours\nimages: images\nlayout: folders\n"
                                                    "task: multiclass\nextension: png\nmetric: accuracy\n")))
    assert competition.task.names == ("blue", "green", "red") and competition.metric == "accuracy"
    tables = competition.build_labels(folders, LabelOptions())
    assert len(tables.train) + len(tables.test) == 30
    assert list(tables.sample_submission.columns) == ["id", "label"]  # accuracy scores one class column
    assert set(tables.sample_submission["label"]) == {"blue"}  # class names, not indices
    assert tables.test_labels["label"].isin([0, 1, 2]).all()
    assert all(pd.Series(tables.train["path"]).map(lambda p: p.split("/")[-2]).map(
        {"blue": 0, "green": 1, "red": 2}) == tables.train["label"])


def test_the_label_in_the_file_name(named_files):
    competition = get_competition(str(spec(named_files, "slug: colours\nimages: images\nlayout: filename\n"
                                                        "task: multiclass\nextension: .png\n")))
    assert competition.task.names == ("blue", "green", "red") and competition.metric == "log_loss"
    tables = competition.build_labels(named_files, LabelOptions())
    assert set(tables.train["id"]) | set(tables.test["id"]) == {f"{c}.{i}" for c in COLOURS for i in range(10)}
    assert list(tables.sample_submission.columns) == ["id", "blue", "green", "red"]  # log loss: one column per class


def test_two_folders_make_a_binary_competition(folders):
    import shutil

    shutil.rmtree(folders / "images" / "green")
    competition = get_competition(str(spec(folders, "slug: rb\nimages: images\nlayout: folders\nextension: png\n")))
    assert competition.task.describe() == "binary" and competition.class_names == ("blue", "red")


@pytest.mark.parametrize(
    "extra, describe, metric, sample",
    [
        ("task: multiclass\nlabel_column: colour\nclass_names: [red, green, blue]\n", "multiclass (3 classes)",
         "log_loss", ["id", "red", "green", "blue"]),
        ("task: multilabel\nlabel_columns: [warm, cold]\n", "multilabel (2 labels)", "mean_column_auc",
         ["id", "warm", "cold"]),
        ("task: regression\nlabel_columns: [r, b]\nbounded: true\n", "regression (2 targets in [0, 1])", "rmse",
         ["id", "r", "b"]),
        ("task: regression\nlabel_column: grade\nlevels: 3\n", "ordinal regression (3 grades)", "qwk",
         ["id", "grade"]),
    ],
)
def test_a_labels_table_for_every_task_kind(table, extra, describe, metric, sample):
    competition = get_competition(str(spec(table, f"slug: t\nimages: images\nlabels: labels.csv\nextension: png\n{extra}")))
    assert (competition.task.describe(), competition.metric) == (describe, metric)
    tables = competition.build_labels(table, LabelOptions())
    assert list(tables.sample_submission.columns) == sample
    assert list(tables.test_labels.columns) == ["id", *competition.task.label_columns]
    competition.task.labels(tables.train)  # the table holds what the task reads


@pytest.mark.parametrize(
    "text, error, message",
    [
        ("task: ternary\n", ConfigError, "comp.yaml: task must be one of binary, multiclass, multilabel, regression "
                                         "(got 'ternary')"),
        ("layout: zip\n", ConfigError, "comp.yaml: layout must be one of table, folders, filename (got 'zip')"),
        ("task: multilabel\n", ConfigError, "comp.yaml: a multilabel task needs label_columns: the columns of "
                                            "labels.csv it predicts"),
        ("label_columns: [warm]\n", ConfigError, "comp.yaml: label_columns are for multilabel and regression tasks; "
                                                 "a binary task reads label_column"),
        ("task: multiclass\nlabel_column: colour\nclass_names: [red, green]\n", DataError,
         "labels must be class names (red, green) or indices 0..1; found 'blue' in 10 row(s)"),
        ("task: multiclass\nlabel_column: colour\nmetric: rmse\n", ConfigError,
         "comp.yaml: metric rmse does not apply to a multiclass (3 classes) task; choose one of: accuracy"),
        ("task: regression\nlabel_columns: [r]\nlayout: folders\n", ConfigError,
         "comp.yaml: layout folders gives one class per image; a regression task needs layout: table"),
    ],
)
def test_bad_task_files_are_one_clear_error(table, text, error, message):
    path = spec(table, f"slug: t\nimages: images\nlabels: labels.csv\nextension: png\n{text}")
    with pytest.raises(error) as raised:
        get_competition(str(path)).build_labels(table, LabelOptions())
    assert message in str(raised.value)


def test_file_names_the_pattern_does_not_match_are_named(named_files):
    (named_files / "images" / "noise.png").write_bytes(b"x")
    path = spec(named_files, "slug: c\nimages: images\nlayout: filename\ntask: multiclass\nextension: png\n"
                             "pattern: '^(?P<label>red|green|blue)[.]'\n")
    with pytest.raises(DataError, match=r"1 file name\(s\) in .+images do not match the pattern .+ \(e.g. noise.png\); "
                                        r"rename them or fix 'pattern'"):
        get_competition(str(path))


def test_a_pattern_without_a_label_group_is_refused(named_files):
    path = spec(named_files, "slug: c\nimages: images\nlayout: filename\ntask: multiclass\nextension: png\n"
                             "pattern: '^[a-z]+'\n")
    with pytest.raises(ConfigError, match="pattern needs a group named label"):
        get_competition(str(path))


def test_one_name_in_two_class_folders_is_refused(folders):
    image(folders / "images" / "green" / "red-0.png", COLOURS["green"], 1)
    path = spec(folders, "slug: c\nimages: images\nlayout: folders\ntask: multiclass\nextension: png\n")
    with pytest.raises(DataError, match=r"1 image name\(s\) occur twice under .+ \(e.g. 'red-0'\); ids are file names "
                                        "without extension: rename the copies"):
        get_competition(str(path))


@pytest.mark.slow
def test_a_custom_multiclass_competition_runs_prepare_train_submit_and_scores_locally(folders, workspace_env, task_model):
    path = str(spec(folders, "slug: colours\nimages: images\nlayout: folders\ntask: multiclass\nextension: png\n"
                             "metric: log_loss\ntest_fraction: 0.3\n"))
    trained = CliRunner().invoke(cli, ["train", path, "--model", task_model, "--image-size", "12", "--epochs", "2",
                                       "--warmup-epochs", "0", "--batch-size", "8", "--quiet"])
    assert trained.exit_code == 0, trained.output
    run_id = re.match(r"run (\S+): validation log_loss \d\.\d{4} ", trained.output).group(1)
    submitted = CliRunner().invoke(cli, ["submit", path, "--run", run_id, "--no-progress", "--no-report"])
    assert submitted.exit_code == 0, submitted.output
    lines = submitted.output.splitlines()
    rows = len(pd.read_csv(workspace_env.labels_dir("colours") / "sample_submission.csv"))  # held out by id hash
    assert re.fullmatch(rf"Wrote .+colours/.+\.csv \({rows} rows, probabilities in 3 columns, 8-view TTA\)", lines[0])  # trained dihedral: TTA auto
    assert re.fullmatch(rf"Local score on {rows} test images: log_loss \d\.\d{{4}} \(accuracy \d\.\d{{4}}\)",
                        lines[1])
    assert lines[2].split() == ["pred", "blue", "pred", "green", "pred", "red"]  # the 3×3 confusion matrix
    assert re.fullmatch(r"Rank 1 of 1 on .+leaderboard\.csv", lines[6])
    submission = workspace_env.submission_dir("colours") / f"{run_id}-dihedral.csv"
    validated = CliRunner().invoke(cli, ["validate", path, str(submission)])
    assert validated.exit_code == 0, validated.output
