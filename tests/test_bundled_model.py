"""The default model ships inside the package (ONNX for prediction, .pth for the training tools) and works
with no other files."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from voxage.audio import load_audio
from voxage.inference import Predictor, default_model_path
from voxage.labels import AGE_GROUPS

from .conftest import SHARED_CV


def _clips(synthetic_corpus, real: int) -> list:
    clips = sorted((synthetic_corpus / "clips").glob("*.mp3"))[:1]
    if (SHARED_CV / "clips").is_dir():
        clips += sorted((SHARED_CV / "clips").glob("*.mp3"))[:real]
    return clips


def test_bundled_model_is_small_and_pickle_free():
    from voxage.features.voice_embedding import EMBED_VERSION

    onnx_path, pth = default_model_path(), default_model_path().with_suffix(".pth")
    assert onnx_path.is_file() and onnx_path.stat().st_size < 5 << 20
    blob = torch.load(pth, weights_only=True)
    assert blob["name"] == "embed" and blob["classes"] == list(AGE_GROUPS)
    assert blob["extra"]["embed_version"] == EMBED_VERSION  # trained on the vectors this version computes
    onnx_header = Predictor().artifact.header()
    assert onnx_header == {k: blob[k] for k in onnx_header}  # the two files are one model
    assert (onnx_path.parent / "GE2E-LICENSE").read_text().startswith(" " * 33 + "Apache License")


def test_predict_without_a_model_argument(synthetic_corpus):
    clips = _clips(synthetic_corpus, 2)
    proc = subprocess.run([sys.executable, "-m", "voxage", "predict", *map(str, clips), "--json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line["path"] for line in lines] == [str(c) for c in clips]
    for line in lines:
        assert line["age_group"] in AGE_GROUPS and set(line["probabilities"]) == set(AGE_GROUPS)
        assert abs(sum(line["probabilities"].values()) - 1) < 1e-6


def test_bundled_onnx_matches_the_trained_head(synthetic_corpus):
    """The ONNX graph (encoder + head) gives what the .pth head gives on the cached-style vector."""
    onnx_model, eager = Predictor(), Predictor(default_model_path().with_suffix(".pth"))
    assert onnx_model.model.input_names == ["windows", "prosody"]  # the speaker encoder is in the graph too
    for clip in _clips(synthetic_corpus, 3):
        a, b = eager.predict_file(clip), onnx_model.predict_file(clip)
        assert max(abs(a.probabilities[k] - b.probabilities[k]) for k in AGE_GROUPS) < 1e-4
        assert a.gender == b.gender


def test_exported_onnx_equals_the_bundled_one(tmp_path, synthetic_corpus):
    from voxage.models.artifact import ModelArtifact
    from voxage.models.onnx_export import export_onnx

    out = export_onnx(ModelArtifact.load(default_model_path().with_suffix(".pth")), tmp_path / "default.onnx")
    assert (tmp_path / "GE2E-LICENSE").is_file()  # the encoder's licence travels with it
    clip = _clips(synthetic_corpus, 0)[0]
    assert Predictor(out).predict_file(clip).probabilities == Predictor().predict_file(clip).probabilities
    # the network alone, beside it, for streams: the same answer from the pooled vector, as the bundled one's
    assert (tmp_path / "default.head.onnx").is_file()
    exported, bundled = Predictor(out), Predictor()
    x = bundled.frontend.network_input(*bundled.model_inputs(load_audio(clip, bundled.sample_rate)))
    assert np.abs(exported.model.head(x) - bundled.model.head(x)).max() < 1e-6
    assert np.abs(bundled.model.head(x) - bundled.model(*bundled.model_inputs(load_audio(clip, 16000)))).max() < 1e-5


def test_onnx_file_with_other_inputs_is_refused(tmp_path):
    """An ONNX file whose graph is only the head (as voxage 0.1 exported it) gets a clear message."""
    import onnx

    from voxage.models.artifact import METADATA_KEY, ModelArtifact
    from voxage.models.onnx_export import _torch_export

    art = ModelArtifact.load(default_model_path().with_suffix(".pth"))
    head_only = tmp_path / "head.onnx"
    _torch_export(art.build(), {"features": np.zeros((1, art.kwargs["in_dim"]), np.float32)}, head_only)
    proto = onnx.load(str(head_only))
    proto.metadata_props.add(key=METADATA_KEY, value=json.dumps(art.header()))
    onnx.save(proto, str(head_only))
    with pytest.raises(ValueError, match="export it again"):
        Predictor(head_only)
