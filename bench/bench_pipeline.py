"""Benchmark of the training input pipeline (issue 5's speed ratios, measured in one run).

    nice -n 10 python bench/bench_pipeline.py augment --images 2048     # 1: pipeline vs legacy ImageDataGenerator
    nice -n 10 python bench/bench_pipeline.py train --images 2048       # 2: training from the cache vs in-RAM tensors
    nice -n 10 python bench/bench_pipeline.py memory --big 200000       # 3: peak RSS training from a 200k-image cache
    nice -n 10 python bench/bench_pipeline.py all --write-docs          # all three, figures into docs/benchmarks.md

Images: PCam patches from /work/shared/data/pcam-sample converted to TIFF, in the
competition's layout, cached by the prepare API. The legacy contender,
``keras.src.legacy.preprocessing.image.ImageDataGenerator.flow_from_dataframe``,
reads those same TIFF files with the same augmentation options (the same
keyword arguments are given to both). The 200k cache of part 3 tiles the real
patches into a 5.5 GB ``train.npy`` written directly in the cache format, and
is deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_cache import CANCER, pcam_tiffs, read_all, write_competition, write_docs  # noqa: E402

SECTION = "## Train: input pipeline speed and memory (`bench/bench_pipeline.py`)"
IMAGE_SIZE = 96
BATCH = 64
# The same keyword arguments go to ImageDataGenerator and to kit's AugmentConfig.
AUGMENTATIONS = {
    "notebook: zoom 0.2": {"zoom_range": 0.2, "fill_mode": "nearest"},
    "flips + brightness": {"horizontal_flip": True, "vertical_flip": True, "brightness_range": (0.9, 1.1)},
    "rotate, shift, zoom, flips, brightness": {
        "rotation_range": 20.0, "width_shift_range": 0.1, "height_shift_range": 0.1, "zoom_range": 0.2,
        "horizontal_flip": True, "vertical_flip": True, "brightness_range": (0.9, 1.1), "fill_mode": "reflect",
    },
}
# Part 2 trains with the cancer default recipe's augmentation (no ImageDataGenerator equivalent needed).
DEFAULT_AUGMENT = {"dihedral": True, "brightness_range": (0.9, 1.1), "contrast_range": 0.1}


# --- data ----------------------------------------------------------------------------------
def prepared_tiffs(work: Path, images: int):
    """A cancer competition of ``images`` PCam TIFFs, prepared into a 96×96 cache; (prepared, raw folder)."""
    from kaggle_kit.competitions import get_competition
    from kaggle_kit.data.prepare import PrepareOptions, prepare
    from kaggle_kit.paths import Workspace

    raw = work / "raw"
    if not (raw / "train_labels.csv").is_file() or len(list((raw / "train").iterdir())) != images:
        write_competition(raw, pcam_tiffs(work, images, balanced=True), n_train=images, n_test=8)
    workspace = Workspace.resolve(data_dir=work / "data", runs_dir=work / "runs", raw_dir=raw)
    options = PrepareOptions(image_size=IMAGE_SIZE)
    return prepare(get_competition(CANCER), workspace, options, progress=False), raw


# --- 1: augmented batches per second ---------------------------------------------------------
def kit_batches_per_second(prepared, augment: dict, epochs: int = 2) -> float:
    from kaggle_kit.config import AugmentConfig
    from kaggle_kit.data.pipeline import make_dataset

    index = prepared.train_index
    dataset = make_dataset(prepared.train_store(), index["row"].to_numpy(), index["label"].to_numpy(), BATCH,
                           training=True, augment=AugmentConfig(**augment), seed=0)
    for _ in dataset:  # the first epoch traces the functions
        pass
    started, batches = time.perf_counter(), 0
    for _ in range(epochs):
        for _ in dataset:
            batches += 1
    return batches / (time.perf_counter() - started)


def legacy_batches_per_second(raw: Path, augment: dict, batches: int) -> float:
    import pandas as pd
    from keras.src.legacy.preprocessing.image import ImageDataGenerator

    labels = pd.read_csv(raw / "train_labels.csv", dtype={"id": str})
    labels["filename"] = labels["id"] + ".tif"
    flow = ImageDataGenerator(**augment).flow_from_dataframe(
        labels, directory=str(raw / "train"), x_col="filename", y_col="label", class_mode="raw",
        target_size=(IMAGE_SIZE, IMAGE_SIZE), batch_size=BATCH, shuffle=True, seed=0,
    )
    next(flow)
    started = time.perf_counter()
    for _ in range(batches):
        next(flow)
    return batches / (time.perf_counter() - started)


def augment_ratios(work: Path, images: int, repeats: int) -> list[dict]:
    prepared, raw = prepared_tiffs(work, images)
    read_all(sorted((raw / "train").iterdir()))  # warm page cache: both read from memory
    rows = []
    for name, augment in AUGMENTATIONS.items():
        # Pairs back to back (load from other jobs comes and goes); the median pair ratio is reported.
        pairs = []
        for _ in range(repeats):
            legacy = legacy_batches_per_second(raw, augment, batches=min(24, images // BATCH))
            pairs.append((legacy, kit_batches_per_second(prepared, augment)))
        legacy, kit = (float(np.median(values)) for values in zip(*pairs))
        ratio = float(np.median([k / lg for lg, k in pairs]))
        rows.append({"augmentation": name, "legacy": legacy, "kit": kit, "ratio": ratio})
        print(f"[1] {name}: pairs {pairs}, median ratio {ratio:.1f}x", flush=True)
    return rows


# --- 2: training throughput ------------------------------------------------------------------
def epoch_timer():
    """A Keras callback recording the wall time of each epoch (the first one pays for tracing)."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self._started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._started)

    return EpochTimer()


