"""`/api/stream` and `/api/stream/twilio` on a real `voxage serve`, driven by a real WebSocket client (websockets),
with a real clip sent as 8 kHz mu-law and as 16 kHz pcm16 in 20 ms frames."""

from __future__ import annotations

import asyncio
import base64
import json

import numpy as np
import pytest
import soundfile as sf
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from voxage.audio import conform, g711, load_audio
from voxage.audio.io import to_pcm16
from voxage.cli import main
from voxage.inference import Predictor
from voxage.inference.stream import StreamFormat, StreamSession

from .conftest import SHARED_CV, speech_clips
from .test_serving import _serve

KEY = "stream-test-key"
MAX_SECONDS, IDLE_SECONDS = 20, 1.5
FINAL_TOLERANCE = 1e-6  # the final answer is Predictor.predict of the same samples


@pytest.fixture(scope="module")
def server():
    yield from _serve("--api-key", KEY, "--stream-max-seconds", str(MAX_SECONDS), "--stream-idle-seconds",
                      str(IDLE_SECONDS))


@pytest.fixture(scope="module")
def clip(synthetic_corpus):
    """A real Common Voice clip where CI has them (else a synthetic voice), twice over: about 10 s."""
    path = sorted((SHARED_CV / "clips").glob("*.mp3"))[7] if (SHARED_CV / "clips").is_dir() else \
        speech_clips(synthetic_corpus, 1)[0]
    return path


