"""Every notebook runs headless, in order, on small demo data made on the fly (quick mode)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from deepfake_detection.notebook_runner import notebook_sources, run_notebooks
from deepfake_detection.submission import expected_filenames, validate_submission

REPO_REPORTS = Path(__file__).resolve().parents[1] / "reports"


def _files(folder: Path) -> dict[str, int]:
    """Relative path -> mtime (ns) of every file under folder."""
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


@pytest.mark.slow
@pytest.mark.longest
def test_all_notebooks_run_in_order(demo_dir, tmp_path):
    before = _files(REPO_REPORTS)
    work = tmp_path / "work"
    parameters = {"DATA_DIR": str(demo_dir), "WORK_DIR": str(work), "QUICK": True, "SEED": 0}
    runs = run_notebooks(parameters, tmp_path / "build")
    assert [r.name for r in runs] == [s.stem for s in notebook_sources()]
    assert len(runs) == 9
    for run in runs:
        assert run.output.exists()
    assert (work / "crops" / "manifest.csv").exists()
    trained = sorted(p.parent.name for p in (work / "models").glob("*/oof_videos.csv"))
    assert trained == ["densenet121", "efficientnet_b0", "inception_resnet_v2", "mobilenet_v3_large", "xception"]
    submission = work / "submission.csv"
    assert validate_submission(submission, expected_filenames(demo_dir / "test_videos")) == []
    assert pd.read_csv(submission)["label"].between(0, 1).all()
    assert (work / "figures" / "training_xception.png").is_file()  # the run owns its figures
    assert _files(REPO_REPORTS) == before, "the notebook run wrote into the checkout's reports/"
