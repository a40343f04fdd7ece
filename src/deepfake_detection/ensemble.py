"""Stacking: several base models' out-of-fold video predictions -> one calibrated P(FAKE).

Each base model contributes one column, its out-of-fold frame predictions re-aggregated per video
with the aggregation chosen for it (or its `oof_videos.csv` when it wrote no frames). A meta model
(logistic regression on logits by default, a small MLP or a weighted logit mean) is scored by
stratified group folds, so a fake never sits in another fold than its original. Everything the
predictor needs goes into `stacker.json` as plain numbers: no pickles.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_curve
from sklearn.neural_network import MLPClassifier

from deepfake_detection.aggregate import (
    AGGREGATIONS,
    Calibration,
    aggregate_frames,
    fit_calibration,
    fit_loss,
    logit,
    sample_weights,
    sigmoid,
)
from deepfake_detection.artifacts import ModelDir, ModelsDir, StackerDir
from deepfake_detection.config import SEED, TRAIN_ONLY_FOLD, PredictConfig
from deepfake_detection.crossfit import (
    NULL_AUC_SLACK,
    NULL_BLL_SLACK,
    Step,
    chain_oof,
    cross_fit,
    fit_chain,
    null_check,
)
from deepfake_detection.metrics import evaluate
from deepfake_detection.reporting import to_markdown

log = logging.getLogger(__name__)

META_MODELS = ("logreg", "mlp", "mean")
KEYS = ["video_id", "label", "group"]
CALIBRATIONS = ("identity", "temperature", "platt")
REPORT_TIE = 1e-3  # balanced log loss differences below this are reported as a tie
CHANCE_AUC = 0.6  # base models below this AUC are called near chance in the report


@dataclass
class BaseModel:
    """One base model as the predictor needs it: where it is, its crop size, how frames are aggregated."""

    name: str
    path: str  # model file, relative to the models folder
    size: int  # square input side, px
    aggregation: str
    # crop_face margin that frames faces as its training crops were (faces.measure_margin on a crop dataset);
    # None: the extraction default, which made its crops
    margin: float | None = None


@dataclass
class StackResult:
    """A fitted stacker and the out-of-fold tables its report is drawn from."""

    spec: dict  # what goes into stacker.json
    table: pd.DataFrame  # video_id, label, group, one column of P(FAKE) per base model, stack, stack_calibrated
    scores: pd.DataFrame  # one row per model: log_loss, balanced_log_loss, roc_auc, ...
    null: pd.DataFrame | None = None  # the null check per reported row (crossfit.null_check), when run
    inputs: StackInputs | None = None  # what the scores were computed from (for reruns such as the null check)


@dataclass
class StackInputs:
    """What every reported stacking number is computed from: per labelled video, each base model's P(FAKE)
    under each frame aggregation, its training fold, and whether any model saw a face in it."""

    table: pd.DataFrame  # video_id, label, group, fold, has_face: one row per labelled video
    models: list[str]
    p: np.ndarray  # (n_videos, n_models, len(AGGREGATIONS)) P(FAKE); cfg.fallback where a model has no prediction
    sizes: list[int]

    @property
    def has_face(self) -> np.ndarray:
        return self.table["has_face"].to_numpy(bool)


def base_aggregations(model_dir: ModelDir, cfg: PredictConfig) -> pd.DataFrame:
    """One model's OOF videos: KEYS + fold + one P(FAKE) column per aggregation (the mean only without frames)."""
    frames_csv = model_dir.oof_frames
    if not frames_csv.exists():  # the training run's own video table averaged frames
        videos = pd.read_csv(model_dir.oof_videos, dtype={"video_id": str, "group": str})
        return videos[KEYS + ["fold"]].assign(**{name: videos["p"] for name in AGGREGATIONS})
    frames = pd.read_csv(frames_csv, dtype={"video_id": str, "group": str})
    table = None
    for name in AGGREGATIONS:
        videos = aggregate_frames(frames, name, cfg)[KEYS + ["fold", "p"]].rename(columns={"p": name})
        table = videos if table is None else table.merge(videos[["video_id", name]], on="video_id")
    return table


def labelled_videos(model_dirs: list[ModelDir]) -> pd.DataFrame | None:
    """Every labelled video of the folds file the models were trained on (videos without faces too), if readable."""
    for model_dir in model_dirs:
        folds_csv = model_dir.run_info().get("folds_csv") if model_dir.config.exists() else None
        if folds_csv and Path(folds_csv).is_file():
            folds = pd.read_csv(folds_csv, dtype={"video_id": str, "group": str})
            folds = folds[folds["label"].notna() & folds["fold"].notna()
                          & (folds["fold"] != TRAIN_ONLY_FOLD)]  # pooled rows are never scored
            return folds[KEYS + ["fold"]].astype({"label": int, "fold": int})
    return None


