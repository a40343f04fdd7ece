"""Every notebook runs headless, in order, on small demo data made on the fly (quick mode).

The story runs as two chains, one per file, so `make test`'s two workers run them side by side: this one goes from
EDA to the submission and the one-video report with the three lighter backbones; test_notebooks_heavy.py trains
the two heaviest (DenseNet121, InceptionResNetV2) on the same preprocessing. Together they run all nine.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from deepfake_detection.notebook_runner import notebook_sources, run_notebooks
from deepfake_detection.submission import expected_filenames, validate_submission

REPO_REPORTS = Path(__file__).resolve().parents[1] / "reports"
# notebook name prefixes of each chain; 02 (crops and folds) starts both
STORY = ("01", "02", "03", "04", "07", "08", "09")
HEAVY = ("02", "05", "06")


def files(folder: Path) -> dict[str, int]:
    """Relative path -> mtime (ns) of every file under folder."""
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def run_chain(prefixes: tuple[str, ...], demo_dir: Path, tmp_path: Path) -> Path:
    """Run the notebooks whose names start with `prefixes`, in order, on the demo data; returns the work folder.
    Each must write its output notebook, and none may write into the checkout's reports/."""
    before = files(REPO_REPORTS)
    work = tmp_path / "work"
    parameters = {"DATA_DIR": str(demo_dir), "WORK_DIR": str(work), "QUICK": True, "SEED": 0}
    runs = run_notebooks(parameters, tmp_path / "build", only=list(prefixes))
    assert [r.name for r in runs] == [s.stem for s in notebook_sources() if s.stem.startswith(prefixes)]
    assert len(runs) == len(prefixes)
    for run in runs:
        assert run.output.exists()
    assert (work / "crops" / "manifest.csv").exists()
    assert files(REPO_REPORTS) == before, "the notebook run wrote into the checkout's reports/"
    return work


def test_the_two_chains_run_every_notebook_once_after_the_preprocessing():
    stems = [s.stem for s in notebook_sources()]
    assert len(stems) == 9
    for stem in stems:
        owners = [chain for chain in (STORY, HEAVY) if stem.startswith(chain)]
        assert len(owners) == (2 if stem.startswith("02") else 1), stem
    assert STORY[:2] == ("01", "02") and HEAVY[0] == "02" and STORY[-2:] == ("08", "09")


@pytest.mark.slow
@pytest.mark.longest
def test_story_notebooks_run_in_order_to_a_valid_submission(demo_dir, tmp_path):
    work = run_chain(STORY, demo_dir, tmp_path)
    trained = sorted(p.parent.name for p in (work / "models").glob("*/oof_videos.csv"))
    assert trained == ["efficientnet_b0", "mobilenet_v3_large", "xception"]  # three models under the stacker
    submission = work / "submission.csv"
    assert validate_submission(submission, expected_filenames(demo_dir / "test_videos")) == []
    assert pd.read_csv(submission)["label"].between(0, 1).all()
    assert (work / "figures" / "training_xception.png").is_file()  # the run owns its figures
