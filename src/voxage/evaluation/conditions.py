"""The robustness protocol's conditions: the same test speakers heard through simulated recording channels.

Cross-validation inside one corpus shares that corpus's microphones in every fold, so it cannot see a model
that learnt the microphone; scoring each test fold clean and through a phone line, noise, rooms, gain and codecs
can. A condition is a channel spec (`voxage.audio.channels.parse_channel`); `standard` names the set below.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from voxage.audio.channels import parse_channel

CLEAN = "clean"
STANDARD = (  # written as `resolve_conditions` writes them
    "phone:codec=mulaw", "phone:codec=alaw",                                  # 8 kHz G.711 line, 300-3400 Hz
    "noise:snr_db=20,kind=white", "noise:snr_db=10,kind=white", "noise:snr_db=5,kind=white",  # stationary
    "noise:snr_db=10,kind=pink", "noise:snr_db=10,kind=babble",               # 1/f noise; four other speakers
    "room:rt60_s=0.3", "room:rt60_s=0.6", "room:rt60_s=0.9",                  # reverberant rooms
    "gain:gain_db=-30", "gain:gain_db=20",                                    # quiet microphone; hot, clipping
    "mp3:vbr_quality=9", "gsm",                                               # low-bitrate MP3; GSM mobile codec
)
# What each condition's score keeps of a fold's report.
CONDITION_KEYS = ("balanced_accuracy", "off_by_one_accuracy", "speaker_balanced_accuracy", "macro_f1", "ece",
                  "largest_answer_share", "unfamiliar_share")  # the last: models with a familiarity check


def resolve_conditions(specs: Sequence[str]) -> list[str]:
    """`standard` expands to STANDARD, `clean` is dropped (always scored); every other spec is checked now, so a
    typo fails before hours of training, and written one way (`noise:snr_db=5.0` is `noise:snr_db=5`)."""
    out: list[str] = []
    for spec in specs:
        for s in STANDARD if spec == "standard" else (spec,):
            canonical = CLEAN if s == CLEAN else parse_channel(s).spec
            if canonical != CLEAN and canonical not in out:
                out.append(canonical)
    return out


def compact(report: dict) -> dict:
    """A condition's scores: the headline metrics and per-class recall; with the report's probabilities, each
    answer's top probability and whether it was right, so that calibration can be measured over pooled folds (a
    fold of 21 speakers alone gives a noisy ECE)."""
    out = {"n": report["n"], **{k: report[k] for k in CONDITION_KEYS if k in report},
           "per_class_recall": {g: m["recall"] for g, m in report["per_class"].items()}}
    if "probs" in report:
        probs = np.asarray(report["probs"])
        out.update(confidence=np.round(probs.max(1), 5).tolist(),
                   correct=(probs.argmax(1) == np.asarray(report["labels"])).tolist())
    return out
