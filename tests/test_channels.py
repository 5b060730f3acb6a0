"""Each simulated channel does what its name says, on a generated voice: the asked SNR, the phone band, the room's
decay, the gain, the codec; the length kept; the same seed the same output."""

from collections import Counter

import numpy as np
import pytest

from voxage.audio.channels import CHANNELS, Noise, g711_compress, g711_expand, parse_channel, room_impulse_responses
from voxage.data.synthetic import synth_voice
from voxage.errors import ConfigError

RATE = 16000


@pytest.fixture(scope="module")
def voice():
    return synth_voice(np.random.default_rng(0), 2, "female", 3.0, RATE)  # age group index 2: thirties.astype(np.float32)


@pytest.fixture(scope="module")
def others():
    return [synth_voice(np.random.default_rng(i), age, g, 2.0, RATE).astype(np.float32)
            for i, (age, g) in enumerate([(1, "male"), (4, "female"), (5, "male"), (2, "female")], 1)]


def _db(x):
    return 10 * np.log10(np.mean(np.square(x, dtype=np.float64)))


@pytest.mark.parametrize("kind", ["white", "pink", "babble"])
@pytest.mark.parametrize("snr", [20.0, 10.0, 5.0])
def test_noise_is_added_at_the_asked_snr(voice, others, kind, snr):
    noisy = parse_channel(f"noise:snr_db={snr},kind={kind}")(voice, RATE, np.random.default_rng(3), others)
    assert abs((_db(voice) - _db(noisy - voice)) - snr) < 0.5


def test_babble_without_other_voices_is_a_clear_error(voice):
    with pytest.raises(ConfigError, match="other speakers"):
        parse_channel("noise:kind=babble")(voice, RATE)


def _band_energy(x, lo, hi):
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / RATE)
    return spectrum[(f >= lo) & (f < hi)].sum()


@pytest.mark.parametrize("codec", ["mulaw", "alaw", "none"])
def test_phone_line_keeps_300_to_3400_hz(codec):
    white = (np.random.default_rng(1).standard_normal(RATE * 2) * 0.1).astype(np.float32)
    line = parse_channel(f"phone:codec={codec}")(white, RATE)
    inside = _band_energy(line, 500, 3200) / 2700
    assert _band_energy(line, 4200, 8000) / 3800 < inside * 1e-3  # above the line's band: 30 dB down or more
    assert _band_energy(line, 20, 150) / 130 < inside * 1e-2      # below it: 20 dB down or more
    assert 0.5 < inside / (_band_energy(white, 500, 3200) / 2700) < 2  # the band itself passes


@pytest.mark.parametrize("law", ["mulaw", "alaw"])
def test_g711_companding_is_8_bit_and_near_lossless_for_speech_levels(law):
    x = np.linspace(-1, 1, 20001)
    codes = g711_compress(x, law)
    assert codes.dtype == np.uint8 and len(np.unique(codes)) == 256
    y = g711_expand(codes, law)
    loud = np.abs(x) > 0.01
    assert np.max(np.abs(y - x)[loud] / np.abs(x)[loud]) < 0.07  # a log curve: relative error bounded


@pytest.mark.parametrize("rt60", [0.3, 0.6, 0.9])
def test_room_impulse_responses_decay_by_60_db_in_rt60(rt60):
    import pyroomacoustics as pra

    for rir in room_impulse_responses(rt60, 4, 0, RATE):
        assert abs(pra.experimental.measure_rt60(rir, fs=RATE, decay_db=30) - rt60) < 0.1 * rt60


def test_room_keeps_loudness_and_smears_in_time(voice):
    wet = parse_channel("room:rt60_s=0.6,rooms=4")(voice, RATE, np.random.default_rng(0))
    assert abs(_db(wet) - _db(voice)) < 0.1
    assert np.corrcoef(wet, voice)[0, 1] < 0.9


def test_gain_scales_and_a_hot_microphone_clips(voice):
    quiet = parse_channel("gain:gain_db=-30")(voice, RATE)
    assert abs((_db(voice) - _db(quiet)) - 30) < 0.01
    hot = parse_channel("gain:gain_db=20")(voice, RATE)
    assert np.max(np.abs(hot)) == 1.0 and np.mean(np.abs(hot) == 1.0) > 0.01


@pytest.mark.parametrize("spec", ["mp3", "gsm", "opus"])
def test_codecs_keep_timing_and_change_the_signal(voice, spec):
    coded = parse_channel(spec)(voice, RATE)
    assert 0.7 < np.corrcoef(coded, voice)[0, 1] < 0.9999  # aligned (no codec delay left) yet lossy


@pytest.mark.parametrize("spec", ["phone", "phone:codec=alaw", "noise:snr_db=5,kind=pink", "noise:kind=babble",
                                  "room:rt60_s=0.3,rooms=2", "gain:gain_db=20", "mp3", "gsm"])
def test_every_channel_keeps_the_length_and_repeats_with_its_seed(voice, others, spec):
    channel = parse_channel(spec)
    a = channel(voice, RATE, np.random.default_rng(7), others)
    b = channel(voice, RATE, np.random.default_rng(7), others)
    assert a.shape == voice.shape and a.dtype == np.float32 and np.array_equal(a, b)
    if channel.name in ("noise", "room"):  # random channels: other seeds, other outputs (a room bank may repeat)
        assert any(not np.array_equal(a, channel(voice, RATE, np.random.default_rng(s), others)) for s in range(8, 12))


def test_specs_round_trip_and_bad_specs_say_what_is_wrong():
    for name in CHANNELS:
        channel = parse_channel(name)
        assert parse_channel(channel.spec) == channel and channel.tag.startswith(name)
    assert parse_channel("noise:snr_db=5,kind=babble").tag == "noise-snr_db=5,kind=babble-v1"
    for bad, message in [("hum", "unknown channel"), ("noise:snr=5", "noise takes snr_db"),
                         ("noise:snr_db=loud", "must be a float"), ("phone:codec=gsm", "codec must be"),
                         ("room:rt60_s=9", "rt60_s must be")]:
        with pytest.raises(ConfigError, match=message):
            parse_channel(bad)


def test_training_copies_draw_every_family_at_varied_strengths_repeatably():
    from voxage.audio.channels import random_channel
    from voxage.data.feature_files import clip_rng

    drawn = [random_channel(clip_rng(f"clip-{i}/copy-0")) for i in range(400)]
    assert drawn == [random_channel(clip_rng(f"clip-{i}/copy-0")) for i in range(400)]
    assert {c.name for c in drawn} == {"phone", "noise", "room", "gain", "mp3", "gsm"}
    snrs = {c.snr_db for c in drawn if c.name == "noise"}
    assert len(snrs) > 20 and 5 <= min(snrs) and max(snrs) <= 25
    # loud and soft noise are families of their own, each drawn often enough to fit its displacement
    noise_families = Counter(c.family for c in drawn if c.name == "noise")
    assert set(noise_families) == {f"noise-{k}-{level}" for k in ("white", "pink", "babble") for level in ("loud", "soft")}
    assert min(noise_families.values()) >= 5
    assert Noise(snr_db=14.9).family == "noise-white-loud" and Noise(snr_db=15, kind="pink").family == "noise-pink-soft"
    assert {c.seed for c in drawn if c.name == "room"} == {1}  # never the protocol's rooms (seed 0)
    gains = [c.gain_db for c in drawn if c.name == "gain"]
    assert min(gains) < -10 and max(gains) > 6 and not [g for g in gains if -10 < g < 6]
