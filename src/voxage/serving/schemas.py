"""The API's contract: every body the service sends, as pydantic models, so `/openapi.json` says exactly what a
client gets (schemathesis checks the two against each other in the tests)."""

from __future__ import annotations

from enum import Enum
from typing import Literal

from pydantic import BaseModel, Field

from voxage.labels import AGE_GROUPS, GENDERS

AgeGroup = Enum("AgeGroup", {g: g for g in AGE_GROUPS}, type=str)  # "sixties" holds 60 and older
Gender = Enum("Gender", {g: g for g in GENDERS}, type=str)


class Quality(BaseModel):
    """What the recording's own sound says of itself."""

    speech_seconds: float = Field(ge=0, description="seconds the voice-activity detector hears speech in")
    snr_db: float = Field(description="estimated signal-to-noise ratio of the speech, dB (60: no measurable noise)")
    clipped_fraction: float = Field(ge=0, le=1, description="share of samples at full scale")
    bandwidth_hz: float = Field(ge=0, description="highest frequency the speech reaches (a phone line: 3,700-3,800 Hz)")


# unfamiliar_recording: the model's familiarity check: a room, noise, a line or a studio unlike its training speech
UnreliableReason = Literal["little_speech", "noisy", "clipped", "narrowband", "unfamiliar_recording"]


class Prediction(BaseModel):
    age_group: AgeGroup
    probabilities: dict[AgeGroup, float] = Field(description="all six groups, calibrated, summing to 1")
    duration_s: float = Field(ge=0, description="length of the audio judged, seconds")
    reliable: bool = Field(description="false: the recording lies outside what the model was trained and validated "
                                       "on (too little speech, noise, clipping, a phone line, a room or device unlike "
                                       "its training speech); do not act on the guess")
    unreliable_reasons: list[UnreliableReason] | None = Field(None, description="why not, when reliable is false")
    quality: Quality | None = None
    gender: Gender | None = Field(None, description="for models with a gender output (the bundled one)")
    gender_probabilities: dict[Gender, float] | None = None


class Title(BaseModel):
    title: str
    year: int
    rating: Literal["G", "PG", "PG-13", "R"]
    audience: list[AgeGroup]


class Recommendations(BaseModel):
    age_group: AgeGroup
    titles: list[Title]


class Health(BaseModel):
    status: Literal["ok"]
    model: str
    classes: list[AgeGroup]


class Error(BaseModel):
    """Every 4xx answer: a sentence for people, a tag for programs."""

    detail: str = Field(description="what is wrong, in words")
    reason: str = Field(description="short tag, e.g. undecodable, too_short, silent, too_large, invalid_request, "
                                    "unauthorized, rate_limited")


# ---- /api/stream: the messages a stream sends, and the close codes that end it -----------------------------------

class StreamEstimate(Prediction):
    """An estimate of a stream's voice: `interim` about every 2 s of new speech, `final` once after `end`."""

    type: Literal["interim", "final"]
    seconds: float = Field(ge=0, description="audio received so far, seconds")
    speech_seconds: float = Field(ge=0, description="of which the voice-activity detector heard as speech")
    stream_sid: str | None = Field(None, description="the telephony platform's stream id, on its own endpoints")


class StreamError(BaseModel):
    """Sent before the server closes a stream with the close code of `reason` (`STREAM_CLOSE_CODES`)."""

    type: Literal["error"]
    detail: str = Field(description="what is wrong, in words")
    reason: str = Field(description="bad_format, malformed, too_long, idle, unauthorized, rate_limited, or why the "
                                    "audio cannot be judged (too_short, silent)")


class StreamEnd(BaseModel):
    """The one text message a client sends: no more audio, judge it all."""

    type: Literal["end"]


# WebSocket close codes after an error message, in the 4000-4999 range applications own: 4000 + the HTTP status
# the same problem gets on the HTTP API. A stream that ended well closes with 1000.
STREAM_CLOSE_CODES = {"malformed": 4400, "unauthorized": 4401, "idle": 4408, "too_long": 4413, "bad_format": 4415,
                      "too_short": 4422, "silent": 4422, "rate_limited": 4429}


def errors(*codes: int) -> dict:
    """The `responses=` entry of a route that can answer these 4xx codes, all with the Error body."""
    what = {400: "malformed multipart body", 401: "missing or wrong API key", 413: "upload too large",
            415: "not decodable audio",
            422: "invalid request, or audio that cannot be judged (too short, silent)", 429: "too many requests"}
    return {code: {"model": Error, "description": what[code]} for code in codes}