def stack_inputs(model_dirs: list[ModelDir], cfg: PredictConfig) -> StackInputs:
    """Base models' OOF predictions for every labelled video; a video without faces keeps its row (at the fallback)."""
    if not model_dirs:
        raise FileNotFoundError("no model folder with oof_videos.csv or oof_frames.csv to stack")
    per_model = {d.name: base_aggregations(d, cfg) for d in model_dirs}
    keys = pd.concat([t[KEYS + ["fold"]] for t in per_model.values()]).drop_duplicates("video_id")
    everyone = labelled_videos(model_dirs)
    if everyone is not None:
        keys = pd.concat([keys, everyone[~everyone["video_id"].isin(keys["video_id"])]])
    keys = keys.dropna(subset=["label"]).sort_values("video_id").reset_index(drop=True)
    keys = keys.astype({"label": int, "fold": int})
    p = np.full((len(keys), len(per_model), len(AGGREGATIONS)), cfg.fallback)
    seen = np.zeros(len(keys), dtype=bool)
    for m, table in enumerate(per_model.values()):
        row = keys["video_id"].map(dict(zip(table["video_id"], range(len(table)), strict=True)))
        present = row.notna().to_numpy()
        p[present, m] = table[list(AGGREGATIONS)].to_numpy(float)[row[present].astype(int)]
        seen |= present
        if (~present).any():
            log.info("%s: %d labelled videos without a prediction (no face) stay in at the fallback",
                     model_dirs[m].name, int((~present).sum()))
    keys["has_face"] = seen
    return StackInputs(keys, list(per_model), p, [d.train_config().size for d in model_dirs])


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
        layers = list(zip(meta["weights"], meta["biases"], strict=True))
        for w, b in layers[:-1]:
            h = np.maximum(h @ np.asarray(w) + np.asarray(b), 0.0)  # relu, sklearn's default
        w, b = layers[-1]
        return sigmoid(h @ np.asarray(w) + np.asarray(b))[:, 0]
    raise ValueError(f"unknown meta model kind {meta['kind']!r}")



# --- learned steps: aggregation choice, meta model, calibration --------------------------------------
def aggregation_step(cfg: PredictConfig) -> Step:
    """Choose each model's frame aggregation by balanced log loss on the rows it is fitted on (or cfg's fixed one).

    Input (n, n_models, n_aggregations) P(FAKE); output (n, n_models): each model under its aggregation.
    """
    names = list(AGGREGATIONS)

    def fit(x: np.ndarray, y: np.ndarray, folds: np.ndarray) -> list[int]:
        if cfg.aggregation is not None:
            return [names.index(cfg.aggregation)] * x.shape[1]
        weights = sample_weights(y, True)
        return [int(np.argmin([fit_loss(y, x[:, m, a], weights) for a in range(x.shape[2])]))
                for m in range(x.shape[1])]

    return Step("aggregation", fit, lambda chosen, x: x[:, np.arange(x.shape[1]), chosen])


def meta_step(kind: str, cfg: PredictConfig, seed: int = SEED) -> Step:
    """The meta model on the base models' logits: (n, n_models) P(FAKE) -> (n,) P(FAKE)."""
    return Step("meta", lambda x, y, folds: fit_meta(logit(x, cfg.logit_eps), y, kind, cfg, seed),
                lambda meta, x: meta_predict(meta, logit(x, cfg.logit_eps)))


def _column(x: np.ndarray) -> np.ndarray:
    """(n,) or (n, 1) -> (n,)."""
    return np.asarray(x, dtype=float).reshape(len(x), -1)[:, 0]


def calibration_step(cfg: PredictConfig) -> Step:
    """Logit scaling + clip bounds, cfg.calibration's method; "auto" picks the method by cross-fitting on the fit
    rows."""

    def fit(x: np.ndarray, y: np.ndarray, folds: np.ndarray) -> Calibration:
        p = _column(x)
        method = cfg.calibration
        if method == "auto":
            method = choose_calibration(y, p, folds, cfg)
        return fit_calibration(y, p, cfg, method)

    return Step("calibration", fit, lambda calibration, x: calibration.apply(_column(x)))


def choose_calibration(y: np.ndarray, p: np.ndarray, folds: np.ndarray, cfg: PredictConfig) -> str:
    """The calibration method with the lowest cross-fitted loss on these rows (Platt when they hold one fold)."""
    if len(np.unique(folds)) < 2:
        return "platt"
    weights = sample_weights(y, cfg.class_balance)
    losses = {m: fit_loss(y, cross_fit(folds, lambda tr, te, m=m: fit_calibration(y[tr], p[tr], cfg, m).apply(p[te])),
                          weights) for m in CALIBRATIONS}
    return min(losses, key=losses.get)


