"""`reports/report.md` for the course progress report: every number read from files a run wrote, none typed.

It reads a run folder (see `workflow.py` for the layout: index.csv, crops/, figures/, models/, submission.csv,
...) and never a file that another run may have left in reports/: the figures folder is emptied and refilled
with the run's own figures (RUN/figures/, the stacker's figures), each captioned with the run and its data, and
the stacking section is the run's own models/stacker/stacking.md. A section whose files are absent is skipped,
saying so.
"""

from __future__ import annotations

import io
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from deepfake_detection.artifacts import BenchDir, RunDir
from deepfake_detection.io import atomic_write_text
from deepfake_detection.metrics import evaluate
from deepfake_detection.reporting import to_markdown

log = logging.getLogger(__name__)

EDA_FIGURES = ("file_types", "labels", "labels_full_index", "lengths", "lengths_full_index", "train_vs_test",
               "fake_vs_original", "ssim_over_time", "ssim_fake_vs_original", "face_annotations", "imbalance")


def data_origin(run_dir: Path, data_dir: Path) -> str:
    """'demo (synthetic)', 'FaceForensics++' or 'DFDC', from what the data folder and the index hold."""
    index_path = RunDir(run_dir).index
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
        return [line for name in names for line in copy_figure(
            RunDir(self.run_dir).figures / name, self.reports_dir, name,
            f"{name}: run `{self.run_dir}`, data: {self.origin}.")]


def data_section(run_dir: Path) -> list[str]:
    """Counts, label ratio and lengths per part, from index.csv."""
    index = pd.read_csv(RunDir(run_dir).index)
    labelled = index[index["label"].notna()]
    counts = index.assign(label=index["label"].map({1: "FAKE", 0: "REAL"}).fillna("unlabelled")) \
        .pivot_table(index="part", columns="label", values="video_id", aggfunc="count", fill_value=0)
    readable = index[index["readable"] == 1]
    lengths = readable[["frames", "fps", "duration_s", "width", "height"]].describe().loc[["mean", "min", "max"]]
    fake_share = (labelled["label"] == 1).mean() if len(labelled) else float("nan")
    return ["## Data", f"{len(index)} videos, {len(labelled)} labelled: {int((labelled['label'] == 1).sum())} FAKE / "
            f"{int((labelled['label'] == 0).sum())} REAL (FAKE share {fake_share:.1%}); "
            f"{int((index['readable'] == 0).sum())} unreadable or missing.", "", to_markdown(counts, ".0f"), "",
            "Lengths of the readable videos:", "", to_markdown(lengths, ".1f")]


def crops_section(run_dir: Path, figures: list[str]) -> list[str]:
    """Face-detection outcome per video status, from crops/videos.csv."""
    videos = pd.read_csv(RunDir(run_dir).crops.videos)
    status = videos.groupby("status").agg(videos=("video_id", "size"), faces=("faces", "sum"),
                                          seconds_mean=("seconds", "mean"))
    return ["## Face detection", f"{len(videos)} videos, {int(videos['faces'].sum())} face crops, "
            f"{videos['seconds'].sum():.1f} s in total.", "", to_markdown(status, ".2f"), "", *figures]


def models_section(run_dir: Path, figures: Figures) -> list[str]:
    """Per-model training curves and out-of-fold video metrics, from models/*/oof_videos.csv."""
    rows, curves = {}, []
    for model in (m for m in RunDir(run_dir).models.members() if m.oof_videos.exists()):
        videos = pd.read_csv(model.oof_videos)
        rows[model.name] = evaluate(videos["label"], videos["p"])
        curves += figures.links([f"training_{model.name}.png"])
    table = pd.DataFrame(rows).T[["log_loss", "balanced_log_loss", "roc_auc", "accuracy", "n"]]
    return ["## Models (out-of-fold, video level, mean of frames)", "", to_markdown(table), "", *curves]


