"""The model zoo: every registered model builds, trains a step and returns float32 logits."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from kaggle_kit.errors import ConfigError, UnknownNameError
from kaggle_kit.models import count_params, create_model, list_models, model_info, register_model
from kaggle_kit.models import _registry

TINY = (32, 32, 3)  # the smallest input every backbone accepts


def random_batch(size: int = 4, shape=TINY, seed: int = 0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(size, *shape)).astype("float32")
    labels = np.array([[0.0], [1.0]] * (size // 2), dtype="float32")
    return images, labels


@pytest.mark.parametrize("name", list_models())
def test_every_model_builds_and_trains_one_step_to_float32_logits(name):
    import keras

    keras.utils.set_random_seed(0)
    model = create_model(name, TINY, **model_info(name).options)  # every default is a valid option
    images, labels = random_batch()
    # Eager: tracing and optimising the graph of a big backbone costs ~30 s of CPU for one step.
    model.compile(optimizer="adam", loss=keras.losses.BinaryCrossentropy(from_logits=True), run_eagerly=True)
    loss = model.train_on_batch(images, labels)
    logits = model.predict_on_batch(images)
    assert np.isfinite(loss)
    assert logits.shape == (4, 1)
    assert logits.dtype == np.float32
    assert model.outputs[0].dtype == "float32"


@pytest.mark.parametrize("name", list_models())
def test_every_model_has_a_description_and_a_reference_shape(name):
    info = model_info(name)
    assert info.name == name and info.description
    assert len(info.reference_shape) == 3


def test_models_are_listed_sorted_with_the_baselines_the_default_and_backbones():
    names = list_models()
    assert names == sorted(names)
    assert {"notebook-dense", "notebook-cnn", "kit-resnet", "efficientnet-b0", "mobilenet-v3-small"} <= set(names)


def test_notebook_dense_has_the_notebooks_parameter_count_at_140px():
    assert count_params("notebook-dense", (140, 140, 3)) == 1_882_721


def test_notebook_cnn_has_the_notebooks_parameter_count_at_32px():
    assert count_params("notebook-cnn", (32, 32, 3)) == 53_313


def test_notebook_cnn_bn_position_changes_layer_order_not_parameters():
    before = create_model("notebook-cnn", TINY, bn_position="before")
    after = create_model("notebook-cnn", TINY, bn_position="after", bn_momentum=0.25)
    order = lambda m: [l.name for l in m.layers if l.name.startswith("block1_")]  # noqa: E731
    assert order(before) == ["block1_conv", "block1_bn", "block1_relu", "block1_pool"]
    assert order(after) == ["block1_conv", "block1_relu", "block1_bn", "block1_pool"]
    assert after.get_layer("block1_bn").momentum == 0.25
    assert before.count_params() == after.count_params()


def test_notebook_dense_sweep_options_change_the_network():
    wide = create_model("notebook-dense", TINY, units=64, extra_layer=True, l1=0.0, l2=0.01, dropout=0.2)
    assert wide.get_layer("dense_1").units == 64
    assert wide.get_layer("dense_extra").units == 64
    assert wide.get_layer("head_dropout").rate == 0.2
    assert wide.get_layer("dense_2").kernel_regularizer.get_config()["l2"] == pytest.approx(0.01)


def test_kit_resnet_width_and_depth_options_scale_the_model():
    small = count_params("kit-resnet", TINY, width=8, stages=2, depth=1)
    large = count_params("kit-resnet", TINY, width=16, stages=3, depth=2)
    assert small < large


def test_models_rescale_raw_pixels_inside():
    model = create_model("kit-resnet", TINY)
    rescale = model.get_layer("rescale")
    assert rescale.scale == pytest.approx(1 / 255)


def test_logits_stay_float32_under_mixed_precision():
    import keras

    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = create_model("kit-resnet", TINY, width=8, stages=2, depth=1)
        assert model.get_layer("stage1_block1_a_conv").compute_dtype == "float16"
        assert model.outputs[0].dtype == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_unknown_model_name_lists_the_valid_ones():
    with pytest.raises(UnknownNameError) as caught:
        create_model("resnet9000", TINY)
    assert str(caught.value) == f"unknown model 'resnet9000'; choose one of: {', '.join(list_models())}"


def test_unknown_option_names_the_models_valid_options():
    with pytest.raises(ConfigError) as caught:
        create_model("notebook-cnn", TINY, bn_place="after")
    assert str(caught.value) == (
        "model 'notebook-cnn' has no option(s) bn_place; valid options are bn_momentum, bn_position"
    )


def test_bad_option_value_names_the_choices():
    with pytest.raises(ConfigError) as caught:
        create_model("notebook-cnn", TINY, bn_position="middle")
    assert str(caught.value) == "model 'notebook-cnn' option bn_position must be one of before, after (got 'middle')"


def test_bad_input_shape_is_a_config_error():
    with pytest.raises(ConfigError, match=r"model 'kit-resnet' needs input_shape \(height, width, channels\)"):
        create_model("kit-resnet", (32, 32))


def test_imagenet_download_failure_is_a_clear_error(monkeypatch):
    from keras.src.utils import file_utils

    def no_network(*args, **kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/x.h5: None -- no route to host")

    monkeypatch.setattr(file_utils, "get_file", no_network)
    with pytest.raises(ConfigError) as caught:
        create_model("mobilenet-v3-small", TINY, weights="imagenet")
    message = str(caught.value)
    assert message.startswith("model 'mobilenet-v3-small': could not download the ImageNet weights (URL fetch failure")
    assert message.endswith("or put the .h5 file in ~/.keras/models, or use weights=None")


def test_weights_must_be_none_or_imagenet():
    with pytest.raises(ConfigError, match=r"option weights must be one of None, imagenet \(got 'coco'\)"):
        create_model("efficientnet-b0", TINY, weights="coco")


def test_registering_a_name_twice_warns_and_the_later_wins(monkeypatch):
    list_models()  # load the built-ins before copying the registry
    monkeypatch.setattr(_registry, "_MODELS", dict(_registry._MODELS))

    @register_model(name="twice-for-test")
    def first(input_shape, *, a: int = 1):
        """First."""

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")

        @register_model(name="twice-for-test")
        def second(input_shape, *, b: int = 2):
            """Second builder."""

    assert [str(w.message) for w in caught] == ["model 'twice-for-test' registered twice; the later one wins"]
    assert model_info("twice-for-test").description == "Second builder."
    assert dict(model_info("twice-for-test").options) == {"b": 2}


def test_kit_models_lists_name_parameters_and_description():
    from kaggle_kit.cli import cli

    result = CliRunner().invoke(cli, ["models", "--only", "notebook-cnn", "--only", "notebook-dense"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["name", "params", "input", "description"]
    assert lines[1].split()[:3] == ["notebook-cnn", "53,313", "32x32x3"]
    assert lines[2].split()[:3] == ["notebook-dense", "1,882,721", "140x140x3"]
    assert model_info("notebook-cnn").description in lines[1]


def test_kit_models_rejects_an_unknown_name():
    from kaggle_kit.cli import cli

    result = CliRunner().invoke(cli, ["models", "--only", "nope"])
    assert result.exit_code == 1
    assert result.output == f"Error: unknown model 'nope'; choose one of: {', '.join(list_models())}\n"


def test_an_input_too_small_for_the_model_is_a_clear_config_error():
    with pytest.raises(ConfigError) as error:
        create_model("notebook-cnn", (16, 16, 3))
    assert str(error.value) == (
        "model 'notebook-cnn' cannot be built for 16×16 images: its layers shrink them to nothing; "
        "use a larger --image-size"
    )


def test_kit_models_speaks_json_and_csv():
    import json

    from kaggle_kit.cli import cli

    result = CliRunner().invoke(cli, ["models", "--only", "notebook-cnn", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [{"name": "notebook-cnn", "params": 53313, "reference_shape": [32, 32, 3],
                                          "description": model_info("notebook-cnn").description}]
    result = CliRunner().invoke(cli, ["models", "--only", "notebook-cnn", "--format", "csv"])
    assert result.output == ('name,params,reference_shape,description\n'
                             f'notebook-cnn,53313,"[32, 32, 3]",{model_info("notebook-cnn").description}\n')


@pytest.mark.parametrize("name", ["kit-resnet", "plain-cnn"])
def test_centre_pooling_adds_the_middle_of_the_last_map(name):
    import keras

    model = create_model(name, (96, 96, 3), pooling="centre")
    crop = model.get_layer("centre_crop")
    assert tuple(crop.input.shape[1:3]) in ((3, 3), (6, 6))  # kit-resnet: stride 32; plain-cnn: 4 pools of 2
    side = crop.input.shape[1] // 3
    assert tuple(crop.output.shape[1:3]) == (side, side)
    # The centre features equal the mean of the middle third of the map, read off the map itself.
    probe = keras.Model(model.input, [crop.input, model.get_layer("centre_avg_pool").output])
    images = np.random.default_rng(0).uniform(0, 255, (2, 96, 96, 3)).astype("float32")
    feature_map, centre = (keras.ops.convert_to_numpy(t) for t in probe(images))
    np.testing.assert_allclose(centre, feature_map[:, side:2 * side, side:2 * side].mean(axis=(1, 2)), rtol=1e-5, atol=1e-6)
    plain_width = create_model(name, (96, 96, 3)).get_layer("logits").input.shape[-1]
    assert model.get_layer("logits").input.shape[-1] == plain_width * 3 // 2  # avg + max + centre
