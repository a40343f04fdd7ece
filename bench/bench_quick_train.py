"""Is a quick training run faster eager than traced? Seconds per `train_model` run, both ways, one table.

A quick run (`train.quick_config`: 1 epoch of 2 batches per fold) is what CI, the quick notebooks and
`demo --quick` train. Traced (the baseline, Keras' default) pays for tracing the train and predict steps once per
run; eager (`TrainConfig.run_eagerly`, which quick_config sets) pays Python per op on every step. Each model trains
on the same real DFDC face crops (a seeded sample of whole groups, 2 group folds), traced then eager, each run in a
fresh process as `train --quick` and a notebook kernel run it (the time is that of `train_model`, imports left out).

    .venv/bin/python bench/bench_quick_train.py [--models meso4 mobilenet_v3_small xception] [--groups 16]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pandas as pd  # noqa: E402

from deepfake_detection.config import TrainConfig  # noqa: E402
from deepfake_detection.dataset import make_folds  # noqa: E402
from deepfake_detection.studies.crops import crop_index  # noqa: E402
from deepfake_detection.train import quick_config, train_model  # noqa: E402

CROPS = Path(os.environ.get("DFD_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "data" / "dfdc-faces"
MODELS = ("meso4", "mobilenet_v3_small", "efficientnet_b0", "xception", "inception_resnet_v2")


def _train(cfg: TrainConfig, folds_csv: Path, out: Path, seconds) -> None:
    start = time.perf_counter()
    train_model(CROPS, folds_csv, cfg, fold="all", out_dir=out)
    seconds.value = time.perf_counter() - start


def timed_run(cfg: TrainConfig, folds_csv: Path, out: Path) -> float:
    """Seconds of one quick train_model run over every fold, in a fresh (spawned) process."""
    context = multiprocessing.get_context("spawn")
    seconds = context.Value("d", float("nan"))
    process = context.Process(target=_train, args=(cfg, folds_csv, out, seconds))
    process.start()
    process.join()
    if process.exitcode != 0:
        raise SystemExit(f"{cfg.model}: the training process exited with {process.exitcode}")
    return seconds.value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--groups", type=int, default=16, help="whole DFDC groups sampled (seeded)")
    args = parser.parse_args()
    if not CROPS.is_dir():
        raise SystemExit(f"{CROPS} not found: this bench needs ../shared beside the checkout")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        folds = make_folds(crop_index(CROPS, args.groups, seed=0), k=2, seed=0)
        folds.to_csv(work / "folds.csv", index=False)
        print(f"{len(folds)} crops of {folds['group'].nunique()} groups, 2 folds; load average "
              f"{os.getloadavg()[0]:.2f}", flush=True)
        rows = []
        for name in args.models:
            cfg = quick_config(TrainConfig(model=name, verbose=0))
            seconds = {eager: timed_run(replace(cfg, run_eagerly=eager), work / "folds.csv", work / f"{name}_{eager}")
                       for eager in (False, True)}
            rows.append({"model": name, "size": cfg.size, "traced s (baseline)": seconds[False],
                         "eager s": seconds[True], "eager / traced": seconds[True] / seconds[False]})
            print(rows[-1], flush=True)
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.2f}"))


if __name__ == "__main__":
    main()
