"""How long does a Kaggle rerun take? Seconds per video of each inference stage, projected to 4,000 videos.

Prints one table from one run on the real DFDC videos in ../shared/data/dfdc:
- decode-all: `grab()` every frame (the floor for reading a video);
- faces: `extract.video_faces` with 32 frames and MTCNN (sampling + detection + tracking + crops);
- 1 model: faces + efficientnet_b0 at 128 px (random weights: timing only) + aggregation;
- 3 models: faces + efficientnet_b0, mobilenet_v3_large and xception at 128 px + stacking by mean;
and, per row, the projected hours for DFDC's 4,000 test videos (target for 3 models: <= 9 h).
Models are loaded and warmed up first (as `predict_videos` does); timings are the best of --repeats
runs per video, because other processes on a shared machine only ever add time.

    .venv/bin/python bench/bench_predict.py [--repeats 2] [--frames 32]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pandas as pd  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DFDC = Path(os.environ.get("DFD_SHARED", REPO.parent / "shared")) / "data" / "dfdc"
VIDEOS = ["dfdc_train_part_10/widuwuoiur.mp4", "dfdc_train_part_0/brtujopkby.mp4", "dfdc_train_part_10/yhffcuhhjy.mp4"]
MODELS = ["efficientnet_b0", "mobilenet_v3_large", "xception"]
SIZE = 128
TEST_VIDEOS = 4000
TARGET_HOURS = 9.0


def best_of(repeats: int, run) -> tuple[float, object]:
    """Fastest wall time of `repeats` calls and the last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--frames", type=int, default=32)
    args = parser.parse_args()

    from dataclasses import replace

    from deepfake_detection.config import ExtractConfig, PredictConfig
    from deepfake_detection.extract import detector_for, video_faces
    from deepfake_detection.models import build_model
    from deepfake_detection.predict import load_ensemble, predict_video
    from deepfake_detection.video import decode_all

    paths = [DFDC / v for v in VIDEOS]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise SystemExit(f"missing benchmark videos: {missing}")
    cfg = PredictConfig(frames=args.frames, aggregation="mean")
    extract_cfg = replace(ExtractConfig(), frames=args.frames, size=SIZE)
    detector = detector_for(extract_cfg)
    video_faces(paths[0], extract_cfg, detector)  # warm-up: MTCNN graph building is not per video

    with tempfile.TemporaryDirectory() as tmp:
        for name in MODELS:
            (Path(tmp) / name).mkdir()
            build_model(name, size=SIZE).save(Path(tmp) / name / "model.keras")
        ensemble = load_ensemble(tmp, None, cfg)  # loads and warms up every model once
        rows = []
        for path in paths:
            row = {"video": path.name}
            row["decode-all"], frames = best_of(args.repeats, lambda: decode_all(path))
            row["faces"], faces = best_of(args.repeats, lambda: video_faces(path, extract_cfg, detector))
            row["1 model"], one = best_of(args.repeats, lambda: predict_video(
                path, ensemble, MODELS[:1], extract_cfg, detector, cfg))
            row["3 models"], three = best_of(args.repeats, lambda: predict_video(
                path, ensemble, MODELS, extract_cfg, detector, cfg))
            row["frames"], row["crops"] = frames, len(faces.crops)
            for model, seconds in three.model_seconds.items():
                row[f"{model} s"] = round(seconds, 2)
            rows.append(row)

    table = pd.DataFrame(rows).set_index("video")
    stages = ["decode-all", "faces", "1 model", "3 models"]
    summary = pd.DataFrame({"s / video": table[stages].mean(),
                            f"h / {TEST_VIDEOS} videos": table[stages].mean() * TEST_VIDEOS / 3600})
    print(f"{args.frames} frames, {SIZE} px, {os.cpu_count()} CPUs, best of {args.repeats}")
    print(table.to_string(float_format=lambda v: f"{v:.2f}"))
    print()
    print(summary.to_string(float_format=lambda v: f"{v:.2f}"))
    projected = summary.loc["3 models", f"h / {TEST_VIDEOS} videos"]
    verdict = "meets" if projected <= TARGET_HOURS else "misses"
    print(f"\n3-model ensemble: {projected:.2f} h for {TEST_VIDEOS} videos -> {verdict} the {TARGET_HOURS:.0f} h budget")


if __name__ == "__main__":
    main()
