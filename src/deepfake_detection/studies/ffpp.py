"""FaceForensics++ suite: the project's own stages end to end on FF++ videos, scored per method and compression.

Each row carries bootstrap 95% intervals (resampling whole identity groups, since videos of one group are
not independent) and the constant-prior baseline computed on the same subset, so a reader sees how much a
model beats "always answer the FAKE share" and how uncertain that is on a small set. Besides the group-CV rows:
the original MesoNet files without training, a c23 -> c40 cross-compression check and one-change ablations.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict, replace
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from deepfake_detection import config as C
from deepfake_detection.aggregate import aggregate_frames
from deepfake_detection.artifacts import BenchDir, CropsDir, ModelDir, StudyDir
from deepfake_detection.config import BenchmarkConfig, ExtractConfig, PredictConfig, TrainConfig, set_seeds
from deepfake_detection.dataset import index_videos, labelled, make_folds
from deepfake_detection.ensemble import aggregation_step, fit_stacker, oof_with_fallback, reliability_table
from deepfake_detection.extract import Extraction, extract_dataset
from deepfake_detection.faces import INTERPOLATIONS, centre_cut, resize_crop
from deepfake_detection.io import atomic_write_csv, atomic_write_text
from deepfake_detection.metrics import bootstrap_intervals, evaluate
from deepfake_detection.models import build_model, get_spec
from deepfake_detection.pipeline import frames_with_folds
from deepfake_detection.reporting import step
from deepfake_detection.studies.common import (
    CAL,
    MESONET_ARCHITECTURES,
    PRETRAINED,
    UNRELIABLE,
    SuiteResult,
    ablation_markdown,
    ablation_row,
    add_prediction,
    add_trained,
    calibrated,
    format_metric,
    null_markdown,
    null_table,
    predict_crops,
    results_table,
    save_roc,
    score_rows,
    scores_markdown,
    table_md,
    train_each,
    train_or_reuse,
    trained_facts,
    write_if_changed,
)
from deepfake_detection.train import quick_config

log = logging.getLogger(__name__)


# --- orchestration ------------------------------------------------------------------------------------------------
MODEL_ALIASES = {"mesonet4": "meso4", "mesonet": "meso4", "mesoinception": "mesoinception4"}


def resolve_models(names) -> tuple[str, ...]:
    """Registry names for user model names (`mesonet4` is `meso4`); unknown names raise with the known ones."""
    resolved = tuple(MODEL_ALIASES.get(n.strip(), n.strip()) for n in names if n.strip())
    for name in resolved:
        get_spec(name)
    return resolved


def quick_subset(videos: pd.DataFrame, seed: int) -> pd.DataFrame:
    """A few videos per identity group (one per group, label and compression): whole groups stay whole."""
    shuffled = videos.sample(frac=1.0, random_state=seed)
    keep = shuffled.groupby(["group", "label", "compression"], sort=True).head(C.QUICK_VIDEOS_PER_CELL)
    return keep.sort_values("video_id").reset_index(drop=True)


def derive_crops(crops_dir: CropsDir | Path, out_dir: Path, size: int, interpolation: str,
                 margin: float | None = None, to_margin: float | None = None,
                 jpeg_quality: int = ExtractConfig.jpeg_quality) -> CropsDir:
    """Extracted crops resized to `size` with a cv2 interpolation (and centre-cut to a tighter margin).

    A crop of margin m spans the face box times (1 + 2m) along its longer side, so cutting the centre
    (1 + 2 to_margin) / (1 + 2m) of it gives the crop of margin to_margin (faces.centre_cut; exact, as crop_face
    pads instead of clamping at the frame edge). Writes JPEGs and a manifest.csv with the same rows; reused when
    complete.
    """
    manifest, derived = CropsDir(crops_dir).load(), CropsDir(out_dir)
    done = derived.manifest
    if done.exists() and len(pd.read_csv(done)) == len(manifest):
        return derived
    for row in tqdm(manifest.itertuples(), total=len(manifest), desc=f"crops {out_dir.name}", unit="crop"):
        bgr = cv2.imread(row.path, cv2.IMREAD_COLOR)  # uint8 HxWx3 (BGR, written back as is)
        if bgr is None:
            raise OSError(f"cannot read crop {row.path}")
        if to_margin is not None:
            bgr = centre_cut(bgr, float(margin), to_margin)
        small = resize_crop(bgr, size, interpolation)
        target = out_dir / row.crop_path
        target.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(target), small, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]):
            raise OSError(f"could not write {target}")
    atomic_write_csv(manifest.drop(columns=["path"]), done)
    return derived


def train_config(model: str, bench: BenchmarkConfig, quick: bool, **changes) -> TrainConfig:
    """TrainConfig of one benchmark training: ImageNet init only with a weights folder, last epoch kept."""
    spec = get_spec(model)
    pretrained = bench.weights_dir is not None and spec.weights_file is not None
    cfg = TrainConfig(model=model, size=bench.size, weights="imagenet" if pretrained else None,
                      weights_dir=bench.weights_dir if pretrained else None, epochs=bench.epochs,
                      batch_size=bench.batch_size, steps_per_epoch=max(1, bench.samples_per_epoch // bench.batch_size),
                      seed=bench.seed, select_best=False)
    cfg = quick_config(cfg) if quick else cfg
    return replace(cfg, **changes)


def mesonet_folder(mesonet_dir: str | Path | None) -> Path | None:
    """The original MesoNet weights folder, or None (logged) when it is not given or not there: the reference rows
    are then skipped, and the suite runs on."""
    if mesonet_dir is not None and Path(mesonet_dir).is_dir():
        return Path(mesonet_dir)
    log.warning("no MesoNet weights folder (%s): pretrained reference rows skipped", mesonet_dir)
    return None


def pretrained_rows(videos: pd.DataFrame, frames: pd.DataFrame, mesonet_dir: Path, bench: BenchmarkConfig,
                    cfg: PredictConfig, checks: bool = True) -> dict:
    """Original MesoNet weights, no training, on the extracted crops at their native 256 px; plus interpolation checks.

    The interpolation check (checks=True) shrinks each crop to `size` px (INTER_AREA) and enlarges it back to 256 px
    with area, linear or nearest interpolation: how a small face crop reaches MesoNet's input.
    """
    info: dict = {"files": [], "interpolation": []}
    paths = frames["path"].tolist()
    for stem in bench.mesonet_weights:
        path = mesonet_dir / f"{stem}.h5"
        if not path.is_file():
            log.warning("MesoNet weights %s not found; row skipped", path)
            continue
        architecture = MESONET_ARCHITECTURES[stem.split("_")[0]]
        model = build_model(architecture, size=bench.crop_size, weights=path)
        name = stem + PRETRAINED
        p = predict_crops(model, paths, bench.crop_size)
        add_prediction(videos, name, aggregate_frames(frames.assign(p=p), "mean", cfg))
        videos[name + CAL] = calibrated(videos, videos[name].to_numpy(), cfg)
        info["files"].append(str(path))
        if checks and stem.startswith("Meso4"):
            for interpolation in INTERPOLATIONS:
                q = predict_crops(model, paths, bench.crop_size, interpolation, via=bench.size)
                v = videos[["video_id", "label", "group"]].copy()
                add_prediction(v, "p", aggregate_frames(frames.assign(p=q), "mean", cfg))
                y, scores = v["label"].to_numpy(int), evaluate(v["label"].to_numpy(int), v["p"])
                low, high = bootstrap_intervals(y, v["p"].to_numpy(), n_boot=bench.n_boot, seed=bench.seed,
                                                groups=v["group"].to_numpy())["roc_auc"]
                info["interpolation"].append({"weights": stem, "crop": f"{bench.size} px -> {bench.crop_size} px",
                                              "interpolation": interpolation, "roc_auc": scores["roc_auc"],
                                              "roc_auc_low": low, "roc_auc_high": high,
                                              "balanced_log_loss": scores["balanced_log_loss"]})
    return info


def cross_compression(folds: pd.DataFrame, crops_dir: CropsDir, work: Path, model: str, bench: BenchmarkConfig,
                      quick: bool, cfg: PredictConfig) -> pd.DataFrame:
    """c40 video predictions of `model` trained on the c23 videos of the other folds only (per fold)."""
    parts = []
    for fold in sorted(folds["fold"].unique()):
        keep = (((folds["compression"] == "c23") & (folds["fold"] != fold))
                | ((folds["compression"] == "c40") & (folds["fold"] == fold)))
        part = folds[keep]
        if part.loc[part["fold"] == fold].empty or part.loc[part["fold"] != fold, "label"].nunique() < 2:
            continue
        folds_csv = work / f"folds_c23_to_c40_{fold}.csv"
        write_if_changed(part, folds_csv)
        out = ModelDir(work / "cross_compression" / model).fold(fold)
        trained = train_or_reuse(crops_dir.path, folds_csv, train_config(model, bench, quick), int(fold), out)
        parts.append(pd.read_csv(trained.model_dir.oof_frames, dtype={"video_id": str, "group": str}))
    if not parts:
        return pd.DataFrame(columns=["video_id", "p"])
    return aggregate_frames(pd.concat(parts, ignore_index=True), "mean", cfg)


def ablation_rows(videos: pd.DataFrame, default: str, variants: dict[str, tuple[str, str]], n_boot: int,
                  seed: int) -> pd.DataFrame:
    """One row per variant column: what changed, balanced log loss and AUC, and their deltas against `default`."""
    rows = [ablation_row(videos, default, column, choice, setting, n_boot, seed)
            for column, (choice, setting) in {default: ("default", "as in the main run"), **variants}.items()]
    return pd.DataFrame(rows)


def run_ablations(videos: pd.DataFrame, frames_dir: CropsDir, crops_dir: CropsDir, folds_csv: Path, work: Path,
                  bench: BenchmarkConfig, quick: bool, cfg: PredictConfig) -> pd.DataFrame:
    """Retrain the ablation model with one choice changed at a time; aggregation and calibration need no training."""
    model = bench.ablation_model
    default = model + CAL
    variants: dict[str, tuple[str, str]] = {}
    trainings = {
        "crop margin": (f"margin {bench.ablation_margin} (centre cut of the {bench.margin} crops)",
                        {"to_margin": bench.ablation_margin}, {}),
        **{"resize interpolation " + i: (f"{bench.crop_size} -> {bench.size} px with cv2 INTER_{i.upper()}",
                                         {"interpolation": i}, {})
           for i in bench.ablation_interpolations if i != bench.interpolation},
        "resize interpolation tf": (f"{bench.crop_size} px crops resized by the pipeline (tf bilinear, antialias)",
                                    None, {}),
        "balanced sampling": ("imbalance 'none' (every crop once, natural 15:52 ratio)", {}, {"imbalance": "none"}),
        "self-blended augmentation": (f"self_blend {bench.ablation_self_blend} (REAL crops blended into FAKEs)", {},
                                      {"self_blend": bench.ablation_self_blend}),
    }
    for choice, (setting, crop_changes, train_changes) in trainings.items():
        name = f"{model} [{choice}]"
        if crop_changes is None:
            variant_crops = crops_dir
        elif crop_changes:
            changes = {"interpolation": bench.interpolation, **crop_changes}
            tag = f"crops_{bench.size}_{changes['interpolation']}_m{changes.get('to_margin', bench.margin)}"
            variant_crops = derive_crops(crops_dir, work / tag, bench.size, changes["interpolation"], bench.margin,
                                         changes.get("to_margin"))
        else:
            variant_crops = frames_dir
        out = work / "ablation" / name.replace(" ", "_").replace("[", "").replace("]", "").replace("'", "")
        variant = train_or_reuse(variant_crops.path, folds_csv, train_config(model, bench, quick, **train_changes),
                                 "all", out).model_dir
        add_trained(videos, [variant], cfg, bench.seed, names={variant.name: name}, stack=False)
        variants[name + CAL] = (choice, setting)
    main = StudyDir(work).models.model(model)
    add_trained(videos, [main], replace(cfg, aggregation="mean"), bench.seed,
                names={model: f"{model} [mean aggregation]"}, stack=False)
    variants[f"{model} [mean aggregation]{CAL}"] = ("aggregation choice", "plain mean instead of the nested OOF choice")
    inputs = fit_stacker([main], cfg, seed=bench.seed).inputs
    aggregated = oof_with_fallback([aggregation_step(cfg)], inputs, inputs.p, inputs.table["label"].to_numpy(int), cfg)
    videos[f"{model} [no calibration]"] = videos["video_id"].map(dict(zip(inputs.table["video_id"], aggregated,
                                                                          strict=True)))
    variants[f"{model} [no calibration]"] = ("calibration",
                                             "nested aggregation choice only, no Platt scaling / clip bounds")
    return ablation_rows(videos, default, variants, bench.n_boot, bench.seed)


def ffpp_folds(data_dir: Path, bench: BenchmarkConfig, quick: bool) -> tuple[pd.DataFrame, int]:
    """Identity-group folds of the labelled FF++ videos (quick: a few per group), and how many were labelled."""
    videos = labelled(index_videos(data_dir)[0])
    available = len(videos)
    if quick:
        videos = quick_subset(videos, bench.seed)
    return make_folds(videos, k=bench.k, seed=bench.seed), available


def mesonet_crops(folds: pd.DataFrame, data_dir: Path, work: Path, bench: BenchmarkConfig) -> Extraction:
    """extract_dataset's result for MTCNN crops at MesoNet's 256 px and this suite's margin (reused when complete)."""
    extract_cfg = ExtractConfig(frames=bench.frames, size=bench.crop_size, margin=bench.margin)
    return extract_dataset(folds, work / f"crops_f{bench.frames}_{bench.crop_size}_m{bench.margin}", extract_cfg,
                           workers=bench.workers, data_dir=data_dir)


