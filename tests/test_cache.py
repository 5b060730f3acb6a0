from pathlib import Path

import numpy as np
import soundfile as sf

from voxage.audio import ClipPolicy
from voxage.data.cache import FeatureCache, build_cache
from voxage.data.commonvoice import read_common_voice
from voxage.data.records import Clip
from voxage.features import FeatureConfig

KINDS = ["mel", "wave"]


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != "config.json"}


def test_cache_is_parallel_resumable_and_identical(synthetic_corpus, tmp_path):
    clips, _ = read_common_voice(synthetic_corpus)
    clips = clips[:12]
    one = FeatureCache(tmp_path / "one", FeatureConfig())
    statuses = build_cache(one, clips, ClipPolicy(), KINDS, workers=1, progress=False)
    assert set(statuses.values()) == {"ok"}
    two = FeatureCache(tmp_path / "two", FeatureConfig())
    build_cache(two, clips[:5], ClipPolicy(), KINDS, workers=2, progress=False)  # an "interrupted" run
    build_cache(two, clips, ClipPolicy(), KINDS, workers=2, progress=False)  # resumed
    assert _snapshot(one.root) == _snapshot(two.root) and len(_snapshot(one.root)) == 24
    assert not list(two.root.rglob("*.tmp"))
    mel, wave = two.store("mel"), two.store("wave")
    assert mel.read(clips[0].key).shape == (64, FeatureConfig().num_frames)
    assert mel.read(clips[0].key).dtype == np.float16
    assert wave.read(clips[0].key).shape == (FeatureConfig().num_samples,)
    assert 1.4 < mel.duration(clips[0].key) < 2.6
    assert abs(mel.duration(clips[0].key) - wave.duration(clips[0].key)) < 1e-6


def test_the_waveform_is_stored_as_16_bit_flac_of_the_decoded_clip(synthetic_corpus, tmp_path):
    """Within half a 16-bit step of the decoded clip, and smaller than the float16 crop it replaced."""
    from voxage.audio import load_audio
    from voxage.features.frontends import frontend

    clips, _ = read_common_voice(synthetic_corpus)
    cache = FeatureCache(tmp_path / "c", FeatureConfig())
    build_cache(cache, clips[:3], ClipPolicy(), ["wave"], progress=False)
    store = cache.store("wave")
    for c in clips[:3]:
        assert sf.info(str(store.path(c.key))).subtype == "PCM_16"
        decoded = frontend("wave").features(load_audio(c.path, 16000), FeatureConfig())
        assert np.abs(store.read(c.key) - decoded).max() <= 2**-16
        assert store.path(c.key).stat().st_size < FeatureConfig().num_samples * 2


def test_resume_skips_done_work_and_a_kind_added_later_leaves_the_others_alone(synthetic_corpus, tmp_path):
    clips, _ = read_common_voice(synthetic_corpus)
    cache = FeatureCache(tmp_path / "c", FeatureConfig())
    build_cache(cache, clips[:3], ClipPolicy(), ["mel"], progress=False)
    mel_files = [cache.store("mel").path(c.key) for c in clips[:3]]
    mtimes = [p.stat().st_mtime_ns for p in mel_files]
    build_cache(cache, clips[:3], ClipPolicy(), ["mel"], progress=False)
    build_cache(cache, clips[:3], ClipPolicy(), ["mel", "wave"], progress=False)
    assert mtimes == [p.stat().st_mtime_ns for p in mel_files]
    assert all(cache.store("wave").has(c.key) for c in clips[:3]) and cache.kinds() == ["mel", "wave"]


def test_bad_clips_are_recorded_with_a_reason(tmp_path):
    (tmp_path / "short.wav").write_bytes(b"")
    sf.write(tmp_path / "tiny.wav", np.random.randn(4000).astype(np.float32) * 0.1, 16000)
    sf.write(tmp_path / "quiet.wav", np.zeros(32000, dtype=np.float32), 16000)
    (tmp_path / "junk.mp3").write_bytes(b"this is not audio at all" * 100)
    sf.write(tmp_path / "long.flac", 0.1 * np.random.randn(16000 * 12).astype(np.float32), 16000)
    clips = [Clip(n, tmp_path / f"{n}.{ext}", "s", "teens") for n, ext in
             [("short", "wav"), ("tiny", "wav"), ("quiet", "wav"), ("junk", "mp3"), ("long", "flac")]]
    cache = FeatureCache(tmp_path / "cache", FeatureConfig())
    statuses = build_cache(cache, clips, ClipPolicy(max_seconds=10), KINDS, progress=False)
    assert statuses == {"short": "empty", "tiny": "too_short", "quiet": "silent", "junk": "undecodable",
                        "long": "too_long"}
    assert cache.status("junk", ["embed"]) == "undecodable"  # remembered for the next run, whatever its kinds


def test_changed_feature_config_is_refused(tmp_path):
    FeatureCache(tmp_path, FeatureConfig())
    try:
        FeatureCache(tmp_path, FeatureConfig(n_mels=40))
    except ValueError as err:
        assert "cache was built with" in str(err)
    else:
        raise AssertionError("a cache with other settings was reused")



def test_atomic_writes_leave_files_readable_like_open_does(tmp_path):
    """A report or model written through a temp file gets the mode `open()` gives, not mkstemp's private 0600."""
    import stat

    from voxage.data.atomic import write_json_atomic

    write_json_atomic(tmp_path / "report.json", {"ok": True})
    (tmp_path / "plain.json").write_text("{}")
    modes = [stat.S_IMODE((tmp_path / name).stat().st_mode) for name in ("report.json", "plain.json")]
    assert modes[0] == modes[1] and modes[0] & stat.S_IRGRP
