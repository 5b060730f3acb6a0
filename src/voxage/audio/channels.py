"""Recording channels a user's voice reaches voxage through: a phone line, noise, a room, a hot or quiet
microphone, a lossy codec. Each is simulated, seeded and registered by name, so a robustness condition or an
augmentation is a setting (`parse_channel("noise:snr_db=10,kind=babble")`), not code.

Shapes: `wave` is (time,) float32 mono at `rate`; every channel returns the same shape at the same rate (a
channel that changes the length internally, a codec's padding or a room's tail, is cut back to it). The same
channel, wave and `rng` seed give the same output. Rooms, MP3 and GSM need the training extra (pyroomacoustics,
pedalboard); the rest is numpy, scipy and soxr.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import ClassVar

import numpy as np
import soxr

from voxage.errors import ConfigError


@dataclass(frozen=True)
class Channel:
    name: ClassVar[str]
    version: ClassVar[int] = 1  # bump when the simulation changes: features computed through it are kept per tag
    mixes_voices: ClassVar[bool] = False  # True: reads other speakers' clips (`others`)
    # False where the protocol measured the voice coming through as clean (MP3, GSM and a quiet microphone keep
    # >= 95% of the clean score): the familiarity check learns to flag the rest (`EmbedHead.fit_familiarity_check`)
    degrades: ClassVar[bool] = True
    # True where the channel adds to or smears the voice (noise, a room's echo, clipping) rather than filtering it:
    # the voice's own part of the speaker vector shrinks, which `EmbedHead(standardized_families=...)` undoes
    masks: ClassVar[bool] = False

    @property
    def family(self) -> str:
        """What this channel does to a voice, whatever its strength (noise: at one of two strengths): what the
        embed head learns to undo (`EmbedHead.fit_channel_compensation`)."""
        return self.name

    def apply(self, wave: np.ndarray, rate: int, rng: np.random.Generator, others: Sequence[np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, wave: np.ndarray, rate: int, rng: np.random.Generator | None = None,
                 others: Sequence[np.ndarray] = ()) -> np.ndarray:
        """`others`: clips of other speakers at `rate`, for channels that mix voices in (babble)."""
        wave = np.asarray(wave, dtype=np.float32)
        out = self.apply(wave, rate, rng if rng is not None else np.random.default_rng(0), others)
        return _fit(np.asarray(out, dtype=np.float32), len(wave))

    @property
    def tag(self) -> str:
        """A file-name-safe name of this channel with its settings and version: the cache folder of its features."""
        args = ",".join(f"{f.name}={_text(getattr(self, f.name))}" for f in fields(self))
        return f"{self.name}{'-' + args if args else ''}-v{self.version}"

    @property
    def spec(self) -> str:
        """The string `parse_channel` reads back into this channel: every setting, but the details (marked
        `DETAIL`) only where they differ from their default."""
        args = ",".join(f"{f.name}={_text(getattr(self, f.name))}" for f in fields(self)
                        if not f.metadata.get("detail") or getattr(self, f.name) != f.default)
        return f"{self.name}{':' + args if args else ''}"


CHANNELS: dict[str, type[Channel]] = {}


def register(cls: type[Channel]) -> type[Channel]:
    if cls.name in CHANNELS:
        raise ValueError(f"channel {cls.name!r} is registered twice")
    CHANNELS[cls.name] = cls
    return cls


def parse_channel(spec: str) -> Channel:
    """`NAME` or `NAME:key=value,key=value` -> that channel; the keys are its dataclass fields."""
    name, _, args = spec.strip().partition(":")
    if name not in CHANNELS:
        raise ConfigError(f"unknown channel {name!r} in {spec!r}; known: {', '.join(CHANNELS)}")
    cls = CHANNELS[name]
    types = {f.name: f.type for f in fields(cls)}
    kwargs = {}
    for pair in filter(None, args.split(",")):
        key, eq, value = pair.partition("=")
        if not eq or key not in types:
            raise ConfigError(f"{spec!r}: {name} takes {', '.join(f'{k}=...' for k in types) or 'no settings'}")
        try:
            kwargs[key] = {"float": float, "int": int}.get(types[key], str)(value)
        except ValueError:
            raise ConfigError(f"{spec!r}: {key} must be a {types[key]}, got {value!r}") from None
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{spec!r}: {exc}") from None


DETAIL = {"detail": True}  # field metadata: a setting a condition's name leaves out at its default


def _text(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _fit(x: np.ndarray, n: int) -> np.ndarray:
    return x[:n] if len(x) >= n else np.pad(x, (0, n - len(x)))


def _power(x: np.ndarray) -> float:
    return float(np.mean(np.square(x, dtype=np.float64)))


@register
@dataclass(frozen=True)
class Telephone(Channel):
    """A narrow-band phone line: resampled to 8 kHz, band-passed to 300-3400 Hz, companded to 8 bits with the
    G.711 mu-law or A-law curve (the continuous curves, not G.711's segmented approximation of them), back to
    `rate`. `codec="none"` keeps the band and rate only."""

    name: ClassVar[str] = "phone"
    codec: str = "mulaw"
    low_hz: float = field(default=300.0, metadata=DETAIL)
    high_hz: float = field(default=3400.0, metadata=DETAIL)
    line_rate: int = field(default=8000, metadata=DETAIL)

    def __post_init__(self):
        if self.codec not in ("mulaw", "alaw", "none"):
            raise ValueError(f"codec must be mulaw, alaw or none, not {self.codec!r}")
        if not 0 < self.low_hz < self.high_hz < self.line_rate / 2:
            raise ValueError(f"need 0 < low_hz < high_hz < line_rate / 2, got {self.low_hz}, {self.high_hz}")

    def apply(self, wave, rate, rng, others):
        from scipy.signal import butter, sosfiltfilt

        line = soxr.resample(wave, rate, self.line_rate)
        sos = butter(6, [self.low_hz, self.high_hz], btype="bandpass", fs=self.line_rate, output="sos")
        line = np.clip(sosfiltfilt(sos, line), -1.0, 1.0)
        if self.codec != "none":
            line = g711_expand(g711_compress(line, self.codec), self.codec)
        return soxr.resample(line.astype(np.float32), self.line_rate, rate)


MU, A = 255.0, 87.6


def g711_compress(x: np.ndarray, law: str) -> np.ndarray:
    """Samples in [-1, 1] -> 8-bit codes 0..255 on the mu-law or A-law curve."""
    ax = np.abs(x)
    if law == "mulaw":
        y = np.log1p(MU * ax) / np.log1p(MU)
    else:
        y = np.where(ax < 1 / A, A * ax, 1 + np.log(np.maximum(A * ax, 1e-12))) / (1 + np.log(A))
    return np.round((np.sign(x) * y + 1) * 127.5).astype(np.uint8)


def g711_expand(codes: np.ndarray, law: str) -> np.ndarray:
    y = codes.astype(np.float64) / 127.5 - 1
    ay = np.abs(y)
    if law == "mulaw":
        x = np.expm1(ay * np.log1p(MU)) / MU
    else:
        t = ay * (1 + np.log(A))
        x = np.where(t < 1, t / A, np.exp(t - 1) / A)
    return np.sign(y) * x


@register
@dataclass(frozen=True)
class Noise(Channel):
    """Additive noise at `snr_db` below the clip's own power (over the whole clip): stationary `white` or
    `pink` (1/f), or `babble`, a mix of four other speakers' clips (passed as `others`)."""

    name: ClassVar[str] = "noise"
    masks: ClassVar[bool] = True
    # loud noise (SNR below this) moves and shrinks the speaker vector more than soft noise does, so each is a
    # family of its own: voxage 0.13's protocol run raised the mean over conditions in both protocols and English
    # pink noise from 83% to 86% of clean (docs/robustness.md, "voxage 0.13"); rooms split so paid on short rooms
    # and stay whole
    loud_below_db: ClassVar[float] = 15.0
    snr_db: float = 10.0
    kind: str = "white"

    def __post_init__(self):
        if self.kind not in ("white", "pink", "babble"):
            raise ValueError(f"kind must be white, pink or babble, not {self.kind!r}")

    @property
    def loud(self) -> bool:
        return self.snr_db < self.loud_below_db

    @property
    def family(self) -> str:
        return f"{self.name}-{self.kind}-{'loud' if self.loud else 'soft'}"

    @property
    def mixes_voices(self) -> bool:
        return self.kind == "babble"

    def apply(self, wave, rate, rng, others):
        n = len(wave)
        if self.kind == "white":
            noise = rng.standard_normal(n)
        elif self.kind == "pink":
            spectrum = np.fft.rfft(rng.standard_normal(n))
            spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1))
            noise = np.fft.irfft(spectrum, n)
        else:
            noise = babble(others, n, rng)
        gain = np.sqrt(_power(wave) / max(_power(noise), 1e-20) / 10 ** (self.snr_db / 10))
        return wave + gain * noise


