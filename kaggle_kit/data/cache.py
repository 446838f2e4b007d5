"""The decoded image cache: uint8 ``.npy`` arrays written by parallel workers, read row by row.

A cache folder holds ``train.npy`` and ``test.npy`` (N×H×W×3 uint8, standard
``.npy`` format), their index CSVs, ``skipped.csv`` and ``manifest.json``. It
is built in a temporary folder and renamed into place with the manifest
already inside, so a folder under ``cache/`` with a manifest is complete.

Memory stays bounded at any size: the arrays are created with a header only
(sparse file), workers ``pwrite`` the rows they decode, and readers ``pread``
the rows they need; nobody maps or loads a whole array.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import pandas as pd

from kaggle_kit.csvread import read_csv
from kaggle_kit.data.decode import decode_chunk
from kaggle_kit.errors import CacheError, StorageError
from kaggle_kit.fsutil import storage_error

MANIFEST = "manifest.json"
CACHE_FORMAT = 1
CHUNK = 256  # images per worker task: big enough to amortise IPC, small enough for smooth progress
TEMP_DIR = ".building"  # in-progress builds live here, out of sight of "*/manifest.json"


# --- reading -------------------------------------------------------------------
class ImageStore:
    """Rows of a cache ``.npy`` file, read with ``os.pread`` (thread-safe, no mmap).

    >>> store = prepared.train_store()
    >>> store.read([5, 0, 9]).shape
    (3, 96, 96, 3)
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        shape, offset = read_npy_header(self.path)
        self.shape: tuple[int, int, int, int] = shape
        self.offset = offset
        self.row_bytes = int(np.prod(shape[1:]))
        expected = offset + self.row_bytes * shape[0]
        actual = self.path.stat().st_size
        if actual != expected:
            raise CacheError(f"{self.path} is {actual} bytes, expected {expected}; rebuild with `kit prepare --force`")
        # Opened now, not on first read: tf.data reads from several threads at once.
        self._fd: int | None = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)

    def __len__(self) -> int:
        return self.shape[0]

    def read(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """The images at ``rows``, in the order given, as uint8 (k, H, W, 3).

        Distinct rows are read once each, in ascending order (disk locality), with
        one ``preadv`` per run of consecutive rows; then put in the order asked.
        """
        fd = self._fd
        if fd is None:
            raise CacheError(f"{self.path} was closed; open the store again")
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        if rows.size and (rows.min() < 0 or rows.max() >= len(self)):
            raise IndexError(f"rows out of range 0..{len(self) - 1} for {self.path}")
        in_order = rows.size < 2 or bool(np.all(np.diff(rows) > 0))
        wanted, inverse = (rows, None) if in_order else np.unique(rows, return_inverse=True)
        out = np.empty((wanted.size, *self.shape[1:]), dtype=np.uint8)
        flat = out.reshape(wanted.size, self.row_bytes)
        for start, stop in consecutive_runs(wanted):
            view = memoryview(flat[start:stop]).cast("B")
            want = (stop - start) * self.row_bytes
            got = os.preadv(fd, [view], self.offset + int(wanted[start]) * self.row_bytes)
            if got != want:
                raise CacheError(f"short read from {self.path}; rebuild with `kit prepare --force`")
        return out if inverse is None else out[inverse]

    def close(self) -> None:
        if getattr(self, "_fd", None) is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "ImageStore":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        # A descriptor does not survive pickling into another process; reopen there.
        return {**self.__dict__, "_fd": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)


class StackedStore:
    """Two stores read as one: rows ``0..len(first)-1`` are ``first``'s, the next ones ``second``'s.

    Pseudo-labelling trains on test images beside the training images: the test
    store is stacked after the train store (``kaggle_kit.pseudo``).
    """

    def __init__(self, first, second):
        if tuple(first.shape[1:]) != tuple(second.shape[1:]):
            raise CacheError(f"cannot stack images of shape {first.shape[1:]} and {second.shape[1:]}")
        self.first, self.second = first, second
        self.shape = (len(first) + len(second), *first.shape[1:])

    def __len__(self) -> int:
        return self.shape[0]

    def read(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        out = np.empty((len(rows), *self.shape[1:]), dtype=np.uint8)
        in_first = rows < len(self.first)
        if in_first.any():
            out[in_first] = self.first.read(rows[in_first])
        if (~in_first).any():
            out[~in_first] = self.second.read(rows[~in_first] - len(self.first))
        return out


def consecutive_runs(rows: np.ndarray) -> Iterator[tuple[int, int]]:
    """(start, stop) slices of ``rows`` where each row is the previous one + 1."""
    if rows.size == 0:
        return
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    edges = [0, *breaks.tolist(), rows.size]
    for start, stop in zip(edges[:-1], edges[1:]):
        yield start, stop


def read_npy_header(path: Path) -> tuple[tuple[int, ...], int]:
    """Shape and data offset of an N×H×W×3 uint8 ``.npy`` file."""
    try:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
            offset = handle.tell()
    except (OSError, ValueError) as exc:
        raise CacheError(f"{path} is not a readable .npy file ({exc}); rebuild with `kit prepare --force`") from None
    if dtype != np.uint8 or fortran or len(shape) != 4 or shape[3] != 3:
        raise CacheError(f"{path} holds {dtype} {shape}, not uint8 N×H×W×3; rebuild with `kit prepare --force`")
    return tuple(int(s) for s in shape), offset


# --- the prepared cache as a whole ---------------------------------------------
@dataclass
class PreparedData:
    """A complete cache folder: its manifest, indexes and image stores."""

    root: Path
    manifest: dict[str, Any]
    train_index: pd.DataFrame  # id, label, row (oversampled rows repeat a row)
    test_index: pd.DataFrame  # id, row, readable — in sample_submission order
    class_weight: dict[int, float] | None
    image_size: int
    reused: bool = field(default=False)
    replaced: list[str] = field(default_factory=list)  # stale caches with the same settings this build removed

    def train_store(self) -> ImageStore:
        return ImageStore(self.root / "train.npy")

    def test_store(self) -> ImageStore:
        return ImageStore(self.root / "test.npy")

    @property
    def skipped(self) -> pd.DataFrame:
        return pd.read_csv(self.root / "skipped.csv", dtype=str, keep_default_na=False)


def open_cache(root: Path, reused: bool = True) -> PreparedData:
    """Load a complete cache folder, or raise :class:`CacheError` naming what is wrong."""
    manifest_path = root / MANIFEST
    if not manifest_path.is_file():
        raise CacheError(f"{root} has no {MANIFEST}, so it is incomplete; run `kit prepare` again")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        train_index = read_csv(root / "train_index.csv")
        test_index = read_csv(root / "test_index.csv")
    except (OSError, ValueError) as exc:
        raise CacheError(f"{root} is damaged ({exc}); rebuild with `kit prepare --force`") from None
    weights = manifest.get("class_weight")
    return PreparedData(
        root=root,
        manifest=manifest,
        train_index=train_index,
        test_index=test_index,
        class_weight={int(k): float(v) for k, v in weights.items()} if weights else None,
        image_size=int(manifest["image_size"]),
        reused=reused,
    )


# --- building ------------------------------------------------------------------
def create_array_file(path: Path, count: int, size: int) -> int:
    """An N×size×size×3 uint8 ``.npy`` file with only its header written; returns the data offset."""
    # open_memmap writes the header and sizes the file (sparse); the map itself is
    # dropped at once so no page of it is ever touched here.
    try:
        array = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(count, size, size, 3))
    except OSError as exc:
        raise storage_error(exc, path) from None
    del array
    return read_npy_header(path)[1]


def fill_arrays(
    jobs: Sequence[tuple[Path, Sequence[str]]],
    size: int,
    crop: float,
    *,
    workers: int,
    progress: Callable[[int], None],
    stain_norm: str = "none",
) -> list[dict[int, str]]:
    """Create each ``(target, paths)`` array and decode ``paths`` into its rows, all jobs
    sharing one pool of ``workers`` processes; return {row: reason} of skipped images per job.
    ``stain_norm`` (``data.stain``) is applied to every decoded image."""
    tasks = []
    for job, (target, paths) in enumerate(jobs):
        offset = create_array_file(target, len(paths), size)
        for start in range(0, len(paths), CHUNK):
            rows = list(range(start, min(start + CHUNK, len(paths))))
            tasks.append((job, (str(target), offset, size, crop, rows, list(paths[start:start + CHUNK]), stain_norm)))
    skipped: list[dict[int, str]] = [{} for _ in jobs]
    written = [0 for _ in jobs]
    if workers <= 1 or len(tasks) <= 1:
        results = ((job, args[4], decode_chunk(*args)) for job, args in tasks)
    else:
        results = run_in_pool(tasks, workers)
    for job, rows, chunk_skipped in results:  # a chunk returns only once all its rows are on disk
        skipped[job].update(chunk_skipped)
        written[job] += len(rows)
        progress(len(rows))
    for (target, paths), rows in zip(jobs, written):
        if rows != len(paths):
            raise CacheError(f"{target}: {rows} of {len(paths)} rows were written; run `kit prepare` again")
    return skipped


def verify_arrays(*paths: Path) -> None:
    """Before a manifest is written: each array has exactly its header and rows (``ImageStore``
    checks the size against the header), and is flushed to disk, so a power cut cannot leave a
    complete-looking cache full of zeros."""
    for path in paths:
        ImageStore(path).close()
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise storage_error(exc, path) from None


def _size(count: int) -> str:
    return f"{count / 1e9:.1f} GB" if count >= 1e9 else f"{count / 1e6:.1f} MB"


def check_free_space(folder: Path, needed: int, what: str, fix: str) -> None:
    """Refuse to start writing ``needed`` bytes under ``folder`` when the disk has less free."""
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise StorageError(
            f"not enough free space in {folder} for {what}: it needs {_size(needed)} and {_size(free)} are free; {fix}"
        )


def run_in_pool(tasks: list[tuple[int, tuple]], workers: int) -> Iterator[tuple[int, list[int], list[tuple[int, str]]]]:
    """Run ``decode_chunk`` tasks on ``workers`` processes, a bounded number in flight."""
    context = get_context(worker_start_method())
    pending = iter(tasks)
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=context,
                                 initializer=die_with_parent, initargs=(os.getpid(),)) as pool:
            in_flight = {}

            def submit_next() -> None:
                task = next(pending, None)
                if task is not None:
                    in_flight[pool.submit(decode_chunk, *task[1])] = task

            for _ in range(workers * 3):
                submit_next()
            while in_flight:
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    job, args = in_flight.pop(future)
                    yield job, args[4], future.result()
                    submit_next()
    except BrokenProcessPool:
        raise CacheError(
            "a decode worker died (out of memory or a crashing image library); "
            "retry with --workers 1 to find the file"
        ) from None


