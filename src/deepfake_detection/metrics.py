"""Scores for P(FAKE) predictions: Kaggle log loss, balanced log loss, ROC AUC, accuracy (sklearn underneath)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from sklearn import metrics as skm

from deepfake_detection.config import KAGGLE_EPS


def _clean(y_true, y_prob, eps: float) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype=int)
    p = np.clip(np.asarray(y_prob, dtype=float), eps, 1 - eps)
    if y.shape != p.shape:
        raise ValueError(f"labels {y.shape} and predictions {p.shape} differ in shape")
    return y, p


def log_loss(y_true, y_prob, eps: float = KAGGLE_EPS) -> float:
    """Kaggle's DFDC score: binary cross-entropy with predictions clipped to [eps, 1 - eps]."""
    y, p = _clean(y_true, y_prob, eps)
    return float(skm.log_loss(y, p, labels=[0, 1]))


def balanced_log_loss(y_true, y_prob, eps: float = KAGGLE_EPS) -> float:
    """Mean of the REAL-class and FAKE-class log losses (1st-place DFDC validation metric)."""
    y, p = _clean(y_true, y_prob, eps)
    losses = [skm.log_loss(y[y == c], p[y == c], labels=[0, 1]) for c in (0, 1) if (y == c).any()]
    return float(np.mean(losses)) if losses else float("nan")


def roc_auc(y_true, y_prob) -> float:
    """ROC AUC, NaN when only one class is present."""
    y = np.asarray(y_true, dtype=int)
    return float(skm.roc_auc_score(y, y_prob)) if len(np.unique(y)) == 2 else float("nan")


def evaluate(y_true, y_prob, eps: float = KAGGLE_EPS) -> dict[str, float]:
    """All project metrics for one set of video predictions."""
    y, p = _clean(y_true, y_prob, eps)
    return {
        "log_loss": log_loss(y, p, eps),
        "balanced_log_loss": balanced_log_loss(y, p, eps),
        "roc_auc": roc_auc(y, p),
        "accuracy": float(skm.accuracy_score(y, p >= 0.5)),
        "n": int(len(y)),
        "n_fake": int((y == 1).sum()),
        "n_real": int((y == 0).sum()),
    }


def prior_baseline(y_true) -> dict[str, float]:
    """Metrics of the constant prediction equal to the FAKE share: what any model must beat."""
    y = np.asarray(y_true, dtype=int)
    return evaluate(y, np.full(len(y), y.mean() if len(y) else 0.5))


def bootstrap_samples(y: np.ndarray, p: np.ndarray, groups: np.ndarray, n_boot: int = 1000,
                      seed: int = 0) -> dict[str, np.ndarray]:
    """Each metric on n_boot group resamples: arrays (n_boot,), vectorised over resamples.

    Each resample draws len(groups) whole groups with replacement; the metrics of `evaluate` are computed
    from per-row draw counts, which takes milliseconds instead of the seconds that a call of sklearn per
    resample costs. The same seed gives the same resamples for every prediction column, so differences
    between columns are paired.
    """
    y, p = np.asarray(y, dtype=int), np.clip(np.asarray(p, dtype=float), KAGGLE_EPS, 1 - KAGGLE_EPS)
    groups = np.asarray(groups)
    rng = np.random.default_rng(seed)
    unique, row_group = np.unique(groups, return_inverse=True)
    g = len(unique)
    draws = rng.integers(0, g, size=(n_boot, g))  # each resample: g group indices drawn with replacement
    counts = np.bincount((draws + g * np.arange(n_boot)[:, None]).ravel(), minlength=n_boot * g).reshape(n_boot, g)
    w = counts[:, row_group].astype(float)  # (n_boot, n_rows): how often each row was drawn
    loss = -(y * np.log(p) + (1 - y) * np.log1p(-p))  # (n_rows,)
    w_fake, w_real = w * (y == 1), w * (y == 0)
    n_fake, n_real, n_all = w_fake.sum(1), w_real.sum(1), w.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        class_losses = np.stack([w_real @ loss / n_real, w_fake @ loss / n_fake])  # NaN where a class is absent
        auc = weighted_auc(p, y, w) / (n_fake * n_real)
        return {"log_loss": w @ loss / n_all,
                "balanced_log_loss": np.nanmean(class_losses, axis=0),
                "roc_auc": np.where((n_fake > 0) & (n_real > 0), auc, np.nan),
                "accuracy": w @ ((p >= 0.5) == (y == 1)) / n_all}


