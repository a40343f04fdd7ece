"""The `spectral` model: spectrum/SRM/LBP features of face crops, registered like any other model."""

from __future__ import annotations

import cv2
import keras
import numpy as np
import pandas as pd
import pytest

from conftest import require_shared
from deepfake_detection.features import (
    GRAY_WEIGHTS,
    HISTOGRAM_FLOOR,
    LBP_BINS,
    LBP_NEIGHBOURS,
    SPECTRUM_BINS,
    ForensicFeatures,
    bin_counts,
    feature_names,
    uniform_lbp_table,
)
from deepfake_detection.metrics import roc_auc
from deepfake_detection.models import build_model, load_model

SIZE = 64
N_CROPS = 16


def degrade(crop: np.ndarray, upscale: int = cv2.INTER_LINEAR, jpeg_quality: int | None = None) -> np.ndarray:
    """A crop (S, S, 3) float32 shrunk to half size and enlarged back with `upscale`, optionally JPEG re-coded."""
    size = crop.shape[0]
    small = cv2.resize(crop.astype(np.uint8), (size // 2, size // 2), interpolation=cv2.INTER_AREA)
    out = cv2.resize(small, (size, size), interpolation=upscale)
    if jpeg_quality is not None:
        out = cv2.imdecode(cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])[1], cv2.IMREAD_UNCHANGED)
    return out.astype(np.float32)


@pytest.fixture(scope="module")
def real_crops() -> np.ndarray:
    """N_CROPS REAL DFDC face crops as float32 (N, 64, 64, 3) 0–255 RGB, each from its own group."""
    data = require_shared("data", "dfdc-faces")
    labels = pd.read_csv(data / "labels.csv")
    files = labels[labels["label"] == "REAL"].drop_duplicates("group")["file"].iloc[:N_CROPS]
    return np.stack([cv2.resize(cv2.cvtColor(cv2.imread(str(data / f)), cv2.COLOR_BGR2RGB), (SIZE, SIZE),
                                interpolation=cv2.INTER_AREA) for f in files]).astype(np.float32)


def spectrum_profile(images: np.ndarray) -> np.ndarray:
    """The log power spectrum's radial profile relative to its mean: (N, SPECTRUM_BINS), low to high frequency."""
    return np.asarray(ForensicFeatures()(images))[:, :SPECTRUM_BINS]


def high_frequencies(share: float = 0.7) -> np.ndarray:
    """Mask of the spectrum bins above `share` of the Nyquist radius 0.5 cycles/pixel."""
    edges = np.linspace(0, np.sqrt(0.5), SPECTRUM_BINS + 1)
    return (edges[:-1] + edges[1:]) / 2 > 0.5 * share


def test_features_have_the_named_shape_and_are_finite_on_crops_and_flat_images(real_crops):
    flat = np.full((2, SIZE, SIZE, 3), 128.0, np.float32)  # no texture at all: zero residuals, zero spectrum
    saturated = np.stack([np.zeros((SIZE, SIZE, 3)), np.full((SIZE, SIZE, 3), 255.0)]).astype(np.float32)
    for images in (real_crops, flat, saturated, real_crops[:2, :32, :32]):  # 32 px: the registry's min_size
        features = np.asarray(ForensicFeatures()(images))
        assert features.shape == (len(images), len(feature_names()))
        assert np.isfinite(features).all()
    # different crops give different feature vectors (nothing collapsed to a constant)
    assert np.asarray(ForensicFeatures()(real_crops)).std(axis=0).max() > 0.1


def test_lbp_shares_match_a_numpy_count_of_uniform_patterns(real_crops):
    """The layer's LBP block equals an independent numpy count (np.bincount) of the same uniform patterns."""
    gray = real_crops @ np.array(GRAY_WEIGHTS, np.float32)
    centre = gray[:, 1:-1, 1:-1]
    code = sum((gray[:, 1 + dy:SIZE - 1 + dy, 1 + dx:SIZE - 1 + dx] >= centre).astype(np.int64) << bit
               for bit, (dy, dx) in enumerate(LBP_NEIGHBOURS))
    patterns = uniform_lbp_table()[code].reshape(len(gray), -1)
    expected = np.stack([np.bincount(p, minlength=LBP_BINS) / p.size for p in patterns])
    layer = ForensicFeatures()
    layer.build(real_crops.shape)
    shares = np.exp(np.asarray(layer.lbp(gray))) - HISTOGRAM_FLOOR
    np.testing.assert_allclose(shares, expected, atol=1e-6)
    assert (expected > 0).sum(axis=1).min() > 20  # real faces use many patterns: the check is not trivially zero
    codes = np.random.default_rng(0).integers(0, 7, (3, 500)).astype(np.int32)
    np.testing.assert_array_equal(np.asarray(bin_counts(codes, 9)),
                                  np.stack([np.bincount(c, minlength=9) for c in codes]))


