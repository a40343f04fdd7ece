"""The two helpers every report and benchmark shares: a markdown table writer and a step timer.

Domain modules decide what goes into a table (which rows, how a metric and its interval read); this module
only lays the cells out, so every table in reports/ and bench/results has the same shape.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd


def to_markdown(frame: pd.DataFrame, floatfmt: str | None = ".4f", formats: dict[str, str] | None = None,
                index: bool = True) -> str:
    """A DataFrame as a GitHub markdown table (header, `|---|` rule, one line per row; no trailing newline).

    floatfmt: format spec of float cells (None: str); formats: a `str.format` pattern per column, e.g.
    {"auc": "{:.3f}"}, which wins over floatfmt; index: the index as the first column, headed by its name.
    Cells keep their column's type (an int column prints as ints).
    """
    formats = formats or {}

    def cell(column, value) -> str:
        if column in formats:
            return formats[column].format(value)
        if floatfmt is not None and isinstance(value, float | np.floating):
            return format(value, floatfmt)
        return str(value)

    header = ([str(frame.index.name or "")] if index else []) + [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, values in zip(frame.index, frame.itertuples(index=False), strict=True):
        cells = [cell(c, v) for c, v in zip(frame.columns, values, strict=True)]
        lines.append("| " + " | ".join(([str(label)] if index else []) + cells) + " |")
    return "\n".join(lines)


def lap(timings: dict[str, float], name: str, since: float, digits: int | None = None,
        logger: logging.Logger | None = None) -> float:
    """timings[name] = seconds since `since` (rounded to `digits` when given; logged when a logger is given).
    Returns now, the next step's start, so consecutive steps chain: `start = lap(timings, "x", start)`."""
    now = time.perf_counter()
    timings[name] = now - since if digits is None else round(now - since, digits)
    if logger is not None:
        logger.info("%s done in %.1f s", name, timings[name])
    return now


@contextmanager
def step(name: str, timings: dict[str, float], logger: logging.Logger | None = None,
         digits: int | None = 1) -> Iterator[None]:
    """Time (and log) one step of a run into timings[name]: `with step("extract", timings, log): ...`."""
    if logger is not None:
        logger.info("== %s", name)
    start = time.perf_counter()
    yield
    lap(timings, name, start, digits, logger)


__all__ = ["lap", "step", "to_markdown"]
