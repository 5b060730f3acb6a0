"""One answer per speaker (issue #26): how much does judging k clips of one person together help, and how should
they be joined? The measurement behind `Predictor.predict_speaker`.

For every fold of a finished `voxage crossval` run (the fold models it keeps and the test keys in `fold.json`),
each test speaker with at least k clips is judged from DRAWS random draws of k of their clips, joined three ways:
- `pooled`: the mean of the clips' vectors (language-shifted as the model does), then the head once;
- `mean_logprob`: the geometric mean of the clips' calibrated probabilities, renormalised;
- `sum_logprob`: their product, renormalised (independent evidence; sharper, less calibrated).
Scores are balanced accuracy over speakers (each speaker counts once, each age group equally) and the same
speakers' ECE, as mean and sd over folds. Writes `join_clips.json`, `join_clips.md` and `join_clips.png` to OUT.

    .venv/bin/python scripts/experiments/join_clips.py WORK CROSSVAL_DIR/speaker-without-crema-d/embed --out DIR
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from voxage.data.manifest import read_manifest
from voxage.data.workdir import open_cache
from voxage.labels import AGE_GROUPS, class_index
from voxage.models.artifact import ModelArtifact
from voxage.models.calibration import reliability

METHODS = ("pooled", "mean_logprob", "sum_logprob")


def vectors(work: Path, keys: list[str]) -> dict[str, np.ndarray]:
    """Clean embed vectors from the prepare cache, or from the flat store of voxage 0.6 and before."""
    store = open_cache(work).store("embed")
    flat = work / "features" / "embed" / f"v{store.fe.version}"
    return {k: np.asarray(store.read(k) if store.has(k) else np.load(flat / f"{k}.npy"), np.float32) for k in keys}


def balanced(labels: list[int], preds: list[int], weights: list[float]) -> float:
    labels, preds, weights = map(np.asarray, (labels, preds, weights))
    recalls = [np.average(preds[labels == c] == c, weights=weights[labels == c])
               for c in range(len(AGE_GROUPS)) if (labels == c).any()]
    return float(np.mean(recalls))


def fold_scores(fold: Path, rows: dict, x_all: dict, ks: list[int], draws: int, seed: int) -> dict:
    art = ModelArtifact.load(fold / "model.pth")
    net = art.build().eval()
    keys = json.loads((fold / "fold.json").read_text())["keys"]
    shift = (lambda r: net.shift_for(r.language)) if getattr(net, "languages", None) else (lambda r: 0.0)
    x = {k: x_all[k] + shift(rows[k]) for k in keys}

    def probs(batch: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return art.probabilities(net(torch.from_numpy(np.asarray(batch, np.float32))).numpy())[0]

    single = dict(zip(keys, probs(np.stack([x[k] for k in keys]))))
    by_speaker = defaultdict(list)
    for k in keys:
        by_speaker[rows[k].speaker].append(k)
    rng = np.random.default_rng(seed)
    out = {}
    for k in ks:
        got = {m: {"labels": [], "probs": [], "weights": []} for m in METHODS}
        for speaker, clips in sorted(by_speaker.items()):
            if len(clips) < k:
                continue
            label = class_index(rows[clips[0]].age_group)
            for _ in range(draws if len(clips) > k else 1):
                chosen = list(rng.choice(clips, size=k, replace=False))
                logs = np.log(np.clip(np.stack([single[c] for c in chosen]), 1e-12, 1))
                joined = {"pooled": probs(np.mean([x[c] for c in chosen], axis=0)[None])[0],
                          "mean_logprob": np.exp(logs.mean(0)), "sum_logprob": np.exp(logs.sum(0) - logs.sum(0).max())}
                for m, p in joined.items():
                    got[m]["labels"].append(label)
                    got[m]["probs"].append(p / p.sum())
                    got[m]["weights"].append(1.0 / (draws if len(clips) > k else 1))
        out[k] = {"speakers": len({s for s, c in by_speaker.items() if len(c) >= k}),
                  **{m: {"balanced_accuracy": balanced(g["labels"], list(np.argmax(g["probs"], 1)), g["weights"]),
                         "ece": reliability(np.asarray(g["probs"]), np.asarray(g["labels"]),
                                            np.asarray(g["weights"]))["ece"]} if g["labels"] else None
                     for m, g in got.items()}}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work", type=Path)
    parser.add_argument("crossval_model_dir", type=Path, help="CROSSVAL_OUT/TAG/MODEL, holding seed-*/fold-*")
    parser.add_argument("--ks", default="1,2,4,8")
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    ks = [int(k) for k in args.ks.split(",")]
    rows = {r.key: r for r in read_manifest(args.work / "manifest.tsv")}
    folds = sorted(args.crossval_model_dir.glob("seed-*/fold-*/fold.json"))
    x_all = vectors(args.work, sorted({k for f in folds for k in json.loads(f.read_text())["keys"]}))
    per_fold = [fold_scores(f.parent, rows, x_all, ks, args.draws, seed=i) for i, f in enumerate(folds)]
    summary = {}
    for k in ks:
        summary[k] = {"speakers_per_fold": float(np.mean([f[k]["speakers"] for f in per_fold]))}
        for m in METHODS:
            scored = [f[k][m] for f in per_fold if f[k][m]]
            for metric in ("balanced_accuracy", "ece"):
                values = [s[metric] for s in scored]
                summary[k][f"{m}_{metric}"] = [float(np.mean(values)), float(np.std(values))] if values else None
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "join_clips.json").write_text(json.dumps({"folds": len(folds), "draws": args.draws,
                                                         "summary": summary}, indent=2) + "\n")
    lines = ["| clips joined | test speakers per fold | " + " | ".join(f"{m} bal. acc." for m in METHODS)
             + " | " + " | ".join(f"{m} ECE" for m in METHODS) + " |", "|---" * (2 + 2 * len(METHODS)) + "|"]
    for k in ks:
        s = summary[k]
        cell = lambda v: f"{v[0]:.3f} ± {v[1]:.3f}" if v else "-"  # noqa: E731
        lines.append(f"| {k} | {s['speakers_per_fold']:.0f} | "
                     + " | ".join(cell(s[f"{m}_balanced_accuracy"]) for m in METHODS) + " | "
                     + " | ".join(cell(s[f"{m}_ece"]) for m in METHODS) + " |")
    (args.out / "join_clips.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for m in METHODS:
        means = [summary[k][f"{m}_balanced_accuracy"] for k in ks]
        ax.errorbar(ks, [v[0] for v in means], yerr=[v[1] for v in means], marker="o", capsize=3, label=m)
    ax.axhline(1 / len(AGE_GROUPS), color="grey", ls=":", label="chance")
    ax.set(xscale="log", xticks=ks, xticklabels=ks, xlabel="clips of one speaker judged together",
           ylabel="balanced accuracy (speakers)", title=f"One answer per speaker ({len(folds)} folds)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / "join_clips.png", dpi=120)


if __name__ == "__main__":
    main()
