"""Test-set prediction: TTA views, K-fold and ensemble averaging, unreadable images, NaN refusal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from _fixtures_predict import CANCER, GALAXY, UNREADABLE_TEST_ID, make_run
from kaggle_kit.cli import cli
from kaggle_kit.competitions import get_competition
from kaggle_kit.errors import RunNotFoundError, SubmissionError, UnknownNameError
from kaggle_kit.predict import TTA_VIEWS, predict, predictions_path


def read(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"id": str})


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_views_are_the_four_flips_and_the_eight_dihedral_transforms():
    import tensorflow as tf

    from kaggle_kit.data.augment import dihedral_transform

    image = np.arange(2 * 3 * 3 * 1, dtype=np.float32).reshape(2, 3, 3, 1)  # no symmetry at all
    def view(index):
        return dihedral_transform(tf.constant(image), index).numpy()

    flips = [view(i) for i in TTA_VIEWS["flips"]]
    expected = [image, image[:, :, ::-1], image[:, ::-1, :], image[:, ::-1, ::-1]]
    for got, want in zip(flips, expected):
        np.testing.assert_array_equal(got, want)
    dihedral = {view(i).tobytes() for i in TTA_VIEWS["dihedral"]}
    assert len(dihedral) == 8
    assert TTA_VIEWS["none"] == (0,)


def test_tta_with_an_orientation_invariant_model_equals_no_tta(cancer_prepared):
    make_run(cancer_prepared, CANCER, "inv", kind="invariant")
    competition = get_competition(CANCER)
    plain = read(predict(competition, cancer_prepared, ["inv"], progress=False))
    flips = read(predict(competition, cancer_prepared, ["inv"], tta="flips", progress=False))
    dihedral = read(predict(competition, cancer_prepared, ["inv"], tta="dihedral", progress=False))
    np.testing.assert_allclose(flips["prob"], plain["prob"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(dihedral["prob"], plain["prob"], rtol=0, atol=1e-6)


def test_flips_tta_averages_the_model_over_the_four_flipped_images(cancer_prepared):
    from kaggle_kit.config import TrainConfig
    from kaggle_kit.data.prepare import PrepareOptions, load_prepared
    from kaggle_kit.runfolder import load_model

    folder = make_run(cancer_prepared, CANCER, "ori", kind="oriented")
    competition = get_competition(CANCER)
    got = read(predict(competition, cancer_prepared, ["ori"], tta="flips", batch_size=8, progress=False))
    plain = read(predict(competition, cancer_prepared, ["ori"], progress=False))

    prepared = load_prepared(competition, cancer_prepared, PrepareOptions(
        **TrainConfig.from_yaml(folder / "config.yaml").data_settings()))
    readable = prepared.test_index["readable"].astype(bool).to_numpy()
    images = prepared.test_store().read(prepared.test_index["row"].to_numpy()[readable]).astype(np.float32)
    model = load_model(folder / "best.keras")
    views = [images, images[:, :, ::-1], images[:, ::-1, :], images[:, ::-1, ::-1]]
    expected = np.mean([sigmoid(model.predict(v, verbose=0)[:, 0]) for v in views], axis=0)
    np.testing.assert_allclose(got["prob"].to_numpy()[readable], expected, atol=1e-5)
    assert not np.allclose(plain["prob"].to_numpy()[readable], expected, atol=1e-4)  # the views matter here


def test_predictions_follow_the_sample_submission_ids_and_order(cancer_prepared):
    make_run(cancer_prepared, CANCER, "inv")
    path = predict(get_competition(CANCER), cancer_prepared, ["inv"], progress=False)
    assert path == cancer_prepared.runs_root(CANCER) / "inv" / "test_predictions.csv"
    frame = read(path)
    sample = pd.read_csv(cancer_prepared.labels_dir(CANCER) / "sample_submission.csv", dtype={"id": str})
    assert frame.columns.tolist() == ["id", "prob"]
    assert frame["id"].tolist() == sample["id"].tolist()
    assert frame["prob"].between(0, 1).all()


def test_an_unreadable_test_image_gets_the_training_prevalence(cancer_prepared):
    make_run(cancer_prepared, CANCER, "inv")
    frame = read(predict(get_competition(CANCER), cancer_prepared, ["inv"], progress=False)).set_index("id")
    assert frame.loc[UNREADABLE_TEST_ID, "prob"] == pytest.approx(8 / 24)  # 8 positives of 24 training images


def test_fold_models_and_ensembles_average_probabilities(cancer_prepared):
    competition = get_competition(CANCER)
    make_run(cancer_prepared, CANCER, "a", kind="oriented", seed=1)
    make_run(cancer_prepared, CANCER, "b", kind="oriented", seed=2)
    make_run(cancer_prepared, CANCER, "kfold", kind="oriented", seed=1, folds=2)
    a = read(predict(competition, cancer_prepared, ["a"], progress=False))["prob"]
    b = read(predict(competition, cancer_prepared, ["b"], progress=False))["prob"]
    folds = read(predict(competition, cancer_prepared, ["kfold"], progress=False))["prob"]
    ensemble_path = predict(competition, cancer_prepared, ["b", "a"], progress=False)
    assert not np.allclose(a, b, atol=1e-3)
    np.testing.assert_allclose(folds, (a + b) / 2, atol=1e-6)
    assert ensemble_path == cancer_prepared.runs_root(CANCER) / "_ensembles" / "a+b" / "test_predictions.csv"
    np.testing.assert_allclose(read(ensemble_path)["prob"], (a + b) / 2, atol=1e-6)


def test_nan_predictions_write_no_file(cancer_prepared):
    make_run(cancer_prepared, CANCER, "broken", kind="nan")
    with pytest.raises(SubmissionError, match=r"runs broken predicted 7 NaN/inf probabilities on the test set; nothing was written"):
        predict(get_competition(CANCER), cancer_prepared, ["broken"], progress=False)
    assert not predictions_path(cancer_prepared, CANCER, ["broken"]).exists()


def test_a_run_of_another_competition_is_not_found(cancer_prepared, galaxy_prepared):
    make_run(galaxy_prepared, GALAXY, "galaxy-run")
    with pytest.raises(RunNotFoundError):
        predict(get_competition(CANCER), cancer_prepared, ["galaxy-run"], progress=False)


def test_unknown_tta_mode_is_refused(cancer_prepared):
    with pytest.raises(UnknownNameError, match="unknown TTA mode 'rot'"):
        predict(get_competition(CANCER), cancer_prepared, ["x"], tta="rot", progress=False)


def test_kit_predict_writes_and_names_the_file(cancer_prepared):
    make_run(cancer_prepared, CANCER, "inv")
    result = CliRunner().invoke(cli, ["predict", CANCER, "--run", "inv", "--tta", "dihedral", "--no-progress"])
    assert result.exit_code == 0, result.output
    path = cancer_prepared.runs_root(CANCER) / "inv" / "test_predictions-dihedral.csv"
    assert result.output == f"Wrote {path}\n"
    assert len(read(path)) == 8


@pytest.mark.parametrize("run_id", ["../other", ".hidden", "a/b"])
def test_a_run_id_that_is_a_path_is_refused(workspace_env, run_id):
    with pytest.raises(RunNotFoundError, match=f"'{run_id}' is not a run id"):
        predictions_path(workspace_env, CANCER, [run_id])


def test_a_long_ensemble_gets_a_short_stable_name(workspace_env):
    from kaggle_kit.predict import prediction_name

    ids = [f"20261122-0{i:05d}-kit-resnet-long-name" for i in range(8)]
    name = prediction_name(ids, "flips")
    assert name == prediction_name(list(reversed(ids)), "flips")
    assert name.startswith("ensemble8-") and name.endswith("-flips") and len(name) < 40
    assert prediction_name(["b", "a"]) == "a+b"


def test_a_run_id_longer_than_a_file_name_can_be_is_refused(workspace_env):
    from click.testing import CliRunner

    from kaggle_kit.cli import cli

    long_id = "r" * 300
    for command in (["predict", "histopathologic-cancer-detection", "--run", long_id, "--no-progress"],
                    ["submit", "histopathologic-cancer-detection", "--run", long_id, "--no-progress"]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 1
        assert result.output == f"Error: '{long_id}' is not a run id; pass the name of a folder in runs/<slug>/ (see 'kit runs')\n"
    result = CliRunner().invoke(cli, ["report", long_id])
    assert result.exit_code == 1 and result.output.startswith(f"Error: no run '{long_id}' under ")


@pytest.mark.parametrize("augment, expected", [
    ({"dihedral": True}, "dihedral"), ({"horizontal_flip": True, "vertical_flip": True}, "flips"),
    ({"horizontal_flip": True}, "none"), ({}, "none"),
])
def test_auto_tta_averages_the_views_the_run_was_trained_to_be_blind_to(cancer_prepared, augment, expected):
    from kaggle_kit.runfolder import RunFolder

    make_run(cancer_prepared, CANCER, "r")
    run = RunFolder.open(cancer_prepared, CANCER, "r")
    run.write_config(run.config.replace(augment=augment))
    path = predict(get_competition(CANCER), cancer_prepared, ["r"], progress=False)  # tta="auto", the default
    assert path.name == ("test_predictions.csv" if expected == "none" else f"test_predictions-{expected}.csv")
    assert read(path).equals(read(predict(get_competition(CANCER), cancer_prepared, ["r"], tta=expected,
                                          progress=False)))
