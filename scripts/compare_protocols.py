"""Two or more `voxage crossval --conditions` reports side by side: balanced accuracy, off-by-one, ECE and the
largest answer share per condition (ECE of each fold seed's folds pooled where the runs kept every answer,
voxage 0.8 on; else the mean over folds), each recipe's column from its own crossval-*.json (same folds when the runs
used the same work dir and fold seeds). Usage:

    .venv/bin/python scripts/compare_protocols.py NAME=crossval-A.json NAME=crossval-B.json [--model embed]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from voxage.evaluation.crossval import HELD_OUT, protocol_mean


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", metavar="NAME=JSON")
    parser.add_argument("--model", default="embed")
    a = parser.parse_args()
    runs = {name: json.loads(Path(path).read_text()) for name, path in (r.split("=", 1) for r in a.runs)}
    first = next(iter(runs.values()))
    held = first.get("held_out_corpus")
    order = [*first["conditions"], *([HELD_OUT] if held else [])]
    names = list(runs)
    print("| condition | " + " | ".join(f"{n}: balanced acc (kept of clean) / off-by-one / ECE / top share"
                                        for n in names) + " |")
    print("|---|" + "---|" * len(names))
    for c in order:
        cells = []
        for n in names:
            e = runs[n]["models"][a.model]["conditions"].get(c)
            cells.append("-" if e is None else
                         f"{e['balanced_accuracy_mean']:.3f} ± {e['balanced_accuracy_std']:.3f} "
                         f"({e['kept_of_clean']:.1%}) / {e['off_by_one_accuracy_mean']:.3f} / "
                         f"{e.get('ece_pooled_mean', e['ece_mean']):.3f} / "
                         f"{e['largest_answer_share_mean']:.2f}")
        print(f"| {f'{HELD_OUT} ({held})' if c == HELD_OUT else c} | " + " | ".join(cells) + " |")
    means = [protocol_mean(runs[n]["models"][a.model]["conditions"]) for n in names]
    print("| **mean over clean and the channels** | " + " | ".join(
        f"**{m['balanced_accuracy']:.3f}** / {m['off_by_one_accuracy']:.3f} / {m.get('ece_pooled', m['ece']):.3f} / "
        f"{m['largest_answer_share']:.2f}" for m in means) + " |")


if __name__ == "__main__":
    main()
