"""The artifact layer: one class names the files of a trained model folder, and every stage uses it."""

from __future__ import annotations

import subprocess

from conftest import REPO
from deepfake_detection.artifacts import ModelDir
from deepfake_detection.config import TrainConfig, to_json


def test_model_dir_names_its_files_and_reads_its_training_settings(tmp_path):
    folder = ModelDir(tmp_path / "meso")
    assert (folder.model.name, folder.config.name, folder.oof_frames.name, folder.oof_videos.name) == ModelDir.FILES
    assert folder.train_config() == TrainConfig()  # no config.json yet: the defaults
    folder.path.mkdir()
    to_json(TrainConfig(model="meso4", size=96, resize="linear"), folder.config)
    settings = folder.train_config()
    assert (settings.model, settings.size, settings.resize) == ("meso4", 96, "linear")


def test_the_layout_file_names_are_written_in_one_place_only():
    for name in ModelDir.FILES:
        hits = subprocess.run(["grep", "-rn", f'"{name}"', str(REPO / "src")], capture_output=True, text=True).stdout
        assert len(hits.splitlines()) == 1 and "artifacts.py" in hits, hits
