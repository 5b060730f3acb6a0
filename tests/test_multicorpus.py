"""Several corpora and languages in one work dir, and training that cannot score by guessing the language."""

import csv
import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
import torch

from voxage.cli import main
from voxage.data.manifest import Row, read_manifest
from voxage.data.synthetic import SyntheticConfig, make_corpus
from voxage.data.weights import sample_weights
from voxage.labels import AGE_GROUPS


@pytest.fixture(scope="module")
def download(tmp_path_factory) -> Path:
    """cv-corpus/{de,fr} as a multi-language download, one speaker in both, plus a broken language folder."""
    root = tmp_path_factory.mktemp("cv-corpus")
    for i, locale in enumerate(("de", "fr")):
        make_corpus(root / locale, SyntheticConfig(speakers_per_class=2, clips_per_speaker=2, min_seconds=1.2,
                                                   max_seconds=1.6, seed=i, locale=locale))
    (root / "xx" / "clips").mkdir(parents=True)  # clips but no validated.tsv
    tsv = root / "fr" / "validated.tsv"
    rows = list(csv.reader(tsv.read_text().splitlines(), delimiter="\t"))
    de_speaker = list(csv.reader((root / "de" / "validated.tsv").read_text().splitlines(), delimiter="\t"))[1][0]
    rows[1][0] = de_speaker  # this fr clip was recorded by a de speaker
    with tsv.open("w", newline="") as f:
        csv.writer(f, delimiter="\t", lineterminator="\n").writerows(rows)
    return root


@pytest.fixture(scope="module")
def multi_work(download, synthetic_corpus, tmp_path_factory) -> tuple[Path, str]:
    """Both corpora prepared in one command; returns the work dir and what prepare printed and logged."""
    import contextlib
    import io

    work = tmp_path_factory.mktemp("multi-work")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        assert main(["prepare", str(download), str(synthetic_corpus), "--out", str(work), "--workers", "1",
                     "--quiet", "--balance", "none"]) == 0
    return work, printed.getvalue()


def test_prepare_takes_several_corpora_and_counts_per_language(multi_work, download, synthetic_corpus):
    work, out = multi_work
    assert "skipped" in out and "xx" in out  # the broken folder is named, not silently skipped
    report = json.loads((work / "cleaning_report.json").read_text())
    langs = report["by_language"]
    corpus = download.name
    assert langs[f"{corpus}/xx"]["dropped"] == {"unreadable_folder": 1}
    assert langs[f"{corpus}/de"]["clips"] == langs[f"{corpus}/fr"]["clips"] == 24
    assert langs[f"{corpus}/de"]["dropped"] == {"missing_file": 1, "no_age": 1}
    assert langs[f"{synthetic_corpus.name}/en"]["clips"] == 72
    assert f"{corpus}/fr" in out and "unreadable_folder 1" in out  # the printed per-language table
    rows = read_manifest(work / "manifest.tsv")
    assert Counter((r.corpus, r.language) for r in rows) == {(corpus, "de"): 24, (corpus, "fr"): 24,
                                                            (synthetic_corpus.name, "en"): 72}
    splits = defaultdict(set)
    for r in rows:
        splits[r.speaker].add(r.split)
    shared = [s for s in splits if {r.language for r in rows if r.speaker == s} == {"de", "fr"}]
    assert len(shared) == 1 and len(splits[shared[0]]) == 1  # one person, one split, whatever the language