def extract_crops(folds: pd.DataFrame, data_dir: Path, work: Path,
                  bench: BenchmarkConfig) -> tuple[CropsDir, CropsDir, int]:
    """MTCNN crops once at MesoNet's 256 px, then resized copies at the training size (both reused when complete).

    Returns (the 256 px crops, the training crops, the number of videos without a face)."""
    extracted = mesonet_crops(folds, data_dir, work, bench)
    frames_dir = derive_crops(extracted.crops, work / f"crops_{bench.size}_{bench.interpolation}_m{bench.margin}",
                              bench.size, bench.interpolation)
    return extracted.crops, frames_dir, int((extracted.videos["faces"] == 0).sum())


def cross_compression_table(videos: pd.DataFrame, folds: pd.DataFrame, frames_dir: CropsDir, work: Path,
                            bench: BenchmarkConfig, quick: bool, cfg: PredictConfig,
                            timings: dict[str, float]) -> pd.DataFrame:
    """Rows on the c40 videos: each cross-compression model trained on c23 only, beside its main (c23+c40) run."""
    rows = []
    c40 = videos[videos["compression"] == "c40"].copy()
    for model in [m for m in bench.cross_compression_models if m in bench.models]:
        with step(f"cross_compression_{model}", timings, log):
            name = f"{model} trained on c23 only"
            add_prediction(c40, name, cross_compression(folds, frames_dir, work, model, bench, quick, cfg))
            rows += score_rows(name, c40, name, bench.n_boot, bench.seed)
            rows += score_rows(f"{model} trained on c23+c40", c40, model, bench.n_boot, bench.seed)
    return pd.DataFrame(rows)


