"""Procedural H&E-stained lymph-node patches, rendered a batch at a time with numpy.

Colour follows the Beer–Lambert stain model that stain-normalisation methods
invert (Ruifrok & Johnston): optical density = haematoxylin × its colour vector +
eosin × its colour vector, and ``rgb = 255 · exp(-density)``. Each "slide" gets its
own perturbed stain vectors and strengths, so colour varies between slides as it
does in PCam.

Tissue is made of four kinds: pink stroma with sparse elongated nuclei, white fat
or lumen, dense lymphoid tissue (small round dark nuclei — the normal content of a
lymph node, so darkness alone does not mean tumour) and tumour (crowded, large,
irregular, hyperchromatic nuclei with purplish cytoplasm). A positive patch has a
tumour region overlapping the centre 32×32; any patch, positive or negative, may
have tumour in its outer part, drawn the same way for both classes, so the outer
16-pixel frame carries no information about the label.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

PATCH = 96
CENTRE = (PATCH // 2 - 16, PATCH // 2 + 16)  # the labelled centre 32×32: [32, 64)
STAMP = 17  # nucleus stamps are STAMP×STAMP: they reach 8 pixels from their centre
# Negatives keep tumour nuclei centres out of this box, so no nucleus reaches the centre.
NEGATIVE_EXCLUSION = (CENTRE[0] - STAMP // 2, CENTRE[1] + STAMP // 2)
# Ruifrok & Johnston's optical-density vectors (R, G, B) of haematoxylin and eosin.
HAEMATOXYLIN = np.array([0.650, 0.704, 0.286])
EOSIN = np.array([0.072, 0.990, 0.105])
CANDIDATES = 520  # nucleus candidate sites per patch; tissue kind decides which are kept
# Per tissue kind: probability that a candidate site holds a nucleus.
ACCEPT = {"stroma": 0.05, "lymph": 0.5, "tumour": 0.22}
OUTER_TUMOUR_PROBABILITY = 0.4


@dataclass(frozen=True)
class Stain:
    """One slide's staining: colour vectors, strengths and background."""

    haematoxylin: np.ndarray  # (3,) optical density per unit concentration
    eosin: np.ndarray
    background: np.ndarray  # (3,) optical density of the glass/mounting medium


def random_stains(rng: np.random.Generator, n_slides: int) -> list[Stain]:
    """``n_slides`` stainings: vectors jittered, strengths scaled, as between real slides."""
    stains = []
    for _ in range(n_slides):
        h = np.clip(HAEMATOXYLIN + rng.normal(0, 0.07, 3), 0.05, None)
        e = np.clip(EOSIN + rng.normal(0, 0.06, 3), 0.02, None)
        stains.append(
            Stain(
                haematoxylin=h / np.linalg.norm(h) * rng.uniform(0.75, 1.3),
                eosin=e / np.linalg.norm(e) * rng.uniform(0.6, 1.4),
                background=rng.uniform(0.0, 0.06, 3),
            )
        )
    return stains


def smooth_fields(rng: np.random.Generator, n: int, cells: int, size: int = PATCH) -> np.ndarray:
    """``n`` smooth random fields (n, size, size), roughly zero-mean unit-variance.

    A coarse grid of noise with about ``cells`` knots across, interpolated by
    Gaussian weights (one matrix product per axis, so it is fast): blob-shaped
    regions whose scale is ``size / cells``.
    """
    knots = cells + 3
    coarse = rng.standard_normal((n, knots, knots), dtype=np.float32)
    position = (np.arange(size) + 0.5) / size * cells + 1.5  # pixel centre in knot units
    weights = np.exp(-0.5 * ((position[:, None] - np.arange(knots)[None, :]) / 0.65) ** 2)
    weights = (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)
    fine = weights @ coarse @ weights.T
    fine -= fine.mean(axis=(1, 2), keepdims=True)
    return fine / (fine.std(axis=(1, 2), keepdims=True) + 1e-6)


def _grid() -> tuple[np.ndarray, np.ndarray]:
    axis = np.arange(PATCH, dtype=np.float32) + 0.5
    return np.meshgrid(axis, axis, indexing="ij")


