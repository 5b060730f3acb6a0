"""The reference site builds with no warnings, and the example notebook runs top to bottom."""

import subprocess
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "quickstart.ipynb"


def test_docs_build_strict(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    api = (tmp_path / "site" / "python-api" / "index.html").read_text()
    assert "predict_many" in api and "Thread-safe" in api  # generated from the docstrings
    assert "--workers" in (tmp_path / "site" / "cli" / "index.html").read_text()  # from the parser
    assert "/api/predict" in (tmp_path / "site" / "rest-api" / "index.html").read_text()  # from the OpenAPI schema


def test_notebook_is_committed_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


def test_notebook_runs_top_to_bottom():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    where = {"metadata": {"path": str(NOTEBOOK.parent)}}
    NotebookClient(nb, timeout=300, kernel_name="python3", resources=where).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the probability plot
    text = " ".join(str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "age_group" in text and "missing" in text  # the folder table, the bad file's row included
