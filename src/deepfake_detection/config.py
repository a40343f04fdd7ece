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
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
PROJECT_NAME = "deepfake-detection"  # pyproject.toml's name: another project's checkout is never taken for this one


def project_root(start: str | Path | None = None) -> Path:
    """The checkout that holds `pyproject.toml` and `notebooks/`: searched from `start` (default: the working
    directory) upwards, then from this package's own folder (an editable install). A fixed `parents[2]` of the
    module file would point into site-packages once the package is installed as a wheel."""
    here = Path(__file__).resolve()
    for origin in (Path(start or Path.cwd()).resolve(), here.parent):
        for folder in (origin, *origin.parents):
            pyproject = folder / "pyproject.toml"
            if pyproject.is_file() and (folder / "notebooks").is_dir() and PROJECT_NAME in pyproject.read_text():
                return folder
    raise FileNotFoundError(f"no checkout of this project (pyproject.toml + notebooks/) above {start or Path.cwd()} "
                            "or the installed package; run from the repository or pass its path")


CROP_LABELS_FILE = "labels.csv"  # a face-crop dataset: file,label[,group,original,...] (the shared dfdc-faces layout)


@dataclass
class ExtractConfig:
    """How frames are sampled and faces are found and cropped."""

    frames: int = 32  # evenly spaced frames per video
    every: int | None = None  # alternative: every k-th frame
    size: int = 128  # square crop side, px
    margin: float = 0.3  # fraction of box width/height added on each side
    detector: str = "mtcnn"  # "mtcnn" or "haar"
    # frames are downscaled to this long side for detection: 480 px finds a face in as many sampled frames as
    # 640 px on the 72 real videos (bench/results/recall.md) in 0.56-0.70x the detector's time
    detect_long_side: int = 480
    # detect on every k-th sampled frame, interpolate boxes between (bench/results/recall.md: the interpolated
    # boxes against detection on every frame)
    detect_stride: int = 3
    # ... with keyframes at most this many seconds apart: where few frames are sampled from a long video the stride
    # shrinks (down to every frame), because tracks are linked and boxes interpolated across the gap
    max_keyframe_gap: float = 3.0
    min_confidence: float = 0.9  # detector confidence a face must reach to be kept
    min_track_length: int = 2  # drop tracks seen in fewer frames (one-frame false positives)
    all_faces: bool = False  # keep every track instead of the most prominent one
    jpeg_quality: int = 95  # JPEG quality of the saved crops
    use_original_boxes: bool = False  # crop fakes at their original's boxes (pixel-aligned pairs)
    detect_batch: int = 8  # frames per detector call; decoding overlaps with each call
    track_iou: float = 0.2  # IoU with a track's last box that continues the track (frames ~0.3 s apart)
    overlap_decode: bool = True  # decode in one thread while the detector runs in another
    detect_compile: bool = False  # MTCNN's three networks through XLA: faster per frame, seconds to compile per size
    # compile MTCNN's networks (as detect_compile) when a run (extract, predict, detect) holds at least this many
    # videos: compiling costs seconds of CPU per frame size and pays back after a few dozen; 0 = only when asked
    detect_compile_from: int = 64


