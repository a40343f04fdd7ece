"""Pooled-training suite: does in-domain FaceForensics++ data help, alone, pooled with the DFDC crops, or on top
of DFDC-trained weights?

Group CV on the FF++ videos (identity-group folds: a fake and the originals of both its ids stay in one fold).
Every held-out video is scored by one recipe (forensic_gbm by default) in up to four ways, on the same crops:

- **DFDC only:** the recipe's model in the zoo, trained on the DFDC face crops alone; nothing fitted on FF++
  (the cross-dataset row); always there;
- **FF++ only** (training "ffpp"): the recipe trained on the other FF++ folds;
- **DFDC + FF++** (training "pooled"): the recipe trained on the other FF++ folds pooled with every DFDC crop. The
  DFDC crops sit in folds.csv at config.TRAIN_ONLY_FOLD: they train every fold and are never scored;
- **DFDC init + FF++ fine-tune** (training "fine-tune", gradient recipes only; the `ffpp-finetune` suite): each
  fold model of the zoo's ensemble (`members`), trained further on the other FF++ folds at a small step size; the
  row averages them, as the zoo averages its fold models. Every FF++ fold starts from the same DFDC weights, and the
  epochs are fixed in advance, so nothing is chosen on a scored video.

The FF++ crops are cut as the zoo serves faces (its stacker's margin, the recipe's size, `frames` frames per video,
every face track), so the DFDC-only row is the zoo's model as deployed. The original MesoNet files are reference
rows, scored without training on crops cut as `benchmark-ffpp` cuts them for MesoNet (256 px, margin 0.3). A
video's P(FAKE) is the mean over each face track's crops, the max over its tracks (aggregate_frames "mean"); `+cal`
rows add the calibration fitted on the other folds (nested). Each row gets group-bootstrap intervals and a
permutation p-value, and the ablation table gives the paired differences between the trainings, and between each
of them and each reference row.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict, replace
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from deepfake_detection import config as C
from deepfake_detection.aggregate import aggregate_frames
from deepfake_detection.artifacts import BenchDir, CropsDir, ModelsDir, StudyDir
from deepfake_detection.config import (
    BenchmarkConfig,
    CropsBenchmarkConfig,
    PooledConfig,
    PredictConfig,
    TrainConfig,
    from_json,
    set_seeds,
)
from deepfake_detection.extract import extract_dataset
from deepfake_detection.io import atomic_write_csv, atomic_write_text
from deepfake_detection.models import REGISTRY, load_model
from deepfake_detection.pipeline import frames_with_folds
from deepfake_detection.predict import inference_extract_config, serving_margin
from deepfake_detection.reporting import step
from deepfake_detection.studies.common import (
    CAL,
    PRETRAINED,
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
from deepfake_detection.studies.ffpp import ffpp_folds, mesonet_crops, mesonet_folder, pretrained_rows
from deepfake_detection.train import fold_member

log = logging.getLogger(__name__)

DFDC_ONLY, FFPP_ONLY, POOLED = "DFDC only (zoo)", "FF++ only", "DFDC + FF++"
FINE_TUNED = "DFDC init + FF++ fine-tune"
TRAININGS = {"ffpp": FFPP_ONLY, "pooled": POOLED, "fine-tune": FINE_TUNED}  # PooledConfig.trainings -> row
# the paired comparisons of the ablation table (base, variant), where both rows were trained
PAIRS = ((DFDC_ONLY, FFPP_ONLY), (DFDC_ONLY, POOLED), (FFPP_ONLY, POOLED), (DFDC_ONLY, FINE_TUNED),
         (FFPP_ONLY, FINE_TUNED))
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


def member_training(member: int) -> str:
    """The name of one fine-tune training: the FINE_TUNED row averages one per zoo fold model."""
    return f"{FINE_TUNED}, from fold model {member}"


def mean_of_members(oofs: list[pd.DataFrame]) -> pd.DataFrame:
    """Per-crop OOF frames whose p is the mean of every member's p for the same crop (video, frame, track), in any
    row order. Every member must score exactly the same crops, each once."""
    keys = ["video_id", "frame", "track"]
    indexed = [o.set_index(keys)["p"] for o in oofs]
    first = indexed[0].index
    if not first.is_unique or any(not i.index.is_unique or not i.index.sort_values().equals(first.sort_values())
                                  for i in indexed[1:]):
        raise ValueError("the members' out-of-fold predictions cover different crops; they cannot be averaged")
    p = pd.concat(indexed, axis=1).mean(axis=1)
    return oofs[0].drop(columns="p").join(p.rename("p"), on=keys)


def check_fine_tunable(model: str) -> None:
    """A fine-tune continues gradient training: a registry model fitted another way (boosted trees) cannot."""
    if REGISTRY[model].fit != "gradient":
        raise ValueError(f"the fine-tune training needs a gradient-trained recipe; {model} is fitted "
                         f"{REGISTRY[model].fit}-wise from scratch")


def fine_tune_config(trained: TrainConfig, init: Path, cfg: PooledConfig) -> TrainConfig:
    """A trained model's TrainConfig, started from the weights in `init` and trained cfg.fine_tune_epochs short
    epochs from cfg.fine_tune_learning_rate (cosine-decayed), with no frozen-backbone phase and the last epoch kept;
    as with any pretrained start, the BatchNorm statistics stay frozen."""
    check_fine_tunable(trained.model)
    return replace(trained, weights=str(init), head_epochs=0, epochs=cfg.fine_tune_epochs, select_best=False,
                   steps_per_epoch=max(1, cfg.fine_tune_samples // trained.batch_size),
                   fine_tune_learning_rate=cfg.fine_tune_learning_rate, seed=cfg.seed)


def zoo_member(ensemble: keras.Model, member: int, out: Path) -> Path:
    """out: the network of fold `member` of a zoo model's fold ensemble, as its own model.keras, so that a training
    can start from it. Rewritten (atomically) only when it no longer holds that network's weights (another or a
    retrained zoo); an unchanged file keeps its time, so trainings started from it stay reusable."""
    network = fold_member(ensemble, member)
    if out.exists():
        held, weights = load_model(out).get_weights(), network.get_weights()
        if len(held) == len(weights) and all(np.array_equal(a, b) for a, b in zip(held, weights, strict=True)):
            return out
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f"{out.stem}.partial.keras")  # Keras saves only to a *.keras name
    network.save(partial)
    os.replace(partial, out)
    return out


def zoo_predictions(models: ModelsDir, name: str, frames: pd.DataFrame) -> pd.DataFrame:
    """Per-crop P(FAKE) of the models folder's `name` model (frames plus `p`), at the model's own input size."""
    model = load_model(models.model(name).model)
    return frames.assign(p=predict_crops(model, frames["path"].tolist(), int(model.input_shape[1])))


def run(data_dir: str | Path, cfg: PooledConfig, out_dir: str | Path = "reports/ffpp-pooled",
        work_dir: str | Path = "work/ffpp-pooled", *, quick: bool = False,
        mesonet_dir: str | Path | None = None) -> SuiteResult:
    """The pooled suite end to end: folds, extraction at the zoo's framing, the chosen trainings (cfg.trainings),
    the zoo row, the MesoNet reference rows, scores.

    Writes results.md, results.json, videos.csv and a ROC figure into out_dir; crops and models go to work_dir
    (reused by a rerun when finished). quick: CI-sized settings come from `cfg`; a from-scratch recipe trains at
    64 px, a fine-tune keeps the zoo model's input size.
    """
    start, timings = time.perf_counter(), {}
    unknown = set(cfg.trainings) - set(TRAININGS)
    if unknown or not cfg.trainings:
        raise ValueError(f"trainings must name one or more of {', '.join(TRAININGS)}; got {', '.join(cfg.trainings)}")
    if "fine-tune" in cfg.trainings and not cfg.members:
        raise ValueError("the fine-tune training needs at least one fold model of the zoo's ensemble (members)")
    data_dir, out, work, models = Path(data_dir), BenchDir(out_dir), Path(work_dir), ModelsDir(cfg.models)
    out.figures.mkdir(parents=True, exist_ok=True)
    set_seeds(cfg.seed)
    predict_cfg = PredictConfig()
    train_cfg = recipe_config(cfg.recipe, CropsBenchmarkConfig(seed=cfg.seed), mesonet_dir, quick)
    if "fine-tune" in cfg.trainings:
        check_fine_tunable(train_cfg.model)  # before any extraction
    margin = serving_margin(models.stacker.load() if models.has_stacker() else None)  # None: extraction's default

    with step("index_and_folds", timings, log):
        folds, _ = ffpp_folds(data_dir, BenchmarkConfig(k=cfg.k, seed=cfg.seed), quick=False)
        pooled_index = crop_index(Path(cfg.pooled), cfg.max_groups, cfg.seed) if "pooled" in cfg.trainings else None
    with step("extraction", timings, log):
        extract_cfg = inference_extract_config(None, train_cfg.size, replace(predict_cfg, frames=cfg.frames), margin)
        extracted = extract_dataset(folds, work / f"crops_f{cfg.frames}_{train_cfg.size}_m{extract_cfg.margin}",
                                    extract_cfg, data_dir=data_dir)
        study = StudyDir(work)
        write_if_changed(folds, study.folds)
    runs: dict[str, tuple[CropsDir, Path, TrainConfig]] = {}  # training -> (crops, folds.csv, settings)
    row_trainings: dict[str, list[str]] = {}  # scored row -> its trainings (fine-tune: one per zoo fold model)
    for training, name in TRAININGS.items():
        if training not in cfg.trainings:
            continue
        if training == "pooled":
            runs[name] = (*pooled_set(extracted.crops, folds, CropsDir(cfg.pooled), pooled_index,
                                      work / "pooled_crops"), train_cfg)
        elif training == "fine-tune":
            # the zoo model's own settings (quick runs shrink a from-scratch recipe, not a trained network's input);
            # cfg's fine-tune settings bound its time
            trained_with = from_json(TrainConfig, models.model(cfg.recipe).config)
            ensemble = load_model(models.model(cfg.recipe).model)
            for member in cfg.members:
                init = zoo_member(ensemble, member, work / f"init_{cfg.recipe}_fold{member}.keras")
                runs[member_training(member)] = (extracted.crops, study.folds,
                                                 fine_tune_config(trained_with, init, cfg))
        else:
            runs[name] = (extracted.crops, study.folds, train_cfg)
        row_trainings[name] = [member_training(m) for m in cfg.members] if training == "fine-tune" else [name]
    trained = {}
    for name, (crops_dir, folds_csv, settings) in runs.items():
        with step(f"train {name}", timings, log):
            tag = name.replace(",", "").replace(" ", "_").replace("+", "plus")
            trained[name] = train_or_reuse(crops_dir.path, folds_csv, settings, "all", study.models.model(tag))

    videos = folds[["video_id", "label", "group", "fold", "method", "compression"]].copy()
    videos["label"] = videos["label"].astype(int)
    videos["method"] = videos["method"].fillna("original")
    frames = frames_with_folds(extracted.crops.load(), folds)
    pretrained, pretrained_facts = reference_rows(videos, folds, data_dir, work, cfg, mesonet_dir, predict_cfg, timings)
    with step("scoring", timings, log):
        oof = {row: mean_of_members([pd.read_csv(trained[t].model_dir.oof_frames, dtype={"video_id": str,
                                                                                           "group": str})
                                     for t in trainings]) for row, trainings in row_trainings.items()}
        oof = {DFDC_ONLY: zoo_predictions(models, cfg.recipe, frames), **oof}
        for name, crops in oof.items():
            add_prediction(videos, name, aggregate_frames(crops, "mean", predict_cfg), predict_cfg.fallback)
            videos[name + CAL] = calibrated(videos, videos[name].to_numpy(), predict_cfg)
        rows = [c for name in [*oof, *pretrained] for c in (name, name + CAL)]
        table = with_permutation_p(results_table(videos, {r: r for r in rows}, n_boot=cfg.n_boot, seed=cfg.seed),
                                   videos, cfg.permutations, cfg.seed)
        # each training's change, paired on the same videos, on the models' own P(FAKE): with few groups a
        # calibration fitted on the other folds can reverse a fold's ranking, so +cal rows would blur the change
        ablation = pd.DataFrame([
            ablation_row(videos, base, variant, variant, f"{variant} against {base}", cfg.n_boot, cfg.seed)
            for base, variant in [*PAIRS, *((ref, row) for ref in pretrained for row in oof)]
            if base in videos and variant in videos])
    timings["total"] = round(time.perf_counter() - start, 1)
    facts = {
        "data_dir": str(data_dir), "pooled": cfg.pooled, "models_dir": str(models.path), "quick": quick,
        "settings": asdict(cfg), "margin": extract_cfg.margin, "size": train_cfg.size,
        "n_videos": len(videos), "n_real": int((videos["label"] == 0).sum()),
        "n_fake": int((videos["label"] == 1).sum()), "n_groups": int(videos["group"].nunique()),
        "n_crops": int(len(frames)), "n_pooled_crops": 0 if pooled_index is None else int(len(pooled_index)),
        "no_face": int((~videos["video_id"].isin(frames["video_id"])).sum()),
        "folds": {int(f): {"videos": int(len(g)), "real": int((g["label"] == 0).sum()),
                           "groups": sorted(g["group"].unique())} for f, g in videos.groupby("fold")},
        "trained": trained_facts(trained, {name: settings for name, (_, _, settings) in runs.items()}),
        "pretrained": pretrained_facts, "timings_s": timings, "cpu_count": os.cpu_count(),
    }
    result = SuiteResult(out, facts, table, videos, ablation=ablation)
    save_roc(videos, list(oof), out.figures / "roc.png")  # the models' own P(FAKE), as the paired comparison
    atomic_write_csv(videos, out.videos)
    result.write_json("table", "ablation")
    atomic_write_text(results_markdown(result), out.results_md)
    return result


def reference_rows(videos: pd.DataFrame, folds: pd.DataFrame, data_dir: Path, work: Path, cfg: PooledConfig,
                   mesonet_dir: str | Path | None, predict_cfg: PredictConfig,
                   timings: dict[str, float]) -> tuple[list[str], dict]:
    """The original MesoNet files' rows (and +cal columns) added to videos, on MesoNet-framed 256 px crops: their
    names ([] when none is asked for or the weights folder is missing) and pretrained_rows' facts (the files)."""
    weights_dir = mesonet_folder(mesonet_dir) if cfg.mesonet_weights else None
    if weights_dir is None:
        return [], {}
    with step("pretrained_mesonet", timings, log):
        bench = BenchmarkConfig(k=cfg.k, frames=cfg.frames, n_boot=cfg.n_boot, mesonet_weights=cfg.mesonet_weights,
                                seed=cfg.seed)
        crops_256 = mesonet_crops(folds, data_dir, work, bench).crops
        info = pretrained_rows(videos, frames_with_folds(crops_256.load(), folds), weights_dir, bench, predict_cfg,
                               checks=False)
    return [Path(f).stem + PRETRAINED for f in info["files"]], info


