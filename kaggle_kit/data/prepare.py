"""``kit prepare``: label tables, rebalancing, and the decoded image cache, built once.

>>> options = PrepareOptions(image_size=96, balance="undersample")
>>> data = prepare(get_competition("histopathologic-cancer-detection"), Workspace.resolve(), options)
>>> data.train_store().read(data.train_index["row"][:32]).shape
(32, 96, 96, 3)

Order of work on the training rows: undersample (before decoding, so dropped
images cost nothing) → ``max_images`` stratified subsample → decode → drop
unreadable → oversample (repeated index rows) or class weights, from what was
actually decoded. The test set is always decoded complete, in sample-submission
order; an unreadable test image keeps its row (zero pixels, ``readable=0``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import time
import warnings
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kaggle_kit.competitions import Competition, LabelOptions, LabelTables
from kaggle_kit.competitions.custom import claim_slug
from kaggle_kit.config import BALANCE_CHOICES, STAIN_NORMS
from kaggle_kit.data.cache import (
    CACHE_FORMAT,
    MANIFEST,
    PreparedData,
    check_free_space,
    clear_stale_builds,
    fill_arrays,
    new_build_dir,
    open_cache,
    publish,
    verify_arrays,
)
from kaggle_kit.data.decode import RESAMPLE_NAME, frame_size
from kaggle_kit.errors import CacheError, ConfigError, DataError, KitWarning, shown
from kaggle_kit.fsutil import locked, write_csv_atomic, write_json_atomic
from kaggle_kit.paths import Workspace
from kaggle_kit.tasks import Task, binary_task


LOCK_FILE = ".prepare.lock"
SMALL_BUILD = 1000  # images; below this one process decodes faster than a pool starts


class UpscalingWarning(KitWarning):
    """``image_size`` beyond the pixels the images have after the crop."""


class UncheckedCacheWarning(KitWarning):
    """A cache used without its raw files, so without checking them for changes."""


@dataclass(frozen=True)
class PrepareOptions:
    """What a cache is built from; every field but ``labels_file`` is part of its identity."""

    image_size: int
    crop: float = 1.0
    stain_norm: str = "none"
    balance: str = "none"
    min_vote_fraction: float | None = None
    max_images: int | None = None
    seed: int = 42
    labels_file: Path | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.image_size, int) and 8 <= self.image_size <= 1024):
            raise ConfigError(f"image size must be an integer from 8 to 1024 (got {shown(self.image_size)})")
        if not 0.05 <= float(self.crop) <= 1.0:
            raise ConfigError(f"crop must be a fraction of the frame from 0.05 to 1.0 (got {shown(self.crop)})")
        if self.stain_norm not in STAIN_NORMS:
            raise ConfigError(f"stain normalisation must be one of {', '.join(STAIN_NORMS)} (got {shown(self.stain_norm)})")
        if self.balance not in BALANCE_CHOICES:
            raise ConfigError(f"balance must be one of {', '.join(BALANCE_CHOICES)} (got '{self.balance}')")
        if self.min_vote_fraction is not None and not 0.0 <= self.min_vote_fraction <= 1.0:
            raise ConfigError(f"min vote fraction must be from 0 to 1 (got {shown(self.min_vote_fraction)})")
        if self.max_images is not None and self.max_images < 4:
            raise ConfigError(f"max images must be at least 4 (got {shown(self.max_images)})")

    def settings(self) -> dict[str, Any]:
        """The fields that identify a cache (JSON-ready, as stored in the manifest).

        ``stain_norm`` only when one is applied, so caches built before the option existed still match.
        """
        settings = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("labels_file", "stain_norm")}
        if self.stain_norm != "none":
            settings["stain_norm"] = self.stain_norm
        return settings | {"crop": float(self.crop)}

    def readable_key(self) -> str:
        parts = [f"{self.image_size}px", f"crop{float(self.crop):g}", self.balance]
        if self.stain_norm != "none":
            parts.append(self.stain_norm)
        if self.min_vote_fraction is not None:
            parts.append(f"vote{self.min_vote_fraction:g}")
        if self.max_images is not None:
            parts.append(f"max{self.max_images}")
        parts.append(f"seed{self.seed}")
        return "-".join(parts)

    def as_flags(self) -> str:
        """The ``kit prepare`` options that rebuild a cache with these settings."""
        flags = [f"--image-size {self.image_size}", f"--crop {float(self.crop):g}", f"--balance {self.balance}"]
        if self.stain_norm != "none":
            flags.append(f"--stain-norm {self.stain_norm}")
        if self.min_vote_fraction is not None:
            flags.append(f"--min-vote-fraction {self.min_vote_fraction:g}")
        if self.max_images is not None:
            flags.append(f"--max-images {self.max_images}")
        return " ".join(flags)


# --- public entry points --------------------------------------------------------
def prepare(
    competition: Competition,
    workspace: Workspace,
    options: PrepareOptions,
    *,
    force: bool = False,
    workers: int | None = None,
    progress: bool = True,
) -> PreparedData:
    """Write the label tables and build (or reuse) the image cache for ``options``.

    One prepare of a competition runs at a time: a second one waits on the lock,
    then finds the finished cache and reuses it. ``workers`` decode processes
    (default: all cores, or 1 for sets under 1,000 images). Scripts that call this
    with a worker pool while TensorFlow is loaded need the usual
    ``if __name__ == "__main__":`` guard (workers are then spawned, not forked).
    """
    raw = competition.raw_dir(workspace)
    if not raw.is_dir():
        raise DataError(
            f"raw files of {competition.slug} not found at {raw}; run `kit download {competition.command_name}` "
            "first, or pass --raw-dir"
        )
    cache_root = workspace.cache_root(competition.slug)
    claim_slug(competition, workspace)
    with locked(cache_root / LOCK_FILE):
        clear_stale_builds(cache_root)
        label_options = LabelOptions(labels_file=options.labels_file, min_vote_fraction=options.min_vote_fraction)
        tables = competition.build_labels(raw, label_options)
        check_filter_applied(competition, options, tables)
        if tables.train.empty or tables.test.empty:
            raise DataError(f"the labels of {competition.slug} give {len(tables.train)} training and "
                            f"{len(tables.test)} test rows; both are needed: check the label tables under {raw}")
        warn_if_upscaling(competition, tables, options)
        check_balance_applies(competition, options)
        competition.task.labels(tables.train, source=f"the training labels of {competition.slug}")
        write_label_tables(workspace.labels_dir(competition.slug), tables, competition.task.label_columns)
        source = source_fingerprint(raw, tables, options, competition.task.label_columns)
        key = cache_key(options, source)
        final = cache_root / key
        if not force and (final / MANIFEST).is_file():
            return open_cache(final, reused=True)
        check_free_space(cache_root, cache_bytes(tables, options), f"the {options.readable_key()} cache",
                         "free some space, use a smaller --image-size or --max-images, or a --data-dir on a larger disk")
        build_dir = new_build_dir(cache_root, key)
        try:
            workers = workers or default_workers(len(tables.train) + len(tables.test))
            build_cache(build_dir, competition, tables, options, source, key, workers=workers, progress=progress)
            publish(build_dir, final)
        finally:
            shutil.rmtree(build_dir, ignore_errors=True)
        replaced = remove_superseded(cache_root, options, keep=final)
        return dataclasses.replace(open_cache(final, reused=False), replaced=replaced)


def prepare_current(competition: Competition, workspace: Workspace, options: PrepareOptions, *,
                    progress: bool = True) -> PreparedData:
    """The cache for ``options`` built from the raw files as they are now: the existing one when
    neither the label tables nor any image file (name, size, mtime) changed since it was built,
    else a new build. ``kit train`` and ``kit predict`` use this, so a cache built from labels
    edited or images replaced since is never trained on or predicted from.

    Without ``options.labels_file``, the labels file the newest such cache was built with
    (``kit prepare --labels``) is used again. Without the raw files (deleted to save space, or
    a ``--raw-dir`` not given again), that cache is used unchecked, with an ``UncheckedCacheWarning``.
    """
    previous = newest_cache(workspace.cache_root(competition.slug), options)
    raw = competition.raw_dir(workspace)
    if previous is not None and not raw.is_dir():
        warnings.warn(UncheckedCacheWarning(
            f"raw files of {competition.slug} not found at {raw}: using the cache {previous[0].name} without "
            "checking its labels and images for changes; pass --raw-dir to check them"), stacklevel=2)
        return open_cache(previous[0], reused=True)
    recorded = previous and previous[1].get("source", {}).get("labels_file")
    if options.labels_file is None and recorded:
        options = dataclasses.replace(options, labels_file=Path(recorded))
    return prepare(competition, workspace, options, progress=progress)


def warn_if_upscaling(competition: Competition, tables: LabelTables, options: PrepareOptions) -> None:
    """Warn (``UpscalingWarning``) when the images are smaller than ``image_size`` after the crop: the
    cache would hold them enlarged, which adds no detail and costs memory and time."""
    known = competition.native_size if all(competition.native_size) else None
    frame = frame_size(tables.train["path"].iloc[0]) or known
    if frame is None:
        return  # nothing to measure: the build lists the unreadable image in skipped.csv
    kept = min(max(1, round(side * float(options.crop))) for side in frame)
    if options.image_size > kept:
        warnings.warn(UpscalingWarning(
            f"--image-size {options.image_size} is larger than the {kept} px kept of the {frame[0]}×{frame[1]} "
            f"images of {competition.slug} (--crop {float(options.crop):g}): they are enlarged "
            f"{options.image_size / kept:.1f}× in the cache, which adds no detail; --image-size {kept} keeps every pixel"
        ), stacklevel=2)


def cache_bytes(tables: LabelTables, options: PrepareOptions) -> int:
    """About what a cache takes on disk: its two uint8 arrays (at most every row) and the index files."""
    rows = (len(tables.train) if options.max_images is None else min(len(tables.train), options.max_images))
    rows += len(tables.test)
    return rows * options.image_size ** 2 * 3 + rows * 100 + (1 << 20)


def load_prepared(competition: Competition, workspace: Workspace, options: PrepareOptions) -> PreparedData:
    """The newest complete cache built with ``options``, as it is (no check of the raw files: see
    ``prepare_current``); :class:`CacheError` when there is none."""
    cache_root = workspace.cache_root(competition.slug)
    newest = newest_cache(cache_root, options)
    if newest is None:
        raise CacheError(
            f"no prepared cache of {competition.slug} for {options.readable_key()} in {cache_root}; "
            f"run `kit prepare {competition.command_name} {options.as_flags()}`"
        )
    return open_cache(newest[0], reused=True)


def newest_cache(cache_root: Path, options: PrepareOptions) -> tuple[Path, dict[str, Any]] | None:
    """The folder and manifest of the newest complete cache built with ``options``, if any."""
    matches = [(manifest.get("created", ""), folder, manifest) for folder, manifest in caches_with(cache_root, options)]
    return max(matches, key=lambda match: match[:2])[1:] if matches else None


def caches_with(cache_root: Path, options: PrepareOptions) -> list[tuple[Path, dict[str, Any]]]:
    """Every complete cache folder built with ``options`` (whatever its source), with its manifest."""
    wanted = options.settings()
    found = []
    for manifest_path in cache_root.glob(f"*/{MANIFEST}"):
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # a damaged cache is simply not a match; `kit prepare` replaces it
        if isinstance(manifest, dict) and manifest.get("settings") == wanted and manifest.get("format") == CACHE_FORMAT:
            found.append((manifest_path.parent, manifest))
    return found


def remove_superseded(cache_root: Path, options: PrepareOptions, keep: Path) -> list[str]:
    """Remove the caches with these settings built from older labels or images (call with the
    lock held); a training run still reading one keeps its open files. Returns their names."""
    stale = [folder for folder, _ in caches_with(cache_root, options) if folder != keep]
    for folder in stale:
        retired = folder.with_name(f".{folder.name}.stale")
        os.replace(folder, retired)  # out of sight of "*/manifest.json" at once
        shutil.rmtree(retired, ignore_errors=True)
    return [folder.name for folder in stale]


def summary_lines(data: PreparedData) -> list[str]:
    """What ``kit prepare`` reports: counts, skipped files, the rebalancing done, the cache folder."""
    counts = data.manifest["counts"]
    if "positive" in counts:
        classes = f"{counts['positive']:,} positive, {counts['negative']:,} negative"
    else:
        per_class = counts.get("classes", {})
        present = {name: count for name, count in per_class.items() if count}
        shown = ", ".join(f"{name} {count:,}" for name, count in list(present.items())[:8])
        more = ", …" if len(present) > 8 else ""
        of_all = f" ({len(present)} of {len(per_class)} classes present)" if len(present) < len(per_class) else ""
        classes = f"per class: {shown}{more}{of_all}" if per_class else "continuous targets"
    lines = [
        f"train: {counts['train_images']:,} images, {classes} ({counts['train_rows']:,} index rows)",
        f"test: {counts['test_images']:,} images ({counts['test_unreadable']:,} unreadable, kept as blank rows)",
        f"skipped: {counts['skipped']:,}" + (f" (listed in {data.root / 'skipped.csv'})" if counts["skipped"] else ""),
    ]
    lines += [f"labels: {note}" for note in data.manifest.get("label_notes", {}).get("report", [])]
    lines += [f"balance: {note}" for note in data.manifest["balance_done"]]
    if data.manifest.get("subsample"):
        lines.append(f"subsample: {data.manifest['subsample']}")
    lines.append(f"cache: {data.root} ({'reused' if data.reused else 'built'})")
    if data.replaced:
        lines.append(f"removed {len(data.replaced)} stale cache(s) with these settings, built from labels or images "
                     f"that have changed since: {', '.join(data.replaced)}")
    return lines


def available_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def default_workers(images: int) -> int:
    """All cores, except for small sets, where starting a worker pool costs more than it saves."""
    return available_cpus() if images >= SMALL_BUILD else 1


# --- label tables ------------------------------------------------------------------
def check_filter_applied(competition: Competition, options: PrepareOptions, tables: LabelTables) -> None:
    """A confidence filter or labels file the competition's labels cannot use is an error, not a silent no-op."""
    if options.min_vote_fraction is not None and "min_vote_fraction" not in tables.notes:
        raise ConfigError(
            f"--min-vote-fraction needs volunteer vote fractions, which {competition.slug} does not have "
            "(galaxy-zoo-2 does); drop the option"
        )
    if options.labels_file is not None and "labels_file" not in tables.notes:
        raise ConfigError(
            f"--labels supplies the gz2_hart16 table of galaxy-zoo-2; {competition.slug} takes its labels from its "
            "own files: drop the option"
        )


