"""What every study shares: training per fold (reused when finished), scoring with group-bootstrap intervals and
permutation p-values, the null check, paired ablation deltas, the markdown tables and the results files.

A suite (ffpp.py, crops.py, cross.py) is the short part that differs: which data, which models, which rows.
Row names follow one convention: `NAME` is a model's raw out-of-fold P(FAKE), `NAME +cal` its nested aggregation
and calibration, `stack` / `stack +cal` the stacker's, `NAME (pretrained)` an original MesoNet file.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from deepfake_detection import config as C
from deepfake_detection.artifacts import BenchDir, ModelDir, ModelsDir, StackerDir
from deepfake_detection.config import PredictConfig, TrainConfig
from deepfake_detection.crossfit import chain_oof, null_check
from deepfake_detection.ensemble import StackResult, calibration_step, fit_stacker, roc_points, stack_columns
from deepfake_detection.faces import resize_crop
from deepfake_detection.io import atomic_write_csv, atomic_write_json
from deepfake_detection.metrics import (
    auc_permutation_p,
    bootstrap_intervals,
    bootstrap_samples,
    evaluate,
    prior_baseline,
)
from deepfake_detection.reporting import step, to_markdown
from deepfake_detection.train import SPEED_ONLY, TrainResult, train_model

log = logging.getLogger(__name__)

METRICS = ("log_loss", "balanced_log_loss", "roc_auc", "accuracy")
UNRELIABLE = " †"  # marks an interval from fewer than config.MIN_RELIABLE_GROUPS groups
CAL = " +cal"  # suffix of a row whose aggregation was chosen and calibration fitted on the other folds
PRETRAINED = " (pretrained)"  # suffix of an original MesoNet file's row (no training)
STACK_NAMES = {"stack": "stack", "stack_calibrated": "stack" + CAL}  # stack_columns column -> row name
MESONET_ARCHITECTURES = {"Meso4": "meso4", "MesoInception": "mesoinception4"}  # weight-file prefix -> registry


# --- scores: rows with intervals -------------------------------------------------------------------------------


def evaluation_subsets(videos: pd.DataFrame) -> dict[str, pd.Index]:
    """Row subsets to score: all, each method's fakes against all REAL, and each compression level (where known)."""
    subsets = {"all": videos.index}
    real = videos["label"] == 0
    methods = videos.loc[videos["label"] == 1, "method"] if "method" in videos else pd.Series(dtype=str)
    for method in sorted(m for m in methods.dropna().unique() if m):
        subsets[f"method={method}"] = videos.index[real | (videos["method"] == method)]
    for compression in sorted(videos["compression"].dropna().unique() if "compression" in videos else []):
        if compression:
            subsets[f"compression={compression}"] = videos.index[videos["compression"] == compression]
    return subsets


def score_rows(name: str, videos: pd.DataFrame, prob_column: str, n_boot: int = 1000, seed: int = 0) -> list[dict]:
    """One row per subset for one model: metrics, bootstrap intervals and the prior baseline."""
    rows = []
    for subset, idx in evaluation_subsets(videos).items():
        part = videos.loc[idx]
        y, p = part["label"].astype(int).to_numpy(), part[prob_column].to_numpy(dtype=float)
        scores, prior = evaluate(y, p), prior_baseline(y)
        intervals = bootstrap_intervals(y, p, n_boot=n_boot, seed=seed, groups=part["group"].to_numpy())
        row = {"model": name, "subset": subset, "n": len(part), "n_fake": int(y.sum()), "n_real": int((y == 0).sum()),
               "n_groups": int(part["group"].nunique())}
        for metric in METRICS:
            row[metric] = scores[metric]
            row[f"{metric}_low"], row[f"{metric}_high"] = intervals.get(metric, (np.nan, np.nan))
            row[f"prior_{metric}"] = prior[metric]
        rows.append(row)
    return rows


def results_table(videos: pd.DataFrame, prob_columns: dict[str, str], n_boot: int = 1000,
                  seed: int = 0) -> pd.DataFrame:
    """Scores of several models (name -> probability column of `videos`) on every subset."""
    rows = []
    for name, column in prob_columns.items():
        rows += score_rows(name, videos, column, n_boot=n_boot, seed=seed)
    return pd.DataFrame(rows)


