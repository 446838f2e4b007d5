"""Procedural dog photos for dog-breed-identification: 120 breeds, each a fixed look.

The competition's 120 breeds (a canine subset of ImageNet, from the Stanford Dogs
dataset; ``kaggle_kit.competitions.dogs.BREEDS``): the submission has one
probability column per breed, in that (alphabetical) order.

Here a breed is a combination of four traits fixed by its position in the list —
coat colour (10), coat pattern (solid, patches, saddle), ears (pointed, floppy)
and build (long-legged, or long and low): 10 × 3 × 2 × 2 = 120 distinct looks, not
the real breed's. Each photo draws the dog at a random size, place and facing
direction, with lighting jitter, over grass, floor or a sofa, so a model must
combine colour, pattern and shape; neighbouring colours (cream, golden, tan) make
some breeds easy to confuse, as real ones are.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from kaggle_kit.competitions.dogs import BREEDS as DOG_BREEDS
from kaggle_kit.demo._histology import smooth_fields

SUPERSAMPLE = 2
BREEDS = list(DOG_BREEDS)  # the competition's 120, alphabetical: the sample submission's column order
# (coat, second colour) per colour trait: black, white, cream, golden, red, chocolate, grey, tan,
# black and tan, white and brown.
COATS = (
    ((32, 30, 30), (70, 64, 58)),
    ((236, 233, 226), (205, 200, 192)),
    ((226, 206, 166), (200, 180, 140)),
    ((212, 160, 78), (180, 128, 60)),
    ((160, 78, 40), (120, 58, 32)),
    ((96, 60, 40), (70, 44, 30)),
    ((142, 142, 148), (100, 100, 108)),
    ((190, 150, 108), (150, 115, 80)),
    ((34, 30, 28), (190, 130, 70)),
    ((236, 230, 220), (130, 80, 45)),
)
PATTERNS = ("solid", "patches", "saddle")
BACKGROUNDS = ((92, 138, 60), (196, 172, 132), (120, 96, 110), (150, 150, 160))


def breed_traits(breed: int) -> dict[str, int | str]:
    """The four traits of breed ``breed`` (0–119): a different combination for each."""
    return {
        "coat": breed % 10,
        "pattern": PATTERNS[(breed // 10) % 3],
        "ears": "pointed" if (breed // 30) % 2 == 0 else "floppy",
        "build": "tall" if (breed // 60) % 2 == 0 else "low",
    }


def render_dog(rng: np.random.Generator, breed: int, width: int, height: int) -> np.ndarray:
    """One ``height``×``width`` RGB photo (uint8) of a dog of ``breed``."""
    traits = breed_traits(breed)
    w, h = width * SUPERSAMPLE, height * SUPERSAMPLE
    base = np.array(BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))], dtype=np.float64) * rng.uniform(0.8, 1.15)
    side = max(w, h)
    texture = smooth_fields(rng, 1, 3, side)[0][:h, :w, None] * rng.uniform(8, 22)
    canvas = Image.fromarray(np.clip(base + texture + rng.normal(0, 5, (h, w, 1)), 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)

    light = rng.uniform(0.85, 1.12)
    coat, second = (tuple(int(min(255, c * light)) for c in colour) for colour in COATS[int(traits["coat"])])
    size = min(w, h) * rng.uniform(0.5, 0.85)
    cx, cy = w / 2 + rng.uniform(-0.15, 0.15) * w, h / 2 + rng.uniform(-0.1, 0.15) * h
    facing = 1 if rng.random() < 0.5 else -1
    low = traits["build"] == "low"
    body_w, body_h = size * (0.78 if low else 0.55), size * (0.24 if low else 0.3)
    leg_len, leg_w = size * (0.16 if low else 0.34), size * 0.07
    top = cy - body_h / 2

    for offset in (-0.38, -0.22, 0.22, 0.38):  # legs, behind the body
        lx = cx + offset * body_w
        draw.rectangle([lx - leg_w / 2, cy, lx + leg_w / 2, cy + body_h / 2 + leg_len], fill=coat)
    tail_x = cx - facing * body_w / 2
    draw.line([(tail_x, top + body_h * 0.3), (tail_x - facing * size * 0.18, top - size * 0.12)],
              fill=coat, width=max(1, int(size * 0.05)))
    draw.ellipse([cx - body_w / 2, top, cx + body_w / 2, top + body_h], fill=coat)

    head_r = size * 0.15
    hx, hy = cx + facing * (body_w / 2 + head_r * 0.3), top - head_r * 0.4
    ear_colour = second if traits["pattern"] == "saddle" or traits["coat"] >= 8 else coat
    for side_offset in (-0.55, 0.35):
        ex = hx + side_offset * head_r * facing
        if traits["ears"] == "pointed":
            draw.polygon([(ex - head_r * 0.35, hy - head_r * 0.6), (ex + head_r * 0.35, hy - head_r * 0.6),
                          (ex, hy - head_r * 1.55)], fill=ear_colour)
        else:
            draw.ellipse([ex - head_r * 0.3, hy - head_r * 0.5, ex + head_r * 0.3, hy + head_r * 0.9],
                         fill=ear_colour)
    draw.ellipse([hx - head_r, hy - head_r, hx + head_r, hy + head_r], fill=coat)
    snout_x = hx + facing * head_r * 0.9
    draw.ellipse([snout_x - head_r * 0.55, hy - head_r * 0.05, snout_x + head_r * 0.55, hy + head_r * 0.55],
                 fill=second if traits["coat"] >= 8 else coat)
    draw.ellipse([snout_x + facing * head_r * 0.4 - 2, hy, snout_x + facing * head_r * 0.4 + 2, hy + 4],
                 fill=(20, 18, 18))

    if traits["pattern"] == "patches":
        for _ in range(int(rng.integers(2, 5))):
            px = cx + rng.uniform(-0.35, 0.35) * body_w
            py = top + rng.uniform(0.2, 0.7) * body_h
            r = size * rng.uniform(0.05, 0.1)
            draw.ellipse([px - r, py - r, px + r, py + r], fill=second)
    elif traits["pattern"] == "saddle":
        draw.chord([cx - body_w * 0.4, top, cx + body_w * 0.4, top + body_h * 0.9], 180, 360, fill=second)
        draw.chord([hx - head_r, hy - head_r, hx + head_r, hy + head_r], 180, 360, fill=second)

    return np.asarray(canvas.resize((width, height), Image.Resampling.BOX))
