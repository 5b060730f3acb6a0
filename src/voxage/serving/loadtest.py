"""A bounded load test against a voxage server on loopback: N uploads, C at a time, latency percentiles."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np

from voxage.errors import ConfigError


def run_load(url: str, audio: bytes, filename: str = "clip.mp3", requests: int = 200, concurrency: int = 8,
             timeout: float = 60.0) -> dict:
    host = httpx.URL(url).host
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ConfigError("load tests only target this machine (127.0.0.1 / localhost)")
    with httpx.Client(timeout=timeout) as client:
        def one(_):
            start = time.perf_counter()
            try:
                status = client.post(f"{url}/api/predict", files={"audio": (filename, audio)}).status_code
            except httpx.HTTPError:
                status = 0
            return status, (time.perf_counter() - start) * 1000

        start = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            results = list(pool.map(one, range(requests)))
        wall = time.perf_counter() - start
    ms = np.array([r[1] for r in results])
    errors = sum(1 for status, _ in results if status != 200)
    return {"requests": requests, "concurrency": concurrency, "errors": errors, "wall_s": round(wall, 2),
            "throughput_rps": round(requests / wall, 1),
            **{f"p{q}_ms": round(float(np.percentile(ms, q)), 1) for q in (50, 90, 95, 99)}}
