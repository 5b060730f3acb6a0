"""Does fine-tuning the speaker encoder for age beat the frozen one? A cross-validated probe (issue #10).

Per fold, on the training speakers only: GE2E's top LSTM layer and projection (resemblyzer's float weights) are
trained with an ordinal age head and the language-balanced weights, one random 1.6 s window per clip and epoch
(the first epoch trains the head alone); the lower two layers stay frozen, so their outputs are computed once
and cached. Then every clip's utterance vector is re-extracted, the rest of the bundled vector appended (prosody
and the second-layer frame mean, which the tuned layer does not change), each language shifted as `EmbedHead`
does, and the same linear Frank-Hall probe (five "older than" logistic regressions, C=3e-4, columns scaled as
`EmbedHead` scales them) scores the test speakers. The frozen encoder goes through the same probe in the same
fold, so each row is a paired comparison; "both" scores the two heads' geometric mean. Folds are `voxage
crossval`'s; finished folds are kept in OUT/folds.jsonl (resumable).

This is a screening script, not the product: the bundled model does not use it yet (README, what was tried).
Needs the training install plus resemblyzer (`make install`). Example (about 1.7 min a fold on 2 cores):

    .venv/bin/python scripts/experiments/finetune_encoder.py WORK OUT --test-corpus cv-en-delta13 --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from tqdm import tqdm

from voxage.audio import load_audio
from voxage.data.stores import feature_store
from voxage.data.weights import sample_weights
from voxage.data.workdir import load_work_dir
from voxage.evaluation.crossval import fold_ids
from voxage.evaluation.metrics import summarize
from voxage.features.frontends import EmbedFrontEnd
from voxage.features.ge2e_frontend import encoder_windows
from voxage.features.voice_embedding import MAX_SECONDS, SAMPLE_RATE, SPEAKER_DIM
from voxage.labels import AGE_GROUPS
from voxage.models.embed_head import EmbedHead
from voxage.models.outputs import age_probabilities
from voxage.training.module import age_loss

K = len(AGE_GROUPS)


def ge2e():
    from resemblyzer import VoiceEncoder

    return VoiceEncoder("cpu", verbose=False)


def window_starts(counts: np.ndarray) -> np.ndarray:
    """Index of each clip's first window in the concatenated window arrays."""
    return np.concatenate([[0], np.cumsum(counts)[:-1]])


def lower_layer_outputs(rows, cache: Path) -> tuple[torch.Tensor, np.ndarray]:
    """Second-layer LSTM outputs (windows, 160, 256) float16 of every clip's encoder windows, and windows per clip."""
    if not cache.with_suffix(".counts.npy").is_file():
        lower = torch.nn.LSTM(40, 256, 2, batch_first=True)
        lower.load_state_dict({k: v for k, v in ge2e().lstm.state_dict().items() if k[-1] in "01"})
        out = []
        with torch.no_grad():
            for r in tqdm(rows, desc="GE2E lower layers", unit="clip"):
                windows = encoder_windows(load_audio(r.path)[: int(MAX_SECONDS * SAMPLE_RATE)])
                out.append(lower(torch.from_numpy(windows))[0].numpy().astype(np.float16))
        np.save(cache, np.concatenate(out))
        np.save(cache.with_suffix(".counts.npy"), np.array([len(o) for o in out]))
    return torch.from_numpy(np.load(cache)), np.load(cache.with_suffix(".counts.npy"))


class Top(torch.nn.Module):
    """GE2E's third LSTM layer and projection (a copy of the pretrained weights) with an ordinal age head."""

    def __init__(self, encoder):
        super().__init__()
        self.lstm = torch.nn.LSTM(256, 256, batch_first=True)
        self.lstm.load_state_dict({k[:-1] + "0": v for k, v in encoder.lstm.state_dict().items() if k[-1] == "2"})
        self.linear = torch.nn.Linear(256, 256)
        self.linear.load_state_dict(encoder.linear.state_dict())
        self.head = torch.nn.Linear(SPEAKER_DIM, K - 1)

    def embed(self, layer2: torch.Tensor) -> torch.Tensor:
        _, (h, _) = self.lstm(layer2)
        e = torch.relu(self.linear(h[0]))
        return e / e.norm(dim=1, keepdim=True).clamp(min=1e-6)

    @torch.no_grad()
    def utterances(self, seqs: torch.Tensor, counts: np.ndarray) -> np.ndarray:
        """resemblyzer's embed_utterance: window vectors averaged, normalised again."""
        e = torch.cat([self.embed(seqs[i:i + 512].float()) for i in range(0, len(seqs), 512)]).numpy()
        means = np.add.reduceat(e, window_starts(counts)) / counts[:, None]
        return means / np.linalg.norm(means, axis=1, keepdims=True)


