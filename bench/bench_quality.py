"""Model quality on REAL images, through the product's code path (prepare → pipeline → fit_unit).

    nice -n 10 python bench/bench_quality.py pcam --run baseline --run default
    nice -n 10 python bench/bench_quality.py galaxy --run baseline --run default

pcam: /work/shared/data/pcam-sample, trained on the ``train_*`` patches and
validated on the ``valid_*`` ones, which come from other slides (the honest
number; see the data README). baseline = the notebook recipe (notebook-cnn at
32×32), default = the competition's default recipe (96×96).

galaxy: /work/shared/data/galaxy-sample as the custom competition
bench/galaxy-sample.yaml, trained with ``kaggle_kit.train.train`` (stratified
hold-out validation); baseline = notebook-dense at 140×140 on the whole frame,
default = the generic custom-competition recipe plus the galaxy crop.

Prints one line per run: validation AUC and accuracy, epochs, wall and CPU
seconds (the machine is shared: CPU seconds / 2 is the wall time on an idle
2-core machine). Caches and runs go under --workspace and are reused.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

PCAM = Path(os.environ.get("KIT_PCAM_SAMPLE", "/work/shared/data/pcam-sample"))
GALAXY_SPEC = Path(__file__).resolve().parent / "galaxy-sample.yaml"


def pcam_competition():
    """pcam-sample as a competition: every patch is a training row; ``valid_*`` also form the test table."""
    from kaggle_kit.competitions import Competition, LabelTables
    from kaggle_kit.competitions._tables import attach_paths

    def build(raw: Path, options) -> LabelTables:
        labels = pd.read_csv(PCAM / "labels.csv", dtype={"id": str})
        train = attach_paths(labels[["id", "label"]], "id", PCAM / "images", ".jpg", PCAM / "labels.csv")
        valid = train[train["id"].str.startswith("valid_")].reset_index(drop=True)
        return LabelTables(train=train, test=valid[["id", "path"]],
                           sample_submission=pd.DataFrame({"id": valid["id"], "label": 0}))

    return Competition(
        slug="pcam-sample", title="PCam sample", source_kind="local", source_ref=str(PCAM),
        native_size=(96, 96), metric="auc", build_labels=build, check_layout=lambda raw: {},
        locally_scored=True, local_root=PCAM, description="bench only",
    )


def pcam_config(run: str, overrides: dict[str, Any]):
    from kaggle_kit.competitions.cancer import DEFAULT_RECIPE, NOTEBOOK_RECIPE
    from kaggle_kit.config import layered_config

    recipe = dict(NOTEBOOK_RECIPE if run == "baseline" else DEFAULT_RECIPE)
    # The sample is already balanced (48 % tumour) and validated on valid_*: no rebalancing, no cap, no split.
    for key in ("balance", "max_images", "val_fraction"):
        recipe.pop(key, None)
    return layered_config("pcam-sample", recipe, "notebook" if run == "baseline" else "default", overrides=overrides)


def run_pcam(workspace, run: str, overrides: dict[str, Any]) -> dict[str, Any]:
    from kaggle_kit.data.prepare import PrepareOptions, prepare
    from kaggle_kit.runfolder import UnitFolder
    from kaggle_kit.train import engine_for
    from kaggle_kit.training.engine import UnitData, fit_unit
    from kaggle_kit.training.scoring import score_predictions
    from kaggle_kit.training.task import make_task

    competition, config = pcam_competition(), pcam_config(run, overrides)
    started = time.perf_counter()
    prepared = prepare(competition, workspace, PrepareOptions(**config.data_settings()), progress=False)
    prepare_seconds = time.perf_counter() - started
    index = prepared.train_index
    held_out = index["id"].str.startswith("valid_").to_numpy()
    rows, labels = index["row"].to_numpy(np.int64), index["label"].to_numpy(np.float32)
    data = UnitData(prepared.train_store(), rows[~held_out], labels[~held_out], rows[held_out], labels[held_out])
    unit_dir = Path(workspace.runs_root("pcam-sample")) / f"{run}-{config.digest()}-{int(time.time())}"
    wall, cpu = time.perf_counter(), time.process_time()
    result = fit_unit(UnitFolder(unit_dir), config, make_task("auc"), data, engine_for(config), progress=False)
    scores = score_predictions(labels[held_out], result.val_probs)
    return summary("pcam", run, config, result.state, scores, wall, cpu, prepare_seconds, unit_dir)


def run_galaxy(workspace, run: str, overrides: dict[str, Any]) -> dict[str, Any]:
    from kaggle_kit.competitions import get_competition
    from kaggle_kit.competitions.galaxy import DEFAULT_RECIPE, NOTEBOOK_RECIPE
    from kaggle_kit.config import layered_config
    from kaggle_kit.train import prepared_data, train

    competition = get_competition(str(GALAXY_SPEC))
    if run == "baseline":
        recipe = {k: v for k, v in NOTEBOOK_RECIPE.items() if k != "max_images"}
        config = layered_config(competition.slug, recipe, "notebook", overrides=overrides)
    else:
        # The built-in galaxy-zoo-2 default recipe: the sample is the same kind of SDSS cutout.
        config = layered_config(competition.slug, DEFAULT_RECIPE, "default", overrides=overrides)
    started = time.perf_counter()
    prepared_data(competition, workspace, config, progress=False)
    prepare_seconds = time.perf_counter() - started
    wall, cpu = time.perf_counter(), time.process_time()
    trained = train(competition, workspace, config, progress=False)
    metrics = json.loads((trained.path / "metrics.json").read_text())
    scores = {k: metrics[k] for k in ("val_auc", "val_accuracy")}
    state = type("State", (), {"epochs_done": metrics["epochs_run"], "best_epoch": metrics["best_epoch"]})
    return summary("galaxy", run, config, state, scores, wall, cpu, prepare_seconds, trained.path)


def summary(task, run, config, state, scores, wall, cpu, prepare_seconds, where) -> dict[str, Any]:
    return {
        "task": task, "run": run, "model": config.model, "model_options": dict(config.model_options),
        "lr": config.lr, "early_stopping_patience": config.early_stopping_patience,
        "image_size": config.image_size, "crop": config.crop, "epochs": state.epochs_done,
        "best_epoch": state.best_epoch, "val_auc": round(scores["val_auc"], 4),
        "val_accuracy": round(scores["val_accuracy"], 4), "train_wall_s": round(time.perf_counter() - wall),
        "train_cpu_s": round(time.process_time() - cpu), "prepare_wall_s": round(prepare_seconds),
        "run_dir": str(where),
    }


def parse_settings(settings: list[str]) -> dict[str, Any]:
    """``["epochs=20", "augment.zoom_range=0.1"]`` → ``{"epochs": 20, "augment": {"zoom_range": 0.1}}``."""
    import yaml

    overrides: dict[str, Any] = {}
    for item in settings:
        key, _, value = item.partition("=")
        target = overrides
        *parents, leaf = key.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        parsed = yaml.safe_load(value)
        if isinstance(parsed, str):  # YAML 1.1 reads "2e-3" (no dot) as a string
            try:
                parsed = float(parsed)
            except ValueError:
                pass  # a genuine string value, e.g. optimizer=adam
        target[leaf] = parsed
    return overrides


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=("pcam", "galaxy"))
    parser.add_argument("--run", action="append", choices=("baseline", "default"), help="repeatable (default: both)")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                        help="override a recipe value (YAML value; augment.NAME for augmentation), repeatable")
    parser.add_argument("--workspace", default="/tmp/kit-bench-quality", help="data and runs go here (reused)")
    parser.add_argument("--results", default=None, help="append each result as a JSON line to this file")
    args = parser.parse_args()

    from kaggle_kit.paths import Workspace

    root = Path(args.workspace)
    workspace = Workspace.resolve(root / "data", root / "runs", root / "submissions")
    for run in args.run or ["baseline", "default"]:
        result = (run_pcam if args.task == "pcam" else run_galaxy)(workspace, run, parse_settings(args.settings))
        line = json.dumps(result)
        print(line, flush=True)
        if args.results:
            with open(args.results, "a", encoding="utf-8") as out:
                out.write(line + "\n")


if __name__ == "__main__":
    main()
