"""Prediction on a small install: no torch, no Lightning, no resemblyzer."""

import json
import subprocess
import sys
import venv

from voxage.labels import AGE_GROUPS

from .conftest import speech_clips

TRAINING_STACK = ("torch", "lightning", "resemblyzer", "librosa", "matplotlib", "tensorboard", "onnx")


def test_prediction_imports_no_training_stack(synthetic_corpus, tmp_path):
    """CLI predict (folder, CSV), the Predictor and the serving app's imports leave the training stack unloaded."""
    code = f"""
import sys
from voxage.cli import main
assert main(["predict", {str(synthetic_corpus / "clips")!r}, "--csv", {str(tmp_path / "out.csv")!r},
             "--workers", "1", "--quiet"]) == 0
from voxage.inference import Predictor
Predictor().predict_file({str(speech_clips(synthetic_corpus, 1)[0])!r})
loaded = [m for m in {TRAINING_STACK!r} if m in sys.modules]
assert not loaded, loaded
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "out.csv").read_text().count("\n") == 1 + len(list((synthetic_corpus / "clips").glob("*.mp3")))


def test_fresh_venv_without_extras_predicts_a_real_clip(tmp_path, synthetic_corpus, built_dists):
    """`pip install voxage` (the built wheel, no extras, no Makefile) then `voxage predict clip.mp3`; torch is not
    installed."""
    (wheel,) = [d for d in built_dists if d.suffix == ".whl"]
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    pip = subprocess.run([env_dir / "bin" / "python", "-m", "pip", "install", "-q", str(wheel)],
                         capture_output=True, text=True, timeout=900)
    assert pip.returncode == 0, pip.stderr[-3000:]
    clip = speech_clips(synthetic_corpus, 1)[0]
    proc = subprocess.run([env_dir / "bin" / "voxage", "predict", str(clip), "--json"], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert result["age_group"] in AGE_GROUPS and result["gender"] in ("female", "male")
    one_liner = subprocess.run([env_dir / "bin" / "python", "-c",
                                f"import voxage; print(voxage.Predictor().predict({str(clip)!r}).age_group)"],
                               capture_output=True, text=True, timeout=300)
    assert one_liner.stdout.strip() == result["age_group"], one_liner.stderr[-2000:]
    missing = subprocess.run([env_dir / "bin" / "python", "-c", "import torch"], capture_output=True)
    assert missing.returncode != 0  # the small install really has no torch
