"""Zip archives for the stand-in server: real layouts from a folder, and deliberately bad ones.

>>> archive = zip_folder(Path("demo/histopathologic-cancer-detection"))
>>> evil = zip_entries({"../escape.txt": b"x"})
"""

from __future__ import annotations

import io
import stat
import tempfile
import zipfile
from pathlib import Path
from typing import Mapping

from kaggle_kit.archive import build_archive


def zip_folder(root: str | Path) -> bytes:
    """Every file under ``root``, stored by its path relative to ``root`` (as Kaggle zips them)."""
    with tempfile.TemporaryDirectory() as scratch:
        return build_archive(root, Path(scratch) / "archive.zip").read_bytes()


def zip_entries(files: Mapping[str, bytes], symlinks: Mapping[str, str] | None = None) -> bytes:
    """An archive with exactly these member names (``../x``, ``/abs`` allowed) and symlink members."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(zipfile.ZipInfo(name), data)
        for name, link_target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3  # Unix, so the mode bits below are honoured
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, link_target)
    return buffer.getvalue()


def truncated(archive: bytes, keep: float = 0.6) -> bytes:
    """The first ``keep`` fraction of an archive: what an interrupted transfer leaves behind."""
    return archive[: max(1, int(len(archive) * keep))]
