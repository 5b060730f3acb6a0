"""Run a model on numpy inputs and get its output rows back as numpy: ONNX Runtime (no torch) or PyTorch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from voxage.errors import ModelError
from voxage.features.voice_embedding import SpeakerEncoder, onnx_session
from voxage.models.artifact import ModelArtifact

METADATA_KEY = "voxage"  # the ONNX metadata entry that holds the model's header (ModelArtifact.header)


def input_names(input_kind: str) -> list[str]:
    """What prediction feeds a model of this kind, in order: one feature array, or for embed models the encoder
    windows (n, 160, 40) and the prosody row (1, 7)."""
    return ["windows", "prosody"] if input_kind == "embed" else ["features"]


class OnnxModel:
    """An ONNX file exported by voxage; for embed models the graph holds the speaker encoder and the head."""

    def __init__(self, path: Path):
        try:
            self.session = onnx_session(path)
        except Exception as exc:  # onnxruntime raises its own types for a damaged or foreign file
            raise ModelError(f"{path}: not a readable ONNX file ({exc.__class__.__name__})") from None
        meta = self.session.get_modelmeta().custom_metadata_map
        if METADATA_KEY not in meta:
            raise ModelError(f"{path}: ONNX file was not exported by voxage (no metadata)")
        self.artifact = ModelArtifact.from_header(json.loads(meta[METADATA_KEY]))
        self.input_names = [i.name for i in self.session.get_inputs()]
        expected = input_names(self.artifact.input_kind)
        if self.input_names != expected:
            raise ModelError(f"{path}: inputs {self.input_names}, this voxage feeds {expected}: export it again")

    def __call__(self, *inputs: np.ndarray) -> np.ndarray:
        feeds = {name: np.ascontiguousarray(x, dtype=np.float32) for name, x in zip(self.input_names, inputs)}
        return self.session.run(None, feeds)[0]


class TorchModel:
    """A `.pth` (needs the training install); an embed head gets the ONNX speaker encoder in front."""

    def __init__(self, artifact: ModelArtifact):
        import torch

        self.torch, self.artifact = torch, artifact
        self.network = artifact.build()
        self.encoder = SpeakerEncoder() if artifact.input_kind == "embed" else None

    def __call__(self, *inputs: np.ndarray) -> np.ndarray:
        if self.encoder is not None:
            windows, prosody = inputs
            inputs = (np.concatenate([self.encoder(windows), prosody], axis=1),)
        with self.torch.no_grad():
            return self.network(*(self.torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
                                  for x in inputs)).numpy()


def load_runner(path: Path) -> OnnxModel | TorchModel:
    path = Path(path)
    if path.suffix == ".onnx":
        if not path.is_file():
            raise ModelError(f"{path}: no such model file")
        return OnnxModel(path)
    return TorchModel(ModelArtifact.load(path))
