"""Inference: aggregation and calibration on OOF data, stacking, robust resumable prediction, Kaggle bundle."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from deepfake_detection.aggregate import (
    AGGREGATIONS,
    Calibration,
    aggregate,
    aggregation_scores,
    choose_aggregation,
    fit_calibration,
)
from deepfake_detection.artifacts import StackerDir
from deepfake_detection.config import PredictConfig, TrainConfig, to_json
from deepfake_detection.ensemble import fit_stacker, stacker_predict
from deepfake_detection.metrics import log_loss
from deepfake_detection.submission import validate_submission

REPO = Path(__file__).resolve().parents[1]
FRAMES = 4  # sampled frames per test video: enough for a face track, cheap on 2 cores


def frame_table(real_frames, fake_frames, n_videos: int = 60, frames: int = 10, seed: int = 0) -> pd.DataFrame:
    """OOF frame table: each REAL video's frames drawn by real_frames(rng, n), each FAKE's by fake_frames."""
    rng = np.random.default_rng(seed)
    rows = []
    for v in range(n_videos):
        label = int(v % 4 != 0)  # 3 FAKE : 1 REAL, like DFDC
        p = (fake_frames if label else real_frames)(rng, frames)
        rows.append(pd.DataFrame({"video_id": f"v{v:03d}", "frame": np.arange(frames), "track": 0,
                                  "fold": v // 2 % 5, "label": label, "group": f"g{v // 2}", "p": p}))
    return pd.concat(rows, ignore_index=True)


def write_oof_models(models_dir: Path, names: tuple[str, ...], n_videos: int = 80, seed: int = 0) -> None:
    """oof_frames.csv + oof_videos.csv per model: the same videos, independent noise per model."""
    rng = np.random.default_rng(seed)
    truth = frame_table(lambda r, n: np.zeros(n), lambda r, n: np.zeros(n), n_videos=n_videos, frames=8)
    for _, name in enumerate(names):
        z = np.where(truth["label"] == 1, 0.6, -0.6) + rng.normal(0, 2.0, len(truth)) + 0.8  # biased, noisy
        frames = truth.assign(p=1 / (1 + np.exp(-z)))
        (models_dir / name).mkdir(parents=True, exist_ok=True)
        frames.to_csv(models_dir / name / "oof_frames.csv", index=False)
        videos = frames.groupby("video_id").agg(fold=("fold", "first"), label=("label", "first"),
                                                group=("group", "first"), p=("p", "mean"), n_frames=("p", "size"))
        videos.reset_index().to_csv(models_dir / name / "oof_videos.csv", index=False)


# --- aggregation, calibration, stacking (no video, no model) -------------------------------------------
def test_aggregations_follow_their_definitions():
    cfg = PredictConfig()
    half_confident = np.array([0.9] * 5 + [0.3] * 5)
    assert aggregate(half_confident, "mean", cfg) == pytest.approx(0.6)
    assert aggregate(half_confident, "median", cfg) == pytest.approx(0.6)
    assert aggregate(half_confident, "confident", cfg) == pytest.approx(0.9)  # 50% confident FAKE >= 40%
    assert aggregate(np.array([0.1] * 9 + [0.6]), "confident", cfg) == pytest.approx(0.1)  # 90% confident REAL
    assert aggregate(np.array([0.95, 0.55, 0.55]), "weighted", cfg) > aggregate(np.array([0.95, 0.55, 0.55]), "mean")
    # one fake person among two: the video is as fake as its fakest track
    two_people = np.array([0.1, 0.1, 0.9, 0.9])
    assert aggregate(two_people, "mean", cfg, tracks=np.array([0, 0, 1, 1])) == pytest.approx(0.9)
    with pytest.raises(ValueError, match="unknown aggregation"):
        aggregate(two_people, "max", cfg)


def test_aggregation_is_chosen_on_oof_frames_not_fixed():
    # fakes show in half their frames: averaging only the confident frames separates them best
    partial = frame_table(lambda r, n: r.uniform(0.05, 0.3, n),
                          lambda r, n: np.where(np.arange(n) % 2 == 0, 0.95, r.uniform(0.05, 0.3, n)))
    scores = aggregation_scores(partial)
    assert list(scores.index) == list(AGGREGATIONS)
    assert choose_aggregation(partial) == "confident"
    # one glitched frame per REAL video: the median ignores it
    glitch = frame_table(lambda r, n: np.r_[np.full(n - 1, 0.25), 0.99], lambda r, n: np.full(n, 0.7))
    assert choose_aggregation(glitch) == "median"


def test_calibration_lowers_log_loss_of_overconfident_predictions():
    rng = np.random.default_rng(1)
    y = (rng.random(400) < 0.7).astype(int)
    z = np.where(y == 1, 1.0, -1.0) + rng.normal(0, 1.2, 400)
    p = 1 / (1 + np.exp(-5 * z))  # right ranking, far too confident
    for method in ("platt", "temperature"):
        calibration = fit_calibration(y, p, PredictConfig(class_balance=False), method=method)
        assert log_loss(y, calibration.apply(p)) < 0.8 * log_loss(y, p)
        assert 0 < calibration.scale < 1  # the logit is shrunk
        assert calibration.clip_low >= min(PredictConfig.clip_grid) and calibration.clip_high < 1
        assert Calibration.from_dict(json.loads(json.dumps(calibration.to_dict()))) == calibration


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # the MLP meta model on 80 videos
def test_stack_is_group_cross_validated_and_beats_each_base_model(tmp_path):
    names = ("model_a", "model_b", "model_c")
    write_oof_models(tmp_path, names, n_videos=160)  # nested calibration on 80 videos is too noisy to compare
    result = fit_stacker(tmp_path, PredictConfig())
    table = result.table
    assert (table.groupby("group")["meta_fold"].nunique() == 1).all(), "a group crosses meta folds"
    assert table["meta_fold"].nunique() == 5  # the base models' own training folds
    bll = result.scores["balanced_log_loss"]
    assert bll["stack_calibrated"] < min(bll[[f"{n}_calibrated" for n in names]].min(), bll[list(names)].min())
    path = StackerDir(tmp_path / "stacker").save(result.spec)
    spec = StackerDir.at(path).load()  # plain JSON
    assert [m["name"] for m in spec["models"]] == list(names) and spec["meta"]["kind"] == "logreg"
    p = stacker_predict(spec, table[list(names)].to_numpy())
    assert p.shape == (len(table),)
    assert (p >= spec["calibration"]["clip_low"]).all() and (p <= spec["calibration"]["clip_high"]).all()
    for meta in ("mlp", "mean"):
        other = fit_stacker(tmp_path, PredictConfig(), meta=meta)
        assert np.isfinite(stacker_predict(other.spec, table[list(names)].to_numpy())).all()


def test_stack_command_writes_stacker_and_report(tmp_path, capsys):
    from deepfake_detection.cli import main

    write_oof_models(tmp_path / "models", ("model_a", "model_b"))
    assert main(["stack", "--models", str(tmp_path / "models"), "--out", str(tmp_path / "models" / "stacker"),
                 "--reports", str(tmp_path / "reports")]) == 0
    assert "stack_calibrated" in capsys.readouterr().out
    assert StackerDir.of(tmp_path / "models").load()["fallback"] == pytest.approx(0.5)  # balanced classes
    report = (tmp_path / "reports" / "stacking.md").read_text()
    assert "| stack_calibrated |" in report and "balanced log loss" in report
    for figure in ("correlation", "roc", "reliability"):
        image = cv2.imread(str(tmp_path / "reports" / "figures" / f"stacking_{figure}.png"))
        assert min(image.shape[:2]) > 100 and len(np.unique(image.reshape(-1, 3), axis=0)) > 50, figure


# --- prediction on real video files --------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> Path:
    """Two untrained MesoNet models (64 and 48 px) with synthetic OOF files and a fitted stacker."""
    from deepfake_detection.models import build_model

    models_dir = tmp_path_factory.mktemp("models")
    write_oof_models(models_dir, ("meso_a", "meso_b"))
    for name, size in (("meso_a", 64), ("meso_b", 48)):
        build_model("meso4", size=size).save(models_dir / name / "model.keras")
        to_json(TrainConfig(model="meso4", size=size), models_dir / name / "config.json")
    StackerDir.of(models_dir).save(fit_stacker(models_dir).spec)
    return models_dir


@pytest.fixture(scope="module")
def full_run(tiny_models, demo_dir, tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    """An uninterrupted prediction of the whole demo test folder."""
    from deepfake_detection.predict import predict_videos

    out = tmp_path_factory.mktemp("full") / "submission.csv"
    rows = predict_videos(demo_dir / "test_videos", tiny_models, out=out, frames=FRAMES,
                          sample_submission=demo_dir / "sample_submission.csv")
    return out, rows


def test_bad_files_get_logged_fallbacks_in_a_complete_valid_submission(full_run, demo_dir, tiny_models):
    out, rows = full_run
    expected = pd.read_csv(demo_dir / "sample_submission.csv")["filename"].tolist()
    assert validate_submission(out, expected) == []
    assert pd.read_csv(out)["filename"].tolist() == expected  # the sample submission's order
    log = pd.read_csv(out.with_name("predictions_log.csv"), keep_default_na=False).set_index("video")
    assert sorted(log.index) == sorted(expected)
    specials = json.loads((demo_dir / "demo_manifest.json").read_text())["specials"]
    fallback = StackerDir.of(tiny_models).load()["fallback"]
    for kind in ("zero_byte", "text_file", "no_face"):
        row = log.loc[specials[kind]]
        assert row["status"] in ("unreadable", "no_face") and row["reason"], f"{kind}: {row.to_dict()}"
        assert row["p"] == pytest.approx(fallback)
    # a truncated file is predicted from the frames before the cut, or falls back; either way it says why
    truncated = log.loc[specials["truncated"]]
    assert truncated["reason"] and (truncated["status"] == "unreadable" or truncated["frames"] < FRAMES)
    assert log.loc[specials["zero_byte"], "reason"] == "zero-byte file"
    assert log.loc[specials["no_face"], "status"] == "no_face"
    assert log.loc[specials["portrait"], "status"] == "ok"  # portrait frames are predicted, not skipped
    assert log.loc[specials["one_frame"], "frames"] == 1 and "1 of" in log.loc[specials["one_frame"], "reason"]
    assert (rows.loc[rows["status"] == "ok", "models"] == "meso_a;meso_b").all()


def test_resume_redoes_rows_of_budget_fallbacks_other_frames_and_other_models(tiny_models, demo_dir, tmp_path):
    from deepfake_detection.models import build_model
    from deepfake_detection.predict import DEGRADED, run_fingerprint

    models = tmp_path / "models"
    shutil.copytree(tiny_models, models)
    assert run_fingerprint(models, models / "stacker", PredictConfig()) == \
        run_fingerprint(tiny_models, tiny_models / "stacker", PredictConfig())  # a copy keeps its finished rows
    specials = set(json.loads((demo_dir / "demo_manifest.json").read_text())["specials"].values())
    clips = sorted(p.name for p in (demo_dir / "test_videos").glob("*.mp4") if p.name not in specials)[:2]
    pd.DataFrame({"filename": clips, "label": 0.5}).to_csv(tmp_path / "sample.csv", index=False)
    out = tmp_path / "submission.csv"

    def predict(**settings) -> pd.DataFrame:
        from deepfake_detection.predict import predict_videos

        return predict_videos(demo_dir / "test_videos", models, out=out, sample_submission=tmp_path / "sample.csv",
                              **{"frames": FRAMES, **settings})

    def logged() -> pd.DataFrame:
        return pd.read_csv(out.with_name("predictions_log.csv"), keep_default_na=False)

    assert set(predict(budget_hours=1e-7)["status"]) == {"budget"}
    first = predict()
    assert set(first["status"]) == {"ok"} and len(logged()) == 4  # the budget rows were redone
    predict()
    assert len(logged()) == 4  # same setup: nothing redone

    # rows a budget degradation left (fewer frames or models) are redone, yet beat a fallback when time runs out
    logged().assign(run=lambda f: f["run"] + DEGRADED).to_csv(out.with_name("predictions_log.csv"), index=False)
    short = predict(budget_hours=1e-7)
    np.testing.assert_allclose(short["p"], first["p"], rtol=1e-12)  # not the fallback
    assert set(short["status"]) == {"ok"}
    assert len(logged()) == 4
    redone = predict()
    assert len(logged()) == 6 and redone["run"].tolist() == first["run"].tolist()

    more_frames = predict(frames=FRAMES + 2)
    assert len(logged()) == 8 and set(more_frames["run"]).isdisjoint(first["run"])
    build_model("meso4", size=48).save(models / "meso_b" / "model.keras")  # meso_b retrained
    retrained = predict(frames=FRAMES + 2)
    assert len(logged()) == 10 and set(retrained["run"]).isdisjoint(more_frames["run"])
    assert set(retrained["status"]) == {"ok"}


def test_run_fingerprint_changes_with_what_decides_a_prediction(tiny_models):
    from deepfake_detection.config import ExtractConfig
    from deepfake_detection.predict import run_fingerprint

    stacker = tiny_models / "stacker"
    base = run_fingerprint(tiny_models, stacker, PredictConfig())
    assert run_fingerprint(tiny_models, stacker, PredictConfig(budget_hours=1.0, batch_size=8)) == base
    assert run_fingerprint(tiny_models, stacker, PredictConfig(), ExtractConfig(detect_batch=2)) == base
    assert run_fingerprint(tiny_models, stacker, PredictConfig(),
                           ExtractConfig(detect_compile=True, detect_compile_from=1)) == base  # same boxes, faster
    changed = [run_fingerprint(tiny_models, stacker, PredictConfig(confident_fake=0.7)),
               run_fingerprint(tiny_models, stacker, PredictConfig(detector="haar")),
               run_fingerprint(tiny_models, stacker, PredictConfig(), ExtractConfig(margin=0.5)),
               run_fingerprint(tiny_models, None, PredictConfig())]
    assert base not in changed and len(set(changed)) == len(changed)


def test_inference_compiles_the_detector_only_for_runs_long_enough_to_pay_for_it():
    from deepfake_detection.config import ExtractConfig
    from deepfake_detection.predict import inference_detector

    cfg, extract_cfg = PredictConfig(), ExtractConfig(detect_compile_from=64)
    assert not inference_detector(extract_cfg, cfg, 63).compiled  # detect on a few videos: eager
    assert inference_detector(extract_cfg, cfg, 64).compiled  # a Kaggle test set: XLA
    assert not inference_detector(ExtractConfig(detect_compile_from=0), cfg, 10**6).compiled  # never
    assert inference_detector(replace(extract_cfg, detect_compile=True), cfg, 1).compiled  # asked for: compiled
    haar = inference_detector(ExtractConfig(), PredictConfig(detector="haar"), 10**6)
    assert not haar.compiled and haar.compile_seconds == 0  # the setting is MTCNN's; Haar has nothing to compile


def test_prediction_log_resumes_only_full_rows_of_the_same_setup(tmp_path):
    from deepfake_detection.predict import DEGRADED, LOG_COLUMNS, PredictionLog

    path = tmp_path / "predictions_log.csv"
    rows = [("a.mp4", "ok", "run1"), ("b.mp4", "budget", "run1"), ("c.mp4", "ok", "run0"),
            ("d.mp4", "ok", "run1" + DEGRADED), ("e.mp4", "no_face", "run1")]
    pd.DataFrame([{"video": v, "status": s, "reason": "", "seconds": 1.0, "frames": 4, "models": "m", "p": 0.3,
                   "run": r} for v, s, r in rows], columns=LOG_COLUMNS).to_csv(path, index=False)
    prediction_log = PredictionLog(path, "run1")
    assert sorted(prediction_log.done()) == ["a.mp4", "e.mp4"]
    assert sorted(prediction_log.degraded()) == ["d.mp4"]


def test_tiny_budget_still_writes_every_row(tiny_models, demo_dir, tmp_path):
    from deepfake_detection.predict import predict_videos

    out = tmp_path / "submission.csv"
    rows = predict_videos(demo_dir / "test_videos", tiny_models, out=out, budget_hours=1e-7, frames=FRAMES)
    names = sorted(p.name for p in (demo_dir / "test_videos").glob("*.mp4"))
    assert validate_submission(out, names) == []
    assert set(rows["status"]) == {"budget"}
    assert rows["p"].nunique() == 1


def test_budget_degrades_frames_then_slowest_model_then_gives_up():
    from deepfake_detection.predict import BudgetPlanner

    planner = BudgetPlanner(budget_seconds=100.0, frames=32, models=["fast", "slow"], min_frames=8)
    planner.extract_rate, planner.model_rate = 0.01, {"fast": 0.01, "slow": 0.05}  # seconds per frame
    assert planner.plan(remaining=10) and planner.degradations == []  # 10 x 32 x 0.07 = 22 s fits
    assert planner.plan(remaining=80)  # 179 s at 32 frames, 90 s at 16
    assert planner.degradations == ["frames -> 16"]
    assert planner.plan(remaining=400)
    assert planner.degradations == ["frames -> 16", "frames -> 8", "dropped model slow"] and planner.active == ["fast"]
    assert not BudgetPlanner(0.0, 32, ["fast"], 8).plan(remaining=1)


def test_budget_pace_leaves_out_the_seconds_spent_compiling_the_detector():
    """A compiled run's first video of each frame size pays for compiling MTCNN; read as the pace, that one-off
    would degrade every later video of the run."""
    from deepfake_detection.predict import RATE_SMOOTHING, BudgetPlanner, VideoResult

    first = VideoResult("a.mp4", "ok", "", 12.0, 32, "m", 0.3, model_seconds={"m": 1.6}, extract_seconds=11.0)
    planner = BudgetPlanner(budget_seconds=100.0, frames=32, models=["m"], min_frames=8)
    planner.record(first, frames=32, one_off_seconds=9.0)  # 9 of its 11 s of extraction were compiling
    assert planner.extract_rate == pytest.approx(2.0 / 32) and planner.model_rate == {"m": pytest.approx(0.05)}
    assert planner.per_video(32, ["m"]) == pytest.approx(3.6)
    assert planner.plan(remaining=25) and planner.degradations == []  # 90 s for 25 videos: no frames dropped
    unaware = BudgetPlanner(budget_seconds=100.0, frames=32, models=["m"], min_frames=8)
    unaware.record(first, frames=32)  # the pace it would read without the compile seconds: 12.6 s per video
    assert unaware.plan(remaining=25) and unaware.degradations[0] == "frames -> 16"
    planner.record(first, frames=32, one_off_seconds=20.0)  # a one-off longer than the extraction: pace 0, never < 0
    assert planner.extract_rate == pytest.approx((1 - RATE_SMOOTHING) * 2.0 / 32)


# --- Kaggle bundle ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory) -> Path:
    """Offline wheels of the bundle's third-party packages, repacked from this environment's installed copies."""
    from importlib.metadata import PackageNotFoundError

    from deepfake_detection.bundle import EXTRA_PACKAGES, wheel_from_installed

    folder = tmp_path_factory.mktemp("wheelhouse")
    for name in EXTRA_PACKAGES:
        try:
            wheel_from_installed(name, folder)
        except PackageNotFoundError:
            pytest.skip(f"{name} is not installed here, so there is no offline wheel of it")
    return folder


def test_bundle_refuses_above_the_size_limit_and_keeps_the_last_bundle(tiny_models, wheelhouse, tmp_path):
    from deepfake_detection.bundle import BundleTooLarge, build_bundle

    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "from_the_last_build.txt").write_text("kept")
    with pytest.raises(BundleTooLarge, match=r"meso_a 0\.1 MB"):  # the models alone are too large
        build_bundle(tiny_models, bundle, wheels_from=wheelhouse, max_bytes=100_000)
    model_bytes = sum(p.stat().st_size for p in tiny_models.rglob("*") if p.is_file())
    too_large = r"bundle is [\d.]+ MB > [\s\S]*\n *wheels +[45] "  # the wheels tip it over
    with pytest.raises(BundleTooLarge, match=too_large):
        build_bundle(tiny_models, bundle, wheels_from=wheelhouse, max_bytes=model_bytes + 100_000)
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]  # no staging folder left behind
    assert [p.name for p in bundle.iterdir()] == ["from_the_last_build.txt"]


@pytest.mark.slow
def test_bundle_installs_offline_and_its_notebook_runs(tiny_models, wheelhouse, demo_dir, tmp_path):
    from deepfake_detection.bundle import build_bundle

    bundle = tmp_path / "bundle"
    sizes = build_bundle(tiny_models, bundle, "dfd-test", wheels_from=wheelhouse)  # the package's own wheel must build
    wheels = sorted(p.name for p in (bundle / "wheels").glob("*.whl"))
    assert any(w.startswith("mtcnn-") for w in wheels) and any(w.startswith("deepfake_detection-") for w in wheels)
    assert (bundle / "models" / "stacker" / "stacker.json").exists() and sizes["bytes"].sum() < 1e9
    assert "/kaggle/input/dfd-test/models" in (bundle / "notebook" / "08_stack_and_submit.py").read_text()

    # A fresh venv standing in for a Kaggle image: it is lent this environment's TensorFlow & co. (no reinstall)
    # but not the packages the bundle carries, so Keras, mtcnn and this package can only come from the bundle.
    from deepfake_detection.bundle import EXTRA_PACKAGES

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    host = Path(next(p for p in sys.path if p.endswith("site-packages")))
    bundled = {name.replace("-", "_") for name in (*EXTRA_PACKAGES, "deepfake_detection")}
    lent = tmp_path / "image_packages"
    lent.mkdir()
    for entry in host.iterdir():
        if entry.name.split("-")[0].lower() not in bundled and not entry.name.startswith("__editable__"):
            (lent / entry.name).symlink_to(entry)
    (site / "image_packages.pth").write_text(f"{lent}\n")
    python = str(venv / "bin" / "python")
    probe = ("from importlib.util import find_spec as f; "  # no TensorFlow import
             "print(*[getattr(f(n), 'origin', None) for n in ('deepfake_detection', 'keras', 'mtcnn', 'tensorflow')])")
    before = subprocess.run([python, "-c", probe], check=True, capture_output=True, text=True).stdout.split()
    assert before[:3] == ["None"] * 3 and before[3].startswith(str(lent)), before  # the image lacks them
    # the notebook's own install cell puts the bundled wheels into the venv (WHEELS_DIR below); its imports follow

    few = pd.read_csv(demo_dir / "sample_submission.csv").head(3)
    few.to_csv(tmp_path / "few.csv", index=False)
    params = {"MODELS_DIR": str(bundle / "models"), "WHEELS_DIR": str(bundle / "wheels"),
              "VIDEOS_DIR": str(demo_dir / "test_videos"), "SAMPLE_SUBMISSION": str(tmp_path / "few.csv"),
              "OUT": str(tmp_path / "out" / "submission.csv"), "STACKER_DIR": str(tmp_path / "stacker"),
              "REPORTS_DIR": str(tmp_path / "reports"), "LABELS": None, "QUICK": True}
    # the parameters go in here; the venv runs the notebook with plain nbclient (lent, like the image's Jupyter),
    # since this package is not importable there until the notebook's first cell installs it
    import jupytext
    import nbformat

    from deepfake_detection.notebook_runner import inject_parameters

    notebook = jupytext.read(bundle / "notebook" / "08_stack_and_submit.py")
    inject_parameters(notebook, params)
    nbformat.write(notebook, tmp_path / "08_with_parameters.ipynb")
    script = ("import sys, nbformat; from nbclient import NotebookClient; nb = nbformat.read(sys.argv[1], 4); "
              "NotebookClient(nb, timeout=900, kernel_name='python3', "
              "resources={'metadata': {'path': sys.argv[2]}}).execute(); nbformat.write(nb, sys.argv[3])")
    env = {**os.environ, "PIP_NO_INDEX": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    run = subprocess.run([python, "-c", script, str(tmp_path / "08_with_parameters.ipynb"), str(tmp_path),
                          str(tmp_path / "08_executed.ipynb")], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-4000:]
    assert validate_submission(tmp_path / "out" / "submission.csv", few["filename"].tolist()) == []
    after = subprocess.run([python, "-c", probe], check=True, capture_output=True, text=True).stdout.split()
    assert all(path.startswith(str(site)) for path in after[:3]), f"imported from {after}"
    readme = (bundle / "README.md").read_text()
    assert "Tested against" in readme and "keras-" in readme and "not run on a Kaggle image" in readme


@pytest.mark.slow
def test_killed_at_random_points_resumes_to_the_same_submission(full_run, demo_dir, tiny_models, tmp_path):
    """SIGKILL predict at three seeded random points (each kill in a run resuming the killed one), then let it
    finish: the submission equals the uninterrupted run's, and no finished video was predicted twice."""
    from killing import kill_points, run_until_killed

    out, log_path = tmp_path / "submission.csv", tmp_path / "predictions_log.csv"
    command = [sys.executable, "-m", "deepfake_detection", "predict", str(demo_dir / "test_videos"),
               "--models", str(tiny_models), "--out", str(out), "--frames", str(FRAMES),
               "--sample-submission", str(demo_dir / "sample_submission.csv")]
    total = len(pd.read_csv(demo_dir / "sample_submission.csv"))

    def logged() -> int:
        return len(pd.read_csv(log_path)) if log_path.exists() and log_path.stat().st_size else 0

    killed = [run_until_killed(command, logged, after, delay, cwd=REPO)
              for after, delay in kill_points(total, n=3, seed=1)]
    assert any(killed), "every run finished before its kill point: nothing was interrupted"
    before_last = logged()
    assert not out.exists() or before_last == total  # the submission is written once every video is done
    with log_path.open("a") as handle:
        handle.write("half_written.mp4,ok,")  # as if killed while writing a row: the resume cuts it off
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    resumed, uninterrupted = pd.read_csv(out), pd.read_csv(full_run[0])
    assert resumed["filename"].tolist() == uninterrupted["filename"].tolist()
    np.testing.assert_allclose(resumed["label"], uninterrupted["label"], rtol=1e-5, atol=1e-7)
    rows = pd.read_csv(log_path)
    assert len(rows) == total and rows["video"].is_unique  # each video logged once across all the runs
    assert before_last <= len(rows)
    assert rows.set_index("video").loc[full_run[1]["video"], "status"].tolist() == full_run[1]["status"].tolist()