def fine_tune(top: Top, seqs, counts, train: np.ndarray, y: np.ndarray, w: np.ndarray, epochs: int, lr: float,
              seed: int) -> Top:
    rng = np.random.default_rng(seed)
    start = window_starts(counts)
    labels = torch.from_numpy(y[train])
    weight = torch.tensor(w, dtype=torch.float32)
    opt = torch.optim.Adam([{"params": [*top.lstm.parameters(), *top.linear.parameters()], "lr": 0.0},
                            {"params": top.head.parameters(), "lr": 1e-2}])
    for epoch in range(epochs):
        opt.param_groups[0]["lr"] = 0.0 if epoch == 0 else lr  # the head first, from the pretrained vectors
        pick = start[train] + (rng.random(len(train)) * counts[train]).astype(int)
        for b in np.array_split(rng.permutation(len(train)), max(1, len(train) // 64)):
            logits = top.head(top.embed(seqs[pick[b]].float()) * 10)  # unit vectors: scale to useful logits
            loss = (age_loss(logits, labels[b], ordinal=True) * weight[b]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return top.eval()


def frank_hall_probe(x_train, y_train, w, x_test, scale) -> np.ndarray:
    """Class probabilities from five 'older than group k' logistic regressions on standardised vectors, each column
    then multiplied by `scale` as EmbedHead does."""
    mu, sd = x_train.mean(0), (x_train.std(0) + 1e-4) / scale
    older = [LogisticRegression(C=3e-4, max_iter=3000).fit((x_train - mu) / sd, y_train > k, sample_weight=w)
             .decision_function((x_test - mu) / sd) for k in range(K - 1)]
    return age_probabilities(np.stack(older, axis=1), ordinal=True)


def probe(vectors, rows, train, test, y, w) -> np.ndarray:
    languages = [la for la, _ in Counter(rows[i].language for i in train).most_common()]
    head = EmbedHead(in_dim=vectors.shape[1], languages=languages)
    head.fit_language_shift(vectors[train], [rows[i].language for i in train], [rows[i].speaker for i in train], w,
                            ages=[rows[i].age_group for i in train])
    x = vectors + np.stack([head.shift_for(r.language) for r in rows])
    return frank_hall_probe(x[train], y[train], w, x[test], head.scale.numpy())


def scores(y: np.ndarray, p: np.ndarray) -> dict:
    m = summarize(y, p.argmax(1), p)
    return {k: float(m[k]) for k in ("balanced_accuracy", "off_by_one_accuracy", "macro_f1")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("work_dir", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--test-corpus", default=None, help="test folds from this corpus only (default: all)")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--lr", type=float, default=3e-4)
    args = ap.parse_args()
    torch.set_num_threads(2)
    args.out.mkdir(parents=True, exist_ok=True)
    cache, rows = load_work_dir(args.work_dir)
    rest = np.stack([feature_store(args.work_dir, cache, EmbedFrontEnd.name, rows).read(r.key)
                        for r in rows])[:, SPEAKER_DIM:]
    seqs, counts = lower_layer_outputs(rows, args.out / "layer2.npy")
    y = np.array([AGE_GROUPS.index(r.age_group) for r in rows])
    speakers = np.array([r.speaker for r in rows])
    encoder = ge2e()
    frozen = np.hstack([Top(encoder).utterances(seqs, counts), rest])
    log = args.out / "folds.jsonl"
    done = {(d["seed"], d["fold"]) for d in map(json.loads, log.read_text().splitlines())} if log.exists() else set()
    for seed in map(int, args.seeds.split(",")):
        ids = np.array(fold_ids(rows, args.folds, "speaker", seed, args.test_corpus))
        for f in range(args.folds):
            if (seed, f) in done:
                continue
            test = np.where(ids == f)[0]
            train = np.where((ids != f) & ~np.isin(speakers, speakers[test]))[0]
            w = sample_weights([rows[i] for i in train], "language").astype(np.float64)
            torch.manual_seed(seed * 100 + f)
            top = fine_tune(Top(encoder), seqs, counts, train, y, w, args.epochs, args.lr, seed * 100 + f)
            tuned = np.hstack([top.utterances(seqs, counts), rest])
            p_frozen, p_tuned = probe(frozen, rows, train, test, y, w), probe(tuned, rows, train, test, y, w)
            both = np.sqrt(p_frozen * p_tuned)  # the two heads' geometric mean: does fine-tuning add to frozen?
            result = {"seed": seed, "fold": f, "frozen": scores(y[test], p_frozen),
                      "fine_tuned": scores(y[test], p_tuned),
                      "both": scores(y[test], both / both.sum(1, keepdims=True))}
            print(json.dumps(result), flush=True)
            with log.open("a") as fh:
                fh.write(json.dumps(result) + "\n")
    results = [json.loads(line) for line in log.read_text().splitlines()]
    for name in ("frozen", "fine_tuned", "both"):
        if name not in results[0]:
            continue
        bal = [r[name]["balanced_accuracy"] for r in results]
        per_seed = {s: np.mean([r[name]["balanced_accuracy"] for r in results if r["seed"] == s])
                    for s in sorted({r["seed"] for r in results})}
        print(f"{name:<11} balanced acc {np.mean(bal):.3f} ± {np.std(bal):.3f} over {len(bal)} folds; per seed "
              + " / ".join(f"{v:.3f}" for v in per_seed.values()))


if __name__ == "__main__":
    main()
