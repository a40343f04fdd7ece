"""The package as a user outside this checkout gets it: a wheel, installed into a fresh virtual environment,
run from a folder that is not the repository.

Nothing downloads: the wheel is built offline (bundle.build_package_wheel) and installed with --no-index. Its
third-party dependencies (TensorFlow and the rest, declared in pyproject.toml) are lent from this test run's own
environment through a .pth path line; the package itself can only come from the wheel, which the test checks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(args: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """This package's wheel, built once for the module."""
    from deepfake_detection.bundle import build_package_wheel

    return build_package_wheel(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> tuple[Path, Path]:
    """(python of a fresh venv holding only the wheel, a working folder outside the repository)."""
    root = tmp_path_factory.mktemp("wheel")
    venv = root / "venv"
    made = _run([sys.executable, "-m", "venv", str(venv)], cwd=root)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     cwd=root).stdout.strip())
    (site / "lent_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = _run([str(python), "-m", "pip", "install", "--no-index", "--no-deps", "--quiet", str(wheel)], cwd=root)
    assert install.returncode == 0, install.stderr[-3000:]
    work = root / "elsewhere"
    work.mkdir()
    return python, work


def test_wheel_holds_the_package_and_declares_its_dependencies(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    modules = {Path(n).name for n in names if n.startswith("deepfake_detection/")}
    assert {"__init__.py", "__main__.py", "cli.py", "config.py", "config_flags.py", "predict.py"} <= modules
    assert not any("tests/" in n or n.startswith("notebooks/") for n in names)
    required = {line.split(":", 1)[1].strip().split(">")[0].split("[")[0].split("=")[0].split("<")[0]
                for line in metadata.splitlines() if line.startswith("Requires-Dist:")}
    assert {"tensorflow", "keras", "mtcnn", "opencv-python-headless", "pandas", "scikit-learn"} <= required


def test_installed_package_comes_from_the_wheel_not_the_checkout(installed):
    python, work = installed
    where = _run([str(python), "-c", "import deepfake_detection, json; print(json.dumps(deepfake_detection.__file__))"],
                 cwd=work)
    assert where.returncode == 0, where.stderr[-2000:]
    location = Path(json.loads(where.stdout))
    assert python.parent.parent in location.parents and REPO not in location.parents


def test_help_and_demo_data_run_from_the_installed_wheel(installed):
    python, work = installed
    shown = _run([str(python), "-m", "deepfake_detection", "--help"], cwd=work)
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "predict" in shown.stdout and "train" in shown.stdout
    made = _run([str(python), "-m", "deepfake_detection", "demo-data", "demo", "--videos", "4", "--seed", "0",
                 "--workers", "1"], cwd=work)
    assert made.returncode == 0, made.stderr[-3000:]
    metadata = json.loads((work / "demo" / "train" / "metadata.json").read_text())
    assert len(metadata) == 4 and {v["label"] for v in metadata.values()} <= {"FAKE", "REAL"}
    assert all((work / "demo" / "train" / name).stat().st_size > 0 for name in metadata)


def test_checkout_only_commands_say_what_they_need_outside_a_checkout(installed):
    """`notebooks` needs the repository's notebooks/ folder: outside a checkout it says so, without a traceback."""
    python, work = installed
    run = _run([str(python), "-m", "deepfake_detection", "notebooks", "--data", "demo"], cwd=work)
    assert run.returncode != 0
    assert "no checkout of this project" in run.stderr and "Traceback" not in run.stderr
