"""Run settings as dataclasses: one place for every default, loadable from and savable to JSON."""

from __future__ import annotations

import json
import os
import random
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

SEED = 0
FAKE, REAL = 1, 0
LABEL_NAMES = {"FAKE": FAKE, "REAL": REAL}
# Kaggle clipped predictions to [eps, 1 - eps] before scoring log loss.
KAGGLE_EPS = 1e-15
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv")


@dataclass
class ExtractConfig:
    """How frames are sampled and faces are found and cropped."""

    frames: int = 32  # evenly spaced frames per video
    every: int | None = None  # alternative: every k-th frame
    size: int = 128  # square crop side, px
    margin: float = 0.3  # fraction of box width/height added on each side
    detector: str = "mtcnn"  # "mtcnn" or "haar"
    detect_long_side: int = 640  # frames are downscaled to this long side for detection
    detect_stride: int = 1  # detect on every k-th sampled frame, interpolate boxes between
    min_confidence: float = 0.9
    min_track_length: int = 2  # drop tracks seen in fewer frames (one-frame false positives)
    all_faces: bool = False  # keep every track instead of the most prominent one
    jpeg_quality: int = 95
    use_original_boxes: bool = False  # crop fakes at their original's boxes (pixel-aligned pairs)


@dataclass
class TrainConfig:
    """How one backbone is trained on face crops."""

    model: str = "efficientnet_b0"
    size: int = 128
    weights: str | None = None  # None, "imagenet" (needs weights_dir) or a file path
    weights_dir: str | None = None
    normalization: str = "app"  # "app", "unit" ([0, 1]) or "standardize"
    dropout: float = 0.3
    batch_size: int = 32
    epochs: int = 6
    head_epochs: int = 1  # epochs with the backbone frozen before fine-tuning
    learning_rate: float = 1e-3
    fine_tune_learning_rate: float = 1e-4
    imbalance: str = "balanced"  # "balanced", "class_weights", "oversample", "undersample", "none"
    augment: tuple[str, ...] = ("flip", "rotate", "zoom", "brightness", "contrast", "noise", "jpeg")
    self_blend: float = 0.0  # probability of turning a REAL crop into a self-blended FAKE
    steps_per_epoch: int | None = None
    patience: int = 3
    cache: bool = False
    seed: int = SEED


@dataclass
class PredictConfig:
    """How test videos become one probability each."""

    frames: int = 32
    budget_hours: float = 9.0
    aggregation: str | None = None  # None: use the one chosen on out-of-fold data
    batch_size: int = 64


T = TypeVar("T")


def to_json(config: Any, path: str | Path) -> None:
    """Write a dataclass config as indented JSON."""
    Path(path).write_text(json.dumps(asdict(config), indent=2, sort_keys=True) + "\n")


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Build a config from a dict, ignoring unknown keys so old files still load."""
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    values = {k: v for k, v in data.items() if k in known}
    for f in fields(cls):  # type: ignore[arg-type]
        if f.name in values and isinstance(getattr(cls, f.name, None), tuple):
            values[f.name] = tuple(values[f.name])
    return cls(**values)


def from_json(cls: type[T], path: str | Path) -> T:
    """Load a dataclass config from a JSON file."""
    return from_dict(cls, json.loads(Path(path).read_text()))


def set_seeds(seed: int = SEED) -> None:
    """Seed python, numpy and (when imported) TensorFlow/Keras for reproducible CPU runs."""
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    try:
        import keras

        keras.utils.set_random_seed(seed)
    except ImportError:  # keras is optional for the data-only stages
        pass


__all__ = [
    "SEED",
    "FAKE",
    "REAL",
    "LABEL_NAMES",
    "KAGGLE_EPS",
    "VIDEO_EXTENSIONS",
    "ExtractConfig",
    "TrainConfig",
    "PredictConfig",
    "to_json",
    "from_dict",
    "from_json",
    "set_seeds",
]
