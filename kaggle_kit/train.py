"""``train()``: the life of a run — its folder, the cache, each unit's fit, the scores, the outputs.

One flow for every strategy. ``--strategy multiworker`` adds a cluster: the
chief (worker 0) creates or opens the run folder and sends the run id and
config to the others, which follow it and write into a temporary folder; only
the chief's files remain. The units are fitted by the engine the config asks
for (:mod:`kaggle_kit.training.engine`).

>>> run = train(get_competition("histopathologic-cancer-detection"), Workspace.resolve(), config)
>>> run.metrics["score"]
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

import numpy as np
import pandas as pd

from kaggle_kit.config import AugmentConfig, TrainConfig, layered_config
from kaggle_kit.errors import ConfigError, KitError, TrainingError
from kaggle_kit.pseudo import check_pseudo_label, pseudo_labels
from kaggle_kit.runfolder import RunFolder

if TYPE_CHECKING:
    from kaggle_kit.competitions import Competition
    from kaggle_kit.data.cache import PreparedData
    from kaggle_kit.data.prepare import PrepareOptions
    from kaggle_kit.paths import Workspace
    from kaggle_kit.pseudo import PseudoLabels
    from kaggle_kit.training.distributed import Cluster
    from kaggle_kit.training.engine import Engine, UnitResult
    from kaggle_kit.training.splits import Split
    from kaggle_kit.tasks import Task as TaskSpec
    from kaggle_kit.training.task import Task


def train(
    competition: "Competition",
    workspace: "Workspace",
    config: TrainConfig | None = None,
    *,
    resume: str | None = None,
    progress: bool = True,
) -> RunFolder:
    """Train ``config`` on ``competition`` into a new run folder, or finish run ``resume``.

    Resuming uses the run's saved ``config.yaml`` (``config`` is ignored) and
    continues each unit from its last finished epoch; a finished run is
    returned as it is. With ``strategy: multiworker`` run the same call on
    every worker of ``TF_CONFIG``; each returns the chief's run id (its folder
    exists on the chief, and on a shared disk).
    """
    from kaggle_kit.training.model import check_model

    if config is None and resume is None:
        raise TrainingError("train() needs a config, or resume= the id of a run to continue")
    if _wants_cluster(workspace, competition.slug, config, resume):
        return _train_on_cluster(competition, workspace, config, resume, progress)
    if resume is not None:
        run = RunFolder.open(workspace, competition.slug, resume)
        if run.complete:
            return run
        config = run.config
        prepared = prepared_data(competition, workspace, config, progress)
    else:
        check_model(config)  # a bad model, option or image size fails before the cache is built
        check_pseudo_label(competition, config)
        prepared = prepared_data(competition, workspace, config, progress)  # first: no empty run if it fails
        _tidy_runs(workspace, competition.slug)
        run = RunFolder.create(workspace, competition.slug, config)
    with run.training():
        pseudo = pseudo_labels(competition, workspace, config, prepared, progress)
        train_prepared(run, config, competition.metric, prepared, progress=progress, spec=competition.task,
                       derived=competition.derived_scores, pseudo=pseudo)
    _write_report(run, workspace)
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


def prepare_options(competition: "Competition", recipe: str = "default", labels_file: str | None = None,
                    **overrides: Any) -> "PrepareOptions":
    """The recipe's data settings with ``overrides`` on top (``None`` values ignored), as ``kit prepare`` uses them.

    >>> prepare_options(get_competition("galaxy-zoo-2"), image_size=64).crop
    0.5
    """
    from kaggle_kit.data.prepare import PrepareOptions

    config = layered_config(competition.slug, competition.recipe(recipe), recipe, overrides=overrides)
    return PrepareOptions(**config.data_settings(), labels_file=Path(labels_file) if labels_file else None)


def prepared_data(competition: "Competition", workspace: "Workspace", config: TrainConfig, progress: bool):
    """The cache the config asks for, built (again) when it is missing or its labels or images changed."""
    from kaggle_kit.data.prepare import PrepareOptions, prepare_current

    return prepare_current(competition, workspace, PrepareOptions(**config.data_settings()), progress=progress)


def train_prepared(run: RunFolder, config: TrainConfig, metric: str, prepared: "PreparedData", *,
                   progress: bool = True, engine: "Engine | None" = None, spec: "TaskSpec | None" = None,
                   derived: Callable[[np.ndarray, np.ndarray], dict[str, float]] | None = None,
                   pseudo: "PseudoLabels | None" = None) -> None:
    """Fit every unit of ``run`` on ``prepared`` and write its history, predictions, curves and metrics.

    ``spec`` is the competition's task (binary when not given); ``metric`` its metric;
    ``derived`` the competition's extra figures from validation predictions; ``pseudo``:
    pseudo-labelled test images added to every unit's training rows (never to validation).
    """
    from kaggle_kit.tasks import binary_task
    from kaggle_kit.training.engine import fit_unit
    from kaggle_kit.training.splits import holdout_split, kfold_splits
    from kaggle_kit.training.task import make_task

    spec = spec or binary_task()
    task = make_task(metric, spec)
    engine = engine or engine_for(config)
    index = prepared.train_index
    labels = spec.labels(index, source="the training index of the prepared cache")
    strata = spec.strata(labels)
    if config.folds:
        splits = kfold_splits(index, config.folds, config.seed, strata)
    else:
        splits = [holdout_split(index, config.val_fraction, config.seed, strata)]
    class_weight = prepared.class_weight if config.balance == "class-weight" else None
    store = prepared.train_store()
    if pseudo is not None:
        from kaggle_kit.data.cache import StackedStore

        store = StackedStore(store, prepared.test_store())  # test rows follow the training rows
    targets = spec.targets(labels)
    results = [
        fit_unit(run.unit(split.fold if config.folds else None), config, task,
                 _unit_data(store, index, targets, split, class_weight, pseudo), engine, fold=split.fold,
                 progress=progress)
        for split in splits
    ]
    _write_outputs(run, config, task, spec, engine, index, labels, splits, results, derived, pseudo)


def engine_for(config: TrainConfig, cluster: "Cluster | None" = None) -> "Engine":
    """The engine ``config.strategy`` asks for: the step loop on a multi-worker ``cluster``, else ``model.fit``."""
    if config.strategy == "multiworker":
        if cluster is None:
            raise TrainingError("strategy 'multiworker' runs through train(), which starts the cluster first")
        from kaggle_kit.training.steploop import StepLoopEngine

        return StepLoopEngine(cluster)
    from kaggle_kit.training.distributed import select_strategy
    from kaggle_kit.training.engine import FitEngine

    return FitEngine(select_strategy(config))


def _unit_data(store, index: pd.DataFrame, targets: np.ndarray, split: "Split", class_weight,
               pseudo: "PseudoLabels | None" = None):
    from kaggle_kit.training.engine import UnitData

    rows = index["row"].to_numpy(dtype=np.int64)
    train_rows, train_labels = rows[split.train], targets[split.train]
    if pseudo is not None:
        offset = len(store) - len(store.second)  # pseudo rows index the test store, stacked after the train store
        train_rows = np.concatenate([train_rows, pseudo.rows + offset])
        train_labels = np.concatenate([train_labels, pseudo.labels.astype(train_labels.dtype)])
    return UnitData(store=store, train_rows=train_rows, train_labels=train_labels,
                    val_rows=rows[split.val], val_labels=targets[split.val], class_weight=class_weight)


def _write_outputs(run: RunFolder, config: TrainConfig, task: "Task", spec: "TaskSpec", engine: "Engine",
                   index: pd.DataFrame, labels: np.ndarray, splits: list["Split"], results: list["UnitResult"],
                   derived: Callable[[np.ndarray, np.ndarray], dict[str, float]] | None = None,
                   pseudo: "PseudoLabels | None" = None) -> None:
    from kaggle_kit.figures import run_curves_png
    from kaggle_kit.runfolder import prediction_columns
    from kaggle_kit.training.callbacks import history_frame

    folded = bool(config.folds)
    predictions = pd.concat(
        [
            pd.DataFrame({
                "id": index["id"].to_numpy()[split.val],
                **_label_columns(spec, labels[split.val]),
                **dict(zip(prediction_columns(spec), np.asarray(result.val_probs).reshape(len(split.val), -1).T)),
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
    states = [r.state for r in results]
    val_labels = np.concatenate([labels[split.val] for split in splits])
    val_probs = np.concatenate([np.asarray(r.val_probs) for r in results])
    metrics = {
        "metric": task.metric,
        **_scores(task, spec, val_labels, val_probs),
        **(derived(val_labels, val_probs) if derived else {}),
        # With folds: the mean best epoch and the epochs run summed over folds.
        "best_epoch": int(round(np.mean([s.best_epoch for s in states]))),
        "epochs_run": int(sum(s.epochs_done for s in states)),
        "stopped_early": any(s.stopped_early for s in states),
        "train_seconds": round(float(sum(s.train_seconds for s in states)), 1),
        "model": config.model,
        "image_size": config.image_size,
        **engine.batch_figures(config),  # --batch-size is per replica: replicas, per-replica and global batch
        "n_train": int(len(np.unique(index["id"].to_numpy()[splits[0].train]))),
        "n_val": int(len(splits[0].val)) if not folded else int(len(predictions)),
        "folds": config.folds,
        "fold_scores": [float(s.best_score) for s in states] if folded else [],
        "n_pseudo": 0 if pseudo is None else int(len(pseudo.rows)),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    run.write_history(history)
    run.write_val_predictions(predictions)
    run.write_learning_curves(run_curves_png(history, ("loss", _curve_metric(task, history))))
    run.write_metrics(metrics)  # last: its presence marks the run finished


def _tidy_runs(workspace: "Workspace", slug: str) -> None:
    """Leftovers of runs killed mid-save (hidden checkpoint folders, up to a model each) go when the next run starts."""
    from kaggle_kit.runs import list_runs

    for run in list_runs(workspace, slug):
        run.tidy()


def _label_columns(spec: "TaskSpec", labels: np.ndarray) -> dict[str, np.ndarray]:
    """The validation rows' true labels as ``val_predictions.csv`` holds them (the label table's columns)."""
    labels = np.asarray(labels)
    if labels.ndim == 1:
        return {spec.label_columns[0]: labels.astype(int) if spec.has_classes else labels}
    return {name: labels[:, k] for k, name in enumerate(spec.label_columns)}


def _scores(task: "Task", spec: "TaskSpec", labels: np.ndarray, probs: np.ndarray) -> dict[str, Any]:
    """The validation scores ``metrics.json`` records. A binary task scored by AUC or accuracy keeps
    exactly the keys it always had; any other records its ``task`` and fitted ``thresholds`` too,
    and ``threshold`` is a binary task's cut (``None`` where no single cut applies)."""
    scores = task.score(labels, probs)
    if "thresholds" not in scores:
        return scores
    thresholds = scores["thresholds"]
    return {"task": spec.to_dict(), **scores, "threshold": thresholds[0] if spec.kind == "binary" else None}


