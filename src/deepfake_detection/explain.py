"""Grad-CAM for registry models: where in a face crop a model looks when it calls it FAKE.

Grad-CAM needs gradients, so it uses TensorFlow's GradientTape here, outside the models; the
models themselves stay backend-agnostic.
"""

from __future__ import annotations

import logging
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from deepfake_detection.artifacts import CropsDir
from deepfake_detection.config import FAKE, REAL, SEED
from deepfake_detection.models import input_size, read_images

log = logging.getLogger(__name__)


def last_conv_layer(model: keras.Model) -> str:
    """Name of the last layer with a 4-D (N, H, W, C) output: the usual Grad-CAM target."""
    for layer in reversed(model.layers):
        shape = getattr(layer, "output", None) is not None and layer.output.shape
        if shape and len(shape) == 4 and not isinstance(layer, keras.layers.InputLayer):
            return layer.name
    raise ValueError(f"{model.name} has no layer with a 4-D output to explain")


def _split_at_backbone(model: keras.Model, layer_name: str | None):
    """(layers before, feature model -> [conv maps, features], layers after) for a nested or flat model."""
    if any(layer.name == "backbone" for layer in model.layers):
        backbone = model.get_layer("backbone")
        target = backbone.get_layer(layer_name or last_conv_layer(backbone))
        position = model.layers.index(backbone)
        features = keras.Model(backbone.input, [target.output, backbone.output])
        return model.layers[1:position], features, model.layers[position + 1:]
    target = model.get_layer(layer_name or last_conv_layer(model))
    return [], keras.Model(model.input, [target.output, model.output]), []


def fold_members(model: keras.Model) -> list[keras.Model]:
    """The fold models inside an averaging ensemble (a model ending in an Average of sub-models), else []."""
    if not isinstance(model.layers[-1], keras.layers.Average):
        return []
    return [layer for layer in model.layers if isinstance(layer, keras.Model)]


def has_feature_maps(model: keras.Model) -> bool:
    """Whether Grad-CAM can explain the model: it (or, for a fold ensemble, its first member) has a 4-D layer."""
    try:
        last_conv_layer((fold_members(model) or [model])[0])
        return True
    except ValueError:
        return False


def gradcam_heatmaps(model: keras.Model, images: np.ndarray, layer_name: str | None = None) -> np.ndarray:
    """Grad-CAM of P(FAKE): float32 (N, H, W) in [0, 1] at the input size, for 0–255 RGB images (N, H, W, 3).

    layer_name: a conv layer (inside the backbone for registry backbones); default the last 4-D one. A deployed
    fold ensemble (train.save_fold_ensemble) is explained by the mean heat map of its fold models.
    """
    members = fold_members(model)
    if members:
        return np.mean([gradcam_heatmaps(m, images, layer_name) for m in members], axis=0).astype(np.float32)
    before, features, after = _split_at_backbone(model, layer_name)
    x = tf.convert_to_tensor(images, tf.float32)
    for layer in before:
        x = layer(x, training=False)
    with tf.GradientTape() as tape:
        maps, y = features(x, training=False)  # maps (N, h, w, C)
        for layer in after:
            y = layer(y, training=False)
        score = tf.reduce_sum(y)  # each image's P(FAKE) only depends on its own maps
    grads = tape.gradient(score, maps)  # (N, h, w, C)
    channel_weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)  # (N, 1, 1, C)
    cam = tf.nn.relu(tf.reduce_sum(channel_weights * maps, axis=-1))  # (N, h, w)
    cam = cam / (tf.reduce_max(cam, axis=(1, 2), keepdims=True) + 1e-8)
    cam = tf.image.resize(cam[..., None], images.shape[1:3], method="bilinear")[..., 0]
    return cam.numpy().astype(np.float32)


def gradcam_examples(model: keras.Model, crops_dir: str | Path, n: int = 4, seed: int = SEED,
                     layer_name: str | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """n REAL and n FAKE crops from a crops manifest: (images uint8 (2n, S, S, 3), heatmaps (2n, S, S), titles)."""
    crops_dir = Path(crops_dir)
    manifest = pd.read_csv(CropsDir(crops_dir).manifest)
    rows = []
    for label in (REAL, FAKE):
        pool = manifest[manifest["label"] == label]
        if pool.empty:
            log.warning("no %s crops in %s", "FAKE" if label == FAKE else "REAL", crops_dir)
            continue
        rows.append(pool.sample(min(n, len(pool)), random_state=seed))
    if not rows:
        raise ValueError(f"{CropsDir(crops_dir).manifest} has no labelled crops")
    chosen = pd.concat(rows, ignore_index=True)
    images = read_images([crops_dir / p for p in chosen["crop_path"]], input_size(model))
    p_fake = model.predict(images, verbose=0)[:, 0]
    heatmaps = gradcam_heatmaps(model, images, layer_name)
    titles = [f"{'FAKE' if label == FAKE else 'REAL'} {vid}\nP(FAKE)={p:.2f}"
              for label, vid, p in zip(chosen["label"], chosen["video_id"], p_fake, strict=True)]
    return images.astype(np.uint8), heatmaps, titles
