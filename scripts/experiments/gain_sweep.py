"""The bundled model through microphone gains the protocol does not score (-40 to +30 dB, clipped at full scale),
on a corpus it never trained on: does the front-end's level handling hold beyond the two gains it was chosen on?
Runs whatever voxage is importable, so an older release's checkout on PYTHONPATH measures that release.

    .venv/bin/python scripts/experiments/gain_sweep.py ../shared/data/crema-d --gains=-40,-20,0,10,20,30 --every 4

What it found (CREMA-D, every 4th clip: 438 clips of 73 actors; balanced accuracy / off-by-one, the largest
answer share in docs/results/protocol/gain-sweep/):

| gain | -40 dB | -20 dB | 0 dB | +10 dB | +20 dB | +30 dB |
|---|---|---|---|---|---|---|
| voxage 0.9 | 0.252 / 0.632 | 0.252 / 0.632 | 0.245 / 0.628 | 0.238 / 0.571 | 0.250 / 0.591 | 0.191 / 0.564 |
| voxage 0.10 | 0.253 / 0.616 | 0.253 / 0.616 | 0.249 / 0.610 | 0.252 / 0.555 | 0.253 / 0.578 | 0.230 / 0.578 |
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from voxage import Predictor
from voxage.audio import load_audio
from voxage.data.commonvoice import read_common_voice
from voxage.evaluation.metrics import summarize
from voxage.labels import AGE_GROUPS

RATE = 16000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", type=Path, help="a folder in Common Voice's layout (validated.tsv, clips/)")
    ap.add_argument("--gains", default="-40,-20,0,10,20,30", help="comma-separated gains in dB")
    ap.add_argument("--every", type=int, default=4, help="every k-th age-labelled clip")
    ap.add_argument("--out", type=Path, default=Path("gain-sweep.json"))
    args = ap.parse_args()
    clips = read_common_voice(args.corpus)[0][:: args.every]
    truth = [AGE_GROUPS.index(c.age_group) for c in clips]
    waves = [load_audio(c.path, RATE) for c in clips]
    predictor, report = Predictor(), {}
    for gain in [float(g) for g in args.gains.split(",")]:
        answers = [AGE_GROUPS.index(predictor.predict(np.clip(w * 10 ** (gain / 20), -1.0, 1.0), RATE).age_group)
                   for w in waves]
        scores = summarize(truth, answers)
        report[f"{gain:+g} dB"] = {k: scores[k] for k in ("balanced_accuracy", "off_by_one_accuracy",
                                                          "largest_answer_share")}
        print(f"{gain:+g} dB: balanced accuracy {scores['balanced_accuracy']:.3f}, off-by-one "
              f"{scores['off_by_one_accuracy']:.3f} ({len(truth)} clips)", flush=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
