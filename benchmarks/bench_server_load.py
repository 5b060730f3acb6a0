"""Bounded load test of `voxage serve` on loopback: 200 uploads of a real clip, 8 at a time.

Run: .venv/bin/python benchmarks/bench_server_load.py [--model PATH]  (default: the bundled model)
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time

import httpx
from common import corpus, save, table

from voxage.serving.loadtest import run_load


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=8)
    args = ap.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "voxage", "serve", "--port", str(port)]
    cmd += ["--model", args.model] if args.model else []
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                httpx.get(f"{url}/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        source, label = corpus()
        clip = sorted((source / "clips").glob("*.mp3"))[0]
        stats = run_load(url, clip.read_bytes(), clip.name, args.requests, args.concurrency)
    finally:
        server.terminate()
        server.wait(10)
    stats.update(model=args.model or "bundled default", clip=clip.name, corpus=label)
    print(table([stats], ["requests", "concurrency", "errors", "throughput_rps", "p50_ms", "p90_ms", "p95_ms",
                          "p99_ms"]))
    print(f"written: {save('server_load', stats)}")


if __name__ == "__main__":
    main()
