"""Benchmark of `kit prepare`'s image cache: build throughput against a plain Pillow loop, and
peak memory while building and reading a cache of a full competition's size.

    python bench/bench_cache.py throughput --images 8000           # parallel build vs plain loop
    nice -n 10 python bench/bench_cache.py memory --train 220025 --test 57458
    python bench/bench_cache.py all --write-docs                   # both, figures into docs/benchmarks.md

Images: PCam patches from /work/shared/data/pcam-sample converted to TIFF (the
competition's format) in the competition's layout. The memory run hard-links
those TIFFs under many ids, so 277k files cost no extra disk, while every file
is still opened and decoded; the cache itself (~7.6 GB at 96×96) is written in
full and deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
PCAM = Path("/work/shared/data/pcam-sample")
CANCER = "histopathologic-cancer-detection"
DOCS = REPO / "docs" / "benchmarks.md"
SECTION = "## Prepare: decoded image cache (`bench/bench_cache.py`)"


# --- data ---------------------------------------------------------------------------
def pcam_tiffs(work: Path, count: int, balanced: bool = False) -> list[tuple[str, int, Path]]:
    """``count`` PCam sample patches as TIFFs (converted once, then reused): the first ones, or
    with ``balanced`` a seeded half of each class (the sample's CSV is sorted by label)."""
    import pandas as pd

    labels = pd.read_csv(PCAM / "labels.csv", dtype={"id": str})
    if balanced:
        labels = labels.groupby("label").sample(count // 2, random_state=0).sample(frac=1, random_state=0)
    else:
        labels = labels.head(count)
    folder = work / "tiff-source"
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for image_id, label in zip(labels["id"], labels["label"]):
        target = folder / f"{image_id}.tif"
        if not target.exists():
            with Image.open(PCAM / "images" / f"{image_id}.jpg") as image:
                image.convert("RGB").save(target, format="TIFF")
        out.append((image_id, int(label), target))
    return out


def write_competition(raw: Path, sources: list[tuple[str, int, Path]], n_train: int, n_test: int) -> None:
    """A cancer competition layout of hard links onto ``sources`` (cycled to reach the counts)."""
    shutil.rmtree(raw, ignore_errors=True)
    for split in ("train", "test"):
        (raw / split).mkdir(parents=True)
    train_lines, test_lines = ["id,label"], ["id,label"]
    for i in range(n_train + n_test):
        source_id, label, path = sources[i % len(sources)]
        split, lines = ("train", train_lines) if i < n_train else ("test", test_lines)
        image_id = f"{source_id}_{i}"
        os.link(path, raw / split / f"{image_id}.tif")
        lines.append(f"{image_id},{label if split == 'train' else 0}")
    (raw / "train_labels.csv").write_text("\n".join(train_lines) + "\n")
    (raw / "sample_submission.csv").write_text("\n".join(test_lines) + "\n")


def read_all(paths: list[Path]) -> None:
    """Warm the page cache so neither contender pays for the first disk read."""
    for path in paths:
        path.read_bytes()


# --- measuring -------------------------------------------------------------------------
def tree_rss_bytes(root_pid: int) -> int:
    """Resident memory of a process and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry))
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, []))
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def run_measured(args: list[str]) -> dict:
    """Run this script's hidden phase in a child; return its JSON plus the peak RSS of its process tree."""
    process = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(REPO)})
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss_bytes(process.pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = process.communicate()
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"phase {args[0]} failed with exit code {process.returncode}")
    result = json.loads(out.strip().splitlines()[-1])
    result["tree_peak_rss_mb"] = round(peak / 2**20, 1)
    return result


def maxrss_mb(who: int) -> float:
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)  # Linux reports KiB


