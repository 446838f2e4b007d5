"""Benchmark of `kit predict`: test-set throughput with and without 8× test-time augmentation,
as a ratio to a bare `model.predict` on the same images already in RAM.

    nice -n 10 python bench/bench_predict.py --images 1200                # print the figures
    nice -n 10 python bench/bench_predict.py --images 1200 --write-docs   # and into docs/benchmarks.md

Images: PCam patches from /work/shared/data/pcam-sample as TIFFs in the cancer
competition's layout (the helpers of bench_cache.py), prepared at 96×96; the
model is the zoo's `kit-resnet` (untrained: throughput does not depend on the
weights), saved as a run folder. The "loop" figures time predict()'s inner loop
(cache → `make_dataset` → compiled TTA forward) once it is traced; `predict()`
end to end is timed too (it also loads the model and compiles the forward). The
bare baseline reads nothing: `model.predict` on a float32 array already in
memory. 8× TTA does 8× the model work, so its ideal ratio is 1/8 = 0.125.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_cache import CANCER, DOCS, pcam_tiffs, write_competition, write_docs  # noqa: E402

SECTION = "## Predict: test-set throughput with TTA (`bench/bench_predict.py`)"
RUN_ID = "bench-run"


def make_run(workspace, model_name: str, image_size: int, batch_size: int) -> None:
    """A run folder holding an untrained zoo model, in the run folder layout."""
    from kaggle_kit.config import TrainConfig
    from kaggle_kit.models import create_model

    folder = workspace.runs_root(CANCER) / RUN_ID
    folder.mkdir(parents=True, exist_ok=True)
    config = TrainConfig(competition=CANCER, model=model_name, image_size=image_size, batch_size=batch_size)
    (folder / "config.yaml").write_text(config.to_yaml())
    create_model(model_name, (image_size, image_size, 3)).save(folder / "best.keras")
    (folder / "metrics.json").write_text(json.dumps({"metric": "auc", "threshold": 0.5}))


def best_times(calls: dict, repeats: int) -> dict[str, float]:
    """The best wall time of each call over ``repeats`` rounds. The calls take turns within a round,
    so a burst of load from the other jobs on the machine hits them all alike."""
    best = {name: float("inf") for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def measure(work: Path, images: int, model_name: str, image_size: int, batch_size: int, repeats: int) -> dict:
    from kaggle_kit.competitions import get_competition
    from kaggle_kit.data.prepare import PrepareOptions, prepare
    from kaggle_kit.paths import Workspace
    from kaggle_kit.predict import load_model, predict

    workspace = Workspace(work / "data", work / "runs", work / "submissions")
    competition = get_competition(CANCER)
    write_competition(workspace.raw_dir(CANCER), pcam_tiffs(work, images + 8), n_train=8, n_test=images)
    prepared = prepare(competition, workspace, PrepareOptions(image_size=image_size), progress=False)
    make_run(workspace, model_name, image_size, batch_size)

    model = load_model(workspace.runs_root(CANCER) / RUN_ID / "best.keras")
    in_ram = prepared.test_store().read(np.arange(images)).astype(np.float32)
    model.predict(in_ram[:batch_size], batch_size=batch_size, verbose=0)  # build the predict function once

    def bare():
        model.predict(in_ram, batch_size=batch_size, verbose=0)

    def end_to_end(tta):
        return lambda: predict(competition, workspace, [RUN_ID], tta=tta, batch_size=batch_size, progress=False)

    seconds = best_times({"bare": bare, "none": steady_pass(model, prepared, "none", batch_size),
                          "dihedral": steady_pass(model, prepared, "dihedral", batch_size)}, repeats)
    seconds.update(best_times({f"{tta} end to end": end_to_end(tta) for tta in ("none", "dihedral")}, 1))
    rates = {name: images / value for name, value in seconds.items()}
    return {"images": images, "model": model_name, "image_size": image_size, "batch_size": batch_size,
            "repeats": repeats, "seconds": seconds, "rates": rates, "load_average": round(os.getloadavg()[0], 1)}


def steady_pass(model, prepared, tta: str, batch_size: int):
    """predict()'s inner loop (cache → make_dataset → compiled TTA forward), already traced, so the
    timing excludes what predict() pays once per run: loading the model and compiling the forward."""
    from kaggle_kit.data.pipeline import make_dataset
    from kaggle_kit.predict import TTA_VIEWS, tta_forward

    views = TTA_VIEWS[tta]
    forward = tta_forward(model, views)
    rows = np.arange(len(prepared.test_index))
    dataset = make_dataset(prepared.test_store(), rows, None, max(1, batch_size // len(views)), training=False)

    def one_pass():
        for images in dataset:
            forward(images).numpy()

    one_pass()  # trace
    return one_pass


def markdown(result: dict, command: str) -> str:
    rates, seconds = result["rates"], result["seconds"]
    bare = rates["bare"]
    rows = [
        ("bare `model.predict`, images in RAM", rates["bare"], 1.0),
        ("`kit predict` loop: cache → pipeline → model", rates["none"], rates["none"] / bare),
        ("`kit predict --tta dihedral` loop (8 views)", rates["dihedral"], rates["dihedral"] / bare),
    ]
    lines = [
        SECTION, "",
        f"{result['images']} PCam test patches at {result['image_size']}×{result['image_size']}, "
        f"`{result['model']}` (untrained), batch {result['batch_size']}, best of {result['repeats']} interleaved rounds; "
        f"{os.cpu_count()} CPU cores shared with other jobs (load average {result['load_average']} when measured, so "
        f"the figures are noisy), {platform.processor() or platform.machine()}, no GPU.", "",
        "| path | images/s | ratio to bare predict |",
        "|---|---:|---:|",
    ]
    lines += [f"| {name} | {rate:,.0f} | {ratio:.2f} |" for name, rate, ratio in rows]
    lines += [
        "",
        f"8× TTA took {rates['none'] / rates['dihedral']:.1f}× the time of plain prediction; the model work alone "
        "is 8× (the 8 views of a batch go through the model in one call, and the cache is read once). "
        f"End to end, `predict()` took {seconds['none end to end']:.1f} s without TTA and "
        f"{seconds['dihedral end to end']:.1f} s with it on these {result['images']} images: the difference to the "
        "loops above is loading the model and compiling the forward pass, paid once per run (and once per fold "
        "model), which a full test set (57,458 images) amortises.",
        "", f"Reproduce: `{command}`", "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1200, help="test images to predict")
    parser.add_argument("--model", default="kit-resnet")
    parser.add_argument("--image-size", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temporary one)")
    parser.add_argument("--write-docs", action="store_true", help="write the figures into docs/benchmarks.md")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-predict-") as scratch:
        work = args.work or Path(scratch)
        result = measure(work, args.images, args.model, args.image_size, args.batch_size, args.repeats)
    print(json.dumps(result, indent=2))
    command = "nice -n 10 python bench/bench_predict.py " + " ".join(sys.argv[1:])
    text = markdown(result, command.replace(" --write-docs", "").strip() + " --write-docs")
    print(text)
    if args.write_docs:
        write_docs(text, SECTION)
        print(f"wrote {DOCS}")


if __name__ == "__main__":
    main()
