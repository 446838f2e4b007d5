"""What a submission's value columns hold, for a competition's task, metric and sample submission.

Every submission copies ``sample_submission.csv``: its header, its ids, their order.
The columns after the id hold one of these layouts, chosen from the task kind, what
the metric scores (``Metric.needs``) and the sample's header:

==============  =================================================  ===========================================
layout          columns                                            values
==============  =================================================  ===========================================
``probability`` one (binary)                                       the positive class's probability, [0, 1]
``label``       one (binary)                                       0 or 1, cut at the run's fitted threshold
``class``       one (multi-class)                                  the predicted class: its name, or its index
                                                                   when the sample holds numbers
``wide``        one per class, named as the classes (multi-class)  each class's probability (Kaggle rescales
                                                                   rows to sum to 1; ours already do)
``columns``     one per label (multi-label)                        each label's probability, or 0/1 cut per
                                                                   column when the metric scores labels
``grade``       one (ordinal regression)                           a whole grade 0..L−1, cut at fitted grade
                                                                   thresholds
``values``      one per target (regression)                        the predicted value ([0, 1] when bounded)
==============  =================================================  ===========================================

>>> fmt = SubmissionFormat.of(get_competition("dog-breed-identification"), sample_header)
>>> fmt.layout, len(fmt.columns)
('wide', 120)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from kaggle_kit.errors import ConfigError, SubmissionError

if TYPE_CHECKING:
    import pandas as pd

    from kaggle_kit.competitions import Competition
    from kaggle_kit.tasks import Task

LAYOUTS = ("probability", "label", "class", "wide", "columns", "grade", "values")
CellCheck = Callable[[float, str], "str | None"]  # (number, cell text) → problem or None


@dataclass(frozen=True)
class SubmissionFormat:
    """The value columns of a competition's submissions (see the module docstring)."""

    layout: str
    columns: tuple[str, ...]  # the value columns, in the sample's order
    task: "Task"
    metric: str
    class_names_in_file: bool = False  # ``class`` layout: names (True) or indices (False)

    @classmethod
    def of(cls, competition: "Competition", header: Sequence[str], sample_values: Sequence[str] = ()) -> "SubmissionFormat":
        """The format of ``competition``'s submissions, whose sample has ``header`` (id first) and, in its
        first value column, ``sample_values`` (they tell class names from indices)."""
        return cls.for_task(competition.task, competition.metric, header, sample_values, competition.slug)

    @classmethod
    def for_task(cls, task: "Task", metric: str, header: Sequence[str], sample_values: Sequence[str] = (),
                 where: str = "the competition") -> "SubmissionFormat":
        from kaggle_kit.metrics import get_metric

        needs = get_metric(metric).needs
        columns = tuple(header[1:])
        kind = task.kind
        if kind == "binary" and len(columns) == 1:
            layout = "probability" if needs == "probabilities" else "label"
        elif kind == "multiclass" and len(columns) == 1 and needs == "labels":
            layout = "class"
        elif kind == "multiclass" and set(columns) == set(task.names):
            layout = "wide"
        elif kind == "multilabel" and set(columns) == set(task.names):
            layout = "columns"
        elif kind == "regression" and task.is_ordinal and len(columns) == 1:
            layout = "grade" if needs == "labels" else "values"
        elif kind == "regression" and set(columns) == set(task.names):
            layout = "values"
        else:
            raise ConfigError(
                f"{where}'s sample submission has the value column(s) {','.join(columns) or 'none'}, which do not "
                f"fit a {task.describe()} task scored by {metric}; expected {_expected(task, needs)}"
            )
        names_in_file = layout == "class" and not all(_is_whole(v) for v in sample_values if v != "")
        return cls(layout, columns, task, metric, names_in_file)

    # --- writing ------------------------------------------------------------------------------
    def values(self, predictions: np.ndarray, thresholds: Sequence[float] | None = None) -> dict[str, np.ndarray]:
        """The value columns for ``predictions`` (``(n,)`` or ``(n, K)`` in the task's output order)."""
        task = self.task
        predictions = np.asarray(predictions, dtype=np.float64)
        if self.layout == "probability":
            return {self.columns[0]: predictions.reshape(-1)}
        if self.layout in ("label", "grade"):
            return {self.columns[0]: task.decide(predictions.reshape(-1), thresholds)}
        if self.layout == "class":
            chosen = task.decide(predictions)
            return {self.columns[0]: np.asarray(task.names, dtype=object)[chosen] if self.class_names_in_file else chosen}
        table = predictions.reshape(len(predictions), -1)
        if self.layout == "columns" and self.needs == "labels":
            table = task.decide(table, thresholds)
        by_name = {name: table[:, k] for k, name in enumerate(task.names)}
        if self.layout == "values" and task.is_ordinal:
            by_name = {self.columns[0]: table[:, 0]}
        return {column: by_name[column] for column in self.columns}

    def describe(self, thresholds: Sequence[float] | None = None) -> str:
        """How the values were made, for ``kit submit``'s summary line."""
        if self.layout == "label":
            cut = thresholds[0] if thresholds else 0.5
            return f"0/1 labels at threshold {cut:.4f}"
        if self.layout == "grade":
            return "grades cut at " + ", ".join(f"{t:.3f}" for t in (thresholds or []))
        if self.layout == "class":
            return "class names" if self.class_names_in_file else "class indices"
        if self.layout == "columns" and self.needs == "labels":
            return f"0/1 labels in {len(self.columns)} columns"
        if self.layout in ("wide", "columns"):
            return f"probabilities in {len(self.columns)} columns"
        if self.layout == "values":
            return f"values in {len(self.columns)} column{'s' if len(self.columns) > 1 else ''}"
        return "probabilities"

    @property
    def needs(self) -> str:
        from kaggle_kit.metrics import get_metric

        return get_metric(self.metric).needs

    @property
    def keeps_probabilities(self) -> bool:
        """Whether the file holds cut labels, so the probabilities are worth keeping beside it."""
        return self.layout in ("label", "grade") or (self.layout == "columns" and self.needs == "labels") \
            or self.layout == "class"

    # --- checking -----------------------------------------------------------------------------
    def cell_check(self, column: str) -> Callable[[str], "str | None"]:
        """A check of one cell of ``column``: ``None`` when fine, else what is wrong (after
        "value X in column C")."""
        if self.layout == "class":
            return self._class_cell
        number = self._number_check(column)

        def check(cell: str) -> str | None:
            return number(float(cell), cell)

        return check

    def _number_check(self, column: str) -> CellCheck:
        metric = self.metric
        if self.layout in ("probability", "wide") or (self.layout == "columns" and self.needs != "labels"):
            return lambda v, _: None if 0.0 <= v <= 1.0 else f"is outside [0, 1] (probabilities for {metric})"
        if self.layout == "label" or self.layout == "columns":
            return lambda v, _: None if v in (0.0, 1.0) else f"is not 0 or 1 (class labels for {metric})"
        if self.layout == "grade":
            top = self.task.levels - 1
            return lambda v, _: None if v in range(self.task.levels) else f"is not a whole grade from 0 to {top}"
        if self.task.bounded:
            return lambda v, _: None if 0.0 <= v <= 1.0 else "is outside [0, 1] (these targets are fractions)"
        return lambda v, _: None

    def _class_cell(self, cell: str) -> str | None:
        names = self.task.names
        if self.class_names_in_file:
            return None if cell in names else f"is not one of the {len(names)} class names (e.g. {names[0]})"
        return None if _is_whole(cell) and 0 <= int(float(cell)) < len(names) else \
            f"is not a class index from 0 to {len(names) - 1}"

    @property
    def numeric(self) -> bool:
        """Whether every value must be a number (all layouts but class names)."""
        return not (self.layout == "class" and self.class_names_in_file)

    # --- reading (local scoring) ----------------------------------------------------------------
    def read(self, frame: "pd.DataFrame") -> np.ndarray:
        """What the metric scores, from a validated submission's value columns: probabilities or
        labels in the task's output order."""
        task = self.task
        if self.layout == "class":
            cells = frame[self.columns[0]].astype(str)
            if self.class_names_in_file:
                lookup = {name: k for k, name in enumerate(task.names)}
                return cells.map(lookup).to_numpy(dtype=np.int64)
            return cells.astype(float).astype(np.int64).to_numpy()
        if len(self.columns) == 1:
            values = frame[self.columns[0]].astype(float).to_numpy()
            return values.astype(np.int64) if self.layout in ("label", "grade") else values
        ordered = [name for name in task.names]
        table = frame[ordered].astype(float).to_numpy()
        return table.astype(np.int64) if self.layout == "columns" and self.needs == "labels" else table


def _expected(task: "Task", needs: str) -> str:
    if task.kind == "binary":
        return "one column"
    if task.kind == "multiclass":
        return "one column per class, named as the classes" + (", or one class column" if needs == "labels" else "")
    if task.is_ordinal:
        return "one grade column"
    return f"the columns {','.join(task.names[:6])}{'…' if len(task.names) > 6 else ''}"


def _is_whole(text: str) -> bool:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return False
    return math.isfinite(value) and value == int(value)


def predictions_table(frame: "pd.DataFrame", task: "Task") -> np.ndarray:
    """The predictions of a ``test_predictions`` frame (``id,prob`` or ``id,pred_<name>…``) as
    ``(n,)`` or ``(n, K)`` in the task's output order."""
    from kaggle_kit.runfolder import prediction_columns

    columns = list(prediction_columns(task))
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SubmissionError(f"the test predictions lack {', '.join(missing[:3])}; re-run 'kit predict'")
    table = frame[columns].to_numpy(dtype=np.float64)
    return table[:, 0] if len(columns) == 1 else table
