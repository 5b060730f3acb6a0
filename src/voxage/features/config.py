"""Feature settings; stored with every cache and model so inference matches training."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from voxage.audio.io import SAMPLE_RATE
from voxage.errors import ConfigError


@dataclass(frozen=True)
class FeatureConfig:
    sample_rate: int = SAMPLE_RATE
    clip_seconds: float = 5.0  # the seed padded/cropped every clip to 5 s
    n_fft: int = 1024
    hop_length: int = 256
    n_mels: int = 64
    fmin: float = 20.0
    fmax: float = 8000.0
    frame_length: int = 160  # 10 ms waveform frames: the time step of the sequence models

    def __post_init__(self):
        if min(self.sample_rate, self.n_fft, self.hop_length, self.n_mels, self.frame_length) < 1 \
                or self.clip_seconds <= 0:
            raise ConfigError(f"feature sizes must be positive: {self}")
        if not 0 <= self.fmin < self.fmax <= self.sample_rate / 2:
            raise ConfigError(f"need 0 <= fmin < fmax <= sample_rate / 2, got {self.fmin}, {self.fmax}")

    @property
    def num_samples(self) -> int:
        return int(round(self.sample_rate * self.clip_seconds))

    @property
    def num_frames(self) -> int:
        return 1 + self.num_samples // self.hop_length

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "FeatureConfig":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})
