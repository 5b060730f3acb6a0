"""Export a trained model to ONNX, with its rebuild settings in the file's metadata."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import torch

from voxage.features.voice_embedding import ENCODER_FILE, ENCODER_LICENSE, PROSODY_NAMES, SPEAKER_DIM
from voxage.inference.runners import METADATA_KEY, input_names
from voxage.models.artifact import ModelArtifact


def example_inputs(artifact: ModelArtifact) -> dict[str, torch.Tensor]:
    """The named input of an exported mel or wave model (embed models: see `export_onnx`); first axis dynamic."""
    cfg = artifact.features
    shape = {"mel": (1, cfg.n_mels, cfg.num_frames), "wave": (1, cfg.num_samples)}[artifact.input_kind]
    return {input_names(artifact.input_kind)[0]: torch.zeros(*shape)}


class _HeadOnParts(torch.nn.Module):
    """The embed head fed its two parts, so the speaker encoder's graph can be joined in front."""

    def __init__(self, head: torch.nn.Module):
        super().__init__()
        self.head = head

    def forward(self, speaker: torch.Tensor, prosody: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([speaker, prosody], dim=1))


def _torch_export(module: torch.nn.Module, inputs: dict[str, torch.Tensor], path: Path) -> None:
    axes = {name: {0: "n"} for name in inputs} | {"logits": {0: "batch"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter is deprecated but needs no onnxscript
        torch.onnx.export(module, tuple(inputs.values()), str(path), input_names=list(inputs),
                          output_names=["logits"], dynamic_axes=axes, opset_version=17, dynamo=False)


def export_onnx(artifact: ModelArtifact, out: Path) -> Path:
    """The whole network prediction runs in one ONNX file: for embed models, the bundled speaker encoder graph
    (the same file the embedding cache was computed with) joined to the head, with the encoder's licence
    (Apache-2.0) copied next to it."""
    import onnx
    from onnx import compose

    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    if artifact.input_kind != "embed":
        _torch_export(artifact.build(), example_inputs(artifact), tmp)
        proto = onnx.load(str(tmp))
    else:
        _torch_export(_HeadOnParts(artifact.build()), {"speaker": torch.zeros(1, SPEAKER_DIM),
                                                       "prosody": torch.zeros(1, len(PROSODY_NAMES))}, tmp)
        encoder, head = onnx.load(str(ENCODER_FILE)), onnx.load(str(tmp))
        head.ir_version = encoder.ir_version
        head = compose.add_prefix(head, "head/", rename_inputs=False, rename_outputs=False)
        proto = compose.merge_models(encoder, head, io_map=[("speaker", "speaker")])
        proto.doc_string = f"{encoder.doc_string}; age head: voxage. Licence of the encoder: GE2E-LICENSE."
        if out.parent.resolve() != ENCODER_LICENSE.parent.resolve():
            shutil.copy(ENCODER_LICENSE, out.parent / ENCODER_LICENSE.name)
    proto.metadata_props.add(key=METADATA_KEY, value=json.dumps(artifact.header()))
    onnx.save(proto, str(tmp))
    tmp.replace(out)
    return out
