"""Command-line front door: `python -m deepfake_detection <command> --help`.

Each command parses its arguments, calls one package function and prints what the user asked
for. Heavy modules (TensorFlow, MTCNN) are imported inside the command that needs them, so
`--help` and the data-only commands start fast.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

import pandas as pd

from deepfake_detection.config import SEED, DemoConfig, EdaConfig, PredictConfig
from deepfake_detection.config_flags import (
    ConfigError,
    add_config_flags,
    add_union_flags,
    config_from_args,
    saved_settings,
)

log = logging.getLogger("deepfake_detection")
# PredictConfig fields that only matter when videos are read (predict, detect), not when `stack` fits on OOF tables
INFERENCE_ONLY = ("frames", "budget_hours", "batch_size", "detector", "all_faces", "budget_margin", "min_frames")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out of CLI output


# --- index -------------------------------------------------------------------------------------
def _add_index(sub) -> None:
    p = sub.add_parser("index", help="index DFDC / FF++ / test-video folders into one CSV")
    p.add_argument("data_dir", type=Path)
    p.add_argument("--out", type=Path, required=True, help="index CSV to write")
    p.add_argument("--no-probe", action="store_true", help="skip opening each video (fast, no frames/fps)")
    p.set_defaults(run=_run_index)


def _run_index(args) -> int:
    from deepfake_detection.dataset import index_videos
    from deepfake_detection.io import atomic_write_csv, write_errors

    index, problems = index_videos(args.data_dir, probe=not args.no_probe)
    atomic_write_csv(index, args.out)
    write_errors(problems.error_rows(index), Path(args.out).parent)
    counts = index.groupby(["source", "label"], dropna=False).size().rename("videos")
    print(counts.to_string())
    on_disk = int(index["exists"].sum())
    print(f"{len(index)} videos ({on_disk} on disk, {problems.missing_videos} missing) -> {args.out}")
    for line in problems.malformed_metadata + problems.unsafe_entries + problems.bad_entries:
        print(f"error: {line}", file=sys.stderr)
    if problems.duplicate_filenames:
        print(f"warning: duplicate file names across parts: {', '.join(problems.duplicate_filenames)}", file=sys.stderr)
    return 0


# --- folds -------------------------------------------------------------------------------------
def _add_folds(sub) -> None:
    p = sub.add_parser("folds", help="leakage-safe stratified group folds (a fake stays with its original)")
    p.add_argument("index", type=Path)
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--holdout", type=float, default=None, help="one split: fold 0 = validation share (e.g. 0.2)")
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(run=_run_folds)


def _run_folds(args) -> int:
    from deepfake_detection.dataset import fold_summary, holdout_split, make_folds, read_index
    from deepfake_detection.io import atomic_write_csv

    index = read_index(args.index)
    if args.holdout is not None:
        folds = holdout_split(index, args.holdout, args.seed)
    else:
        folds = make_folds(index, args.k, args.seed)
    atomic_write_csv(folds, args.out)
    print(fold_summary(folds).to_string())
    print(f"{len(folds)} labelled videos in {folds['fold'].nunique()} folds -> {args.out}")
    return 0


# --- evaluate ----------------------------------------------------------------------------------
def _add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="score a submission against filename,label truth")
    p.add_argument("submission", type=Path)
    p.add_argument("labels", type=Path)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=_run_evaluate)


def _run_evaluate(args) -> int:
    from deepfake_detection.metrics import evaluate_files

    scores, _ = evaluate_files(args.submission, args.labels)
    if args.json:
        print(json.dumps(scores, indent=2))
    else:
        print(pd.Series(scores).to_frame("value").to_string(float_format=lambda v: f"{v:.4f}"))
    return 0


# --- validate ----------------------------------------------------------------------------------
def _add_validate(sub) -> None:
    p = sub.add_parser("validate", help="check a submission.csv: header, files, duplicates, NaN, range")
    p.add_argument("submission", type=Path)
    p.add_argument("--videos", type=Path, default=None, help="test videos folder the rows must match")
    p.add_argument("--sample-submission", type=Path, default=None)
    p.set_defaults(run=_run_validate)


def _run_validate(args) -> int:
    from deepfake_detection.submission import expected_filenames, validate_submission

    expected = None
    if args.videos is not None or args.sample_submission is not None:
        expected = expected_filenames(args.videos, args.sample_submission)
    problems = validate_submission(args.submission, expected)
    for line in problems:
        print(line)
    if not problems:
        print(f"{args.submission}: valid")
    return 1 if problems else 0


# --- eda ---------------------------------------------------------------------------------------
def _add_eda(sub) -> None:
    p = sub.add_parser("eda", help="EDA figures (PNG) and eda_summary.md: labels, lengths, train vs test, SSIM")
    p.add_argument("data_dir", type=Path)
    p.add_argument("--index", type=Path, default=None, help="index CSV (default: index data_dir now)")
    p.add_argument("--full-index", type=Path, default=None, help="full DFDC table (name,is_fake,n_frame,set_name)")
    p.add_argument("--crops", type=Path, default=None, help="extraction output with manifest.csv (face crops)")
    p.add_argument("--out", type=Path, default=Path("work/eda/figures"), help="folder for the PNG figures")
    p.add_argument("--summary", type=Path, default=None, help="default: beside the figures folder")
    add_config_flags(p, EdaConfig)
    p.set_defaults(run=_run_eda)


def _run_eda(args) -> int:
    from deepfake_detection.eda import run_eda

    result = run_eda(args.data_dir, index=args.index, full_index=args.full_index, out_dir=args.out,
                     crops_dir=args.crops, summary_path=args.summary or args.out.parent / "eda_summary.md",
                     cfg=config_from_args(EdaConfig, args))
    print(result["train_test_verdict"])
    print(result["ssim_verdict"])
    for path in result["figures"].values():
        print(path)
    print(f"summary -> {result['summary']}")
    return 0


# --- demo-data ---------------------------------------------------------------------------------
def _add_demo_data(sub) -> None:
    p = sub.add_parser("demo-data", help="synthetic DFDC-layout demo videos from bundled public-domain faces")
    p.add_argument("out_dir", type=Path)
    p.add_argument("--videos", type=int, default=40, help="train clips (about 1 REAL : 3 FAKE)")
    p.add_argument("--test", type=int, default=None, help="regular test clips (default: a quarter of --videos)")
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--overwrite", action="store_true", help="replace demo data already in OUT_DIR")
    p.add_argument("--figure", default=None,
                   help="REAL | FAKE | difference figure to write (default OUT_DIR/demo_pairs.png; '' to skip)")
    add_config_flags(p, DemoConfig)
    p.set_defaults(run=_run_demo_data)


def _run_demo_data(args) -> int:
    from deepfake_detection.synth import demo_pairs, make_demo_dataset

    summary = make_demo_dataset(args.out_dir, n_videos=args.videos, seed=args.seed, n_test=args.test,
                                config=config_from_args(DemoConfig, args), overwrite=args.overwrite)
    print(f"train: {summary['train_videos']} clips ({summary['train_real']} REAL, {summary['train_fake']} FAKE) "
          f"-> {args.out_dir / 'train'}")
    print("  " + ", ".join(f"{k}: {v}" for k, v in summary["train_methods"].items()))
    print(f"test:  {summary['test_files']} files, {summary['test_labelled']} labelled ({summary['test_fake']} FAKE) "
          f"-> {args.out_dir / 'test_videos'}")
    print("  special files: " + ", ".join(f"{k}={v}" for k, v in summary["specials"].items()))
    figure = args.out_dir / "demo_pairs.png" if args.figure is None else args.figure
    if figure:
        from deepfake_detection.plots import plot_fake_vs_original

        Path(figure).parent.mkdir(parents=True, exist_ok=True)
        plot_fake_vs_original(demo_pairs(args.out_dir)).savefig(figure, dpi=110)
        print(f"figure: {figure}")
    print(f"{summary['seconds']:.1f} s")
    return 0


# --- stack -------------------------------------------------------------------------------------
def _add_stack(sub) -> None:
    p = sub.add_parser("stack", help="fit the stacking meta model + calibration on the models' OOF predictions")
    p.add_argument("--models", type=Path, required=True, help="folder of model folders with oof_*.csv")
    p.add_argument("--out", type=Path, required=True, help="stacker folder to write (stacker.json)")
    p.add_argument("--null", type=int, default=0, metavar="N",
                   help="null check: rerun every reported row on N label permutations (0: off)")
    p.add_argument("--reports", type=Path, default=None,
                   help="where stacking.md and its figures go (default: the stacker folder, --out)")
    p.add_argument("--seed", type=int, default=SEED)
    add_config_flags(p, PredictConfig, skip=INFERENCE_ONLY)
    p.set_defaults(run=_run_stack)


def _run_stack(args) -> int:
    from deepfake_detection.artifacts import StackerDir
    from deepfake_detection.ensemble import fit_stacker, write_stacking_report

    result = fit_stacker(args.models, config_from_args(PredictConfig, args), seed=args.seed, null=args.null)
    path = StackerDir(args.out).save(result.spec)
    report = write_stacking_report(result, args.reports or args.out)
    table = result.scores[["log_loss", "balanced_log_loss", "roc_auc"]]
    if result.null is not None:
        table = table.join(result.null[["null_balanced_log_loss", "null_roc_auc", "passes"]])
    print(table.to_string(float_format=lambda v: f"{v:.4f}"))
    print(f"stacker -> {path}; report -> {report}")
    return 0


# --- predict -----------------------------------------------------------------------------------
def _add_predict(sub) -> None:
    p = sub.add_parser("predict", help="test videos -> submission.csv (resumable, inside a time budget)")
    p.add_argument("videos_dir", type=Path)
    p.add_argument("--models", type=Path, default=Path("models/zoo"),
                   help="folder of model folders (model.keras); default: the shipped zoo, models/zoo")
    p.add_argument("--stacker", type=Path, default=None, help="stacker folder (default: MODELS/stacker if present)")
    p.add_argument("--out", type=Path, default=Path("submission.csv"))
    p.add_argument("--sample-submission", type=Path, default=None, help="file order and set (default: folder)")
    p.add_argument("--log", type=Path, default=None, help="predictions log (default: next to --out)")
    add_config_flags(p, PredictConfig)
    p.set_defaults(run=_run_predict)


def _run_predict(args) -> int:
    from deepfake_detection.predict import predict_videos

    rows = predict_videos(args.videos_dir, args.models, args.stacker, args.out,
                          sample_submission=args.sample_submission, log_path=args.log,
                          cfg=config_from_args(PredictConfig, args))
    print(rows.groupby("status").size().rename("videos").to_string())
    print(f"{len(rows)} rows -> {args.out}")
    return 0


# --- detect ------------------------------------------------------------------------------------
def _add_detect(sub) -> None:
    p = sub.add_parser("detect", help="is this video fake? a verdict with its evidence: result.json + report.html "
                                      "per input (videos, face images, or folders of either)")
    p.add_argument("paths", type=Path, nargs="+")
    p.add_argument("--models", type=Path, default=Path("models/zoo"),
                   help="folder of model folders (+ stacker/); default: the shipped zoo, models/zoo")
    p.add_argument("--out", type=Path, default=Path("detect"), help="one folder per input, plus index.html")
    p.add_argument("--no-gradcam", action="store_true", help="skip the Grad-CAM figure (faster)")
    p.add_argument("--seed", type=int, default=SEED, help="seed of the bootstrap over frames")
    add_config_flags(p, PredictConfig)
    p.set_defaults(run=_run_detect)


def _run_detect(args) -> int:
    from deepfake_detection.detect import INDEX_FILE, REPORT_FILE, DetectConfig, detect_paths

    cfg = config_from_args(PredictConfig, args)
    detections = detect_paths(args.paths, args.models, args.out, cfg,
                              DetectConfig(gradcam=not args.no_gradcam, seed=args.seed))
    for det in detections:
        print(f"{det.input}: {det.verdict} - {det.summary}")
        print(f"  report: {args.out / det.name / REPORT_FILE}")
    if len(detections) > 1:
        print(f"index: {args.out / INDEX_FILE}")
    return 0


# --- kaggle-bundle -----------------------------------------------------------------------------
def _add_kaggle_bundle(sub) -> None:
    p = sub.add_parser("kaggle-bundle", help="folder to upload as a Kaggle dataset for an offline submission")
    p.add_argument("--models", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--dataset-name", default=None, help="Kaggle dataset slug (default: deepfake-detection-bundle)")
    p.add_argument("--wheels-from", type=Path, default=None, help="take wheels from this folder instead of PyPI")
    p.set_defaults(run=_run_kaggle_bundle)


def _run_kaggle_bundle(args) -> int:
    from deepfake_detection.bundle import build_bundle

    summary = build_bundle(args.models, args.out, args.dataset_name, args.wheels_from)
    print(summary.to_string(index=False))
    print(f"bundle -> {args.out} ({summary['bytes'].sum() / 1e6:.1f} MB)")
    return 0


# --- train -------------------------------------------------------------------------------------
def _add_train(sub) -> None:
    from deepfake_detection.config import TrainConfig

    p = sub.add_parser("train",
                       help="train one backbone on face crops per fold; writes model.keras and OOF predictions",
                       description="Every TrainConfig field is a flag. `--config MODEL_DIR/config.json` replays a "
                                   "run (its crops, folds and fold too, unless given).")
    p.add_argument("--crops", type=Path, default=None,
                   help="crops dir with manifest.csv (extract); default: --config's")
    p.add_argument("--folds", type=Path, default=None, help="folds.csv (folds); default: --config's")
    p.add_argument("--fold", default=None,
                   help="fold to validate on, or 'all' for every fold (OOF for all); default: --config's, else all")
    p.add_argument("--quick", action="store_true",
                   help="tiny images, 1 epoch, a few batches, run eagerly (CI, demo data)")
    p.add_argument("--out", type=Path, required=True, help="output folder, e.g. models/efficientnet_b0")
    p.add_argument("--figures", type=Path, default=None, help="where the training curve goes (default OUT/figures)")
    add_config_flags(p, TrainConfig)
    p.set_defaults(run=_run_train)


def _run_train(args) -> int:
    from deepfake_detection.config import TrainConfig
    from deepfake_detection.train import quick_config, train_model

    saved = saved_settings(args.config) if args.config is not None else {}
    cfg = config_from_args(TrainConfig, args, saved)
    crops, folds = args.crops or saved.get("crops_dir"), args.folds or saved.get("folds_csv")
    if crops is None or folds is None:
        raise SystemExit("train: give --crops and --folds (or --config with a run's config.json that names them)")
    if args.quick:
        cfg = quick_config(cfg)
    fold = args.fold or saved.get("fold", "all")
    out = args.out
    result = train_model(Path(crops), Path(folds), cfg, fold, out, figures_dir=args.figures or out / "figures")
    print(pd.Series(result.oof_video_metrics).to_frame("OOF videos").to_string(float_format=lambda v: f"{v:.4f}"))
    print(f"val_video_bll per fold: {json.dumps({str(k): round(v, 4) for k, v in result.val_video_bll.items()})}")
    print(f"deployment model (average of folds {list(result.folds)}): {result.model_dir.model} "
          f"({result.seconds:.0f} s)")
    return 0


# --- score-crops / gradcam ---------------------------------------------------------------------
def _add_model_source(p, weights_help: str, required: bool = True) -> None:
    """Arguments that pick a model: a registry name with weights, or a saved model.keras."""
    source = p.add_mutually_exclusive_group(required=required)
    source.add_argument("--model", help="registry name (meso4, xception, efficientnet_b0, ...)")
    source.add_argument("--model-path", type=Path, help="a trained model.keras")
    p.add_argument("--weights", default=None, help=weights_help)
    p.add_argument("--weights-dir", type=Path, default=None, help="local folder with the standard Keras notop files")
    p.add_argument("--size", type=int, default=None, help="input side in px (default: the model's own)")
    p.add_argument("--normalization", default="app", choices=["app", "unit"])


def _open_model(args):
    from deepfake_detection.models import open_model

    if args.model_path is not None:
        return open_model(model_path=args.model_path)
    return open_model(args.model, size=args.size, weights=args.weights, weights_dir=args.weights_dir,
                      normalization=args.normalization)


def _add_score_crops(sub) -> None:
    p = sub.add_parser("score-crops", help="P(FAKE) per face-crop image with a registry or trained model")
    p.add_argument("images", nargs="+", type=Path)
    _add_model_source(p, "'imagenet' (with --weights-dir), an original MesoNet .h5, a notop .h5 or a *.weights.h5",
                      required=False)
    p.add_argument("--zoo", type=Path, default=None, help="zoo folder used when no model is named (default models/zoo)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--out", type=Path, default=None, help="CSV to write (path, p_fake)")
    p.set_defaults(run=_run_score_crops)


def _run_score_crops(args) -> int:
    from deepfake_detection.io import atomic_write_csv
    from deepfake_detection.models import score_images

    if args.model is None and args.model_path is None:  # the shipped detector
        from deepfake_detection.zoo import ZOO_DIR, score_crops_with_zoo

        scores = score_crops_with_zoo(args.images, args.zoo or ZOO_DIR, args.batch_size)
    else:
        from deepfake_detection.artifacts import ModelDir

        resize = ModelDir(args.model_path.parent).train_config().resize if args.model_path is not None else "area"
        scores = score_images(_open_model(args), args.images, args.batch_size, resize)
    print(scores.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if args.out is not None:
        atomic_write_csv(scores, args.out)
        print(f"{len(scores)} images -> {args.out}")
    return 0


def _add_gradcam(sub) -> None:
    p = sub.add_parser("gradcam", help="Grad-CAM overlays of a model on a few REAL and FAKE crops")
    p.add_argument("--crops", type=Path, required=True, help="crops folder with manifest.csv")
    _add_model_source(p, "weights for --model (see score-crops)")
    p.add_argument("--n", type=int, default=4, help="crops per class")
    p.add_argument("--layer", default=None, help="conv layer to explain (default: the last one)")
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--out", type=Path, required=True, help="figure to write (.png)")
    p.set_defaults(run=_run_gradcam)


def _run_gradcam(args) -> int:
    from deepfake_detection.explain import gradcam_examples
    from deepfake_detection.plots import plot_gradcam

    images, heatmaps, titles = gradcam_examples(_open_model(args), args.crops, args.n, args.seed, args.layer)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    plot_gradcam(images, heatmaps, titles).savefig(args.out, dpi=120, bbox_inches="tight")
    print(f"Grad-CAM of {len(images)} crops -> {args.out}")
    return 0


# --- extract -----------------------------------------------------------------------------------
def _add_extract(sub) -> None:
    from deepfake_detection.config import ExtractConfig

    p = sub.add_parser("extract", help="videos of an index -> face crops + manifest.csv + videos.csv (resumable)")
    p.add_argument("index", type=Path, help="index CSV from the index command")
    p.add_argument("--out", type=Path, required=True, help="crops folder (CROPS_DIR)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="folder the index's paths are relative to (the DATA_DIR given to index; "
                        "default: the index's folder)")
    p.add_argument("--workers", type=int, default=1, help="local processes")
    p.add_argument("--scheduler", default=None,
                   help="Dask scheduler address, e.g. tcp://host:8786 (workers must see --out)")
    p.add_argument("--shard", default=None, help="i/N: extract every N-th video starting at i (0-based)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace crops that --out holds from other settings (default: refuse and name the changes)")
    add_config_flags(p, ExtractConfig, aliases={"use_original_boxes": ["--original-boxes"]})
    p.set_defaults(run=_run_extract)


def _run_extract(args) -> int:
    from deepfake_detection.config import ExtractConfig
    from deepfake_detection.dataset import read_index
    from deepfake_detection.extract import extract_dataset

    cfg = config_from_args(ExtractConfig, args)
    data_dir = args.data_dir if args.data_dir is not None else args.index.resolve().parent
    done = extract_dataset(read_index(args.index), args.out, cfg, workers=args.workers, scheduler=args.scheduler,
                           shard=args.shard, data_dir=data_dir, overwrite=args.overwrite)
    videos = done.videos
    print(videos.groupby("status").agg(videos=("video_id", "size"), faces=("faces", "sum")).to_string())
    print(f"{len(videos)} videos, {int(videos['faces'].sum())} crops -> {done.crops.manifest}, {done.crops.videos}")
    return 0


# --- demo / notebooks / report ----------------------------------------------------------------
def _add_demo(sub) -> None:
    from deepfake_detection.workflow import DemoSettings

    p = sub.add_parser("demo", help="the whole pipeline on freshly made demo data (what `make demo` runs)")
    p.add_argument("--out", type=Path, default=Path("work/demo-run"), help="run folder (data, crops, models, ...)")
    add_config_flags(p, DemoSettings, aliases={"reports_dir": ["--reports"]})
    p.set_defaults(run=_run_demo)


def _run_demo(args) -> int:
    from deepfake_detection.workflow import DemoSettings, metrics_table, run_demo

    result = run_demo(args.out, config_from_args(DemoSettings, args))
    print(metrics_table(result).to_string(float_format=lambda v: f"{v:.4f}"))
    print(f"\nsubmission: {result.run.submission}\nfigures:    {result.run.figures}/\nreport:     {result.report}")
    print("timings (s): " + ", ".join(f"{k} {v}" for k, v in result.timings.items()))
    return 0


def _add_notebooks(sub) -> None:
    p = sub.add_parser("notebooks", help="execute notebooks/0*.py headless in order (copies in build/notebooks)")
    p.add_argument("--data", type=Path, default=Path("work/demo"), help="data folder (made as demo data if absent)")
    p.add_argument("--work", type=Path, default=Path("work/notebooks"), help="folder for index, crops, models")
    p.add_argument("--quick", type=int, default=1, choices=(0, 1))
    p.add_argument("--only", default="", help="comma-separated name prefixes, e.g. 01,02")
    p.add_argument("--out", type=Path, default=Path("build/notebooks"))
    p.add_argument("--seed", type=int, default=SEED)
    p.set_defaults(run=_run_notebooks)


def _run_notebooks(args) -> int:
    from deepfake_detection.notebook_runner import NotebookFailed, run_notebooks
    from deepfake_detection.workflow import ensure_demo_data

    ensure_demo_data(args.data, seed=args.seed)
    parameters = {"DATA_DIR": str(args.data), "WORK_DIR": str(args.work), "QUICK": bool(args.quick), "SEED": args.seed}
    try:
        runs = run_notebooks(parameters, args.out, only=[p for p in args.only.split(",") if p])
    except NotebookFailed as exc:
        print(exc, file=sys.stderr)
        return 1
    for run in runs:
        print(f"{run.name:32s} {run.seconds:7.1f} s  -> {run.output}")
    return 0


def _add_report(sub) -> None:
    p = sub.add_parser("report", help="reports/report.md (and figures) from the files of the last run")
    p.add_argument("--run", dest="run_dir", type=Path, default=Path("work/demo-run"),
                   help="run folder written by demo/notebooks")
    p.add_argument("--reports", type=Path, default=Path("reports"))
    p.add_argument("--data", type=Path, default=None, help="data folder of the run (default: RUN/data)")
    p.add_argument("--real", action="store_true", help="the real-data report instead: reports/real from ../shared, "
                   "the committed benchmark runs, the zoo and the detect example (make report-real)")
    p.add_argument("--shared", type=Path, default=Path("../shared"), help="with --real: the real data folder")
    p.set_defaults(run=_run_report)


def _run_report(args) -> int:
    from deepfake_detection.report import RealSources, write_real_report, write_report

    if args.real:
        print(f"report: {write_real_report(args.reports / 'real', RealSources(shared=args.shared))}")
    else:
        print(f"report: {write_report(args.run_dir, args.reports, args.data)}")
    return 0


# --- benchmark suites ---------------------------------------------------------------------------
def _benchmark_options(p, data_help: str) -> None:
    """The options every suite shares; its settings are generated from the suite's config class."""
    from deepfake_detection.config import MESONET_DIR

    p.add_argument("--data", type=Path, required=True, help=data_help)
    p.add_argument("--mesonet-dir", type=Path, default=Path(MESONET_DIR), help="original MesoNet .h5 files")
    p.add_argument("--work", type=Path, default=None, help="crops and models (reused when complete); default "
                   "work/SUITE")
    p.add_argument("--out", type=Path, default=None, help="default reports/SUITE")
    p.add_argument("--quick", action="store_true", help="CI-sized: a few videos or groups, 1 epoch, 1 small model: "
                   "machinery only, the numbers mean nothing")
    p.set_defaults(run=_run_benchmark)


