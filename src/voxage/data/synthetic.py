"""A small SYNTHETIC corpus in Common Voice layout, for the demo and the tests.

The voices are not people: harmonic sources with vowel formants, generated in numpy, whose pitch,
formant scale, jitter, shimmer, breathiness and speaking rate drift with the age group the way the
literature describes ageing voices (lower female pitch, more jitter and breath in older voices,
higher formants in teens). It proves the pipeline runs end to end; it says nothing about accuracy
on real speech.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from voxage.labels import AGE_GROUPS

VOWELS = np.array([[730, 1090, 2440], [270, 2290, 3010], [300, 870, 2240], [530, 1840, 2480], [570, 840, 2410]])
F0 = {"male": [150, 128, 116, 108, 100, 92], "female": [250, 225, 205, 190, 175, 165]}
FORMANT_SCALE = [1.2, 1.1, 1.02, 0.96, 0.9, 0.85]
RAW_AGES = {"sixties": ("sixties", "seventies", "eighties")}  # exercise the 60+ merge
TSV_COLUMNS = ["client_id", "path", "sentence", "up_votes", "down_votes", "age", "gender", "accents", "variant",
               "locale", "segment"]


@dataclass(frozen=True)
class SyntheticConfig:
    speakers_per_class: int = 8
    clips_per_speaker: int = 6
    sample_rate: int = 32000
    min_seconds: float = 3.0
    max_seconds: float = 5.0
    seed: int = 0
    locale: str = "en"  # written to the locale column; speakers of different locales are different people


def synth_voice(rng: np.random.Generator, age: int, gender: str, seconds: float, sr: int) -> np.ndarray:
    n = int(seconds * sr)
    t = np.arange(n) / sr
    f0_base = F0[gender][age] * rng.uniform(0.96, 1.04)
    jitter, shimmer, breath = 0.004 + 0.006 * age, 0.03 + 0.05 * age, 0.01 + 0.04 * age
    rate = 5.5 - 0.5 * age + rng.uniform(-0.2, 0.2)  # syllables per second
    syllable = np.floor(t * rate).astype(int)
    phase_in_syl = (t * rate) % 1.0
    vowel = VOWELS[rng.integers(0, len(VOWELS), syllable.max() + 1)][syllable]
    formants = vowel * FORMANT_SCALE[age] * (1.15 if gender == "female" else 1.0) * rng.uniform(0.96, 1.04)
    intonation = 1 + 0.08 * np.sin(2 * np.pi * 0.4 * t + rng.uniform(0, 6.28)) - 0.05 * t / seconds
    f0 = f0_base * intonation * (1 + jitter * rng.standard_normal(n).cumsum() / np.sqrt(sr / 50)).clip(0.8, 1.2)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    voice = np.zeros(n)
    for h in range(1, int(4000 / f0_base)):
        f = h * f0
        env = sum(1 / (1 + ((f - formants[:, k]) / (60 + 40 * k)) ** 2) for k in range(3))
        voice += env * np.sin(h * phase) / h**0.7
    syllable_env = np.sin(np.pi * phase_in_syl) ** 2 * (phase_in_syl < 0.85)
    amp = syllable_env * (1 + shimmer * rng.standard_normal(syllable.max() + 1)[syllable])
    noise = breath * rng.standard_normal(n) * (0.3 + syllable_env)
    out = voice * amp / (np.abs(voice).max() + 1e-9) + noise
    return (0.5 * out / np.abs(out).max()).astype(np.float32)


def make_corpus(root: Path, cfg: SyntheticConfig = SyntheticConfig()) -> Path:
    """Write clips/*.mp3 and validated.tsv under root; returns root."""
    root = Path(root)
    (root / "clips").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(cfg.seed)
    tag = "" if cfg.locale == "en" else f"_{cfg.locale}"  # another language: other speakers, other clip names
    rows = []
    for age, group in enumerate(AGE_GROUPS):
        for s in range(cfg.speakers_per_class):
            speaker = hashlib.sha256(f"synthetic-{group}-{s}-{cfg.seed}{tag}".encode()).hexdigest()
            gender = "female" if s % 2 else "male"
            raw_age = RAW_AGES.get(group, (group,))[s % len(RAW_AGES.get(group, (group,)))]
            for c in range(cfg.clips_per_speaker):
                name = f"synthetic{tag}_{group}_{s:02d}_{c:02d}.mp3"
                seconds = rng.uniform(cfg.min_seconds, cfg.max_seconds)
                sf.write(root / "clips" / name, synth_voice(rng, age, gender, seconds, cfg.sample_rate),
                         cfg.sample_rate, format="MP3")
                rows.append([speaker, name, "synthetic voice", "2", "0", raw_age, gender, "", "", cfg.locale, ""])
    # Rows a real release has too: no age given, and a listed clip that is not on disk.
    rows.append(["nobody", "synthetic_unlabelled.mp3", "no age", "2", "0", "", "", "", "", cfg.locale, ""])
    rows.append([rows[0][0], "synthetic_missing.mp3", "missing", "2", "0", "teens", "male", "", "", cfg.locale, ""])
    with open(root / "validated.tsv", "w", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(TSV_COLUMNS)
        w.writerows(rows)
    return root
