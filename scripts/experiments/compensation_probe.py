"""How much does channel compensation's own fit matter? Refits a `voxage crossval` run's compensation on each
fold's training clips and copies, with another classifier strength C, its displacements scaled or another
temperature for the recordings the familiarity check flags, and scores the fold's test speakers again, clean,
through the protocol's channels and on the held-out corpus. Eval-only: the heads are not retrained (the
compensation acts at prediction only), so a variant costs about 30 s a fold.

    .venv/bin/python scripts/experiments/compensation_probe.py WORK RUN OUT --c 0.001,0.01,0.1 --seeds 0
    .venv/bin/python scripts/experiments/compensation_probe.py WORK RUN OUT --strength 1.5,2 --seeds 0
    .venv/bin/python scripts/experiments/compensation_probe.py WORK RUN OUT --unfamiliar-temperature 0.66,1 --seeds 0
    .venv/bin/python scripts/experiments/compensation_probe.py WORK RUN OUT --gain-power 0.5,1.5 --seeds 0
    .venv/bin/python scripts/experiments/compensation_probe.py WORK RUN OUT --as-trained --strength 1.5 \
        --strength-families noise-white-loud,noise-babble-loud,room --standardize --seeds 0
    .venv/bin/python scripts/experiments/compensation_probe.py WORK RUN OUT --rank 8,32 --ridge 1,3 \
        --unmapped noise-babble --seeds 0,1,2

WORK and RUN as given to `voxage crossval --channel-copies 4 --held-out-corpus crema-d` (add --test-corpus as
there); per variant, OUT/VARIANT/seed-S/fold-F.json (every answer's confidence and correctness kept) and a line
of means over the folds, with the ECE of each seed's folds pooled as `voxage crossval` reports it.

What it found (voxage 0.9's run, all languages, seed 0's 5 folds): C from 0.001 to 0.1 moves the mean over clean
and the 14 channels by at most 0.0015 (0.3025 / 0.3012 / 0.3010); displacements scaled by 1.5 or 2 trade balanced
accuracy for off-by-one (-0.004 / +0.021 and -0.010 / +0.039: answers pulled towards the middle groups), so
neither is bundled (docs/experiments.md). On voxage 0.10's run (seed 0): standardizing the masking families
(`--standardize --standardize-families noise-white,noise-pink,noise-babble,room,gain-hot`, what `voxage train
--standardize-channels` does) lifts the mean 0.3065 -> 0.3092 (all languages) and 0.3163 -> 0.3233 (English).
On voxage 0.12's run (15 folds): the phone line's share 0.6-1 and `--banded` (docs/experiments.md, "Since voxage
0.12"). On voxage 0.13's run (15 folds): a map per family of rank 8-64 (`--rank`, what `voxage train
--channel-map-rank` trains; docs/experiments.md, "Since voxage 0.13").
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from voxage.audio.channels import Noise, Room
from voxage.data.dataset import CachedClips, read_all
from voxage.data.stores import (
    aligned_store,
    copy_rows,
    feature_store,
    heard_through,
    recorded_indices,
    with_copies,
)
from voxage.data.weights import sample_weights
from voxage.data.workdir import load_work_dir
from voxage.evaluation.conditions import CLEAN, compact, resolve_conditions
from voxage.evaluation.crossval import (
    HELD_OUT,
    fold_ids,
    fold_run_dir,
    fold_splits,
    protocol_mean,
    run_tag,
    summarize_conditions,
)
from voxage.evaluation.evaluate import evaluate_conditions, evaluate_rows
from voxage.models.artifact import ModelArtifact
from voxage.models.embed_head import CHANNEL_SCORE_C
from voxage.models.registry import rebuild_model
from voxage.training.config import TrainConfig
from voxage.training.fit import calibrate


@dataclass
class Variant:
    name: str
    c: float = CHANNEL_SCORE_C
    strength: float | None = None  # None: as trained
    unfamiliar_temperature: float | None = None
    recalibrate: bool = False  # temperatures refit on validation speakers, as training fits them
    scaled: tuple[str, ...] | None = None  # the families `strength` acts on; None: all
    standardize: bool = False  # `EmbedHead(standardized_families=...)`, what --standardize-channels trains
    standardized: tuple[str, ...] | None = None  # the families it standardises; None: all
    gain_power: float = 1.0  # the standardized families' spread ratios to this power: 0 undoes none, 1 all of it
    banded: tuple[str, ...] = ()  # these channels (`room`, `noise`) split into two families by strength
    rank: int = 0  # `EmbedHead(family_rank=...)`: a voice's own displacement per family, from a map of this rank
    ridge: float = 1.0  # that map's L2 strength
    unmapped: tuple[str, ...] = ()  # family name prefixes given no map (`EmbedHead(mapped_families=...)`)

    def scale(self, model) -> None:
        """`strength` of the full fitted displacement of `scaled` (or all) families taken off, in place, whatever
        share the model was trained to take (`EmbedHead.family_strengths`, e.g. `voxage train
        --phone-displacement`)."""
        for i, f in enumerate(model.channel_families if self.strength is not None else ()):
            if self.scaled is None or f in self.scaled:
                trained = model.family_strengths.get(f, 1.0)
                if trained == 0:  # nothing kept to rescale
                    raise SystemExit(f"{f}: the model was trained to take none of its displacement off")
                model.family_shift[i + 1] *= self.strength / trained


def banded_family(channel, split: tuple[str, ...] = ("room", "noise")) -> str:
    """A channel's family with rooms and noise (those named in `split`) split by strength: a long room (RT60 0.55 s
    or more) and loud noise (SNR under 15 dB) each move and shrink the vector more than a short room or soft
    noise."""
    if isinstance(channel, Room) and channel.name in split:
        return f"{channel.family}-{'long' if channel.rt60_s >= 0.55 else 'short'}"
    if isinstance(channel, Noise) and channel.name in split:  # what `Noise.family` is since voxage 0.13
        return f"{channel.name}-{channel.kind}-{'loud' if channel.snr_db < Noise.loud_below_db else 'soft'}"
    return channel.family


def pre_refit_state(fold_dir: Path) -> dict:
    """The fold model's weights and fitted statistics before its refit on validation speakers (what training
    calibrates), from its best checkpoint."""
    import torch

    state = torch.load(fold_dir / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)["state_dict"]
    return {k.removeprefix("model."): v for k, v in state.items() if k.startswith("model.")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("work", type=Path)
    ap.add_argument("run", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--c", default="", help="comma-separated classifier strengths (inverse L2)")
    ap.add_argument("--strength", default="",
                    help="comma-separated shares of the fitted displacements taken off (1: all of it)")
    ap.add_argument("--strength-families", default="",
                    help="comma-separated channel families whose displacements --strength scales (default: all)")
    ap.add_argument("--unfamiliar-temperature", default="",
                    help="comma-separated temperatures for the recordings the familiarity check flags")
    ap.add_argument("--recalibrate", action="store_true",
                    help="refit the temperatures of --strength and --standardize variants as training does")
    ap.add_argument("--standardize", action="store_true",
                    help="also score the compensation that --standardize-channels trains")
    ap.add_argument("--standardize-families", default="", help="comma-separated families it acts on (default: all)")
    ap.add_argument("--gain-power", default="",
                    help="comma-separated powers on a standardized model's spread ratios (1: as trained)")
    ap.add_argument("--as-trained", action="store_true", help="also score the kept models as they are")
    ap.add_argument("--banded", nargs="?", const="room,noise", default="",
                    help="also score these channels (default room,noise) split into two families each by strength "
                         "(recalibrated)")
    ap.add_argument("--rank", default="",
                    help="comma-separated ranks of a per-family map from each copy to its clip as recorded "
                         "(recalibrated)")
    ap.add_argument("--ridge", default="1", help="comma-separated L2 strengths of that map")
    ap.add_argument("--unmapped", default="",
                    help="comma-separated family name prefixes (e.g. noise-babble) --rank gives no map")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--test-corpus")
    ap.add_argument("--held-out-corpus", default="crema-d")
    args = ap.parse_args()
    scaled = tuple(filter(None, args.strength_families.split(","))) or None
    scaled_name = "-" + "+".join(scaled) if scaled else ""
    standardized = tuple(filter(None, args.standardize_families.split(","))) or None
    standardized_name = "-" + "+".join(standardized) if standardized else ""
    variants = [Variant(f"c{c}", c=float(c)) for c in filter(None, args.c.split(","))] + [
        Variant(f"strength{s}{scaled_name}", strength=float(s), scaled=scaled, recalibrate=args.recalibrate)
        for s in filter(None, args.strength.split(","))] + [
        Variant(f"unfamiliar-t{t}", unfamiliar_temperature=float(t))
        for t in filter(None, args.unfamiliar_temperature.split(","))] + (
        [Variant("as-trained")] if args.as_trained else []) + (
        [Variant("banded" + ("" if args.banded == "room,noise" else "-" + args.banded.replace(",", "+")),
                 banded=tuple(args.banded.split(",")), recalibrate=True)] if args.banded else []) + [
        Variant(f"gain-power{g}", gain_power=float(g), recalibrate=args.recalibrate)
        for g in filter(None, args.gain_power.split(","))] + (
        [Variant("standardized" + standardized_name, standardize=True, recalibrate=args.recalibrate,
                 standardized=standardized)] if args.standardize else []) + [
        Variant(f"rank{r}-ridge{lam}" + (f"-unmapped-{args.unmapped.replace(',', '+')}" if args.unmapped else ""),
                rank=int(r), ridge=float(lam), recalibrate=True, unmapped=tuple(filter(None, args.unmapped.split(","))))
        for r in filter(None, args.rank.split(",")) for lam in filter(None, args.ridge.split(","))]
    cache, every = load_work_dir(args.work)
    rows = [r for r in every if r.corpus != args.held_out_corpus]
    held = [r for r in every if r.corpus == args.held_out_corpus]
    conditions = resolve_conditions(["standard"])
    tag = run_tag("speaker", args.test_corpus, args.held_out_corpus)
    for seed in [int(s) for s in args.seeds.split(",")]:
        ids = fold_ids(rows, args.folds, "speaker", seed, args.test_corpus)
        for f in range(args.folds):
            fold_dir = fold_run_dir(args.run, tag, "embed", seed, f)
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
            channels = [heard_through(r.key) for r in fitted_on]
            families = [None if c is None else c.family for c in channels]
            if unknown := set(families) - {None, *model.channel_families}:  # e.g. a run from before voxage 0.13
                raise SystemExit(f"{fold_dir}: trained with other channel families than this voxage names "
                                 f"({', '.join(sorted(unknown))} unknown); probe it with the voxage that ran it")
            # fitted_on is training then validation clips, as recorded and then per copy
            in_train = np.tile([True] * len(splits["train"]) + [False] * len(splits["val"]), 1 + cfg.channel_copies)
            weights = sample_weights(fitted_on, cfg.weighting)
            originals = recorded_indices(fitted_on)
            trained_on = [r for r, t in zip(fitted_on, in_train) if t]
            for v in variants:
                out = args.out / v.name / f"seed-{seed}" / f"fold-{f}.json"
                if out.is_file():
                    continue
                banded = [None if c is None else banded_family(c, v.banded) for c in channels]
                kwargs = artifact.kwargs
                if v.standardize:  # the same head with the spread of these families undone as well
                    kwargs = {**kwargs, "standardized_families": list(v.standardized or model.channel_families)}
                if v.rank:
                    kwargs = {**kwargs, "family_rank": v.rank, "mapped_families": [
                        f for f in model.channel_families if not (v.unmapped and f.startswith(v.unmapped))]}
                fitted = ("family_", "clean_mean") if v.banded or v.rank else ()  # refit below (another shape)
                if v.banded:
                    kwargs = {**kwargs, "channel_families": sorted({f for f in banded if f}), "standardized_families":
                              sorted({b for b, c in zip(banded, channels) if c is not None and c.masks})}
                network = rebuild_model(artifact.name, kwargs)
                network.load_state_dict({k: t for k, t in model.state_dict().items() if not k.startswith(fitted)},
                                        strict=False)  # the standardized buffers are fitted
                network.fit_channel_compensation(x, banded if v.banded else families, weights, c=v.c,
                                                 originals=originals, ridge=v.ridge)
                v.scale(network)
                if v.gain_power != 1:
                    network.family_gain.pow_(v.gain_power)
                variant = replace(artifact, kwargs=kwargs, state_dict=network.state_dict())
                if v.unfamiliar_temperature is not None:
                    variant.extra = {**artifact.extra, "unfamiliar_temperature": v.unfamiliar_temperature}
                if v.recalibrate:  # as training does: the model before its refit, on validation speakers
                    before = rebuild_model(artifact.name, kwargs)
                    standardized = {k: t for k, t in variant.state_dict.items() if k in ("family_gain", "clean_mean")}
                    before.load_state_dict({**{k: t for k, t in pre_refit_state(fold_dir).items()
                                                  if not k.startswith(fitted)}, **standardized},
                                          strict=not fitted)
                    if fitted:  # as training fits it before the refit: on the training clips and copies
                        before.fit_channel_compensation(
                            x[in_train], [b for b, t in zip(banded if v.banded else families, in_train) if t],
                            weights[in_train], c=v.c, originals=recorded_indices(trained_on), ridge=v.ridge)
                    v.scale(before)
                    val = splits["val"] + copy_rows(splits["val"], cfg.channel_copies)
                    calibrated = calibrate(replace(variant, state_dict=before.state_dict()),
                                           CachedClips(aligned_store(store, before, val), val, cfg.weighting))
                    variant.extra = {**artifact.extra, **calibrated}
                scored = {CLEAN: compact(evaluate_rows(variant, args.work, splits["test"], with_probs=True)),
                          **evaluate_conditions(variant, args.work, splits["test"], conditions, every),
                          HELD_OUT: compact(evaluate_rows(variant, args.work, held, with_probs=True))}
                out.parent.mkdir(parents=True, exist_ok=True)  # each answer kept, for the ECE of pooled folds
                out.write_text(json.dumps({"seed": seed, "keys": [r.key for r in splits["test"]], **scored}))
                print(f"seed {seed} fold {f} {v.name}", flush=True)
    by_key, seeds = {r.key: r for r in every}, sorted({int(x) for x in args.seeds.split(",")})
    for name in (v.name for v in variants):
        folds = [json.loads(p.read_text()) for p in sorted((args.out / name).glob("seed-*/fold-*.json"))]
        summary = summarize_conditions(folds, seeds, by_key, [r.key for r in held])
        mean = protocol_mean(summary)
        worst = max((c for c in summary if c != HELD_OUT), key=lambda c: summary[c]["ece_pooled_mean"])
        print(f"{name}: {len(folds)} folds, mean over clean and the channels {mean['balanced_accuracy']:.4f}, "
              f"off-by-one {mean['off_by_one_accuracy']:.4f}, held-out corpus "
              f"{summary[HELD_OUT]['balanced_accuracy_mean']:.4f}; pooled ECE mean {mean['ece_pooled']:.3f}, "
              f"largest {summary[worst]['ece_pooled_mean']:.3f} ({worst})")
        print("  pooled ECE: " + ", ".join(f"{c} {e['ece_pooled_mean']:.3f}" for c, e in summary.items()))

if __name__ == "__main__":
    main()
