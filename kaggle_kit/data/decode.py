"""Decode one image file into a square uint8 RGB array: central crop, then resize.

Any Pillow mode becomes RGB (16-bit and 32-bit grey are scaled to 8 bits, not
clipped). A file that cannot be used raises :class:`UnusableImage` whose message
is the reason written to ``skipped.csv``; callers skip it and carry on.

>>> decode_image("train/f38a6374.tif", size=64, crop=0.5).shape
(64, 64, 3)
"""

from __future__ import annotations

import errno
import io
import math
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from kaggle_kit.fsutil import NotRegularFile, open_regular, storage_error

# Pillow's BILINEAR resize widens its kernel with the reduction factor, so it
# antialiases like an area filter; per image it measured 10-60 % cheaper than
# LANCZOS here. JPEG draft mode (below) matters far more: 2.5-4.5x faster on
# 424×424 galaxy frames.
RESAMPLE = Image.Resampling.BILINEAR
RESAMPLE_NAME = "bilinear"
# Decompression-bomb guard: refuse frames above this many pixels (8192×8192)
# before Pillow allocates them (Pillow's own guard only errors at ~179M). The
# largest competition frames are 424×424.
MAX_PIXELS = 64 * 1024 * 1024
MAX_FILE_BYTES = 256 * 1024 * 1024  # each file is read whole; competition images are kilobytes
MIN_SIDE = 2
ORIENTATION_TAG = 0x0112


class UnusableImage(Exception):
    """An image that is skipped; ``str()`` is the reason recorded in ``skipped.csv``."""


def decode_image(path: str | os.PathLike, size: int, crop: float = 1.0) -> np.ndarray:
    """The central ``crop`` fraction of the frame, resized to ``size``×``size``, as uint8 (size, size, 3)."""
    path = Path(path)
    data = read_file(path)
    try:
        with warnings.catch_warnings():
            # Pillow warns from ~89M pixels (check_dimensions refuses those itself) and
            # about damaged metadata (EXIF); either would flood the log over 277k files.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            warnings.simplefilter("ignore", UserWarning)
            with open_image(data, path.suffix) as image:
                check_dimensions(image.size)
                jpeg = image.format in ("JPEG", "MPO")
                if jpeg:
                    # Let libjpeg decode at 1/2, 1/4 or 1/8 scale when the output is that much smaller.
                    wanted = math.ceil(size / crop)
                    image.draft("RGB", (wanted, wanted))
                image.load()
                if jpeg:
                    # A camera's EXIF Orientation says how the stored pixels are turned: apply it,
                    # as every image viewer does, so the crop is the centre of what the user sees.
                    ImageOps.exif_transpose(image, in_place=True)
                rgb = to_rgb(image)
    except UnusableImage:
        raise
    except Image.DecompressionBombError as exc:
        raise UnusableImage(f"refused as a decompression bomb ({exc})") from None
    except Exception as exc:
        # The one boundary where any decoder failure means "skip this file": Pillow's
        # plugins report corrupt data as OSError, SyntaxError, ValueError, struct.error,
        # EOFError and others, and one bad file must never stop a 277k-image build.
        raise UnusableImage(describe_decode_error(exc)) from None
    return crop_and_resize(rgb, size, crop)


def open_image(data: bytes, suffix: str) -> Image.Image:
    """Open with the plugin the file extension names first: letting Pillow try its
    plugins in turn cost ~50 µs more per TIFF (a third of the decode). A file whose
    extension lies is still opened, by Pillow's own sniffing."""
    expected = Image.registered_extensions().get(suffix.lower())
    if expected is not None:
        try:
            return Image.open(io.BytesIO(data), formats=(expected,))
        except Image.UnidentifiedImageError:
            pass  # not what its name says: let Pillow identify it
    return Image.open(io.BytesIO(data))


def read_file(path: Path) -> bytes:
    """The file's bytes, read at once: Pillow's TIFF parser makes ~40 small reads and
    seeks per file, which cost less from memory (measured 10-15 % per image). A FIFO,
    socket, device or folder named like an image is skipped, never read (a FIFO would
    block the build forever)."""
    try:
        with open_regular(path) as handle:
            size = os.fstat(handle.fileno()).st_size
            if size == 0:
                raise UnusableImage("empty file (0 bytes)")
            if size > MAX_FILE_BYTES:
                raise UnusableImage(f"file is {size:,} bytes, above the {MAX_FILE_BYTES:,}-byte limit")
            return handle.read()
    except FileNotFoundError:
        raise UnusableImage("missing file") from None
    except NotRegularFile as exc:
        raise UnusableImage(f"not a regular file ({exc.kind})") from None
    except OSError as exc:
        raise UnusableImage(f"cannot read the file ({exc.strerror or type(exc).__name__})") from None


