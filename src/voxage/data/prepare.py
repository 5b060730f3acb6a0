"""`voxage prepare`: metadata -> cleaned, cached, balanced, speaker-split work dir."""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from voxage.data.atomic import write_bytes_atomic, write_json_atomic
from voxage.data.cache import DecodePolicy, FeatureCache, build_cache
from voxage.data.commonvoice import read_sources
from voxage.data.manifest import Row, write_manifest
from voxage.data.report import build_report, format_report
from voxage.data.split import SplitConfig, split_clips
from voxage.errors import DataError
from voxage.features import FeatureConfig


@dataclass
class PrepareConfig:
    sources: list[str]  # release folders, parents of language folders, or seed CSVs: all go into one work dir
    out: str
    audio_dir: str | None = None
    include_invalidated: bool = False
    workers: int = 1
    limit: int | None = None  # first N clips only: quick looks at a big release
    shard: tuple[int, int] | None = None  # (i, n): decode only shard i of n, for cluster job arrays
    features: FeatureConfig = field(default_factory=FeatureConfig)
    decode: DecodePolicy = field(default_factory=DecodePolicy)
    split: SplitConfig = field(default_factory=SplitConfig)


def in_shard(key: str, i: int, n: int) -> bool:
    """Stable across machines and Python runs (unlike hash())."""
    return int(hashlib.sha1(key.encode()).hexdigest()[:8], 16) % n == i


def merge_caches(out: Path, shard_dirs: list[Path], echo=print) -> int:
    """Copy the cache entries of shard work dirs into OUT's cache (temp + rename); entries already there are kept."""
    target = Path(out) / "cache"
    moved = 0
    for shard in shard_dirs:
        src = Path(shard) / "cache"
        config = src / "config.json"
        if not config.is_file():
            raise DataError(f"{shard}: no cache/config.json; not a prepared shard")
        FeatureCache(target, FeatureConfig.from_dict(json.loads(config.read_text())))  # refuses a mismatch
        for entry in (src / "entries").rglob("*"):
            if entry.is_file() and entry.suffix in (".npy", ".fail"):
                dest = target / entry.relative_to(src)
                if not dest.exists():
                    write_bytes_atomic(dest, entry.read_bytes())
                    moved += 1
    echo(f"merged {moved} entries into {target}")
    return moved


def prepare(cfg: PrepareConfig, progress: bool = True, echo=print) -> dict:
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    clips, meta_drops = read_sources([Path(s) for s in cfg.sources], Path(cfg.audio_dir) if cfg.audio_dir else None,
                                     cfg.include_invalidated, warn=echo)
    if cfg.limit is not None:
        clips = clips[: cfg.limit]
    echo(f"{len(clips)} labelled clips found in {', '.join(cfg.sources)}")
    cache = FeatureCache(out / "cache", cfg.features)
    if cfg.shard is not None:
        i, n = cfg.shard
        mine = [c for c in clips if in_shard(c.key, i, n)]
        statuses = build_cache(cache, mine, cfg.decode, workers=cfg.workers, progress=progress)
        ok = sum(s == "ok" for s in statuses.values())
        echo(f"shard {i}/{n}: {len(mine)} clips, {ok} cached, {len(mine) - ok} dropped. When all shards are done, "
             f"run `voxage merge` (separate disks) and then `voxage prepare` without --shard to split and report.")
        return {"shard": [i, n], "clips": len(mine), "cached": ok}
    started = time.perf_counter()
    statuses = build_cache(cache, clips, cfg.decode, workers=cfg.workers, progress=progress)
    decode_seconds = time.perf_counter() - started
    decode_drops: dict[str, Counter] = {}
    for c in clips:
        if statuses[c.key] != "ok":
            decode_drops.setdefault(f"{c.corpus}/{c.language}", Counter())[statuses[c.key]] += 1
    ok = [c for c in clips if statuses[c.key] == "ok"]
    durations = {c.key: float(cache.read(c.key)["duration"]) for c in ok}
    splits = split_clips(ok, cfg.split)
    rows = [Row(c.key, c.speaker, c.age_group, c.gender, c.source, durations[c.key], splits.get(c.key, ""),
                str(c.path), c.language, c.corpus) for c in ok]
    write_manifest(out / "manifest.tsv", rows)
    report = build_report(meta_drops, decode_drops, rows)
    write_json_atomic(out / "cleaning_report.json", report)
    write_json_atomic(out / "prepare.json", {**json.loads(json.dumps(asdict(cfg), default=str)),
                                             "decode_seconds": round(decode_seconds, 3)})
    echo(format_report(report))
    echo(f"\nwork dir: {out}  (manifest.tsv, cleaning_report.json, cache/)")
    return report
