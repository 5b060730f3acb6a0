"""`voxage crossval`: speaker-grouped k-fold comparison of models, with the seed's leaky split beside it.

Each fold tests on speakers the model never heard; early stopping watches another held-out group of
speakers, never the test fold. `--split random` folds by clip instead, to show how much speaker
leakage inflates the numbers. Finished folds are kept, so an interrupted comparison resumes.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from voxage.data.atomic import write_json_atomic, write_text_atomic
from voxage.data.manifest import Row
from voxage.data.records import Clip
from voxage.data.weights import sample_weights
from voxage.data.workdir import load_work_dir
from voxage.errors import DataError
from voxage.evaluation.conditions import CLEAN, CONDITION_KEYS, compact
from voxage.evaluation.evaluate import evaluate_conditions, evaluate_rows
from voxage.evaluation.metrics import add_speaker_weighted, summarize
from voxage.evaluation.plots import (
    plot_conditions,
    plot_confusion,
    plot_language_scores,
    plot_recall_bars,
    plot_reliability,
)
from voxage.labels import AGE_GROUPS, GENDERS, class_index
from voxage.models.artifact import ModelArtifact
from voxage.models.calibration import confidence_reliability, reliability
from voxage.training.config import TrainConfig
from voxage.training.fit import fit

log = logging.getLogger(__name__)

HELD_OUT = "held-out corpus"
SUMMARY_KEYS = ("balanced_accuracy", "off_by_one_accuracy", "macro_f1", "accuracy", "speaker_balanced_accuracy",
                "speaker_off_by_one_accuracy")


def speaker_folds(clips: list[Clip], k: int, seed: int = 0) -> list[set[str]]:
    """k disjoint sets of speakers whose age-group mix is as close to the whole corpus's as whole speakers allow
    (scikit-learn's StratifiedGroupKFold, shuffled by `seed`)."""
    from sklearn.model_selection import StratifiedGroupKFold

    clips = sorted(clips, key=lambda c: c.key)
    labels = [class_index(c.age_group) for c in clips]
    with warnings.catch_warnings():  # "the least populated class has only 3 members": true, and expected here
        warnings.filterwarnings("ignore", "The least populated class", UserWarning)
        folds = StratifiedGroupKFold(k, shuffle=True, random_state=seed).split(
            np.zeros(len(clips)), labels, [c.speaker for c in clips])
        return [{clips[i].speaker for i in test} for _, test in folds]


def tested(row: Row, test_corpus: str | None) -> bool:
    """Whether `row` may be tested: every row, or the rows of `test_corpus` (one name, or several joined by
    commas)."""
    return test_corpus is None or row.corpus in test_corpus.split(",")


def no_rows_of(corpus: str, rows: list[Row]) -> DataError:
    return DataError(f"no rows of corpus {corpus!r}; this work dir holds {sorted({r.corpus for r in rows})}")


def fold_ids(rows: list[Row], k: int, method: str, seed: int, test_corpus: str | None = None) -> list[int]:
    """Fold index per row: by speaker (stratified by speaker class) or by clip (stratified by class).
    With `test_corpus`, only that corpus's rows are folded; the others get -1 and always train."""
    chosen = [r for r in rows if tested(r, test_corpus)]
    if test_corpus is not None and not chosen:
        raise no_rows_of(test_corpus, rows)
    if method == "speaker":
        clips = [Clip(r.key, Path(r.path), r.speaker, r.age_group) for r in chosen]
        where = {s: i for i, fold in enumerate(speaker_folds(clips, k, seed)) for s in fold}
        return [where[r.speaker] if tested(r, test_corpus) else -1 for r in rows]
    rng = random.Random(seed)
    ids = [-1] * len(rows)
    for group in AGE_GROUPS:
        members = [i for i, r in enumerate(rows) if r.age_group == group and tested(r, test_corpus)]
        rng.shuffle(members)
        for j, i in enumerate(members):
            ids[i] = j % k
    return ids


def fold_splits(rows: list[Row], ids: list[int], f: int, method: str, seed: int) -> dict[str, list[Row]]:
    """Test on fold f; early stopping watches about 1/8 of the other folds' speakers (or clips). A test
    speaker's clips in other corpora or languages stay out of training too (with a speaker split)."""
    test = [r for r, i in zip(rows, ids) if i == f]
    heard = {r.speaker for r in test} if method == "speaker" else set()
    rest = [r for r, i in zip(rows, ids) if i != f and r.speaker not in heard]
    inner = fold_ids(rest, 8, method, seed + 1000 + f)
    return {"test": test,
            "val": [r for r, i in zip(rest, inner) if i == 0],
            "train": [r for r, i in zip(rest, inner) if i != 0]}


def _mean_sd(values: list[float]) -> tuple[float, float]:
    return float(np.mean(values)), float(np.std(values))


def run_tag(method: str, test_corpus: str | None = None, held_out_corpus: str | None = None) -> str:
    """The name of a protocol's folder and files: `speaker`, `speaker-cv-en-delta13`, `speaker-without-crema-d`."""
    tested_part = f"-{test_corpus.replace(',', '+')}" if test_corpus else ""
    return method + tested_part + (f"-without-{held_out_corpus}" if held_out_corpus else "")


def fold_run_dir(out_dir: Path, tag: str, model: str, seed: int, fold: int) -> Path:
    """Where one fold's model and scores are kept (`fold.json` once finished)."""
    return out_dir / tag / model / f"seed-{seed}" / f"fold-{fold}"


def crossval(work_dir: Path, out_dir: Path, models: list[str], k: int = 5, method: str = "speaker",
             train_cfg: TrainConfig | None = None, seeds: list[int] = (0,), test_corpus: str | None = None,
             conditions: list[str] = (), held_out_corpus: str | None = None, progress: bool = True) -> dict:
    """k folds for each fold seed; metrics are means over all folds, with the spread over folds and over seeds.
    `conditions`: channel specs every test fold is also scored through (`evaluation.conditions`);
    `held_out_corpus`: a corpus that never trains, scored whole by every fold's model; `progress`: a bar over
    the folds (those a killed run finished count as done, so its ETA is the time still to go)."""
    work_dir, out_dir = Path(work_dir), Path(out_dir)
    _, every = load_work_dir(work_dir)
    by_key = {r.key: r for r in every}
    held = [r for r in every if r.corpus == held_out_corpus] if held_out_corpus else []
    if held_out_corpus and not held:
        raise no_rows_of(held_out_corpus, every)
    rows = [r for r in every if not held or r.corpus != held_out_corpus]
    tag = run_tag(method, test_corpus, held_out_corpus)
    results: dict[str, dict] = {}
    fold_dirs = [fold_run_dir(out_dir, tag, m, seed, f) for m in models for seed in seeds for f in range(k)]
    bar = tqdm(total=len(fold_dirs), initial=sum((d / "fold.json").is_file() for d in fold_dirs), unit="fold",
               desc=f"crossval {tag}", disable=not progress, dynamic_ncols=True)
    for model in models:
        folds, seed_pooled, pooled = [], [], {"labels": [], "probs": [], "probs_uncalibrated": [], "keys": []}
        protocol: list[dict] = []  # per fold: condition -> scores
        gender: dict[str, list] = {"genders": [], "gender_probs": []}
        for seed in seeds:
            ids = fold_ids(rows, k, method, seed, test_corpus)
            seed_true, seed_prob = [], []
            for f in range(k):
                fold_dir = fold_run_dir(out_dir, tag, model, seed, f)
                done = fold_dir / "fold.json"
                if not done.is_file():
                    splits = fold_splits(rows, ids, f, method, seed)
                    shutil.rmtree(fold_dir, ignore_errors=True)  # a fold cut short restarts cleanly
                    cfg = replace(train_cfg or TrainConfig(), model=model, seed=seed * 100 + f)
                    fit(work_dir, fold_dir, cfg, splits=splits)
                    report = evaluate_rows(ModelArtifact.load(fold_dir / "model.pth"), work_dir, splits["test"],
                                           with_probs=True)
                    write_json_atomic(done, report)
                    bar.update()
                    bar.set_postfix_str(f"{model} seed {seed} fold {f}: balanced acc "
                                        f"{report['balanced_accuracy']:.3f}")
                report = json.loads(done.read_text())
                if "speaker_balanced_accuracy" not in report:  # a fold an older voxage finished
                    add_speaker_weighted(report, report["labels"], report["probs"],
                                         [by_key[key].speaker for key in report["keys"]])
                if score_protocol(report, fold_dir, work_dir, [by_key[key] for key in report["keys"]], conditions,
                                  held, every):
                    write_json_atomic(done, report)  # the fold's model is kept: only what is new is scored
                protocol.append({"seed": seed, "keys": report["keys"],
                                 **{c: report["conditions"][c] for c in (CLEAN, *conditions)},
                                 **({HELD_OUT: report["held_out"]} if held else {})})
                folds.append({"seed": seed, "fold": f, **{key: report[key] for key in SUMMARY_KEYS}})
                for key in pooled:
                    pooled[key] += report[key]
                for key in gender:
                    gender[key] += report.get(key, [])
                seed_true += report["labels"]
                seed_prob += report["probs"]
                log.info("%s %s seed %s fold %d: balanced acc %.3f, off-by-one %.3f", tag, model, seed, f,
                         report["balanced_accuracy"], report["off_by_one_accuracy"])
            probs = np.asarray(seed_prob)
            seed_pooled.append(summarize(np.asarray(seed_true), probs.argmax(1), probs))
        results[model] = summarize_model(folds, seeds, seed_pooled, pooled, gender, by_key)
        results[model]["conditions"] = summarize_conditions(protocol, seeds, by_key, [r.key for r in held])
        results[model]["protocol_mean"] = protocol_mean(results[model]["conditions"])
    bar.close()
    summary = {"method": method, "test_corpus": test_corpus, "held_out_corpus": held_out_corpus,
               "held_out_clips": len(held), "held_out_speakers": len({r.speaker for r in held}),
               "conditions": [CLEAN, *conditions], "folds": k, "seeds": list(seeds),
               "clips": len(rows), "speakers": len({r.speaker for r in rows}),
               "test_clips": sum(1 for r in rows if tested(r, test_corpus)),
               "test_speakers": len({r.speaker for r in rows if tested(r, test_corpus)}),
               "models": results}
    write_report(summary, out_dir, tag)
    return summary


def write_report(summary: dict, out_dir: Path, tag: str) -> None:
    """The JSON, its table and the plots; the plots come from the JSON alone, so a kept report can be redrawn."""
    k, method, test_corpus, results = summary["folds"], summary["method"], summary["test_corpus"], summary["models"]
    write_json_atomic(out_dir / f"crossval-{tag}.json", summary)
    write_text_atomic(out_dir / f"crossval-{tag}.md", format_table(summary) + "\n")
    for model, r in results.items():
        plot_confusion(r["pooled"]["confusion_matrix"], out_dir / f"confusion-{tag}-{model}.png",
                       f"{model}: out-of-fold predictions, {k}-fold by {method}")
        plot_reliability(r["calibration"]["curves"], out_dir / f"reliability-{tag}-{model}.png",
                         f"{model}: reliability on unseen speakers ({tag})")
        plot_language_scores(r["by_language"], out_dir / f"language-{tag}-{model}.png",
                             f"{model}: out-of-fold scores per language ({tag})")
        if len(r["conditions"]) > 1:
            plot_conditions(r["conditions"], out_dir / f"conditions-{tag}-{model}.png",
                            f"{model}: unseen speakers through each channel ({tag}; mean ± sd over folds)")
    plot_recall_bars({m: [r["per_class_recall"][g] for g in AGE_GROUPS] for m, r in results.items()},
                     out_dir / f"recall-{tag}.png",
                     f"Per-class recall, {k}-fold {'speaker-grouped' if method == 'speaker' else 'per-clip'} CV"
                     + (f", test speakers from {test_corpus}" if test_corpus else ""))


def score_protocol(report: dict, fold_dir: Path, work_dir: Path, test: list[Row], conditions: list[str],
                   held: list[Row], pool: list[Row]) -> bool:
    """Add to a fold's report the scores it lacks: clean, each condition, the held-out corpus. True if any was
    added (folds finished by an older voxage, or before a condition was asked for, get them from their kept model)."""
    scored = report.setdefault("conditions", {})
    recounted = "confidence" not in scored.get(CLEAN, {})
    if recounted:  # from the kept predictions: older folds lack the newer scores
        scored[CLEAN] = compact({**report, **summarize(report["labels"], np.argmax(report["probs"], axis=1))})
    # scored before voxage 0.8 kept no answers to pool: scored again from the kept model and cached features
    todo = [c for c in conditions if "confidence" not in scored.get(c, {})]
    held_todo = bool(held) and "confidence" not in report.get("held_out", {})
    if not todo and not held_todo:
        return recounted
    artifact = ModelArtifact.load(fold_dir / "model.pth")
    scored.update(evaluate_conditions(artifact, work_dir, test, todo, pool))
    if held_todo:
        report["held_out"] = compact(evaluate_rows(artifact, work_dir, held, with_probs=True))
    return True


def summarize_conditions(protocol: list[dict], seeds, by_key: dict[str, Row], held: list[str]) -> dict[str, dict]:
    """condition -> each score's mean and sd over all folds, and its mean per fold seed; the ECE of each seed's
    folds pooled (every test speaker once, weighted as the per-fold ECE), its mean over seeds; plus the share of
    the clean balanced accuracy each condition keeps. `held`: the held-out corpus's keys, in its folds' order."""
    out = {}
    for condition in [c for c in protocol[0] if c not in ("seed", "keys")] if protocol else []:
        scores = [(p["seed"], p[condition]) for p in protocol]
        entry = {}
        for key in [k for k in CONDITION_KEYS if all(k in x for _, x in scores)]:  # older folds lack newer scores
            entry[f"{key}_mean"], entry[f"{key}_std"] = _mean_sd([x[key] for _, x in scores])
            entry[f"{key}_per_seed"] = [float(np.mean([x[key] for s, x in scores if s == seed])) for seed in seeds]
        pooled = []
        for seed in seeds:
            folds = [p for p in protocol if p["seed"] == seed]
            keys = [k for p in folds for k in (held if condition == HELD_OUT else p["keys"])]
            answers = {part: [x for p in folds for x in p[condition][part]] for part in ("confidence", "correct")}
            pooled.append(confidence_reliability(answers["confidence"], answers["correct"],
                                                 sample_weights([by_key[k] for k in keys], "speaker"))["ece"])
        entry["ece_pooled_mean"], entry["ece_pooled_per_seed"] = float(np.mean(pooled)), pooled
        out[condition] = entry
    for entry in out.values():
        entry["kept_of_clean"] = entry["balanced_accuracy_mean"] / max(out[CLEAN]["balanced_accuracy_mean"], 1e-9)
    return out


def protocol_mean(conditions: dict[str, dict]) -> dict[str, float]:
    """What a recipe is chosen by: each score's mean over clean and every channel condition (each already a mean
    over folds and fold seeds); the held-out corpus is reported beside it, not in it."""
    heard = [e for c, e in conditions.items() if c != HELD_OUT]
    return {key: float(np.mean([e[f"{key}_mean"] for e in heard])) for key in (*CONDITION_KEYS, "ece_pooled")
            if all(f"{key}_mean" in e for e in heard)} if heard else {}


def summarize_model(folds: list[dict], seeds, seed_pooled: list[dict], pooled: dict, gender: dict,
                    by_key: dict[str, Row]) -> dict:
    labels, probs = np.asarray(pooled["labels"]), np.asarray(pooled["probs"])
    overall = summarize(labels, probs.argmax(1), probs)
    add_speaker_weighted(overall, labels, probs, [by_key[key].speaker for key in pooled["keys"]])
    per_seed = {key: [float(np.mean([x[key] for x in folds if x["seed"] == s])) for s in seeds] for key in SUMMARY_KEYS}
    out = {
        "folds": folds,
        **{f"{key}_{stat}": v for key in SUMMARY_KEYS
           for stat, v in zip(("mean", "std"), _mean_sd([x[key] for x in folds]))},
        **{f"{key}_per_seed": per_seed[key] for key in SUMMARY_KEYS},
        "per_class_recall": {g: float(np.mean([p["per_class"][g]["recall"] for p in seed_pooled])) for g in AGE_GROUPS},
        "pooled": {key: overall[key] for key in (*SUMMARY_KEYS, "confusion_matrix", "per_class")},
    }
    weights = sample_weights([by_key[key] for key in pooled["keys"]], "speaker")
    curves = {"before temperature": reliability(np.asarray(pooled["probs_uncalibrated"]), labels, weights),
              "after temperature": reliability(probs, labels, weights)}
    out["calibration"] = {"ece_uncalibrated": curves["before temperature"]["ece"],
                          "ece": curves["after temperature"]["ece"], "curves": curves}
    if gender["genders"]:
        g, gp = np.asarray(gender["genders"]), np.asarray(gender["gender_probs"])
        out["gender_balanced_accuracy"] = summarize(g[g >= 0], gp[g >= 0].argmax(1), classes=GENDERS)[
            "balanced_accuracy"]
    languages = np.asarray([by_key[key].language if key in by_key else "" for key in pooled["keys"]])
    out["by_language"] = {}
    for lang in sorted(set(languages)):
        mask = languages == lang
        s = summarize(labels[mask], probs[mask].argmax(1))
        out["by_language"][lang] = {"clips": int(mask.sum()), "accuracy": s["accuracy"],
                                    "balanced_accuracy": s["balanced_accuracy"],
                                    "off_by_one_accuracy": s["off_by_one_accuracy"]}
    return out


def format_table(summary: dict) -> str:
    seeds, test = summary.get("seeds", [0]), summary.get("test_corpus")
    lines = [f"{summary['folds']}-fold CV by {summary['method']} x {len(seeds)} fold seeds "
             f"({', '.join(map(str, seeds))}), {summary['clips']} clips, {summary['speakers']} speakers"
             + (f"; test folds: the {summary['test_speakers']} speakers of {test}, trained with every other corpus"
                if test else "")
             + (f"; {summary['held_out_corpus']} held out whole" if summary.get("held_out_corpus") else ""), "",
             "| model | balanced acc (mean ± sd over folds) | per fold seed | each speaker once | off-by-one acc "
             "| macro-F1 | ECE before / after temperature | gender balanced acc |",
             "|---|---|---|---|---|---|---|---|"]
    for model, r in summary["models"].items():
        cal = r.get("calibration", {})
        ece = f"{cal['ece_uncalibrated']:.3f} / {cal['ece']:.3f}" if cal else "-"
        sex = f"{r['gender_balanced_accuracy']:.3f}" if "gender_balanced_accuracy" in r else "-"
        lines.append(
            f"| {model} | {r['balanced_accuracy_mean']:.3f} ± {r['balanced_accuracy_std']:.3f} | "
            f"{' / '.join(f'{x:.3f}' for x in r.get('balanced_accuracy_per_seed', []))} | "
            f"{r['speaker_balanced_accuracy_mean']:.3f} ± {r['speaker_balanced_accuracy_std']:.3f} | "
            f"{r['off_by_one_accuracy_mean']:.3f} ± {r['off_by_one_accuracy_std']:.3f} | "
            f"{r['macro_f1_mean']:.3f} ± {r['macro_f1_std']:.3f} | {ece} | {sex} |")
    if all("per_class_recall" in r for r in summary["models"].values()):
        lines += ["", "| model | " + " | ".join(AGE_GROUPS) + " |", "|---|" + "---|" * len(AGE_GROUPS)]
        for model, r in summary["models"].items():
            lines.append(f"| {model} recall | " + " | ".join(f"{r['per_class_recall'][g]:.2f}" for g in AGE_GROUPS)
                         + " |")
    for model, r in summary["models"].items():
        if len(r.get("conditions", {})) > 1:
            lines += format_conditions(model, r["conditions"], summary)
    return "\n".join(lines)


def format_conditions(model: str, conditions: dict[str, dict], summary: dict) -> list[str]:
    held = summary.get("held_out_corpus")
    checked = all("unfamiliar_share_mean" in e for e in conditions.values())
    lines = ["", f"{model} through each recording condition (mean ± sd over folds"
             + (f"; {HELD_OUT}: all {summary['held_out_speakers']} speakers of {held}, never trained on" if held
                else "") + ")", "",
             "| condition | balanced acc | per fold seed | kept of clean | off-by-one | ECE per fold / folds pooled "
             "| largest answer share "
             f"|{' answered unfamiliar |' if checked else ''}",
             "|---|---|---|---|---|---|---|" + ("---|" if checked else "")]
    for c in [c for c in [*summary["conditions"], HELD_OUT] if c in conditions]:  # JSON keeps keys sorted
        e, name = conditions[c], f"{HELD_OUT} ({held})" if c == HELD_OUT else c
        lines.append(f"| {name} | {e['balanced_accuracy_mean']:.3f} ± {e['balanced_accuracy_std']:.3f} | "
                     f"{' / '.join(f'{x:.3f}' for x in e['balanced_accuracy_per_seed'])} | "
                     f"{e['kept_of_clean']:.1%} | {e['off_by_one_accuracy_mean']:.3f} ± "
                     f"{e['off_by_one_accuracy_std']:.3f} | {e['ece_mean']:.3f} / {e['ece_pooled_mean']:.3f} | "
                     f"{e['largest_answer_share_mean']:.2f} |" + (f" {e['unfamiliar_share_mean']:.0%} |"
                                                                   if checked else ""))
    m = protocol_mean(conditions)
    channels = len([c for c in conditions if c not in (CLEAN, HELD_OUT)])
    lines.append(f"| **mean over clean and the {channels} channels** | "
                 f"**{m['balanced_accuracy']:.3f}** | | | {m['off_by_one_accuracy']:.3f} | {m['ece']:.3f} / "
                 f"{m['ece_pooled']:.3f} | "
                 f"{m['largest_answer_share']:.2f} |" + (" |" if checked else ""))
    return lines
