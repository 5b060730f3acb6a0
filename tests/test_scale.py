"""Scale-out paths: sharded prepare + merge, a real 2-process DDP fit (gloo on CPU), ONNX export."""

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from voxage.cli import main
from voxage.data.manifest import read_manifest

from .conftest import ROOT, SHARED_CV

SLURM = ROOT / "examples" / "slurm"


def _entries(work, kind="*"):
    return sorted(p.relative_to(work / "cache").as_posix() for p in (work / "cache").glob(f"{kind}/v*/*/*")
                  if p.suffix in (".npy", ".flac"))


def test_the_slurm_recipe_fills_one_store_equal_to_one_run(synthetic_corpus, tmp_path):
    """examples/slurm as a job array of 3 would run it: each job one shard, embed vectors included, then merge and
    split; the final prepare decodes nothing and the store equals one run's, byte for byte."""
    whole = tmp_path / "whole"
    assert main(["prepare", str(synthetic_corpus), "--out", str(whole), "--quiet", "--workers", "1"]) == 0
    release = shutil.copytree(synthetic_corpus, tmp_path / "release" / synthetic_corpus.name)  # same corpus name
    scratch, merged = tmp_path / "scratch", tmp_path / "merged"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "RELEASE": str(release), "SCRATCH": str(scratch), "WORK": str(merged),
           "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_CPUS_PER_TASK": "1"}
    for i in range(3):
        subprocess.run(["bash", str(SLURM / "prepare.sbatch")], env={**env, "SLURM_ARRAY_TASK_ID": str(i)},
                       check=True, capture_output=True, timeout=300)
        assert not (scratch / f"shard{i}" / "manifest.tsv").exists()
    shards = sorted(scratch.iterdir())
    sizes = [len(_entries(s, "embed")) for s in shards]
    assert len(shards) == 3 and sum(sizes) == 72 and min(sizes) > 0
    assert [len(_entries(s, "mel")) for s in shards] == sizes
    for clip in (release / "clips").iterdir():  # a clip decoded again now would be dropped as undecodable
        clip.write_bytes(b"not audio any more")
    subprocess.run(["bash", str(SLURM / "finish.sbatch")], env=env, check=True, capture_output=True, timeout=300)
    assert _entries(merged) == _entries(whole) and len(_entries(whole)) == 2 * 72
    for rel in _entries(whole):
        assert (merged / "cache" / rel).read_bytes() == (whole / "cache" / rel).read_bytes()
    unplaced = lambda work: [replace(r, path="") for r in read_manifest(work / "manifest.tsv")]  # noqa: E731
    assert unplaced(merged) == unplaced(whole) and len(unplaced(whole)) == 72
    missing = subprocess.run(["bash", str(SLURM / "prepare.sbatch")], env={**env, "RELEASE": ""},
                             capture_output=True, text=True)
    assert missing.returncode != 0 and "set RELEASE" in missing.stderr


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


def test_prepare_runs_over_a_cache_an_older_voxage_left(synthetic_corpus, tmp_path, caplog):
    """voxage 0.6 and older kept every kind in cache/entries/: prepare warns, computes afresh, and reports only the
    kinds it holds (it once took entries/ for a kind and stopped)."""
    work = tmp_path / "work"
    (work / "cache" / "entries" / "ab").mkdir(parents=True)
    assert main(["prepare", str(synthetic_corpus), "--out", str(work), "--quiet", "--workers", "1",
                 "--kinds", "mel"]) == 0
    assert json.loads((work / "prepare.json").read_text())["cached_kinds"] == ["mel"]
    assert "voxage 0.6 or older" in caplog.text


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


def test_a_store_too_big_for_memory_is_read_per_item_with_the_same_items(work, monkeypatch):
    """Above the preload limit (a full release's mel: 450,000 x 64 x 313 float32 = 36 GB) items stream from the
    cache files; they equal the preloaded ones."""
    from voxage.data import dataset
    from voxage.data.stores import feature_store
    from voxage.data.workdir import load_work_dir

    cache, rows = load_work_dir(work)
    store = feature_store(work, cache, "mel", rows, progress=False)
    preloaded = dataset.CachedClips(store, rows)
    monkeypatch.setattr(dataset, "PRELOAD_LIMIT_BYTES", 0)
    streamed = dataset.CachedClips(store, rows)
    assert preloaded._data is not None and streamed._data is None
    for i in (0, len(rows) // 2, len(rows) - 1):
        assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(preloaded[i], streamed[i]))
