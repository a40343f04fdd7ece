"""Atomic file writes: every artifact is written under a temporary name in its folder, then renamed.

A reader (or a resumed run) therefore sees the old file or the new one, never half a file, even when
the writer is killed. The temporary name is unique per writer, so parallel workers do not collide.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd


def _temporary(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


def atomic_write_bytes(data: bytes, path: str | Path) -> Path:
    """Write bytes to path atomically; returns path."""
    path = Path(path)
    tmp = _temporary(path)
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


def atomic_write_text(text: str, path: str | Path) -> Path:
    """Write UTF-8 text to path atomically; returns path."""
    return atomic_write_bytes(text.encode("utf-8"), path)


def atomic_write_json(data, path: str | Path, indent: int | None = 2,
                      default: Callable[[Any], Any] | None = None) -> Path:
    """Write JSON (sorted keys when indented: stable diffs) atomically; returns path. default: as json.dumps's,
    for values JSON lacks (e.g. numpy scalars)."""
    text = json.dumps(data, indent=indent, sort_keys=indent is not None, ensure_ascii=False, default=default)
    return atomic_write_text(text + ("\n" if indent is not None else ""), path)


def atomic_write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a DataFrame as CSV (no index) atomically; returns path."""
    return atomic_write_text(frame.to_csv(index=False), path)


ERRORS_FILE = "errors.csv"
ERRORS_COLUMNS = ["input", "status", "reason"]


def write_errors(rows: list[tuple[str, str, str]], out_dir: str | Path) -> Path:
    """out_dir/errors.csv: every input a stage could not fully use (status other than "ok") with the reason, so a
    run's failures are one file to read, not a log to search. Written (possibly with no rows) by every run."""
    table = pd.DataFrame([r for r in rows if r[1] != "ok"], columns=ERRORS_COLUMNS)
    return atomic_write_csv(table.sort_values("input", kind="stable"), Path(out_dir) / ERRORS_FILE)
