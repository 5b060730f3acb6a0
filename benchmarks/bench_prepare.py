"""How fast does `voxage prepare` turn MP3s into cached features, and does memory stay flat?

Baseline (the seed): decode + resample + log-mel per clip, one process. voxage: `prepare --kinds mel` with 1 and 2
worker processes, each run a fresh subprocess whose peak RSS (workers included) is read with wait4.
Run: .venv/bin/python benchmarks/bench_prepare.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import corpus, save, table

from voxage.audio import load_audio
from voxage.data.commonvoice import read_corpus
from voxage.features import FeatureConfig
from voxage.features.frontends import MelFrontEnd


def naive(clips, cfg: FeatureConfig) -> tuple[float, float]:
    start, seconds = time.perf_counter(), 0.0
    for c in clips:
        wave = load_audio(c.path, cfg.sample_rate)
        seconds += len(wave) / cfg.sample_rate
        MelFrontEnd().features(wave, cfg)
    return time.perf_counter() - start, seconds


def run_prepare(source: Path, limit: int, workers: int) -> dict:
    out = Path(tempfile.mkdtemp(prefix="voxage-prep-"))
    cmd = [sys.executable, "-m", "voxage", "prepare", str(source), "--out", str(out), "--workers", str(workers),
           "--limit", str(limit), "--quiet", "--balance", "none", "--kinds", "mel"]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise RuntimeError(proc.stderr.read().decode())
    decode = json.loads((out / "prepare.json").read_text())["decode_seconds"]
    report = json.loads((out / "cleaning_report.json").read_text())
    return {"decode_s": decode, "wall_s": wall, "peak_rss_mb": usage.ru_maxrss / 1024,
            "audio_s": report["usable"]["hours"] * 3600}


def main() -> None:
    source, label = corpus()
    clips, _ = read_corpus(source)
    n_big = len(clips)
    n_small = n_big // 3
    cfg = FeatureConfig()
    rows = []
    t, audio = naive(clips[:n_small], cfg)
    rows.append({"method": "naive (seed), 1 process", "clips": n_small, "clips/s": round(n_small / t, 1),
                 "audio s/s": round(audio / t, 1), "peak MB": "-"})
    results = {"baseline_clips_per_s": n_small / t}
    for workers in (1, 2):
        r = run_prepare(source, n_big, workers)
        results[f"workers_{workers}"] = r
        rows.append({"method": f"voxage prepare, {workers} worker(s)", "clips": n_big,
                     "clips/s": round(n_big / r["decode_s"], 1), "audio s/s": round(r["audio_s"] / r["decode_s"], 1),
                     "peak MB": round(r["peak_rss_mb"])})
    small = run_prepare(source, n_small, 2)
    results["memory_small"] = small
    rows.append({"method": "voxage prepare, 2 workers (1/3 corpus)", "clips": n_small,
                 "clips/s": round(n_small / small["decode_s"], 1),
                 "audio s/s": round(small["audio_s"] / small["decode_s"], 1), "peak MB": round(small["peak_rss_mb"])})
    speedup = results["workers_1"]["decode_s"] / results["workers_2"]["decode_s"]
    two_workers_rate = n_big / results["workers_2"]["decode_s"]
    results.update(corpus=label, clips=n_big, speedup_2_vs_1_workers=speedup,
                   speedup_2_workers_vs_naive=two_workers_rate / results["baseline_clips_per_s"],
                   peak_rss_ratio_big_vs_small=results["workers_2"]["peak_rss_mb"] / small["peak_rss_mb"])
    print(f"corpus: {label}\n" + table(rows, ["method", "clips", "clips/s", "audio s/s", "peak MB"]))
    print(f"\n2 workers vs 1: {speedup:.2f}x; 2 workers vs naive: {results['speedup_2_workers_vs_naive']:.2f}x; "
          f"peak RSS at {n_big} vs {n_small} clips: {results['peak_rss_ratio_big_vs_small']:.2f}x")
    print(f"written: {save('prepare', results)}")


if __name__ == "__main__":
    main()
