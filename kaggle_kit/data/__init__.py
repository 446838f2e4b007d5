"""Prepared data: label tables, rebalancing and the decoded image cache (``kit prepare``)."""

from kaggle_kit.data.cache import ImageStore, PreparedData
from kaggle_kit.data.prepare import PrepareOptions, load_prepared, prepare

__all__ = ["ImageStore", "PrepareOptions", "PreparedData", "load_prepared", "prepare"]
