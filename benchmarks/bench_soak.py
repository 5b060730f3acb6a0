"""Soak: 2,000 uploads to `voxage serve` on loopback, 8 at a time, 10% of them bad files, while /health is
polled. Pass: no unexpected status, no 5xx, server RSS growth under 10% after warm-up, /health under 100 ms.

Real clips of the corpus (lengths as they come); bad files: random bytes named .mp3, an empty file, text named
.wav, a too-short WAV. Run: .venv/bin/python benchmarks/bench_soak.py [--requests 2000]
"""

from __future__ import annotations

import argparse
import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import soundfile as sf
from common import corpus, percentile, save, served, table

WARM_UP = 200  # requests before the RSS baseline is read


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def bad_files(rng: np.random.Generator) -> list[tuple[str, bytes, set[int]]]:
    short = io.BytesIO()
    sf.write(short, np.zeros(1600, dtype=np.float32) + 0.1, 16000, format="WAV")
    return [("noise.mp3", rng.bytes(20_000), {415}), ("empty.mp3", b"", {415, 422}),
            ("notes.wav", b"just some text, not audio\n" * 40, {415}), ("short.wav", short.getvalue(), {422})]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=8)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    source, label = corpus()
    good = [(p.name, p.read_bytes(), {200}) for p in sorted((source / "clips").glob("*.mp3"))[:60]]
    bad = bad_files(rng)
    plan = [bad[i % len(bad)] if rng.random() < 0.1 else good[i % len(good)] for i in range(args.requests)]
    results, health_ms, rss, done = [], [], [], threading.Event()
    with served() as (url, server):
        def watch(client: httpx.Client) -> None:
            while not done.is_set():
                start = time.perf_counter()
                client.get(f"{url}/health")
                health_ms.append((time.perf_counter() - start) * 1000)
                rss.append((len(results), rss_mb(server.pid)))
                time.sleep(0.25)

        with httpx.Client(timeout=120) as client, httpx.Client(timeout=10) as probe:
            def one(item):
                name, data, expected = item
                start = time.perf_counter()
                status = client.post(f"{url}/api/predict", files={"audio": (name, data)}).status_code
                results.append((status, status in expected, (time.perf_counter() - start) * 1000))

            watcher = threading.Thread(target=watch, args=(probe,))
            watcher.start()
            start = time.perf_counter()
            with ThreadPoolExecutor(args.concurrency) as pool:
                list(pool.map(one, plan))
            wall = time.perf_counter() - start
            done.set()
            watcher.join()
    ms = [r[2] for r in results]
    after_warm_up = [mb for n, mb in rss if n >= WARM_UP]
    stats = {"requests": len(results), "bad_files": sum(1 for p in plan if p[2] != {200}),
             "unexpected_status": sum(1 for r in results if not r[1]), "5xx": sum(1 for r in results if r[0] >= 500),
             "throughput_rps": round(len(results) / wall, 1),
             **{f"p{q}_ms": round(percentile(ms, q), 1) for q in (50, 95, 99)},
             "rss_after_warm_up_mb": round(after_warm_up[0], 1), "rss_end_mb": round(rss[-1][1], 1),
             "rss_growth_pct": round(100 * (rss[-1][1] / after_warm_up[0] - 1), 1),
             "health_polls": len(health_ms), "health_p95_ms": round(percentile(health_ms, 95), 1),
             "health_max_ms": round(max(health_ms), 1), "corpus": label, "concurrency": args.concurrency}
    print(table([stats], ["requests", "bad_files", "unexpected_status", "5xx", "throughput_rps", "p50_ms", "p95_ms",
                          "p99_ms", "rss_after_warm_up_mb", "rss_end_mb", "rss_growth_pct", "health_p95_ms",
                          "health_max_ms"]))
    print(f"written: {save('soak', stats)}")


if __name__ == "__main__":
    main()
