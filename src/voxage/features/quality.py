"""What a recording's own sound says about how far a guess from it can be trusted.

A model is only as good as the recordings it was trained and validated on: through a phone line, in noise or
from a clipping microphone it can be confidently wrong. These measures need no model, only the 16 kHz samples:
seconds of speech (WebRTC VAD), an SNR estimate (speech frames against the quietest frames), the share of
clipped samples and the audio bandwidth (a phone line stops at 3.4 kHz). `ReliabilityPolicy` turns them into
`reliable` and the reasons why not.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from voxage.features.ge2e_frontend import (
    SAMPLE_RATE,
    VAD_FRAME,
    clipped_fraction,
    level_change_db,
    normalize_volume,
    vad_flags,
)

NOISE_QUANTILE = 0.1  # the quietest 10% of 30 ms frames: the noise floor between words
BANDWIDTH_RANGE_DB = 50.0  # the bandwidth: where the speech spectrum falls 50 dB below its peak


@dataclass(frozen=True)
class Quality:
    """Attributes:
        speech_seconds: seconds the voice-activity detector hears speech in.
        snr_db: estimated signal-to-noise ratio of the speech, in dB (60 means no measurable noise).
        clipped_fraction: share of samples at full scale (a microphone driven into clipping).
        bandwidth_hz: highest frequency the speech reaches within 50 dB of its spectral peak (3,700-3,800 Hz
            through a phone line, 7,000 Hz and more from a good microphone).
    """

    speech_seconds: float
    snr_db: float
    clipped_fraction: float
    bandwidth_hz: float

    def to_dict(self) -> dict:
        return {"speech_seconds": round(self.speech_seconds, 2), "snr_db": round(self.snr_db, 1),
                "clipped_fraction": round(self.clipped_fraction, 4), "bandwidth_hz": round(self.bandwidth_hz)}


def measure_quality(wave: np.ndarray, rate: int = SAMPLE_RATE) -> Quality:
    """Mono float samples at `rate` -> their Quality (measured at 16 kHz)."""
    wave = np.asarray(wave, dtype=np.float32)
    if rate != SAMPLE_RATE:
        import soxr

        wave = soxr.resample(wave, rate, SAMPLE_RATE)
    clipped = clipped_fraction(wave)
    n = len(wave) // VAD_FRAME
    if n == 0:
        return Quality(0.0, 0.0, clipped, 0.0)
    frames = wave[: n * VAD_FRAME].astype(np.float64).reshape(n, VAD_FRAME)
    # the level raised first (quiet speech is still speech), never lowered: WebRTC VAD hears less of a voice turned down
    speech = vad_flags(normalize_volume(wave, max(0.0, level_change_db(wave))))
    power = np.mean(frames ** 2, axis=1) + 1e-12
    floor = float(np.mean(np.sort(power)[: max(1, int(NOISE_QUANTILE * n))]))
    voiced = power[speech] if speech.any() else power
    snr = 10 * np.log10(max(float(np.mean(voiced)) - floor, 1e-12) / floor)
    return Quality(float(speech.sum() * VAD_FRAME / SAMPLE_RATE), float(np.clip(snr, -20.0, 60.0)), clipped,
                   bandwidth(frames[speech] if speech.sum() >= 3 else frames))


def bandwidth(frames: np.ndarray) -> float:
    """The highest frequency at which the frames' mean power spectrum (smoothed over 250 Hz) is within
    BANDWIDTH_RANGE_DB of its peak."""
    spectrum = np.mean(np.abs(np.fft.rfft(frames * np.hanning(frames.shape[1]), axis=1)) ** 2, axis=0)
    freqs = np.fft.rfftfreq(frames.shape[1], 1 / SAMPLE_RATE)
    width = max(1, int(round(250 / freqs[1])))
    smooth = np.convolve(spectrum, np.ones(width) / width, mode="same")
    level = 10 * np.log10(smooth + 1e-20)
    above = np.nonzero(level >= level.max() - BANDWIDTH_RANGE_DB)[0]
    return float(freqs[above[-1]])


@dataclass(frozen=True)
class ReliabilityPolicy:
    """Where a model's guesses stop being trustworthy: recordings outside what it was trained and validated on.
    The defaults fit the bundled model, measured with `voxage crossval --conditions` (docs/robustness.md)."""

    min_speech_seconds: float = field(default=1.5, metadata={"help": "less speech than this: unreliable"})
    min_snr_db: float = field(default=15.0, metadata={"help": "noisier than this: unreliable"})
    max_clipped_fraction: float = field(default=0.01, metadata={"help": "more clipped samples: unreliable"})
    min_bandwidth_hz: float = field(default=4000.0, metadata={  # phone lines reach 3.8 kHz; GSM (4.3-4.8) passes
        "help": "narrower audio (a phone line): unreliable"})

    def reasons(self, q: Quality) -> tuple[str, ...]:
        """The tags of every way `q` falls outside this policy (empty: reliable)."""
        checks = (("little_speech", q.speech_seconds < self.min_speech_seconds),
                  ("noisy", q.snr_db < self.min_snr_db),
                  ("clipped", q.clipped_fraction > self.max_clipped_fraction),
                  ("narrowband", q.bandwidth_hz < self.min_bandwidth_hz))
        return tuple(tag for tag, failed in checks if failed)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict | None) -> "ReliabilityPolicy":
        return cls(**{k: v for k, v in (d or {}).items() if k in cls.__dataclass_fields__})
