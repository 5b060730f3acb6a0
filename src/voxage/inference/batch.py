"""Many files at once: walk folders for audio, predict in worker processes, one result per file, in order.

A file that cannot be judged (undecodable, silent, too short, or anything else going wrong in it) becomes a
result with its reason; it never stops the others.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from voxage.audio import AudioError
from voxage.features.quality import Quality
from voxage.inference.prediction import Prediction
from voxage.parallel import worker_pool

QUALITY_COLUMNS = tuple(Quality.__dataclass_fields__)
AUDIO_SUFFIXES = frozenset({".mp3", ".wav", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".webm", ".aac"})


@dataclass(frozen=True)
class FileResult:
    """One source's outcome in a batch: a prediction, or why there is none.

    Attributes:
        path: the file's path, or `<ndarray 3>`-style names for in-memory sources.
        prediction: the `Prediction`, or None when the source could not be judged.
        error: the message when it could not ("" otherwise).
        reason: a short tag: undecodable, empty, too_short, silent, missing, or failed (anything else).

    Examples:
        >>> FileResult("a.wav", error="a.wav: file not found", reason="missing").to_dict()
        {'path': 'a.wav', 'error': 'a.wav: file not found', 'reason': 'missing'}
    """

    path: str
    prediction: Prediction | None = None
    error: str = ""
    reason: str = ""

    def to_dict(self) -> dict:
        if self.prediction is None:
            return {"path": self.path, "error": self.error, "reason": self.reason}
        return {"path": self.path, **self.prediction.to_dict()}


def find_audio(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given (even without an audio suffix: the user named them), folders walked for audio files in
    sorted order; a path that does not exist stays in the list and fails as 'missing'."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(f for f in p.rglob("*") if f.suffix.lower() in AUDIO_SUFFIXES and f.is_file())
        else:
            found.append(p)
    return found


def judge(predictor, source, name: str | None = None) -> FileResult:
    """One result for anything `predictor.predict` (a `voxage.Predictor`) takes, named by `name` (default: the
    path)."""
    name = str(source) if name is None else name
    try:
        return FileResult(name, predictor.predict(source))
    except AudioError as err:
        return FileResult(name, error=str(err), reason=err.reason)
    except Exception as err:  # a bug or an odd file must cost one row, not the whole folder
        return FileResult(name, error=f"{name}: {err.__class__.__name__}: {err}", reason="failed")


_worker: dict = {}


def _init(load, model: str) -> None:
    _worker["predictor"] = load(model)


def _judge(path: str) -> FileResult:
    return judge(_worker["predictor"], path)


def predict_files(files: list[Path], predictor, workers: int = 1) -> Iterator[FileResult]:
    """Results in the order of `files`, from `predictor` (a `voxage.Predictor`). `workers` > 1 runs up to that many
    processes (one ONNX thread each, each loading the predictor's model), with at least 4 files each: starting
    one costs about half a second."""
    workers = max(1, min(workers, len(files) // 4))
    if workers == 1:
        for f in files:
            yield judge(predictor, f)
        return
    with worker_pool(workers, _init, (type(predictor), str(predictor.model_path))) as pool:
        yield from pool.imap(_judge, [str(f) for f in files], chunksize=4)


class CsvWriter:
    """One row per file, written as it comes (a killed run keeps what it finished); columns from the model."""

    def __init__(self, path: Path, classes: tuple[str, ...], genders: tuple[str, ...]):
        self.file = open(path, "w", newline="")
        self.classes, self.genders = classes, genders
        columns = ["path", "age_group", *(f"p_{c}" for c in classes), "duration_s", "reliable", "unreliable_reasons",
                   *QUALITY_COLUMNS]
        columns += ["gender", *(f"p_{g}" for g in genders)] if genders else []
        self.writer = csv.DictWriter(self.file, columns + ["error", "reason"])
        self.writer.writeheader()

    def write(self, result: FileResult) -> None:
        row = {"path": result.path, "error": result.error, "reason": result.reason}
        pred = result.prediction
        if pred is not None:
            row.update(age_group=pred.age_group, duration_s=f"{pred.duration_s:.3f}", reliable=pred.reliable,
                       unreliable_reasons=" ".join(pred.unreliable_reasons),
                       **{f"p_{c}": f"{pred.probabilities[c]:.4f}" for c in self.classes},
                       **(pred.quality.to_dict() if pred.quality is not None else {}))
            if self.genders and pred.gender_probabilities:
                row.update(gender=pred.gender,
                           **{f"p_{g}": f"{pred.gender_probabilities[g]:.4f}" for g in self.genders})
        self.writer.writerow(row)
        self.file.flush()

    def close(self) -> None:
        self.file.close()
