"""Name -> model class, and the keyword arguments a model is built with."""

from __future__ import annotations

import inspect

from torch import nn

from voxage.errors import ConfigError
from voxage.features import FeatureConfig
from voxage.features.frontends import frontend
from voxage.models.embed_head import EmbedHead
from voxage.models.resnet import ResNetStats
from voxage.models.seed_cnn import SeedCNN
from voxage.models.sequence import TCN, BiGRU, VanillaRNN

# Names are spelled out beside their classes; tests/test_features_models.py checks they are models/names.py's.
MODELS: dict[str, type[nn.Module]] = {"rnn": VanillaRNN, "bigru": BiGRU, "tcn": TCN, "cnn": SeedCNN,
                                      "resnet": ResNetStats, EmbedHead.input_kind: EmbedHead}


def model_input(name: str) -> str:
    """The input kind (a registered front-end's name) the model reads."""
    return MODELS[name].input_kind


def model_kwargs(name: str, feats: FeatureConfig) -> dict:
    """Every constructor argument, so a saved model rebuilds as trained even if a default changes later: the
    class's defaults, with the sizes its front-end takes from the feature settings."""
    defaults = {p.name: p.default for p in inspect.signature(MODELS[name]).parameters.values()
                if p.default is not inspect.Parameter.empty}
    return {**defaults, **frontend(model_input(name)).model_kwargs(feats)}


def build_model(name: str, **kwargs) -> nn.Module:
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    return MODELS[name](**kwargs)


def rebuild_model(name: str, saved_kwargs: dict) -> nn.Module:
    """The model a saved file was trained as: arguments added since (a class's `added_later`) take the value
    that reproduces models saved before them."""
    return build_model(name, **{**getattr(MODELS.get(name), "added_later", {}), **saved_kwargs})
