"""Export a trained model to ONNX, with its rebuild settings in the file's metadata."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import torch

from voxage.data.atomic import atomic_path, write_bytes_atomic
from voxage.features.frontends import frontend
from voxage.models.artifact import METADATA_KEY, ModelArtifact, head_path


class _Concatenated(torch.nn.Module):
    """A network fed its input in parts (batch, k_i), so a front-end's prefix graph can supply some of them."""

    def __init__(self, network: torch.nn.Module):
        super().__init__()
        self.network = network

    def forward(self, *parts: torch.Tensor) -> torch.Tensor:
        return self.network(torch.cat(parts, dim=1))


def _torch_export(module: torch.nn.Module, inputs: dict[str, np.ndarray], path: Path) -> None:
    axes = {name: {0: "n"} for name in inputs} | {"logits": {0: "batch"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter is deprecated but needs no onnxscript
        torch.onnx.export(module, tuple(torch.from_numpy(x) for x in inputs.values()), str(path),
                          input_names=list(inputs), output_names=["logits"], dynamic_axes=axes, opset_version=17,
                          dynamo=False)


def export_onnx(artifact: ModelArtifact, out: Path) -> Path:
    """The whole network prediction runs in one ONNX file. Where the front-end has a prefix graph (the embed
    front-end's speaker encoder, the same file its feature cache was computed with), that graph is joined in front
    of the network by matching names, its licence files are copied next to the export, and the network alone is
    written beside it (`head_path`) for streams, which encode window by window and pool themselves."""
    import onnx
    from onnx import compose

    out = Path(out)
    fe = frontend(artifact.input_kind)
    inputs = fe.export_inputs(artifact.features)
    network = artifact.build()
    with atomic_path(out) as tmp:
        _torch_export(network if len(inputs) == 1 else _Concatenated(network), inputs, tmp)
        proto = onnx.load(str(tmp))
        if fe.prefix_graph is not None:
            write_bytes_atomic(head_path(out), tmp.read_bytes())  # the network alone, before the prefix joins it
            prefix = onnx.load(str(fe.prefix_graph))
            proto.ir_version = prefix.ir_version
            proto = compose.add_prefix(proto, "head/", rename_inputs=False, rename_outputs=False)
            joined = [o.name for o in prefix.graph.output if o.name in inputs]
            proto = compose.merge_models(prefix, proto, io_map=[(name, name) for name in joined])
            proto.doc_string = (f"{prefix.doc_string}; head: voxage. Licence of the prefix graph: "
                                f"{', '.join(f.name for f in fe.licence_files)}.")
            for licence in fe.licence_files:
                if out.parent.resolve() != licence.parent.resolve():
                    shutil.copy(licence, out.parent / licence.name)
        proto.metadata_props.add(key=METADATA_KEY, value=json.dumps(artifact.header()))
        onnx.save(proto, str(tmp))
    return out
