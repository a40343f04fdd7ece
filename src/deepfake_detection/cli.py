"""Command-line front door: `python -m deepfake_detection <command> --help`.

Each command parses its arguments, calls one package function and prints what the user asked
for. Heavy modules (TensorFlow, MTCNN) are imported inside the command that needs them, so
`--help` and the data-only commands start fast.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import pandas as pd

from deepfake_detection.config import SEED

log = logging.getLogger("deepfake_detection")


# --- index -------------------------------------------------------------------------------------
def _add_index(sub) -> None:
    p = sub.add_parser("index", help="index DFDC / FF++ / test-video folders into one CSV")
    p.add_argument("data_dir", type=Path)
    p.add_argument("--out", type=Path, required=True, help="index CSV to write")
    p.add_argument("--no-probe", action="store_true", help="skip opening each video (fast, no frames/fps)")
    p.set_defaults(run=_run_index)


def _run_index(args) -> int:
    from deepfake_detection.dataset import index_videos
    from deepfake_detection.submission import atomic_write_csv

    index, problems = index_videos(args.data_dir, probe=not args.no_probe)
    atomic_write_csv(index, args.out)
    counts = index.groupby(["source", "label"], dropna=False).size().rename("videos")
    print(counts.to_string())
    print(f"{len(index)} videos ({int(index['exists'].sum())} on disk, {problems.missing_videos} missing) -> {args.out}")
    for line in problems.malformed_metadata + problems.unsafe_entries:
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
    from deepfake_detection.submission import atomic_write_csv

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
    p = sub.add_parser("eda", help="EDA figures (PNG) and reports/eda_summary.md: labels, lengths, train vs test, SSIM")
    p.add_argument("data_dir", type=Path)
    p.add_argument("--index", type=Path, default=None, help="index CSV (default: index data_dir now)")
    p.add_argument("--full-index", type=Path, default=None, help="full DFDC table (name,is_fake,n_frame,set_name)")
    p.add_argument("--crops", type=Path, default=None, help="extraction output with manifest.csv (face crops)")
    p.add_argument("--out", type=Path, default=Path("reports/figures"), help="folder for the PNG figures")
    p.add_argument("--summary", type=Path, default=Path("reports/eda_summary.md"))
    p.set_defaults(run=_run_eda)


def _run_eda(args) -> int:
    from deepfake_detection.eda import run_eda

    result = run_eda(args.data_dir, index=args.index, full_index=args.full_index, out_dir=args.out,
                     crops_dir=args.crops, summary_path=args.summary)
    print(result["train_test_verdict"])
    print(result["ssim_verdict"])
    for path in result["figures"].values():
        print(path)
    print(f"summary -> {result['summary']}")
    return 0


# --- registry ----------------------------------------------------------------------------------
PARSERS = [_add_index, _add_folds, _add_evaluate, _add_validate, _add_eda]


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
    return int(args.run(args) or 0)