def fake_share(y: np.ndarray, cfg: PredictConfig) -> float:
    """The FAKE share of labels y, each class weighing half under cfg.class_balance (cfg.fallback without labels)."""
    return float(np.average(y, weights=sample_weights(y, cfg.class_balance))) if len(y) else cfg.fallback


def fallback_step(cfg: PredictConfig) -> Step:
    """P(FAKE) of a video without a face: the (class-weighted) FAKE share of the fit rows, inside the clip grid."""
    low = min(cfg.clip_grid)

    def fit(x: np.ndarray, y: np.ndarray, folds: np.ndarray) -> float:
        return float(np.clip(fake_share(y, cfg), low, 1 - low))

    return Step("fallback", fit, lambda value, x: np.full(len(x), value))


def fallback_probability(y: np.ndarray, calibration: Calibration, cfg: PredictConfig) -> float:
    """Constant P(FAKE) for a video without a prediction: the (class-weighted) FAKE share, clipped."""
    return round(float(np.clip(fake_share(y, cfg), calibration.clip_low, calibration.clip_high)), 6)


def oof_with_fallback(steps: list[Step], inputs: StackInputs, x: np.ndarray, y: np.ndarray,
                      cfg: PredictConfig) -> np.ndarray:
    """Nested OOF output of a chain on the videos with faces; the others get the cross-fitted fallback, as at test
    time."""
    folds, face = inputs.table["fold"].to_numpy(int), inputs.has_face
    out = np.empty(len(y))
    out[face] = _column(chain_oof(steps, x[face], y[face], folds[face]))
    if (~face).any():
        out[~face] = chain_oof([fallback_step(cfg)], x, y, folds)[~face]
    return out


def stack_columns(inputs: StackInputs, y: np.ndarray, cfg: PredictConfig, kind: str,
                  seed: int = SEED) -> dict[str, np.ndarray]:
    """Every reported stacking row, out-of-fold: the one path that both the scores and the null check run.

    MODEL: the model's plain frame mean (nothing learned); MODEL_calibrated: aggregation choice + calibration,
    nested; stack: aggregation choice + meta model, nested; stack_calibrated: + calibration, nested.
    """
    mean = list(AGGREGATIONS).index("mean")
    columns = {}
    for m, name in enumerate(inputs.models):
        columns[name] = np.where(inputs.has_face, inputs.p[:, m, mean], cfg.fallback)
        columns[f"{name}_calibrated"] = oof_with_fallback([aggregation_step(cfg), calibration_step(cfg)], inputs,
                                                          inputs.p[:, [m]], y, cfg)
    base = [aggregation_step(cfg), meta_step(kind, cfg, seed)]
    columns["stack"] = oof_with_fallback(base, inputs, inputs.p, y, cfg)
    columns["stack_calibrated"] = oof_with_fallback(base + [calibration_step(cfg)], inputs, inputs.p, y, cfg)
    return columns


def fit_stacker(models: ModelsDir | str | Path | list[ModelDir], cfg: PredictConfig | None = None,
                 meta: str | None = None, seed: int = SEED, null: int = 0) -> StackResult:
    """Fit the stacker on the base models' OOF predictions and score it with nested cross-fitting.

    models: a folder of model folders (every one with OOF predictions is stacked), or an explicit list of model
    folders. null: permutations of the null check (0: none).
    """
    cfg = cfg or PredictConfig()
    kind = meta or cfg.meta
    named = isinstance(models, ModelsDir | str | Path)
    dirs = ModelsDir(models).stackable() if named else [ModelDir(d) for d in models]
    if not dirs:
        raise FileNotFoundError(f"no model folder with oof_videos.csv or oof_frames.csv in {models}")
    inputs = stack_inputs(dirs, cfg)
    y = inputs.table["label"].to_numpy(int)
    columns = stack_columns(inputs, y, cfg, kind, seed)
    table = inputs.table.assign(**columns).rename(columns={"fold": "meta_fold"})
    names = list(columns)
    scores = pd.DataFrame({c: evaluate(y, table[c]) for c in names}).T
    scores.index.name = "model"
    null_table = None
    if null:
        null_table = null_check(lambda z: stack_columns(inputs, z, cfg, kind, seed), y, null, seed)

    face = inputs.has_face
    steps = [aggregation_step(cfg), meta_step(kind, cfg, seed), calibration_step(cfg)]
    chosen, final_meta, calibration = fit_chain(steps, inputs.p[face], y[face],
                                                inputs.table["fold"].to_numpy(int)[face])
    bases = [BaseModel(n, f"{n}/{ModelDir.MODEL}", s, list(AGGREGATIONS)[a])
             for n, s, a in zip(inputs.models, inputs.sizes, chosen, strict=True)]
    spec = {
        "models": [vars(b) for b in bases],
        "meta": final_meta,
        "calibration": calibration.to_dict(),
        "fallback": fallback_probability(y, calibration, cfg),
        "logit_eps": cfg.logit_eps,
        "class_balance": cfg.class_balance,
        "n_videos": int(len(y)),
        "n_videos_without_face": int((~face).sum()),
        "cv": {c: {k: float(v) for k, v in scores.loc[c, ["log_loss", "balanced_log_loss", "roc_auc"]].items()}
               for c in ("stack", "stack_calibrated")},
    }
    return StackResult(spec, table, scores, null_table, inputs)