def weighted_auc(p: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Mann-Whitney numerator per resample, O(n_boot x n): sum over FAKE rows of w_i x (REAL weight scored below,
    plus half of the REAL weight tied with it). p, y: (n,); w: (n_boot, n) row weights. Divide by W_fake x W_real."""
    order = np.argsort(p, kind="mergesort")
    p, y, w = p[order], y[order], w[:, order]
    starts = np.r_[0, np.flatnonzero(np.diff(p)) + 1]  # blocks of tied scores
    real = np.add.reduceat(w * (y == 0), starts, axis=1)  # (n_boot, n_blocks)
    fake = np.add.reduceat(w * (y == 1), starts, axis=1)
    real_below = np.cumsum(real, axis=1) - real
    return (fake * (real_below + 0.5 * real)).sum(axis=1)


def auc_permutation_p(y, p, n: int = 1000, seed: int = 0) -> float:
    """One-sided permutation p-value of ROC AUC: the share of label permutations scoring at least the observed AUC.

    (1 + hits) / (1 + n), so it is never 0. Rows are permuted singly; with groups of correlated rows this is
    optimistic, so read it beside the group-bootstrap interval.
    """
    y = np.asarray(y, dtype=int)
    ranks = stats.rankdata(np.asarray(p, dtype=float))  # average ranks: ties count half
    n_fake, n_real = int(y.sum()), int((y == 0).sum())
    if n_fake == 0 or n_real == 0:
        return float("nan")
    observed = ranks[y == 1].sum()
    rng = np.random.default_rng(seed)
    hits = sum(int(ranks[rng.permutation(len(y))[:n_fake]].sum() >= observed - 1e-9) for _ in range(n))
    return (1 + hits) / (1 + n)


def bootstrap_intervals(y_true, y_prob, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                        groups=None) -> dict[str, tuple[float, float]]:
    """Group-bootstrap intervals for each metric; resamples whole groups when given, else rows.

    The percentile interval is widened about the point estimate by t(G-1) / z * sqrt(G / (G-1)) for G groups:
    the small-sample correction of a mean's interval. With few groups the percentile interval alone covers
    far less than `level` (simulated in tests/test_intervals.py); below config.MIN_RELIABLE_GROUPS groups the
    reports still mark intervals as unreliable.
    """
    groups = np.arange(len(y_true)) if groups is None else np.asarray(groups)
    n_groups = len(np.unique(groups))
    alpha = (1 - level) / 2
    widen = small_sample_factor(n_groups, level)
    point = evaluate(y_true, y_prob)
    intervals = {}
    for name, v in bootstrap_samples(y_true, y_prob, groups, n_boot, seed).items():
        low, high = np.nanquantile(v, alpha), np.nanquantile(v, 1 - alpha)
        centre = point[name] if np.isfinite(point[name]) else np.nanmedian(v)
        low, high = centre - widen * (centre - low), centre + widen * (high - centre)
        bounds = (0.0, 1.0) if name in ("roc_auc", "accuracy") else (0.0, np.inf)
        intervals[name] = (float(np.clip(low, *bounds)), float(np.clip(high, *bounds)))
    return intervals


def small_sample_factor(n_groups: int, level: float = 0.95) -> float:
    """t(G-1) / z quantile ratio times sqrt(G / (G-1)): how much a normal-theory interval from G groups must widen."""
    if n_groups < 2:
        return 1.0
    q = (1 + level) / 2
    return float(stats.t.ppf(q, n_groups - 1) / stats.norm.ppf(q) * np.sqrt(n_groups / (n_groups - 1)))


def evaluate_files(submission_csv, labels_csv) -> tuple[dict[str, float], pd.DataFrame]:
    """Join a submission with `filename,label` truth on filename and score it."""
    submission = pd.read_csv(submission_csv)
    truth = pd.read_csv(labels_csv)
    if truth["label"].dtype == object:
        truth["label"] = truth["label"].str.upper().map({"FAKE": 1, "REAL": 0})
    joined = truth.merge(submission, on="filename", suffixes=("_true", "_pred"), how="left")
    missing = joined["label_pred"].isna().sum()
    if missing:
        raise ValueError(f"{missing} labelled files have no prediction in {submission_csv}")
    return evaluate(joined["label_true"], joined["label_pred"]), joined
