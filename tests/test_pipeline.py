"""The whole pipeline through the real CLI on the synthetic corpus: prepare, train, resume, evaluate, predict."""

import json
from pathlib import Path

import pytest
import torch

from voxage.cli import main
from voxage.data.manifest import read_manifest


@pytest.fixture(scope="module")
def work_dir(synthetic_corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("work")
    assert main(["prepare", str(synthetic_corpus), "--out", str(out), "--workers", "2", "--quiet"]) == 0
    return out


def test_prepare_writes_report_and_disjoint_splits(work_dir):
    report = json.loads((work_dir / "cleaning_report.json").read_text())
    assert report["dropped_metadata"] == {"missing_file": 1, "no_age": 1}
    assert report["usable"]["clips"] == 72
    rows = read_manifest(work_dir / "manifest.tsv")
    by_speaker = {}
    for r in rows:
        by_speaker.setdefault(r.speaker, set()).add(r.split)
    assert all(len(s) == 1 for s in by_speaker.values())


def test_train_resume_evaluate_predict(work_dir, synthetic_corpus, capsys):
    run = work_dir / "runs" / "cnn"
    assert main(["train", str(work_dir), "--model", "cnn", "--epochs", "1", "--quiet"]) == 0
    first = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert main(["train", str(work_dir), "--model", "cnn", "--epochs", "1", "--quiet"]) == 2  # would clobber
    assert main(["train", str(work_dir), "--model", "cnn", "--epochs", "3", "--resume", "--quiet"]) == 0
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["global_step"] == 3 * first["global_step"]
    from voxage.evaluation.plots import read_curves

    resumed = read_curves([run / "csv" / "attempt-1" / "metrics.csv"])
    assert sorted(resumed["val_loss"]) == [1, 2]  # continued after epoch 0, not restarted
    curves = read_curves(sorted((run / "csv").glob("attempt-*/metrics.csv")))
    assert sorted(curves["val_loss"]) == [0, 1, 2]  # the first attempt's epoch survives the resume
    assert list((run / "tensorboard").glob("events.out.tfevents*"))
    blob = torch.load(run / "model.pth", weights_only=True)
    assert blob["name"] == "cnn" and "state_dict" in blob

    assert main(["evaluate", str(run)]) == 0
    report = json.loads((run / "report.json").read_text())
    for key in ("accuracy", "balanced_accuracy", "macro_f1", "off_by_one_accuracy", "loss", "per_class",
                "confusion_matrix"):
        assert key in report
    assert sum(map(sum, report["confusion_matrix"])) == report["n"] > 0
    assert (run / "confusion_matrix.png").stat().st_size > 1000
    assert (run / "reliability.png").stat().st_size > 1000 and 0 <= report["ece"] <= 1
    assert 0.05 <= torch.load(run / "model.pth", weights_only=True)["extra"]["temperature"] <= 20
    assert (run / "training_curves.png").stat().st_size > 1000

    clip = next((synthetic_corpus / "clips").glob("*.mp3"))
    capsys.readouterr()
    assert main(["predict", str(run / "model.pth"), str(clip), "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip())
    assert out["path"] == str(clip) and out["age_group"] in out["probabilities"]
    assert abs(sum(out["probabilities"].values()) - 1) < 1e-6 and len(out["probabilities"]) == 6
    assert main(["predict", "--model", str(run), str(clip)]) == 0
    assert "the model thinks you are in your" in capsys.readouterr().out


@pytest.mark.parametrize("model", ["rnn", "bigru", "tcn", "resnet", "embed"])
def test_other_models_train_and_evaluate(work_dir, model):
    assert main(["train", str(work_dir), "--model", model, "--epochs", "1", "--quiet"]) == 0
    assert main(["evaluate", str(work_dir / "runs" / model)]) == 0
    assert json.loads((work_dir / "runs" / model / "report.json").read_text())["model"] == model


def test_embed_runs_with_its_own_regularisation_unless_told(work_dir):
    saved = json.loads((work_dir / "runs" / "embed" / "train_config.json").read_text())["train"]
    assert (saved["weight_decay"], saved["patience"]) == (1.0, 10)  # written by the embed run above
    from voxage.training.config import TrainConfig

    assert TrainConfig(model="embed", weight_decay=0.0).resolved().weight_decay == 0.0
    assert (TrainConfig(model="cnn").resolved().weight_decay, TrainConfig(model="cnn").resolved().patience) == (1e-6, 4)


def test_embeddings_are_cached_once(work_dir):
    import numpy as np

    from voxage.features.voice_embedding import EMBED_DIM

    files = sorted((work_dir / "cache" / "embed").rglob("*.npy"))  # written by prepare (a default kind)
    assert len(files) == 72 and np.load(files[0])[0]["features"].shape == (EMBED_DIM,)
    before = [f.stat().st_mtime_ns for f in files]
    assert main(["train", str(work_dir), "--model", "embed", "--epochs", "1", "--quiet", "--run-dir",
                 str(work_dir / "runs" / "embed-again")]) == 0
    assert [f.stat().st_mtime_ns for f in files] == before


def test_bad_input_exits_nonzero_with_a_message(tmp_path, capsys):
    assert main(["prepare", str(tmp_path / "nope"), "--out", str(tmp_path / "w")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path)]) == 2


def test_crossval_folds_are_speaker_disjoint(work_dir, tmp_path, capsys):
    out = tmp_path / "cv"
    assert main(["crossval", str(work_dir), "--models", "cnn", "--folds", "3", "--epochs", "1", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "crossval speaker:" in err and "0/3" in err and "3/3" in err  # a bar over the folds, with counts
    summary = json.loads((out / "crossval-speaker.json").read_text())
    assert len(summary["models"]["cnn"]["folds"]) == 3
    assert (out / "recall-speaker.png").is_file() and (out / "confusion-speaker-cnn.png").is_file()
    test_speakers = []
    for f in range(3):
        cfg = json.loads((out / "speaker" / "cnn" / "seed-0" / f"fold-{f}" / "fold.json").read_text())
        assert cfg["n"] > 0
        test_speakers.append(cfg["speakers"])
    rows = read_manifest(work_dir / "manifest.tsv")
    assert sum(test_speakers) == len({r.speaker for r in rows})  # every speaker tested exactly once
    fold_0 = out / "speaker" / "cnn" / "seed-0" / "fold-0" / "fold.json"
    mtime = fold_0.stat().st_mtime_ns
    assert main(["crossval", str(work_dir), "--models", "cnn", "--folds", "3", "--epochs", "1", "--out", str(out)]) == 0
    assert fold_0.stat().st_mtime_ns == mtime  # finished folds kept
    assert "0/3" not in capsys.readouterr().err  # ... and counted as done: the bar starts at 3/3
