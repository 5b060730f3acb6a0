"""Load a model once, then turn audio into an age group and six probabilities.

The bundled model is an ONNX file: prediction runs on numpy, soundfile, soxr, webrtcvad, Praat and ONNX
Runtime, without torch. No augmentation here: the seed shifted and masked the user's recording at inference,
which only adds noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from voxage.audio import AudioError, load_audio, load_audio_bytes
from voxage.features import extract
from voxage.inference.runners import load_runner

MIN_SECONDS = 0.5
MAX_SECONDS = 60.0  # longer recordings are judged on their first minute


def default_model_path() -> Path:
    return Path(str(resources.files("voxage") / "assets" / "default_model.onnx"))


@dataclass
class Prediction:
    age_group: str
    probabilities: dict[str, float]  # calibrated: a 0.6 is right about 60% of the time on unseen speakers
    duration_s: float
    gender: str | None = None  # for models with a gender output (the bundled one)
    gender_probabilities: dict[str, float] | None = None

    def to_dict(self) -> dict:
        out = {"age_group": self.age_group, "probabilities": self.probabilities,
               "duration_s": round(self.duration_s, 3)}
        if self.gender is not None:
            out.update(gender=self.gender, gender_probabilities=self.gender_probabilities)
        return out


class Predictor:
    def __init__(self, model_path: str | Path | None = None):
        path = Path(model_path) if model_path else default_model_path()
        if model_path is None and not path.is_file():
            raise FileNotFoundError("no bundled default model in this install; pass a model file")
        self.model = load_runner(path)
        self.artifact = self.model.artifact
        self.cfg = self.artifact.features
        self.classes = self.artifact.classes
        if self.artifact.input_kind == "embed":
            from voxage.features.voice_embedding import EMBED_VERSION

            trained_on = self.artifact.extra.get("embed_version")
            if trained_on != EMBED_VERSION:
                raise ValueError(f"model was trained on embedding version {trained_on}, this voxage computes "
                                 f"version {EMBED_VERSION}: retrain it")

    def model_inputs(self, wave: np.ndarray) -> tuple[np.ndarray, ...]:
        if self.artifact.input_kind == "embed":
            from voxage.features.voice_embedding import voice_inputs

            return voice_inputs(wave)
        return (extract(wave, self.cfg)[self.artifact.input_kind][None],)

    def probabilities(self, *inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Age probabilities (1, 6) and gender probabilities (1, 2) or None."""
        return self.artifact.probabilities(self.model(*inputs))

    def predict_wave(self, wave: np.ndarray) -> Prediction:
        duration = len(wave) / self.cfg.sample_rate
        if duration < MIN_SECONDS:
            raise AudioError("too_short", f"clip is {duration:.2f} s; at least {MIN_SECONDS} s of speech needed")
        if float(np.sqrt(np.mean(wave**2))) < 1e-4:
            raise AudioError("silent", "clip is silent; nothing to judge")
        age, gender = self.probabilities(*self.model_inputs(wave))
        probs = {c: float(v) for c, v in zip(self.classes, age[0])}
        pred = Prediction(self.classes[int(age[0].argmax())], probs, duration)
        if gender is not None:
            pred.gender = self.artifact.genders[int(gender[0].argmax())]
            pred.gender_probabilities = {g: float(v) for g, v in zip(self.artifact.genders, gender[0])}
        return pred

    def predict_file(self, path: str | Path) -> Prediction:
        return self.predict_wave(load_audio(path, self.cfg.sample_rate, MAX_SECONDS))

    def predict_bytes(self, data: bytes, name: str = "upload") -> Prediction:
        return self.predict_wave(load_audio_bytes(data, self.cfg.sample_rate, name, MAX_SECONDS))
