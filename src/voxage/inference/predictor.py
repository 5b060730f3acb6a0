"""Load a model once, then turn audio into an age group and six probabilities.

The bundled model is an ONNX file: prediction runs on numpy, soundfile, soxr, webrtcvad, Praat and ONNX
Runtime, without torch. No augmentation here: the seed shifted and masked the user's recording at inference,
which only adds noise.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Union

import numpy as np

from voxage.audio import AudioError, ClipPolicy, conform, load_audio, load_audio_bytes
from voxage.errors import ConfigError, ModelError
from voxage.features.frontends import frontend
from voxage.features.quality import ReliabilityPolicy, measure_quality
from voxage.inference.batch import FileResult, find_audio, judge, predict_files
from voxage.inference.prediction import Prediction
from voxage.inference.runners import load_runner
from voxage.models.artifact import Outputs

Source = Union[str, Path, bytes, np.ndarray, tuple]  # a file, its bytes, samples with a rate, or (samples, rate)


def default_model_path() -> Path:
    return Path(str(resources.files("voxage") / "assets" / "default_model.onnx"))


class Predictor:
    """A loaded model that judges recordings.

    Args:
        model: None for the model bundled with voxage, else a path to an exported `.onnx` file (ONNX Runtime)
            or a trained `.pth` / run directory (needs `voxage[train]` for torch).

    Raises:
        ModelError: the file is missing, not a voxage model, or made for other features.

    Thread-safe: one Predictor may serve many threads at once (the HTTP server shares one); each call keeps
    its state local and ONNX Runtime sessions allow concurrent runs.

    Examples:
        >>> import numpy as np, voxage
        >>> t = np.arange(2 * 16000) / 16000
        >>> hum = (0.3 * np.sin(2 * np.pi * 140 * t) * (1 + 0.3 * np.sin(2 * np.pi * 4 * t))).astype(np.float32)
        >>> pred = voxage.Predictor().predict(hum, sample_rate=16000)  # 2 s of a 140 Hz voice-like hum
        >>> pred.age_group in voxage.AGE_GROUPS, round(sum(pred.probabilities.values()), 6), pred.duration_s
        (True, 1.0, 2.0)
    """

    def __init__(self, model: str | Path | None = None):
        path = Path(model) if model else default_model_path()
        if model is None and not path.is_file():
            raise ModelError("no bundled default model in this install; pass a model file")
        self.model_path = path
        self.model = load_runner(path)
        self.artifact = self.model.artifact
        self.cfg = self.artifact.features
        self.classes = self.artifact.classes
        self.frontend = frontend(self.artifact.input_kind)
        self.frontend.check(self.artifact.extra)
        # the checks the model's training clips passed (models from before voxage 0.3 carry none: the defaults)
        self.policy = ClipPolicy.from_dict(self.artifact.extra.get("clip_policy"))
        # where its guesses stop being trustworthy (a model that records none gets the bundled model's limits)
        self.reliability = ReliabilityPolicy.from_dict(self.artifact.extra.get("reliability"))

    @property
    def sample_rate(self) -> int:
        """The rate (Hz) the model's features are computed at; other rates are resampled."""
        return self.frontend.sample_rate(self.cfg)

    def predict(self, source: Source, sample_rate: int | None = None) -> Prediction:
        """Judge one recording.

        Args:
            source: a path (str or Path) to a WAV/MP3/FLAC/OGG file (WebM/MP4 with ffmpeg); the file's bytes;
                a 1-D float array of samples in [-1, 1] with `sample_rate`, or a (samples, rate) tuple.
            sample_rate: Hz of `source` when it is an array.

        Returns:
            Prediction: age group, six probabilities, duration, and gender where the model has it.

        Raises:
            AudioError: undecodable, empty, silent or shorter than the model's `policy.min_seconds` (1 s for the
                bundled model; `err.reason` says which).
            ConfigError: an array without its sample rate, or not 1-D.

        Examples:
            >>> import os, tempfile, numpy as np, soundfile as sf, voxage
            >>> path = os.path.join(tempfile.mkdtemp(), "hum.wav")
            >>> t = np.arange(3 * 16000) / 16000
            >>> sf.write(path, 0.3 * np.sin(2 * np.pi * 200 * t) * (1 + 0.3 * np.sin(2 * np.pi * 3 * t)), 16000)
            >>> voxage.Predictor().predict(path).duration_s
            3.0
            >>> voxage.Predictor().predict(np.zeros(16000), sample_rate=16000)
            Traceback (most recent call last):
            voxage.errors.AudioError: clip is silent; nothing to judge
        """
        return self.predict_wave(self.wave_of(source, sample_rate))

    def wave_of(self, source: Source, sample_rate: int | None = None) -> np.ndarray:
        """What `predict` judges of `source`: mono float32 at `self.sample_rate`, its first `policy.max_seconds`."""
        if isinstance(source, tuple):
            source, sample_rate = source
        if isinstance(source, (str, Path)):
            return load_audio(source, self.sample_rate, self.policy.max_seconds)
        if isinstance(source, (bytes, bytearray, memoryview)):
            return load_audio_bytes(bytes(source), self.sample_rate, "upload", self.policy.max_seconds)
        samples = np.asarray(source, dtype=np.float32)
        if sample_rate is None:
            raise ConfigError("samples need their sample_rate: predict(samples, sample_rate=16000)")
        if samples.ndim != 1:
            raise ConfigError(f"samples must be 1-D (mono), got shape {samples.shape}")
        samples = samples[: int(self.policy.max_seconds * sample_rate)]
        return conform(samples, sample_rate, self.sample_rate, "samples")

    def predict_speaker(self, sources: Iterable[Source]) -> Prediction:
        """Judge several recordings of one person as one answer, which is surer than any of them alone
        (docs/results.md, "One answer per speaker": balanced accuracy over speakers rises with the clips joined).

        The clips' calibrated probabilities are joined by their geometric mean, renormalised (measured against
        pooling the clips' vectors and against their product, `scripts/experiments/join_clips.py`). A recording
        that cannot be judged (too short, silent, undecodable) is left out; `duration_s` and `quality` are those
        of the recordings used, together.

        Raises:
            AudioError: none of the recordings can be judged (the last one's reason).

        Examples:
            >>> import numpy as np, voxage
            >>> t = np.arange(2 * 16000) / 16000
            >>> hum = lambda f: (0.3 * np.sin(2 * np.pi * f * t)).astype(np.float32)
            >>> pred = voxage.Predictor().predict_speaker([(hum(140), 16000), (hum(150), 16000)])
            >>> pred.duration_s, round(sum(pred.probabilities.values()), 6)
            (4.0, 1.0)
        """
        waves, ages, genders, unfamiliar, problem = [], [], [], [], None
        for source in sources:
            try:
                wave = self.wave_of(source)
                self.policy.check(wave, self.sample_rate, "clip")
            except AudioError as err:
                problem = err
                continue
            age, gender, odd = self.probabilities(*self.model_inputs(wave))
            waves.append(wave)
            ages.append(age)
            genders.append(gender)
            unfamiliar.append(odd)
        if not waves:
            raise problem or AudioError("empty", "no recordings given")
        joined = np.concatenate(waves)
        return self.answer(joined, len(joined) / self.sample_rate, geometric_mean(ages),
                           geometric_mean(genders) if genders[0] is not None else None,
                           # flagged when most of the recordings are
                           np.array([np.mean(unfamiliar) > 0.5]) if unfamiliar[0] is not None else None)

    def predict_many(self, sources: Iterable[Source], workers: int = 1) -> list[FileResult]:
        """Judge many recordings; one result per source, in order, a bad one never stopping the rest.

        Args:
            sources: anything `predict` takes; folders are walked for audio files.
            workers: processes for file paths (each loads the model; at least 4 files each, else in-process).

        Returns:
            list of `voxage.inference.batch.FileResult`: `.path`, `.prediction` (None on failure), `.error`,
            `.reason`, `.to_dict()`.

        Examples:
            >>> import numpy as np, voxage
            >>> results = voxage.Predictor().predict_many([(np.zeros(16000), 16000), "no/such/file.wav"])
            >>> print(*(r.reason for r in results))
            silent missing
        """
        results: list = []
        files: list[tuple[int, Path]] = []  # where each file's result goes
        for source in sources:
            if isinstance(source, (str, Path)):
                for f in find_audio([source]):
                    files.append((len(results), f))
                    results.append(None)
            else:
                results.append(judge(self, source, f"<{type(source).__name__} {len(results)}>"))
        for (i, _), result in zip(files, predict_files([f for _, f in files], self, workers)):
            results[i] = result
        return results

    def model_inputs(self, wave: np.ndarray) -> tuple[np.ndarray, ...]:
        return self.frontend.inputs(wave, self.cfg)

    def probabilities(self, *inputs: np.ndarray) -> Outputs:
        """Age probabilities (1, 6), gender probabilities (1, 2) or None, the familiarity check's flag (1,) or None."""
        return self.artifact.probabilities(self.model(*inputs))

    def predict_wave(self, wave: np.ndarray) -> Prediction:
        """Judge mono float32 samples already at `self.sample_rate`."""
        duration = self.policy.check(wave, self.sample_rate, "clip")
        return self.answer(wave, duration, *self.probabilities(*self.model_inputs(wave)))

    def answer(self, wave: np.ndarray, duration: float, age: np.ndarray, gender: np.ndarray | None,
               unfamiliar: np.ndarray | None = None) -> Prediction:
        """The Prediction for what the model said of `wave` (`Outputs` of one row), with its quality."""
        probs = {c: float(v) for c, v in zip(self.classes, age[0])}
        sexes = self.artifact.genders
        quality = measure_quality(wave, self.sample_rate)
        reasons = self.reliability.reasons(quality) + (
            ("unfamiliar_recording",) if unfamiliar is not None and unfamiliar[0] else ())
        return Prediction(self.classes[int(age[0].argmax())], probs, duration,
                          sexes[int(gender[0].argmax())] if gender is not None else None,
                          {g: float(v) for g, v in zip(sexes, gender[0])} if gender is not None else None,
                          quality, not reasons, reasons)

    def predict_file(self, path: str | Path) -> Prediction:
        return self.predict_wave(load_audio(path, self.sample_rate, self.policy.max_seconds))

    def predict_bytes(self, data: bytes, name: str = "upload") -> Prediction:
        return self.predict_wave(load_audio_bytes(data, self.sample_rate, name, self.policy.max_seconds))


def geometric_mean(probabilities: list[np.ndarray]) -> np.ndarray:
    """(1, classes) arrays -> their geometric mean, renormalised: how several clips' answers join."""
    logs = np.log(np.clip(np.concatenate(probabilities), 1e-12, 1.0)).mean(axis=0, keepdims=True)
    joined = np.exp(logs - logs.max())
    return joined / joined.sum()