def check_balance_applies(competition: Competition, options: PrepareOptions) -> None:
    """Rebalancing works on classes (or ordinal grades); a multi-label or continuous task has none."""
    task = competition.task
    if options.balance != "none" and not task.has_classes:
        raise ConfigError(
            f"--balance {options.balance} rebalances classes, which a {task.describe()} task such as "
            f"{competition.slug} does not have; use --balance none"
        )
    if options.balance == "class-weight" and task.kind == "regression" and not task.is_ordinal:
        raise ConfigError(f"--balance class-weight needs classes; {competition.slug} has none: use --balance none")


def write_label_tables(labels_dir: Path, tables: LabelTables, label_columns: tuple[str, ...] = ("label",)) -> None:
    """train.csv, test.csv, sample_submission.csv, test_labels.csv (local scoring only), notes.json."""
    write_csv_atomic(labels_dir / "train.csv", tables.train[["id", *label_columns, "path"]])
    write_csv_atomic(labels_dir / "test.csv", tables.test[["id", "path"]])
    write_csv_atomic(labels_dir / "sample_submission.csv", tables.sample_submission)
    if tables.test_labels is not None:
        write_csv_atomic(labels_dir / "test_labels.csv", tables.test_labels[["id", *label_columns]])
    write_json_atomic(labels_dir / "notes.json", tables.notes)


