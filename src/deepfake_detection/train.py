"""Fold training of one backbone on face crops, with out-of-fold predictions for the stacking stage.

Per fold: with pretrained weights the head first trains with the backbone frozen (`head_epochs`),
then everything but the BatchNorm statistics fine-tunes with a cosine learning-rate decay that
ReduceLROnPlateau can lower further; a randomly initialised network trains whole from the start.
After every epoch the validation crops are predicted, averaged per video and scored
with the balanced log loss (`val_video_bll`). With `select_best`, checkpointing, early stopping and
the plateau schedule follow that number on an *inner* validation split: whole groups held out of the
training folds, never the fold that is then reported as out-of-fold, which is predicted once at the
end. The deployment `model.keras` averages the k fold models (`fold_K/model.keras`), the pool that
the out-of-fold numbers describe.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import time
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedGroupKFold

from deepfake_detection import config as C
from deepfake_detection.aggregate import aggregate_frames
from deepfake_detection.artifacts import CropsDir, ModelDir
from deepfake_detection.config import TrainConfig, set_seeds
from deepfake_detection.dataset import class_weights, read_index
from deepfake_detection.io import atomic_write_csv, atomic_write_json
from deepfake_detection.metrics import balanced_log_loss, evaluate, log_loss, roc_auc
from deepfake_detection.models import REGISTRY, build_model
from deepfake_detection.pipeline import (
    epoch_size,
    eval_dataset,
    fit_class_weight,
    frames_with_folds,
    load_crops,
    split_fold,
    train_dataset,
)

log = logging.getLogger(__name__)

OOF_FRAME_COLUMNS = ["video_id", "frame", "track", "fold", "label", "group", "p"]
OOF_VIDEO_COLUMNS = ["video_id", "fold", "label", "group", "p", "n_frames"]
MONITOR = "val_video_bll"
# TrainConfig fields that change how fast a training runs or what it prints, never its weights or predictions
# (cached crops are the same decoded pixels: tests/test_train checks identical OOF with and without).
# Not run_eagerly: an eager run learns the traced run's model only up to float rounding, so it is not reused for one.
SPEED_ONLY = ("cache", "verbose")
MIN_LR_FRACTION = 0.05  # cosine decay ends at this share of the fine-tuning learning rate
CHANNEL_STATS_SAMPLE = 2000  # training crops used for per-channel mean/std ("standardize")
FOLD_ENSEMBLE = "fold_ensemble"  # name of the deployed model that averages the fold models


# --- configuration -----------------------------------------------------------------------------
def quick_config(cfg: TrainConfig) -> TrainConfig:
    """Tiny, fast settings for CI and notebooks on demo data: small images, 1 epoch, a few batches, run eagerly
    (tracing a backbone's train step costs more than the few steps it would speed up)."""
    size = max(REGISTRY[cfg.model].min_size, min(cfg.size, C.QUICK_SIZE))
    return replace(cfg, size=size, epochs=1, head_epochs=0, batch_size=C.QUICK_BATCH,
                   steps_per_epoch=C.QUICK_STEPS, patience=1, run_eagerly=True)


def video_predictions(frames: pd.DataFrame, p: np.ndarray) -> pd.DataFrame:
    """P(FAKE) per video by the mean aggregation (per face track, then the max over tracks, as at inference:
    aggregate.aggregate_frames), with fold, label, group and the number of frames."""
    return aggregate_frames(frames.assign(p=np.asarray(p, dtype=float).reshape(-1)), "mean")[OOF_VIDEO_COLUMNS]


def choose_strategy() -> tf.distribute.Strategy:
    """MultiWorkerMirrored with TF_CONFIG, Mirrored over several GPUs (or logical CPUs), else default."""
    if os.environ.get("TF_CONFIG"):
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy([d.name for d in gpus])
    cpus = tf.config.list_logical_devices("CPU")
    if not gpus and len(cpus) > 1:  # only when the user split the CPU into logical devices
        return tf.distribute.MirroredStrategy([d.name for d in cpus])
    return tf.distribute.get_strategy()


def channel_stats(frames: pd.DataFrame, size: int, seed: int) -> tuple[list[float], list[float]]:
    """Per-channel mean and std (0-255 units) of a sample of training crops, for "standardize"."""
    sample = frames.sample(min(len(frames), CHANNEL_STATS_SAMPLE), random_state=seed)
    pixels = load_crops(sample, size).reshape(-1, 3).astype(np.float64)
    return pixels.mean(axis=0).tolist(), np.maximum(pixels.std(axis=0), 1e-3).tolist()


def inner_split(frames: pd.DataFrame, share: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """(training crops, inner validation crops): about `share` of the training groups held out, label-stratified.

    The epoch, early stop and learning-rate plateau are chosen on these groups, so the reported fold stays
    unseen. None when the training folds hold too few groups to split.
    """
    videos = frames.drop_duplicates("video_id").reset_index(drop=True)
    counts = videos["label"].value_counts()  # sklearn refuses more splits than the larger class has videos
    n_splits = min(max(2, round(1 / share)), videos["group"].nunique(), int(counts.max()))
    if n_splits < 2 or len(counts) < 2:
        return None
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    with warnings.catch_warnings():  # few REAL videos in small runs: sklearn warns, the split is still group-disjoint
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        _, held = next(splitter.split(videos, videos["label"], videos["group"]))
    inner = frames["video_id"].isin(set(videos["video_id"].iloc[held]))
    return frames[~inner], frames[inner]


def save_fold_ensemble(folds: list[tuple[Path, keras.Model]], path: Path) -> None:
    """model.keras that averages the fold models' P(FAKE): what the out-of-fold numbers describe is what ships.

    folds: each fold's model.keras and the uncompiled model it holds (save_for_inference's copy), so no fold file
    is read back: loading rebuilds the network, about 17 s per InceptionResNetV2 fold on 2 CPU cores.
    """
    if len(folds) == 1:  # the fold's file already holds the inference model: no rebuild or save
        shutil.copyfile(folds[0][0], path)
        return
    members = [member for _, member in folds]
    for k, member in enumerate(members):
        member.name = f"fold_{k}"
    inputs = keras.Input(members[0].inputs[0].shape[1:])  # (size, size, 3)
    ensemble = keras.Model(inputs, keras.layers.Average()([m(inputs) for m in members]), name=FOLD_ENSEMBLE)
    ensemble.save(path)


def fold_member(model: keras.Model, k: int = 0) -> keras.Model:
    """Fold k's network inside a deployed fold ensemble (save_fold_ensemble), or the model itself when it is one
    network (k must then be 0): trained weights to start another training from, such as a fine-tune on new data."""
    if model.name != FOLD_ENSEMBLE:
        if k != 0:
            raise ValueError(f"{model.name} is one network, not a fold ensemble: it has no fold {k}")
        return model
    members = [layer.name for layer in model.layers if layer.name.startswith("fold_")]
    if f"fold_{k}" not in members:
        raise ValueError(f"the fold ensemble holds {', '.join(members)}: no fold_{k}")
    return model.get_layer(f"fold_{k}")


def monitored_scores(frames: pd.DataFrame, p: np.ndarray) -> dict[str, float]:
    """What each epoch (or block of trees) is judged by: crop log loss, video balanced log loss and AUC."""
    videos = video_predictions(frames, p)
    return {"val_frame_loss": log_loss(frames["label"], p), MONITOR: balanced_log_loss(videos["label"], videos["p"]),
            "val_video_auc": roc_auc(videos["label"], videos["p"])}


# --- callbacks ---------------------------------------------------------------------------------
class VideoLogLoss(keras.callbacks.Callback):
    """After each epoch: predict the validation crops, average per video, log balanced log loss.

    Also keeps the best epoch's weights and predictions, so the fold's OOF needs no reload or re-predict.
    """

    def __init__(self, frames: pd.DataFrame, dataset: tf.data.Dataset) -> None:
        super().__init__()
        self.frames, self.dataset = frames, dataset
        self.best, self.best_weights, self.best_p, self.last_p = float("inf"), None, None, None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        p = self.model.predict(self.dataset, verbose=0).reshape(-1)  # (n_val_crops,)
        scores = monitored_scores(self.frames, p)
        score = scores[MONITOR]
        if logs is not None:
            logs.update(scores)
        self.last_p = p
        if score < self.best:
            self.best, self.best_weights, self.best_p = score, self.model.get_weights(), p


def _learning_rate(optimizer: keras.optimizers.Optimizer) -> float:
    """The optimizer's current rate as a float (also under a distribution strategy)."""
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


class CosineDecay(keras.callbacks.Callback):
    """Per-epoch cosine decay from `base` that keeps reductions made by ReduceLROnPlateau."""

    def __init__(self, base: float, first_epoch: int, last_epoch: int) -> None:
        super().__init__()
        self.base, self.first, self.span = base, first_epoch, max(1, last_epoch - first_epoch)

    def _factor(self, epoch: int) -> float:
        t = min(1.0, (epoch - self.first) / self.span)
        return MIN_LR_FRACTION + (1 - MIN_LR_FRACTION) * 0.5 * (1 + math.cos(math.pi * t))

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        optimizer = self.model.optimizer
        if epoch == self.first:
            lr = self.base
        else:  # scale the current rate, so a plateau reduction carries over
            lr = _learning_rate(optimizer) * self._factor(epoch) / self._factor(epoch - 1)
        optimizer.learning_rate = lr

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            logs["learning_rate"] = _learning_rate(self.model.optimizer)


def set_backbone_trainable(model: keras.Model, trainable: bool, keep_batchnorm_frozen: bool = True) -> bool:
    """Freeze or unfreeze the `backbone` sub-model; False when the model has none (MesoNet)."""
    if "backbone" not in [layer.name for layer in model.layers]:
        return False
    backbone = model.get_layer("backbone")
    backbone.trainable = trainable
    if trainable and keep_batchnorm_frozen:
        for layer in backbone.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False  # small face-crop batches would wreck pretrained running statistics
    return True


# --- one fold ----------------------------------------------------------------------------------
def save_for_inference(model: keras.Model, path: Path) -> keras.Model:
    """Save the model without its optimizer state (a third of the size for Adam), loadable in safe mode; returns the
    uncompiled copy it saved.

    The copy is rebuilt from the model's config without its compile settings: `keras.models.clone_model` compiles
    the clone like its source and builds the optimizer, and saving a compiled model writes Adam's two slots too.
    """
    config = keras.saving.serialize_keras_object(model)
    config.pop("compile_config", None)
    with tf.device("/CPU:0"):  # the copy is only saved and averaged, never run: keep it off a GPU's memory
        clone = keras.saving.deserialize_keras_object(config)
        clone.set_weights(model.get_weights())
    clone.save(path)
    return clone


def _compile(model: keras.Model, learning_rate: float, run_eagerly: bool = False) -> None:
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=keras.losses.BinaryCrossentropy(),
                  metrics=[keras.metrics.AUC(name="auc")], run_eagerly=run_eagerly)


@dataclass
class FoldModel:
    """One built model reused by every fold: Keras traces its train and predict steps only once.

    Tracing dominates short CPU runs (about a minute per fold for EfficientNet under load), so each
    fold resets this model to its freshly built state instead of building a new one.
    """

    model: keras.Model
    initial: list[np.ndarray]  # every model variable as built: weights, BN statistics, dropout seed state
    compiled_phase: str | None = None
    optimizer_initial: list[np.ndarray] | None = None  # optimizer slots right after building them


def build_fold_model(cfg: TrainConfig, strategy: tf.distribute.Strategy,
                     stats: tuple[list[float], list[float]] | None = None) -> FoldModel:
    """Build cfg.model under the strategy and remember its initial state."""
    with strategy.scope():
        model = build_model(cfg.model, cfg.size, cfg.weights, cfg.weights_dir, cfg.normalization, cfg.dropout,
                            channel_stats=stats)
    return FoldModel(model, [keras.ops.convert_to_numpy(v) for v in model.variables])


def prepare_phase(fold_model: FoldModel, phase: str, learning_rate: float, strategy: tf.distribute.Strategy,
                  run_eagerly: bool = False) -> None:
    """Compile for a phase when the trainable set changed, else reuse; optimizer state starts fresh."""
    model = fold_model.model
    if fold_model.compiled_phase != phase:
        with strategy.scope():
            _compile(model, learning_rate, run_eagerly)
            model.optimizer.build(model.trainable_variables)
        fold_model.compiled_phase = phase
        fold_model.optimizer_initial = [keras.ops.convert_to_numpy(v) for v in model.optimizer.variables]
    for variable, value in zip(model.optimizer.variables, fold_model.optimizer_initial, strict=True):
        variable.assign(value)
    model.optimizer.learning_rate = learning_rate


def train_fold(frames: pd.DataFrame, fold: int, cfg: TrainConfig, fold_dir: Path,
               strategy: tf.distribute.Strategy,
               fold_model: FoldModel | None = None) -> tuple[pd.DataFrame, pd.DataFrame, float, keras.Model]:
    """Train on every fold but `fold`; returns (history, OOF frame predictions, best val_video_bll, the uncompiled
    model saved as the fold's model.keras).

    fold_model: a model shared across folds, reset to its initial state here; None builds one
    (always so for "standardize", whose statistics come from this fold's training crops).
    """
    fold_dir.mkdir(parents=True, exist_ok=True)
    train, val = split_fold(frames, fold)
    split = inner_split(train, cfg.inner_val_share, cfg.seed + fold) if cfg.select_best else None
    if cfg.select_best and split is None:
        log.warning("fold %d: too few training groups for an inner validation split; keeping the last epoch", fold)
    selecting = split is not None
    # what each epoch is scored on: the inner split when choosing, else the reported fold (curves only)
    train, monitored = split if selecting else (train, val)
    log.info("fold %d: %d training crops (%d videos), %d %s crops (%d videos), %d reported crops (%d videos)", fold,
             len(train), train["video_id"].nunique(), len(monitored), "inner validation" if selecting else "validation",
             monitored["video_id"].nunique(), len(val), val["video_id"].nunique())
    if fold_model is None:
        stats = channel_stats(train, cfg.size, cfg.seed) if cfg.normalization == "standardize" else None
        fold_model = build_fold_model(cfg, strategy, stats)
    model = fold_model.model
    for variable, value in zip(model.variables, fold_model.initial, strict=True):
        variable.assign(value)
    labels = train["label"].to_numpy(int)
    steps = cfg.steps_per_epoch or max(1, epoch_size(labels, cfg.imbalance) // cfg.batch_size)
    monitored_ds = eval_dataset(monitored, cfg.size, cfg.batch_size, cfg.cache, cfg.resize)
    checkpoint = fold_dir / "best.weights.h5"  # weights only: a .keras file would carry the Adam state too
    scorer = VideoLogLoss(monitored, monitored_ds)
    callbacks = [
        scorer,
        keras.callbacks.ModelCheckpoint(str(checkpoint), monitor=MONITOR, mode="min", save_best_only=selecting,
                                        save_weights_only=True),
        keras.callbacks.CSVLogger(str(ModelDir(fold_dir).history), append=True),
    ]
    if selecting:  # otherwise the last epoch stands: nothing is chosen
        callbacks += [
            keras.callbacks.EarlyStopping(monitor=MONITOR, mode="min", patience=cfg.patience),
            keras.callbacks.ReduceLROnPlateau(monitor=MONITOR, mode="min", factor=0.5,
                                              patience=max(1, cfg.patience - 1)),
        ]
    ModelDir(fold_dir).history.unlink(missing_ok=True)
    class_weight = fit_class_weight(labels, cfg.imbalance)
    pretrained = cfg.weights is not None
    # A frozen random backbone teaches the head nothing: the head phase needs pretrained weights.
    head_epochs = min(cfg.head_epochs, cfg.epochs) if pretrained and set_backbone_trainable(model, False) else 0
    histories = []
    phases = [("head", 0, head_epochs, cfg.learning_rate)] if head_epochs else []
    phases += [("fine_tune", head_epochs, cfg.epochs, cfg.fine_tune_learning_rate if pretrained else cfg.learning_rate)]
    for phase, first, last, lr in phases:
        if last <= first:
            continue
        if phase == "fine_tune":
            set_backbone_trainable(model, True, keep_batchnorm_frozen=pretrained)
        prepare_phase(fold_model, phase, lr, strategy, cfg.run_eagerly)
        schedule = [CosineDecay(lr, first, last - 1)] if phase == "fine_tune" else []
        ds = train_dataset(train, cfg, epochs=last, start_epoch=first, steps_per_epoch=steps)
        fit = model.fit(ds, epochs=last, initial_epoch=first, steps_per_epoch=steps, class_weight=class_weight,
                        callbacks=schedule + callbacks, verbose=cfg.verbose, shuffle=False)
        histories.append(pd.DataFrame(fit.history).assign(epoch=fit.epoch, phase=phase))
        if model.stop_training:
            break
    history = pd.concat(histories, ignore_index=True).assign(fold=fold, monitored="inner" if selecting else "reported")
    if selecting:
        if scorer.best_weights is not None:
            model.set_weights(scorer.best_weights)  # the epoch chosen on the inner split
        score = scorer.best
        p = model.predict(eval_dataset(val, cfg.size, cfg.batch_size, cfg.cache, cfg.resize), verbose=0).reshape(-1)
    else:
        score, p = float(history[MONITOR].iloc[-1]), scorer.last_p
    if not checkpoint.exists():  # every epoch scored NaN: keep the last weights
        log.warning("fold %d: no finite %s; saving the last epoch's model", fold, MONITOR)
    saved = save_for_inference(model, ModelDir(fold_dir).model)
    checkpoint.unlink(missing_ok=True)  # model.keras now holds the same weights
    oof = val.assign(p=p)[OOF_FRAME_COLUMNS]
    return history, oof, score, saved


# --- boosted trees on fixed features (models with fit="trees") -------------------------------------
def crop_features(frames: pd.DataFrame, cfg: TrainConfig) -> np.ndarray:
    """(N, F) features of every crop in frame order, by the model's own feature layers (what serving computes).

    Trees see no augmentation, so the features are computed once and every fold indexes them.
    """
    model = build_model(cfg.model, cfg.size)
    extractor = keras.Model(model.inputs, model.get_layer("p_fake").input)
    log.info("computing %s features of %d crops at %d px", cfg.model, len(frames), cfg.size)
    return np.asarray(extractor.predict(eval_dataset(frames, cfg.size, cfg.batch_size, False, cfg.resize),
                                        verbose=cfg.verbose), np.float32)


def _booster(n_trees: int, seed: int) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(max_iter=n_trees, learning_rate=C.TREES_LEARNING_RATE,
                                          max_leaf_nodes=C.TREES_MAX_LEAF_NODES, max_depth=C.TREES_MAX_DEPTH,
                                          l2_regularization=C.TREES_L2, early_stopping=False, random_state=seed)


def _fit_booster(rows: pd.DataFrame, features: np.ndarray, n_trees: int, cfg: TrainConfig,
                 seed: int) -> HistGradientBoostingClassifier:
    """Trees on the rows' features; every imbalance strategy but "none" weighs both classes equally."""
    labels = rows["label"].to_numpy(int)
    weights = None if cfg.imbalance == "none" else pd.Series(labels).map(class_weights(labels)).to_numpy(float)
    return _booster(n_trees, seed).fit(features[rows["row"].to_numpy()], labels, sample_weight=weights)


def tree_model(cfg: TrainConfig, boosters: list[HistGradientBoostingClassifier]) -> keras.Model:
    """The registry model with fitted trees: one feature block, the boosters' P(FAKE) averaged."""
    inputs = keras.Input((cfg.size, cfg.size, 3), name="rgb_0_255")
    return keras.Model(inputs, REGISTRY[cfg.model].constructor(inputs, boosters=boosters), name=cfg.model)


def fit_trees_fold(frames: pd.DataFrame, features: np.ndarray, fold: int, cfg: TrainConfig,
                   fold_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, float, HistGradientBoostingClassifier]:
    """Boosted trees on every fold but `fold`: (history, OOF frame predictions, best val_video_bll, booster).

    With select_best the trees grow to TREES_MAX on the inner split's training groups; the count with the
    lowest inner-validation video balanced log loss (checked every TREES_STEP trees) is then refitted on all
    training folds. The reported fold is scored once, through the saved Keras model's tree layer.
    `features` holds every crop's features, indexed by the frames' `row` column.
    """
    if cfg.augment or cfg.self_blend:
        log.warning("%s: trees train on the crops as they are; augment %s and self_blend %s are ignored",
                    cfg.model, list(cfg.augment), cfg.self_blend)
    fold_dir.mkdir(parents=True, exist_ok=True)
    train, val = split_fold(frames, fold)
    split = inner_split(train, cfg.inner_val_share, cfg.seed + fold) if cfg.select_best else None
    if cfg.select_best and split is None:
        log.warning("fold %d: too few training groups for an inner validation split; keeping every tree", fold)
    fit_rows, monitored = split if split is not None else (train, val)
    booster = _fit_booster(fit_rows, features, C.TREES_MAX, cfg, cfg.seed + fold)
    fit_labels = fit_rows["label"].to_numpy(int)
    stages = zip(booster.staged_predict_proba(features[fit_rows["row"].to_numpy()]),
                 booster.staged_predict_proba(features[monitored["row"].to_numpy()]), strict=True)
    records = []
    for n, (p_fit, p_monitored) in enumerate(stages, start=1):
        if n % C.TREES_STEP == 0 or n == booster.n_iter_:
            records.append({"epoch": len(records), "trees": n, "loss": log_loss(fit_labels, p_fit[:, 1]),
                            **monitored_scores(monitored, p_monitored[:, 1])})
    history = pd.DataFrame(records).assign(phase="trees", fold=fold,
                                           monitored="inner" if split is not None else "reported")
    best = history.loc[history[MONITOR].idxmin()] if split is not None else history.iloc[-1]
    if split is not None:
        booster = _fit_booster(train, features, int(best["trees"]), cfg, cfg.seed + fold)
    log.info("fold %d: %d trees (%s), %s %.4f", fold, booster.n_iter_,
             "chosen on the inner split" if split is not None else "all", MONITOR, best[MONITOR])
    model = tree_model(cfg, [booster])
    p = keras.ops.convert_to_numpy(model.get_layer("p_fake")(features[val["row"].to_numpy()])).reshape(-1)
    model.save(ModelDir(fold_dir).model)
    return history, val.assign(p=p)[OOF_FRAME_COLUMNS], float(best[MONITOR]), booster


# --- all folds ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainResult:
    """What `train_model` returns: the trained model folder and the run's scores (also in its config.json)."""

    model_dir: ModelDir
    folds: tuple[int, ...]
    val_video_bll: dict[int, float]  # per fold: the chosen epoch's (or the last epoch's) video balanced log loss
    oof_video_metrics: dict[str, float]  # the out-of-fold videos of all folds trained
    seconds: float  # 0.0 when reused
    figure: Path | None = None  # the training curves, when asked for
    reused: bool = False  # a finished run with the same settings was found, nothing trained

    @classmethod
    def read(cls, model_dir: ModelDir, reused: bool = False) -> TrainResult:
        """The result of a finished training, read back from its config.json."""
        info = model_dir.run_info()
        return cls(model_dir, tuple(info["folds"]), {int(k): v for k, v in info["val_video_bll"].items()},
                   info["oof_video_metrics"], 0.0 if reused else info["seconds"], reused=reused)


def train_model(crops_dir: CropsDir | str | Path, folds_csv: str | Path, cfg: TrainConfig, fold: str | int = "all",
                out_dir: ModelDir | str | Path = "models/model", figures_dir: str | Path | None = None) -> TrainResult:
    """Train cfg.model on one fold or all folds into a ModelDir: model.keras, config.json, history, OOF CSVs, curves.

    Returns the model folder with per-fold best val_video_bll, OOF video metrics, folds and seconds.
    """
    start = time.perf_counter()
    crops, out = CropsDir(crops_dir), ModelDir(out_dir)
    out.path.mkdir(parents=True, exist_ok=True)
    set_seeds(cfg.seed)
    gpu = bool(tf.config.list_physical_devices("GPU"))
    if not gpu:
        tf.config.experimental.enable_op_determinism()  # same seed, same CPU -> same predictions
    frames = frames_with_folds(crops.load(), read_index(folds_csv))
    held_out = sorted(int(k) for k in frames["fold"].unique() if k != C.TRAIN_ONLY_FOLD)
    if not held_out:
        raise ValueError(f"{folds_csv}: every labelled crop is training-only (fold {C.TRAIN_ONLY_FOLD}); "
                         "nothing to hold out")
    if str(fold) != "all" and int(fold) not in held_out:
        raise ValueError(f"fold {fold} holds no held-out crops; folds: {held_out}")
    folds = held_out if str(fold) == "all" else [int(fold)]  # training-only rows (pooled data) are never scored
    strategy = choose_strategy()
    log.info("training %s at %d px on %d crops, folds %s, %d replica(s)%s", cfg.model, cfg.size, len(frames), folds,
             strategy.num_replicas_in_sync, ", mixed precision" if gpu else "")
    previous_policy = keras.mixed_precision.global_policy().name
    if gpu:
        keras.mixed_precision.set_global_policy("mixed_float16")
    trees = REGISTRY[cfg.model].fit == "trees"
    try:
        histories, oofs, scores, boosters, members = [], [], {}, [], []
        if trees:
            frames = frames.reset_index(drop=True).assign(row=lambda f: np.arange(len(f)))
            features = crop_features(frames, cfg)

            def fit_fold(k: int) -> tuple[pd.DataFrame, pd.DataFrame, float]:
                history, oof, score, booster = fit_trees_fold(frames, features, k, cfg, out.fold(k).path)
                boosters.append(booster)
                return history, oof, score
        else:
            # Every fold starts from the same initial weights, so a fold trains alike alone or among all.
            shared = None if cfg.normalization == "standardize" else build_fold_model(cfg, strategy)

            def fit_fold(k: int) -> tuple[pd.DataFrame, pd.DataFrame, float]:
                history, oof, score, saved = train_fold(frames, k, cfg, out.fold(k).path, strategy, shared)
                members.append((out.fold(k).model, saved))
                return history, oof, score
        for k in folds:
            history, oof, scores[int(k)] = fit_fold(int(k))
            histories.append(history)
            oofs.append(oof)
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
    history = pd.concat(histories, ignore_index=True)
    oof_frames = pd.concat(oofs, ignore_index=True)
    oof_videos = video_predictions(oof_frames, oof_frames["p"].to_numpy())
    out.model.unlink(missing_ok=True)
    if trees:  # the fold ensembles share one feature block
        tree_model(cfg, boosters).save(out.model)
    else:
        save_fold_ensemble(members, out.model)

    atomic_write_csv(history[["fold", "phase", "epoch",
                              *[c for c in history.columns if c not in ("fold", "phase", "epoch")]]],
                     out.history)
    atomic_write_csv(oof_frames, out.oof_frames)
    atomic_write_csv(oof_videos, out.oof_videos)
    oof_metrics = evaluate(oof_videos["label"], oof_videos["p"])
    info = {**asdict(cfg), "fold": str(fold), "folds": [int(k) for k in folds],
            "deployment": f"average of the fold models {[int(k) for k in folds]} (the pool the OOF numbers describe)",
            "epoch_choice": ("best val_video_bll on an inner split of the training folds" if cfg.select_best
                             else "last epoch (nothing chosen)"),
            **({"trees": {"max": C.TREES_MAX, "step": C.TREES_STEP, "learning_rate": C.TREES_LEARNING_RATE,
                          "max_leaf_nodes": C.TREES_MAX_LEAF_NODES, "max_depth": C.TREES_MAX_DEPTH,
                          "l2_regularization": C.TREES_L2, "per_fold": [int(b.n_iter_) for b in boosters],
                          "choice": ("tree count with the best val_video_bll on the inner split, refitted on all "
                                     "training folds" if cfg.select_best else "all trees")}} if trees else {}),
            "val_video_bll": {str(k): v for k, v in scores.items()}, "oof_video_metrics": oof_metrics,
            "n_crops": int(len(frames)), "n_videos": int(frames["video_id"].nunique()),
            "crops_dir": str(crops.path), "folds_csv": str(folds_csv), "mixed_precision": gpu,
            "replicas": int(strategy.num_replicas_in_sync), "seconds": round(time.perf_counter() - start, 1)}
    atomic_write_json(info, out.config, default=float)
    figure = None
    if figures_dir is not None:
        from deepfake_detection.plots import plot_training_curves

        figures_dir = Path(figures_dir)
        figures_dir.mkdir(parents=True, exist_ok=True)
        figure = figures_dir / f"training_{out.name}.png"
        plot_training_curves(history, title=f"{cfg.model} ({out.name})").savefig(figure, dpi=110)
    return TrainResult(out, tuple(int(k) for k in folds), {int(k): v for k, v in scores.items()}, oof_metrics,
                       info["seconds"], figure)