def test_crossval_tests_one_corpus_and_trains_on_all(multi_work, synthetic_corpus, tmp_path):
    work, _ = multi_work
    out = tmp_path / "cv"
    assert main(["crossval", str(work), "--models", "embed", "--folds", "2", "--epochs", "1", "--seeds", "0,1",
                 "--test-corpus", synthetic_corpus.name, "--out", str(out)]) == 0
    tag = f"speaker-{synthetic_corpus.name}"
    summary = json.loads((out / f"crossval-{tag}.json").read_text())
    rows = read_manifest(work / "manifest.tsv")
    english = {r.speaker for r in rows if r.corpus == synthetic_corpus.name}
    assert summary["test_speakers"] == len(english) and summary["seeds"] == [0, 1]
    r = summary["models"]["embed"]
    assert len(r["folds"]) == 4 and len(r["balanced_accuracy_per_seed"]) == 2
    assert set(r["per_class_recall"]) == set(AGE_GROUPS) and 0 <= r["gender_balanced_accuracy"] <= 1
    assert set(r["by_language"]) == {"en"}  # only the test corpus is tested...
    for seed in (0, 1):
        for f in range(2):
            fold = out / tag / "embed" / f"seed-{seed}" / f"fold-{f}"
            tested = {key for key in json.loads((fold / "fold.json").read_text())["keys"]}
            trained = json.loads((fold / "train_config.json").read_text())
            assert tested <= {r.key for r in rows if r.corpus == synthetic_corpus.name}
            assert trained["train"]["model"] == "embed"
    for png in (f"recall-{tag}.png", f"reliability-{tag}-embed.png", f"language-{tag}-embed.png"):
        assert (out / png).stat().st_size > 1000


def test_a_source_with_nothing_readable_is_an_error(tmp_path, capsys):
    (tmp_path / "empty" / "de" / "clips").mkdir(parents=True)
    assert main(["prepare", str(tmp_path / "empty"), "--out", str(tmp_path / "w")]) == 2
    assert "none of its 1 language folders could be read" in capsys.readouterr().err


def _rows(spec: dict[str, dict[str, int]]) -> list[Row]:
    """spec: language -> age group -> number of speakers (2 clips each)."""
    rows = []
    for lang, groups in spec.items():
        for group, speakers in groups.items():
            for s in range(speakers):
                rows += [Row(f"{lang}-{group}-{s}-{c}", f"{lang}-{group}-{s}", group, "", "validated", 3.0,
                             "train", "x.mp3", lang) for c in range(2)]
    return rows


def test_language_weights_leave_no_language_shortcut():
    # Estonian-like: mostly young speakers; Catalan-like: mostly old.
    rows = _rows({"et": {"teens": 6, "sixties": 1}, "ca": {"teens": 1, "sixties": 6}})

    def totals(weighting):
        w = sample_weights(rows, weighting)
        t = defaultdict(float)
        for r, wi in zip(rows, w):
            t[(r.language, r.age_group)] += wi
        return t, w

    t, w = totals("speaker")
    assert t[("et", "teens")] > 3 * t[("et", "sixties")]  # the shortcut: "Estonian" means "teens"
    t, w = totals("language")
    assert t[("et", "teens")] == pytest.approx(t[("et", "sixties")])
    assert t[("ca", "teens")] == pytest.approx(t[("ca", "sixties")])
    assert abs(w.mean() - 1) < 1e-6
    by_group = defaultdict(float)
    for r, wi in zip(rows, w):
        by_group[r.age_group] += wi
    assert by_group["teens"] == pytest.approx(by_group["sixties"])  # and the groups stay balanced overall


def test_language_shift_moves_languages_onto_the_reference_and_shrinks_small_ones():
    from voxage.models.embed_head import EmbedHead

    rng = np.random.default_rng(0)
    langs = ["en"] * 400 + ["de"] * 400 + ["rw"] * 3
    speakers = [f"s{i}" for i in range(800)] + ["rw-speaker"] * 3
    offset = {"en": 0.0, "de": 3.0, "rw": 3.0}
    x = np.stack([rng.normal(offset[la], 0.1, 8) for la in langs])
    head = EmbedHead(in_dim=8, languages=["en", "de", "rw"])
    head.fit_language_shift(x, langs, speakers, np.ones(len(x)))
    assert np.allclose(head.shift_for("en"), 0)  # prediction (no language given) is the reference's view
    # After the shift: 400 de speakers sit nearly on the en mean (0); one rw speaker keeps most of its offset.
    assert np.allclose(3.0 + head.shift_for("de"), 0.0, atol=0.3)
    assert np.all(3.0 + head.shift_for("rw") > 1.0)
    assert np.allclose(head.shift_for("never-heard"), 0)


