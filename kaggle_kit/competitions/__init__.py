"""Competitions kaggle-kit knows: ``get_competition(slug)``, ``list_competitions()``."""

from kaggle_kit.competitions._catalog import get_competition, list_competitions
from kaggle_kit.competitions._registry import Competition, LabelOptions, LabelTables, register_competition
from kaggle_kit.competitions._tables import stable_fraction

__all__ = [
    "Competition",
    "LabelOptions",
    "LabelTables",
    "get_competition",
    "list_competitions",
    "register_competition",
    "stable_fraction",
]
