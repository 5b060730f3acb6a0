"""One front-end per input kind: training's cache and the Predictor compute a clip's features with the same code,
and the kind's name is decided in one module."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from voxage.audio import ClipPolicy, load_audio
from voxage.data.cache import FeatureCache, build_cache
from voxage.data.manifest import Row
from voxage.data.records import Clip
from voxage.data.stores import feature_store
from voxage.features import FeatureConfig
from voxage.features.frontends import FRONTENDS, frontend
from voxage.inference import Predictor
from voxage.models.artifact import ModelArtifact
from voxage.models.registry import MODELS, build_model, model_kwargs

from .conftest import speech_clips

SRC = Path(__file__).resolve().parents[1] / "src" / "voxage"


def _predictor_for(kind: str, tmp_path: Path) -> Predictor:
    """An untrained model of this kind (its weights do not matter here), loaded the way users load one."""
    if kind == "embed":
        return Predictor()  # the bundled model
    name = next(n for n, cls in MODELS.items() if cls.input_kind == kind)
    cfg = FeatureConfig()
    ModelArtifact(name, model_kwargs(name, cfg), kind, cfg, build_model(name, **model_kwargs(name, cfg)).state_dict(),
                  extra={frontend(kind).version_key: frontend(kind).version}).save(tmp_path / f"{kind}.pth")
    return Predictor(tmp_path / f"{kind}.pth")


@pytest.mark.parametrize("kind", list(FRONTENDS))
def test_training_cache_holds_what_the_predictor_computes(kind, synthetic_corpus, tmp_path):
    clips = speech_clips(synthetic_corpus, 2)
    cache = FeatureCache(tmp_path / "cache", FeatureConfig())
    build_cache(cache, [Clip(f"k{i}", p, f"s{i}", "twenties") for i, p in enumerate(clips)], ClipPolicy(), [kind],
                progress=False)
    rows = [Row(f"k{i}", f"s{i}", "twenties", "", "", 0.0, "train", str(p)) for i, p in enumerate(clips)]
    store = feature_store(tmp_path, cache, kind, rows, progress=False)
    predictor = _predictor_for(kind, tmp_path)
    for row, path in zip(rows, clips):
        wave = load_audio(path, predictor.sample_rate, predictor.policy.max_seconds)
        computed = predictor.frontend.network_input(*predictor.model_inputs(wave))[0]
        cached = np.asarray(store.read(row.key))
        assert cached.shape == computed.shape == frontend(kind).shape(predictor.cfg)
        if frontend(kind).cache_format == "flac":  # the decoded clip, kept to 16 bits
            assert np.abs(cached - computed).max() <= 2**-16
        else:
            assert np.array_equal(cached, computed.astype(cached.dtype))  # the cache may store float16


def test_each_model_reads_a_registered_kind_and_exports_what_prediction_feeds():
    for name, cls in MODELS.items():
        fe = frontend(cls.input_kind)
        inputs = fe.export_inputs(FeatureConfig())
        assert set(inputs) <= set(fe.input_names) or fe.prefix_graph is not None, name


def test_input_kinds_are_named_only_where_their_front_ends_are_defined():
    quoted = re.compile(r"""["'](%s)["']""" % "|".join(map(re.escape, FRONTENDS)))
    for path in SRC.rglob("*.py"):
        if path.name == "frontends.py":
            continue
        hits = [(n, line.strip()) for n, line in enumerate(path.read_text().splitlines(), 1)
                if re.search(r"""["']embed["']""", line) or re.search(r"==\s*" + quoted.pattern, line)]
        assert not hits, f"{path.relative_to(SRC)} names an input kind: {hits}"


def test_one_clip_policy_from_prepare_to_prediction(small_model):
    """The model carries the checks its training clips passed; the Predictor applies exactly those."""
    predictor = Predictor(small_model)
    assert predictor.policy == ClipPolicy()  # what `prepare` used (its defaults) made it into the model
    rate = predictor.sample_rate
    noise = np.random.default_rng(0).normal(0, 0.1, int(rate * 0.9)).astype(np.float32)
    with pytest.raises(Exception, match="at least 1 s"):
        predictor.predict(noise, sample_rate=rate)  # 0.9 s: prepare would have dropped it too
    assert predictor.predict(np.concatenate([noise, noise]), sample_rate=rate).duration_s == pytest.approx(1.8)
