"""Frequency and residual statistics of face crops, as a Keras layer: the `spectral` registry model.

`ForensicFeatures` turns 0–255 RGB crops into a fixed vector per image, with no weights:
- the azimuthally averaged log power spectrum of the grayscale crop (Durall et al. 2020, "Watch your
  up-convolution"): upsampling, GAN decoders and re-compression reshape the high-frequency tail;
- SRM high-pass residual statistics (Fridrich & Kodovsky 2012, rich models for steganalysis): mean |r|,
  std and a histogram of rounded, truncated residuals of fixed 3x3/5x5 kernels;
- a uniform-LBP histogram (Ojala et al. 2002): how often each 8-neighbour sign pattern occurs.
Each statistic is taken of one *view* of the crop: a colour channel (luma, or the Cr/Cb chroma that face
swaps blend) over the whole crop or its centre (the swapped face without hair and background).

Two registry models use them, so both train, save and predict like any other:
- `spectral`: luma features -> BatchNormalization -> Dense -> Dropout -> p_fake, trained by gradient;
- `forensic_gbm`: the FORENSIC_VIEWS features -> `TreeEnsemble`, a gradient-boosted tree ensemble fitted by
  scikit-learn (train.fit_trees_fold) and stored as fixed weights, so no pickle is ever loaded.
Only `keras.ops` inside: the models load in safe mode and run on the JAX backend too.
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
# RGB -> channel weights of a view: BT.601 luma and the YCrCb chroma differences (without their constant offset,
# which no statistic here sees: the spectrum is mean-centred, residuals are high-pass, LBP compares neighbours)
CHANNEL_WEIGHTS = {
    "luma": GRAY_WEIGHTS,
    "cr": tuple(0.713 * (float(r == 0) - w) for r, w in enumerate(GRAY_WEIGHTS)),
    "cb": tuple(0.564 * (float(r == 2) - w) for r, w in enumerate(GRAY_WEIGHTS)),
}
# the views of `forensic_gbm`: (channel, centre share of the crop side); each adds one ForensicFeatures block
FORENSIC_VIEWS = (("luma", 1.0), ("luma", 0.5), ("cr", 1.0), ("cb", 1.0))

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


def bin_counts(codes, n_bins: int):
    """int32 (N, M) codes in [0, n_bins) -> float32 (N, n_bins): how often each image holds every code.

    One segment sum of exact integer counts: for LBP's 59 bins about 4x faster on CPU than averaging a one-hot
    tensor (N, M, 59). (For the residuals' 7 bins per kernel, 7 comparisons stay as fast.) The segment count
    comes from the static batch size where there is one (JAX traces with static shapes); TensorFlow takes a tensor.
    """
    n_images = ops.shape(codes)[0]
    offsets = ops.expand_dims(ops.arange(n_images, dtype="int32"), 1) * n_bins  # image i: segments i*n_bins + code
    counts = ops.segment_sum(ops.ones_like(ops.reshape(codes, (-1,))), ops.reshape(codes + offsets, (-1,)),
                             num_segments=n_images * n_bins)
    return ops.cast(ops.reshape(counts, (-1, n_bins)), "float32")


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
    """0–255 RGB (N, H, W, 3) -> float32 (N, F) spectrum, SRM residual and LBP statistics of one view; no weights.

    channel: "luma", "cr" or "cb" (CHANNEL_WEIGHTS); centre: share of each side kept around the centre
    (1.0: the whole crop). Computed in float32 whatever the dtype policy (log power spectra overflow float16).
    """

    def __init__(self, spectrum_bins: int = SPECTRUM_BINS, residual_clip: int = RESIDUAL_CLIP, channel: str = "luma",
                 centre: float = 1.0, **kwargs) -> None:
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        if channel not in CHANNEL_WEIGHTS:
            raise ValueError(f"channel must be one of {sorted(CHANNEL_WEIGHTS)}, got {channel!r}")
        if not 0.0 < centre <= 1.0:
            raise ValueError(f"centre must be in (0, 1], got {centre}")
        self.spectrum_bins = int(spectrum_bins)
        self.residual_clip = int(residual_clip)
        self.channel, self.centre = channel, float(centre)
        self.n_features = len(feature_names(self.spectrum_bins, self.residual_clip))

    def _centre_slices(self, shape) -> tuple[slice, slice]:
        """Row and column slices of the centre window of an (N, H, W, 3) input."""
        def bounds(side: int) -> slice:
            kept = min(side, max(8, round(side * self.centre)))
            first = (side - kept) // 2
            return slice(first, first + kept)
        return bounds(int(shape[1])), bounds(int(shape[2]))

    def build(self, input_shape) -> None:
        rows, cols = self._centre_slices(input_shape)
        height, width = rows.stop - rows.start, cols.stop - cols.start
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

    def lbp_patterns(self, gray):  # (N, H, W) -> int32 (N, (H-2) * (W-2)) in 0..58
        """The uniform LBP pattern of every interior pixel, flattened per image."""
        height, width = gray.shape[1], gray.shape[2]
        centre = gray[:, 1:height - 1, 1:width - 1]
        code = ops.zeros_like(centre, dtype="int32")
        for bit, (dy, dx) in enumerate(LBP_NEIGHBOURS):
            neighbour = gray[:, 1 + dy:height - 1 + dy, 1 + dx:width - 1 + dx]
            code = code + ops.cast(ops.greater_equal(neighbour, centre), "int32") * (1 << bit)
        pattern = ops.take(ops.convert_to_tensor(self._lbp_table), code)  # (N, H-2, W-2)
        return ops.reshape(pattern, (-1, (height - 2) * (width - 2)))

    def lbp(self, gray):  # (N, H, W) -> (N, 59)
        pattern = self.lbp_patterns(gray)
        pixels = pattern.shape[1]
        return ops.log(bin_counts(pattern, LBP_BINS) / float(pixels) + HISTOGRAM_FLOOR)

    def call(self, images):
        rows, cols = self._centre_slices(images.shape)
        x = ops.cast(images[:, rows, cols], "float32")
        weights = ops.convert_to_tensor(np.array(CHANNEL_WEIGHTS[self.channel], np.float32))
        gray = ops.tensordot(x, weights, axes=1)  # (N, h, w): the view's channel
        return ops.concatenate([self.spectrum(gray), self.residuals(gray), self.lbp(gray)], axis=-1)

    def compute_output_shape(self, input_shape) -> tuple:
        return (input_shape[0], self.n_features)

    def get_config(self) -> dict:
        return {**super().get_config(), "spectrum_bins": self.spectrum_bins, "residual_clip": self.residual_clip,
                "channel": self.channel, "centre": self.centre}


def view_features(images, views=FORENSIC_VIEWS, layer: type[ForensicFeatures] = ForensicFeatures):
    """0–255 RGB -> (N, len(views) * F): one `layer` block per (channel, centre) view, concatenated (the layer
    class may be a variant of ForensicFeatures, e.g. a benchmark's baseline)."""
    blocks = [layer(channel=channel, centre=centre, name=f"features_{channel}_{round(centre * 100)}")(images)
              for channel, centre in views]
    return blocks[0] if len(blocks) == 1 else layers.Concatenate(name="forensic_views")(blocks)


def view_feature_names(views=FORENSIC_VIEWS) -> list[str]:
    """Column names of view_features' output, each prefixed by its view (e.g. `cr_100/lbp_3`)."""
    return [f"{channel}_{round(centre * 100)}/{name}" for channel, centre in views for name in feature_names()]


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


# --- gradient-boosted trees as a Keras layer -------------------------------------------------------
def _floor_float32(values: np.ndarray) -> np.ndarray:
    """float64 -> the largest float32 <= each value: for float32 x, `x <= floor32(t)` exactly when `x <= t`."""
    rounded = values.astype(np.float32)
    above = rounded.astype(np.float64) > values
    rounded[above] = np.nextafter(rounded[above], np.float32(-np.inf))
    return rounded


def tree_arrays(booster) -> dict[str, np.ndarray]:
    """A fitted binary sklearn HistGradientBoostingClassifier -> the padded arrays a TreeEnsemble holds.

    (T trees, M nodes) arrays: split feature, threshold, children (a leaf and padding point at themselves, so
    walking `depth` steps from the root always ends on a leaf), the side a missing value takes, leaf values;
    and the baseline raw score. Reads the booster's fitted predictors (sklearn's `_predictors`): a test checks
    that the layer reproduces `predict_proba`, which guards against a change of that internal layout.
    """
    if getattr(booster, "n_trees_per_iteration_", 1) != 1:
        raise ValueError("TreeEnsemble holds a binary classifier (one tree per iteration)")
    trees = [predictors[0].nodes for predictors in booster._predictors]
    if any(nodes["is_categorical"].any() for nodes in trees):
        raise ValueError("TreeEnsemble supports numeric splits only (no categorical features)")
    n_trees, n_nodes = max(len(trees), 1), max((len(nodes) for nodes in trees), default=1)
    own = np.broadcast_to(np.arange(n_nodes, dtype=np.int32), (n_trees, n_nodes))
    arrays = {"feature": np.zeros((n_trees, n_nodes), np.int32), "threshold": np.zeros((n_trees, n_nodes), np.float32),
              "left": own.copy(), "right": own.copy(), "missing_left": np.zeros((n_trees, n_nodes), np.int32),
              "value": np.zeros((n_trees, n_nodes), np.float32)}
    depth = 1
    for t, nodes in enumerate(trees):
        m, leaf = len(nodes), nodes["is_leaf"].astype(bool)
        arrays["feature"][t, :m] = np.where(leaf, 0, nodes["feature_idx"])
        arrays["threshold"][t, :m] = np.where(leaf, 0.0, _floor_float32(nodes["num_threshold"].astype(np.float64)))
        arrays["left"][t, :m] = np.where(leaf, np.arange(m), nodes["left"])
        arrays["right"][t, :m] = np.where(leaf, np.arange(m), nodes["right"])
        arrays["missing_left"][t, :m] = nodes["missing_go_to_left"]
        arrays["value"][t, :m] = np.where(leaf, nodes["value"], 0.0)
        depth = max(depth, int(nodes["depth"].max()))
    arrays["bias"] = np.asarray(booster._baseline_prediction, np.float32).reshape(1)
    arrays["depth"] = np.int32(depth)
    return arrays


@keras.saving.register_keras_serializable(package="deepfake_detection")
class TreeEnsemble(layers.Layer):
    """(N, F) features -> (N, 1) P(FAKE) of a gradient-boosted tree ensemble held as non-trainable weights.

    Every sample walks every tree at once for `depth` steps (gathers only), then the leaf values are summed
    with the baseline and passed through a sigmoid: sklearn's binary `predict_proba`, in keras.ops, saved
    in the .keras file like any weight. Built unfitted it is one leaf of value 0: P(FAKE) = 0.5.
    """

    _ARRAYS = {"feature": "int32", "threshold": "float32", "left": "int32", "right": "int32",
               "missing_left": "int32", "value": "float32"}

    def __init__(self, n_trees: int = 1, n_nodes: int = 1, depth: int = 1, **kwargs) -> None:
        kwargs["dtype"] = "float32"
        kwargs["trainable"] = False
        super().__init__(**kwargs)
        self.n_trees, self.n_nodes, self.depth = int(n_trees), int(n_nodes), int(depth)

    @classmethod
    def from_booster(cls, booster, n_features: int, **kwargs) -> TreeEnsemble:
        """A built layer holding a fitted HistGradientBoostingClassifier's trees."""
        arrays = tree_arrays(booster)
        layer = cls(*arrays["feature"].shape, depth=int(arrays["depth"]), **kwargs)
        layer.build((None, n_features))
        for name in (*cls._ARRAYS, "bias"):
            getattr(layer, name).assign(arrays[name])
        return layer

    def build(self, input_shape) -> None:
        shape = (self.n_trees, self.n_nodes)
        for name, dtype in self._ARRAYS.items():
            setattr(self, name, self.add_weight(shape=shape, dtype=dtype, initializer="zeros", trainable=False,
                                                name=name))
        self.bias = self.add_weight(shape=(1,), initializer="zeros", trainable=False, name="bias")

    def call(self, features):  # (N, F) -> (N, 1)
        features = ops.cast(features, "float32")
        offsets = ops.arange(self.n_trees, dtype="int32")[None, :] * self.n_nodes  # (1, T): flat index of each root
        flat = {name: ops.reshape(getattr(self, name), (-1,)) for name in self._ARRAYS}

        def step(_, node):  # (N, T) node of every sample in every tree -> its child
            at = node + offsets
            x = ops.take_along_axis(features, ops.take(flat["feature"], at), axis=1)  # (N, T)
            go_left = ops.where(ops.isnan(x), ops.take(flat["missing_left"], at) > 0,
                                ops.less_equal(x, ops.take(flat["threshold"], at)))
            return ops.where(go_left, ops.take(flat["left"], at), ops.take(flat["right"], at))

        # one loop in the graph, not `depth` unrolled copies: tracing the unrolled walk took seconds per input shape
        node = ops.fori_loop(0, self.depth, step, ops.zeros((ops.shape(features)[0], self.n_trees), dtype="int32"))
        raw = ops.sum(ops.take(flat["value"], node + offsets), axis=1, keepdims=True) + self.bias
        return ops.sigmoid(raw)

    def compute_output_shape(self, input_shape) -> tuple:
        return (input_shape[0], 1)

    def get_config(self) -> dict:
        return {**super().get_config(), "n_trees": self.n_trees, "n_nodes": self.n_nodes, "depth": self.depth}


def forensic_trees(images, dropout: float = 0.0, boosters=None):
    """0–255 RGB -> FORENSIC_VIEWS features -> P(FAKE) of tree ensembles (the `forensic_gbm` model).

    boosters: fitted HistGradientBoostingClassifiers; several (the fold models) share one feature block and
    their P(FAKE) are averaged. None: one unfitted ensemble (P(FAKE) 0.5), which train.fit_trees_fold replaces.
    `dropout` is accepted for the registry's constructor signature; trees have none.
    """
    features = view_features(images)
    n_features = int(features.shape[-1])
    if not boosters:
        return TreeEnsemble(name="p_fake")(features)
    outputs = [TreeEnsemble.from_booster(b, n_features, name=f"p_fake_{k}" if len(boosters) > 1 else "p_fake")(features)
               for k, b in enumerate(boosters)]
    return outputs[0] if len(outputs) == 1 else layers.Average(name="p_fake")(outputs)
