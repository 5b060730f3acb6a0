"""Audio in: decoding and resampling (soundfile + soxr; torchaudio does not load here)."""

from voxage.audio.io import AudioError, load_audio, load_audio_bytes

__all__ = ["AudioError", "load_audio", "load_audio_bytes"]
