"""How far does a channel move a clip's vector, per corpus? Each training copy minus its own clip's vector as
recorded (paired), so a corpus's language or speakers cancel out; printed per channel family (rooms split at
RT60 0.55 s) and corpus: the length of the mean displacement and the mean length of one, in the vector's own
units (GE2E, pitch statistics and frame means as cached, before the head's scaling).

    .venv/bin/python scripts/experiments/displacement_by_corpus.py WORK [--copies 4] [--families room,phone]

What it found (voxage 0.13's work dir of the protocol, 4 copies): every channel moves Common Voice English clips
farther than the 57 other languages' (a short room 4.45 vs 3.45, a long one 5.48 vs 4.87, the phone line 13.4 vs
11.8, loud white noise 3.69 vs 2.95). One reading: English clips are recorded drier and cleaner, so a room moves
them farther than the all-language displacement the compensation takes off (docs/experiments.md, "Since voxage
0.13").
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np

from compensation_probe import banded_family  # beside this script

from voxage.data.dataset import read_all
from voxage.data.stores import copy_rows, feature_store, heard_through, recorded_indices, with_copies
from voxage.data.workdir import load_work_dir


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("work", type=Path, help="a prepared work dir (`voxage prepare --kinds embed`)")
    ap.add_argument("--copies", type=int, default=4, help="channel copies per clip (computed if not cached)")
    ap.add_argument("--families", default="room,phone,noise-white-loud", help="comma-separated family prefixes")
    ap.add_argument("--skip-corpus", default="crema-d", help="a corpus left out, as the protocol holds it out")
    args = ap.parse_args()
    cache, every = load_work_dir(args.work)
    rows = [r for r in every if r.corpus != args.skip_corpus]
    store = with_copies(feature_store(args.work, cache, "embed", every), args.work, cache, "embed", rows,
                        args.copies, every)
    heard = rows + copy_rows(rows, args.copies)
    x, originals = read_all(store, heard), recorded_indices(heard)
    moved = defaultdict(list)
    for i in np.flatnonzero(originals >= 0):  # the copies, each paired with its clip as recorded
        family = banded_family(heard_through(heard[i].key), ("room",))  # rooms long and short apart
        if family.startswith(tuple(args.families.split(","))):
            moved[family, heard[i].corpus].append(x[i] - x[originals[i]])
    for (name, corpus), shifts in sorted(moved.items()):
        d = np.stack(shifts)
        print(f"{name:20s} {corpus:16s} copies {len(d):5d}  mean displacement {np.linalg.norm(d.mean(0)):6.3f}  "
              f"mean length {np.linalg.norm(d, axis=1).mean():6.3f}")


if __name__ == "__main__":
    main()
