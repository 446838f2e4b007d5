"""The run folder ``runs/<slug>/<run-id>/``: the one module that reads and writes its files.

Layout (docs/architecture.md, "Run folder"): ``config.yaml`` (written first: the
run can be resumed or reproduced from it), ``best.keras`` (or
``fold-<k>/best.keras``), the resumable ``checkpoints/epoch-NNNN/`` (``model.keras``
+ ``state.json``) of each unit, ``history.csv``, ``val_predictions.csv``,
``learning_curves.png``, ``metrics.json`` (written last, fsynced: its presence
means the run finished), then ``report.html`` and ``test_predictions[-tta].csv``.
A *unit* is what one model is trained on: the hold-out (the run folder itself)
or one fold (``fold-<k>/``).

>>> run = RunFolder.open(workspace, "histopathologic-cancer-detection", "20260101-120000-kit-resnet")
>>> run.metrics["score"], run.model_paths()
"""

from __future__ import annotations

import contextlib
import json
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from kaggle_kit.config import TrainConfig
from kaggle_kit.csvread import read_csv
from kaggle_kit.errors import RunNotFoundError, TrainingError
from kaggle_kit.fsutil import (
    atomic_dir,
    atomic_path,
    locked,
    remove_stale_partials,
    write_bytes_atomic,
    write_csv_atomic,
    write_json_atomic,
    write_text_atomic,
)

if TYPE_CHECKING:
    import keras
    import pandas as pd

    from kaggle_kit.paths import Workspace
    from kaggle_kit.tasks import Task

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.json"
BEST_MODEL = "best.keras"
HISTORY_FILE = "history.csv"
VAL_PREDICTIONS_FILE = "val_predictions.csv"
LEARNING_CURVES_FILE = "learning_curves.png"
REPORT_FILE = "report.html"
CHECKPOINTS = "checkpoints"
CHECKPOINT_MODEL = "model.keras"
CHECKPOINT_STATE = "state.json"
LOCK_FILE = ".train.lock"
RUN_ID_TIME = "%Y%m%d-%H%M%S"

# What every reader of metrics.json relies on (train writes more: docs/architecture.md).
REQUIRED_METRICS = ("metric", "score", "threshold", "best_epoch", "epochs_run", "train_seconds", "model",
                    "image_size", "folds")
VAL_PREDICTION_COLUMNS = ("id", "label", "prob")  # a binary task's; then "fold" with folds
PREDICTION_PREFIX = "pred_"  # other tasks: id, the label columns, then pred_<name> per output[, fold]


def prediction_columns(task: "Task") -> tuple[str, ...]:
    """The prediction columns of ``val_predictions.csv``: ``prob`` for a binary task, else
    ``pred_<name>`` per output (class, label column, target)."""
    if task.kind == "binary":
        return ("prob",)
    return tuple(PREDICTION_PREFIX + name for name in task.names)


def check_run_id(run_id: str) -> str:
    """``run_id`` when it names a folder directly under ``runs/<slug>/``; a path (``../x``, ``a/b``) or a
    name longer than a file name can be is refused."""
    if (not run_id or run_id in (".", "..") or "/" in run_id or "\\" in run_id or run_id.startswith(".")
            or len(run_id.encode()) > 255):  # longer than any file name: stat would fail, not say "no run"
        raise RunNotFoundError(f"'{run_id}' is not a run id; pass the name of a folder in runs/<slug>/ (see 'kit runs')")
    return run_id


