"""The competition registry: what a competition is, and the decorator that registers one.

The front door (``get_competition``, ``list_competitions``) is ``_catalog.py``,
which also loads the built-ins; a competition module imports only this one.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from kaggle_kit.errors import UnknownNameError
from kaggle_kit.tasks import Task, binary_task

if TYPE_CHECKING:
    import pandas as pd

    from kaggle_kit.paths import Workspace


@dataclass
class LabelTables:
    """What a competition's label builder returns.

    ``train``: id, the task's label columns (``label`` for binary and
    multi-class, one column per label or target otherwise: ``Task.label_columns``),
    path; ``test``: id, path, in sample-submission order; ``sample_submission``:
    the exact table whose format a submission copies; ``test_labels``: id and the
    label columns, for locally scored competitions (private: only scoring reads
    it); ``notes``: counts worth reporting.
    """

    train: "pd.DataFrame"
    test: "pd.DataFrame"
    sample_submission: "pd.DataFrame"
    test_labels: "pd.DataFrame | None" = None
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LabelOptions:
    """Options that change which rows a label table holds."""

    labels_file: Path | None = None  # an extra table the user supplies (gz2_hart16.csv)
    min_vote_fraction: float | None = None


def counting_layout(build_labels: Callable[[Path, LabelOptions], LabelTables]) -> Callable[[Path], dict[str, Any]]:
    """A ``check_layout`` for a competition whose label tables check its files: build them, count the images."""

    def check_layout(raw: Path) -> dict[str, Any]:
        tables = build_labels(raw, LabelOptions())
        return {"train_images": len(tables.train), "test_images": len(tables.test)}

    return check_layout


@dataclass(frozen=True)
class Competition:
    """An image competition kaggle-kit can run end to end.

    ``task`` says what is predicted (binary by default, with ``class_names``);
    ``metric`` is a registered metric (``kaggle_kit.metrics``) that applies to it.
    ``kernels_only``: Kaggle takes submissions only from a notebook (a code
    competition), not through the API. ``nested_archives``: the download holds
    zips of its own (``train.zip``…), extracted in place. ``derived_scores``: what
    a run's ``metrics.json`` adds from its validation predictions (the Galaxy
    Challenge's spiral vs elliptical).
    """

    slug: str
    title: str
    source_kind: str  # "competition", "dataset" or "local"
    source_ref: str  # competition slug, "owner/dataset", or a folder for local ones
    native_size: tuple[int, int]
    metric: str
    build_labels: Callable[[Path, LabelOptions], LabelTables]
    check_layout: Callable[[Path], dict[str, Any]]
    task: Task = field(default_factory=binary_task)
    locally_scored: bool = False
    kernels_only: bool = False
    nested_archives: bool = False
    # Figures derived from validation predictions beyond the metric (labels, predictions → {name: value}).
    derived_scores: Callable[[Any, Any], dict[str, float]] | None = field(default=None, compare=False)
    recipes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, hash=False)
    local_root: Path | None = None  # raw folder of a custom competition
    description: str = ""
    # `kit download --labels FILE`: checks and copies a label table the data lacks into the raw folder,
    # returns its name.
    add_labels: Callable[[Path, Path], str] | None = field(default=None, compare=False)
    # `kit download` without --labels: fetch_labels(archive member names, folder, *, progress, retry) fetches
    # that table from its public home when the archive lacks it -> (file, source URL without credentials),
    # or None when the archive has it.
    fetch_labels: Callable[..., "tuple[Path, str] | None"] | None = field(default=None, compare=False)
    spec_path: Path | None = None  # a custom competition's file, as the user gave it

    @property
    def command_name(self) -> str:
        """What to type after ``kit <command>`` for this competition: the slug, or the custom file's path."""
        import shlex

        return shlex.quote(str(self.spec_path)) if self.spec_path is not None else self.slug

    def __post_init__(self) -> None:
        self.task.check_metric(self.metric)

    @property
    def class_names(self) -> tuple[str, ...]:
        """The task's names: a binary task's two class names (negative, positive), a multi-class task's classes."""
        return self.task.names

    @property
    def mount_names(self) -> tuple[str, ...]:
        """Other folder names a Kaggle Notebook may mount the data under (a dataset's own slug)."""
        return (self.source_ref.rsplit("/", 1)[-1],) if self.source_kind == "dataset" else ()

    def raw_dir(self, workspace: "Workspace") -> Path:
        if self.local_root is not None:
            return self.local_root
        return workspace.raw_dir(self.slug, self.mount_names)

    def raw_is_external(self, workspace: "Workspace") -> bool:
        """True when the raw files are used in place (custom folder, read-only mount, --raw-dir)."""
        return self.local_root is not None or workspace.raw_is_external(self.slug, self.mount_names)

    def recipe(self, name: str) -> Mapping[str, Any]:
        if name not in self.recipes:
            raise UnknownNameError(f"recipe of {self.slug}", name, sorted(self.recipes))
        return self.recipes[name]


_COMPETITIONS: dict[str, Callable[[], Competition]] = {}


def register_competition(builder: Callable[[], Competition]) -> Callable[[], Competition]:
    """Decorator: register the competition a zero-argument builder returns.

    The builder runs once here so its slug is known; registering a slug twice warns
    and the later one wins.
    """
    slug = builder().slug
    if slug in _COMPETITIONS:
        warnings.warn(f"competition '{slug}' registered twice; the later one wins", stacklevel=2)
    _COMPETITIONS[slug] = builder
    return builder


def registered() -> dict[str, Callable[[], Competition]]:
    """The registered builders by slug (built-ins registered by ``kaggle_kit.competitions._catalog``)."""
    return dict(_COMPETITIONS)
