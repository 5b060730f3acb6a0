"""Probe for #25: can the model's own input vector tell that a clip came through a degrading channel, and does a
second temperature for such clips calibrate them? Reads a finished `voxage crossval --conditions standard
--channel-copies 2` run (its fold models) and the work dir's cached vectors (clean, copies, conditions); trains
nothing but the probe.

Per fold: a logistic regression on the head's own standardised input, clean training clips (0) against their
channel copies (1), thresholded so that 5% of the validation speakers' clean clips are flagged; the flag rate on
each test condition; and each condition's ECE with one temperature (the model's) and with a second one, fitted on
the validation clips and copies the probe flags.

    .venv/bin/python scripts/experiments/channel_probe.py WORK_DIR CROSSVAL_DIR [--tag speaker-without-crema-d]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from voxage.audio.channels import parse_channel
from voxage.data.manifest import read_manifest
from voxage.data.weights import sample_weights
from voxage.evaluation.conditions import STANDARD
from voxage.evaluation.crossval import fold_ids, fold_splits
from voxage.evaluation.metrics import summarize
from voxage.labels import class_index
from voxage.models.artifact import ModelArtifact
from voxage.models.calibration import fit_temperature, reliability
from voxage.models.outputs import age_probabilities, split_outputs

HARMLESS = ("mp3", "gsm", "gain:gain_db=-")  # copies that keep >= 95% of the clean score: not "degraded"


def vectors(root: Path, keys: list[str]) -> np.ndarray:
    return np.stack([np.load(root / f"{k}.npy") for k in keys]).astype(np.float32)


def copy_channels(keys: list[str], copy: int) -> list[str]:
    from voxage.audio.channels import random_channel
    from voxage.data.feature_files import clip_rng

    return [random_channel(clip_rng(f"{k}/copy-{copy}")).spec for k in keys]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("work_dir", type=Path)
    ap.add_argument("crossval_dir", type=Path)
    ap.add_argument("--tag", default="speaker-without-crema-d")
    ap.add_argument("--test-corpus", default=None)
    ap.add_argument("--held-out", default="crema-d")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--flag-rate", type=float, default=0.05)
    ap.add_argument("--out", type=Path, default=Path("channel-probe.json"))
    args = ap.parse_args()
    base = args.work_dir / "features" / "embed" / "v4"
    every = read_manifest(args.work_dir / "manifest.tsv")
    held = [r for r in every if r.corpus == args.held_out]
    rows = [r for r in every if r.corpus != args.held_out]
    conditions = [parse_channel(c) for c in STANDARD]
    results = []
    for seed in map(int, args.seeds.split(",")):
        ids = fold_ids(rows, 5, "speaker", seed, args.test_corpus)
        for f in range(5):
            splits = fold_splits(rows, ids, f, "speaker", seed)
            art = ModelArtifact.load(args.crossval_dir / args.tag / "embed" / f"seed-{seed}" / f"fold-{f}" / "model.pth")
            model = art.build().eval()
            T = art.extra["temperature"]

            def head_in(rs, root):
                x = vectors(root, [r.key for r in rs]) + np.stack([model.shift_for(r.language) for r in rs])
                return ((torch.from_numpy(x) - model.mean) / model.std * model.scale).numpy()

            def outputs(z):
                with torch.no_grad():
                    return split_outputs(model.net(torch.from_numpy(z)), art.ordinal)[0].numpy()

            tr, va, te = splits["train"], splits["val"], splits["test"]
            copies = [base / "copies" / "v1" / f"copy-{i}" for i in (0, 1)]
            z_tr = np.concatenate([head_in(tr, base)] + [head_in(tr, c) for c in copies])
            spec_tr = ["clean"] * len(tr) + copy_channels([r.key for r in tr], 0) + copy_channels([r.key for r in tr], 1)
            y_tr = np.array([0 if s == "clean" or s.startswith(HARMLESS) else 1 for s in spec_tr])
            w_tr = np.tile(sample_weights(tr, "speaker"), 3)
            probe = LogisticRegression(C=0.01, max_iter=2000).fit(z_tr, y_tr, sample_weight=w_tr / w_tr.mean())
            z_va_clean = head_in(va, base)
            threshold = float(np.quantile(probe.decision_function(z_va_clean), 1 - args.flag_rate))
            # the second temperature: fitted on validation clips and copies the probe flags
            z_va = np.concatenate([z_va_clean] + [head_in(va, c) for c in copies])
            y_va = np.tile([class_index(r.age_group) for r in va], 3)
            w_va = np.tile(sample_weights(va, "speaker"), 3)
            flagged = probe.decision_function(z_va) > threshold
            s_va = outputs(z_va)
            T2 = fit_temperature(s_va[flagged], y_va[flagged], w_va[flagged], art.ordinal) if flagged.sum() > 20 else T
            fold = {"seed": seed, "fold": f, "T": T, "T_flagged": T2, "val_flagged": float(flagged.mean()),
                    "conditions": {}}
            y_te, w_te = np.array([class_index(r.age_group) for r in te]), sample_weights(te, "speaker")
            tests = [("clean", te, base)] + [(c.spec, te, base / "channels" / c.tag) for c in conditions]
            tests.append(("held-out", held, base))
            for name, rs, root in tests:
                z = head_in(rs, root)
                y = y_te if rs is te else np.array([class_index(r.age_group) for r in rs])
                w = w_te if rs is te else sample_weights(rs, "speaker")
                s = outputs(z)
                flag = probe.decision_function(z) > threshold
                p1 = age_probabilities(s, art.ordinal, T)
                p2 = np.where(flag[:, None], age_probabilities(s, art.ordinal, T2), p1)
                fold["conditions"][name] = {
                    "flagged": float(flag.mean()), "balanced_accuracy": summarize(y, p1.argmax(1))["balanced_accuracy"],
                    "ece": reliability(p1, y, w)["ece"], "ece_two_temperatures": reliability(p2, y, w)["ece"],
                    "mean_top": float(p1.max(1).mean()), "mean_top_two": float(p2.max(1).mean())}
            results.append(fold)
            print(seed, f, f"T {T:.2f} T2 {T2:.2f}", {k: round(v["flagged"], 2) for k, v in fold["conditions"].items()},
                  flush=True)
    names = list(results[0]["conditions"])
    table = {n: {k: float(np.mean([r["conditions"][n][k] for r in results])) for k in results[0]["conditions"][n]}
             for n in names}
    args.out.write_text(json.dumps({"folds": results, "mean": table}, indent=1))
    print(f"{'condition':<48}{'flagged':>8}{'bal':>7}{'ECE':>7}{'ECE 2T':>8}{'top':>6}{'top 2T':>7}")
    for n, t in table.items():
        print(f"{n:<48}{t['flagged']:>8.2f}{t['balanced_accuracy']:>7.3f}{t['ece']:>7.3f}"
              f"{t['ece_two_temperatures']:>8.3f}{t['mean_top']:>6.2f}{t['mean_top_two']:>7.2f}")


if __name__ == "__main__":
    main()
