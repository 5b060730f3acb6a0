"""How often the bundled model answers `reliable: false`, and why, for real clips heard clean and through each
standard condition: the whole prediction path (decoding, quality measures, the familiarity check), not cached
vectors. The Common Voice clips trained the bundled model, so its familiarity check has heard them clean; the
held-out numbers are `voxage crossval`'s (docs/robustness.md). CREMA-D's clips it never heard.

    .venv/bin/python scripts/experiments/reliable_share.py ../shared/data [--clips 20] [--out share.json]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np

from voxage import Predictor
from voxage.audio import load_audio
from voxage.audio.channels import parse_channel
from voxage.data.feature_files import clip_rng
from voxage.evaluation.conditions import STANDARD


def pick(folder: Path, n: int) -> list[Path]:
    """n clips spread evenly over a folder's (sorted) clips, so one speaker's run does not fill them."""
    clips = sorted(folder.rglob("*.mp3"))
    return [clips[i] for i in np.linspace(0, len(clips) - 1, n).astype(int)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", type=Path, help="the shared data folder (cv-en-delta13, cv-multi-6.1, crema-d)")
    ap.add_argument("--clips", type=int, default=20, help="clips per corpus")
    ap.add_argument("--out", type=Path, default=Path("reliable-share.json"))
    args = ap.parse_args()
    predictor, rate = Predictor(), 16000
    corpora = {"common voice": pick(args.data / "cv-en-delta13" / "clips", args.clips)
               + pick(args.data / "cv-multi-6.1", args.clips),
               "crema-d": pick(args.data / "crema-d" / "clips", args.clips)}
    report: dict = {}
    for corpus, clips in corpora.items():
        waves = {c.stem: load_audio(c, rate) for c in clips}
        babble = [load_audio(c, rate) for c in pick(args.data / "cv-en-delta13" / "clips", 50)[-4:]]
        for spec in ["clean", *STANDARD] if corpus == "common voice" else ["clean"]:
            reasons, unreliable = Counter(), 0
            for key, wave in waves.items():
                heard = wave if spec == "clean" else parse_channel(spec)(wave, rate, clip_rng(key), babble)
                pred = predictor.predict(heard, sample_rate=rate)
                unreliable += not pred.reliable
                reasons.update(pred.unreliable_reasons)
            row = {"clips": len(waves), "unreliable": unreliable / len(waves),
                   **{f"reason {r}": n / len(waves) for r, n in sorted(reasons.items())}}
            report[f"{corpus}: {spec}"] = row
            print(f"{corpus + ': ' + spec:<44} unreliable {row['unreliable']:4.0%}  "
                  + "  ".join(f"{r} {n / len(waves):.0%}" for r, n in sorted(reasons.items())), flush=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