def cpu_seconds(who: int = resource.RUSAGE_SELF) -> float:
    """CPU time (user + system) of this process, or of its finished children."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


# --- phases run in a child process ---------------------------------------------------------
def phase_build(data_dir: str, size: int, workers: int) -> None:
    from kaggle_kit.competitions import get_competition
    from kaggle_kit.data import PrepareOptions, prepare
    from kaggle_kit.paths import Workspace

    workspace = Workspace.resolve(data_dir=data_dir, runs_dir=data_dir, submissions_dir=data_dir)
    shutil.rmtree(workspace.cache_root(CANCER), ignore_errors=True)  # a fresh build, not a --force swap
    started, cpu_started = time.perf_counter(), cpu_seconds()
    data = prepare(get_competition(CANCER), workspace, PrepareOptions(image_size=size), workers=workers, progress=False)
    seconds = time.perf_counter() - started
    counts = data.manifest["counts"]
    # From the same start as the wall clock (imports excluded, as for the plain loop).
    print(json.dumps({
        "seconds": round(seconds, 2), "serial_cpu_seconds": round(cpu_seconds() - cpu_started, 2),
        "worker_cpu_seconds": round(cpu_seconds(resource.RUSAGE_CHILDREN), 2),
        "images": counts["train_images"] + counts["test_images"],
        "skipped": counts["skipped"], "cache_bytes": sum(p.stat().st_size for p in data.root.iterdir()),
        "parent_peak_rss_mb": maxrss_mb(resource.RUSAGE_SELF),
        "worker_peak_rss_mb": maxrss_mb(resource.RUSAGE_CHILDREN),
    }))


def phase_read(data_dir: str, size: int, batch: int) -> None:
    """One shuffled epoch over the train store, batch by batch, like training does."""
    from kaggle_kit.competitions import get_competition
    from kaggle_kit.data import PrepareOptions, load_prepared
    from kaggle_kit.paths import Workspace

    workspace = Workspace.resolve(data_dir=data_dir, runs_dir=data_dir, submissions_dir=data_dir)
    data = load_prepared(get_competition(CANCER), workspace, PrepareOptions(image_size=size))
    rows = np.random.default_rng(0).permutation(data.train_index["row"].to_numpy())
    checksum = 0
    started = time.perf_counter()
    with data.train_store() as store:
        for start in range(0, len(rows), batch):
            checksum += int(store.read(rows[start:start + batch])[:, 0, 0, 0].sum())
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": round(seconds, 2), "images": len(rows), "checksum": checksum,
                      "parent_peak_rss_mb": maxrss_mb(resource.RUSAGE_SELF)}))


def phase_plain(list_file: str, size: int) -> None:
    """The baseline: one process, Pillow open → RGB → resize → array, file after file."""
    paths = Path(list_file).read_text().splitlines()
    out = np.empty((len(paths), size, size, 3), dtype=np.uint8)
    started, cpu_started = time.perf_counter(), cpu_seconds()
    for i, path in enumerate(paths):
        with Image.open(path) as image:
            out[i] = np.asarray(image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR))
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": round(seconds, 2), "cpu_seconds": round(cpu_seconds() - cpu_started, 2),
                      "images": len(paths)}))


# --- the two benchmarks --------------------------------------------------------------------
def throughput(work: Path, images: int, sizes: list[int], workers: int, repeats: int) -> list[dict]:
    sources = pcam_tiffs(work, images)
    n_test = images // 10
    data_dir = work / "throughput"
    write_competition(data_dir / CANCER / "raw", sources, images - n_test, n_test)
    paths = sorted((data_dir / CANCER / "raw").glob("*/*.tif"))
    list_file = work / "paths.txt"
    list_file.write_text("\n".join(map(str, paths)))
    read_all(paths)
    results = []
    available = len(os.sched_getaffinity(0))
    for size in sizes:
        plain, kit = [], []
        for _ in range(repeats):  # alternate, so background load hits both alike; keep the best of each
            plain.append(run_measured(["_plain", str(list_file), str(size)]))
            kit.append(run_measured(["_build", str(data_dir), str(size), str(workers)]))
        best_plain = min(plain, key=lambda r: r["seconds"])
        best_kit = min(kit, key=lambda r: r["seconds"])
        plain_cpu = min(r["cpu_seconds"] for r in plain)
        serial_cpu = min(r["serial_cpu_seconds"] for r in kit)
        worker_cpu = min(r["worker_cpu_seconds"] for r in kit)
        row = {
            "size": size, "images": len(paths), "workers": workers,
            "plain_images_per_s": round(len(paths) / best_plain["seconds"]),
            "kit_images_per_s": round(len(paths) / best_kit["seconds"]),
            "plain_cpu_ms": round(1000 * plain_cpu / len(paths), 3),
            "kit_cpu_ms": round(1000 * (serial_cpu + worker_cpu) / len(paths), 3),
            "load": os.getloadavg()[0],
        }
        row["ratio"] = round(row["kit_images_per_s"] / row["plain_images_per_s"], 2)
        # On idle cores the CPU-bound work runs at CPU speed: the plain loop takes its CPU
        # time, kit its serial part (parent: imports, tables, indexes) plus the workers'
        # part divided among them (Amdahl). Projected from the CPU times measured here.
        row["idle_ratio"] = round(plain_cpu / (serial_cpu + worker_cpu / min(workers, available)), 2)
        print(f"throughput {size}px: plain {row['plain_images_per_s']} img/s, kit prepare "
              f"({workers} workers) {row['kit_images_per_s']} img/s, wall ratio {row['ratio']}x; "
              f"CPU per image plain {row['plain_cpu_ms']} ms, kit {row['kit_cpu_ms']} ms, "
              f"projected on idle cores {row['idle_ratio']}x (1-min load {row['load']:.1f})", flush=True)
        results.append(row)
    shutil.rmtree(data_dir, ignore_errors=True)
    return results


def memory(work: Path, n_train: int, n_test: int, size: int, workers: int) -> dict:
    sources = pcam_tiffs(work, 22_078)
    data_dir = work / "memory"
    write_competition(data_dir / CANCER / "raw", sources, n_train, n_test)
    try:
        build = run_measured(["_build", str(data_dir), str(size), str(workers)])
        print(f"memory build: {build['images']} images in {build['seconds']} s "
              f"({build['images'] / build['seconds']:.0f} img/s), cache {build['cache_bytes'] / 2**30:.2f} GiB, "
              f"peak RSS: whole tree {build['tree_peak_rss_mb']} MB, parent {build['parent_peak_rss_mb']} MB, "
              f"largest worker {build['worker_peak_rss_mb']} MB", flush=True)
        read = run_measured(["_read", str(data_dir), str(size), "256"])
        print(f"memory read: one shuffled epoch of {read['images']} images in {read['seconds']} s "
              f"({read['images'] / read['seconds']:.0f} img/s), peak RSS {read['tree_peak_rss_mb']} MB", flush=True)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return {"build": build, "read": read, "size": size, "workers": workers}


# --- docs ---------------------------------------------------------------------------------------
def markdown(results: dict) -> str:
    """The docs section from the stored results: each part with the command and time of its run."""
    lines = [
        SECTION, "",
        f"Machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, shared with "
        "other jobs (1-min load shown), so absolute rates are noisy.",
    ]
    if "throughput" in results:
        part = results["throughput"]
        lines += [
            "", f"**Build throughput** (`{part['command']}`, {part['when']}): `prepare()` end to end (labels, "
            "parallel decode into `train.npy`/`test.npy`, indexes, fsync, manifest) against a plain single-process "
            "Pillow loop (open → RGB → resize → array) over the same TIFF files, page cache warm, best of the "
            "repeats. *Wall ratio* is what the run saw: on a loaded machine Linux autogroup scheduling gives each "
            "login session one fair share, so extra workers gain little while other sessions keep the cores busy. "
            "*Projected on idle cores* is plain CPU time ÷ (kit's serial CPU time + its workers' CPU time ÷ "
            "workers), from CPU times measured in the same run (the work is CPU-bound; every process counted; "
            "imports excluded from both, like the wall clock).", "",
            "| size | images | workers | plain loop (img/s) | kit prepare (img/s) | wall ratio | CPU/img plain (ms) "
            "| CPU/img kit, all processes (ms) | projected on idle cores | 1-min load |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        lines += [f"| {r['size']} | {r['images']:,} | {r['workers']} | {r['plain_images_per_s']:,} | "
                  f"{r['kit_images_per_s']:,} | {r['ratio']}× | {r['plain_cpu_ms']} | {r['kit_cpu_ms']} | "
                  f"{r['idle_ratio']}× | {r['load']:.1f} |" for r in part["rows"]]
        lines += [
            "", "The two ratios bracket the truth: the wall ratio moves with other jobs (both contenders see "
            "the same load, but the pool's two workers share one session's slice), the projection assumes "
            "free cores. What separates kit from a perfect 2× is its serial part (label tables, fsync, "
            "indexes: ~0.25 s for 22k images) and the workers' CPU per image, which is at or near the plain "
            "loop's (kit reads each file whole, opens it with the plugin its extension names, and skips a "
            "same-size resize).",
        ]
    if "memory" in results:
        part = results["memory"]
        build, read, size = part["build"], part["read"], part["size"]
        lines += [
            "", f"**Memory at full competition size** (`{part['command']}`, {part['when']}): {build['images']:,} "
            f"images at {size}×{size}, cache {build['cache_bytes'] / 2**30:.2f} GiB, {part['workers']} workers; "
            "peak RSS summed over the whole process tree (sampled every 0.2 s; forked workers' shared pages "
            "counted in each, so this overstates), and per process from `getrusage`:", "",
            "| phase | time (s) | img/s | peak RSS, whole tree (MB) | parent (MB) | largest worker (MB) |",
            "|---|---:|---:|---:|---:|---:|",
            f"| build | {build['seconds']} | {build['images'] / build['seconds']:,.0f} | {build['tree_peak_rss_mb']} | "
            f"{build['parent_peak_rss_mb']} | {build['worker_peak_rss_mb']} |",
            f"| read one shuffled epoch (batches of 256, `ImageStore.read`) | {read['seconds']} | "
            f"{read['images'] / read['seconds']:,.0f} | {read['tree_peak_rss_mb']} | {read['parent_peak_rss_mb']} | – |",
        ]
    return "\n".join(lines) + "\n"


def store_results(work: Path, part: str, result: dict) -> dict:
    """Keep each part's latest result in ``work/results.json``, so re-running one part keeps the other."""
    path = work / "results.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    results[part] = {**result, "command": "nice -n 10 python bench/bench_cache.py " + " ".join(sys.argv[1:]),
                     "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    path.write_text(json.dumps(results, indent=2))
    return results


