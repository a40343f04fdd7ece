"""Cross-dataset suites: the shipped zoo (trained on DFDC face crops only) on every labelled video of another set.

`cross-ffpp` scores every FaceForensics++ video, `face-clips` the DFDC face-crop clips (REAL/ and FAKE/ folders).
Nothing is fitted on these videos here: each video goes through `detect` (the same stages as `predict`: 32 frames,
MTCNN, every face track, the zoo's aggregation and stacker), and its P(FAKE) is scored per manipulation method
and per compression level with group-bootstrap intervals (a group ties each fake to the originals of its two
source videos) and a permutation p-value for AUC. A video where no face was found keeps the stacker's
fallback P(FAKE), as a submission would.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import pandas as pd

from deepfake_detection.artifacts import BenchDir, ModelsDir
from deepfake_detection.config import CrossDatasetConfig, ExtractConfig, PredictConfig
from deepfake_detection.dataset import index_videos, labelled
from deepfake_detection.detect import DetectConfig, detect_paths
from deepfake_detection.io import atomic_write_csv, atomic_write_text
from deepfake_detection.studies.common import (
    SuiteResult,
    format_metric,
    results_table,
    scores_markdown,
    with_permutation_p,
)

log = logging.getLogger(__name__)

STACK = "stack (zoo)"
DFDC_ID = re.compile(r"(?<![a-z])[a-z]{10}(?![a-z])")  # a DFDC video name: ten lowercase letters


def training_overlap(videos: pd.DataFrame, train_labels: str | Path | None) -> dict | None:
    """How many scored videos the zoo's training crops (a labels.csv with `video` and `original`) contain, by DFDC
    video name: as a training crop itself, or as the original of one (its person and scene seen in training)."""
    if train_labels is None or not Path(train_labels).is_file():
        return None
    table = pd.read_csv(train_labels, dtype=str, keep_default_na=False)
    seen = {c: {Path(v).stem for v in table[c] if v} for c in ("video", "original") if c in table}
    names = [set(DFDC_ID.findall(v)) for v in videos["video_id"]]
    return {"train_labels": str(train_labels),
            "as_training_crop": sum(bool(n & seen.get("video", set())) for n in names),
            "as_original_of_one": sum(bool(n & seen.get("original", set())) for n in names)}


def cross_dataset_videos(data_dir: Path, models_dir: ModelsDir, work: Path, seed: int,
                         extract_cfg: ExtractConfig | None = None) -> pd.DataFrame:
    """One row per labelled video: label, group, method, compression, status, and P(FAKE) of the stack and each
    model. extract_cfg: the extraction settings (detection size, stride, thresholds; default ExtractConfig's)."""
    index = labelled(index_videos(data_dir)[0]).reset_index(drop=True)
    paths = [data_dir / p for p in index["path"]]
    detections = detect_paths(paths, models_dir, work / "detect", dcfg=DetectConfig(gradcam=False, n_boot=0, seed=seed),
                              extract_cfg=extract_cfg)
    # the fallback predict would write (load_ensemble's rule)
    fallback = models_dir.stacker.load()["fallback"] if models_dir.has_stacker() else PredictConfig().fallback
    rows = []
    for det in detections:
        row = {"status": det.status, "faces": len(det.faces), STACK: det.p_fake if det.p_fake is not None else fallback}
        row.update({m["name"]: m["p_fake"] for m in det.models})
        rows.append(row)
    videos = pd.concat([index[["video_id", "label", "group", "method", "compression"]], pd.DataFrame(rows)], axis=1)
    models = [c for c in videos.columns if c not in ("video_id", "label", "group", "method", "compression", "status",
                                                       "faces", STACK)]
    videos[models] = videos[models].fillna(fallback)  # no face: the fallback, for every model alike
    videos["method"] = videos["method"].fillna("original")
    return videos


def run(data_dir: str | Path, cfg: CrossDatasetConfig, out_dir: str | Path = "reports/cross-ffpp",
        work_dir: str | Path = "work/cross-ffpp", *, quick: bool = False,
        mesonet_dir: str | Path | None = None) -> SuiteResult:
    """Score cfg.models on every labelled video of a folder (FF++, or REAL/ FAKE/ video folders); write results.md,
    results.json and videos.csv. Nothing is trained, so `quick` and `mesonet_dir` change nothing here."""
    data_dir, models_dir, out, work = Path(data_dir), ModelsDir(cfg.models), BenchDir(out_dir), Path(work_dir)
    start = time.perf_counter()
    videos = cross_dataset_videos(data_dir, models_dir, work, cfg.seed)
    columns = {name: name for name in videos.columns[videos.columns.get_loc("faces") + 1:]}
    table = with_permutation_p(results_table(videos, columns, n_boot=cfg.n_boot, seed=cfg.seed), videos,
                               cfg.permutations, cfg.seed)
    y = videos["label"].astype(int).to_numpy()
    minutes = (time.perf_counter() - start) / 60
    no_face = int((~videos["status"].isin(["ok", "partial"])).sum())
    facts = {"data_dir": str(data_dir), "models_dir": str(models_dir.path), "n_videos": len(videos),
             "n_fake": int(y.sum()), "n_real": int((y == 0).sum()), "n_groups": int(videos["group"].nunique()),
             "no_face": no_face, "minutes": round(minutes, 1), "seed": cfg.seed, "name": cfg.name,
             "overlap": training_overlap(videos, cfg.train_labels)}
    result = SuiteResult(out, facts, table, videos)
    atomic_write_csv(videos, out.videos)
    result.write_json("table")
    atomic_write_text(results_markdown(table, facts), out.results_md)
    return result


def results_markdown(table: pd.DataFrame, facts: dict) -> str:
    """results.md: what data, then one table per subset (all, each method, each compression)."""
    name, overlap = facts.get("name", "FaceForensics++"), facts.get("overlap")
    lines = [f"# Cross-dataset: the DFDC-trained zoo on {name}", "",
             f"- **Data:** {facts['n_videos']} {name} videos ({facts['n_real']} REAL / {facts['n_fake']} FAKE, "
             f"{facts['n_groups']} groups) of `{facts['data_dir']}`; {facts['no_face']} without a usable face keep "
             "the stacker's fallback.",
             f"- **Models:** `{facts['models_dir']}`, trained on DFDC face crops only; nothing was fitted on these "
             "videos.",
             *([f"- **Overlap with the training crops** (`{overlap['train_labels']}`, by DFDC video name): "
                f"training crops: {overlap['as_training_crop']} of these videos; originals of a training fake (same "
                f"person and scene): {overlap['as_original_of_one']}."] if overlap else []),
             "- **Scoring:** each video through `detect` (32 frames, MTCNN, every face track, the zoo's aggregation "
             "and stacker); group-bootstrap 95 % intervals († below the reliable number of groups); AUC p-value from "
             "label permutations. A method row is that method's fakes against every REAL video.",
             f"- **CPU time:** {facts['minutes']} min on 2 cores.", ""]
    for subset in table["subset"].unique():
        part = table[table["subset"] == subset]
        lines += [f"## {subset}", "", scores_markdown(table, subset),
                  "AUC p (perm.): " + ", ".join(f"{r['model']} {r['roc_auc_p']:.3f}" for _, r in part.iterrows()), ""]
    stack = table[(table["model"] == STACK) & (table["subset"] == "all")].iloc[0]
    lines += ["## Reading", "",
              f"The zoo's stack scores ROC AUC {format_metric(stack, 'roc_auc')} on all {name} videos "
              f"(balanced log loss {format_metric(stack, 'balanced_log_loss')}), against 0.5 / 0.693 for chance. "
              "With this few groups the intervals are wide; a method row whose interval includes 0.5 shows no "
              "evidence of detection for that method."]
    rare = min(facts["n_real"], facts["n_fake"])
    if rare < 5:
        lines += [f"Only {rare} {'REAL' if facts['n_real'] == rare else 'FAKE'} video(s): AUC ranks every video of the "
                  f"other class against {'it' if rare == 1 else 'them'} alone, so read the permutation p-value "
                  f"({stack['roc_auc_p']:.3f} for the stack) before the point value."]
    lines.append("")
    return "\n".join(lines)


__all__ = ["run", "cross_dataset_videos", "results_markdown"]
