"""The front door to competitions: the built-ins, custom competition files, and registered ones.

>>> from kaggle_kit.competitions import get_competition
>>> get_competition("histopathologic-cancer-detection").metric
'auc'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kaggle_kit.competitions import (  # noqa: F401  (importing them registers the built-ins)
    aptos,
    cactus,
    cancer,
    dogs,
    galaxy,
    galaxy_challenge,
    plant,
)
from kaggle_kit.competitions._registry import Competition, registered
from kaggle_kit.errors import UnknownNameError

if TYPE_CHECKING:
    from kaggle_kit.paths import Workspace

SPEC_SUFFIXES = (".yaml", ".yml", ".toml")


def list_competitions() -> list[str]:
    """Slugs of the registered competitions, sorted."""
    return sorted(registered())


def get_competition(name: str, workspace: "Workspace | None" = None) -> Competition:
    """A registered competition by slug, or a custom one from a ``.yaml``/``.toml`` file path.

    With a ``workspace``, a custom competition's slug works too once ``kit prepare`` has
    recorded its file there (``data/<slug>/competition.json``), so the commands kit prints
    for it (``kit runs my-galaxies``) work as typed.
    """
    from kaggle_kit.competitions.custom import load_custom_competition, recorded_spec

    builders = registered()
    if name in builders:
        return builders[name]()
    if name.endswith(SPEC_SUFFIXES):
        return load_custom_competition(name)
    recorded = recorded_spec(workspace, name) if workspace is not None and "/" not in name else None
    if recorded is not None and recorded.is_file():
        return load_custom_competition(recorded)
    raise UnknownNameError(
        "competition", name, sorted(builders) + ["<path to a custom competition .yaml/.toml>"]
    )