def source_fingerprint(raw: Path, tables: LabelTables, options: PrepareOptions,
                       label_columns: tuple[str, ...] = ("label",)) -> dict[str, Any]:
    """What the cache was built from: a digest of the label tables (ids, labels) and one of every
    image file's path, size and modification time (``stat`` only, no byte read: 277k files
    take 1.2 CPU-seconds, docs/benchmarks.md)."""
    labels = hashlib.sha256()  # the image paths are in the images' digest
    for frame in (tables.train[["id", *label_columns]], tables.test[["id"]]):
        labels.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return {
        "raw_dir": str(raw),
        "labels_file": str(options.labels_file) if options.labels_file is not None else None,
        "labels_digest": labels.hexdigest()[:16],
        "images_digest": images_digest([*tables.train["path"], *tables.test["path"]]),
        "train_rows": len(tables.train),
        "test_rows": len(tables.test),
    }


def images_digest(paths: list[str]) -> str:
    """A digest of each file's path, size and modification time (a missing file counts as such)."""
    digest = hashlib.sha256()
    for path in paths:
        try:
            info = os.stat(path)
            digest.update(f"{path}\0{info.st_size}\0{info.st_mtime_ns}\0{info.st_mode >> 12}\n".encode())
        except OSError:
            digest.update(f"{path}\0missing\n".encode())
    return digest.hexdigest()[:16]


