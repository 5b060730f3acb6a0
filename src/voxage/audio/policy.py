"""Which recordings are worth judging: one set of thresholds for prepare, training and prediction.

`prepare` drops clips that fail these checks and records the policy in the work dir; training copies it into
the model; the Predictor applies the model's own policy, so serving never judges a clip shorter than any the
model was trained on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from voxage.errors import AudioError, ConfigError


@dataclass(frozen=True)
class ClipPolicy:
    min_seconds: float = field(default=1.0, metadata={"help": "drop (prepare) or refuse (predict) shorter clips"})
    max_seconds: float = field(default=60.0, metadata={
        "help": "prepare drops longer files (not clips); predict judges the first MAX_SECONDS"})
    # Digital silence, not quiet speech: a quiet microphone's speech is raised to a working level by the front-end
    # (an RMS threshold of 1e-4 refused about 1% of real speech recorded 26 dB quieter).
    silence_peak: float = field(default=2 ** -15, metadata={
        "help": "a clip whose every sample stays below this (one 16-bit step) is silence"})

    def __post_init__(self):
        if not 0 < self.min_seconds < self.max_seconds:
            raise ConfigError(f"need 0 < min_seconds < max_seconds, got {self.min_seconds} and {self.max_seconds}")
        if self.silence_peak < 0:
            raise ConfigError(f"silence_peak must be >= 0, got {self.silence_peak}")

    def check(self, wave: np.ndarray, sample_rate: int, name: str) -> float:
        """The clip's duration in seconds; AudioError (reason too_long, too_short or silent) if it fails."""
        duration = len(wave) / sample_rate
        if duration > self.max_seconds:
            raise AudioError("too_long", f"{name} is longer than {self.max_seconds:g} s")
        if duration < self.min_seconds:
            raise AudioError("too_short", f"{name} is {duration:.2f} s; at least {self.min_seconds:g} s of speech "
                                          "needed")
        if not len(wave) or float(np.max(np.abs(wave))) < self.silence_peak:
            raise AudioError("silent", f"{name} is silent; nothing to judge")
        return duration

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict | None) -> "ClipPolicy":
        return cls(**{k: v for k, v in (d or {}).items() if k in cls.__dataclass_fields__})
