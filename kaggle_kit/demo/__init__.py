"""Demo competitions: generated stand-ins for the built-in ones, and ``kit demo``."""

from kaggle_kit.demo.generators import build_archive, write_cancer_competition, write_galaxy_dataset

__all__ = ["build_archive", "write_cancer_competition", "write_galaxy_dataset"]
