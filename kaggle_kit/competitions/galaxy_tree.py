"""The Galaxy Zoo decision tree behind the 37 ``Class*`` columns of the Galaxy Challenge.

Volunteers answer 11 questions, each reached only through certain answers to an
earlier one; a galaxy's column ``ClassQ.A`` is the fraction of its volunteers who
answered A to question Q, weighted by the fraction who reached Q, so each
question's answers sum to the value of the answer that leads to it
(https://www.kaggle.com/c/galaxy-zoo-the-galaxy-challenge/details/the-galaxy-zoo-decision-tree;
the sums as checked on ``training_solutions_rev1.csv`` by the winning entry's
``check_label_constraints.py``, github.com/benanne/kaggle-galaxies: Q6 sums to 1
for every galaxy, not to 1 − Class1.3).

Spiral vs elliptical, derived from the same tree by following the volunteers'
majority down it: elliptical when "smooth" leads question 1; spiral when "features
or disk" leads question 1, "not edge-on" leads question 2 and "spiral" leads
question 4; otherwise neither (edge-on discs, featured galaxies without arms,
stars). For predictions the spiral probability is ``Class4.1 / (Class1.1 +
Class4.1)``: the weight of the spiral path against the smooth one.
"""

from __future__ import annotations

import numpy as np

# Question → (answers, the column whose value the answers sum to; None: 1).
QUESTIONS: dict[int, tuple[tuple[str, ...], str | None]] = {
    1: (("smooth", "features or disk", "star or artifact"), None),
    2: (("edge-on", "not edge-on"), "Class1.2"),
    3: (("bar", "no bar"), "Class2.2"),
    4: (("spiral", "no spiral"), "Class2.2"),
    5: (("no bulge", "just noticeable", "obvious", "dominant"), "Class2.2"),
    6: (("odd", "not odd"), None),
    7: (("completely round", "in between", "cigar-shaped"), "Class1.1"),
    8: (("ring", "lens or arc", "disturbed", "irregular", "other", "merger", "dust lane"), "Class6.1"),
    9: (("rounded bulge", "boxy bulge", "no bulge"), "Class2.1"),
    10: (("tight arms", "medium arms", "loose arms"), "Class4.1"),
    11: (("1 arm", "2 arms", "3 arms", "4 arms", "more than 4 arms", "can't tell"), "Class4.1"),
}
CLASS_COLUMNS: tuple[str, ...] = tuple(
    f"Class{question}.{answer + 1}" for question, (answers, _) in QUESTIONS.items() for answer in range(len(answers))
)
SMOOTH, SPIRAL = "Class1.1", "Class4.1"


def question_columns(question: int) -> list[str]:
    return [f"Class{question}.{k + 1}" for k in range(len(QUESTIONS[question][0]))]


def tree_violations(votes: np.ndarray, tolerance: float = 1e-4) -> dict[int, int]:
    """Per question, how many rows' answers do not sum to the answer leading to it (``votes``: n × 37)."""
    votes = np.asarray(votes, dtype=np.float64).reshape(-1, len(CLASS_COLUMNS))
    index = {column: k for k, column in enumerate(CLASS_COLUMNS)}
    found = {}
    for question, (_, parent) in QUESTIONS.items():
        total = votes[:, [index[c] for c in question_columns(question)]].sum(axis=1)
        expected = 1.0 if parent is None else votes[:, index[parent]]
        found[question] = int((np.abs(total - expected) > tolerance).sum())
    return found


def spiral_probability(votes: np.ndarray) -> np.ndarray:
    """``Class4.1 / (Class1.1 + Class4.1)`` per row: spiral against elliptical evidence (0.5 when neither)."""
    votes = np.asarray(votes, dtype=np.float64).reshape(-1, len(CLASS_COLUMNS))
    smooth, spiral = votes[:, CLASS_COLUMNS.index(SMOOTH)], votes[:, CLASS_COLUMNS.index(SPIRAL)]
    total = smooth + spiral
    return np.where(total > 0, spiral / np.where(total > 0, total, 1.0), 0.5)


def spiral_or_elliptical(votes: np.ndarray) -> np.ndarray:
    """Per row: 0 elliptical, 1 spiral, −1 neither, by the majority answer at each question of the path."""
    votes = np.asarray(votes, dtype=np.float64).reshape(-1, len(CLASS_COLUMNS))
    column = {name: votes[:, k] for k, name in enumerate(CLASS_COLUMNS)}
    q1 = votes[:, [CLASS_COLUMNS.index(c) for c in question_columns(1)]].argmax(axis=1)
    spiral = (q1 == 1) & (column["Class2.2"] > column["Class2.1"]) & (column["Class4.1"] > column["Class4.2"])
    return np.where(q1 == 0, 0, np.where(spiral, 1, -1)).astype(np.int64)
