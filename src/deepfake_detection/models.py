"""Backbone registry, MesoNet and local weights: every model takes 0–255 RGB and returns P(FAKE).

A model is `InputNormalization -> backbone (include_top=False) -> head`. The normalisation lives
inside the model, so the pipeline and the predictor only ever pass 0–255 RGB float32
(N, size, size, 3). Inside a model there are only Keras layers and `keras.ops`, so a saved
model also runs on the JAX backend. Weights come from explicit local paths only: Keras's
download/cache route is never used (it deletes a user's file whose hash does not match).

A new backbone is one `REGISTRY` entry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import h5py
import keras
import numpy as np
import pandas as pd
from keras import layers, ops
from tqdm import tqdm

from deepfake_detection.config import TrainConfig
from deepfake_detection.faces import resize_crop
from deepfake_detection.features import forensic_trees, spectral_head

log = logging.getLogger(__name__)

NORMALIZATIONS = ("app", "unit", "standardize")
# ImageNet statistics used by the applications' own preprocessing ("torch" and "caffe" modes).
IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)  # of [0, 1] pixels
IMAGENET_STD_RGB = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)  # of 0–255 pixels
# BatchNorm moving-statistics momentum for randomly initialised models (PyTorch's default, 0.1 there).
# Keras builds BatchNormalization with 0.99 (MobileNetV3: 0.999), so after the few hundred steps of a
# scratch run the moving variance still holds most of its initial 1 while the true variance is far
# smaller; inference-mode activations then shrink layer by layer and every output reads about 0.5.
SCRATCH_BN_MOMENTUM = 0.9
WEIGHTS_HINT = (
    "Keras does not download weights here. Put the standard Keras file in that folder, e.g. from the "
    "Kaggle dataset 'Keras Pretrained models' (kaggle.com/datasets/gaborfodor/keras-pretrained-models) "
    "or from https://storage.googleapis.com/tensorflow/keras-applications/ on a machine with network access."
)


@dataclass(frozen=True)
class ModelSpec:
    """One registry entry: how to build a backbone and what its input must look like."""

    name: str
    constructor: Callable[..., keras.Model]  # keras.applications.* or a MesoNet builder
    # what "app" normalisation means: "tf" [-1, 1], "torch", "caffe", "unit" [0, 1] or "pixels" (0–255 as they are:
    # no InputNormalization, the only choice for models of hand-made pixel statistics)
    preprocessing: str
    weights_file: str | None  # standard Keras ImageNet notop file name; None: no ImageNet weights
    default_size: int = TrainConfig.size
    min_size: int = 32
    constructor_kwargs: dict = field(default_factory=dict)
    # first layer after the application's own input scaling; the layers before it are cut off
    # so that the model's InputNormalization is the only preprocessing
    features_from: str | None = None
    own_head: bool = False  # MesoNet, spectral, forensic_gbm: the constructor already ends in P(FAKE)
    fit: str = "gradient"  # "gradient": Keras fit on batches; "trees": boosted trees fitted on features (train.py)


# --- input normalisation ------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="deepfake_detection")
class InputNormalization(layers.Layer):
    """0–255 RGB -> the range a backbone expects; a real layer (not Lambda) so safe-mode loading works."""

    def __init__(self, mode: str, mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if mode not in ("tf", "torch", "caffe", "unit", "standardize"):
            raise ValueError(f"unknown input normalisation mode {mode!r}")
        if mode == "standardize" and (mean is None or std is None):
            raise ValueError("normalization='standardize' needs channel_stats=(mean, std) from the training crops")
        self.mode = mode
        self.mean = None if mean is None else [float(v) for v in mean]  # per channel, 0–255 units
        self.std = None if std is None else [float(v) for v in std]

    def call(self, images):  # (N, H, W, 3) 0–255 RGB -> (N, H, W, 3) float
        x = ops.cast(images, self.compute_dtype)
        if self.mode == "tf":
            return x / 127.5 - 1.0
        if self.mode == "unit":
            return x / 255.0
        if self.mode == "torch":
            return ((x / 255.0 - ops.array(IMAGENET_MEAN_RGB, self.compute_dtype))
                    / ops.array(IMAGENET_STD_RGB, self.compute_dtype))
        if self.mode == "caffe":
            return ops.flip(x, axis=-1) - ops.array(CAFFE_MEAN_BGR, self.compute_dtype)
        return (x - ops.array(self.mean, self.compute_dtype)) / ops.array(self.std, self.compute_dtype)

    def get_config(self) -> dict:
        return {**super().get_config(), "mode": self.mode, "mean": self.mean, "std": self.std}


# --- MesoNet (Afchar et al. 2018, "MesoNet: a Compact Facial Video Forgery Detection Network") ----
def _conv_block(x, filters: int, kernel: int, pool: int, name: str):
    """Conv(ReLU) -> BatchNorm -> MaxPool, the MesoNet building block."""
    x = layers.Conv2D(filters, kernel, padding="same", activation="relu", name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.MaxPooling2D(pool, padding="same", name=f"{name}_pool")(x)


def _inception_block(x, a: int, b: int, c: int, d: int, name: str):
    """MesoInception module: 1x1 | 1x1->3x3 | 1x1->3x3 dilated 2 | 1x1->3x3 dilated 3, concatenated."""
    def conv(filters: int, kernel: int, branch: str, rate: int = 1) -> layers.Conv2D:
        return layers.Conv2D(filters, kernel, padding="same", dilation_rate=rate, activation="relu",
                             name=f"{name}_{branch}")

    x1 = conv(a, 1, "a_1x1")(x)
    x2 = conv(b, 3, "b_3x3")(conv(b, 1, "b_1x1")(x))
    x3 = conv(c, 3, "c_3x3", 2)(conv(c, 1, "c_1x1")(x))
    x4 = conv(d, 3, "d_3x3", 3)(conv(d, 1, "d_1x1")(x))
    x = layers.Concatenate(name=f"{name}_concat")([x1, x2, x3, x4])
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.MaxPooling2D(2, padding="same", name=f"{name}_pool")(x)


def _meso_head(x, dropout: float):
    """Flatten -> Dropout -> Dense(16) LeakyReLU(0.1) -> Dropout -> Dense(1, sigmoid)."""
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(dropout, name="dropout_1")(x)
    x = layers.Dense(16, name="dense_16")(x)
    x = layers.LeakyReLU(negative_slope=0.1, name="leaky_relu")(x)
    x = layers.Dropout(dropout, name="dropout_2")(x)
    return layers.Dense(1, activation="sigmoid", name="p_fake", dtype="float32")(x)


def meso4(inputs, dropout: float = 0.5):
    """Meso-4: four conv blocks (8, 8, 16, 16 filters) and a small dense head; the paper used dropout 0.5."""
    x = _conv_block(inputs, 8, 3, 2, "block1")
    x = _conv_block(x, 8, 5, 2, "block2")
    x = _conv_block(x, 16, 5, 2, "block3")
    x = _conv_block(x, 16, 5, 4, "block4")
    return _meso_head(x, dropout)


def mesoinception4(inputs, dropout: float = 0.5):
    """MesoInception-4: two inception blocks (1,4,4,2 and 2,4,4,2), then two 16-filter conv blocks."""
    x = _inception_block(inputs, 1, 4, 4, 2, "inception1")
    x = _inception_block(x, 2, 4, 4, 2, "inception2")
    x = _conv_block(x, 16, 5, 2, "block3")
    x = _conv_block(x, 16, 5, 4, "block4")
    return _meso_head(x, dropout)


# Weighted layers in the order the original Keras 2.1.5 files list them (their topological order):
# within an inception block the three 1x1 convs that feed a 3x3 come first, then the plain 1x1.
_INCEPTION_ORDER = ["b_1x1", "c_1x1", "d_1x1", "a_1x1", "b_3x3", "c_3x3", "d_3x3"]
_MESO_FILE_ORDER = {
    "meso4": [f"block{i}_{k}" for i in range(1, 5) for k in ("conv", "bn")] + ["dense_16", "p_fake"],
    "mesoinception4": [f"inception{i}_{k}" for i in (1, 2) for k in _INCEPTION_ORDER + ["bn"]]
    + [f"block{i}_{k}" for i in (3, 4) for k in ("conv", "bn")] + ["dense_16", "p_fake"],
}


def load_mesonet_weights(model: keras.Model, path: str | Path, name: str) -> None:
    """Load an original MesoNet weights-only .h5 (Keras 2.1.5) by layer order, checking every shape.

    The original network outputs P(REAL). Since sigmoid(-z) = 1 - sigmoid(z), the last layer's
    kernel and bias are negated so the loaded model outputs P(FAKE) exactly.
    """
    path = Path(path)
    if name not in _MESO_FILE_ORDER:
        raise ValueError(f"{name} has no original weights format; "
                         "pass a *.weights.h5 or *.keras file of the whole model")
    targets = [model.get_layer(n) for n in _MESO_FILE_ORDER[name]]
    with h5py.File(path, "r") as f:
        if "layer_names" not in f.attrs:
            raise ValueError(f"{path} is not a Keras weights-only .h5 file (no layer_names attribute)")
        groups = [n.decode() for n in f.attrs["layer_names"] if len(f[n.decode()].attrs["weight_names"])]
        if len(groups) != len(targets):
            raise ValueError(f"{path} has {len(groups)} layers with weights, {name} needs {len(targets)}: "
                             f"is it a {'MesoInception' if name == 'meso4' else 'Meso4'} file?")
        for group, layer in zip(groups, targets, strict=True):
            values = [np.asarray(f[group][w.decode()]) for w in f[group].attrs["weight_names"]]
            expected = [tuple(w.shape) for w in layer.weights]
            if [v.shape for v in values] != expected:
                raise ValueError(f"{path}: layer {group} has shapes {[v.shape for v in values]}, "
                                 f"{name} layer {layer.name} needs {expected} (MesoNet weights need size 256)")
            layer.set_weights(values)
    kernel, bias = model.get_layer("p_fake").get_weights()
    model.get_layer("p_fake").set_weights([-kernel, -bias])  # P(REAL) -> P(FAKE)
    log.info("loaded MesoNet weights %s into %s (output flipped to P(FAKE))", path.name, name)


# --- registry -----------------------------------------------------------------------------------
_apps = keras.applications


def _efficientnet(i: int) -> ModelSpec:
    return ModelSpec(f"efficientnet_b{i}", getattr(_apps, f"EfficientNetB{i}"), "torch", f"efficientnetb{i}_notop.h5",
                     features_from="stem_conv_pad")


def _mobilenet_v3(kind: str) -> ModelSpec:
    return ModelSpec(f"mobilenet_v3_{kind}", getattr(_apps, f"MobileNetV3{kind.capitalize()}"), "tf",
                     f"weights_mobilenet_v3_{kind}_224_1.0_float_no_top_v2.h5",
                     constructor_kwargs={"include_preprocessing": False})


def _keras_file(stem: str) -> str:
    return f"{stem}_weights_tf_dim_ordering_tf_kernels_notop.h5"


REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in [
        ModelSpec("xception", _apps.Xception, "tf", _keras_file("xception"), min_size=71),
        *[_efficientnet(i) for i in range(8)],
        ModelSpec("densenet121", _apps.DenseNet121, "torch", _keras_file("densenet121")),
        ModelSpec("inception_resnet_v2", _apps.InceptionResNetV2, "tf", _keras_file("inception_resnet_v2"),
                  min_size=75),
        _mobilenet_v3("small"),
        _mobilenet_v3("large"),
        ModelSpec("resnet50", _apps.ResNet50, "caffe", _keras_file("resnet50")),
        ModelSpec("vgg16", _apps.VGG16, "caffe", _keras_file("vgg16")),
        ModelSpec("vgg19", _apps.VGG19, "caffe", _keras_file("vgg19")),
        ModelSpec("meso4", meso4, "unit", None, default_size=256, own_head=True),
        ModelSpec("mesoinception4", mesoinception4, "unit", None, default_size=256, own_head=True),
        # spectrum, SRM residual and LBP statistics (features.py) under a small dense head
        ModelSpec("spectral", spectral_head, "pixels", None, own_head=True),
        # the same statistics of four views (luma, its centre, Cr, Cb) at full crop size under boosted trees
        ModelSpec("forensic_gbm", forensic_trees, "pixels", None, default_size=224, min_size=16, own_head=True,
                  fit="trees"),
    ]
}


def get_spec(name: str) -> ModelSpec:
    """Registry entry by name, with the list of known names in the error."""
    if name not in REGISTRY:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(REGISTRY)}")
    return REGISTRY[name]


# --- building -----------------------------------------------------------------------------------
def resolve_weights(spec: ModelSpec, weights: str | Path | None, weights_dir: str | Path | None) -> Path | None:
    """The local weights file to load, or None; "imagenet" means the standard Keras file in weights_dir."""
    if weights is None:
        return None
    if str(weights) == "imagenet":
        if spec.weights_file is None:
            raise ValueError(f"{spec.name} has no ImageNet weights; pass weights=FILE "
                             "(for MesoNet: ../shared/weights/mesonet/Meso4_DF.h5 and friends)")
        if weights_dir is None:
            raise ValueError(f"weights='imagenet' needs weights_dir: a local folder holding {spec.weights_file}")
        path = Path(weights_dir) / spec.weights_file
        if not path.is_file():
            raise FileNotFoundError(f"ImageNet weights for {spec.name} not found: {path}. {WEIGHTS_HINT}")
        return path
    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    return path


def _backbone(spec: ModelSpec, size: int, weights_path: Path | None) -> keras.Model:
    """The application without top, its own input scaling cut off, notop weights loaded by path."""
    backbone = spec.constructor(include_top=False, weights=None, input_shape=(size, size, 3),
                                **spec.constructor_kwargs)
    if weights_path is not None:
        backbone.load_weights(str(weights_path))  # legacy .h5 notop file, matched by layer order
        log.info("loaded backbone weights %s into %s", weights_path, spec.name)
    if spec.features_from is not None:
        backbone = keras.Model(backbone.get_layer(spec.features_from).input, backbone.output)
    return keras.Model(backbone.input, backbone.output, name="backbone")


def batchnorm_layers(model: keras.Model) -> list[layers.BatchNormalization]:
    """Every BatchNormalization layer of a model, nested sub-models (the backbone) included."""
    found = []
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            found.append(layer)
        elif isinstance(layer, keras.Model):
            found += batchnorm_layers(layer)
    return found


def set_batchnorm_momentum(model: keras.Model, momentum: float) -> None:
    """Set the moving-statistics momentum of every BatchNorm layer; it is layer config, so it is saved."""
    for layer in batchnorm_layers(model):
        layer.momentum = momentum


def build_model(name: str, size: int | None = None, weights: str | Path | None = None,
                weights_dir: str | Path | None = None, normalization: str = "app", dropout: float = 0.3,
                channel_stats: tuple[Sequence[float], Sequence[float]] | None = None) -> keras.Model:
    """Registry model: 0–255 RGB float32 (N, size, size, 3) -> P(FAKE) (N, 1).

    weights: None (random init); "imagenet" (the standard Keras notop file from weights_dir);
    a `*.weights.h5` (from `model.save_weights`) or `*.keras` file: weights of the whole model, same
    name/size/normalisation;
    any other `.h5`: for MesoNet an original MesoNet file, for a backbone a Keras notop backbone file.
    normalization: "app" (the backbone's own preprocessing), "unit" ([0, 1]) or "standardize"
    (per-channel (x - mean) / std with `channel_stats=(mean, std)` in 0–255 units, from the training crops).
    size: input side in px; None: the entry's default (128 for backbones, 256 for MesoNet).
    MesoNet's two dropout layers use `dropout` too (the paper used 0.5; it only matters for training).
    With random weights every BatchNorm layer gets SCRATCH_BN_MOMENTUM, so its moving statistics (the
    inference-mode ones) catch up within tens of steps; loaded weights keep the architecture's momentum.
    """
    spec = get_spec(name)
    size = spec.default_size if size is None else size
    if size < spec.min_size:
        raise ValueError(f"{name} needs input size >= {spec.min_size} px, got {size}")
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
    weights_path = resolve_weights(spec, weights, weights_dir)
    whole_model_file = weights_path is not None and weights_path.name.endswith((".weights.h5", ".keras"))

    mode = spec.preprocessing if normalization == "app" else normalization
    mean, std = channel_stats if normalization == "standardize" and channel_stats is not None else (None, None)
    inputs = keras.Input((size, size, 3), name="rgb_0_255")
    if spec.preprocessing == "pixels":
        if normalization != "app":
            raise ValueError(f"{name} computes its features from 0–255 pixels and standardises them itself; "
                             f"normalization must be 'app', got {normalization!r}")
        x = inputs
    else:
        x = InputNormalization(mode, mean, std, name="input_normalization")(inputs)
    if spec.own_head:
        outputs = spec.constructor(x, dropout=dropout)
        model = keras.Model(inputs, outputs, name=name)
        if weights_path is not None and not whole_model_file:
            load_mesonet_weights(model, weights_path, name)
    else:
        backbone = _backbone(spec, size, None if whole_model_file else weights_path)
        x = backbone(x)
        x = layers.GlobalAveragePooling2D(name="pool")(x)
        x = layers.Dropout(dropout, name="dropout")(x)
        outputs = layers.Dense(1, activation="sigmoid", name="p_fake", dtype="float32")(x)
        model = keras.Model(inputs, outputs, name=name)
    if weights_path is None:
        set_batchnorm_momentum(model, SCRATCH_BN_MOMENTUM)
    if whole_model_file:
        model.load_weights(str(weights_path))
        log.info("loaded model weights %s into %s", weights_path, name)
    return model


class ModelFileError(ValueError):
    """A model file that cannot be used: missing, corrupt or truncated, or refused by safe mode."""


def load_model(path: str | Path) -> keras.Model:
    """A saved `model.keras`, loaded in safe mode (custom layers are registered, no Lambda layers) and uncompiled:
    inference needs no optimizer, and training compiles its own.

    Anything that goes wrong is raised as ModelFileError naming the file and the reason (a Lambda layer or other
    code is refused rather than run), not as a traceback from inside Keras.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: model file not found")
    try:
        return keras.saving.load_model(str(path), safe_mode=True, compile=False)  # for inference: no optimizer
    except Exception as exc:  # noqa: BLE001 - Keras raises many kinds; the caller gets one, with the file named
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "safe_mode" in str(exc) or "Lambda" in str(exc):
            raise ModelFileError(f"{path}: refused in safe mode, the file holds code (such as a Lambda layer) "
                                 "that loading would run; rebuild it from registry layers") from exc
        raise ModelFileError(f"{path}: not a loadable Keras model (corrupt or truncated?): "
                             f"{type(exc).__name__}: {message[:200]}") from exc


def open_model(name: str | None = None, model_path: str | Path | None = None, **build_kwargs) -> keras.Model:
    """A trained `model.keras` (model_path) or a registry model built by name (build_model keyword arguments)."""
    if (name is None) == (model_path is None):
        raise ValueError("give exactly one of a registry model name or a saved model path")
    return load_model(model_path) if model_path is not None else build_model(name, **build_kwargs)


def input_size(model: keras.Model) -> int:
    """Square input side in px of a registry model."""
    return int(model.input_shape[1])


# --- scoring image files ------------------------------------------------------------------------
def read_images(paths: Sequence[str | Path], size: int, interpolation: str = "area") -> np.ndarray:
    """Image files -> float32 (N, size, size, 3) 0–255 RGB, resized by faces.resize_crop (as in training:
    pass the model's TrainConfig.resize)."""
    out = np.empty((len(paths), size, size, 3), np.float32)
    for i, path in enumerate(paths):
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"cannot read image {path}")
        out[i] = resize_crop(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), size, interpolation)
    return out


def score_images(model: keras.Model, paths: Sequence[str | Path], batch_size: int = 32,
                 interpolation: str = "area") -> pd.DataFrame:
    """P(FAKE) per image file (columns path, p_fake), each resized to the model's input size with the
    interpolation it was trained with."""
    p_fake = np.empty(len(paths), np.float32)
    size = input_size(model)
    for start in tqdm(range(0, len(paths), batch_size), desc="score", unit="batch",
                      disable=len(paths) <= batch_size):
        batch = read_images(paths[start:start + batch_size], size, interpolation)
        p_fake[start:start + len(batch)] = np.asarray(model.predict_on_batch(batch))[:, 0]
    return pd.DataFrame({"path": [str(p) for p in paths], "p_fake": p_fake})
