"""Utterance features from a pretrained speaker encoder plus prosody, for the `embed` model.

The GE2E encoder (resemblyzer; its weights ship inside the wheel, nothing is downloaded) was trained
to tell speakers apart, and age is one of the things that makes voices differ. Prosody adds what an
ageing voice changes most: pitch level and range, jitter, shimmer, breathiness (HNR) and formants.
"""

from __future__ import annotations

import warnings

import numpy as np
import soxr
import torch
from torch import nn

EMBED_VERSION = 2  # bump when the vector changes: caches and models record it
SPEAKER_DIM = 256
PROSODY_NAMES = ("f0_mean_st", "f0_std_st", "f0_p10_st", "f0_p90_st", "voiced_fraction", "jitter_local",
                 "shimmer_local", "hnr_db", "f1_hz", "f2_hz", "f3_hz", "duration_s")
EMBED_DIM = SPEAKER_DIM + len(PROSODY_NAMES)
SAMPLE_RATE = 16000
MAX_SECONDS = 20.0  # longer uploads are judged on their first 20 s
WINDOW_SHAPE = (160, 40)  # one encoder window: 1.6 s of 10 ms frames x 40 mel bands (resemblyzer's hparams)


def prosody(wave: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
    """12 prosodic statistics (Praat via parselmouth); unmeasurable values are 0."""
    import parselmouth
    from parselmouth.praat import call

    snd = parselmouth.Sound(wave.astype(np.float64), sampling_frequency=sr)
    pitch = snd.to_pitch_ac(time_step=0.02, pitch_floor=70, pitch_ceiling=600)
    f0 = pitch.selected_array["frequency"]
    voiced = f0[f0 > 0]
    st = 12 * np.log2(voiced / 100.0) if len(voiced) else np.zeros(1)
    # Settings chosen for speed (about 20 ms for 5 s, from 106 ms with Praat's defaults): 20 ms pitch steps
    # from 70 Hz, the pitch track reused for the glottal pulses, HNR and formants at 30 / 20 ms steps, and soxr
    # (not Praat) resampling to the 11 kHz the formant tracker wants.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            points = call([snd, pitch], "To PointProcess (cc)")
            jitter = call(points, "Get jitter (local)", 0, 0, 0.0001, 0.02, 1.3)
            shimmer = call([snd, points], "Get shimmer (local)", 0, 0, 0.0001, 0.02, 1.3, 1.6)
        except parselmouth.PraatError:
            jitter = shimmer = 0.0
        hnr = call(snd.to_harmonicity_ac(time_step=0.03), "Get mean", 0, 0)
        narrow = parselmouth.Sound(soxr.resample(wave, sr, 11000).astype(np.float64), sampling_frequency=11000)
        formant = narrow.to_formant_burg(time_step=0.02, max_number_of_formants=5, maximum_formant=5500)
        formants = [call(formant, "Get quantile", i, 0, 0, "hertz", 0.5) for i in (1, 2, 3)]
    values = [st.mean(), st.std(), np.percentile(st, 10), np.percentile(st, 90), len(voiced) / max(1, len(f0)),
              jitter, shimmer, hnr, *formants, len(wave) / sr]
    return np.nan_to_num(np.asarray(values, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)


def encoder_windows(wave: np.ndarray) -> np.ndarray:
    """The speaker encoder's input: n log-mel windows (n, *WINDOW_SHAPE) of the speech, silences cut by VAD.

    The same windows as resemblyzer's `embed_utterance`, computed outside the network so that the network
    itself (LSTM, averaging, head) can run in PyTorch or in ONNX Runtime.
    """
    from resemblyzer import VoiceEncoder, audio, preprocess_wav

    trimmed = preprocess_wav(wave, source_sr=SAMPLE_RATE)  # volume-normalised, long silences cut
    if len(trimmed) < SAMPLE_RATE // 2:
        trimmed = wave
    wav_slices, mel_slices = VoiceEncoder.compute_partial_slices(len(trimmed), rate=1.3, min_coverage=0.75)
    trimmed = np.pad(trimmed, (0, max(0, wav_slices[-1].stop - len(trimmed)))).astype(np.float32)
    mel = audio.wav_to_mel_spectrogram(trimmed)
    return np.stack([mel[s] for s in mel_slices]).astype(np.float32)


def voice_inputs(wave: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """wave (16 kHz mono) -> (encoder windows (n, 160, 40), prosody (1, 12)): what the embed network reads."""
    wave = wave[: int(MAX_SECONDS * SAMPLE_RATE)]
    return encoder_windows(wave), prosody(wave)[None]


class SpeakerEncoder(nn.Module):
    """GE2E (resemblyzer's bundled weights): encoder windows -> one L2-normalised 256-d utterance vector."""

    def __init__(self):
        super().__init__()
        from resemblyzer import VoiceEncoder

        self.ge2e = VoiceEncoder(device="cpu", verbose=False).eval()

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        partial = self.ge2e(windows)  # (n, 256), each L2-normalised
        mean = partial.mean(0, keepdim=True)
        return mean / torch.linalg.vector_norm(mean, dim=1, keepdim=True)


class VoiceEmbedder:
    """wave (16 kHz mono) -> EMBED_DIM vector, the cached feature of the embed model."""

    def __init__(self):
        self.encoder = SpeakerEncoder()

    @torch.no_grad()
    def __call__(self, wave: np.ndarray) -> np.ndarray:
        windows, pros = voice_inputs(wave)
        speaker = self.encoder(torch.from_numpy(windows))[0].numpy()
        return np.concatenate([speaker, pros[0]]).astype(np.float32)
