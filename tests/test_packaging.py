"""What a user downloads: valid metadata (twine check), the assets prediction needs, nothing from tests or docs."""

import subprocess
import sys
import tarfile
import zipfile

from voxage import __version__


def test_wheel_and_sdist_pass_twine_check(built_dists):
    assert {d.suffix for d in built_dists} == {".whl", ".gz"}
    proc = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *map(str, built_dists)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("PASSED") == 2


def test_wheel_holds_the_assets_and_no_tests_or_docs(built_dists):
    (wheel,) = [d for d in built_dists if d.suffix == ".whl"]
    names = set(zipfile.ZipFile(wheel).namelist())
    for asset in ("default_model.onnx", "default_model.head.onnx", "default_model.pth", "ge2e_encoder.onnx",
                  "GE2E-LICENSE", "MODEL_CARD.md", "catalogue.json"):
        assert f"voxage/assets/{asset}" in names, asset
    assert "voxage/serving/static/index.html" in names
    assert f"voxage-{__version__}.dist-info/licenses/LICENSE" in names
    assert not [n for n in names if n.split("/")[0] in ("tests", "docs", "benchmarks", "scripts", "examples")]
    metadata = zipfile.ZipFile(wheel).read(f"voxage-{__version__}.dist-info/METADATA").decode()
    assert "License-Expression: MIT" in metadata
    assert "Classifier: Topic :: Multimedia :: Sound/Audio :: Speech" in metadata
    assert "Requires-Python: >=3.10" in metadata and "Description-Content-Type: text/markdown" in metadata


def test_sdist_builds_the_same_package(built_dists):
    (sdist,) = [d for d in built_dists if d.suffix == ".gz"]
    names = tarfile.open(sdist).getnames()
    root = f"voxage-{__version__}"
    for member in ("pyproject.toml", "README.md", "LICENSE", "src/voxage/assets/default_model.onnx"):
        assert f"{root}/{member}" in names, member
