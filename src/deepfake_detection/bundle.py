"""A folder to upload as a Kaggle dataset, so the submission notebook runs with the internet off.

It holds a wheel of this package, wheels of Keras and of what the Kaggle image lacks (mtcnn and its
small dependencies), the trained models with their out-of-fold files and the stacker, and notebook 08
with its paths pointed at `/kaggle/input/<dataset>` and `/kaggle/working/submission.csv`. On
Kaggle the notebook installs the wheels with `pip install --no-index --find-links`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

import pandas as pd

from deepfake_detection.artifacts import ModelDir, ModelsDir
from deepfake_detection.config import project_root

log = logging.getLogger(__name__)

NOTEBOOK_NAME = "08_stack_and_submit.py"  # in the checkout's notebooks/ (config.project_root)
DEFAULT_DATASET = "deepfake-detection-bundle"
COMPETITION_INPUT = "/kaggle/input/deepfake-detection-challenge"
KAGGLE_WORKING = "/kaggle/working"
MAX_BYTES = 1_000_000_000  # largest bundle accepted (Kaggle datasets allow more; uploads this big get slow)
# Wheels the bundle carries: Keras (the model files are written by this Keras; an image's older Keras may not
# read them), and what the Kaggle image lacks (mtcnn and its small dependencies). The notebook installs them with
# --no-deps: TensorFlow and the rest come from the image.
EXTRA_PACKAGES = ("keras", "mtcnn", "joblib", "lz4")
INSTALLER_FILES = ("INSTALLER", "REQUESTED", "RECORD", "direct_url.json")  # written by pip on install, not in wheels


class BundleTooLarge(ValueError):
    """The bundle would exceed MAX_BYTES; the message lists each part's size."""


def _installed_pins(packages: tuple[str, ...]) -> list[str]:
    """`name==version` of the installed packages, so Kaggle gets the versions tested here."""
    return [f"{name}=={metadata.version(name)}" for name in packages]


def build_package_wheel(dest: Path) -> Path:
    """Wheel of this package, built from a copy of the source so the repository stays clean."""
    repo = project_root()
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("pyproject.toml", "README.md"):
            if (repo / name).exists():
                shutil.copy2(repo / name, Path(tmp) / name)
        shutil.copytree(repo / "src", Path(tmp) / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                        "-w", str(dest), tmp], check=True)
    return next(dest.glob("deepfake_detection-*.whl"))


def wheel_from_installed(name: str, dest: Path) -> Path:
    """Repack an installed distribution, as installed, into a wheel in dest: the exact version tested here, offline.

    Files outside site-packages (console scripts, which pip regenerates from entry_points.txt), byte code and
    the installer's own records are left out; RECORD is written anew.
    """
    dist = metadata.distribution(name)
    files = [f for f in dist.files or [] if ".." not in f.parts and "__pycache__" not in f.parts]
    info = next((f.parts[0] for f in files if f.parts[0].endswith(".dist-info")), None)
    tags = [line.split(":", 1)[1].strip() for line in (dist.read_text("WHEEL") or "").splitlines()
            if line.startswith("Tag:")]
    if info is None or not tags:
        raise ValueError(f"installed {name} has no dist-info with wheel tags to repack")
    tag = "-".join(".".join(dict.fromkeys(t.split("-")[i] for t in tags)) for i in range(3))
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / f"{re.sub(r'[-_.]+', '_', dist.metadata['Name'])}-{dist.version}-{tag}.whl"
    record = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as wheel:
        for file in files:
            if file.parts[0] == info and file.name in INSTALLER_FILES:
                continue
            data = Path(dist.locate_file(file)).read_bytes()
            wheel.writestr(file.as_posix(), data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{file.as_posix()},sha256={digest},{len(data)}")
        wheel.writestr(f"{info}/RECORD", "\n".join([*record, f"{info}/RECORD,,"]) + "\n")
    return path


def fetch_wheels(dest: Path, wheels_from: Path | None = None) -> list[Path]:
    """Wheels of EXTRA_PACKAGES: copied from a local folder, else `pip download --no-deps` from PyPI,
    else (no network) repacked from the installed packages."""
    dest.mkdir(parents=True, exist_ok=True)
    if wheels_from is not None:
        picked = [w for name in EXTRA_PACKAGES for w in sorted(Path(wheels_from).glob(f"{name}-*.whl"))]
        missing = [n for n in EXTRA_PACKAGES if not any(w.name.startswith(f"{n}-") for w in picked)]
        if missing:
            raise FileNotFoundError(f"no wheel for {missing} in {wheels_from}")
        return [Path(shutil.copy2(w, dest / w.name)) for w in picked]
    try:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
                        "-d", str(dest), *_installed_pins(EXTRA_PACKAGES)], check=True)
    except subprocess.CalledProcessError as exc:
        log.warning("pip download failed (%s; no network?): repacking the installed %s", exc, ", ".join(EXTRA_PACKAGES))
        return [wheel_from_installed(name, dest) for name in EXTRA_PACKAGES]
    return sorted(dest.glob("*.whl"))