def cache_key(options: PrepareOptions, source: dict[str, Any]) -> str:
    identity = {"settings": options.settings(), "labels": source["labels_digest"], "images": source["images_digest"]}
    blob = json.dumps(identity, sort_keys=True, default=str).encode()
    return f"{options.readable_key()}-{hashlib.sha256(blob).hexdigest()[:10]}"


# --- rebalancing ---------------------------------------------------------------------
# Classes are what a task balances on: the label of a binary or multi-class task, an
# ordinal regression's grade (``Task.strata``). Multi-label and continuous tasks have none
# (``check_balance_applies``); their subsample is stratified on ``Task.strata`` all the same.
def class_counts(labels: pd.Series) -> dict[int, int]:
    return {int(k): int(v) for k, v in labels.value_counts().sort_index().items()}


def require_two_classes(strata: pd.Series, balance: str) -> dict[int, int]:
    counts = class_counts(strata)
    if len(counts) < 2:
        raise DataError(f"--balance {balance} needs at least two classes in the training rows, found only "
                        f"{sorted(counts)}; use --balance none")
    return counts


def undersample(train: pd.DataFrame, strata: pd.Series, rng: np.random.Generator) -> tuple[pd.DataFrame, str]:
    """Drop rows at random from every class larger than the smallest, down to its count."""
    counts = require_two_classes(strata, "undersample")
    minor_count = min(counts.values())
    values = strata.to_numpy()
    dropped = [rng.choice(np.flatnonzero(values == label), size=count - minor_count, replace=False)
               for label, count in counts.items() if count > minor_count]
    kept = train.drop(train.index[np.concatenate(dropped)]) if dropped else train
    if len(counts) == 2:
        major = max(counts, key=lambda label: (counts[label], label))
        return kept, f"undersample: label {major} {counts[major]:,} → {minor_count:,} (50/50)"
    return kept, f"undersample: every class down to {minor_count:,} rows ({len(counts)} classes)"


