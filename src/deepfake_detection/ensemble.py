"""Stacking: several base models' out-of-fold video predictions -> one calibrated P(FAKE).

Each base model contributes one column, its out-of-fold frame predictions re-aggregated per video
with the aggregation chosen for it (or its `oof_videos.csv` when it wrote no frames). A meta model
(logistic regression on logits by default, a small MLP or a weighted logit mean) is scored by
stratified group folds, so a fake never sits in another fold than its original. Everything the
predictor needs goes into `stacker.json` as plain numbers: no pickles.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_curve
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.neural_network import MLPClassifier

from deepfake_detection.aggregate import (Calibration, aggregate_frames, aggregation_scores, fit_calibration,
                                          fit_loss, logit, sample_weights, save_json, sigmoid)
from deepfake_detection.config import SEED, PredictConfig, TrainConfig, from_json
from deepfake_detection.metrics import evaluate

log = logging.getLogger(__name__)

STACKER_FILE = "stacker.json"
STACKER_DIR = "stacker"
META_MODELS = ("logreg", "mlp", "mean")
KEYS = ["video_id", "label", "group"]
REPORT_TIE = 1e-3  # balanced log loss differences below this are reported as a tie
CHANCE_AUC = 0.6  # base models below this AUC are called near chance in the report


@dataclass
class BaseModel:
    """One base model as the predictor needs it: where it is, its crop size, how frames are aggregated."""

    name: str
    path: str  # model file, relative to the models folder
    size: int  # square input side, px
    aggregation: str


@dataclass
class StackResult:
    """A fitted stacker and the out-of-fold tables its report is drawn from."""

    spec: dict  # what goes into stacker.json
    table: pd.DataFrame  # video_id, label, group, one column of P(FAKE) per base model, stack, stack_calibrated
    scores: pd.DataFrame  # one row per model: log_loss, balanced_log_loss, roc_auc, ...
    aggregation_scores: dict[str, pd.DataFrame] = field(default_factory=dict)


def base_model_dirs(models_dir: str | Path) -> list[Path]:
    """Model folders holding out-of-fold predictions, sorted by name (the stacker's own folder excluded)."""
    dirs = [p.parent for p in sorted(Path(models_dir).glob("*/oof_videos.csv"))]
    dirs += [p.parent for p in sorted(Path(models_dir).glob("*/oof_frames.csv")) if p.parent not in dirs]
    return sorted((d for d in dirs if d.name != STACKER_DIR), key=lambda d: d.name)


def model_size(model_dir: Path) -> int:
    """Input side of a trained model, from its config.json (TrainConfig default when absent)."""
    config = model_dir / "config.json"
    return from_json(TrainConfig, config).size if config.exists() else TrainConfig().size


def base_video_predictions(model_dir: Path, cfg: PredictConfig) -> tuple[pd.DataFrame, str, pd.DataFrame | None]:
    """(video table with p, aggregation name, aggregation scores) for one base model's OOF files."""
    frames_csv = model_dir / "oof_frames.csv"
    if frames_csv.exists():
        frames = pd.read_csv(frames_csv)
        scores = aggregation_scores(frames, cfg)
        name = cfg.aggregation or str(scores["balanced_log_loss"].idxmin())
        log.info("%s: aggregation %s (balanced log loss %.4f)", model_dir.name, name,
                 scores.loc[name, "balanced_log_loss"])
        return aggregate_frames(frames, name, cfg), name, scores
    # Without frames the training run's own video aggregation is all there is; it averaged frames.
    return pd.read_csv(model_dir / "oof_videos.csv"), "mean", None


def stack_table(models_dir: str | Path, cfg: PredictConfig) -> tuple[pd.DataFrame, list[BaseModel], dict]:
    """Base models' OOF video predictions joined on video_id: KEYS + one P(FAKE) column per model."""
    dirs = base_model_dirs(models_dir)
    if not dirs:
        raise FileNotFoundError(f"no model folder with oof_videos.csv or oof_frames.csv under {models_dir}")
    table, bases, agg_scores = None, [], {}
    for model_dir in dirs:
        videos, name, scores = base_video_predictions(model_dir, cfg)
        if scores is not None:
            agg_scores[model_dir.name] = scores
        bases.append(BaseModel(model_dir.name, f"{model_dir.name}/model.keras", model_size(model_dir), name))
        column = videos[KEYS + ["p"]].rename(columns={"p": model_dir.name})
        table = column if table is None else table.merge(column[["video_id", model_dir.name]], on="video_id")
    dropped = {d.name: len(pd.read_csv(d / "oof_videos.csv")) - len(table) for d in dirs
               if (d / "oof_videos.csv").exists()}
    if any(dropped.values()):
        log.warning("videos without a prediction from every model are left out of stacking: %s", dropped)
    table = table.dropna(subset=["label"]).reset_index(drop=True)
    table["label"] = table["label"].astype(int)
    return table, bases, agg_scores


# --- meta models: fitted with sklearn/scipy, stored and applied as plain numbers ---------------------
def fit_meta(x: np.ndarray, y: np.ndarray, kind: str, cfg: PredictConfig, seed: int = SEED) -> dict:
    """Fit a meta model on base logits x (n_videos, n_models); returns its JSON-able parameters."""
    weights = sample_weights(y, cfg.class_balance)
    if len(np.unique(y)) < 2:  # a fold with one class: the best constant is that class's share
        return {"kind": "constant", "p": float(np.mean(y))}
    if kind == "logreg":
        model = LogisticRegression(C=cfg.meta_c, solver="newton-cholesky").fit(x, y, sample_weight=weights)
        return {"kind": kind, "coef": model.coef_[0].tolist(), "intercept": float(model.intercept_[0])}
    if kind == "mlp":
        model = MLPClassifier(hidden_layer_sizes=(cfg.meta_hidden,), alpha=1e-2, learning_rate_init=0.01, max_iter=300,
                              random_state=seed)
        model.fit(x, y, sample_weight=weights)
        return {"kind": kind, "weights": [w.tolist() for w in model.coefs_],
                "biases": [b.tolist() for b in model.intercepts_]}
    if kind == "mean":
        def loss(theta: np.ndarray) -> float:
            w = np.exp(theta[:-1]) / np.exp(theta[:-1]).sum()  # softmax: non-negative, sums to 1
            s = x @ w + theta[-1]
            return float(np.average(np.logaddexp(0.0, s) - y * s, weights=weights))

        theta = minimize(loss, np.zeros(x.shape[1] + 1), method="L-BFGS-B").x
        w = np.exp(theta[:-1]) / np.exp(theta[:-1]).sum()
        return {"kind": kind, "weights": w.tolist(), "intercept": float(theta[-1])}
    raise ValueError(f"unknown meta model {kind!r}; choose from {META_MODELS}")


def meta_predict(meta: dict, x: np.ndarray) -> np.ndarray:
    """P(FAKE) from a stored meta model for base logits x (n_videos, n_models)."""
    x = np.asarray(x, dtype=float)
    if meta["kind"] == "constant":
        return np.full(len(x), meta["p"])
    if meta["kind"] == "logreg":
        return sigmoid(x @ np.asarray(meta["coef"]) + meta["intercept"])
    if meta["kind"] == "mean":
        return sigmoid(x @ np.asarray(meta["weights"]) + meta["intercept"])
    if meta["kind"] == "mlp":
        h = x
        layers = list(zip(meta["weights"], meta["biases"]))
        for w, b in layers[:-1]:
            h = np.maximum(h @ np.asarray(w) + np.asarray(b), 0.0)  # relu, sklearn's default
        w, b = layers[-1]
        return sigmoid(h @ np.asarray(w) + np.asarray(b))[:, 0]
    raise ValueError(f"unknown meta model kind {meta['kind']!r}")


def group_folds(y: np.ndarray, groups: np.ndarray, k: int, seed: int = SEED) -> np.ndarray:
    """Fold number per row from stratified group folds (k capped by the number of groups)."""
    k = max(2, min(k, len(np.unique(groups))))
    folds = np.zeros(len(y), dtype=int)
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    for fold, (_, val) in enumerate(splitter.split(np.zeros(len(y)), y, groups)):
        folds[val] = fold
    return folds


def cross_validate_meta(x: np.ndarray, y: np.ndarray, folds: np.ndarray, kind: str, cfg: PredictConfig) -> np.ndarray:
    """Out-of-fold meta predictions: each fold predicted by a meta model fitted on the others."""
    oof = np.zeros(len(y))
    for fold in np.unique(folds):
        train, val = folds != fold, folds == fold
        oof[val] = meta_predict(fit_meta(x[train], y[train], kind, cfg), x[val])
    return oof


CALIBRATIONS = ("identity", "temperature", "platt")


def cross_fit_calibration(y: np.ndarray, p: np.ndarray, folds: np.ndarray, cfg: PredictConfig,
                          method: str) -> np.ndarray:
    """Calibrated P(FAKE) where each fold's calibration was fitted on the other folds (honest scores)."""
    out = np.zeros(len(y))
    for fold in np.unique(folds):
        train, val = folds != fold, folds == fold
        out[val] = fit_calibration(y[train], p[train], cfg, method).apply(p[val])
    return out


def choose_calibration(y: np.ndarray, p: np.ndarray, folds: np.ndarray, cfg: PredictConfig) -> tuple[str, np.ndarray]:
    """The calibration method (clip-only, temperature, Platt) with the best cross-fitted loss, and its OOF output.

    A logistic meta model is already a Platt scaling of its inputs; a second one on few videos can
    only add variance, which this comparison catches instead of assuming.
    """
    weights = sample_weights(y, cfg.class_balance)
    fitted = {m: cross_fit_calibration(y, p, folds, cfg, m) for m in CALIBRATIONS}
    losses = {m: fit_loss(y, out, weights) for m, out in fitted.items()}
    best = min(losses, key=losses.get)
    log.info("calibration losses %s -> %s", {m: round(v, 4) for m, v in losses.items()}, best)
    return best, fitted[best]


def fallback_probability(y: np.ndarray, calibration: Calibration, cfg: PredictConfig) -> float:
    """Constant P(FAKE) for a video without a prediction: the (class-weighted) FAKE share, clipped."""
    share = float(np.average(y, weights=sample_weights(y, cfg.class_balance))) if len(y) else cfg.fallback
    return round(float(np.clip(share, calibration.clip_low, calibration.clip_high)), 6)


def fit_stacker(models_dir: str | Path, cfg: PredictConfig | None = None, meta: str | None = None,
                seed: int = SEED) -> StackResult:
    """Fit and honestly score the stacker on the base models' out-of-fold predictions."""
    cfg = cfg or PredictConfig()
    kind = meta or cfg.meta
    table, bases, agg_scores = stack_table(models_dir, cfg)
    names = [b.name for b in bases]
    y = table["label"].to_numpy()
    x = logit(table[names].to_numpy(), cfg.logit_eps)  # (n_videos, n_models)
    folds = group_folds(y, table["group"].astype(str).to_numpy(), cfg.meta_folds, seed)
    table["stack"] = cross_validate_meta(x, y, folds, kind, cfg)
    method, table["stack_calibrated"] = choose_calibration(y, table["stack"].to_numpy(), folds, cfg)
    for name in names:
        table[f"{name}_calibrated"] = choose_calibration(y, table[name].to_numpy(), folds, cfg)[1]
    table["meta_fold"] = folds
    columns = [c for name in names for c in (name, f"{name}_calibrated")] + ["stack", "stack_calibrated"]
    scores = pd.DataFrame({c: evaluate(y, table[c]) for c in columns}).T
    scores.index.name = "model"

    final_meta = fit_meta(x, y, kind, cfg, seed)
    calibration = fit_calibration(y, table["stack"].to_numpy(), cfg, method)
    spec = {
        "models": [vars(b) for b in bases],
        "meta": final_meta,
        "calibration": calibration.to_dict(),
        "fallback": fallback_probability(y, calibration, cfg),
        "logit_eps": cfg.logit_eps,
        "class_balance": cfg.class_balance,
        "n_videos": int(len(y)),
        "cv": {c: {k: float(v) for k, v in scores.loc[c, ["log_loss", "balanced_log_loss", "roc_auc"]].items()}
               for c in ("stack", "stack_calibrated")},
    }
    return StackResult(spec, table, scores, agg_scores)


def save_stacker(spec: dict, out_dir: str | Path) -> Path:
    """Write stacker.json into out_dir."""
    path = Path(out_dir) / STACKER_FILE
    save_json(spec, path)
    return path


def load_stacker(stacker_dir: str | Path) -> dict:
    """Read stacker.json (a folder or the file itself)."""
    path = Path(stacker_dir)
    path = path / STACKER_FILE if path.is_dir() else path
    return json.loads(path.read_text())


def stacker_predict(spec: dict, probs: np.ndarray) -> np.ndarray:
    """Calibrated, clipped P(FAKE) from base probabilities (n_videos, n_models) in spec['models'] order."""
    x = logit(np.atleast_2d(probs), spec["logit_eps"])
    return Calibration.from_dict(spec["calibration"]).apply(meta_predict(spec["meta"], x))


# --- report ----------------------------------------------------------------------------------------
def markdown_table(frame: pd.DataFrame, floatfmt: str = ".4f") -> str:
    """A DataFrame as a GitHub markdown table (index as the first column)."""
    header = [frame.index.name or ""] + [str(c) for c in frame.columns]
    cell = lambda v: format(v, floatfmt) if isinstance(v, float | np.floating) else str(v)  # noqa: E731
    rows = [[str(i)] + [cell(v) for v in row] for i, row in zip(frame.index, frame.itertuples(index=False))]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def roc_points(table: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Long table (model, fpr, tpr) of ROC curves for the given prediction columns."""
    parts = []
    for column in columns:
        fpr, tpr, _ = roc_curve(table["label"], table[column])
        parts.append(pd.DataFrame({"model": column, "fpr": fpr, "tpr": tpr}))
    return pd.concat(parts, ignore_index=True)


def reliability_table(y: np.ndarray, series: dict[str, np.ndarray], bins: int = 10) -> pd.DataFrame:
    """Per probability bin: mean prediction, observed FAKE share and count, for each named series."""
    rows = []
    edges = np.linspace(0, 1, bins + 1)
    for name, p in series.items():
        which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
        for b in np.unique(which):
            members = which == b
            rows.append({"series": name, "mean_pred": float(p[members].mean()),
                         "frac_fake": float(np.mean(y[members])), "count": int(members.sum())})
    return pd.DataFrame(rows)


def write_stacking_report(result: StackResult, reports_dir: str | Path) -> Path:
    """reports_dir/stacking.md plus figures: scores table, correlations, ROC curves, reliability."""
    from deepfake_detection import plots

    reports_dir = Path(reports_dir)
    figures = reports_dir / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    names = [m["name"] for m in result.spec["models"]]
    table, y = result.table, result.table["label"].to_numpy()
    eps = result.spec["logit_eps"]
    corr = pd.DataFrame(logit(table[names].to_numpy(), eps), columns=names).corr()
    plots.plot_correlation_matrix(corr, "Base models: correlation of OOF logits").savefig(
        figures / "stacking_correlation.png", dpi=120)
    plots.plot_roc_curves(roc_points(table, names + ["stack_calibrated"])).savefig(
        figures / "stacking_roc.png", dpi=120)
    reliability = reliability_table(y, {"stack before calibration": table["stack"].to_numpy(),
                                        "stack after calibration": table["stack_calibrated"].to_numpy()})
    plots.plot_reliability(reliability).savefig(figures / "stacking_reliability.png", dpi=120)

    scores = result.scores[["log_loss", "balanced_log_loss", "roc_auc", "accuracy", "n"]].astype({"n": int})
    best_base = scores.loc[[f"{n}_calibrated" for n in names] + names, "balanced_log_loss"].idxmin()
    stack_bll = scores.loc["stack_calibrated", "balanced_log_loss"]
    base_bll = scores.loc[best_base, "balanced_log_loss"]
    numbers = f"{stack_bll:.4f} vs {base_bll:.4f} for the best base model ({best_base})"
    if stack_bll < base_bll - REPORT_TIE:
        verdict = f"The calibrated stack **beats** every base model in balanced log loss: {numbers}."
    elif stack_bll <= base_bll + REPORT_TIE:
        verdict = f"The calibrated stack **ties** with the best base model in balanced log loss: {numbers}."
    else:
        verdict = f"The calibrated stack does **not** beat the best base model in balanced log loss: {numbers}."
    best_auc = scores.loc[names, "roc_auc"].max()
    if best_auc < CHANCE_AUC:
        verdict += (f" The base models are near chance (best AUC {best_auc:.3f}), so there is no signal for a "
                    "meta model to combine; train them longer before reading anything into this table.")
    cal = result.spec["calibration"]
    lines = [
        "# Stacking",
        "",
        f"{len(names)} base models, {result.spec['n_videos']} labelled videos with out-of-fold predictions from "
        f"every model, meta model `{result.spec['meta']['kind']}` on logits. Every score below is out-of-fold: the "
        f"meta model and each calibration were fitted on the other {table['meta_fold'].nunique() - 1} stratified "
        "group folds (a fake never leaves its original's fold).",
        "",
        verdict,
        "",
        "## Scores (out-of-fold)",
        "",
        markdown_table(scores),
        "",
        "`_calibrated` rows: the same predictions after cross-fitted calibration (clip only, temperature or Platt "
        "scaling, whichever cross-fits best) and clipping.",
        "",
        "## Aggregation per base model (balanced log loss of frame -> video aggregation)",
        "",
        *[f"- {m['name']}: `{m['aggregation']}`" for m in result.spec["models"]],
        "",
        *[f"### {name}\n\n{markdown_table(frame)}\n" for name, frame in result.aggregation_scores.items()],
        "## Deployed calibration",
        "",
        f"{cal['method']}: p -> clip(sigmoid({cal['scale']:.3f} * logit(p) + {cal['shift']:.3f}), "
        f"{cal['clip_low']:.4g}, {cal['clip_high']:.4g}); fallback P(FAKE) for videos without a prediction: "
        f"{result.spec['fallback']:.4f}.",
        "",
        "## Figures",
        "",
        "![correlation](figures/stacking_correlation.png)",
        "",
        "![roc](figures/stacking_roc.png)",
        "",
        "![reliability](figures/stacking_reliability.png)",
        "",
    ]
    path = reports_dir / "stacking.md"
    path.write_text("\n".join(lines))
    return path
