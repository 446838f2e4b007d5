"""Where kaggle-kit is running: a Kaggle Notebook, a Docker container, or a plain machine."""

from __future__ import annotations

from pathlib import Path

from kaggle_kit.paths import kaggle_input_root


def running_in_docker() -> bool:
    if Path("/.dockerenv").exists():
        return True
    try:
        return "docker" in Path("/proc/1/cgroup").read_text(errors="ignore")
    except OSError:
        return False


def environment_name() -> str:
    """``kaggle-notebook``, ``docker`` or ``local``."""
    if kaggle_input_root() is not None:
        return "kaggle-notebook"
    if running_in_docker():
        return "docker"
    return "local"
