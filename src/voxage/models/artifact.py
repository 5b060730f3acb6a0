"""What a run leaves behind: weights plus everything needed to rebuild the model.

A `.pth` holds only tensors, strings, numbers, lists and dicts: it loads with `torch.load(weights_only=True)`,
so a model file cannot execute code. An exported `.onnx` carries the same header in its metadata, which is
all prediction needs besides the graph; torch is imported only to build, save or load weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from voxage.data.atomic import atomic_path
from voxage.errors import ModelError
from voxage.features import FeatureConfig
from voxage.labels import AGE_GROUPS
from voxage.models.outputs import age_probabilities, softmax, split_outputs

FORMAT = "voxage-model/1"
METADATA_KEY = "voxage"  # the ONNX metadata entry that holds the model's header (ModelArtifact.header)


class Outputs(NamedTuple):
    """What a model says of a batch: age probabilities (batch, 6), gender probabilities (batch, 2) or None, and
    for a model with a familiarity check (batch,) bools, True where the recording is unlike its training speech."""

    age: np.ndarray
    gender: np.ndarray | None
    unfamiliar: np.ndarray | None


def head_path(model: Path) -> Path:
    """Where an exported model whose graph starts with a front-end's prefix graph keeps its network alone (what a
    stream runs on inputs it pooled itself)."""
    return Path(model).with_name(f"{Path(model).stem}.head.onnx")


@dataclass
class ModelArtifact:
    name: str
    kwargs: dict
    input_kind: str
    features: FeatureConfig
    state_dict: dict
    classes: tuple[str, ...] = AGE_GROUPS
    extra: dict = field(default_factory=dict)  # e.g. embedding front-end settings, training summary

    def build(self):
        """The torch module with its weights, in eval mode."""
        from voxage.models.registry import rebuild_model

        model = rebuild_model(self.name, self.kwargs)
        model.load_state_dict(self.state_dict)
        return model.eval()

    @property
    def ordinal(self) -> bool:
        return bool(self.kwargs.get("ordinal", False))

    @property
    def genders(self) -> tuple[str, ...]:
        """The gender classes the model predicts after its age scores; empty for age-only models."""
        return tuple(self.extra.get("genders", ()))

    def probabilities(self, out, temperature: float | None = None) -> Outputs:
        """Model output (batch, width), numpy or torch -> what it says (`Outputs`). Calibrated with the stored
        temperatures unless one is given for every row (1.0: as the network says): a recording the familiarity
        check flags has a temperature of its own, fitted on the validation clips it flags."""
        scores, gender, check = split_outputs(np.asarray(out, dtype=np.float64), self.ordinal, len(self.genders))
        unfamiliar = check[:, 0] > 0 if check.shape[1] else None
        t = temperature
        if t is None:
            passed = self.extra.get("temperature", 1.0)
            t = np.full((len(scores), 1), passed)
            if unfamiliar is not None:
                t[unfamiliar] = self.extra.get("unfamiliar_temperature", passed)
        return Outputs(age_probabilities(scores, self.ordinal, t), softmax(gender) if gender.shape[1] else None,
                       unfamiliar)

    def header(self) -> dict:
        """Everything but the weights: what a `.pth` and an exported ONNX file both carry."""
        return {"name": self.name, "kwargs": self.kwargs, "input_kind": self.input_kind,
                "features": self.features.to_dict(), "classes": list(self.classes), "extra": self.extra}

    @classmethod
    def from_header(cls, header: dict, state_dict: dict | None = None) -> "ModelArtifact":
        return cls(header["name"], header["kwargs"], header["input_kind"], FeatureConfig.from_dict(header["features"]),
                   state_dict or {}, tuple(header["classes"]), header.get("extra", {}))

    def save(self, path: Path) -> None:
        import torch

        with atomic_path(path) as tmp:
            torch.save({"format": FORMAT, **self.header(),
                        "state_dict": {k: v.detach().cpu() for k, v in self.state_dict.items()}}, tmp)

    @classmethod
    def load(cls, path: Path) -> "ModelArtifact":
        import torch

        path = Path(path)
        if path.is_dir():
            path = path / "model.pth"
        if not path.is_file():
            raise ModelError(f"{path}: no such model file")
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ModelError(f"{path}: not a voxage model file ({exc.__class__.__name__})") from None
        if not isinstance(blob, dict) or blob.get("format") != FORMAT:
            raise ModelError(f"{path}: not a voxage model file (format {FORMAT} expected)")
        return cls.from_header(blob, blob["state_dict"])
