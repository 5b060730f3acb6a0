"""The embed model's front-end is our own numpy code: pinned here to the reference implementations it replaces
(resemblyzer's preprocessing and mel windows, librosa's mel filters) on real clips."""

from pathlib import Path

import numpy as np
import pytest

from voxage.audio import load_audio
from voxage.features import ge2e_frontend as fe

from .conftest import SHARED_CV

MULTI = SHARED_CV.parent / "cv-multi-6.1"


def _real_clips(synthetic_corpus, n: int) -> list[Path]:
    """Real speech where the shared data is present (English and other languages), else synthetic clips."""
    clips = sorted((SHARED_CV / "clips").glob("*.mp3"))[::150][:n] + sorted(MULTI.glob("*/clips/*.mp3"))[::400][:n]
    return clips or sorted((synthetic_corpus / "clips").glob("*.mp3"))[:n]


def _under_ceiling(wave: np.ndarray) -> np.ndarray:
    return wave * 10 ** (min(0.0, fe.level_change_db(wave)) / 20)


def _resemblyzer_windows(wave: np.ndarray) -> np.ndarray:
    """resemblyzer's own path (as voxage used it up to embedding version 2), after the ceiling resemblyzer lacks."""
    from resemblyzer import VoiceEncoder, audio, preprocess_wav

    wave = _under_ceiling(wave)
    trimmed = preprocess_wav(wave, source_sr=fe.SAMPLE_RATE)
    if len(trimmed) < fe.SAMPLE_RATE // 2:
        trimmed = wave
    wav_slices, mel_slices = VoiceEncoder.compute_partial_slices(len(trimmed), rate=1.3, min_coverage=0.75)
    trimmed = np.pad(trimmed, (0, max(0, wav_slices[-1].stop - len(trimmed)))).astype(np.float32)
    mel = audio.wav_to_mel_spectrogram(trimmed)
    return np.stack([mel[s] for s in mel_slices])


def test_mel_filters_are_librosas():
    import librosa

    ref = librosa.filters.mel(sr=fe.SAMPLE_RATE, n_fft=fe.N_FFT, n_mels=fe.N_MELS)
    assert np.abs(fe.mel_filters() - ref).max() < 1e-8


def test_encoder_windows_equal_resemblyzers_on_real_clips(synthetic_corpus):
    """Same VAD cut, same windows, same mel values: measured max relative difference 2.3e-7 (float32 rounding)
    over 21 real clips in 10 languages."""
    clips = _real_clips(synthetic_corpus, 12)
    worst = 0.0
    for clip in clips:
        wave = load_audio(clip, fe.SAMPLE_RATE)
        ours, theirs = fe.encoder_windows(wave), _resemblyzer_windows(wave)
        assert ours.shape == theirs.shape, clip
        worst = max(worst, float(np.abs(ours - theirs).max() / np.abs(theirs).max()))
    assert worst < 1e-5


@pytest.mark.parametrize(("gain_db", "expected_dbfs"), [(-40, -30.0), (0, None), (12, None), (25, -16.0)])
def test_a_quiet_voice_is_raised_a_clipping_one_lowered_and_a_loud_clean_one_left(gain_db, expected_dbfs):
    """-30 dBFS from below; -16 from above only where the microphone clips (+25 dB here; +12 dB, about -14 dBFS
    with no sample at full scale, is a loud voice recorded cleanly and stays as it is)."""
    rng = np.random.default_rng(0)
    wave = np.clip(0.05 * rng.standard_normal(fe.SAMPLE_RATE) * 10 ** (gain_db / 20), -1, 1).astype(np.float32)
    out = fe.normalize_volume(wave)
    if expected_dbfs is None:
        assert out is wave
    else:
        assert fe.level_dbfs(out) == pytest.approx(expected_dbfs, abs=1e-3)
    assert fe.level_change_db(np.zeros(100, np.float32)) == 0.0  # silence: nothing to scale


def test_int8_encoder_stays_close_to_resemblyzers_float_encoder(synthetic_corpus):
    """The shipped encoder graph (LSTM layers 2-3 int8) vs resemblyzer's `embed_utterance`: measured cosine
    >= 0.993 on 29 real clips (mean 0.996); its `frames` output (the second layer's mean over every frame) vs the
    float layer's: correlation >= 0.999. The head is trained on the int8 outputs, so this is no train/serve gap:
    it says the quantised encoder still is GE2E."""
    import torch
    from resemblyzer import VoiceEncoder, preprocess_wav

    from voxage.features.voice_embedding import SpeakerEncoder

    ours, ref = SpeakerEncoder(), VoiceEncoder(device="cpu", verbose=False)
    lower = torch.nn.LSTM(fe.N_MELS, 256, 2, batch_first=True)
    lower.load_state_dict({k: v for k, v in ref.lstm.state_dict().items() if k[-1] in "01"})
    for clip in _real_clips(synthetic_corpus, 8):
        wave = _under_ceiling(load_audio(clip, fe.SAMPLE_RATE))  # our windows are the same either way
        trimmed = preprocess_wav(wave, source_sr=fe.SAMPLE_RATE)
        theirs = ref.embed_utterance(trimmed if len(trimmed) >= fe.SAMPLE_RATE // 2 else wave)
        windows = fe.encoder_windows(wave)
        speaker, frames = ours(windows)
        assert float(speaker[0] @ theirs) > 0.985, clip
        with torch.no_grad():
            float_frames = lower(torch.from_numpy(windows))[0].mean((0, 1)).numpy()
        assert np.corrcoef(frames[0], float_frames)[0, 1] > 0.995, clip


@pytest.mark.parametrize("seconds", [0.6, 1.6, 2.9, 7.0])
def test_windows_cover_any_length(seconds):
    """Short clips still give one window; longer ones 1.3 per second of speech."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * fe.SAMPLE_RATE)) / fe.SAMPLE_RATE
    wave = (0.3 * np.sin(2 * np.pi * 150 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
            + 0.01 * rng.standard_normal(len(t))).astype(np.float32)
    windows = fe.encoder_windows(wave)
    assert windows.shape[1:] == (fe.WINDOW_FRAMES, fe.N_MELS) and np.isfinite(windows).all()
    assert len(windows) == len(_resemblyzer_windows(wave))
