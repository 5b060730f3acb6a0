"""Audio in: decoding and resampling (soundfile + soxr; torchaudio does not load here), and which clips count."""

from voxage.audio.io import SAMPLE_RATE, conform, load_audio, load_audio_bytes
from voxage.audio.policy import ClipPolicy
from voxage.errors import AudioError

__all__ = ["SAMPLE_RATE", "AudioError", "ClipPolicy", "conform", "load_audio", "load_audio_bytes"]
