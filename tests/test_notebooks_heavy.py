"""The two heaviest training notebooks (DenseNet121, InceptionResNetV2) run headless after the preprocessing
notebook, on the demo data in quick mode: the second chain of test_notebooks_run.py, in its own file so that
`make test`'s other worker runs it."""

from __future__ import annotations

import pandas as pd
import pytest

from test_notebooks_run import HEAVY, run_chain


@pytest.mark.slow
@pytest.mark.longest
def test_heavy_training_notebooks_write_out_of_fold_scores_for_every_video(demo_dir, tmp_path):
    work = run_chain(HEAVY, demo_dir, tmp_path)
    videos = pd.read_csv(work / "folds.csv")
    for name in ("densenet121", "inception_resnet_v2"):
        oof = pd.read_csv(work / "models" / name / "oof_videos.csv")
        assert sorted(oof["video_id"]) == sorted(videos.dropna(subset=["label"])["video_id"]), name
        assert oof["p"].between(0, 1).all() and oof["p"].nunique() > 1, name
        assert (work / "models" / name / "model.keras").is_file()
        assert (work / "figures" / f"training_{name}.png").is_file()