@dataclass
class TrainConfig:
    """How one backbone is trained on face crops."""

    model: str = "efficientnet_b0"  # model registry name (models.REGISTRY)
    size: int = 128  # input side, px (crops are resized to it)
    weights: str | None = None  # None, "imagenet" (needs weights_dir) or a file path
    weights_dir: str | None = None  # local folder with the standard Keras notop weight files
    normalization: str = "app"  # "app", "unit" ([0, 1]) or "standardize"
    dropout: float = 0.3  # dropout before the classification head
    batch_size: int = 32  # crops per training step
    epochs: int = 6  # fine-tuning epochs (after head_epochs)
    head_epochs: int = 1  # epochs with the backbone frozen before fine-tuning
    learning_rate: float = 1e-3  # Adam step size of a model trained from scratch, and of the head phase
    fine_tune_learning_rate: float = 1e-4  # Adam step size once pretrained weights are unfrozen
    imbalance: str = "balanced"  # "balanced", "class_weights", "oversample", "undersample", "none"
    augment: tuple[str, ...] = ("flip", "rotate", "zoom", "brightness", "contrast", "noise", "jpeg")  # training only
    self_blend: float = 0.0  # probability of turning a REAL crop into a self-blended FAKE
    resize: str = "area"  # cv2 interpolation of crops to `size` (faces.INTERPOLATIONS), in training and at serving
    steps_per_epoch: int | None = None  # batches per epoch (None: one pass over the balanced epoch plan)
    patience: int = 3  # epochs without improvement before early stopping
    cache: bool = False  # hold decoded crops in memory
    seed: int = SEED  # one seed for weights, batches and augmentation (same seed on CPU, same predictions)
    verbose: int = 2  # Keras progress: 1 = bar per step, 2 = one line per epoch (CI logs)
    # True: checkpoint, early stopping and plateau schedule follow an inner validation split (whole groups of the
    # training folds); False: keep each fold's last epoch, nothing chosen. The reported fold is never looked at.
    select_best: bool = True
    inner_val_share: float = 0.2  # share of the training folds' groups held out for select_best
    # True: Keras runs the train and predict steps eagerly, op by op, instead of tracing them into a graph. A run of
    # a few steps (quick mode) spends most of its time tracing: InceptionResNetV2's first two steps at 96 px take
    # about 140 s traced and 20 s eager on 2 CPU cores. Long runs trace once and step faster: keep False.
    run_eagerly: bool = False


# Training augmentation strengths (pipeline.py); TrainConfig.augment picks which ones run.
AUGMENT_ROTATE = 0.03  # fraction of a full turn: about +-11 degrees
AUGMENT_ZOOM = 0.1  # +-10 % scale
AUGMENT_BRIGHTNESS = 0.15  # fraction of the 0-255 range
AUGMENT_CONTRAST = 0.2
AUGMENT_SATURATION = (0.35, 0.65)  # Keras RandomSaturation: 0.5 is no change
AUGMENT_NOISE_STD = 4.0  # Gaussian noise, 0-255 levels
AUGMENT_ERASE_PROBABILITY = 0.25
AUGMENT_BLUR_PROBABILITY = 0.2
AUGMENT_RESCALE_PROBABILITY = 0.5
AUGMENT_RESCALE_RANGE = (0.4, 1.0)  # shrunk side / crop side: a 128 px crop passes through 51-128 px
JPEG_QUALITY_RANGE = (60, 100)  # re-compression quality drawn uniformly per crop
# Boosted trees of the "trees" models (forensic_gbm), fitted by scikit-learn's HistGradientBoostingClassifier;
# with select_best the number of trees is chosen on the inner split, in steps of TREES_STEP.
TREES_MAX = 600
TREES_STEP = 25
TREES_LEARNING_RATE = 0.05
TREES_MAX_LEAF_NODES = 31
TREES_MAX_DEPTH = 8
TREES_L2 = 1.0
# Quick mode (CI, notebooks on demo data): tiny images, one epoch, a few batches.
QUICK_SIZE = 96
QUICK_BATCH = 8
QUICK_STEPS = 2


