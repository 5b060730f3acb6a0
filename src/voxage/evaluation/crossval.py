"""`voxage crossval`: speaker-grouped k-fold comparison of models, with the seed's leaky split beside it.

Each fold tests on speakers the model never heard; early stopping watches another held-out group of
speakers, never the test fold. `--split random` folds by clip instead, to show how much speaker
leakage inflates the numbers. Finished folds are kept, so an interrupted comparison resumes.
"""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np

from voxage.data.atomic import write_json_atomic, write_text_atomic
from voxage.data.manifest import Row
from voxage.data.records import Clip
from voxage.data.split import speaker_folds
from voxage.evaluation.evaluate import evaluate_rows
from voxage.evaluation.metrics import summarize
from voxage.evaluation.plots import plot_confusion, plot_recall_bars
from voxage.labels import AGE_GROUPS
from voxage.models.artifact import ModelArtifact
from voxage.training.config import TrainConfig
from voxage.training.data import load_work_dir
from voxage.training.fit import fit

SUMMARY_KEYS = ("balanced_accuracy", "off_by_one_accuracy", "macro_f1", "accuracy")


def fold_ids(rows: list[Row], k: int, method: str, seed: int) -> list[int]:
    """Fold index per row: by speaker (stratified by speaker class) or by clip (stratified by class)."""
    if method == "speaker":
        clips = [Clip(r.key, Path(r.path), r.speaker, r.age_group) for r in rows]
        where = {s: i for i, fold in enumerate(speaker_folds(clips, k, seed)) for s in fold}
        return [where[r.speaker] for r in rows]
    rng = random.Random(seed)
    ids = [0] * len(rows)
    for group in AGE_GROUPS:
        members = [i for i, r in enumerate(rows) if r.age_group == group]
        rng.shuffle(members)
        for j, i in enumerate(members):
            ids[i] = j % k
    return ids


def fold_splits(rows: list[Row], ids: list[int], f: int, method: str, seed: int) -> dict[str, list[Row]]:
    """Test on fold f; early stopping watches about 1/8 of the other folds' speakers (or clips)."""
    rest = [r for r, i in zip(rows, ids) if i != f]
    inner = fold_ids(rest, 8, method, seed + 1000 + f)
    return {"test": [r for r, i in zip(rows, ids) if i == f],
            "val": [r for r, i in zip(rest, inner) if i == 0],
            "train": [r for r, i in zip(rest, inner) if i != 0]}


def crossval(work_dir: Path, out_dir: Path, models: list[str], k: int = 5, method: str = "speaker",
             train_cfg: TrainConfig | None = None, seed: int = 0, echo=print) -> dict:
    work_dir, out_dir = Path(work_dir), Path(out_dir)
    _, rows = load_work_dir(work_dir)
    ids = fold_ids(rows, k, method, seed)
    results: dict[str, dict] = {}
    for model in models:
        folds, pooled_true, pooled_prob = [], [], []
        for f in range(k):
            fold_dir = out_dir / method / model / f"fold-{f}"
            done = fold_dir / "fold.json"
            if not done.is_file():
                splits = fold_splits(rows, ids, f, method, seed)
                shutil.rmtree(fold_dir, ignore_errors=True)  # a fold cut short restarts cleanly
                cfg = replace(train_cfg or TrainConfig(), model=model, seed=seed + f)
                fit(work_dir, fold_dir, cfg, splits=splits)
                report = evaluate_rows(ModelArtifact.load(fold_dir / "model.pth"), work_dir, splits["test"],
                                       with_probs=True)
                write_json_atomic(done, report)
            report = json.loads(done.read_text())
            folds.append({key: report[key] for key in SUMMARY_KEYS})
            pooled_true += report["labels"]
            pooled_prob += report["probs"]
            echo(f"{method} {model} fold {f}: balanced acc {report['balanced_accuracy']:.3f}, "
                 f"off-by-one {report['off_by_one_accuracy']:.3f}")
        probs = np.asarray(pooled_prob)
        pooled = summarize(np.asarray(pooled_true), probs.argmax(1), probs)
        results[model] = {
            "folds": folds,
            **{f"{key}_mean": float(np.mean([x[key] for x in folds])) for key in SUMMARY_KEYS},
            **{f"{key}_std": float(np.std([x[key] for x in folds])) for key in SUMMARY_KEYS},
            "pooled": {key: pooled[key] for key in (*SUMMARY_KEYS, "confusion_matrix", "per_class")},
        }
    summary = {"method": method, "folds": k, "clips": len(rows), "speakers": len({r.speaker for r in rows}),
               "models": results}
    write_json_atomic(out_dir / f"crossval-{method}.json", summary)
    write_text_atomic(out_dir / f"crossval-{method}.md", format_table(summary) + "\n")
    for model, r in results.items():
        plot_confusion(r["pooled"]["confusion_matrix"], out_dir / f"confusion-{method}-{model}.png",
                       f"{model}: out-of-fold predictions, {k}-fold by {method}")
    plot_recall_bars({m: [r["pooled"]["per_class"][g]["recall"] for g in AGE_GROUPS] for m, r in results.items()},
                     out_dir / f"recall-{method}.png",
                     f"Per-class recall, {k}-fold {'speaker-grouped' if method == 'speaker' else 'per-clip'} CV")
    return summary


def format_table(summary: dict) -> str:
    lines = [f"{summary['folds']}-fold CV by {summary['method']} ({summary['clips']} clips, "
             f"{summary['speakers']} speakers)", "",
             "| model | balanced acc (mean ± sd) | off-by-one acc | macro-F1 | pooled balanced acc |",
             "|---|---|---|---|---|"]
    for model, r in summary["models"].items():
        lines.append(f"| {model} | {r['balanced_accuracy_mean']:.3f} ± {r['balanced_accuracy_std']:.3f} | "
                     f"{r['off_by_one_accuracy_mean']:.3f} ± {r['off_by_one_accuracy_std']:.3f} | "
                     f"{r['macro_f1_mean']:.3f} ± {r['macro_f1_std']:.3f} | "
                     f"{r['pooled']['balanced_accuracy']:.3f} |")
    return "\n".join(lines)

