"""The CLI generated from the config dataclasses: a flag per field, typed values, registry choices, and the
defaults < --config < flags < --set layering, down to a replayed training run with the same OOF predictions."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deepfake_detection.cli import INFERENCE_ONLY, build_parser, main
from deepfake_detection.config import DemoConfig, EdaConfig, ExtractConfig, PredictConfig, TrainConfig
from deepfake_detection.config_flags import config_from_args, field_help, parse_set, parse_value
from deepfake_detection.workflow import DemoSettings

COMMANDS = {"train": TrainConfig, "extract": ExtractConfig, "predict": PredictConfig, "detect": PredictConfig,
            "stack": PredictConfig, "eda": EdaConfig, "demo-data": DemoConfig, "demo": DemoSettings}
POSITIONAL = {"train": ["--out", "x"], "extract": ["index.csv", "--out", "x"], "predict": ["videos"],
              "detect": ["a.mp4"], "stack": ["--models", "m", "--out", "s"], "eda": ["data"], "demo-data": ["out"],
              "demo": []}
SKIPPED = {"stack": INFERENCE_ONLY}  # fields a command has no use for


def _parse(command: str, *flags: str):
    return build_parser().parse_args([command, *POSITIONAL[command], *flags])


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_config_field_has_a_flag_with_help(command):
    cls = COMMANDS[command]
    sub = build_parser()._subparsers._group_actions[0].choices[command]
    options = {opt for action in sub._actions for opt in action.option_strings}
    helps = field_help(cls)
    for f in fields(cls):
        if f.name in SKIPPED.get(command, ()):
            assert f"--{f.name.replace('_', '-')}" not in options
            continue
        assert f"--{f.name.replace('_', '-')}" in options, f"{command}: no flag for {cls.__name__}.{f.name}"
        assert helps[f.name].strip(), f"{cls.__name__}.{f.name} has no comment to serve as help"
    assert {"--config", "--set"} <= options


def test_no_flag_given_keeps_every_default():
    for command, cls in COMMANDS.items():
        assert config_from_args(cls, _parse(command)) == cls(), command


def test_values_are_typed_from_the_annotations():
    assert parse_value(TrainConfig, "epochs", "7") == 7
    assert parse_value(TrainConfig, "learning_rate", "3e-4") == pytest.approx(3e-4)
    assert parse_value(TrainConfig, "steps_per_epoch", "none") is None
    assert parse_value(TrainConfig, "weights", "mesonet:Meso4_DF") == "mesonet:Meso4_DF"
    assert parse_value(TrainConfig, "augment", "flip, jpeg") == ("flip", "jpeg")
    assert parse_value(TrainConfig, "augment", "") == ()
    assert parse_value(TrainConfig, "select_best", "false") is False
    assert parse_value(PredictConfig, "clip_grid", "0.01,0.1") == (0.01, 0.1)
    assert parse_value(PredictConfig, "aggregation", "none") is None
    assert parse_value(TrainConfig, "imbalance", "none") == "none"  # a registry name, not None: the field is a str
    assert parse_value(DemoConfig, "frame_sizes", "640x360, 480X360") == ((640, 360), (480, 360))  # pairs in a list
    assert parse_value(DemoConfig, "portrait_size", "360,640") == (360, 640)  # one fixed-length tuple
    assert parse_value(DemoConfig, "seconds", "1.5,2") == (1.5, 2.0)
    for field, text in (("portrait_size", "360"), ("frame_sizes", "640x360x3"), ("seconds", "1,2,3")):
        with pytest.raises(ValueError, match="expected"):
            parse_value(DemoConfig, field, text)
    assert parse_value(DemoSettings, "reports_dir", "out/reports") == Path("out/reports")


@pytest.mark.parametrize("field, value", [("model", "resnet9000"), ("augment", "flip,sharpen"),
                                          ("resize", "cubic"), ("imbalance", "smote")])
def test_values_outside_their_registry_are_refused_with_the_allowed_names(field, value):
    with pytest.raises(ValueError, match="is not one of") as error:
        parse_value(TrainConfig, field, value)
    assert {"model": "meso4", "augment": "jpeg", "resize": "area", "imbalance": "balanced"}[field] in str(error.value)


def test_bad_command_lines_exit_with_a_usage_error(capsys):
    for flags in (["--epochs", "three"], ["--model", "resnet9000"], ["--cache", "yes"]):
        with pytest.raises(SystemExit):
            _parse("train", *flags)
    assert "resnet9000" in capsys.readouterr().err
    with pytest.raises(ValueError, match="no field 'epoch'.*epochs"):
        parse_set(TrainConfig, ["epoch=3"])
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_set(TrainConfig, ["epochs"])
    assert main(["train", "--out", "x", "--set", "epochs=three"]) == 2  # a message, not a traceback
    assert "error: --set epochs=three: invalid literal" in capsys.readouterr().err


def test_layers_apply_in_order_config_then_flags_then_set(tmp_path):
    saved = tmp_path / "config.json"
    saved.write_text(json.dumps({"model": "meso4", "epochs": 9, "size": 256, "augment": ["flip"], "folds": [1]}))
    cfg = config_from_args(TrainConfig, _parse("train", "--config", str(saved), "--epochs", "4", "--no-cache",
                                               "--set", "size=96", "--set", "self-blend=0.25"))
    assert (cfg.model, cfg.epochs, cfg.size, cfg.augment, cfg.self_blend, cfg.cache) == \
        ("meso4", 4, 96, ("flip",), 0.25, False)
    assert cfg.learning_rate == TrainConfig().learning_rate  # absent from the file: the default


def test_extract_keeps_its_old_flag_names(tmp_path):
    cfg = config_from_args(ExtractConfig, _parse("extract", "--original-boxes", "--all-faces", "--frames", "8"))
    assert cfg.use_original_boxes and cfg.all_faces and cfg.frames == 8
    demo = config_from_args(DemoSettings, _parse("demo", "--reports", "r", "--quick", "--models", "meso4"))
    assert (demo.reports_dir, demo.quick, demo.models) == (Path("r"), True, ("meso4",))


def test_help_reads_registries_only_when_shown():
    """Building the parser must not import Keras (every command's start-up), while `train --help` lists the
    model registry's names."""
    code = ("import sys; from deepfake_detection.cli import build_parser; build_parser(); "
            "print('keras' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == "False", run.stderr[-2000:]
    shown = subprocess.run([sys.executable, "-m", "deepfake_detection", "train", "--help"], capture_output=True,
                           text=True, timeout=120)
    assert shown.returncode == 0 and "mesoinception4" in shown.stdout and "25 %" not in shown.stdout


def test_train_config_replays_the_run_with_the_same_oof_predictions(tiny_crops, tmp_path, capsys):
    """`train --config MODEL_DIR/config.json --out NEW` retrains the same model on the same crops, folds and fold
    (all read from the file) and gets the same OOF predictions on CPU."""
    crops_dir, folds_csv = tiny_crops
    first, again = tmp_path / "first", tmp_path / "again"
    assert main(["train", "--crops", str(crops_dir), "--folds", str(folds_csv), "--fold", "1", "--model", "meso4",
                 "--size", "64", "--epochs", "1", "--head-epochs", "0", "--batch-size", "8", "--steps-per-epoch", "2",
                 "--augment", "flip", "--out", str(first)]) == 0
    assert main(["train", "--config", str(first / "config.json"), "--out", str(again)]) == 0
    capsys.readouterr()
    p1, p2 = (pd.read_csv(d / "oof_frames.csv") for d in (first, again))
    assert set(p1["fold"]) == {1} and p1["p"].std() > 0
    pd.testing.assert_frame_equal(p1, p2)
    c1, c2 = (json.loads((d / "config.json").read_text()) for d in (first, again))
    assert {k: c1[k] for k in TrainConfig.__dataclass_fields__} == {k: c2[k] for k in TrainConfig.__dataclass_fields__}
    # --set changes one field of the replayed run and nothing else
    replay = ["train", "--config", str(first / "config.json"), "--set", "seed=1", "--out", str(tmp_path / "s1")]
    assert main(replay) == 0
    c3 = json.loads((tmp_path / "s1" / "config.json").read_text())
    assert c3["seed"] == 1 and {k: c3[k] for k in c1 if k in TrainConfig.__dataclass_fields__ and k != "seed"} == \
        {k: c1[k] for k in c1 if k in TrainConfig.__dataclass_fields__ and k != "seed"}
    assert not np.array_equal(pd.read_csv(tmp_path / "s1" / "oof_frames.csv")["p"], p1["p"])


def test_a_missing_or_broken_config_file_is_a_clear_error(tmp_path):
    broken = tmp_path / "config.json"
    broken.write_text("{not json")
    for path, reason in ((tmp_path / "absent.json", "no such file"), (broken, "not a readable JSON")):
        with pytest.raises(ValueError, match=reason):
            config_from_args(TrainConfig, _parse("train", "--config", str(path)))


def test_train_without_crops_says_what_is_missing(tmp_path):
    with pytest.raises(SystemExit, match="--crops and --folds"):
        main(["train", "--out", str(tmp_path / "m")])


def test_cli_reference_in_readme_names_config_and_set():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert "--config" in readme and "--set" in readme


# --- benchmark: one flag per setting of any suite, read against the chosen suite's config -----------------------
def _suite(*flags: str):
    from deepfake_detection.cli import benchmark_config

    return benchmark_config(build_parser().parse_args(["benchmark", "--data", "d", *flags]))


def test_every_suite_setting_has_a_benchmark_flag_with_help():
    from deepfake_detection.studies import SUITES

    sub = build_parser()._subparsers._group_actions[0].choices["benchmark"]
    options = {opt: action for action in sub._actions for opt in action.option_strings}
    for name, suite in SUITES.items():
        helps = field_help(suite.config)
        for f in fields(suite.config):
            flag = f"--{f.name.replace('_', '-')}"
            assert flag in options, f"benchmark: no flag for {suite.config.__name__}.{f.name}"
            assert helps[f.name].strip() and name in str(options[flag].help), (name, f.name)


def test_suite_flags_are_typed_by_the_chosen_suite_and_foreign_ones_refused(capsys):
    from deepfake_detection.config import CROP_ABLATIONS
    from deepfake_detection.studies import suite_config

    for name in ("dfdc-crops", "dfdc-ablation", "ffpp", "cross-ffpp", "face-clips"):
        assert _suite("--suite", name) == suite_config(name)
        assert _suite("--suite", name, "--quick") == suite_config(name, quick=True)
    assert _suite("--suite", "dfdc-ablation").ablations == tuple(CROP_ABLATIONS)  # the suite's preset
    assert _suite("--suite", "dfdc-crops", "--k", "3", "--recipes", "meso4,spectral").k == 3
    assert _suite("--suite", "ffpp", "--models", "mesonet4,xception").models == ("mesonet4", "xception")
    assert _suite("--suite", "cross-ffpp", "--models", "models/zoo").models == "models/zoo"  # a folder there
    assert _suite("--suite", "ffpp", "--ablations", "false", "--set", "null=5").ablations is False
    clips = _suite("--suite", "face-clips", "--set", "name=my clips")
    assert (clips.name, clips.train_labels) == ("my clips", "../shared/data/dfdc-faces/labels.csv")
    assert main(["benchmark", "--suite", "dfdc-crops", "--data", "d", "--frames", "4"]) == 2
    assert "error: --frames is not a setting of CropsBenchmarkConfig" in capsys.readouterr().err
    assert main(["benchmark", "--suite", "dfdc-crops", "--data", "d", "--k", "three"]) == 2
    assert "error: --k three: invalid literal" in capsys.readouterr().err


def test_benchmark_ffpp_keeps_its_flags_and_reads_a_saved_config(tmp_path):
    from deepfake_detection.cli import benchmark_config

    saved = tmp_path / "settings.json"
    saved.write_text(json.dumps({"frames": 8, "k": 2, "recipes": ["meso4"]}))  # recipes: not an FF++ setting
    args = build_parser().parse_args(["benchmark-ffpp", "--data", "d", "--no-ablations", "--models", "mesonet4",
                                      "--weights-dir", "w", "--null", "20", "--config", str(saved), "--k", "3"])
    cfg = benchmark_config(args)
    assert (cfg.ablations, cfg.models, cfg.weights_dir, cfg.null, cfg.frames, cfg.k) == \
        (False, ("mesonet4",), "w", 20, 8, 3)
