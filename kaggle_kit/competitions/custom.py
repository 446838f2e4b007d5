"""Custom competitions: your own folder of images and labels, described by a small file.

Example ``my-galaxies.yaml`` (paths are relative to the file)::

    slug: my-galaxies
    title: Spirals in my survey
    images: images            # folder of <id><extension> files
    labels: labels.csv        # a table with the id and label columns
    id_column: id
    label_column: label       # 0/1
    extension: .jpg
    metric: accuracy          # or auc, or any metric that fits the task (see below)
    test_fraction: 0.2        # fixed held-out split (hash of the id), scored locally
    class_names: [other, spiral]
    recipe:                   # overrides of the default training recipe
      image_size: 96
      crop: 0.5

``task`` (default ``binary``) says what is predicted; ``layout`` (default ``table``)
where the labels are:

- ``task: multiclass`` — ``label_column`` holds class names (or indices into
  ``class_names``); ``class_names`` fixes the classes and their order (default:
  the names found, sorted).
- ``task: multilabel`` — ``label_columns: [a, b, c]``, each 0/1.
- ``task: regression`` — ``label_columns`` of numbers; ``bounded: true`` when they
  all lie in [0, 1] (fractions); ``levels: 5`` for one ordinal grade 0..4 (cut at
  thresholds fitted on validation).
- ``layout: folders`` — ``images/<class>/<file>``, a folder per class (binary or
  multiclass; no ``labels`` file); the id is the file name without extension.
- ``layout: filename`` — the class is in the file name, as in ``cat.123.jpg``;
  ``pattern`` is the regular expression that finds it (default
  ``^(?P<label>[^._]+)[._]``: everything before the first dot or underscore).

Each image is one id: several images of one id (views of one object) are not
supported, and a table listing an id twice is refused with the duplicates named.
The same keys work in TOML. Use the file's path wherever a slug is expected:
``kit train my-galaxies.yaml``. The slug names the folders the competition's data, runs
and submissions go to, so it may be neither a built-in slug nor one another custom
file already uses in the workspace (``data/<slug>/competition.json`` records the owner).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from kaggle_kit.competitions._registry import Competition, LabelOptions, LabelTables, registered
from kaggle_kit.competitions._tables import attach_paths, binary_labels, check_unique_ids, hash_split, read_table
from kaggle_kit.errors import ConfigError, DataError, KitError
from kaggle_kit.fsutil import write_json_atomic
from kaggle_kit.tasks import KINDS, Task
from kaggle_kit.yamlfile import read_mapping

if TYPE_CHECKING:
    from kaggle_kit.paths import Workspace

REQUIRED_KEYS = ("slug", "images")
KNOWN_KEYS = {
    "slug", "title", "images", "labels", "id_column", "label_column", "label_columns", "extension", "metric",
    "test_fraction", "class_names", "native_size", "recipe", "description", "task", "layout", "pattern", "levels",
    "bounded",
}
LAYOUTS = ("table", "folders", "filename")
SPEC_RECORD = "competition.json"  # in data/<slug>/: which custom file owns the slug here
DEFAULT_PATTERN = r"^(?P<label>[^._]+)[._]"
GENERIC_RECIPE: dict[str, Any] = {
    "image_size": 96,
    "model": "kit-resnet",
    "epochs": 25,
    "batch_size": 64,
    "optimizer": "adamw",
    "lr": 1e-3,
    "weight_decay": 1e-4,
    "schedule": "cosine",
    "warmup_epochs": 1,
    "early_stopping_patience": 0,  # off: validation accuracy plateaus ~10 epochs mid-schedule
    "augment": {"dihedral": True},
}


def read_spec(path: Path) -> dict[str, Any]:
    return read_mapping(path, kind="custom competition file")


def load_custom_competition(path: str | Path) -> Competition:
    """Build a :class:`Competition` from a custom competition file, validating every key."""
    path = Path(path)
    spec = read_spec(path)
    missing = [k for k in REQUIRED_KEYS if k not in spec]
    if missing:
        raise ConfigError(f"{path} lacks required key(s) {', '.join(missing)}; see 'kit competitions --help'")
    unknown = sorted(set(spec) - KNOWN_KEYS)
    if unknown:
        raise ConfigError(f"{path} has unknown key(s) {', '.join(unknown)}; valid keys are {', '.join(sorted(KNOWN_KEYS))}")
    values = _SpecValues(path, spec)
    slug = values.text("slug")
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", slug):
        raise ConfigError(f"{path}: slug '{slug}' must be lowercase letters, digits and dashes")
    if slug in registered():  # the built-ins: registered as their modules load, before any file is read
        raise ConfigError(f"{path}: slug '{slug}' is a built-in competition's (its data, runs and submissions would "
                          "mix with yours); choose another slug")
    fraction = values.number("test_fraction", 0.2)
    if not 0.0 < fraction < 0.9:
        raise ConfigError(f"{path}: test_fraction must be above 0 and below 0.9 (got {fraction:g})")
    layout = values.text("layout", "table")
    if layout not in LAYOUTS:
        raise ConfigError(f"{path}: layout must be one of {', '.join(LAYOUTS)} (got '{layout}')")
    if layout == "table" and "labels" not in spec:
        raise ConfigError(f"{path} lacks required key(s) labels; see 'kit competitions --help'")
    extension = values.text("extension", ".jpg")
    extension = extension if extension.startswith(".") else "." + extension
    native_size = values.pair("native_size", (0, 0), "the images' width and height in pixels", int)
    recipe = _checked_recipe(path, slug, spec.get("recipe"))
    title = values.text("title", slug)
    description = values.text("description", f"custom competition from {path}")

    root = path.resolve().parent
    images = (root / values.text("images")).resolve()
    if not images.is_dir():
        raise DataError(f"{path}: images folder {images} not found; fix 'images'")
    labels = (root / values.text("labels")).resolve() if "labels" in spec else root
    source = _Source(spec, values, path, layout, images, extension, labels)
    task = _task(spec, values, path, source)
    metric = values.text("metric", "auc" if task.kind == "binary" else task.default_metric)
    try:
        task.check_metric(metric)
    except KitError as exc:
        raise ConfigError(f"{path}: {exc}") from None

    def build(raw: Path, options: LabelOptions) -> LabelTables:
        table = source.table(task)
        task.labels(table, source=str(source.where))  # what the task reads, checked before any split
        held_out = hash_split(table["id"], fraction)
        train = table[~held_out].reset_index(drop=True)
        test = table[held_out].reset_index(drop=True)
        if train.empty or test.empty:
            raise DataError(f"{source.where} has {len(table)} row(s): too few to hold out {fraction:g} of them for the "
                            f"test set and train on the rest; add images or change test_fraction in {path}")
        return LabelTables(
            train=train,
            test=test[["id", "path"]],
            sample_submission=_sample_submission(task, metric, test["id"]),
            test_labels=test[["id", *task.label_columns]],
            notes={"train": len(train), "test": len(test), **_class_notes(task, table)},
        )

    def check(raw: Path) -> dict[str, Any]:
        tables = build(raw, LabelOptions())
        return {"train_images": len(tables.train), "test_images": len(tables.test)}

    return Competition(
        slug=slug,
        title=title,
        source_kind="local",
        source_ref=str(images),
        native_size=native_size,  # (0, 0): read from the images when the cache is built
        metric=metric,
        build_labels=build,
        check_layout=check,
        task=task,
        locally_scored=True,
        recipes={"default": {**GENERIC_RECIPE, **recipe}},
        local_root=images.parent,
        description=description,
        spec_path=path,
    )


class _Source:
    """Where a custom competition's labels come from: a table, class folders, or file names."""

    def __init__(self, spec: dict[str, Any], values: "_SpecValues", path: Path, layout: str, images: Path,
                 extension: str, labels: Path):
        self.spec, self.values, self.path, self.layout = spec, values, path, layout
        self.images, self.extension, self.labels = images, extension, labels
        self.id_column = values.text("id_column", "id")
        self.label_column = values.text("label_column", "label")
        self.pattern = values.text("pattern", DEFAULT_PATTERN)
        self.where = labels if layout == "table" else images

    def raw(self) -> pd.DataFrame:
        """``id``, the label text (``label``) or label columns, and ``path`` of every image, unconverted:
        read afresh each time (the files may have changed since the competition was loaded)."""
        return {"table": self._from_table, "folders": self._from_folders, "filename": self._from_file_names}[self.layout]()

    def label_values(self) -> list[str]:
        """The distinct class labels found (as text), sorted."""
        return sorted(self.raw()["label"].astype(str).str.strip().unique())

    def table(self, task: Task) -> pd.DataFrame:
        """``id``, the task's label columns and ``path``: what the label builder splits."""
        frame = self.raw()
        if task.kind == "binary" and self.layout == "table":  # 0/1, as binary tables always were
            labels = binary_labels(frame.rename(columns={"label": self.label_column}), self.label_column, self.labels)
            return pd.DataFrame({"id": frame["id"], "label": labels, "path": frame["path"]})
        if task.kind in ("binary", "multiclass"):
            labels = _class_indices(frame["label"], task, self.where)
            return pd.DataFrame({"id": frame["id"], "label": labels, "path": frame["path"]})
        columns = list(task.label_columns)
        return frame[["id", *columns, "path"]]

    def _from_table(self) -> pd.DataFrame:
        columns = self.values.names("label_columns", "the label table's columns to predict")
        wanted = columns or [self.label_column]
        table = read_table(self.labels, [self.id_column, *wanted], hint=f"fix 'labels' in {self.path}",
                           id_column=self.id_column)
        check_unique_ids(table, self.id_column, self.labels)  # several images per id are not supported
        frame = pd.DataFrame({"id": table[self.id_column].astype(str)})
        if columns:
            for name in columns:
                frame[name] = table[name]
        else:
            frame["label"] = table[self.label_column]
            if "levels" in self.spec:  # an ordinal grade keeps its column's name
                frame[self.label_column] = table[self.label_column]
        return attach_paths(frame, "id", self.images, self.extension, self.labels)

    def _from_folders(self) -> pd.DataFrame:
        folders = sorted(p for p in self.images.iterdir() if p.is_dir() and not p.name.startswith("."))
        rows = [(p.stem, folder.name, str(p)) for folder in folders for p in sorted(folder.iterdir())
                if p.is_file() and p.suffix.lower() == self.extension.lower()]
        if not rows:
            raise DataError(f"{self.images} has no class folders of {self.extension} images (layout: folders); "
                            "put each class's images in a folder named after it")
        return self._unique(pd.DataFrame(rows, columns=["id", "label", "path"]))

    def _from_file_names(self) -> pd.DataFrame:
        try:
            pattern = re.compile(self.pattern)
        except re.error as exc:
            raise ConfigError(f"{self.path}: pattern is not a regular expression ({exc}); fix it") from None
        if "label" not in pattern.groupindex:
            raise ConfigError(f"{self.path}: pattern needs a group named label, e.g. {DEFAULT_PATTERN}")
        names = sorted(n for n in os.listdir(self.images) if n.lower().endswith(self.extension.lower()))
        if not names:
            raise DataError(f"{self.images} has no {self.extension} images; fix 'images' or 'extension' in {self.path}")
        found = [(name, pattern.search(name)) for name in names]
        unmatched = [name for name, match in found if match is None]
        if unmatched:
            raise DataError(f"{len(unmatched)} file name(s) in {self.images} do not match the pattern "
                            f"{pattern.pattern} (e.g. {unmatched[0]}); rename them or fix 'pattern' in {self.path}")
        rows = [(Path(name).stem, match.group("label"), os.path.join(self.images, name)) for name, match in found]
        return self._unique(pd.DataFrame(rows, columns=["id", "label", "path"]))

    def _unique(self, frame: pd.DataFrame) -> pd.DataFrame:
        repeated = frame["id"][frame["id"].duplicated()]
        if len(repeated):
            raise DataError(f"{len(repeated)} image name(s) occur twice under {self.images} (e.g. "
                            f"{repeated.iloc[0]!r}); ids are file names without extension: rename the copies")
        return frame


