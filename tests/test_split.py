from collections import Counter
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from voxage.data.records import Clip
from voxage.data.split import SplitConfig, split_clips
from voxage.labels import AGE_GROUPS


def _corpus(spec: list[tuple[int, int]]) -> list[Clip]:
    """spec: (class index, clip count) per speaker."""
    clips = []
    for s, (cls, n) in enumerate(spec):
        for i in range(n):
            clips.append(Clip(f"s{s}_c{i}", Path(f"s{s}_c{i}.mp3"), f"spk{s}", AGE_GROUPS[cls]))
    return clips


speakers = st.lists(st.tuples(st.integers(0, 5), st.integers(1, 30)), min_size=6, max_size=60)


@settings(max_examples=60, deadline=None)
@given(spec=speakers, seed=st.integers(0, 10), balance=st.sampled_from(["downsample", "none"]))
def test_no_speaker_in_two_splits(spec, seed, balance):
    clips = _corpus(spec)
    splits = split_clips(clips, SplitConfig(balance=balance, seed=seed))
    where: dict[str, set[str]] = {}
    for c in clips:
        if c.key in splits:
            where.setdefault(c.speaker, set()).add(splits[c.key])
    assert all(len(v) == 1 for v in where.values())


def test_every_split_hears_every_class_and_balance_is_exact():
    spec = [(cls, 5 + 3 * s) for cls in range(6) for s in range(6)]
    clips = _corpus(spec)
    splits = split_clips(clips, SplitConfig(seed=1))
    by_class = Counter(c.age_group for c in clips if c.key in splits)
    assert len(set(by_class.values())) == 1  # downsampled to the smallest class
    for split in ("train", "val", "test"):
        assert {c.age_group for c in clips if splits.get(c.key) == split} == set(AGE_GROUPS)


def test_random_split_mixes_speakers_like_the_seed():
    clips = _corpus([(cls, 20) for cls in range(6)])
    splits = split_clips(clips, SplitConfig(method="random", balance="none"))
    assert {splits[c.key] for c in clips if c.speaker == "spk0"} == {"train", "val", "test"}


def test_cap_per_speaker_and_fixed_seed():
    clips = _corpus([(0, 50), (0, 3), (1, 10), (1, 10)] + [(c, 10) for c in range(2, 6)])
    cfg = SplitConfig(balance="none", max_clips_per_speaker=5, seed=3)
    splits = split_clips(clips, cfg)
    assert Counter(c.speaker for c in clips if c.key in splits)["spk0"] == 5
    assert splits == split_clips(clips, cfg)


def test_speaker_folds_partition_speakers():
    from voxage.evaluation.crossval import speaker_folds

    clips = _corpus([(cls, 4 + s) for cls in range(6) for s in range(5)])
    folds = speaker_folds(clips, 5)
    assert set().union(*folds) == {c.speaker for c in clips}
    assert sum(len(f) for f in folds) == len({c.speaker for c in clips})
    assert all({c.age_group for c in clips if c.speaker in f} == set(AGE_GROUPS) for f in folds)


def test_crossval_fold_splits_share_no_speaker():
    from voxage.data.manifest import Row
    from voxage.evaluation.crossval import fold_ids, fold_splits

    rows = [Row(c.key, c.speaker, c.age_group, "", "validated", 3.0, "", str(c.path))
            for c in _corpus([(cls, 3 + s) for cls in range(6) for s in range(8)])]
    ids = fold_ids(rows, 5, "speaker", 0)
    for f in range(5):
        parts = {k: {r.speaker for r in v} for k, v in fold_splits(rows, ids, f, "speaker", 0).items()}
        assert not (parts["train"] & parts["val"]) and not (parts["train"] & parts["test"])
        assert not (parts["val"] & parts["test"]) and all(parts.values())
