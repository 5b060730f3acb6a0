"""The WebSocket endpoints: `/api/stream` (raw audio in binary messages) and `/api/stream/twilio` (Twilio Media
Streams' own JSON events), both answering `schemas.StreamEstimate` messages while audio arrives.

Each stream is one `inference.stream.StreamSession`, fed in the request threads so the event loop keeps serving
the other streams; a stream that goes wrong gets a `schemas.StreamError` and a close code and disturbs no other.
A browser cannot set headers on a WebSocket, so the API key also comes as a `bearer.KEY` subprotocol or a `key`
query parameter (Twilio: a `<Parameter name="key">` of the `<Stream>`, read from the `start` event).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from voxage.audio import AudioError
from voxage.errors import ConfigError
from voxage.inference import Predictor
from voxage.inference.stream import StreamFormat, StreamLimits, StreamSession
from voxage.serving.guard import ApiError, RateLimiter, check_key
from voxage.serving.schemas import STREAM_CLOSE_CODES

log = logging.getLogger(__name__)
KEY_PROTOCOL = "bearer."  # Sec-WebSocket-Protocol: bearer.KEY
TWILIO_ENCODINGS = {"audio/x-mulaw": "mulaw", "audio/x-alaw": "alaw"}


class StreamFailure(Exception):
    """Ends a stream: the error message to send, then the close code of its reason."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def _offered_key(ws: WebSocket) -> tuple[str | None, str | None]:
    """(the key the client sent, the subprotocol to accept) from a subprotocol, the query or the header."""
    for protocol in ws.scope.get("subprotocols", []):
        if protocol.startswith(KEY_PROTOCOL):
            return protocol[len(KEY_PROTOCOL):], protocol
    if "key" in ws.query_params:
        return ws.query_params["key"], None
    auth = ws.headers.get("authorization", "")
    return (auth.partition(" ")[2].strip() or None) if auth.lower().startswith("bearer ") else None, None