def run(data_dir: str | Path, cfg: BenchmarkConfig, out_dir: str | Path = "reports/ffpp",
        work_dir: str | Path = "work/ffpp", *, quick: bool = False,
        mesonet_dir: str | Path | None = None) -> SuiteResult:
    """The FF++ suite end to end: index, group folds, extraction, training, OOF, aggregation, calibration, stack.

    Writes results.md, results.json and figures into out_dir; crops and models go to work_dir (reused by a rerun
    when complete). quick: a few videos per group and CI-sized trainings (the settings come from `cfg`).
    """
    total, started, timings = time.perf_counter(), time.time(), {}
    bench = replace(cfg, models=resolve_models(cfg.models),
                    cross_compression_models=resolve_models(cfg.cross_compression_models))
    data_dir, out, work = Path(data_dir), BenchDir(out_dir), Path(work_dir)
    out.figures.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    set_seeds(bench.seed)
    predict_cfg = PredictConfig()

    with step("index_and_folds", timings, log):
        folds, n_available = ffpp_folds(data_dir, bench, quick)
        folds_csv = StudyDir(work).folds
        write_if_changed(folds, folds_csv)
    with step("extraction", timings, log):
        crops_dir, frames_dir, no_face = extract_crops(folds, data_dir, work, bench)
    configs = {m: train_config(m, bench, quick) for m in bench.models}
    trained = train_each(configs, frames_dir.path, folds_csv, StudyDir(work).models, timings)

    # per-model rows and the stack; aggregation choice, meta model and calibration nested over the training folds
    videos = folds[["video_id", "label", "group", "fold", "method", "compression"]].copy()
    videos["label"] = videos["label"].astype(int)
    with step("aggregation_calibration_stacking", timings, log):
        stack = add_trained(videos, [trained[m].model_dir for m in bench.models], predict_cfg, bench.seed)

    frames_256 = frames_with_folds(crops_dir.load(), folds)
    pretrained = {"files": [], "interpolation": []}
    with step("pretrained_mesonet", timings, log):  # reference: the original MesoNet weights without training
        if (weights_dir := mesonet_folder(mesonet_dir)) is not None:
            pretrained = pretrained_rows(videos, frames_256, weights_dir, bench, predict_cfg)
    cross_table = cross_compression_table(videos, folds, frames_dir, work, bench, quick, predict_cfg, timings)

    ablation = pd.DataFrame()
    if bench.ablations and bench.ablation_model in bench.models:
        with step("ablations", timings, log):
            ablation = run_ablations(videos, frames_dir, crops_dir, folds_csv, work, bench, quick, predict_cfg)

    rows = [c for m in bench.models for c in (m, m + CAL)] + ["stack", "stack" + CAL]
    pretrained_names = [c for c in videos.columns if c.endswith(PRETRAINED)]
    rows += [c for n in pretrained_names for c in (n, n + CAL)]
    table = results_table(videos, {r: r for r in rows}, n_boot=bench.n_boot, seed=bench.seed)
    null_rows = pd.DataFrame()
    if bench.null:
        with step("null_check", timings, log):
            null_rows = null_table(videos, stack, pretrained_names, predict_cfg, bench.null, bench.seed).reset_index()
    timings["total"] = round(time.perf_counter() - total, 1)
    runs = [*work.glob("models/*/config.json"), *work.glob("cross_compression/*/*/config.json"),
            *work.glob("ablation/*/config.json")]
    facts = {
        "data_dir": str(data_dir), "quick": quick, "settings": asdict(bench), "weights_dir": bench.weights_dir,
        "mesonet_dir": str(mesonet_dir) if mesonet_dir else None, "n_videos_available": n_available,
        "n_videos": len(videos), "n_real": int((videos["label"] == 0).sum()),
        "n_fake": int((videos["label"] == 1).sum()),
        "n_groups": int(videos["group"].nunique()), "k": bench.k,
        "n_crops": int(len(frames_256)), "videos_without_faces": no_face,
        "folds": {int(f): {"videos": int(len(g)), "real": int((g["label"] == 0).sum()),
                           "groups": sorted(g["group"].unique())}
                  for f, g in videos.groupby("fold")},
        "stack_models": [m["name"] for m in stack.spec["models"]],
        "stack_aggregations": {m["name"]: m["aggregation"] for m in stack.spec["models"]},
        "trained": trained_facts(trained, configs), "pretrained": pretrained, "timings_s": timings,
        "cpu_count": os.cpu_count(),
        "reused_trainings": sorted(str(p.parent.relative_to(work)) for p in runs if p.stat().st_mtime < started),
    }
    result = SuiteResult(out, facts, table, videos, null=null_rows, ablation=ablation, cross_compression=cross_table)
    write_results(result)
    return result