def verdict(table: pd.DataFrame) -> list[str]:
    """Where the best trained or zoo row (raw or calibrated) stands against the FF++ target (AUC >= 0.75, interval
    above 0.6), and against the best pretrained MesoNet reference row on the same videos."""
    part = table[table["subset"] == "all"].set_index("model")
    is_reference = part.index.str.contains(PRETRAINED, regex=False)
    ours, reference = part[~is_reference], part[is_reference]
    best = ours.loc[ours["roc_auc"].idxmax()]
    met = best["roc_auc"] >= TARGET_AUC and best["roc_auc_low"] > TARGET_LOW
    lines = [f"Best row by ROC AUC: **{best.name}**, {format_metric(best, 'roc_auc')} (permutation p "
             f"{best['roc_auc_p']:.3f}). Target: AUC ≥ {TARGET_AUC} with the interval's lower end above {TARGET_LOW}: "
             + ("**met**." if met else "**not met**.")]
    if len(reference):
        top = reference.loc[reference["roc_auc"].idxmax()]
        lines.append(f"Best pretrained MesoNet reference on the same videos: **{top.name}**, "
                     f"{format_metric(top, 'roc_auc')}; the best row's AUC is "
                     + ("above" if best["roc_auc"] > top["roc_auc"] else "not above")
                     + " it (paired differences of the raw rows are in the table below).")
    return lines


