"""Score the prepared test set with trained runs: TTA, K-fold and ensemble averaging.

Each run predicts through its own preprocessing: the cache prepared with its
``image_size``/``crop`` (``PrepareOptions(**run.config.data_settings())``) read through
the one shared pipeline (``make_dataset(..., training=False)``), so predict sees
exactly what evaluation saw. Probabilities are averaged over, in turn, the TTA
views of a batch, the run's fold models, and the runs of an ensemble. With
``adabn`` each model's BatchNorm statistics are first re-estimated on the test
images themselves (``kaggle_kit.adabn``: unlabelled domain adaptation).

>>> path = predict(get_competition("histopathologic-cancer-detection"), workspace, ["run-1"], tta="dihedral")
>>> path.name
'test_predictions-dihedral.csv'
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from kaggle_kit.competitions.custom import check_slug_owner
from kaggle_kit.errors import SubmissionError, UnknownNameError
from kaggle_kit.fsutil import write_csv_atomic
from kaggle_kit.runfolder import check_run_id, load_model, prediction_suffix, test_predictions_name

if TYPE_CHECKING:
    import pandas as pd

    from kaggle_kit.competitions import Competition
    from kaggle_kit.paths import Workspace
    from kaggle_kit.runfolder import RunFolder

# Views per TTA mode, as indices of ``data.augment.dihedral_transform`` (the augmenter's numbering):
# 0 identity, 4 left-right flip, 6 up-down flip (flip + half turn), 2 half turn (both flips).
TTA_VIEWS = {"none": (0,), "flips": (0, 4, 6, 2), "dihedral": tuple(range(8))}
# The default: the views the runs' augmentation made them blind to (``resolve_tta``).
AUTO_TTA = "auto"
TTA_MODES = (AUTO_TTA, *TTA_VIEWS)
ENSEMBLES_FOLDER = "_ensembles"
MAX_NAME = 120  # longest ensemble name spelled out in full


def predict(
    competition: "Competition",
    workspace: "Workspace",
    run_ids: Sequence[str],
    tta: str = AUTO_TTA,
    batch_size: int | None = None,
    *,
    adabn: bool | None = None,
    progress: bool = True,
) -> Path:
    """Write ``test_predictions[-tta][-adabn].csv`` (``id,prob``, or ``id`` and ``pred_<name>`` per output,
    in sample_submission order); return its path.

    One run writes into its own folder; several runs (an ensemble, probabilities
    averaged) write into ``runs/<slug>/_ensembles/<a>+<b>/``. ``batch_size``
    defaults to each run's training batch size and counts model inputs, TTA views
    included, so memory stays where training had it. ``tta`` ``auto`` averages the
    views the runs were trained to be blind to (:func:`resolve_tta`). ``adabn``
    re-estimates each model's BatchNorm statistics on the test images first (``None``: the runs'
    recipe says, :func:`resolve_adabn`).
    """
    check_slug_owner(competition, workspace)
    check_tta(tta)
    runs = open_runs(workspace, competition.slug, run_ids)
    tta = resolve_tta(tta, runs)
    adabn = resolve_adabn(adabn, runs)
    views = tta_views(tta)
    frames = [run_probabilities(competition, workspace, run_id, run, views, batch_size, progress, adabn=adabn)
              for run_id, run in runs.items()]
    averaged = average_members(frames, list(runs))
    if len(runs) == 1:
        (run,) = runs.values()
        return run.write_test_predictions(averaged, tta, adabn)
    target = predictions_path(workspace, competition.slug, run_ids, tta, adabn)
    write_csv_atomic(target, averaged)  # an ensemble's folder: not a run, no run folder to own it
    return target


def ensure_predictions(
    competition: "Competition", workspace: "Workspace", run_ids: Sequence[str], tta: str = AUTO_TTA, *,
    adabn: bool | None = None, **predict_options
) -> Path:
    """The predictions file for these runs, TTA and AdaBN, predicting first (with ``predict_options``)
    when it is missing, or older than any of the runs' models (a resumed or retrained run) or
    than the cache of the test images as they are now (labels or images changed since)."""
    from kaggle_kit.data.cache import MANIFEST
    from kaggle_kit.data.prepare import PrepareOptions, prepare_current

    check_slug_owner(competition, workspace)
    runs = open_runs(workspace, competition.slug, run_ids)
    tta = resolve_tta(tta, runs)
    adabn = resolve_adabn(adabn, runs)
    target = predictions_path(workspace, competition.slug, run_ids, tta, adabn)
    inputs = [path for run in runs.values() for path in run.model_paths()]
    progress = predict_options.get("progress", True)
    for run in runs.values():
        options = PrepareOptions(**run.config.data_settings())
        cache = prepare_current(competition, workspace, options, progress=progress)
        inputs.append(cache.root / MANIFEST)
    if target.is_file() and target.stat().st_mtime >= max(path.stat().st_mtime for path in inputs):
        return target
    return predict(competition, workspace, run_ids, tta, adabn=adabn, **predict_options)


def resolve_tta(tta: str, runs: dict[str, "RunFolder"]) -> str:
    """``auto``: the views every run was trained to be blind to — ``dihedral`` when all trained with
    ``dihedral``, ``flips`` when all with both flips, else ``none``. Other modes are kept as given."""
    if check_tta(tta) != AUTO_TTA:
        return tta
    augments = [run.config.augment for run in runs.values()]
    if all(a.dihedral for a in augments):
        return "dihedral"
    if all(a.dihedral or (a.horizontal_flip and a.vertical_flip) for a in augments):
        return "flips"
    return "none"


def resolve_adabn(adabn: bool | None, runs: dict[str, "RunFolder"]) -> bool:
    """``adabn`` as given, or (``None``) what the runs' recipes ask for: AdaBN when every run's ``adabn`` is on."""
    if adabn is not None:
        return adabn
    return all(run.config.adabn for run in runs.values())


def check_tta(tta: str) -> str:
    if tta not in TTA_MODES:
        raise UnknownNameError("TTA mode", tta, list(TTA_MODES))
    return tta


def tta_views(tta: str) -> tuple[int, ...]:
    if tta not in TTA_VIEWS:
        raise UnknownNameError("TTA mode", tta, list(TTA_VIEWS))
    return TTA_VIEWS[tta]


def canonical_run_ids(run_ids: Sequence[str]) -> list[str]:
    """Run ids without repeats, sorted: the same runs name the same ensemble in any order."""
    unique = sorted(set(run_ids))
    if not unique:
        raise SubmissionError("no run given; pass --run RUN (repeat it to average several runs)")
    for run_id in unique:
        check_run_id(run_id)  # a folder under runs/<slug>/, never a path out of it
    return unique


def ensemble_name(run_ids: Sequence[str]) -> str:
    """``run``, or ``a+b`` for an ensemble; a long list becomes ``ensemble<N>-<hash>`` (file names
    stop at 255 bytes)."""
    ids = canonical_run_ids(run_ids)
    joined = "+".join(ids)
    if len(joined) <= MAX_NAME:
        return joined
    return f"ensemble{len(ids)}-{hashlib.sha256(joined.encode()).hexdigest()[:12]}"


def prediction_name(run_ids: Sequence[str], tta: str = "none", adabn: bool = False) -> str:
    """The ensemble's name with the prediction options' suffix (``run-dihedral-adabn``)."""
    tta_views(tta)
    return ensemble_name(run_ids) + prediction_suffix(tta, adabn)


def predictions_path(workspace: "Workspace", slug: str, run_ids: Sequence[str], tta: str = "none",
                     adabn: bool = False) -> Path:
    tta_views(tta)
    ids = canonical_run_ids(run_ids)
    root = workspace.runs_root(slug)
    folder = root / ids[0] if len(ids) == 1 else root / ENSEMBLES_FOLDER / ensemble_name(ids)
    return folder / test_predictions_name(tta, adabn)


def open_runs(workspace: "Workspace", slug: str, run_ids: Sequence[str]) -> dict[str, "RunFolder"]:
    """The runs by id, all of this competition (``RunFolder.open`` looks only under ``runs/<slug>/``)."""
    from kaggle_kit.runfolder import RunFolder

    return {run_id: RunFolder.open(workspace, slug, run_id) for run_id in canonical_run_ids(run_ids)}


def run_probabilities(
    competition: "Competition",
    workspace: "Workspace",
    run_id: str,
    run: "RunFolder",
    views: tuple[int, ...],
    batch_size: int | None = None,
    progress: bool = True,
    *,
    adabn: bool = False,
) -> "pd.DataFrame":
    """``id`` and the predictions (``prob``, or ``pred_<name>`` per output: ``runfolder.prediction_columns``)
    for every test image: the run's fold models averaged, each over the TTA views (each model's
    BatchNorm statistics first re-estimated on the readable test images with ``adabn``).

    Unreadable test images (``readable=0`` in the cache) get the training prevalence
    (class frequencies, label or target means): the model never saw them, and the
    prior is the least wrong answer.
    """
    import pandas as pd

    from kaggle_kit.data.pipeline import make_dataset
    from kaggle_kit.data.prepare import PrepareOptions, prepare_current
    from kaggle_kit.runfolder import prediction_columns

    task = competition.task
    # The cache as the raw files are now: test images replaced since training are predicted as they are.
    prepared = prepare_current(competition, workspace, PrepareOptions(**run.config.data_settings()), progress=progress)
    index = prepared.test_index
    readable = index["readable"].astype(bool).to_numpy()
    prior = task.prevalence(task.labels(prepared.train_index, source=f"the training index of {prepared.root}"))
    columns = prediction_columns(task)
    probs = np.tile(np.asarray(prior, dtype=np.float64).reshape(1, -1), (len(index), 1)).reshape(len(index), -1)
    if readable.any():
        images_per_step = batch_size or run.config.batch_size
        per_batch = max(1, images_per_step // len(views))
        rows = index["row"].to_numpy()[readable]
        dataset = make_dataset(prepared.test_store(), rows, None, per_batch, training=False)
        models = [load_model(path) for path in run.model_paths()]
        if adabn:
            from kaggle_kit.adabn import adapt_batchnorm

            statistics_batches = make_dataset(prepared.test_store(), rows, None, run.config.batch_size, training=False)
            for model in models:
                adapt_batchnorm(model, statistics_batches)
        label = f"predict {run_id}" + (f" ×{len(views)} TTA" if len(views) > 1 else "")
        predicted = average_over_models(models, dataset, views, len(rows), label, progress, task.activation)
        probs[readable] = predicted.reshape(len(rows), -1)
    return pd.DataFrame({"id": index["id"].astype(str).to_numpy(), **dict(zip(columns, probs.T))})


def average_over_models(models: list, dataset, views: tuple[int, ...], total: int, label: str, progress: bool,
                        activation: str = "sigmoid") -> np.ndarray:
    """One pass over the test images; each batch goes through every model and every view."""
    from tqdm.auto import tqdm

    forwards = [tta_forward(model, views, activation) for model in models]
    chunks = []
    with tqdm(total=total, unit="img", desc=label, disable=not progress, leave=False) as bar:
        for images in dataset:
            chunks.append(np.mean([forward(images).numpy() for forward in forwards], axis=0))
            bar.update(int(images.shape[0]))
    return np.concatenate(chunks).astype(np.float64)


def tta_forward(model, views: tuple[int, ...], activation: str = "sigmoid"):
    """A compiled function: a batch → its predictions averaged over the TTA ``views``.

    The views are stacked into one model call (one large batch beats several small
    ones on CPU and GPU alike), then split back and averaged as probabilities
    (after the sigmoid or softmax, never as logits) or, for a regression, as values.
    """
    import tensorflow as tf

    from kaggle_kit.data.augment import dihedral_transform

    # Any batch size, one trace: the last, smaller batch must not compile the model a second time.
    batch_of_images = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)
    outputs = int(model.output_shape[-1])
    activate = {"sigmoid": tf.sigmoid, "softmax": tf.nn.softmax, "linear": tf.identity}[activation]

    @tf.function(input_signature=[batch_of_images])
    def forward(images):
        stacked = tf.concat([dihedral_transform(images, view) for view in views], axis=0)
        logits = tf.cast(model(stacked, training=False), tf.float32)
        per_view = tf.reshape(activate(logits), (len(views), -1) if outputs == 1 else (len(views), -1, outputs))
        return tf.reduce_mean(per_view, axis=0)

    return forward


def average_members(frames: list["pd.DataFrame"], run_ids: list[str]) -> "pd.DataFrame":
    """Average the runs' prediction frames (same ids in the same order, same columns), refusing NaN."""
    first = frames[0]
    for frame, run_id in zip(frames[1:], run_ids[1:]):
        if not np.array_equal(frame["id"].to_numpy(), first["id"].to_numpy()):
            raise SubmissionError(
                f"run {run_id} predicts a different test set than run {run_ids[0]}; "
                "re-run 'kit prepare' so both use the same label tables"
            )
        if list(frame.columns) != list(first.columns):
            raise SubmissionError(f"run {run_id} predicts {','.join(frame.columns[1:])}, run {run_ids[0]} "
                                  f"{','.join(first.columns[1:])}; ensemble runs of the same task only")
    values = list(first.columns[1:])
    averaged = first.assign(**{c: np.mean([frame[c].to_numpy() for frame in frames], axis=0) for c in values})
    bad = int((~np.isfinite(averaged[values].to_numpy())).any(axis=1).sum())
    if bad:
        raise SubmissionError(
            f"runs {', '.join(run_ids)} predicted {bad} NaN/inf probabilities on the test set; nothing was "
            "written: the model is broken (look for a NaN loss in history.csv and retrain)"
        )
    return averaged
