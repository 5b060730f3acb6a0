"""Audio in: decoding and resampling (soundfile + soxr; torchaudio does not load here)."""

from voxage.audio.io import conform, load_audio, load_audio_bytes
from voxage.errors import AudioError

__all__ = ["AudioError", "conform", "load_audio", "load_audio_bytes"]