BABBLE_VOICES = 4  # other speakers mixed into babble noise


def babble(others: Sequence[np.ndarray], n: int, rng: np.random.Generator, voices: int = BABBLE_VOICES) -> np.ndarray:
    """`voices` other clips, each looped to `n` samples from a random start and brought to the same power."""
    voiced = [np.asarray(o, dtype=np.float64) for o in others if _power(o) > 0]
    if not voiced:
        raise ConfigError("babble noise needs other speakers' clips (none given)")
    mix = np.zeros(n)
    for i in rng.choice(len(voiced), size=voices, replace=len(voiced) < voices):
        clip = voiced[i]
        looped = np.resize(np.roll(clip, -int(rng.integers(len(clip)))), n)
        mix += looped / np.sqrt(_power(looped) + 1e-20)
    return mix


@register
@dataclass(frozen=True)
class Room(Channel):
    """A reverberant room: the clip convolved with one of `rooms` simulated shoebox impulse responses
    (pyroomacoustics' image method, random sizes 3-10 x 3-8 x 2.5-4 m, source and microphone at least 0.5 m from
    the walls), each decay corrected to exactly `rt60_s`; loudness kept (gain is a channel of its own)."""

    name: ClassVar[str] = "room"
    masks: ClassVar[bool] = True
    rt60_s: float = 0.6
    rooms: int = field(default=16, metadata=DETAIL)
    seed: int = field(default=0, metadata=DETAIL)

    def __post_init__(self):
        if not 0.05 <= self.rt60_s <= 3:
            raise ValueError(f"rt60_s must be within 0.05-3 s, got {self.rt60_s}")

    def apply(self, wave, rate, rng, others):
        from scipy.signal import fftconvolve

        bank = room_impulse_responses(self.rt60_s, self.rooms, self.seed, rate)
        wet = fftconvolve(wave.astype(np.float64), bank[int(rng.integers(len(bank)))])[: len(wave)]
        return wet * np.sqrt(_power(wave) / max(_power(wet), 1e-20))


