"""DFDC face-crop suite: k-fold group CV at crop level on real DFDC crops, with the same honest scoring as FF++.

Every recipe (CROP_RECIPES) trains per fold on a folder of face crops (no extraction step), its out-of-fold
predictions go through the stacker's nested aggregation/calibration/meta chain, and every row carries a
group-bootstrap interval, a permutation p-value for AUC, the null check, and the pretrained-MesoNet and
constant-prior rows beside it. The deployed models (fold ensembles) and the stacker it fits are what the
zoo ships.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from deepfake_detection import config as C
from deepfake_detection.artifacts import BenchDir, CropsDir, ModelDir, StackerDir, StudyDir
from deepfake_detection.config import CropsBenchmarkConfig, PredictConfig, TrainConfig, set_seeds
from deepfake_detection.dataset import index_videos, is_crop_dataset, labelled, make_folds
from deepfake_detection.ensemble import write_stacking_report
from deepfake_detection.faces import measure_margin
from deepfake_detection.io import atomic_write_csv, atomic_write_json, atomic_write_text
from deepfake_detection.models import build_model
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
    add_trained,
    calibrated,
    format_metric,
    null_markdown,
    null_table,
    predict_crops,
    recipe_description,
    results_table,
    save_roc,
    scratch_minutes,
    table_md,
    train_each,
    trained_facts,
    with_permutation_p,
    write_if_changed,
)
from deepfake_detection.train import OOF_FRAME_COLUMNS, video_predictions

log = logging.getLogger(__name__)


def recipe_config(name: str, bench: CropsBenchmarkConfig, mesonet_dir: Path | None, quick: bool) -> TrainConfig:
    """TrainConfig of one recipe: its CROP_RECIPES changes over the benchmark's budget (last epoch kept)."""
    if name not in C.CROP_RECIPES:
        raise ValueError(f"unknown recipe {name!r}; choose from {sorted(C.CROP_RECIPES)}")
    changes = dict(C.CROP_RECIPES[name])
    weights = changes.get("weights")
    if isinstance(weights, str) and weights.startswith("mesonet:"):
        if mesonet_dir is None:
            raise FileNotFoundError(f"recipe {name} starts from {weights}: pass the MesoNet weights folder")
        changes["weights"] = str(Path(mesonet_dir) / f"{weights.split(':', 1)[1]}.h5")
    size = changes.pop("size")
    recipe_epochs = changes.pop("epochs", bench.epochs)  # a recipe may train longer
    epochs = bench.epochs if quick else recipe_epochs
    # cache: a fold's crops are decoded and resized once and held in memory as uint8 (about 0.8 GB at 128 px for
    # 15k crops, 3 GB at 256 px; loading briefly holds the training crops twice): the same pixels as decoding every
    # step, so the same weights, and a faster epoch. Tree recipes compute their features once anyway.
    budget = {"epochs": epochs, "batch_size": bench.batch_size, "seed": bench.seed,
              "steps_per_epoch": max(1, bench.samples_per_epoch // bench.batch_size),
              "select_best": False, "head_epochs": 0, "verbose": 2, "cache": True}
    return TrainConfig(size=min(size, 64) if quick and changes.get("weights") is None else size,
                       **{**budget, **changes})  # a recipe may override the budget (trees choose their count)


def crop_margin(data_dir: Path, folds: pd.DataFrame, seed: int, n: int = C.MARGIN_SAMPLE) -> float | None:
    """The crop_face margin that frames faces as this crop set does (faces.measure_margin on a seeded sample), or
    None when no sampled crop shows a face; serving crops of the models trained here are cut at it."""
    sample = [str(data_dir / p) for p in folds.sample(min(n, len(folds)), random_state=seed)["path"]]
    crops = [cv2.cvtColor(image, cv2.COLOR_BGR2RGB) for image in map(cv2.imread, sample) if image is not None]
    margin = measure_margin(crops)
    log.info("crop margin of %d sampled crops: %s", len(crops), "no face found" if margin is None else f"{margin:.3f}")
    return None if margin is None else round(margin, 3)


def crop_index(data_dir: Path, max_groups: int | None, seed: int) -> pd.DataFrame:
    """The labelled crops of a face-crop folder, optionally a seeded subsample of `max_groups` whole groups."""
    if not is_crop_dataset(data_dir):
        raise ValueError(f"{data_dir} is not a face-crop dataset (labels.csv with `file`, or REAL/ and FAKE/ folders)")
    index = labelled(index_videos(data_dir)[0])
    if max_groups is not None:
        groups = np.random.default_rng(seed).permutation(index["group"].unique())[:max_groups]
        index = index[index["group"].isin(set(groups))].reset_index(drop=True)
    return index


def crop_folds(data_dir: Path, bench: CropsBenchmarkConfig) -> pd.DataFrame:
    """Group folds of a face-crop folder (optionally a seeded subsample of whole groups)."""
    return make_folds(crop_index(data_dir, bench.max_groups, bench.seed), k=bench.k, seed=bench.seed)


def trained_recipes(bench: CropsBenchmarkConfig) -> tuple[str, ...]:
    """Every recipe a run trains: the stacked ones first, then those only its ablations need (each once)."""
    for choice in bench.ablations:
        if choice not in C.CROP_ABLATIONS:
            raise ValueError(f"unknown ablation {choice!r}; choose from {sorted(C.CROP_ABLATIONS)}")
    pairs = [name for choice in bench.ablations for name in C.CROP_ABLATIONS[choice]]
    return tuple(dict.fromkeys([*bench.recipes, *pairs]))


def crop_ablation_rows(videos: pd.DataFrame, bench: CropsBenchmarkConfig) -> pd.DataFrame:
    """One row per ablation: the variant recipe's calibrated OOF scores and its paired difference from the base
    recipe on the same crops and the same group resamples (so the interval is of the change, not of each score)."""
    rows = [ablation_row(videos, base + CAL, variant + CAL, choice, f"`{variant}` vs `{base}`", bench.n_boot,
                         bench.seed)
            for choice in bench.ablations for base, variant in [C.CROP_ABLATIONS[choice]]]
    return pd.DataFrame(rows)


def pretrained_model_dir(stem: str, mesonet_dir: Path, frames: pd.DataFrame, work: Path) -> ModelDir | None:
    """An original MesoNet file (no training) as a model folder like a trained one: model.keras, config.json and
    OOF files (its predictions on every crop, each tagged with the crop's fold); a rerun reuses the predictions.

    It learned nothing from these labels, so its predictions are out-of-fold everywhere. Reused when present.
    """
    path = mesonet_dir / f"{stem}.h5"
    if not path.is_file():
        log.warning("MesoNet weights %s not found; row skipped", path)
        return None
    target = StudyDir(work).models.model(stem + "_pretrained")
    if target.oof_frames.is_file() and len(pd.read_csv(target.oof_frames)) == len(frames):
        return target
    target.path.mkdir(parents=True, exist_ok=True)
    architecture = MESONET_ARCHITECTURES[stem.split("_")[0]]
    model = build_model(architecture, size=256, weights=path)
    oof = frames.assign(p=predict_crops(model, frames["path"].tolist(), 256))[OOF_FRAME_COLUMNS]
    atomic_write_csv(oof, target.oof_frames)
    atomic_write_csv(video_predictions(oof, oof["p"].to_numpy()), target.oof_videos)
    model.save(target.model)
    info = {**asdict(TrainConfig(model=architecture, size=256, weights=str(path), epochs=0)),
            "pretrained": stem, "folds_csv": str(StudyDir(work).folds)}
    atomic_write_json(info, target.config)
    return target


def run(data_dir: str | Path, cfg: CropsBenchmarkConfig, out_dir: str | Path = "reports/dfdc-crops",
        work_dir: str | Path = "work/dfdc-crops", *, quick: bool = False,
        mesonet_dir: str | Path | None = C.MESONET_DIR) -> SuiteResult:
    """The crop suite end to end: group folds, per-recipe fold training, nested stacking, intervals, null check.

    Writes results.md, results.json, figures and the fitted stacker (out_dir/stacker) into out_dir; models go to
    work_dir/models/RECIPE (reused by a rerun with the same settings). quick: CI-sized trainings at 64 px.
    """
    total, timings, bench = time.perf_counter(), {}, cfg
    data_dir, out, work = Path(data_dir), BenchDir(out_dir), Path(work_dir)
    mesonet_dir = Path(mesonet_dir) if mesonet_dir is not None and Path(mesonet_dir).is_dir() else None
    out.figures.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    set_seeds(bench.seed)
    predict_cfg = PredictConfig()

    with step("index_and_folds", timings, log):
        folds = crop_folds(data_dir, bench)
        folds_csv = StudyDir(work).folds
        write_if_changed(folds, folds_csv)
    configs = {name: recipe_config(name, bench, mesonet_dir, quick) for name in trained_recipes(bench)}
    trained = train_each(configs, data_dir, folds_csv, StudyDir(work).models, timings)

    pretrained: dict[str, ModelDir] = {}
    with step("pretrained_mesonet", timings, log):
        if mesonet_dir is not None:
            frames = frames_with_folds(CropsDir(data_dir).load(), folds)
            for stem in bench.mesonet_weights:
                model_dir = pretrained_model_dir(stem, mesonet_dir, frames, work)
                if model_dir is not None:
                    pretrained[stem + PRETRAINED] = model_dir

    # the trained recipes are scored and stacked (nested); the third-party MesoNet files are reference rows only,
    # calibrated by cross-fitting, never stack inputs, so the stacker the zoo ships holds the project's own weights
    videos = folds[["video_id", "label", "group", "fold"]].copy()
    videos["label"] = videos["label"].astype(int)
    with step("aggregation_calibration_stacking", timings, log):
        stack = add_trained(videos, [trained[n].model_dir for n in bench.recipes], predict_cfg, bench.seed)
        extra = [n for n in trained if n not in bench.recipes]  # trained for the ablations only: scored, not stacked
        if extra:
            add_trained(videos, [trained[n].model_dir for n in extra], predict_cfg, bench.seed, stack=False)
        stacker = StackerDir.of(out.path)
    with step("crop_margin", timings, log):  # how the crops frame a face, so serving can frame faces alike
        margin = crop_margin(data_dir, folds, bench.seed)
        for entry in stack.spec["models"]:
            entry["margin"] = margin
    with step("stacker_report", timings, log):
        stacker.save(stack.spec)
        write_stacking_report(stack, stacker.path)
        for name, model_dir in pretrained.items():
            oof = pd.read_csv(model_dir.oof_videos, dtype={"video_id": str})
            videos[name] = videos["video_id"].map(dict(zip(oof["video_id"], oof["p"], strict=True))).astype(float)
            videos[name + CAL] = calibrated(videos, videos[name].to_numpy(), predict_cfg)

    with step("scores", timings, log):
        rows = [c for n in trained for c in (n, n + CAL)] + ["stack", "stack" + CAL]
        rows += [c for n in pretrained for c in (n, n + CAL)]
        table = results_table(videos, {r: r for r in rows}, n_boot=bench.n_boot, seed=bench.seed)
        table = with_permutation_p(table[table["subset"] == "all"].reset_index(drop=True), videos,
                                   bench.permutations, bench.seed)
    null = pd.DataFrame()
    if bench.null:
        with step("null_check", timings, log):
            null = null_table(videos, stack, list(pretrained), predict_cfg, bench.null, bench.seed).reset_index()
    ablation = pd.DataFrame()
    if bench.ablations:
        with step("ablations", timings, log):
            ablation = crop_ablation_rows(videos, bench)
    timings["total"] = round(time.perf_counter() - total, 1)

    y = videos["label"].to_numpy(int)
    facts = {"data_dir": str(data_dir), "quick": quick, "settings": asdict(bench), "n_crops": len(videos),
             "n_real": int((y == 0).sum()), "n_fake": int(y.sum()), "n_groups": int(videos["group"].nunique()),
             "trained": trained_facts(trained, configs), "pretrained": {n: str(d.path) for n, d in pretrained.items()},
             "timings_s": timings, "cpu_count": os.cpu_count(),
             "stack_models": [m["name"] for m in stack.spec["models"]], "crop_margin": margin,
             "reused_trainings": [n for n, t in trained.items() if t.reused]}
    result = SuiteResult(out, facts, table, videos, null=null, ablation=ablation, stacker=stacker)
    write_crops_results(result)
    return result


def write_crops_results(result: SuiteResult) -> None:
    """results.md, results.json and the ROC figure of one crop benchmark run."""
    facts, table, videos = result.facts, result.table, result.videos
    s = facts["settings"]
    save_roc(videos, [m for m in table["model"] if m.endswith(CAL)], result.bench.figures / "roc.png")
    recipes = "; ".join(f"`{n}`: {recipe_description(t, s['samples_per_epoch'])}" for n, t in facts["trained"].items())
    minutes = facts["timings_s"]["total"] / 60
    cells = ["model", "n", "groups", "roc_auc [95% CI]", "AUC p (perm.)", "balanced_log_loss [95% CI]",
             "log_loss [95% CI]", "accuracy"]
    shown = pd.DataFrame({"model": table["model"], "n": table["n"], "groups": table["n_groups"],
                          "roc_auc [95% CI]": [format_metric(r, "roc_auc") for _, r in table.iterrows()],
                          "AUC p (perm.)": [f"{p:.4f}" for p in table["roc_auc_p"]],
                          "balanced_log_loss [95% CI]": [format_metric(r, "balanced_log_loss")
                                                         for _, r in table.iterrows()],
                          "log_loss [95% CI]": [format_metric(r, "log_loss") for _, r in table.iterrows()],
                          "accuracy": [f"{a:.3f}" for a in table["accuracy"]]})
    prior = table.iloc[0]
    shown.loc[len(shown)] = ["constant prior", prior["n"], prior["n_groups"], "0.500", "—",
                             f"{prior['prior_balanced_log_loss']:.3f}", f"{prior['prior_log_loss']:.3f}",
                             f"{prior['prior_accuracy']:.3f}"]
    lines = [
        "# DFDC face-crop benchmark"
        + (" (QUICK MODE: a machinery check, the numbers mean nothing)" if facts["quick"] else ""),
        "",
        f"- **Data:** {facts['n_crops']} real DFDC face crops ({facts['n_real']} REAL / {facts['n_fake']} FAKE) of "
        f"`{facts['data_dir']}`, one crop per video, in {facts['n_groups']} groups (a fake with its original).",
        f"- **Folds:** {s['k']} stratified group folds; every score is out-of-fold at crop level.",
        f"- **Recipes:** {recipes}. Networks: balanced batches, the last epoch kept; the deployed model averages "
        "the fold models. "
        f"The stack combines {', '.join(f'`{m}`' for m in facts['stack_models'])}.",
        "- **Framing:** "
        + ("no sampled crop showed a face to our detector, so serving uses the extraction's default margin."
           if facts.get("crop_margin") is None else
           f"our detector frames these crops at margin {facts['crop_margin']:+.3f} (`faces.measure_margin`, "
           f"{C.MARGIN_SAMPLE} crops: the crop side over the face box's longer side is "
           f"{1 + 2 * facts['crop_margin']:.2f}); the stacker records it, and `predict`/`detect` cut faces at it."),
        f"- **Scoring:** `NAME` raw OOF P(FAKE); `NAME{CAL}` and `stack` rows from the stacker's nested chain "
        "(aggregation, meta model and calibration fitted on the other folds only). 95 % group-bootstrap intervals "
        f"({s['n_boot']} resamples, widened by the t(G-1)/z factor; {UNRELIABLE.strip()} below "
        f"{C.MIN_RELIABLE_GROUPS} groups); AUC p-value from {s['permutations']} label permutations.",
        f"- **CPU time:** {minutes:.1f} min on {facts['cpu_count']} cores"
        + (f" (reused trainings, not counted: {', '.join(facts['reused_trainings'])})" if facts["reused_trainings"]
           else "")
        + f"; from scratch about {scratch_minutes(facts):.0f} min (every training's own time added).",
        "",
        "## Scores (out-of-fold)",
        "",
        table_md(shown, cells),
        *null_markdown(result.null),
        *ablation_section(result.ablation),
        "## Time per stage (s)", "", table_md(pd.DataFrame([facts["timings_s"]]), list(facts["timings_s"])),
        "![roc](figures/roc.png)", "",
    ]
    atomic_write_text("\n".join(lines), result.bench.results_md)
    result.write_json("table", "null", "ablation", "videos")


def ablation_section(ablation: pd.DataFrame) -> list[str]:
    """The ablation table of results.md (nothing when the run had no ablations)."""
    if ablation.empty:
        return []
    return ["## Ablations (one change each, calibrated OOF)", "",
            "Each row trains the variant recipe and its base with the same folds, seed and budget; Δ is variant minus "
            "base on the same crops, its 95 % interval from the same group resamples (an interval that excludes 0 is "
            "a measured effect). Lower balanced log loss and higher AUC are better.", "",
            ablation_markdown(ablation, against="base")]
