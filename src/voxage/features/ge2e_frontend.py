"""The GE2E speaker encoder's input, in numpy: volume-normalised speech with long silences cut by a VAD, as
40-band mel windows of 1.6 s.

This reproduces resemblyzer's `preprocess_wav` + `wav_to_mel_spectrogram` + partial slicing (Apache-2.0,
resemble-ai/Resemblyzer; hparams below are its values) without librosa, scipy or torch, so that prediction
needs neither. `tests/test_frontend.py` pins it to resemblyzer on real clips.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from voxage.features.config import SAMPLE_RATE
from voxage.features.extract import power_spectrogram

N_FFT, HOP, N_MELS = 400, 160, 40  # 25 ms windows every 10 ms
WINDOW_FRAMES = 160  # one partial utterance: 1.6 s
PARTIALS_PER_SECOND, MIN_COVERAGE = 1.3, 0.75  # resemblyzer's embed_utterance defaults
VAD_FRAME = 480  # 30 ms
VAD_SMOOTHING, VAD_MAX_SILENCE = 8, 6  # frames
TARGET_DBFS = -30.0
# A clipping microphone's voice is lowered to this: +20 dB clipping reaches the encoder near -7 dBFS, far louder
# than any Common Voice voice was recorded (99th percentile -13.6, loudest -10.6). Only clipping audio, so clean
# speech reaches the encoder as recorded: lowering every voice above it (embedding version 6) measured the same,
# bringing every voice to -30 dBFS (version 5) cost clean speech 0.011 (docs/experiments.md).
CEILING_DBFS = -16.0
CLIP_LEVEL = 0.98  # a sample this close to full scale counts as clipped
CEILING_CLIPPED_FRACTION = 1e-3  # more clipped samples: a hot microphone (no clean shared clip has this many)
INT16_MAX = 2**15 - 1


def level_dbfs(wave: np.ndarray) -> float:
    """RMS level in dB relative to a full-scale 16-bit sample (-inf for silence)."""
    rms = np.sqrt(np.mean((wave.astype(np.float64) * INT16_MAX) ** 2))
    with np.errstate(divide="ignore"):
        return float(20 * np.log10(rms / INT16_MAX))


def clipped_fraction(wave: np.ndarray) -> float:
    """Share of samples at full scale: a microphone driven into clipping."""
    return float(np.mean(np.abs(wave) >= CLIP_LEVEL)) if len(wave) else 0.0


def level_change_db(wave: np.ndarray) -> float:
    """What `normalize_volume` changes the level by, in dB: up to -30 dBFS, a clipping voice down to -16, else 0."""
    level = level_dbfs(wave)
    if not np.isfinite(level):
        return 0.0
    ceiling = CEILING_DBFS if clipped_fraction(wave) > CEILING_CLIPPED_FRACTION else np.inf
    return float(np.clip(0.0, TARGET_DBFS - level, ceiling - level))


def normalize_volume(wave: np.ndarray, change_db: float | None = None) -> np.ndarray:
    """A quiet voice raised to -30 dBFS, a clipping one lowered to -16 (or the level changed by `change_db`)."""
    change = level_change_db(wave) if change_db is None else change_db
    return wave if change == 0 else wave * (10 ** (change / 20))


def vad_pcm(wave: np.ndarray) -> bytes:
    """What WebRTC VAD reads: 16-bit samples, as resemblyzer converts them (x 32767, clipped)."""
    return np.round(np.clip(wave, -1, 1) * INT16_MAX).astype(np.int16).tobytes()


def vad_flags(wave: np.ndarray) -> np.ndarray:
    """WebRTC VAD (mode 3, the strictest) per 30 ms frame of 16 kHz audio: True where it hears speech. The last
    partial frame is left out."""
    import webrtcvad

    wave = wave[: len(wave) - len(wave) % VAD_FRAME]
    pcm = vad_pcm(wave)
    vad = webrtcvad.Vad(3)
    step = VAD_FRAME * 2  # bytes per frame
    return np.array([vad.is_speech(pcm[i : i + step], SAMPLE_RATE) for i in range(0, len(pcm), step)], dtype=bool)


def trim_long_silences(wave: np.ndarray) -> np.ndarray:
    """Drop silences longer than ~0.2 s: WebRTC VAD (mode 3) per 30 ms, smoothed over 8 frames, dilated by 6."""
    wave = wave[: len(wave) - len(wave) % VAD_FRAME]
    flags = vad_flags(wave).astype(float)
    padded = np.concatenate([np.zeros((VAD_SMOOTHING - 1) // 2), flags, np.zeros(VAD_SMOOTHING // 2)])
    smoothed = np.convolve(padded, np.ones(VAD_SMOOTHING), "valid") / VAD_SMOOTHING
    voiced = np.round(smoothed).astype(bool)
    # binary dilation with a centred structure of VAD_MAX_SILENCE + 1 ones
    half = VAD_MAX_SILENCE // 2
    grown = np.convolve(np.pad(voiced, (half, VAD_MAX_SILENCE - half)), np.ones(VAD_MAX_SILENCE + 1), "valid") > 0
    return wave[np.repeat(grown, VAD_FRAME)]


@lru_cache(maxsize=1)
def mel_filters() -> np.ndarray:
    """Slaney-style mel filterbank (librosa.filters.mel defaults), shape (N_MELS, N_FFT // 2 + 1)."""
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0

    def hz_to_mel(f):
        f = np.asarray(f, dtype=np.float64)
        return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, f / f_sp)

    def mel_to_hz(m):
        return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)

    fft_freqs = np.linspace(0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(SAMPLE_RATE / 2), N_MELS + 2))
    ramps = edges[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / np.diff(edges)[:-1, None]
    upper = ramps[2:] / np.diff(edges)[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper)) * (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


def mel_spectrogram(wave: np.ndarray) -> np.ndarray:
    """Power mel spectrogram (frames, 40), not logged (the encoder was trained on it so); centred frames."""
    return power_spectrogram(wave, N_FFT, HOP, pad_mode="constant") @ mel_filters().T  # resemblyzer pads zeros


def partial_starts(n_samples: int) -> list[int]:
    """First frame of each 1.6 s window: 1.3 windows per second, the last kept if 75% of it is speech."""
    n_frames = int(np.ceil((n_samples + 1) / HOP))
    step = int(np.round(SAMPLE_RATE / PARTIALS_PER_SECOND / HOP))
    starts = list(range(0, max(1, n_frames - WINDOW_FRAMES + step + 1), step))
    coverage = (n_samples - starts[-1] * HOP) / (WINDOW_FRAMES * HOP)
    if coverage < MIN_COVERAGE and len(starts) > 1:
        starts.pop()
    return starts


def encoder_windows(wave: np.ndarray, change_db: float | None = None) -> np.ndarray:
    """16 kHz mono speech -> (n, 160, 40) float32 mel windows, silences cut (the whole clip if VAD keeps < 0.5 s).
    `change_db` replaces `normalize_volume`'s own level change (a stream holds one while the level allows)."""
    trimmed = trim_long_silences(normalize_volume(wave, change_db))
    if len(trimmed) < SAMPLE_RATE // 2:
        trimmed = wave
    starts = partial_starts(len(trimmed))
    trimmed = np.pad(trimmed, (0, max(0, (starts[-1] + WINDOW_FRAMES) * HOP - len(trimmed))))
    mel = mel_spectrogram(trimmed)
    return np.stack([mel[s : s + WINDOW_FRAMES] for s in starts]).astype(np.float32)
