"""The real pipeline on a slice of real Common Voice clips (skipped when ../shared is absent)."""

import json

from voxage.cli import main
from voxage.data.manifest import read_manifest


def test_real_common_voice_slice(shared_cv, tmp_path):
    work = tmp_path / "work"
    assert main(["prepare", str(shared_cv), "--out", str(work), "--workers", "2", "--limit", "400", "--quiet",
                 "--balance", "none"]) == 0
    rows = read_manifest(work / "manifest.tsv")
    assert len(rows) > 350
    splits = {}
    for r in rows:
        splits.setdefault(r.speaker, set()).add(r.split)
    assert all(len(s) == 1 for s in splits.values())
    assert main(["train", str(work), "--model", "cnn", "--epochs", "2", "--quiet"]) == 0
    assert main(["evaluate", str(work / "runs" / "cnn")]) == 0
    report = json.loads((work / "runs" / "cnn" / "report.json").read_text())
    assert report["n"] > 0 and 0 <= report["balanced_accuracy"] <= 1