def kaggle_notebook_source(dataset: str, source: Path | None = None) -> str:
    """Notebook 08's jupytext text with its parameters pointed at the Kaggle input and working folders."""
    source = source or project_root() / "notebooks" / NOTEBOOK_NAME
    root = f"/kaggle/input/{dataset}"
    values = {
        "DATA_DIR": COMPETITION_INPUT,
        "WORK_DIR": KAGGLE_WORKING,
        "MODELS_DIR": f"{root}/models",
        "WHEELS_DIR": f"{root}/wheels",
        "VIDEOS_DIR": f"{COMPETITION_INPUT}/test_videos",
        "SAMPLE_SUBMISSION": f"{COMPETITION_INPUT}/sample_submission.csv",
        "OUT": f"{KAGGLE_WORKING}/submission.csv",
        "STACKER_DIR": f"{KAGGLE_WORKING}/stacker",
        "REPORTS_DIR": f"{KAGGLE_WORKING}/reports",
        "LABELS": None,
        "QUICK": False,
    }
    text = source.read_text()
    for name, value in values.items():
        text, n = re.subn(rf"^{name} = .*$", f"{name} = {value!r}", text, count=1, flags=re.M)
        if n != 1:
            raise ValueError(f"{source.name} has no `{name} = ...` parameter line")
    return text


def write_kaggle_notebook(dest_dir: Path, dataset: str) -> Path:
    """Kaggle copy of notebook 08 as .ipynb (what Kaggle opens) and .py."""
    import jupytext

    text = kaggle_notebook_source(dataset)
    dest_dir.mkdir(parents=True, exist_ok=True)
    (dest_dir / NOTEBOOK_NAME).write_text(text)
    path = dest_dir / Path(NOTEBOOK_NAME).with_suffix(".ipynb").name
    jupytext.write(jupytext.reads(text, fmt="py:percent"), path, fmt="ipynb")
    return path


BUNDLE_README = "README.md"


def write_bundle_readme(root: Path, dataset: str) -> Path:
    """README.md of the bundle: what it holds, how the notebook installs it, and what it was tested against."""
    wheels = sorted(p.name for p in (root / "wheels").glob("*.whl"))
    models = sorted(p.name for p in (root / "models").iterdir() if p.is_dir())
    tf = _installed_pins(("tensorflow",))[0] if _has_distribution("tensorflow") else "tensorflow (not installed)"
    lines = [
        f"# {dataset}: offline deepfake-detection bundle",
        "",
        "Attach this dataset to a Kaggle notebook with the internet off and run `notebook/"
        f"{Path(NOTEBOOK_NAME).with_suffix('.ipynb').name}`. Its first cell installs the wheels below with",
        "`pip install --no-index --no-deps --find-links wheels/`; TensorFlow and the rest come from the image.",
        "",
        "- wheels: " + ", ".join(f"`{w}`" for w in wheels),
        "- models: " + ", ".join(f"`{m}`" for m in models),
        "",
        "## Tested against",
        "",
        f"- built with Python {sys.version.split()[0]} and `{tf}`;",
        "- `tests/test_predict.py::test_bundle_installs_offline_and_its_notebook_runs`: a fresh virtual",
        "  environment that lends the build machine's packages *except* the bundled ones (Keras, mtcnn and",
        "  this package come only from `wheels/`), installs with `--no-index`, and runs the notebook on demo videos;",
        "- not run on a Kaggle image from here: there is no access to one. An image whose TensorFlow is older than",
        "  the one above may not run the bundled Keras; rebuild the bundle with that TensorFlow installed.",
        "",
    ]
    path = root / BUNDLE_README
    path.write_text("\n".join(lines))
    return path


