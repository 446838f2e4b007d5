"""Custom competitions: your own folder of images and labels CSV, described by a small file.

Example ``my-galaxies.yaml`` (paths are relative to the file)::

    slug: my-galaxies
    title: Spirals in my survey
    images: images            # folder of <id><extension> files
    labels: labels.csv        # a table with the id and label columns
    id_column: id
    label_column: label       # 0/1
    extension: .jpg
    metric: accuracy          # or auc
    test_fraction: 0.2        # fixed held-out split (hash of the id), scored locally
    class_names: [other, spiral]
    native_size: [424, 424]   # optional: the images' width and height
    recipe:                   # overrides of the default training recipe
      image_size: 96
      crop: 0.5

The same keys work in TOML. Use the file's path wherever a slug is expected:
``kit train my-galaxies.yaml``. The slug names the folders the competition's data, runs
and submissions go to, so it may be neither a built-in slug nor one another custom
file already uses in the workspace (``data/<slug>/competition.json`` records the owner).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from kaggle_kit.competitions._registry import Competition, LabelOptions, LabelTables, registered
from kaggle_kit.competitions._tables import (
    attach_paths,
    binary_labels,
    check_unique_ids,
    hash_split,
    read_table,
)
from kaggle_kit.errors import ConfigError, DataError, KitError
from kaggle_kit.fsutil import write_json_atomic
from kaggle_kit.tasks import binary_task
from kaggle_kit.yamlfile import read_mapping

if TYPE_CHECKING:
    from kaggle_kit.paths import Workspace

REQUIRED_KEYS = ("slug", "images", "labels")
KNOWN_KEYS = {
    "slug", "title", "images", "labels", "id_column", "label_column", "extension", "metric",
    "test_fraction", "class_names", "native_size", "recipe", "description",
}
SPEC_RECORD = "competition.json"  # in data/<slug>/: which custom file owns the slug here
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
    extension = values.text("extension", ".jpg")
    extension = extension if extension.startswith(".") else "." + extension
    class_names = values.pair("class_names", ("negative", "positive"), "two class names, label 0 then label 1", str)
    native_size = values.pair("native_size", (0, 0), "the images' width and height in pixels", int)
    recipe = _checked_recipe(path, slug, spec.get("recipe"))
    task = binary_task(class_names)
    metric = values.text("metric", "auc")
    try:
        task.check_metric(metric)
    except KitError as exc:
        raise ConfigError(f"{path}: {exc}") from None

    root = path.resolve().parent
    images = (root / values.text("images")).resolve()
    labels = (root / values.text("labels")).resolve()
    id_column = values.text("id_column", "id")
    label_column = values.text("label_column", "label")
    title = values.text("title", slug)
    description = values.text("description", f"custom competition from {path}")

    def build(raw: Path, options: LabelOptions) -> LabelTables:
        table = read_table(labels, [id_column, label_column], hint=f"fix 'labels' in {path}", id_column=id_column)
        check_unique_ids(table, id_column, labels)
        table = pd.DataFrame({"id": table[id_column].astype(str), "label": binary_labels(table, label_column, labels)})
        table = attach_paths(table, "id", images, extension, labels)
        held_out = hash_split(table["id"], fraction)
        train = table[~held_out].reset_index(drop=True)
        test = table[held_out].reset_index(drop=True)
        if train.empty or test.empty:
            raise DataError(f"{labels} has {len(table)} row(s): too few to hold out {fraction:g} of them for the test set "
                            f"and train on the rest; add images or change test_fraction in {path}")
        return LabelTables(
            train=train,
            test=test[["id", "path"]],
            sample_submission=pd.DataFrame({"id": test["id"], "label": 0}),
            test_labels=test[["id", "label"]],
            notes={"train": len(train), "test": len(test), "positive": int(table["label"].sum())},
        )

    def check(raw: Path) -> dict[str, Any]:
        tables = build(raw, LabelOptions())
        return {"train_images": len(tables.train), "test_images": len(tables.test)}

    if not images.is_dir():
        raise DataError(f"{path}: images folder {images} not found; fix 'images'")
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