def _frames(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def _ws(server: str, path: str = "/api/stream", **query) -> str:
    params = "&".join(f"{k}={v}" for k, v in query.items())
    return server.replace("http://", "ws://") + path + (f"?{params}" if params else "")


async def _stream(url: str, frames: list[bytes], end: bool = True, **kwargs) -> tuple[list[dict], int | None]:
    """Send the frames, then {"type": "end"}; every message the server sent, and its close code."""
    messages = []
    async with connect(url, **kwargs) as ws:
        async def listen():
            try:
                async for m in ws:
                    messages.append(json.loads(m))
            except ConnectionClosed:
                pass

        listener = asyncio.create_task(listen())
        try:
            for f in frames:
                await ws.send(f)
            if end:
                await ws.send(json.dumps({"type": "end"}))
        except ConnectionClosed:
            pass
        await asyncio.wait_for(listener, 60)
        return messages, ws.close_code


def _calls(clip, encoding: str, rate: int, gain_db: float = 0.0) -> tuple[bytes, np.ndarray, int]:
    """The clip as a call would carry it (`gain_db` louder, clipped at full scale), and what the server decodes."""
    wave = load_audio(clip, rate)
    wave = np.clip(np.concatenate([wave, wave]) * 10 ** (gain_db / 20), -1.0, 1.0)
    if encoding == "pcm16":
        data = to_pcm16(wave).astype("<i2").tobytes()
    else:
        data = g711.encode(wave, encoding)
    return data, StreamFormat(encoding, rate).decode(data), rate * 2 // 100 * (2 if encoding == "pcm16" else 1)


@pytest.mark.parametrize("encoding,rate", [("mulaw", 8000), ("pcm16", 16000)])
def test_interims_then_a_final_equal_to_voxage_predict(server, clip, encoding, rate, tmp_path, capsys):
    data, decoded, frame = _calls(clip, encoding, rate)
    messages, code = asyncio.run(_stream(_ws(server, encoding=encoding, sample_rate=rate, key=KEY),
                                         _frames(data, frame)))
    interims = [m for m in messages if m["type"] == "interim"]
    assert code == 1000 and messages[-1]["type"] == "final" and len(interims) >= 2
    assert [m["seconds"] for m in interims] == sorted(m["seconds"] for m in interims)
    assert all(set(m["probabilities"]) == set(Predictor().classes) and m["gender"] for m in interims)
    final = messages[-1]
    assert final["seconds"] == pytest.approx(len(decoded) / rate, abs=1e-3) and "reliable" in final
    # what `voxage predict` says of the same decoded audio, written losslessly (the samples are 16-bit values)
    wav = tmp_path / "decoded.wav"
    sf.write(wav, decoded, rate, subtype="PCM_16")
    capsys.readouterr()
    assert main(["predict", str(wav), "--json"]) == 0
    expected = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert final["age_group"] == expected["age_group"]
    assert max(abs(final["probabilities"][g] - p) for g, p in expected["probabilities"].items()) <= FINAL_TOLERANCE


def test_bad_streams_get_an_error_and_a_close_code_while_another_completes(server, clip):
    data, _, frame = _calls(clip, "mulaw", 8000)
    good = _stream(_ws(server, encoding="mulaw", sample_rate=8000, key=KEY), _frames(data, frame))
    unknown = _stream(_ws(server, encoding="opus", key=KEY), [b"\0" * 160])
    garbage = _stream(_ws(server, encoding="mulaw", key=KEY), [b"\xff" * 160, "this is not JSON"], end=False)
    too_long = _stream(_ws(server, encoding="mulaw", sample_rate=8000, key=KEY),
                       _frames(b"\xff" * 8000 * (MAX_SECONDS + 1), 1600))
    idle = _stream(_ws(server, encoding="mulaw", key=KEY), [], end=False)

    async def together():
        return await asyncio.gather(good, unknown, garbage, too_long, idle)

    (ok, ok_code), *bad = asyncio.run(together())
    assert ok_code == 1000 and ok[-1]["type"] == "final"
    expected = [("bad_format", 4415), ("malformed", 4400), ("too_long", 4413), ("idle", 4408)]
    for (messages, code), (reason, close_code) in zip(bad, expected):
        assert messages[-1]["type"] == "error" and messages[-1]["reason"] == reason and messages[-1]["detail"]
        assert code == close_code


def test_the_socket_needs_the_key_as_a_subprotocol_a_query_or_a_header(server, clip):
    data, _, frame = _calls(clip, "mulaw", 8000)
    frames = _frames(data[: 8000 * 3], frame)
    url = _ws(server, encoding="mulaw", sample_rate=8000)
    refused, code = asyncio.run(_stream(url, frames))
    assert refused == [refused[0]] and refused[0]["reason"] == "unauthorized" and code == 4401
    wrong, code = asyncio.run(_stream(_ws(server, encoding="mulaw", key="wrong"), frames))
    assert wrong[0]["reason"] == "unauthorized" and code == 4401
    for kwargs in ({"subprotocols": [f"bearer.{KEY}"]}, {"additional_headers": {"Authorization": f"Bearer {KEY}"}}):
        served, code = asyncio.run(_stream(url, frames, **kwargs))
        assert code == 1000 and served[-1]["type"] == "final", kwargs


def _twilio_call(data: bytes, key: str | None = KEY) -> list[str]:
    sid = "MZ0123456789abcdef0123456789abcdef"
    start = {"event": "start", "sequenceNumber": "1", "streamSid": sid,
             "start": {"streamSid": sid, "accountSid": "AC0", "callSid": "CA0", "tracks": ["inbound", "outbound"],
                       "customParameters": {"key": key} if key else {},
                       "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}
    events = [{"event": "connected", "protocol": "Call", "version": "1.0.0"}, start]
    for n, chunk in enumerate(_frames(data, 160)):
        for track, payload in (("inbound", chunk), ("outbound", b"\x7f" * len(chunk))):  # the agent: silence
            events.append({"event": "media", "sequenceNumber": str(len(events)), "streamSid": sid,
                           "media": {"track": track, "chunk": str(n + 1), "timestamp": str(20 * n),
                                     "payload": base64.b64encode(payload).decode()}})
    events.append({"event": "mark", "streamSid": sid, "mark": {"name": "greeting"}})
    events.append({"event": "stop", "sequenceNumber": str(len(events)), "streamSid": sid,
                   "stop": {"accountSid": "AC0", "callSid": "CA0"}})
    return [json.dumps(e) for e in events]


def test_twilio_media_streams_events_are_judged_as_the_caller(server, clip):
    data, decoded, _ = _calls(clip, "mulaw", 8000)
    messages, code = asyncio.run(_stream(_ws(server, "/api/stream/twilio"), _twilio_call(data), end=False))
    assert code == 1000 and messages[-1]["type"] == "final"
    assert {m["stream_sid"] for m in messages} == {"MZ0123456789abcdef0123456789abcdef"}
    assert any(m["type"] == "interim" for m in messages)
    expected = Predictor().predict(decoded, sample_rate=8000)  # the inbound track alone
    assert max(abs(messages[-1]["probabilities"][g] - p) for g, p in expected.probabilities.items()) <= 1e-6
    refused, code = asyncio.run(_stream(_ws(server, "/api/stream/twilio"), _twilio_call(data[:1600], key=None),
                                        end=False))
    assert refused[-1]["reason"] == "unauthorized" and code == 4401


@pytest.mark.parametrize("gain_db", [0, 20])
def test_interims_encode_each_window_once_and_stay_near_judging_at_once(clip, gain_db):
    """The cost of an interim is the windows it adds; judged on all the audio, an interim is close to the final,
    also from a clipping microphone (+20 dB), whose level the front-end lowers."""
    data, decoded, frame = _calls(clip, "mulaw", 8000, gain_db)
    predictor = Predictor()
    session = StreamSession(predictor, StreamFormat("mulaw", 8000))
    for f in _frames(data, frame):
        session.feed(f)
    windows = len(predictor.model_inputs(conform(decoded, 8000, predictor.sample_rate, "call"))[0])
    interim = session._interim()  # all the audio judged (the last interim may have come before the end)
    runs = session.incremental.encoder_runs
    assert windows <= runs <= 1.5 * windows  # a window is encoded again only when the voice got quieter
    final = session.final()
    assert max(abs(interim.probabilities[g] - final["probabilities"][g]) for g in final["probabilities"]) < 0.02


def test_the_call_routing_example_routes_a_call(server, clip, tmp_path):
    import importlib.util

    from .conftest import ROOT

    data, decoded, _ = _calls(clip, "mulaw", 8000)
    call = tmp_path / "call.ulaw"
    call.write_bytes(data)
    spec = importlib.util.spec_from_file_location("route_call", ROOT / "examples" / "route_call.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    queue = asyncio.run(example.route(str(call), server.replace("http://", "ws://"), KEY, pace=0))
    heard = Predictor().predict(decoded, sample_rate=8000)
    assert not heard.reliable  # a phone line: no interim is acted on, so the final answer routes the call
    assert queue == example.QUEUES.get(heard.age_group, "general")


def test_the_readme_shows_the_example_as_it_is():
    from .conftest import ROOT

    assert (ROOT / "examples" / "route_call.py").read_text().strip() in (ROOT / "README.md").read_text()


def test_new_streams_count_against_the_rate_limit():
    from fastapi.testclient import TestClient
    from starlette.websockets import WebSocketDisconnect

    from voxage.serving.app import ServerConfig, create_app

    client = TestClient(create_app(ServerConfig(rate_limit=60)))  # a burst of one, then one a second
    with client.websocket_connect("/api/stream?encoding=mulaw") as first:
        first.send_bytes(b"\xff" * 160)
        with client.websocket_connect("/api/stream?encoding=mulaw") as second:
            refused = second.receive_json()
            with pytest.raises(WebSocketDisconnect) as closed:
                second.receive_json()
    assert refused["reason"] == "rate_limited" and closed.value.code == 4429


def test_a_long_call_keeps_only_what_is_judged_and_still_equals_predict(clip):
    """Past the model's max_seconds (60 s) the samples are counted, not kept: a stream's memory stays bounded."""
    data, decoded, frame = _calls(clip, "mulaw", 8000)
    predictor = Predictor()
    call = data * (int(70 * 8000 / len(data)) + 1)  # over 70 s
    session = StreamSession(predictor, StreamFormat("mulaw", 8000))
    for f in _frames(call, 8000):
        session.feed(f)
    assert session.seconds == pytest.approx(len(call) / 8000) and len(session.audio()) == 60 * 8000
    whole = predictor.predict(StreamFormat("mulaw", 8000).decode(call), sample_rate=8000)
    assert max(abs(session.final()["probabilities"][g] - p) for g, p in whole.probabilities.items()) <= 1e-6
