"""The project's stand-in Kaggle server (tests and ``kit demo``); see :mod:`kaggle_kit.standin.server`."""

from kaggle_kit.standin.archives import truncated, zip_entries, zip_folder
from kaggle_kit.standin.server import StandinKaggle, serve_locally

__all__ = ["StandinKaggle", "serve_locally", "truncated", "zip_entries", "zip_folder"]
