"""The REST API over a real uvicorn server on loopback, and the recording page in headless Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf

from voxage.labels import AGE_GROUPS
from voxage.serving.recommend import RATING_ORDER, recommend

CHROMIUM = Path("/usr/bin/chromium")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(*args: str):
    """`voxage serve` on a free loopback port, until the module's tests are done."""
    port = _free_port()
    with subprocess.Popen([sys.executable, "-m", "voxage", "serve", "--port", str(port), *args],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as proc:  # closes the pipe at the end
        url = f"http://127.0.0.1:{port}"
        for _ in range(120):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            proc.kill()
            raise RuntimeError(proc.stdout.read().decode())
        yield url
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def server(small_model):
    yield from _serve("--model", str(small_model), "--max-upload-mb", "1")


def test_health_and_openapi(server):
    assert httpx.get(f"{server}/health").json()["status"] == "ok"
    schema = httpx.get(f"{server}/openapi.json").json()
    assert "/api/predict" in schema["paths"] and "/api/recommend" in schema["paths"]


@pytest.mark.parametrize("fmt,name", [("MP3", "clip.mp3"), ("WAV", "clip.wav"), ("FLAC", "clip.flac"),
                                      ("OGG", "clip.ogg")])
def test_predict_formats(server, synthetic_corpus, tmp_path, fmt, name):
    wave, rate = sf.read(next((synthetic_corpus / "clips").glob("*.mp3")), dtype="float32")
    sf.write(tmp_path / name, wave, rate, format=fmt)
    r = httpx.post(f"{server}/api/predict", files={"audio": (name, (tmp_path / name).read_bytes())}, timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body["probabilities"]) == set(AGE_GROUPS) and body["age_group"] in AGE_GROUPS
    assert abs(sum(body["probabilities"].values()) - 1) < 1e-6 and body["duration_s"] > 1


def test_predict_webm_from_a_browser_recorder(server, synthetic_corpus, tmp_path):
    _require("ffmpeg", shutil.which("ffmpeg") is not None)
    clip = next((synthetic_corpus / "clips").glob("*.mp3"))
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(clip), "-c:a", "libopus",
                    str(tmp_path / "rec.webm")], check=True)
    r = httpx.post(f"{server}/api/predict", files={"audio": ("rec.webm", (tmp_path / "rec.webm").read_bytes())})
    assert r.status_code == 200, r.text
    assert abs(sum(r.json()["probabilities"].values()) - 1) < 1e-6


def test_bad_uploads_get_4xx_with_a_message(server):
    junk = httpx.post(f"{server}/api/predict", files={"audio": ("x.mp3", b"not audio" * 50)})
    assert junk.status_code == 415 and "cannot decode" in junk.json()["detail"]
    big = httpx.post(f"{server}/api/predict", files={"audio": ("big.wav", b"0" * (2 << 20))})
    assert big.status_code == 413 and "larger than" in big.json()["detail"]

    def chunked():  # no Content-Length: the limit must hold while the body streams in
        yield b"--x\r\nContent-Disposition: form-data; name=\"audio\"; filename=\"a.wav\"\r\n\r\n"
        for _ in range(40):
            yield b"0" * 65536

    streamed = httpx.post(f"{server}/api/predict", content=chunked(),
                          headers={"content-type": "multipart/form-data; boundary=x"})
    assert streamed.status_code == 413
    assert httpx.post(f"{server}/api/predict").status_code == 422
    assert httpx.get(f"{server}/api/recommend", params={"age_group": "toddlers"}).status_code == 422


def test_recommendations_respect_ratings(server):
    body = httpx.get(f"{server}/api/recommend", params={"age_group": "teens"}).json()
    assert body["titles"] and all(RATING_ORDER.index(t["rating"]) <= RATING_ORDER.index("PG-13")
                                  for t in body["titles"])
    for group in AGE_GROUPS:
        assert all(group in t["audience"] for t in recommend(group))


def _speech_wav(path: Path, synthetic_corpus: Path) -> Path:
    """A real clip, repeated to 10 s, as Chromium's fake microphone input (16-bit WAV)."""
    wave, rate = sf.read(next((synthetic_corpus / "clips").glob("*.mp3")), dtype="float32")
    sf.write(path, np.tile(wave, int(np.ceil(10 * rate / len(wave))))[: 10 * rate], rate, subtype="PCM_16")
    return path


def _require(tool: str, present: bool) -> None:
    """Skip on a developer machine without the tool; fail in CI, which installs it."""
    if not present:
        (pytest.fail if os.environ.get("CI") else pytest.skip)(f"{tool} not installed (.ci/run installs it)")


