"""`reports/report.md` for the course progress report: every number read from files a run wrote, none typed.

It reads a run folder (see `workflow.py` for the layout: index.csv, crops/, models/, submission.csv, ...) and
never a markdown file that another run may have left in reports/ (the stacking section comes from the run's own
models/stacker/stacking.md); it skips a section whose files are absent, saying so.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pandas as pd

from deepfake_detection.ensemble import markdown_table as _table
from deepfake_detection.metrics import evaluate

log = logging.getLogger(__name__)

EDA_FIGURES = ("file_types", "labels", "labels_full_index", "lengths", "lengths_full_index", "train_vs_test",
               "fake_vs_original", "ssim_over_time", "ssim_fake_vs_original", "face_annotations", "imbalance")


def data_origin(run_dir: Path, data_dir: Path) -> str:
    """'demo (synthetic)', 'FaceForensics++' or 'DFDC', from what the data folder and the index hold."""
    index_path = run_dir / "index.csv"
    if (data_dir / "demo_manifest.json").exists():
        return "demo (synthetic; says nothing about DFDC quality)"
    if index_path.exists():
        sources = set(pd.read_csv(index_path, usecols=["source"])["source"])
        if all(s.startswith("ffpp") for s in sources):
            return "FaceForensics++"
    return "DFDC"


def _figure_links(figures_dir: Path, reports_dir: Path, names: list[str]) -> list[str]:
    return [f"![{name}]({(figures_dir / name).relative_to(reports_dir).as_posix()})"
            for name in names if (figures_dir / name).exists()]


def data_section(run_dir: Path) -> list[str]:
    """Counts, label ratio and lengths per part, from index.csv."""
    index = pd.read_csv(run_dir / "index.csv")
    labelled = index[index["label"].notna()]
    counts = index.assign(label=index["label"].map({1: "FAKE", 0: "REAL"}).fillna("unlabelled")) \
        .pivot_table(index="part", columns="label", values="video_id", aggfunc="count", fill_value=0)
    readable = index[index["readable"] == 1]
    lengths = readable[["frames", "fps", "duration_s", "width", "height"]].describe().loc[["mean", "min", "max"]]
    fake_share = (labelled["label"] == 1).mean() if len(labelled) else float("nan")
    return ["## Data", f"{len(index)} videos, {len(labelled)} labelled: {int((labelled['label'] == 1).sum())} FAKE / "
            f"{int((labelled['label'] == 0).sum())} REAL (FAKE share {fake_share:.1%}); "
            f"{int((index['readable'] == 0).sum())} unreadable or missing.", "", _table(counts, ".0f"), "",
            "Lengths of the readable videos:", "", _table(lengths, ".1f")]


def crops_section(run_dir: Path, figures: list[str]) -> list[str]:
    """Face-detection outcome per video status, from crops/videos.csv."""
    videos = pd.read_csv(run_dir / "crops" / "videos.csv")
    status = videos.groupby("status").agg(videos=("video_id", "size"), faces=("faces", "sum"),
                                          seconds_mean=("seconds", "mean"))
    return ["## Face detection", f"{len(videos)} videos, {int(videos['faces'].sum())} face crops, "
            f"{videos['seconds'].sum():.1f} s in total.", "", _table(status, ".2f"), "", *figures]


def models_section(run_dir: Path, figures_dir: Path, reports_dir: Path) -> list[str]:
    """Per-model training curves and out-of-fold video metrics, from models/*/oof_videos.csv."""
    rows, curves = {}, []
    for oof in sorted((run_dir / "models").glob("*/oof_videos.csv")):
        videos = pd.read_csv(oof)
        rows[oof.parent.name] = evaluate(videos["label"], videos["p"])
        curves += _figure_links(figures_dir, reports_dir, [f"training_{oof.parent.name}.png"])
    table = pd.DataFrame(rows).T[["log_loss", "balanced_log_loss", "roc_auc", "accuracy", "n"]]
    return ["## Models (out-of-fold, video level, mean of frames)", "", _table(table), "", *curves]


