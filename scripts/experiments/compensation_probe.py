"""How much does channel compensation's own fit matter? Refits a `voxage crossval` run's compensation on each
fold's training clips and copies, with another classifier strength C or its displacements scaled, and scores the
fold's test speakers again, clean, through the protocol's channels and on the held-out corpus. Eval-only: the
heads are not retrained (the compensation acts at prediction only), so a variant costs about 30 s a fold.

    .venv/bin/python scripts/experiments/compensation_probe.py WORK RUN OUT --c 0.001,0.01,0.1 --seeds 0
    .venv/bin/python scripts/experiments/compensation_probe.py WORK RUN OUT --strength 1.5,2 --seeds 0

WORK and RUN as given to `voxage crossval --channel-copies 4 --held-out-corpus crema-d` (add --test-corpus as
there); per variant, OUT/VARIANT/seed-S/fold-F.json and a line of means over the folds.

What it found (voxage 0.9's run, all languages, seed 0's 5 folds): C from 0.001 to 0.1 moves the mean over clean
and the 14 channels by at most 0.0015 (0.3025 / 0.3012 / 0.3010); displacements scaled by 1.5 or 2 trade balanced
accuracy for off-by-one (-0.004 / +0.021 and -0.010 / +0.039: answers pulled towards the middle groups), so
neither is bundled (docs/experiments.md).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from voxage.data.dataset import read_all
from voxage.data.stores import aligned_store, copy_rows, feature_store, heard_through, with_copies
from voxage.data.weights import sample_weights
from voxage.data.workdir import load_work_dir
from voxage.evaluation.conditions import resolve_conditions
from voxage.evaluation.crossval import fold_ids, fold_splits, run_tag
from voxage.evaluation.evaluate import evaluate_conditions, evaluate_rows
from voxage.models.artifact import ModelArtifact
from voxage.models.embed_head import CHANNEL_SCORE_C
from voxage.training.config import TrainConfig

SCORES = ("balanced_accuracy", "off_by_one_accuracy", "ece")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("work", type=Path)
    ap.add_argument("run", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--c", default="", help="comma-separated classifier strengths (inverse L2)")
    ap.add_argument("--strength", default="", help="comma-separated factors on the fitted displacements")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--test-corpus")
    ap.add_argument("--held-out-corpus", default="crema-d")
    args = ap.parse_args()
    variants = [(f"c{c}", float(c), 1.0) for c in filter(None, args.c.split(","))] + [
        (f"strength{s}", CHANNEL_SCORE_C, float(s)) for s in filter(None, args.strength.split(","))]
    cache, every = load_work_dir(args.work)
    rows = [r for r in every if r.corpus != args.held_out_corpus]
    held = [r for r in every if r.corpus == args.held_out_corpus]
    conditions = resolve_conditions(["standard"])
    tag = run_tag("speaker", args.test_corpus, args.held_out_corpus)
    for seed in [int(s) for s in args.seeds.split(",")]:
        ids = fold_ids(rows, args.folds, "speaker", seed, args.test_corpus)
        for f in range(args.folds):
            fold_dir = args.run / tag / "embed" / f"seed-{seed}" / f"fold-{f}"
            saved = json.loads((fold_dir / "train_config.json").read_text())["train"]
            cfg = TrainConfig.from_dict(saved)
            splits = fold_splits(rows, ids, f, "speaker", seed)
            artifact = ModelArtifact.load(fold_dir / "model.pth")
            model = artifact.build()
            # what the kept model's compensation was refit on: training and validation clips and their copies
            heard = splits["train"] + splits["val"]
            store = feature_store(args.work, cache, artifact.input_kind, every, progress=False)
            store = with_copies(store, args.work, cache, artifact.input_kind, heard, cfg.channel_copies, every,
                                progress=False)
            fitted_on = heard + copy_rows(heard, cfg.channel_copies)
            x = read_all(store, fitted_on)
            shifts = aligned_store(store, model, fitted_on).shifts
            x += np.stack([shifts[r.key] for r in fitted_on])
            families = [None if (c := heard_through(r.key)) is None else c.family for r in fitted_on]
            weights = sample_weights(fitted_on, cfg.weighting)
            for name, c, strength in variants:
                out = args.out / name / f"seed-{seed}" / f"fold-{f}.json"
                if out.is_file():
                    continue
                model.fit_channel_compensation(x, families, weights, c=c)
                model.family_shift.mul_(strength)
                variant = replace(artifact, state_dict={k: v.clone() for k, v in model.state_dict().items()})
                scored = {"clean": evaluate_rows(variant, args.work, splits["test"]),
                          **evaluate_conditions(variant, args.work, splits["test"], conditions, every),
                          "held-out corpus": evaluate_rows(variant, args.work, held)}
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps({k: {s: v[s] for s in SCORES} for k, v in scored.items()}))
                print(f"seed {seed} fold {f} {name}", flush=True)
    for name, _, _ in variants:
        folds = [json.loads(p.read_text()) for p in sorted((args.out / name).glob("seed-*/fold-*.json"))]

        def mean(score: str, held_out: bool = False) -> float:
            return float(np.mean([[v[score] for k, v in d.items() if (k == "held-out corpus") == held_out]
                                  for d in folds]))

        print(f"{name}: {len(folds)} folds, mean over clean and the channels {mean(SCORES[0]):.4f}, off-by-one "
              f"{mean(SCORES[1]):.4f}, held-out corpus {mean(SCORES[0], held_out=True):.4f}")


if __name__ == "__main__":
    main()
