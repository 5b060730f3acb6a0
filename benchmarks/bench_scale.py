"""What a full Common Voice release costs to prepare and train on: clips/s, cache bytes per clip per kind, peak RSS,
and the projection for 450,000 clips.

The corpus is the shared real English clips, each linked (a symlink: nothing copied) under COPIES new names with
a new speaker per copy: COPIES x 1,317 rows of real MP3 decoding. Each kind is prepared alone into a fresh work
dir (`prepare --kinds KIND --balance none`): 2 workers on the whole corpus, 1 worker on its first SMALL clips,
each a fresh subprocess whose peak RSS is the most its process tree (workers included) held at once. Bytes per
clip are the entries' sizes (apparent) and the blocks they take on this filesystem (on disk). Then
`train --model embed` reads the prepared store at both sizes, and its peak RSS gives the bundled recipe's memory
per clip. Baseline: the cache of voxage 0.6 and before, a float16 5 s waveform and log-mel for every clip.
Run: .venv/bin/python benchmarks/bench_scale.py [--copies 16] [--small 5000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import SHARED_CV, save, table

from voxage.data.manifest import read_manifest
from voxage.features import FeatureConfig
from voxage.features.frontends import FRONTENDS

RELEASE = 450_000
CORES = (2, 32, 256)  # one machine like this one; a 16-machine job array of 2 cores; a 128-machine one


def linked_corpus(root: Path, copies: int) -> int:
    """COPIES x the shared labelled clips as one Common Voice folder; returns its row count."""
    with open(SHARED_CV / "validated.tsv", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header, rows = reader.fieldnames, [r for r in reader if r.get("age")]
    (root / "clips").mkdir(parents=True)
    out = []
    for i in range(copies):
        for r in rows:
            name = f"x{i:02d}_{r['path']}"
            os.symlink((SHARED_CV / "clips" / r["path"]).resolve(), root / "clips" / name)
            out.append({**r, "path": name, "client_id": f"{r['client_id']}-{i}"})
    with open(root / "validated.tsv", "w", newline="") as f:
        writer = csv.DictWriter(f, header, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\")
        writer.writeheader()
        writer.writerows(out)
    return len(out)


def tree_rss_mb(root: int) -> float:
    """The resident memory of a process and all its descendants now (Linux /proc), in MiB."""
    parents, rss = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        pid = int(stat.parent.name)
        parents[pid], rss[pid] = int(fields[1]), int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    tree, grown = {root}, True
    while grown:
        more = {p for p, parent in parents.items() if parent in tree} - tree
        tree |= more
        grown = bool(more)
    return sum(rss.get(p, 0) for p in tree) / 2**20


def measured(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MiB of the command and its worker processes together, sampled every 0.2 s)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        peak = 0.0
        while proc.poll() is None:
            peak = max(peak, tree_rss_mb(proc.pid))
            time.sleep(0.2)
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(err.read().decode()[-3000:])
    return time.perf_counter() - start, peak


def cache_bytes(work: Path, kind: str) -> tuple[int, int, int]:
    """(entries, apparent bytes, bytes on disk) of one kind's store."""
    files = [p for p in (work / "cache" / kind).rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files), sum(p.stat().st_blocks * 512 for p in files)


def prepare(corpus: Path, out: Path, kind: str, workers: int, limit: int | None) -> dict:
    cmd = [sys.executable, "-m", "voxage", "prepare", str(corpus), "--out", str(out), "--kinds", kind, "--workers",
           str(workers), "--quiet", "--balance", "none"] + (["--limit", str(limit)] if limit else [])
    wall, rss = measured(cmd)
    decode = json.loads((out / "prepare.json").read_text())["decode_seconds"]
    entries, apparent, disk = cache_bytes(out, kind)
    return {"kind": kind, "workers": workers, "clips": entries, "decode_s": decode, "wall_s": round(wall, 1),
            "clips_per_s": entries / decode, "peak_rss_mb": rss, "bytes_per_clip": apparent / entries,
            "disk_bytes_per_clip": disk / entries}


