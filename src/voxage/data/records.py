"""One labelled clip, as read from a corpus's metadata."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Clip:
    key: str  # unique, filesystem-safe id derived from the clip's relative path
    path: Path
    speaker: str
    age_group: str
    gender: str = ""
    source: str = "validated"
    official_split: str = ""  # train/dev/test where the release ships those files
    language: str = ""  # the `locale` column, else the language folder's name
    corpus: str = ""  # the folder named on the command line (a release, or a parent of language folders)


def clip_key(relative_path: str) -> str:
    stem = relative_path.rsplit(".", 1)[0] if "." in relative_path.rsplit("/", 1)[-1] else relative_path
    return stem.replace("/", "__").replace("\\", "__")
