"""Zip archives checked before use and extracted safely; reproducible ones built from a folder.

``open_checked`` refuses an incomplete archive (no central directory, members
past the end of the file), any member that would land outside the target
(``../``, absolute paths, drive letters, symbolic links), and names no file
system can hold (a name that is both a file and a folder, a name twice, a part
longer than 255 bytes) before a byte is written. ``extract`` then writes every
member, verifying each one's CRC as it streams; callers extract into a temporary folder (``fsutil.atomic_dir``) so a
corrupt member or a full disk leaves nothing half-extracted behind.

>>> members = open_checked(Path("data/x/download/x.zip"), refetch_hint="re-run with --force")
>>> extract(Path("data/x/download/x.zip"), members, Path("data/x/.raw.tmp"), progress=False)
"""

from __future__ import annotations

import errno
import re
import shutil
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from kaggle_kit.errors import DataError
from kaggle_kit.fsutil import atomic_path, file_kind

CHUNK = 1 << 20
FREE_SPACE_MARGIN = 64 << 20  # keep this much free beyond the archive's unpacked size
NAME_MAX = 255  # bytes in one path component on Linux file systems (ext4, xfs, btrfs, tmpfs)


@dataclass(frozen=True)
class Members:
    """The checked member list of one archive."""

    infos: tuple[zipfile.ZipInfo, ...]

    @property
    def files(self) -> int:
        return sum(1 for info in self.infos if not info.is_dir())

    @property
    def unpacked_bytes(self) -> int:
        return sum(info.file_size for info in self.infos)


def unsafe_reason(info: zipfile.ZipInfo) -> str | None:
    """Why this member must not be extracted, or None if it is an ordinary file or folder."""
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "absolute path"
    if ".." in PurePosixPath(name).parts:
        return "parent-folder path"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "symbolic link"
    return None