def test_browser_records_microphone_and_shows_prediction(server, synthetic_corpus, tmp_path, output_dir):
    _require("chromium", CHROMIUM.exists())
    from playwright.sync_api import sync_playwright

    mic = _speech_wav(tmp_path / "mic.wav", synthetic_corpus)
    args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream", f"--use-file-for-fake-audio-capture={mic}"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=args, headless=True)
        page = browser.new_page()
        page.goto(server + "/")
        page.click("#record")
        started = time.time()
        # live: an interim estimate fills the bars while recording, and the meter shows the microphone works
        page.wait_for_function("document.querySelectorAll('#bars .bar').length === 6", timeout=20000)
        assert page.is_enabled("#stop") and "Recording" in page.inner_text("#status")
        assert "speech heard" in page.inner_text("#heard")
        assert float(page.eval_on_selector("#level", "m => m.value")) > 0
        assert not page.query_selector_all("#recommendations li")  # suggestions wait for the final answer
        page.wait_for_timeout(1000)
        page.click("#stop")
        recorded = time.time() - started
        page.wait_for_selector("#recommendations li", timeout=30000)
        assert page.inner_text("#age-group").split()[0].lower() in AGE_GROUPS
        assert len(page.query_selector_all("#bars .bar")) == 6
        assert "Judged" in page.inner_text("#status")
        judged = float(page.inner_text("#status").split()[1])
        assert 2.0 <= judged <= recorded + 0.5  # the streamed audio, every block of it up to Stop
        assert float(page.inner_text("#heard").split()[0]) <= judged  # the final answer's count of speech
        page.screenshot(path=str(output_dir / "browser-prediction.png"), full_page=True)
        browser.close()
    assert (output_dir / "browser-prediction.png").stat().st_size > 5000


def test_bounded_load_on_loopback(server, synthetic_corpus, output_dir):
    from voxage.serving.loadtest import run_load

    clip = next((synthetic_corpus / "clips").glob("*.mp3")).read_bytes()
    stats = run_load(server, clip, requests=200, concurrency=8)
    print("load test:", stats)
    (output_dir / "load-test.json").write_text(__import__("json").dumps(stats, indent=2))
    assert stats["errors"] == 0 and stats["requests"] == 200
    assert stats["p50_ms"] <= stats["p95_ms"] <= stats["p99_ms"]


def test_server_binds_loopback_by_default():
    from voxage.cli import build_parser

    assert build_parser().parse_args(["serve"]).host == "127.0.0.1"


@pytest.fixture(scope="module")
def bundled_server():
    """`voxage serve` with the bundled model, which also answers gender."""
    yield from _serve()


def test_bundled_model_answers_gender_in_the_api(bundled_server, synthetic_corpus):
    clip = sorted((synthetic_corpus / "clips").glob("*.mp3"))[0]
    r = httpx.post(f"{bundled_server}/api/predict", files={"audio": (clip.name, clip.read_bytes())}, timeout=60)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["age_group"] in AGE_GROUPS and abs(sum(body["probabilities"].values()) - 1) < 1e-6
    assert body["gender"] in ("female", "male")
    assert set(body["gender_probabilities"]) == {"female", "male"}
    assert abs(sum(body["gender_probabilities"].values()) - 1) < 1e-6
    assert body["gender_probabilities"][body["gender"]] >= 0.5


@contextmanager
def _page_after_upload(server: str, clip: Path, screenshot: Path):
    """Chromium on the recording page, `clip` uploaded and its answer shown; a screenshot at the end."""
    _require("chromium", CHROMIUM.exists())
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"],
                                    headless=True)
        page = browser.new_page()
        page.goto(server + "/")
        page.set_input_files("#file", str(clip))
        page.wait_for_selector("#recommendations li", timeout=30000)
        yield page
        page.screenshot(path=str(screenshot), full_page=True)
        browser.close()


def test_page_shows_gender_for_an_upload(bundled_server, synthetic_corpus, output_dir):
    clip = sorted((synthetic_corpus / "clips").glob("*.mp3"))[0]
    with _page_after_upload(bundled_server, clip, output_dir / "browser-prediction-gender.png") as page:
        assert page.is_visible("#gender-line")
        assert page.inner_text("#gender").split()[0] in ("female", "male")


def test_page_says_a_noisy_recording_gives_an_unreliable_guess(bundled_server, tmp_path, output_dir):
    from voxage.audio.channels import parse_channel
    from voxage.data.synthetic import synth_voice

    pause = np.zeros(4800, np.float32)
    voice = synth_voice(np.random.default_rng(0), 3, "male", 3.0, 16000).astype(np.float32)
    voice = np.concatenate([pause, voice, pause])
    noisy = tmp_path / "noisy.wav"
    sf.write(noisy, parse_channel("noise:snr_db=0")(voice, 16000), 16000)
    with _page_after_upload(bundled_server, noisy, output_dir / "browser-unreliable.png") as page:
        assert page.is_visible("#unreliable")
        assert page.inner_text("#unreliable") == "Noisy recording: this guess is unreliable."


def test_page_says_a_reverberant_room_gives_an_unreliable_guess(bundled_server, shared_cv, tmp_path, output_dir):
    """No measured quality catches a room; the model's own familiarity check does, and the page says so."""
    from voxage.audio import load_audio
    from voxage.audio.channels import parse_channel

    clip = sorted((shared_cv / "clips").glob("*.mp3"))[0]
    room = tmp_path / "room.wav"
    sf.write(room, parse_channel("room:rt60_s=0.9")(load_audio(clip, 16000), 16000), 16000)
    with _page_after_upload(bundled_server, room, output_dir / "browser-unfamiliar.png") as page:
        assert page.is_visible("#unreliable")
        assert page.inner_text("#unreliable") == ("A recording unlike the voices it learnt from (a room, noise, a line "
                                                  "or a studio): this guess is unreliable.")
