# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · Preprocessing: index, folds, face crops, augmentation, imbalance
# Which labelled videos do we train on, how are they split into leakage-safe folds, what do the face
# crops look like, what does training augmentation (and a self-blended FAKE) do to a crop, and how
# does each imbalance strategy change what the model sees? Writes `index.csv`, `folds.csv` and
# `crops/` (JPEG crops + `manifest.csv`) under WORK_DIR for the training notebooks 03–07.

# %% tags=["parameters"]
DATA_DIR = "work/demo"
WORK_DIR = "work"
K_FOLDS = 5
WORKERS = 2
QUICK = True
SEED = 0

# %%
from pathlib import Path

import matplotlib_inline.backend_inline  # noqa: F401  (package figures display inline)
from deepfake_detection import dataset, extract, pipeline, plots
from deepfake_detection.config import ExtractConfig, TrainConfig, set_seeds
from deepfake_detection.io import atomic_write_csv

set_seeds(SEED)
work = Path(WORK_DIR)
cfg = ExtractConfig(frames=8) if QUICK else ExtractConfig()
cfg

# %% [markdown]
# Index every video under the data folder (labels, groups tying each fake to its original, probe results).

# %%
index, problems = dataset.index_videos(DATA_DIR)
atomic_write_csv(index, work / "index.csv")
index.groupby(["source", "split", "label"], dropna=False).size().rename("videos").to_frame()

# %% [markdown]
# Split the labelled videos into stratified group folds: a fake and its original always share a fold
# (quick mode uses 2 folds: the demo data holds few originals, and each fold costs a training run).

# %%
folds = dataset.make_folds(index, k=2 if QUICK else K_FOLDS, seed=SEED)
atomic_write_csv(folds, work / "folds.csv")
dataset.fold_summary(folds)

# %% [markdown]
# Sample frames, detect faces (MTCNN) and write one crop per frame and face track. The run is
# resumable: finished videos are skipped when the cell runs again.

# %%
extracted = extract.extract_dataset(folds, work / "crops", cfg, workers=WORKERS, data_dir=DATA_DIR)
videos = extracted.videos
videos.groupby("status").agg(videos=("video_id", "size"), faces=("faces", "sum"))

# %% [markdown]
# A few crops of each class, one video each.

# %%
frames = pipeline.frames_with_folds(extracted.crops.load(), folds)
gallery, titles = pipeline.crop_gallery(frames, per_class=6, seed=SEED)
plots.plot_image_grid(gallery, titles, "Face crops")

# %% [markdown]
# Training augmentation: each row is one REAL crop's variants under every augmentation the pipeline
# offers (flip, rotation, zoom, colour, blur, erasing, noise, JPEG re-compression).

# %%
train_cfg = TrainConfig(augment=pipeline.AUGMENTATIONS, seed=SEED)
previews = pipeline.augment_examples(gallery[0, :4], train_cfg, variants=6)
plots.plot_image_grid(previews.transpose(1, 0, 2, 3, 4), [f"crop {i}" for i in range(4)], "Augmented variants")

# %% [markdown]
# On-the-fly self-blended FAKEs: a REAL crop blended with a perturbed copy of itself through a soft
# face mask (the same code makes the demo fakes). The difference shows where the blend boundary lies.

# %%
blended = pipeline.augment_examples(gallery[0, :3], TrainConfig(augment=(), self_blend=1.0, seed=SEED), variants=1)[0]
plots.plot_fake_vs_original([(f"REAL crop {i}", gallery[0, i], blended[i]) for i in range(3)])

# %% [markdown]
# What each imbalance strategy gives per epoch, for the crops of all folds (the EDA shows the same
# table for videos). Balanced batches are the default.

# %%
dataset.imbalance_table(frames["label"])
