"""What `prepare` leaves in a work dir and `train` in a run dir, read back by training, evaluation and crossval."""

from __future__ import annotations

import json
from pathlib import Path

from voxage.audio import ClipPolicy
from voxage.data.cache import FeatureCache
from voxage.data.manifest import Row, read_manifest
from voxage.errors import DataError
from voxage.features import FeatureConfig


def load_work_dir(work_dir: Path) -> tuple[FeatureCache, list[Row]]:
    rows = read_manifest(Path(work_dir) / "manifest.tsv")
    return open_cache(work_dir), rows


def open_cache(work_dir: Path) -> FeatureCache:
    """The prepare cache, with the feature settings it was built with."""
    root = Path(work_dir) / "cache"
    return FeatureCache(root, FeatureConfig.from_dict(json.loads((root / "config.json").read_text())))


def clip_policy(work_dir: Path) -> ClipPolicy:
    """The checks `prepare` kept these clips by; a model trained on them applies the same ones to what it hears."""
    path = Path(work_dir) / "prepare.json"
    return ClipPolicy.from_dict(json.loads(path.read_text()).get("clips") if path.is_file() else None)


def run_config(run_dir: Path) -> dict:
    path = Path(run_dir) / "train_config.json"
    if not path.is_file():
        raise DataError(f"{path}: not a training run folder")
    return json.loads(path.read_text())
