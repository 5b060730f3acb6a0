"""Judge a voice while it arrives (a phone call, a live microphone): audio in pieces, an estimate every couple of
seconds of new speech, and at the end the answer `Predictor.predict` gives the whole recording.

An interim estimate costs what the new audio adds where the front-end can keep its work
(`FrontEnd.incremental`: the embed front-end encodes each 1.6 s window once and extends the pitch track) and
the model can be fed the result (`head`, the network alone); otherwise it judges the audio so far. Past the span
a model judges (the first 20 s for the bundled one) there is nothing new to say, and interims stop. The final
answer judges all the audio in one pass: it is `Predictor.predict` of the same decoded samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voxage.audio import AudioError, conform, g711
from voxage.audio.io import PCM16_SCALE
from voxage.errors import ConfigError
from voxage.features.ge2e_frontend import vad_pcm
from voxage.inference.prediction import Prediction
from voxage.inference.predictor import Predictor

ENCODINGS = ("pcm16", *g711.LAWS)
MIN_RATE, MAX_RATE = 8000, 48000


@dataclass(frozen=True)
class StreamFormat:
    """What the binary messages of a stream hold: mono `pcm16` (little-endian 16-bit), `mulaw` or `alaw` bytes."""

    encoding: str = "pcm16"
    sample_rate: int = 8000

    def __post_init__(self):
        if self.encoding not in ENCODINGS:
            raise ConfigError(f"unknown encoding {self.encoding!r}; choose from {', '.join(ENCODINGS)}")
        if not MIN_RATE <= self.sample_rate <= MAX_RATE:
            raise ConfigError(f"sample_rate must be {MIN_RATE}-{MAX_RATE} Hz, got {self.sample_rate}")

    @property
    def bytes_per_sample(self) -> int:
        return 2 if self.encoding == "pcm16" else 1

    def decode(self, data: bytes) -> np.ndarray:
        if self.encoding == "pcm16":
            return np.frombuffer(data, dtype="<i2").astype(np.float32) / PCM16_SCALE
        return g711.decode(data, self.encoding)


@dataclass(frozen=True)
class StreamLimits:
    interim_seconds: float = 2.0  # new speech between two interim estimates
    first_seconds: float = 2.0  # speech before the first one
    max_seconds: float = 600.0  # audio a stream may send in all
    idle_seconds: float = 10.0  # a server closes a stream that sends nothing this long

    def __post_init__(self):
        if min(self.interim_seconds, self.first_seconds, self.max_seconds, self.idle_seconds) <= 0:
            raise ConfigError("stream limits must be positive")


class StreamTooLong(AudioError):
    def __init__(self, limit: float):
        super().__init__("too_long", f"the stream passed its limit of {limit:g} s of audio")


class StreamSession:
    """One stream's audio and what was computed from it. Not thread-safe: feed it from one task at a time."""

    def __init__(self, predictor: Predictor, fmt: StreamFormat, limits: StreamLimits | None = None):
        self.predictor, self.fmt, self.limits = predictor, fmt, limits or StreamLimits()
        self.pieces: list[np.ndarray] = []
        self.samples = 0
        self._carry = b""  # half a 16-bit sample left over from the last message
        self._speech = SpeechCounter(fmt.sample_rate)
        self._next = self.limits.first_seconds
        head = getattr(predictor.model, "head", None)
        self.incremental = predictor.frontend.incremental() if head is not None else None
        self._span_judged = False
        self._keep = int(predictor.policy.max_seconds * fmt.sample_rate)

    @property
    def seconds(self) -> float:
        return self.samples / self.fmt.sample_rate

    @property
    def speech_seconds(self) -> float:
        return self._speech.seconds

    def feed(self, data: bytes) -> dict | None:
        """Add a message's audio; returns an interim message when enough new speech has arrived, else None."""
        return self.interim() if self.add(data) else None

    def add(self, data: bytes) -> bool:
        """Take a message's audio (cheap: decoding and speech counting); True when an interim estimate is due.
        Raises StreamTooLong past the limit."""
        data = self._carry + bytes(data)
        cut = len(data) - len(data) % self.fmt.bytes_per_sample
        data, self._carry = data[:cut], data[cut:]
        if not data:
            return False
        samples = self.fmt.decode(data)
        if self.seconds + len(samples) / self.fmt.sample_rate > self.limits.max_seconds:
            raise StreamTooLong(self.limits.max_seconds)
        kept = max(0, self._keep - self.samples)  # past the model's max_seconds nothing is judged: not kept
        if kept:
            self.pieces.append(samples[:kept])
        self.samples += len(samples)
        self._speech.add(samples)
        if self.speech_seconds < self._next or self._span_judged:
            return False
        self._next = self.speech_seconds + self.limits.interim_seconds
        return True

    def interim(self) -> dict | None:
        """The estimate of the audio so far (None while it cannot be judged yet: too short after all)."""
        span = self.predictor.frontend.judged_seconds
        # past the span the model judges, later audio changes nothing: this is the last interim
        self._span_judged = span is not None and self.seconds > span
        try:
            estimate = self._interim()
        except AudioError:
            return None
        return {"type": "interim", "seconds": round(self.seconds, 3), "speech_seconds": round(self.speech_seconds, 3),
                **estimate.to_dict()}

    def final(self) -> dict:
        """All the audio judged at once; raises AudioError when there is nothing to judge."""
        prediction = self.predictor.predict(self.audio(), sample_rate=self.fmt.sample_rate)
        return {"type": "final", "seconds": round(self.seconds, 3), "speech_seconds": round(self.speech_seconds, 3),
                **prediction.to_dict()}

    def audio(self) -> np.ndarray:
        """The samples so far at the stream's rate, up to the first `policy.max_seconds` (what `predict` judges)."""
        if len(self.pieces) > 1:
            self.pieces = [np.concatenate(self.pieces)]
        return self.pieces[0] if self.pieces else np.zeros(0, np.float32)

    def _interim(self) -> Prediction:
        p = self.predictor
        wave = conform(self.audio(), self.fmt.sample_rate, p.sample_rate, "stream")
        duration = p.policy.check(wave, p.sample_rate, "stream")
        if self.incremental is None:
            return p.answer(wave, duration, *p.probabilities(*p.model_inputs(wave)))
        return p.answer(wave, duration, *p.artifact.probabilities(p.model.head(self.incremental(wave))))


