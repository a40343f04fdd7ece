"""The `forensic_gbm` model: forensic features of four crop views under boosted trees held as Keras weights."""

from __future__ import annotations

import json
from dataclasses import replace

import cv2
import keras
import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from deepfake_detection import pipeline
from deepfake_detection.artifacts import CropsDir
from deepfake_detection.config import TrainConfig
from deepfake_detection.dataset import read_index
from deepfake_detection.features import FORENSIC_VIEWS, ForensicFeatures, TreeEnsemble, view_feature_names
from deepfake_detection.models import build_model, load_model

TREES = TrainConfig(model="forensic_gbm", size=64, batch_size=8, augment=(), verbose=0, select_best=True)


def _booster_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(features (600, 12) with missing values, labels): a non-linear rule the trees must learn."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(600, 12)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] ** 2 - x[:, 2] * x[:, 3] + rng.normal(scale=0.5, size=600) > 1).astype(int)
    x[rng.random(x.shape) < 0.05] = np.nan  # missing values: each split learns which side they take
    return x, y


def test_tree_layer_reproduces_sklearn_predict_proba_and_survives_safe_mode_saving(tmp_path):
    x, y = _booster_data()
    booster = HistGradientBoostingClassifier(max_iter=80, max_depth=6, random_state=0).fit(x[:400], y[:400])
    inputs = keras.Input((12,))
    model = keras.Model(inputs, TreeEnsemble.from_booster(booster, 12, name="p_fake")(inputs))
    expected = booster.predict_proba(x[400:])[:, 1]
    assert 0.1 < expected.mean() < 0.9 and expected.std() > 0.1  # the trees learned something to reproduce
    np.testing.assert_allclose(model.predict(x[400:], verbose=0)[:, 0], expected, atol=1e-5)
    model.save(tmp_path / "trees.keras")
    loaded = load_model(tmp_path / "trees.keras")  # safe mode: the trees are weights, no pickle
    np.testing.assert_allclose(loaded.predict(x[400:], verbose=0)[:, 0], expected, atol=1e-5)


def test_tree_layer_refuses_a_multiclass_booster_clearly():
    x, y = _booster_data()
    three = HistGradientBoostingClassifier(max_iter=3).fit(np.nan_to_num(x), y + (x[:, 4] > 1))
    with pytest.raises(ValueError, match="binary"):
        TreeEnsemble.from_booster(three, 12)


def test_unfitted_registry_model_answers_the_prior_from_all_four_views():
    model = build_model("forensic_gbm", 64)
    images = np.random.default_rng(0).uniform(0, 255, (3, 64, 64, 3)).astype(np.float32)
    np.testing.assert_allclose(model.predict(images, verbose=0), 0.5)
    features = keras.Model(model.inputs, model.get_layer("p_fake").input).predict(images, verbose=0)
    assert features.shape == (3, len(view_feature_names())) and len(FORENSIC_VIEWS) == 4
    assert np.isfinite(features).all()


def test_views_are_the_crop_centre_and_its_chroma():
    rng = np.random.default_rng(1)
    images = rng.uniform(0, 255, (2, 64, 64, 3)).astype(np.float32)
    centre = np.asarray(ForensicFeatures(centre=0.5)(images))
    np.testing.assert_allclose(centre, np.asarray(ForensicFeatures()(images[:, 16:48, 16:48])), rtol=1e-5, atol=1e-5)
    # the chroma views are OpenCV's YCrCb Cr and Cb planes (their constant offset aside)
    ycrcb = np.stack([cv2.cvtColor(image, cv2.COLOR_RGB2YCrCb) for image in images])
    for plane, channel in ((1, "cr"), (2, "cb")):
        as_grey = np.repeat(ycrcb[..., plane:plane + 1], 3, axis=-1)  # luma of (c, c, c) is c
        np.testing.assert_allclose(np.asarray(ForensicFeatures(channel=channel)(images)),
                                   np.asarray(ForensicFeatures()(as_grey)), atol=2e-3)
    with pytest.raises(ValueError, match="channel"):
        ForensicFeatures(channel="hue")


@pytest.fixture(scope="module")
def fitted(tiny_crops, tmp_path_factory):
    from deepfake_detection.train import train_model

    crops_dir, folds_csv = tiny_crops
    out = tmp_path_factory.mktemp("trees") / "forensic_gbm"
    return train_model(crops_dir, folds_csv, TREES, fold="all", out_dir=out), out