def stacking_section(run_dir: Path, figures: Figures) -> list[str]:
    """The run's own stacking report (models/stacker/stacking.md), its figures copied beside report.md."""
    stacker = RunDir(run_dir).stacker
    if not stacker.report.exists():
        return ["## Stacking",
                f"_(no {stacker.REPORT} in {stacker.path}: run `stack --out {stacker.path}` to write it)_"]
    figures.folder.mkdir(parents=True, exist_ok=True)
    for figure in sorted(stacker.figures.glob("*.png")):
        shutil.copyfile(figure, figures.folder / figure.name)
    body = stacker.report.read_text().replace("# Stacking", "## Stacking", 1).replace("\n## ", "\n### ")
    return [body, "", f"*Stacking figures: run `{run_dir}`, data: {figures.origin}.*"]


def inference_section(run_dir: Path) -> list[str]:
    """Seconds per test video and the status of each, from predictions_log.csv."""
    log_frame = pd.read_csv(RunDir(run_dir).predictions_log)
    by_status = log_frame.groupby("status").agg(videos=("video", "size"), seconds_mean=("seconds", "mean"),
                                                seconds_max=("seconds", "max"))
    per_video = log_frame["seconds"].mean()
    return ["## Inference time", f"{len(log_frame)} test videos, {log_frame['seconds'].sum():.1f} s in total, "
            f"{per_video:.2f} s per video on this machine: {per_video * 4000 / 3600:.2f} h projected for "
            "Kaggle's 4,000 test videos.", "", to_markdown(by_status, ".2f")]


def submission_section(run_dir: Path) -> list[str]:
    """Rows, prediction spread, validation and (when labels exist) the score of submission.csv."""
    from deepfake_detection.submission import validate_submission

    run = RunDir(run_dir)
    submission = pd.read_csv(run.submission)
    problems = validate_submission(run.submission)
    lines = ["## Submission", f"`{run.submission}`: {len(submission)} rows, P(FAKE) mean "
             f"{submission['label'].mean():.3f}, min {submission['label'].min():.3f}, max "
             f"{submission['label'].max():.3f}; validator: {'valid' if not problems else '; '.join(problems)}."]
    if run.evaluation.exists():
        scores = json.loads(run.evaluation.read_text())
        lines += ["", "Scored against the test labels:", "", to_markdown(pd.Series(scores).to_frame("value"))]
    return lines


def write_report(run_dir: str | Path, reports_dir: str | Path = "reports", data_dir: str | Path | None = None) -> Path:
    """Write reports_dir/report.md from the artifacts of run_dir; sections without files are noted, not faked."""
    run_dir, reports_dir = Path(run_dir), Path(reports_dir)
    run = RunDir(run_dir)
    data_dir = Path(data_dir) if data_dir is not None else run.data  # the demo workflow's layout
    origin = data_origin(run_dir, data_dir)
    figures = Figures(run_dir, reports_dir, origin)
    if figures.folder.exists():  # a figure of an earlier run must not survive into this report
        shutil.rmtree(figures.folder)
    summary = run.eda_summary
    lines = [f"# Progress report — data: {origin}", "",
             f"Generated from the files in `{run_dir}` by `python -m deepfake_detection report`.", ""]
    sections = [
        (run.index, lambda: data_section(run_dir)),
        (run.index, lambda: ["## Exploratory analysis", *figures.links([f"eda_{n}.png" for n in EDA_FIGURES]),
                               *(["", summary.read_text()] if summary.exists() else [])]),
        (run.crops.videos, lambda: crops_section(run_dir, figures.links(["crops_samples.png", "demo_pairs.png"]))),
        (run.models.path, lambda: models_section(run_dir, figures)),
        (run.stacker.spec, lambda: stacking_section(run_dir, figures)),
        (run.predictions_log, lambda: inference_section(run_dir)),
        (run.submission, lambda: submission_section(run_dir)),
    ]
    for needed, section in sections:
        if needed.exists():
            lines += [*section(), ""]
        else:
            lines += [f"_(no `{needed.relative_to(run_dir)}` in {run_dir}: section skipped)_", ""]
    path = reports_dir / "report.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
    log.info("report written to %s", path)
    return path


