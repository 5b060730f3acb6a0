"""`voxage evaluate`: test a run on its work dir's held-out speakers and write the report."""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import DataLoader

from voxage.audio.channels import Channel, parse_channel
from voxage.data.atomic import write_json_atomic
from voxage.data.dataset import CachedClips
from voxage.data.manifest import Row
from voxage.data.stores import aligned_store, feature_store
from voxage.data.weights import sample_weights
from voxage.data.workdir import load_work_dir, open_cache, run_config
from voxage.errors import DataError
from voxage.evaluation.conditions import CLEAN, compact
from voxage.evaluation.metrics import add_speaker_weighted, summarize
from voxage.evaluation.plots import plot_conditions, plot_confusion, plot_curves, plot_reliability
from voxage.labels import GENDERS
from voxage.models.artifact import ModelArtifact
from voxage.models.calibration import reliability


@torch.no_grad()
def model_outputs(model: torch.nn.Module, dataset: CachedClips, batch_size: int = 256) -> torch.Tensor:
    return torch.cat([model(x) for x, *_ in DataLoader(dataset, batch_size=batch_size)])


def evaluate_rows(artifact: ModelArtifact, work_dir: Path, rows: list[Row], with_probs: bool = False,
                  channel: Channel | None = None, pool: list[Row] | None = None) -> dict:
    """Age metrics, calibration (ECE) and, for models with a gender output, gender balanced accuracy; the clips
    heard through `channel` if given (`pool`: the clips babble draws other voices from)."""
    store = feature_store(work_dir, open_cache(work_dir), artifact.input_kind, rows, channel=channel, pool=pool)
    model = artifact.build()
    dataset = CachedClips(aligned_store(store, model, rows), rows)
    out = model_outputs(model, dataset)
    probs, gender_probs, unfamiliar = artifact.probabilities(out)
    raw = artifact.probabilities(out, temperature=1.0).age
    labels, weights = dataset.labels.numpy(), sample_weights(rows, "speaker")
    report = summarize(labels, probs.argmax(1), probs)
    report["speakers"] = len({r.speaker for r in rows})
    if unfamiliar is not None:  # how often the familiarity check answers reliable: false
        report["unfamiliar_share"] = float(unfamiliar.mean())
    add_speaker_weighted(report, labels, probs, [r.speaker for r in rows])
    # Weighted like the loss (each speaker once, each group equal): one prolific speaker does not decide it.
    report["reliability"] = {"before temperature": reliability(raw, labels, weights),
                             "after temperature": reliability(probs, labels, weights)}
    report["ece"] = report["reliability"]["after temperature"]["ece"]
    report["ece_uncalibrated"] = report["reliability"]["before temperature"]["ece"]
    genders = dataset.genders.numpy()
    if gender_probs is not None and (genders >= 0).any():
        known = genders >= 0
        report["gender"] = summarize(genders[known], gender_probs[known].argmax(1), classes=GENDERS)
    if with_probs:  # for pooling folds
        report.update(keys=[r.key for r in rows], labels=labels.tolist(), probs=probs.tolist(),
                      probs_uncalibrated=raw.tolist())
        if gender_probs is not None:
            report.update(genders=genders.tolist(), gender_probs=gender_probs.tolist())
    return report


def evaluate_conditions(artifact: ModelArtifact, work_dir: Path, rows: list[Row], conditions: list[str],
                        pool: list[Row]) -> dict[str, dict]:
    """The robustness protocol on one model: `rows` scored through each condition (`evaluation.conditions`)."""
    return {c: compact(evaluate_rows(artifact, work_dir, rows, with_probs=True, channel=parse_channel(c), pool=pool))
            for c in conditions}


def evaluate_run(run_dir: Path, split: str = "test", conditions: list[str] = ()) -> dict:
    """`conditions`: channel specs to score the split through as well (`voxage evaluate --conditions`)."""
    run_dir = Path(run_dir)
    cfg = run_config(run_dir)
    artifact = ModelArtifact.load(run_dir / "model.pth")
    _, rows = load_work_dir(Path(cfg["work_dir"]))
    chosen = [r for r in rows if r.split == split]
    if not chosen:
        raise DataError(f"{cfg['work_dir']}: the {split} split is empty")
    report = {"model": artifact.name, "split": split, "run_dir": str(run_dir),
              **evaluate_rows(artifact, Path(cfg["work_dir"]), chosen)}
    if conditions:
        report["conditions"] = {CLEAN: compact(report),
                                **evaluate_conditions(artifact, Path(cfg["work_dir"]), chosen, conditions, rows)}
        plot_conditions({c: {f"{k}_mean": v for k, v in r.items()} for c, r in report["conditions"].items()},
                        run_dir / "conditions.png", f"{artifact.name}: {split} speakers through each channel")
    write_json_atomic(run_dir / "report.json", report)
    plot_confusion(report["confusion_matrix"], run_dir / "confusion_matrix.png",
                   f"{artifact.name}: {split} speakers (balanced acc {report['balanced_accuracy']:.2f})")
    plot_reliability(report["reliability"], run_dir / "reliability.png", f"{artifact.name}: {split} speakers")
    metrics = sorted((run_dir / "csv").glob("attempt-*/metrics.csv"), key=lambda p: int(p.parent.name[8:]))
    if metrics:
        plot_curves(metrics, run_dir / "training_curves.png", f"{artifact.name} training curves")
    return report


def format_report(report: dict) -> str:
    lines = [
        f"model {report['model']} on {report['split']} ({report['n']} clips, {report['speakers']} speakers)",
        f"  accuracy           {report['accuracy']:.3f}",
        f"  balanced accuracy  {report['balanced_accuracy']:.3f} (each speaker once: "
        f"{report['speaker_balanced_accuracy']:.3f})",
        f"  macro-F1           {report['macro_f1']:.3f}",
        f"  off-by-one decade  {report['off_by_one_accuracy']:.3f} (each speaker once: "
        f"{report['speaker_off_by_one_accuracy']:.3f})",
        f"  loss               {report.get('loss', float('nan')):.3f}",
        f"  calibration error  {report['ece']:.3f} (ECE; {report['ece_uncalibrated']:.3f} before temperature)",
        f"  {'class':<10}{'precision':>10}{'recall':>8}{'support':>9}",
    ]
    for g, m in report["per_class"].items():
        lines.append(f"  {g:<10}{m['precision']:>10.2f}{m['recall']:>8.2f}{m['support']:>9}")
    if "gender" in report:
        lines.append(f"  gender balanced accuracy {report['gender']['balanced_accuracy']:.3f} "
                     f"({report['gender']['n']} clips with a gender label)")
    if "conditions" in report:
        checked = "unfamiliar_share" in report  # the share the familiarity check answers reliable: false
        lines += ["", f"  {'condition':<30}{'bal acc':>8}{'off-by-1':>9}{'ECE':>7}{'top share':>10}"
                  + (f"{'unfamiliar':>11}" if checked else "")]
        for c, r in report["conditions"].items():
            lines.append(f"  {c:<30}{r['balanced_accuracy']:>8.3f}{r['off_by_one_accuracy']:>9.3f}{r['ece']:>7.3f}"
                         f"{r['largest_answer_share']:>10.2f}"
                         + (f"{r['unfamiliar_share']:>11.0%}" if checked else ""))
    return "\n".join(lines)
