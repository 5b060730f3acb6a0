"""Folder prediction: `voxage predict DIR --csv` with 1 and 2 worker processes, against a plain loop over
`Predictor.predict_file` in one process (the naive baseline), on the same real clips in the same run.

Wall time includes start-up (imports, model load, worker spawn), decoding and writing the CSV.
Run: .venv/bin/python benchmarks/bench_predict_batch.py [--clips 300]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import corpus, save, table

from voxage.inference import Predictor


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=300)
    args = ap.parse_args()
    source, label = corpus()
    clips = sorted((source / "clips").glob("*.mp3"))[: args.clips]
    folder = Path(tempfile.mkdtemp(prefix="voxage-batch-"))
    for clip in clips:
        (folder / clip.name).symlink_to(clip.resolve())
    start = time.perf_counter()
    predictor = Predictor()
    for clip in clips:
        predictor.predict_file(clip)
    rows = [{"run": "naive loop (Predictor.predict_file, 1 process)", "seconds": time.perf_counter() - start}]
    for workers in (1, 2):
        out = folder.parent / f"{folder.name}-{workers}.csv"
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "voxage", "predict", str(folder), "--csv", str(out), "--workers",
                        str(workers), "--quiet"], check=True)
        rows.append({"run": f"voxage predict DIR --csv --workers {workers}", "seconds": time.perf_counter() - start})
        assert out.read_text().count("\n") == len(clips) + 1
    naive, one = rows[0]["seconds"], rows[1]["seconds"]
    for r in rows:
        r.update({"clips/s": f"{len(clips) / r['seconds']:.1f}", "x naive": f"{naive / r['seconds']:.2f}",
                  "x 1 worker": f"{one / r['seconds']:.2f}", "seconds": f"{r['seconds']:.1f}"})
    print(f"{len(clips)} clips of {label}")
    print(table(rows, ["run", "seconds", "clips/s", "x naive", "x 1 worker"]))
    print(f"written: {save('predict_batch', {'clips': len(clips), 'corpus': label, 'runs': rows})}")


if __name__ == "__main__":
    main()
