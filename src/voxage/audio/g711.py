"""G.711 telephone audio (ITU-T G.711): one byte a sample, mu-law (North America, Japan; Twilio Media Streams) or
A-law (elsewhere), decoded through the standard's 256-entry tables to float32 in [-1, 1).

`encode` quantises to the nearest code of the same table, which is what a test or a benchmark needs to build a
call from a recording (a real codec truncates within a segment instead; the decoded levels are the same).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from voxage.audio.io import PCM16_SCALE
from voxage.errors import ConfigError

LAWS = ("mulaw", "alaw")


def _mulaw_levels() -> np.ndarray:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent, mantissa = (u >> 4) & 0x07, u & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(u & 0x80, -magnitude, magnitude)


def _alaw_levels() -> np.ndarray:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    exponent, mantissa = (a >> 4) & 0x07, a & 0x0F
    magnitude = np.where(exponent == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0))
    return np.where(a & 0x80, magnitude, -magnitude)


@lru_cache(maxsize=None)
def levels(law: str) -> np.ndarray:
    """The 256 16-bit sample values of a law's codes, indexed by code byte."""
    if law not in LAWS:
        raise ConfigError(f"unknown G.711 law {law!r}; choose from {', '.join(LAWS)}")
    return (_mulaw_levels() if law == "mulaw" else _alaw_levels()).astype(np.int16)


def decode(data: bytes, law: str) -> np.ndarray:
    """G.711 bytes -> float32 samples."""
    return levels(law)[np.frombuffer(data, dtype=np.uint8)].astype(np.float32) / PCM16_SCALE


def encode(wave: np.ndarray, law: str) -> bytes:
    """float samples in [-1, 1] -> G.711 bytes (the nearest code)."""
    table = levels(law).astype(np.float64)
    order = np.argsort(table, kind="stable")
    ranked = table[order]
    x = np.clip(np.asarray(wave, dtype=np.float64) * PCM16_SCALE, ranked[0], ranked[-1])
    i = np.clip(np.searchsorted(ranked, x), 1, len(ranked) - 1)
    nearer = np.where(x - ranked[i - 1] <= ranked[i] - x, i - 1, i)
    return order[nearer].astype(np.uint8).tobytes()
