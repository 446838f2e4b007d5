"""Fixtures for the Kaggle API: the stand-in server, an isolated client environment, tiny archives.

The real, unpatched ``kaggle`` client is used throughout; it reaches the
stand-in in proxy mode (see ``kaggle_kit/standin/server.py``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The client reads this once, when ``kaggle`` is first imported: set it before any test can
# import it, so every test in the session talks to 127.0.0.1 and never to kaggle.com.
os.environ["KAGGLE_API_ENVIRONMENT"] = "LOCALHOST"

CANCER_SLUG = "histopathologic-cancer-detection"
GALAXY_DATASET = "jaimetrickz/galaxy-zoo-2-images"
CREDENTIAL_VARIABLES = ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN", "KAGGLE_CONFIG_DIR", "XDG_CONFIG_HOME")
NOWHERE = "http://127.0.0.1:9/gz2_hart16.csv.gz"  # the discard port: refused at once, never the internet


def folder_files(root: Path, exclude: tuple[str, ...] = ()) -> dict[str, bytes]:
    """Every file under ``root`` by its relative path (as an archive member name), minus ``exclude`` names."""
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name not in exclude}


@pytest.fixture(scope="session")
def cancer_archive(cancer_raw) -> bytes:
    """The generated cancer competition (``cancer_raw``) zipped as Kaggle serves it."""
    from kaggle_kit.standin import zip_folder

    return zip_folder(cancer_raw)


@pytest.fixture(scope="session")
def galaxy_archive(galaxy_raw) -> bytes:
    """The generated Galaxy Zoo 2 dataset zipped as Kaggle serves it: like the real upload, without
    the Hart et al. table (see ``hart16_gz``)."""
    from kaggle_kit.standin import zip_entries

    return zip_entries(folder_files(galaxy_raw, exclude=("gz2_hart16.csv",)))


@pytest.fixture(scope="session")
def hart16_gz(galaxy_raw) -> bytes:
    """``gz2_hart16.csv.gz`` as the Galaxy Zoo data site serves it (the generated table, gzipped)."""
    import gzip

    return gzip.compress((galaxy_raw / "gz2_hart16.csv").read_bytes(), mtime=0)


@pytest.fixture
def kaggle_home(tmp_path, monkeypatch):
    """An empty HOME with no Kaggle credentials anywhere; the client's output folder isolated too."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(home / ".kaggle"))
    monkeypatch.setenv("KIT_GZ2_HART16_URL", NOWHERE)
    return home


@pytest.fixture
def standin(kaggle_home, monkeypatch, cancer_archive, galaxy_archive, hart16_gz):
    """A running stand-in Kaggle serving both built-in competitions, and the Galaxy Zoo data site's
    stand-in serving the Hart table; the client pointed at it with KAGGLE_USERNAME/KAGGLE_KEY, and
    kit's retry backoff, rate-limit patience and read timeout shortened to fractions of a second."""
    from kaggle_kit.standin import StandinKaggle
    from kaggle_kit.standin.server import HART16_URL

    with StandinKaggle() as server:
        server.add_competition(CANCER_SLUG, cancer_archive)
        server.add_dataset(GALAXY_DATASET, galaxy_archive)
        server.add_site_file(HART16_URL, hart16_gz)
        for name, value in server.client_env().items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        monkeypatch.setenv("KIT_KAGGLE_BACKOFF", "0.01")
        monkeypatch.setenv("KIT_KAGGLE_RATE_LIMIT_WAIT", "0.5")
        monkeypatch.setenv("KIT_KAGGLE_READ_TIMEOUT", "0.5")
        yield server


@pytest.fixture
def small_disk(tmp_path):
    """A 512 KB tmpfs to run out of space on (mounting needs root: skipped otherwise)."""
    import subprocess

    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip("mounting a small tmpfs needs root")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def read_only_folder(tmp_path):
    """An empty folder nothing can be written in: a read-only tmpfs as root (root ignores modes), else mode 555."""
    import os
    import subprocess

    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.geteuid() == 0:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)], capture_output=True)
        if done.returncode != 0:
            pytest.skip("mounting a read-only tmpfs failed")
        yield folder
        subprocess.run(["umount", "-l", str(folder)], check=False)
    else:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
