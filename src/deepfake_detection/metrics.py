"""Scores for P(FAKE) predictions: Kaggle log loss, balanced log loss, ROC AUC, accuracy (sklearn underneath)."""

from __future__ import annotations

import numpy as np
import pandas as pd
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


def bootstrap_intervals(y_true, y_prob, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                        groups=None) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals for each metric; resamples whole groups when given."""
    y, p = np.asarray(y_true, dtype=int), np.asarray(y_prob, dtype=float)
    rng = np.random.default_rng(seed)
    units = np.asarray(groups) if groups is not None else np.arange(len(y))
    unique = np.unique(units)
    members = {u: np.flatnonzero(units == u) for u in unique}
    samples: dict[str, list[float]] = {}
    for _ in range(n_boot):
        picked = np.concatenate([members[u] for u in rng.choice(unique, size=len(unique), replace=True)])
        for name, value in evaluate(y[picked], p[picked]).items():
            if name in ("log_loss", "balanced_log_loss", "roc_auc", "accuracy"):
                samples.setdefault(name, []).append(value)
    alpha = (1 - level) / 2
    return {name: (float(np.nanquantile(v, alpha)), float(np.nanquantile(v, 1 - alpha)))
            for name, v in samples.items()}


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
