"""`voxage train`: fit one model on a prepared work dir with the seed's loop, made resumable."""

from __future__ import annotations

import logging
import warnings
from collections import Counter
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from voxage.audio.channels import Noise, Room, Telephone
from voxage.data.atomic import write_json_atomic
from voxage.data.dataset import CachedClips, read_all
from voxage.data.manifest import Row
from voxage.data.stores import aligned_store, copy_rows, feature_store, heard_through, recorded_indices, with_copies
from voxage.data.weights import sample_weights
from voxage.data.workdir import clip_policy, load_work_dir
from voxage.errors import DataError
from voxage.features.frontends import frontend
from voxage.labels import GENDERS
from voxage.models.artifact import ModelArtifact
from voxage.models.calibration import fit_temperature, reliability
from voxage.models.outputs import split_outputs
from voxage.models.registry import MODELS, build_model, model_input, model_kwargs
from voxage.training.checkpoint_io import AtomicCheckpointIO
from voxage.training.config import TrainConfig
from voxage.training.data import AgeDataModule
from voxage.training.module import AgeClassifier

log = logging.getLogger(__name__)

MIN_CALIBRATION_CLIPS = 50  # fewer validation clips than this get the temperature of all of them


@contextmanager
def lightning_internals_quiet(resume: bool = False):
    """Lightning warnings about its own internals, which nobody running voxage can act on, are not shown."""
    with warnings.catch_warnings():
        # Lightning 2.6 still builds torch's deprecated LeafSpec when it flattens a batch (torch >= 2.10)
        warnings.filterwarnings("ignore", r"`isinstance\(treespec, LeafSpec\)` is deprecated", FutureWarning)
        if resume:  # a resumed run writes into its own checkpoint folder on purpose
            warnings.filterwarnings("ignore", r"Checkpoint directory .* exists and is not empty", UserWarning)
        yield


def _parse_devices(devices: str):
    return int(devices) if str(devices).isdigit() else devices


