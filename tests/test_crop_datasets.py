"""Face-crop datasets as a first-class input: index, group folds and training with no extraction step."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from conftest import require_shared
from deepfake_detection.artifacts import CropsDir
from deepfake_detection.dataset import index_videos, is_crop_dataset, make_folds


def write_folder_dataset(root: Path, n_per_class: int = 6, size: int = 48, seed: int = 0) -> Path:
    """REAL/ and FAKE/ subfolders of small JPEG crops: FAKE crops carry a bright square, REAL ones do not."""
    rng = np.random.default_rng(seed)
    for label in ("REAL", "FAKE"):
        (root / label).mkdir(parents=True)
        for i in range(n_per_class):
            image = rng.integers(60, 120, (size, size, 3), dtype=np.uint8)
            if label == "FAKE":
                image[12:36, 12:36] = 230
            cv2.imwrite(str(root / label / f"{label.lower()}_{i:02d}.jpg"), image)
    return root


def test_shared_dfdc_crops_index_with_their_groups_and_fold_by_group():
    root = require_shared("data", "dfdc-faces")
    assert is_crop_dataset(root)
    index, problems = index_videos(root)
    labels = pd.read_csv(root / "labels.csv")
    assert len(index) == len(labels) == 15172 and problems.missing_videos == 0
    assert int((index["label"] == 1).sum()) == 8068 and int((index["label"] == 0).sum()) == 7104
    assert index["group"].nunique() == labels["group"].nunique()
    folds = make_folds(index, k=5, seed=0)
    assert (folds.groupby("group")["fold"].nunique() == 1).all()  # a fake never leaves its original's fold
    assert folds.groupby("fold")["label"].mean().between(0.5, 0.56).all()  # stratified
    manifest = CropsDir(root).load()  # no manifest.csv: the crops are the manifest
    assert len(manifest) == 15172 and Path(manifest["path"].iloc[0]).is_file()
    assert set(manifest["video_id"]) == set(index["video_id"])


def test_real_fake_subfolders_index_train_and_stack_without_extraction(tmp_path):
    from deepfake_detection.config import PredictConfig, TrainConfig
    from deepfake_detection.ensemble import fit_stacker
    from deepfake_detection.train import train_model

    root = write_folder_dataset(tmp_path / "crops")
    index, _ = index_videos(root)
    assert len(index) == 12 and index["group"].nunique() == 12  # no labels.csv: each crop is its own group
    folds = make_folds(index, k=3, seed=0)
    folds.to_csv(tmp_path / "folds.csv", index=False)
    cfg = TrainConfig(model="meso4", size=48, batch_size=4, epochs=1, steps_per_epoch=2, augment=(), verbose=0,
                      select_best=False)
    trained = train_model(root, tmp_path / "folds.csv", cfg, out_dir=tmp_path / "models" / "meso4")
    oof = pd.read_csv(trained.model_dir.oof_videos)
    assert len(oof) == 12 and oof["n_frames"].eq(1).all()  # one OOF prediction per crop
    result = fit_stacker([trained.model_dir], PredictConfig())
    assert result.spec["n_videos"] == 12 and np.isfinite(result.scores["balanced_log_loss"]).all()


def test_bad_labels_csv_is_refused_with_the_reason(tmp_path):
    root = write_folder_dataset(tmp_path / "crops")
    pd.DataFrame({"file": ["REAL/real_00.jpg"], "label": ["MAYBE"]}).to_csv(root / "labels.csv", index=False)
    with pytest.raises(ValueError, match="label other than FAKE/REAL"):
        index_videos(root)
    pd.DataFrame({"file": ["../outside.jpg"], "label": ["REAL"]}).to_csv(root / "labels.csv", index=False)
    with pytest.raises(ValueError):
        index_videos(root)
