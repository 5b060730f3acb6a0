"""One front-end per input kind, registered by name: a model names the kind it reads, its front-end owns the rest.

A front-end decides the sample rate, the features (one method fills the training cache and feeds the Predictor,
so the two cannot drift apart), how the cache stores them, training-only augmentation, the inputs of an
exported ONNX graph, the sizes a model is built with, and the version a model records. Adding a kind means one
subclass here with `@register`, and a model with `input_kind = ThatFrontEnd.name` (docs/architecture.md).

Shapes, as torchaudio writes them: `wave` is (time,) mono float32 at `sample_rate`; `features` is one clip's
array, no batch axis; `inputs` and `network_input` carry a batch axis first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from voxage.audio.io import SAMPLE_RATE
from voxage.errors import ConfigError, ModelError
from voxage.features.config import FeatureConfig
from voxage.features.extract import fix_length, log_mel
from voxage.features.voice_embedding import (
    EMBED_DIM,
    EMBED_VERSION,
    ENCODER_FILE,
    ENCODER_LICENSE,
    FRAMES_DIM,
    MAX_SECONDS,
    PROSODY_NAMES,
    SPEAKER_DIM,
    SpeakerEncoder,
    voice_inputs,
)

if TYPE_CHECKING:
    import torch


class FrontEnd:
    name: ClassVar[str]
    version: ClassVar[int] = 1  # bump when the features change: models record it and refuse other versions
    input_names: ClassVar[tuple[str, ...]] = ("features",)  # what an exported model reads, in order
    cache_format: ClassVar[str] = "npy"  # how `voxage.data.cache` stores a clip: "npy" features, "flac" the audio
    cache_dtype: ClassVar[str] = "<f2"  # the stored features' type ("npy" format)
    judged_seconds: ClassVar[float | None] = None  # audio past the first this many seconds changes nothing
    prefix_graph: ClassVar[Path | None] = None  # an ONNX graph joined in front of the exported network
    licence_files: ClassVar[tuple[Path, ...]] = ()  # copied next to every exported model that holds prefix_graph

    def sample_rate(self, cfg: FeatureConfig) -> int:
        """The rate (Hz) audio is decoded or resampled to before `features`."""
        return cfg.sample_rate

    def shape(self, cfg: FeatureConfig) -> tuple[int, ...]:
        """One clip's feature shape (the cache's record field)."""
        raise NotImplementedError

    def features(self, wave: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
        """What the cache stores for one clip and the torch network reads (batched)."""
        raise NotImplementedError

    def inputs(self, wave: np.ndarray, cfg: FeatureConfig) -> tuple[np.ndarray, ...]:
        """What an exported model reads for one clip, named by `input_names`."""
        return (self.features(wave, cfg)[None],)

    def network_input(self, *inputs: np.ndarray) -> np.ndarray:
        """`inputs` -> the batch the torch network reads: the same unless `prefix_graph` runs part of the model."""
        (x,) = inputs
        return x

    def export_inputs(self, cfg: FeatureConfig) -> dict[str, np.ndarray]:
        """Example inputs of the torch network's ONNX export, by name (first axis dynamic)."""
        return {self.input_names[0]: np.zeros((1, *self.shape(cfg)), dtype=np.float32)}

    def model_kwargs(self, cfg: FeatureConfig) -> dict:
        """Constructor arguments a model of this kind takes from the feature settings."""
        return {}

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        """Training only: a batch of features, changed the way a new recording of the same voice might be."""
        return x

    def incremental(self) -> Callable[[np.ndarray], np.ndarray] | None:
        """For audio that keeps arriving: a callable taking the audio so far at `sample_rate` (each call's a
        continuation of the last's) and returning `network_input` at the cost of what was added; None where
        nothing can be kept (a fixed-length crop: judging it again costs the same at any length)."""
        return None

    @property
    def version_key(self) -> str:
        return f"{self.name}_version"

    def check(self, recorded: Mapping) -> None:
        """A model trained on another version of these features would get inputs it never saw. `recorded`: what
        the model file says of its training (`ModelArtifact.extra`)."""
        trained_on = recorded.get(self.version_key, 1)
        if trained_on != self.version:
            raise ModelError(f"model was trained on {self.name} features version {trained_on}, this voxage computes "
                             f"version {self.version}: retrain it")


FRONTENDS: dict[str, FrontEnd] = {}


