"""Fixtures for the Kaggle API: the stand-in server, an isolated client environment, tiny archives.

The real, unpatched ``kaggle`` client is used throughout; it reaches the
stand-in in proxy mode (see ``kaggle_kit/standin/server.py``).
"""

from __future__ import annotations

import hashlib
import io
import os

import pytest

# The client reads this once, when ``kaggle`` is first imported: set it before any test can
# import it, so every test in the session talks to 127.0.0.1 and never to kaggle.com.
os.environ["KAGGLE_API_ENVIRONMENT"] = "LOCALHOST"

CANCER_SLUG = "histopathologic-cancer-detection"
GALAXY_DATASET = "jaimetrickz/galaxy-zoo-2-images"
CREDENTIAL_VARIABLES = ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN", "KAGGLE_CONFIG_DIR", "XDG_CONFIG_HOME")


def _image_bytes(fmt: str, seed: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (seed * 37 % 256, 80, 120)).save(buffer, format=fmt)
    return buffer.getvalue()


def tiny_cancer_files(n_train: int = 6, n_test: int = 3) -> dict[str, bytes]:
    """Kaggle's histopathologic-cancer-detection layout with tiny TIFFs: member name → bytes."""
    train_ids = [hashlib.sha1(f"train{i}".encode()).hexdigest() for i in range(n_train)]
    test_ids = [hashlib.sha1(f"test{i}".encode()).hexdigest() for i in range(n_test)]
    files = {f"train/{i}.tif": _image_bytes("TIFF", n) for n, i in enumerate(train_ids)}
    files.update({f"test/{i}.tif": _image_bytes("TIFF", n) for n, i in enumerate(test_ids)})
    files["train_labels.csv"] = ("id,label\n" + "".join(f"{i},{n % 2}\n" for n, i in enumerate(train_ids))).encode()
    files["sample_submission.csv"] = ("id,label\n" + "".join(f"{i},0\n" for i in test_ids)).encode()
    return files


def tiny_galaxy_files(n: int = 6, with_hart16: bool = True) -> dict[str, bytes]:
    """The Galaxy Zoo 2 images dataset layout with tiny JPEGs (and optionally gz2_hart16.csv)."""
    objids = [587722981741363294 + k for k in range(n)]
    files = {f"images_gz2/images/{k + 1}.jpg": _image_bytes("JPEG", k) for k in range(n)}
    files["gz2_filename_mapping.csv"] = (
        "objid,sample,asset_id\n" + "".join(f"{o},original,{k + 1}\n" for k, o in enumerate(objids))
    ).encode()
    if with_hart16:
        files["gz2_hart16.csv"] = hart16_table(objids)
    return files


def hart16_table(objids=None) -> bytes:
    objids = objids or [587722981741363294 + k for k in range(6)]
    classes = ["Ei", "Sc", "Er", "SBb", "A", "Sb"]
    rows = "".join(f"{o},original,{classes[k % len(classes)]}\n" for k, o in enumerate(objids))
    return ("dr7objid,sample,gz2_class\n" + rows).encode()


@pytest.fixture(scope="session")
def cancer_archive() -> bytes:
    from kaggle_kit.standin import zip_entries

    return zip_entries(tiny_cancer_files())


@pytest.fixture(scope="session")
def galaxy_archive() -> bytes:
    from kaggle_kit.standin import zip_entries

    return zip_entries(tiny_galaxy_files())


@pytest.fixture
def kaggle_home(tmp_path, monkeypatch):
    """An empty HOME with no Kaggle credentials anywhere; the client's output folder isolated too."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(home / ".kaggle"))
    return home


@pytest.fixture
def standin(kaggle_home, monkeypatch, cancer_archive, galaxy_archive):
    """A running stand-in Kaggle serving both built-in competitions; the client pointed at it with
    KAGGLE_USERNAME/KAGGLE_KEY, and kit's retry backoff shortened to milliseconds."""
    from kaggle_kit.standin import StandinKaggle

    with StandinKaggle() as server:
        server.add_competition(CANCER_SLUG, cancer_archive)
        server.add_dataset(GALAXY_DATASET, galaxy_archive)
        for name, value in server.client_env().items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        monkeypatch.setenv("KIT_KAGGLE_BACKOFF", "0.01")
        yield server
