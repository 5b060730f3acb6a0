"""`import voxage`: the public API, its documented examples, its errors and its thread-safety."""

import dataclasses
import doctest
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import voxage
from voxage.audio import load_audio

from .conftest import speech_clips


@pytest.mark.parametrize("module", ["voxage", "voxage.inference.predictor", "voxage.inference.prediction",
                                    "voxage.inference.batch"])
def test_docstring_examples_run(module):
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0


def test_public_names():
    assert set(voxage.__all__) >= {"Predictor", "Prediction", "VoxageError", "AudioError", "ModelError", "AGE_GROUPS"}
    assert all(hasattr(voxage, name) for name in voxage.__all__)


def test_one_recording_three_ways_same_answer(synthetic_corpus):
    clip = speech_clips(synthetic_corpus, 1)[0]
    predictor = voxage.Predictor()
    from_path = predictor.predict(clip)
    from_bytes = predictor.predict(clip.read_bytes())
    from_samples = predictor.predict(load_audio(clip, 16000), sample_rate=16000)
    from_tuple = predictor.predict((load_audio(clip, 44100), 44100))  # resampled to the model's rate
    assert from_path == from_bytes == from_samples
    assert from_tuple.age_group in voxage.AGE_GROUPS and abs(from_tuple.duration_s - from_path.duration_s) < 0.01
    with pytest.raises(dataclasses.FrozenInstanceError):
        from_path.age_group = "teens"
    with pytest.raises(ValueError, match="sample_rate"):
        predictor.predict(np.ones(16000))


def test_errors_are_voxages_own(tmp_path):
    with pytest.raises(voxage.ModelError, match="no such model file"):
        voxage.Predictor(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(voxage.VoxageError, match="not a readable ONNX file"):
        voxage.Predictor(tmp_path / "junk.onnx")
    with pytest.raises(voxage.AudioError) as err:
        voxage.Predictor().predict(b"not audio" * 100)
    assert err.value.reason == "undecodable"


def test_predict_many_keeps_order_and_failures(synthetic_corpus):
    clips = speech_clips(synthetic_corpus, 3)
    results = voxage.Predictor().predict_many([clips[0], b"junk", (np.zeros(4000), 16000), *clips[1:]])
    assert [r.reason for r in results] == ["", "undecodable", "too_short"] + [""] * (len(clips) - 1)
    assert results[0].path == str(clips[0]) and results[0].prediction.age_group in voxage.AGE_GROUPS


def test_one_predictor_shared_by_threads(synthetic_corpus):
    """As the HTTP server uses it: concurrent calls give what one thread alone gives."""
    clips = speech_clips(synthetic_corpus, 3) * 4
    predictor = voxage.Predictor()
    alone = [predictor.predict(c) for c in clips]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(predictor.predict, clips))
    assert together == alone


def test_one_version_string(capsys):
    from importlib.metadata import version

    from voxage.cli import main
    from voxage.serving.app import create_app

    assert version("voxage") == voxage.__version__ == create_app().version
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"voxage {voxage.__version__}"
