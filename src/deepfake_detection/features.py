"""Frequency and residual statistics of face crops, as a Keras layer: the `spectral` registry model.

`ForensicFeatures` turns 0–255 RGB crops into a fixed vector per image, with no weights:
- the azimuthally averaged log power spectrum of the grayscale crop (Durall et al. 2020, "Watch your
  up-convolution"): upsampling, GAN decoders and re-compression reshape the high-frequency tail;
- SRM high-pass residual statistics (Fridrich & Kodovsky 2012, rich models for steganalysis): mean |r|,
  std and a histogram of rounded, truncated residuals of fixed 3x3/5x5 kernels;
- a uniform-LBP histogram (Ojala et al. 2002): how often each 8-neighbour sign pattern occurs.
The `spectral` model is `ForensicFeatures -> BatchNormalization -> Dense -> Dropout -> p_fake`, so it
trains, saves and predicts like any registry model. Only `keras.ops` inside: the model loads in safe
mode and runs on the JAX backend too.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

SPECTRUM_BINS = 48  # radial bins of the power spectrum, DC excluded, up to the corner frequency sqrt(0.5)
RESIDUAL_CLIP = 3  # residual histogram bins: round(r) truncated to -3..3 grey levels
# On grey content the SRM residuals are exact multiples of 1/2, 1/4 or 1/12, so plain rounding meets ties
# that float error (backend, device) decides; shifting the bin edges by 1/64 keeps every such value clear of them.
RESIDUAL_EDGE_SHIFT = 1 / 64
HISTOGRAM_FLOOR = 1e-3  # histograms enter as log(share + floor): rare tail bins matter, and the scale is tame
HIDDEN_UNITS = 32
GRAY_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma of RGB

# SRM high-pass kernels (5x5 frames), each scaled so that it predicts the centre pixel in grey levels.
_ZERO = np.zeros((5, 5))


def _framed(kernel: list[list[float]]) -> np.ndarray:
    """A 3x3 kernel centred in a 5x5 frame."""
    frame = _ZERO.copy()
    frame[1:4, 1:4] = kernel
    return frame


SRM_KERNELS = {
    "first_h": _framed([[0, 0, 0], [0, -1, 1], [0, 0, 0]]),
    "first_v": _framed([[0, 0, 0], [0, -1, 0], [0, 1, 0]]),
    "second_h": _framed([[0, 0, 0], [1, -2, 1], [0, 0, 0]]) / 2,
    "second_v": _framed([[0, 1, 0], [0, -2, 0], [0, 1, 0]]) / 2,
    "square3": _framed([[-1, 2, -1], [2, -4, 2], [-1, 2, -1]]) / 4,
    "kv5": np.array([[-1, 2, -2, 2, -1], [2, -6, 8, -6, 2], [-2, 8, -12, 8, -2],
                     [2, -6, 8, -6, 2], [-1, 2, -2, 2, -1]]) / 12,
}
# LBP neighbours (dy, dx) in circular order, bit k for neighbour k
LBP_NEIGHBOURS = ((-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1))


def uniform_lbp_table() -> np.ndarray:
    """8-bit LBP code -> uniform-pattern bin: the 58 codes with <= 2 circular bit changes, then one for the rest."""
    table = np.empty(256, np.int32)
    uniform = 0
    for code in range(256):
        bits = [(code >> k) & 1 for k in range(8)]
        if sum(bits[k] != bits[(k + 1) % 8] for k in range(8)) <= 2:
            table[code] = uniform
            uniform += 1
        else:
            table[code] = -1
    table[table < 0] = uniform  # 58
    return table


LBP_BINS = 59


def radial_bin_matrix(height: int, width: int, bins: int = SPECTRUM_BINS) -> np.ndarray:
    """(height * width, bins) float32: column b averages the FFT coefficients whose radius lies in bin b.

    Radii are in cycles/pixel, from 0 (DC, left out) to sqrt(0.5) (the corner). A bin that no frequency of
    this size falls into (small sizes, low radii) averages the frequencies nearest its centre instead.
    """
    fy, fx = np.meshgrid(np.fft.fftfreq(height), np.fft.fftfreq(width), indexing="ij")
    radius = np.hypot(fy, fx).reshape(-1)
    edges = np.linspace(0.0, np.sqrt(0.5), bins + 1)
    index = np.clip(np.digitize(radius, edges) - 1, 0, bins - 1)
    members = np.zeros((radius.size, bins), np.float64)
    members[np.arange(radius.size), index] = 1.0
    members[radius == 0] = 0.0
    centres = (edges[:-1] + edges[1:]) / 2
    for b in np.flatnonzero(members.sum(axis=0) == 0):
        distance = np.abs(np.where(radius > 0, radius, np.inf) - centres[b])
        members[np.isclose(distance, distance.min()), b] = 1.0
    return (members / members.sum(axis=0, keepdims=True)).astype(np.float32)


def feature_names(bins: int = SPECTRUM_BINS, clip: int = RESIDUAL_CLIP) -> list[str]:
    """Names of ForensicFeatures' output columns, in order."""
    names = [f"spectrum_{b}" for b in range(bins)] + ["spectrum_level"]
    for kernel in SRM_KERNELS:
        names += [f"srm_{kernel}_mean_abs", f"srm_{kernel}_std"]
        names += [f"srm_{kernel}_hist_{v}" for v in range(-clip, clip + 1)]
    return names + [f"lbp_{b}" for b in range(LBP_BINS)]


