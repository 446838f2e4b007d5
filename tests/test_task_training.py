"""Task kinds through prepare and training: rebalancing per kind, splits over many small classes,
K-output heads, the monitored metric's direction, and a separable toy task learned by every kind."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from _fixtures_train import MemoryStore, ToyPrepared
from kaggle_kit.competitions import get_competition
from kaggle_kit.config import TrainConfig
from kaggle_kit.data.prepare import PrepareOptions, prepare
from kaggle_kit.errors import ConfigError
from kaggle_kit.runfolder import RunFolder
from kaggle_kit.tasks import Task, binary_task
from kaggle_kit.train import train_prepared
from kaggle_kit.training.splits import holdout_split, kfold_splits
from kaggle_kit.training.task import BinaryTask, KindTask, make_task


def test_binary_tasks_scored_by_auc_or_accuracy_train_exactly_as_before():
    assert make_task("auc", binary_task()) == BinaryTask("auc")
    assert make_task("accuracy") == BinaryTask("accuracy")
    assert isinstance(make_task("log_loss", binary_task()), KindTask)


def test_a_one_output_model_is_the_builders_own_and_more_outputs_widen_its_head(task_model):
    import keras

    from kaggle_kit.models import create_model

    keras.utils.set_random_seed(0)
    one = create_model(task_model, (16, 16, 3))
    keras.utils.set_random_seed(0)
    again = create_model(task_model, (16, 16, 3), outputs=1)
    assert [w.shape for w in one.weights] == [w.shape for w in again.weights]
    assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(one.weights, again.weights))
    wide = create_model(task_model, (16, 16, 3), outputs=5)
    assert wide.output.shape == (None, 5) and wide.get_layer("logits").dtype_policy.compute_dtype == "float32"


def test_lower_is_better_metrics_pick_the_lowest_epoch():
    from kaggle_kit.training.callbacks import improved

    assert improved(0.3, 0.4, greater_is_better=False) and not improved(0.5, 0.4, greater_is_better=False)
    assert improved(0.5, 0.4) and improved(0.1, None, greater_is_better=False) and not improved(float("nan"), None)


def test_kappa_is_scored_only_for_grades():
    breeds = KindTask(Task("multiclass", ("a", "b", "c")), "log_loss")
    grades = KindTask(Task("regression", ("diagnosis",), levels=5), "qwk")
    classes_scored_by_kappa = KindTask(Task("multiclass", ("0", "1", "2")), "qwk")
    assert "qwk" not in breeds.scored_metrics(["accuracy", "log_loss", "qwk"])
    assert grades.scored_metrics(["qwk", "rmse"]) == ["qwk", "rmse"]
    assert classes_scored_by_kappa.scored_metrics(["accuracy", "log_loss", "qwk"]) == ["qwk", "accuracy", "log_loss"]


def test_a_hold_out_split_of_many_small_classes_merges_the_rare_ones():
    labels = np.repeat(np.arange(40), 3)  # 40 classes of 3 images
    labels[:2] = 39  # class 0 keeps one image: too few to split on its own
    index = pd.DataFrame({"id": [f"i{k}" for k in range(len(labels))], "label": labels, "row": range(len(labels))})
    split = holdout_split(index, 0.25, seed=0, strata=labels)
    assert sorted(np.concatenate([split.train, split.val]).tolist()) == list(range(len(labels)))
    assert set(split.train).isdisjoint(split.val)
    folds = kfold_splits(index, 3, seed=0, strata=labels)
    assert sorted(np.concatenate([f.val for f in folds]).tolist()) == list(range(len(labels)))


def test_multiclass_undersampling_brings_every_breed_down_to_the_rarest(dogs_raw, workspace_env):
    workspace = dataclasses.replace(workspace_env, raw_dir_override=dogs_raw[0])
    prepared = prepare(get_competition("dog-breed-identification"), workspace,
                       PrepareOptions(image_size=16, balance="undersample"), progress=False)
    counts = [c for c in prepared.manifest["counts"]["classes"].values() if c]
    assert len(counts) == 4 and len(set(counts)) == 1
    assert prepared.manifest["balance_done"] == [f"undersample: every class down to {counts[0]} rows (4 classes)"]


def test_rebalancing_a_multilabel_task_is_refused(plant_raw, workspace_env):
    workspace = dataclasses.replace(workspace_env, raw_dir_override=plant_raw[0])
    with pytest.raises(ConfigError) as raised:
        prepare(get_competition("plant-pathology-2020-fgvc7"), workspace, PrepareOptions(16, balance="oversample"),
                progress=False)
    assert str(raised.value) == ("--balance oversample rebalances classes, which a multilabel (4 labels) task such as "
                                 "plant-pathology-2020-fgvc7 does not have; use --balance none")


COLOURED = 96


def coloured_data(labels: pd.DataFrame, classes: np.ndarray) -> ToyPrepared:
    """Noise images with a bright square in the colour channel of their class: separable."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 60, (COLOURED, 16, 16, 3), dtype=np.uint8)
    for channel in range(3):
        images[classes == channel, 4:12, 4:12, channel] += 150
    index = pd.concat([pd.DataFrame({"id": [f"t{k}" for k in range(COLOURED)]}), labels,
                       pd.DataFrame({"row": np.arange(COLOURED)})], axis=1)
    return ToyPrepared(MemoryStore(images), index)


CLASSES = np.arange(COLOURED) % 3
KINDS = {
    "multiclass": (Task("multiclass", ("r", "g", "b")), "log_loss", pd.DataFrame({"label": CLASSES})),
    "multilabel": (Task("multilabel", ("r", "g", "b")), "mean_column_auc",
                   pd.DataFrame(np.eye(3, dtype=int)[CLASSES], columns=["r", "g", "b"])),
    "ordinal": (Task("regression", ("grade",), levels=3), "qwk", pd.DataFrame({"grade": CLASSES})),
    "bounded": (Task("regression", ("r", "g", "b"), bounded=True), "rmse",
                pd.DataFrame(np.eye(3)[CLASSES] * 0.8 + 0.05, columns=["r", "g", "b"])),
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_task_kind_learns_a_separable_toy_task(kind, workspace_env, task_model):
    spec, metric, labels = KINDS[kind]
    config = TrainConfig.from_dict(dict(competition="toy", model=task_model, image_size=16, epochs=6, batch_size=16,
                                        lr=1e-2, optimizer="adam", schedule="constant", early_stopping_patience=0,
                                        seed=1))
    run = RunFolder.create(workspace_env, "toy", config)
    train_prepared(run, config, metric, coloured_data(labels, CLASSES), progress=False, spec=spec)
    metrics = run.metrics
    assert metrics["task"] == spec.to_dict() and metrics["score"] == metrics[f"val_{metric}"]
    chance = {"log_loss": np.log(3), "mean_column_auc": 0.5, "qwk": 0.0, "rmse": 0.37}[metric]
    better = metrics["score"] < chance if metric in ("log_loss", "rmse") else metrics["score"] > chance
    assert better, metrics
    predictions = run.val_predictions()
    assert list(predictions.columns) == ["id", *spec.label_columns, *(f"pred_{n}" for n in spec.names)]
    history = run.history()
    assert f"val_{metric}" in history.columns and "val_loss" in history.columns
