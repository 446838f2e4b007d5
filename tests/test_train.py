"""kit train: run folders, resume after a kill, NaN and OOM stops, K-fold, learning a toy task."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from _fixtures_train import NAN_AFTER_STEPS, TOY_SIZE, toy_data
from kaggle_kit.cli import cli
from kaggle_kit.config import TrainConfig
from kaggle_kit.errors import TrainingError
from kaggle_kit.runfolder import RunFolder, UnitFolder
from kaggle_kit.train import train_prepared
from kaggle_kit.training.scoring import best_threshold, score_predictions
from kaggle_kit.training.splits import holdout_split, kfold_splits

CANCER = "histopathologic-cancer-detection"
RUN_FILES = {"config.yaml", "best.keras", "history.csv", "metrics.json", "val_predictions.csv", "learning_curves.png"}
METRIC_FIELDS = {"metric", "score", "val_auc", "val_accuracy", "val_loss", "threshold", "best_epoch", "epochs_run",
                 "train_seconds", "model", "image_size", "n_train", "n_val"}


def toy_config(model: str, **changes) -> TrainConfig:
    base = dict(competition="toy", model=model, image_size=TOY_SIZE, epochs=3, batch_size=32, lr=3e-3,
                optimizer="adam", schedule="constant", early_stopping_patience=0, seed=1)
    return TrainConfig.from_dict({**base, **changes})


def start_run(workspace, config: TrainConfig) -> RunFolder:
    return RunFolder.create(workspace, "toy", config)


# --- end to end -----------------------------------------------------------------------------
def test_kit_train_prepares_trains_and_writes_every_run_file(workspace_env, cancer_raw, tiny_models):
    result = CliRunner().invoke(cli, [
        "train", CANCER, "--raw-dir", str(cancer_raw), "--model", tiny_models[0], "--image-size", "16",
        "--epochs", "2", "--batch-size", "16", "--dihedral", "--brightness-range", "0.9", "1.1", "--quiet",
    ])
    assert result.exit_code == 0, result.output
    run_dir = next((workspace_env.runs_root(CANCER)).iterdir())
    assert re.fullmatch(
        rf"run {run_dir.name}: validation auc \d\.\d{{4}} \(best epoch [12] of 2, threshold \d\.\d{{3}}, "
        rf"0m\d\ds\) in {re.escape(str(run_dir))}\n",
        result.output,
    ), result.output
    assert re.fullmatch(rf"\d{{8}}-\d{{6}}-{tiny_models[0]}", run_dir.name)
    assert RUN_FILES <= {p.name for p in run_dir.iterdir()}
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert METRIC_FIELDS <= set(metrics) and metrics["epochs_run"] == 2 and metrics["image_size"] == 16
    saved = TrainConfig.from_yaml(run_dir / "config.yaml")
    assert saved.augment.dihedral and saved.augment.brightness_range == (0.9, 1.1) and saved.epochs == 2
    predictions = pd.read_csv(run_dir / "val_predictions.csv")
    assert list(predictions.columns) == ["id", "label", "prob"] and len(predictions) == metrics["n_val"]
    assert (run_dir / "learning_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list(pd.read_csv(run_dir / "history.csv")["epoch"]) == [1, 2]


def test_a_separable_toy_task_is_learned(workspace_env, tiny_models):
    run = start_run(workspace_env, config := toy_config(tiny_models[0], epochs=4))
    train_prepared(run, config, "auc", toy_data(n=128), progress=False)
    metrics = run.metrics
    assert metrics["val_auc"] > 0.95 and metrics["score"] == metrics["val_auc"]
    assert metrics["best_epoch"] >= 1


def test_resume_after_a_kill_mid_epoch_continues_from_the_last_finished_epoch(workspace_env, tiny_models,
                                                                            monkeypatch):
    from kaggle_kit.training import callbacks

    config = toy_config(tiny_models[0], epochs=3)
    run = start_run(workspace_env, config)
    original = callbacks.LearningRateControl.on_train_batch_begin

    def killed_in_epoch_two(self, batch, logs=None):
        if self._epoch == 1 and batch == 1:
            raise KeyboardInterrupt("killed")  # what a Ctrl-C or a dying machine leaves behind
        original(self, batch, logs)

    monkeypatch.setattr(callbacks.LearningRateControl, "on_train_batch_begin", killed_in_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        train_prepared(run, config, "auc", toy_data(), progress=False)
    assert not run.complete
    assert [p.name for p in (run.path / "checkpoints").iterdir()] == ["epoch-0001"]
    first_epoch = pd.read_csv(run.path / "history.csv")

    monkeypatch.setattr(callbacks.LearningRateControl, "on_train_batch_begin", original)
    resumed_epochs = []
    monkeypatch.setattr(callbacks.RunKeeper, "on_epoch_begin",
                        lambda self, epoch, logs=None: resumed_epochs.append(epoch + 1))
    train_prepared(run, config, "auc", toy_data(), progress=False)
    assert resumed_epochs == [2, 3]
    history = pd.read_csv(run.path / "history.csv")
    assert list(history["epoch"]) == [1, 2, 3]
    pd.testing.assert_frame_equal(history.iloc[:1], first_epoch)
    assert run.metrics["epochs_run"] == 3
    assert [p.name for p in (run.path / "checkpoints").iterdir()] == ["epoch-0003"]


def test_kit_train_resume_finishes_an_interrupted_run(workspace_env, cancer_raw, tiny_models, monkeypatch):
    interrupted = RunFolder.open(workspace_env, CANCER, _interrupted_cancer_run(workspace_env, cancer_raw, tiny_models,
                                                                         monkeypatch))
    result = CliRunner().invoke(cli, ["train", CANCER, "--raw-dir", str(cancer_raw), "--resume",
                                      interrupted.run_id, "--quiet"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"run {interrupted.run_id}: validation auc ")
    assert interrupted.metrics["epochs_run"] == 2


def _interrupted_cancer_run(workspace, cancer_raw, tiny_models, monkeypatch) -> str:
    """A cancer run stopped after its first epoch, as a kill between epochs leaves it."""
    from kaggle_kit.competitions import get_competition
    from kaggle_kit.train import train, training_config
    workspace = type(workspace)(**{**workspace.__dict__, "raw_dir_override": cancer_raw})
    config = training_config(get_competition(CANCER), options={
        "model": tiny_models[0], "image_size": 16, "epochs": 2, "batch_size": 16})
    original = UnitFolder.save_checkpoint

    def die_after_first(unit, model, state):
        original(unit, model, state)
        raise SystemExit("killed after epoch 1")

    monkeypatch.setattr(UnitFolder, "save_checkpoint", die_after_first)
    with pytest.raises(SystemExit):
        train(get_competition(CANCER), workspace, config, progress=False)
    monkeypatch.setattr(UnitFolder, "save_checkpoint", original)
    return next(workspace.runs_root(CANCER).iterdir()).name


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_best_model(workspace_env, tiny_models):
    from kaggle_kit.runfolder import load_model

    config = toy_config(tiny_models[1], epochs=4)
    run = start_run(workspace_env, config)
    # 96 toy images, 80 % for training in batches of 32: 3 steps an epoch, so NaN comes in epoch 2.
    assert 3 <= NAN_AFTER_STEPS < 6
    with pytest.raises(TrainingError) as error:
        train_prepared(run, config, "auc", toy_data(), progress=False)
    assert str(error.value) == (
        f"training loss became NaN in epoch 2 of {run.path}; the best model (epoch 1) is kept in "
        f"{run.path / 'best.keras'}; retry with a lower --lr"
    )
    assert not run.complete
    assert list(pd.read_csv(run.path / "history.csv")["epoch"]) == [1]
    load_model(run.path / "best.keras")  # the kept model is usable


def test_out_of_memory_advises_a_smaller_batch_size(workspace_env, tiny_models, monkeypatch):
    import keras
    import tensorflow as tf

    def out_of_memory(*args, **kwargs):
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")

    monkeypatch.setattr(keras.Model, "fit", out_of_memory)
    config = toy_config(tiny_models[0], batch_size=64)
    with pytest.raises(TrainingError) as error:
        train_prepared(start_run(workspace_env, config), config, "auc", toy_data(), progress=False)
    assert str(error.value) == (
        f"out of memory training {tiny_models[0]} on 16×16 images at batch size 64; "
        "retry with --batch-size 32 (or a smaller --image-size)"
    )


def test_class_weights_reach_fit_only_with_balance_class_weight(workspace_env, tiny_models, monkeypatch):
    import keras

    seen = []

    def record(self, *args, **kwargs):
        seen.append(kwargs["class_weight"])
        raise KeyboardInterrupt  # stop before any training

    monkeypatch.setattr(keras.Model, "fit", record)
    data = toy_data()
    data.class_weight = {0: 0.75, 1: 1.5}
    for balance in ("class-weight", "none"):
        config = toy_config(tiny_models[0], balance=balance)
        with pytest.raises(KeyboardInterrupt):
            train_prepared(start_run(workspace_env, config), config, "auc", data, progress=False)
    assert seen == [{0: 0.75, 1: 1.5}, None]


def test_kfold_writes_out_of_fold_predictions_and_the_cv_score(workspace_env, tiny_models):
    config = toy_config(tiny_models[0], folds=2, epochs=1)
    run = start_run(workspace_env, config)
    data = toy_data(n=60)
    train_prepared(run, config, "accuracy", data, progress=False)
    predictions = pd.read_csv(run.path / "val_predictions.csv", dtype={"id": str})
    assert list(predictions.columns) == ["id", "label", "prob", "fold"]
    assert sorted(predictions["id"]) == sorted(data.train_index["id"])  # every image once, out of fold
    assert sorted(predictions["fold"].unique()) == [0, 1]
    assert [p.relative_to(run.path).as_posix() for p in run.model_paths()] == ["fold-0/best.keras", "fold-1/best.keras"]
    metrics = run.metrics
    expected = score_predictions(predictions["label"].to_numpy(), predictions["prob"].to_numpy())
    assert metrics["score"] == pytest.approx(expected["val_accuracy"]) and metrics["metric"] == "accuracy"
    assert metrics["folds"] == 2 and len(metrics["fold_scores"]) == 2 and metrics["epochs_run"] == 2
    assert set(pd.read_csv(run.path / "history.csv")["fold"]) == {0, 1}


def test_same_seed_gives_the_same_run(workspace_env, tiny_models, op_determinism):
    config = toy_config(tiny_models[0], epochs=1, augment={"dihedral": True, "zoom_range": 0.1})
    probs = []
    for _ in range(2):
        run = start_run(workspace_env, config)
        train_prepared(run, config, "auc", toy_data(), progress=False)
        probs.append(pd.read_csv(run.path / "val_predictions.csv")["prob"].to_numpy())
    assert np.array_equal(probs[0], probs[1])


def test_resume_refuses_other_training_options(workspace_env):
    result = CliRunner().invoke(cli, ["train", CANCER, "--resume", "x", "--epochs", "3"])
    assert result.exit_code == 2
    assert result.output.endswith("Error: --resume continues with the run's saved config; drop the other training "
                                  "options\n")


def test_resume_of_an_unknown_run_names_the_runs_folder(workspace_env):
    result = CliRunner().invoke(cli, ["train", CANCER, "--resume", "nope", "--quiet"])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: no run 'nope' of {CANCER} in {workspace_env.runs_root(CANCER)} (recent: none yet); "
        f"see `kit runs {CANCER}`\n"
    )


# --- splits and scoring ---------------------------------------------------------------------
def test_holdout_split_is_stratified_and_keeps_oversampled_copies_on_one_side():
    index = pd.DataFrame({"id": [f"i{i}" for i in range(40)], "label": [1] * 10 + [0] * 30, "row": range(40)})
    copies = index[index["label"] == 1].assign()  # oversampling repeats minority rows
    index = pd.concat([index, copies], ignore_index=True)
    split = holdout_split(index, 0.25, seed=0)
    train_ids, val_ids = set(index["id"].iloc[split.train]), list(index["id"].iloc[split.val])
    assert not train_ids & set(val_ids)
    assert len(val_ids) == len(set(val_ids)) == 10
    assert index["label"].iloc[split.val].sum() == 2  # 25 % of the 10 positives (rounded down)
    assert len(split.train) == 30 + 8  # the 8 training positives keep their copies


def test_kfold_validates_every_id_exactly_once():
    index = pd.DataFrame({"id": [f"i{i}" for i in range(30)], "label": [0, 1, 1] * 10, "row": range(30)})
    splits = kfold_splits(index, 5, seed=3)
    val = np.concatenate([s.val for s in splits])
    assert sorted(val) == list(range(30))
    assert all(index["label"].iloc[s.val].sum() == 4 for s in splits)


def test_too_few_images_per_class_for_the_folds_is_a_clear_error():
    from kaggle_kit.errors import DataError

    index = pd.DataFrame({"id": ["a", "b", "c", "d"], "label": [0, 0, 0, 1], "row": range(4)})
    with pytest.raises(DataError, match="3 folds needs at least 3 of each class: raise --max-images or lower --folds"):
        kfold_splits(index, 3, seed=0)


def test_best_threshold_maximises_accuracy():
    labels = np.array([0, 0, 0, 1, 1, 0, 1, 1])
    probs = np.array([0.1, 0.2, 0.3, 0.35, 0.4, 0.45, 0.8, 0.9])
    threshold, accuracy = best_threshold(labels, probs)
    assert threshold == pytest.approx(0.325) and accuracy == pytest.approx(7 / 8)
    predicted = probs >= threshold
    assert np.mean(predicted == labels) == accuracy


def test_scores_of_perfect_predictions():
    scores = score_predictions(np.array([0, 1, 0, 1]), np.array([0.2, 0.7, 0.4, 0.9]))
    assert scores["val_auc"] == 1.0 and scores["val_accuracy"] == 1.0
    assert 0.4 < scores["threshold"] <= 0.7


def test_learning_rate_schedules():
    from kaggle_kit.training.callbacks import learning_rate_at

    cosine = TrainConfig(competition="t", lr=1.0, epochs=4, warmup_epochs=1, schedule="cosine")
    assert [round(learning_rate_at(cosine, s, 10), 3) for s in (0, 9, 10, 25, 39)] == [0.1, 1.0, 1.0, 0.5, 0.003]
    plateau = cosine.replace(schedule="plateau", warmup_epochs=0)
    assert learning_rate_at(plateau, 30, 10, lr_scale=0.25) == 0.25
    assert learning_rate_at(plateau.replace(schedule="constant"), 30, 10, lr_scale=0.25) == 1.0


@pytest.mark.parametrize("gpus", [0, 1, 2])
def test_mixed_precision_only_on_a_gpu_or_when_asked_and_restored_after(gpus, monkeypatch):
    import keras

    from kaggle_kit.training import model

    monkeypatch.setattr(model, "gpu_count", lambda: gpus)  # any machine: with or without GPUs
    before = keras.mixed_precision.global_policy().name
    with model.precision_policy(TrainConfig(competition="t", mixed_precision="auto")) as policy:
        assert policy == keras.mixed_precision.global_policy().name == ("mixed_float16" if gpus else "float32")
    with model.precision_policy(TrainConfig(competition="t", mixed_precision="float16")) as policy:
        assert policy == keras.mixed_precision.global_policy().name == "mixed_float16"
    with model.precision_policy(TrainConfig(competition="t", mixed_precision="off")) as policy:
        assert policy == keras.mixed_precision.global_policy().name == "float32"
    assert keras.mixed_precision.global_policy().name == before


def test_missing_data_fails_before_any_run_folder_is_made(workspace_env):
    result = CliRunner().invoke(cli, ["train", CANCER, "--epochs", "2", "--quiet"])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: raw files of {CANCER} not found at ")
    assert not workspace_env.runs_root(CANCER).exists() or not any(workspace_env.runs_root(CANCER).iterdir())


def test_ema_validates_and_keeps_the_moving_average_of_the_weights(workspace_env, tiny_models, monkeypatch):
    import keras

    from kaggle_kit.runfolder import load_model
    from kaggle_kit.training import callbacks

    momentum = 0.8
    config = toy_config(tiny_models[0], epochs=2, optimizer="sgd", lr=0.05, ema_momentum=momentum)
    steps: list[list[np.ndarray]] = []

    class Recorder(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            steps.append([w.numpy().copy() for w in self.model.trainable_weights])

    original = callbacks.training_callbacks
    monkeypatch.setattr(callbacks, "training_callbacks", lambda *a: [Recorder(), *original(*a)])
    run = start_run(workspace_env, config)
    train_prepared(run, config, "auc", toy_data(), progress=False)

    # Keras' EMA: the first step copies the weights, then average = m·average + (1 − m)·weights.
    expected = steps[0]
    for weights in steps[1:]:
        expected = [momentum * a + (1 - momentum) * w for a, w in zip(expected, weights)]
    best_epoch = run.metrics["best_epoch"]
    per_epoch = len(steps) // 2
    if best_epoch == 1:  # the best model is the average as it stood at the end of epoch 1
        expected = steps[0]
        for weights in steps[1:per_epoch]:
            expected = [momentum * a + (1 - momentum) * w for a, w in zip(expected, weights)]
    best = load_model(run.path / "best.keras").trainable_weights
    for saved, average in zip(best, expected):
        np.testing.assert_allclose(saved.numpy(), average, rtol=1e-5, atol=1e-6)
    assert not all(np.allclose(a, r) for a, r in zip(expected, steps[best_epoch * per_epoch - 1]))  # not the raw weights
    # The checkpoint keeps the raw weights, with the average in the optimizer, so a resume continues exactly.
    checkpoint = load_model(run.path / "checkpoints" / "epoch-0002" / "model.keras", with_optimizer=True)
    for saved, raw in zip(checkpoint.trainable_weights, steps[-1]):
        np.testing.assert_allclose(saved.numpy(), raw, rtol=1e-5, atol=1e-7)  # Keras swaps by adding: rounding
    averages = checkpoint.optimizer._model_variables_moving_average
    final = steps[0]
    for weights in steps[1:]:
        final = [momentum * a + (1 - momentum) * w for a, w in zip(final, weights)]
    for saved, average in zip(averages, final):
        np.testing.assert_allclose(saved.numpy(), average, rtol=1e-5, atol=1e-6)


def test_ema_validation_scored_from_predictions_scores_the_average(workspace_env, tiny_models):
    from kaggle_kit.metrics import score

    config = toy_config(tiny_models[0], epochs=1, optimizer="sgd", lr=0.05, ema_momentum=0.8)
    run = start_run(workspace_env, config)
    train_prepared(run, config, "log_loss", toy_data(), progress=False)  # log loss: validated by prediction
    logged = float(pd.read_csv(run.path / "history.csv")["val_log_loss"].iloc[0])
    best = run.val_predictions()  # predicted by the saved best model: the average
    assert logged == pytest.approx(score("log_loss", best["label"].to_numpy(), best["prob"].to_numpy()), rel=1e-4)


@pytest.mark.parametrize("text, seconds", [("30m", 1800), ("1h30m", 5400), ("90s", 90), ("1800", 1800), ("0.5h", 1800)])
def test_time_limits_are_read_with_their_units(text, seconds):
    from kaggle_kit.config import parse_duration

    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text, message", [
    ("soon", "time limit 'soon' is not a duration; write it like 30m, 1h30m, 90s or 1800"),
    ("0m", "time limit '0m' must be longer than zero"),
])
def test_a_bad_time_limit_is_a_usage_error(text, message):
    result = CliRunner().invoke(cli, ["train", CANCER, "--time-limit", text])
    assert result.exit_code == 2 and message in result.output


def test_fitted_epochs_fill_the_budget_within_the_configured_ones():
    from kaggle_kit.training.callbacks import fitted_epochs

    assert fitted_epochs(1800, 130, 30) == 13
    assert fitted_epochs(1800, 130, 10) == 10  # never more than configured
    assert fitted_epochs(100, 130, 10) == 1  # at least the epoch already done


def test_a_time_limit_fits_the_epochs_and_the_cosine_decay_and_survives_a_resume(workspace_env, tiny_models,
                                                                                 monkeypatch):
    from kaggle_kit.training import callbacks

    clock = iter(range(0, 10_000, 50))  # each epoch "takes" 50 s
    monkeypatch.setattr(callbacks.TimeBudget, "clock", staticmethod(lambda: float(next(clock))))
    config = toy_config(tiny_models[0], epochs=8, schedule="cosine", time_limit=175.0)
    run = start_run(workspace_env, config)
    rates = []
    original_end = callbacks.LearningRateControl.on_epoch_end
    monkeypatch.setattr(callbacks.LearningRateControl, "on_epoch_end",
                        lambda self, epoch, logs=None: (original_end(self, epoch, logs), rates.append(logs["lr"])))
    original_batch = callbacks.LearningRateControl.on_train_batch_begin

    def killed_in_epoch_two(self, batch, logs=None):
        if self._epoch == 1:
            raise KeyboardInterrupt("killed")
        original_batch(self, batch, logs)

    monkeypatch.setattr(callbacks.LearningRateControl, "on_train_batch_begin", killed_in_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        train_prepared(run, config, "auc", toy_data(), progress=False)
    state = json.loads((run.path / "checkpoints" / "epoch-0001" / "state.json").read_text())
    assert state["fitted_epochs"] == 3  # 175 s hold three 50 s epochs

    clock = iter(range(0, 10_000, 1))  # the resumed process is faster: it must keep the fitted schedule
    monkeypatch.setattr(callbacks.LearningRateControl, "on_train_batch_begin", original_batch)
    train_prepared(run, config, "auc", toy_data(), progress=False)
    assert run.metrics["epochs_run"] == 3 and list(pd.read_csv(run.path / "history.csv")["epoch"]) == [1, 2, 3]
    steps = 3  # 77 training images, batch 32
    # Epoch 1 ran on the configured 8-epoch decay (the pace was unknown); from epoch 2 on it is fitted to 3.
    expected = [callbacks.learning_rate_at(config, (e + 1) * steps - 1, steps, epochs=8 if e == 0 else 3)
                for e in range(3)]
    np.testing.assert_allclose(rates, expected, rtol=1e-6)
    assert rates[-1] < 0.1 * config.lr  # the decay reached its end within the budget