class Streams:
    """The stream endpoints of one app: its predictor, key and rate limiter."""

    def __init__(self, predictor: Predictor, api_key: str | None, limiter: RateLimiter | None,
                 limits: StreamLimits | None = None):
        self.predictor, self.api_key, self.limiter = predictor, api_key, limiter
        self.limits = limits or StreamLimits()

    def authorise(self, key: str | None) -> None:
        try:
            check_key(self.api_key, f"Bearer {key}" if key else None)
        except ApiError:
            raise StreamFailure("unauthorized", "send the API key as a 'bearer.KEY' subprotocol, a 'key' query "
                                                "parameter or 'Authorization: Bearer KEY'") from None

    def throttle(self, ws: WebSocket) -> None:
        if self.limiter is not None:
            try:
                self.limiter.take(ws.client.host if ws.client else "unknown")
            except ApiError as err:
                raise StreamFailure("rate_limited", err.detail) from None

    async def receive(self, ws: WebSocket) -> dict:
        """The next message; StreamFailure when none comes within the idle limit."""
        try:
            async with asyncio.timeout(self.limits.idle_seconds):  # no task per message, unlike wait_for
                return await ws.receive()
        except TimeoutError:
            raise StreamFailure("idle", f"nothing received for {self.limits.idle_seconds:g} s") from None

    async def feed(self, ws: WebSocket, session: StreamSession, data: bytes, extra: dict) -> None:
        """Decoding a message is cheap and stays on the event loop; an interim estimate goes to a thread."""
        try:
            due = session.add(data)
        except AudioError as err:  # past the length limit
            raise StreamFailure(err.reason, str(err)) from None
        interim = await run_in_threadpool(session.interim) if due else None
        if interim is not None:
            await ws.send_json({**interim, **extra})

    async def finish(self, ws: WebSocket, session: StreamSession, extra: dict) -> None:
        try:
            final = await run_in_threadpool(session.final)
        except AudioError as err:
            raise StreamFailure(err.reason, str(err)) from None
        await ws.send_json({**final, **extra})
        await ws.close(1000)

    async def run(self, ws: WebSocket, handler) -> None:
        """Accept, run `handler(ws)`, and turn any StreamFailure into an error message and its close code."""
        key, protocol = _offered_key(ws)
        await ws.accept(subprotocol=protocol)
        try:
            self.throttle(ws)
            await handler(ws, key)
        except StreamFailure as failure:
            await ws.send_json({"type": "error", "detail": failure.detail, "reason": failure.reason})
            await ws.close(STREAM_CLOSE_CODES.get(failure.reason, 4400))
        except WebSocketDisconnect:
            pass  # the client left; nothing to answer

    async def raw(self, ws: WebSocket, key: str | None) -> None:
        self.authorise(key)
        try:
            fmt = StreamFormat(ws.query_params.get("encoding", "pcm16"), int(ws.query_params.get("sample_rate", 8000)))
        except (ConfigError, ValueError) as err:
            raise StreamFailure("bad_format", str(err)) from None
        session = StreamSession(self.predictor, fmt, self.limits)
        while True:
            message = await self.receive(ws)
            if message["type"] == "websocket.disconnect":
                return
            if message.get("bytes") is not None:
                await self.feed(ws, session, message["bytes"], {})
            elif _is_end(message.get("text")):
                return await self.finish(ws, session, {})
            else:
                raise StreamFailure("malformed", 'binary messages carry audio; the one text message is {"type": "end"}')

    async def twilio(self, ws: WebSocket, key: str | None) -> None:
        """Twilio Media Streams: `connected`, `start` (the media format, custom parameters), `media` (base64
        payloads, `track` inbound or outbound), `stop`; `mark` and `dtmf` are let pass."""
        session, extra = None, {}
        track = ws.query_params.get("track", "inbound")
        while True:
            message = await self.receive(ws)
            if message["type"] == "websocket.disconnect":
                return
            event = _json(message.get("text"))
            kind = event.get("event")
            if kind == "start":
                start = event.get("start") or {}
                self.authorise(key or (start.get("customParameters") or {}).get("key"))
                media = start.get("mediaFormat") or {}
                encoding = TWILIO_ENCODINGS.get(media.get("encoding", "audio/x-mulaw"))
                if encoding is None:
                    raise StreamFailure("bad_format", f"unknown Twilio encoding {media.get('encoding')!r}")
                try:
                    fmt = StreamFormat(encoding, int(media.get("sampleRate", 8000)))
                except (ConfigError, ValueError) as err:
                    raise StreamFailure("bad_format", str(err)) from None
                session = StreamSession(self.predictor, fmt, self.limits)
                extra = {"stream_sid": event.get("streamSid") or start.get("streamSid")}
            elif kind == "media":
                if session is None:
                    raise StreamFailure("malformed", "a media event before the start event")
                media = event.get("media") or {}
                if media.get("track", "inbound") != track:
                    continue
                try:
                    payload = base64.b64decode(media.get("payload", ""), validate=True)
                except (binascii.Error, TypeError):
                    raise StreamFailure("malformed", "a media payload that is not base64") from None
                await self.feed(ws, session, payload, extra)
            elif kind == "stop":
                if session is None:
                    raise StreamFailure("malformed", "a stop event before the start event")
                return await self.finish(ws, session, extra)
            elif kind not in ("connected", "mark", "dtmf"):
                raise StreamFailure("malformed", f"not a Twilio Media Streams event: {str(kind)[:40]!r}")


def _json(text: str | None) -> dict:
    try:
        value = json.loads(text) if text is not None else None
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise StreamFailure("malformed", "expected a JSON object")
    return value


def _is_end(text: str | None) -> bool:
    try:
        return text is not None and _json(text).get("type") == "end"
    except StreamFailure:
        return False


def add_stream_routes(app: FastAPI, streams: Streams) -> None:
    @app.websocket("/api/stream")
    async def stream(ws: WebSocket):
        await streams.run(ws, streams.raw)

    @app.websocket("/api/stream/twilio")
    async def twilio(ws: WebSocket):
        await streams.run(ws, streams.twilio)