def _add_benchmark(sub) -> None:
    from deepfake_detection.studies import SUITES

    p = sub.add_parser("benchmark", help="quality benchmark suites on real data: " + ", ".join(SUITES))
    p.add_argument("--suite", choices=list(SUITES), default="dfdc-crops",
                   help="; ".join(f"{name}: {suite.help}" for name, suite in SUITES.items()))
    _benchmark_options(p, "face-crop folder (dfdc-crops, dfdc-ablation), FF++ folder (ffpp, cross-ffpp) or REAL/ "
                          "FAKE/ video folders (face-clips)")
    add_union_flags(p, {name: suite.config for name, suite in SUITES.items()}, "suite")


def _add_benchmark_ffpp(sub) -> None:
    from deepfake_detection.config import BenchmarkConfig

    p = sub.add_parser("benchmark-ffpp", help="the same as `benchmark --suite ffpp`: group CV on FaceForensics++")
    _benchmark_options(p, "FF++ layout folder, e.g. ../shared/data/ffpp")
    add_config_flags(p, BenchmarkConfig)
    p.set_defaults(suite="ffpp")


def benchmark_config(args):
    """The chosen suite's settings: its config's defaults < the suite's preset < --quick < --config < flags < --set."""
    from deepfake_detection.studies import get_suite, suite_defaults

    saved = {**suite_defaults(args.suite, args.quick), **(saved_settings(args.config) if args.config else {})}
    return config_from_args(get_suite(args.suite).config, args, saved)


