"""Scratch-trained models must predict in inference mode (training=False) what they learned in training.

BatchNorm layers normalise with batch statistics while training and with their moving statistics in
inference; if the moving statistics lag behind (Keras momentum 0.99/0.999 over a few hundred steps),
a model that fits its training crops still outputs a near-constant 0.5 at validation and prediction.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from conftest import TINY_CROP_SIZE, require_shared
from deepfake_detection.artifacts import CropsDir
from deepfake_detection.metrics import balanced_log_loss, roc_auc
from deepfake_detection.models import SCRATCH_BN_MOMENTUM, batchnorm_layers, build_model, load_model
from deepfake_detection.pipeline import load_crops

FIT_STEPS = 120  # enough for both models to fit the 72 tiny crops; seconds on 2 busy CPU cores
BATCH = 16


@pytest.fixture(scope="module")
def training_crops(tiny_crops) -> tuple[np.ndarray, np.ndarray]:
    """All tiny crops as float32 (72, 64, 64, 3) 0-255 RGB and their labels (1 = FAKE)."""
    manifest = CropsDir(tiny_crops[0]).load()
    return load_crops(manifest, TINY_CROP_SIZE).astype(np.float32), manifest["label"].to_numpy(np.float32)


def fit_scratch(name: str, images: np.ndarray, labels: np.ndarray) -> keras.Model:
    """A randomly initialised registry model fitted on the crops for FIT_STEPS shuffled steps."""
    keras.utils.set_random_seed(0)
    model = build_model(name, TINY_CROP_SIZE)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    epochs = -(-FIT_STEPS * BATCH // len(images))
    model.fit(images, labels, batch_size=BATCH, epochs=epochs, shuffle=True, verbose=0)
    return model


@pytest.mark.parametrize("name", ["mobilenet_v3_small", "meso4"])
def test_scratch_model_separates_its_training_crops_in_inference_mode(name, training_crops):
    images, labels = training_crops
    model = fit_scratch(name, images, labels)
    p = np.asarray(model.predict(images, batch_size=32, verbose=0))[:, 0]  # inference mode: moving statistics
    assert p.std() > 0.1, f"{name}: inference-mode outputs are near constant (std {p.std():.4f}, mean {p.mean():.3f})"
    assert roc_auc(labels, p) > 0.8, f"{name}: inference-mode AUC {roc_auc(labels, p):.3f} on its own training crops"
    # ln 2 = 0.693 is what a constant 0.5 scores; a fitted model must do far better on its own crops
    assert balanced_log_loss(labels, p) < 0.4, \
        f"{name}: inference-mode balanced log loss {balanced_log_loss(labels, p):.3f}"


def test_scratch_batchnorm_momentum_survives_save_and_load(tmp_path):
    model = build_model("mobilenet_v3_small", 32)
    assert {layer.momentum for layer in batchnorm_layers(model)} == {SCRATCH_BN_MOMENTUM}
    model.save(tmp_path / "model.keras")
    loaded = load_model(tmp_path / "model.keras")
    assert len(batchnorm_layers(loaded)) == len(batchnorm_layers(model)) > 0
    assert {layer.momentum for layer in batchnorm_layers(loaded)} == {SCRATCH_BN_MOMENTUM}


def test_pretrained_model_keeps_its_batchnorm_momentum():
    weights = require_shared("weights", "mesonet", "Meso4_DF.h5")
    model = build_model("meso4", 256, weights=weights)
    assert {layer.momentum for layer in batchnorm_layers(model)} == {0.99}  # Keras's default, as before
