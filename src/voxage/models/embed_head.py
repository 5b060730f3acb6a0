"""A small head on utterance embeddings (GE2E speaker vector + prosody), standardised inside the model.

Training reads cached embeddings, so only the head learns; prediction runs `VoiceAgeNetwork`, the frozen
speaker encoder and the head as one network, which is also what goes into an exported ONNX file.
"""

from __future__ import annotations

import torch
from torch import nn

from voxage.features.voice_embedding import EMBED_DIM, SpeakerEncoder


class EmbedHead(nn.Module):
    input_kind = "embed"

    def __init__(self, in_dim: int = EMBED_DIM, hidden: int = 0, num_classes: int = 6, dropout: float = 0.5):
        super().__init__()
        # Feature scaling learned from the training split and saved with the weights.
        self.register_buffer("mean", torch.zeros(in_dim))
        self.register_buffer("std", torch.ones(in_dim))
        # hidden=0: a linear (multinomial logistic) head, which generalised best to unseen speakers.
        self.net = (nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, num_classes)) if hidden == 0 else
                    nn.Sequential(nn.Dropout(0.1), nn.Linear(in_dim, hidden), nn.ReLU(), nn.Dropout(dropout),
                                  nn.Linear(hidden, num_classes)))

    def fit_normalization(self, x: torch.Tensor) -> None:
        self.mean.copy_(x.mean(0))
        self.std.copy_(x.std(0).clamp(min=1e-4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)


class VoiceAgeNetwork(nn.Module):
    """(encoder windows (n, 160, 40), prosody (1, 12)) -> logits (1, classes)."""

    def __init__(self, head: EmbedHead):
        super().__init__()
        self.encoder = SpeakerEncoder()
        self.head = head

    def forward(self, windows: torch.Tensor, prosody: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.encoder(windows), prosody], dim=1))