def write_docs(text: str, section: str = SECTION) -> None:
    """Replace a benchmark's ``section`` of docs/benchmarks.md (or append it), leaving the rest alone.

    Several benchmarks may finish at once: the read-modify-write happens under a lock
    and the file is replaced atomically, so no section is lost.
    """
    import tempfile

    from kaggle_kit.fsutil import locked
    from kaggle_kit.fsutil import write_text_atomic

    with locked(Path(tempfile.gettempdir()) / "kit-benchmarks-md.lock"):
        current = DOCS.read_text(encoding="utf-8") if DOCS.exists() else "# Benchmarks\n"
        if section in current:
            start = current.index(section)
            following = current.find("\n## ", start + len(section))
            end = len(current) if following == -1 else following + 1
            updated = current[:start] + text + ("\n" if following != -1 else "") + current[end:]
        else:
            updated = current.rstrip("\n") + "\n\n" + text
        write_text_atomic(DOCS, updated)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        phase = {"_build": phase_build, "_read": phase_read, "_plain": phase_plain}[sys.argv[1]]
        return phase(sys.argv[2], *map(int, sys.argv[3:]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["throughput", "memory", "all"])
    parser.add_argument("--images", type=int, default=8000, help="files for the throughput run")
    parser.add_argument("--sizes", default="96,32", help="cache sizes for the throughput run")
    parser.add_argument("--train", type=int, default=220_025)
    parser.add_argument("--test", type=int, default=57_458)
    parser.add_argument("--size", type=int, default=96, help="cache size for the memory run")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("/tmp/kit-bench-cache"))
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    if not PCAM.is_dir():
        raise SystemExit(f"{PCAM} not found: this benchmark decodes the PCam sample patches")
    args.work.mkdir(parents=True, exist_ok=True)
    results: dict = {}
    if args.what in ("throughput", "all"):
        rows = throughput(args.work, args.images, [int(s) for s in args.sizes.split(",")], args.workers, args.repeats)
        results = store_results(args.work, "throughput", {"rows": rows})
    if args.what in ("memory", "all"):
        results = store_results(args.work, "memory", memory(args.work, args.train, args.test, args.size, args.workers))
    if args.write_docs:
        write_docs(markdown(results))
        print(f"wrote {DOCS}")


if __name__ == "__main__":
    main()
