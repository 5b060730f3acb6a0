"""Bad audio, bad metadata, kills at random points, malicious model files, fuzzing."""

from __future__ import annotations

import os
import pickle
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voxage.audio import AudioError, load_audio, load_audio_bytes
from voxage.cli import main
from voxage.data.commonvoice import MetadataError, read_common_voice
from voxage.models.artifact import ModelArtifact

# ---- bad audio ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("subtype,rate,channels", [
    ("PCM_U8", 8000, 1), ("PCM_16", 11025, 2), ("PCM_24", 44100, 1), ("FLOAT", 48000, 2), ("PCM_16", 96000, 1),
])
def test_wav_variants_decode_to_16k_mono(tmp_path, subtype, rate, channels):
    t = np.arange(rate * 2) / rate
    wave = 0.5 * np.sin(2 * np.pi * 220 * t)
    data = np.stack([wave] * channels, axis=1) if channels > 1 else wave
    sf.write(tmp_path / "x.wav", data, rate, subtype=subtype)
    out = load_audio(tmp_path / "x.wav", 16000)
    assert out.ndim == 1 and abs(len(out) - 32000) <= 2 and np.isfinite(out).all() and 0.3 < np.abs(out).max() < 0.7


def test_truncated_mp3_is_decoded_or_refused_never_crashes(synthetic_corpus, tmp_path):
    data = next((synthetic_corpus / "clips").glob("*.mp3")).read_bytes()
    for cut in (10, 200, len(data) // 2):
        (tmp_path / "t.mp3").write_bytes(data[:cut])
        try:
            assert np.isfinite(load_audio(tmp_path / "t.mp3")).all()
        except AudioError as err:
            assert err.reason in ("undecodable", "empty")


def test_very_long_input_is_read_only_up_to_the_limit(tmp_path):
    sf.write(tmp_path / "long.flac", np.zeros(16000 * 300, dtype=np.float32), 16000)
    assert len(load_audio(tmp_path / "long.flac", 16000, max_seconds=10)) == 160000


def test_predict_answers_bad_files_with_messages(small_model, tmp_path, capsys):
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "text.mp3").write_bytes(b"hello, I am not audio" * 20)
    sf.write(tmp_path / "silence.wav", np.zeros(32000, dtype=np.float32), 16000)
    sf.write(tmp_path / "short.wav", 0.1 * np.random.randn(4000).astype(np.float32), 16000)
    for name, words in [("empty.wav", "empty"), ("text.mp3", "cannot decode"), ("silence.wav", "silent"),
                        ("short.wav", "at least 1 s"), ("missing.wav", "not found")]:
        assert main(["predict", "--model", str(small_model), str(tmp_path / name)]) == 1
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err


# ---- bad metadata ------------------------------------------------------------------------------------------------

def test_non_utf8_and_odd_rows_are_counted(tmp_path):
    (tmp_path / "clips").mkdir()
    sf.write(tmp_path / "clips" / "a.mp3", 0.1 * np.random.randn(16000).astype(np.float32), 16000, format="MP3")
    rows = [b"client_id\tpath\tsentence\tage\tgender", b"s1\ta.mp3\tcaf\xe9 \xff\tthirties\tmale",
            b"s1\ta.mp3\tdup\tthirties\tmale", b"s2\t/etc/passwd\tx\tteens\t", b"s3\tb.mp3\tx\tcentenarian\t",
            b"s4\tmissing.mp3"]
    (tmp_path / "validated.tsv").write_bytes(b"\n".join(rows) + b"\n")
    clips, drops = read_common_voice(tmp_path)
    assert [c.key for c in clips] == ["a"]
    assert drops == {"rows_read": 5, "duplicate_path": 1, "unsafe_path": 1, "unknown_age": 1, "no_age": 1}


def test_unreadable_table_is_a_clear_error(tmp_path):
    (tmp_path / "clips").mkdir()
    (tmp_path / "validated.tsv").write_text("client_id\tpath\tage\ns\t" + "x" * 200_000 + "\tteens\n")
    with pytest.raises(MetadataError, match="unreadable table"):
        read_common_voice(tmp_path)


# ---- faults ------------------------------------------------------------------------------------------------------

def _cache_files(work: Path) -> dict[str, bytes]:
    return {p.relative_to(work).as_posix(): p.read_bytes()
            for p in sorted((work / "cache").rglob("*")) if p.suffix in (".npy", ".flac", ".fail")}


