"""Training settings; saved next to every run so a run can be resumed and evaluated as it was. The CLI's flags
are generated from these fields (`voxage.cli_flags`), so a default lives here and nowhere else."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from voxage.data.weights import WEIGHTINGS
from voxage.errors import ConfigError
from voxage.models.names import MODEL_NAMES

OPTIMIZERS = ("adam", "lbfgs")


@dataclass(frozen=True)
class Regularisation:
    """The seed's choices; a model class overrides them with a `training_defaults` dict (see EmbedHead)."""

    weight_decay: float = 1e-6  # the seed's Adam weight decay
    patience: int = 4  # EarlyStopping on val_loss, as the seed
    optimizer: str = "adam"  # adam (the seed) | lbfgs: full-batch, for convex heads that should reach their optimum


@dataclass(frozen=True)
class TrainConfig:
    model: str = field(default="cnn", metadata={"choices": MODEL_NAMES, "help": "which model to train"})
    max_epochs: int = field(default=50, metadata={"flag": "epochs",
                                                  "help": "maximum epochs (early stopping usually ends sooner)"})
    batch_size: int = 32
    lr: float = field(default=1e-3, metadata={"help": "Adam learning rate (the seed's)"})
    weight_decay: float | None = field(default=None, metadata={
        "help": "L2 on weights (default: the model's; 1 for embed, else 1e-6 as the seed)"})
    patience: int | None = field(default=None, metadata={
        "help": "early-stopping patience in epochs (default: the model's; 10 for embed, else 4)"})
    optimizer: str | None = field(default=None, metadata={
        "choices": OPTIMIZERS, "help": "default: the model's (lbfgs for embed, else adam)"})
    augment: bool = field(default=True, metadata={"help": "training-only augmentation of the model's input kind"})
    weighting: str = field(default="language", metadata={
        "choices": WEIGHTINGS, "help": "loss weights: language (each speaker once, groups equal within each language), "
                                       "speaker (each speaker once, groups equal), class (groups equal) or none"})
    align_languages: bool = field(default=True, metadata={
        "help": "embed: move every language's mean vector onto the reference language's"})
    channel_copies: int = field(default=0, metadata={
        "help": "also train (and calibrate) on N copies of every training and validation clip, each heard through "
                "a random simulated channel: phone line, noise, room, gain or codec (cached, seeded per clip)"})
    compensate_channels: bool = field(default=True, metadata={
        "help": "with channel copies, an embed model also learns the displacement each channel family causes in "
                "its vector and takes the expected one off"})
    standardize_channels: bool = field(default=True, metadata={
        "help": "with channel compensation, also undo the spread that noise, rooms and clipping take from the "
                "voice's own part of the vector (each family's per-dimension spread brought back to clean speech's)"})
    phone_displacement: float = field(default=0.75, metadata={
        "help": "with channel compensation, the share of the phone line's fitted displacement taken off (1: all; "
                "less keeps some of what the line took, since the head also learnt to hear through it)"})
    room_displacement: float = field(default=1.0, metadata={
        "help": "with channel compensation, the share of a room's fitted displacement taken off (1: all; 1.5 "
                "helps dry recordings such as English Common Voice's, which a room moves farther than the average "
                "training clip, and costs the multilingual protocol: docs/experiments.md)"})
    loud_noise_displacement: float = field(default=1.0, metadata={
        "help": "with channel compensation, the share of loud noise's (under 15 dB SNR) fitted displacement taken "
                "off, for white, pink and babble noise alike (1: all; docs/experiments.md)"})
    channel_map_rank: int = field(default=32, metadata={
        "help": "with channel compensation, also move each voice back by a displacement of its own: per family "
                "(but babble, which mixes in other voices), a map of this rank (0: none) from a copy's vector to "
                "what the family's mean displacement misses of its clip as recorded (docs/robustness.md)"})
    unfamiliar_rate: float = field(default=0.05, metadata={
        "help": "with channel copies, an embed model also learns to tell recordings unlike its clean training speech "
                "(answered reliable: false, with a temperature of their own); this share of the validation "
                "speakers' clean clips is told so"})
    seed: int = 0
    num_workers: int = field(default=0, metadata={"help": "DataLoader worker processes"})
    accelerator: str = "auto"
    devices: str = "auto"
    num_nodes: int = 1
    strategy: str = field(default="auto", metadata={"help": "Lightning strategy, e.g. ddp"})
    progress: bool = field(default=True, metadata={"cli": False})  # the CLI's --quiet

    def __post_init__(self):
        if self.model not in MODEL_NAMES:
            raise ConfigError(f"unknown model {self.model!r}; choose from {', '.join(MODEL_NAMES)}")
        if self.weighting not in WEIGHTINGS:
            raise ConfigError(f"unknown weighting {self.weighting!r}; choose from {', '.join(WEIGHTINGS)}")
        if self.optimizer not in (None, *OPTIMIZERS):
            raise ConfigError(f"unknown optimizer {self.optimizer!r}; choose from {', '.join(OPTIMIZERS)}")
        for name in ("max_epochs", "batch_size", "num_nodes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.lr <= 0 or (self.weight_decay is not None and self.weight_decay < 0):
            raise ConfigError("need lr > 0 and weight_decay >= 0")
        if (self.patience is not None and self.patience < 0) or min(self.num_workers, self.channel_copies,
                                                                     self.channel_map_rank) < 0:
            raise ConfigError("patience, num_workers, channel_copies and channel_map_rank cannot be negative")
        for name in ("phone_displacement", "room_displacement", "loud_noise_displacement"):
            if not 0 <= getattr(self, name) <= 3:
                raise ConfigError(f"{name} must lie between 0 and 3, got {getattr(self, name)}")
        if not 0 < self.unfamiliar_rate < 1:
            raise ConfigError(f"unfamiliar_rate must lie between 0 and 1, got {self.unfamiliar_rate}")

    def resolved(self) -> "TrainConfig":
        """This config with the model's defaults filled in where nothing was chosen."""
        from voxage.models.registry import MODELS

        default = replace(Regularisation(), **getattr(MODELS[self.model], "training_defaults", {}))
        return replace(self, weight_decay=default.weight_decay if self.weight_decay is None else self.weight_decay,
                       patience=default.patience if self.patience is None else self.patience,
                       optimizer=default.optimizer if self.optimizer is None else self.optimizer)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})
