"""The on-disk layout of what passes between stages, owned in one place.

A face-crops folder (`extract`, and the benchmarks' derived copies), `CropsDir`, holds:
- `<video_id>/<frame>_<track>.jpg`: the crops;
- `manifest.csv`: one row per crop (MANIFEST_COLUMNS); `videos.csv`: one row per video (VIDEOS_COLUMNS);
- `settings.json`: the extraction settings the crops were made with;
- `parts/<video_id>.json`: one per finished video, so a killed run resumes; `.tmp/`: a killed run's leftovers.

A trained model folder (`train`, the benchmarks, the zoo, the bundle), `ModelDir`, holds:
- `model.keras`: the deployed model (the fold models averaged), loadable in Keras safe mode;
- `config.json`: the TrainConfig it was trained with plus run facts (folds, timings, scores);
- `oof_frames.csv` / `oof_videos.csv`: its out-of-fold predictions per crop and per video;
- `history.csv`: per-epoch scores of every fold; `fold_<k>/`: each fold's own model (a ModelDir too).

A folder of model folders (a run's `models/`, the zoo), `ModelsDir`, holds one ModelDir per model, the
stacker's folder and (the zoo) `MODEL_CARD.md`.

A stacker folder, `StackerDir` (by default `stacker/` inside a models folder), holds `stacker.json`: the meta
model, calibration and base-model list as plain numbers; and `stacking.md` with `figures/`: its report.

A benchmark's work folder, `StudyDir`, holds `folds.csv` and `models/` (a ModelsDir that reruns reuse), plus
the suite's crops and detections. Its report folder, `BenchDir`, holds `results.md`, `results.json`, `figures/`
and, for the cross-dataset suites, `videos.csv`.

A pipeline run folder (`demo`, read back by `report`), `RunDir`, holds `data/`, `index.csv`, `folds.csv`,
`eda_summary.md`, `figures/`, `crops/` (a CropsDir), `models/` (ModelDirs and the StackerDir), `submission.csv` with
`predictions_log.csv`, `evaluation.json` and `timings.json`.

Every stage names these files through these classes, so the layout changes in one place.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from deepfake_detection.config import TrainConfig, from_json
from deepfake_detection.io import atomic_write_json

FOLDS = "folds.csv"  # a run's or a benchmark's group folds (dataset.make_folds)
PREDICTIONS_LOG = "predictions_log.csv"  # beside a submission: one row per finished video (predict resumes from it)


@dataclass(frozen=True)
class _Folder:
    """A folder of the layout, named by its path. It is path-like: a str, a Path or another folder names one, and
    open(), Path() and str() see its path."""

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    def __fspath__(self) -> str:
        return str(self.path)

    def __str__(self) -> str:
        return str(self.path)


@dataclass(frozen=True)
class CropsDir(_Folder):
    """One face-crops folder."""

    MANIFEST = "manifest.csv"
    VIDEOS = "videos.csv"
    SETTINGS = "settings.json"
    PARTS = "parts"
    TMP = ".tmp"
    # manifest.csv, one row per crop: where its box was (detected or interpolated between detections), the crop
    # file relative to the folder, and the video's label and group
    MANIFEST_COLUMNS = ("video_id", "frame", "track", "x1", "y1", "x2", "y2", "confidence", "detected",
                        "crop_path", "label", "group")
    REQUIRED_COLUMNS = tuple(c for c in MANIFEST_COLUMNS if c != "detected")  # what training reads
    VIDEOS_COLUMNS = ("video_id", "status", "reason", "frames", "faces", "seconds")  # videos.csv, one per video

    @property
    def manifest(self) -> Path:
        return self.path / self.MANIFEST

    @property
    def videos(self) -> Path:
        return self.path / self.VIDEOS

    @property
    def settings(self) -> Path:
        return self.path / self.SETTINGS

    @property
    def parts(self) -> Path:
        return self.path / self.PARTS

    @property
    def tmp(self) -> Path:
        return self.path / self.TMP

    def part(self, video_id: str) -> Path:
        """The part file that marks `video_id` as finished."""
        return self.parts / f"{video_id}.json"

    def load(self) -> pd.DataFrame:
        """The crop manifest with `path` (folder / crop_path) added; checks the columns training reads.

        A face-crop dataset without manifest.csv (labels.csv or REAL/ FAKE/ folders) is its own manifest.
        """
        from deepfake_detection.dataset import crops_manifest, is_crop_dataset

        if not self.manifest.exists() and is_crop_dataset(self.path):
            manifest = crops_manifest(self.path)
        else:
            manifest = pd.read_csv(self.manifest, dtype={"video_id": str, "group": str, "crop_path": str},
                                   keep_default_na=False, na_values={"label": [""]})
            missing = [c for c in self.REQUIRED_COLUMNS if c not in manifest.columns]
            if missing:
                raise ValueError(f"{self.manifest} lacks columns {missing}")
        manifest["path"] = [str(self.path / p) for p in manifest["crop_path"]]
        return manifest


@dataclass(frozen=True)
class ModelDir(_Folder):
    """One trained model folder."""

    MODEL = "model.keras"
    CONFIG = "config.json"
    OOF_FRAMES = "oof_frames.csv"
    OOF_VIDEOS = "oof_videos.csv"
    HISTORY = "history.csv"
    FILES = (MODEL, CONFIG, OOF_FRAMES, OOF_VIDEOS)  # what a copy of the folder carries

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def model(self) -> Path:
        return self.path / self.MODEL

    @property
    def config(self) -> Path:
        return self.path / self.CONFIG

    @property
    def oof_frames(self) -> Path:
        return self.path / self.OOF_FRAMES

    @property
    def oof_videos(self) -> Path:
        return self.path / self.OOF_VIDEOS

    @property
    def history(self) -> Path:
        return self.path / self.HISTORY

    def fold(self, k: int) -> ModelDir:
        """The folder of fold k's own model (the deployed model.keras averages these)."""
        return ModelDir(self.path / f"fold_{k}")

    def copy_to(self, dest: ModelDir | str | Path, files: tuple[str, ...] = FILES,
                missing_ok: bool = True) -> ModelDir:
        """Copy the named files (by default all a copy carries) into a new model folder dest; a file it lacks is
        skipped, or with missing_ok=False raises FileNotFoundError before anything is copied."""
        missing = [self.path / name for name in files if not (self.path / name).is_file()]
        if missing and not missing_ok:
            raise FileNotFoundError(f"{self.path} lacks {', '.join(p.name for p in missing)}")
        dest = ModelDir(dest)
        dest.path.mkdir(parents=True, exist_ok=True)
        for name in files:
            if (self.path / name).is_file():
                shutil.copy2(self.path / name, dest.path / name)
        return dest

    def is_trained(self) -> bool:
        """A finished training: config.json and the OOF predictions are written last."""
        return self.config.exists() and self.oof_frames.exists()

    def is_stackable(self) -> bool:
        """Has out-of-fold predictions the stacker can fit on."""
        return self.oof_videos.exists() or self.oof_frames.exists()

    def run_info(self) -> dict:
        """config.json as written: the TrainConfig fields plus the run's facts (folds, scores, seconds)."""
        return json.loads(self.config.read_text())

    def train_config(self) -> TrainConfig:
        """How the model was trained (TrainConfig defaults when config.json is absent): its input side and crop
        resize are what serving must repeat."""
        return from_json(TrainConfig, self.config) if self.config.exists() else TrainConfig()