def worker_start_method() -> str:
    """"fork" starts workers in milliseconds; "spawn" when TensorFlow is loaded (`kit train`
    preparing its cache), since forking its threads and locks is unsafe."""
    if sys.platform.startswith("linux") and "tensorflow" not in sys.modules:
        return "fork"
    return "spawn"


def die_with_parent(parent_pid: int) -> None:
    """Worker initializer: ask Linux to SIGKILL this worker when the prepare process dies,
    so a killed prepare leaves no orphans (nor, with fork, a held lock file)."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)


# --- publishing ----------------------------------------------------------------
def clear_stale_builds(cache_root: Path) -> None:
    """Remove leftovers of interrupted builds. Call with the competition's lock held:
    then no build is running, so everything in the build folder is stale."""
    for leftover in (cache_root / TEMP_DIR).glob("*"):
        shutil.rmtree(leftover, ignore_errors=True)


def new_build_dir(cache_root: Path, key: str) -> Path:
    building = cache_root / TEMP_DIR
    building.mkdir(parents=True, exist_ok=True)
    folder = building / f"{key}.{os.getpid()}.{time.time_ns()}"
    folder.mkdir()
    return folder


def publish(build_dir: Path, final: Path) -> None:
    """Rename a finished build onto ``final``, replacing an older cache only once the new one is whole."""
    if final.exists():
        retired = build_dir.with_name(build_dir.name + ".old")
        os.replace(final, retired)
        os.replace(build_dir, final)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.replace(build_dir, final)
