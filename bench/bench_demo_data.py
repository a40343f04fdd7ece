"""How long does `demo-data` take? Wall and CPU seconds for the default 40-video dataset, per worker count.

Each run writes a fresh dataset to a temporary folder (train + test clips + broken files) and
reports wall seconds, CPU seconds of this process and its worker processes, clips and frames
written, and ms of CPU per frame. The load average is printed before and after because other
processes on the machine stretch wall time (CPU seconds are the steadier number).
Target (issue 3): 40 videos in under 60 s on 2 cores.

    .venv/bin/python bench/bench_demo_data.py [--videos 40] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

import pandas as pd

from deepfake_detection.synth import make_demo_dataset


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def time_run(videos: int, workers: int) -> dict:
    """One demo-data run: wall and CPU seconds, clips and frames written."""
    with tempfile.TemporaryDirectory() as tmp:
        cpu, wall = cpu_seconds(), time.perf_counter()
        make_demo_dataset(tmp, n_videos=videos, seed=0, workers=workers)
        wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
        clips = json.loads((Path(tmp) / "demo_manifest.json").read_text())["clips"]
    frames = sum(c["frames"] for c in clips)
    return {"workers": workers, "clips": len(clips), "frames": frames, "wall_s": round(wall, 1),
            "cpu_s": round(cpu, 1), "cpu_ms_per_frame": round(1000 * cpu / frames, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=40)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}, cores: {os.cpu_count()}")
    rows = [time_run(args.videos, workers) for workers in args.workers]
    print(pd.DataFrame(rows).to_string(index=False))
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