# --- the real-data report (reports/real) -------------------------------------------------------------------
REAL_EDA = {  # data folder under ../shared/data -> the EDA figures the real report shows
    "dfdc": ("labels_full_index", "lengths_full_index", "labels", "lengths", "ssim_over_time", "face_annotations"),
    "ffpp": ("fake_vs_original", "ssim_fake_vs_original", "ssim_over_time"),
}
GRADCAM_PER_CLASS = 4
MAX_FIGURE_BYTES = 250_000  # reports/real stays under 5 MB with report.html embedding every figure


@dataclass
class RealSources:
    """Where the real-data report reads from: ../shared, the committed benchmark runs, the zoo, a detect example."""

    shared: Path = Path("../shared")
    benchmarks: tuple[Path, ...] = (Path("reports/dfdc-crops"), Path("reports/dfdc-ablation"),
                                    Path("reports/cross-ffpp"), Path("reports/face-clips"), Path("reports/ffpp-pooled"),
                                    Path("reports/ffpp-finetune"))
    zoo: Path = Path("models/zoo")
    detect: Path = Path("reports/real/detect")  # `make detect-example`
    work: Path = Path("work/real")  # intermediate EDA figures


def copy_figure(source: Path, out_dir: Path, name: str, caption: str, max_bytes: int | None = None,
                palette: bool = False) -> list[str]:
    """Copy one figure into out_dir/figures/name and return its markdown link and caption ([] when absent).

    With max_bytes, a bigger figure (photo grids) is stored downscaled, so a committed report stays small.
    palette: store a plot of lines and flat colours with a 256-colour palette when that is smaller (about half the
    bytes of a matplotlib ROC figure, no visible change); never for photos.
    """
    import cv2

    if not source.is_file():
        return []
    (out_dir / "figures").mkdir(parents=True, exist_ok=True)
    png = source.read_bytes()
    if palette:
        from PIL import Image

        buffer = io.BytesIO()
        Image.open(source).convert("RGB").quantize(256).save(buffer, format="PNG", optimize=True)
        png = min(png, buffer.getvalue(), key=len)
    image = cv2.imread(str(source), cv2.IMREAD_UNCHANGED) if max_bytes and len(png) > max_bytes else None
    while image is not None and len(png) > max_bytes:
        image = cv2.resize(image, None, fx=0.8, fy=0.8, interpolation=cv2.INTER_AREA)
        png = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 9])[1].tobytes()
    (out_dir / "figures" / name).write_bytes(png)
    return [f"![{name}](figures/{name})", f"*{caption}*", ""]


def _demote(markdown: str) -> str:
    """A markdown document as a section: its title dropped, every other heading one level down."""
    lines = markdown.splitlines()
    body = lines[1:] if lines and lines[0].startswith("# ") else lines
    return "\n".join("#" + line if line.startswith("#") else line for line in body)


def real_eda_section(src: RealSources, out_dir: Path) -> list[str]:
    """EDA of the DFDC videos in ../shared with the full DFDC index, and of FF++ (fakes beside their originals)."""
    from deepfake_detection.eda import run_eda

    lines = ["## Exploratory analysis of real data", ""]
    for name, figures in REAL_EDA.items():
        data, work = src.shared / "data" / name, src.work / "eda" / name
        if not data.is_dir():
            lines += [f"_(no {data}: its EDA is skipped)_", ""]
            continue
        full_index = src.shared / "data" / "dfdc-full-index" / "dfdc-data.csv"
        run_eda(data, full_index=full_index if name == "dfdc" and full_index.is_file() else None,
                out_dir=work, summary_path=work / "eda_summary.md")
        lines += [f"### {name}", ""]
        for figure in figures:
            lines += copy_figure(work / f"eda_{figure}.png", out_dir, f"eda_{name}_{figure}.png",
                                 f"eda_{name}_{figure}.png: `eda` on `{data}`"
                                 + (" with the full DFDC index" if "full" in figure else ""), MAX_FIGURE_BYTES)
        summary = _demote(_demote((work / "eda_summary.md").read_text().split("## Figures")[0]))
        lines += [summary.replace(str(src.work), "work/real"), ""]
    return lines