def train_rss(work: Path) -> tuple[int, float]:
    """(training clips, peak RSS MiB) of one epoch of the bundled recipe on the prepared embed store."""
    run = work / "runs" / "embed"
    _, rss = measured([sys.executable, "-m", "voxage", "train", str(work), "--model", "embed", "--epochs", "1",
                       "--quiet", "--run-dir", str(run)])
    return sum(r.split == "train" for r in read_manifest(work / "manifest.tsv")), rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=16)
    parser.add_argument("--small", type=int, default=5000, help="clips of the 1-worker run")
    parser.add_argument("--keep", type=Path, help="build in DIR and keep it (default: a temp dir, removed)")
    args = parser.parse_args()
    if not (SHARED_CV / "validated.tsv").is_file():
        sys.exit(f"needs the shared Common Voice clips at {SHARED_CV}")
    root = args.keep or Path(tempfile.mkdtemp(prefix="voxage-scale-"))
    try:
        corpus = root / "corpus"
        n_rows = linked_corpus(corpus, args.copies)
        print(f"corpus: {n_rows} rows ({args.copies} x the shared English clips, linked under new speakers)")
        runs = []
        for kind in FRONTENDS:
            runs.append(prepare(corpus, root / f"{kind}-2w", kind, 2, None))
            runs.append(prepare(corpus, root / f"{kind}-1w", kind, 1, args.small))
            print(f"  {kind}: {runs[-2]['clips_per_s']:.1f} clips/s on 2 workers, {runs[-1]['clips_per_s']:.1f} "
                  f"on 1", flush=True)
        embed_runs = [root / "embed-1w", root / "embed-2w"]
        trained = [train_rss(w) for w in embed_runs]
        cfg = FeatureConfig()
        seed_bytes = 2 * (cfg.num_samples + cfg.n_mels * cfg.num_frames)  # float16 wave + mel, every clip
        result = _report(runs, trained, seed_bytes, n_rows)
        print(result.pop("printed"))
        print(f"written: {save('scale', result)}")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


def _report(runs: list[dict], trained: list[tuple[int, float]], seed_bytes: int, n_rows: int) -> dict:
    rows = [{"kind": r["kind"], "workers": r["workers"], "clips": r["clips"], "clips/s": round(r["clips_per_s"], 1),
             "KiB/clip": round(r["bytes_per_clip"] / 1024, 1),
             "KiB/clip on disk": round(r["disk_bytes_per_clip"] / 1024, 1),
             "peak MiB": round(r["peak_rss_mb"])} for r in runs]
    rows.append({"kind": "seed cache (wave+mel float16)", "KiB/clip": round(seed_bytes / 1024, 1)})
    projection = []
    for kind in FRONTENDS:
        two = next(r for r in runs if r["kind"] == kind and r["workers"] == 2)
        one = next(r for r in runs if r["kind"] == kind and r["workers"] == 1)
        per_core = two["clips_per_s"] / 2
        projection.append({"kind": kind, "disk GiB": round(RELEASE * two["disk_bytes_per_clip"] / 2**30, 1),
                           "speed-up 2 vs 1 worker": round(two["clips_per_s"] / one["clips_per_s"], 2),
                           **{f"hours on {c} cores": round(RELEASE / (per_core * c) / 3600, 2) for c in CORES}})
    (n_small, rss_small), (n_big, rss_big) = trained
    per_clip_kb = (rss_big - rss_small) / (n_big - n_small) * 1024
    train = {"train_clips": [n_small, n_big], "peak_rss_mb": [round(rss_small), round(rss_big)],
             "kb_per_training_clip": round(per_clip_kb, 2),
             "projected_rss_gb_450k": round((rss_small + (RELEASE - n_small) * per_clip_kb / 1024) / 1024, 2)}
    printed = "\n".join([
        table(rows, ["kind", "workers", "clips", "clips/s", "KiB/clip", "KiB/clip on disk", "peak MiB"]),
        f"\nprojected for a {RELEASE:,}-clip release (2 workers' rate per core, linear in cores):",
        table(projection, ["kind", "disk GiB", "speed-up 2 vs 1 worker", *(f"hours on {c} cores" for c in CORES)]),
        f"\ntrain --model embed, one epoch: peak RSS {train['peak_rss_mb'][0]} MiB at {n_small} training clips, "
        f"{train['peak_rss_mb'][1]} MiB at {n_big}: {per_clip_kb:.2f} KiB per clip, so about "
        f"{train['projected_rss_gb_450k']} GiB for {RELEASE:,} (all of them training clips)"])
    return {"corpus_rows": n_rows, "runs": runs, "projection": projection, "training": train,
            "seed_bytes_per_clip": seed_bytes, "printed": printed}


if __name__ == "__main__":
    main()
