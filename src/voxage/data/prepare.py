"""`voxage prepare`: metadata -> cleaned, cached, balanced, speaker-split work dir."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from voxage.audio import ClipPolicy
from voxage.data.atomic import write_bytes_atomic, write_json_atomic
from voxage.data.cache import FeatureCache, build_cache
from voxage.data.commonvoice import read_sources
from voxage.data.manifest import Row, write_manifest
from voxage.data.report import build_report
from voxage.data.split import SplitConfig, split_clips
from voxage.errors import ConfigError, DataError
from voxage.features import FeatureConfig
from voxage.features.frontends import DEFAULT_KINDS, parse_kinds
from voxage.parallel import default_workers

log = logging.getLogger(__name__)


def parse_shard(text: str) -> tuple[int, int]:
    """'I/N' -> (I, N) with 0 <= I < N."""
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ValueError("expected I/N, e.g. 0/4") from None
    if not 0 <= i < n:
        raise ValueError("shard I/N needs 0 <= I < N")
    return i, n


@dataclass
class PrepareConfig:
    sources: list[str] = field(metadata={"cli": False})  # folders of releases or of language folders, seed CSVs
    out: str = field(metadata={"cli": False})
    audio_dir: str | None = field(default=None, metadata={"help": "audio folder for a seed CSV (default: next to it)"})
    include_invalidated: bool = field(default=False, metadata={"help": "also use invalidated.tsv clips"})
    kinds: tuple[str, ...] = field(default=DEFAULT_KINDS, metadata={
        "parse": parse_kinds, "metavar": "KIND,...", "help": "front-end kinds to cache (a later run adds kinds; "
                                                             "training computes a missing kind on first use)"})
    workers: int = field(default_factory=default_workers, metadata={"help": "decoding processes"})
    limit: int | None = field(default=None, metadata={"help": "only the first N labelled clips (a quick look)"})
    shard: tuple[int, int] | None = field(default=None, metadata={
        "parse": parse_shard, "metavar": "I/N", "help": "decode only shard I of N (cluster job arrays)"})
    features: FeatureConfig = field(default_factory=FeatureConfig, metadata={"cli": False})
    clips: ClipPolicy = field(default_factory=ClipPolicy, metadata={"cli": False})  # its own flags
    split: SplitConfig = field(default_factory=SplitConfig, metadata={"cli": False})  # its own flags

    def __post_init__(self):
        if not self.sources:
            raise ConfigError("name at least one source folder or CSV")
        if self.workers < 1 or (self.limit is not None and self.limit < 1):
            raise ConfigError("workers and limit must be at least 1")


def in_shard(key: str, i: int, n: int) -> bool:
    """Stable across machines and Python runs (unlike hash())."""
    return int(hashlib.sha1(key.encode()).hexdigest()[:8], 16) % n == i


ENTRY_SUFFIXES = (".npy", ".flac", ".fail")


def merge_caches(out: Path, shard_dirs: list[Path]) -> int:
    """Copy the cache entries of shard work dirs into OUT's cache (temp + rename); entries already there are kept."""
    target = Path(out) / "cache"
    moved = 0
    for shard in shard_dirs:
        src = Path(shard) / "cache"
        config = src / "config.json"
        if not config.is_file():
            raise DataError(f"{shard}: no cache/config.json; not a prepared shard")
        FeatureCache(target, FeatureConfig.from_dict(json.loads(config.read_text())))  # refuses a mismatch
        for entry in src.rglob("*"):
            if entry.is_file() and entry.suffix in ENTRY_SUFFIXES and not entry.name.startswith("."):
                dest = target / entry.relative_to(src)
                if not dest.exists():
                    write_bytes_atomic(dest, entry.read_bytes())
                    moved += 1
    log.info("merged %d entries into %s", moved, target)
    return moved


def prepare(cfg: PrepareConfig, progress: bool = True) -> dict:
    """Returns the cleaning report (also in OUT/cleaning_report.json; `data.report.format_report` prints it)."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    clips, meta_drops = read_sources([Path(s) for s in cfg.sources], Path(cfg.audio_dir) if cfg.audio_dir else None,
                                     cfg.include_invalidated)
    if cfg.limit is not None:
        clips = clips[: cfg.limit]
    log.info("%d labelled clips found in %s", len(clips), ", ".join(cfg.sources))
    cache = FeatureCache(out / "cache", cfg.features)
    kinds = list(cfg.kinds)
    if cfg.shard is not None:
        i, n = cfg.shard
        mine = [c for c in clips if in_shard(c.key, i, n)]
        statuses = build_cache(cache, mine, cfg.clips, kinds, workers=cfg.workers, progress=progress)
        ok = sum(s == "ok" for s in statuses.values())
        log.info("shard %d/%d: %d clips, %d cached, %d dropped. When all shards are done, run `voxage merge` "
                 "(separate disks) and then `voxage prepare` without --shard to split and report.",
                 i, n, len(mine), ok, len(mine) - ok)
        return {"shard": [i, n], "clips": len(mine), "cached": ok}
    started = time.perf_counter()
    statuses = build_cache(cache, clips, cfg.clips, kinds, workers=cfg.workers, progress=progress)
    decode_seconds = time.perf_counter() - started
    decode_drops: dict[str, Counter] = {}
    for c in clips:
        if statuses[c.key] != "ok":
            decode_drops.setdefault(f"{c.corpus}/{c.language}", Counter())[statuses[c.key]] += 1
    ok = [c for c in clips if statuses[c.key] == "ok"]
    durations = {c.key: cache.duration(c.key, kinds) for c in ok}
    splits = split_clips(ok, cfg.split)
    rows = [Row(c.key, c.speaker, c.age_group, c.gender, c.source, durations[c.key], splits.get(c.key, ""),
                str(c.path), c.language, c.corpus) for c in ok]
    write_manifest(out / "manifest.tsv", rows)
    report = build_report(meta_drops, decode_drops, rows)
    write_json_atomic(out / "cleaning_report.json", report)
    write_json_atomic(out / "prepare.json", {**json.loads(json.dumps(asdict(cfg), default=str)),
                                             "decode_seconds": round(decode_seconds, 3), "cached_kinds": cache.kinds()})
    return report
