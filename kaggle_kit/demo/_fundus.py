"""Procedural retina photos for aptos2019-blindness-detection: diabetic retinopathy grades 0–4.

The real images are fundus photographs from many clinics and cameras, of varying
size, exposure and crop, graded by a clinician 0 (no DR), 1 (mild), 2 (moderate),
3 (severe), 4 (proliferative) (competition description; openai/mle-bench
``mlebench/competitions/aptos2019-blindness-detection``). The training grades are
about 49 / 10 / 27 / 5 / 8 % (1,805, 370, 999, 193, 295 of 3,662).

Each image here is a black frame holding the orange-red disc of the retina (darker
toward its rim; sometimes cut at top and bottom, as many real photos are), a pale
optic disc on one side with dark red vessels leaving it, and a darker macula. The
grade sets the lesions, as in the clinical scale: grade 1 a few microaneurysms
(tiny dark red dots); grade 2 more of them with blot haemorrhages and yellow hard
exudates; grade 3 many haemorrhages and exudates and pale cotton-wool spots; grade
4 adds a tangle of new vessels or a large haemorrhage. Counts are random within
overlapping ranges and exposure varies, so neighbouring grades overlap, which is
what quadratic weighted kappa forgives and what fitted cut points exploit.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

GRADE_SHARES = tuple(count / 3662 for count in (1805, 370, 999, 193, 295))
# Lesion counts per grade: (microaneurysms, haemorrhages, exudates, cotton-wool spots) as (low, high).
LESIONS = {
    0: ((0, 1), (0, 0), (0, 0), (0, 0)),
    1: ((2, 7), (0, 1), (0, 1), (0, 0)),
    2: ((5, 14), (2, 7), (2, 9), (0, 1)),
    3: ((10, 24), (8, 18), (6, 16), (1, 4)),
    4: ((10, 24), (6, 18), (4, 14), (1, 4)),
}


def render_fundus(rng: np.random.Generator, grade: int, width: int, height: int) -> np.ndarray:
    """One ``height``×``width`` RGB fundus photo (uint8) of DR ``grade``."""
    canvas = Image.new("RGB", (width, height), (0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    radius = min(width, height) * 0.5 * (rng.uniform(1.0, 1.18) if rng.random() < 0.4 else rng.uniform(0.86, 0.97))
    cx, cy = width / 2 + rng.normal(0, 0.02) * width, height / 2 + rng.normal(0, 0.02) * height
    exposure = rng.uniform(0.7, 1.2)
    retina = np.array([rng.uniform(185, 235), rng.uniform(85, 125), rng.uniform(30, 60)]) * exposure
    draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=_rgb(retina))

    side = 1 if rng.random() < 0.5 else -1
    disc = (cx + side * radius * rng.uniform(0.3, 0.42), cy + rng.normal(0, 0.05) * radius)
    vessel = retina * np.array([0.62, 0.45, 0.5])
    for _ in range(int(rng.integers(5, 9))):  # vessels leave the optic disc in gentle curves
        _curve(draw, rng, disc, radius, vessel, max(1, int(radius * rng.uniform(0.012, 0.025))))
    macula = (cx - side * radius * 0.05, cy)
    _spot(draw, macula, radius * 0.12, retina * np.array([0.75, 0.7, 0.75]))
    _spot(draw, disc, radius * rng.uniform(0.1, 0.14), np.array([245, 225, 150]) * min(1.0, exposure + 0.1))

    inside = _sampler(rng, (cx, cy), radius * 0.88, disc, radius * 0.16)
    micro, haem, exudate, wool = (int(rng.integers(low, high + 1)) for low, high in LESIONS[grade])
    for _ in range(micro):
        _spot(draw, inside(), radius * rng.uniform(0.008, 0.016), retina * np.array([0.5, 0.3, 0.35]))
    for _ in range(haem):
        _spot(draw, inside(), radius * rng.uniform(0.02, 0.05), retina * np.array([0.45, 0.25, 0.3]))
    for _ in range(exudate):
        _spot(draw, inside(), radius * rng.uniform(0.01, 0.025), np.array([250, 230, 110]) * exposure)
    for _ in range(wool):
        _spot(draw, inside(), radius * rng.uniform(0.04, 0.07), retina * 0.4 + np.array([150, 140, 120]))
    if grade == 4:
        if rng.random() < 0.6:  # neovascularisation: a tangle of fine new vessels
            centre = inside()
            for _ in range(int(rng.integers(6, 12))):
                _curve(draw, rng, centre, radius * 0.3, vessel * 0.9, 1)
        else:  # a large preretinal haemorrhage
            _spot(draw, inside(), radius * rng.uniform(0.1, 0.16), retina * np.array([0.4, 0.18, 0.2]))

    image = canvas.filter(ImageFilter.GaussianBlur(radius=min(width, height) / 400 + 0.3))
    pixels = np.asarray(image).astype(np.float64)
    yy, xx = np.mgrid[0:height, 0:width]
    distance = np.hypot(yy - cy, xx - cx) / radius
    rim = np.clip(1.0 - 0.45 * distance**3, 0.3, 1.0) * (distance <= 1.0)  # vignetting; black outside
    pixels = (pixels + rng.normal(0, 2.0, pixels.shape)) * rim[..., None]
    return np.clip(pixels, 0, 255).astype(np.uint8)


def _sampler(rng: np.random.Generator, centre, radius: float, avoid, avoid_radius: float):
    """Random points inside the retina, away from the optic disc."""

    def point() -> tuple[float, float]:
        while True:
            angle, distance = rng.uniform(0, 2 * np.pi), radius * np.sqrt(rng.random())
            x, y = centre[0] + distance * np.cos(angle), centre[1] + distance * np.sin(angle)
            if np.hypot(x - avoid[0], y - avoid[1]) > avoid_radius:
                return x, y

    return point


def _curve(draw: ImageDraw.ImageDraw, rng: np.random.Generator, start, reach: float, colour, width: int) -> None:
    angle = rng.uniform(0, 2 * np.pi)
    bend = rng.normal(0, 0.6)
    points = []
    for t in np.linspace(0, 1, 12):
        a = angle + bend * t
        points.append((start[0] + reach * 0.9 * t * np.cos(a), start[1] + reach * 0.9 * t * np.sin(a)))
    draw.line(points, fill=_rgb(colour), width=width)


def _spot(draw: ImageDraw.ImageDraw, centre, radius: float, colour) -> None:
    x, y = centre
    radius = max(radius, 0.6)
    draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=_rgb(colour))


def _rgb(colour) -> tuple[int, int, int]:
    return tuple(int(np.clip(v, 0, 255)) for v in colour)
