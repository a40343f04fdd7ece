"""Face recall of extraction on every real video in ../shared, per detector setting, with the false-face check.

A frame without a detected face gives no prediction (or an interpolated box), so recall is measured where it
matters: on the real DFDC and FaceForensics++ videos and the genuine clips, 32 evenly spaced frames each, the
detector run on every sampled frame (no stride, no interpolation). Per setting (detection long side, MTCNN
confidence threshold) the table gives:
- recall: share of sampled frames with at least one detected face (mean over videos, and the worst video);
- videos below 95 %: how many videos miss a face in more than 1 frame of 20;
- extra faces: share of frames with more faces than the video's usual count (the median per frame): false faces
  or passers-by; on `multiface.jpg` (6 people) the faces found, and how many of them are not one of the 6 (no
  overlap with a face the default setting also found);
- detector seconds per video (wall, on this machine, while other work may run: compare rows, not absolutes).
The default setting is ExtractConfig's; the others are the candidates.

A second table prices the tracker's stride (detection on every k-th sampled frame, boxes interpolated between)
at the default setting: the detections made on every frame are replayed through extraction's own strided
detection and tracking (`extract._detect_sampled`, `extract.track_rows`; a keyframe without a face has its
neighbours detected too), and the main person's boxes are compared with stride 1's: frames with a box, frames
the detector ran on, and the IoU of each interpolated box with the box detected on that frame.

    .venv/bin/python bench/bench_recall.py [--limit N] [--out bench/results/recall.md]
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from deepfake_detection.config import ExtractConfig
from deepfake_detection.extract import _detect_sampled, track_rows
from deepfake_detection.faces import MtcnnDetector, iou
from deepfake_detection.reporting import to_markdown
from deepfake_detection.video import sample_frames

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DFD_SHARED", REPO.parent / "shared"))
DEFAULT = ExtractConfig()
CANDIDATES = [(640, 0.9), (640, 0.8), (480, 0.9), (480, 0.8)]  # 960 px (2026-12-07): no higher recall, 2.3x 640 px time
SETTINGS = [(DEFAULT.detect_long_side, DEFAULT.min_confidence)]  # the default first, then the other candidates
SETTINGS += [s for s in CANDIDATES if s != SETTINGS[0]]
STRIDES = (1, 2, 3, 4)
TARGET = 0.95


def real_videos() -> list[tuple[str, Path]]:
    """(set, path) of every real video in ../shared: DFDC, FF++ and the genuine clips."""
    data = SHARED / "data"
    found = [("dfdc", p) for p in sorted((data / "dfdc").rglob("*.mp4"))]
    found += [("ffpp", p) for p in sorted((data / "ffpp").rglob("*.mp4"))]
    found += [("genuine", p) for p in sorted((data / "real-faces").glob("*.mp4"))]
    return found


def measure(videos, detectors) -> tuple[pd.DataFrame, dict[str, tuple]]:
    """One row per (video, setting): frames, frames with a face, frames with extra faces, seconds; and per video
    the default setting's boxes on every sampled frame, the frame numbers and the frame rate."""
    rows, default_boxes = [], {}
    for i, (kind, path) in enumerate(videos):
        sample = sample_frames(path, n=32)
        if not sample.frames:
            print(f"  {path.name}: {sample.status} {sample.reason}")
            continue
        for (long_side, confidence), detector in detectors.items():
            start = time.perf_counter()
            faces = detector.detect(sample.frames)
            seconds = time.perf_counter() - start
            if (long_side, confidence) == SETTINGS[0]:
                default_boxes[str(path.relative_to(SHARED))] = (faces, sample.indices, sample.fps)
            counts = np.array([len(f) for f in faces])
            usual = max(1, int(np.median(counts)))
            rows.append({"set": kind, "video": str(path.relative_to(SHARED)), "long_side": long_side,
                         "min_confidence": confidence, "frames": len(counts), "with_face": int((counts > 0).sum()),
                         "extra": int((counts > usual).sum()), "seconds": seconds})
        print(f"  {i + 1}/{len(videos)} {path.name}", flush=True)
    return pd.DataFrame(rows), default_boxes


