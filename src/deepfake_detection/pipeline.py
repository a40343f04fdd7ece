"""tf.data input pipeline: crop manifest -> fold split -> epoch plan -> decode -> augment -> batches.

Training samples follow an *epoch plan*: a seeded array of manifest row numbers per epoch that
encodes the imbalance strategy (`none`, `class_weights`, `oversample`, `undersample`,
`balanced`). The plan makes every strategy exact and checkable in numpy, and makes the whole
pipeline deterministic: per-crop randomness (self-blending, JPEG quality) uses stateless ops seeded
by the sample's position, and the batch-level Keras augmentation layers run in one ordered map
with their own seeds. Images leave the pipeline as float32 RGB in 0-255; models normalise inside.
"""

from __future__ import annotations

import logging

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from deepfake_detection import config as C
from deepfake_detection.config import FAKE, REAL, TrainConfig
from deepfake_detection.dataset import (
    IMBALANCE_STRATEGIES,
    class_weights,
    epoch_class_counts,
)
from deepfake_detection.faces import INTERPOLATIONS, resize_crop

log = logging.getLogger(__name__)

AUTOTUNE = tf.data.AUTOTUNE


# --- reading -----------------------------------------------------------------------------------
def frames_with_folds(manifest: pd.DataFrame, folds: pd.DataFrame) -> pd.DataFrame:
    """Crops of labelled videos with `fold`, `label` and `group` taken from folds.csv (the truth)."""
    keep = folds[["video_id", "fold", "label", "group"]]
    frames = manifest.drop(columns=["label", "group"]).merge(keep, on="video_id", how="inner", validate="many_to_one")
    dropped = manifest["video_id"].nunique() - frames["video_id"].nunique()
    if dropped:
        log.info("%d videos in the manifest have no fold (unlabelled or not in folds.csv); not used", dropped)
    frames["label"] = frames["label"].astype(int)
    frames["fold"] = frames["fold"].astype(int)
    return frames.sort_values(["video_id", "track", "frame"]).reset_index(drop=True)