# --- report -------------------------------------------------------------------------------------------------------
def verdict(table: pd.DataFrame) -> list[str]:
    """The issue's target in numbers: best trained/stacked row vs the best pretrained row and the prior (balanced
    log loss)."""
    part = table[table["subset"] == "all"].set_index("model")
    trained = part[~part.index.str.contains("pretrained")]
    pretrained = part[part.index.str.contains("pretrained")]
    best = trained["balanced_log_loss"].idxmin()
    b = trained.loc[best]
    lines = [f"Best trained or stacked row by balanced log loss: **{best}**, {format_metric(b, 'balanced_log_loss')}."]
    prior = float(b["prior_balanced_log_loss"])
    # For balanced log loss the best constant is 0.5 (ln 2 = 0.693), not the FAKE share: test against both.
    best_constant = min(prior, float(np.log(2)))
    beats_prior = b["balanced_log_loss_high"] < best_constant
    lines.append(f"- against the constant prior ({prior:.3f}) and the best constant for this metric, 0.5 "
                 f"(ln 2 = {np.log(2):.3f}): "
                 + ("beaten, the whole interval lies below both." if beats_prior else
                    f"**not** beaten with confidence: the interval reaches {best_constant:.3f}."))
    auc_best = trained["roc_auc"].idxmax()
    a = trained.loc[auc_best]
    lines.append(f"- ranking: the best trained or stacked ROC AUC is {auc_best}, {format_metric(a, 'roc_auc')}"
                 + ("; its interval contains 0.5, so no trained row shows a detectable signal."
                    if a["roc_auc_low"] <= 0.5 else "."))
    if len(pretrained):
        ref = pretrained["balanced_log_loss"].idxmin()
        r = pretrained.loc[ref]
        separated = b["balanced_log_loss_high"] < r["balanced_log_loss_low"]
        lines.append(f"- against the best pretrained MesoNet row ({ref}, {format_metric(r, 'balanced_log_loss')}): "
                     + ("beaten, the intervals do not overlap." if separated else
                        "**not** separated: the intervals overlap."))
    return lines