def test_trees_choose_their_count_on_the_inner_split_and_ship_the_fold_average(fitted, tiny_crops):
    result, out = fitted
    crops_dir, folds_csv = tiny_crops
    config = json.loads((out / "config.json").read_text())
    history = pd.read_csv(out / "history.csv")
    assert set(history["phase"]) == {"trees"} and set(history["monitored"]) == {"inner"}
    per_fold = config["trees"]["per_fold"]
    assert len(per_fold) == len(result.folds)
    for fold, n_trees in zip(result.folds, per_fold, strict=True):
        rows = history[history["fold"] == fold]
        assert n_trees == rows.loc[rows["val_video_bll"].idxmin(), "trees"]  # the inner split's best count
        assert config["val_video_bll"][str(fold)] == pytest.approx(rows["val_video_bll"].min())
    frames = pipeline.frames_with_folds(CropsDir(crops_dir).load(), read_index(folds_csv))
    oof = pd.read_csv(out / "oof_frames.csv")
    members = []
    for fold in result.folds:  # each crop's OOF p is its own fold model's answer, read back in safe mode
        val = frames[frames["fold"] == fold]
        model = load_model(out / f"fold_{fold}" / "model.keras")
        p = model.predict(pipeline.eval_dataset(val, 64, 8), verbose=0).ravel()
        np.testing.assert_allclose(p, oof.loc[oof["fold"] == fold, "p"].to_numpy(), atol=1e-5)
        members.append(model.predict(pipeline.eval_dataset(frames, 64, 8), verbose=0).ravel())
    deployed = load_model(out / "model.keras").predict(pipeline.eval_dataset(frames, 64, 8), verbose=0).ravel()
    np.testing.assert_allclose(deployed, np.mean(members, axis=0), atol=1e-5)


def test_trees_give_the_same_predictions_with_the_same_seed(fitted, tiny_crops, tmp_path):
    from deepfake_detection.train import train_model

    _, first = fitted
    crops_dir, folds_csv = tiny_crops
    train_model(crops_dir, folds_csv, replace(TREES, augment=("flip",)), fold="all", out_dir=tmp_path / "again")
    # augmentation does not reach trees (a warning says so), so the rerun is the same run
    again = pd.read_csv(tmp_path / "again" / "oof_frames.csv")
    pd.testing.assert_frame_equal(pd.read_csv(first / "oof_frames.csv"), again)


def test_training_only_rows_train_every_fold_and_are_never_scored(tiny_crops, tmp_path):
    from deepfake_detection.config import TRAIN_ONLY_FOLD
    from deepfake_detection.train import train_model

    crops_dir, folds_csv = tiny_crops
    folds = read_index(folds_csv)
    pooled = folds["fold"] == folds["fold"].max()  # one fold's videos become pooled, training-only data
    folds.loc[pooled, "fold"] = TRAIN_ONLY_FOLD
    folds.to_csv(tmp_path / "folds.csv", index=False)
    cfg = TREES  # with select_best, the inner split draws from the pooled groups too
    result = train_model(crops_dir, tmp_path / "folds.csv", cfg, fold="all", out_dir=tmp_path / "pooled")
    assert result.folds == tuple(sorted(set(folds.loc[~pooled, "fold"])))
    oof = pd.read_csv(tmp_path / "pooled" / "oof_frames.csv", dtype={"video_id": str})
    assert set(oof["video_id"]) == set(folds.loc[~pooled, "video_id"])  # every other video scored once, none pooled
    # the pooled rows do train: without them each fold model is a different one
    alone = train_model(crops_dir, tmp_path / "folds.csv", cfg, fold=0, out_dir=tmp_path / "fold0")
    folds[~pooled].to_csv(tmp_path / "without.csv", index=False)
    without = train_model(crops_dir, tmp_path / "without.csv", cfg, fold=0, out_dir=tmp_path / "without")
    p_with = pd.read_csv(alone.model_dir.oof_frames)["p"].to_numpy()
    p_without = pd.read_csv(without.model_dir.oof_frames)["p"].to_numpy()
    np.testing.assert_allclose(p_with, oof.loc[oof["fold"] == 0, "p"].to_numpy(), atol=1e-6)
    assert np.abs(p_with - p_without).max() > 1e-3
    with pytest.raises(ValueError, match="no held-out crops"):
        train_model(crops_dir, tmp_path / "folds.csv", cfg, fold=TRAIN_ONLY_FOLD, out_dir=tmp_path / "bad")
    folds.assign(fold=TRAIN_ONLY_FOLD).to_csv(tmp_path / "only.csv", index=False)
    with pytest.raises(ValueError, match="nothing to hold out"):
        train_model(crops_dir, tmp_path / "only.csv", cfg, fold="all", out_dir=tmp_path / "bad")