def _task(spec: dict[str, Any], values: "_SpecValues", path: Path, source: _Source) -> Task:
    """The task the file describes, its class names read from the data when not given."""
    kind = values.text("task", "binary")
    if kind not in KINDS:
        raise ConfigError(f"{path}: task must be one of {', '.join(KINDS)} (got '{kind}')")
    if kind == "binary":
        names = list(values.pair("class_names", ("negative", "positive"), "two class names, label 0 then label 1",
                                 str)) if "class_names" in spec else []
    else:
        names = values.names("class_names", "the class names, in output order")
    columns = values.names("label_columns", "the label table's columns to predict")
    try:
        if kind in ("multilabel", "regression"):
            if source.layout != "table":
                raise ConfigError(f"layout {source.layout} gives one class per image; a {kind} task needs "
                                  "layout: table with label_columns")
            levels = int(values.number("levels", 0)) if "levels" in spec else None
            targets = columns or ([source.label_column] if levels is not None else [])
            if not targets:
                raise ConfigError(f"a {kind} task needs label_columns: the columns of {source.labels.name} it predicts")
            return Task(kind, tuple(targets), values.flag("bounded"), levels)
        if columns:
            raise ConfigError(f"label_columns are for multilabel and regression tasks; a {kind} task reads "
                              "label_column")
        if kind == "binary":
            found = source.label_values() if source.layout != "table" else ["negative", "positive"]
            if not names and len(found) != 2:
                raise ConfigError(f"a binary task needs two classes; {source.images} has {len(found)} "
                                  f"({', '.join(found[:5])}): set task: multiclass, or class_names")
            return Task("binary", tuple(names or found))
        return Task("multiclass", tuple(names or source.label_values()))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _class_indices(labels: pd.Series, task: Task, where: Path) -> pd.Series:
    """Class indices from labels given as indices (0, 1, …) or as class names."""
    text = labels.astype(str).str.strip()
    by_name = {name: k for k, name in enumerate(task.names)}
    if text.isin(list(by_name)).all():
        return text.map(by_name).astype("int64")
    numbers = pd.to_numeric(text, errors="coerce")
    valid = numbers.isin(range(len(task.names)))
    if valid.all():
        return numbers.astype("int64")
    bad = text[~valid & ~text.isin(list(by_name))]
    examples = ", ".join(repr(v) for v in pd.unique(bad)[:5])
    raise DataError(
        f"{where}: labels must be class names ({', '.join(task.names[:6])}{'…' if len(task.names) > 6 else ''}) "
        f"or indices 0..{len(task.names) - 1}; found {examples} in {len(bad)} row(s): fix them or class_names"
    )