@dataclass
class PredictConfig:
    """How test videos become one probability each."""

    frames: int = 32  # evenly spaced frames sampled per video
    budget_hours: float = 9.0  # wall-clock budget of a whole predict run (Kaggle: 9 h)
    aggregation: str | None = None  # None: use the one chosen on out-of-fold data
    batch_size: int = 64  # face crops per model call
    detector: str = "mtcnn"  # face detector (faces.DETECTORS)
    # score every face track, not only the most prominent person: a DFDC fake may swap one of two faces,
    # and the video is as fake as its most fake track (Ensemble.video_probability)
    all_faces: bool = True
    # confident-frame mean (1st-place DFDC idea): frames beyond these P(FAKE) bounds count as confident
    confident_fake: float = 0.8  # at or above this P(FAKE), a confident FAKE frame
    confident_real: float = 0.2  # ... and at or below this, a confident REAL frame
    confident_fake_share: float = 0.4  # average only the confident FAKE frames when this share of frames is one
    confident_real_share: float = 0.9  # ... or only the confident REAL frames when this share is
    # "platt" (scale + shift of the logit), "temperature" (scale only), "identity" (clip bounds only), or "auto":
    # the method chosen by cross-fitting on the rows the calibration is fitted on
    calibration: str = "platt"
    clip_grid: tuple[float, ...] = (1e-4, 1e-3, 3e-3, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15)  # clip bounds tried
    meta: str = "logreg"  # stacking meta model: "logreg", "mlp" or "mean"
    meta_c: float = 1.0  # inverse L2 strength of the logistic-regression meta model
    meta_hidden: int = 8  # hidden units of the MLP meta model
    # DFDC's test set is about half FAKE while its training data is ~84% FAKE: weight the classes
    # equally when fitting meta model, calibration and fallback, i.e. minimise balanced log loss.
    class_balance: bool = True
    logit_eps: float = 1e-4  # probabilities are clipped to [eps, 1 - eps] before taking logits
    budget_margin: float = 0.05  # share of the time budget kept free for writing and startup
    min_frames: int = 8  # fewest frames the time budget may degrade to
    fallback: float = 0.5  # P(FAKE) for a video without a usable prediction when no stacker is fitted


@dataclass
class EdaConfig:
    """How much of each video the exploratory analysis reads: few frames, downscaled, for speed."""

    frames: int = 16  # sampled frames per video for SSIM over time
    every: int = 5  # take every k-th frame (consecutive samples are k frames apart)
    ssim_long_side: int = 256  # full frames are downscaled to this long side (grayscale) before SSIM
    face_size: int = 96  # face crops are resized to this square side before SSIM
    face_margin: float = 0.2  # fraction of the box added on each side of a face region
    detector: str = "haar"  # detector used when no crops folder is given ("haar" is fast, "mtcnn" finer)
    detect_long_side: int = 320  # frames are downscaled to this long side for face detection (speed)
    pairs_per_method: int = 1  # fake/original pairs per manipulation method in the SSIM analyses
    min_pairs: int = 4  # ... topped up to this many pairs when there are few methods (DFDC layout)
    max_videos: int = 8  # videos in the SSIM-over-time analysis
    grid_pairs: int = 4  # fake/original rows in the side-by-side grid
    annotation_frames: int = 3  # frames in the OpenCV Haar annotation figure
    ks_alpha: float = 0.05  # KS p-value below which train and test are said to differ on a feature
    seed: int = SEED  # which videos and pairs the figures sample


@dataclass
class DemoConfig:
    """How the synthetic demo dataset is drawn: clip sizes, timing, face size, class ratio."""

    frame_sizes: tuple[tuple[int, int], ...] = ((640, 360), (480, 360), (640, 480))  # width, height px
    portrait_size: tuple[int, int] = (360, 640)  # width, height of the portrait test clip
    fps: tuple[int, ...] = (25, 30)  # frame rates a clip is drawn from
    seconds: tuple[float, float] = (2.0, 3.0)  # clip duration range
    face_height: tuple[float, float] = (0.32, 0.42)  # face box height as a share of frame height
    fakes_per_real: int = 3  # about 1 REAL : 3 FAKE, like DFDC's imbalance
    test_share: float = 0.25  # test clips per train clip when their number is not given
    workers: int = 2  # processes rendering clips


