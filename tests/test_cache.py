"""Decoding any image into RGB, crop and resize, and reading cache rows with bounded memory."""

import os
import pickle
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from kaggle_kit.data.cache import ImageStore, consecutive_runs, create_array_file
from kaggle_kit.data.decode import UnusableImage, decode_chunk, decode_image, frame_size
from kaggle_kit.errors import CacheError


def save(tmp_path, name, image, **kwargs):
    path = tmp_path / name
    image.save(path, **kwargs)
    return path


def grey_ramp(side=8):
    return np.arange(side * side, dtype=np.uint8).reshape(side, side) * 3


@pytest.mark.parametrize("mode", ["L", "LA", "P", "RGBA", "CMYK", "1"])
def test_every_8_bit_mode_becomes_rgb(tmp_path, mode):
    source = Image.fromarray(grey_ramp(), mode="L").convert(mode)
    pixels = decode_image(save(tmp_path, f"x.{'png' if mode != 'CMYK' else 'tif'}", source), size=8)
    assert pixels.shape == (8, 8, 3) and pixels.dtype == np.uint8
    assert np.array_equal(pixels, np.asarray(source.convert("RGB")))


def test_16_bit_grey_is_scaled_not_clipped(tmp_path):
    values = np.array([[0, 257 * 100], [65535, 257 * 200]], dtype=np.uint16)
    values = np.tile(values, (4, 4))
    path = save(tmp_path, "deep.png", Image.fromarray(values))  # Pillow picks I;16
    pixels = decode_image(path, size=8)
    assert pixels[:2, :2, 0].tolist() == [[0, 100], [255, 200]]
    assert np.array_equal(pixels[..., 0], pixels[..., 2])


def test_central_crop_keeps_the_middle_of_the_frame(tmp_path):
    frame = np.zeros((40, 40, 3), dtype=np.uint8)
    frame[10:30, 10:30] = 255  # a white centre half the frame wide
    path = save(tmp_path, "galaxy.png", Image.fromarray(frame))
    assert decode_image(path, size=10, crop=0.5).min() == 255
    whole = decode_image(path, size=10, crop=1.0)
    assert whole[0, 0].tolist() == [0, 0, 0] and whole[5, 5].tolist() == [255, 255, 255]


def test_jpeg_draft_still_gives_the_requested_size(tmp_path):
    frame = np.full((424, 424, 3), 128, dtype=np.uint8)
    path = save(tmp_path, "big.jpg", Image.fromarray(frame), quality=95)
    pixels = decode_image(path, size=48, crop=0.5)
    assert pixels.shape == (48, 48, 3) and abs(int(pixels.mean()) - 128) <= 2


def write(path, data):
    path.write_bytes(data)
    return path


