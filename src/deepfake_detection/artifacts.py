"""The on-disk layout of what passes between stages, owned in one place.

A trained model folder (`train`, the benchmarks, the zoo, the bundle) holds:
- `model.keras`: the deployed model (the fold models averaged), loadable in Keras safe mode;
- `config.json`: the TrainConfig it was trained with plus run facts (folds, timings, scores);
- `oof_frames.csv` / `oof_videos.csv`: its out-of-fold predictions per crop and per video.
Every stage names these files through `ModelDir`, so the layout changes in one class.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deepfake_detection.config import TrainConfig, from_json


@dataclass(frozen=True)
class ModelDir:
    """One trained model folder."""

    path: Path

    MODEL = "model.keras"
    CONFIG = "config.json"
    OOF_FRAMES = "oof_frames.csv"
    OOF_VIDEOS = "oof_videos.csv"
    FILES = (MODEL, CONFIG, OOF_FRAMES, OOF_VIDEOS)  # what a copy of the folder carries

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

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

    def train_config(self) -> TrainConfig:
        """How the model was trained (TrainConfig defaults when config.json is absent): its input side and crop
        resize are what serving must repeat."""
        return from_json(TrainConfig, self.config) if self.config.exists() else TrainConfig()


__all__ = ["ModelDir"]
