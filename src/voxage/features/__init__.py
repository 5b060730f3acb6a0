"""Features: what each input kind (`frontends`) computes from a 16 kHz clip."""

from voxage.features.config import FeatureConfig
from voxage.features.extract import fix_length, log_mel

__all__ = ["FeatureConfig", "fix_length", "log_mel"]
