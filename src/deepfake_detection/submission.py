"""Write and validate Kaggle's `submission.csv` (`filename,label`, label = P(FAKE))."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from deepfake_detection.config import VIDEO_EXTENSIONS
from deepfake_detection.io import atomic_write_csv

HEADER = ["filename", "label"]


def expected_filenames(videos_dir: str | Path | None = None, sample_submission: str | Path | None = None) -> list[str]:
    """Test file names in the order Kaggle expects: the sample submission's, else sorted folder listing."""
    if sample_submission is not None and Path(sample_submission).exists():
        return pd.read_csv(sample_submission)["filename"].astype(str).tolist()
    if videos_dir is None:
        raise ValueError("need a videos folder or a sample submission to know the test files")
    return sorted(p.name for p in Path(videos_dir).iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)


def write_submission(predictions: dict[str, float], path: str | Path, order: list[str] | None = None) -> pd.DataFrame:
    """Write `filename,label` rows, in `order` when given (every name in it must have a prediction)."""
    names = order if order is not None else sorted(predictions)
    missing = [n for n in names if n not in predictions]
    if missing:
        raise KeyError(f"{len(missing)} files have no prediction, e.g. {missing[:3]}")
    frame = pd.DataFrame({"filename": names, "label": [float(predictions[n]) for n in names]})
    atomic_write_csv(frame, path)
    return frame


def validate_submission(path: str | Path, expected: list[str] | None = None) -> list[str]:
    """Problems with a submission file, one line each; an empty list means it is valid."""
    path = Path(path)
    if not path.exists():
        return [f"{path}: file not found"]
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        return [f"{path}: not a readable CSV ({exc})"]
    problems = []
    if list(frame.columns) != HEADER:
        problems.append(f"header is {list(frame.columns)}, expected {HEADER}")
        if not set(HEADER) <= set(frame.columns):
            return problems
    names = frame["filename"].astype(str)
    for name in sorted(names[names.duplicated()].unique()):
        problems.append(f"duplicate row for {name}")
    labels = pd.to_numeric(frame["label"], errors="coerce")
    for name in names[labels.isna()]:
        problems.append(f"label of {name} is missing or not a number")
    outside = labels.notna() & ((labels < 0) | (labels > 1) | ~np.isfinite(labels))
    for name, value in zip(names[outside], labels[outside], strict=True):
        problems.append(f"label of {name} is {value}, outside [0, 1]")
    if expected is not None:
        present, wanted = set(names), set(expected)
        problems += [f"missing file {n}" for n in sorted(wanted - present)]
        problems += [f"extra file {n}" for n in sorted(present - wanted)]
    return problems
