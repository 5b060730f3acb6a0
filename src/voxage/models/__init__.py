"""Six-way age classifiers, selectable by name."""

from voxage.models.registry import MODELS, build_model, model_input

__all__ = ["MODELS", "build_model", "model_input"]