@dataclass
class BenchmarkConfig:
    """FaceForensics++ benchmark (studies/ffpp.py): sized so the default run takes about 30 min on 2 CPU cores."""

    # registry names trained per fold and stacked (mesonet4 is meso4)
    models: tuple[str, ...] = ("meso4", "mobilenet_v3_small", "efficientnet_b0", "xception")
    frames: int = 16  # sampled frames per video: validation predictions each epoch dominate CPU time
    size: int = 128  # training/scoring input side, px
    crop_size: int = 256  # extraction side: the original MesoNet's input; trained models get crops resized down
    margin: float = 0.3  # face box margin at extraction (ExtractConfig.margin)
    interpolation: str = "area"  # cv2 resize of the extracted crops to `size`: area, linear, nearest
    k: int = 3  # group folds (the 67 FF++ sample videos form 7 identity groups)
    epochs: int = 3  # epochs per fold
    samples_per_epoch: int = 384  # training crops drawn per epoch (bounds CPU time per epoch)
    batch_size: int = 32  # training batch size
    n_boot: int = 1000  # bootstrap resamples of identity groups for 95 % intervals
    ablation_model: str = "meso4"  # the cheap model every ablation retrains
    ablation_margin: float = 0.15  # tighter margin of the crop-margin ablation (crops centre-cut from `margin`)
    ablation_self_blend: float = 0.3  # self-blend probability of the augmentation ablation
    # cv2 interpolations the ablation retrains with (besides `interpolation` and the pipeline's tf bilinear resize);
    # INTER_LINEAR is left out: at an exact 2x reduction it averages the same 2x2 pixels as INTER_AREA
    ablation_interpolations: tuple[str, ...] = ("nearest",)
    cross_compression_models: tuple[str, ...] = ("meso4", "mobilenet_v3_small")  # retrained on c23, tested on c40
    # original MesoNet files scored without training (reference rows)
    mesonet_weights: tuple[str, ...] = ("Meso4_DF", "Meso4_F2F", "MesoInception_DF", "MesoInception_F2F")
    workers: int = 1  # extraction processes
    weights_dir: str | None = None  # local Keras ImageNet notop files (else every model starts from random weights)
    ablations: bool = True  # retrain the ablation model with one choice changed at a time
    null: int = 0  # null check: every main row's scoring rerun on this many label permutations (0: off)
    seed: int = SEED  # seeds folds, training, bootstrap and permutations


@dataclass
class CropsBenchmarkConfig:
    """DFDC face-crop benchmark (studies/crops.py): k-fold group CV at crop level on ../shared/data/dfdc-faces."""

    recipes: tuple[str, ...] = ("meso4_long", "meso4_dfdc", "forensic_gbm")  # names of CROP_RECIPES (the zoo)
    ablations: tuple[str, ...] = ()  # names of CROP_ABLATIONS whose recipe pairs are trained and compared
    k: int = 5  # group folds
    epochs: int = 4  # epochs per fold (a recipe may set its own)
    samples_per_epoch: int = 8192  # training crops drawn per epoch and fold (bounds CPU time)
    batch_size: int = 32  # training batch size
    max_groups: int | None = None  # subsample whole groups (quick runs); None: every crop
    n_boot: int = 500  # bootstrap resamples of groups for 95 % intervals
    permutations: int = 1000  # label permutations of the AUC p-value
    null: int = 30  # label permutations of the null check over every reported row (0: none)
    mesonet_weights: tuple[str, ...] = ("Meso4_DF", "MesoInception_DF")  # reference rows (the DF weights do best)
    seed: int = SEED  # seeds folds, training, bootstrap and permutations


@dataclass
class CrossDatasetConfig:
    """Cross-dataset benchmark (studies/cross.py): trained models scored on every labelled video of another set."""

    models: str = "models/zoo"  # the models folder to score (model folders and a stacker), e.g. the zoo
    name: str = "FaceForensics++"  # the data set's name in the report
    train_labels: str | None = None  # the models' training labels.csv, to count scored videos seen in training
    n_boot: int = 1000  # bootstrap resamples of groups for 95 % intervals
    permutations: int = 1000  # label permutations of the AUC p-value
    seed: int = SEED  # seeds the per-video frame bootstrap, intervals and permutations