def stratified_subsample(train: pd.DataFrame, strata: pd.Series, limit: int, rng: np.random.Generator) -> pd.DataFrame:
    """``limit`` rows, each stratum keeping its share (largest remainders), original order kept."""
    if len(train) <= limit:
        return train
    counts = class_counts(strata)
    exact = {label: limit * count / len(train) for label, count in counts.items()}
    quota = {label: int(value) for label, value in exact.items()}
    by_remainder = sorted(exact, key=lambda label: exact[label] - quota[label], reverse=True)
    for label in by_remainder[: limit - sum(quota.values())]:
        quota[label] += 1
    values = strata.to_numpy()
    chosen = [rng.choice(np.flatnonzero(values == label), size=quota[label], replace=False) for label in counts]
    return train.iloc[np.sort(np.concatenate(chosen))]


def oversample(index: pd.DataFrame, strata: pd.Series, rng: np.random.Generator) -> tuple[pd.DataFrame, str]:
    """Repeat rows of every smaller class until each has as many index rows as the largest."""
    counts = require_two_classes(strata, "oversample")
    target = max(counts.values())
    values = strata.to_numpy()
    extra = []
    for label, count in counts.items():
        if count == target:
            continue
        members = np.flatnonzero(values == label)
        whole, remainder = divmod(target - len(members), len(members))
        extra.append(np.concatenate([np.tile(members, whole), rng.choice(members, size=remainder, replace=False)]))
    grown = pd.concat([index, index.iloc[np.sort(np.concatenate(extra))]], ignore_index=True) if extra else index
    if len(counts) == 2:
        minor = min(counts, key=lambda label: (counts[label], -label))
        return grown, f"oversample: label {minor} {counts[minor]:,} → {target:,} rows (images repeated)"
    return grown, f"oversample: every class up to {target:,} rows ({len(counts)} classes; images repeated)"