def training_lines(facts: dict) -> list[str]:
    """results.md: what each row's model was trained on, one bullet per row."""
    settings, trained = facts["settings"], facts["trained"]
    recipe = f"`{settings['recipe']}`"
    lines = [f"  - **{DFDC_ONLY}**: `{facts['models_dir']}`'s model of {recipe}, trained on DFDC face crops alone; "
             "nothing fitted on FF++."]
    if FFPP_ONLY in trained:
        lines.append(f"  - **{FFPP_ONLY}**: {recipe} trained per fold on the other FF++ folds alone.")
    if POOLED in trained:
        lines.append(f"  - **{POOLED}**: {recipe} trained per fold on the other FF++ folds pooled with "
                     f"{facts['n_pooled_crops']} face crops of `{settings['pooled']}` that train every fold and are "
                     "never scored.")
    members = [m for m in settings["members"] if member_training(m) in trained]
    if members:
        tuned = trained[member_training(members[0])]["train_config"]
        lines.append(f"  - **{FINE_TUNED}**: fold model{'s' * (len(members) > 1)} "
                     f"{', '.join(map(str, members))} of the zoo's {recipe} ensemble (DFDC crops only), "
                     f"each trained further per fold on the other FF++ folds, their P(FAKE) averaged: "
                     f"{tuned['epochs']} epochs of {tuned['steps_per_epoch'] * tuned['batch_size']} crops, Adam from "
                     f"lr {tuned['fine_tune_learning_rate']:g} (cosine decay), augmentation "
                     f"{', '.join(tuned['augment']) or 'none'}, every weight but the BatchNorm statistics trained, "
                     "the last epoch kept. Every FF++ fold starts from the same DFDC weights; no epoch or weight is "
                     "chosen on a scored fold.")
    trees = "; ".join(f"{n}: {t['trees']['per_fold']}" for n, t in trained.items() if "trees" in t)
    return lines + ([f"  - Trees per fold: {trees}."] if trees else [])


