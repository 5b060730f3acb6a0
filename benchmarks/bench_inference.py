"""Latency of one prediction on a 5 s clip: features + model (decoding excluded), one thread.

1. The bundled model as `pip install voxage` runs it (numpy front-end, Praat prosody, ONNX Runtime graph of
   int8 GE2E encoder + head), each part timed, against the path it replaced, timed in the same run: resemblyzer's
   preprocessing and librosa mel, Praat prosody with harmonicity and formants, float GE2E in PyTorch (needs the
   dev install: resemblyzer, librosa).
2. Untrained models of each architecture (weights do not change the cost), PyTorch eager vs ONNX Runtime.
Real-time factor = latency / 5 s. Run: .venv/bin/python benchmarks/bench_inference.py
"""

from __future__ import annotations

import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import soxr
import torch
from common import corpus, percentile, save, table

from voxage.audio import load_audio
from voxage.features import FeatureConfig
from voxage.features.ge2e_frontend import encoder_windows
from voxage.features.prosody import prosody
from voxage.features.quality import measure_quality
from voxage.features.voice_embedding import MAX_SECONDS, SAMPLE_RATE
from voxage.inference import Predictor, default_model_path
from voxage.models.artifact import ModelArtifact
from voxage.models.onnx_export import export_onnx
from voxage.models.registry import build_model, model_kwargs

RUNS = 100


def clip(cfg: FeatureConfig) -> tuple[np.ndarray, str]:
    """5 s of real speech (the first clips of the corpus, joined), already decoded: decoding is not timed."""
    source, label = corpus()
    waves = [load_audio(p, cfg.sample_rate) for p in sorted((source / "clips").glob("*.mp3"))[:3]]
    return np.concatenate(waves)[: cfg.num_samples], label


def take_turns(jobs: dict, runs: int = RUNS) -> dict[str, list[float]]:
    """Milliseconds per call of each job; the jobs take turns run by run, so drift hits all alike."""
    for job in jobs.values():
        for _ in range(5):
            job()
    out = {name: [] for name in jobs}
    for _ in range(runs):
        for name, job in jobs.items():
            start = time.perf_counter()
            job()
            out[name].append((time.perf_counter() - start) * 1000)
    return out


def replaced_path():
    """Embedding version 2, as voxage 0.1 computed it: resemblyzer front-end and float GE2E in PyTorch, Praat
    prosody with a harmonicity pass and Burg formants on an 11 kHz copy. None without resemblyzer."""
    try:
        import parselmouth
        from parselmouth.praat import call
        from resemblyzer import VoiceEncoder, audio, preprocess_wav
    except ImportError:
        return None
    encoder = VoiceEncoder(device="cpu", verbose=False).eval()

    def old_prosody(wave):
        snd = parselmouth.Sound(wave.astype(np.float64), sampling_frequency=SAMPLE_RATE)
        pitch = snd.to_pitch_ac(time_step=0.02, pitch_floor=70, pitch_ceiling=600)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            points = call([snd, pitch], "To PointProcess (cc)")
            call(points, "Get jitter (local)", 0, 0, 0.0001, 0.02, 1.3)
            call([snd, points], "Get shimmer (local)", 0, 0, 0.0001, 0.02, 1.3, 1.6)
            call(snd.to_harmonicity_ac(time_step=0.03), "Get mean", 0, 0)
            narrow = parselmouth.Sound(soxr.resample(wave, SAMPLE_RATE, 11000).astype(np.float64),
                                       sampling_frequency=11000)
            formant = narrow.to_formant_burg(time_step=0.02, max_number_of_formants=5, maximum_formant=5500)
            [call(formant, "Get quantile", i, 0, 0, "hertz", 0.5) for i in (1, 2, 3)]

    @torch.no_grad()
    def run(wave):
        trimmed = preprocess_wav(wave, source_sr=SAMPLE_RATE)
        wav_slices, mel_slices = VoiceEncoder.compute_partial_slices(len(trimmed), rate=1.3, min_coverage=0.75)
        trimmed = np.pad(trimmed, (0, max(0, wav_slices[-1].stop - len(trimmed))))
        mel = audio.wav_to_mel_spectrogram(trimmed)
        encoder(torch.from_numpy(np.stack([mel[s] for s in mel_slices])))
        old_prosody(wave)

    return run


def bundled(wave: np.ndarray) -> list[dict]:
    predictor = Predictor()
    wave = wave[: int(MAX_SECONDS * SAMPLE_RATE)]
    windows, pros = predictor.model_inputs(wave)
    jobs = {"front-end: VAD + mel windows": lambda: encoder_windows(wave),
            "prosody: one Praat pitch track": lambda: prosody(wave, SAMPLE_RATE),
            "quality: VAD, SNR, clipping, bandwidth": lambda: measure_quality(wave),
            f"graph: GE2E int8 + head ({len(windows)} windows)": lambda: predictor.model(windows, pros),
            "bundled model, total (predict_wave)": lambda: predictor.predict_wave(wave)}
    old = replaced_path()
    if old is not None:
        jobs["replaced path (v2: resemblyzer + torch + full Praat)"] = lambda: old(wave)
    timings = take_turns(jobs)
    total = percentile(timings["bundled model, total (predict_wave)"], 50)
    rows = [{"part": name, "median ms": f"{percentile(ms, 50):.2f}", "p95 ms": f"{percentile(ms, 95):.2f}",
             "x total": f"{percentile(ms, 50) / total:.2f}"} for name, ms in timings.items()]
    return rows


def architectures(cfg: FeatureConfig, wave: np.ndarray) -> list[dict]:
    tmp = Path(tempfile.mkdtemp(prefix="voxage-infer-"))
    rows = []
    for name in ("cnn", "resnet", "tcn"):
        kwargs = model_kwargs(name, cfg)
        art = ModelArtifact(name, kwargs, "mel" if name != "tcn" else "wave", cfg,
                            build_model(name, **kwargs).state_dict())
        art.save(tmp / f"{name}.pth")
        export_onnx(art, tmp / f"{name}.onnx")
        backends = {"pytorch eager": Predictor(tmp / f"{name}.pth"), "onnxruntime": Predictor(tmp / f"{name}.onnx")}
        timings = take_turns({b: (lambda p=p: p.predict_wave(wave)) for b, p in backends.items()})
        for backend, ms in timings.items():
            rows.append({"model": name, "backend": backend, "median ms": f"{percentile(ms, 50):.1f}",
                         "p95 ms": f"{percentile(ms, 95):.1f}",
                         "RTF": f"{percentile(ms, 50) / 1000 / cfg.clip_seconds:.4f}"})
    return rows


def main() -> None:
    torch.set_num_threads(1)  # a server handles one request per core
    cfg = FeatureConfig()
    wave, label = clip(cfg)
    print(f"one {cfg.clip_seconds:.0f} s clip of {label}, features + model (decoding excluded), {RUNS} runs "
          "taking turns, 1 thread")
    results = {"clip_seconds": cfg.clip_seconds, "runs": RUNS, "threads": 1, "corpus": label}
    if default_model_path().is_file():
        results["bundled"] = bundled(wave)
        print(table(results["bundled"], ["part", "median ms", "p95 ms", "x total"]))
    results["architectures"] = architectures(cfg, wave)
    print(table(results["architectures"], ["model", "backend", "median ms", "p95 ms", "RTF"]))
    print(f"written: {save('inference', results)}")


if __name__ == "__main__":
    main()
