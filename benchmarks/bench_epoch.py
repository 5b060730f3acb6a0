"""Training epoch time: reading the cache vs decoding every MP3 again each epoch (what the seed did).

Same model, same clips, same batch size, same loop (forward, backward, Adam step), for the seed CNN
(log-mel cache) and the bundled `embed` model (embedding cache; without it every epoch re-runs the speaker
encoder and Praat on every clip).
Run: .venv/bin/python benchmarks/bench_epoch.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch
from common import corpus, save, table
from torch.utils.data import DataLoader, Dataset

from voxage.audio import load_audio
from voxage.data.dataset import CachedClips
from voxage.data.prepare import PrepareConfig, prepare
from voxage.data.split import SplitConfig
from voxage.data.stores import feature_store
from voxage.data.workdir import load_work_dir
from voxage.features import FeatureConfig
from voxage.features.frontends import frontend
from voxage.labels import class_index
from voxage.models.registry import build_model, model_kwargs
from voxage.training.module import training_layout

CLIPS = 300


class DecodeEveryEpoch(Dataset):
    """The seed's way: every item decodes its MP3 and computes its features again."""

    def __init__(self, rows, cfg: FeatureConfig, kind: str):
        self.rows, self.cfg, self.frontend = rows, cfg, frontend(kind)

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        r = self.rows[i]
        x = self.frontend.features(load_audio(r.path, self.frontend.sample_rate(self.cfg)), self.cfg)
        return torch.from_numpy(x), torch.tensor(class_index(r.age_group)), torch.tensor(1.0)


def epoch_seconds(model_name: str, dataset, cfg: FeatureConfig) -> float:
    torch.manual_seed(0)
    model = training_layout(build_model(model_name, **model_kwargs(model_name, cfg)))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    start = time.perf_counter()
    for x, y, *_ in DataLoader(dataset, batch_size=32, shuffle=True):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x.float()), y).backward()
        opt.step()
    return time.perf_counter() - start


def main() -> None:
    source, label = corpus()
    work = Path(tempfile.mkdtemp(prefix="voxage-epoch-"))
    prepare(PrepareConfig([str(source)], str(work), workers=2, limit=CLIPS,
                          split=SplitConfig(balance="none", val_fraction=0.05, test_fraction=0.05)),
            progress=False)
    cache, rows = load_work_dir(work)
    results, table_rows = {"corpus": label, "clips": len(rows)}, []
    for model, kind, epochs in (("cnn", "mel", 3), ("embed", "embed", 1)):
        store = feature_store(work, cache, kind, rows, progress=False)
        start = time.perf_counter()
        cached = CachedClips(store, rows)
        load = time.perf_counter() - start
        times = {name: [epoch_seconds(model, ds, cache.cfg) for _ in range(epochs)]
                 for name, ds in (("cache", cached), ("decode", DecodeEveryEpoch(rows, cache.cfg, kind)))}
        ratio = min(times["decode"]) / min(times["cache"])
        results[model] = {"epoch_s": times, "cache_load_s": load, "speedup_cache_vs_decode": ratio}
        table_rows.append({"model": model, "cache epoch s": f"{min(times['cache']):.3f}",
                           "decode-each-epoch s": f"{min(times['decode']):.2f}", "speedup": f"{ratio:.1f}x",
                           "cache load s (once)": f"{load:.2f}"})
    print(f"corpus: {label}, {len(rows)} clips, batch 32, best of the timed epochs")
    print(table(table_rows, ["model", "cache epoch s", "decode-each-epoch s", "speedup", "cache load s (once)"]))
    print(f"written: {save('epoch', results)}")


if __name__ == "__main__":
    main()
