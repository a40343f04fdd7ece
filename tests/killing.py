"""Kill a command with SIGKILL at chosen points of its work, for the kill-and-resume tests.

A point is (units finished, extra delay): the command runs until `done()` counts that many finished units
(videos extracted, predictions logged), then a further random delay lands the kill somewhere inside the next
unit: while decoding, detecting, scoring or writing. Points come from a seeded generator, so a failure replays.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence

import numpy as np

MAX_DELAY = 0.6  # seconds after the unit count is reached: a unit of the demo data takes about this long


def kill_points(total: int, n: int, seed: int) -> list[tuple[int, float]]:
    """n points with rising unit counts in [0, total): (units finished before the kill, delay in seconds)."""
    rng = np.random.default_rng(seed)
    counts = np.sort(rng.choice(np.arange(total), size=min(n, total), replace=False))
    return [(int(c), float(rng.uniform(0, MAX_DELAY))) for c in counts]


def run_until_killed(command: Sequence[str], done: Callable[[], int], after: int, delay: float,
                     cwd: str | os.PathLike | None = None, timeout: float = 180) -> bool:
    """Start `command`, SIGKILL its whole process group once `done() >= after` plus `delay` seconds.

    Returns True when the kill landed before the command finished by itself (False: it completed first).
    """
    env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen(list(command), cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout
    while process.poll() is None and done() < after:
        if time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            raise TimeoutError(f"{command[:4]}... did not reach {after} finished units in {timeout} s")
        time.sleep(0.02)
    time.sleep(delay)
    finished = process.poll() is not None
    if not finished:
        os.killpg(process.pid, signal.SIGKILL)  # the group: worker processes die with their parent
    process.wait()
    return not finished
