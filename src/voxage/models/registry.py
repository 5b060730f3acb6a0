"""Name -> model class, and the keyword arguments a model needs from the feature config."""

from __future__ import annotations

from torch import nn

from voxage.errors import ConfigError
from voxage.features import FeatureConfig
from voxage.features.voice_embedding import EMBED_DIM
from voxage.labels import GENDERS
from voxage.models.embed_head import EmbedHead
from voxage.models.resnet import ResNetStats
from voxage.models.seed_cnn import SeedCNN
from voxage.models.sequence import TCN, BiGRU, VanillaRNN

MODELS: dict[str, type[nn.Module]] = {
    "rnn": VanillaRNN,
    "bigru": BiGRU,
    "tcn": TCN,
    "cnn": SeedCNN,
    "resnet": ResNetStats,
    "embed": EmbedHead,
}


def model_input(name: str) -> str:
    """'mel' or 'wave' (or 'embed'): which cached feature the model reads."""
    return MODELS[name].input_kind


def model_kwargs(name: str, feats: FeatureConfig) -> dict:
    if model_input(name) == "mel":
        return {"n_mels": feats.n_mels, "num_frames": feats.num_frames}
    if model_input(name) == "wave":
        return {"frame_length": feats.frame_length}
    # An ordinal head (groups are ordered: fifties called fourties is less wrong than teens) with gender as a
    # second output: 0.350 vs 0.316 for a six-way softmax on English speakers never heard (README, what was tried).
    return {"in_dim": EMBED_DIM, "genders": len(GENDERS), "ordinal": True, "dropout": 0.0}


def build_model(name: str, **kwargs) -> nn.Module:
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    return MODELS[name](**kwargs)
