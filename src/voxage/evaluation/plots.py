"""PNG figures: confusion matrix, training curves, reliability diagram, per-class recall of several models."""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay  # noqa: E402

from voxage.labels import AGE_GROUPS  # noqa: E402


def plot_confusion(cm, path: Path, title: str = "Confusion matrix") -> None:
    """Each row as shares of its true class (classes differ in size), the clip count in the title."""
    cm = np.asarray(cm)
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6, 5))
    ConfusionMatrixDisplay(norm, display_labels=AGE_GROUPS).plot(
        ax=ax, cmap="Blues", values_format=".2f", xticks_rotation=45, im_kw={"vmin": 0, "vmax": 1})
    ax.set_xlabel("predicted")
    ax.set_ylabel("true (row: share of that class)")
    ax.set_title(f"{title}\n{int(cm.sum())} clips")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def read_curves(metrics_csvs: list[Path]) -> dict[str, dict[int, float]]:
    """epoch -> value for each metric in Lightning CSVLogger files, later files (resumed runs) winning."""
    curves: dict[str, dict[int, float]] = {}
    for metrics_csv in metrics_csvs:
        with open(metrics_csv, newline="") as f:
            for row in csv.DictReader(f):
                epoch = int(float(row["epoch"]))
                for k, v in row.items():
                    if k not in ("epoch", "step") and v not in ("", None):
                        curves.setdefault(k, {})[epoch] = float(v)
    return curves


def plot_curves(metrics_csvs: list[Path], path: Path, title: str = "Training curves") -> None:
    curves = read_curves(metrics_csvs)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, metric in zip(axes, ("loss", "acc")):
        for stage in ("train", "val"):
            c = curves.get(f"{stage}_{metric}", {})
            if c:
                ax.plot(list(c), list(c.values()), marker="o", label=stage)
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_ylabel(metric)
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_recall_bars(recalls: dict[str, list[float]], path: Path, title: str = "Per-class recall") -> None:
    """recalls: model name -> recall per AGE_GROUPS class."""
    fig, ax = plt.subplots(figsize=(10, 4))
    width = 0.8 / max(1, len(recalls))
    x = np.arange(len(AGE_GROUPS))
    for i, (name, r) in enumerate(recalls.items()):
        ax.bar(x + i * width - 0.4 + width / 2, r, width, label=name)
    ax.axhline(1 / len(AGE_GROUPS), color="gray", ls="--", lw=1, label="chance")
    ax.set_xticks(x, AGE_GROUPS)
    ax.set_ylabel("recall")
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(ncol=4, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_language_scores(scores: dict[str, dict], path: Path, title: str = "Scores per language") -> None:
    """scores: language -> {clips, accuracy, balanced_accuracy}; bars sorted by clip count."""
    names = sorted(scores, key=lambda la: -scores[la]["clips"])
    fig, ax = plt.subplots(figsize=(max(6, 0.28 * len(names) + 2), 4))
    x = np.arange(len(names))
    ax.bar(x - 0.2, [scores[n]["balanced_accuracy"] for n in names], 0.4, label="balanced accuracy (mean recall)")
    ax.bar(x + 0.2, [scores[n]["accuracy"] for n in names], 0.4, label="accuracy")
    ax.axhline(1 / len(AGE_GROUPS), color="gray", ls="--", lw=1, label="chance")
    ax.set_xticks(x, [f"{n or '?'} ({scores[n]['clips']})" for n in names], rotation=90, fontsize=7)
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_reliability(curves: dict[str, dict], path: Path, title: str = "Reliability diagram") -> None:
    """curves: label -> `reliability()` result; the diagonal is perfect calibration."""
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], color="gray", ls="--", lw=1, label="perfectly calibrated")
    for name, r in curves.items():
        used = np.asarray(r["count"]) > 0
        ax.plot(np.asarray(r["confidence"])[used], np.asarray(r["accuracy"])[used], marker="o",
                label=f"{name} (ECE {r['ece']:.3f})")
    ax.set_xlabel("confidence of the predicted group")
    ax.set_ylabel("share of predictions that were right")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_conditions(scores: dict[str, dict], path: Path, title: str = "Scores per recording condition") -> None:
    """scores: condition -> {METRIC_mean, optionally METRIC_std}; balanced and off-by-one accuracy side by side,
    the spread over folds as error bars, the clean score as a line to read the drops against, and where the model
    has a familiarity check the share of answers it flags."""
    names = list(scores)
    fig, ax = plt.subplots(figsize=(10, 0.42 * len(names) + 1.6))
    y = np.arange(len(names))[::-1]
    for offset, key, label in ((0.2, "balanced_accuracy", "balanced accuracy"),
                               (-0.2, "off_by_one_accuracy", "off-by-one decade")):
        ax.barh(y + offset, [scores[n][f"{key}_mean"] for n in names], 0.4, label=label,
                xerr=[scores[n].get(f"{key}_std", 0.0) for n in names], capsize=2)
    if all("unfamiliar_share_mean" in scores[n] for n in names):  # a model with a familiarity check
        ax.scatter([scores[n]["unfamiliar_share_mean"] for n in names], y, marker="D", s=18, color="black", zorder=3,
                   label="answered unfamiliar (reliable: false)")
    if "clean" in scores:
        ax.axvline(scores["clean"]["balanced_accuracy_mean"], color="C0", ls=":", lw=1)
    ax.axvline(1 / len(AGE_GROUPS), color="gray", ls="--", lw=1, label="chance (balanced)")
    ax.set_yticks(y, names, fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
