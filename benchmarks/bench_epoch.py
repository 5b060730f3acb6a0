"""Training epoch time: reading the feature cache vs decoding every MP3 again each epoch (the seed).

Same model (the seed CNN), same clips, same batch size, same loop (forward, backward, Adam step).
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
from voxage.data.prepare import PrepareConfig, prepare
from voxage.data.split import SplitConfig
from voxage.features import FeatureConfig, extract
from voxage.labels import class_index
from voxage.models import build_model
from voxage.models.registry import model_kwargs
from voxage.training.data import CachedClips, load_work_dir

CLIPS = 300


class DecodeEveryEpoch(Dataset):
    """The seed's way: every item decodes its MP3, resamples and computes the log-mel again."""

    def __init__(self, rows, cfg: FeatureConfig):
        self.rows, self.cfg = rows, cfg

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        r = self.rows[i]
        mel = extract(load_audio(r.path, self.cfg.sample_rate), self.cfg)["mel"]
        return torch.from_numpy(mel), torch.tensor(class_index(r.age_group)), torch.tensor(1.0)


def epoch_seconds(dataset, cfg: FeatureConfig) -> float:
    torch.manual_seed(0)
    model = build_model("cnn", **model_kwargs("cnn", cfg))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    start = time.perf_counter()
    for x, y, _ in DataLoader(dataset, batch_size=32, shuffle=True):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x.float()), y).backward()
        opt.step()
    return time.perf_counter() - start


def main() -> None:
    source, label = corpus()
    work = Path(tempfile.mkdtemp(prefix="voxage-epoch-"))
    prepare(PrepareConfig(str(source), str(work), workers=2, limit=CLIPS,
                          split=SplitConfig(balance="none", val_fraction=0.05, test_fraction=0.05)),
            progress=False, echo=lambda *_: None)
    cache, rows = load_work_dir(work)
    start = time.perf_counter()
    cached = CachedClips(cache, rows, "mel")
    load = time.perf_counter() - start
    results, table_rows = {"corpus": label, "clips": len(rows), "cache_load_s": load}, []
    for name, ds in (("cache", cached), ("decode MP3 each epoch", DecodeEveryEpoch(rows, cache.cfg))):
        times = [epoch_seconds(ds, cache.cfg) for _ in range(2)]
        results[name] = times
        table_rows.append({"data path": name, "epoch 1 s": round(times[0], 2), "epoch 2 s": round(times[1], 2)})
    ratio = min(results["decode MP3 each epoch"]) / min(results["cache"])
    results["speedup_cache_vs_decode"] = ratio
    print(f"corpus: {label}, {len(rows)} clips, seed CNN, batch 32 (cache loaded once in {load:.2f} s)")
    print(table(table_rows, ["data path", "epoch 1 s", "epoch 2 s"]))
    print(f"\ncached epochs are {ratio:.1f}x faster\nwritten: {save('epoch', results)}")


if __name__ == "__main__":
    main()
