"""How alike should the five "older than" vectors be? The cross-validated probe behind voxage 0.5's head (issue #10).

Each "older than group k" logit is x . W_k + b_k, fitted to the optimum (scipy's L-BFGS) on the cached bundled
vectors (`WORK/features/embed/v4`), language-shifted, standardised and column-scaled as `EmbedHead` does, with the
language-balanced weights, in `voxage crossval`'s speaker folds. Two priors on the W_k, each setting a pair A:B
of sklearn-style C values (penalty 1 / (2 C), loss summed over clips):
- `chain` (bundled): 1 / (2A) on every W_k, 1 / (2B) on each difference W_k - W_(k-1). B = 0 turns the
  differences off: Frank & Hall's five independent vectors (voxage 0.4). EmbedHead's threshold_smoothing is A / B.
- `shared`: W_k = w_shared + v_k, 1 / (2A) on w_shared, 1 / (2B) on each v_k (A = 0: Frank & Hall at C = B).
At weight decay 1.0 voxage's head matches C = 3e-4 on these 5,195 clips.

Screening, not the product: `voxage crossval` measures the head as bundled. Example (about 20 s a setting and
fold seed):

    .venv/bin/python scripts/experiments/ordinal_prior_probe.py WORK --test-corpus cv-en-delta13 \
        --settings 3e-4:0,3e-4:3e-4
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit

from voxage.data.stores import feature_store
from voxage.data.weights import sample_weights
from voxage.data.workdir import load_work_dir
from voxage.evaluation.crossval import fold_ids
from voxage.evaluation.metrics import summarize
from voxage.features.frontends import EmbedFrontEnd
from voxage.labels import AGE_GROUPS
from voxage.models.embed_head import EmbedHead
from voxage.models.outputs import age_probabilities
from voxage.training.config import TrainConfig
from voxage.training.fit import fit_input_statistics

THRESHOLDS = len(AGE_GROUPS) - 1


def fit_ordinal(x: np.ndarray, y: np.ndarray, w: np.ndarray, prior: str, a: float, b: float) -> np.ndarray:
    """(dim + 1, 5): the five 'older than' weight vectors with their thresholds in the last row."""
    n, d = x.shape
    above = (y[:, None] > np.arange(THRESHOLDS)).astype(float)
    extra = d if prior == "shared" else 0  # the shared vector's parameters come first

    def loss_and_grad(theta):
        own, bias = theta[extra:-THRESHOLDS].reshape(THRESHOLDS, d), theta[-THRESHOLDS:]
        vectors = own + theta[:extra] if extra else own
        z = x @ vectors.T + bias
        loss = -(w[:, None] * (above * log_expit(z) + (1 - above) * log_expit(-z))).sum()
        dz = w[:, None] * (expit(z) - above)
        grad = dz.T @ x
        if prior == "shared":
            shared = theta[:d]
            loss += (own * own).sum() / (2 * b) + (shared @ shared / (2 * a) if a else 0.0)
            head = [grad.sum(0) + shared / a if a else np.zeros(d)]
            grad = grad + own / b
        else:
            diff = np.diff(own, axis=0)
            loss += (own * own).sum() / (2 * a) + ((diff * diff).sum() / (2 * b) if b else 0.0)
            grad = grad + own / a
            if b:
                grad[1:] += diff / b
                grad[:-1] -= diff / b
            head = []
        return loss, np.concatenate([*head, grad.ravel(), dz.sum(0)])

    theta = minimize(loss_and_grad, np.zeros(extra + d * THRESHOLDS + THRESHOLDS), jac=True, method="L-BFGS-B",
                     options={"maxiter": 5000, "ftol": 1e-13, "gtol": 1e-7}).x
    vectors = theta[extra:-THRESHOLDS].reshape(THRESHOLDS, d) + (theta[:extra] if extra else 0.0)
    return np.vstack([vectors.T, theta[-THRESHOLDS:]])


def aligned_inputs(store, rows, train, test) -> np.ndarray:
    """The clips as EmbedHead sees them (language-shifted, standardised, column-scaled), with the shifts and scaling
    fitted on the training clips by voxage's own `fit_input_statistics`; rows outside train and test are zero."""
    splits = {"train": [rows[i] for i in train], "test": [rows[i] for i in test]}
    head = EmbedHead(languages=[la for la, _ in Counter(r.language for r in splits["train"]).most_common()])
    aligned = fit_input_statistics(head, store, splits, TrainConfig(model="embed"))
    x = np.zeros((len(rows), head.mean.shape[0]))
    for i in np.concatenate([train, test]):
        x[i] = aligned.read(rows[i].key)
    return (x - head.mean.numpy()) / head.std.numpy() * head.scale.numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("work_dir", type=Path)
    ap.add_argument("--test-corpus", default=None, help="test folds from this corpus only (default: all)")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--prior", choices=("chain", "shared"), default="chain")
    ap.add_argument("--settings", default="3e-4:0,3e-4:3e-4", help="A:B pairs of C values, comma-separated")
    ap.add_argument("--out", type=Path, default=None, help="JSON with every fold's scores")
    args = ap.parse_args()
    settings = [tuple(map(float, s.split(":"))) for s in args.settings.split(",")]
    cache, rows = load_work_dir(args.work_dir)
    on_disk = feature_store(args.work_dir, cache, EmbedFrontEnd.name, rows)
    vectors = {r.key: np.asarray(on_disk.read(r.key), dtype=np.float32) for r in rows}  # read once for every fold
    store = SimpleNamespace(read=vectors.__getitem__)
    y = np.array([AGE_GROUPS.index(r.age_group) for r in rows])
    speakers = np.array([r.speaker for r in rows])
    results = {f"{a:g}:{b:g}": [] for a, b in settings}
    for seed in map(int, args.seeds.split(",")):
        ids = np.array(fold_ids(rows, args.folds, "speaker", seed, args.test_corpus))
        for f in range(args.folds):
            test = np.where(ids == f)[0]
            train = np.where((ids != f) & ~np.isin(speakers, speakers[test]))[0]
            w = sample_weights([rows[i] for i in train], "language").astype(np.float64)
            x = aligned_inputs(store, rows, train, test)
            for (a, b), scores in zip(settings, results.values()):
                coef = fit_ordinal(x[train], y[train], w, args.prior, a, b)
                p = age_probabilities(x[test] @ coef[:-1] + coef[-1], ordinal=True)
                m = summarize(y[test], p.argmax(1), p)
                scores.append({"seed": seed, "fold": f, **{k: float(m[k]) for k in
                                                           ("balanced_accuracy", "off_by_one_accuracy", "macro_f1")}})
    for name, scores in results.items():
        bal = np.array([s["balanced_accuracy"] for s in scores])
        per_seed = [np.mean([s["balanced_accuracy"] for s in scores if s["seed"] == seed])
                    for seed in sorted({s["seed"] for s in scores})]
        print(f"{args.prior} {name:<14} balanced acc {bal.mean():.3f} ± {bal.std():.3f} (per seed "
              + " / ".join(f"{v:.3f}" for v in per_seed)
              + f"), off-by-one {np.mean([s['off_by_one_accuracy'] for s in scores]):.3f}")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