def compiled(model_name: str, seed: int):
    import keras

    from kaggle_kit.config import TrainConfig
    from kaggle_kit.training.model import build_compiled_model
    from kaggle_kit.training.task import make_task

    keras.utils.set_random_seed(seed)
    return build_compiled_model(TrainConfig(competition=CANCER, model=model_name, image_size=IMAGE_SIZE),
                                make_task("auc"), (IMAGE_SIZE, IMAGE_SIZE, 3))


def images_per_second_from_cache(prepared, model_name: str, epochs: int) -> float:
    from kaggle_kit.config import AugmentConfig
    from kaggle_kit.data.pipeline import make_dataset

    index = prepared.train_index
    dataset = make_dataset(prepared.train_store(), index["row"].to_numpy(), index["label"].to_numpy(), BATCH,
                           training=True, augment=AugmentConfig(**DEFAULT_AUGMENT), seed=0)
    timer = epoch_timer()
    compiled(model_name, 0).fit(dataset, epochs=epochs, callbacks=[timer], verbose=0)
    return len(index) / float(np.median(timer.seconds[1:]))


def images_per_second_in_ram(prepared, model_name: str, epochs: int) -> float:
    index = prepared.train_index
    images = prepared.train_store().read(index["row"].to_numpy()).astype(np.float32)
    labels = index["label"].to_numpy(dtype=np.float32)
    timer = epoch_timer()
    compiled(model_name, 0).fit(images, labels, batch_size=BATCH, epochs=epochs, shuffle=True, callbacks=[timer],
                                verbose=0)
    return len(index) / float(np.median(timer.seconds[1:]))


def train_ratio(work: Path, images: int, model_name: str, epochs: int, repeats: int) -> dict:
    prepared, _ = prepared_tiffs(work, images)
    # Alternate the contenders so load from other jobs on the machine hits both alike.
    cache_runs, ram_runs = [], []
    for _ in range(repeats):
        ram_runs.append(images_per_second_in_ram(prepared, model_name, epochs))
        cache_runs.append(images_per_second_from_cache(prepared, model_name, epochs))
        print(f"[2] {model_name}: in-RAM {ram_runs[-1]:.1f} img/s, cache + augmentation {cache_runs[-1]:.1f} img/s",
              flush=True)
    # Each pair ran back to back under about the same load: the ratio is the median of the pairs' ratios.
    pair_ratios = [cache / ram for cache, ram in zip(cache_runs, ram_runs)]
    return {"model": model_name, "in_ram": ram_runs, "pipeline": cache_runs, "ratios": pair_ratios,
            "ratio": float(np.median(pair_ratios)), "images": images}


