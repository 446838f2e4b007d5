"""The 37 Galaxy Zoo decision-tree vote fractions of a rendered galaxy (the Galaxy Challenge's labels).

The renderer (``_sky.py``) says what a galaxy is through its Galaxy Zoo 2 class
string (``Ei``, ``Ser``, ``SBb2m``, ``A``…) and its task-1 fractions (smooth,
features, star). Each later question gets conditional answer fractions that
favour the answer the class string implies (a dominant share of 55–92 %, the rest
spread at random, as 40–50 volunteers disagree), or random fractions when the
class says nothing; then every question is weighted by the fraction of volunteers
who reached it, exactly as the challenge's solution file is
(``kaggle_kit.competitions.galaxy_tree``).
"""

from __future__ import annotations

import numpy as np

from kaggle_kit.competitions.galaxy_tree import CLASS_COLUMNS, QUESTIONS

BULGE_ANSWER = {"a": 3, "b": 2, "c": 1, "d": 0}  # GZ2 bulge letters: a dominant … d none
WINDING_ANSWER = {"t": 0, "m": 1, "l": 2}
ARMS_ANSWER = {"1": 0, "2": 1, "3": 2, "4": 3, "+": 4}


def tree_votes(rng: np.random.Generator, gz2_class: str, smooth: float, features: float, star: float) -> np.ndarray:
    """The 37 weighted vote fractions (in ``CLASS_COLUMNS`` order) of one galaxy."""
    favoured = favoured_answers(gz2_class)
    conditional = {1: np.array([smooth, features, star], dtype=np.float64)}
    for question, (answers, _) in QUESTIONS.items():
        if question == 1:
            continue
        answer, strength = favoured.get(question, (None, (0.0, 0.0)))
        conditional[question] = _fractions(rng, len(answers), answer, strength)
    weighted: dict[str, float] = {}
    values = []
    for question, (answers, parent) in QUESTIONS.items():
        reach = 1.0 if parent is None else weighted[parent]
        for k, share in enumerate(conditional[question]):
            weighted[f"Class{question}.{k + 1}"] = reach * float(share)
    for column in CLASS_COLUMNS:
        values.append(weighted[column])
    return np.array(values)


def favoured_answers(gz2_class: str) -> dict[int, tuple[int, tuple[float, float]]]:
    """Question → (the answer the class implies, its share range)."""
    strong, weak = (0.55, 0.92), (0.4, 0.65)
    favoured: dict[int, tuple[int, tuple[float, float]]] = {6: (1, (0.7, 0.97))}  # most galaxies are not odd
    if gz2_class.startswith("E"):
        favoured[7] = ({"r": 0, "i": 1, "c": 2}.get(gz2_class[1:2], 1), strong)
        favoured[2] = (1, weak)
        favoured[4] = (1, weak)
    elif gz2_class.startswith("Se"):
        favoured[2] = (0, strong)
        favoured[9] = ({"r": 0, "b": 1, "n": 2}.get(gz2_class[2:3], 0), strong)
    elif gz2_class.startswith("S"):
        barred = gz2_class.startswith("SB")
        rest = gz2_class[2:] if barred else gz2_class[1:]
        favoured[2] = (1, strong)
        favoured[3] = (0 if barred else 1, strong)
        if rest[:1] in BULGE_ANSWER:
            favoured[5] = (BULGE_ANSWER[rest[0]], strong)
        arms = rest[1:2]
        if arms in ARMS_ANSWER:  # arms counted: a clear spiral
            favoured[4] = (0, strong)
            favoured[11] = (ARMS_ANSWER[arms], strong)
            favoured[10] = (WINDING_ANSWER.get(rest[2:3], 1), strong)
        else:  # faint arms: volunteers mostly see none
            favoured[4] = (1, weak)
            favoured[11] = (5, weak)
    else:  # A: star or artefact
        favoured[6] = (0, weak)
    return favoured


def _fractions(rng: np.random.Generator, count: int, answer: int | None, strength: tuple[float, float]) -> np.ndarray:
    if answer is None:
        return rng.dirichlet(np.full(count, 1.5))
    share = rng.uniform(*strength)
    rest = rng.dirichlet(np.ones(count - 1)) * (1.0 - share)
    return np.insert(rest, answer, share)
