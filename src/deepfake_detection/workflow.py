"""The whole pipeline in one call, for `make demo`: each step calls the same package function as its CLI command.

Layout of a run folder (`work/demo-run` by default):
    data/               demo videos in the DFDC layout (train/, test_videos/, test_labels.csv, ...)
    index.csv           every video, labelled or not
    folds.csv           stratified group folds of the labelled videos
    crops/              face crops, manifest.csv, videos.csv
    models/<name>/      one trained backbone each (model.keras, config.json, history.csv, oof_*.csv)
    models/stacker/     stacker.json, stacking.md and its figures
    submission.csv      predictions for data/test_videos, with predictions_log.csv beside it
    evaluation.json     submission scored against data/test_labels.csv
The run owns its figures (`RUN/figures/`, `RUN/eda_summary.md`, the stacker's `models/stacker/figures/`);
only the last step, `report`, writes into `reports/`, copying in the figures it shows.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from deepfake_detection.artifacts import RunDir
from deepfake_detection.config import SEED, ExtractConfig, PredictConfig, TrainConfig
from deepfake_detection.reporting import step

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from deepfake_detection.ensemble import StackResult

DEMO_MODELS = ("meso4", "mesoinception4", "mobilenet_v3_small")


@dataclass
class DemoSettings:
    """Sizes of the demo run: small enough for about 20 minutes on 2 CPU cores."""

    videos: int = 40  # demo train clips (about 1 REAL : 3 FAKE)
    folds: int = 3  # group folds
    models: tuple[str, ...] = DEMO_MODELS  # registry names trained and stacked
    frames: int = 16  # sampled frames per video for training crops and for prediction
    size: int = 128  # crop and model input side, px
    epochs: int = 30  # from random weights the small models need many short epochs to pick up blending traces
    patience: int = 10  # early stopping on the noisy video-level loss of a dozen validation videos
    detector: str = "mtcnn"  # face detector of extraction and prediction
    seed: int = SEED  # seeds the demo data, folds, training and stacking
    quick: bool = False  # tiny CI-sized run: 1 epoch, few batches
    null: int = 100  # label permutations of the stacking null check (0: none)
    reports_dir: Path = field(default_factory=lambda: Path("reports"))  # where report.md and its figures go


def ensure_demo_data(data_dir: str | Path, videos: int = 40, seed: int = SEED) -> bool:
    """Make demo data in data_dir unless it already holds data; True when it was made now."""
    from deepfake_detection import synth

    data_dir = Path(data_dir)
    if data_dir.exists() and any(data_dir.iterdir()):
        log.info("using the data in %s", data_dir)
        return False
    synth.make_demo_dataset(data_dir, n_videos=videos, seed=seed)
    return True


@dataclass
class DemoResult:
    """What `run_demo` returns: the run folder and what it scored."""

    run: RunDir
    scores: dict[str, float]  # the submission against data/test_labels.csv (evaluation.json)
    stack: StackResult  # the stacker's nested out-of-fold scores and null check
    timings: dict[str, float]  # seconds per step
    report: Path  # report.md


def run_demo(run_dir: str | Path = "work/demo-run", settings: DemoSettings | None = None) -> DemoResult:
    """Demo data -> index -> folds -> EDA -> crops -> 3 models -> stack -> predict -> evaluate -> report."""
    from deepfake_detection import dataset, eda, ensemble, extract, metrics, plots, predict, report, synth, train
    from deepfake_detection.io import atomic_write_csv, atomic_write_text

    settings = settings or DemoSettings()
    run = RunDir(run_dir)
    data_dir, figures_dir = run.data, run.figures
    timings: dict[str, float] = {}

    with step("demo data", timings, log):
        ensure_demo_data(data_dir, settings.videos, settings.seed)
        figures_dir.mkdir(parents=True, exist_ok=True)
        plots.plot_fake_vs_original(synth.demo_pairs(data_dir)).savefig(figures_dir / "demo_pairs.png", dpi=110)
    with step("index", timings, log):
        index, _ = dataset.index_videos(data_dir)
        atomic_write_csv(index, run.index)
    with step("folds", timings, log):
        folds = dataset.make_folds(index, k=settings.folds, seed=settings.seed)
        atomic_write_csv(folds, run.folds)
    with step("eda", timings, log):
        eda.run_eda(data_dir, index=run.index, out_dir=figures_dir, summary_path=run.eda_summary)
    extract_cfg = ExtractConfig(frames=settings.frames, size=settings.size, detector=settings.detector)
    with step("extract", timings, log):
        crops = extract.extract_dataset(dataset.labelled(index), run.crops, extract_cfg, data_dir=data_dir).crops
    for name in settings.models:
        with step(f"train {name}", timings, log):
            cfg = TrainConfig(model=name, size=settings.size, epochs=settings.epochs, patience=settings.patience,
                              seed=settings.seed)
            if settings.quick:
                cfg = train.quick_config(cfg)
            train.train_model(crops, run.folds, cfg, fold="all", out_dir=run.models.model(name),
                              figures_dir=figures_dir)
    predict_cfg = PredictConfig(frames=settings.frames, detector=settings.detector)
    with step("stack", timings, log):
        stacked = ensemble.fit_stacker(run.models, predict_cfg, seed=settings.seed, null=settings.null)
        run.stacker.save(stacked.spec)
        ensemble.write_stacking_report(stacked, run.stacker.path)
    with step("predict", timings, log):
        predict.predict_videos(data_dir / "test_videos", run.models, out=run.submission,
                               sample_submission=data_dir / "sample_submission.csv", cfg=predict_cfg,
                               extract_cfg=extract_cfg)
    with step("evaluate", timings, log):
        scores, _ = metrics.evaluate_files(run.submission, data_dir / "test_labels.csv")
        atomic_write_text(json.dumps(scores, indent=2) + "\n", run.evaluation)
    atomic_write_text(json.dumps(timings, indent=2) + "\n", run.timings)  # in run order, not sorted
    with step("report", timings, log):
        report_path = report.write_report(run.path, settings.reports_dir)
    return DemoResult(run, scores, stacked, timings, report_path)


def metrics_table(result: DemoResult) -> pd.DataFrame:
    """OOF scores of each model and the stack (with their null check), plus the submission's test score, as one
    table."""
    oof = result.stack.scores[["log_loss", "balanced_log_loss", "roc_auc", "accuracy", "n"]].copy()
    oof.insert(0, "data", "out-of-fold (train)")
    if result.stack.null is not None:  # the same rows on permuted labels: what chance looks like here
        oof = oof.join(result.stack.null[["null_balanced_log_loss", "null_roc_auc"]])
    test = pd.DataFrame([result.scores], index=["submission"])[["log_loss", "balanced_log_loss", "roc_auc",
                                                                  "accuracy", "n"]]
    test.insert(0, "data", "test_videos")
    return pd.concat([oof, test])