def write_figures(result: SuiteResult) -> list[str]:
    """ROC per model, bar chart by method with error bars, reliability diagram (final rows)."""
    from deepfake_detection import plots

    videos, table, figures = result.videos, result.table, result.bench.figures
    final = [c for c in table["model"].unique() if c.endswith(CAL)]
    names = []
    save_roc(videos, final, figures / "roc.png")
    names.append("roc.png")
    plots.plot_metric_by_subset(table[table["model"].isin(final)], "balanced_log_loss").savefig(
        figures / "by_method_balanced_log_loss.png", dpi=110)
    plots.plot_metric_by_subset(table[table["model"].isin(final)], "roc_auc").savefig(
        figures / "by_method_roc_auc.png", dpi=110)
    names += ["by_method_balanced_log_loss.png", "by_method_roc_auc.png"]
    best = (table[(table["subset"] == "all") & table["model"].isin(final)]
            .set_index("model")["balanced_log_loss"].idxmin())
    raw = best[: -len(CAL)]
    series = {f"{raw} (raw)": videos[raw].to_numpy(), best: videos[best].to_numpy()}
    plots.plot_reliability(reliability_table(videos["label"].to_numpy(), series, bins=5)).savefig(
        figures / "reliability.png", dpi=110)
    names.append("reliability.png")
    return names


