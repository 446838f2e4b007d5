"""AdaBN at predict time: only BatchNorm moving statistics change, and they become the test images'."""

from __future__ import annotations

import numpy as np
import pandas as pd

from _fixtures_predict import CANCER, IMAGE_SIZE, make_run
from kaggle_kit.adabn import adapt_batchnorm, batchnorm_layers
from kaggle_kit.competitions import get_competition
from kaggle_kit.predict import predict


def bn_model(seed: int = 0, size: int = IMAGE_SIZE):
    """Conv-BN-ReLU twice, then a pooled logit, with moving statistics far from any data's."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((size, size, 3))
    x = layers.Rescaling(1 / 255)(inputs)
    x = layers.ReLU()(layers.BatchNormalization(momentum=0.9, name="bn1")(layers.Conv2D(4, 3, name="conv1")(x)))
    x = layers.ReLU()(layers.BatchNormalization(momentum=0.8, name="bn2")(layers.Conv2D(3, 3, name="conv2")(x)))
    model = keras.Model(inputs, layers.Dense(1, name="logits")(layers.GlobalAveragePooling2D()(x)))
    for layer in batchnorm_layers(model):
        layer.moving_mean.assign(np.full(layer.moving_mean.shape, 5.0, np.float32))
        layer.moving_variance.assign(np.full(layer.moving_variance.shape, 9.0, np.float32))
        layer.gamma.assign(np.linspace(0.5, 1.5, layer.gamma.shape[0]).astype(np.float32))
    return model


def image_batches(sizes=(4, 4, 2), seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(0, 255, (n, IMAGE_SIZE, IMAGE_SIZE, 3)).astype(np.float32) for n in sizes]


def test_only_the_batchnorm_moving_statistics_change():
    model = bn_model()
    moving = {id(v) for layer in batchnorm_layers(model) for v in (layer.moving_mean, layer.moving_variance)}
    before = {v.path: v.numpy().copy() for v in model.variables}
    assert adapt_batchnorm(model, image_batches()) == 2
    for variable in model.variables:
        if id(variable) in moving:
            assert not np.allclose(variable.numpy(), before[variable.path]), variable.path
        else:
            np.testing.assert_array_equal(variable.numpy(), before[variable.path], err_msg=variable.path)
    assert [layer.momentum for layer in batchnorm_layers(model)] == [0.9, 0.8]  # restored


def test_the_first_batchnorm_gets_the_statistics_of_its_inputs_over_the_images():
    import keras

    model = bn_model()
    batches = image_batches()
    conv1 = keras.Model(model.input, model.get_layer("conv1").output)
    features = [conv1.predict(batch, verbose=0).reshape(-1, 4) for batch in batches]
    counts = np.array([len(batch) for batch in batches], np.float64)
    expected_mean = np.concatenate(features).mean(axis=0)  # equal pixels per image: the overall mean
    expected_variance = sum(n * f.var(axis=0) for n, f in zip(counts, features)) / counts.sum()
    adapt_batchnorm(model, batches)
    bn1 = model.get_layer("bn1")
    np.testing.assert_allclose(bn1.moving_mean.numpy(), expected_mean, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(bn1.moving_variance.numpy(), expected_variance, rtol=1e-4, atol=1e-7)


def test_one_batch_makes_inference_equal_training_mode_on_it():
    model = bn_model()
    (batch,) = image_batches((6,))
    adapt_batchnorm(model, [batch])
    np.testing.assert_allclose(model(batch, training=False).numpy(), model(batch, training=True).numpy(), atol=1e-4)


def test_a_model_without_batchnorm_is_left_alone():
    import keras
    from keras import layers

    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3))
    model = keras.Model(inputs, layers.Dense(1)(layers.GlobalAveragePooling2D()(inputs)))
    before = [w.copy() for w in model.get_weights()]
    assert adapt_batchnorm(model, image_batches()) == 0
    for got, want in zip(model.get_weights(), before):
        np.testing.assert_array_equal(got, want)


def test_kit_predict_adabn_adapts_on_the_readable_test_images(cancer_prepared):
    from kaggle_kit.config import TrainConfig
    from kaggle_kit.data.prepare import PrepareOptions, load_prepared
    from kaggle_kit.predict import load_model

    folder = make_run(cancer_prepared, CANCER, "bn")
    bn_model().save(folder / "best.keras")
    competition = get_competition(CANCER)
    plain = pd.read_csv(predict(competition, cancer_prepared, ["bn"], progress=False))
    path = predict(competition, cancer_prepared, ["bn"], adabn=True, progress=False)
    assert path.name == "test_predictions-adabn.csv"
    adapted = pd.read_csv(path)

    prepared = load_prepared(competition, cancer_prepared,
                             PrepareOptions(**TrainConfig.from_yaml(folder / "config.yaml").data_settings()))
    readable = prepared.test_index["readable"].astype(bool).to_numpy()
    images = prepared.test_store().read(prepared.test_index["row"].to_numpy()[readable]).astype(np.float32)
    model = load_model(folder / "best.keras")
    adapt_batchnorm(model, [images])  # the whole readable test set in one batch: same statistics
    expected = 1 / (1 + np.exp(-model.predict(images, verbose=0)[:, 0]))
    np.testing.assert_allclose(adapted["prob"].to_numpy()[readable], expected, atol=1e-5)
    assert not np.allclose(plain["prob"].to_numpy()[readable], expected, atol=1e-3)
    assert (adapted["prob"].to_numpy()[~readable] == plain["prob"].to_numpy()[~readable]).all()  # the prevalence


def test_a_recipe_with_adabn_makes_it_the_default_and_no_adabn_turns_it_off(cancer_prepared):
    import dataclasses

    from click.testing import CliRunner

    from kaggle_kit.cli import cli
    from kaggle_kit.config import TrainConfig

    folder = make_run(cancer_prepared, CANCER, "bn")
    bn_model().save(folder / "best.keras")
    config = TrainConfig.from_yaml(folder / "config.yaml")
    (folder / "config.yaml").write_text(dataclasses.replace(config, adabn=True).to_yaml())
    competition = get_competition(CANCER)
    assert predict(competition, cancer_prepared, ["bn"], tta="none", progress=False).name == "test_predictions-adabn.csv"
    off = CliRunner().invoke(cli, ["predict", CANCER, "--run", "bn", "--tta", "none", "--no-adabn", "--no-progress"])
    assert off.exit_code == 0, off.output
    assert off.output == f"Wrote {folder / 'test_predictions.csv'}\n"
    on = CliRunner().invoke(cli, ["submit", CANCER, "--run", "bn", "--tta", "none", "--no-progress", "--no-report"])
    assert on.exit_code == 0, on.output
    assert on.output.startswith(f"Wrote {cancer_prepared.submission_dir(CANCER) / 'bn-adabn.csv'} (")
    assert "AdaBN" in on.output.splitlines()[0]
