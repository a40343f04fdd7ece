"""The artifact layer: one class per folder kind names its files, and every stage uses it."""

from __future__ import annotations

import subprocess

import pandas as pd

from conftest import REPO
from deepfake_detection.artifacts import PREDICTIONS_LOG, CropsDir, ModelDir, RunDir, StackerDir
from deepfake_detection.config import TrainConfig, to_json


def test_model_dir_names_its_files_and_reads_its_training_settings(tmp_path):
    folder = ModelDir(tmp_path / "meso")
    assert (folder.model.name, folder.config.name, folder.oof_frames.name, folder.oof_videos.name) == ModelDir.FILES
    assert folder.train_config() == TrainConfig()  # no config.json yet: the defaults
    folder.path.mkdir()
    to_json(TrainConfig(model="meso4", size=96, resize="linear"), folder.config)
    settings = folder.train_config()
    assert (settings.model, settings.size, settings.resize) == ("meso4", 96, "linear")


def test_run_dir_nests_the_crops_models_and_stacker_folders(tmp_path):
    run = RunDir(tmp_path / "run")
    assert run.crops == CropsDir(tmp_path / "run" / "crops")
    assert run.stacker == StackerDir.of(run.models) and run.stacker.spec.parent.parent == run.models
    assert run.predictions_log.name == PREDICTIONS_LOG and run.predictions_log.parent == run.submission.parent
    assert CropsDir(tmp_path).part("abc") == tmp_path / CropsDir.PARTS / "abc.json"
    assert set(CropsDir.REQUIRED_COLUMNS) < set(CropsDir.MANIFEST_COLUMNS)


def test_stacker_dir_saves_and_loads_its_spec_atomically(tmp_path):
    spec = {"models": [{"name": "meso4", "path": "meso4/model.keras"}], "fallback": 0.5}
    folder = StackerDir.of(tmp_path / "models")
    assert folder.save(spec) == folder.spec and folder.load() == spec
    assert StackerDir.at(folder.spec) == folder and StackerDir.at(folder.path) == folder  # the file or its folder
    assert [p.name for p in folder.path.iterdir()] == [StackerDir.FILE]  # no temporary file left behind


def test_extract_writes_the_crops_dir_schema(demo_dir, tmp_path):
    """An extraction's manifest.csv and videos.csv have exactly the columns CropsDir declares."""
    from dataclasses import replace

    from deepfake_detection.config import ExtractConfig
    from deepfake_detection.dataset import index_videos
    from deepfake_detection.extract import extract_dataset

    index, _ = index_videos(demo_dir / "train", probe=False)
    crops = CropsDir(tmp_path / "crops")
    extract_dataset(index.head(2), crops.path, replace(ExtractConfig(frames=2), detector="haar"),
                    data_dir=demo_dir / "train")
    assert tuple(pd.read_csv(crops.manifest).columns) == CropsDir.MANIFEST_COLUMNS
    assert tuple(pd.read_csv(crops.videos).columns) == CropsDir.VIDEOS_COLUMNS
    assert crops.settings.is_file() and len(list(crops.parts.glob("*.json"))) == 2


def test_the_layout_file_names_are_written_in_one_place_only():
    names = (*ModelDir.FILES, CropsDir.MANIFEST, CropsDir.SETTINGS, CropsDir.PARTS, CropsDir.TMP, StackerDir.FILE,
             StackerDir.REPORT, PREDICTIONS_LOG, "index.csv", "evaluation.json", "timings.json")
    for name in names:
        hits = subprocess.run(["grep", "-rn", f'"{name}"', str(REPO / "src")], capture_output=True, text=True).stdout
        assert len(hits.splitlines()) == 1 and "artifacts.py" in hits, hits
