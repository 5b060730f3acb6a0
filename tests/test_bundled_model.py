"""The default model ships inside the package and works with no other files."""

import json
import subprocess
import sys

import torch

from voxage.inference import default_model_path
from voxage.labels import AGE_GROUPS

from .conftest import SHARED_CV


def test_bundled_model_is_small_and_pickle_free():
    path = default_model_path()
    assert path.is_file() and path.stat().st_size < 5 << 20
    blob = torch.load(path, weights_only=True)
    assert blob["name"] == "embed" and blob["classes"] == list(AGE_GROUPS)
    from voxage.features.voice_embedding import EMBED_VERSION

    assert blob["extra"]["embed_version"] == EMBED_VERSION  # trained on the vectors this version computes


def test_predict_without_a_model_argument(synthetic_corpus):
    clips = sorted((synthetic_corpus / "clips").glob("*.mp3"))[:1]
    if (SHARED_CV / "clips").is_dir():
        clips += sorted((SHARED_CV / "clips").glob("*.mp3"))[:2]
    proc = subprocess.run([sys.executable, "-m", "voxage", "predict", *map(str, clips), "--json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line["path"] for line in lines] == [str(c) for c in clips]
    for line in lines:
        assert line["age_group"] in AGE_GROUPS and set(line["probabilities"]) == set(AGE_GROUPS)
        assert abs(sum(line["probabilities"].values()) - 1) < 1e-6


def test_bundled_model_through_onnx_matches(tmp_path, synthetic_corpus):
    from voxage.inference import Predictor
    from voxage.models.artifact import ModelArtifact
    from voxage.models.onnx_export import export_onnx

    onnx_path = export_onnx(ModelArtifact.load(default_model_path()), tmp_path / "default.onnx")
    onnx_model = Predictor(onnx_path)
    assert onnx_model.model.input_names == ["windows", "prosody"]  # the speaker encoder is in the graph too
    clips = sorted((synthetic_corpus / "clips").glob("*.mp3"))[:1]
    if (SHARED_CV / "clips").is_dir():
        clips += sorted((SHARED_CV / "clips").glob("*.mp3"))[:3]
    eager = Predictor()
    for clip in clips:
        a, b = eager.predict_file(clip).probabilities, onnx_model.predict_file(clip).probabilities
        assert max(abs(a[k] - b[k]) for k in a) < 1e-4


def test_onnx_file_with_other_inputs_is_refused(tmp_path, monkeypatch):
    """An ONNX file whose graph is only the head (as voxage 0.1 exported it) gets a clear message."""
    import pytest

    from voxage.inference import Predictor
    from voxage.models import onnx_export
    from voxage.models.artifact import ModelArtifact

    with monkeypatch.context() as m:
        m.setattr(onnx_export, "example_inputs", lambda art: {"features": torch.zeros(1, art.kwargs["in_dim"])})
        m.setattr(ModelArtifact, "network", ModelArtifact.build)
        head_only = onnx_export.export_onnx(ModelArtifact.load(default_model_path()), tmp_path / "head.onnx")
    with pytest.raises(ValueError, match="export it again"):
        Predictor(head_only)


def test_speaker_vector_is_resemblyzers_utterance_embedding(synthetic_corpus):
    """The bundled model was trained on resemblyzer's `embed_utterance`: our split of it must not drift."""
    import numpy as np
    from resemblyzer import VoiceEncoder, preprocess_wav

    from voxage.audio import load_audio
    from voxage.features.voice_embedding import SAMPLE_RATE, SPEAKER_DIM, VoiceEmbedder

    wave = load_audio(sorted((synthetic_corpus / "clips").glob("*.mp3"))[0], SAMPLE_RATE)
    ours = VoiceEmbedder()(wave)[:SPEAKER_DIM]
    theirs = VoiceEncoder(device="cpu", verbose=False).embed_utterance(preprocess_wav(wave, source_sr=SAMPLE_RATE))
    assert np.abs(ours - theirs).max() < 1e-5