# --- 3: peak memory training from a big cache ------------------------------------------------
def write_big_cache(work: Path, prepared, count: int) -> Path:
    """A ``count``-row cache folder (train.npy + train_index.csv) tiling the prepared patches, no decoding.

    Written with plain writes, not a memory map: a mapped 5.5 GB file would count in this process's
    peak RSS, which a forked child inherits in ``ru_maxrss``.
    """
    import pandas as pd

    folder = work / "big-cache"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    source = prepared.train_store().read(np.arange(len(prepared.train_store())))
    labels = prepared.train_index.sort_values("row")["label"].to_numpy()
    header = {"descr": "|u1", "fortran_order": False, "shape": (count, IMAGE_SIZE, IMAGE_SIZE, 3)}
    with open(folder / "train.npy", "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, header)
        for start in range(0, count, len(source)):
            handle.write(source[: min(count, start + len(source)) - start].tobytes())
    pd.DataFrame({"id": [f"big{i}" for i in range(count)], "label": np.resize(labels, count),
                  "row": np.arange(count)}).to_csv(folder / "train_index.csv", index=False)
    return folder


def memory_status_mb(field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process, from /proc (reset by exec, unlike ru_maxrss)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"{field} not in /proc/self/status")


def phase_memory(folder: str, model_name: str, steps: int) -> None:
    """Child process: split the big index, train ``steps`` batches through the pipeline, evaluate; print JSON."""
    import pandas as pd

    from kaggle_kit.config import AugmentConfig
    from kaggle_kit.data.cache import ImageStore
    from kaggle_kit.data.pipeline import make_dataset
    from kaggle_kit.training.splits import holdout_split

    index = pd.read_csv(Path(folder) / "train_index.csv", dtype={"id": str})
    store = ImageStore(Path(folder) / "train.npy")
    split = holdout_split(index, 0.1, seed=0)
    rows, labels = index["row"].to_numpy(), index["label"].to_numpy(dtype=np.float32)
    train = make_dataset(store, rows[split.train], labels[split.train], BATCH, training=True,
                         augment=AugmentConfig(**DEFAULT_AUGMENT), seed=0)
    val = make_dataset(store, rows[split.val], labels[split.val], BATCH, training=False)
    model = compiled(model_name, 0)
    before_fit = memory_status_mb("VmRSS")  # TensorFlow, the model and the 200k-row index
    started = time.perf_counter()
    model.fit(train, epochs=1, steps_per_epoch=steps, verbose=0)
    model.evaluate(val, steps=steps // 4, verbose=0)
    print(json.dumps({
        "images": len(store), "cache_gb": round(store.path.stat().st_size / 1e9, 2), "steps": steps,
        "seconds": round(time.perf_counter() - started, 1),
        "before_fit_rss_mb": before_fit,
        "peak_rss_mb": memory_status_mb("VmHWM"),
    }))


def memory(work: Path, big: int, model_name: str, steps: int) -> dict:
    prepared, _ = prepared_tiffs(work, 2048)
    folder = write_big_cache(work, prepared, big)
    try:
        child = subprocess.run(
            [sys.executable, __file__, "phase-memory", str(folder), model_name, str(steps)],
            check=True, stdout=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"[3] {result}", flush=True)
    return result


# --- report ----------------------------------------------------------------------------------
def markdown(aug_rows: list[dict] | None, train: dict | None, mem: dict | None, command: str, repeats: int) -> str:
    lines = [SECTION, "", f"`{command}` on {platform.machine()}, {os.cpu_count()} cores (shared), "
             f"{IMAGE_SIZE}×{IMAGE_SIZE} PCam TIFFs, batch {BATCH}.", ""]
    if aug_rows:
        lines += [
            "**1. Augmented batches per second, no model** — kit's pipeline (cache → shuffle → batch → "
            "augment → prefetch) against the legacy `ImageDataGenerator.flow_from_dataframe` reading the "
            f"same TIFFs, both given the same augmentation options; {repeats} pairs run back to back, medians "
            "(aim ≥ 10×):", "",
            "| augmentation | legacy (batches/s) | kit (batches/s) | ratio (median of pairs) |", "|---|---|---|---|",
        ]
        lines += [f"| {r['augmentation']} | {r['legacy']:.2f} | {r['kit']:.1f} | **{r['ratio']:.1f}×** |"
                  for r in aug_rows]
        lines.append("")
    if train:
        lines += [
            f"**2. Training throughput** — `{train['model']}` on {train['images']:,} images, one epoch timed "
            f"after a warm-up epoch, {repeats} pairs run back to back: from the cache with the default cancer "
            f"augmentation ({', '.join(DEFAULT_AUGMENT)}) against the same model fed in-RAM float32 tensors "
            "with no augmentation (aim ≥ 0.9; the load from other jobs moves both contenders of a pair alike, "
            "so the ratio is the median of the pairs'):", "",
            "| pair | in-RAM tensors | cache + augmentation | ratio |", "|---|---|---|---|",
        ]
        lines += [f"| {i + 1} | {ram:.1f} img/s | {cache:.1f} img/s | {ratio:.2f} |"
                  for i, (ram, cache, ratio) in enumerate(zip(train["in_ram"], train["pipeline"], train["ratios"]))]
        lines += [f"| **median** | | | **{train['ratio']:.2f}** |", ""]
    if mem:
        lines += [
            f"**3. Peak memory** — training `{train['model'] if train else 'kit-resnet'}` for {mem['steps']} steps "
            f"(then evaluating) from a {mem['images']:,}-image cache ({mem['cache_gb']} GB `train.npy`), "
            "with a stratified split of the whole index, in a fresh process (aim ≤ 2 GB):", "",
            "| RSS with TensorFlow, model and index loaded | peak RSS while training | time |", "|---|---|---|",
            f"| {mem['before_fit_rss_mb']:.0f} MB | **{mem['peak_rss_mb']:.0f} MB** | {mem['seconds']} s |", "",
        ]
    return "\n".join(lines).rstrip("\n") + "\n"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "phase-memory":
        phase_memory(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=["augment", "train", "memory", "all"])
    parser.add_argument("--images", type=int, default=2048, help="PCam TIFFs for parts 1 and 2")
    parser.add_argument("--model", default="kit-resnet")
    parser.add_argument("--epochs", type=int, default=3, help="part 2: epochs per contender (first is warm-up)")
    parser.add_argument("--big", type=int, default=200_000, help="part 3: rows of the big cache")
    parser.add_argument("--steps", type=int, default=60, help="part 3: training steps")
    parser.add_argument("--repeats", type=int, default=3, help="parts 1 and 2: pairs run back to back")
    parser.add_argument("--work", type=Path, default=Path("/tmp/kit-bench-pipeline"))
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    args.work.mkdir(parents=True, exist_ok=True)
    aug = augment_ratios(args.work, args.images, args.repeats) if args.what in ("augment", "all") else None
    train = (train_ratio(args.work, args.images, args.model, args.epochs, args.repeats)
             if args.what in ("train", "all") else None)
    mem = memory(args.work, args.big, args.model, args.steps) if args.what in ("memory", "all") else None
    text = markdown(aug, train, mem, "nice -n 10 python bench/bench_pipeline.py " + " ".join(sys.argv[1:]),
                    args.repeats)
    print(text)
    if args.write_docs:
        write_docs(text, SECTION)


if __name__ == "__main__":
    main()