def fit(work_dir: Path, run_dir: Path, cfg: TrainConfig, resume: bool = False,
        splits: dict[str, list[Row]] | None = None) -> Path | None:
    """Train, keep the best checkpoint by val_loss, and write run_dir/model.pth; returns its path
    (None in the non-zero ranks of a multi-process run, which save nothing)."""
    work_dir, run_dir = Path(work_dir), Path(run_dir)
    last = run_dir / "checkpoints" / "last.ckpt"
    if resume and not last.is_file():
        raise DataError(f"{last}: nothing to resume; train without --resume first")
    if not resume and last.is_file():
        raise DataError(f"{run_dir} already holds a run; pass --resume to continue it or choose --run-dir")
    cfg = cfg.resolved()
    log.debug("training %s with %s", run_dir, cfg)
    # Lightning's own info lines (accelerators found, tips) only when voxage logs at debug level (-v)
    chatty = log.isEnabledFor(logging.DEBUG)
    logging.getLogger("lightning.pytorch").setLevel(logging.INFO if chatty else logging.WARNING)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    cache, rows = load_work_dir(work_dir)
    kind = model_input(cfg.model)
    splits = splits or {s: [r for r in rows if r.split == s] for s in ("train", "val", "test")}
    every = [r for v in splits.values() for r in v]
    store = feature_store(work_dir, cache, kind, every, cfg.progress)
    for split in ("train", "val"):
        if not splits[split]:
            raise DataError(f"{work_dir}: the {split} split is empty; prepare with more data")
    if cfg.channel_copies:  # the model learns, and is calibrated on, what survives a phone line, noise, a room ...
        heard = splits["train"] + splits["val"]
        store = with_copies(store, work_dir, cache, kind, heard, cfg.channel_copies, rows, cfg.progress)
        splits = {**splits, **{s: splits[s] + copy_rows(splits[s], cfg.channel_copies) for s in ("train", "val")}}
    kwargs = model_kwargs(cfg.model, cache.cfg)
    if cfg.channel_copies and hasattr(MODELS[cfg.model], "fit_familiarity_check"):
        kwargs["familiarity_check"] = True  # it learns what the copies' channels do to the vector
    if cfg.channel_copies and cfg.compensate_channels and hasattr(MODELS[cfg.model], "fit_channel_compensation"):
        channels = [c for s in ("train", "val") for r in splits[s] if (c := heard_through(r.key)) is not None]
        kwargs["channel_families"] = sorted({c.family for c in channels})
        if cfg.standardize_channels:
            kwargs["standardized_families"] = sorted({c.family for c in channels if c.masks})
        shares = {Telephone.name: cfg.phone_displacement, Room.name: cfg.room_displacement,
                  **{c.family: cfg.loud_noise_displacement for c in channels if isinstance(c, Noise) and c.loud}}
        if strengths := {f: share for f, share in shares.items() if share != 1 and f in kwargs["channel_families"]}:
            kwargs["family_strengths"] = strengths
        if cfg.channel_map_rank:
            kwargs["family_rank"] = cfg.channel_map_rank
            kwargs["mapped_families"] = sorted({c.family for c in channels if not c.mixes_voices})
    if cfg.align_languages and hasattr(MODELS[cfg.model], "fit_language_shift"):
        # reference language first: the one with the most clips the model (re)fits on
        kwargs["languages"] = [la for la, _ in Counter(r.language for r in splits["train"] + splits["val"])
                               .most_common()]
    model = build_model(cfg.model, **kwargs)
    inputs = fit_input_statistics(model, store, splits, cfg, kwargs.get("familiarity_check", False))
    dm = AgeDataModule(inputs, splits, cfg.batch_size, cfg.num_workers, cfg.weighting)
    if cfg.optimizer == "lbfgs":  # full batch: LBFGS needs the same loss at every evaluation
        dm.batch_size = max(1, len(dm.splits["train"]))
    module = AgeClassifier(model, kind, cfg.lr, cfg.weight_decay, cfg.augment, cfg.optimizer)
    write_json_atomic(run_dir / "train_config.json",
                      {"work_dir": str(work_dir.resolve()), "train": cfg.to_dict(), "model_kwargs": kwargs})
    checkpoint = ModelCheckpoint(dirpath=run_dir / "checkpoints", filename="best", monitor="val_loss",
                                 mode="min", save_last=True)
    # A resumed run logs to a fresh CSV version: Lightning would otherwise overwrite earlier epochs.
    attempt = len(list((run_dir / "csv").glob("attempt-*")))
    trainer = L.Trainer(
        default_root_dir=run_dir, max_epochs=cfg.max_epochs, accelerator=cfg.accelerator,
        devices=_parse_devices(cfg.devices), num_nodes=cfg.num_nodes, strategy=cfg.strategy,
        callbacks=[EarlyStopping("val_loss", patience=cfg.patience, mode="min"), checkpoint],
        logger=[TensorBoardLogger(run_dir, name="tensorboard", version=""),
                CSVLogger(run_dir, name="csv", version=f"attempt-{attempt}")],
        enable_progress_bar=cfg.progress, log_every_n_steps=1,
        enable_model_summary=cfg.progress, plugins=[AtomicCheckpointIO()],
    )
    with lightning_internals_quiet(resume):
        trainer.fit(module, datamodule=dm, ckpt_path=str(last) if resume else None)
    if not trainer.is_global_zero:
        return None
    best = checkpoint.best_model_path or str(last)
    state = torch.load(best, map_location="cpu", weights_only=True)["state_dict"]
    model_state = {k.removeprefix("model."): v for k, v in state.items() if k.startswith("model.")}
    fe = frontend(kind)
    artifact = ModelArtifact(cfg.model, kwargs, kind, cache.cfg, model_state, extra={
        "best_val_loss": float(checkpoint.best_model_score) if checkpoint.best_model_score is not None else None,
        "epochs": trainer.current_epoch, "train_clips": len(dm.splits["train"]),
        fe.version_key: fe.version, "clip_policy": clip_policy(work_dir).to_dict(),
        **({"genders": list(GENDERS)} if getattr(model, "gender", None) is not None else {}),
    })
    artifact.extra.update(calibrate(artifact, dm.dataset("val")))
    if cfg.optimizer == "lbfgs":
        artifact.state_dict = refit(module, model_state, store, dm.splits, cfg)
        artifact.extra["refit_clips"] = len(dm.splits["train"]) + len(dm.splits["val"])
    artifact.save(run_dir / "model.pth")
    return run_dir / "model.pth"


