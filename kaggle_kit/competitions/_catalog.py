"""The front door to competitions: the built-ins, custom competition files, and registered ones.

>>> from kaggle_kit.competitions import get_competition
>>> get_competition("histopathologic-cancer-detection").metric
'auc'
"""

from __future__ import annotations

from kaggle_kit.competitions import cancer, galaxy  # noqa: F401  (importing them registers the built-ins)
from kaggle_kit.competitions._registry import Competition, registered
from kaggle_kit.errors import UnknownNameError

SPEC_SUFFIXES = (".yaml", ".yml", ".toml")


def list_competitions() -> list[str]:
    """Slugs of the registered competitions, sorted."""
    return sorted(registered())


def get_competition(name: str) -> Competition:
    """A registered competition by slug, or a custom one from a ``.yaml``/``.toml`` file path."""
    builders = registered()
    if name in builders:
        return builders[name]()
    if name.endswith(SPEC_SUFFIXES):
        from kaggle_kit.competitions.custom import load_custom_competition

        return load_custom_competition(name)
    raise UnknownNameError(
        "competition", name, sorted(builders) + ["<path to a custom competition .yaml/.toml>"]
    )
