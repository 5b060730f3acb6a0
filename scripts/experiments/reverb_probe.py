"""Can a recording's reverberation be told from its own sound? A screening probe for issue #25 (rooms are the one
condition `features.quality` does not flag), not a shipped measure.

The estimate: a room cannot make speech fall faster than its own decay (60 dB in RT60), so the fastest energy
decays in a clip bound the room's. Frame energies (20 ms, 5 ms hop), every 60 ms run that falls steadily from
25 dB above the clip's noise floor, the least-squares slope of each; the 10th percentile of the slopes (the
fastest) gives 60 dB / slope. Printed per source: median and upper percentiles, and the share above a threshold.

    .venv/bin/python scripts/experiments/reverb_probe.py [--threshold 0.21]

What it found (voxage 0.7, 40 English clips each through the protocol's rooms; 150 clips per corpus clean):
- through rooms it rises with RT60: 10th-90th percentile 0.12-0.19 clean, 0.22-0.30 at RT60 0.3 s, 0.29-0.45 at
  0.6 s, 0.33-0.58 at 0.9 s; noise at 10 dB leaves no run 25 dB above the floor (no estimate), a phone line
  reads as clean;
- but clean speech is not all dry: above 0.21 s were 4% of cv-en-delta13, 19% of cv-multi-6.1 and most CREMA-D
  clips that had an estimate (113 of 150 had none: acted, studio-quiet). A threshold that flags RT60 0.3 s rooms
  would call one clean multilingual clip in five reverberant; 0.29 s flags about 90% of RT60 0.6 s rooms.
"""

from __future__ import annotations

import argparse
import glob
from pathlib import Path

import numpy as np

from voxage.audio import load_audio
from voxage.audio.channels import parse_channel

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
RATE = 16000


def fastest_decay_rt60(wave: np.ndarray, rate: int = RATE, hop_s: float = 0.005, win_s: float = 0.02,
                       run_s: float = 0.06, quantile: float = 10) -> float:
    """Seconds to fall 60 dB at the clip's fastest steady decays; nan when no run rises 25 dB above the floor."""
    hop, win = int(hop_s * rate), int(win_s * rate)
    frames = np.lib.stride_tricks.sliding_window_view(wave, win)[::hop]
    energy = 10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)
    floor = np.percentile(energy, 10)
    k = int(run_s / hop_s)
    t = np.arange(k) * hop_s - (k - 1) * hop_s / 2
    runs = np.lib.stride_tricks.sliding_window_view(energy, k)
    slopes = (runs - runs.mean(1, keepdims=True)) @ t / (t @ t)
    steady = (runs[:, 0] > floor + 25) & (runs[:, -1] > floor + 5) & np.all(np.diff(runs, axis=1) < 0.5, axis=1)
    if steady.sum() < 5:
        return float("nan")
    fastest = np.percentile(slopes[steady], quantile)
    return 60 / -fastest if fastest < 0 else float("inf")


def report(name: str, values: list[float], threshold: float) -> None:
    v = np.asarray(values)
    known = v[~np.isnan(v)]
    print(f"{name:<22} n={len(v):<4} no estimate {int(np.isnan(v).sum()):<4} p10/50/90 "
          f"{np.round(np.percentile(known, [10, 50, 90]), 3) if len(known) else '-'}  above {threshold}: "
          f"{np.mean(known > threshold) if len(known) else float('nan'):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, default=0.21)
    args = parser.parse_args()
    english = sorted(glob.glob(str(SHARED / "cv-en-delta13" / "clips" / "*.mp3")))
    for spec in (None, "room:rt60_s=0.3", "room:rt60_s=0.6", "room:rt60_s=0.9", "noise:snr_db=10", "phone"):
        values = []
        for i, f in enumerate(english[::30][:40]):
            wave = load_audio(f, RATE)
            values.append(fastest_decay_rt60(parse_channel(spec)(wave, RATE, np.random.default_rng(i), [])
                                             if spec else wave))
        report(spec or "clean", values, args.threshold)
    corpora = {"cv-en-delta13": "cv-en-delta13/clips/*.mp3", "cv-multi-6.1": "cv-multi-6.1/*/clips/*.mp3",
               "crema-d": "crema-d/clips/*"}
    for name, pattern in corpora.items():
        files = sorted(glob.glob(str(SHARED / pattern)))
        files = files[:: max(1, len(files) // 150)][:150]
        report(f"{name} clean", [fastest_decay_rt60(load_audio(f, RATE)) for f in files], args.threshold)


if __name__ == "__main__":
    main()