def benchmark_section(bench_dir: Path, out_dir: Path) -> list[str]:
    """One committed benchmark run: its results.md (written from its results.json) and its figures."""
    results = BenchDir(bench_dir).results_md
    if not results.is_file():
        return [f"_(no {results}: run the benchmark to add this section)_"]
    lines = _demote(results.read_text()).splitlines()
    out = [f"## Benchmark `{bench_dir.name}` (from `{bench_dir}/results.json`)", ""]
    for line in lines:
        if line.startswith("![") and "](" in line:
            rel = line.split("](")[1].rstrip(")")
            name = f"{bench_dir.name}_{Path(rel).name}"
            out += copy_figure(bench_dir / rel, out_dir, name, f"{Path(rel).name}: benchmark run `{bench_dir}`",
                               MAX_FIGURE_BYTES, palette=True)  # ROC curves: lines on white
        else:
            out.append(line)
    return out


def zoo_section(src: RealSources, out_dir: Path, seed: int) -> list[str]:
    """The shipped detector: its card's cross-validated scores, and Grad-CAM on real DFDC crops."""
    from deepfake_detection import plots
    from deepfake_detection.dataset import index_videos
    from deepfake_detection.explain import gradcam_heatmaps, has_feature_maps
    from deepfake_detection.models import read_images
    from deepfake_detection.zoo import zoo_models

    spec, dirs, models = zoo_models(src.zoo)
    cv = spec.get("cv", {}).get("stack_calibrated", {})
    lines = ["## The shipped detector (`models/zoo`)", "",
             f"Models {', '.join(m['name'] for m in spec['models'])} under a `{spec['meta']['kind']}` stacker with "
             f"`{spec['calibration']['method']}` calibration; out-of-fold on the DFDC crops: ROC AUC "
             f"{cv.get('roc_auc', float('nan')):.3f}, balanced log loss "
             f"{cv.get('balanced_log_loss', float('nan')):.3f}. "
             "The data, recipe and known limits are on its "
             f"[model card](../../{src.zoo.as_posix()}/MODEL_CARD.md).", ""]
    crops = src.shared / "data" / "dfdc-faces"
    members = zip(spec["models"], models, dirs, strict=True)
    explained = next(((e, m, d) for e, m, d in members if has_feature_maps(m)), None)
    if not (crops / "labels.csv").is_file() or explained is None:
        return lines + ["_(no DFDC face crops or no convolutional model: Grad-CAM skipped)_"]
    index = index_videos(crops)[0]
    chosen = pd.concat([index[index["label"] == label].sample(GRADCAM_PER_CLASS, random_state=seed)
                        for label in (1, 0)])
    entry, model, model_dir = explained
    images = read_images([crops / p for p in chosen["path"]], entry["size"], model_dir.train_config().resize)
    p_fake = np.asarray(model.predict(images, verbose=0)).reshape(-1)
    titles = [f"{'FAKE' if label == 1 else 'REAL'}  P={p:.2f}"
              for label, p in zip(chosen["label"], p_fake, strict=True)]
    heat = gradcam_heatmaps(model, images)
    src.work.mkdir(parents=True, exist_ok=True)
    plots.plot_gradcam(images.astype(np.uint8), heat, titles).savefig(src.work / "gradcam_real.png", dpi=100)
    return lines + copy_figure(src.work / "gradcam_real.png", out_dir, "gradcam_real.png",
                               f"gradcam_real.png: zoo model `{entry['name']}` on {GRADCAM_PER_CLASS} FAKE and "
                               f"{GRADCAM_PER_CLASS} REAL crops of `{crops}` (seed {seed}); these crops are in its "
                               "training folds, so the P(FAKE) shown is not out-of-fold", MAX_FIGURE_BYTES)


