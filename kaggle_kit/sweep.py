"""``kit sweep``: train every point of a small grid and compare them in one table and one plot.

A grid is a list of axes, each ``key=v1,v2,...``. Keys are training options
(``lr``, ``epochs``, ``image_size``...), augmentation options (``augment.zoom_range``)
or the model's options (``units``, ``dropout``, ``bn_position``, ``bn_momentum``,
also written ``model_options.units``). Several keys joined by ``/`` vary together,
for comparisons that are not a product: ``l1/l2=0.01/0,0/0.01`` is "L1 versus L2".
Every point's config is layered as base config (recipe → options) → grid point,
and all of them are validated before the first one trains.

>>> grid = parse_grid(["units=16,32,64", "lr=1e-3,1e-4"], base_config)
>>> result = run_sweep(competition, workspace, base_config, grid)
>>> result.table[["units", "lr", "score", "run_id"]]
"""

from __future__ import annotations

import itertools
import time
import typing
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import pandas as pd

from kaggle_kit.coerce import coerce
from kaggle_kit.config import AugmentConfig, TrainConfig, merge
from kaggle_kit.errors import ConfigError, KitError
from kaggle_kit.fsutil import write_csv_atomic, write_json_atomic

if TYPE_CHECKING:
    from kaggle_kit.competitions import Competition
    from kaggle_kit.paths import Workspace
    from kaggle_kit.runfolder import RunFolder

# Config fields a grid cannot vary: they name the run, or are mappings set through their own keys.
FIXED_FIELDS = ("competition", "recipe", "model_options", "augment")
AUGMENT_PREFIX = "augment."
MODEL_PREFIX = "model_options."
METRIC_COLUMNS = ("score", "val_auc", "val_accuracy", "val_loss", "threshold", "best_epoch", "epochs_run")


@dataclass(frozen=True)
class Axis:
    """One ``--grid``: the keys varied together, and their values (one tuple per setting)."""

    keys: tuple[str, ...]
    settings: tuple[tuple[Any, ...], ...]


@dataclass(frozen=True)
class SweepResult:
    """The sweep folder and what it holds."""

    folder: Path
    table: pd.DataFrame  # one row per grid point: grid values, metrics, run_id, seconds, status
    grid_columns: list[str]  # the table's first columns: the keys the grid varied
    results_csv: Path
    curves_png: Path | None  # None when no point finished

    @property
    def failed(self) -> pd.DataFrame:
        return self.table[self.table["status"] != "ok"]

    def best(self) -> pd.Series | None:
        """The finished point with the highest score (AUC and accuracy: higher is better)."""
        done = self.table[self.table["status"] == "ok"]
        return None if done.empty else done.loc[done["score"].idxmax()]


# --- the grid --------------------------------------------------------------------

def parse_grid(specs: Sequence[str], base: TrainConfig) -> list[Axis]:
    """Parse ``key=v1,v2`` (or ``k1/k2=a1/b1,a2/b2``) specs; values get each key's type.

    Unknown keys, repeated keys, malformed values and points whose config would be
    invalid all raise :class:`ConfigError` here, before anything trains.
    """
    if not specs:
        raise ConfigError("a sweep needs at least one --grid key=v1,v2")
    axes = [_parse_axis(spec, base) for spec in specs]
    seen: set[str] = set()
    for axis in axes:
        repeated = seen.intersection(axis.keys)
        if repeated:
            raise ConfigError(f"--grid {', '.join(sorted(repeated))} is given twice; list all its values in one --grid")
        seen.update(axis.keys)
    for point in grid_points(axes):
        point_config(base, point)  # raises ConfigError naming the point
    return axes


def grid_points(axes: Sequence[Axis]) -> list[dict[str, Any]]:
    """Every combination of the axes' settings, the first axis varying slowest."""
    points = []
    for combination in itertools.product(*(axis.settings for axis in axes)):
        point: dict[str, Any] = {}
        for axis, setting in zip(axes, combination):
            point.update(zip(axis.keys, setting))
        points.append(point)
    return points


def point_config(base: TrainConfig, point: Mapping[str, Any]) -> TrainConfig:
    """``base`` with one grid point applied; model options are checked against the point's model."""
    from kaggle_kit.models import model_info

    changes: dict[str, Any] = {"augment": {}, "model_options": {}}
    for key, value in point.items():
        if key.startswith(AUGMENT_PREFIX):
            changes["augment"][key.removeprefix(AUGMENT_PREFIX)] = value
        elif key in _config_fields():
            changes[key] = value
        else:
            changes["model_options"][key.removeprefix(MODEL_PREFIX)] = value
    label = describe_point(point)
    config = merge(base, changes, source=f"grid point {label}")
    options = model_info(config.model).options
    # Checks the options inherited from the recipe too: a grid over `model` may leave them behind.
    unknown = sorted(set(config.model_options) - set(options))
    if unknown:
        raise ConfigError(
            f"grid point {label}: model '{config.model}' has no option(s) {', '.join(unknown)}; "
            f"its options are {', '.join(sorted(options)) or 'none'}"
        )
    return config


