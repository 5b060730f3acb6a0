"""Inference: from an audio file or samples to six age-group probabilities."""

from voxage.inference.predictor import Prediction, Predictor, default_model_path

__all__ = ["Prediction", "Predictor", "default_model_path"]
