"""The `voxage` command: prepare, train, evaluate, predict (and the rest of the pipeline's verbs)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from voxage.cli_flags import add_flags, from_flags
from voxage.errors import ConfigError, DataError, VoxageError
from voxage.labels import display_name

# What `crossval` lets you set of TrainConfig (the model and seed come from --models and the fold seeds).
CROSSVAL_TRAIN_FIELDS = ("max_epochs", "batch_size", "lr", "weight_decay", "patience", "optimizer", "augment",
                         "weighting", "align_languages", "channel_copies", "compensate_channels",
                         "standardize_channels", "phone_displacement", "room_displacement",
                         "loud_noise_displacement", "channel_map_rank")


def _int_list(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("expected whole numbers separated by commas, e.g. 0,1,2") from None


def cmd_prepare(a) -> int:
    from voxage.audio import ClipPolicy
    from voxage.data.prepare import PrepareConfig, prepare
    from voxage.data.report import format_report
    from voxage.data.split import SplitConfig

    cfg = from_flags(PrepareConfig, a, sources=a.sources, out=a.out, clips=from_flags(ClipPolicy, a),
                     split=from_flags(SplitConfig, a))
    report = prepare(cfg, progress=not a.quiet)
    if cfg.shard is None:
        print(format_report(report))
        print(f"\nwork dir: {cfg.out}  (manifest.tsv, cleaning_report.json, cache/)")
    return 0


def cmd_merge(a) -> int:
    from voxage.data.prepare import merge_caches

    merge_caches(Path(a.work_dir), [Path(s) for s in a.shards])
    print(f"now run: voxage prepare SOURCE --out {a.work_dir}   (decodes nothing already merged)")
    return 0


def cmd_train(a) -> int:
    from voxage.training.config import TrainConfig
    from voxage.training.fit import fit

    cfg = from_flags(TrainConfig, a, progress=not a.quiet)
    run_dir = Path(a.run_dir) if a.run_dir else Path(a.work_dir) / "runs" / cfg.model
    path = fit(Path(a.work_dir), run_dir, cfg, resume=a.resume)
    if path:
        print(f"model saved: {path}\nTensorBoard: tensorboard --logdir {run_dir / 'tensorboard'}")
    return 0


def cmd_evaluate(a) -> int:
    from voxage.evaluation.conditions import resolve_conditions
    from voxage.evaluation.evaluate import evaluate_run, format_report

    report = evaluate_run(Path(a.run_dir), a.split, resolve_conditions(a.conditions))
    print(format_report(report))
    print(f"\nreport: {Path(a.run_dir) / 'report.json'}\nplots: {Path(a.run_dir) / 'confusion_matrix.png'}, "
          f"{Path(a.run_dir) / 'reliability.png'}, {Path(a.run_dir) / 'training_curves.png'}")
    return 0


def _looks_like_model(arg: str) -> bool:
    p = Path(arg)
    return p.suffix in (".pth", ".onnx") or (p.is_dir() and (p / "model.pth").is_file())


def _print_prediction(path: str, pred) -> None:
    print(f"{path}: the model thinks you are in your {display_name(pred.age_group)}")
    for c, p in sorted(pred.probabilities.items(), key=lambda kv: -kv[1]):
        print(f"  {c:<10}{p:6.1%}  {'#' * round(p * 40)}")
    if pred.gender:
        print(f"  voice: {pred.gender} ({pred.gender_probabilities[pred.gender]:.0%})")
    if not pred.reliable:
        print(f"  unreliable ({', '.join(pred.unreliable_reasons)}): do not act on this guess")


def cmd_predict(a) -> int:
    from tqdm import tqdm

    from voxage.inference import Predictor
    from voxage.inference.batch import CsvWriter, predict_files

    paths = list(a.files)
    model = a.model
    if model is None and len(paths) > 1 and _looks_like_model(paths[0]):
        model = paths.pop(0)
    if a.by_speaker or a.same_speaker:
        return _predict_speakers(Predictor(model), paths, a)
    files = _audio_files(paths)
    predictor = Predictor(model)  # a bad model fails here, once; worker processes load their own
    table = CsvWriter(Path(a.csv), predictor.classes, predictor.artifact.genders) if a.csv else None
    bar = tqdm(total=len(files), unit="clip", desc="predict", dynamic_ncols=True,
               disable=a.quiet or len(files) < 2 or not (a.csv or a.json))
    failures = 0
    try:
        for result in predict_files(files, predictor, a.workers):
            bar.update()
            failures += result.prediction is None
            if table:
                table.write(result)
            if a.json:
                print(json.dumps(result.to_dict()), flush=True)
            elif table is None and result.prediction is None:
                print(f"{result.path}: error: {result.error}", file=sys.stderr)
            elif table is None:
                _print_prediction(result.path, result.prediction)
    finally:
        bar.close()
        if table:
            table.close()
    if table:
        print(f"{len(files) - failures} of {len(files)} files judged; table: {a.csv}", file=sys.stderr)
    return 1 if failures else 0


def _audio_files(paths: list[str]) -> list[Path]:
    """The audio files under `paths` (files, or folders walked); none is an error."""
    from voxage.inference.batch import find_audio

    files = find_audio(paths)
    if not files:
        raise DataError(f"no audio files in {', '.join(paths)}")
    return files


def _predict_speakers(predictor, paths: list[str], a) -> int:
    """--same-speaker: all the files as one person; --by-speaker: one answer per client_id of Common Voice folders."""
    from voxage.audio import AudioError
    from voxage.data.commonvoice import speakers_of

    if a.csv:
        raise ConfigError("--csv writes one row per file; with --same-speaker or --by-speaker use --json")
    if a.same_speaker:
        groups = {"": ("", _audio_files(paths))}
    else:
        groups = {s: v for p in paths for s, v in speakers_of(Path(p)).items()}
        if not groups:
            raise DataError(f"no speakers with clips in {', '.join(paths)}")
    failures = 0
    for speaker, (label, files) in groups.items():
        who = {"speaker": speaker, "labelled_age_group": label} if a.by_speaker else {}
        try:
            prediction = predictor.predict_speaker(files)
        except AudioError as err:
            failures += 1
            if a.json:
                print(json.dumps({**who, "clips": len(files), "error": str(err), "reason": err.reason}), flush=True)
            else:
                print(f"{speaker or ', '.join(map(str, files))}: error: {err}", file=sys.stderr)
            continue
        if a.json:
            print(json.dumps({**who, "clips": len(files), **prediction.to_dict()}), flush=True)
        else:
            _print_prediction(f"{speaker or 'the speaker'} ({len(files)} clips)", prediction)
    return 1 if failures else 0


def cmd_demo_corpus(a) -> int:
    from voxage.data.synthetic import SyntheticConfig, make_corpus

    make_corpus(Path(a.out), SyntheticConfig(speakers_per_class=a.speakers, clips_per_speaker=a.clips, seed=a.seed))
    print(f"synthetic corpus written to {a.out}")
    return 0


def _add_conditions_flag(s) -> None:
    from voxage.audio.channels import CHANNELS

    s.add_argument("--conditions", nargs="+", default=[], metavar="SPEC",
                   help="also score the test speakers through these simulated channels: 'standard' (phone lines, "
                        "noise at 20/10/5 dB, babble, rooms RT60 0.3-0.9 s, -30/+20 dB gain, MP3, GSM) or specs "
                        f"NAME[:key=value,...] with NAME one of {', '.join(CHANNELS)}, e.g. noise:snr_db=5,kind=pink")


def cmd_crossval(a) -> int:
    from tqdm.contrib.logging import logging_redirect_tqdm

    from voxage.evaluation.conditions import resolve_conditions
    from voxage.evaluation.crossval import crossval, format_table, run_tag
    from voxage.training.config import TrainConfig

    cfg = from_flags(TrainConfig, a, only=CROSSVAL_TRAIN_FIELDS, progress=False)
    out = Path(a.out) if a.out else Path(a.work_dir) / "crossval"
    with logging_redirect_tqdm([logging.getLogger("voxage")]):  # each fold's line above the bar, not through it
        summary = crossval(Path(a.work_dir), out, a.models.split(","), a.folds, a.split, cfg, a.seeds,
                           a.test_corpus, resolve_conditions(a.conditions), a.held_out_corpus, progress=not a.quiet)
    print(format_table(summary))
    tag = run_tag(a.split, a.test_corpus, a.held_out_corpus)
    print(f"\nreport: {out / f'crossval-{tag}.json'}\n"
          f"plots: {out}/{{recall,confusion,reliability,language{',conditions' if a.conditions else ''}}}-{tag}*.png")
    return 0


def cmd_serve(a) -> int:
    import logging

    import uvicorn

    from voxage.serving.app import ServerConfig, app_from_env
    from voxage.serving.guard import LOOPBACK

    if a.workers < 1:
        raise ConfigError("--workers must be at least 1")
    open_to_others = a.host not in LOOPBACK
    rate = a.rate_limit if a.rate_limit is not None else (120.0 if open_to_others else 0.0)
    cfg = ServerConfig(a.model and str(Path(a.model).resolve()), int(a.max_upload_mb * 1024 * 1024),
                       a.api_key or None, rate, a.stream_max_seconds, a.stream_idle_seconds)
    if open_to_others and not cfg.api_key:
        logging.getLogger("voxage").warning(
            "serving on %s without an API key: anyone who can reach this address can use the API; "
            "set --api-key or VOXAGE_API_KEY", a.host)
    # the worker processes read the same settings from the environment (ServerConfig.from_env)
    os.environ.update(VOXAGE_MAX_UPLOAD_BYTES=str(cfg.max_upload_bytes), VOXAGE_RATE_LIMIT=str(cfg.rate_limit),
                      VOXAGE_STREAM_MAX_SECONDS=str(cfg.stream_max_seconds),
                      VOXAGE_STREAM_IDLE_SECONDS=str(cfg.stream_idle_seconds))
    os.environ.update({"VOXAGE_MODEL": cfg.model} if cfg.model else {})
    os.environ.update({"VOXAGE_API_KEY": cfg.api_key} if cfg.api_key else {})
    app_from_env()  # a bad model or setting fails here, with one message, before any worker starts
    print(f"voxage serving on http://{a.host}:{a.port}/  (API docs: /docs; {a.workers} worker process(es); "
          f"API key {'required' if cfg.api_key else 'off'}; rate limit "
          f"{f'{cfg.rate_limit:g}/min per client' if cfg.rate_limit else 'off'})")
    # no permessage-deflate: streamed audio does not compress, and inflating every 20 ms frame costs CPU
    uvicorn.run("voxage.serving.app:app_from_env", factory=True, host=a.host, port=a.port, workers=a.workers,
                log_level="warning", ws_per_message_deflate=False)
    return 0


def cmd_recommend(a) -> int:
    from voxage.inference import Predictor
    from voxage.serving.recommend import recommend

    group = a.age_group or Predictor(a.model).predict_file(a.audio).age_group
    print(f"suggestions for the {display_name(group)} group:")
    for t in recommend(group, a.limit):
        print(f"  {t['title']} ({t['year']}, {t['rating']})")
    return 0


def cmd_export(a) -> int:
    from voxage.inference.predictor import default_model_path
    from voxage.models.artifact import ModelArtifact
    from voxage.models.onnx_export import export_onnx

    out = export_onnx(ModelArtifact.load(Path(a.model) if a.model else default_model_path().with_suffix(".pth")),
                      Path(a.onnx))
    print(f"ONNX model written: {out}")
    return 0


def cmd_demo(a) -> int:
    from voxage.demo import run_demo

    return run_demo(main, Path(a.out), a.epochs)


def _verbosity(subcommand: bool) -> argparse.ArgumentParser:
    """-v/-q before or after the subcommand; after it they only count when given (SUPPRESS keeps the first)."""
    p = argparse.ArgumentParser(add_help=False)
    unset = {"default": argparse.SUPPRESS} if subcommand else {}
    p.add_argument("-v", "--verbose", action="count", help="more detail in the log, Lightning's included",
                   **(unset or {"default": 0}))
    p.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only, no progress bars",
                   **(unset or {"default": False}))
    return p


class _LogFormat(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text if record.levelno < logging.WARNING else f"{record.levelname.lower()}: {text}"


def configure_logging(verbose: int = 0, quiet: bool = False) -> None:
    """voxage's log to stderr (results go to stdout): info by default, warnings with -q, debug with -v
    (which also lets Lightning's start-up lines through: `training.fit`)."""
    logger = logging.getLogger("voxage")
    for handler in [h for h in logger.handlers if getattr(h, "voxage_cli", False)]:
        logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.voxage_cli = True
    handler.setFormatter(_LogFormat("%(name)s: %(message)s" if verbose else "%(message)s"))
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO)


