"""Shared bits of the benchmarks: the clip source, a results writer, a table printer."""

from __future__ import annotations

import json
import platform
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED_CV = ROOT.parent / "shared" / "data" / "cv-en-delta13"
RESULTS = Path(__file__).resolve().parent / "results"


def corpus() -> tuple[Path, str]:
    """The real Common Voice slice when present, else a synthetic corpus made on the spot."""
    if (SHARED_CV / "validated.tsv").is_file():
        return SHARED_CV, "cv-en-delta13 (real MP3, 32 kHz)"
    from voxage.data.synthetic import SyntheticConfig, make_corpus

    root = Path(tempfile.mkdtemp(prefix="voxage-bench-"))
    return make_corpus(root, SyntheticConfig(speakers_per_class=10, clips_per_speaker=8)), "synthetic (MP3, 32 kHz)"


def percentile(values, q) -> float:
    return float(np.percentile(np.asarray(values), q))


def save(name: str, result: dict) -> Path:
    RESULTS.mkdir(exist_ok=True)
    result = {"machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine(),
                          "cores": __import__("os").cpu_count()}, **result}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


def table(rows: list[dict], columns: list[str]) -> str:
    widths = [max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns]
    line = lambda vals: "  ".join(str(v).ljust(w) for v, w in zip(vals, widths))  # noqa: E731
    body = [line(r.get(c, "") for c in columns) for r in rows]
    return "\n".join([line(columns), line("-" * w for w in widths), *body])


@contextmanager
def served(*args: str):
    """`voxage serve ARGS` on a free loopback port, ready (health answered); yields (url, process)."""
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "voxage", "serve", "--port", str(port), *args],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                httpx.get(f"{url}/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        yield url, server
    finally:
        server.terminate()
        server.wait(10)
