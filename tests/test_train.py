"""Input pipeline and fold training on real DFDC face crops: balancing, leakage, augmentation, artifacts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from deepfake_detection import pipeline
from deepfake_detection.artifacts import CropsDir
from deepfake_detection.config import FAKE, REAL, TrainConfig
from deepfake_detection.dataset import imbalance_table, read_index
from deepfake_detection.train import TrainResult

REPO = Path(__file__).resolve().parents[1]
TRAINED_FOLD = 2  # the last fold: its run alone must match its run after folds 0 and 1
TINY = TrainConfig(model="meso4", size=64, batch_size=8, epochs=1, head_epochs=0, steps_per_epoch=2, augment=())


@pytest.fixture(scope="module")
def frames(tiny_crops) -> pd.DataFrame:
    crops_dir, folds_csv = tiny_crops
    return pipeline.frames_with_folds(CropsDir(crops_dir).load(), read_index(folds_csv))


def _labels_of(ds, batches: int) -> np.ndarray:
    return np.concatenate([y.numpy().ravel() for _, y in ds.take(batches)])


def test_balanced_batches_are_half_fake(frames):
    train, _ = pipeline.split_fold(frames, 0)
    assert train["label"].mean() != 0.5  # the crop set itself is imbalanced
    ds = pipeline.train_dataset(train, TINY, epochs=1, steps_per_epoch=4)
    for _, y in ds:
        assert y.shape == (8, 1)
        assert y.numpy().mean() == 0.5


@pytest.mark.parametrize("strategy", ["none", "class_weights", "oversample", "undersample", "balanced"])
def test_each_imbalance_strategy_gives_the_imbalance_table_counts(strategy):
    labels = np.array([REAL] * 5 + [FAKE] * 17)
    row = imbalance_table(labels).set_index("strategy").loc[strategy]
    n = pipeline.epoch_size(labels, strategy)
    plan = pipeline.epoch_plan(labels, strategy, n, seed=0, epoch=0)
    drawn = labels[plan]
    assert (int((drawn == REAL).sum()), int((drawn == FAKE).sum())) == (row["real_per_epoch"], row["fake_per_epoch"])
    if strategy == "undersample":  # every REAL crop once, FAKE drawn without repeats
        assert len(set(plan)) == len(plan)
    if strategy == "oversample":
        assert set(plan) == set(range(len(labels)))
    weights = pipeline.fit_class_weight(labels, strategy)
    if strategy == "class_weights":
        assert weights[REAL] * 5 == pytest.approx(weights[FAKE] * 17)
    else:
        assert weights is None


def test_epoch_plans_are_seeded_and_change_between_epochs():
    labels = np.array([REAL] * 6 + [FAKE] * 10)
    plan = lambda seed, epoch: pipeline.epoch_plan(labels, "none", 16, seed, epoch)  # noqa: E731
    assert np.array_equal(plan(0, 0), plan(0, 0))
    assert not np.array_equal(plan(0, 0), plan(0, 1))
    with pytest.raises(ValueError, match="unknown imbalance"):
        pipeline.epoch_plan(labels, "smote", 16, 0, 0)


def test_no_validation_group_or_video_is_seen_in_training(frames):
    for fold in sorted(frames["fold"].unique()):
        train, val = pipeline.split_fold(frames, fold)
        assert not set(train["group"]) & set(val["group"])
        assert not set(train["video_id"]) & set(val["video_id"])
        assert set(val["fold"]) == {fold}
    leaked = frames.copy()
    leaked.loc[leaked["fold"] == 1, "group"] = leaked.loc[leaked["fold"] == 0, "group"].iloc[0]
    with pytest.raises(ValueError, match="groups in both"):
        pipeline.split_fold(leaked, 0)


def test_augmentation_keeps_shape_dtype_and_range(frames):
    train, _ = pipeline.split_fold(frames, 0)
    plain = pipeline.train_dataset(train, TINY, epochs=1, steps_per_epoch=2)
    augmented = pipeline.train_dataset(train, replace(TINY, augment=pipeline.AUGMENTATIONS), epochs=1,
                                       steps_per_epoch=2)
    for (x0, y0), (x1, y1) in zip(plain, augmented, strict=True):
        assert x1.shape == x0.shape == (8, 64, 64, 3)
        assert x1.dtype.name == "float32"
        assert 0.0 <= float(x1.numpy().min()) and float(x1.numpy().max()) <= 255.0
        assert np.array_equal(y0.numpy(), y1.numpy())  # augmentation never touches labels
        assert np.abs(x1.numpy() - x0.numpy()).mean() > 1.0
    with pytest.raises(ValueError, match="unknown augmentation"):
        pipeline.train_dataset(train, replace(TINY, augment=("mixup",)), epochs=1)


def test_self_blend_turns_real_crops_into_fake_labelled_images(frames):
    real = frames[frames["label"] == REAL].reset_index(drop=True)
    plain = pipeline.train_dataset(real, replace(TINY, imbalance="none"), epochs=1, steps_per_epoch=1)
    blended = pipeline.train_dataset(real, replace(TINY, imbalance="none", self_blend=1.0), epochs=1, steps_per_epoch=1)
    (x0, y0), (x1, y1) = next(iter(plain)), next(iter(blended))
    assert set(y0.numpy().ravel()) == {REAL}
    assert set(y1.numpy().ravel()) == {FAKE}
    assert x1.shape == x0.shape
    assert np.abs(x1.numpy() - x0.numpy()).mean() > 0.5


OOF_FRAME_COLUMNS = ["video_id", "frame", "track", "fold", "label", "group", "p"]
OOF_VIDEO_COLUMNS = ["video_id", "fold", "label", "group", "p", "n_frames"]


@pytest.fixture(scope="module")
def trained(tiny_crops, tmp_path_factory) -> tuple[TrainResult, Path]:
    from deepfake_detection.train import train_model

    crops_dir, folds_csv = tiny_crops
    out = tmp_path_factory.mktemp("trained") / "meso4"
    return train_model(crops_dir, folds_csv, TINY, fold=TRAINED_FOLD, out_dir=out,
                       figures_dir=out.parent / "figures"), out


def test_one_epoch_run_writes_every_artifact_with_its_columns(trained, frames):
    result, out = trained
    for name in ("model.keras", "config.json", "history.csv", "oof_frames.csv", "oof_videos.csv",
                 f"fold_{TRAINED_FOLD}/model.keras"):
        assert (out / name).is_file(), name
    assert result.figure.is_file() and result.model_dir.path == out and result.folds == (TRAINED_FOLD,)
    read = TrainResult.read(result.model_dir)  # config.json holds the same facts
    assert (read.folds, read.seconds, read.val_video_bll.keys()) == (result.folds, result.seconds,
                                                                     result.val_video_bll.keys())
    oof_frames = pd.read_csv(out / "oof_frames.csv")
    oof_videos = pd.read_csv(out / "oof_videos.csv")
    assert list(oof_frames.columns) == OOF_FRAME_COLUMNS
    assert list(oof_videos.columns) == OOF_VIDEO_COLUMNS
    assert len(oof_frames) == (frames["fold"] == TRAINED_FOLD).sum() and set(oof_frames["fold"]) == {TRAINED_FOLD}
    assert oof_frames["p"].between(0, 1).all()
    assert oof_videos["n_frames"].sum() == len(oof_frames)
    history = pd.read_csv(out / "history.csv")
    assert {"fold", "phase", "epoch", "loss", "val_video_bll", "val_video_auc"} <= set(history.columns)
    config = json.loads((out / "config.json").read_text())
    assert config["model"] == "meso4" and config["size"] == 64 and config["folds"] == [TRAINED_FOLD]
    assert config["val_video_bll"][str(TRAINED_FOLD)] == pytest.approx(history["val_video_bll"].min())
    assert set(history["monitored"]) == {"inner"}  # the epoch was chosen on the inner split, not the reported fold


def test_inner_split_holds_out_whole_training_groups_of_both_labels(frames):
    from deepfake_detection.train import inner_split

    train, _ = pipeline.split_fold(frames, TRAINED_FOLD)
    fit, inner = inner_split(train, 0.2, seed=0)
    assert len(fit) + len(inner) == len(train) and len(inner) > 0
    assert not set(fit["group"]) & set(inner["group"])  # whole groups
    # never the reported fold
    assert set(inner["fold"]) <= set(train["fold"]) and TRAINED_FOLD not in set(inner["fold"])
    assert set(fit["label"]) == {0, 1}
    assert inner_split(train[train["group"] == train["group"].iloc[0]], 0.2, seed=0) is None  # one group: no split


def test_deployed_model_is_the_average_of_the_fold_models(tiny_crops, tmp_path):
    from deepfake_detection.models import load_model
    from deepfake_detection.train import FOLD_ENSEMBLE, fold_member, train_model

    crops_dir, folds_csv = tiny_crops
    cfg = TrainConfig(model="meso4", size=64, batch_size=8, epochs=1, steps_per_epoch=1, augment=(), verbose=0,
                      select_best=False)
    train_model(crops_dir, folds_csv, cfg, fold="all", out_dir=tmp_path / "m")
    frames = pipeline.frames_with_folds(CropsDir(crops_dir).load(), read_index(folds_csv))
    ds = pipeline.eval_dataset(frames, 64, 8)
    deployed = load_model(tmp_path / "m" / "model.keras")
    assert deployed.name == FOLD_ENSEMBLE
    folds = sorted(frames["fold"].unique())
    members = [load_model(tmp_path / "m" / f"fold_{k}" / "model.keras").predict(ds, verbose=0).ravel() for k in folds]
    assert np.std(members, axis=0).max() > 1e-4  # the folds differ, so the average is not any one of them
    np.testing.assert_allclose(deployed.predict(ds, verbose=0).ravel(), np.mean(members, axis=0), atol=1e-5)
    # fold_member takes one fold's network back out of the ensemble (a fine-tune starts from it)
    for i in range(len(folds)):
        np.testing.assert_allclose(fold_member(deployed, i).predict(ds, verbose=0).ravel(), members[i], atol=1e-6)
    single = load_model(tmp_path / "m" / f"fold_{folds[0]}" / "model.keras")
    assert fold_member(single) is single
    with pytest.raises(ValueError, match="no fold_9"):
        fold_member(deployed, 9)
    with pytest.raises(ValueError, match="not a fold ensemble"):
        fold_member(single, 1)
    # every OOF row was predicted by the model of its own fold, after training ended
    oof = pd.read_csv(tmp_path / "m" / "oof_frames.csv")
    assert set(oof["fold"]) == set(folds) and len(oof) == len(frames)
    # inference files hold weights only: Adam's two slots would triple them (the ensemble holds every fold's)
    for path in [tmp_path / "m" / "model.keras", *(tmp_path / "m" / f"fold_{k}" / "model.keras" for k in folds)]:
        with zipfile.ZipFile(path) as archive, archive.open("model.weights.h5") as f, h5py.File(f) as weights:
            assert "optimizer" not in weights, f"{path} holds optimizer state"
            assert not json.loads(archive.read("config.json")).get("compile_config"), f"{path} holds compile settings"


def test_saved_model_reproduces_the_oof_predictions(trained, frames):
    from deepfake_detection.models import load_model

    _, out = trained
    _, val = pipeline.split_fold(frames, TRAINED_FOLD)
    oof = pd.read_csv(out / "oof_frames.csv")
    for path in (out / f"fold_{TRAINED_FOLD}" / "model.keras", out / "model.keras"):  # one fold: it is what ships
        p = load_model(path).predict(pipeline.eval_dataset(val, 64, 8), verbose=0).ravel()
        np.testing.assert_allclose(p, oof["p"].to_numpy(), atol=1e-6)


def test_same_seed_gives_the_same_predictions_on_cpu(trained, tiny_crops, tmp_path):
    from deepfake_detection.train import train_model

    crops_dir, folds_csv = tiny_crops
    _, first = trained
    train_model(crops_dir, folds_csv, TINY, fold=TRAINED_FOLD, out_dir=tmp_path / "again")
    p1 = pd.read_csv(first / "oof_frames.csv")["p"].to_numpy()
    p2 = pd.read_csv(tmp_path / "again" / "oof_frames.csv")["p"].to_numpy()
    assert p1.std() > 0  # predictions vary by crop, so equality is not trivial
    np.testing.assert_array_equal(p1, p2)


def test_quick_runs_train_eagerly_and_learn_what_a_traced_run_learns(trained, tiny_crops, tmp_path, monkeypatch):
    """quick_config runs Keras eagerly (tracing would cost more than its few steps); op by op, the same seed gives
    the same model as the traced graph, up to float rounding of fused ops."""
    from deepfake_detection import train

    crops_dir, folds_csv = tiny_crops
    _, first = trained
    assert train.quick_config(TINY).run_eagerly and not TINY.run_eagerly
    compile_model, compiled = train._compile, []

    def recording(model, *args, **kwargs):  # the real compile, noting what the model was compiled to do
        compile_model(model, *args, **kwargs)
        compiled.append(model.run_eagerly)

    monkeypatch.setattr(train, "_compile", recording)
    train.train_model(crops_dir, folds_csv, replace(TINY, run_eagerly=True), fold=TRAINED_FOLD,
                      out_dir=tmp_path / "eager")
    assert compiled == [True]  # the setting reached Keras: this run did not trace its steps
    traced = pd.read_csv(first / "oof_frames.csv")["p"].to_numpy()
    eager = pd.read_csv(tmp_path / "eager" / "oof_frames.csv")["p"].to_numpy()
    assert traced.std() > 0
    np.testing.assert_allclose(eager, traced, atol=1e-4)


def test_crops_cached_in_memory_train_the_same_model(trained, tiny_crops, tmp_path):
    """cache (train.SPEED_ONLY) feeds the same decoded pixels, so training and OOF are identical, bit for bit."""
    from deepfake_detection.train import SPEED_ONLY, train_model

    crops_dir, folds_csv = tiny_crops
    _, first = trained
    train_model(crops_dir, folds_csv, replace(TINY, cache=True), fold=TRAINED_FOLD, out_dir=tmp_path / "cached")
    p1 = pd.read_csv(first / "oof_frames.csv")["p"].to_numpy()
    p2 = pd.read_csv(tmp_path / "cached" / "oof_frames.csv")["p"].to_numpy()
    assert "cache" in SPEED_ONLY and p1.std() > 0
    np.testing.assert_array_equal(p1, p2)
    # with every augmentation the crop benchmark uses (per-crop and per-batch), seeded the same way either side
    augmented = replace(TINY, augment=("flip", "rescale", "jpeg", "blur"))
    oof = {}
    for cache in (False, True):
        out = tmp_path / f"augmented_{cache}"
        train_model(crops_dir, folds_csv, replace(augmented, cache=cache), fold=TRAINED_FOLD, out_dir=out)
        oof[cache] = pd.read_csv(out / "oof_frames.csv")["p"].to_numpy()
    assert not np.array_equal(oof[True], p1)  # the augmentations did change the training
    np.testing.assert_array_equal(oof[False], oof[True])


def test_train_command_mirrors_over_two_logical_cpus(tiny_crops, tmp_path):
    crops_dir, folds_csv = tiny_crops
    out = tmp_path / "mirrored"
    script = textwrap.dedent(f"""
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from deepfake_detection.cli import main
        raise SystemExit(main(["train", "--crops", "{crops_dir}", "--folds", "{folds_csv}", "--model", "meso4",
                               "--fold", "1", "--size", "64", "--epochs", "1", "--batch-size", "8",
                               "--steps-per-epoch", "2", "--augment", "flip", "--out", "{out}",
                               "--figures", "{tmp_path / 'figures'}"]))
    """)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("TF_CONFIG", None)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=REPO, timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "deployment model (average of folds [1])" in run.stdout
    assert json.loads((out / "config.json").read_text())["replicas"] == 2
    assert len(pd.read_csv(out / "oof_frames.csv")) > 0


def test_pretrained_backbone_trains_head_first_then_fine_tunes(tiny_crops, tmp_path):
    from deepfake_detection.models import build_model
    from deepfake_detection.train import train_model

    crops_dir, folds_csv = tiny_crops
    weights = tmp_path / "pretrained.weights.h5"  # stands in for ImageNet weights (no downloads)
    build_model("mobilenet_v3_small", 32).save_weights(weights)
    cfg = replace(TINY, model="mobilenet_v3_small", size=32, epochs=2, head_epochs=1, steps_per_epoch=1,
                  weights=str(weights))
    train_model(crops_dir, folds_csv, cfg, fold=2, out_dir=tmp_path / "two_phase")
    history = pd.read_csv(tmp_path / "two_phase" / "history.csv")
    assert history["phase"].tolist() == ["head", "fine_tune"]
    assert history["learning_rate"].tolist() == pytest.approx([cfg.learning_rate, cfg.fine_tune_learning_rate])


def test_a_fold_trains_alike_alone_or_after_other_folds(trained, tiny_crops, tmp_path):
    from deepfake_detection.train import train_model

    crops_dir, folds_csv = tiny_crops
    _, alone = trained  # TRAINED_FOLD only
    train_model(crops_dir, folds_csv, TINY, fold="all", out_dir=tmp_path / "all")
    oof_all = pd.read_csv(tmp_path / "all" / "oof_frames.csv")
    oof_alone = pd.read_csv(alone / "oof_frames.csv")
    assert set(oof_all["fold"]) == {0, 1, 2}
    assert len(oof_all) == len(pd.read_csv(crops_dir / "manifest.csv"))  # every crop scored out of fold
    in_all = oof_all.loc[oof_all["fold"] == TRAINED_FOLD, "p"].to_numpy()
    np.testing.assert_array_equal(in_all, oof_alone["p"].to_numpy())


def test_training_video_scores_use_the_inference_aggregation_per_track():
    """OOF video P(FAKE) = mean per face track, max over tracks: what predict does with the same frames."""
    import numpy as np
    import pandas as pd

    from deepfake_detection.aggregate import aggregate
    from deepfake_detection.train import video_predictions

    frames = pd.DataFrame({"video_id": ["a"] * 5 + ["b"] * 2, "track": [0, 0, 0, 1, 1, 0, 0],
                           "fold": 0, "label": [1] * 5 + [0] * 2, "group": ["g"] * 5 + ["h"] * 2})
    p = np.array([0.1, 0.2, 0.3, 0.9, 0.7, 0.4, 0.6])
    videos = video_predictions(frames, p).set_index("video_id")
    assert videos.loc["a", "p"] == pytest.approx(0.8)  # the second person's mean, not the mean of all 5 faces
    assert videos.loc["a", "p"] == pytest.approx(aggregate(p[:5], "mean", tracks=frames["track"][:5].to_numpy()))
    assert videos.loc["b", "p"] == pytest.approx(0.5) and videos.loc["a", "n_frames"] == 5