def balanced_class_weight(strata: pd.Series) -> tuple[dict[int, float], str]:
    """Weights n / (K · n_class), so every one of the K classes weighs the same in the loss."""
    counts = require_two_classes(strata, "class-weight")
    total = sum(counts.values())
    weights = {label: round(total / (len(counts) * count), 6) for label, count in counts.items()}
    return weights, "class-weight: " + ", ".join(f"label {k} × {v:.3f}" for k, v in weights.items())


def strata_of(task: "Task", frame: pd.DataFrame) -> pd.Series:
    """The stratum (class, grade, or ``Task.strata`` bin) of each row of a label table or index."""
    return pd.Series(task.strata(task.labels(frame)), index=frame.index)


def select_train_rows(
    train: pd.DataFrame, options: PrepareOptions, rng: np.random.Generator, task: "Task | None" = None
) -> tuple[pd.DataFrame, list[str], str | None]:
    """The training rows to decode: undersampled and/or subsampled as the options say.

    Returns the rows, what balancing was done, and what subsampling was done.
    """
    task = task or binary_task()
    balance_notes, subsample_note = [], None
    if options.balance == "undersample":
        train, note = undersample(train, strata_of(task, train), rng)
        balance_notes.append(note)
    if options.max_images is not None and len(train) > options.max_images:
        subsample_note = f"{options.max_images:,} of {len(train):,} training rows (stratified, seed {options.seed})"
        train = stratified_subsample(train, strata_of(task, train), options.max_images, rng)
    return train.reset_index(drop=True), balance_notes, subsample_note