def huge_png(tmp_path, side=10_000):
    """A valid PNG header claiming side×side pixels (a decompression bomb) with no real data."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path = tmp_path / "bomb.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
    return path


def truncated_jpeg(tmp_path):
    good = save(tmp_path, "whole.jpg", Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)))
    path = tmp_path / "cut.jpg"
    path.write_bytes(good.read_bytes()[:400])
    return path


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda t: t / "absent.tif", "missing file"),
        (lambda t: write(t / "zero.tif", b""), "empty file (0 bytes)"),
        (lambda t: write(t / "junk.tif", b"not an image at all"), "not a readable image (corrupt file or unknown format)"),
        (lambda t: save(t, "dot.png", Image.new("RGB", (1, 1))), "image is 1×1 pixels, too small to use"),
        (truncated_jpeg, "truncated image data"),
        (huge_png, "image is 10000×10000 pixels, above the 67,108,864-pixel limit"),
    ],
    ids=["missing", "zero-byte", "corrupt", "1x1", "truncated", "huge"],
)
def test_unusable_images_raise_with_the_reason(tmp_path, make, reason):
    with pytest.raises(UnusableImage) as err:
        decode_image(make(tmp_path), size=8)
    assert str(err.value) == reason


def test_decode_chunk_writes_rows_and_reports_bad_files(tmp_path):
    target = tmp_path / "a.npy"
    offset = create_array_file(target, 3, 4)
    good = save(tmp_path, "g.png", Image.new("RGB", (4, 4), (9, 8, 7)))
    skipped = decode_chunk(str(target), offset, 4, 1.0, [0, 2], [str(good), str(tmp_path / "gone.png")])
    assert skipped == [(2, "missing file")]
    array = np.load(target)
    assert array[0].tolist() == [[[9, 8, 7]] * 4] * 4
    assert not array[1:].any()  # untouched and skipped rows read as zeros


def make_store(tmp_path, count=10, side=4):
    target = tmp_path / "s.npy"
    values = np.arange(count, dtype=np.uint8)[:, None, None, None] * np.ones((1, side, side, 3), dtype=np.uint8)
    np.save(target, values)
    return ImageStore(target), values


def test_store_reads_rows_in_the_order_asked(tmp_path):
    store, values = make_store(tmp_path)
    assert store.shape == (10, 4, 4, 3) and len(store) == 10
    for rows in ([7, 2, 2, 9], [0, 1, 2, 3], [], [5]):
        assert np.array_equal(store.read(rows), values[rows])


def test_store_rejects_rows_out_of_range(tmp_path):
    store, _ = make_store(tmp_path)
    with pytest.raises(IndexError):
        store.read([10])


def test_store_survives_pickling(tmp_path):
    store, values = make_store(tmp_path)
    store.read([1])
    clone = pickle.loads(pickle.dumps(store))
    assert np.array_equal(clone.read([3]), values[[3]])


def test_store_refuses_a_truncated_array_file(tmp_path):
    store, _ = make_store(tmp_path)
    with open(store.path, "r+b") as handle:
        handle.truncate(store.path.stat().st_size - 5)
    with pytest.raises(CacheError) as err:
        ImageStore(store.path)
    assert str(err.value) == f"{store.path} is 603 bytes, expected 608; rebuild with `kit prepare --force`"


def test_consecutive_runs_split_where_rows_jump():
    assert list(consecutive_runs(np.array([3, 4, 5, 9, 1, 2]))) == [(0, 3), (3, 4), (4, 6)]


def crash(*args):
    os._exit(3)  # what a segfaulting codec looks like to the pool


def test_a_crashing_worker_is_a_clear_error_not_a_hang(tmp_path, monkeypatch):
    from kaggle_kit.data import cache

    monkeypatch.setattr(cache, "decode_chunk", crash)  # forked workers inherit the patch
    jobs = [(tmp_path / "a.npy", ["x.png"] * 3), (tmp_path / "b.npy", ["y.png"] * 3)]
    with pytest.raises(CacheError) as err:
        cache.fill_arrays(jobs, 4, 1.0, workers=2, progress=lambda n: None)
    assert str(err.value) == (
        "a decode worker died (out of memory or a crashing image library); retry with --workers 1 to find the file"
    )


def test_a_closed_store_says_so(tmp_path):
    store, _ = make_store(tmp_path)
    with store:
        store.read([0])
    with pytest.raises(CacheError) as err:
        store.read([0])
    assert str(err.value) == f"{store.path} was closed; open the store again"


def test_a_file_whose_extension_lies_is_still_decoded(tmp_path):
    path = tmp_path / "really-a-png.tif"
    Image.new("RGB", (4, 4), (1, 2, 3)).save(path, format="PNG")
    assert decode_image(path, size=4)[0, 0].tolist() == [1, 2, 3]


@pytest.mark.parametrize("orientation, turn", [(1, None), (3, Image.Transpose.ROTATE_180),
                                               (6, Image.Transpose.ROTATE_270), (8, Image.Transpose.ROTATE_90)])
def test_jpeg_exif_orientation_is_applied(tmp_path, orientation, turn):
    stored = np.zeros((32, 64, 3), dtype=np.uint8)  # a wide frame: red left half, blue right half
    stored[:, :32, 0] = 255
    stored[:, 32:, 2] = 255
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = save(tmp_path, "photo.jpg", Image.fromarray(stored), exif=exif, quality=95)
    shown = Image.fromarray(stored) if turn is None else Image.fromarray(stored).transpose(turn)
    expected = np.asarray(shown.resize((8, 8), Image.Resampling.BILINEAR)).astype(int)
    assert np.abs(decode_image(path, size=8).astype(int) - expected).max() < 40
    assert frame_size(path) == shown.size


def test_a_small_image_asked_at_a_larger_size_warns_once_per_prepare(cancer_tiny):
    from click.testing import CliRunner

    from kaggle_kit.cli import cli

    result = CliRunner().invoke(cli, ["prepare", "histopathologic-cancer-detection", "--image-size", "64",
                                                      "--crop", "0.5", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "Warning: --image-size 64 is larger than the 12 px kept of the 24×24 images of histopathologic-cancer-detection "
        "(--crop 0.5): they are enlarged 5.3× in the cache, which adds no detail; --image-size 12 keeps every pixel\n"
    )
    quiet = CliRunner().invoke(cli, ["prepare", "histopathologic-cancer-detection", "--image-size", "12",
                                                     "--crop", "0.5", "--no-progress"])
    assert quiet.exit_code == 0 and quiet.stderr == ""
