"""The robustness protocol: every test fold also scored through simulated channels, a corpus held out whole, and
the features heard through a channel cached like clean ones (seeded per clip, per channel tag, resumable)."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from voxage.cli import main
from voxage.data.manifest import read_manifest
from voxage.data.synthetic import SyntheticConfig, make_corpus
from voxage.evaluation.crossval import HELD_OUT, write_report
from voxage.labels import AGE_GROUPS
from voxage.training.config import TrainConfig

CONDITIONS = ["phone:codec=mulaw", "noise:snr_db=5,kind=babble"]


@pytest.fixture(scope="module")
def two_corpora(synthetic_corpus, tmp_path_factory) -> tuple[Path, str]:
    """The synthetic corpus, a second one that trains too, and a small third one to hold out, in one work dir
    (other locales: other clip names and speakers)."""
    root = tmp_path_factory.mktemp("corpora")
    more, studio = (make_corpus(root / name, SyntheticConfig(speakers_per_class=2, clips_per_speaker=n, min_seconds=1.2,
                                                             max_seconds=1.6, seed=seed, locale=locale))
                    for name, n, seed, locale in (("more", 3, 5, "fr"), ("studio", 2, 7, "de")))
    work = tmp_path_factory.mktemp("protocol-work")
    assert main(["prepare", str(synthetic_corpus), str(more), str(studio), "--out", str(work), "--workers", "1",
                 "--quiet", "--balance", "none"]) == 0
    return work, studio.name


def test_crossval_scores_each_condition_and_the_held_out_corpus(two_corpora, tmp_path):
    work, studio = two_corpora
    out = tmp_path / "cv"
    args = ["crossval", str(work), "--models", "embed", "--folds", "2", "--epochs", "1", "--held-out-corpus", studio,
            "--out", str(out), "--quiet"]
    assert main([*args, "--conditions", *CONDITIONS]) == 0
    tag = f"speaker-without-{studio}"
    summary = json.loads((out / f"crossval-{tag}.json").read_text())
    rows = read_manifest(work / "manifest.tsv")
    held = [r for r in rows if r.corpus == studio]
    assert summary["held_out_clips"] == len(held) == 24 and summary["conditions"] == ["clean", *CONDITIONS]
    assert summary["test_clips"] == len(rows) - len(held)  # the held-out corpus is in no fold
    scores = summary["models"]["embed"]["conditions"]
    assert set(scores) == {"clean", *CONDITIONS, HELD_OUT}
    clean = scores["clean"]
    assert clean["balanced_accuracy_mean"] == pytest.approx(summary["models"]["embed"]["balanced_accuracy_mean"])
    assert clean["kept_of_clean"] == pytest.approx(1.0)
    for c in [*CONDITIONS, HELD_OUT]:
        e = scores[c]
        assert 0 <= e["balanced_accuracy_mean"] <= 1 and 0 <= e["ece_mean"] <= 1
        assert 1 / len(AGE_GROUPS) <= e["largest_answer_share_mean"] <= 1
        assert len(e["balanced_accuracy_per_seed"]) == 1
    # calibration also over the pooled folds: every test speaker once, weighted as each fold's ECE
    from voxage.data.weights import sample_weights
    from voxage.models.calibration import reliability

    folds = [json.loads(p.read_text()) for p in sorted((out / tag / "embed").glob("seed-0/fold-*/fold.json"))]
    by_key = {r.key: r for r in rows}
    pooled = reliability(np.concatenate([f["probs"] for f in folds]), np.concatenate([f["labels"] for f in folds]),
                         sample_weights([by_key[k] for f in folds for k in f["keys"]], "speaker"))["ece"]
    assert clean["ece_pooled_mean"] == pytest.approx(pooled, abs=1e-4)
    assert all(0 <= scores[c]["ece_pooled_mean"] <= 1 for c in scores)
    chosen_by = summary["models"]["embed"]["protocol_mean"]["balanced_accuracy"]
    assert chosen_by == pytest.approx(np.mean([scores[c]["balanced_accuracy_mean"] for c in ["clean", *CONDITIONS]]))
    fold = out / tag / "embed" / "seed-0" / "fold-0"
    report = json.loads((fold / "fold.json").read_text())
    assert report["held_out"]["n"] == len(held) and set(report["keys"]).isdisjoint({r.key for r in held})
    train = json.loads((fold / "train_config.json").read_text())
    assert train["train"]["model"] == "embed"
    table = (out / f"crossval-{tag}.md").read_text()
    assert "noise:snr_db=5,kind=babble" in table and f"{HELD_OUT} ({studio})" in table
    assert "mean over clean and the 2 channels" in table
    assert (out / f"conditions-{tag}-embed.png").stat().st_size > 5000
    redrawn = tmp_path / "redrawn"  # a kept report redraws its table and plots without its folds
    redrawn.mkdir()
    write_report(summary, redrawn, tag)
    assert (redrawn / f"crossval-{tag}.md").read_text() == table
    assert {p.name for p in redrawn.glob("*.png")} == {p.name for p in out.glob("*.png")}
    # A condition asked for later is scored with the folds' kept models: no fold is trained again.
    trained_at = (fold / "model.pth").stat().st_mtime_ns
    assert main([*args, "--conditions", *CONDITIONS, "gain:gain_db=-30"]) == 0
    assert (fold / "model.pth").stat().st_mtime_ns == trained_at
    again = json.loads((out / f"crossval-{tag}.json").read_text())["models"]["embed"]["conditions"]
    assert "gain:gain_db=-30" in again and again[CONDITIONS[0]] == scores[CONDITIONS[0]]


def test_channel_features_differ_from_clean_and_are_stored_per_channel(two_corpora):
    work, _ = two_corpora
    from voxage.audio.channels import parse_channel
    from voxage.data.feature_files import ensure_features
    from voxage.data.workdir import open_cache
    from voxage.features.frontends import frontend

    rows = read_manifest(work / "manifest.tsv")[:6]
    fe, cache = frontend("embed"), open_cache(work)
    clean = cache.store("embed")
    phone = ensure_features(work, rows, fe, cache.cfg, workers=1, progress=False, channel=parse_channel("phone"))
    assert phone.root == work / "features" / "embed" / f"v{fe.version}" / "channels" / \
        "phone-codec=mulaw,low_hz=300,high_hz=3400,line_rate=8000-v1"
    for r in rows:
        a, b = clean.read(r.key), phone.read(r.key)
        assert a.shape == b.shape and not np.allclose(a, b)


@pytest.mark.parametrize("heard", ["channel=parse_channel('noise:snr_db=10,kind=babble')", "copy=0"])
def test_a_killed_channel_feature_run_resumes_to_identical_files(two_corpora, tmp_path, heard):
    """SIGKILL while workers write features through a channel (a condition) or a random one per clip (a training
    copy); the rerun computes only what is missing, and every file equals a run that was never interrupted (the
    draws are seeded by the clip, not by the order of work)."""
    work, _ = two_corpora
    code = """
