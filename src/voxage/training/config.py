"""Training settings; saved next to every run so a run can be resumed and evaluated as it was."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class TrainConfig:
    model: str = "cnn"
    max_epochs: int = 50
    batch_size: int = 32
    lr: float = 1e-3  # the seed's Adam settings
    weight_decay: float = 1e-6
    patience: int = 4  # EarlyStopping on val_loss, as the seed
    augment: bool = True
    weighting: str = "speaker"  # loss weights: speaker (each speaker once, classes equal) | class | none
    seed: int = 0
    num_workers: int = 0
    accelerator: str = "auto"
    devices: str = "auto"
    num_nodes: int = 1
    strategy: str = "auto"
    progress: bool = True

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})