@lru_cache(maxsize=24)
def room_impulse_responses(rt60_s: float, rooms: int, seed: int, rate: int) -> tuple[np.ndarray, ...]:
    """`rooms` impulse responses starting at their direct path, each with an energy decay of 60 dB in `rt60_s`."""
    import pyroomacoustics as pra

    rng = np.random.default_rng([seed, int(rt60_s * 1000), rate])
    bank = []
    for _ in range(rooms):
        size = rng.uniform([3.0, 3.0, 2.5], [10.0, 8.0, 4.0])
        absorption, order = pra.inverse_sabine(rt60_s, size)
        room = pra.ShoeBox(size, fs=rate, materials=pra.Material(absorption), max_order=min(order, 60))
        room.add_source(rng.uniform(0.5, size - 0.5))
        room.add_microphone(rng.uniform(0.5, size - 0.5))
        room.compute_rir()
        rir = np.asarray(room.rir[0][0], dtype=np.float64)
        rir = rir[max(0, int(np.argmax(np.abs(rir))) - int(0.002 * rate)):]  # from 2 ms before the direct path
        t = np.arange(len(rir)) / rate
        for _ in range(4):  # an exponential envelope moves the decay from `measured` towards `rt60_s`
            measured = float(pra.experimental.measure_rt60(rir, fs=rate, decay_db=30))
            rir = rir * np.exp(-3 * np.log(10) * t * (1 / rt60_s - 1 / measured))
        bank.append(rir / np.sqrt(np.sum(rir ** 2)))
    return tuple(bank)


