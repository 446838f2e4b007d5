"""kaggle-kit: run an image-classification Kaggle competition end to end.

The package imports nothing heavy: TensorFlow and the ``kaggle`` client are
imported inside the functions that need them, so ``kit --help`` stays instant and
``import kaggle`` never authenticates by surprise.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kaggle-kit")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