import sys
from pathlib import Path
from voxage.audio.channels import parse_channel
from voxage.data.feature_files import ensure_features
from voxage.data.manifest import read_manifest
from voxage.data.workdir import open_cache
from voxage.features.frontends import frontend
work = Path(sys.argv[1])
rows = read_manifest(work / "manifest.tsv")
ensure_features(Path(sys.argv[2]), rows, frontend("embed"), open_cache(work).cfg, workers=2, progress=False,
                HEARD)
""".replace("HEARD", heard)
    runs = {}
    for name in ("killed", "whole"):
        out = tmp_path / name
        cmd = [sys.executable, "-c", code, str(work), str(out)]
        if name == "killed":
            proc = subprocess.Popen(cmd, start_new_session=True)
            deadline = time.time() + 120
            while time.time() < deadline and len(list(out.rglob("*.npy"))) < 10:
                time.sleep(0.05)
            import os

            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            assert 0 < len(list(out.rglob("*.npy"))) < len(read_manifest(work / "manifest.tsv"))
        subprocess.run(cmd, check=True, timeout=300)
        runs[name] = {p.relative_to(out): p.read_bytes() for p in out.rglob("*.npy")}
    assert runs["killed"] == runs["whole"] and len(runs["whole"]) == len(read_manifest(work / "manifest.tsv"))
    # what the kill cut short is at most a hidden temp file per worker, never read as a clip's features
    left = [p for p in (tmp_path / "killed").rglob("*") if p.is_file() and p.suffix != ".npy"]
    assert len(left) <= 2 and all(p.name.startswith(".") and p.suffix == ".tmp" for p in left)


def test_evaluate_scores_a_run_through_conditions(small_model, capsys):
    run = small_model.parent
    assert main(["evaluate", str(run), "--conditions", "gain:gain_db=-30", "mp3", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "gain:gain_db=-30" in printed and "mp3:vbr_quality=9" in printed
    report = json.loads((run / "report.json").read_text())
    assert set(report["conditions"]) == {"clean", "gain:gain_db=-30", "mp3:vbr_quality=9"}
    assert report["conditions"]["clean"]["balanced_accuracy"] == report["balanced_accuracy"]
    assert (run / "conditions.png").stat().st_size > 5000


def test_an_unknown_condition_fails_before_any_training(two_corpora, tmp_path, capsys):
    work, _ = two_corpora
    assert main(["crossval", str(work), "--models", "embed", "--conditions", "phone:codec=gsm", "--out",
                 str(tmp_path / "cv")]) == 2
    assert "codec must be" in capsys.readouterr().err
    assert not (tmp_path / "cv").exists()


def test_training_reads_cached_channel_copies_of_train_and_val_clips(two_corpora, tmp_path):
    work, _ = two_corpora
    run = tmp_path / "run"
    assert main(["train", str(work), "--model", "embed", "--epochs", "1", "--channel-copies", "2", "--run-dir",
                 str(run), "--quiet"]) == 0
    rows = read_manifest(work / "manifest.tsv")
    heard = [r for r in rows if r.split in ("train", "val")]
    copies = work / "features" / "embed"
    for i in range(2):
        (root,) = copies.glob(f"v*/copies/v1/copy-{i}")
        assert {p.stem for p in root.glob("*.npy")} >= {r.key for r in heard}
        assert not {p.stem for p in root.glob("*.npy")} & {r.key for r in rows if r.split == "test"}
    import torch

    extra = torch.load(run / "model.pth", weights_only=True)["extra"]
    assert extra["train_clips"] == 3 * sum(r.split == "train" for r in rows)  # each clip and its two copies
    assert json.loads((run / "train_config.json").read_text())["train"]["channel_copies"] == 2
    # the copies also teach the familiarity check, calibrated apart from the clips it passes
    assert torch.load(run / "model.pth", weights_only=True)["kwargs"]["familiarity_check"] is True
    assert 0 < extra["val_unfamiliar_share"] < 1 and extra["unfamiliar_temperature"] > 0


def test_channel_compensation_moves_training_copies_back_towards_their_clean_clips(two_corpora, tmp_path):
    import torch

    from voxage.data.stores import feature_store, heard_through, with_copies
    from voxage.data.workdir import open_cache
    from voxage.models.artifact import ModelArtifact

    work, _ = two_corpora
    run = tmp_path / "run"
    assert main(["train", str(work), "--model", "embed", "--epochs", "1", "--channel-copies", "4", "--run-dir",
                 str(run), "--quiet"]) == 0
    artifact = ModelArtifact.load(run / "model.pth")
    assert "phone" in artifact.kwargs["channel_families"]
    model = artifact.build()
    train = [r for r in read_manifest(work / "manifest.tsv") if r.split == "train"]
    cache = open_cache(work)
    clean = feature_store(work, cache, artifact.input_kind, train, progress=False)
    copies = with_copies(clean, work, cache, artifact.input_kind, train, 4, train, progress=False).copies
    pairs = [(clean.read(r.key), c.read(r.key)) for i, c in enumerate(copies) for r in train
             if heard_through(f"{r.key}#copy-{i}").degrades]
    x, heard = (torch.from_numpy(np.stack(v)).float() for v in zip(*pairs))
    with torch.no_grad():  # the part every copy shares: what a channel does to any voice
        before, after = (heard - x).mean(0).norm(), (model.compensate(heard) - x).mean(0).norm()
    assert after < 0.9 * before  # (4 copies: with loud and soft noise apart, 2 leave a family too few clips)


def test_standardized_channels_are_the_default_and_the_model_file_and_its_onnx_graph_carry_them_and_the_maps(
        two_corpora, synthetic_corpus, tmp_path):
    from voxage import Predictor
    from voxage.models.artifact import ModelArtifact
    from voxage.models.onnx_export import export_onnx

    work, _ = two_corpora
    run = tmp_path / "run"
    assert main(["train", str(work), "--model", "embed", "--epochs", "1", "--channel-copies", "2",
                 "--room-displacement", "1.5", "--loud-noise-displacement", "1.25", "--channel-map-rank", "3",
                 "--run-dir", str(run), "--quiet"]) == 0
    artifact = ModelArtifact.load(run / "model.pth")
    assert artifact.kwargs["family_rank"] == 3 and artifact.state_dict["family_down"].shape[-1] == 3
    families = artifact.kwargs["channel_families"]
    mapped = {f for f, up in zip(families, artifact.state_dict["family_up"][1:]) if up.abs().sum() > 0}
    assert mapped == set(artifact.kwargs["mapped_families"]) == {f for f in families if "babble" not in f}
    masking = {f"noise-{kind}-{level}" for kind in ("white", "pink", "babble") for level in ("loud", "soft")}
    masking |= {"room", "gain-hot"}  # not the line, codecs, quiet mic
    assert set(artifact.kwargs["standardized_families"]) == masking & set(artifact.kwargs["channel_families"])
    assert "room" in artifact.kwargs["standardized_families"] and (artifact.state_dict["family_gain"] != 1).any()
    loud = {f for f in artifact.kwargs["channel_families"] if f.startswith("noise-") and f.endswith("-loud")}
    assert loud and artifact.kwargs["family_strengths"] == {"phone": TrainConfig().phone_displacement, "room": 1.5,
                                                           **dict.fromkeys(loud, 1.25)}  # soft noise keeps all
    clip = sorted((synthetic_corpus / "clips").glob("*.mp3"))[0]
    eager, exported = Predictor(run / "model.pth"), Predictor(export_onnx(artifact, tmp_path / "m.onnx"))
    a, b = eager.predict(clip), exported.predict(clip)
    assert max(abs(a.probabilities[k] - b.probabilities[k]) for k in a.probabilities) < 1e-4


@pytest.fixture(scope="module")
def checked_run(two_corpora, tmp_path_factory) -> Path:
    work, _ = two_corpora
    run = tmp_path_factory.mktemp("checked") / "run"
    assert main(["train", str(work), "--model", "embed", "--epochs", "2", "--channel-copies", "2", "--run-dir",
                 str(run), "--quiet"]) == 0
    return run


def test_the_familiarity_check_flags_the_phone_line_and_rooms_more_than_clean_speech(checked_run, capsys):
    assert main(["evaluate", str(checked_run), "--conditions", "phone:codec=mulaw", "room:rt60_s=0.9",
                 "--quiet"]) == 0
    assert "unfamiliar" in capsys.readouterr().out
    shares = {c: r["unfamiliar_share"] for c, r in
              json.loads((checked_run / "report.json").read_text())["conditions"].items()}
    assert shares["clean"] <= 0.35
    assert shares["phone:codec=mulaw"] >= shares["clean"] + 0.3 and shares["room:rt60_s=0.9"] > shares["clean"]


def test_a_flagged_recording_is_unreliable_and_gets_the_unfamiliar_temperature(checked_run, tmp_path):
    import soundfile as sf
    import torch

    from voxage import Predictor
    from voxage.data.synthetic import synth_voice
    from voxage.models.artifact import ModelArtifact

    sf.write(tmp_path / "voice.wav", synth_voice(np.random.default_rng(0), 2, "female", 3.0, 16000), 16000)
    predictions = {}
    for flagged in (True, False):  # the check's answer forced; each way the answer is heard at temperature 3
        art = ModelArtifact.load(checked_run / "model.pth")
        art.state_dict["channel_bias"] = torch.tensor([1e6 if flagged else -1e6])
        art.extra.update(temperature=1.0 if flagged else 3.0, unfamiliar_temperature=3.0 if flagged else 1.0)
        art.save(tmp_path / f"{flagged}.pth")
        predictions[flagged] = Predictor(tmp_path / f"{flagged}.pth").predict(tmp_path / "voice.wav")
    assert "unfamiliar_recording" in predictions[True].unreliable_reasons and not predictions[True].reliable
    assert "unfamiliar_recording" not in predictions[False].unreliable_reasons
    assert predictions[True].probabilities == pytest.approx(predictions[False].probabilities, abs=1e-9)
    assert predictions[True].to_dict()["unreliable_reasons"][-1] == "unfamiliar_recording"
    joined = {f: Predictor(tmp_path / f"{f}.pth").predict_speaker([tmp_path / "voice.wav"] * 2) for f in (True, False)}
    assert ["unfamiliar_recording" in joined[f].unreliable_reasons for f in (True, False)] == [True, False]