@dataclass(frozen=True)
class UnitFolder:
    """One unit's files: its best model, resumable checkpoints and per-epoch history."""

    path: Path

    @property
    def best_model_path(self) -> Path:
        return self.path / BEST_MODEL

    def save_best(self, model: "keras.Model") -> None:
        """``best.keras``, replaced atomically (Keras insists on the ``.keras`` ending of the temporary file)."""
        save_model(model, self.best_model_path)

    def save_checkpoint(self, model: "keras.Model", state: dict[str, Any]) -> Path:
        """The epoch's checkpoint (model with its optimizer, and the loop's ``state``) as one folder
        renamed into place and fsynced; older epochs are removed after."""
        target = self.path / CHECKPOINTS / f"epoch-{int(state['epochs_done']):04d}"
        with atomic_dir(target, durable=True) as tmp:
            model.save(tmp / CHECKPOINT_MODEL)
            write_json_atomic(tmp / CHECKPOINT_STATE, state)
        for older in self._complete_checkpoints()[:-1]:
            shutil.rmtree(older, ignore_errors=True)
        return target

    def latest_checkpoint(self) -> tuple[Path, dict[str, Any]] | None:
        """The newest complete checkpoint's model path and loop state, or ``None`` before the first epoch."""
        complete = self._complete_checkpoints()
        if not complete:
            return None
        newest = complete[-1]
        try:
            state = json.loads((newest / CHECKPOINT_STATE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RunNotFoundError(f"checkpoint {newest} is unreadable ({exc}); delete that folder and resume again")
        return newest / CHECKPOINT_MODEL, state

    def write_history(self, history: "pd.DataFrame") -> None:
        write_csv_atomic(self.path / HISTORY_FILE, history)

    def remove_stale_partials(self) -> None:
        """What a kill mid-save left behind (hidden temporary models and checkpoint folders)."""
        remove_stale_partials(self.path)
        remove_stale_partials(self.path / CHECKPOINTS)

    def _complete_checkpoints(self) -> list[Path]:
        # Temporary folders start with "." (atomic_dir), so only renamed, complete ones match.
        root = self.path / CHECKPOINTS
        if not root.is_dir():
            return []
        return sorted(p for p in root.glob("epoch-*")
                      if (p / CHECKPOINT_STATE).is_file() and (p / CHECKPOINT_MODEL).is_file())


@dataclass(frozen=True)
class RunFolder:
    """One run folder; every file of a run is read and written through it."""

    slug: str
    run_id: str
    path: Path

    # --- finding and creating ------------------------------------------------------------------
    @classmethod
    def create(cls, workspace: "Workspace", slug: str, config: TrainConfig, now: datetime | None = None) -> "RunFolder":
        """A new ``runs/<slug>/<time>-<model>`` (``-2``, ``-3``… when taken) with ``config.yaml`` written first."""
        now = now or datetime.now(timezone.utc)
        path = create_unique_dir(workspace.runs_root(slug), f"{now.strftime(RUN_ID_TIME)}-{config.model}")
        run = cls(slug, path.name, path)
        run.write_config(config)
        return run

    @classmethod
    def open(cls, workspace: "Workspace", slug: str, run_id: str) -> "RunFolder":
        """The run ``run_id`` of ``slug``: a folder directly under ``runs/<slug>/``, trained for ``slug``.

        A path (``../other/RUN``), a link out of the runs folder, or another
        competition's run is refused; a missing run names the runs folder.
        """
        root = workspace.runs_root(slug)
        path = root / check_run_id(run_id)
        if not (path / CONFIG_FILE).is_file():
            known = ", ".join(run_ids(root)[-5:]) or "none yet"
            raise RunNotFoundError(f"no run '{run_id}' of {slug} in {root} (recent: {known}); see `kit runs {slug}`")
        if path.resolve().parent != root.resolve():
            raise RunNotFoundError(f"run '{run_id}' links to {path.resolve()}, outside {root}; "
                                   "pass a run of this competition (see `kit runs`)")
        run = cls(slug, run_id, path)
        trained_for = run.config.competition
        if trained_for != slug:
            raise RunNotFoundError(f"run '{run_id}' in {root} was trained for {trained_for}, not {slug}; "
                                   f"use it with `kit ... {trained_for}`")
        return run

    @classmethod
    def at(cls, path: str | Path) -> "RunFolder":
        """The run folder at ``path`` (what ``kit report PATH`` takes); its slug from its config."""
        path = Path(path)
        if not path.is_dir():
            raise RunNotFoundError(f"run folder {path} does not exist; list runs with 'kit runs SLUG'")
        if not (path / CONFIG_FILE).is_file():
            raise RunNotFoundError(f"{path} is not a run folder (no {CONFIG_FILE}); list runs with 'kit runs SLUG'")
        return cls(TrainConfig.from_yaml(path / CONFIG_FILE).competition, path.name, path)

    # --- reading -------------------------------------------------------------------------------
    @property
    def config(self) -> TrainConfig:
        return TrainConfig.from_yaml(self.path / CONFIG_FILE)

    @property
    def complete(self) -> bool:
        return (self.path / METRICS_FILE).is_file()

    @property
    def metrics(self) -> dict[str, Any] | None:
        """``metrics.json``, or ``None`` while the run is unfinished; an unreadable one is a ``RunNotFoundError``."""
        path = self.path / METRICS_FILE
        if not path.is_file():
            return None
        try:
            metrics = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise RunNotFoundError(f"{path} is unreadable ({type(exc).__name__}); resume the run with "
                                   f"`kit train {self.slug} --resume {self.run_id}` after deleting it") from None
        missing = [key for key in REQUIRED_METRICS if key not in metrics] if isinstance(metrics, dict) else ["all"]
        if missing:
            raise RunNotFoundError(f"{path} lacks {', '.join(missing)}; resume the run with "
                                   f"`kit train {self.slug} --resume {self.run_id}` after deleting it")
        return metrics

    def history(self) -> "pd.DataFrame | None":
        import pandas as pd

        path = self.path / HISTORY_FILE
        return pd.read_csv(path) if path.is_file() else None

    def val_predictions(self) -> "pd.DataFrame":
        """``id,label,prob[,fold]`` of the validation images (out of fold with folds) for a binary task;
        ``id``, the label columns and ``pred_<name>`` columns for the others."""
        path = self.path / VAL_PREDICTIONS_FILE
        if not path.is_file():
            raise RunNotFoundError(f"run folder {self.path} lacks {VAL_PREDICTIONS_FILE}; the run did not finish: "
                                   f"resume it with `kit train {self.slug} --resume {self.run_id}`")
        frame = read_csv(path)  # ids as written: NA, None, null are ids
        if any(c.startswith(PREDICTION_PREFIX) for c in frame.columns) and "id" in frame.columns:
            return frame
        missing = set(VAL_PREDICTION_COLUMNS) - set(frame.columns)
        if missing:
            raise RunNotFoundError(f"{path} lacks column(s) {', '.join(sorted(missing))}; train the run again")
        return frame.assign(label=frame["label"].astype(int), prob=frame["prob"].astype(float))

    def unit(self, fold: int | None = None) -> UnitFolder:
        """The hold-out unit (the run folder itself) or fold ``fold``'s."""
        return UnitFolder(self.path if fold is None else self.path / f"fold-{fold}")

    def best_models(self) -> dict[int | None, Path]:
        """``{None: best.keras}``, or ``{k: fold-<k>/best.keras}`` per fold; empty before any best model."""
        single = self.unit().best_model_path
        if single.is_file():
            return {None: single}
        folds = {}
        for path in sorted(self.path.glob(f"fold-*/{BEST_MODEL}")):
            suffix = path.parent.name.removeprefix("fold-")
            if suffix.isdigit():
                folds[int(suffix)] = path
        return dict(sorted(folds.items()))

    def model_paths(self) -> list[Path]:
        """The best model of the run (one per fold with ``--folds``)."""
        paths = list(self.best_models().values())
        if not paths:
            raise RunNotFoundError(
                f"run {self.run_id} has no {BEST_MODEL} in {self.path}; finish it with "
                f"`kit train {self.slug} --resume {self.run_id}`"
            )
        return paths

    def test_predictions_path(self, tta: str = "none", adabn: bool = False) -> Path:
        return self.path / test_predictions_name(tta, adabn)

    @property
    def report_path(self) -> Path:
        return self.path / REPORT_FILE

    # --- writing ---------------------------------------------------------------------------------
    def write_config(self, config: TrainConfig) -> None:
        write_text_atomic(self.path / CONFIG_FILE, config.to_yaml())

    def write_history(self, history: "pd.DataFrame") -> None:
        write_csv_atomic(self.path / HISTORY_FILE, history)

    def write_val_predictions(self, predictions: "pd.DataFrame") -> None:
        columns = list(predictions.columns)
        expected = [*VAL_PREDICTION_COLUMNS, *(["fold"] if "fold" in columns else [])]
        other_task = columns[:1] == ["id"] and any(c.startswith(PREDICTION_PREFIX) for c in columns)
        if columns != expected and not other_task:
            raise TrainingError(f"validation predictions need the columns {','.join(expected)} (or id, the label "
                                f"columns and {PREDICTION_PREFIX}<name> ones), got {','.join(columns)}")
        write_csv_atomic(self.path / VAL_PREDICTIONS_FILE, predictions)

    def write_learning_curves(self, png: bytes) -> None:
        write_bytes_atomic(self.path / LEARNING_CURVES_FILE, png)

    def write_metrics(self, metrics: dict[str, Any]) -> None:
        """``metrics.json``, written last: its presence marks the run finished (fsynced, so it survives a crash)."""
        missing = [key for key in REQUIRED_METRICS if key not in metrics]
        if missing:
            raise TrainingError(f"metrics of run {self.run_id} lack {', '.join(missing)}")
        write_json_atomic(self.path / METRICS_FILE, {k: _plain(v) for k, v in metrics.items()})

    def write_report(self, html: str) -> Path:
        write_text_atomic(self.report_path, html)
        return self.report_path

    def write_test_predictions(self, frame: "pd.DataFrame", tta: str = "none", adabn: bool = False) -> Path:
        target = self.test_predictions_path(tta, adabn)
        write_csv_atomic(target, frame)
        return target

    @contextlib.contextmanager
    def training(self) -> Iterator["RunFolder"]:
        """Hold the run for training: a second process training it fails; leftovers of a killed one are removed."""
        with locked(self.path / LOCK_FILE, wait=False) as held:
            if not held:
                raise TrainingError(f"run {self.run_id} is being trained by another process ({self.path}); "
                                    "wait for it to finish, or stop it first")
            self._remove_stale_partials()
            yield self

    def tidy(self) -> bool:
        """Remove what a killed save left in this run, unless another process is training it (then ``False``)."""
        with locked(self.path / LOCK_FILE, wait=False) as held:
            if held:
                self._remove_stale_partials()
            return held

    def _remove_stale_partials(self) -> None:
        # Under the lock no other writer is at work: every hidden temporary file is a leftover.
        for unit_dir in [self.path, *sorted(self.path.glob("fold-*"))]:
            UnitFolder(unit_dir).remove_stale_partials()


def run_ids(root: Path) -> list[str]:
    """The run folders directly under ``root`` (those with a ``config.yaml``), oldest first."""
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / CONFIG_FILE).is_file())


