"""Training settings; saved next to every run so a run can be resumed and evaluated as it was."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

WEIGHTINGS = ("language", "speaker", "class", "none")  # see training.data.sample_weights


@dataclass(frozen=True)
class Regularisation:
    weight_decay: float = 1e-6  # the seed's Adam weight decay
    patience: int = 4  # EarlyStopping on val_loss, as the seed
    optimizer: str = "adam"  # adam (the seed) | lbfgs: full-batch, for convex heads that should reach their optimum


# The embed head is a linear model on 263 features: left alone it learns who is speaking. Strong L2 on its weights
# (1.0; 0.5 and 2.0 scored 0.342 and 0.329 vs 0.353 on English speakers never heard, 3 fold seeds x 5 folds) and,
# since its loss is convex, LBFGS to the optimum rather than Adam steps and early stopping.
MODEL_REGULARISATION = {"embed": Regularisation(weight_decay=1.0, patience=10, optimizer="lbfgs")}


@dataclass
class TrainConfig:
    model: str = "cnn"
    max_epochs: int = 50
    batch_size: int = 32
    lr: float = 1e-3  # the seed's Adam learning rate
    weight_decay: float | None = None  # None: the model's default (MODEL_REGULARISATION, else the seed's)
    patience: int | None = None
    optimizer: str | None = None
    augment: bool = True
    weighting: str = "language"  # loss weights: language | speaker | class | none (see training.data.sample_weights)
    align_languages: bool = True  # embed head: move every language's mean vector onto the reference language's
    seed: int = 0
    num_workers: int = 0
    accelerator: str = "auto"
    devices: str = "auto"
    num_nodes: int = 1
    strategy: str = "auto"
    progress: bool = True

    def resolved(self) -> "TrainConfig":
        """This config with the model's defaults filled in where nothing was chosen."""
        default = MODEL_REGULARISATION.get(self.model, Regularisation())
        return replace(self, weight_decay=default.weight_decay if self.weight_decay is None else self.weight_decay,
                       patience=default.patience if self.patience is None else self.patience,
                       optimizer=default.optimizer if self.optimizer is None else self.optimizer)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})
