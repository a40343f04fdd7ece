"""Is `detect` fast enough for one 10-second 1080p video (target <= 10 s wall on 2 CPU cores, report included)?

One run, one table, against the named baseline: `predict` on the same video with the same models (the shipped
zoo), which writes a submission row but no report. Rows per real DFDC video in ../shared/data/dfdc:
- predict (baseline): `predict_videos` on a folder holding only that video, in a warm process (it loads the
  models on each call);
- detect: `detect_paths` on the video in the same warm process, loading the models too; and the same without
  the model loading (what each further input of a folder costs), with its steps from result.json's timings;
- detect, cold: the whole `python -m deepfake_detection detect VIDEO` process (imports, model load, report).
Times are the best of --repeats runs: other processes on a shared machine only ever add time.

    .venv/bin/python bench/bench_detect.py [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pandas as pd  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DFDC = Path(os.environ.get("DFD_SHARED", REPO.parent / "shared")) / "data" / "dfdc"
ZOO = REPO / "models" / "zoo"
TARGET_SECONDS = 10.0


def best(times: list[float]) -> float:
    return round(min(times), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    from deepfake_detection.detect import detect_paths
    from deepfake_detection.predict import predict_videos
    from deepfake_detection.video import sample_frames

    videos = sorted(DFDC.glob("*/*.mp4"))
    if not videos:
        sys.exit(f"no DFDC videos under {DFDC}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        detect_paths([videos[0]], ZOO, tmp / "warm")  # imports, graph tracing: not part of any row below
        for video in videos:
            sample = sample_frames(video, n=1)
            height, width = sample.frames[0].shape[:2]
            shape = f"{width}x{height}, {sample.frame_count / max(sample.fps, 1e-6):.0f} s"
            folder = tmp / video.stem
            folder.mkdir()
            shutil.copyfile(video, folder / video.name)
            predict_t, detect_t, per_input_t, cold_t, steps = [], [], [], [], {}
            for r in range(args.repeats):
                start = time.perf_counter()
                predict_videos(folder, ZOO, out=tmp / f"sub_{video.stem}_{r}.csv",
                               log_path=tmp / f"log_{video.stem}_{r}.csv")  # a fresh log: no resumed rows
                predict_t.append(time.perf_counter() - start)
                start = time.perf_counter()
                det = detect_paths([video], ZOO, tmp / f"det_{r}")[0]
                detect_t.append(time.perf_counter() - start)
                per_input_t.append(det.timings["total_without_load"])
                steps = det.timings
                start = time.perf_counter()
                subprocess.run([sys.executable, "-m", "deepfake_detection", "detect", str(video), "--out",
                                str(tmp / f"cold_{r}"), "--models", str(ZOO)], check=True, capture_output=True,
                               cwd=REPO)
                cold_t.append(time.perf_counter() - start)
            rows.append({"video": video.name, "frames": shape, "predict s (baseline)": best(predict_t),
                         "detect s": best(detect_t), "detect per further input s": best(per_input_t),
                         "detect cold process s": best(cold_t),
                         "faces s": steps["faces"], "models s": steps["models"], "gradcam s": steps.get("gradcam"),
                         "timeline s": steps.get("timeline"), "detect within 10 s": best(detect_t) <= TARGET_SECONDS,
                         "cold within 10 s": best(cold_t) <= TARGET_SECONDS})
    print(pd.DataFrame(rows).to_string(index=False))
    print(f"\ntarget: detect <= {TARGET_SECONDS:g} s per 10 s 1080p video on 2 CPU cores, report included "
          f"(cold process column: imports and model loading included)")


if __name__ == "__main__":
    main()