def prediction_suffix(tta: str = "none", adabn: bool = False) -> str:
    """``-flips``/``-dihedral`` when TTA is on, then ``-adabn`` when AdaBN is: prediction and submission names."""
    return ("" if tta == "none" else f"-{tta}") + ("-adabn" if adabn else "")


def test_predictions_name(tta: str = "none", adabn: bool = False) -> str:
    return f"test_predictions{prediction_suffix(tta, adabn)}.csv"


def save_model(model: "keras.Model", target: Path) -> None:
    """``model.save`` to ``target`` atomically (a temporary ``.keras`` beside it, fsynced and renamed)."""
    with atomic_path(target, suffix=".keras") as tmp:
        model.save(tmp)


def load_model(path: Path, *, with_optimizer: bool = False) -> "keras.Model":
    """The one model loader: a saved ``.keras`` model, with the zoo's and the kit's custom layers registered.

    ``with_optimizer`` restores the compiled optimizer too (resuming a checkpoint);
    predicting and explaining need none.
    """
    import keras

    import kaggle_kit.models  # noqa: F401  (registers the zoo's builders and their custom layers)
    from kaggle_kit.data.augment import preprocessing_layers

    try:
        return keras.saving.load_model(path, compile=with_optimizer, custom_objects=preprocessing_layers())
    except (OSError, ValueError, KeyError) as exc:
        raise RunNotFoundError(f"cannot load model {path} ({type(exc).__name__}: {exc}); "
                               "delete it and train the run again") from None


def create_unique_dir(root: Path, base: str) -> Path:
    """Create ``root/base`` (``base-2``, ``base-3``… when taken) and return it; run and sweep folders use it."""
    root.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, 1000):
        path = root / (base if attempt == 1 else f"{base}-{attempt}")
        try:
            path.mkdir()  # atomic: two runs started in the same second get different folders
            return path
        except FileExistsError:
            continue
    raise RunNotFoundError(f"could not create a run folder under {root}: too many runs named {base}")


def _plain(value: Any) -> Any:
    """JSON-ready: a numpy scalar as the Python number it holds (not its ``str``)."""
    return value.item() if hasattr(value, "item") and not isinstance(value, (list, dict, str)) else value