def results_markdown(result: SuiteResult) -> str:
    """results.md: design, verdict, one table per subset, the ablation of the training data, times."""
    facts, table = result.facts, result.table
    trained = next(iter(facts["trained"].values()))
    reused = ", ".join(f"{n} {t['fit_seconds'] / 60:.1f} min" for n, t in facts["trained"].items() if t["reused"])
    sizes = [f["videos"] for f in facts["folds"].values()]
    tuned = [name.startswith(FINE_TUNED) for name in facts["trained"]]
    title = ("Fine-tuning on FaceForensics++: group CV from the zoo's DFDC-trained weights" if all(tuned) else
             "Pooled training: FaceForensics++ group CV, with and without the DFDC crops" if not any(tuned) else
             "FaceForensics++ group CV: in-domain training, pooled with the DFDC crops and from the zoo's weights")
    lines = [
        f"# {title}" + (" (QUICK MODE: a machinery check, the numbers mean nothing)" if facts["quick"] else ""), "",
        f"- **Data:** {facts['n_videos']} FaceForensics++ videos ({facts['n_real']} REAL / {facts['n_fake']} FAKE, "
        f"{facts['n_groups']} identity groups) of `{facts['data_dir']}`; {facts['n_crops']} face crops "
        f"({facts['settings']['frames']} frames per video, every face track, {facts['size']} px, margin "
        f"{facts['margin']}: the zoo's serving framing); {facts['no_face']} videos without a face keep P(FAKE) 0.5.",
        f"- **Folds:** {facts['settings']['k']} identity-group folds; every FF++ score is out-of-fold.",
        f"- **Recipe:** `{facts['settings']['recipe']}` ({trained['train_config']['model']}, seed "
        f"{facts['settings']['seed']}); the rows:", *training_lines(facts),
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


__all__ = ["run", "pooled_set", "fine_tune_config", "zoo_member", "results_markdown",
           "DFDC_ONLY", "FFPP_ONLY", "POOLED", "FINE_TUNED", "TRAININGS", "member_training", "mean_of_members"]
