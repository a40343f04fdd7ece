"""How fast does each registry model score face crops on this CPU? ms/image of inference, one table.

Every model is built with random weights (speed does not depend on the weights), warmed up on two
batches, then timed on `--repeats` more; the table shows the median and the best ms per image.
The load average before and after is printed because other processes on the machine distort the numbers.

    .venv/bin/python bench/bench_models.py [--size 128] [--batch-size 32] [--repeats 5] [--models meso4 xception]

`inference_table` is importable from another bench script in this folder (`from bench_models import inference_table`).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from deepfake_detection.models import REGISTRY, build_model  # noqa: E402

WARMUP_BATCHES = 2


def time_inference(name: str, size: int, batch_size: int, repeats: int) -> dict:
    """Build one registry model and time `predict_on_batch` on a random 0–255 batch (N, size, size, 3)."""
    start = time.perf_counter()
    model = build_model(name, size=size)
    build_s = time.perf_counter() - start
    batch = np.random.default_rng(0).uniform(0, 255, (batch_size, size, size, 3)).astype(np.float32)
    for _ in range(WARMUP_BATCHES):
        model.predict_on_batch(batch)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict_on_batch(batch)
        seconds.append(time.perf_counter() - start)
    row = {"model": name, "params_M": model.count_params() / 1e6, "build_s": build_s,
           "ms_per_image": 1000 * statistics.median(seconds) / batch_size,
           "best_ms_per_image": 1000 * min(seconds) / batch_size}
    keras.backend.clear_session()
    return row


def inference_table(names: list[str], size: int = 128, batch_size: int = 32, repeats: int = 5) -> pd.DataFrame:
    """One row per model: parameters, build seconds, median and best CPU ms per image."""
    rows = []
    for name in names:
        rows.append(time_inference(name, size, batch_size, repeats))
        print(f"  {name}: {rows[-1]['ms_per_image']:.2f} ms/image", flush=True)
    table = pd.DataFrame(rows)
    table["images_per_s"] = 1000 / table["ms_per_image"]
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5, help="timed batches per model after the warm-up")
    parser.add_argument("--models", nargs="+", default=list(REGISTRY), choices=list(REGISTRY))
    args = parser.parse_args(argv)
    print(f"CPU cores: {os.cpu_count()}; load average before: {os.getloadavg()[0]:.2f}")
    table = inference_table(args.models, args.size, args.batch_size, args.repeats)
    print(f"\nCPU inference at {args.size} px, batch {args.batch_size}, random weights, "
          f"median (and best) of {args.repeats} batches after {WARMUP_BATCHES} warm-up batches")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