def write_results(result: SuiteResult) -> None:
    """results.md, results.json and the figures for one benchmark run."""
    facts, table = result.facts, result.table
    s = facts["settings"]
    t = next(iter(facts["trained"].values()))["train_config"]
    figures = write_figures(result)
    minutes = facts["timings_s"]["total"] / 60
    weights = (f"backbones initialised from ImageNet files in {facts['weights_dir']}" if facts["weights_dir"] else
               "every trained model starts from random weights (no ImageNet files)")
    lines = [
        "# FaceForensics++ benchmark"
        + (" (QUICK MODE: a machinery check, the numbers mean nothing)" if facts["quick"] else ""),
        "",
        f"- **Data:** {facts['n_videos']} videos ({facts['n_real']} REAL / {facts['n_fake']} FAKE) of "
        f"`{facts['data_dir']}`, a small public sample of FaceForensics++ "
        f"({facts['n_videos_available']} labelled videos: "
        "15 REAL / 52 FAKE; Deepfakes, Face2Face, FaceSwap, NeuralTextures; c23 and c40)"
        + (", quick mode keeps one video per group, label and compression" if facts["quick"] else "") + ".",
        f"- **Identities and folds:** {facts['n_groups']} identity groups (a fake and both of its ids in one group), "
        f"{facts['k']} stratified group folds; every score is out-of-fold and video-level.",
        f"- **Settings:** {s['frames']} frames per video, MTCNN crops at {s['crop_size']} px (margin {s['margin']}) "
        f"resized to {t['size']} px with cv2 INTER_{s['interpolation'].upper()} for training; "
        f"{t['epochs']} epoch(s) of {t['steps_per_epoch'] * t['batch_size']} crops (batch {t['batch_size']}), "
        f"{t['imbalance']} batches, augmentation {', '.join(t['augment'])}; the last epoch kept (no checkpoint chosen "
        f"on the validation fold); seed {s['seed']}; "
        f"{s['n_boot']} bootstrap resamples of identity groups.",
        f"- **CPU time:** {minutes:.1f} min on {facts['cpu_count']} cores for this run "
        "(budget: about 30 min on 2 cores for the default run; the machine was shared with other jobs)"
        + (f"; {len(facts['reused_trainings'])} finished trainings were reused from an earlier run with the same "
           f"settings and inputs, their time is not in this total ({', '.join(facts['reused_trainings'])})"
           if facts["reused_trainings"] else "") + ".",
        f"- **Weights:** {weights}; pretrained reference rows: "
        + (", ".join(f"`{Path(f).name}`" for f in facts["pretrained"]["files"]) + f" from `{facts['mesonet_dir']}`, "
           "no training, 256 px crops scaled to [0, 1]" if facts["pretrained"]["files"]
           else "none (no MesoNet folder)") + ".",
        "",
        "## How the numbers were made honest",
        "",
        f"- `MODEL` rows: frame P(FAKE) averaged per video, straight out of each fold's model (nothing fitted on the "
        f"labels). `MODEL{CAL}` rows: the frame aggregation (mean, median, confident-frame mean, |p-0.5|-weighted) and "
        f"`{PredictConfig().calibration}` calibration + clip bounds, both fitted on the *other* training folds, the "
        "calibration on the aggregation's cross-fitted output there (nested cross-fitting).",
        "- `stack` rows: aggregation choice and logistic regression on the base models' OOF logits, fitted on the "
        "other training folds; `stack +cal` adds the calibration, fitted on the meta model's cross-fitted output "
        "there. Every learned choice that scores a fold was fitted without that fold's labels, at every level. "
        "Deployed aggregation "
        f"per model: {', '.join(f'{k}: {v}' for k, v in facts['stack_aggregations'].items())}.",
        "- Each fold's model was trained for a fixed number of epochs and its last epoch kept: no checkpoint, early "
        "stopping or learning-rate schedule follows the fold it scores.",
        "- Videos without a face stay in every row at the fallback P(FAKE), as at test time "
        f"({facts['videos_without_faces']} here).",
        "- The constant prior predicts each subset's own FAKE share (it knows the subset's label ratio, which a "
        "model does not). For balanced log loss that is not the best constant: always answering 0.5 scores "
        "ln 2 = 0.693, the bar the verdict uses.",
        f"- Intervals: 95 % percentile bootstrap over identity groups, with the number of groups beside each row. "
        f"Intervals from fewer than {C.MIN_RELIABLE_GROUPS} groups are marked{UNRELIABLE}: in simulation such "
        "intervals cover well under 95 % (about 90 % for AUC and 81 % for balanced log loss on FF++'s 7 unequal "
        "groups), so read them as rough. Per-method subsets share the same REAL videos.",
        "",
        *null_markdown(result.null),
        "## Verdict",
        "",
        *verdict(table),
        "",
    ]
    for subset in table["subset"].unique():
        n = table.loc[table["subset"] == subset].iloc[0]
        lines += [f"## {subset} ({n['n_fake']} FAKE / {n['n_real']} REAL videos)", "", scores_markdown(table, subset)]
    if len(result.cross_compression):
        cross = result.cross_compression
        lines += ["## Cross-compression: tested on c40", "",
                  "Each fold's c40 videos scored by a model trained on the c23 videos of the other folds only, "
                  "beside the main run's model (trained on c23 and c40 of the other folds). Raw mean-of-frames "
                  "predictions.", "",
                  scores_markdown(cross, "all")]
    if facts["pretrained"]["interpolation"]:
        interp = pd.DataFrame(facts["pretrained"]["interpolation"])
        interp["roc_auc [95% CI]"] = [f"{a:.3f} [{lo:.3f}, {hi:.3f}]" for a, lo, hi in
                                      zip(interp["roc_auc"], interp["roc_auc_low"], interp["roc_auc_high"],
                                          strict=True)]
        lines += ["## Pretrained MesoNet: resize interpolation of small crops", "",
                  f"Each 256 px crop shrunk to {s['size']} px and enlarged back to 256 px, as a small face crop "
                  "reaches MesoNet. At an integer enlargement cv2 INTER_AREA repeats pixels exactly like "
                  "INTER_NEAREST, so those two rows agree.", "",
                  table_md(interp, ["weights", "crop", "interpolation", "roc_auc [95% CI]", "balanced_log_loss"],
                            {"balanced_log_loss": "{:.3f}"})]
    if len(result.ablation):
        lines += [f"## Ablations on {s['ablation_model']} (final `{s['ablation_model']}{CAL}` numbers, all videos)", "",
                  "Each row changes one choice against the default; Δ is the paired difference on the same videos, "
                  "with a 95 % interval from resampling identity groups (an interval containing 0 means no "
                  "detectable effect).", "",
                  ablation_markdown(result.ablation)]
    lines += ["## Time per stage (s)", "", table_md(pd.DataFrame([facts["timings_s"]]), list(facts["timings_s"])),
              "## Figures", "", *[f"![{f}](figures/{f})" for f in figures], ""]
    atomic_write_text("\n".join(lines), result.bench.results_md)
    result.write_json("table", "cross_compression", "ablation", "null", "videos")