def build_parser() -> argparse.ArgumentParser:
    from voxage import __version__
    from voxage.audio import ClipPolicy
    from voxage.data.prepare import PrepareConfig
    from voxage.data.split import SplitConfig
    from voxage.inference.stream import StreamLimits
    from voxage.models.names import MODEL_NAMES
    from voxage.parallel import default_workers
    from voxage.training.config import TrainConfig

    p = argparse.ArgumentParser(prog="voxage", description="Tell a speaker's age group from their voice.",
                                parents=[_verbosity(subcommand=False)])
    p.add_argument("--version", action="version", version=f"voxage {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    common = [_verbosity(subcommand=True)]

    s = sub.add_parser("prepare", help="clean, decode, cache features, balance and split a corpus", parents=common)
    s.add_argument("sources", nargs="+", metavar="SOURCE",
                   help="Common Voice language folder (validated.tsv + clips/), a folder of language folders "
                        "(a multi-language download), or a seed CSV (path,age); several go into one work dir")
    s.add_argument("--out", required=True, help="work dir for the cache, manifest and report")
    add_flags(s, PrepareConfig)
    add_flags(s, ClipPolicy)
    add_flags(s, SplitConfig)
    s.set_defaults(func=cmd_prepare)

    s = sub.add_parser("merge", help="gather the caches of `prepare --shard` runs into one work dir", parents=common)
    s.add_argument("work_dir")
    s.add_argument("shards", nargs="+", help="work dirs of the shard runs")
    s.set_defaults(func=cmd_merge)

    s = sub.add_parser("train", help="train one model on a prepared work dir", parents=common)
    s.add_argument("work_dir")
    s.add_argument("--run-dir", help="default: WORK_DIR/runs/MODEL")
    s.add_argument("--resume", action="store_true", help="continue from the run's last checkpoint")
    add_flags(s, TrainConfig)
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("evaluate", help="test a run; writes report.json and PNG plots", parents=common)
    s.add_argument("run_dir")
    s.add_argument("--split", default="test", choices=["test", "val", "train"])
    _add_conditions_flag(s)
    s.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("predict", help="age group and probabilities per audio file (folders are walked)",
                       parents=common)
    s.add_argument("files", nargs="+", metavar="[MODEL] FILE_OR_DIR",
                   help="optional model (.pth, .onnx or run dir), then audio files and folders of them")
    s.add_argument("--model", help="model file (default: the bundled model)")
    s.add_argument("--json", action="store_true", help="one JSON object per line, in input order")
    s.add_argument("--csv", metavar="OUT", help="write one row per file (probabilities, or the error) to OUT")
    join = s.add_mutually_exclusive_group()
    join.add_argument("--same-speaker", action="store_true", help="the files are one person: one answer for all")
    join.add_argument("--by-speaker", action="store_true",
                      help="FILE_OR_DIR are Common Voice folders: one answer per speaker (client_id), their clips "
                           "joined")
    s.add_argument("--workers", type=int, default=default_workers(),
                   help="worker processes for many files (default: one per core; at least 4 files each)")
    s.set_defaults(func=cmd_predict)

    s = sub.add_parser("synth-corpus", help="write the SYNTHETIC demo corpus in Common Voice layout", parents=common)
    s.add_argument("out")
    s.add_argument("--speakers", type=int, default=8, help="speakers per class")
    s.add_argument("--clips", type=int, default=6, help="clips per speaker")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=cmd_demo_corpus)
    s = sub.add_parser("crossval", help="speaker-grouped k-fold comparison of models", parents=common)
    s.add_argument("work_dir")
    s.add_argument("--models", default=",".join(MODEL_NAMES), help="comma-separated model names")
    s.add_argument("--folds", type=int, default=5)
    s.add_argument("--split", choices=["speaker", "random"], default="speaker",
                   help="speaker: folds share no speaker (honest); random: per clip, as the seed (leaky)")
    add_flags(s, TrainConfig, only=CROSSVAL_TRAIN_FIELDS)
    s.add_argument("--seeds", type=_int_list, default=[0], metavar="S[,S...]",
                   help="fold seeds: each draws other folds; means and spread over all of them (default 0)")
    s.add_argument("--test-corpus", metavar="NAME",
                   help="test folds only from this corpus (e.g. cv-en-delta13; several joined by commas); every other "
                        "corpus always trains")
    s.add_argument("--held-out-corpus", metavar="NAME",
                   help="leave this corpus out of every fold's training and score each fold's model on all of it")
    _add_conditions_flag(s)
    s.add_argument("--out", help="default: WORK_DIR/crossval")
    s.set_defaults(func=cmd_crossval)

    s = sub.add_parser("serve", help="HTTP API and the recording page", parents=common)
    s.add_argument("--host", default="127.0.0.1", help="bind address (default loopback only)")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--model", help="model file (default: the bundled model)")
    s.add_argument("--max-upload-mb", type=float, default=5.0)
    s.add_argument("--workers", type=int, default=1,
                   help="server processes, each with its own model (one already keeps 2 cores busy)")
    s.add_argument("--api-key", default=os.environ.get("VOXAGE_API_KEY"),
                   help="require 'Authorization: Bearer KEY' on /api/* (default: $VOXAGE_API_KEY; /health and / "
                        "stay open)")
    s.add_argument("--rate-limit", type=float, metavar="PER_MINUTE",
                   help="requests a minute per client on /api/*, 429 past it; 0 = off (default: off on loopback, "
                        "120 on any other address)")
    s.add_argument("--stream-max-seconds", type=float, default=StreamLimits.max_seconds,
                   help="audio one /api/stream may send (default: %(default)g)")
    s.add_argument("--stream-idle-seconds", type=float, default=StreamLimits.idle_seconds,
                   help="close a stream that sends nothing this long (default: %(default)g)")
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser("recommend", help="movie suggestions for the age group heard in AUDIO", parents=common)
    s.add_argument("audio", nargs="?")
    s.add_argument("--age-group", help="skip the model and use this group")
    s.add_argument("--model")
    s.add_argument("--limit", type=int, default=5)
    s.set_defaults(func=cmd_recommend)

    s = sub.add_parser("export", help="export a model to ONNX (predict/serve accept the .onnx file)", parents=common)
    s.add_argument("model", nargs="?", help="model .pth or run dir (default: the bundled model)")
    s.add_argument("--onnx", required=True, help="output path, e.g. model.onnx")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("demo", help="run the whole pipeline on the SYNTHETIC corpus", parents=common)
    s.add_argument("--out", default="demo-output")
    s.add_argument("--epochs", type=int, default=20)
    s.set_defaults(func=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose, args.quiet)
    if args.command == "recommend" and not (args.audio or args.age_group):
        parser.error("recommend needs AUDIO or --age-group")
    try:
        return args.func(args)
    except (VoxageError, OSError) as err:  # what the user can fix; anything else is a bug: keep its traceback
        print(f"voxage {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; run the same command again to resume", file=sys.stderr)
        return 130
