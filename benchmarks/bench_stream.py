"""How many live calls can one `voxage serve` judge at once on this machine?

N concurrent streams on loopback, each a real Common Voice clip looped to SECONDS of 8 kHz mu-law sent at real
time (160-byte frames every 20 ms, on an absolute schedule), starting at random within the first 2 s (calls that
all started on the same frame would ask for their interims at the same moments). Per N: the server's CPU
seconds (its processes, from /proc) per second of audio, interim latency (from sending the frame that completed
the audio an interim judged to receiving it) p50/p95, and dropped audio (sent seconds the final answer did not
count). The number sustained is the largest N with interim p95 under 500 ms and nothing dropped.
Baseline in the same run, in-process: judging all the audio so far at every interim (`StreamSession` with its
incremental path off) against the incremental session, CPU per second of audio on the same clips.
With `--arrival steady`, N lines each start at random within one call length and then call back to back, as
calls reach a call centre; latency and CPU are measured over the second call length, when all N are in a call.
Run: .venv/bin/python benchmarks/bench_stream.py [--streams 10,25,50,75] [--seconds 20] [--workers 2]
[--arrival together|steady]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from pathlib import Path

import numpy as np
from common import SHARED_CV, corpus, percentile, save, served, table
from websockets.asyncio.client import connect

from voxage.audio import g711, load_audio
from voxage.inference import Predictor
from voxage.inference.stream import StreamFormat, StreamSession

FRAME_S, RATE = 0.02, 8000
STAGGER_S = 2.0  # calls start at random within one interim period, as calls do, not all on the same frame
BYTES = int(FRAME_S * RATE)


def calls(n_clips: int, seconds: float) -> list[bytes]:
    """Real clips as mu-law calls of `seconds`, each clip looped."""
    source, _ = corpus()
    paths = sorted((source / "clips").glob("*.mp3"))[:n_clips]
    out = []
    for p in paths:
        wave = load_audio(p, RATE)
        wave = np.tile(wave, int(np.ceil(seconds * RATE / len(wave))))[: int(seconds * RATE)]
        out.append(g711.encode(wave, "mulaw"))
    return out


def tree_cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its children (live ones included), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        me, parent = int(stat.parent.name), int(fields[1])
        if me == pid or parent == pid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


async def one_stream(url: str, call: bytes, latencies: list[tuple[float, float]], offset: float) -> float:
    """Send a call at real time, starting `offset` s late, noting (when, latency) of each interim; returns the
    seconds of audio the final answer did not count."""
    sent_at: dict[int, float] = {}  # samples sent -> when
    await asyncio.sleep(offset)
    async with connect(url, max_queue=None, compression=None) as ws:
        async def send():
            start = time.perf_counter()
            for i, at in enumerate(range(0, len(call), BYTES)):
                await asyncio.sleep(max(0.0, start + i * FRAME_S - time.perf_counter()))
                await ws.send(call[at : at + BYTES])
                sent_at[at + len(call[at : at + BYTES])] = time.perf_counter()
            await ws.send(json.dumps({"type": "end"}))

        sender = asyncio.create_task(send())
        async for message in ws:
            m = json.loads(message)
            if m["type"] == "interim":
                now = time.perf_counter()
                latencies.append((now, now - sent_at[int(round(m["seconds"] * RATE))]))
            elif m["type"] == "final":
                await sender
                return len(call) / RATE - m["seconds"]
            else:
                raise RuntimeError(m)
    raise RuntimeError("stream closed without a final answer")


async def load(url: str, n: int, pool: list[bytes], server_pid: int, arrival: str) -> dict:
    """`together`: n calls starting within STAGGER_S. `steady`: n lines, each starting at random within one call
    length and then calling back to back, as calls arrive at a call centre; measured over the second call length,
    when every line is in a call at some stage of it."""
    latencies: list[tuple[float, float]] = []
    length = len(pool[0]) / RATE
    rng = np.random.default_rng(n)
    start = time.perf_counter()
    if arrival == "together":
        cpu = tree_cpu_seconds(server_pid)
        offsets = rng.uniform(0, STAGGER_S, n)
        dropped = await asyncio.gather(*(one_stream(url, pool[i % len(pool)], latencies, offsets[i])
                                         for i in range(n)))
        wall = time.perf_counter() - start
        return {"latencies": [x for _, x in latencies], "dropped_s": float(sum(dropped)),
                "cpu_s": tree_cpu_seconds(server_pid) - cpu, "wall_s": wall, "audio_s": n * length}

    async def line(i: int, offset: float) -> float:
        dropped, k = 0.0, 0
        await asyncio.sleep(offset)
        while time.perf_counter() < start + 2 * length:
            dropped += await one_stream(url, pool[(i + k) % len(pool)], latencies, 0.0)
            k += 1
        return dropped

    async def window_cpu() -> float:
        await asyncio.sleep(length)
        before = tree_cpu_seconds(server_pid)
        await asyncio.sleep(length)
        return tree_cpu_seconds(server_pid) - before

    meter = asyncio.create_task(window_cpu())
    dropped = await asyncio.gather(*(line(i, u) for i, u in enumerate(rng.uniform(0, length, n))))
    window = [x for t, x in latencies if start + length <= t < start + 2 * length]
    return {"latencies": window, "dropped_s": float(sum(dropped)), "cpu_s": await meter, "wall_s": length,
            "audio_s": n * length}


def baseline(pool: list[bytes], predictor: Predictor) -> dict:
    """CPU seconds per second of audio, in this process: incremental interims vs judging everything again."""
    out = {}
    for name, incremental in (("incremental", True), ("whole audio at every interim", False)):
        cpu = time.process_time()
        for call in pool:
            session = StreamSession(predictor, StreamFormat("mulaw", RATE))
            session.incremental = session.incremental if incremental else None
            for at in range(0, len(call), BYTES):
                session.feed(call[at : at + BYTES])
            session.final()
        out[name] = (time.process_time() - cpu) / (sum(map(len, pool)) / RATE)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", default="10,25,50,75")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--arrival", choices=["together", "steady"], default="together",
                        help="calls starting together (the worst case), or arriving at random (a call centre)")
    args = parser.parse_args()
    pool = calls(8, args.seconds)
    print(f"calls: {len(pool)} real clips ({'shared CV' if SHARED_CV.is_dir() else 'synthetic'}) looped to "
          f"{args.seconds:g} s of 8 kHz mu-law")
    base = baseline(pool[:3], Predictor())
    rows, runs = [], {}
    with served("--workers", str(args.workers), "--stream-max-seconds", str(args.seconds + 5)) as (url, server):
        ws_url = url.replace("http://", "ws://") + "/api/stream?encoding=mulaw&sample_rate=8000"
        for n in (int(x) for x in args.streams.split(",")):
            r = asyncio.run(load(ws_url, n, pool, server.pid, args.arrival))
            lat = r["latencies"]
            runs[n] = {"cpu_s_per_audio_s": r["cpu_s"] / r["audio_s"], "interim_p50_ms": percentile(lat, 50) * 1e3,
                       "interim_p95_ms": percentile(lat, 95) * 1e3, "interims": len(lat), "dropped_s": r["dropped_s"],
                       "wall_s": r["wall_s"], "cores_busy": r["cpu_s"] / r["wall_s"]}
            rows.append({"streams": n, "CPU s / audio s": round(runs[n]["cpu_s_per_audio_s"], 4),
                         "cores busy": round(runs[n]["cores_busy"], 2),
                         "interim p50 ms": round(runs[n]["interim_p50_ms"]),
                         "interim p95 ms": round(runs[n]["interim_p95_ms"]), "dropped s": round(r["dropped_s"], 3)})
            print(table(rows[-1:], list(rows[-1])), flush=True)
    sustained = max([n for n, r in runs.items() if r["interim_p95_ms"] < 500 and r["dropped_s"] == 0], default=0)
    print(f"\n{args.workers} server processes on {os.cpu_count()} cores, {args.seconds:g} s calls, {args.arrival}:\n"
          + table(rows, list(rows[0])))
    print(f"\nsustained in real time with interim p95 < 500 ms and no audio dropped: {sustained} streams")
    print(f"CPU per second of audio, in-process: incremental {base['incremental'] * 1e3:.1f} ms, judging all the "
          f"audio again at every interim {base['whole audio at every interim'] * 1e3:.1f} ms "
          f"({base['whole audio at every interim'] / base['incremental']:.2f}x)")
    result = {"seconds": args.seconds, "workers": args.workers, "arrival": args.arrival, "runs": runs,
              "sustained": sustained,
              "baseline_cpu_s_per_audio_s": base}
    print(f"written: {save(f'stream-{args.seconds:g}s-{args.arrival}', result)}")


if __name__ == "__main__":
    main()