def _curve_metric(task: "Task", history: pd.DataFrame) -> str:
    """The metric the learning curves show beside the loss: the monitored one."""
    name = task.monitor.removeprefix("val_")
    return name if f"val_{name}" in history.columns or name in history.columns else "loss"


def _write_report(run: RunFolder, workspace: "Workspace") -> None:
    from kaggle_kit.report import try_write_report

    try_write_report(run, workspace)  # report.html, the run's review page; a failure only logs a warning


# --- several workers (--strategy multiworker) ----------------------------------------------------
def _wants_cluster(workspace: "Workspace", slug: str, config: TrainConfig | None, resume: str | None) -> bool:
    """Whether this call joins a multi-worker cluster.

    A new run: when its config says so. A resumed run: when ``TF_CONFIG`` is
    set (the other workers have no run folder to read; the chief checks the
    run's saved config once the cluster is up, so no worker is left waiting),
    or else when its saved config says so (a cluster of one).
    """
    from kaggle_kit.training.distributed import check_tf_config

    if resume is None:
        return config.strategy == "multiworker"
    check_tf_config()
    return "TF_CONFIG" in os.environ or RunFolder.open(workspace, slug, resume).config.strategy == "multiworker"


def _train_on_cluster(competition: "Competition", workspace: "Workspace", config: TrainConfig | None,
                      resume: str | None, progress: bool) -> RunFolder:
    import tensorflow as tf

    from kaggle_kit.training.distributed import Cluster

    cluster = Cluster.start()
    with _run_of_this_worker(cluster, competition, workspace, config, resume) as (run, config, finished):
        if finished:  # resuming a run that already finished: nothing to do, as on one machine
            return run
        shown = progress and cluster.is_chief
        prepared = prepared_data(competition, workspace, config, shown)
        try:
            train_prepared(run, config, competition.metric, prepared, progress=shown,
                           engine=engine_for(config, cluster), spec=competition.task,
                           derived=competition.derived_scores,
                           pseudo=pseudo_labels(competition, workspace, config, prepared, shown))
        except tf.errors.UnavailableError:  # TensorFlow's heartbeat check: another worker stopped
            raise TrainingError(
                f"a worker of TF_CONFIG stopped during run {run.run_id}; restart every worker with "
                f"`kit train {competition.command_name} --resume {run.run_id}`"
            ) from None
        cluster.broadcast_json(run.complete)  # a barrier: no worker returns before the chief wrote the run
    if not cluster.is_chief:
        return RunFolder(competition.slug, run.run_id, workspace.runs_root(competition.slug) / run.run_id)
    _write_report(run, workspace)
    return run