def frame_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """An image's width and height as shown (EXIF orientation applied), from its header only;
    None when it cannot be read."""
    try:
        with open_regular(path) as handle, Image.open(handle) as image:
            width, height = image.size
            if image.format in ("JPEG", "MPO") and image.getexif().get(ORIENTATION_TAG, 1) in (5, 6, 7, 8):
                width, height = height, width  # a quarter turn
            return width, height
    except Exception:  # noqa: BLE001 - any unreadable file: the build lists it in skipped.csv
        return None


def check_dimensions(dimensions: tuple[int, int]) -> None:
    width, height = dimensions
    if width < MIN_SIDE or height < MIN_SIDE:
        raise UnusableImage(f"image is {width}×{height} pixels, too small to use")
    if width * height > MAX_PIXELS:
        raise UnusableImage(f"image is {width}×{height} pixels, above the {MAX_PIXELS:,}-pixel limit")


def describe_decode_error(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, Image.UnidentifiedImageError):
        return "not a readable image (corrupt file or unknown format)"
    if "truncated" in text.lower():
        return "truncated image data"
    return f"corrupt image data ({type(exc).__name__}: {text})"


def to_rgb(image: Image.Image) -> Image.Image:
    """Any mode to 8-bit RGB. High-bit-depth grey is rescaled to 0–255 first."""
    if image.mode == "RGB":
        return image
    if image.mode.startswith("I") or image.mode == "F":
        grey = scale_to_uint8(np.asarray(image))
        return Image.fromarray(grey, mode="L").convert("RGB")
    # P, PA, L, LA, RGBA, RGBX, CMYK, YCbCr, LAB, HSV, 1: Pillow converts these itself.
    return image.convert("RGB")


def scale_to_uint8(values: np.ndarray) -> np.ndarray:
    """16-bit data (0–65535) divided down to 0–255; 8-bit-range data kept; other ranges stretched."""
    values = values.astype(np.float64)
    low, high = float(values.min()), float(values.max())
    if low >= 0 and high <= 255:
        scaled = values
    elif low >= 0 and high <= 65535:
        scaled = values / 257.0
    else:
        scaled = (values - low) * (255.0 / (high - low))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def central_box(width: int, height: int, crop: float) -> tuple[int, int, int, int]:
    """The central region keeping ``crop`` of each side, in whole pixels."""
    keep_w, keep_h = max(1, round(width * crop)), max(1, round(height * crop))
    left, top = (width - keep_w) // 2, (height - keep_h) // 2
    return (left, top, left + keep_w, top + keep_h)


def crop_and_resize(rgb: Image.Image, size: int, crop: float) -> np.ndarray:
    # Crop first, then resize: resizing with a box would blend in pixels from
    # outside the crop (the filter's support reaches past the box edge).
    if crop < 1.0:
        rgb = rgb.crop(central_box(*rgb.size, crop))
    if rgb.size != (size, size):
        rgb = rgb.resize((size, size), RESAMPLE)
    return np.asarray(rgb, dtype=np.uint8)


def decode_chunk(target: str, offset: int, size: int, crop: float, rows: list[int], paths: list[str],
                 stain_norm: str = "none") -> list[tuple[int, str]]:
    """Worker task: decode ``paths`` into the consecutive ``rows`` of ``target``; return (row, reason) of the skipped.

    The chunk is assembled in memory and written with one ``pwrite`` (a few MB):
    one system call instead of one per image. Skipped images leave zero pixels.
    ``stain_norm`` names a ``data.stain.STAIN_NORMALIZERS`` entry applied to each image ("none": none).
    """
    from kaggle_kit.data.stain import STAIN_NORMALIZERS

    normalize = STAIN_NORMALIZERS.get(stain_norm)
    pixels = np.zeros((len(rows), size, size, 3), dtype=np.uint8)
    skipped: list[tuple[int, str]] = []
    for slot, (row, path) in enumerate(zip(rows, paths)):
        try:
            pixels[slot] = decode_image(path, size, crop)
            if normalize is not None:
                pixels[slot] = normalize(pixels[slot])
        except UnusableImage as exc:
            skipped.append((row, str(exc)))
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CLOEXEC)
        try:
            pwrite_all(fd, memoryview(pixels).cast("B"), offset + rows[0] * size * size * 3)
        finally:
            os.close(fd)
    except OSError as exc:  # a full disk: the whole build stops with one line, never a half-written cache
        raise storage_error(exc, target) from None
    return skipped


def pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    """Write all of ``data`` at ``offset``: ``os.pwrite`` may write less than asked (a signal, a
    nearly full disk), and an unchecked short write would leave blank rows in a "complete" cache."""
    while len(data):
        written = os.pwrite(fd, data, offset)
        if written <= 0:
            raise OSError(errno.EIO, f"pwrite wrote {written} bytes")
        data, offset = data[written:], offset + written