@dataclass
class PooledConfig:
    """Pooled-training benchmark (studies/pooled.py): group CV on FF++ videos, one recipe trained on the other FF++
    folds alone and pooled with a face-crop set, beside that recipe's model trained on the crop set alone."""

    pooled: str = "../shared/data/dfdc-faces"  # face crops added to every fold's training, never held out
    recipe: str = "forensic_gbm"  # the CROP_RECIPES recipe trained both ways
    models: str = "models/zoo"  # its `recipe` model, trained on the pooled crops alone, is the no-FF++ row; its
    # stacker's margin frames the FF++ crops as that model was served
    k: int = 7  # identity-group folds of the FF++ videos (its 7 groups: one held out per fold)
    frames: int = 32  # evenly spaced frames per FF++ video, as detect and predict sample them
    max_groups: int | None = None  # subsample whole groups of the pooled crops (quick runs); None: every crop
    # which trainings score the held-out FF++ videos, beside the zoo's model: "ffpp" (the recipe on the other FF++
    # folds alone), "pooled" (the same plus every pooled crop), "fine-tune" (the zoo's model of the recipe: each of
    # `members`, fold models of its ensemble, trained further on the other FF++ folds, then averaged)
    trainings: tuple[str, ...] = ("ffpp", "pooled")
    # fine-tune: the zoo's fold models that start every FF++ fold (each a training; the row averages them, as the
    # zoo does). Single starts scored FF++ AUC 0.599 to 0.669 (fold models 3 and 0), their average 0.644
    members: tuple[int, ...] = (0, 1, 2, 3, 4)
    fine_tune_epochs: int = 3  # fine-tune: epochs per FF++ fold, the last one kept (nothing chosen on FF++)
    fine_tune_samples: int = 2048  # fine-tune: crops drawn per epoch, about one pass over a fold's 1,800-2,400
    fine_tune_learning_rate: float = 1e-4  # fine-tune: Adam step size, a tenth of the recipe's from-scratch one
    # original MesoNet files scored without training (reference rows), on crops cut as `benchmark-ffpp` cuts them
    # for MesoNet (BenchmarkConfig: 256 px, margin 0.3), `frames` per video
    mesonet_weights: tuple[str, ...] = ("Meso4_DF", "MesoInception_DF")
    n_boot: int = 1000  # bootstrap resamples of groups for 95 % intervals
    permutations: int = 1000  # label permutations of the AUC p-value
    seed: int = SEED  # seeds folds, training, bootstrap and permutations