@register
@dataclass(frozen=True)
class Gain(Channel):
    """A quiet or a hot microphone: `gain_db` applied, then whatever exceeds full scale clipped, as a converter
    does (+20 dB on ordinary speech clips hard)."""

    name: ClassVar[str] = "gain"
    gain_db: float = -30.0

    @property
    def degrades(self) -> bool:  # a hot microphone clips; a quiet one keeps the voice
        return self.gain_db > 0

    @property
    def masks(self) -> bool:
        return self.degrades

    @property
    def family(self) -> str:
        return f"{self.name}-{'hot' if self.gain_db > 0 else 'quiet'}"

    def apply(self, wave, rate, rng, others):
        return np.clip(wave * 10 ** (self.gain_db / 20), -1.0, 1.0)


@register
@dataclass(frozen=True)
class Mp3(Channel):
    """MP3 at low bitrate (LAME's VBR quality 0-9, 9 the lowest; pedalboard, which keeps timing and length)."""

    name: ClassVar[str] = "mp3"
    degrades: ClassVar[bool] = False
    vbr_quality: float = 9.0

    def apply(self, wave, rate, rng, others):
        from pedalboard import MP3Compressor

        return MP3Compressor(vbr_quality=self.vbr_quality)(wave[None], rate)[0]


@register
@dataclass(frozen=True)
class Opus(Channel):
    """Opus in Ogg through libsndfile (soundfile); `compression_level` 0-1, 1 the lowest bitrate (0.95: about
    18 kbit/s for speech at 16 kHz)."""

    name: ClassVar[str] = "opus"
    compression_level: float = 0.95

    def apply(self, wave, rate, rng, others):
        import soundfile as sf

        buf = io.BytesIO()
        sf.write(buf, wave, rate, format="OGG", subtype="OPUS", compression_level=self.compression_level)
        buf.seek(0)
        return sf.read(buf, dtype="float32")[0]


@register
@dataclass(frozen=True)
class Gsm(Channel):
    """GSM 06.10 full-rate, the mobile-phone codec (13 kbit/s at 8 kHz; pedalboard resamples in and out)."""

    name: ClassVar[str] = "gsm"
    degrades: ClassVar[bool] = False

    def apply(self, wave, rate, rng, others):
        from pedalboard import GSMFullRateCompressor

        return GSMFullRateCompressor()(wave[None], rate)[0]


AUGMENT_VERSION = 1  # bump when `random_channel` draws differently: training copies are cached per version


def random_channel(rng: np.random.Generator) -> Channel:
    """The channel of one training copy: one family, drawn evenly, at a random strength (SNR 5-25 dB, RT60
    0.2-1.0 s, -35 to -10 or +6 to +20 dB, MP3 VBR quality 6-9 or GSM). Its rooms come from another bank (seed 1)
    than the protocol's (seed 0), so no room a model is tested in was heard in training."""
    family = rng.integers(5)
    if family == 0:
        return Telephone(codec=str(rng.choice(["mulaw", "alaw", "none"])))
    if family == 1:
        return Noise(snr_db=round(float(rng.uniform(5, 25)), 1), kind=str(rng.choice(["white", "pink", "babble"])))
    if family == 2:
        return Room(rt60_s=round(float(rng.choice(np.arange(0.2, 1.05, 0.1))), 1), seed=1)
    if family == 3:
        quiet, hot = rng.uniform(-35, -10), rng.uniform(6, 20)
        return Gain(gain_db=round(float(quiet if rng.random() < 0.5 else hot), 1))
    return Mp3(vbr_quality=float(rng.integers(6, 10))) if rng.random() < 0.5 else Gsm()
