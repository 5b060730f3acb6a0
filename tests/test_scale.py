"""Scale-out paths: sharded prepare + merge, a real 2-process DDP fit (gloo on CPU), ONNX export."""

import subprocess
import sys

import numpy as np
import pytest

from voxage.cli import main
from voxage.data.manifest import read_manifest

from .conftest import SHARED_CV


def _entries(work):
    return sorted(p.relative_to(work / "cache").as_posix() for p in (work / "cache" / "entries").rglob("*.npy"))


def test_sharded_prepare_and_merge_equal_one_run(synthetic_corpus, tmp_path):
    whole = tmp_path / "whole"
    assert main(["prepare", str(synthetic_corpus), "--out", str(whole), "--quiet", "--workers", "1"]) == 0
    shards = [tmp_path / f"shard{i}" for i in range(3)]
    for i, s in enumerate(shards):
        assert main(["prepare", str(synthetic_corpus), "--out", str(s), "--quiet", "--workers", "1",
                     "--shard", f"{i}/3"]) == 0
        assert not (s / "manifest.tsv").exists()
    sizes = [len(_entries(s)) for s in shards]
    assert sum(sizes) == 72 and min(sizes) > 0
    merged = tmp_path / "merged"
    assert main(["merge", str(merged), *map(str, shards)]) == 0
    assert main(["prepare", str(synthetic_corpus), "--out", str(merged), "--quiet", "--workers", "1"]) == 0
    assert _entries(merged) == _entries(whole)
    for rel in _entries(whole):
        assert (merged / "cache" / rel).read_bytes() == (whole / "cache" / rel).read_bytes()
    assert read_manifest(merged / "manifest.tsv") == read_manifest(whole / "manifest.tsv")


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
