"""`reports/report.md` for the course progress report: every number read from files a run wrote, none typed.

It reads a run folder (see `workflow.py` for the layout: index.csv, crops/, figures/, models/, submission.csv,
...) and never a file that another run may have left in reports/: the figures folder is emptied and refilled
with the run's own figures (RUN/figures/, the stacker's figures), each captioned with the run and its data, and
the stacking section is the run's own models/stacker/stacking.md. A section whose files are absent is skipped,
saying so.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
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


@dataclass
class Figures:
    """Copies a run's figures into the report's figures folder and links each with a caption naming its run."""

    run_dir: Path
    reports_dir: Path
    origin: str

    @property
    def folder(self) -> Path:
        return self.reports_dir / "figures"

    def links(self, names: list[str]) -> list[str]:
        """Markdown image + caption for each named figure the run drew (RUN/figures/NAME); absent ones are left out."""
        out = []
        for name in names:
            source = self.run_dir / "figures" / name
            if source.is_file():
                self.folder.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, self.folder / name)
                out += [f"![{name}](figures/{name})", f"*{name}: run `{self.run_dir}`, data: {self.origin}.*", ""]
        return out


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


def models_section(run_dir: Path, figures: Figures) -> list[str]:
    """Per-model training curves and out-of-fold video metrics, from models/*/oof_videos.csv."""
    rows, curves = {}, []
    for oof in sorted((run_dir / "models").glob("*/oof_videos.csv")):
        videos = pd.read_csv(oof)
        rows[oof.parent.name] = evaluate(videos["label"], videos["p"])
        curves += figures.links([f"training_{oof.parent.name}.png"])
    table = pd.DataFrame(rows).T[["log_loss", "balanced_log_loss", "roc_auc", "accuracy", "n"]]
    return ["## Models (out-of-fold, video level, mean of frames)", "", _table(table), "", *curves]


def stacking_section(run_dir: Path, figures: Figures) -> list[str]:
    """The run's own stacking report (models/stacker/stacking.md), its figures copied beside report.md."""
    stacker = run_dir / "models" / "stacker"
    if not (stacker / "stacking.md").exists():
        return ["## Stacking", f"_(no stacking.md in {stacker}: run `stack --out {stacker}` to write it)_"]
    figures.folder.mkdir(parents=True, exist_ok=True)
    for figure in sorted((stacker / "figures").glob("*.png")):
        shutil.copyfile(figure, figures.folder / figure.name)
    body = (stacker / "stacking.md").read_text().replace("# Stacking", "## Stacking", 1).replace("\n## ", "\n### ")
    return [body, "", f"*Stacking figures: run `{run_dir}`, data: {figures.origin}.*"]


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
    data_dir = Path(data_dir) if data_dir is not None else run_dir / "data"  # the demo workflow's layout
    origin = data_origin(run_dir, data_dir)
    figures = Figures(run_dir, reports_dir, origin)
    if figures.folder.exists():  # a figure of an earlier run must not survive into this report
        shutil.rmtree(figures.folder)
    summary = run_dir / "eda_summary.md"
    lines = [f"# Progress report — data: {origin}", "",
             f"Generated from the files in `{run_dir}` by `python -m deepfake_detection report`.", ""]
    sections = [
        ("index.csv", lambda: data_section(run_dir)),
        ("index.csv", lambda: ["## Exploratory analysis", *figures.links([f"eda_{n}.png" for n in EDA_FIGURES]),
                               *(["", summary.read_text()] if summary.exists() else [])]),
        ("crops/videos.csv", lambda: crops_section(run_dir, figures.links(["crops_samples.png", "demo_pairs.png"]))),
        ("models", lambda: models_section(run_dir, figures)),
        ("models/stacker/stacker.json", lambda: stacking_section(run_dir, figures)),
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