def open_checked(path: Path, *, refetch_hint: str) -> Members:
    """The archive's members, once it is known complete and safe; ``DataError`` naming the fix otherwise."""
    if not path.exists():
        raise DataError(f"{path} not found; {refetch_hint}")
    kind = file_kind(path.stat().st_mode)
    if kind is not None:  # a FIFO would block zipfile forever
        raise DataError(f"{path} is {kind}, not a zip archive; pass the archive's own path")
    size = path.stat().st_size
    try:
        with zipfile.ZipFile(path) as archive:
            infos = tuple(archive.infolist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise DataError(f"{path} is not a complete zip archive ({exc}); {refetch_hint}") from None
    if not infos:
        raise DataError(f"{path} is an empty zip archive; {refetch_hint}")
    for info in infos:
        if info.header_offset + info.compress_size > size:
            raise DataError(f"{path} is cut short (member '{info.filename}' runs past the end); {refetch_hint}")
        reason = unsafe_reason(info)
        if reason is not None:
            raise DataError(
                f"{path} holds an unsafe member '{info.filename}' ({reason}, it would be written outside "
                "the data folder); nothing was extracted: get the archive from a trusted source"
            )
    problem = name_problem(infos)
    if problem is not None:
        raise DataError(f"{path} holds {problem}; nothing was extracted: extract it by hand, fixing that name, "
                        "and pass the repacked archive with --from-zip")
    return Members(infos)


def name_problem(infos: tuple[zipfile.ZipInfo, ...]) -> str | None:
    """Why these member names cannot all be written to a file system, or None."""
    files: set[str] = set()
    folders: set[str] = set()
    for info in infos:
        parts = PurePosixPath(info.filename.replace("\\", "/")).parts
        for part in parts:
            if len(part.encode("utf-8")) > NAME_MAX:
                return (f"a member whose name is longer than the file system allows ('{part[:40]}…' is "
                        f"{len(part.encode('utf-8'))} bytes; the limit is {NAME_MAX})")
        name = "/".join(parts)
        folders.update("/".join(parts[:depth]) for depth in range(1, len(parts)))
        if info.is_dir():
            folders.add(name)
        elif name in files:
            return f"'{name}' twice (which copy is meant is unknowable)"
        else:
            files.add(name)
    clash = sorted(files & folders)
    return f"'{clash[0]}' both as a file and as a folder" if clash else None


def check_free_space(folder: Path, needed: int, what: str) -> None:
    """Fail before writing when ``folder``'s disk cannot hold ``needed`` more bytes."""
    free = shutil.disk_usage(folder).free
    if free < needed + FREE_SPACE_MARGIN:
        raise DataError(
            f"no space left on device for {what}: it needs {human_bytes(needed)} in {folder}, "
            f"{human_bytes(free)} is free; free space or use --data-dir on a bigger disk"
        )


def extract(path: Path, members: Members, dest: Path, *, progress: bool = True,
            damaged_hint: str = "the download was damaged: re-run with --force") -> None:
    """Write every member under ``dest`` (an empty, private folder), checking each CRC as it streams.

    ``damaged_hint`` says what to do about a corrupt member (fetch again, or get the file again).
    """
    from tqdm.auto import tqdm

    check_free_space(dest, members.unpacked_bytes, f"extracting {path.name}")
    with zipfile.ZipFile(path) as archive, tqdm(
        total=members.unpacked_bytes, unit="B", unit_scale=True, unit_divisor=1024,
        desc=f"extracting {path.name}", disable=not progress, leave=False,
    ) as bar:
        for info in members.infos:
            target = dest.joinpath(*PurePosixPath(info.filename.replace("\\", "/")).parts)
            try:
                _extract_member(archive, info, target, bar)
            except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
                raise DataError(f"{path} is corrupt ({exc or type(exc).__name__}); {damaged_hint}") from None
            except OSError as exc:
                raise _extraction_error(exc, path, info, dest, members) from None


def _extraction_error(exc: OSError, path: Path, info: zipfile.ZipInfo, dest: Path, members: Members) -> DataError:
    if exc.errno == errno.ENOSPC:
        return DataError(
            f"no space left on device while extracting {path.name} into {dest.parent} (needs "
            f"{human_bytes(members.unpacked_bytes)}); nothing was kept: free space or use --data-dir "
            "on a bigger disk"
        )
    fix = {
        errno.ENAMETOOLONG: "the path is too long for this file system: use a shorter --data-dir",
        errno.EACCES: "check the data folder's permissions, or point --data-dir at a writable folder",
        errno.EROFS: "the data folder is on a read-only file system: point --data-dir at a writable folder",
    }.get(exc.errno or 0, "check the data folder, or point --data-dir elsewhere")
    return DataError(f"cannot extract '{info.filename}' of {path} into {dest.parent} "
                     f"({exc.strerror or type(exc).__name__}); nothing was kept: {fix}")


def _extract_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, bar) -> None:
    if info.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with archive.open(info) as source, open(target, "wb") as out:
        while chunk := source.read(CHUNK):
            out.write(chunk)
            bar.update(len(chunk))


def human_bytes(count: float) -> str:
    """``1536`` → ``1.5 KB``."""
    if count < 1024:
        return f"{count:.0f} B"
    for unit in ("KB", "MB", "GB", "TB"):
        count /= 1024
        if count < 1024 or unit == "TB":
            return f"{count:.1f} {unit}"
    raise AssertionError("unreachable")


def build_archive(folder: str | Path, zip_path: str | Path) -> Path:
    """Zip ``folder``'s contents (paths relative to it, as Kaggle's archives are); return ``zip_path``.

    Entries are sorted and dated 1980-01-01, so the same folder gives the same
    bytes. Written atomically.
    """
    folder, zip_path = Path(folder), Path(zip_path)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    with atomic_path(zip_path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            for path in files:
                info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, path.read_bytes(), compresslevel=1)
    return zip_path
