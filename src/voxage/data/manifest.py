"""manifest.tsv: every usable clip of a work dir with its label, speaker and split."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from voxage.data.atomic import write_text_atomic
from voxage.errors import DataError

COLUMNS = ("key", "speaker", "age_group", "gender", "source", "duration", "split", "path", "language", "corpus")


@dataclass(frozen=True)
class Row:
    key: str
    speaker: str
    age_group: str
    gender: str
    source: str
    duration: float
    split: str  # train / val / test, or "" when balancing left the clip out
    path: str
    language: str = ""
    corpus: str = ""


def write_manifest(path: Path, rows: list[Row]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter="\t", lineterminator="\n")
    w.writerow(COLUMNS)
    for r in rows:
        w.writerow([r.key, r.speaker, r.age_group, r.gender, r.source, f"{r.duration:.3f}", r.split, r.path,
                    r.language, r.corpus])
    write_text_atomic(path, buf.getvalue())


def read_manifest(path: Path) -> list[Row]:
    if not path.is_file():
        raise DataError(f"{path}: no manifest; run `voxage prepare` first")
    with open(path, newline="") as f:
        # Work dirs from before language/corpus existed read with those columns empty.
        return [Row(**{**r, "duration": float(r["duration"])}) for r in csv.DictReader(f, delimiter="\t")]
