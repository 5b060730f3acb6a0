"""One answer per speaker: several clips of one person judged together, in Python, on the command line and over
HTTP."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient

from voxage.audio import AudioError
from voxage.cli import main
from voxage.data.commonvoice import speakers_of
from voxage.inference import Predictor
from voxage.inference.predictor import geometric_mean
from voxage.serving.app import create_app

from .conftest import SHARED_CV


@pytest.fixture(scope="module")
def one_speaker(synthetic_corpus):
    """Three clips of one real speaker where CI has them (else a synthetic one), and that speaker's id."""
    root = SHARED_CV if (SHARED_CV / "validated.tsv").is_file() else synthetic_corpus
    speaker, (_, clips) = max(speakers_of(root).items(), key=lambda kv: len(kv[1][1]))
    return speaker, clips[:3]


def test_clips_are_joined_by_the_geometric_mean_of_their_answers(one_speaker):
    predictor = Predictor()
    _, clips = one_speaker
    alone = [predictor.predict_file(c) for c in clips]
    joined = predictor.predict_speaker(clips)
    expected = geometric_mean([np.array([list(p.probabilities.values())]) for p in alone])[0]
    assert np.allclose(list(joined.probabilities.values()), expected, atol=1e-9)
    assert joined.age_group == predictor.classes[int(np.argmax(expected))]
    assert joined.duration_s == pytest.approx(sum(p.duration_s for p in alone), abs=1e-3)
    assert joined.gender in ("female", "male") and joined.quality.speech_seconds > 0
    # a recording that cannot be judged is left out; none that can is an error
    assert predictor.predict_speaker([*clips, (np.zeros(16000), 16000)]).probabilities == joined.probabilities
    with pytest.raises(AudioError, match="silent"):
        predictor.predict_speaker([(np.zeros(16000), 16000)])


def test_same_speaker_and_by_speaker_on_the_command_line(one_speaker, synthetic_corpus, capsys):
    _, clips = one_speaker
    assert main(["predict", *map(str, clips), "--same-speaker", "--json"]) == 0
    (line,) = capsys.readouterr().out.strip().splitlines()
    answer = json.loads(line)
    assert answer["clips"] == 3 and answer["probabilities"] == Predictor().predict_speaker(clips).to_dict()[
        "probabilities"]
    assert main(["predict", str(synthetic_corpus), "--by-speaker", "--json"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.strip().splitlines()]
    speakers = speakers_of(synthetic_corpus)
    assert {r["speaker"] for r in rows} == set(speakers) and len(rows) == len(speakers) == 24
    assert all(r["clips"] == 3 and r["labelled_age_group"] == speakers[r["speaker"]][0] for r in rows)
    assert main(["predict", str(synthetic_corpus), "--by-speaker", "--csv", "out.csv"]) == 2
    assert "use --json" in capsys.readouterr().err


def test_several_audio_parts_of_one_upload_are_one_answer(one_speaker):
    _, clips = one_speaker
    client = TestClient(create_app())
    files = [("audio", (c.name, c.read_bytes(), "audio/mpeg")) for c in clips]
    joined = client.post("/api/predict", files=files)
    assert joined.status_code == 200
    assert joined.json()["probabilities"] == Predictor().predict_speaker(clips).to_dict()["probabilities"]
    single = client.post("/api/predict", files=files[:1]).json()
    assert single["probabilities"] == Predictor().predict_file(clips[0]).to_dict()["probabilities"]
    silent = client.post("/api/predict", files=[("audio", ("a.wav", _silence(), "audio/wav"))] * 2)
    assert silent.status_code == 422 and silent.json()["reason"] == "silent"


def _silence() -> bytes:
    import io

    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.zeros(16000, np.float32), 16000, format="WAV")
    return buf.getvalue()