def test_spectrum_tail_shows_nearest_upscaling_and_periodic_noise(real_crops):
    tail = high_frequencies()  # above 0.35 cycles/pixel
    smooth = spectrum_profile(np.stack([degrade(c, cv2.INTER_LINEAR) for c in real_crops]))[:, tail].mean(axis=1)
    blocky = spectrum_profile(np.stack([degrade(c, cv2.INTER_NEAREST) for c in real_crops]))[:, tail].mean(axis=1)
    # pixel repetition keeps far more high-frequency energy than interpolation (e^0.8 to e^1.6 times here): every crop
    assert np.all(blocky - smooth > 0.5), np.round(blocky - smooth, 2)

    yy, xx = np.mgrid[:SIZE, :SIZE]
    checker = 4.0 * (-1.0) ** (yy + xx)  # +-4 grey levels at the corner frequency (0.5, 0.5)
    plain, noisy = spectrum_profile(real_crops), spectrum_profile(real_crops + checker[None, :, :, None])
    assert np.all(noisy[:, -1] - plain[:, -1] > 2.0), np.round(noisy[:, -1] - plain[:, -1], 2)
    # a brightness offset changes nothing: the mean is removed before the FFT
    np.testing.assert_allclose(spectrum_profile(real_crops + 20.0), plain, atol=1e-3)


def test_spectral_registry_model_saves_and_loads_in_safe_mode(real_crops, tmp_path):
    model = build_model("spectral", SIZE)
    assert model.output_shape == (None, 1) and model.layers[-1].name == "p_fake"
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(real_crops, np.arange(N_CROPS) % 2, batch_size=8, epochs=1, verbose=0)  # moves BN statistics off 0/1
    model.save(tmp_path / "model.keras")
    loaded = load_model(tmp_path / "model.keras")  # safe_mode=True
    assert isinstance(loaded.get_layer("forensic_features"), ForensicFeatures)
    np.testing.assert_allclose(loaded.predict(real_crops, verbose=0), model.predict(real_crops, verbose=0),
                               rtol=0, atol=1e-6)


def test_spectral_model_refuses_input_normalisation_and_grad_cam_clearly():
    with pytest.raises(ValueError, match="normalization must be 'app'"):
        build_model("spectral", SIZE, normalization="standardize", channel_stats=([0.0] * 3, [1.0] * 3))
    from deepfake_detection.explain import gradcam_heatmaps

    with pytest.raises(ValueError, match="no layer with a 4-D output"):
        gradcam_heatmaps(build_model("spectral", SIZE), np.zeros((1, SIZE, SIZE, 3), np.float32))


def test_briefly_trained_spectral_model_separates_degraded_from_pristine_crops_in_inference_mode(real_crops):
    degraded = np.stack([degrade(c, cv2.INTER_LINEAR, jpeg_quality=70) for c in real_crops])  # the same faces
    images = np.concatenate([real_crops, degraded])
    labels = np.repeat([0.0, 1.0], N_CROPS)
    keras.utils.set_random_seed(0)
    model = build_model("spectral", SIZE)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="binary_crossentropy")
    model.fit(images, labels, batch_size=8, epochs=15, shuffle=True, verbose=0)  # 60 steps
    p = np.asarray(model.predict(images, verbose=0))[:, 0]  # inference mode: BatchNorm moving statistics
    assert p.std() > 0.1, f"inference-mode outputs are near constant (std {p.std():.4f})"
    assert roc_auc(labels, p) > 0.8, f"inference-mode AUC {roc_auc(labels, p):.3f} on its own training crops"
