"""The embed vector of audio that keeps arriving (a call, a live microphone), at the cost of what each piece adds.

`EmbedFrontEnd.network_input` on all the audio so far would run the speaker encoder on every 1.6 s window again at
each update. Here each window is encoded once, alone, and pooled with the ones kept as the encoder graph pools a
batch (speaker vectors averaged and normalised again, frame means averaged); the pitch track is extended by the
new audio only. Two things keep earlier windows the same as audio grows: the level is changed by a gain held while
it keeps the voice near the front-end's bounds (it raises quiet voices to -30 dBFS and lowers clipping ones to -16
dBFS, which would otherwise change every window whenever the overall level moves), and a window counts as
unchanged when its input is equal up to float rounding (a longer spectrogram's matrix product sums in another
order). The result is an estimate: the int8 graph scales each batch on its own, and the held gain and the pitch
track's joins differ a little from one pass over everything (`tests/test_streaming.py` measures it); a stream's
final answer is therefore one pass over all its audio.
"""

from __future__ import annotations

import numpy as np

from voxage.features.ge2e_frontend import CEILING_DBFS, TARGET_DBFS, encoder_windows, level_change_db, level_dbfs
from voxage.features.prosody import PITCH_STEP_S, PROSODY_NAMES, pitch_track, prosody_of
from voxage.features.voice_embedding import MAX_SECONDS, SAMPLE_RATE, SpeakerEncoder

HELD_SLACK_DB = 1.0  # a held gain is kept while the voice it gives lies this close to the front-end's bounds
WINDOW_TOLERANCE = 1e-5  # relative: a window's input this close to a kept one's keeps its encoder outputs
PITCH_CONTEXT_S = 0.1  # each pitch extension starts this far before the last one ended, for its window


class IncrementalEmbedding:
    def __init__(self, encoder: SpeakerEncoder):
        self.encoder = encoder
        self.encoder_runs = 0  # windows encoded so far: what the updates cost
        self._windows: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # i -> input, speaker, frames
        self._change_db: float | None = None
        self._pitch: list[tuple[np.ndarray, np.ndarray]] = []
        self._pitch_end = 0  # samples of audio the pitch track covers

    def __call__(self, wave: np.ndarray) -> np.ndarray:
        """16 kHz mono audio so far (each call's a continuation of the last's) -> the (1, EMBED_DIM) vector."""
        wave = wave[: int(MAX_SECONDS * SAMPLE_RATE)]
        windows = encoder_windows(wave, self._held_change_db(wave))
        outputs = [self._window(i, w) for i, w in enumerate(windows)]
        speaker = np.mean([o[0] for o in outputs], axis=0)
        frames = np.mean([o[1] for o in outputs], axis=0)
        prosody = self._prosody(wave)
        return np.concatenate([speaker / np.linalg.norm(speaker), prosody, frames])[None].astype(np.float32)

    def _held_change_db(self, wave: np.ndarray) -> float:
        held = None if self._change_db is None else level_dbfs(wave) + self._change_db
        if held is None or not TARGET_DBFS - HELD_SLACK_DB <= held <= CEILING_DBFS + HELD_SLACK_DB:
            self._change_db = level_change_db(wave)  # the voice moved out of the bounds: the front-end's own
        return self._change_db

    def _window(self, i: int, window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        kept = self._windows.get(i)
        if kept is None or np.abs(kept[0] - window).max() > WINDOW_TOLERANCE * np.abs(window).max():
            speaker, frames = self.encoder(window[None])
            kept = self._windows[i] = (window, speaker[0], frames[0])
            self.encoder_runs += 1
        return kept[1], kept[2]

    def _prosody(self, wave: np.ndarray) -> np.ndarray:
        start = max(0, self._pitch_end - int(PITCH_CONTEXT_S * SAMPLE_RATE))
        if len(wave) - self._pitch_end >= int(PITCH_CONTEXT_S * SAMPLE_RATE):
            frequency, strength = pitch_track(wave[start:], SAMPLE_RATE)
            skip = int(round((self._pitch_end - start) / SAMPLE_RATE / PITCH_STEP_S)) if self._pitch else 0
            self._pitch.append((frequency[skip:], strength[skip:]))
            self._pitch_end = len(wave)
        if not self._pitch:
            return np.zeros(len(PROSODY_NAMES), np.float32)
        return prosody_of(np.concatenate([p[0] for p in self._pitch]), np.concatenate([p[1] for p in self._pitch]),
                          len(wave) / SAMPLE_RATE)
