from pathlib import Path

import numpy as np
import soundfile as sf

from voxage.audio import ClipPolicy
from voxage.data.cache import FeatureCache, build_cache
from voxage.data.commonvoice import read_common_voice
from voxage.data.records import Clip
from voxage.features import FeatureConfig


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted((root / "entries").rglob("*")) if p.is_file()}


def test_cache_is_parallel_resumable_and_identical(synthetic_corpus, tmp_path):
    clips, _ = read_common_voice(synthetic_corpus)
    clips = clips[:12]
    one = FeatureCache(tmp_path / "one", FeatureConfig())
    statuses = build_cache(one, clips, ClipPolicy(), workers=1, progress=False)
    assert set(statuses.values()) == {"ok"}
    two = FeatureCache(tmp_path / "two", FeatureConfig())
    build_cache(two, clips[:5], ClipPolicy(), workers=2, progress=False)  # an "interrupted" run
    build_cache(two, clips, ClipPolicy(), workers=2, progress=False)  # resumed
    assert _snapshot(one.root) == _snapshot(two.root)
    assert not list(two.root.rglob("*.tmp"))
    entry = two.read(clips[0].key)
    assert entry["mel"].shape == (64, FeatureConfig().num_frames) and 1.4 < entry["duration"] < 2.6


def test_resume_skips_done_work(synthetic_corpus, tmp_path):
    clips, _ = read_common_voice(synthetic_corpus)
    cache = FeatureCache(tmp_path / "c", FeatureConfig())
    build_cache(cache, clips[:3], ClipPolicy(), progress=False)
    mtimes = [cache.entry_path(c.key).stat().st_mtime_ns for c in clips[:3]]
    build_cache(cache, clips[:3], ClipPolicy(), progress=False)
    assert mtimes == [cache.entry_path(c.key).stat().st_mtime_ns for c in clips[:3]]


def test_bad_clips_are_recorded_with_a_reason(tmp_path):
    (tmp_path / "short.wav").write_bytes(b"")
    sf.write(tmp_path / "tiny.wav", np.random.randn(4000).astype(np.float32) * 0.1, 16000)
    sf.write(tmp_path / "quiet.wav", np.zeros(32000, dtype=np.float32), 16000)
    (tmp_path / "junk.mp3").write_bytes(b"this is not audio at all" * 100)
    sf.write(tmp_path / "long.flac", 0.1 * np.random.randn(16000 * 12).astype(np.float32), 16000)
    clips = [Clip(n, tmp_path / f"{n}.{ext}", "s", "teens") for n, ext in
             [("short", "wav"), ("tiny", "wav"), ("quiet", "wav"), ("junk", "mp3"), ("long", "flac")]]
    cache = FeatureCache(tmp_path / "cache", FeatureConfig())
    statuses = build_cache(cache, clips, ClipPolicy(max_seconds=10), progress=False)
    assert statuses == {"short": "empty", "tiny": "too_short", "quiet": "silent", "junk": "undecodable",
                        "long": "too_long"}
    assert cache.status("junk") == "undecodable"  # remembered for the next run


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