def describe_point(point: Mapping[str, Any]) -> str:
    """``units=32 lr=0.001``: how a point is named in tables, legends and errors."""
    return " ".join(f"{key.removeprefix(MODEL_PREFIX)}={value}" for key, value in point.items())


def valid_keys(base: TrainConfig, models: Sequence[str] = ()) -> list[str]:
    """Every key a grid may vary for ``base`` (and for the other ``models`` the grid tries)."""
    from kaggle_kit.models import model_info

    keys = set(_config_fields())
    keys.update(AUGMENT_PREFIX + f.name for f in fields(AugmentConfig) if f.name != "brightness_range")
    for name in {base.model, *models}:
        keys.update(model_info(name).options)
    return sorted(keys)


def _key_help(base: TrainConfig, models: Sequence[str]) -> str:
    """Valid keys grouped the way people look for them: the model's options first."""
    from kaggle_kit.models import model_info

    groups = [
        f"model '{name}' options: {', '.join(sorted(model_info(name).options)) or 'none'}"
        for name in dict.fromkeys([base.model, *models])
    ]
    groups.append(f"training options: {', '.join(sorted(_config_fields()))}")
    groups.append(f"augmentation: {AUGMENT_PREFIX}<option> (e.g. {AUGMENT_PREFIX}zoom_range)")
    return "; ".join(groups)


def _config_fields() -> dict[str, Any]:
    hints = typing.get_type_hints(TrainConfig)
    return {f.name: hints[f.name] for f in fields(TrainConfig) if f.name not in FIXED_FIELDS}


def _parse_axis(spec: str, base: TrainConfig) -> Axis:
    name, equals, listed = spec.partition("=")
    keys = tuple(key.strip() for key in name.split("/"))
    raw_settings = [setting.strip() for setting in listed.split(",")]
    if not equals or not all(keys) or not all(raw_settings):
        raise ConfigError(f"--grid '{spec}' must look like key=v1,v2 (or k1/k2=a1/b1,a2/b2 to vary keys together)")
    models = _axis_models(spec, keys, raw_settings)
    known = valid_keys(base, models)
    for key in keys:
        if key not in known and key.removeprefix(MODEL_PREFIX) not in known:
            raise ConfigError(f"--grid key '{key}' is not an option; {_key_help(base, models)}")
    settings = []
    for raw in raw_settings:
        parts = raw.split("/")
        if len(parts) != len(keys):
            raise ConfigError(f"--grid '{spec}': setting '{raw}' needs {len(keys)} value(s) joined by '/', one per key")
        settings.append(tuple(_parse_value(key, part.strip(), base, models) for key, part in zip(keys, parts)))
    if len(set(settings)) != len(settings):
        raise ConfigError(f"--grid '{spec}' lists a value twice")
    return Axis(keys, tuple(settings))


def _axis_models(spec: str, keys: tuple[str, ...], raw_settings: list[str]) -> list[str]:
    """Model names the axis itself tries (so ``model/units=...`` validates against those models)."""
    if "model" not in keys:
        return []
    position = keys.index("model")
    return [raw.split("/")[position].strip() for raw in raw_settings if len(raw.split("/")) == len(keys)]


def _parse_value(key: str, text: str, base: TrainConfig, models: Sequence[str]) -> Any:
    """A grid value as its key's type, through the one coercion path (``kaggle_kit.coerce``)."""
    return coerce(_value_type(key, base, models), text, f"--grid {key}")


def _value_type(key: str, base: TrainConfig, models: Sequence[str]):
    """The type a key's values take: the config field's annotation, else the option default's type."""
    from kaggle_kit.models import model_info, option_type

    if key.startswith(AUGMENT_PREFIX):
        return typing.get_type_hints(AugmentConfig)[key.removeprefix(AUGMENT_PREFIX)]
    if key in _config_fields():
        return _config_fields()[key]
    bare = key.removeprefix(MODEL_PREFIX)
    for name in (base.model, *models):
        options = model_info(name).options
        if bare in options:
            return option_type(options[bare])
    return None


# --- running it ------------------------------------------------------------------

