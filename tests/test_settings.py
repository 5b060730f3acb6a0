"""One place for every setting: CLI defaults come from the config dataclasses, bad values fail in __post_init__
with one line, and -v/-q set how much voxage logs."""

from __future__ import annotations

import dataclasses

import pytest

from voxage.audio import ClipPolicy
from voxage.cli import CROSSVAL_TRAIN_FIELDS, build_parser, main
from voxage.cli_flags import from_flags
from voxage.data.prepare import PrepareConfig
from voxage.data.split import SplitConfig
from voxage.errors import ConfigError
from voxage.features import FeatureConfig
from voxage.training.config import TrainConfig


def test_cli_defaults_are_the_dataclass_defaults():
    parser = build_parser()
    prepare = parser.parse_args(["prepare", "corpus", "--out", "work"])
    assert from_flags(ClipPolicy, prepare) == ClipPolicy()
    assert from_flags(SplitConfig, prepare) == SplitConfig()
    assert from_flags(PrepareConfig, prepare, sources=["corpus"], out="work") == PrepareConfig(["corpus"], "work")
    assert from_flags(TrainConfig, parser.parse_args(["train", "work"])) == TrainConfig()
    crossval = from_flags(TrainConfig, parser.parse_args(["crossval", "work"]), only=CROSSVAL_TRAIN_FIELDS)
    assert crossval == TrainConfig()


def test_every_field_has_a_flag_and_flags_reach_the_config():
    parser = build_parser()
    a = parser.parse_args(["train", "w", "--model", "embed", "--epochs", "3", "--weight-decay", "0.5",
                           "--no-augment", "--no-align-languages", "--weighting", "speaker", "--optimizer", "adam"])
    cfg = from_flags(TrainConfig, a)
    assert (cfg.model, cfg.max_epochs, cfg.weight_decay, cfg.augment, cfg.align_languages, cfg.weighting,
            cfg.optimizer) == ("embed", 3, 0.5, False, False, "speaker", "adam")
    a = parser.parse_args(["prepare", "c", "--out", "w", "--min-seconds", "2", "--split", "random",
                           "--max-per-speaker", "5", "--shard", "1/4"])
    assert from_flags(ClipPolicy, a).min_seconds == 2.0
    assert (from_flags(SplitConfig, a).method, from_flags(SplitConfig, a).max_clips_per_speaker) == ("random", 5)
    assert from_flags(PrepareConfig, a, sources=["c"], out="w").shard == (1, 4)
    help_text = parser._subparsers._group_actions[0].choices["train"].format_help()
    for f in dataclasses.fields(TrainConfig):
        if f.metadata.get("cli", True):
            flag = f.metadata.get("flag", f.name).replace("_", "-")
            assert f"--{flag}" in help_text or f"--no-{flag}" in help_text, f.name


@pytest.mark.parametrize("make", [
    lambda: TrainConfig(max_epochs=0), lambda: TrainConfig(lr=-1.0), lambda: TrainConfig(model="transformer"),
    lambda: TrainConfig(weighting="age"), lambda: TrainConfig(unfamiliar_rate=1.5),
    lambda: TrainConfig(phone_displacement=-0.5), lambda: TrainConfig(room_displacement=4),
    lambda: TrainConfig(loud_noise_displacement=-1), lambda: TrainConfig(channel_map_rank=-1),
    lambda: ClipPolicy(min_seconds=5, max_seconds=2),
    lambda: SplitConfig(val_fraction=0.6, test_fraction=0.5), lambda: PrepareConfig(["c"], "w", workers=0),
    lambda: FeatureConfig(fmax=9000.0), lambda: FeatureConfig(n_mels=0),
])
def test_bad_settings_fail_where_they_are_defined(make):
    with pytest.raises(ConfigError):
        make()


def test_a_bad_setting_on_the_command_line_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["prepare", str(tmp_path), "--out", str(tmp_path / "w"), "--min-seconds", "9", "--max-seconds",
                 "3"]) == 2
    err = capsys.readouterr().err
    assert "min_seconds" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(SystemExit):
        main(["prepare", str(tmp_path), "--out", "w", "--shard", "4/4"])
    assert "0 <= I < N" in capsys.readouterr().err


def test_quiet_keeps_warnings_and_verbose_adds_detail(tmp_path, capsys):
    """Results go to stdout; the log goes to stderr: info by default, only warnings with -q."""
    root = tmp_path / "download"
    (root / "xx").mkdir(parents=True)  # a language folder with no tsv: a warning, then an error (nothing readable)
    assert main(["-q", "prepare", str(root), "--out", str(tmp_path / "w")]) == 2
    err = capsys.readouterr().err
    assert "warning: skipped" in err and "xx" in err
    from voxage.data.synthetic import SyntheticConfig, make_corpus

    corpus = make_corpus(tmp_path / "c", SyntheticConfig(speakers_per_class=2, clips_per_speaker=1))
    assert main(["prepare", str(corpus), "--out", str(tmp_path / "w1"), "--workers", "1", "-q"]) == 0
    quiet = capsys.readouterr()
    assert "labelled clips found" not in quiet.err and "decode+features" not in quiet.err  # no log, no bar
    assert "work dir:" in quiet.out  # the result itself
    assert main(["-v", "prepare", str(corpus), "--out", str(tmp_path / "w2"), "--workers", "1"]) == 0
    assert "voxage.data.prepare: 12 labelled clips found" in capsys.readouterr().err
