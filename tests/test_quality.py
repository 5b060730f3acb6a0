"""Each prediction says how good the recording is, and `reliable: false` with the reason where the model was
never trained or validated on such audio; quiet speech is judged, digital silence refused."""

import numpy as np
import pytest

import voxage
from voxage.audio import AudioError
from voxage.audio.channels import parse_channel
from voxage.data.synthetic import synth_voice
from voxage.features.quality import ReliabilityPolicy, measure_quality

RATE = 16000


def _speech(seed: int, group: int, gender: str) -> np.ndarray:
    """Two phrases of a generated voice with the pauses real speech has around and between them."""
    rng = np.random.default_rng(seed)
    pause = np.zeros(int(0.3 * RATE), np.float32)
    phrases = [synth_voice(rng, group, gender, 1.4, RATE).astype(np.float32) for _ in range(2)]
    return np.concatenate([pause, phrases[0], pause, phrases[1], pause])


@pytest.fixture(scope="module")
def voice():
    return _speech(0, 3, "male")


@pytest.fixture(scope="module")
def predictor():
    return voxage.Predictor()


CHECK = "unfamiliar_recording"  # the model's familiarity check: a generated voice is unlike real speech to it


def test_a_clean_voice_is_measured_with_no_quality_reason(predictor, voice):
    pred = predictor.predict(voice, sample_rate=RATE)
    q = pred.quality
    assert set(pred.unreliable_reasons) <= {CHECK}
    assert 1.5 <= q.speech_seconds <= 3.7 and q.snr_db > 30 and q.clipped_fraction == 0 and q.bandwidth_hz > 5500
    assert set(pred.to_dict()["quality"]) == {"speech_seconds", "snr_db", "clipped_fraction", "bandwidth_hz"}


def test_real_clean_speech_is_reliable_and_the_same_through_a_phone_line_or_a_room_is_not(predictor, shared_cv):
    from voxage.audio import load_audio

    clips = sorted((shared_cv / "clips").glob("*.mp3"))[:12]
    waves = [load_audio(c, RATE) for c in clips]
    clean = [predictor.predict(w, sample_rate=RATE) for w in waves]
    assert sum(p.reliable for p in clean) >= 10  # about 5% of clean clips are flagged by design
    d = next(p for p in clean if p.reliable).to_dict()
    assert d["reliable"] is True and "unreliable_reasons" not in d
    for spec in ("phone:codec=mulaw", "room:rt60_s=0.6"):
        heard = [predictor.predict(parse_channel(spec)(w, RATE), sample_rate=RATE) for w in waves]
        assert sum(not p.reliable for p in heard) >= 10, spec
        # a room no quality measure hears: the familiarity check must (the phone line is also `narrowband`)
        guard = CHECK if spec.startswith("room") else "narrowband"
        assert sum(guard in p.unreliable_reasons for p in heard) >= 10, spec
        # and calibrated for it: flatter than the clean answers
        assert np.mean([max(p.probabilities.values()) for p in heard]) < np.mean(
            [max(p.probabilities.values()) for p in clean])


@pytest.mark.parametrize("snr", [0.0, 5.0])
def test_a_noisy_voice_is_unreliable_because_noisy(predictor, voice, snr):
    pred = predictor.predict(parse_channel(f"noise:snr_db={snr}")(voice, RATE), sample_rate=RATE)
    assert not pred.reliable and "noisy" in pred.unreliable_reasons
    assert pred.quality.snr_db < ReliabilityPolicy().min_snr_db
    assert pred.to_dict()["unreliable_reasons"] == list(pred.unreliable_reasons)


def test_snr_estimate_follows_the_noise():
    """Estimated SNR falls as the noise rises, within a few dB of the clip-level SNR on a voice with pauses."""
    voice = _speech(1, 2, "female")
    estimates = [measure_quality(parse_channel(f"noise:snr_db={snr}")(voice, RATE)).snr_db for snr in (20, 10, 5)]
    assert estimates[0] > estimates[1] > estimates[2]
    for asked, got in zip((20, 10, 5), estimates):
        assert abs(got - asked) < 5


def test_a_phone_line_is_narrowband_and_a_hot_microphone_clipped(predictor, voice):
    phone = predictor.predict(parse_channel("phone")(voice, RATE), sample_rate=RATE)
    assert "narrowband" in phone.unreliable_reasons and phone.quality.bandwidth_hz < 4000
    assert set(phone.unreliable_reasons) <= {"narrowband", CHECK}
    hot = predictor.predict(parse_channel("gain:gain_db=20")(voice, RATE), sample_rate=RATE)
    assert "clipped" in hot.unreliable_reasons and hot.quality.clipped_fraction > 0.01


def test_the_cli_says_when_a_guess_is_unreliable(voice, tmp_path, capsys):
    import soundfile as sf

    from voxage.cli import main

    sf.write(tmp_path / "noisy.wav", parse_channel("noise:snr_db=0")(voice, RATE), RATE)
    assert main(["predict", str(tmp_path / "noisy.wav")]) == 0
    line = [x for x in capsys.readouterr().out.splitlines() if "unreliable" in x]
    assert line and "noisy" in line[0] and "do not act on this guess" in line[0]


def test_too_little_speech_is_unreliable(predictor, voice):
    short = np.concatenate([voice[: int(0.9 * RATE)], np.zeros(RATE, np.float32)])  # 0.6 s of voice in 1.9 s
    pred = predictor.predict(short, sample_rate=RATE)
    assert "little_speech" in pred.unreliable_reasons and pred.quality.speech_seconds < 1.5


@pytest.mark.parametrize("gain_db", [-40, -60])
def test_quiet_speech_is_judged_and_digital_silence_refused(predictor, voice, gain_db):
    quiet = parse_channel(f"gain:gain_db={gain_db}")(voice, RATE)
    assert np.sqrt(np.mean(quiet ** 2)) < 1e-3  # -60 dB: below the RMS 1e-4 that counted as silence before
    pred = predictor.predict(quiet, sample_rate=RATE)
    assert pred.age_group in voxage.AGE_GROUPS and pred.quality.speech_seconds > 1.5
    with pytest.raises(AudioError, match="silent"):
        predictor.predict(np.zeros(2 * RATE, np.float32), sample_rate=RATE)
    with pytest.raises(AudioError, match="silent"):  # below one 16-bit step: nothing a converter recorded
        predictor.predict(np.full(2 * RATE, 1e-5, np.float32), sample_rate=RATE)


def test_the_api_sends_quality_and_reliability(voice, tmp_path):
    import io

    import soundfile as sf
    from fastapi.testclient import TestClient

    from voxage.serving.app import ServerConfig, create_app

    buf = io.BytesIO()
    sf.write(buf, parse_channel("noise:snr_db=0")(voice, RATE), RATE, format="WAV")
    with TestClient(create_app(ServerConfig())) as client:
        r = client.post("/api/predict", files={"audio": ("noisy.wav", buf.getvalue())})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["reliable"] is False and "noisy" in body["unreliable_reasons"]
    assert body["quality"]["snr_db"] < 15 and set(body["quality"]) >= {"speech_seconds", "clipped_fraction"}
