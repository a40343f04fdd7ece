"""What each face-detection setting does to the shipped zoo's quality, on the real labelled videos.

`bench_extract.py` measures what detection at a smaller size or on fewer frames saves in CPU time, and
`bench_recall.py` how often it still finds a face. This bench measures the last link: the zoo's stacked P(FAKE)
per video, each video through `detect` exactly as the cross-dataset suites run it (`studies.cross`), once per
extraction setting, on FaceForensics++ (67 videos, 7 identity groups) and the DFDC face-crop clips (20 videos,
one of them REAL: its AUC rests on that one video).
Nothing is fitted on these videos. Per data set and setting: ROC AUC and balanced log loss with group-bootstrap
95 % intervals, and the paired difference from the default setting on the same videos and the same group
resamples (common.ablation_row), and the seconds per video of that pass (wall, the load average printed;
the first setting of each data set also loads the models).
These sets are held-out test data: the table reports a trade-off, it does not tune one.

    .venv/bin/python bench/bench_detect_quality.py [--out bench/results/detect_quality.md] [--n-boot 1000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pandas as pd  # noqa: E402

from deepfake_detection.artifacts import ModelsDir  # noqa: E402
from deepfake_detection.config import ExtractConfig  # noqa: E402
from deepfake_detection.reporting import to_markdown  # noqa: E402
from deepfake_detection.studies.common import ablation_row, format_delta, format_metric  # noqa: E402
from deepfake_detection.studies.cross import STACK, cross_dataset_videos  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DFD_SHARED", REPO.parent / "shared"))
DATASETS = {"FaceForensics++": SHARED / "data" / "ffpp", "DFDC face-crop clips": SHARED / "data" / "face-clips"}
DEFAULT = ExtractConfig()
SETTINGS = {  # name -> the ExtractConfig changes of that setting (one row of bench_extract's lever table each)
    f"default ({DEFAULT.detect_long_side} px, detection stride {DEFAULT.detect_stride})": {},
    "640 px": {"detect_long_side": 640},
    "detection stride 2": {"detect_stride": 2},
    "640 px, stride 2 (the defaults until 2026-12-07)": {"detect_long_side": 640, "detect_stride": 2},
}


def measure(data_dir: Path, models: ModelsDir, work: Path, seed: int) -> tuple[pd.DataFrame, dict[str, float]]:
    """Every labelled video of data_dir with one stack column per setting, and seconds per video per setting."""
    videos, seconds = None, {}
    for name, changes in SETTINGS.items():
        start = time.perf_counter()
        scored = cross_dataset_videos(data_dir, models, work / str(len(seconds)), seed, replace(DEFAULT, **changes))
        seconds[name] = (time.perf_counter() - start) / len(scored)
        if videos is None:
            videos = scored[["video_id", "label", "group"]].copy()
        assert (videos["video_id"] == scored["video_id"]).all(), "the index order changed between passes"
        videos[name] = scored[STACK].to_numpy(float)
    return videos, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=str(REPO / "models" / "zoo"))
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "detect_quality.md"))
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    missing = [str(p) for p in DATASETS.values() if not p.is_dir()]
    if missing:
        print(f"no real labelled videos at {', '.join(missing)}; nothing to measure")
        return 1
    load = os.getloadavg()[0]
    rows, base = [], next(iter(SETTINGS))
    with tempfile.TemporaryDirectory() as work:
        for dataset, data_dir in DATASETS.items():
            videos, seconds = measure(data_dir, ModelsDir(args.models), Path(work) / dataset[:4], args.seed)
            for name in SETTINGS:
                row = ablation_row(videos, base, name, name, dataset, args.n_boot, args.seed)
                rows.append({"data": f"{dataset} ({len(videos)} videos, {videos['group'].nunique()} groups)",
                             "setting": name, "stack AUC [95% CI]": format_metric(row, "roc_auc"),
                             "ΔAUC [95% CI]": format_delta(row, "roc_auc"),
                             "balanced log loss [95% CI]": format_metric(row, "balanced_log_loss"),
                             "Δ balanced log loss [95% CI]": format_delta(row, "balanced_log_loss"),
                             "s / video": f"{seconds[name]:.2f}"})
    table = pd.DataFrame(rows)
    text = (f"# The zoo's quality per face-detection setting\n\n`{Path(__file__).name}`, models `{args.models}`, "
            f"{args.n_boot} group-bootstrap resamples, seed {args.seed}, {os.cpu_count()} CPU cores, load average "
            f"{load:.2f} before, {os.getloadavg()[0]:.2f} after. Δ: the setting minus the default on the same videos "
            "(paired group bootstrap).\n\n" + to_markdown(table, index=False) + "\n")
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