# Training recipes of the crop benchmark and the zoo: TrainConfig changes per recipe. "mesonet:NAME" weights are
# the original MesoNet file NAME.h5 from the MesoNet folder (256 px input, its own [0, 1] scaling).
CROP_RECIPES: dict[str, dict[str, Any]] = {
    "meso4": {"model": "meso4", "size": 128, "learning_rate": 1e-3},
    "meso4_ft": {"model": "meso4", "size": 256, "weights": "mesonet:Meso4_DF", "fine_tune_learning_rate": 1e-4},
    "meso4_ft_sbi": {"model": "meso4", "size": 256, "weights": "mesonet:Meso4_DF", "fine_tune_learning_rate": 1e-4,
                     "self_blend": 0.25},
    "meso4_scratch": {"model": "meso4", "size": 256, "learning_rate": 1e-3},
    "meso4_flip": {"model": "meso4", "size": 128, "learning_rate": 1e-3, "augment": ("flip",)},
    "meso4_dfdc": {"model": "meso4", "size": 128, "learning_rate": 1e-3,
                   "augment": ("flip", "rescale", "jpeg", "blur")},
    "meso4_long": {"model": "meso4", "size": 128, "learning_rate": 1e-3, "augment": ("flip",), "epochs": 12},
    "spectral": {"model": "spectral", "size": 128, "learning_rate": 1e-3, "augment": ("flip",)},
    "spectral_long": {"model": "spectral", "size": 128, "learning_rate": 1e-3, "augment": ("flip",), "epochs": 12},
    # boosted trees on fixed features: no epochs, no augmentation; TREES_* set the trees, and their count is chosen
    # on an inner split of the training folds (never the reported fold)
    "forensic_gbm": {"model": "forensic_gbm", "size": 224, "augment": (), "select_best": True},
    "mobilenet_v3_small": {"model": "mobilenet_v3_small", "size": 128, "learning_rate": 1e-3},
    "mobilenet_v3_small_long": {"model": "mobilenet_v3_small", "size": 128, "learning_rate": 1e-3,
                                "augment": ("flip",), "epochs": 12},
    # one change each against meso4_flip (4 epochs at 128 px) or, at MesoNet's 256 px, against meso4_256
    "meso4_sbi": {"model": "meso4", "size": 128, "learning_rate": 1e-3, "augment": ("flip",), "self_blend": 0.25},
    "meso4_linear": {"model": "meso4", "size": 128, "learning_rate": 1e-3, "augment": ("flip",), "resize": "linear"},
    "meso4_256": {"model": "meso4", "size": 256, "learning_rate": 1e-3, "augment": ("flip",), "epochs": 1},
    "meso4_init": {"model": "meso4", "size": 256, "weights": "mesonet:Meso4_DF", "fine_tune_learning_rate": 1e-4,
                   "augment": ("flip",), "epochs": 1},
}
# Ablations of the crop benchmark (`benchmark --suite dfdc-ablation`): choice -> (base recipe, variant recipe), the
# two differing in that one choice; each row is the variant's paired difference from its base on the same crops.
CROP_ABLATIONS: dict[str, tuple[str, str]] = {
    "self-blended fakes (SBI, 25 % of REAL crops)": ("meso4_flip", "meso4_sbi"),
    "resize 224 -> 128 px: INTER_LINEAR instead of INTER_AREA": ("meso4_flip", "meso4_linear"),
    "original MesoNet weights instead of random (256 px, 1 epoch)": ("meso4_256", "meso4_init"),
    "DFDC-style augmentation (rescale, JPEG, blur)": ("meso4_flip", "meso4_dfdc"),
    "12 epochs instead of 4": ("meso4_flip", "meso4_long"),
    "feature model (spectrum, SRM, LBP) instead of the CNN": ("meso4_flip", "spectral"),
    "feature model: 12 epochs instead of 4": ("spectral", "spectral_long"),
    "feature model: boosted trees on 4 views at 224 px instead of a dense head on luma at 128 px":
        ("spectral_long", "forensic_gbm"),
    "MobileNetV3-small from scratch instead of MesoNet-4 (12 epochs each)": ("meso4_long", "mobilenet_v3_small_long"),
}
MARGIN_SAMPLE = 64  # crops of a crop set that faces.measure_margin looks at to find how the set frames faces
QUICK_CROPS_BENCHMARK = {"recipes": ("meso4",), "k": 2, "epochs": 1, "samples_per_epoch": 64, "max_groups": 60,
                         "n_boot": 100, "permutations": 200, "null": 20, "mesonet_weights": ("Meso4_DF",)}

# Group-bootstrap intervals from fewer groups than this cover less than 93 % at a nominal 95 % (simulated: about
# 78 % for AUC and 83 % for balanced log loss on FF++'s 7 groups of 1-20 videos, 86-93 % at 13-75 groups, 91-95 % at
# 100), so reports mark them as unreliable (tests/test_intervals.py checks the coverage above it).
MIN_RELIABLE_GROUPS = 100

# Quick benchmark (CI): machinery only, no claims.
QUICK_BENCHMARK = {"k": 2, "frames": 4, "epochs": 1, "models": ("meso4",), "size": 64, "n_boot": 100,
                   "mesonet_weights": ("Meso4_DF",), "cross_compression_models": ("meso4",)}
QUICK_POOLED = {"k": 2, "frames": 4, "max_groups": 40, "n_boot": 100, "permutations": 100, "mesonet_weights": ()}
QUICK_FINE_TUNE = {**QUICK_POOLED, "fine_tune_epochs": 1, "fine_tune_samples": 64, "members": (0, 1),
                   "mesonet_weights": ("Meso4_DF",)}
TRAIN_ONLY_FOLD = -1  # folds.csv fold of rows that train every fold and are never held out (pooled crops)
QUICK_VIDEOS_PER_CELL = 1  # quick mode keeps one video per (group, label, compression)
MESONET_DIR = "../shared/weights/mesonet"  # original MesoNet weight files (CLI default)


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
    "IMAGE_EXTENSIONS",
    "CROP_LABELS_FILE",
    "ExtractConfig",
    "TrainConfig",
    "PredictConfig",
    "EdaConfig",
    "DemoConfig",
    "BenchmarkConfig",
    "to_json",
    "from_dict",
    "from_json",
    "set_seeds",
]
