"""Atomic, durable file writes, the one file-lock helper, and writable folders.

A write goes to a temporary file beside the target, is fsynced, renamed into
place, and the folder is fsynced: a crash, Ctrl-C or power cut mid-write leaves
the old file (or none), never a half-written one, and a file that is there after
the write returned survives a power cut ("written last" markers rely on it). A
write that fails (disk full, read-only, no permission, a file where a folder should
be) is a ``StorageError`` naming the file and the fix, not an ``OSError`` traceback.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator

from kaggle_kit.errors import DataError, StorageError

PARTIAL_SUFFIX = ".partial"  # atomic_dir's temporary folders: `.<name>.<random>.partial`
TEMP_SUFFIXES = (".tmp", ".keras")  # atomic_path's temporary files: `.<name>.<random><suffix>`
# errno → (what happened, the fix), for the errors a user can do something about.
_WRITE_PROBLEMS = {
    errno.ENOSPC: ("no space left on the device", "free some space, or write elsewhere"),
    errno.EDQUOT: ("the disk quota is used up", "free some space, or write elsewhere"),
    errno.EFBIG: ("the file is too large for this file system", "write elsewhere"),
    errno.EROFS: ("the file system is read-only", "write elsewhere"),
    errno.EACCES: ("permission denied", "check the folder's permissions, or write elsewhere"),
    errno.EPERM: ("permission denied", "check the folder's permissions, or write elsewhere"),
    errno.ENOTDIR: ("a file is in the way where a folder should be", "move that file, or write elsewhere"),
    errno.EEXIST: ("a file is in the way where a folder should be", "move that file, or write elsewhere"),
    errno.EISDIR: ("it is a folder", "give a file name"),
    errno.ENAMETOOLONG: ("the name is too long for the file system", "use a shorter name"),
}


def storage_error(exc: OSError, target: str | os.PathLike) -> StorageError:
    """The one-line error for failing to write ``target``: what happened and the fix."""
    problem, fix = _WRITE_PROBLEMS.get(exc.errno, (exc.strerror or type(exc).__name__, "check the disk and the folder"))
    return StorageError(f"cannot write {target}: {problem}; {fix}")


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``target``; fsync it and rename it onto ``target`` on success.

    ``suffix`` is the temporary name's ending, for writers that insist on one (Keras: ``.keras``).

    >>> with atomic_path("out.csv") as tmp:
    ...     df.to_csv(tmp, index=False)
    """
    target = Path(target)
    tmp = _temporary_beside(target, suffix)
    try:
        yield tmp
        fsync_file(tmp)
        os.replace(tmp, target)
        fsync_dir(target.parent)
    except OSError as exc:
        if exc.filename not in (None, str(tmp), str(target)):
            raise  # about another file the caller was reading
        raise storage_error(exc, target) from None
    finally:
        tmp.unlink(missing_ok=True)


def _temporary_beside(target: Path, suffix: str = ".tmp") -> Path:
    """An empty temporary file in ``target``'s folder (created first), hidden by a leading dot."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    except OSError as exc:
        raise storage_error(exc, target) from None
    os.close(fd)
    return Path(name)


def publish_bytes(target: str | os.PathLike, data: bytes, *, overwrite: bool) -> bool:
    """Write ``data`` to ``target`` atomically and durably (fsynced); True when ``target`` already
    held exactly ``data`` (then nothing is written).

    Without ``overwrite`` the file is hard-linked into place, which fails if anything
    appeared at ``target`` meanwhile: ``FileExistsError`` for any other existing file.
    """
    target = Path(target)
    if same_content(target, data):
        return True
    try:
        exists = target.exists()
    except OSError as exc:
        raise storage_error(exc, target) from None
    if exists and not overwrite:
        raise FileExistsError(errno.EEXIST, "exists", str(target))
    tmp = _temporary_beside(target)
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, target)
        else:
            os.link(tmp, target)
        fsync_dir(target.parent)
    except FileExistsError:
        raise
    except OSError as exc:
        raise storage_error(exc, target) from None
    finally:
        tmp.unlink(missing_ok=True)
    return False


def same_content(path: Path, data: bytes) -> bool:
    """True when ``path`` is a regular file holding exactly ``data`` (sizes compared first: never a
    big read, never a FIFO opened)."""
    try:
        if not path.is_file() or path.stat().st_size != len(data):
            return False
        with open_regular(path) as handle:
            return handle.read() == data
    except (OSError, DataError):
        return False


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike, *, durable: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``target``; rename it onto ``target`` on success.

    An existing ``target`` is replaced only once the new folder is complete.
    ``durable`` fsyncs every file in it first (checkpoints; not for bulk data).
    A kill leaves a hidden ``.<name>.*.partial`` folder: :func:`remove_stale_partials`.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=PARTIAL_SUFFIX, dir=target.parent))
    try:
        yield tmp
        if durable:
            for path in sorted(tmp.rglob("*")):
                if path.is_file():
                    fsync_file(path)
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
        if durable:
            fsync_dir(target.parent)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def remove_stale_partials(folder: str | os.PathLike) -> list[Path]:
    """Remove what killed writers left in ``folder``: ``atomic_dir`` folders (``.*.partial``,
    ``.*.old``) and ``atomic_path`` files. Call only while no other writer can be at work there
    (under its lock); returns what was removed."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for path in sorted(folder.glob(".*")):
        if path.is_dir() and path.name.endswith((PARTIAL_SUFFIX, ".old")):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
        elif path.is_file() and path.name.count(".") >= 3 and path.name.endswith(TEMP_SUFFIXES):
            path.unlink(missing_ok=True)  # `.<name>.<random><suffix>` from atomic_path
            removed.append(path)
    return removed


