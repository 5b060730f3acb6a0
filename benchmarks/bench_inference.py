"""Latency of one prediction on a 5 s clip: features + model, PyTorch eager vs ONNX Runtime.

Weights do not change the cost, so untrained models of each architecture are timed (and the bundled
model, when installed). Real-time factor = latency / 5 s.
Run: .venv/bin/python benchmarks/bench_inference.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import corpus, percentile, save, table

from voxage.features import FeatureConfig
from voxage.audio import load_audio
from voxage.inference import Predictor, default_model_path
from voxage.models import build_model
from voxage.models.artifact import ModelArtifact
from voxage.models.onnx_export import export_onnx
from voxage.models.registry import model_kwargs

RUNS = 100


def clip(cfg: FeatureConfig) -> tuple[np.ndarray, str]:
    """5 s of real speech (the first clips of the corpus, joined), already decoded: decoding is not timed."""
    source, label = corpus()
    waves = [load_audio(p, cfg.sample_rate) for p in sorted((source / "clips").glob("*.mp3"))[:3]]
    return np.concatenate(waves)[: cfg.num_samples], label


def time_backends(predictors: dict[str, Predictor], wave: np.ndarray) -> dict[str, list[float]]:
    """Milliseconds per prediction; the backends take turns run by run, so drift hits both alike."""
    for p in predictors.values():
        for _ in range(5):
            p.predict_wave(wave)
    out = {name: [] for name in predictors}
    for _ in range(RUNS):
        for name, p in predictors.items():
            start = time.perf_counter()
            p.predict_wave(wave)
            out[name].append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    torch.set_num_threads(1)  # a server handles one request per core
    cfg = FeatureConfig()
    wave, label = clip(cfg)
    tmp = Path(tempfile.mkdtemp(prefix="voxage-infer-"))
    results, rows = {"clip_seconds": cfg.clip_seconds, "runs": RUNS, "torch_threads": 1, "corpus": label}, []

    def measure(model: str, paths: dict[str, Path]) -> None:
        timings = time_backends({backend: Predictor(path) for backend, path in paths.items()}, wave)
        for backend, ms in timings.items():
            results[f"{model}/{backend}"] = {"median_ms": percentile(ms, 50), "p95_ms": percentile(ms, 95)}
            rows.append({"model": model, "backend": backend, "median ms": f"{percentile(ms, 50):.1f}",
                         "p95 ms": f"{percentile(ms, 95):.1f}",
                         "RTF": f"{percentile(ms, 50) / 1000 / cfg.clip_seconds:.4f}"})
    for name in ("cnn", "resnet", "tcn"):
        kwargs = model_kwargs(name, cfg)
        art = ModelArtifact(name, kwargs, "mel" if name != "tcn" else "wave", cfg,
                            build_model(name, **kwargs).state_dict())
        art.save(tmp / f"{name}.pth")
        export_onnx(art, tmp / f"{name}.onnx")
        measure(name, {"pytorch eager": tmp / f"{name}.pth", "onnxruntime": tmp / f"{name}.onnx"})
    if default_model_path().is_file():  # the bundled model: VAD + mel windows + Praat prosody, then GE2E + head
        export_onnx(ModelArtifact.load(default_model_path()), tmp / "default.onnx")
        measure("default (embed)", {"pytorch eager": default_model_path(), "onnxruntime": tmp / "default.onnx"})
    print(f"one {cfg.clip_seconds:.0f} s clip of {label}, features + model (decoding excluded), {RUNS} runs "
          "taking turns, 1 thread")
    print(table(rows, ["model", "backend", "median ms", "p95 ms", "RTF"]))
    print(f"written: {save('inference', results)}")


if __name__ == "__main__":
    main()
