"""Where kaggle-kit reads and writes: one workspace, resolved once per command.

Layout (defaults relative to the working directory)::

    data/<slug>/raw/        the competition's files as downloaded (or a read-only mount)
    data/<slug>/labels/     label tables built by ``kit prepare`` (train, test, splits)
    data/<slug>/cache/      decoded image caches, one folder per size/crop/balance
    runs/<slug>/<run-id>/   one training run: config.yaml, models, history, metrics
    submissions/<slug>/     validated submission CSVs and the local leaderboard

Inside a Kaggle Notebook the competition data is mounted read-only under
``/kaggle/input/<slug>`` or ``/kaggle/input/competitions/<slug>`` (kaggle-cli#1140),
found by looking; it is used in place and everything written goes under
``/kaggle/working``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

KAGGLE_INPUT = Path("/kaggle/input")
KAGGLE_WORKING = Path("/kaggle/working")


def kaggle_input_root() -> Path | None:
    """The read-only Kaggle input mount, if this looks like a Kaggle Notebook.

    ``KIT_KAGGLE_INPUT`` points at such a tree explicitly (used by tests and by
    people who mirror the Kaggle layout elsewhere).
    """
    explicit = os.environ.get("KIT_KAGGLE_INPUT")
    if explicit:
        return Path(explicit)
    if KAGGLE_INPUT.is_dir() and os.environ.get("KAGGLE_KERNEL_RUN_TYPE"):
        return KAGGLE_INPUT
    return None


def kaggle_working_root() -> Path | None:
    """The writable Kaggle working folder, when running in a Kaggle Notebook."""
    explicit = os.environ.get("KIT_KAGGLE_WORKING")
    if explicit:
        return Path(explicit)
    if kaggle_input_root() == KAGGLE_INPUT and KAGGLE_WORKING.is_dir():
        return KAGGLE_WORKING
    return None


MOUNT_DEPTH = 2  # folders between /kaggle/input and a mount: competitions/<slug>, datasets/<owner>/<slug>


def find_mount(input_root: Path, names: tuple[str, ...]) -> Path | None:
    """The folder under ``input_root`` named one of ``names``, at most ``MOUNT_DEPTH`` folders down;
    the shallowest wins, then the earlier name. Kaggle has moved its mounts before: look, do not assume."""
    for depth in range(MOUNT_DEPTH + 1):
        for name in names:
            hits = sorted(path for path in input_root.glob("/".join(["*"] * depth + [name])) if path.is_dir())
            if hits:
                return hits[0]
    return None


@dataclass(frozen=True)
class Workspace:
    """The folders one command works in. Build it with :meth:`resolve`."""

    data_dir: Path
    runs_dir: Path
    submissions_dir: Path
    raw_dir_override: Path | None = None
    kaggle_input: Path | None = None
    kaggle_working: Path | None = None

    @classmethod
    def resolve(
        cls,
        data_dir: str | os.PathLike | None = None,
        runs_dir: str | os.PathLike | None = None,
        submissions_dir: str | os.PathLike | None = None,
        raw_dir: str | os.PathLike | None = None,
    ) -> "Workspace":
        """Options first, then ``KIT_*_DIR`` variables, then the defaults."""
        working = kaggle_working_root()
        base = working if working is not None else Path(".")

        def pick(option, env_name: str, default: str) -> Path:
            value = option or os.environ.get(env_name)
            return Path(value) if value else base / default

        return cls(
            data_dir=pick(data_dir, "KIT_DATA_DIR", "data"),
            runs_dir=pick(runs_dir, "KIT_RUNS_DIR", "runs"),
            submissions_dir=pick(submissions_dir, "KIT_SUBMISSIONS_DIR", "submissions"),
            raw_dir_override=Path(raw_dir) if raw_dir else None,
            kaggle_input=kaggle_input_root(),
            kaggle_working=working,
        )

    def competition_dir(self, slug: str) -> Path:
        return self.data_dir / slug

    def raw_dir(self, slug: str, mount_names: tuple[str, ...] = ()) -> Path:
        """The raw files: ``--raw-dir``, else a Kaggle input mount, else ``data/<slug>/raw``.

        A Kaggle Notebook mounts a competition at ``/kaggle/input/<slug>`` (or
        ``/kaggle/input/competitions/<slug>``) and a dataset under its own slug:
        ``mount_names`` are the other folder names to look for.
        """
        if self.raw_dir_override is not None:
            return self.raw_dir_override
        if self.kaggle_input is not None:
            mounted = find_mount(self.kaggle_input, (slug, *mount_names))
            if mounted is not None:
                return mounted
        return self.competition_dir(slug) / "raw"

    def raw_is_external(self, slug: str, mount_names: tuple[str, ...] = ()) -> bool:
        """True when the raw files live outside the data root (never write next to them)."""
        return self.raw_dir(slug, mount_names) != self.competition_dir(slug) / "raw"

    def labels_dir(self, slug: str) -> Path:
        return self.competition_dir(slug) / "labels"

    def cache_root(self, slug: str) -> Path:
        return self.competition_dir(slug) / "cache"

    def runs_root(self, slug: str) -> Path:
        return self.runs_dir / slug

    def submission_dir(self, slug: str) -> Path:
        return self.submissions_dir / slug