@keras.saving.register_keras_serializable(package="deepfake_detection")
class ForensicFeatures(layers.Layer):
    """0–255 RGB (N, H, W, 3) -> float32 (N, F) spectrum, SRM residual and LBP statistics; no weights.

    Computed in float32 whatever the dtype policy (log power spectra overflow float16).
    """

    def __init__(self, spectrum_bins: int = SPECTRUM_BINS, residual_clip: int = RESIDUAL_CLIP, **kwargs) -> None:
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        self.spectrum_bins = int(spectrum_bins)
        self.residual_clip = int(residual_clip)
        self.n_features = len(feature_names(self.spectrum_bins, self.residual_clip))

    def build(self, input_shape) -> None:
        height, width = int(input_shape[1]), int(input_shape[2])
        if min(height, width) < 8:
            raise ValueError(f"ForensicFeatures needs images of at least 8x8 px, got {height}x{width}")
        # constants, not weights: they follow from the input size, so nothing is saved for them
        self._window = (np.hanning(height)[:, None] * np.hanning(width)[None, :]).astype(np.float32)
        self._radial = radial_bin_matrix(height, width, self.spectrum_bins)
        stacked = np.stack(list(SRM_KERNELS.values()), axis=-1)  # (5, 5, K)
        self._srm = stacked[:, :, None, :].astype(np.float32)  # (5, 5, 1, K)
        self._lbp_table = uniform_lbp_table()

    def spectrum(self, gray):  # (N, H, W) grey levels -> (N, bins + 1)
        centred = gray - ops.mean(gray, axis=(1, 2), keepdims=True)
        windowed = centred * ops.convert_to_tensor(self._window)
        real, imag = ops.fft2((windowed, ops.zeros_like(windowed)))
        log_power = ops.log(real * real + imag * imag + 1.0)  # (N, H, W)
        profile = ops.matmul(ops.reshape(log_power, (-1, self._radial.shape[0])), ops.convert_to_tensor(self._radial))
        level = ops.mean(profile, axis=-1, keepdims=True)
        return ops.concatenate([profile - level, level], axis=-1)  # shape of the spectrum, then its overall level

    def residuals(self, gray):  # (N, H, W) -> (N, K * (2 + 2 * clip + 1))
        r = ops.conv(gray[..., None], ops.convert_to_tensor(self._srm), padding="valid")  # (N, H-4, W-4, K)
        mean_abs = ops.mean(ops.abs(r), axis=(1, 2))  # (N, K)
        std = ops.std(r, axis=(1, 2))
        clipped = ops.clip(ops.round(r + RESIDUAL_EDGE_SHIFT), -self.residual_clip, self.residual_clip)
        shares = ops.stack([ops.mean(ops.cast(ops.equal(clipped, float(v)), "float32"), axis=(1, 2))
                            for v in range(-self.residual_clip, self.residual_clip + 1)], axis=-1)  # (N, K, bins)
        stats = ops.concatenate([ops.log(mean_abs + 1.0)[..., None], ops.log(std + 1.0)[..., None],
                                 ops.log(shares + HISTOGRAM_FLOOR)], axis=-1)  # (N, K, 2 + bins)
        return ops.reshape(stats, (-1, stats.shape[1] * stats.shape[2]))

    def lbp(self, gray):  # (N, H, W) -> (N, 59)
        height, width = gray.shape[1], gray.shape[2]
        centre = gray[:, 1:height - 1, 1:width - 1]
        code = ops.zeros_like(centre, dtype="int32")
        for bit, (dy, dx) in enumerate(LBP_NEIGHBOURS):
            neighbour = gray[:, 1 + dy:height - 1 + dy, 1 + dx:width - 1 + dx]
            code = code + ops.cast(ops.greater_equal(neighbour, centre), "int32") * (1 << bit)
        pattern = ops.take(ops.convert_to_tensor(self._lbp_table), code)  # (N, H-2, W-2) in 0..58
        shares = ops.mean(ops.one_hot(pattern, LBP_BINS, dtype="float32"), axis=(1, 2))
        return ops.log(shares + HISTOGRAM_FLOOR)

    def call(self, images):
        x = ops.cast(images, "float32")
        gray = ops.tensordot(x, ops.convert_to_tensor(np.array(GRAY_WEIGHTS, np.float32)), axes=1)  # (N, H, W)
        return ops.concatenate([self.spectrum(gray), self.residuals(gray), self.lbp(gray)], axis=-1)

    def compute_output_shape(self, input_shape) -> tuple:
        return (input_shape[0], self.n_features)

    def get_config(self) -> dict:
        return {**super().get_config(), "spectrum_bins": self.spectrum_bins, "residual_clip": self.residual_clip}


def spectral_head(images, dropout: float = 0.3):
    """0–255 RGB -> forensic features -> BatchNorm standardisation -> Dense(32, ReLU) -> Dropout -> P(FAKE).

    BatchNormalization without scale standardises the features (its moving statistics are what inference
    uses), so no training-crop statistics need passing in; a small epsilon keeps low-variance features
    from being squashed.
    """
    x = ForensicFeatures(name="forensic_features")(images)
    x = layers.BatchNormalization(scale=False, epsilon=1e-5, name="feature_standardization")(x)
    x = layers.Dense(HIDDEN_UNITS, activation="relu", name="hidden")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    return layers.Dense(1, activation="sigmoid", name="p_fake", dtype="float32")(x)
