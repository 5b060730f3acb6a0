"""Balance classes and split train/val/test so that no speaker is heard in two splits."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from voxage.data.records import Clip
from voxage.errors import ConfigError
from voxage.labels import AGE_GROUPS

SPLITS = ("train", "val", "test")
METHODS = ("speaker", "random", "official")
BALANCES = ("downsample", "none")


@dataclass(frozen=True)
class SplitConfig:
    method: str = field(default="speaker", metadata={
        "flag": "split", "choices": METHODS, "help": "speaker: no speaker in two splits; random: the seed's per-clip "
                                                     "split (leaks speakers); official: the release's train/dev/test"})
    balance: str = field(default="downsample", metadata={
        "choices": BALANCES, "help": "downsample: every class cut to the smallest (the seed)"})
    max_clips_per_speaker: int | None = field(default=None, metadata={
        "flag": "max_per_speaker", "help": "cap clips per speaker before balancing"})
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    seed: int = 0

    def __post_init__(self):
        if self.method not in METHODS:
            raise ConfigError(f"unknown split method {self.method!r}; choose from {', '.join(METHODS)}")
        if self.balance not in BALANCES:
            raise ConfigError(f"unknown balance {self.balance!r}; choose from {', '.join(BALANCES)}")
        if self.max_clips_per_speaker is not None and self.max_clips_per_speaker < 1:
            raise ConfigError("max_clips_per_speaker must be at least 1")
        if self.val_fraction <= 0 or self.test_fraction < 0 or self.val_fraction + self.test_fraction >= 1:
            raise ConfigError("need val_fraction > 0, test_fraction >= 0 and their sum below 1")


def _by_speaker(clips: list[Clip]) -> dict[str, list[Clip]]:
    groups: dict[str, list[Clip]] = defaultdict(list)
    for c in clips:
        groups[c.speaker].append(c)
    return groups


def cap_per_speaker(clips: list[Clip], cap: int | None, rng: random.Random) -> list[Clip]:
    if cap is None:
        return clips
    kept = []
    for speaker_clips in _by_speaker(clips).values():
        kept += rng.sample(speaker_clips, min(cap, len(speaker_clips)))
    return kept


def downsample(clips: list[Clip], rng: random.Random) -> list[Clip]:
    """Cut every class to the smallest class, drawing round-robin over speakers to keep voices varied."""
    per_class: dict[str, list[Clip]] = defaultdict(list)
    for c in clips:
        per_class[c.age_group].append(c)
    if len(per_class) < len(AGE_GROUPS):
        return clips  # an absent class would cut everything to zero; report shows the gap instead
    target = min(len(v) for v in per_class.values())
    kept = []
    for group_clips in per_class.values():
        queues = [rng.sample(v, len(v)) for v in _by_speaker(group_clips).values()]
        rng.shuffle(queues)
        picked: list[Clip] = []
        while len(picked) < target:
            for q in queues:
                if q and len(picked) < target:
                    picked.append(q.pop())
        kept += picked
    return kept


def speaker_class(clips: list[Clip]) -> str:
    """A speaker's label for stratification: their most frequent age group."""
    return Counter(c.age_group for c in clips).most_common(1)[0][0]


def _assign_speakers(speakers: dict[str, list[Clip]], fractions: dict[str, float], rng: random.Random):
    """Greedy: biggest speakers first, each into the split furthest below its target clip share;
    then an empty val/test split takes train's smallest speaker, so every split hears every class."""
    names = sorted(speakers, key=lambda s: (-len(speakers[s]), rng.random()))
    total = sum(len(v) for v in speakers.values())
    filled = dict.fromkeys(fractions, 0)
    out = {}
    for s in names:
        choice = max(fractions, key=lambda k: (fractions[k] * total - filled[k], k == "train"))
        out[s] = choice
        filled[choice] += len(speakers[s])
    for split in ("test", "val"):
        train = [s for s in names if out[s] == "train"]
        if fractions[split] > 0 and split not in out.values() and len(train) >= 2:
            out[train[-1]] = split
    return out


def split_clips(clips: list[Clip], cfg: SplitConfig) -> dict[str, str]:
    """clip key -> train/val/test for the clips kept after capping and balancing."""
    rng = random.Random(cfg.seed)
    clips = sorted(clips, key=lambda c: c.key)
    clips = cap_per_speaker(clips, cfg.max_clips_per_speaker, rng)
    if cfg.balance == "downsample":
        clips = downsample(clips, rng)
    fractions = {"train": 1 - cfg.val_fraction - cfg.test_fraction, "val": cfg.val_fraction,
                 "test": cfg.test_fraction}
    if cfg.method == "official":
        names = {"train": "train", "dev": "val", "test": "test"}
        return {c.key: names[c.official_split] for c in clips if c.official_split in names}
    if cfg.method == "random":
        out = {}
        for group in AGE_GROUPS:
            members = [c for c in clips if c.age_group == group]
            rng.shuffle(members)
            n_test = round(len(members) * cfg.test_fraction)
            n_val = round(len(members) * cfg.val_fraction)
            for i, c in enumerate(members):
                out[c.key] = "test" if i < n_test else "val" if i < n_test + n_val else "train"
        return out
    speakers = _by_speaker(clips)
    out = {}
    for group in AGE_GROUPS:
        members = {s: v for s, v in speakers.items() if speaker_class(v) == group}
        for s, split in _assign_speakers(members, fractions, rng).items():
            out.update({c.key: split for c in members[s]})
    return out

