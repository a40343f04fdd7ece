"""The artifact layer: one class per folder kind names its files, and every stage uses it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO
from deepfake_detection.artifacts import (
    PREDICTIONS_LOG,
    BenchDir,
    CropsDir,
    ModelDir,
    ModelsDir,
    RunDir,
    StackerDir,
    StudyDir,
)
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
    assert run.stacker == StackerDir.of(run.models) == run.models.stacker
    assert run.stacker.spec.parent.parent == run.models.path
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
    done = extract_dataset(index.head(2), crops, replace(ExtractConfig(frames=2), detector="haar"),
                           data_dir=demo_dir / "train")
    assert done.crops == crops and len(done.videos) == 2 and tuple(done.videos.columns) == CropsDir.VIDEOS_COLUMNS
    assert tuple(pd.read_csv(crops.manifest).columns) == CropsDir.MANIFEST_COLUMNS
    assert tuple(pd.read_csv(crops.videos).columns) == CropsDir.VIDEOS_COLUMNS
    assert crops.settings.is_file() and len(list(crops.parts.glob("*.json"))) == 2


def test_the_layout_file_names_are_written_in_one_place_only():
    names = (*ModelDir.FILES, ModelDir.HISTORY, CropsDir.MANIFEST, CropsDir.SETTINGS, CropsDir.PARTS, CropsDir.TMP,
             StackerDir.FILE, StackerDir.REPORT, ModelsDir.CARD, BenchDir.RESULTS_MD, BenchDir.RESULTS_JSON,
             PREDICTIONS_LOG, "index.csv", "folds.csv", "evaluation.json", "timings.json")
    for name in names:
        hits = subprocess.run(["grep", "-rnF", f'"{name}"', str(REPO / "src")], capture_output=True, text=True).stdout
        assert len(hits.splitlines()) == 1 and "artifacts.py" in hits, hits


def _model_folder(models: ModelsDir, name: str, files: tuple[str, ...]) -> ModelDir:
    folder = models.model(name)
    folder.path.mkdir(parents=True)
    for file in files:
        (folder.path / file).write_text("x")
    return folder


def test_models_dir_tells_deployable_stackable_and_stacked_members_apart(tmp_path):
    """A models folder: what predict loads (model.keras), what the stacker fits on (OOF), and what the stacker uses."""
    models = ModelsDir(tmp_path / "models")
    assert models.members() == [] and not models.has_stacker()  # not there yet: nothing, no error
    both = _model_folder(models, "b_both", (ModelDir.MODEL, ModelDir.OOF_FRAMES))
    served = _model_folder(models, "a_served", (ModelDir.MODEL, ModelDir.CONFIG))
    oof_only = _model_folder(models, "c_oof", (ModelDir.OOF_VIDEOS,))
    _model_folder(models, "d_empty", ())  # neither: not a model folder
    models.stacker.path.mkdir()
    assert models.members() == [served, both, oof_only]  # by name, the stacker's folder never one of them
    assert models.deployable() == [served, both] and models.stackable() == [both, oof_only]
    assert models.stacked() == [served, both]  # no stacker: every deployable model
    models.stacker.save({"models": [{"name": "b_both", "path": f"b_both/{ModelDir.MODEL}"}]})
    assert models.has_stacker() and models.stacked() == [both]  # the stacker's base models, in its order

    with pytest.raises(FileNotFoundError, match="lacks oof_frames.csv"):  # nothing half-copied
        served.copy_to(tmp_path / "strict", (ModelDir.MODEL, ModelDir.OOF_FRAMES), missing_ok=False)
    assert not (tmp_path / "strict").exists()
    copy = served.copy_to(tmp_path / "zoo" / served.name, (ModelDir.MODEL,))
    assert copy == ModelDir(tmp_path / "zoo" / "a_served") and [p.name for p in copy.path.iterdir()] == [ModelDir.MODEL]
    assert models.stacker.copy_to(ModelsDir(tmp_path / "zoo").stacker).load() == models.stacker.load()


def test_folders_are_path_like_and_name_each_other(tmp_path):
    """A folder object goes where a path goes (open, Path, str, another folder), so stages take either."""
    crops = CropsDir(tmp_path / "crops")
    assert CropsDir(crops) == crops == CropsDir(str(tmp_path / "crops")) and str(crops) == str(crops.path)
    assert Path(ModelDir(crops)) == crops.path
    study = StudyDir(tmp_path / "work")
    fold_model = study.models.model("meso4").fold(2).model
    assert fold_model == tmp_path / "work" / "models" / "meso4" / "fold_2" / "model.keras"
    assert study.folds.parent == study.path
    bench = BenchDir(tmp_path / "out")
    bench.path.mkdir()
    bench.results_json.write_text('{"facts": {"n": 3}}')
    assert bench.load() == {"facts": {"n": 3}} and bench.figures.parent == bench.path
