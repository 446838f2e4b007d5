"""Demo competitions: generated stand-ins for the built-in ones, and ``kit demo``."""

from kaggle_kit.demo.generators import write_cancer_competition, write_galaxy_dataset

__all__ = ["write_cancer_competition", "write_galaxy_dataset"]
