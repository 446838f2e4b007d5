"""Procedural 32×32 aerial tiles of desert scrub, some with a columnar cactus (aerial-cactus-identification).

The real tiles are thumbnails of drone photos over a protected area in Mexico
(Neobuxbaumia tetetzo, López-Jiménez et al. 2019); about 75 % show a cactus.
Seen from above, a columnar cactus is a small, dark, saturated green disc with a
long, thin shadow; the scrub around it is green too. Here every tile is sandy soil
(smooth colour variation and grain) with shrubs — larger irregular blobs, pale
olive, or as dark as a cactus with a short broad shadow — and pale stones, in
either class; a positive tile adds 1–3 cacti, each a dark green disc with a lit
side and a long shadow cast away from the tile's sun. Dark shrubs and small cacti
are the hard cases: what separates the classes is the shape (a small round crown
and a long thin shadow), so colour statistics alone do not.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from kaggle_kit.demo._histology import smooth_fields

SIZE = 32
SUPERSAMPLE = 4  # shapes are drawn at 4× and averaged down, for soft edges
POSITIVE_FRACTION = 0.75  # train.csv: 13,136 of 17,500 tiles have a cactus


def render_tile(rng: np.random.Generator, has_cactus: bool, size: int = SIZE) -> np.ndarray:
    """One ``size``² RGB tile (uint8)."""
    big = size * SUPERSAMPLE
    px = big / SIZE  # one pixel of the 32×32 frame, at the drawing scale
    soil = rng.uniform(165, 215) * np.array([1.0, rng.uniform(0.8, 0.92), rng.uniform(0.6, 0.75)])
    patches = smooth_fields(rng, 1, 4, big)[0][..., None] * rng.uniform(6, 16) * np.array([1.0, 0.95, 0.8])
    grain = rng.normal(0, rng.uniform(4, 9), (big, big, 1))
    canvas = Image.fromarray(np.clip(soil + patches + grain, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    sun = rng.uniform(0, 2 * np.pi)  # shadows fall the same way on one tile

    for _ in range(int(rng.poisson(1.8))):  # shrubs, some dark and shaded: both classes
        centre, radius = rng.uniform(0, big, 2), rng.uniform(2.5, 6.5) * px
        dark = rng.random() < 0.4
        if dark:  # a short, broad shadow at the shrub's foot
            _blob(draw, rng, centre + radius * 0.5 * np.array([np.sin(sun), np.cos(sun)]), radius,
                  rng.uniform([55, 48, 35], [85, 75, 60]))
        colour = rng.uniform([40, 70, 30], [80, 110, 65]) if dark else rng.uniform([100, 112, 60], [140, 145, 95])
        _blob(draw, rng, centre, radius, colour)
    for _ in range(int(rng.poisson(1.0))):  # stones
        _blob(draw, rng, rng.uniform(0, big, 2), rng.uniform(0.8, 2.0) * px, (rng.uniform(190, 235),) * 3)
    if has_cactus:
        for _ in range(int(rng.integers(1, 4))):
            _cactus(draw, rng, rng.uniform(0.1 * big, 0.9 * big, 2), rng.uniform(1.1, 2.4) * px, sun, px)
    small = canvas.resize((size, size), Image.Resampling.BOX)
    return np.asarray(small)


def _cactus(draw: ImageDraw.ImageDraw, rng: np.random.Generator, centre, radius: float, sun: float, px: float) -> None:
    """A shadow cast away from the sun, the dark green crown, and its lit side."""
    y, x = centre
    length = rng.uniform(2.5, 7.0) * px
    dy, dx = np.sin(sun), np.cos(sun)
    ny, nx = -dx, dy  # across the shadow
    shadow = [
        (x + nx * radius, y + ny * radius),
        (x + dx * length + nx * radius * 0.6, y + dy * length + ny * radius * 0.6),
        (x + dx * length - nx * radius * 0.6, y + dy * length - ny * radius * 0.6),
        (x - nx * radius, y - ny * radius),
    ]
    draw.polygon(shadow, fill=tuple(int(v) for v in rng.uniform([55, 48, 35], [85, 75, 60])))
    green = rng.uniform([35, 75, 30], [70, 110, 60])
    draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=tuple(int(v) for v in green))
    lit = radius * 0.45
    ly, lx = y - dy * radius * 0.4, x - dx * radius * 0.4
    draw.ellipse([lx - lit, ly - lit, lx + lit, ly + lit], fill=tuple(int(min(255, v * 1.45)) for v in green))


def _blob(draw: ImageDraw.ImageDraw, rng: np.random.Generator, centre, radius: float, colour) -> None:
    """An irregular patch: a few overlapping ellipses around ``centre``."""
    y, x = centre
    fill = tuple(int(v) for v in colour)
    for _ in range(int(rng.integers(2, 5))):
        oy, ox = rng.normal(0, radius * 0.35, 2)
        ry, rx = radius * rng.uniform(0.5, 1.0, 2)
        draw.ellipse([x + ox - rx, y + oy - ry, x + ox + rx, y + oy + ry], fill=fill)
