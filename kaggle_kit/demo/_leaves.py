"""Procedural apple-leaf photos for plant-pathology-2020-fgvc7: healthy, rust, scab, or both.

The real set (Thapa et al. 2020) is 3:2 photos of apple leaves in the orchard,
each labelled by four 0/1 columns ``healthy, multiple_diseases, rust, scab``
(exactly one set per image): 516 / 91 / 622 / 592 of 1,821 training images
(openai/mle-bench ``mlebench/competitions/plant-pathology-2020-fgvc7/prepare.py``).

Each image here is one leaf — a pointed green ellipse with a midrib and veins, at
a random angle and size, lit unevenly — over blurred orchard background. Cedar
apple rust shows as round orange-yellow spots with a darker rim; apple scab as
olive-brown, irregular, velvety blotches; "multiple diseases" has both, fewer of
each. Healthy leaves can carry a few pale specks, and a light rust or scab case
only two small lesions; leaf and background colours vary as much as the lesions
shift them, so the columns are not separable by colour alone.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from kaggle_kit.demo._histology import smooth_fields

COLUMNS = ("healthy", "multiple_diseases", "rust", "scab")
SHARES = (516 / 1821, 91 / 1821, 622 / 1821, 592 / 1821)
SUPERSAMPLE = 2


def render_leaf(rng: np.random.Generator, condition: str, width: int, height: int) -> np.ndarray:
    """One ``height``×``width`` RGB photo (uint8) of a leaf in ``condition`` (one of ``COLUMNS``)."""
    w, h = width * SUPERSAMPLE, height * SUPERSAMPLE
    side = max(w, h)
    background = np.array([rng.uniform(40, 90), rng.uniform(60, 110), rng.uniform(30, 70)])
    texture = smooth_fields(rng, 1, 6, side)[0][:h, :w, None] * rng.uniform(15, 30)
    canvas = Image.fromarray(np.clip(background + texture, 0, 255).astype(np.uint8))
    canvas = canvas.filter(ImageFilter.GaussianBlur(radius=side / 60))
    draw = ImageDraw.Draw(canvas)

    length, breadth = min(w, h) * rng.uniform(0.75, 1.0) * 1.3, min(w, h) * rng.uniform(0.38, 0.5)
    centre = np.array([w / 2, h / 2]) + rng.normal(0, 0.04, 2) * np.array([w, h])
    angle = rng.uniform(0, np.pi)
    axis = np.array([np.cos(angle), np.sin(angle)])
    across = np.array([-axis[1], axis[0]])
    t = np.linspace(-1, 1, 40)
    half_width = breadth / 2 * np.sqrt(1 - t**2) * (1 - 0.25 * t)  # wider toward the stalk, pointed tip
    outline = [centre + axis * ti * length / 2 + across * wi for ti, wi in zip(t, half_width)]
    outline += [centre + axis * ti * length / 2 - across * wi for ti, wi in zip(t[::-1], half_width[::-1])]
    green = np.array([rng.uniform(70, 120), rng.uniform(130, 175), rng.uniform(40, 80)])
    draw.polygon([tuple(p) for p in outline], fill=_rgb(green))
    vein = green * 1.25
    draw.line([tuple(centre - axis * length / 2), tuple(centre + axis * length / 2)], fill=_rgb(vein),
              width=max(1, int(breadth / 30)))
    for ti in np.linspace(-0.7, 0.5, 6):  # side veins, ending inside the blade
        base = centre + axis * ti * length / 2
        reach = 0.8 * np.interp(ti + 0.2, t, half_width)
        for sign in (-1, 1):
            tip = base + axis * length * 0.1 + sign * across * reach
            draw.line([tuple(base), tuple(tip)], fill=_rgb(vein * 0.95), width=1)

    def on_leaf() -> np.ndarray:
        ti = rng.uniform(-0.8, 0.8)
        return centre + axis * ti * length / 2 + across * rng.uniform(-0.8, 0.8) * breadth / 2 * np.sqrt(1 - ti**2)

    for _ in range(int(rng.integers(0, 4))):  # pale specks on any leaf
        _spot(draw, on_leaf(), breadth * 0.015, green * 1.4)
    rust = {"rust": (2, 12), "multiple_diseases": (2, 7)}.get(condition)
    scab = {"scab": (2, 8), "multiple_diseases": (1, 5)}.get(condition)
    for _ in range(int(rng.integers(rust[0], rust[1] + 1)) if rust else 0):
        spot, radius = on_leaf(), breadth * rng.uniform(0.04, 0.09)
        _spot(draw, spot, radius * 1.3, np.array([150, 70, 30]))
        _spot(draw, spot, radius, np.array([rng.uniform(220, 250), rng.uniform(140, 180), 40]))
    for _ in range(int(rng.integers(scab[0], scab[1] + 1)) if scab else 0):
        _blotch(draw, rng, on_leaf(), breadth * rng.uniform(0.07, 0.15), np.array([95, 90, 45]) * rng.uniform(0.7, 1.1))

    pixels = np.asarray(canvas.resize((width, height), Image.Resampling.BOX)).astype(np.float64)
    gradient = np.linspace(rng.uniform(0.75, 1.0), rng.uniform(1.0, 1.2), width)[None, :, None]  # uneven light
    return np.clip(pixels * gradient * rng.uniform(0.85, 1.1), 0, 255).astype(np.uint8)


def _blotch(draw: ImageDraw.ImageDraw, rng: np.random.Generator, centre, radius: float, colour) -> None:
    for _ in range(int(rng.integers(3, 6))):
        offset = rng.normal(0, radius * 0.4, 2)
        _spot(draw, centre + offset, radius * rng.uniform(0.4, 0.8), colour * rng.uniform(0.85, 1.1))


def _spot(draw: ImageDraw.ImageDraw, centre, radius: float, colour) -> None:
    x, y = centre
    radius = max(radius, 0.7)
    draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=_rgb(colour))


def _rgb(colour) -> tuple[int, int, int]:
    return tuple(int(np.clip(v, 0, 255)) for v in colour)
