"""voxage: tell a speaker's age group from their voice."""

from voxage.labels import AGE_GROUPS

__version__ = "0.1.0"
__all__ = ["AGE_GROUPS", "__version__"]
