"""A stronger mel CNN: residual blocks, then mean+std pooling over time so clip length matters less."""

from __future__ import annotations

import torch
from torch import nn


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
        )
        self.skip = (nn.Identity() if cin == cout and stride == 1 else
                     nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout)))

    def forward(self, x):
        return torch.relu(self.body(x) + self.skip(x))


class ResNetStats(nn.Module):
    input_kind = "mel"

    def __init__(self, n_mels: int = 64, num_frames: int = 313, num_classes: int = 6, width: int = 8,
                 dropout: float = 0.3):
        super().__init__()
        w = width
        self.stem = nn.Sequential(nn.Conv2d(1, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU())
        self.blocks = nn.Sequential(ResBlock(w, w, 1), ResBlock(w, 2 * w, 2), ResBlock(2 * w, 4 * w, 2),
                                    ResBlock(4 * w, 8 * w, 2))
        pooled = 8 * w * ((n_mels + 7) // 8)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * pooled, num_classes))

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(mel.unsqueeze(1)))  # (B, C, F', T')
        x = x.flatten(1, 2)  # channels x frequency as one feature axis, over time
        stats = torch.cat([x.mean(-1), x.std(-1)], dim=1)
        return self.head(stats)
