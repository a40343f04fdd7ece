"""Frame probabilities -> one P(FAKE) per video, and calibration of video probabilities.

The aggregation is chosen on out-of-fold frame predictions (never hard-coded), and the
calibration (Platt or temperature scaling of the logit, then clip bounds) is fitted on
out-of-fold video predictions to minimise Kaggle's log loss. Both are plain numbers, saved as JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar
from sklearn.linear_model import LogisticRegression

from deepfake_detection.config import KAGGLE_EPS, PredictConfig
from deepfake_detection.metrics import balanced_log_loss, log_loss

Aggregator = Callable[[np.ndarray, PredictConfig], float]
# L2 on the Platt scale: without it, nearly separable out-of-fold data drives the scale to infinity
PLATT_C = 1.0


def mean_prob(p: np.ndarray, cfg: PredictConfig) -> float:
    """Plain mean of the frame probabilities."""
    return float(np.mean(p))


def median_prob(p: np.ndarray, cfg: PredictConfig) -> float:
    """Median: robust to a few frames where the detector cropped something odd."""
    return float(np.median(p))


def confident_mean(p: np.ndarray, cfg: PredictConfig) -> float:
    """Mean of the confident frames when enough agree (1st-place DFDC idea), else the plain mean.

    A fake is often visible in only part of a video, so when a large enough share of frames is
    confidently FAKE their mean is used; a video counts as confidently REAL only when nearly all
    frames say so.
    """
    fake = p > cfg.confident_fake
    real = p < cfg.confident_real
    if fake.mean() >= cfg.confident_fake_share:
        return float(p[fake].mean())
    if real.mean() >= cfg.confident_real_share:
        return float(p[real].mean())
    return float(p.mean())


def distance_weighted_mean(p: np.ndarray, cfg: PredictConfig) -> float:
    """Mean weighted by |p - 0.5| (3rd-place DFDC idea): undecided frames count less."""
    weights = np.abs(p - 0.5) + 1e-6  # the offset keeps an all-0.5 video defined
    return float(np.average(p, weights=weights))


AGGREGATIONS: dict[str, Aggregator] = {
    "mean": mean_prob,
    "median": median_prob,
    "confident": confident_mean,
    "weighted": distance_weighted_mean,
}


def aggregate(p: np.ndarray, name: str, cfg: PredictConfig | None = None,
              tracks: np.ndarray | None = None) -> float:
    """One video's P(FAKE) from its face probabilities: aggregate per face track, then take the max.

    p: (N,) P(FAKE) per face crop; tracks: (N,) track id per crop (None = one track). A video is
    fake when any of its people is, hence the max over tracks.
    """
    if name not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation {name!r}; choose from {sorted(AGGREGATIONS)}")
    cfg = cfg or PredictConfig()
    p = np.asarray(p, dtype=float)
    if p.size == 0:
        raise ValueError("cannot aggregate a video without face predictions")
    if tracks is None:
        return AGGREGATIONS[name](p, cfg)
    tracks = np.asarray(tracks)
    return max(AGGREGATIONS[name](p[tracks == t], cfg) for t in np.unique(tracks))


def aggregate_frames(oof_frames: pd.DataFrame, name: str, cfg: PredictConfig | None = None) -> pd.DataFrame:
    """Video table (video_id, label, group, fold, p, n_frames) from a frame table with the same columns plus track."""
    cfg = cfg or PredictConfig()
    keys = [c for c in ("label", "group", "fold") if c in oof_frames.columns]
    has_track = "track" in oof_frames.columns
    rows = []
    for video_id, frames in oof_frames.groupby("video_id", sort=True):
        tracks = frames["track"].to_numpy() if has_track else None
        row = {"video_id": video_id, **{k: frames[k].iloc[0] for k in keys}}
        row["p"] = aggregate(frames["p"].to_numpy(), name, cfg, tracks)
        row["n_frames"] = len(frames)
        rows.append(row)
    return pd.DataFrame(rows)


def aggregation_scores(oof_frames: pd.DataFrame, cfg: PredictConfig | None = None) -> pd.DataFrame:
    """Balanced log loss, log loss per aggregation on out-of-fold frames grouped per video."""
    rows = []
    for name in AGGREGATIONS:
        videos = aggregate_frames(oof_frames, name, cfg)
        rows.append({"aggregation": name,
                     "balanced_log_loss": balanced_log_loss(videos["label"], videos["p"]),
                     "log_loss": log_loss(videos["label"], videos["p"])})
    return pd.DataFrame(rows).set_index("aggregation")


def choose_aggregation(oof_frames: pd.DataFrame, cfg: PredictConfig | None = None) -> str:
    """The aggregation with the lowest balanced log loss on out-of-fold frames (ties: list order)."""
    return str(aggregation_scores(oof_frames, cfg)["balanced_log_loss"].idxmin())


# --- calibration ---------------------------------------------------------------------------------
def logit(p: np.ndarray, eps: float) -> np.ndarray:
    """log(p / (1 - p)) with p clipped to [eps, 1 - eps] so 0 and 1 stay finite."""
    p = np.clip(np.asarray(p, dtype=float), eps, 1 - eps)
    return np.log(p) - np.log1p(-p)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=float)))


@dataclass
class Calibration:
    """p -> clip(sigmoid(scale * logit(p) + shift), low, high): fitted on out-of-fold videos."""

    method: str = "identity"  # "platt", "temperature" or "identity"
    scale: float = 1.0  # 1 / temperature
    shift: float = 0.0
    clip_low: float = 0.0  # fitted: at least min(PredictConfig.clip_grid)
    clip_high: float = 1.0
    logit_eps: float = 1e-4

    def apply(self, p: np.ndarray) -> np.ndarray:
        """Calibrated, clipped probabilities for raw P(FAKE) values."""
        z = self.scale * logit(p, self.logit_eps) + self.shift
        return np.clip(sigmoid(z), self.clip_low, self.clip_high)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Calibration:
        return cls(**data)


def sample_weights(y: np.ndarray, balance: bool) -> np.ndarray:
    """Per-row weights: each class weighs half when `balance`, else every row weighs the same."""
    y = np.asarray(y, dtype=int)
    if not balance or len(np.unique(y)) < 2:
        return np.ones(len(y))
    counts = np.bincount(y, minlength=2)
    return len(y) / (2.0 * counts[y])


def fit_loss(y: np.ndarray, p: np.ndarray, weights: np.ndarray) -> float:
    """Weighted Kaggle log loss (clipped like Kaggle): equals balanced log loss under balanced weights.

    Plain numpy because the clip-bound search calls it hundreds of times.
    """
    p = np.clip(p, KAGGLE_EPS, 1 - KAGGLE_EPS)
    return float(-np.average(y * np.log(p) + (1 - y) * np.log1p(-p), weights=weights))


def _fit_scaling(z: np.ndarray, y: np.ndarray, weights: np.ndarray, method: str) -> tuple[float, float]:
    """Scale (and shift, for Platt) of the logit z minimising weighted binary cross-entropy."""
    if method == "platt" and len(np.unique(y)) == 2:
        model = LogisticRegression(C=PLATT_C, solver="newton-cholesky").fit(z[:, None], y, sample_weight=weights)
        return float(model.coef_[0, 0]), float(model.intercept_[0])

    def loss(scale: float) -> float:
        s = scale * z
        return float(np.average(np.logaddexp(0.0, s) - y * s, weights=weights))  # log(1 + e^s) - y s, stable

    return float(minimize_scalar(loss, bounds=(1e-3, 1e3), method="bounded").x), 0.0


def fit_calibration(y: np.ndarray, p: np.ndarray, cfg: PredictConfig | None = None,
                    method: str | None = None) -> Calibration:
    """Fit logit scaling, then the clip bounds (searched on cfg.clip_grid, never none) that minimise OOF log loss.

    With cfg.class_balance the loss is the balanced log loss (each class weighs half).
    """
    cfg = cfg or PredictConfig()
    method = method or cfg.calibration
    if method not in ("platt", "temperature", "identity"):
        raise ValueError(f"unknown calibration {method!r}: use platt, temperature or identity")
    y = np.asarray(y, dtype=int)
    z = logit(p, cfg.logit_eps)
    weights = sample_weights(y, cfg.class_balance)
    scale, shift = _fit_scaling(z, y, weights, method) if method != "identity" else (1.0, 0.0)
    calibration = Calibration(method, scale, shift, 0.0, 1.0, cfg.logit_eps)
    scaled = calibration.apply(p)
    # Never unclipped: a perfect out-of-fold score must not leave one confident miss costing ~35 on the test set.
    best = (np.inf, min(cfg.clip_grid), 1 - min(cfg.clip_grid))
    for low in cfg.clip_grid:
        for high in (1 - c for c in cfg.clip_grid):
            score = fit_loss(y, np.clip(scaled, low, high), weights)
            if score < best[0] - 1e-12:
                best = (score, low, high)
    calibration.clip_low, calibration.clip_high = float(best[1]), float(best[2])
    return calibration