class Replay:
    """A detector that answers from boxes already detected on every sampled frame; its frames are positions."""

    def __init__(self, per_frame: list) -> None:
        self.per_frame, self.calls = per_frame, 0

    def detect(self, frames: list[np.ndarray]) -> list:
        self.calls += len(frames)
        return [self.per_frame[int(frame[0])] for frame in frames]


def main_track(per_frame: list, indices: list[int], fps: float, stride: int) -> tuple[dict[int, tuple], int]:
    """{position: (box, detected)} of the main person when detection runs on every stride-th frame (fewer where
    keyframes would be over max_keyframe_gap apart), and the number of frames the detector ran on (keyframes plus
    the neighbours of keyframes without a face)."""
    cfg = replace(DEFAULT, detect_stride=stride)
    replay = Replay(per_frame)
    _, _, seen = _detect_sampled(((index, np.array([p])) for p, index in enumerate(indices)), cfg, replay, fps)
    return {p: (box, detected) for p, track, box, detected in track_rows(seen, cfg) if track == 0}, replay.calls


def interpolation(default_boxes: dict[str, tuple]) -> pd.DataFrame:
    """Per stride: main-person frames, detector frames, and the interpolated boxes against stride 1's detections."""
    references = [main_track(*boxes, 1)[0] for boxes in default_boxes.values()]  # detection on every frame
    rows = []
    for stride in STRIDES:
        frames = with_box = calls = interpolated = 0
        overlaps = []
        for (per_frame, indices, fps), reference in zip(default_boxes.values(), references, strict=True):
            track, n_calls = main_track(per_frame, indices, fps, stride)
            frames, with_box, calls = frames + len(per_frame), with_box + len(track), calls + n_calls
            for position, (box, detected) in track.items():
                if not detected:
                    interpolated += 1
                    if position in reference:
                        overlaps.append(iou(box, reference[position][0]))
        overlaps = np.array(overlaps)
        rows.append({"stride": f"{stride}" + (" (default)" if stride == DEFAULT.detect_stride else ""),
                     "frames detected": f"{calls} / {frames}", "main-person frames": f"{with_box} / {frames}",
                     "interpolated": interpolated,
                     "IoU median": np.median(overlaps) if len(overlaps) else np.nan,
                     "IoU 5th pct": np.percentile(overlaps, 5) if len(overlaps) else np.nan,
                     "IoU < 0.5": f"{int((overlaps < 0.5).sum())} / {len(overlaps)}"})
    return pd.DataFrame(rows)


def multiface(detectors) -> dict[tuple[int, float], tuple[int, int]]:
    """Faces found on multiface.jpg per setting, and how many overlap no face of the default setting."""
    image = cv2.cvtColor(cv2.imread(str(SHARED / "data" / "real-faces" / "multiface.jpg")), cv2.COLOR_BGR2RGB)
    found = {s: d.detect([image])[0] for s, d in detectors.items()}
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
    results, default_boxes = measure(videos, detectors)
    summary = table(results, multiface(detectors))
    text = to_markdown(summary.set_index("setting"), floatfmt=".3f")
    strides = to_markdown(interpolation(default_boxes).set_index("stride"), floatfmt=".3f")
    worst = (results.assign(recall=results["with_face"] / results["frames"])
             .query("long_side == @DEFAULT.detect_long_side and min_confidence == @DEFAULT.min_confidence")
             .nsmallest(8, "recall").set_index("video")[["with_face", "frames"]])
    print(text)
    print("\nlowest-recall videos at the default setting:\n" + to_markdown(worst))
    print("\nthe tracker's stride at the default setting:\n" + strides)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(f"# Face recall on {len(results['video'].unique())} real videos (32 frames each)\n\n{text}\n\n"
                        "Lowest-recall videos at the default setting:\n\n" + to_markdown(worst) + "\n\n"
                        f"## The tracker's stride at the default setting ({SETTINGS[0][0]} px, conf >= "
                        f"{SETTINGS[0][1]})\n\nDetection on every k-th sampled frame, replayed from the detections "
                        "on every frame; the main person's interpolated boxes against the boxes detected on the "
                        "same frames (stride 1).\n\n" + strides + "\n")
    results.to_csv(args.out.with_suffix(".csv"), index=False)


if __name__ == "__main__":
    main()
