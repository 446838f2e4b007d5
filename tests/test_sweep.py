"""kit sweep: grid parsing and validation, the comparison table, and a real 2-point sweep."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from kaggle_kit.cli import cli
from kaggle_kit.competitions import get_competition
from kaggle_kit.config import TrainConfig, layered_config
from kaggle_kit.errors import ConfigError
from kaggle_kit.sweep import Axis, SweepResult, grid_points, parse_grid, point_config, table_lines

CANCER = "histopathologic-cancer-detection"
GALAXY = "galaxy-zoo-2"


def notebook_config(slug: str, **overrides) -> TrainConfig:
    competition = get_competition(slug)
    return layered_config(slug, competition.recipe("notebook"), "notebook", overrides=overrides)


# --- parsing ----------------------------------------------------------------------

def test_grid_values_take_each_keys_type():
    base = notebook_config(GALAXY)
    axes = parse_grid(["units=16,32", "lr=1e-3,0.0001", "extra_layer=true,no", "max_images=none,1000",
                       "augment.zoom_range=0,0.2", "model_options.dropout=0.2,0.5"], base)
    assert [axis.settings for axis in axes] == [
        ((16,), (32,)), ((0.001,), (0.0001,)), ((True,), (False,)), ((None,), (1000,)), ((0.0,), (0.2,)), ((0.2,), (0.5,)),
    ]
    assert type(axes[0].settings[0][0]) is int and type(axes[1].settings[0][0]) is float


def test_linked_keys_vary_together_for_l1_versus_l2():
    axes = parse_grid(["l1/l2=0.01/0,0/0.01", "dropout=0.2,0.5"], notebook_config(GALAXY))
    assert grid_points(axes) == [
        {"l1": 0.01, "l2": 0.0, "dropout": 0.2}, {"l1": 0.01, "l2": 0.0, "dropout": 0.5},
        {"l1": 0.0, "l2": 0.01, "dropout": 0.2}, {"l1": 0.0, "l2": 0.01, "dropout": 0.5},
    ]


def test_point_config_layers_the_point_over_the_recipe():
    base = notebook_config(CANCER, epochs=3)
    config = point_config(base, {"bn_momentum": 0.25, "lr": 0.01, "augment.zoom_range": 0.1})
    assert dict(config.model_options) == {"bn_position": "before", "bn_momentum": 0.25}  # recipe's bn_position kept
    assert (config.lr, config.epochs, config.augment.zoom_range, config.augment.fill_mode) == (0.01, 3, 0.1, "nearest")


def test_unknown_key_lists_the_models_options_first():
    with pytest.raises(ConfigError) as caught:
        parse_grid(["bn_momentum=0.5"], notebook_config(GALAXY))
    message = str(caught.value)
    assert message.startswith(
        "--grid key 'bn_momentum' is not an option; model 'notebook-dense' options: dropout, extra_layer, l1, l2, units; "
        "training options: adabn, balance, batch_size, crop,"
    )
    assert message.endswith("augmentation: augment.<option> (e.g. augment.zoom_range)")


@pytest.mark.parametrize(("specs", "message"), [
    (["units"], "--grid 'units' must look like key=v1,v2 (or k1/k2=a1/b1,a2/b2 to vary keys together)"),
    (["units=16,"], "--grid 'units=16,' must look like key=v1,v2 (or k1/k2=a1/b1,a2/b2 to vary keys together)"),
    (["units=16.5"], "--grid units must be a whole number (got '16.5')"),
    (["lr=fast"], "--grid lr must be a number (got 'fast')"),
    (["extra_layer=maybe"], "--grid extra_layer must be true or false (got 'maybe')"),
    (["units=16,16"], "--grid 'units=16,16' lists a value twice"),
    (["units=16", "units=32"], "--grid units is given twice; list all its values in one --grid"),
    (["l1/l2=0.01"], "--grid 'l1/l2=0.01': setting '0.01' needs 2 value(s) joined by '/', one per key"),
    (["lr=0.1,0"], "grid point lr=0.0: lr must be a positive learning rate below 10"),
    (["model/units=notebook-cnn/16"],
     "grid point model=notebook-cnn units=16: model 'notebook-cnn' has no option(s) units; "
     "its options are bn_momentum, bn_position"),
    ([], "a sweep needs at least one --grid key=v1,v2"),
])
def test_bad_grids_are_refused_before_training(specs, message):
    with pytest.raises(ConfigError) as caught:
        parse_grid(specs, notebook_config(GALAXY))
    assert str(caught.value) == message


def test_a_grid_over_models_refuses_options_the_recipe_set_for_another_model():
    with pytest.raises(ConfigError) as caught:
        parse_grid(["model=notebook-cnn,kit-resnet"], notebook_config(CANCER))
    assert str(caught.value).startswith(
        "grid point model=kit-resnet: model 'kit-resnet' has no option(s) bn_position; its options are "
    )


def test_a_bad_grid_is_a_one_line_cli_error_and_trains_nothing(workspace_env):
    result = CliRunner().invoke(cli, ["sweep", GALAXY, "--recipe", "notebook", "--grid", "units=16.5"])
    assert (result.exit_code, result.output) == (1, "Error: --grid units must be a whole number (got '16.5')\n")
    assert not workspace_env.runs_dir.exists()


# --- the table ----------------------------------------------------------------------

def test_table_lines_show_values_metrics_failures_and_the_best(tmp_path):
    table = pd.DataFrame([
        {"units": 16, "lr": 0.001, "score": 0.81234, "val_auc": 0.8, "val_accuracy": 0.75, "val_loss": 0.5,
         "threshold": 0.5, "best_epoch": 3, "epochs_run": 4, "run_id": "r1", "seconds": 12.34, "status": "ok"},
        {"units": 32, "lr": 0.001, "score": None, "val_auc": None, "val_accuracy": None, "val_loss": None,
         "threshold": None, "best_epoch": None, "epochs_run": None, "run_id": None, "seconds": 3.0,
         "status": "failed: training loss became NaN in epoch 1"},
        {"units": 64, "lr": 0.001, "score": 0.9, "val_auc": 0.9, "val_accuracy": 0.8, "val_loss": 0.4,
         "threshold": 0.45, "best_epoch": 2, "epochs_run": 2, "run_id": "r3", "seconds": 20.0, "status": "ok"},
    ])
    result = SweepResult(tmp_path, table, ["units", "lr"], tmp_path / "results.csv", None)
    assert table_lines(result) == [
        "units  lr     score   val_auc  val_accuracy  val_loss  seconds  run_id",
        "16     0.001  0.8123  0.8000   0.7500        0.5000    12.3     r1",
        "32     0.001  -       -        -             -         3.0      -",
        "64     0.001  0.9000  0.9000   0.8000        0.4000    20.0     r3",
        "units=32 lr=0.001: failed: training loss became NaN in epoch 1",
        "best: units=64 lr=0.001 (score 0.9000, run r3)",
        f"results: {tmp_path / 'results.csv'}",
    ]


# --- a real sweep ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def cli_sweep(cancer_raw, tmp_path_factory):
    """`kit sweep` of the cancer notebook recipe over BN placement: 2 points, 1 epoch each at 32 px."""
    root = tmp_path_factory.mktemp("sweep")
    args = ["sweep", CANCER, "--recipe", "notebook", "--grid", "bn_position=before,after", "--epochs", "1",
            "--image-size", "32", "--batch-size", "16", "--max-images", "48", "--quiet",
            "--data-dir", str(root / "data"), "--runs-dir", str(root / "runs"), "--raw-dir", str(cancer_raw)]
    result = CliRunner().invoke(cli, args)
    return result, root / "runs" / CANCER


def test_sweep_trains_each_point_and_prints_the_table(cli_sweep):
    result, _ = cli_sweep
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:2] == ["[1/2] bn_position=before", "[2/2] bn_position=after"]
    assert lines[2].split() == ["bn_position", "score", "val_auc", "val_accuracy", "val_loss", "seconds", "run_id"]
    assert [line.split()[0] for line in lines[3:5]] == ["before", "after"]
    assert lines[5].startswith("best: bn_position=")
    assert lines[6].startswith("results: ") and lines[7].startswith("curves: ") and len(lines) == 8


def test_sweep_saves_results_with_runs_that_hold_each_points_config(cli_sweep):
    _, runs_root = cli_sweep
    (folder,) = runs_root.glob("sweep-*")
    results = pd.read_csv(folder / "results.csv")
    assert list(results.columns) == ["bn_position", "score", "val_auc", "val_accuracy", "val_loss", "threshold",
                                     "best_epoch", "epochs_run", "run_id", "seconds", "status"]
    assert results["bn_position"].tolist() == ["before", "after"] and set(results["status"]) == {"ok"}
    for row in results.itertuples():
        config = TrainConfig.from_yaml(runs_root / row.run_id / "config.yaml")
        assert dict(config.model_options) == {"bn_position": row.bn_position, "bn_momentum": 0.99}
        assert (config.epochs, config.image_size, config.recipe) == (1, 32, "notebook")
        assert 0.0 <= row.score <= 1.0 and row.seconds > 0
        assert (runs_root / row.run_id / "report.html").is_file()  # train() ends with the run's report


def test_sweep_draws_one_learning_curve_plot_and_stays_out_of_run_listings(cli_sweep):
    from PIL import Image

    from kaggle_kit.paths import Workspace
    from kaggle_kit.runs import list_runs

    _, runs_root = cli_sweep
    (folder,) = runs_root.glob("sweep-*")
    with Image.open(folder / "learning_curves.png") as plot:
        assert plot.format == "PNG" and plot.width > 400
    workspace = Workspace.resolve(runs_dir=runs_root.parent)
    assert [run.run_id for run in list_runs(workspace, CANCER)] == sorted(pd.read_csv(folder / "results.csv")["run_id"])


def test_every_axis_setting_is_a_tuple_per_key():
    axis = parse_grid(["augment.horizontal_flip/augment.vertical_flip=true/false,false/true"], notebook_config(CANCER))[0]
    assert axis == Axis(("augment.horizontal_flip", "augment.vertical_flip"), ((True, False), (False, True)))
