"""Face recall of extraction on every real video in ../shared, per detector setting, with the false-face check.

A frame without a detected face gives no prediction (or an interpolated box), so recall is measured where it
matters: on the real DFDC and FaceForensics++ videos and the genuine clips, 32 evenly spaced frames each, the
detector run on every sampled frame (no stride, no interpolation). Per setting (detection long side, MTCNN
confidence threshold) the table gives:
- recall: share of sampled frames with at least one detected face (mean over videos, and the worst video);
- videos below 95 %: how many videos miss a face in more than 1 frame of 20;
- extra faces: share of frames with more faces than the video's usual count (the median per frame): false faces
  or passers-by; on `multiface.jpg` (6 people) the faces found, and how many of them are not one of the 6 (no
  overlap with a face the strictest setting also found);
- detector seconds per video (wall, on this machine, while other work may run: compare rows, not absolutes).
The default setting is ExtractConfig's; the others are the candidates.

    .venv/bin/python bench/bench_recall.py [--limit N] [--out bench/results/recall.md]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from deepfake_detection.config import ExtractConfig
from deepfake_detection.faces import MtcnnDetector
from deepfake_detection.reporting import to_markdown
from deepfake_detection.video import sample_frames

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DFD_SHARED", REPO.parent / "shared"))
DEFAULT = ExtractConfig()
SETTINGS = [(DEFAULT.detect_long_side, DEFAULT.min_confidence), (640, 0.8), (480, 0.9), (960, 0.9), (960, 0.8)]
TARGET = 0.95


def real_videos() -> list[tuple[str, Path]]:
    """(set, path) of every real video in ../shared: DFDC, FF++ and the genuine clips."""
    data = SHARED / "data"
    found = [("dfdc", p) for p in sorted((data / "dfdc").rglob("*.mp4"))]
    found += [("ffpp", p) for p in sorted((data / "ffpp").rglob("*.mp4"))]
    found += [("genuine", p) for p in sorted((data / "real-faces").glob("*.mp4"))]
    return found


def iou(a, b) -> float:
    x1, y1, x2, y2 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter + 1e-9)


def measure(videos, detectors) -> pd.DataFrame:
    """One row per (video, setting): frames, frames with a face, frames with extra faces, seconds."""
    rows = []
    for i, (kind, path) in enumerate(videos):
        sample = sample_frames(path, n=32)
        if not sample.frames:
            print(f"  {path.name}: {sample.status} {sample.reason}")
            continue
        for (long_side, confidence), detector in detectors.items():
            start = time.perf_counter()
            faces = detector.detect(sample.frames)
            seconds = time.perf_counter() - start
            counts = np.array([len(f) for f in faces])
            usual = max(1, int(np.median(counts)))
            rows.append({"set": kind, "video": str(path.relative_to(SHARED)), "long_side": long_side,
                         "min_confidence": confidence, "frames": len(counts), "with_face": int((counts > 0).sum()),
                         "extra": int((counts > usual).sum()), "seconds": seconds})
        print(f"  {i + 1}/{len(videos)} {path.name}", flush=True)
    return pd.DataFrame(rows)


def multiface(detectors) -> dict[tuple[int, float], tuple[int, int]]:
    """Faces found on multiface.jpg per setting, and how many overlap no face of the strictest setting."""
    image = cv2.cvtColor(cv2.imread(str(SHARED / "data" / "real-faces" / "multiface.jpg")), cv2.COLOR_BGR2RGB)
    found = {s: [(b.x1, b.y1, b.x2, b.y2) for b in d.detect([image])[0]]
             for s, d in detectors.items()}
    strict = found[SETTINGS[0]]
    return {s: (len(boxes), sum(all(iou(b, r) < 0.3 for r in strict) for b in boxes)) for s, boxes in found.items()}


def table(results: pd.DataFrame, faces: dict) -> pd.DataFrame:
    """Per setting: recall overall and per set, worst video, videos under the target, extra faces, seconds."""
    results = results.assign(recall=results["with_face"] / results["frames"])
    rows = []
    for (long_side, confidence), part in results.groupby(["long_side", "min_confidence"], sort=False):
        row = {"setting": f"{long_side} px, conf >= {confidence}"
                          + (" (default)" if (long_side, confidence) == SETTINGS[0] else ""),
               "recall": part["with_face"].sum() / part["frames"].sum()}
        for kind, sub in part.groupby("set"):
            row[f"recall {kind}"] = sub["with_face"].sum() / sub["frames"].sum()
        worst = part.loc[part["recall"].idxmin()]
        row["worst video"] = f"{worst['recall']:.2f} ({Path(worst['video']).name})"
        row[f"videos < {TARGET:.0%}"] = f"{int((part['recall'] < TARGET).sum())} / {len(part)}"
        row["extra-face frames"] = part["extra"].sum() / part["frames"].sum()
        n, new = faces[(long_side, confidence)]
        row["multiface.jpg faces (not in default)"] = f"{n} ({new})"
        row["s / video"] = part["seconds"].mean()
        rows.append(row)
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="first N videos only (a quick look)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "recall.md")
    args = parser.parse_args()
    videos = real_videos()[: args.limit]
    if not videos:
        raise SystemExit(f"no videos under {SHARED / 'data'}: this bench needs ../shared")
    detectors = {s: MtcnnDetector(long_side=s[0], min_confidence=s[1]) for s in SETTINGS}
    results = measure(videos, detectors)
    summary = table(results, multiface(detectors))
    text = to_markdown(summary.set_index("setting"), floatfmt=".3f")
    worst = (results.assign(recall=results["with_face"] / results["frames"])
             .query("long_side == @DEFAULT.detect_long_side and min_confidence == @DEFAULT.min_confidence")
             .nsmallest(8, "recall").set_index("video")[["with_face", "frames"]])
    print(text)
    print("\nlowest-recall videos at the default setting:\n" + to_markdown(worst))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(f"# Face recall on {len(results['video'].unique())} real videos (32 frames each)\n\n{text}\n\n"
                        "Lowest-recall videos at the default setting:\n\n" + to_markdown(worst) + "\n")
    results.to_csv(args.out.with_suffix(".csv"), index=False)


if __name__ == "__main__":
    main()