def stacker_predict(spec: dict, probs: np.ndarray) -> np.ndarray:
    """Calibrated, clipped P(FAKE) from base probabilities (n_videos, n_models) in spec['models'] order."""
    x = logit(np.atleast_2d(probs), spec["logit_eps"])
    return Calibration.from_dict(spec["calibration"]).apply(meta_predict(spec["meta"], x))


# --- report ----------------------------------------------------------------------------------------
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


def null_section(null: pd.DataFrame | None) -> list[str]:
    """Markdown lines for the null check: each row's mean scores on permuted labels, beside chance."""
    if null is None or not len(null):
        return ["_Null check not run (`stack --null N` reruns every row on N label permutations)._", ""]
    n = int(null["n_permutations"].iloc[0])
    table = null[["null_balanced_log_loss", "null_balanced_log_loss_se", "null_roc_auc", "null_roc_auc_se", "passes"]]
    failed = null.index[~null["passes"]].tolist()
    verdict = ("Every row passes: none scores better than chance on labels without signal." if not failed else
               f"**Rows that score better than chance on labels without signal (a leak): {', '.join(failed)}.**")
    return ["## Null check (labels permuted)", "",
            f"The same reporting path rerun on {n} permutations of the labels. An honest row scores balanced log loss "
            f">= ln 2 = {np.log(2):.4f} and ROC AUC about 0.5 there; a row passes when its mean loss is at least "
            f"{np.log(2) - NULL_BLL_SLACK:.4f} and its mean AUC at most {0.5 + NULL_AUC_SLACK:.2f}. {verdict}", "",
            to_markdown(table), ""]


def write_stacking_report(result: StackResult, reports_dir: str | Path) -> Path:
    """reports_dir/stacking.md plus figures: scores table, correlations, ROC curves, reliability."""
    from deepfake_detection import plots

    reports_dir = Path(reports_dir)
    figures = StackerDir(reports_dir).figures
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
    n_folds = table["meta_fold"].nunique()
    lines = [
        "# Stacking",
        "",
        f"{len(names)} base models, {result.spec['n_videos']} labelled videos in {table['group'].nunique()} groups "
        f"({result.spec.get('n_videos_without_face', 0)} without a face, scored at the fallback P(FAKE) exactly as at "
        f"test time), meta model `{result.spec['meta']['kind']}` on logits. Every score below is out-of-fold over the "
        f"{n_folds} training folds (a fake never leaves its original's fold) and nested: for each fold, the frame "
        "aggregation, the meta model and the calibration were all fitted on the other folds, and the calibration "
        "learned from the meta model's cross-fitted output on those folds, never from rows it scores.",
        "",
        verdict,
        "",
        "## Scores (out-of-fold, nested)",
        "",
        to_markdown(scores),
        "",
        "`MODEL` rows: the plain mean of the model's out-of-fold frame predictions (nothing fitted). "
        f"`_calibrated` rows: frame aggregation chosen and `{cal['method']}` calibration + clip bounds fitted on the "
        "other folds (nested).",
        "",
        *null_section(result.null),
        "## Deployed stacker",
        "",
        "Fitted on all labelled videos with the same procedure the scores above describe.",
        "",
        *[f"- {m['name']}: frame aggregation `{m['aggregation']}`" for m in result.spec["models"]],
        f"- calibration {cal['method']}: p -> clip(sigmoid({cal['scale']:.3f} * logit(p) + {cal['shift']:.3f}), "
        f"{cal['clip_low']:.4g}, {cal['clip_high']:.4g}); fallback P(FAKE) for videos without a face: "
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
    path = StackerDir(reports_dir).report
    path.write_text("\n".join(lines))
    return path
