"""Benchmark of the cache fingerprint: what `kit prepare`, `kit train` and `kit predict` pay on every
call to notice changed labels or images (label tables + one ``stat`` per image file, no byte read).

    nice -n 10 python bench/bench_fingerprint.py --train 220025 --test 57458

Builds the PCam competition's layout with empty ``.tif`` files (a ``stat`` costs the same whatever
the size) in a temporary folder, then times, best of ``--repeats``: the label tables
(``build_labels``: both CSVs and one folder listing per split) and ``source_fingerprint`` (a
digest of the tables and of every image's name, size and mtime).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path

from kaggle_kit.competitions import LabelOptions, get_competition
from kaggle_kit.data.prepare import PrepareOptions, source_fingerprint

CANCER = "histopathologic-cancer-detection"


def write_layout(raw: Path, n_train: int, n_test: int) -> None:
    for split, count, table, header in (("train", n_train, "train_labels.csv", "id,label"),
                                        ("test", n_test, "sample_submission.csv", "id,label")):
        (raw / split).mkdir(parents=True)
        ids = [secrets.token_hex(20) for _ in range(count)]
        for image_id in ids:
            (raw / split / f"{image_id}.tif").touch()
        (raw / table).write_text(header + "\n" + "".join(f"{image_id},{i % 2}\n" for i, image_id in enumerate(ids)))


def best_of(repeats: int, work) -> tuple[float, float, object]:
    """Best wall time, best CPU time (this process: less sensitive to other jobs), and the result."""
    walls, cpus, result = [], [], None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        result = work()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=220025)
    parser.add_argument("--test", type=int, default=57458)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-fingerprint-"))
    try:
        raw = folder / "raw"
        write_layout(raw, args.train, args.test)
        competition = get_competition(CANCER)
        labels_wall, labels_cpu, tables = best_of(args.repeats, lambda: competition.build_labels(raw, LabelOptions()))
        options = PrepareOptions(image_size=96)
        digest_wall, digest_cpu, _ = best_of(args.repeats, lambda: source_fingerprint(raw, tables, options))
        load = os.getloadavg()[0]
        print("| images | label tables: wall / CPU (s) | fingerprint, tables + stat of every image: wall / CPU (s) "
              "| total wall / CPU (s) | 1-min load |")
        print("|---:|---:|---:|---:|---:|")
        print(f"| {args.train + args.test:,} | {labels_wall:.2f} / {labels_cpu:.2f} | {digest_wall:.2f} / {digest_cpu:.2f} "
              f"| {labels_wall + digest_wall:.2f} / {labels_cpu + digest_cpu:.2f} | {load:.1f} |")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
