"""Run a model on numpy inputs and get its output rows back as numpy: ONNX Runtime (no torch) or PyTorch."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cached_property
from pathlib import Path

import numpy as np

from voxage.errors import ModelError
from voxage.features.frontends import frontend
from voxage.features.voice_embedding import onnx_session
from voxage.models.artifact import METADATA_KEY, ModelArtifact, head_path


class OnnxModel:
    """An ONNX file exported by voxage; its graph holds the front-end's prefix graph (if any) and the network,
    and reads the front-end's `inputs`."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self.session = onnx_session(path)
        except Exception as exc:  # onnxruntime raises its own types for a damaged or foreign file
            raise ModelError(f"{path}: not a readable ONNX file ({exc.__class__.__name__})") from None
        meta = self.session.get_modelmeta().custom_metadata_map
        if METADATA_KEY not in meta:
            raise ModelError(f"{path}: ONNX file was not exported by voxage (no metadata)")
        self.artifact = ModelArtifact.from_header(json.loads(meta[METADATA_KEY]))
        self.input_names = [i.name for i in self.session.get_inputs()]
        expected = list(frontend(self.artifact.input_kind).input_names)
        if self.input_names != expected:
            raise ModelError(f"{path}: inputs {self.input_names}, this voxage feeds {expected}: export it again")

    def __call__(self, *inputs: np.ndarray) -> np.ndarray:
        feeds = {name: np.ascontiguousarray(x, dtype=np.float32) for name, x in zip(self.input_names, inputs)}
        return self.session.run(None, feeds)[0]

    @cached_property
    def head(self) -> Callable[[np.ndarray], np.ndarray] | None:
        """The network alone, fed the front-end's `network_input` (from `NAME.head.onnx`, which `voxage export`
        writes beside a model whose graph holds a prefix graph); None where there is no such file."""
        path = head_path(self.path)
        if not path.is_file():
            return None
        session = onnx_session(path)
        names = [i.name for i in session.get_inputs()]
        sizes = [i.shape[1] for i in session.get_inputs()]
        bounds = np.cumsum([0, *sizes])

        def run(x: np.ndarray) -> np.ndarray:
            x = np.ascontiguousarray(x, dtype=np.float32)
            return session.run(None, {n: x[:, a:b] for n, a, b in zip(names, bounds[:-1], bounds[1:])})[0]

        return run


class TorchModel:
    """A `.pth` (needs the training install), fed what its front-end makes of the same inputs an export reads."""

    def __init__(self, artifact: ModelArtifact):
        import torch

        self.torch, self.artifact = torch, artifact
        self.network = artifact.build()
        self.frontend = frontend(artifact.input_kind)

    def __call__(self, *inputs: np.ndarray) -> np.ndarray:
        return self.head(self.frontend.network_input(*inputs))

    def head(self, x: np.ndarray) -> np.ndarray:
        with self.torch.no_grad():
            return self.network(self.torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))).numpy()


def load_runner(path: Path) -> OnnxModel | TorchModel:
    path = Path(path)
    if path.suffix == ".onnx":
        if not path.is_file():
            raise ModelError(f"{path}: no such model file")
        return OnnxModel(path)
    return TorchModel(ModelArtifact.load(path))
