"""`voxage demo`: the whole pipeline on a SYNTHETIC corpus in a few minutes on 2 CPU cores."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def run_demo(cli: Callable[[list[str]], int], out: Path, epochs: int = 20) -> int:
    """Run the pipeline's CLI steps through `cli` (voxage.cli.main, passed in so the two modules do not import
    each other)."""
    out = Path(out)
    corpus, work = out / "synthetic-corpus", out / "work"
    run = work / "runs" / "cnn"
    print("== 1/5 writing a SYNTHETIC corpus in Common Voice layout (generated voices, not people)")
    if not (corpus / "validated.tsv").is_file():
        cli(["synth-corpus", str(corpus)])
    print("== 2/5 prepare: clean, decode MP3 once into the feature cache, balance, split by speaker")
    steps = [
        ["prepare", str(corpus), "--out", str(work)],
        ["train", str(work), "--model", "cnn", "--epochs", str(epochs), "--run-dir", str(run)]
        + (["--resume"] if (run / "checkpoints" / "last.ckpt").is_file() else []),
        ["evaluate", str(run)],
        ["predict", str(run / "model.pth"), str(sorted((corpus / "clips").glob("*.mp3"))[0])],
    ]
    for n, step in enumerate(steps, start=2):
        if n > 2:
            print(f"== {n}/5 {step[0]}")
        rc = cli(step)
        if rc:
            return rc
    print(f"\ndone. report: {run / 'report.json'}\nplots:  {run / 'confusion_matrix.png'}  "
          f"{run / 'training_curves.png'}\nTensorBoard: tensorboard --logdir {run / 'tensorboard'}")
    return 0
