"""Scale-out paths: sharded prepare + merge, a real 2-process DDP fit (gloo on CPU), ONNX export."""

import json
import subprocess
import sys

import numpy as np
import pytest

from voxage.cli import main
from voxage.data.manifest import read_manifest

from .conftest import SHARED_CV


def _entries(work, kind="*"):
    return sorted(p.relative_to(work / "cache").as_posix() for p in (work / "cache").glob(f"{kind}/v*/*/*")
                  if p.suffix in (".npy", ".flac"))


def test_sharded_prepare_and_merge_equal_one_run(synthetic_corpus, tmp_path):
    """The embed vectors too: a job array's shards fill one store, and the final prepare computes nothing."""
    whole = tmp_path / "whole"
    assert main(["prepare", str(synthetic_corpus), "--out", str(whole), "--quiet", "--workers", "1"]) == 0
    shards = [tmp_path / f"shard{i}" for i in range(3)]
    for i, s in enumerate(shards):
        assert main(["prepare", str(synthetic_corpus), "--out", str(s), "--quiet", "--workers", "1",
                     "--shard", f"{i}/3"]) == 0
        assert not (s / "manifest.tsv").exists()
    sizes = [len(_entries(s, "embed")) for s in shards]
    assert sum(sizes) == 72 and min(sizes) > 0
    assert [len(_entries(s, "mel")) for s in shards] == sizes
    merged = tmp_path / "merged"
    assert main(["merge", str(merged), *map(str, shards)]) == 0
    stamps = {p: (merged / "cache" / p).stat().st_mtime_ns for p in _entries(merged)}
    assert main(["prepare", str(synthetic_corpus), "--out", str(merged), "--quiet", "--workers", "1"]) == 0
    assert {p: (merged / "cache" / p).stat().st_mtime_ns for p in _entries(merged)} == stamps
    assert _entries(merged) == _entries(whole) and len(_entries(whole)) == 2 * 72
    for rel in _entries(whole):
        assert (merged / "cache" / rel).read_bytes() == (whole / "cache" / rel).read_bytes()
    assert read_manifest(merged / "manifest.tsv") == read_manifest(whole / "manifest.tsv")


def test_kinds_caches_only_what_is_asked_and_adds_a_kind_later(synthetic_corpus, tmp_path):
    work = tmp_path / "work"
    assert main(["prepare", str(synthetic_corpus), "--out", str(work), "--quiet", "--workers", "1",
                 "--kinds", "mel"]) == 0
    assert {p.name for p in (work / "cache").iterdir() if p.is_dir()} == {"mel"}
    mel = {p: (work / "cache" / p).stat().st_mtime_ns for p in _entries(work, "mel")}
    manifest = (work / "manifest.tsv").read_text()
    assert main(["prepare", str(synthetic_corpus), "--out", str(work), "--quiet", "--workers", "2",
                 "--kinds", "wave"]) == 0
    assert {p: (work / "cache" / p).stat().st_mtime_ns for p in _entries(work, "mel")} == mel
    assert len(_entries(work, "wave")) == 72 and (work / "manifest.tsv").read_text() == manifest
    assert json.loads((work / "prepare.json").read_text())["cached_kinds"] == ["mel", "wave"]


def test_unknown_kind_is_refused(synthetic_corpus, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["prepare", str(synthetic_corpus), "--out", str(tmp_path / "w"), "--kinds", "mel,mfcc"])
    assert "unknown kind(s) mfcc; choose from" in capsys.readouterr().err


def test_training_reads_the_prepared_embed_store_without_the_encoder(synthetic_corpus, tmp_path, monkeypatch):
    work = tmp_path / "work"
    assert main(["prepare", str(synthetic_corpus), "--out", str(work), "--quiet", "--workers", "2",
                 "--kinds", "embed"]) == 0
    from voxage.features.voice_embedding import SpeakerEncoder

    def refuse(*args, **kwargs):
        raise AssertionError("the encoder ran although the store holds every clip")

    monkeypatch.setattr(SpeakerEncoder, "__call__", refuse)
    monkeypatch.setattr(SpeakerEncoder, "__init__", refuse)
    assert main(["train", str(work), "--model", "embed", "--epochs", "1", "--quiet"]) == 0
    assert (work / "runs" / "embed" / "model.pth").is_file()


def test_bad_shard_argument(synthetic_corpus, tmp_path):
    with pytest.raises(SystemExit):
        main(["prepare", str(synthetic_corpus), "--out", str(tmp_path), "--shard", "3/3"])


@pytest.fixture(scope="module")
def work(synthetic_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("scale-work")
    assert main(["prepare", str(synthetic_corpus), "--out", str(out), "--quiet", "--workers", "1"]) == 0
    return out


def test_ddp_two_processes_on_cpu(work):
    run = work / "runs" / "ddp"
    proc = subprocess.run([sys.executable, "-m", "voxage", "train", str(work), "--model", "cnn", "--epochs", "2",
                           "--accelerator", "cpu", "--devices", "2", "--strategy", "ddp", "--run-dir", str(run),
                           "-v"], capture_output=True, text=True, timeout=300)  # -v: Lightning's start-up lines
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "distributed_backend=gloo" in proc.stderr and "All distributed processes registered" in proc.stderr
    assert proc.stdout.count("model saved") == 1  # only rank 0 writes the model
    assert (run / "model.pth").is_file()


def test_onnx_matches_pytorch_on_clips(work, synthetic_corpus, tmp_path):
    from voxage.inference import Predictor

    assert main(["train", str(work), "--model", "cnn", "--epochs", "1", "--quiet"]) == 0
    onnx_path = tmp_path / "cnn.onnx"
    assert main(["export", str(work / "runs" / "cnn"), "--onnx", str(onnx_path)]) == 0
    torch_p, onnx_p = Predictor(work / "runs" / "cnn" / "model.pth"), Predictor(onnx_path)
    clips = sorted((synthetic_corpus / "clips").glob("*.mp3"))[:3]
    if (SHARED_CV / "clips").is_dir():  # real Common Voice clips too, where CI has them
        clips += sorted((SHARED_CV / "clips").glob("*.mp3"))[:5]
    for clip in clips:
        a = np.array(list(torch_p.predict_file(clip).probabilities.values()))
        b = np.array(list(onnx_p.predict_file(clip).probabilities.values()))
        assert np.abs(a - b).max() < 1e-4
