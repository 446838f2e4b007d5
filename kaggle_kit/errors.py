"""Typed errors raised by the library.

Every message names the file or step at fault and says how to fix it, in one
line. The CLI turns any ``KitError`` into ``Error: <message>`` and exit code 1;
nothing else in the library prints.
"""


def shown(value) -> str:
    """A value as a message shows it: text quoted, numbers plain, numpy scalars as Python's
    (``nan``, ``0.5``, not ``np.float64(nan)``)."""
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        value = value.item()
    return repr(value)


class KitError(Exception):
    """Base class of every error a user can cause and fix."""


class KitWarning(UserWarning):
    """Something the user may want to change, though the work goes on; the CLI prints ``Warning: ...``."""


class UnknownNameError(KitError):
    """A competition, model or option value that is not registered."""

    def __init__(self, kind: str, name: str, valid: list[str]):
        self.kind, self.name, self.valid = kind, name, list(valid)
        super().__init__(f"unknown {kind} '{name}'; choose one of: {', '.join(self.valid)}")


class ConfigError(KitError):
    """A configuration file or option value that is invalid."""


class CredentialsError(KitError):
    """Kaggle credentials are missing or unusable."""


class KaggleApiError(KitError):
    """The Kaggle API answered with an error, or could not be reached."""


class DataError(KitError):
    """Raw data, label tables or images that are missing or malformed."""


class StorageError(KitError):
    """A file or folder that cannot be written: disk full, read-only, no permission, a file in the way."""


class CacheError(KitError):
    """The prepared image cache is missing, stale or incomplete."""


class TrainingError(KitError):
    """Training could not start or had to stop (NaN loss, out of memory...)."""


class RunNotFoundError(KitError):
    """A run folder that does not exist or is incomplete."""


class SubmissionError(KitError):
    """A submission that fails validation, or could not be written or uploaded."""