def fit_input_statistics(model, store, splits: dict[str, list[Row]], cfg: TrainConfig,
                         familiarity_check: bool = False):
    """Fit what the model learns from its training clips' inputs rather than by gradient (language shifts,
    channel compensation, feature scaling; with `familiarity_check`, that check: once, as its threshold needs
    validation speakers); returns the store as the model must see every split."""
    if not (getattr(model, "languages", None) or hasattr(model, "fit_normalization")):
        return store  # nothing to fit: a mel or wave model's inputs are not read into memory at once
    train = splits["train"]
    x = read_all(store, train)  # read once, shifted in memory
    weights = sample_weights(train, cfg.weighting)
    if getattr(model, "languages", None):
        model.fit_language_shift(x, [r.language for r in train], [r.speaker for r in train], weights,
                                 ages=[r.age_group for r in train])
        store = aligned_store(store, model, [r for rows in splits.values() for r in rows])
        for i, r in enumerate(train):
            x[i] += store.shifts[r.key]
    heard = [heard_through(r.key) for r in train]  # each clip's channel: None as recorded
    if familiarity_check:
        clean_val = [r for r in splits["val"] if heard_through(r.key) is None]
        model.fit_familiarity_check(x, np.array([c is not None and c.degrades for c in heard]), weights,
                                    read_all(store, clean_val), cfg.unfamiliar_rate)
    if getattr(model, "channel_families", None):
        model.fit_channel_compensation(x, [None if c is None else c.family for c in heard], weights,
                                       originals=recorded_indices(train))
    if hasattr(model, "fit_normalization"):
        model.fit_normalization(torch.from_numpy(x))
    return store


def refit(module: AgeClassifier, state: dict, store, splits: dict[str, list[Row]], cfg: TrainConfig) -> dict:
    """A convex head, its temperature fitted on the validation speakers, is trained once more on training and
    validation speakers together, language shifts and feature scaling included: with few old speakers, holding 1/8
    of them back cost 0.05 balanced accuracy (English unseen speakers, cv-en-delta13 + cv-multi-6.1)."""
    module.model.load_state_dict(state)
    splits = {**splits, "train": splits["train"] + splits["val"]}
    both = AgeDataModule(fit_input_statistics(module.model, store, splits, cfg), splits, len(splits["train"]),
                         cfg.num_workers, cfg.weighting)
    trainer = L.Trainer(max_epochs=1, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                        limit_val_batches=0)
    with lightning_internals_quiet():
        trainer.fit(module, datamodule=both)
    return {k: v.detach().cpu() for k, v in module.model.state_dict().items()}


def calibrate(artifact: ModelArtifact, val: CachedClips) -> dict:
    """Temperature fitted on the validation speakers (same loss weights as training), ECE before and after; with
    a familiarity check, one temperature for the clips it passes and one for those it flags (clean or copies)."""
    with torch.no_grad():
        out = artifact.build()(torch.stack([val[i][0] for i in range(len(val))]))
    labels, weights = val.labels.numpy(), val.weights.numpy()
    scores = split_outputs(out.numpy(), artifact.ordinal, len(artifact.genders))[0]
    unfamiliar = artifact.probabilities(out).unfamiliar
    flagged = unfamiliar if unfamiliar is not None else np.zeros(len(labels), dtype=bool)
    found: dict = {}
    for name, rows in (("temperature", ~flagged), ("unfamiliar_temperature", flagged)):
        if rows.sum() >= MIN_CALIBRATION_CLIPS:
            found[name] = fit_temperature(scores[rows], labels[rows], weights[rows], artifact.ordinal)
    if "temperature" not in found:  # too few clips passed: all of them fit it
        found["temperature"] = fit_temperature(scores, labels, weights, artifact.ordinal)
    if unfamiliar is not None:
        found.setdefault("unfamiliar_temperature", found["temperature"])
        found["val_unfamiliar_share"] = float(flagged.mean())
    before = reliability(artifact.probabilities(out, temperature=1.0).age, labels, weights)["ece"]
    after = reliability(replace(artifact, extra={**artifact.extra, **found}).probabilities(out).age, labels,
                        weights)["ece"]
    return {**found, "val_ece_uncalibrated": before, "val_ece": after}

