"""kit train --pseudo-label RUN: RUN's confident test predictions join the training rows, never validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from _fixtures_predict import CANCER, UNREADABLE_TEST_ID, make_run
from kaggle_kit.competitions import get_competition
from kaggle_kit.config import TrainConfig
from kaggle_kit.data.cache import StackedStore
from kaggle_kit.data.prepare import PrepareOptions, load_prepared
from kaggle_kit.errors import DataError, RunNotFoundError
from kaggle_kit.predict import predictions_path
from kaggle_kit.pseudo import pseudo_labels


def test_a_stacked_store_reads_rows_of_both_stores_in_the_order_asked():
    from _fixtures_train import MemoryStore

    first = MemoryStore(np.arange(3 * 2 * 2 * 3, dtype=np.uint8).reshape(3, 2, 2, 3))
    second = MemoryStore(100 + np.arange(2 * 2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 2, 3))
    stacked = StackedStore(first, second)
    assert len(stacked) == 5 and stacked.shape == (5, 2, 2, 3)
    np.testing.assert_array_equal(stacked.read([4, 0, 3, 2]), np.stack([second.images[1], first.images[0],
                                                                          second.images[0], first.images[2]]))


def pseudo_config(run_id="teacher", confidence=0.9, **changes) -> TrainConfig:
    return TrainConfig(competition=CANCER, image_size=8, pseudo_label=run_id, pseudo_confidence=confidence, **changes)


def write_teacher_predictions(workspace, probs) -> pd.DataFrame:
    ids = pd.read_csv(workspace.labels_dir(CANCER) / "sample_submission.csv", dtype=str)["id"]
    frame = pd.DataFrame({"id": ids, "prob": probs})
    frame.to_csv(predictions_path(workspace, CANCER, ["teacher"], "none"), index=False)
    return frame


def test_only_confident_readable_test_images_are_pseudo_labelled(cancer_prepared):
    make_run(cancer_prepared, CANCER, "teacher")  # trained without dihedral: auto TTA is "none"
    probs = [0.97, 0.5, 0.03, UNREADABLE := 0.99, 0.92, 0.08, 0.89, 0.11]
    frame = write_teacher_predictions(cancer_prepared, probs)
    assert frame["id"][3] == UNREADABLE_TEST_ID
    competition = get_competition(CANCER)
    prepared = load_prepared(competition, cancer_prepared, PrepareOptions(image_size=8))
    pseudo = pseudo_labels(competition, cancer_prepared, pseudo_config(), prepared)
    rows = dict(zip(prepared.test_index["id"], prepared.test_index["row"]))
    kept = [0, 2, 4, 5]  # at least 0.9 sure; te003 is unreadable (its pixels are blank)
    assert pseudo.rows.tolist() == [rows[frame["id"][i]] for i in kept]
    assert pseudo.labels.tolist() == [1, 0, 1, 0]
    assert pseudo.summary() == (f"pseudo-labels: 4 of 7 test images (2 positive) from run teacher "
                                f"({predictions_path(cancer_prepared, CANCER, ['teacher']).name})")
    assert pseudo_labels(competition, cancer_prepared, TrainConfig(competition=CANCER), prepared) is None


def test_an_unknown_pseudo_label_run_is_a_clear_error(cancer_prepared):
    competition = get_competition(CANCER)
    prepared = load_prepared(competition, cancer_prepared, PrepareOptions(image_size=8))
    with pytest.raises(RunNotFoundError, match="no run 'nope' of histopathologic-cancer-detection"):
        pseudo_labels(competition, cancer_prepared, pseudo_config("nope"), prepared)


def test_pseudo_labelled_rows_train_but_never_validate(cancer_prepared, monkeypatch, tiny_models):
    from kaggle_kit.runfolder import RunFolder
    from kaggle_kit.train import train
    from kaggle_kit.training import engine

    make_run(cancer_prepared, CANCER, "teacher")
    write_teacher_predictions(cancer_prepared, [0.97, 0.5, 0.03, 0.99, 0.92, 0.08, 0.89, 0.11])
    seen = []
    original = engine.fit_unit
    monkeypatch.setattr(engine, "fit_unit", lambda unit, config, task, data, *a, **k: (
        seen.append(data), original(unit, config, task, data, *a, **k))[1])
    config = pseudo_config(model=tiny_models[0], epochs=1, batch_size=8, early_stopping_patience=0)
    run = train(get_competition(CANCER), cancer_prepared, config, progress=False)
    (data,) = seen
    train_count = 24 - len(data.val_rows)
    assert len(data.train_rows) == train_count + 4 and data.train_labels[train_count:].tolist() == [1, 0, 1, 0]
    assert (data.train_rows[train_count:] >= 24).all()  # test images, stacked after the 24 training images
    assert (data.val_rows < 24).all()
    np.testing.assert_array_equal(data.store.read(data.train_rows[train_count:][:1]),
                                  data.store.second.read(data.train_rows[train_count:][:1] - 24))
    assert RunFolder.open(cancer_prepared, CANCER, run.run_id).metrics["n_pseudo"] == 4


def test_pseudo_confidence_must_be_above_one_half():
    from kaggle_kit.errors import ConfigError

    with pytest.raises(ConfigError, match="pseudo_confidence must be above 0.5 and below 1"):
        pseudo_config(confidence=0.5)


def test_predictions_missing_some_test_images_are_refused(cancer_prepared):
    make_run(cancer_prepared, CANCER, "teacher")
    frame = write_teacher_predictions(cancer_prepared, [0.97] * 8)
    frame.iloc[:6].to_csv(predictions_path(cancer_prepared, CANCER, ["teacher"]), index=False)
    competition = get_competition(CANCER)
    prepared = load_prepared(competition, cancer_prepared, PrepareOptions(image_size=8))
    with pytest.raises(DataError) as error:
        pseudo_labels(competition, cancer_prepared, pseudo_config(), prepared)
    assert str(error.value) == (
        f"{predictions_path(cancer_prepared, CANCER, ['teacher'])} lacks predictions for 2 test images of this cache; "
        f"predict them again with `kit predict {CANCER} --run teacher`")


def test_pseudo_labels_are_refused_for_a_task_that_is_not_binary_before_anything_is_made(workspace_env, tiny_models):
    from kaggle_kit.errors import ConfigError
    from kaggle_kit.train import train

    dogs = get_competition("dog-breed-identification")
    config = TrainConfig.from_dict(dict(competition=dogs.slug, model=tiny_models[0], image_size=16,
                                        pseudo_label="20260101-000000-x"))
    with pytest.raises(ConfigError, match=r"--pseudo-label works for binary competitions; "
                                          r"dog-breed-identification is multiclass \(120 classes\)"):
        train(dogs, workspace_env, config)
    assert not workspace_env.runs_root(dogs.slug).exists()
