"""Export a trained model to ONNX, with its rebuild settings in the file's metadata."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import torch

from voxage.models.artifact import ModelArtifact

METADATA_KEY = "voxage"


def example_input(artifact: ModelArtifact) -> torch.Tensor:
    cfg = artifact.features
    if artifact.input_kind == "mel":
        return torch.zeros(1, cfg.n_mels, cfg.num_frames)
    if artifact.input_kind == "wave":
        return torch.zeros(1, cfg.num_samples)
    return torch.zeros(1, artifact.kwargs["in_dim"])


def export_onnx(artifact: ModelArtifact, out: Path) -> Path:
    import onnx

    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter is deprecated but needs no onnxscript
        torch.onnx.export(artifact.build(), (example_input(artifact),), str(tmp), input_names=["features"],
                          output_names=["logits"], dynamic_axes={"features": {0: "batch"}, "logits": {0: "batch"}},
                          opset_version=17, dynamo=False)
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

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        (logits,) = self.session.run(None, {"features": np.ascontiguousarray(x.numpy(), dtype=np.float32)})
        return torch.from_numpy(logits)
