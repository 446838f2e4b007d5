"""Procedural SDSS-like galaxy cutouts: 424×424 RGB, rendered one galaxy at a time with numpy.

Light is modelled in three bands (i, r, g shown as R, G, B, as in SDSS colour
composites), blurred by a Gaussian point-spread function, given sky noise and
shown with an asinh stretch (Lupton et al. 2004), so faint outer light and a
bright core fit in 8 bits as in the real cutouts.

- Ellipticals: a Sérsic profile (index 2–5), random size, axis ratio and angle,
  red-yellow colour. About a third are elongated (axis ratio 0.3–0.55).
- Spirals: an exponential disc with a Sérsic bulge, sometimes a bar, and 2–4
  logarithmic arms of random pitch with blue star-forming knots, seen at a random
  inclination and angle. Some are nearly edge-on (arms invisible) and some have
  faint arms: those are the hard cases, as in Galaxy Zoo.
- Artefacts (Galaxy Zoo "A"): a bright star with diffraction spikes, or a satellite trail.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

SIZE = 424
# Relative flux in (i, r, g) → (R, G, B): old stars red-yellow, discs whiter, arms blue.
OLD_STARS = np.array([1.0, 0.78, 0.5])
DISC = np.array([0.85, 0.8, 0.78])
YOUNG_STARS = np.array([0.55, 0.75, 1.05])
STRETCH_SOFTENING = 0.06


@dataclass(frozen=True)
class Galaxy:
    """One rendered object: the image and what Galaxy Zoo 2 would say about it."""

    image: np.ndarray  # uint8 (SIZE, SIZE, 3)
    gz2_class: str
    smooth: float  # debiased task-1 vote fractions, summing to 1
    features: float
    star: float


class Canvas:
    """Coordinates and a point-spread function shared by every image of one size.

    Lengths given to it are in pixels of the 424×424 frame; ``px`` converts them
    to the render size (images are rendered at half size and upsampled, which is
    4× faster and mimics the resampling of the real cutouts).
    """

    def __init__(self, size: int = SIZE // 2):
        axis = np.arange(size, dtype=np.float32) - size / 2 + 0.5
        self.size = size
        self.scale = size / SIZE
        self.yy, self.xx = np.meshgrid(axis, axis, indexing="ij")
        freq = np.fft.fftfreq(size).astype(np.float32)
        self._freq2 = freq[:, None] ** 2 + np.fft.rfftfreq(size).astype(np.float32)[None, :] ** 2

    def px(self, length: float) -> float:
        return float(length) * self.scale

    def rotated(self, cy: float, cx: float, angle: float, axis_ratio: float) -> tuple[np.ndarray, np.ndarray]:
        """Coordinates (in 424-frame pixels) along the major axis and the de-projected minor axis."""
        y, x = (self.yy - self.px(cy)) / self.scale, (self.xx - self.px(cx)) / self.scale
        c, s = np.float32(np.cos(angle)), np.float32(np.sin(angle))
        return x * c + y * s, (-x * s + y * c) / np.float32(axis_ratio)

    def radius(self, cy: float, cx: float) -> np.ndarray:
        return np.hypot(self.yy - self.px(cy), self.xx - self.px(cx)) / self.scale

    def blur(self, flux: np.ndarray, sigma: float) -> np.ndarray:
        """Gaussian PSF applied per band in Fourier space (H, W, 3)."""
        transfer = np.exp(-2 * (np.pi * self.px(sigma)) ** 2 * self._freq2)
        spectrum = np.fft.rfft2(flux, axes=(0, 1)) * transfer[..., None]
        return np.fft.irfft2(spectrum, s=flux.shape[:2], axes=(0, 1)).astype(np.float32)


def sersic(radius: np.ndarray, effective_radius: float, index: float) -> np.ndarray:
    """Sérsic surface brightness, 1 at the effective radius (b_n ≈ 2n − 1/3)."""
    b = 2 * index - 1 / 3
    return np.exp(-b * ((radius / effective_radius) ** (1 / index) - 1))


def render_elliptical(rng: np.random.Generator, canvas: Canvas) -> tuple[np.ndarray, str, tuple[float, float, float]]:
    elongated = rng.random() < 0.33
    q = rng.uniform(0.3, 0.55) if elongated else rng.uniform(0.6, 1.0)
    u, v = canvas.rotated(*_centre(rng), rng.uniform(0, np.pi), q)
    profile = sersic(np.hypot(u, v), rng.uniform(10, 34), rng.uniform(2.0, 5.0)) * rng.uniform(0.08, 0.25)
    colour = OLD_STARS * _colour_tilt(rng) * rng.uniform(0.9, 1.1, 3)
    gz2_class = "Er" if q > 0.8 else "Ei" if q > 0.5 else "Ec"
    smooth = float(np.clip(rng.normal(0.82 if not elongated else 0.62, 0.08), 0.52, 0.98))
    return profile[..., None] * colour, gz2_class, _votes(rng, smooth=smooth)


def render_spiral(rng: np.random.Generator, canvas: Canvas) -> tuple[np.ndarray, str, tuple[float, float, float]]:
    inclination = rng.random()
    q = rng.uniform(0.12, 0.3) if inclination < 0.15 else rng.uniform(0.3, 0.55) if inclination < 0.4 else rng.uniform(0.55, 1.0)
    angle = rng.uniform(0, np.pi)
    centre = _centre(rng)
    u, v = canvas.rotated(*centre, angle, q)
    r = np.hypot(u, v) + 1e-3
    phi = np.arctan2(v, u)

    scale = rng.uniform(10, 26)  # disc scale length, px
    arms = int(rng.choice([2, 3, 4], p=[0.6, 0.25, 0.15]))
    pitch = np.radians(rng.uniform(10, 35))
    faint = rng.random() < 0.3
    strength = rng.uniform(0.15, 0.4) if faint else rng.uniform(0.6, 1.4)
    barred = rng.random() < 0.25
    bar_length = scale * rng.uniform(1.0, 1.8) if barred else 0.0
    start = max(bar_length, 0.4 * scale)
    wave = np.cos(arms * (phi - np.log(r / start) / np.tan(pitch)) + rng.uniform(0, 2 * np.pi))
    arm = ((1 + wave) / 2) ** 2 * np.clip((r - 0.6 * start) / (0.6 * start), 0, 1)
    knots = _knots(rng, canvas, r, arm)

    disc = np.exp(-r / scale) * rng.uniform(0.2, 0.8)
    bulge_fraction = rng.uniform(0.0, 0.6)
    bulge = sersic(canvas.radius(*centre), rng.uniform(2, 6), rng.uniform(1.5, 4))
    bulge *= rng.uniform(0.3, 0.8) * bulge_fraction
    light = disc[..., None] * ((1 - 0.5 * strength) * DISC + strength * arm[..., None] * YOUNG_STARS)
    light += knots[..., None] * disc[..., None] * YOUNG_STARS * strength
    light += bulge[..., None] * OLD_STARS
    if barred:
        bu, bv = canvas.rotated(*centre, angle + rng.uniform(-1, 1), q)
        bar = np.exp(-((bu / bar_length) ** 4) - (bv / (0.25 * bar_length)) ** 2) * rng.uniform(0.04, 0.09)
        light += bar[..., None] * OLD_STARS

    light *= _colour_tilt(rng)  # some red spirals, as in real samples
    gz2_class = _spiral_class(q, barred, bulge_fraction, arms, pitch, faint)
    features = float(np.clip(rng.normal(0.55 if faint or q < 0.3 else 0.8, 0.1), 0.52, 0.98))
    return light, gz2_class, _votes(rng, smooth=1.0 - features)


def render_artefact(rng: np.random.Generator, canvas: Canvas) -> tuple[np.ndarray, str, tuple[float, float, float]]:
    light = np.zeros(canvas.yy.shape + (3,), dtype=np.float32)
    if rng.random() < 0.6:
        u, v = canvas.rotated(*_centre(rng), 0.0, 1.0)
        x, y = u, v
        core = np.exp(-(x**2 + y**2) / (2 * 2.0**2)) * rng.uniform(5, 20)
        spikes = (np.exp(-np.abs(x) / 0.8) + np.exp(-np.abs(y) / 0.8)) * np.exp(-np.hypot(x, y) / 40) * 0.3
        light += (core + spikes)[..., None] * rng.uniform(0.7, 1.0, 3)
    else:
        u, v = canvas.rotated(*_centre(rng), rng.uniform(0, np.pi), 1.0)
        light += (np.exp(-(v**2) / (2 * 1.5**2)) * rng.uniform(0.2, 0.6))[..., None] * rng.uniform(0.6, 1.0, 3)
    star = float(rng.uniform(0.45, 0.85))
    smooth = (1 - star) * rng.uniform(0.3, 0.7)
    return light, "A", (smooth, 1 - star - smooth, star)


def render(rng: np.random.Generator, canvas: Canvas, kind: str, image_size: int = SIZE) -> Galaxy:
    """One ``image_size``² object of ``kind`` ("elliptical", "spiral" or "artefact"),
    with neighbours, PSF, sky and stretch."""
    renderer = {"elliptical": render_elliptical, "spiral": render_spiral, "artefact": render_artefact}[kind]
    light, gz2_class, (smooth, features, star) = renderer(rng, canvas)
    light = light.astype(np.float32) + _neighbours(rng, canvas)
    light = canvas.blur(light, sigma=rng.uniform(1.2, 2.4))
    light += rng.uniform(0.005, 0.02)  # sky level left after background subtraction
    light += rng.normal(0, rng.uniform(0.008, 0.02), light.shape).astype(np.float32)
    stretched = np.arcsinh(np.clip(light, 0, None) / STRETCH_SOFTENING) / np.arcsinh(3.0 / STRETCH_SOFTENING)
    small = Image.fromarray(np.clip(stretched * 255, 0, 255).astype(np.uint8))
    image = np.asarray(small.resize((image_size, image_size), Image.Resampling.BICUBIC))
    return Galaxy(image, gz2_class, smooth, features, star)


def _colour_tilt(rng: np.random.Generator) -> np.ndarray:
    """A per-galaxy shift along the red-blue axis, so colour alone does not give the class away."""
    tilt = rng.normal(0, 0.12) + (rng.choice([-0.25, 0.25]) if rng.random() < 0.15 else 0.0)
    return np.array([1 + tilt, 1.0, 1 - tilt], dtype=np.float32)


def _centre(rng: np.random.Generator) -> tuple[float, float]:
    return float(rng.normal(0, 3)), float(rng.normal(0, 3))


def _votes(rng: np.random.Generator, smooth: float) -> tuple[float, float, float]:
    star = float(rng.uniform(0, 0.03))
    smooth = smooth * (1 - star)
    return smooth, 1 - star - smooth, star


def _knots(rng: np.random.Generator, canvas: Canvas, r: np.ndarray, arm: np.ndarray) -> np.ndarray:
    """Clumps of young stars along the arms: sparse bright points, weighted by the arm."""
    count = int(rng.integers(10, 40))
    weights = (arm * (r < 60)).ravel()
    if weights.sum() <= 0:
        return np.zeros_like(arm)
    chosen = rng.choice(weights.size, size=count, p=weights / weights.sum())
    knots = np.zeros(arm.size, dtype=np.float32)
    knots[chosen] = rng.uniform(3, 12, count)
    return knots.reshape(arm.shape)


def _neighbours(rng: np.random.Generator, canvas: Canvas) -> np.ndarray:
    """Faint foreground stars (points) and small background galaxies (tiny squares),
    scattered over the frame; the PSF blur gives them their shape."""
    light = np.zeros(canvas.yy.shape + (3,), dtype=np.float32)
    for _ in range(int(rng.poisson(4))):
        y, x = rng.integers(0, canvas.size, 2)
        light[y, x] += rng.uniform(0.5, 6.0) * rng.uniform(0.5, 1.0, 3) * canvas.scale**2
    for _ in range(int(rng.poisson(1.5))):
        y, x = rng.integers(0, canvas.size - 3, 2)
        light[y : y + 3, x : x + 3] += rng.uniform(0.05, 0.3) * rng.uniform(0.6, 1.0, 3)
    return light


def _spiral_class(q: float, barred: bool, bulge_fraction: float, arms: int, pitch: float, faint: bool) -> str:
    """A Galaxy Zoo 2 class string: ``Se?`` edge-on, else ``S[B]<bulge>[<arms><winding>]``."""
    if q < 0.3:
        return "Se" + ("r" if bulge_fraction > 0.3 else "n")
    bulge = "abcd"[min(3, int((0.6 - bulge_fraction) / 0.15))]
    prefix = "SB" if barred else "S"
    if faint:
        return prefix + bulge
    winding = "t" if pitch < np.radians(17) else "m" if pitch < np.radians(26) else "l"
    return f"{prefix}{bulge}{arms if arms < 4 else '+'}{winding}"