def test_language_shift_keeps_the_age_of_a_language_whose_speakers_are_all_old():
    """Raw language means would move a language of old speakers onto the reference's young-and-old mean and so make
    them sound middle-aged; the age-adjusted shift moves only what the language itself adds."""
    from voxage.models.embed_head import EmbedHead

    rng = np.random.default_rng(0)
    age_axis, language_axis = np.eye(8)[0] * 2.0, np.eye(8)[1] * 3.0
    langs = ["en"] * 400 + ["it"] * 200 + ["rw"] * 200
    ages = ["teens"] * 200 + ["sixties"] * 200 + ["sixties"] * 200 + ["teens", "sixties"] * 100
    old = np.array([a == "sixties" for a in ages])
    x = rng.normal(0, 0.1, (800, 8)) + old[:, None] * age_axis + np.array([la != "en" for la in langs])[:, None] * \
        language_axis
    speakers = [f"s{i}" for i in range(800)]
    head = EmbedHead(in_dim=8, languages=["en", "it", "rw"])
    head.fit_language_shift(x, langs, speakers, np.ones(len(x)), ages=ages)
    for la in ("it", "rw"):  # the language part goes, the age part stays
        assert np.allclose(head.shift_for(la), -language_axis, atol=0.1)
    head.fit_language_shift(x, langs, speakers, np.ones(len(x)))  # without ages: raw means, it loses its age
    assert head.shift_for("it")[0] < -0.8


def test_ordinal_outputs_are_probabilities_and_the_loss_knows_the_order():
    from voxage.models.outputs import age_probabilities
    from voxage.training.module import age_loss

    scores = torch.tensor([[5.0, 4.0, 3.0, -3.0, -5.0], [-2.0, 1.0, 2.0, 0.0, 0.0]])  # 2nd: not monotone
    p = age_probabilities(scores.numpy(), ordinal=True)
    assert np.allclose(p.sum(1), 1.0) and (p > 0).all()
    assert p[0].argmax() == 3  # P(older than thirties) high, P(older than fourties) low: fourties
    far, near = age_loss(scores[:1], torch.tensor([0]), True), age_loss(scores[:1], torch.tensor([4]), True)
    assert far > near > age_loss(scores[:1], torch.tensor([3]), True)  # teens is further from fourties than fifties


def test_frame_statistics_enter_the_head_at_their_own_scale():
    """The second-layer frame mean (after speaker vector and prosody) is scaled down inside the head; at scale 0 it
    must not move the output while the speaker vector still does."""
    from voxage.features.voice_embedding import EMBED_DIM, FRAMES_DIM, SPEAKER_DIM
    from voxage.models.embed_head import EmbedHead

    head = EmbedHead(frames_scale=0.0).eval()
    x = torch.randn(4, EMBED_DIM)
    frames, speaker = x.clone(), x.clone()
    frames[:, -FRAMES_DIM:] += 5.0
    speaker[:, :SPEAKER_DIM] += 5.0
    assert torch.allclose(head(x), head(frames)) and not torch.allclose(head(x), head(speaker))


def test_a_feature_far_outside_the_training_range_cannot_make_the_head_confident():
    """Standardised features are clipped at input_clip sd: 30 sd on one feature moves the answer no more than 3 sd
    does; a model saved before the clip existed rebuilds unclipped, as it was trained."""
    from dataclasses import replace

    from voxage.features.config import FeatureConfig
    from voxage.features.voice_embedding import EMBED_DIM
    from voxage.models.artifact import ModelArtifact
    from voxage.models.embed_head import EmbedHead
    from voxage.models.registry import model_kwargs

    head = EmbedHead().eval()
    x = torch.zeros(1, EMBED_DIM)
    three, thirty = x.clone(), x.clone()
    three[0, 0], thirty[0, 0] = 3.0, 30.0
    assert torch.allclose(head(three), head(thirty)) and not torch.allclose(head(x), head(three))
    kwargs = model_kwargs("embed", FeatureConfig())
    saved = ModelArtifact("embed", kwargs, EmbedHead.input_kind, FeatureConfig(), head.state_dict(), ("a",) * 6)
    assert saved.build().input_clip == 3.0
    before = replace(saved, kwargs={k: v for k, v in kwargs.items() if k != "input_clip"})
    assert not torch.allclose(before.build()(three), before.build()(thirty))