@dataclass(frozen=True)
class StackerDir(_Folder):
    """One stacker folder."""

    NAME = "stacker"  # its folder name inside a models folder (models/stacker, models/zoo/stacker)
    FILE = "stacker.json"
    REPORT = "stacking.md"
    FIGURES = "figures"

    @classmethod
    def of(cls, models_dir: ModelsDir | str | Path) -> StackerDir:
        """The stacker folder inside a models folder."""
        return cls(Path(models_dir) / cls.NAME)

    @classmethod
    def at(cls, path: StackerDir | str | Path) -> StackerDir:
        """The stacker folder a path names: the folder itself, or its stacker.json."""
        if isinstance(path, StackerDir):
            return path
        path = Path(path)
        return cls(path.parent if path.name == cls.FILE and not path.is_dir() else path)

    def save(self, spec: dict) -> Path:
        """Write stacker.json atomically (plain numbers, no pickle); returns its path."""
        return atomic_write_json(spec, self.spec)

    def copy_to(self, dest: StackerDir | str | Path) -> StackerDir:
        """Copy stacker.json (not the report) into the stacker folder dest."""
        dest = StackerDir(dest)
        dest.path.mkdir(parents=True, exist_ok=True)
        shutil.copy2(self.spec, dest.spec)
        return dest

    def load(self) -> dict:
        """Read stacker.json."""
        return json.loads(self.spec.read_text())

    @property
    def spec(self) -> Path:
        return self.path / self.FILE

    @property
    def report(self) -> Path:
        return self.path / self.REPORT

    @property
    def figures(self) -> Path:
        return self.path / self.FIGURES