def _run_benchmark(args) -> int:
    from deepfake_detection.studies import run_suite
    from deepfake_detection.studies.common import scores_markdown

    result = run_suite(args.suite, args.data, args.out, args.work, cfg=benchmark_config(args), quick=args.quick,
                       mesonet_dir=args.mesonet_dir)
    print(scores_markdown(result.table, "all"))
    print(f"results: {result.bench.results_md}, {result.bench.results_json}")
    return 0


def _add_zoo(sub) -> None:
    p = sub.add_parser("zoo", help="ship a crop benchmark's deployed models + stacker as models/zoo with MODEL_CARD.md")
    p.add_argument("--work", type=Path, default=Path("work/dfdc-crops"), help="the benchmark's work folder (models/)")
    p.add_argument("--bench", type=Path, default=Path("reports/dfdc-crops"),
                   help="its out folder (results.json, stacker/)")
    p.add_argument("--out", type=Path, default=Path("models/zoo"))
    p.set_defaults(run=_run_zoo)


def _run_zoo(args) -> int:
    from deepfake_detection.artifacts import ModelsDir
    from deepfake_detection.zoo import build_zoo

    out = build_zoo(args.work, args.bench, args.out)
    print(f"zoo -> {out}; card -> {ModelsDir(out).card}")
    return 0


# --- registry ----------------------------------------------------------------------------------
# In pipeline order, so `--help` reads like the README: data, faces, models, submission, then the wrappers.
PARSERS = [_add_demo_data, _add_index, _add_folds, _add_eda, _add_extract, _add_train, _add_score_crops, _add_gradcam,
           _add_stack, _add_predict, _add_detect, _add_validate, _add_evaluate, _add_kaggle_bundle, _add_benchmark,
           _add_benchmark_ffpp, _add_zoo, _add_demo, _add_notebooks, _add_report]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m deepfake_detection", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in PARSERS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("matplotlib", "PIL", "distributed", "absl"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return int(args.run(args) or 0)
    except (ConfigError, FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as error:
        if args.verbose:
            raise
        print(f"error: {error} (-v shows the traceback)", file=sys.stderr)
        return 2
