"""Features: fixed-length waveform and 64-band log-mel spectrogram."""

from voxage.features.config import FeatureConfig
from voxage.features.extract import extract, fix_length, log_mel

__all__ = ["FeatureConfig", "extract", "fix_length", "log_mel"]
