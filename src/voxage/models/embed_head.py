"""A small head on utterance embeddings (GE2E speaker vector + prosody), standardised inside the model.

Training reads cached embeddings, so only the head learns; an exported ONNX file puts the speaker encoder's
graph in front of it (`voxage.models.onnx_export`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from voxage.features.frontends import EmbedFrontEnd
from voxage.features.voice_embedding import EMBED_DIM
from voxage.labels import GENDERS
from voxage.models.outputs import age_width


class EmbedHead(nn.Module):
    input_kind = EmbedFrontEnd.name
    # A linear model on 263 features: left alone it learns who is speaking. Strong L2 on its weights (1.0; 0.5 and
    # 2.0 scored 0.342 and 0.329 vs 0.353 on English speakers never heard, 3 fold seeds x 5 folds) and, since its
    # loss is convex, LBFGS to the optimum rather than Adam steps and early stopping.
    training_defaults = {"weight_decay": 1.0, "patience": 10, "optimizer": "lbfgs"}

    # Defaults are the bundled model's: an ordinal head (groups are ordered: fifties called fourties is less wrong
    # than teens) with gender as a second output, 0.350 vs 0.316 for a six-way softmax on English speakers never
    # heard (README, what was tried); no dropout, since L2 regularises it.
    def __init__(self, in_dim: int = EMBED_DIM, hidden: int = 0, num_classes: int = 6, dropout: float = 0.0,
                 genders: int = len(GENDERS), ordinal: bool = True, languages: list[str] | None = None):
        super().__init__()
        self.ordinal = ordinal
        # Feature scaling learned from the training split and saved with the weights.
        self.register_buffer("mean", torch.zeros(in_dim))
        self.register_buffer("std", torch.ones(in_dim))
        # Per training language, a shift of its vectors towards the reference language's (the first): the speaker
        # encoder hears language and channel as well as the voice, and this takes most of that part out.
        self.languages = list(languages or [])
        self.register_buffer("language_shift", torch.zeros(len(self.languages), in_dim))
        width = age_width(ordinal, num_classes)
        # hidden=0: a linear head, which generalised best to unseen speakers.
        self.net = (nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, width)) if hidden == 0 else
                    nn.Sequential(nn.Dropout(0.1), nn.Linear(in_dim, hidden), nn.ReLU(), nn.Dropout(dropout),
                                  nn.Linear(hidden, width)))
        # genders > 0: a second linear output on the same vector; its logits follow the age scores.
        self.gender = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, genders)) if genders else None

    def fit_normalization(self, x: torch.Tensor) -> None:
        self.mean.copy_(x.mean(0))
        self.std.copy_(x.std(0).clamp(min=1e-4))

    def fit_language_shift(self, x: np.ndarray, languages: list[str], speakers: list[str], weights: np.ndarray,
                           prior_speakers: float = 3.0) -> None:
        """x (clips, in_dim) of the training clips. Each language's weighted mean moves towards the overall mean,
        by n / (n + prior_speakers) of the way for a language with n speakers: a language heard from 3 speakers,
        all young, says more about them than about the language, and moving it all the way would erase their age
        (speaker-grouped balanced accuracy over all languages 0.331 with the shrinkage, 0.281 without)."""
        of, who = np.asarray(languages), np.asarray(speakers)
        overall = np.average(x, axis=0, weights=weights)
        shift = {}
        for la in self.languages:
            mine = of == la
            n = len(set(who[mine]))
            shift[la] = n / (n + prior_speakers) * (overall - np.average(x[mine], axis=0, weights=weights[mine]))
        reference = shift[self.languages[0]]  # the reference language stays where it is: prediction never shifts
        self.language_shift.copy_(torch.from_numpy(np.stack([shift[la] - reference for la in self.languages])))

    def shift_for(self, language: str) -> np.ndarray:
        """What to add to a vector of this language (zero for the reference and for languages never trained on)."""
        if language not in self.languages:
            return np.zeros(self.mean.shape[0], dtype=np.float32)
        return self.language_shift[self.languages.index(language)].numpy()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) / self.std
        return self.net(x) if self.gender is None else torch.cat([self.net(x), self.gender(x)], dim=1)
