"""The benchmark suites: each a short `run(data_dir, cfg, out_dir, work_dir, *, quick, mesonet_dir)` over the stage
API, with the machinery they share (fold loop, bootstrap, tables, figures, results files) in `common`.

A suite is a registry entry: the module holding its `run`, the config class of its settings, the settings it
fixes over that class's defaults, and its quick (CI-sized) settings. `benchmark --suite NAME` runs one, with
flags generated from the config class; `run_suite` is the same from Python. A new suite is one module and one
entry here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deepfake_detection import config as C

if TYPE_CHECKING:
    from deepfake_detection.studies.common import SuiteResult


@dataclass(frozen=True)
class Suite:
    module: str  # deepfake_detection.studies.MODULE holds the suite's `run`
    config: type  # the dataclass of its settings
    help: str
    preset: dict[str, Any] = field(default_factory=dict)  # settings the suite fixes over the config's defaults
    quick: dict[str, Any] = field(default_factory=dict)  # CI-sized settings for --quick (a machinery check)
    work: str | None = None  # default work folder name under work/ (default: the suite's name)


SUITES: dict[str, Suite] = {
    "dfdc-crops": Suite("crops", C.CropsBenchmarkConfig, "5-fold group CV at crop level on a face-crop folder "
                        "(../shared/data/dfdc-faces): the zoo's recipes, stack, pretrained MesoNet rows, null check",
                        quick=C.QUICK_CROPS_BENCHMARK),
    "dfdc-ablation": Suite("crops", C.CropsBenchmarkConfig, "dfdc-crops plus every CROP_ABLATIONS pair (trainings "
                           "shared with dfdc-crops through work/dfdc-crops)",
                           preset={"ablations": tuple(C.CROP_ABLATIONS)}, quick=C.QUICK_CROPS_BENCHMARK,
                           work="dfdc-crops"),
    "ffpp": Suite("ffpp", C.BenchmarkConfig, "video-level group CV on FaceForensics++ (extraction, training, stack, "
                  "per method and compression, cross-compression, ablations)", quick=C.QUICK_BENCHMARK),
    "cross-ffpp": Suite("cross", C.CrossDatasetConfig, "trained models (--models, the zoo) on every FF++ video, "
                        "per method and compression; nothing fitted on them"),
    "ffpp-pooled": Suite("pooled", C.PooledConfig, "group CV on FF++ videos: one recipe trained on the other FF++ "
                         "folds alone and pooled with the DFDC crops, beside the zoo's (DFDC only) model",
                         quick=C.QUICK_POOLED),
    "ffpp-finetune": Suite("pooled", C.PooledConfig, "group CV on FF++ videos: each fold model of the zoo's "
                           "DFDC-trained meso4_long fine-tuned on the other FF++ folds and averaged, beside the zoo's "
                           "model as it is and the original MesoNet weights",
                           preset={"recipe": "meso4_long", "trainings": ("fine-tune",)}, quick=C.QUICK_FINE_TUNE),
    "face-clips": Suite("cross", C.CrossDatasetConfig, "trained models on REAL/ FAKE/ video folders (the DFDC "
                        "face-crop clips), with the overlap with --train-labels",
                        preset={"name": "DFDC face-crop clip", "train_labels": "../shared/data/dfdc-faces/labels.csv"}),
}


def get_suite(name: str) -> Suite:
    if name not in SUITES:
        raise ValueError(f"unknown suite {name!r}; choose from {', '.join(SUITES)}")
    return SUITES[name]


def suite_defaults(name: str, quick: bool = False) -> dict[str, Any]:
    """The settings a suite starts from over its config class's defaults: its preset, then its quick settings."""
    suite = get_suite(name)
    return {**suite.preset, **(suite.quick if quick else {})}


def suite_config(name: str, quick: bool = False, **changes: Any):
    """A suite's settings: config defaults < the suite's preset < its quick settings < changes."""
    suite = get_suite(name)
    return replace(suite.config(), **{**suite_defaults(name, quick), **changes})


def run_suite(name: str, data_dir: str | Path, out_dir: str | Path | None = None, work_dir: str | Path | None = None,
              *, cfg=None, quick: bool = False, mesonet_dir: str | Path | None = C.MESONET_DIR) -> SuiteResult:
    """Run one suite; out_dir defaults to reports/NAME, work_dir to work/NAME (trainings there are reused).

    Returns its SuiteResult: the report folder (results.md, results.json), the scores table (one row per model and
    subset), the facts and the suite's other tables."""
    suite = get_suite(name)
    cfg = suite_config(name, quick) if cfg is None else cfg
    if not isinstance(cfg, suite.config):
        raise TypeError(f"suite {name} takes a {suite.config.__name__}, got {type(cfg).__name__}")
    module = importlib.import_module(f"deepfake_detection.studies.{suite.module}")
    return module.run(data_dir, cfg, out_dir or Path("reports") / name, work_dir or Path("work") / (suite.work or name),
                      quick=quick, mesonet_dir=mesonet_dir)


__all__ = ["SUITES", "Suite", "get_suite", "run_suite", "suite_config", "suite_defaults"]