def _sample_submission(task: Task, metric: str, ids: pd.Series) -> pd.DataFrame:
    """The format local submissions copy: one value column, one per class for probability metrics of a
    multi-class task, one per label or target otherwise."""
    from kaggle_kit.metrics import get_metric

    if task.kind == "binary" or task.is_ordinal:
        return pd.DataFrame({"id": ids, task.label_columns[0]: 0})
    if task.kind == "multiclass":
        if get_metric(metric).needs == "labels":
            return pd.DataFrame({"id": ids, "label": task.names[0]})
        return pd.DataFrame({"id": ids, **{name: 1.0 / len(task.names) for name in task.names}})
    return pd.DataFrame({"id": ids, **{name: 0.0 for name in task.names}})


def _class_notes(task: Task, table: pd.DataFrame) -> dict[str, Any]:
    if task.kind == "binary":
        return {"positive": int(table["label"].sum())}
    counts = task.class_counts(task.labels(table))
    return {"classes": counts} if counts else {}


class _SpecValues:
    """Typed reads of a spec's values: a wrong type is a ConfigError naming the file, the key and what fits."""

    def __init__(self, path: Path, spec: dict[str, Any]):
        self.path, self.spec = path, spec

    def text(self, key: str, default: str | None = None) -> str:
        value = self.spec.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (str, int, float)) or str(value).strip() == "":
            raise self.error(key, value, "a text value (quote it if it reads as something else)")
        return str(value)

    def number(self, key: str, default: float) -> float:
        value = self.spec.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, value, "a number")
        return float(value)

    def flag(self, key: str) -> bool:
        value = self.spec.get(key, False)
        if not isinstance(value, bool):
            raise self.error(key, value, "true or false")
        return value

    def names(self, key: str, what: str) -> list[str]:
        """A list of text values (``[]`` when absent)."""
        value = self.spec.get(key, [])
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.error(key, value, f"a list of {what} (quote names that read as numbers or booleans)")
        return list(value)

    def pair(self, key: str, default: tuple, what: str, kind: type) -> tuple:
        if key not in self.spec:
            return default
        value = self.spec[key]
        ok = isinstance(value, (list, tuple)) and len(value) == 2 and all(
            not isinstance(v, bool) and (isinstance(v, str) if kind is str else isinstance(v, int) and v > 0)
            for v in value
        )
        if not ok:
            raise self.error(key, value, f"a list of {what}, e.g. {list(default) if kind is str else [424, 424]}")
        return tuple(value)

    def error(self, key: str, value: Any, what: str) -> ConfigError:
        shown = repr(value) if isinstance(value, str) else json.dumps(value, default=str)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        return ConfigError(f"{self.path}: {key} must be {what} (got {shown}); fix it in the file")


