"""Six-way age classifiers, selectable by name (`voxage.models.registry`; importing it imports torch)."""

from voxage.models.names import MODEL_NAMES

__all__ = ["MODEL_NAMES"]