def format_metric(row: pd.Series, metric: str) -> str:
    """`0.512 [0.401, 0.650]`: the value with its interval; `†` marks an interval from too few groups to trust."""
    value, low, high = row[metric], row[f"{metric}_low"], row[f"{metric}_high"]
    if pd.isna(value):
        return "n/a"
    mark = UNRELIABLE if row.get("n_groups", C.MIN_RELIABLE_GROUPS) < C.MIN_RELIABLE_GROUPS else ""
    return f"{value:.3f} [{low:.3f}, {high:.3f}]{mark}"


def format_delta(row: pd.Series, metric: str) -> str:
    """`+0.012 [-0.004, +0.030]`: a paired difference (`delta_METRIC`, ablation_row) with its interval, signed."""
    d = f"delta_{metric}"
    return f"{row[d]:+.3f} [{row[d + '_low']:+.3f}, {row[d + '_high']:+.3f}]"


def scores_markdown(table: pd.DataFrame, subset: str = "all") -> str:
    """A markdown table of one subset: each model's metrics with intervals, then the prior baseline."""
    part = table[table["subset"] == subset]
    rows = [[r["model"], r["n"], r.get("n_groups", ""), *[format_metric(r, m) for m in METRICS]]
            for _, r in part.iterrows()]
    if len(part):
        first = part.iloc[0]
        rows.append(["constant prior", first["n"], first.get("n_groups", ""),
                     *["n/a" if pd.isna(first[f"prior_{m}"]) else f"{first[f'prior_{m}']:.3f}" for m in METRICS]])
    cells = pd.DataFrame(rows, columns=["model", "n", "groups", *METRICS], dtype=object)
    return to_markdown(cells, floatfmt=None, index=False) + "\n"