def test_prepare_killed_at_random_points_resumes_to_an_identical_cache(synthetic_corpus, tmp_path):
    """Every kind, the embed vectors (the encoder in each worker) and the FLAC waveforms included."""
    every = ["--kinds", "mel,embed,wave"]
    reference = tmp_path / "reference"
    assert main(["prepare", str(synthetic_corpus), "--out", str(reference), "--quiet", "--workers", "2", *every]) == 0
    work = tmp_path / "killed"
    cmd = [sys.executable, "-m", "voxage", "prepare", str(synthetic_corpus), "--out", str(work), "--workers", "2",
           "--quiet", *every]
    rng = random.Random(7)
    kills = 0
    for target in sorted(rng.sample(range(3, 70), 4)):  # kill once this many clips are cached
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        while proc.poll() is None and len(list(work.glob("cache/embed/v*/*/*.npy"))) < target:
            time.sleep(0.01)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the workers die too, mid-write or not
            kills += 1
        proc.wait()
    assert kills >= 1
    assert main(["prepare", str(synthetic_corpus), "--out", str(work), "--quiet", "--workers", "2", *every]) == 0
    assert _cache_files(work) == _cache_files(reference)
    assert {p.split("/")[1] for p in _cache_files(work)} == {"mel", "embed", "wave"}
    assert (work / "manifest.tsv").read_text() == (reference / "manifest.tsv").read_text()


def test_train_killed_mid_epoch_resumes_from_last_checkpoint(small_model):
    work = small_model.parents[2]
    run = work / "runs" / "killed"
    cmd = [sys.executable, "-m", "voxage", "train", str(work), "--model", "resnet", "--epochs", "50", "--patience",
           "50", "--run-dir", str(run), "--quiet", "--batch-size", "4"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = run / "checkpoints" / "last.ckpt"
    deadline = time.time() + 240
    while not last.exists() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # now somewhere inside the next epoch
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    import torch

    saved = torch.load(last, map_location="cpu", weights_only=False)
    done_steps = saved["global_step"]
    assert done_steps > 0
    resume = cmd[:cmd.index("50")] + [str(saved["epoch"] + 2)] + cmd[cmd.index("50") + 1:] + ["--resume"]
    assert subprocess.run(resume, capture_output=True).returncode == 0
    final = torch.load(last, map_location="cpu", weights_only=False)
    assert final["global_step"] > done_steps
    assert (run / "model.pth").is_file()


# ---- model files never execute code ------------------------------------------------------------------------------

class _Evil:
    def __reduce__(self):
        return (os.system, ("touch /tmp/voxage-pwned",))


def test_pickled_code_in_a_model_file_is_not_run(tmp_path):
    Path("/tmp/voxage-pwned").unlink(missing_ok=True)
    bad = tmp_path / "evil.pth"
    with open(bad, "wb") as f:
        # protocol 2, as torch.save writes: the refusal must come from weights_only, not from an unknown protocol
        pickle.dump({"format": "voxage-model/1", "payload": _Evil()}, f, protocol=2)
    with pytest.raises(ValueError, match="not a voxage model"):
        ModelArtifact.load(bad)
    assert not Path("/tmp/voxage-pwned").exists()


# ---- fuzzing -----------------------------------------------------------------------------------------------------

@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=4096))
def test_audio_loader_never_crashes_on_random_bytes(data):
    try:
        out = load_audio_bytes(data, 16000)
    except AudioError as err:
        assert err.reason in ("undecodable", "empty")
    else:
        assert out.dtype == np.float32 and np.isfinite(out).all()


cells = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\t\n\r"), max_size=12)
ages = st.sampled_from(["teens", "twenties", "fourties", "sixties", "nineties", "", "old", "TEENS"])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(cells, st.one_of(cells, st.sampled_from(["a.mp3", "../a.mp3", "/a.mp3"])), ages),
                     max_size=30),
       junk=st.binary(max_size=40))
def test_metadata_reader_accounts_for_every_row(tmp_path_factory, rows, junk):
    root = tmp_path_factory.mktemp("fuzz")
    (root / "clips").mkdir()
    (root / "clips" / "a.mp3").write_bytes(b"x")
    body = "client_id\tpath\tage\n" + "".join(f"{c}\t{p}\t{a}\n" for c, p, a in rows)
    (root / "validated.tsv").write_bytes(body.encode() + junk)
    try:
        clips, drops = read_common_voice(root)
    except MetadataError:
        return
    assert len(clips) + sum(v for k, v in drops.items() if k != "rows_read") == drops["rows_read"]
    assert all(c.path.resolve().is_relative_to((root / "clips").resolve()) for c in clips)


def test_user_errors_are_one_line_but_bugs_keep_their_traceback(tmp_path, monkeypatch, capsys):
    """A bad flag or folder is a VoxageError: one line, exit 2. A ValueError from inside (a bug) is not hidden."""
    from voxage.errors import ConfigError, VoxageError

    assert main(["train", str(tmp_path / "nowhere")]) == 2
    assert "no manifest" in capsys.readouterr().err
    assert issubclass(ConfigError, VoxageError) and issubclass(ConfigError, ValueError)

    def broken(*_):
        raise ValueError("operands could not be broadcast together")  # as numpy would

    monkeypatch.setattr("voxage.data.workdir.read_manifest", broken)
    (tmp_path / "work").mkdir()
    with pytest.raises(ValueError, match="broadcast"):
        main(["crossval", str(tmp_path / "work"), "--models", "cnn"])