def register(cls: type[FrontEnd]) -> type[FrontEnd]:
    """Class decorator: make the front-end known by its `name`."""
    if cls.name in FRONTENDS:
        raise ValueError(f"front-end {cls.name!r} is registered twice")
    FRONTENDS[cls.name] = cls()
    return cls


def frontend(name: str) -> FrontEnd:
    try:
        return FRONTENDS[name]
    except KeyError:
        raise ConfigError(f"unknown input kind {name!r}; known: {', '.join(FRONTENDS)}") from None


@register
class WaveFrontEnd(FrontEnd):
    """The seed's fixed-length waveform (5 s, centre-cropped or zero-padded) for the sequence models."""

    name = "wave"

    cache_format = "flac"  # the decoded clip, cut to 5 s on read: half the bytes of a float16 crop

    def shape(self, cfg):
        return (cfg.num_samples,)

    def features(self, wave, cfg):
        return fix_length(wave, cfg.num_samples).astype(np.float32)

    def model_kwargs(self, cfg):
        return {"frame_length": cfg.frame_length}

    def augment(self, x):
        from voxage.features.augment import time_shift

        return time_shift(x) * x.new_empty(x.shape[0], 1).uniform_(0.5, 1.5)


@register
class MelFrontEnd(FrontEnd):
    """The seed's 64-band log-mel spectrogram of the same 5 s, (n_mels, frames), normalised per clip."""

    name = "mel"

    def shape(self, cfg):
        return (cfg.n_mels, cfg.num_frames)

    def features(self, wave, cfg):
        return log_mel(fix_length(wave, cfg.num_samples), cfg)

    def model_kwargs(self, cfg):
        return {"n_mels": cfg.n_mels, "num_frames": cfg.num_frames}

    def augment(self, x):
        from voxage.features.augment import spec_augment, time_shift

        return spec_augment(time_shift(x))


@register
class EmbedFrontEnd(FrontEnd):
    """A GE2E speaker vector (256), prosody (7) and GE2E's second-layer frame mean (256) per clip. The encoder runs
    outside torch: training caches its outputs, and an exported model holds its graph, so the exported network
    reads encoder windows and prosody."""

    name = "embed"
    version = EMBED_VERSION
    input_names = ("windows", "prosody")
    cache_dtype = "<f4"  # 2 KB a clip: float16 would save nothing on a filesystem of 4 KB blocks
    judged_seconds = MAX_SECONDS
    prefix_graph = ENCODER_FILE
    licence_files = (ENCODER_LICENSE,)

    @cached_property
    def encoder(self) -> SpeakerEncoder:
        return SpeakerEncoder()

    def sample_rate(self, cfg):
        return SAMPLE_RATE  # the encoder's, whatever the mel settings say

    def shape(self, cfg):
        return (EMBED_DIM,)

    def features(self, wave, cfg):
        return self.network_input(*self.inputs(wave, cfg))[0]

    def inputs(self, wave, cfg):
        return voice_inputs(wave)

    def network_input(self, windows, prosody):
        speaker, frames = self.encoder(windows)
        return np.concatenate([speaker, prosody, frames], axis=1).astype(np.float32)

    def incremental(self):
        from voxage.features.incremental import IncrementalEmbedding

        return IncrementalEmbedding(self.encoder)

    def export_inputs(self, cfg):  # the encoder graph's outputs `speaker` and `frames` feed the names alike
        return {"speaker": np.zeros((1, SPEAKER_DIM), np.float32),
                "prosody": np.zeros((1, len(PROSODY_NAMES)), np.float32),
                "frames": np.zeros((1, FRAMES_DIM), np.float32)}

    def model_kwargs(self, cfg):
        return {"in_dim": EMBED_DIM}


# What `voxage prepare` caches unless told otherwise: the default `voxage train` model's (the seed CNN) and the
# bundled recipe's inputs. The waveform, read only by the sequence models, is added with `--kinds wave`.
DEFAULT_KINDS = (MelFrontEnd.name, EmbedFrontEnd.name)


def parse_kinds(text: str) -> tuple[str, ...]:
    """'mel,embed' -> ('mel', 'embed'), each a registered kind."""
    kinds = tuple(dict.fromkeys(k.strip() for k in text.split(",") if k.strip()))
    unknown = [k for k in kinds if k not in FRONTENDS]
    if unknown or not kinds:
        named = ", ".join(unknown) if unknown else repr(text)
        raise ValueError(f"unknown kind(s) {named}; choose from {', '.join(FRONTENDS)}")
    return kinds