def split_fold(frames: pd.DataFrame, fold: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, val) crops for one fold: val = fold k, train = every other fold; checks no group crosses."""
    train = frames[frames["fold"] != fold].reset_index(drop=True)
    val = frames[frames["fold"] == fold].reset_index(drop=True)
    if train.empty or val.empty:
        raise ValueError(f"fold {fold}: {len(train)} training and {len(val)} validation crops; both must be non-empty")
    shared = set(train["group"]) & set(val["group"])
    if shared:
        raise ValueError(f"fold {fold}: groups in both training and validation: {sorted(shared)[:5]}")
    return train, val


# --- imbalance ---------------------------------------------------------------------------------
def epoch_size(labels: np.ndarray, strategy: str) -> int:
    """Samples per epoch under a strategy (dataset.epoch_class_counts, as in `dataset.imbalance_table`)."""
    return sum(epoch_class_counts(labels, strategy))


def _cycle(indices: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n items drawn by walking fresh permutations of indices (every item once before any repeats)."""
    if n <= 0:
        return np.empty(0, dtype=np.int64)
    if len(indices) == 0:
        raise ValueError("cannot draw samples from an empty class")
    rounds = -(-n // len(indices))
    return np.concatenate([rng.permutation(indices) for _ in range(rounds)])[:n]


def epoch_plan(labels: np.ndarray, strategy: str, n_samples: int, seed: int, epoch: int) -> np.ndarray:
    """Row numbers (int64, n_samples) for one epoch under an imbalance strategy, seeded by (seed, epoch).

    balanced: every batch alternates REAL and FAKE, so an even batch is exactly half/half.
    oversample: all FAKE once plus REAL drawn again until the classes match (and vice versa).
    undersample: all of the minority plus an equal, freshly drawn share of the majority.
    none / class_weights: every crop once, shuffled (class_weights reweights the loss instead).
    A plan longer than the strategy's epoch continues with the next shuffles.
    """
    labels = np.asarray(labels, dtype=int)
    rng = np.random.default_rng([seed, epoch])
    real, fake = np.flatnonzero(labels == REAL), np.flatnonzero(labels == FAKE)
    if strategy == "balanced":
        n_real, n_fake = epoch_class_counts(labels, strategy, n_samples)
        reals, fakes = _cycle(real, n_real, rng), _cycle(fake, n_fake, rng)
        plan = np.empty(n_samples, dtype=np.int64)
        plan[0::2], plan[1::2] = reals, fakes  # alternating: any even-sized batch is exactly half/half
        return plan
    if strategy in ("oversample", "undersample"):
        n_real, n_fake = epoch_class_counts(labels, strategy)
        one_epoch = np.concatenate([_cycle(real, n_real, rng), _cycle(fake, n_fake, rng)])
    elif strategy in ("none", "class_weights"):
        one_epoch = np.arange(len(labels))
    else:
        raise ValueError(f"unknown imbalance strategy {strategy!r}; choose from {IMBALANCE_STRATEGIES}")
    return _cycle(one_epoch, n_samples, rng).astype(np.int64)


def fit_class_weight(labels: np.ndarray, strategy: str) -> dict[int, float] | None:
    """Keras `class_weight` for the class_weights strategy (from `dataset.class_weights`), else None."""
    return class_weights(labels) if strategy == "class_weights" else None


# --- augmentation ------------------------------------------------------------------------------
def _keras_augmentations(seed: int) -> dict[str, keras.layers.Layer]:
    """Keras 3 image layers by config name, float32 even under a mixed-precision policy."""
    kw = {"dtype": "float32"}
    return {
        "flip": keras.layers.RandomFlip("horizontal", seed=seed, **kw),
        "rotate": keras.layers.RandomRotation(C.AUGMENT_ROTATE, fill_mode="reflect", seed=seed + 1, **kw),
        "zoom": keras.layers.RandomZoom(C.AUGMENT_ZOOM, fill_mode="reflect", seed=seed + 2, **kw),
        "brightness": keras.layers.RandomBrightness(C.AUGMENT_BRIGHTNESS, value_range=(0, 255), seed=seed + 3, **kw),
        "contrast": keras.layers.RandomContrast(C.AUGMENT_CONTRAST, value_range=(0, 255), seed=seed + 4, **kw),
        "saturation": keras.layers.RandomSaturation(C.AUGMENT_SATURATION, value_range=(0, 255), seed=seed + 5, **kw),
        "blur": keras.layers.RandomGaussianBlur(C.AUGMENT_BLUR_PROBABILITY, value_range=(0, 255), seed=seed + 6, **kw),
        "erase": keras.layers.RandomErasing(C.AUGMENT_ERASE_PROBABILITY, value_range=(0, 255), seed=seed + 7, **kw),
        # GaussianNoise only takes stddev <= 1, so it runs on [0, 1] pixels (see batch_augmenter)
        "noise": keras.layers.GaussianNoise(C.AUGMENT_NOISE_STD / 255.0, seed=seed + 8, **kw),
    }


BATCH_AUGMENTATIONS = ("flip", "rotate", "zoom", "brightness", "contrast", "saturation", "blur", "erase", "noise")
PER_CROP_AUGMENTATIONS = ("rescale", "jpeg")  # run on single crops before batching (per-image coding and size)
AUGMENTATIONS = (*BATCH_AUGMENTATIONS, *PER_CROP_AUGMENTATIONS)


def check_augment(names: tuple[str, ...]) -> None:
    """Raise on an augmentation name the pipeline does not know."""
    unknown = [n for n in names if n not in AUGMENTATIONS]
    if unknown:
        raise ValueError(f"unknown augmentation(s) {unknown}; choose from {list(AUGMENTATIONS)}")


def batch_augmenter(names: tuple[str, ...], seed: int):
    """A function that augments a float32 batch (B, S, S, 3) in 0-255 with the named Keras layers."""
    check_augment(names)
    layers = _keras_augmentations(seed)
    chosen = [layers[n] for n in layers if n in names]  # fixed order: geometry, colour, erase, noise

    def augment(images: tf.Tensor) -> tf.Tensor:
        for layer in chosen:
            if isinstance(layer, keras.layers.GaussianNoise):
                images = layer(images / 255.0, training=True) * 255.0
            else:
                images = layer(images, training=True)
        return tf.clip_by_value(tf.cast(images, tf.float32), 0.0, 255.0)

    return augment


def jpeg_recompress(image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Re-encode one uint8 crop at a random JPEG quality in JPEG_QUALITY_RANGE (stateless, seeded)."""
    low, high = C.JPEG_QUALITY_RANGE
    return tf.ensure_shape(tf.image.stateless_random_jpeg_quality(image, low, high, seed), image.shape)


def rescale_crop(image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """With probability AUGMENT_RESCALE_PROBABILITY, shrink one uint8 crop (S, S, 3) to a random side in
    AUGMENT_RESCALE_RANGE x S and enlarge it back: the blur of DFDC crops upscaled from 80-200 px faces."""
    size = image.shape[0]
    low, high = C.AUGMENT_RESCALE_RANGE
    draws = tf.random.stateless_uniform([2], seed=seed)
    side = tf.cast(tf.round(size * (low + (high - low) * draws[1])), tf.int32)
    small = tf.image.resize(tf.cast(image, tf.float32), tf.stack([side, side]), method="area")
    back = tf.image.resize(small, (size, size), method="bilinear")
    out = tf.cast(tf.clip_by_value(tf.round(back), 0.0, 255.0), tf.uint8)
    return tf.ensure_shape(tf.where(draws[0] < C.AUGMENT_RESCALE_PROBABILITY, out, image), image.shape)


def per_crop_augment(image: tf.Tensor, label: tf.Tensor, seed: tf.Tensor,
                     cfg: TrainConfig) -> tuple[tf.Tensor, tf.Tensor]:
    """The per-crop steps before batching, in order: self-blend (may turn REAL into FAKE), rescale, JPEG."""
    if cfg.self_blend > 0:
        image, label = maybe_self_blend(image, label, float(cfg.self_blend), seed)
    if "rescale" in cfg.augment:
        image = rescale_crop(image, seed + 2)
    if "jpeg" in cfg.augment:
        image = jpeg_recompress(image, seed + 1)
    return image, label


def _self_blend_numpy(image: np.ndarray, seed: np.ndarray) -> np.ndarray:
    from deepfake_detection.blend import self_blend_crop

    return self_blend_crop(image, np.random.default_rng(seed.astype(np.int64).tolist()))


def maybe_self_blend(image: tf.Tensor, label: tf.Tensor, probability: float,
                     seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """With the given probability, turn a REAL crop into a self-blended FAKE (blend.self_blend_crop)."""
    draw = tf.random.stateless_uniform([], seed=seed)
    do_blend = tf.logical_and(tf.equal(label, REAL), draw < probability)

    def blended() -> tf.Tensor:
        out = tf.numpy_function(_self_blend_numpy, [image, seed], tf.uint8, stateful=False)
        return tf.ensure_shape(out, image.shape)

    image = tf.cond(do_blend, blended, lambda: image)
    label = tf.where(do_blend, tf.constant(FAKE, label.dtype), label)
    return image, label


# --- datasets ----------------------------------------------------------------------------------
def _shard_by_data() -> tf.data.Options:
    """Multi-worker training splits batches, not files: the datasets are built from in-memory tables."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return options


def decode_crop(path: tf.Tensor, size: int, interpolation: str = "area") -> tf.Tensor:
    """JPEG file -> uint8 (size, size, 3), resized by faces.resize_crop (the same resize as at inference)."""
    image = tf.io.decode_jpeg(tf.io.read_file(path), channels=3)
    image = tf.numpy_function(lambda crop: resize_crop(crop, size, interpolation), [image], tf.uint8, stateful=False)
    return tf.ensure_shape(image, (size, size, 3))


def load_crops(frames: pd.DataFrame, size: int, interpolation: str = "area") -> np.ndarray:
    """All crops of a frame table decoded into memory: uint8 (N, size, size, 3); the `cache` option."""
    ds = tf.data.Dataset.from_tensor_slices(frames["path"].to_numpy(str))
    ds = ds.map(lambda p: decode_crop(p, size, interpolation), num_parallel_calls=AUTOTUNE).batch(256)
    return np.concatenate([b.numpy() for b in ds]) if len(frames) else np.zeros((0, size, size, 3), np.uint8)


def _image_source(frames: pd.DataFrame, size: int, cache: bool, interpolation: str = "area"):
    """A function row -> uint8 crop: from an in-memory array (cache) or by decoding the file."""
    if cache:
        # not a graph constant
        images = tf.Variable(load_crops(frames, size, interpolation), trainable=False, name="crop_cache")
        return lambda row: tf.gather(images, row)
    paths = tf.constant(frames["path"].to_numpy(str))
    return lambda row: decode_crop(tf.gather(paths, row), size, interpolation)


def train_dataset(frames: pd.DataFrame, cfg: TrainConfig, epochs: int, start_epoch: int = 0,
                  steps_per_epoch: int | None = None) -> tf.data.Dataset:
    """Batches (images float32 (B, S, S, 3) 0-255, labels float32 (B, 1)) for epochs [start_epoch, epochs)."""
    check_augment(cfg.augment)
    if cfg.resize not in INTERPOLATIONS:
        raise ValueError(f"unknown resize {cfg.resize!r}; choose from {', '.join(INTERPOLATIONS)}")
    labels = frames["label"].to_numpy(int)
    steps = steps_per_epoch or max(1, epoch_size(labels, cfg.imbalance) // cfg.batch_size)
    plan = np.concatenate([epoch_plan(labels, cfg.imbalance, steps * cfg.batch_size, cfg.seed, e)
                           for e in range(start_epoch, epochs)])
    image_of = _image_source(frames, cfg.size, cfg.cache, cfg.resize)
    label_table = tf.constant(labels, tf.int32)
    offset = start_epoch * steps * cfg.batch_size  # sample seeds do not depend on how epochs are split

    def sample(position: tf.Tensor, row: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        seed = tf.stack([tf.constant(cfg.seed, tf.int64), position + offset])
        image, label = per_crop_augment(image_of(row), tf.gather(label_table, row), seed, cfg)
        return tf.cast(image, tf.float32), tf.cast(label, tf.float32)[None]

    augment = batch_augmenter(tuple(n for n in cfg.augment if n not in PER_CROP_AUGMENTATIONS), cfg.seed)
    ds = tf.data.Dataset.from_tensor_slices(plan).enumerate()
    ds = ds.map(sample, num_parallel_calls=AUTOTUNE, deterministic=True)
    ds = ds.batch(cfg.batch_size, drop_remainder=True, num_parallel_calls=AUTOTUNE, deterministic=True)
    ds = ds.map(lambda x, y: (augment(x), y))  # sequential: the layers' seed state advances in order
    return ds.prefetch(AUTOTUNE).with_options(_shard_by_data())


def eval_dataset(frames: pd.DataFrame, size: int, batch_size: int, cache: bool = False,
                 interpolation: str = "area") -> tf.data.Dataset:
    """Images float32 (B, S, S, 3) 0-255 in manifest order, no augmentation: for validation and OOF.

    cache holds the decoded uint8 batches (a quarter of the float32 bytes); the cast follows it, exactly."""
    ds = tf.data.Dataset.from_tensor_slices(frames["path"].to_numpy(str))
    ds = ds.map(lambda p: decode_crop(p, size, interpolation), num_parallel_calls=AUTOTUNE, deterministic=True)
    ds = ds.batch(batch_size)
    if cache:
        ds = ds.cache()
    ds = ds.map(lambda images: tf.cast(images, tf.float32))
    return ds.prefetch(AUTOTUNE).with_options(_shard_by_data())


def augment_examples(crops: np.ndarray, cfg: TrainConfig, variants: int = 4) -> np.ndarray:
    """Augmented copies of crops for a preview: uint8 (variants, N, S, S, 3) from uint8 (N, S, S, 3)."""
    augment = batch_augmenter(tuple(n for n in cfg.augment if n not in PER_CROP_AUGMENTATIONS), cfg.seed)
    out = []
    for v in range(variants):
        batch = []
        for i, crop in enumerate(crops):
            image = tf.convert_to_tensor(crop)
            seed = tf.constant([cfg.seed, v * len(crops) + i], tf.int64)
            image, _ = per_crop_augment(image, tf.constant(REAL, tf.int32), seed, cfg)
            batch.append(tf.cast(image, tf.float32))
        out.append(augment(tf.stack(batch)).numpy().round().astype(np.uint8))
    return np.stack(out)


def crop_gallery(frames: pd.DataFrame, per_class: int = 6, size: int | None = None,
                 seed: int = C.SEED) -> tuple[np.ndarray, list[str]]:
    """A few crops of each class, one video each where possible: uint8 (2, per_class, S, S, 3), row titles."""
    rows, titles = [], []
    for label, title in ((REAL, "REAL"), (FAKE, "FAKE")):
        pool = frames[frames["label"] == label]
        if pool.empty:
            raise ValueError(f"no {title} crops to show")
        one_per_video = pool.groupby("video_id").sample(1, random_state=seed)
        picked = one_per_video.sample(min(per_class, len(one_per_video)), random_state=seed)
        if len(picked) < per_class:  # few videos: fill up with other crops
            rest = pool.drop(picked.index)
            picked = pd.concat([picked, rest.sample(min(per_class - len(picked), len(rest)), random_state=seed)])
        picked = picked.sample(per_class, replace=True, random_state=seed) if len(picked) < per_class else picked
        side = size or int(tf.io.decode_jpeg(tf.io.read_file(picked["path"].iloc[0])).shape[0])
        rows.append(load_crops(picked, side))
        titles.append(title)
    return np.stack(rows), titles
