"""The errors a user can fix: a bad audio file, a bad model file. They subclass ValueError too, so code that
caught ValueError before keeps working; anything else that goes wrong is a bug and keeps its traceback."""

from __future__ import annotations


class VoxageError(Exception):
    """Base of voxage's own errors; the CLI shows them as one line and exits non-zero."""


class AudioError(VoxageError, ValueError):
    """A clip that cannot be judged; `reason` is a short machine-readable tag (undecodable, empty, too_short,
    silent, missing) for reports, CSV rows and API answers."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class ModelError(VoxageError, ValueError):
    """A model file that is missing, not voxage's, or made for another version of the features."""


class ConfigError(VoxageError, ValueError):
    """A setting or flag out of range, or a name voxage does not know."""


class DataError(VoxageError, ValueError):
    """A corpus, work dir or run folder that cannot be used as asked (missing, empty, built otherwise)."""
