"""Competitions kaggle-kit knows: ``get_competition(slug)``, ``list_competitions()``."""

from kaggle_kit.competitions._catalog import get_competition, list_competitions
from kaggle_kit.competitions._registry import Competition, LabelOptions, LabelTables, register_competition

__all__ = [
    "Competition",
    "LabelOptions",
    "LabelTables",
    "get_competition",
    "list_competitions",
    "register_competition",
]