@dataclass(frozen=True)
class ModelsDir(_Folder):
    """A folder of model folders and, optionally, their stacker: a run's `models/`, a benchmark's, the zoo."""

    CARD = "MODEL_CARD.md"  # the zoo's model card

    @property
    def card(self) -> Path:
        return self.path / self.CARD

    def model(self, name: str) -> ModelDir:
        return ModelDir(self.path / name)

    @property
    def stacker(self) -> StackerDir:
        return StackerDir.of(self.path)

    def has_stacker(self) -> bool:
        return self.stacker.spec.is_file()

    def members(self) -> list[ModelDir]:
        """Every model folder (a subfolder with model.keras or OOF predictions; the stacker's excluded), by name."""
        if not self.path.is_dir():
            return []
        found = (ModelDir(d) for d in self.path.iterdir() if d.is_dir() and d.name != StackerDir.NAME)
        return sorted((m for m in found if m.model.exists() or m.is_stackable()), key=lambda m: m.name)

    def deployable(self) -> list[ModelDir]:
        """The model folders holding a model.keras to predict with."""
        return [m for m in self.members() if m.model.exists()]

    def stackable(self) -> list[ModelDir]:
        """The model folders holding out-of-fold predictions to fit a stacker on."""
        return [m for m in self.members() if m.is_stackable()]

    def stacked(self) -> list[ModelDir]:
        """The stacker's base models in its order when there is a stacker, else every deployable model folder."""
        if not self.has_stacker():
            return self.deployable()
        return [ModelDir(self.path / Path(m["path"]).parent) for m in self.stacker.load()["models"]]


@dataclass(frozen=True)
class StudyDir(_Folder):
    """One benchmark's work folder (a suite's `--work`): what a rerun reuses."""

    @property
    def folds(self) -> Path:
        return self.path / FOLDS

    @property
    def models(self) -> ModelsDir:
        return ModelsDir(self.path / "models")


@dataclass(frozen=True)
class BenchDir(_Folder):
    """One benchmark report folder (a suite's `--out`)."""

    RESULTS_MD = "results.md"
    RESULTS_JSON = "results.json"
    VIDEOS = "videos.csv"

    @property
    def results_md(self) -> Path:
        return self.path / self.RESULTS_MD

    @property
    def results_json(self) -> Path:
        return self.path / self.RESULTS_JSON

    @property
    def videos(self) -> Path:
        return self.path / self.VIDEOS

    @property
    def figures(self) -> Path:
        return self.path / "figures"

    def load(self) -> dict:
        """results.json: the facts and tables the suite wrote."""
        return json.loads(self.results_json.read_text())


@dataclass(frozen=True)
class RunDir(_Folder):
    """One pipeline run folder (the demo workflow's layout, which `report` reads back)."""

    @property
    def data(self) -> Path:
        return self.path / "data"

    @property
    def index(self) -> Path:
        return self.path / "index.csv"

    @property
    def folds(self) -> Path:
        return self.path / FOLDS

    @property
    def eda_summary(self) -> Path:
        return self.path / "eda_summary.md"

    @property
    def figures(self) -> Path:
        return self.path / "figures"

    @property
    def crops(self) -> CropsDir:
        return CropsDir(self.path / "crops")

    @property
    def models(self) -> ModelsDir:
        return ModelsDir(self.path / "models")

    @property
    def stacker(self) -> StackerDir:
        return self.models.stacker

    @property
    def submission(self) -> Path:
        return self.path / "submission.csv"

    @property
    def predictions_log(self) -> Path:
        return self.path / PREDICTIONS_LOG

    @property
    def evaluation(self) -> Path:
        return self.path / "evaluation.json"

    @property
    def timings(self) -> Path:
        return self.path / "timings.json"


__all__ = ["FOLDS", "PREDICTIONS_LOG", "BenchDir", "CropsDir", "ModelDir", "ModelsDir", "RunDir", "StackerDir",
           "StudyDir"]
