"""Benchmark of `kit report`: the time to write report.html and its size, as validation sets grow.

    nice -n 10 python bench/bench_report.py --images 2000                # print the figures
    nice -n 10 python bench/bench_report.py --images 2000 --write-docs   # and into docs/benchmarks.md

Images: PCam patches from /work/shared/data/pcam-sample as TIFFs in the cancer
competition's layout (the helpers of bench_cache.py), prepared at 96×96. The run
folder holds the zoo's `kit-resnet`, untrained (Grad-CAM's cost does not depend
on the weights), and seeded probabilities for every image as its validation
predictions, so `write_report` takes its real path: plots → cache → model →
Grad-CAM on 2 × 12 gallery images. The plots alone are then timed on synthetic
validation sets up to 200,000 predictions (the full PCam training set is 220,025).
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
from bench_cache import CANCER, pcam_tiffs, write_competition, write_docs  # noqa: E402

SECTION = "## Report: `kit report` time and size (`bench/bench_report.py`)"
RUN_ID = "bench-report-run"


def seeded_predictions(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """Probabilities that separate the classes about as well as a mid-training model (AUC ≈ 0.85)."""
    rng = np.random.default_rng(seed)
    logits = 1.5 * (labels * 2 - 1) + rng.normal(0, 1.2, len(labels))
    return 1.0 / (1.0 + np.exp(-logits))


def make_run(workspace, index, image_size: int) -> Path:
    """A run folder in the contract's layout around an untrained kit-resnet."""
    import pandas as pd

    from kaggle_kit.config import TrainConfig
    from kaggle_kit.models import create_model

    folder = workspace.runs_root(CANCER) / RUN_ID
    folder.mkdir(parents=True, exist_ok=True)
    config = TrainConfig(competition=CANCER, model="kit-resnet", image_size=image_size)
    (folder / "config.yaml").write_text(config.to_yaml())
    create_model("kit-resnet", (image_size, image_size, 3)).save(folder / "best.keras")
    labels = index["label"].to_numpy()
    pd.DataFrame({"id": index["id"], "label": labels, "prob": seeded_predictions(labels)}).to_csv(
        folder / "val_predictions.csv", index=False
    )
    epochs = np.arange(1, 13)
    pd.DataFrame({"epoch": epochs, "loss": 0.6 / epochs, "auc": 1 - 0.3 / epochs,
                  "val_loss": 0.65 / epochs ** 0.5, "val_auc": 1 - 0.35 / epochs ** 0.5}).to_csv(
        folder / "history.csv", index=False
    )
    (folder / "metrics.json").write_text(json.dumps({"metric": "auc", "score": 0.85, "threshold": 0.5}))
    return folder


def timed(call, repeats: int) -> tuple[float, object]:
    """The best wall time of ``repeats`` calls (the least disturbed by other jobs) and the last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = call()
        best = min(best, time.perf_counter() - start)
    return best, result


def measure_report(work: Path, images: int, image_size: int, repeats: int) -> dict:
    from kaggle_kit.competitions import get_competition
    from kaggle_kit.data.prepare import PrepareOptions, prepare
    from kaggle_kit.paths import Workspace
    from kaggle_kit.report import write_report

    write_competition(work / "raw", pcam_tiffs(work, min(images, 2000)), n_train=images, n_test=8)
    workspace = Workspace.resolve(work / "data", work / "runs", work / "submissions", raw_dir=work / "raw")
    options = PrepareOptions(image_size=image_size)
    prepared = prepare(get_competition(CANCER), workspace, options, progress=False)
    folder = make_run(workspace, prepared.train_index.drop_duplicates("id"), image_size)
    seconds, path = timed(lambda: write_report(folder, workspace), repeats)
    return {"images": images, "image_size": image_size, "seconds": seconds, "html_mb": path.stat().st_size / 1e6}


def measure_plots(sizes: list[int], repeats: int) -> list[dict]:
    """ROC, calibration and confusion matrix alone, on synthetic validation sets."""
    from kaggle_kit import figures

    rows = []
    for size in sizes:
        labels = np.random.default_rng(size).integers(0, 2, size)
        probs = seeded_predictions(labels)

        def plots():
            figures.roc_png(labels, probs)
            figures.calibration_png(labels, probs)
            figures.confusion_png(figures.confusion(labels, probs, 0.5), ("no tumour", "tumour"), 0.5)

        rows.append({"predictions": size, "seconds": timed(plots, repeats)[0]})
    return rows


def markdown(report: dict, plots: list[dict], command: str) -> str:
    lines = [
        SECTION,
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs shared with other jobs "
        f"(load average {os.getloadavg()[0]:.1f} at the end); best of the repeats. Command: `{command}`",
        "",
        "| validation images | image size | write_report (s) | report.html (MB) |",
        "|---:|---:|---:|---:|",
        f"| {report['images']:,} | {report['image_size']} | {report['seconds']:.2f} | {report['html_mb']:.2f} |",
        "",
        "Plots alone (ROC, reliability diagram, confusion matrix) as the validation set grows:",
        "",
        "| predictions | seconds |",
        "|---:|---:|",
        *[f"| {row['predictions']:,} | {row['seconds']:.2f} |" for row in plots],
        "",
        "The gallery's cost is fixed (24 images read from the cache, one model load, one Grad-CAM batch);",
        "the rest grows with the validation set only through the plots, whose PNGs do not grow with it.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000, help="validation images in the run (PCam patches)")
    parser.add_argument("--image-size", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--write-docs", action="store_true", help="replace this section of docs/benchmarks.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-report-") as work:
        report = measure_report(Path(work), args.images, args.image_size, args.repeats)
    plots = measure_plots([1_000, 20_000, 200_000], args.repeats)
    print(f"write_report: {report['images']} images at {report['image_size']} px: "
          f"{report['seconds']:.2f} s, report.html {report['html_mb']:.2f} MB")
    for row in plots:
        print(f"plots: {row['predictions']:>7,} predictions: {row['seconds']:.2f} s")
    if args.write_docs:
        command = "nice -n 10 python bench/bench_report.py " + " ".join(sys.argv[1:])
        write_docs(markdown(report, plots, command.replace(" --write-docs", "")), SECTION)


if __name__ == "__main__":
    main()