def test_channel_compensation_takes_a_channels_displacement_off_the_vector():
    """Copies through two channel families, each a displacement of its own: compensated, a copy lands back on
    its clean clip and a clean clip stays where it is."""
    from voxage.models.embed_head import EmbedHead

    rng = np.random.default_rng(0)
    clean = rng.normal(size=(600, 8)).astype(np.float32)
    shift = {"phone": np.array([4.0, 0, 0, 0, 0, 0, 0, -2.0]), "room": np.array([0, 0, 3.0, 3.0, 0, 0, 0, 0])}
    copies = {f: clean + d.astype(np.float32) for f, d in shift.items()}
    x = np.concatenate([clean, *copies.values()])
    families = [None] * len(clean) + [f for f in copies for _ in range(len(clean))]
    head = EmbedHead(in_dim=8, channel_families=sorted(shift))
    head.fit_channel_compensation(x, families, np.ones(len(x)))
    with torch.no_grad():
        for f, heard in copies.items():
            assert np.abs(head.compensate(torch.from_numpy(heard)).numpy() - clean).mean() < 0.2, f
        assert np.abs(head.compensate(torch.from_numpy(clean)).numpy() - clean).mean() < 0.2
    assert torch.equal(EmbedHead(in_dim=8).compensate(torch.ones(2, 8)), torch.ones(2, 8))  # none fitted: as is
    # the head trains on the vectors as heard and predicts on compensated ones
    phone = torch.from_numpy(copies["phone"][:4])
    with torch.no_grad():
        predicted, compensated = head.eval()(phone), head.compensate(phone)
        trained_on, trained_on_compensated = head.train()(phone), head(compensated)
    assert torch.allclose(predicted, trained_on_compensated) and not torch.allclose(predicted, trained_on)
    # a classifier too weak to tell the families apart takes about the same displacement off every vector
    head.fit_channel_compensation(x, families, np.ones(len(x)), c=1e-7)
    with torch.no_grad():
        taken = {f: (torch.from_numpy(v) - head.compensate(torch.from_numpy(v))).mean(0) for f, v in copies.items()}
    assert torch.allclose(taken["phone"], taken["room"], atol=0.05)
    # a family with a strength of its own moves back by that share of its displacement, the others by all of it
    partial = EmbedHead(in_dim=8, channel_families=sorted(shift), family_strengths={"phone": 0.75})
    partial.fit_channel_compensation(x, families, np.ones(len(x)), c=10.0)
    with torch.no_grad():
        for f, share in (("phone", 0.75), ("room", 1.0)):
            taken = (torch.from_numpy(copies[f]) - partial.compensate(torch.from_numpy(copies[f]))).mean(0)
            assert torch.allclose(taken, torch.from_numpy(share * shift[f]).float(), atol=0.1), f


def test_standardized_compensation_undoes_the_shrinkage_a_masking_channel_causes():
    """A masking channel (noise, a room) shrinks each voice's own part of the vector as well as moving it: with the
    family standardized, a copy comes back near its clean clip; a filtering family (phone) keeps the displacement
    alone, and an older model file without the setting builds as before."""
    from voxage.models.embed_head import EmbedHead
    from voxage.models.registry import rebuild_model

    rng = np.random.default_rng(0)
    clean = rng.normal(size=(600, 8)).astype(np.float32)
    heard = {"phone": clean + np.float32(6.0), "room": 0.4 * clean + np.float32(-6.0)}
    x = np.concatenate([clean, *heard.values()])
    families = [None] * len(clean) + [f for f in heard for _ in range(len(clean))]
    plain, standardized = EmbedHead(in_dim=8, channel_families=["phone", "room"]), EmbedHead(
        in_dim=8, channel_families=["phone", "room"], standardized_families=["room"])
    for head in (plain, standardized):  # a weakly regularised classifier: the families told apart for sure
        head.fit_channel_compensation(x, families, np.ones(len(x)), c=10.0)
    with torch.no_grad():
        room = torch.from_numpy(heard["room"])
        assert np.abs(standardized.compensate(room).numpy() - clean).mean() < 0.1
        assert np.abs(plain.compensate(room).numpy() - clean).mean() > 0.4  # moved back, still shrunk
        for f in ("phone", None):
            v = torch.from_numpy(heard[f] if f else clean)
            assert torch.allclose(standardized.compensate(v), plain.compensate(v), atol=0.05)
    assert standardized.family_gain[2].mean() == pytest.approx(1 / 0.4, rel=0.01)
    assert not rebuild_model("embed", {"channel_families": ["phone"]}).standardized_families


