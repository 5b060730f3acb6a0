"""Utterance features from a pretrained speaker encoder plus prosody, for the `embed` model.

The GE2E encoder (resemblyzer's weights, Apache-2.0, shipped as `assets/ge2e_encoder.onnx` with its licence;
`scripts/export_ge2e.py` builds it) was trained to tell speakers apart, and age is one of the things that makes
voices differ. Prosody adds what an ageing voice changes most. The mean of the encoder's second LSTM layer over
all frames adds what the speaker vector was trained to discard (`voxage crossval`, 5 folds x 3 fold seeds: English
speakers never heard 0.330 vs 0.316, all languages 0.329 vs 0.318; README). Everything here runs on numpy,
webrtcvad, Praat and ONNX Runtime; `voxage.features.frontends.EmbedFrontEnd` gives the embedding cache and the
Predictor the same vector from the same code.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from voxage.features.ge2e_frontend import SAMPLE_RATE, encoder_windows
from voxage.features.prosody import PROSODY_NAMES, prosody

EMBED_VERSION = 7  # bump when the vector changes: caches and models record it
SPEAKER_DIM = FRAMES_DIM = 256
# The vector: speaker (256), prosody (7), second-layer frame mean (256).
EMBED_DIM = SPEAKER_DIM + len(PROSODY_NAMES) + FRAMES_DIM
MAX_SECONDS = 20.0  # longer uploads are judged on their first 20 s
ENCODER_FILE = Path(str(resources.files("voxage") / "assets" / "ge2e_encoder.onnx"))
ENCODER_LICENSE = ENCODER_FILE.with_name("GE2E-LICENSE")

__all__ = ["EMBED_DIM", "EMBED_VERSION", "FRAMES_DIM", "PROSODY_NAMES", "SAMPLE_RATE", "SPEAKER_DIM",
           "SpeakerEncoder", "onnx_session", "voice_inputs"]


def onnx_session(path: Path):
    """One-thread ONNX Runtime session: a 5 s clip is too small to gain from threads, and a server runs one
    request per core."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def voice_inputs(wave: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """wave (16 kHz mono) -> (encoder windows (n, 160, 40), prosody (1, 7)): what the embed network reads."""
    wave = wave[: int(MAX_SECONDS * SAMPLE_RATE)]
    return encoder_windows(wave), prosody(wave, SAMPLE_RATE)[None]


class SpeakerEncoder:
    """Encoder windows (n, 160, 40) -> (one L2-normalised utterance vector (1, 256), the second LSTM layer's mean
    output over every frame (1, 256))."""

    def __init__(self, path: Path = ENCODER_FILE):
        self.session = onnx_session(path)

    def __call__(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        speaker, frames = self.session.run(["speaker", "frames"],
                                           {"windows": np.ascontiguousarray(windows, dtype=np.float32)})
        return speaker, frames