def fsync_file(path: str | os.PathLike) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: str | os.PathLike) -> None:
    """Make a rename in ``folder`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a folder; the rename itself is still atomic
    finally:
        os.close(fd)


@contextlib.contextmanager
def locked(lock_file: str | os.PathLike, *, wait: bool = True) -> Iterator[bool]:
    """Hold an exclusive ``flock`` on ``lock_file`` (created if needed).

    With ``wait=False`` it yields ``False`` at once when another process holds
    the lock, instead of waiting. The kernel drops the lock when its holder dies,
    even by SIGKILL, so a killed process never leaves a stale lock behind.
    """
    lock_file = Path(lock_file)
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def write_text_atomic(target: str | os.PathLike, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes_atomic(target: str | os.PathLike, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_json_atomic(target: str | os.PathLike, data) -> None:
    write_text_atomic(target, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def write_csv_atomic(target: str | os.PathLike, frame) -> None:
    """Write a pandas DataFrame as CSV (no index), atomically."""
    with atomic_path(target) as tmp:
        frame.to_csv(tmp, index=False)


def file_kind(mode: int) -> str | None:
    """What a non-regular file is ("a FIFO", "a folder"...), or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    kinds = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))
    return next((word for test, word in kinds if test(mode)), "not a regular file")


class NotRegularFile(DataError):
    """A path that names a FIFO, socket, device or folder where a file was expected; ``kind`` says which."""

    def __init__(self, path: str | os.PathLike, kind: str):
        self.kind = kind
        super().__init__(f"{path} is {kind}, not a file; point at a regular file")


def open_regular(path: str | os.PathLike) -> BinaryIO:
    """Open a file for reading in binary; never blocks on a FIFO or device.

    Opened non-blocking, so a FIFO (or a device) named like a data file returns at once
    and is refused with ``NotRegularFile`` ("<path> is a FIFO (named pipe), not a file") instead
    of waiting forever for a writer. ``FileNotFoundError``/``PermissionError`` pass through.
    """
    kind = file_kind(os.stat(path).st_mode)  # a socket cannot even be opened: say what it is
    if kind is not None:
        raise NotRegularFile(path, kind)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:  # checked again on what was opened: the path may have been swapped meanwhile
        kind = file_kind(os.fstat(fd).st_mode)
        if kind is not None:
            raise NotRegularFile(path, kind)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular_file(path: str | os.PathLike, limit: int) -> bytes | None:
    """The bytes of a regular file (see ``open_regular``), or None when it is larger than ``limit``."""
    with open_regular(path) as handle:
        data = handle.read(limit + 1)
    return None if len(data) > limit else data


def ensure_writable_folder(folder: Path, option: str) -> None:
    """Create ``folder`` and prove a file can be written in it; ``DataError`` naming ``option`` otherwise."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        blocker = _file_in_the_way(folder)
        if blocker is not None:
            raise DataError(f"{folder} cannot be a folder: {blocker} is a file; point {option} at a folder") from None
        reason = {errno.EROFS: "read-only file system", errno.EACCES: "permission denied",
                  errno.EPERM: "permission denied", errno.ENOSPC: "no space left on device"}.get(
            exc.errno or 0, exc.strerror or type(exc).__name__)
        raise DataError(f"cannot write in {folder} ({reason}): point {option} at a writable folder") from None


def _file_in_the_way(folder: Path) -> Path | None:
    """The nearest existing ancestor of ``folder`` (itself included) when it is not a folder."""
    for candidate in (folder, *folder.parents):
        if candidate.exists() or candidate.is_symlink():
            return None if candidate.is_dir() else candidate
    return None
