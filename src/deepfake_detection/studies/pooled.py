"""Pooled-training suite: does in-domain FaceForensics++ data help, alone or pooled with the DFDC crops?

Group CV on the FF++ videos (identity-group folds: a fake and the originals of both its ids stay in one fold).
Every held-out video is scored by one recipe (forensic_gbm by default) three ways, on the same crops:

- **DFDC only:** the recipe's model in the zoo, trained on the DFDC face crops alone; nothing fitted on FF++
  (the cross-dataset row);
- **FF++ only:** the recipe trained on the other FF++ folds;
- **DFDC + FF++:** the recipe trained on the other FF++ folds pooled with every DFDC crop. The DFDC crops sit in
  folds.csv at config.TRAIN_ONLY_FOLD: they train every fold and are never scored.

The FF++ crops are cut as the zoo serves faces (its stacker's margin, the recipe's size, `frames` frames per video,
every face track), so the DFDC-only row is the zoo's model as deployed. A video's P(FAKE) is the mean over each face
track's crops, the max over its tracks (aggregate_frames "mean"); `+cal` rows add the calibration fitted on the
other folds (nested). Each row gets group-bootstrap intervals and a
permutation p-value, and the ablation table gives the paired differences between the three trainings.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict, replace
from pathlib import Path

import pandas as pd

from deepfake_detection import config as C
from deepfake_detection.aggregate import aggregate_frames
from deepfake_detection.artifacts import BenchDir, CropsDir, ModelsDir, StudyDir
from deepfake_detection.config import BenchmarkConfig, CropsBenchmarkConfig, PooledConfig, PredictConfig, set_seeds
from deepfake_detection.extract import extract_dataset
from deepfake_detection.io import atomic_write_csv, atomic_write_text
from deepfake_detection.models import load_model
from deepfake_detection.pipeline import frames_with_folds
from deepfake_detection.predict import inference_extract_config, serving_margin
from deepfake_detection.reporting import step
from deepfake_detection.studies.common import (
    CAL,
    SuiteResult,
    ablation_markdown,
    ablation_row,
    add_prediction,
    calibrated,
    format_metric,
    predict_crops,
    results_table,
    save_roc,
    scores_markdown,
    table_md,
    train_or_reuse,
    trained_facts,
    with_permutation_p,
    write_if_changed,
)
from deepfake_detection.studies.crops import crop_index, recipe_config
from deepfake_detection.studies.ffpp import ffpp_folds

log = logging.getLogger(__name__)

DFDC_ONLY, FFPP_ONLY, POOLED = "DFDC only (zoo)", "FF++ only", "DFDC + FF++"
TARGET_AUC, TARGET_LOW = 0.75, 0.6  # the FF++ target: AUC, and the lower end of its interval


def pooled_set(videos: CropsDir, folds: pd.DataFrame, pooled: CropsDir, pooled_index: pd.DataFrame,
               out: Path) -> tuple[CropsDir, Path]:
    """One crops folder (manifest.csv with absolute crop paths) and folds.csv: the videos' crops with their folds,
    the pooled crops as training-only rows (config.TRAIN_ONLY_FOLD)."""
    if set(folds["video_id"]) & set(pooled_index["video_id"]):
        raise ValueError("the pooled crops share video ids with the scored videos; they cannot train only")
    parts = [d.load() for d in (videos, pooled)]
    manifest = pd.concat([p.assign(crop_path=[str(Path(f).resolve()) for f in p["path"]]) for p in parts],
                         ignore_index=True)
    out.mkdir(parents=True, exist_ok=True)
    write_if_changed(manifest[list(CropsDir.MANIFEST_COLUMNS)], CropsDir(out).manifest)
    folds_csv = StudyDir(out).folds
    write_if_changed(pd.concat([folds, pooled_index.assign(fold=C.TRAIN_ONLY_FOLD)], ignore_index=True), folds_csv)
    return CropsDir(out), folds_csv


def zoo_predictions(models: ModelsDir, name: str, frames: pd.DataFrame) -> pd.DataFrame:
    """Per-crop P(FAKE) of the models folder's `name` model (frames plus `p`), at the model's own input size."""
    model = load_model(models.model(name).model)
    return frames.assign(p=predict_crops(model, frames["path"].tolist(), int(model.input_shape[1])))


def run(data_dir: str | Path, cfg: PooledConfig, out_dir: str | Path = "reports/ffpp-pooled",
        work_dir: str | Path = "work/ffpp-pooled", *, quick: bool = False,
        mesonet_dir: str | Path | None = None) -> SuiteResult:
    """The pooled suite end to end: folds, extraction at the zoo's framing, two trainings, the zoo row, scores.

    Writes results.md, results.json, videos.csv and a ROC figure into out_dir; crops and models go to work_dir
    (reused by a rerun when finished). quick: CI-sized settings come from `cfg`, the recipe trains at 64 px.
    """
    start, timings = time.perf_counter(), {}
    data_dir, out, work, models = Path(data_dir), BenchDir(out_dir), Path(work_dir), ModelsDir(cfg.models)
    out.figures.mkdir(parents=True, exist_ok=True)
    set_seeds(cfg.seed)
    predict_cfg = PredictConfig()
    train_cfg = recipe_config(cfg.recipe, CropsBenchmarkConfig(seed=cfg.seed), mesonet_dir, quick)
    margin = serving_margin(models.stacker.load() if models.has_stacker() else None)  # None: extraction's default

    with step("index_and_folds", timings, log):
        folds, _ = ffpp_folds(data_dir, BenchmarkConfig(k=cfg.k, seed=cfg.seed), quick=False)
        pooled_index = crop_index(Path(cfg.pooled), cfg.max_groups, cfg.seed)
    with step("extraction", timings, log):
        extract_cfg = inference_extract_config(None, train_cfg.size, replace(predict_cfg, frames=cfg.frames), margin)
        extracted = extract_dataset(folds, work / f"crops_f{cfg.frames}_{train_cfg.size}_m{extract_cfg.margin}",
                                    extract_cfg, data_dir=data_dir)
        study = StudyDir(work)
        write_if_changed(folds, study.folds)
        pooled_crops, pooled_csv = pooled_set(extracted.crops, folds, CropsDir(cfg.pooled), pooled_index,
                                              work / "pooled_crops")
    trained = {}
    for name, crops_dir, folds_csv in ((FFPP_ONLY, extracted.crops, study.folds),
                                       (POOLED, pooled_crops, pooled_csv)):
        with step(f"train {name}", timings, log):
            tag = name.replace(" ", "_").replace("+", "plus")
            trained[name] = train_or_reuse(crops_dir.path, folds_csv, train_cfg, "all", study.models.model(tag))

    videos = folds[["video_id", "label", "group", "fold", "method", "compression"]].copy()
    videos["label"] = videos["label"].astype(int)
    videos["method"] = videos["method"].fillna("original")
    frames = frames_with_folds(extracted.crops.load(), folds)
    with step("scoring", timings, log):
        oof = {name: pd.read_csv(r.model_dir.oof_frames, dtype={"video_id": str, "group": str})
               for name, r in trained.items()}
        oof = {DFDC_ONLY: zoo_predictions(models, cfg.recipe, frames), **oof}
        for name, crops in oof.items():
            add_prediction(videos, name, aggregate_frames(crops, "mean", predict_cfg), predict_cfg.fallback)
            videos[name + CAL] = calibrated(videos, videos[name].to_numpy(), predict_cfg)
        rows = [c for name in oof for c in (name, name + CAL)]
        table = with_permutation_p(results_table(videos, {r: r for r in rows}, n_boot=cfg.n_boot, seed=cfg.seed),
                                   videos, cfg.permutations, cfg.seed)
        # each training's change, paired on the same videos, on the models' own P(FAKE): with few groups a
        # calibration fitted on the other folds can reverse a fold's ranking, so +cal rows would blur the change
        ablation = pd.DataFrame([
            ablation_row(videos, base, variant, variant, f"{variant} against {base}", cfg.n_boot, cfg.seed)
            for base, variant in ((DFDC_ONLY, FFPP_ONLY), (DFDC_ONLY, POOLED), (FFPP_ONLY, POOLED))])
    timings["total"] = round(time.perf_counter() - start, 1)
    facts = {
        "data_dir": str(data_dir), "pooled": cfg.pooled, "models_dir": str(models.path), "quick": quick,
        "settings": asdict(cfg), "margin": extract_cfg.margin, "size": train_cfg.size,
        "n_videos": len(videos), "n_real": int((videos["label"] == 0).sum()),
        "n_fake": int((videos["label"] == 1).sum()), "n_groups": int(videos["group"].nunique()),
        "n_crops": int(len(frames)), "n_pooled_crops": int(len(pooled_index)),
        "no_face": int((~videos["video_id"].isin(frames["video_id"])).sum()),
        "folds": {int(f): {"videos": int(len(g)), "real": int((g["label"] == 0).sum()),
                           "groups": sorted(g["group"].unique())} for f, g in videos.groupby("fold")},
        "trained": trained_facts(trained, {name: train_cfg for name in trained}),
        "timings_s": timings, "cpu_count": os.cpu_count(),
    }
    result = SuiteResult(out, facts, table, videos, ablation=ablation)
    save_roc(videos, list(oof), out.figures / "roc.png")  # the models' own P(FAKE), as the paired comparison
    atomic_write_csv(videos, out.videos)
    result.write_json("table", "ablation")
    atomic_write_text(results_markdown(result), out.results_md)
    return result


def verdict(table: pd.DataFrame) -> list[str]:
    """Where the best row (raw or calibrated) stands against the FF++ target (AUC >= 0.75, interval above 0.6)."""
    part = table[table["subset"] == "all"].set_index("model")
    best = part.loc[part["roc_auc"].idxmax()]
    met = best["roc_auc"] >= TARGET_AUC and best["roc_auc_low"] > TARGET_LOW
    return [f"Best row by ROC AUC: **{best.name}**, {format_metric(best, 'roc_auc')} (permutation p "
            f"{best['roc_auc_p']:.3f}). Target: AUC ≥ {TARGET_AUC} with the interval's lower end above {TARGET_LOW}: "
            + ("**met**." if met else "**not met**.")]


def results_markdown(result: SuiteResult) -> str:
    """results.md: design, verdict, one table per subset, the ablation of the training data, times."""
    facts, table = result.facts, result.table
    trained = next(iter(facts["trained"].values()))
    trees = "; ".join(f"{n}: {t['trees']['per_fold']}" for n, t in facts["trained"].items() if "trees" in t)
    reused = ", ".join(f"{n} {t['fit_seconds'] / 60:.1f} min" for n, t in facts["trained"].items() if t["reused"])
    sizes = [f["videos"] for f in facts["folds"].values()]
    lines = [
        "# Pooled training: FaceForensics++ group CV, with and without the DFDC crops"
        + (" (QUICK MODE: a machinery check, the numbers mean nothing)" if facts["quick"] else ""), "",
        f"- **Data:** {facts['n_videos']} FaceForensics++ videos ({facts['n_real']} REAL / {facts['n_fake']} FAKE, "
        f"{facts['n_groups']} identity groups) of `{facts['data_dir']}`; {facts['n_crops']} face crops "
        f"({facts['settings']['frames']} frames per video, every face track, {facts['size']} px, margin "
        f"{facts['margin']}: the zoo's serving framing); {facts['no_face']} videos without a face keep P(FAKE) 0.5.",
        f"- **Folds:** {facts['settings']['k']} identity-group folds; every FF++ score is out-of-fold.",
        f"- **Recipe:** `{facts['settings']['recipe']}` "
        f"({trained['train_config']['model']}, seed {facts['settings']['seed']}), trained per fold on the other "
        f"FF++ folds alone (**{FFPP_ONLY}**) and pooled with {facts['n_pooled_crops']} face crops of "
        f"`{facts['pooled']}` that train every fold and are never scored (**{POOLED}**). **{DFDC_ONLY}**: "
        f"`{facts['models_dir']}`'s model of the recipe, trained on those crops alone, nothing fitted on FF++."
        + (f" Trees per fold: {trees}." if trees else ""),
        "- **Scoring:** a video's P(FAKE) is the mean of each face track's crops, the max over its tracks; "
        f"`{CAL}` rows add the calibration "
        f"(`{PredictConfig().calibration}` + clip bounds) fitted on the other folds. 95 % intervals resample "
        "identity groups († fewer groups than a reliable interval needs); AUC p-values from label permutations. "
        "A method row is that method's fakes against every REAL video.",
        f"- **CPU time:** {facts['timings_s']['total'] / 60:.1f} min on {facts['cpu_count']} cores for this run"
        + (f"; reused trainings, as long as they took when they ran: {reused}" if reused else "") + ".", "",
        "## Verdict", "", *verdict(table), "",
        "## Training data (paired differences on the same videos)", "",
        "The models' own P(FAKE) (nothing fitted on the scored fold). Δ is the row minus its base on "
        "the same videos and group resamples; an interval containing 0 means no detectable effect. The `+cal` rows "
        f"below are not compared here: with folds of {min(sizes)} to {max(sizes)} videos, a calibration fitted on "
        "the other folds can take the opposite sign in a fold and reverse its ranking.", "",
        ablation_markdown(result.ablation, against="base"), "",
    ]
    for subset in table["subset"].unique():
        part = table[table["subset"] == subset]
        lines += [f"## {subset}", "", scores_markdown(table, subset),
                  "AUC p (perm.): " + ", ".join(f"{r['model']} {r['roc_auc_p']:.3f}" for _, r in part.iterrows()), ""]
    lines += ["## Time per stage (s)", "", table_md(pd.DataFrame([facts["timings_s"]]), list(facts["timings_s"])),
              "", "![ROC](figures/roc.png)", ""]
    return "\n".join(lines)


__all__ = ["run", "pooled_set", "results_markdown", "DFDC_ONLY", "FFPP_ONLY", "POOLED"]