def _has_distribution(name: str) -> bool:
    try:
        metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return False
    return True


def _size_table(root: Path) -> pd.DataFrame:
    """Files and bytes per top-level part of the bundle (models listed per model)."""
    rows = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        parts = path.relative_to(root).parts
        part = "/".join(parts[:2]) if parts[0] == "models" and len(parts) > 2 else parts[0]
        rows.append({"part": part, "bytes": path.stat().st_size})
    table = pd.DataFrame(rows, columns=["part", "bytes"])
    return table.groupby("part", sort=True).agg(files=("bytes", "size"), bytes=("bytes", "sum")).reset_index()


def build_bundle(models_dir: ModelsDir | str | Path, out_dir: str | Path, dataset_name: str | None = None,
                 wheels_from: str | Path | None = None, max_bytes: int = MAX_BYTES) -> pd.DataFrame:
    """Write the Kaggle dataset folder; raise BundleTooLarge (with sizes) above max_bytes. Returns the size table.

    It carries the stacker's base models when there is a stacker, else every model folder."""
    models, out_dir = ModelsDir(models_dir), Path(out_dir)
    dataset = dataset_name or DEFAULT_DATASET
    dirs = models.stacked()
    if not dirs:
        raise FileNotFoundError(f"no */{ModelDir.MODEL} under {models.path}")
    model_bytes = sum((d.path / f).stat().st_size for d in dirs for f in ModelDir.FILES if (d.path / f).exists())
    if model_bytes > max_bytes:
        sizes = ", ".join(f"{d.name} {d.model.stat().st_size / 1e6:.1f} MB" for d in dirs)
        raise BundleTooLarge(f"models alone are {model_bytes / 1e6:.1f} MB > {max_bytes / 1e6:.0f} MB ({sizes})")

    staging = out_dir.with_name(f".{out_dir.name}.staging")
    shutil.rmtree(staging, ignore_errors=True)
    staged = ModelsDir(staging / "models")
    staged.path.mkdir(parents=True)
    for d in dirs:
        d.copy_to(staged.model(d.name))
    if models.has_stacker():
        models.stacker.copy_to(staged.stacker)
    build_package_wheel(staging / "wheels")
    fetch_wheels(staging / "wheels", Path(wheels_from) if wheels_from else None)
    write_kaggle_notebook(staging / "notebook", dataset)
    write_bundle_readme(staging, dataset)
    (staging / "dataset-metadata.json").write_text(json.dumps(
        {"title": dataset, "id": f"KAGGLE_USERNAME/{dataset}", "licenses": [{"name": "other"}]}, indent=2) + "\n")

    sizes = _size_table(staging)
    total = int(sizes["bytes"].sum())
    if total > max_bytes:
        shutil.rmtree(staging)
        table = sizes.to_string(index=False)
        raise BundleTooLarge(f"bundle is {total / 1e6:.1f} MB > {max_bytes / 1e6:.0f} MB:\n{table}")
    shutil.rmtree(out_dir, ignore_errors=True)
    staging.rename(out_dir)
    log.info("bundle for dataset %s: %.1f MB in %s", dataset, total / 1e6, out_dir)
    return sizes