def test_a_family_map_moves_each_voice_back_by_its_own_displacement():
    """A channel that moves some voices farther than others (here by 0.8 times the voice's first feature, along
    the fourth): the family's mean displacement leaves that part, a rank-1 map fitted on copies paired with their
    clips takes it off, and clean clips stay where they are. Rows are paired as `copy_rows` keys them."""
    from voxage.data.manifest import Row
    from voxage.data.stores import copy_rows, recorded_indices
    from voxage.models.embed_head import EmbedHead

    rng = np.random.default_rng(0)
    clean = rng.normal(size=(1500, 8)).astype(np.float32)
    heard = clean + np.float32(2.0)
    heard[:, 3] += 0.8 * clean[:, 0]
    rows = [Row(f"c{i}", f"s{i}", "twenties", "", "", 4.0, "train", "")
            for i in range(len(clean))]
    fitted_on = rows + copy_rows(rows, 1)
    originals = recorded_indices(fitted_on)
    assert (originals[: len(rows)] == -1).all() and (originals[len(rows):] == np.arange(len(rows))).all()
    assert (recorded_indices(fitted_on[len(rows):]) == -1).all()  # a copy whose clip is absent pairs with none
    x, families = np.concatenate([clean, heard]), [None] * len(rows) + ["room"] * len(rows)
    errors = {}
    for rank in (0, 1):
        head = EmbedHead(in_dim=8, channel_families=["room"], family_rank=rank)
        head.fit_channel_compensation(x, families, np.ones(len(x)), c=10.0, originals=originals, ridge=1e-3)
        with torch.no_grad():
            errors[rank] = np.abs(head.compensate(torch.from_numpy(heard)).numpy() - clean)[:, 3].mean()
            assert np.abs(head.compensate(torch.from_numpy(clean)).numpy() - clean).mean() < 0.1
    assert errors[0] > 0.5 and errors[1] < 0.1
    unmapped = EmbedHead(in_dim=8, channel_families=["room"], family_rank=1, mapped_families=[])
    unmapped.fit_channel_compensation(x, families, np.ones(len(x)), c=10.0, originals=originals, ridge=1e-3)
    with torch.no_grad():  # a family left out of mapped_families keeps its mean displacement alone
        assert np.abs(unmapped.compensate(torch.from_numpy(heard)).numpy() - clean)[:, 3].mean() == pytest.approx(
            errors[0], abs=0.01)
    with pytest.raises(ValueError, match="originals"):
        EmbedHead(in_dim=8, channel_families=["room"], family_rank=1).fit_channel_compensation(
            x, families, np.ones(len(x)))


@pytest.mark.parametrize("ordinal", [False, True])
def test_temperature_fixes_an_overconfident_toy_model_and_keeps_its_answers(ordinal):
    from voxage.models.calibration import fit_temperature, reliability
    from voxage.models.outputs import age_probabilities

    rng = np.random.default_rng(1)
    true = rng.normal(0, 1.0, (4000, 5 if ordinal else 6))
    if ordinal:
        true = -np.sort(-true, axis=1)
    p = age_probabilities(true, ordinal)
    labels = np.array([rng.choice(6, p=row / row.sum()) for row in p])
    overconfident = true * 4
    t = fit_temperature(overconfident, labels, ordinal=ordinal)
    assert 3.0 < t < (5.0 if not ordinal else 10.0)  # ordinal: x4 cumulative logits are not p ** 4
    raw, calibrated = age_probabilities(overconfident, ordinal), age_probabilities(overconfident, ordinal, t)
    assert reliability(calibrated, labels)["ece"] < 0.03 < reliability(raw, labels)["ece"]
    # calibration says how sure the model is, never which group it answers (for an ordinal head too)
    assert (calibrated.argmax(1) == raw.argmax(1)).all()
    for other in (0.3, 3.0):
        assert (age_probabilities(overconfident, ordinal, other).argmax(1) == raw.argmax(1)).all()