def tumour_masks(rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
    """Boolean tumour regions (n, 96, 96): in the centre for positives, outside it for any patch."""
    n = len(labels)
    yy, xx = _grid()
    wobble = smooth_fields(rng, n, 4) * 0.22

    # Outer tumour: the same process for both classes, never near the centre box.
    has_outer = rng.random(n) < OUTER_TUMOUR_PROBABILITY
    angle = rng.uniform(0, 2 * np.pi, n)
    distance = rng.uniform(34, 52, n)
    cy = PATCH / 2 + distance * np.sin(angle)
    cx = PATCH / 2 + distance * np.cos(angle)
    radius = rng.uniform(12, 30, n)
    outer = _blob(yy, xx, cy, cx, radius, wobble) & has_outer[:, None, None]
    lo, hi = NEGATIVE_EXCLUSION
    outer[:, lo:hi, lo:hi] = False

    # Centre tumour of positives: from a few cells to the whole middle, never reaching the frame.
    cy = PATCH / 2 + rng.uniform(-4, 4, n)
    cx = PATCH / 2 + rng.uniform(-4, 4, n)
    radius = rng.uniform(7, 22, n)
    centre = _blob(yy, xx, cy, cx, radius, wobble) & (labels == 1)[:, None, None]
    return outer | centre


def _blob(yy, xx, cy, cx, radius, wobble) -> np.ndarray:
    """Irregular discs: distance / radius, bent by a smooth field, below 1."""
    dist = np.hypot(yy[None] - cy[:, None, None], xx[None] - cx[:, None, None])
    return dist / radius[:, None, None] + wobble < 1.0


def nucleus_stamps(rng: np.random.Generator, kind: str, count: int) -> np.ndarray:
    """``count`` haematoxylin-density stamps (count, STAMP, STAMP) of one nucleus kind."""
    half = STAMP // 2
    axis = np.arange(STAMP, dtype=np.float32) - half
    yy, xx = np.meshgrid(axis, axis, indexing="ij")
    theta = np.arctan2(yy, xx)[None]
    shape = {
        # kind: (radius range, elongation range, boundary irregularity, density range)
        "lymph": ((1.8, 2.8), (1.0, 1.25), 0.04, (1.4, 1.9)),
        "fibroblast": ((1.0, 1.6), (2.2, 3.6), 0.05, (0.8, 1.2)),
        "histiocyte": ((2.6, 3.6), (1.1, 1.5), 0.06, (0.55, 0.85)),
        "tumour": ((3.6, 6.4), (1.0, 1.6), 0.16, (1.0, 1.8)),
    }[kind]
    (r_lo, r_hi), (el_lo, el_hi), irregular, (d_lo, d_hi) = shape
    radius = rng.uniform(r_lo, r_hi, (count, 1, 1))
    elongation = rng.uniform(el_lo, el_hi, (count, 1, 1))
    turn = rng.uniform(0, np.pi, (count, 1, 1))
    u = xx * np.cos(turn) + yy * np.sin(turn)
    v = -xx * np.sin(turn) + yy * np.cos(turn)
    dist = np.hypot(u / np.sqrt(elongation), v * np.sqrt(elongation))
    # A bumpy outline: low angular harmonics with random phases.
    bumps = sum(
        rng.uniform(0, irregular, (count, 1, 1)) * np.cos(k * theta + rng.uniform(0, 2 * np.pi, (count, 1, 1)))
        for k in (2, 3, 5)
    )
    edge = radius * (1 + bumps)
    body = np.clip((edge - dist) / 0.9 + 0.5, 0, 1)
    density = rng.uniform(d_lo, d_hi, (count, 1, 1))
    if kind == "tumour":
        # Coarse chromatin and a dark nucleolus; some nuclei vesicular (pale middle).
        chromatin = ndimage.gaussian_filter(rng.standard_normal((count, STAMP, STAMP)), (0, 1, 1))
        texture = 1 + 0.9 * chromatin
        vesicular = rng.random((count, 1, 1)) < 0.35
        texture = np.where(vesicular, texture * (0.55 + 0.45 * np.clip(dist / edge, 0, 1)), texture)
        nucleolus = np.exp(-((u - rng.uniform(-1, 1, (count, 1, 1))) ** 2 + v**2) / 1.2)
        return (body * density * texture + 0.8 * nucleolus * body).astype(np.float32)
    return (body * density).astype(np.float32)


def scatter_nuclei(
    rng: np.random.Generator, kinds: np.ndarray, banks: dict[str, np.ndarray]
) -> np.ndarray:
    """Haematoxylin density of the nuclei (n, 96, 96), given each pixel's tissue kind.

    ``kinds`` holds 0 stroma, 1 fat, 2 lymphoid, 3 tumour. Candidate sites are
    uniform; a site keeps a nucleus with its tissue's probability, and the nucleus
    is drawn from that tissue's stamp bank. Overlaps keep the darker value.
    """
    n = len(kinds)
    sites_y = rng.integers(0, PATCH, (n, CANDIDATES))
    sites_x = rng.integers(0, PATCH, (n, CANDIDATES))
    patch_index = np.repeat(np.arange(n), CANDIDATES).reshape(n, CANDIDATES)
    site_kind = kinds[patch_index, sites_y, sites_x]
    draw = rng.random((n, CANDIDATES))

    half = STAMP // 2
    padded = np.zeros((n, PATCH + 2 * half, PATCH + 2 * half), dtype=np.float32)
    offsets = np.arange(STAMP)
    for kind_code, (bank_name, accept) in {
        0: ("stroma", ACCEPT["stroma"]),
        2: ("lymph", ACCEPT["lymph"]),
        3: ("tumour", ACCEPT["tumour"]),
    }.items():
        keep = (site_kind == kind_code) & (draw < accept)
        p, k = np.nonzero(keep)
        if len(p) == 0:
            continue
        bank = banks[bank_name]
        stamps = bank[rng.integers(0, len(bank), len(p))]
        rows = sites_y[p, k][:, None, None] + offsets[None, :, None]
        cols = sites_x[p, k][:, None, None] + offsets[None, None, :]
        target = (p[:, None, None], rows, cols)
        np.maximum.at(padded, tuple(np.broadcast_arrays(*target)), stamps)
    return padded[:, half:-half, half:-half]


def stamp_banks(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Stamp banks per tissue; stroma mixes elongated fibroblasts and pale histiocytes."""
    stroma = np.concatenate([nucleus_stamps(rng, "fibroblast", 48), nucleus_stamps(rng, "histiocyte", 16)])
    return {"stroma": stroma, "lymph": nucleus_stamps(rng, "lymph", 48), "tumour": nucleus_stamps(rng, "tumour", 96)}


def render_patches(rng: np.random.Generator, labels: np.ndarray, stains: list[Stain]) -> np.ndarray:
    """uint8 RGB patches (n, 96, 96, 3) for the given 0/1 ``labels``, one stain each."""
    n = len(labels)
    tumour = tumour_masks(rng, labels)
    fat = smooth_fields(rng, n, 3) > rng.uniform(0.9, 3.5, (n, 1, 1))
    lymph = smooth_fields(rng, n, 4) > rng.uniform(-1.5, 1.2, (n, 1, 1))
    kinds = np.zeros((n, PATCH, PATCH), dtype=np.int8)
    kinds[fat] = 1
    kinds[lymph & ~fat] = 2
    kinds[tumour] = 3  # tumour overrides fat and lymphoid tissue

    nuclei = scatter_nuclei(rng, kinds, stamp_banks(rng))
    eosin, haem = _cytoplasm(rng, kinds)
    haem = np.maximum(haem, nuclei)

    stain_index = rng.integers(0, len(stains), n)
    h_vec, e_vec, glass = (
        np.stack([getattr(stains[i], part) for i in stain_index]).astype(np.float32)[:, None, None, :]
        for part in ("haematoxylin", "eosin", "background")
    )
    density = haem[..., None] * h_vec + eosin[..., None] * e_vec + glass
    rgb = np.float32(255.0) * np.exp(-density)
    rgb = ndimage.gaussian_filter(rgb, (0, 0.6, 0.6, 0))  # optics: slightly soft focus
    rgb += rng.normal(0, 2.5, rgb.shape).astype(np.float32)
    patches = np.clip(rgb, 0, 255).astype(np.uint8)
    return _random_dihedral(rng, patches)


def _cytoplasm(rng: np.random.Generator, kinds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eosin and background haematoxylin density: fibrous stroma, pale fat, purplish tumour."""
    n = len(kinds)
    fibres = ndimage.gaussian_filter(rng.standard_normal((n, PATCH, PATCH), dtype=np.float32), (0, 1.0, 2.5))
    fibres /= fibres.std() + 1e-6
    base = rng.uniform(0.22, 0.6, (n, 1, 1)).astype(np.float32) * (1 + 0.18 * smooth_fields(rng, n, 6))
    eosin = np.clip(base * (1 + 0.15 * fibres), 0.05, None)
    haem = np.full(kinds.shape, 0.06, dtype=np.float32)
    eosin = np.where(kinds == 1, 0.03, eosin)
    haem = np.where(kinds == 1, 0.01, haem)
    eosin = np.where(kinds == 2, eosin * 0.6, eosin)
    eosin = np.where(kinds == 3, eosin * 0.8, eosin)
    haem = np.where(kinds == 3, 0.14, haem)
    return eosin, haem


def _random_dihedral(rng: np.random.Generator, patches: np.ndarray) -> np.ndarray:
    """Each patch turned by a random multiple of 90° and maybe mirrored: fibres run any way."""
    turns = rng.integers(0, 4, len(patches))
    flips = rng.random(len(patches)) < 0.5
    out = np.empty_like(patches)
    for i, (turn, flip) in enumerate(zip(turns, flips)):
        patch = np.rot90(patches[i], turn)
        out[i] = patch[:, ::-1] if flip else patch
    return out