def _checked_recipe(path: Path, slug: str, recipe: Any) -> dict[str, Any]:
    """The recipe mapping, validated now, so a bad value names this file rather than failing at train time."""
    from kaggle_kit.config import layered_config

    recipe = {} if recipe is None else recipe
    if not isinstance(recipe, dict):
        raise ConfigError(f"{path}: recipe must be a mapping of training options")
    try:
        layered_config(slug, {**GENERIC_RECIPE, **recipe})
    except ConfigError as exc:
        raise ConfigError(f"{path}: recipe: {str(exc).split(': ', 1)[-1]}") from None
    return recipe


# --- which custom file owns a slug in a workspace --------------------------------------------------


def claim_slug(competition: Competition, workspace: "Workspace") -> None:
    """Record that ``competition``'s file owns its slug in ``workspace`` (``kit prepare`` does, before
    writing label tables); refuse when another custom file that still exists owns it."""
    if competition.spec_path is None:
        return
    check_slug_owner(competition, workspace)
    record = workspace.competition_dir(competition.slug) / SPEC_RECORD
    write_json_atomic(record, {"slug": competition.slug, "spec": str(competition.spec_path.resolve())})


def check_slug_owner(competition: Competition, workspace: "Workspace") -> None:
    """Refuse a custom competition whose slug another custom file owns here (it would overwrite that
    competition's label tables, including its private test labels, and mix runs and leaderboards)."""
    if competition.spec_path is None:
        return
    owner = recorded_spec(workspace, competition.slug)
    mine = competition.spec_path.resolve()
    if owner is not None and owner != mine and owner.is_file():
        raise ConfigError(
            f"{competition.spec_path}: slug '{competition.slug}' is already used by {owner} "
            f"(its data is in {workspace.competition_dir(competition.slug)}); choose another slug"
        )


def recorded_spec(workspace: "Workspace", slug: str) -> Path | None:
    """The custom competition file recorded as owning ``slug`` in ``workspace``, if any."""
    try:
        record = json.loads((workspace.competition_dir(slug) / SPEC_RECORD).read_text(encoding="utf-8"))
        return Path(record["spec"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