@contextlib.contextmanager
def _run_of_this_worker(cluster: "Cluster", competition: "Competition", workspace: "Workspace",
                        config: TrainConfig | None, resume: str | None
                        ) -> Iterator[tuple[RunFolder, TrainConfig, bool]]:
    """The chief's run folder (new or resumed, held for training), a temporary one on the other workers;
    the chief's config; whether the run had already finished."""
    if not cluster.is_chief:
        shared = cluster.broadcast_json(None)
        if "error" in shared:
            raise TrainingError(f"the chief worker stopped: {shared['error']}")
        config = TrainConfig.from_dict(shared["config"], source="the chief worker's config")
        with tempfile.TemporaryDirectory(prefix=f"kit-worker{cluster.worker_index}-") as scratch:
            yield RunFolder(competition.slug, shared["run_id"], Path(scratch)), config, shared["finished"]
        return
    with contextlib.ExitStack() as stack:
        try:
            if resume is not None:
                run = RunFolder.open(workspace, competition.slug, resume)
                config = run.config
                if config.strategy != "multiworker":
                    raise ConfigError(f"run {resume} was trained with --strategy {config.strategy}, not multiworker; "
                                      "unset TF_CONFIG to resume it on one machine")
            else:
                from kaggle_kit.training.model import check_model

                check_model(config)  # after the cluster started: TensorFlow runs nothing before that
                run = RunFolder.create(workspace, competition.slug, config)
            stack.enter_context(run.training())
        except KitError as exc:  # tell the others, which would otherwise wait for the chief forever
            cluster.broadcast_json({"error": str(exc)})
            raise
        cluster.broadcast_json({"run_id": run.run_id, "config": config.to_dict(), "finished": run.complete})
        yield run, config, run.complete