def test_refit_learns_language_shift_and_scaling_from_validation_speakers_too():
    """The head is refitted on training + validation speakers; its language shifts and feature scaling must be too,
    or a language met only among validation speakers keeps its accent in the vectors."""
    from voxage.data.manifest import Row
    from voxage.features.voice_embedding import EMBED_DIM
    from voxage.models.embed_head import EmbedHead
    from voxage.training.config import TrainConfig
    from voxage.training.fit import fit_input_statistics

    rng = np.random.default_rng(0)
    rows, vectors = [], {}
    for language, split, offset in (("en", "train", 0.0), ("de", "val", 3.0)):
        for s in range(12):
            for c in range(2):
                row = Row(f"{language}{s}-{c}", f"{language}{s}", AGE_GROUPS[s % 6], "female", "cv", 3.0, split,
                          "x.mp3", language, "cv")
                rows.append(row)
                vectors[row.key] = rng.normal(0, 0.1, EMBED_DIM) + offset

    class Store:
        def read(self, key):
            return vectors[key]

    splits = {s: [r for r in rows if r.split == s] for s in ("train", "val")}
    head = EmbedHead(languages=["en", "de"])
    cfg = TrainConfig(model="embed")
    fit_input_statistics(head, Store(), splits, cfg)
    assert np.allclose(head.shift_for("de"), 0.0, atol=0.3)  # no German speaker in training yet: nothing learned
    refit = {"train": splits["train"] + splits["val"], "val": []}
    aligned = fit_input_statistics(head, Store(), refit, cfg)
    assert np.allclose(head.shift_for("de"), -3.0 * 12 / (12 + 3), atol=0.3)  # shrunk by n / (n + 3)
    german = np.stack([aligned.read(r.key) for r in splits["val"]])
    assert np.allclose(head.mean.numpy(), np.stack([aligned.read(r.key) for r in rows]).mean(0), atol=1e-5)
    assert abs(german.mean() - 3.0 * 3 / 15) < 0.3  # what is left of the accent after shrinkage


def test_neighbouring_thresholds_are_pulled_together_by_the_training_loss():
    """The ordinal head's L2 on differences between neighbouring "older than" vectors: zero when they agree,
    in the LBFGS training loss at weight_decay / 2, and off (Frank & Hall) at threshold_smoothing 0."""
    from voxage.features.voice_embedding import EMBED_DIM
    from voxage.models.embed_head import EmbedHead
    from voxage.training.module import AgeClassifier

    head = EmbedHead(genders=0)
    with torch.no_grad():
        head.net[-1].weight.copy_(torch.randn(1, EMBED_DIM).expand(5, -1))
        assert head.extra_l2() == 0.0
        head.net[-1].weight[4] += 1.0  # the sixties+ threshold differs from fifties' in every weight
    assert torch.isclose(head.extra_l2(), torch.tensor(float(EMBED_DIM)))
    batch = (torch.randn(6, EMBED_DIM), torch.arange(6), torch.ones(6), torch.full((6,), -1))
    losses = {}
    for smoothing in (0.0, 1.0):
        head.threshold_smoothing = smoothing
        module = AgeClassifier(head, EmbedHead.input_kind, weight_decay=2.0, augment=False, optimizer="lbfgs")
        module.log = lambda *a, **k: None
        losses[smoothing] = module._step(batch, "train").item()
    assert abs(losses[1.0] - losses[0.0] - 2.0 / 2 * EMBED_DIM) < 1e-2
