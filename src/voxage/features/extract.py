"""Log-mel in plain numpy so `prepare`, training and the server need no audio library; `tests/test_features_models.py`
pins it to librosa with the same settings."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from voxage.features.config import FeatureConfig


def fix_length(wave: np.ndarray, num_samples: int) -> np.ndarray:
    """Centre-crop long clips, zero-pad short ones at the end (Common Voice clips start with speech)."""
    n = len(wave)
    if n >= num_samples:
        start = (n - num_samples) // 2
        return wave[start : start + num_samples]
    return np.pad(wave, (0, num_samples - n))


def _hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)


def _mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)


@lru_cache(maxsize=8)
def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Triangular HTK-style filters, shape (n_mels, n_fft // 2 + 1)."""
    fft_freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    mel_points = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    lower, centre, upper = mel_points[:-2, None], mel_points[1:-1, None], mel_points[2:, None]
    rising = (fft_freqs[None, :] - lower) / (centre - lower)
    falling = (upper - fft_freqs[None, :]) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)


@lru_cache(maxsize=8)
def _window(n_fft: int) -> np.ndarray:
    return np.hanning(n_fft + 1)[:-1].astype(np.float32)  # periodic Hann


def power_spectrogram(wave: np.ndarray, n_fft: int, hop: int, pad_mode: str = "reflect") -> np.ndarray:
    """(frames, n_fft // 2 + 1) float32 power of Hann-windowed frames centred on every hop (librosa's center=True)."""
    padded = np.pad(wave.astype(np.float32), (n_fft // 2, n_fft // 2), mode=pad_mode)
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]
    spectrum = np.fft.rfft(frames * _window(n_fft), axis=1)
    return (spectrum.real**2 + spectrum.imag**2).astype(np.float32)


def log_mel(wave: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """(n_mels, frames) log-mel, normalised per utterance to zero mean and unit variance."""
    power = power_spectrogram(wave, cfg.n_fft, cfg.hop_length)
    fb = mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.fmin, cfg.fmax)
    mel = np.log(power @ fb.T + 1e-6).T
    return ((mel - mel.mean()) / (mel.std() + 1e-5)).astype(np.float32)

