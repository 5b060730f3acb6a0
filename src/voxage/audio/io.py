"""Decode any file soundfile understands (MP3, WAV, FLAC, OGG) to mono float32 at a fixed rate."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from voxage.errors import AudioError

SAMPLE_RATE = 16000  # what every front-end reads (the GE2E speaker encoder was trained at this rate)
PCM16_SCALE = 2**15  # a 16-bit sample's value in float: int16 / 32768, as soundfile reads it


def to_pcm16(wave: np.ndarray) -> np.ndarray:
    """float samples -> int16, the inverse of reading int16 / PCM16_SCALE (clipped at full scale)."""
    return np.clip(np.round(wave * PCM16_SCALE), -PCM16_SCALE, PCM16_SCALE - 1).astype(np.int16)


def _via_ffmpeg(source, max_seconds: float | None) -> io.BytesIO | None:
    """Browser recorders send WebM/MP4, which libsndfile cannot read: let ffmpeg turn them into WAV."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        return None
    data = source.getvalue() if isinstance(source, io.BytesIO) else Path(source).read_bytes()
    limit = ["-t", str(max_seconds)] if max_seconds else []
    try:
        proc = subprocess.run([ffmpeg, "-nostdin", "-loglevel", "error", "-i", "pipe:0", *limit, "-ac", "1",
                               "-f", "wav", "pipe:1"], input=data, capture_output=True, timeout=60)
    except subprocess.TimeoutExpired:
        return None
    return io.BytesIO(proc.stdout) if proc.returncode == 0 and len(proc.stdout) > 44 else None


def _read(source, max_seconds: float | None) -> tuple[np.ndarray, int]:
    with sf.SoundFile(source) as f:
        frames = -1 if max_seconds is None else int(max_seconds * f.samplerate)
        return f.read(frames, dtype="float32", always_2d=True), f.samplerate


def _decode(source, name: str, max_seconds: float | None) -> tuple[np.ndarray, int]:
    try:
        data, rate = _read(source, max_seconds)
    except Exception as exc:  # soundfile raises several types for broken input
        converted = _via_ffmpeg(source, max_seconds)
        if converted is None:
            why = str(exc).replace(repr(source), repr(name))  # name the upload, not a Python object
            raise AudioError("undecodable", f"{name}: cannot decode audio ({why}); send WAV, MP3, OGG or FLAC"
                             + ("" if shutil.which("ffmpeg") else " (WebM/MP4 need ffmpeg on this machine)")) from None
        data, rate = _read(converted, max_seconds)
    if data.size == 0 or rate <= 0:
        raise AudioError("empty", f"{name}: no audio samples")
    return data.mean(axis=1), int(rate)


def conform(mono: np.ndarray, rate: int, target_rate: int, name: str) -> np.ndarray:
    """Decoded mono samples -> contiguous float32 at `target_rate`; AudioError if any sample is NaN or infinite."""
    if not np.all(np.isfinite(mono)):
        raise AudioError("undecodable", f"{name}: audio contains NaN or infinite samples")
    if rate != target_rate:
        mono = soxr.resample(mono, rate, target_rate, quality="HQ")
    return np.ascontiguousarray(mono, dtype=np.float32)


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE, max_seconds: float | None = None) -> np.ndarray:
    """Mono float32 samples in [-1, 1] at `sample_rate`, at most `max_seconds` of them (an hour-long
    upload is not read whole); raises AudioError for unusable files."""
    path = Path(path)
    if not path.is_file():
        raise AudioError("missing", f"{path}: file not found")
    if path.stat().st_size == 0:
        raise AudioError("empty", f"{path}: file is empty")
    mono, rate = _decode(str(path), str(path), max_seconds)
    return conform(mono, rate, sample_rate, str(path))


def load_audio_bytes(data: bytes, sample_rate: int = SAMPLE_RATE, name: str = "upload",
                     max_seconds: float | None = None) -> np.ndarray:
    """Same as load_audio for an in-memory file (uploads)."""
    if not data:
        raise AudioError("empty", f"{name}: file is empty")
    mono, rate = _decode(io.BytesIO(data), name, max_seconds)
    return conform(mono, rate, sample_rate, name)
