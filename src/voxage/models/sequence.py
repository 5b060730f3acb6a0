"""The seed's sequence models on the raw waveform, read as 10 ms frames (batch, frames, samples)."""

from __future__ import annotations

import torch
from torch import nn


def frames(wave: torch.Tensor, frame_length: int) -> torch.Tensor:
    b, n = wave.shape
    n -= n % frame_length
    return wave[:, :n].reshape(b, n // frame_length, frame_length)


class VanillaRNN(nn.Module):
    input_kind = "wave"

    def __init__(self, frame_length: int = 160, hidden: int = 128, layers: int = 2, num_classes: int = 6):
        super().__init__()
        self.frame_length = frame_length
        self.rnn = nn.RNN(frame_length, hidden, num_layers=layers, batch_first=True, nonlinearity="tanh")
        self.head = nn.Linear(hidden, num_classes)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        _, h = self.rnn(frames(wave, self.frame_length))
        return self.head(h[-1])


class BiGRU(nn.Module):
    input_kind = "wave"

    def __init__(self, frame_length: int = 160, hidden: int = 64, layers: int = 1, num_classes: int = 6,
                 dropout: float = 0.2):
        super().__init__()
        self.frame_length = frame_length
        self.gru = nn.GRU(frame_length, hidden, num_layers=layers, batch_first=True, bidirectional=True,
                          dropout=dropout if layers > 1 else 0.0)
        self.head = nn.Linear(2 * hidden, num_classes)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(frames(wave, self.frame_length))
        return self.head(out.mean(dim=1))


class TemporalBlock(nn.Module):
    def __init__(self, channels: int, dilation: int, kernel: int = 3, dropout: float = 0.1):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(channels, channels, kernel, padding=dilation * (kernel - 1) // 2, dilation=dilation),
            nn.BatchNorm1d(channels), nn.ReLU(), nn.Dropout(dropout),
            nn.Conv1d(channels, channels, kernel, padding=dilation * (kernel - 1) // 2, dilation=dilation),
            nn.BatchNorm1d(channels),
        )

    def forward(self, x):
        return torch.relu(x + self.net(x))


class TCN(nn.Module):
    """Dilated 1-D convolutions (dilations 1..2^(levels-1)) over the frame sequence."""

    input_kind = "wave"

    def __init__(self, frame_length: int = 160, channels: int = 64, levels: int = 5, num_classes: int = 6):
        super().__init__()
        self.frame_length = frame_length
        self.inp = nn.Conv1d(frame_length, channels, 1)
        self.blocks = nn.Sequential(*[TemporalBlock(channels, 2**i) for i in range(levels)])
        self.head = nn.Linear(channels, num_classes)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.inp(frames(wave, self.frame_length).transpose(1, 2)))
        return self.head(x.mean(dim=-1))
