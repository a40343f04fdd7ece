"""The shared report helpers: one markdown table writer and one step timer for every report and bench."""

from __future__ import annotations

import logging
import subprocess
import time

import numpy as np
import pandas as pd

from conftest import REPO
from deepfake_detection.reporting import lap, step, to_markdown


def test_markdown_table_keeps_column_types_and_formats():
    frame = pd.DataFrame({"n": [10, 200], "auc": [0.51234, np.nan], "name": ["a", "b"]},
                         index=pd.Index(["x", "y"], name="model"))
    assert to_markdown(frame, ".2f").splitlines() == [
        "| model | n | auc | name |", "|---|---|---|---|", "| x | 10 | 0.51 | a |", "| y | 200 | nan | b |"]
    assert to_markdown(frame, formats={"auc": "{:.1%}"}, index=False).splitlines()[2] == "| 10 | 51.2% | a |"
    assert to_markdown(frame.iloc[:0], index=False) == "| n | auc | name |\n|---|---|---|"


def test_step_and_lap_time_into_one_dict_and_log(caplog):
    timings: dict[str, float] = {}
    with caplog.at_level(logging.INFO), step("sleep", timings, logging.getLogger("t"), digits=2):
        time.sleep(0.05)
    start = lap(timings, "next", time.perf_counter() - 0.2)
    assert 0.04 <= timings["sleep"] < 1 and 0.2 <= timings["next"] < 1 and start <= time.perf_counter()
    assert "== sleep" in caplog.text and "sleep done in" in caplog.text


def test_markdown_tables_are_laid_out_in_one_place():
    """No module but reporting.py writes a table rule: the others build cells and call to_markdown."""
    hits = subprocess.run(["grep", "-rln", "--include=*.py", "-e", "---|", str(REPO / "src")], capture_output=True,
                          text=True).stdout.split()
    assert [p.rsplit("/", 1)[-1] for p in hits] == ["reporting.py"], hits
