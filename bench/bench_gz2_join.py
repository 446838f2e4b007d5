"""Galaxy Zoo 2 label building at the real release's scale: time and memory of ``build_labels``.

Writes tables shaped and sized like the real files (``gz2_filename_mapping.csv``: 355,990 rows in
five samples, objids repeated by the Stripe 82 co-adds; ``gz2_hart16.csv.gz``: 239,695 rows x 231
columns), then runs ``build_labels`` (the join by objid and sample, the confidence filter) in a
fresh process and prints its wall and CPU time, peak memory and the report lines ``kit prepare``
prints. No images are written: every matched galaxy is reported as having no image file.

    nice -n 10 /work/venv/bin/python bench/bench_gz2_join.py
"""

from __future__ import annotations

import gzip
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
HART_ROWS = 239_695  # 97,670 E + 141,430 S + 595 A
MAIN_ROWS = 245_609 + 28_174  # "original" + "extra" rows of the mapping
MEASURE = """
import resource, sys, time
from pathlib import Path
from kaggle_kit.competitions import get_competition
from kaggle_kit.competitions._registry import LabelOptions
start, cpu = time.perf_counter(), time.process_time()
tables = get_competition("galaxy-zoo-2").build_labels(Path(sys.argv[1]), LabelOptions(min_vote_fraction=0.6))
print(f"build_labels: {time.perf_counter() - start:.1f} s wall, {time.process_time() - cpu:.1f} s CPU, "
      f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
print("\\n".join("  labels: " + line for line in tables.notes["report"]))
"""


def write_tables(root: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from kaggle_kit.demo import generators
    from kaggle_kit.demo._sky import Galaxy

    rng = np.random.default_rng(0)
    objids = generators.unique_objids(rng, MAIN_ROWS + 1)
    samples = np.where(rng.random(MAIN_ROWS + 1) < 28_174 / MAIN_ROWS, "extra", "original")
    generators.filename_mapping(rng, objids[:MAIN_ROWS], samples[:MAIN_ROWS]).to_csv(
        root / "gz2_filename_mapping.csv", index=False)
    kinds = rng.choice(["E", "S", "A"], HART_ROWS, p=[97_670 / HART_ROWS, 141_430 / HART_ROWS, 595 / HART_ROWS])
    votes = {"E": (0.7, 0.28, 0.02), "S": (0.25, 0.73, 0.02), "A": (0.2, 0.2, 0.6)}
    galaxies = [Galaxy(None, {"E": "Ei", "S": "Sc", "A": "A"}[kind], *votes[kind]) for kind in kinds]
    hart16 = generators.hart16_table(rng, np.append(objids[: HART_ROWS - 1], objids[MAIN_ROWS]),
                                     np.append(samples[: HART_ROWS - 1], "original"), galaxies[: HART_ROWS - 1])
    with gzip.open(root / "gz2_hart16.csv.gz", "wt", compresslevel=6) as out:
        hart16.to_csv(out, index=False)
    (root / "images_gz2" / "images").mkdir(parents=True)
    (root / "images_gz2" / "images" / "0.jpg").write_bytes(b"")  # the folder must hold a .jpg to be found


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="kit-bench-gz2-") as scratch:
        root = Path(scratch)
        write_tables(root)
        size = (root / "gz2_hart16.csv.gz").stat().st_size / 2**20
        print(f"tables: {root / 'gz2_filename_mapping.csv'} and gz2_hart16.csv.gz ({size:.0f} MB)")
        done = subprocess.run([sys.executable, "-c", MEASURE, str(root)], cwd=ROOT, capture_output=True, text=True,
                              env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
        print(done.stdout + done.stderr, end="")


if __name__ == "__main__":
    main()