def stacking_section(run_dir: Path, reports_dir: Path) -> list[str]:
    """The run's own stacking report (models/stacker/stacking.md), its figures copied beside report.md."""
    stacker = run_dir / "models" / "stacker"
    if not (stacker / "stacking.md").exists():
        return ["## Stacking", f"_(no stacking.md in {stacker}: run `stack --out {stacker}` to write it)_"]
    (reports_dir / "figures").mkdir(parents=True, exist_ok=True)
    for figure in sorted((stacker / "figures").glob("*.png")):
        shutil.copyfile(figure, reports_dir / "figures" / figure.name)
    body = (stacker / "stacking.md").read_text().replace("# Stacking", "## Stacking", 1).replace("\n## ", "\n### ")
    return [body]


def inference_section(run_dir: Path) -> list[str]:
    """Seconds per test video and the status of each, from predictions_log.csv."""
    log_frame = pd.read_csv(run_dir / "predictions_log.csv")
    by_status = log_frame.groupby("status").agg(videos=("video", "size"), seconds_mean=("seconds", "mean"),
                                                seconds_max=("seconds", "max"))
    per_video = log_frame["seconds"].mean()
    return ["## Inference time", f"{len(log_frame)} test videos, {log_frame['seconds'].sum():.1f} s in total, "
            f"{per_video:.2f} s per video on this machine: {per_video * 4000 / 3600:.2f} h projected for "
            "Kaggle's 4,000 test videos.", "", _table(by_status, ".2f")]


def submission_section(run_dir: Path) -> list[str]:
    """Rows, prediction spread, validation and (when labels exist) the score of submission.csv."""
    from deepfake_detection.submission import validate_submission

    submission = pd.read_csv(run_dir / "submission.csv")
    problems = validate_submission(run_dir / "submission.csv")
    lines = ["## Submission", f"`{run_dir / 'submission.csv'}`: {len(submission)} rows, P(FAKE) mean "
             f"{submission['label'].mean():.3f}, min {submission['label'].min():.3f}, max "
             f"{submission['label'].max():.3f}; validator: {'valid' if not problems else '; '.join(problems)}."]
    if (run_dir / "evaluation.json").exists():
        scores = json.loads((run_dir / "evaluation.json").read_text())
        lines += ["", "Scored against the test labels:", "", _table(pd.Series(scores).to_frame("value"))]
    return lines


def write_report(run_dir: str | Path, reports_dir: str | Path = "reports", data_dir: str | Path | None = None) -> Path:
    """Write reports_dir/report.md from the artifacts of run_dir; sections without files are noted, not faked."""
    run_dir, reports_dir = Path(run_dir), Path(reports_dir)
    figures_dir = reports_dir / "figures"
    data_dir = Path(data_dir) if data_dir is not None else run_dir / "data"  # the demo workflow's layout
    lines = [f"# Progress report — data: {data_origin(run_dir, data_dir)}", "",
             f"Generated from the files in `{run_dir}` by `python -m deepfake_detection report`.", ""]
    sections = [
        ("index.csv", lambda: data_section(run_dir)),
        ("index.csv", lambda: ["## Exploratory analysis", *_figure_links(
            figures_dir, reports_dir, [f"eda_{n}.png" for n in EDA_FIGURES]),
            *(["", (reports_dir / "eda_summary.md").read_text()] if (reports_dir / "eda_summary.md").exists() else [])]),
        ("crops/videos.csv", lambda: crops_section(run_dir, _figure_links(
            figures_dir, reports_dir, ["crops_samples.png", "demo_pairs.png"]))),
        ("models", lambda: models_section(run_dir, figures_dir, reports_dir)),
        ("models/stacker/stacker.json", lambda: stacking_section(run_dir, reports_dir)),
        ("predictions_log.csv", lambda: inference_section(run_dir)),
        ("submission.csv", lambda: submission_section(run_dir)),
    ]
    for needed, section in sections:
        if (run_dir / needed).exists():
            lines += [*section(), ""]
        else:
            lines += [f"_(no `{needed}` in {run_dir}: section skipped)_", ""]
    path = reports_dir / "report.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
    log.info("report written to %s", path)
    return path
