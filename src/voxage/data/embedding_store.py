"""Cached utterance embeddings, one small `.npy` per clip, built once with parallel workers."""

from __future__ import annotations

from multiprocessing import get_context
from pathlib import Path

import numpy as np
from tqdm import tqdm

from voxage.audio import load_audio
from voxage.data.atomic import write_npy_atomic
from voxage.data.cache import single_threaded_children
from voxage.data.manifest import Row
from voxage.features.voice_embedding import EMBED_VERSION, SAMPLE_RATE, VoiceEmbedder


class EmbeddingStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / f"{key}.npy"

    def read(self, key: str) -> dict[str, np.ndarray]:
        return {"embed": np.load(self.path(key), allow_pickle=False)}

    def missing(self, rows: list[Row]) -> list[Row]:
        return [r for r in rows if not self.path(r.key).is_file()]


_state: dict = {}


def _init() -> None:
    _state["embedder"] = VoiceEmbedder()


def _embed(item: tuple[str, str, str]) -> str:
    key, audio, out = item
    vec = _state["embedder"](load_audio(audio, SAMPLE_RATE))
    write_npy_atomic(Path(out), vec)
    return key


def ensure_embeddings(work_dir: Path, rows: list[Row], workers: int = 2, progress: bool = True) -> EmbeddingStore:
    """Embed every row not yet in WORK_DIR/embeddings (resumable: finished clips are kept)."""
    store = EmbeddingStore(Path(work_dir) / "embeddings" / f"v{EMBED_VERSION}")
    todo = [(r.key, r.path, str(store.path(r.key))) for r in store.missing(rows)]
    if not todo:
        return store
    store.root.mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=len(rows), initial=len(rows) - len(todo), unit="clip", desc="speaker embeddings",
               disable=not progress, dynamic_ncols=True)
    if workers <= 1:
        _init()
        for item in todo:
            _embed(item)
            bar.update()
    else:
        with single_threaded_children(), get_context("spawn").Pool(workers, _init) as pool:
            for _ in pool.imap_unordered(_embed, todo, chunksize=4):
                bar.update()
    bar.close()
    return store
