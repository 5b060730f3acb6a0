"""Export a trained model to ONNX, with its rebuild settings in the file's metadata."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import torch

from voxage.models.artifact import ModelArtifact

METADATA_KEY = "voxage"


def example_inputs(artifact: ModelArtifact) -> dict[str, torch.Tensor]:
    """Named inputs of `artifact.network()`; their first axis is dynamic in the exported graph."""
    cfg = artifact.features
    if artifact.input_kind == "mel":
        return {"features": torch.zeros(1, cfg.n_mels, cfg.num_frames)}
    if artifact.input_kind == "wave":
        return {"features": torch.zeros(1, cfg.num_samples)}
    from voxage.features.voice_embedding import PROSODY_NAMES, WINDOW_SHAPE

    return {"windows": torch.zeros(3, *WINDOW_SHAPE), "prosody": torch.zeros(1, len(PROSODY_NAMES))}


def export_onnx(artifact: ModelArtifact, out: Path) -> Path:
    """The whole network prediction runs (for embed models: speaker encoder and head) in one ONNX file."""
    import onnx

    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    inputs = example_inputs(artifact)
    axes = {name: {0: "n"} for name in inputs} | {"logits": {0: "batch"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter is deprecated but needs no onnxscript
        torch.onnx.export(artifact.network(), tuple(inputs.values()), str(tmp), input_names=list(inputs),
                          output_names=["logits"], dynamic_axes=axes, opset_version=17, dynamo=False)
    proto = onnx.load(str(tmp))
    proto.metadata_props.add(key=METADATA_KEY, value=json.dumps(artifact.header()))
    onnx.save(proto, str(tmp))
    tmp.replace(out)
    return out


class OnnxModel:
    """Callable like the torch model (tensor in, logits out), backed by ONNX Runtime."""

    def __init__(self, path: Path):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1  # a single 5 s clip is too small to gain from threads
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        meta = self.session.get_modelmeta().custom_metadata_map
        if METADATA_KEY not in meta:
            raise ValueError(f"{path}: ONNX file was not exported by voxage (no metadata)")
        self.meta = json.loads(meta[METADATA_KEY])
        self.input_names = [i.name for i in self.session.get_inputs()]
        expected = list(example_inputs(ModelArtifact.from_header(self.meta)))
        if self.input_names != expected:
            raise ValueError(f"{path}: inputs {self.input_names}, this voxage feeds {expected}: export it again")

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        feeds = {name: np.ascontiguousarray(x.numpy(), dtype=np.float32) for name, x in zip(self.input_names, inputs)}
        (logits,) = self.session.run(None, feeds)
        return torch.from_numpy(logits)