def detect_section(src: RealSources, out_dir: Path) -> list[str]:
    """The committed `detect` example (make detect-example): its verdict against the video's DFDC label."""
    results = sorted(src.detect.glob("*/result.json"))
    if not results:
        return ["## One video, checked with `detect`", "", "_(no detect example: run `make detect-example`)_"]
    lines = ["## One video, checked with `detect`", ""]
    for path in results:
        result = json.loads(path.read_text())
        video = Path(result["input"])
        meta = video.parent / "metadata.json"
        label = (json.loads(meta.read_text()).get(video.name, {}).get("label", "unknown") if meta.is_file()
                 else "unknown")
        lines += [f"`{video.name}` (DFDC label **{label}**): **{result['verdict']}**. {result['summary']}", ""]
        for figure in result.get("figures", []):
            rel = (path.parent / figure).relative_to(out_dir).as_posix() if path.is_relative_to(out_dir) else None
            if rel:
                lines += [f"![{figure}]({rel})", f"*{figure}: `detect {video.name}`*", ""]
    return lines


def real_data_line(src: RealSources) -> str:
    """The report's first line: what real data it is and how large."""
    from deepfake_detection.dataset import index_videos

    parts = []
    dfdc = src.shared / "data" / "dfdc"
    if dfdc.is_dir():
        index = index_videos(dfdc)[0]
        parts.append(f"{int(index['readable'].sum())} DFDC videos in `../shared`")
    full = src.shared / "data" / "dfdc-full-index" / "dfdc-data.csv"
    if full.is_file():
        parts.append(f"the {sum(1 for _ in full.open()) - 1:,}-row DFDC index")
    ffpp = src.shared / "data" / "ffpp"
    if ffpp.is_dir():
        parts.append(f"{len(index_videos(ffpp)[0])} FaceForensics++ videos")
    labels = src.shared / "data" / "dfdc-faces" / "labels.csv"
    if labels.is_file():
        parts.append(f"{len(pd.read_csv(labels)):,} DFDC face crops")
    return "# Progress report — data: real, " + ", ".join(parts) + " (no synthetic data)"


def write_real_report(out_dir: str | Path = "reports/real", src: RealSources | None = None, seed: int = 0) -> Path:
    """reports/real/report.md and a self-contained report.html from real data and the committed runs."""
    src = src or RealSources()
    out_dir = Path(out_dir)
    if (out_dir / "figures").exists():
        shutil.rmtree(out_dir / "figures")
    lines = [real_data_line(src), "",
             "Generated by `make report-real` from `../shared` and the committed benchmark runs; every number is "
             "read from a file a run wrote.", ""]
    lines += [*real_eda_section(src, out_dir), ""]
    for bench_dir in src.benchmarks:
        lines += [*benchmark_section(bench_dir, out_dir), ""]
    lines += [*zoo_section(src, out_dir, seed), "", *detect_section(src, out_dir), ""]
    text = "\n".join(lines).replace(str(src.shared), "../shared")
    atomic_write_text(text, out_dir / "report.md")
    atomic_write_text(markdown_to_html(text, out_dir), out_dir / "report.html")
    log.info("real-data report written to %s", out_dir)
    return out_dir / "report.md"


def markdown_to_html(text: str, base: Path) -> str:
    """A markdown report as one self-contained HTML page: local images embedded as PNG data URIs."""
    import base64
    import re

    import markdown

    body = markdown.markdown(text, extensions=["tables"])

    def embed(match: re.Match) -> str:
        path = base / match.group(1)
        if not path.is_file():
            return match.group(0)
        return 'src="data:image/png;base64,' + base64.b64encode(path.read_bytes()).decode("ascii") + '"'

    body = re.sub(r'src="([^":]+\.png)"', embed, body)
    style = ("body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em}img{max-width:100%}")
    title = text.splitlines()[0].lstrip("# ")
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
            f"<style>{style}</style></head><body>{body}</body></html>\n")
