"""What do forensic_gbm's feature layers cost per crop, and what did counting LBP patterns change?

`forensic_gbm` computes spectrum, SRM-residual and LBP statistics of four views of every 224 px crop before
its trees; on the 15,172 DFDC crops that is the feature step of `make models`. Baseline: the LBP histogram
as the mean of a one-hot tensor (N, pixels, 59), the implementation before `features.bin_counts`. Prints, in
one run on the same real DFDC crops: ms per crop of the four views with each LBP histogram, the LBP step
alone on one luma view, and the largest feature difference between the two (counting is exact; the one-hot
mean rounds a share by up to one float32 step). The load average is printed: other processes distort timings.

    .venv/bin/python bench/bench_features.py [--n-crops 256] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from keras import ops  # noqa: E402

from deepfake_detection import features  # noqa: E402
from deepfake_detection.faces import resize_crop  # noqa: E402
from deepfake_detection.features import HISTOGRAM_FLOOR, LBP_BINS, ForensicFeatures, view_features  # noqa: E402

DATA = Path(os.environ.get("DFD_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "data" / "dfdc-faces"
SIZE, BATCH = 224, 32


class OneHotLBP(ForensicFeatures):
    """The baseline: ForensicFeatures with its LBP shares taken as the mean of a one-hot tensor."""

    def lbp(self, gray):
        pattern = self.lbp_patterns(gray)
        return ops.log(ops.mean(ops.one_hot(pattern, LBP_BINS, dtype="float32"), axis=1) + HISTOGRAM_FLOOR)


def read_crops(n: int, seed: int) -> np.ndarray:
    """n DFDC face crops as float32 (n, 224, 224, 3) RGB 0-255 (the size forensic_gbm reads)."""
    files = pd.read_csv(DATA / "labels.csv").sample(n, random_state=seed)["file"]
    images = [resize_crop(cv2.cvtColor(cv2.imread(str(DATA / f)), cv2.COLOR_BGR2RGB), SIZE) for f in files]
    return np.stack(images).astype(np.float32)


def views_model(layer_class: type[ForensicFeatures]) -> keras.Model:
    """forensic_gbm's four feature views (features.view_features) with the given ForensicFeatures class."""
    inputs = keras.Input((SIZE, SIZE, 3))
    return keras.Model(inputs, view_features(inputs, layer=layer_class))


def ms_per_crop(run, x: np.ndarray, repeats: int) -> tuple[float, np.ndarray]:
    """Best of `repeats` timed passes (after one warm-up batch): ms per crop, and the output."""
    run(x[:BATCH])
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = run(x)
        times.append(time.perf_counter() - start)
    return min(times) / len(x) * 1000, out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-crops", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not (DATA / "labels.csv").exists():
        print(f"no DFDC face crops at {DATA}; nothing to measure")
        return 1
    keras.utils.set_random_seed(args.seed)
    x = read_crops(args.n_crops, args.seed)
    print(f"{len(x)} DFDC face crops at {SIZE} px, batch {BATCH}, best of {args.repeats}; "
          f"CPU cores {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")
    rows, outputs = [], {}
    for name, layer_class in (("one-hot mean (baseline)", OneHotLBP), ("segment counts (features.bin_counts)",
                                                                       ForensicFeatures)):
        model = views_model(layer_class)
        full, outputs[name] = ms_per_crop(lambda a, m=model: m.predict(a, batch_size=BATCH, verbose=0), x,
                                          args.repeats)
        luma = layer_class(channel="luma")
        luma.build(x.shape)
        gray = ops.convert_to_tensor(x @ np.array(features.GRAY_WEIGHTS, np.float32))
        lbp, _ = ms_per_crop(lambda a, layer=luma: np.concatenate(
            [ops.convert_to_numpy(layer.lbp(a[i:i + BATCH])) for i in range(0, len(a), BATCH)]),
            ops.convert_to_numpy(gray), args.repeats)
        rows.append({"LBP histogram": name, "4 views ms/crop": full, "LBP of one view ms/crop": lbp})
    table = pd.DataFrame(rows)
    table["4 views speed-up"] = (table["4 views ms/crop"].iloc[0] / table["4 views ms/crop"]).map("{:.2f}x".format)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    first, second = outputs.values()
    diff = np.abs(first - second)
    print(f"features: max |difference| {diff.max():.2e}, {int((diff > 0).sum())} of {diff.size} values differ")
    minutes = table["4 views ms/crop"] * 15172 / 60000
    print(f"the 15,172 DFDC crops' feature step: {minutes.iloc[0]:.1f} min -> {minutes.iloc[1]:.1f} min (compute only, "
          "without JPEG decoding)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
