import numpy as np
import pytest
import torch

from voxage.features import FeatureConfig, fix_length
from voxage.features.extract import mel_filterbank
from voxage.features.frontends import frontend
from voxage.models.registry import MODELS, build_model, model_input, model_kwargs

CFG = FeatureConfig()


def test_fix_length_pads_and_crops():
    assert len(fix_length(np.ones(100), 80)) == 80
    padded = fix_length(np.ones(50), 80)
    assert len(padded) == 80 and padded[49] == 1 and padded[50] == 0


def test_log_mel_puts_a_tone_in_the_right_band():
    t = np.arange(CFG.num_samples) / CFG.sample_rate
    tone = np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    feats = {kind: frontend(kind).features(tone, CFG) for kind in ("mel", "wave")}
    assert feats["mel"].shape == (CFG.n_mels, CFG.num_frames)
    assert feats["wave"].shape == (CFG.num_samples,)
    centres = (mel_filterbank(CFG.sample_rate, CFG.n_fft, CFG.n_mels, CFG.fmin, CFG.fmax)
               * np.linspace(0, CFG.sample_rate / 2, CFG.n_fft // 2 + 1)).sum(1)
    centres /= mel_filterbank(CFG.sample_rate, CFG.n_fft, CFG.n_mels, CFG.fmin, CFG.fmax).sum(1)
    peak = feats["mel"].mean(1).argmax()
    assert abs(centres[peak] - 1000) < 100


@pytest.mark.parametrize("name", [m for m in MODELS if model_input(m) in ("mel", "wave")])
def test_every_model_gives_six_logits(name):
    model = build_model(name, **model_kwargs(name, CFG)).eval()
    shape = (2, CFG.n_mels, CFG.num_frames) if model_input(name) == "mel" else (2, CFG.num_samples)
    assert model(torch.randn(shape)).shape == (2, 6)


def test_seed_cnn_follows_the_seed_spec():
    convs = [m for m in build_model("cnn", **model_kwargs("cnn", CFG)).features if isinstance(m, torch.nn.Conv2d)]
    assert [(c.kernel_size, c.stride) for c in convs] == [((3, 3), (2, 2)), ((5, 5), (1, 1)), ((2, 2), (1, 1))]


def test_uniform_dropout_behaves_like_dropout():
    from voxage.models.seed_cnn import UniformDropout

    drop, x = UniformDropout(0.3), torch.ones(200, 1000, requires_grad=True)
    y = drop.train()(x)
    assert abs((y == 0).float().mean().item() - 0.3) < 0.01  # drops p of the units
    assert torch.unique(y).tolist() == [0.0, pytest.approx(1 / 0.7)]  # and rescales the rest
    y.sum().backward()
    assert torch.equal(x.grad, y.detach())  # gradient flows through the kept units only
    assert torch.equal(drop.eval()(x), x)


def test_model_names_without_torch_match_the_registry():
    from voxage.models.names import MODEL_NAMES

    assert MODEL_NAMES == tuple(MODELS)


def test_log_mel_matches_librosa_with_the_same_settings(synthetic_corpus):
    """Our numpy log-mel is librosa's (periodic Hann, reflect padding, HTK mel without area normalisation)."""
    import librosa

    from voxage.audio import load_audio

    wave = fix_length(load_audio(sorted((synthetic_corpus / "clips").glob("*.mp3"))[0], CFG.sample_rate),
                      CFG.num_samples)
    power = librosa.feature.melspectrogram(y=wave.astype(np.float64), sr=CFG.sample_rate, n_fft=CFG.n_fft,
                                           hop_length=CFG.hop_length, n_mels=CFG.n_mels, fmin=CFG.fmin,
                                           fmax=CFG.fmax, htk=True, norm=None, center=True, pad_mode="reflect")
    reference = np.log(power + 1e-6)
    reference = (reference - reference.mean()) / (reference.std() + 1e-5)
    ours = frontend("mel").features(wave, CFG)
    assert ours.shape == reference.shape
    np.testing.assert_allclose(ours, reference, atol=2e-3)