# --- models on crops: prediction, fold training, stacking ------------------------------------------------
def read_crop_array(paths: list[str], size: int, interpolation: str | None = None,
                    via: int | None = None) -> np.ndarray:
    """Crop files -> float32 (N, size, size, 3) RGB 0-255; `via`: first shrink to via px (INTER_AREA), as small
    crops."""
    out = np.empty((len(paths), size, size, 3), np.float32)
    for i, path in enumerate(paths):
        rgb = cv2.cvtColor(cv2.imread(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        if via is not None:
            rgb = resize_crop(rgb, via)
        out[i] = resize_crop(rgb, size, interpolation or "area")
    return out


def predict_crops(model, paths: list[str], size: int, interpolation: str | None = None, via: int | None = None,
                  batch_size: int = 64) -> np.ndarray:
    """P(FAKE) per crop file (N,), read in batches with read_crop_array."""
    p = np.empty(len(paths), np.float32)
    for start in range(0, len(paths), batch_size):
        batch = read_crop_array(paths[start:start + batch_size], size, interpolation, via)
        p[start:start + len(batch)] = np.asarray(model.predict_on_batch(batch))[:, 0]
    return p


def add_prediction(videos: pd.DataFrame, name: str, predicted: pd.DataFrame, fallback: float = 0.5) -> int:
    """Put predicted (video_id, p) into column `name` of videos; missing videos get `fallback`; returns how many."""
    p = videos["video_id"].map(dict(zip(predicted["video_id"], predicted["p"], strict=True)))
    missing = int(p.isna().sum())
    if missing:
        log.warning("%s: %d videos without a prediction (no face crops) get P(FAKE) %.2f", name, missing, fallback)
    videos[name] = p.fillna(fallback).astype(float)
    return missing


def calibrated(videos: pd.DataFrame, raw: np.ndarray, cfg: PredictConfig,
               labels: np.ndarray | None = None) -> np.ndarray:
    """raw P(FAKE) calibrated (cfg.calibration + clip bounds), each training fold's rows by a fit on the other folds.

    For a model that learned nothing from these labels (pretrained MesoNet): one learned step, cross-fitted.
    labels: permuted labels for the null check (default: the videos' own).
    """
    y = videos["label"].to_numpy(int) if labels is None else labels
    return chain_oof([calibration_step(cfg)], np.asarray(raw, float), y, videos["fold"].to_numpy(int))


def reported_name(column: str, names: dict[str, str]) -> str:
    """Benchmark row name of a stack_columns column: `m_calibrated` -> `NAME +cal` (names: model folder -> row name)."""
    if column in STACK_NAMES:
        return STACK_NAMES[column]
    if column.endswith("_calibrated"):
        return names[column[: -len("_calibrated")]] + CAL
    return names[column]


def add_trained(videos: pd.DataFrame, model_dirs: list[ModelDir], cfg: PredictConfig, seed: int,
                names: dict[str, str] | None = None, stack: bool = True) -> StackResult:
    """Columns `NAME` (mean of OOF frames) and `NAME +cal` (nested aggregation choice + calibration) per trained
    model, plus `stack` and `stack +cal` when asked: all from ensemble.stack_columns, the path the stacker reports."""
    names = names or {d.name: d.name for d in model_dirs}
    result = fit_stacker(model_dirs, cfg, seed=seed)
    table = result.table.set_index("video_id")
    for column in table.columns:
        if column in names or column.removesuffix("_calibrated") in names or (stack and column in STACK_NAMES):
            videos[reported_name(column, names)] = videos["video_id"].map(table[column]).astype(float)
    return result


def write_if_changed(frame: pd.DataFrame, path: Path) -> None:
    """Write a CSV only when its content differs, so a rerun can tell finished trainings on it are current."""
    if path.exists() and path.read_text() == frame.to_csv(index=False):
        return
    atomic_write_csv(frame, path)


def train_or_reuse(crops_dir: Path, folds_csv: Path, cfg: TrainConfig, fold: str | int,
                   out_dir: ModelDir | Path) -> TrainResult:
    """train.train_model, skipped when out_dir already holds a finished run with the same settings and inputs.

    A long benchmark killed mid-way, or rerun with one more model, then retrains only what changed.
    """
    out = ModelDir(out_dir)
    if out.is_trained():
        done = out.run_info()
        # a setting the finished run predates had its default then, so it counts as unchanged when cfg keeps it
        # and a speed-only setting (train.SPEED_ONLY) never makes a finished training stale
        defaults = json.loads(json.dumps(asdict(TrainConfig())))
        same = all(done.get(key, defaults[key]) == value for key, value in json.loads(json.dumps(asdict(cfg))).items()
                   if key not in SPEED_ONLY)
        same_crops = Path(done.get("crops_dir", "")).resolve() == Path(crops_dir).resolve()  # one folder, two spellings
        # a start-weights file rewritten since (a retrained zoo's fold model under the same name) is a new input
        start = Path(cfg.weights) if cfg.weights else None
        same_start = start is None or not start.is_file() or start.stat().st_mtime <= out.config.stat().st_mtime
        if same and done.get("fold") == str(fold) and same_crops and same_start \
                and done.get("folds_csv") == str(folds_csv) \
                and Path(folds_csv).stat().st_mtime <= out.config.stat().st_mtime:
            log.info("reusing the finished training in %s", out.path)
            return TrainResult.read(out, reused=True)
    return train_model(crops_dir, folds_csv, cfg, fold=fold, out_dir=out)


def train_each(configs: dict[str, TrainConfig], crops_dir: Path, folds_csv: Path, models_dir: ModelsDir,
               timings: dict[str, float]) -> dict[str, TrainResult]:
    """The fold loop: each named TrainConfig trained on every fold of folds_csv (one model per fold, out-of-fold
    predictions) into models_dir/NAME, or reused when finished."""
    trained = {}
    for name, cfg in configs.items():
        with step(f"train_{name}", timings, log):
            trained[name] = train_or_reuse(crops_dir, folds_csv, cfg, "all", models_dir.model(name))
    return trained


def trained_facts(trained: dict[str, TrainResult], configs: dict[str, TrainConfig]) -> dict[str, dict]:
    """results.json's `trained`: per model, this run's seconds (0 when reused), the seconds its training took when it
    ran (`fit_seconds`), whether reused, the TrainConfig it was trained with, and the trees' settings if any."""
    facts = {}
    for name, r in trained.items():
        info = r.model_dir.run_info()
        facts[name] = {"seconds": r.seconds, "fit_seconds": info.get("seconds", r.seconds), "reused": r.reused,
                       "train_config": asdict(configs[name]), **({"trees": info["trees"]} if "trees" in info else {})}
    return facts


def scratch_minutes(facts: dict) -> float:
    """A run's minutes had nothing been reused: its total plus the recorded time of every reused training."""
    reused = sum(t.get("fit_seconds", 0.0) for t in facts["trained"].values() if t["reused"])
    return (facts["timings_s"]["total"] + reused) / 60


def recipe_description(trained: dict, samples_per_epoch: int) -> str:
    """One trained recipe in words (results.md and the model card), from its `trained_facts` entry."""
    cfg, trees = trained["train_config"], trained.get("trees")
    start = f"{cfg['model']} at {cfg['size']} px"
    if trees:
        return (f"{start}, boosted trees (scikit-learn HistGradientBoosting: learning rate "
                f"{trees['learning_rate']:g}, <= {trees['max_leaf_nodes']} leaves, depth <= {trees['max_depth']}, "
                f"L2 {trees['l2_regularization']:g}) "
                "on fixed spectrum, SRM-residual and LBP statistics of four views (luma, its centre half, Cr, Cb); "
                f"trees per fold {trees['per_fold']} of at most {trees['max']} ({trees['choice']}); no augmentation")
    init = (f"initialised from `{Path(cfg['weights']).name}`" if cfg["weights"]
            else "from random weights (no ImageNet weights exist here)")
    return (f"{start}, {init}, {cfg['epochs']} epoch(s) of {samples_per_epoch} crops per fold, batch "
            f"{cfg['batch_size']}, Adam lr {cfg['learning_rate']:g}, augmentation {', '.join(cfg['augment']) or 'none'}"
            + (f", self-blended fakes {cfg['self_blend']}" if cfg["self_blend"] else ""))


# --- ablations and the null check --------------------------------------------------------------------------
def paired_delta(videos: pd.DataFrame, base: str, other: str, metric: str, n_boot: int,
                 seed: int) -> tuple[float, float, float]:
    """metric(other) - metric(base) on the same videos, with a 95 % interval from the same group resamples."""
    y, groups = videos["label"].to_numpy(int), videos["group"].to_numpy()
    a, b = videos[base].to_numpy(float), videos[other].to_numpy(float)
    deltas = (bootstrap_samples(y, b, groups, n_boot, seed)[metric]
              - bootstrap_samples(y, a, groups, n_boot, seed)[metric])
    return (evaluate(y, b)[metric] - evaluate(y, a)[metric], float(np.nanquantile(deltas, 0.025)),
            float(np.nanquantile(deltas, 0.975)))


def ablation_row(videos: pd.DataFrame, base: str, column: str, choice: str, setting: str, n_boot: int,
                 seed: int) -> dict:
    """Balanced log loss and AUC of one column with group-bootstrap intervals, and its paired delta from `base`."""
    y, groups = videos["label"].to_numpy(int), videos["group"].to_numpy()
    p = videos[column].to_numpy(float)
    scores = evaluate(y, p)
    intervals = bootstrap_intervals(y, p, n_boot=n_boot, seed=seed, groups=groups)
    row = {"choice": choice, "setting": setting, "column": column, "base": base}
    for metric in ("balanced_log_loss", "roc_auc"):
        row[metric], (row[f"{metric}_low"], row[f"{metric}_high"]) = scores[metric], intervals[metric]
        delta = paired_delta(videos, base, column, metric, n_boot, seed) if column != base else (0.0, 0.0, 0.0)
        row[f"delta_{metric}"], row[f"delta_{metric}_low"], row[f"delta_{metric}_high"] = delta
    return row


def null_table(videos: pd.DataFrame, stack: StackResult, pretrained: list[str], cfg: PredictConfig, n: int,
               seed: int, names: dict[str, str] | None = None) -> pd.DataFrame:
    """The null check of every main row: the trained, stacked and pretrained rows rerun on n label permutations.

    names: model folder -> row name (default: the folder names); pretrained: columns of `videos` scored outside
    the stacker (raw and calibrated).
    """
    inputs = stack.inputs
    frame = videos.set_index("video_id").loc[inputs.table["video_id"]]
    names = names or {m: m for m in inputs.models}

    def path(labels: np.ndarray) -> dict[str, np.ndarray]:
        columns = {reported_name(c, names): v for c, v in stack_columns(inputs, labels, cfg, cfg.meta, seed).items()}
        for name in pretrained:
            columns[name] = frame[name].to_numpy(float)
            columns[name + CAL] = calibrated(frame, columns[name], cfg, labels)
        return columns

    return null_check(path, inputs.table["label"].to_numpy(int), n, seed)


def null_markdown(null: pd.DataFrame) -> list[str]:
    """The null check section: each main row's mean scores on permuted labels, and whether it passes."""
    if not len(null):
        return ["_Null check not run (`--null N` reruns every main row on N label permutations)._", ""]
    failed = null.loc[~null["passes"], "row"].tolist()
    lines = ["## Null check (labels permuted)", "",
             f"Every main row's exact scoring path rerun on {int(null['n_permutations'].iloc[0])} permutations of the "
             f"labels. An honest row scores balanced log loss >= ln 2 = {np.log(2):.3f} and ROC AUC about 0.5 there. "
             + ("Every row passes." if not failed else
                f"**Rows scoring better than chance without signal: {', '.join(failed)}.**"),
             "", table_md(null, ["row", "null_balanced_log_loss", "null_balanced_log_loss_se", "null_roc_auc",
                                  "null_roc_auc_se", "passes"],
                           {c: "{:.4f}" for c in ("null_balanced_log_loss", "null_balanced_log_loss_se", "null_roc_auc",
                                                  "null_roc_auc_se")})]
    return lines


# --- tables and results files ------------------------------------------------------------------------------
def table_md(frame: pd.DataFrame, columns: list[str], formats: dict[str, str] | None = None) -> str:
    """The chosen columns as a markdown table, cells as given (formats: a pattern per column)."""
    return to_markdown(frame[columns].astype(object), floatfmt=None, formats=formats, index=False) + "\n"


def ablation_markdown(ablation: pd.DataFrame, against: str = "default") -> str:
    """Ablation rows: metric with interval, and the paired delta against the default (or base) with its interval."""
    rows = []
    for _, r in ablation.iterrows():
        cells = [r["choice"], r["setting"]]
        for metric in ("balanced_log_loss", "roc_auc"):
            cells.append(format_metric(r, metric))
            cells.append("—" if r["choice"] == "default" else format_delta(r, metric))
        rows.append(cells)
    columns = ["choice", "setting", "balanced log loss", f"Δ vs {against}", "ROC AUC", f"Δ vs {against}"]
    return to_markdown(pd.DataFrame(rows, columns=columns, dtype=object), floatfmt=None, index=False) + "\n"


def with_permutation_p(table: pd.DataFrame, videos: pd.DataFrame, permutations: int, seed: int) -> pd.DataFrame:
    """table plus `roc_auc_p`: each row's AUC permutation p-value on its own subset of videos."""
    subsets = evaluation_subsets(videos)
    p = [auc_permutation_p(videos.loc[subsets[s], "label"].astype(int).to_numpy(),
                           videos.loc[subsets[s], m].to_numpy(float), permutations, seed)
         for m, s in zip(table["model"], table["subset"], strict=True)]
    return table.assign(roc_auc_p=p)


def save_roc(videos: pd.DataFrame, rows: list[str], path: Path) -> None:
    """ROC curves of the given rows (columns of `videos`) as one PNG."""
    from deepfake_detection import plots

    plots.plot_roc_curves(roc_points(videos, rows)).savefig(path, dpi=110)


@dataclass
class SuiteResult:
    """What every suite's run returns: its report folder and the tables its results.md and results.json hold."""

    bench: BenchDir  # results.md, results.json, figures/
    facts: dict  # the run's settings, data counts, timings (JSON, as in results.json)
    table: pd.DataFrame  # one row per model and subset: scores, 95 % intervals, AUC p-value
    videos: pd.DataFrame  # one row per scored video (or crop) with every model's P(FAKE)
    null: pd.DataFrame = field(default_factory=pd.DataFrame)  # the null check (permuted labels), when run
    ablation: pd.DataFrame = field(default_factory=pd.DataFrame)  # one-change ablation rows, when run
    cross_compression: pd.DataFrame = field(default_factory=pd.DataFrame)  # FF++: c23-trained models on c40
    stacker: StackerDir | None = None  # the stacker fitted on the trained models' OOF, when one was

    def write_json(self, *tables: str) -> Path:
        """results.json: the facts and the named tables as lists of records (numpy scalars as plain numbers)."""
        payload = {"facts": self.facts, **{name: getattr(self, name).to_dict(orient="records") for name in tables}}
        return atomic_write_json(payload, self.bench.results_json, indent=1, default=_plain)


def _plain(value):
    if isinstance(value, np.integer | np.floating):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
