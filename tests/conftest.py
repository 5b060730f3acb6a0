from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from voxage.data.synthetic import SyntheticConfig, make_corpus

SHARED_CV = Path(__file__).resolve().parents[2] / "shared" / "data" / "cv-en-delta13"
ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "test-output"


@pytest.fixture(scope="session")
def synthetic_corpus(tmp_path_factory) -> Path:
    """4 synthetic speakers per class, 3 clips each, in Common Voice layout."""
    return make_corpus(tmp_path_factory.mktemp("synthetic"), SyntheticConfig(speakers_per_class=4, clips_per_speaker=3,
                                                                             min_seconds=1.5, max_seconds=2.5))


@pytest.fixture(scope="session")
def small_model(synthetic_corpus, tmp_path_factory) -> Path:
    """A seed CNN trained for one epoch on the synthetic corpus: real weights, seconds to make."""
    from voxage.cli import main

    work = tmp_path_factory.mktemp("small-model-work")
    assert main(["prepare", str(synthetic_corpus), "--out", str(work), "--quiet", "--workers", "1"]) == 0
    assert main(["train", str(work), "--model", "cnn", "--epochs", "1", "--quiet"]) == 0
    return work / "runs" / "cnn" / "model.pth"


@pytest.fixture(scope="session")
def built_dists(tmp_path_factory) -> list[Path]:
    """The sdist and the wheel, built from a copy of the files a release is made of (not this working tree's
    caches), with the venv's own setuptools: what `pip install voxage` would download."""
    tmp = tmp_path_factory.mktemp("dists")
    source = tmp / "voxage-src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    proc = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(tmp / "dist"),
                           str(source)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return sorted((tmp / "dist").iterdir())


@pytest.fixture(scope="session")
def shared_cv() -> Path:
    if not (SHARED_CV / "validated.tsv").is_file():
        pytest.skip(f"real Common Voice slice not found at {SHARED_CV}")
    return SHARED_CV


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT.mkdir(exist_ok=True)
    return OUTPUT


def speech_clips(synthetic_corpus: Path, n: int) -> list[Path]:
    """The first n real Common Voice clips when ../shared is present, else n synthetic ones."""
    real = sorted((SHARED_CV / "clips").glob("*.mp3"))[:n]
    return real or sorted((synthetic_corpus / "clips").glob("*.mp3"))[:n]