def run_sweep(
    competition: "Competition",
    workspace: "Workspace",
    base_config: TrainConfig,
    grid: Sequence[Axis] | Mapping[str, Sequence[Any]],
    *,
    progress: bool = True,
    on_point: Callable[[int, int, str], None] | None = None,
) -> SweepResult:
    """Train every grid point (``kaggle_kit.train.train``) into ``runs/<slug>/sweep-<time>/``.

    ``results.csv`` is rewritten after each point, so an interrupted sweep keeps
    what it finished; a point that fails (a ``KitError``: NaN loss...) is recorded
    with its message and the sweep goes on. ``on_point(index, total, label)`` is
    called before each point (the CLI prints progress with it).
    """
    from kaggle_kit.train import train
    from kaggle_kit.training.model import check_model

    axes = _as_axes(grid, base_config)
    points = grid_points(axes)
    configs = [point_config(base_config, point) for point in points]
    for point, config in zip(points, configs):  # every point's model builds, before the first one trains
        try:
            check_model(config)
        except KitError as exc:
            raise ConfigError(f"grid point {describe_point(point)}: {exc}") from None
    folder = new_sweep_dir(workspace, competition.slug)
    write_json_atomic(folder / "sweep.json", {
        "competition": competition.slug,
        "grid": {"/".join(axis.keys): [list(s) for s in axis.settings] for axis in axes},
        "base_config": base_config.to_dict(),
    })
    rows, histories = [], {}
    for index, (point, config) in enumerate(zip(points, configs), start=1):
        label = describe_point(point)
        if on_point is not None:
            on_point(index, len(points), label)
        started = time.monotonic()
        try:
            run = train(competition, workspace, config, progress=progress)
        except KitError as exc:
            rows.append(_row(point, None, None, time.monotonic() - started, f"failed: {exc}"))
        else:
            rows.append(_row(point, run.metrics, run.run_id, time.monotonic() - started, "ok"))
            histories[label] = _history(run)
        write_csv_atomic(folder / "results.csv", pd.DataFrame(rows))
    columns = [key.removeprefix(MODEL_PREFIX) for key in points[0]]
    curves = _write_curves(folder, histories)
    return SweepResult(folder, pd.DataFrame(rows), columns, folder / "results.csv", curves)


def _as_axes(grid: Sequence[Axis] | Mapping[str, Sequence[Any]], base: TrainConfig) -> list[Axis]:
    """Accept parsed axes, or a plain ``{key: [values]}`` mapping (values already typed)."""
    if isinstance(grid, Mapping):
        axes = [Axis((key,), tuple((value,) for value in values)) for key, values in grid.items()]
        for point in grid_points(axes):
            point_config(base, point)
        return axes
    return list(grid)


def new_sweep_dir(workspace: "Workspace", slug: str, now: datetime | None = None) -> Path:
    """Create ``runs/<slug>/sweep-<time>``; run listings skip it (it has no config.yaml)."""
    from kaggle_kit.runfolder import RUN_ID_TIME, create_unique_dir

    now = now or datetime.now(timezone.utc)
    return create_unique_dir(workspace.runs_root(slug), f"sweep-{now.strftime(RUN_ID_TIME)}")


def _row(point: Mapping[str, Any], metrics: Mapping[str, Any] | None, run_id: str | None,
         seconds: float, status: str) -> dict[str, Any]:
    row = {key.removeprefix(MODEL_PREFIX): value for key, value in point.items()}
    row.update({column: (metrics or {}).get(column) for column in METRIC_COLUMNS})
    row.update({"run_id": run_id, "seconds": round(seconds, 1), "status": status})
    return row


def _history(run: "RunFolder") -> pd.DataFrame:
    history = run.history()
    return pd.DataFrame() if history is None else history


def _write_curves(folder: Path, histories: Mapping[str, pd.DataFrame]) -> Path | None:
    """One panel per metric, one colour per grid point (folds averaged per epoch)."""
    from kaggle_kit.figures import learning_curves_png
    from kaggle_kit.fsutil import write_bytes_atomic

    curves = {label: _mean_over_folds(frame) for label, frame in histories.items() if not frame.empty}
    if not curves:
        return None
    target = folder / "learning_curves.png"
    write_bytes_atomic(target, learning_curves_png(curves))
    return target


def _mean_over_folds(history: pd.DataFrame) -> pd.DataFrame:
    if "fold" not in history or "epoch" not in history:
        return history
    return history.drop(columns="fold").groupby("epoch", as_index=False).mean(numeric_only=True)


def table_lines(result: SweepResult) -> list[str]:
    """Aligned text lines for the terminal: grid values, metrics, seconds, run id; then failures and the best."""
    table = result.table
    shown = [*result.grid_columns, "score", "val_auc", "val_accuracy", "val_loss", "seconds", "run_id"]
    cells = [shown] + [[_cell(column, row[column]) for column in shown] for _, row in table.iterrows()]
    widths = [max(len(line[i]) for line in cells) for i in range(len(shown))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in cells]
    for _, row in result.failed.iterrows():
        lines.append(f"{describe_point({c: row[c] for c in result.grid_columns})}: {row['status']}")
    best = result.best()
    if best is not None:
        lines.append(f"best: {describe_point({c: best[c] for c in result.grid_columns})} "
                     f"(score {best['score']:.4f}, run {best['run_id']})")
    lines.append(f"results: {result.results_csv}")
    if result.curves_png is not None:
        lines.append(f"curves: {result.curves_png}")
    return lines


def _cell(column: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "-"
    if column in METRIC_COLUMNS and isinstance(value, float):
        return f"{value:.4f}"
    if column == "seconds":
        return f"{value:.1f}"
    return str(value)