# --- the build -------------------------------------------------------------------------
def build_cache(
    build_dir: Path,
    competition: Competition,
    tables: LabelTables,
    options: PrepareOptions,
    source: dict[str, Any],
    key: str,
    *,
    workers: int,
    progress: bool,
) -> None:
    """Decode train and test into ``build_dir`` and write its indexes, then the manifest last."""
    started = time.monotonic()
    task = competition.task
    rng = np.random.default_rng(options.seed)
    selected, balance_notes, subsample_note = select_train_rows(tables.train, options, rng, task)
    test = tables.test.reset_index(drop=True)
    train_skipped, test_skipped = decode_splits(build_dir, competition.slug, selected, test, options,
                                                workers=workers, progress=progress)
    train_index = readable_train_index(selected, train_skipped, competition.slug, task.label_columns)
    class_weight = None
    if options.balance == "oversample":
        train_index, note = oversample(train_index, strata_of(task, train_index), rng)
        balance_notes.append(note)
    elif options.balance == "class-weight":
        class_weight, note = balanced_class_weight(strata_of(task, train_index))
        balance_notes.append(note)
    test_index = pd.DataFrame({
        "id": test["id"],
        "row": np.arange(len(test)),
        "readable": (~np.isin(np.arange(len(test)), list(test_skipped))).astype(int),
    })
    skipped = skipped_table(selected, train_skipped, test, test_skipped)
    write_csv_atomic(build_dir / "train_index.csv", train_index)
    write_csv_atomic(build_dir / "test_index.csv", test_index)
    write_csv_atomic(build_dir / "skipped.csv", skipped)
    counts = {
        "train_images": int(len(selected) - len(train_skipped)),
        "train_rows": len(train_index),
        **class_figures(task, train_index),
        "test_images": len(test),
        "test_unreadable": len(test_skipped),
        "skipped": len(skipped),
    }
    manifest = {
        "format": CACHE_FORMAT,
        "competition": competition.slug,
        "key": key,
        "settings": options.settings(),
        "image_size": options.image_size,
        "crop": float(options.crop),
        "balance": options.balance,
        "balance_done": balance_notes or ["none"],
        "subsample": subsample_note,
        "class_weight": {str(k): v for k, v in class_weight.items()} if class_weight else None,
        "min_vote_fraction": options.min_vote_fraction,
        "label_notes": tables.notes,
        "task": task.to_dict(),
        "counts": counts,
        "skipped": len(skipped),
        "source": source,
        "decoder": {"library": "pillow", "resample": RESAMPLE_NAME, "workers": workers},
        "seconds": round(time.monotonic() - started, 2),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    write_json_atomic(build_dir / MANIFEST, manifest)  # last: its presence means complete


def decode_splits(
    build_dir: Path, slug: str, train: pd.DataFrame, test: pd.DataFrame, options: PrepareOptions,
    *, workers: int, progress: bool,
) -> tuple[dict[int, str], dict[int, str]]:
    """Decode both splits into ``train.npy``/``test.npy`` (one worker pool), flushed to disk;
    return {row: reason} of the skipped images of each."""
    from tqdm.auto import tqdm

    jobs = [(build_dir / "train.npy", train["path"].tolist()), (build_dir / "test.npy", test["path"].tolist())]
    with tqdm(total=len(train) + len(test), unit="img", desc=f"prepare {slug}", disable=not progress,
              leave=False) as bar:
        skipped = fill_arrays(jobs, options.image_size, float(options.crop), workers=workers, progress=bar.update,
                              stain_norm=options.stain_norm)
    verify_arrays(*(target for target, _ in jobs))
    return skipped[0], skipped[1]


def class_figures(task: "Task", train_index: pd.DataFrame) -> dict[str, Any]:
    """The manifest's class counts: ``positive``/``negative`` rows for binary; index rows per class
    (or per label column, per grade) otherwise."""
    if task.kind == "binary":
        return {"positive": int((train_index["label"] == 1).sum()), "negative": int((train_index["label"] == 0).sum())}
    return {"classes": task.class_counts(task.labels(train_index))}


def readable_train_index(selected: pd.DataFrame, skipped: dict[int, str], slug: str,
                         label_columns: tuple[str, ...] = ("label",)) -> pd.DataFrame:
    """id, the label columns, row of the training images that decoded; an error when none did."""
    index = selected[["id", *label_columns]].assign(row=np.arange(len(selected)))
    index = index[~index["row"].isin(list(skipped))].reset_index(drop=True)
    if index.empty:
        first = next(iter(skipped.values()), "no rows")
        raise DataError(
            f"none of the {len(selected)} training images of {slug} could be decoded "
            f"(e.g. {first}); check the image files under {Path(selected['path'].iloc[0]).parent}"
        )
    return index


def skipped_table(train: pd.DataFrame, train_skipped: dict[int, str], test: pd.DataFrame,
                  test_skipped: dict[int, str]) -> pd.DataFrame:
    rows = [("train", train.at[row, "id"], train.at[row, "path"], reason) for row, reason in sorted(train_skipped.items())]
    rows += [("test", test.at[row, "id"], test.at[row, "path"], reason) for row, reason in sorted(test_skipped.items())]
    return pd.DataFrame(rows, columns=["split", "id", "path", "reason"])
