"""``train()``: prepare if needed, split, fit each unit, score, write the run folder.

>>> run = train(get_competition("histopathologic-cancer-detection"), Workspace.resolve(), config)
>>> run.metrics["score"]
"""

from __future__ import annotations

import time
from dataclasses import fields
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np
import pandas as pd

from kaggle_kit.config import AugmentConfig, TrainConfig, layered_config
from kaggle_kit.errors import CacheError, TrainingError
from kaggle_kit.fsutil import write_csv_atomic, write_json_atomic, write_text_atomic
from kaggle_kit.runs import CONFIG_FILE, METRICS_FILE, Run, new_run_dir

if TYPE_CHECKING:
    from kaggle_kit.competitions import Competition
    from kaggle_kit.data.cache import PreparedData
    from kaggle_kit.paths import Workspace
    from kaggle_kit.training.loop import UnitResult
    from kaggle_kit.training.splits import Split


def train(
    competition: "Competition",
    workspace: "Workspace",
    config: TrainConfig | None = None,
    *,
    resume: str | None = None,
    progress: bool = True,
) -> Run:
    """Train ``config`` on ``competition`` into a new run folder, or finish run ``resume``.

    Resuming uses the run's saved ``config.yaml`` (``config`` is ignored) and
    continues each unit from its last finished epoch; a finished run is
    returned as it is.
    """
    from kaggle_kit.training.distributed import train_multiworker, wants_multiworker

    if wants_multiworker(workspace, competition.slug, config, resume):  # --strategy multiworker: every worker
        return train_multiworker(competition, workspace, config, resume=resume, progress=progress)
    if resume is not None:
        run = Run.open(workspace, competition.slug, resume)
        if run.complete:
            return run
        config = run.config
        prepared = prepared_data(competition, workspace, config, progress)
    elif config is None:
        raise TrainingError("train() needs a config, or resume= the id of a run to continue")
    else:
        prepared = prepared_data(competition, workspace, config, progress)  # first: no empty run if it fails
        run_dir = new_run_dir(workspace, competition.slug, config.model)
        write_text_atomic(run_dir / CONFIG_FILE, config.to_yaml())
        run = Run(competition.slug, run_dir.name, run_dir)
    train_prepared(run, config, competition.metric, prepared, progress=progress)
    from kaggle_kit.report import try_write_report

    try_write_report(run, workspace)  # report.html, the run's review page; a failure only logs a warning
    return run


def training_config(
    competition: "Competition",
    recipe: str = "default",
    config_file: str | None = None,
    options: Mapping[str, Any] | None = None,
) -> TrainConfig:
    """Defaults → the competition's recipe → ``config_file`` → ``options`` (flat, as the CLI gives them).

    Augmentation options (``rotation_range``, ``dihedral``…) may be given flat;
    they go under ``augment``. ``None`` (or an empty tuple) means "not given".
    """
    augment_names = {f.name for f in fields(AugmentConfig)}
    given = {k: v for k, v in (options or {}).items() if v is not None and v != ()}
    overrides = {k: v for k, v in given.items() if k not in augment_names}
    augment = {k: v for k, v in given.items() if k in augment_names}
    if augment:
        overrides["augment"] = augment
    return layered_config(competition.slug, competition.recipe(recipe), recipe, config_file, overrides)


def prepared_data(competition: "Competition", workspace: "Workspace", config: TrainConfig, progress: bool):
    """The cache the config asks for, built first when it is missing."""
    from kaggle_kit.data.prepare import PrepareOptions, load_prepared, prepare

    options = PrepareOptions.from_config(config)
    try:
        return load_prepared(competition, workspace, options)
    except CacheError:
        return prepare(competition, workspace, options, progress=progress)


def train_prepared(run: Run, config: TrainConfig, metric: str, prepared: "PreparedData", *, progress: bool = True):
    """Fit every unit of ``run`` on ``prepared`` and write its history, predictions, curves and metrics."""
    from kaggle_kit.training.splits import holdout_split, kfold_splits

    index = prepared.train_index
    if config.folds:
        splits = kfold_splits(index, config.folds, config.seed)
    else:
        splits = [holdout_split(index, config.val_fraction, config.seed)]
    class_weight = prepared.class_weight if config.balance == "class-weight" else None
    store = prepared.train_store()
    results = [
        _fit_split(run, config, metric, store, index, split, class_weight, progress)
        for split in splits
    ]
    _write_outputs(run, config, metric, index, splits, results)


def _fit_split(run: Run, config, metric, store, index, split: "Split", class_weight, progress) -> "UnitResult":
    from kaggle_kit.training.loop import UnitData, fit_unit

    labels = index["label"].to_numpy(dtype=np.float32)
    rows = index["row"].to_numpy(dtype=np.int64)
    data = UnitData(
        store=store,
        train_rows=rows[split.train],
        train_labels=labels[split.train],
        val_rows=rows[split.val],
        val_labels=labels[split.val],
        class_weight=class_weight,
    )
    unit_dir = run.path / f"fold-{split.fold}" if config.folds else run.path
    return fit_unit(unit_dir, config, metric, data, fold=split.fold, progress=progress)


def _write_outputs(run: Run, config: TrainConfig, metric: str, index: pd.DataFrame, splits, results) -> None:
    from kaggle_kit.plots import plot_learning_curves
    from kaggle_kit.training.callbacks import history_frame
    from kaggle_kit.training.distributed import batch_figures
    from kaggle_kit.training.scoring import competition_score, score_predictions

    folded = bool(config.folds)
    predictions = pd.concat(
        [
            pd.DataFrame({
                "id": index["id"].to_numpy()[split.val],
                "label": index["label"].to_numpy()[split.val].astype(int),
                "prob": result.val_probs,
                **({"fold": split.fold} if folded else {}),
            })
            for split, result in zip(splits, results)
        ],
        ignore_index=True,
    )
    history = pd.concat(
        [history_frame(r.state.history).assign(**({"fold": s.fold} if folded else {})) for s, r in zip(splits, results)],
        ignore_index=True,
    )
    scores = score_predictions(predictions["label"].to_numpy(), predictions["prob"].to_numpy())
    states = [r.state for r in results]
    metrics = {
        "metric": metric,
        "score": competition_score(metric, scores),
        **scores,
        # With folds: the mean best epoch and the epochs run summed over folds.
        "best_epoch": int(round(np.mean([s.best_epoch for s in states]))),
        "epochs_run": int(sum(s.epochs_done for s in states)),
        "stopped_early": any(s.stopped_early for s in states),
        "train_seconds": round(float(sum(s.train_seconds for s in states)), 1),
        "model": config.model,
        "image_size": config.image_size,
        **batch_figures(config),  # --batch-size is per replica: replicas, per-replica and global batch
        "n_train": int(len(np.unique(index["id"].to_numpy()[splits[0].train]))),
        "n_val": int(len(splits[0].val)) if not folded else int(len(predictions)),
        "folds": config.folds,
        "fold_scores": [float(s.best_score) for s in states] if folded else [],
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_csv_atomic(run.path / "history.csv", history)
    write_csv_atomic(run.path / "val_predictions.csv", predictions)
    plot_learning_curves(history, "auc" if metric == "auc" else "accuracy", run.path / "learning_curves.png")
    write_json_atomic(run.path / METRICS_FILE, metrics)  # last: its presence marks the run finished
