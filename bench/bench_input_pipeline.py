"""Does the tf.data pipeline keep the model fed? Training images/s: in-memory tensors vs JPEG crops + augmentation.

Prints, in one run:
1. training-step throughput of efficientnet_b0 at 128 px on one synthetic in-memory batch (model only);
2. the same training step fed by `pipeline.train_dataset` from JPEG crops with the default augmentation,
   balanced batches and on-the-fly self-blending (the full input pipeline);
3. the pipeline alone (no model), to show its headroom;
4. CPU inference ms/image of every registry model at 128 px (`bench_models.inference_table`).
Target: (2) >= 90 % of (1). Crops come from the real DFDC face clips in ../shared (resized to 128 px).

    .venv/bin/python bench/bench_input_pipeline.py [--steps 30] [--batch-size 32] [--skip-inference]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import tensorflow as tf  # noqa: E402

from bench_models import inference_table  # noqa: E402  (bench/ is on sys.path when run as a script)
from deepfake_detection import pipeline  # noqa: E402
from deepfake_detection.config import TrainConfig  # noqa: E402
from deepfake_detection.models import REGISTRY, build_model  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CLIPS = Path(os.environ.get("DFD_SHARED", REPO.parent / "shared")) / "data" / "face-clips"
WARMUP_STEPS = 5


def write_crops(out_dir: Path, size: int, frames_per_clip: int) -> pd.DataFrame:
    """JPEG crops from the face clips; a frame table like `pipeline.frames_with_folds` returns."""
    rows = []
    for clip in sorted(CLIPS.glob("*/*.mp4")):
        label = 1 if clip.parent.name == "FAKE" else 0
        capture = cv2.VideoCapture(str(clip))
        for frame in range(frames_per_clip):
            ok, image = capture.read()
            if not ok:
                break
            path = out_dir / f"{clip.stem}_{frame:03d}.jpg"
            cv2.imwrite(str(path), cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA),
                        [cv2.IMWRITE_JPEG_QUALITY, 95])
            rows.append({"video_id": clip.stem, "frame": frame, "track": 0, "path": str(path), "label": label,
                         "group": clip.stem, "fold": 0})
        capture.release()
    return pd.DataFrame(rows)


class StepTimer(keras.callbacks.Callback):
    """Wall time of the training batches after the warm-up ones."""

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        if batch == WARMUP_STEPS - 1:
            self.start = time.perf_counter()
        self.end = time.perf_counter()


def train_rate(model: keras.Model, dataset: tf.data.Dataset, steps: int, batch_size: int) -> float:
    """Training images/s over `steps` batches after WARMUP_STEPS."""
    timer = StepTimer()
    model.fit(dataset, epochs=1, steps_per_epoch=WARMUP_STEPS + steps, callbacks=[timer], verbose=0, shuffle=False)
    return steps * batch_size / (timer.end - timer.start)


def pipeline_rate(dataset: tf.data.Dataset, steps: int, batch_size: int) -> float:
    """Images/s of iterating the input pipeline alone."""
    iterator = iter(dataset)
    for _ in range(WARMUP_STEPS):
        next(iterator)
    start = time.perf_counter()
    for _ in range(steps):
        next(iterator)
    return steps * batch_size / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="efficientnet_b0")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=30, help="timed training steps per measurement")
    parser.add_argument("--self-blend", type=float, default=0.2)
    parser.add_argument("--skip-inference", action="store_true")
    parser.add_argument("--skip-training", action="store_true", help="only the inference table")
    args = parser.parse_args(argv)
    if not CLIPS.is_dir():
        print(f"face clips not found at {CLIPS}; set DFD_SHARED", file=sys.stderr)
        return 1
    keras.utils.set_random_seed(0)
    cfg = TrainConfig(model=args.model, size=args.size, batch_size=args.batch_size, self_blend=args.self_blend)
    print(f"devices: {[d.name for d in tf.config.list_logical_devices()]}; CPU cores: {os.cpu_count()}")
    if not args.skip_training:
        training_table(args, cfg)
    if not args.skip_inference:
        table = inference_table(list(REGISTRY), args.size, args.batch_size, repeats=3)
        print(f"\nCPU inference at {args.size} px, batch {args.batch_size} (bench_models: random weights, "
              "median and best of 3 batches)")
        print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    return 0


def training_table(args: argparse.Namespace, cfg: TrainConfig) -> None:
    """Print training images/s: model only, full pipeline, cached pipeline, pipeline alone."""
    with tempfile.TemporaryDirectory() as tmp:
        frames = write_crops(Path(tmp), args.size, frames_per_clip=24)
        print(f"{len(frames)} JPEG crops at {args.size} px from {frames['video_id'].nunique()} DFDC face clips; "
              f"augment={','.join(cfg.augment)}, self_blend={cfg.self_blend}, imbalance={cfg.imbalance}")
        model = build_model(args.model, args.size)
        model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="binary_crossentropy")
        x = np.random.default_rng(0).uniform(0, 255, (args.batch_size, args.size, args.size, 3)).astype(np.float32)
        y = np.tile([[0.0], [1.0]], (args.batch_size // 2, 1)).astype(np.float32)
        in_memory = tf.data.Dataset.from_tensors((x, y)).repeat()
        n = WARMUP_STEPS + args.steps
        rows = [("model only (in-memory tensors)", train_rate(model, in_memory, args.steps, args.batch_size))]
        full = pipeline.train_dataset(frames, cfg, epochs=1, steps_per_epoch=n)
        rows.append(("tf.data from JPEG crops + augmentation", train_rate(model, full, args.steps, args.batch_size)))
        cached = pipeline.train_dataset(frames, replace(cfg, cache=True), epochs=1, steps_per_epoch=n)
        rows.append(("same, decoded crops cached in memory", train_rate(model, cached, args.steps, args.batch_size)))
        alone = pipeline.train_dataset(frames, cfg, epochs=1, steps_per_epoch=n)
        rows.append(("input pipeline alone (no model)", pipeline_rate(alone, args.steps, args.batch_size)))
    table = pd.DataFrame(rows, columns=["measurement", "images_per_s"])
    table["share_of_model_only"] = (table["images_per_s"] / table["images_per_s"].iloc[0]).map("{:.0%}".format)
    print(f"\n{args.model} training at {args.size} px, batch {args.batch_size}, {args.steps} timed steps")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    ratio = rows[1][1] / rows[0][1]
    print(f"pipeline / model-only = {ratio:.0%} (target >= 90%): {'met' if ratio >= 0.9 else 'NOT met'}")


if __name__ == "__main__":
    raise SystemExit(main())
