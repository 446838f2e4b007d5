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
    recipe:                   # overrides of the default training recipe
      image_size: 96
      crop: 0.5

The same keys work in TOML. Use the file's path wherever a slug is expected:
``kit train my-galaxies.yaml``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from kaggle_kit.competitions._registry import METRICS, Competition, LabelOptions, LabelTables
from kaggle_kit.competitions._tables import (
    attach_paths,
    binary_labels,
    check_unique_ids,
    hash_split,
    read_table,
)
from kaggle_kit.errors import ConfigError, DataError
from kaggle_kit.yamlfile import read_mapping

REQUIRED_KEYS = ("slug", "images", "labels")
KNOWN_KEYS = {
    "slug", "title", "images", "labels", "id_column", "label_column", "extension", "metric",
    "test_fraction", "class_names", "native_size", "recipe", "description",
}
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
    slug = str(spec["slug"])
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", slug):
        raise ConfigError(f"{path}: slug '{slug}' must be lowercase letters, digits and dashes")
    metric = spec.get("metric", "auc")
    if metric not in METRICS:
        raise ConfigError(f"{path}: metric must be one of {', '.join(METRICS)} (got '{metric}')")
    fraction = float(spec.get("test_fraction", 0.2))
    if not 0.0 < fraction < 0.9:
        raise ConfigError(f"{path}: test_fraction must be above 0 and below 0.9")
    extension = str(spec.get("extension", ".jpg"))
    extension = extension if extension.startswith(".") else "." + extension
    class_names = tuple(spec.get("class_names", ("negative", "positive")))
    if len(class_names) != 2:
        raise ConfigError(f"{path}: class_names must name exactly two classes (label 0, label 1)")
    recipe = spec.get("recipe") or {}
    if not isinstance(recipe, dict):
        raise ConfigError(f"{path}: recipe must be a mapping of training options")

    root = path.resolve().parent
    images = (root / str(spec["images"])).resolve()
    labels = (root / str(spec["labels"])).resolve()
    id_column = str(spec.get("id_column", "id"))
    label_column = str(spec.get("label_column", "label"))
    native_size = tuple(spec.get("native_size", (0, 0)))

    def build(raw: Path, options: LabelOptions) -> LabelTables:
        table = read_table(labels, [id_column, label_column], hint=f"fix 'labels' in {path}", id_column=id_column)
        check_unique_ids(table, id_column, labels)
        table = pd.DataFrame({"id": table[id_column].astype(str), "label": binary_labels(table, label_column, labels)})
        table = attach_paths(table, "id", images, extension, labels)
        held_out = hash_split(table["id"], table["label"], fraction)
        train = table[~held_out].reset_index(drop=True)
        test = table[held_out].reset_index(drop=True)
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
        title=str(spec.get("title", slug)),
        source_kind="local",
        source_ref=str(images),
        native_size=native_size,  # (0, 0): read from the images when the cache is built
        metric=metric,
        build_labels=build,
        check_layout=check,
        class_names=class_names,
        locally_scored=True,
        recipes={"default": {**GENERIC_RECIPE, **recipe}},
        local_root=images.parent,
        description=str(spec.get("description", f"custom competition from {path}")),
    )
