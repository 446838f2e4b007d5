"""Atomic writes: a failure is one StorageError naming the file, and leaves nothing behind."""

import errno
import os

import pytest

from kaggle_kit import fsutil
from kaggle_kit.errors import DataError, StorageError
from kaggle_kit.fsutil import open_regular, publish_bytes, write_text_atomic


@pytest.mark.parametrize(
    "code, words",
    [
        (errno.ENOSPC, "no space left on the device; free some space, or write elsewhere"),
        (errno.EDQUOT, "the disk quota is used up; free some space, or write elsewhere"),
        (errno.EROFS, "the file system is read-only; write elsewhere"),
        (errno.EACCES, "permission denied; check the folder's permissions, or write elsewhere"),
        (errno.EIO, "Input/output error; check the disk and the folder"),
    ],
)
def test_failed_atomic_writes_are_one_line_naming_the_file(tmp_path, monkeypatch, code, words):
    target = tmp_path / "table.csv"

    def failing_replace(src, dst):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(fsutil.os, "replace", failing_replace)
    with pytest.raises(StorageError) as err:
        write_text_atomic(target, "id,label\n")
    assert str(err.value) == f"cannot write {target}: {words}"
    assert list(tmp_path.iterdir()) == []


def test_a_file_where_a_folder_should_be(tmp_path):
    blocker = tmp_path / "runs"
    blocker.write_text("not a folder")
    with pytest.raises(StorageError) as err:
        write_text_atomic(blocker / "x" / "config.yaml", "a: 1\n")
    assert str(err.value) == (
        f"cannot write {blocker / 'x' / 'config.yaml'}: a file is in the way where a folder should be; "
        "move that file, or write elsewhere"
    )


def test_publish_bytes_never_replaces_without_overwrite(tmp_path):
    target = tmp_path / "sub.csv"
    assert publish_bytes(target, b"a\n", overwrite=False) is False
    assert publish_bytes(target, b"a\n", overwrite=False) is True  # identical: nothing written
    with pytest.raises(FileExistsError):
        publish_bytes(target, b"b\n", overwrite=False)
    assert target.read_bytes() == b"a\n"
    assert publish_bytes(target, b"b\n", overwrite=True) is False
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub.csv"]


def test_open_regular_refuses_fifos_and_devices_at_once(tmp_path):
    fifo = tmp_path / "image.png"
    os.mkfifo(fifo)
    for path, kind in ((fifo, "a FIFO (named pipe)"), ("/dev/null", "a character device"), (tmp_path, "a folder")):
        with pytest.raises(DataError) as err:
            open_regular(path)
        assert str(err.value) == f"{path} is {kind}, not a file; point at a regular file"