class SpeechCounter:
    """Seconds of speech heard so far, by WebRTC VAD (mode 3, as the front-end) on 30 ms frames: at the stream's
    own rate where the VAD takes it (8, 16, 32, 48 kHz), else resampled to 16 kHz."""

    VAD_RATES = (8000, 16000, 32000, 48000)

    def __init__(self, sample_rate: int):
        import webrtcvad

        self.rate = sample_rate if sample_rate in self.VAD_RATES else 16000
        self._resample = None
        if self.rate != sample_rate:
            import soxr

            self._resample = soxr.ResampleStream(sample_rate, self.rate, 1, dtype="float32")
        self._vad = webrtcvad.Vad(3)
        self._step = self.rate * 3 // 100 * 2  # bytes of one 30 ms frame of 16-bit samples
        self._pending = b""
        self.frames = 0

    @property
    def seconds(self) -> float:
        return self.frames * 0.03

    def add(self, samples: np.ndarray) -> None:
        if self._resample is not None:
            samples = self._resample.resample_chunk(samples)
        pcm = self._pending + vad_pcm(samples)
        usable = len(pcm) - len(pcm) % self._step
        step = self._step
        self.frames += sum(self._vad.is_speech(pcm[i : i + step], self.rate) for i in range(0, usable, step))
        self._pending = pcm[usable:]
