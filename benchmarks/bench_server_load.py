"""Bounded load test of `voxage serve` on loopback: 400 uploads of 5 s of real speech (MP3), 8 at
a time. The load generator runs on the same 2 cores as the server.

Run: .venv/bin/python benchmarks/bench_server_load.py [--model PATH] [--workers N]  (default: the bundled model)
"""

from __future__ import annotations

import argparse
import io

import numpy as np
import soundfile as sf
from common import corpus, save, served, table

from voxage.audio import load_audio
from voxage.serving.loadtest import run_load


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model")
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--concurrency", type=int, default=8)
    args = ap.parse_args()
    extra = ["--model", args.model] if args.model else []
    with served("--workers", str(args.workers), *extra) as (url, _):
        source, label = corpus()
        clips = sorted((source / "clips").glob("*.mp3"))[:4]
        speech = np.concatenate([load_audio(c, 32000) for c in clips])[: int(args.seconds * 32000)]
        upload = io.BytesIO()
        sf.write(upload, speech, 32000, format="MP3")
        stats = run_load(url, upload.getvalue(), "speech.mp3", args.requests, args.concurrency)
    stats.update(model=args.model or "bundled default", clip_seconds=args.seconds, server_workers=args.workers,
                 clip=f"first clips of the corpus joined, MP3 32 kHz, {len(upload.getvalue())} bytes", corpus=label)
    print(table([stats], ["requests", "concurrency", "server_workers", "clip_seconds", "errors", "throughput_rps",
                          "p50_ms", "p90_ms", "p95_ms", "p99_ms"]))
    print(f"written: {save('server_load', stats)}")


if __name__ == "__main__":
    main()
