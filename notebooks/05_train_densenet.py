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
# # 05 · Train DenseNet
# How well does DenseNet-121 separate REAL from FAKE face crops when every score is out-of-fold
# (group folds, so no identity is seen in training and validation)? Every training notebook calls
# the same `train.train_model`; only the config below differs. Writes `model.keras`,
# `oof_frames.csv`, `oof_videos.csv`, `history.csv` and `config.json` to
# `WORK_DIR/models/densenet121` for the stacking notebook 08.

# %% tags=["parameters"]
WORK_DIR = "work"
MODELS_DIR = None  # None: WORK_DIR/models
FOLD = "all"
EPOCHS = 6
WEIGHTS = None  # "imagenet" with WEIGHTS_DIR holding the Keras notop file, or a weights file
WEIGHTS_DIR = None
QUICK = True
SEED = 0

# %%
from pathlib import Path

import matplotlib_inline.backend_inline  # noqa: F401  (package figures display inline)
import pandas as pd

from deepfake_detection import metrics, plots, train
from deepfake_detection.config import TrainConfig

cfg = TrainConfig(model="densenet121", size=128, epochs=EPOCHS, weights=WEIGHTS, weights_dir=WEIGHTS_DIR, seed=SEED)
cfg = train.quick_config(cfg) if QUICK else cfg
cfg

# %% [markdown]
# Train on the crops of every fold but one, validate on the held-out fold, for each fold in turn.

# %%
work = Path(WORK_DIR)
models_dir = Path(MODELS_DIR) if MODELS_DIR else work / "models"
result = train.train_model(work / "crops", work / "folds.csv", cfg, FOLD, models_dir / "densenet121",
                           figures_dir=f"{WORK_DIR}/figures")
pd.Series(result.val_video_bll, name="best val_video_bll").rename_axis("fold").to_frame()

# %% [markdown]
# Training curves: frame loss, and the validation video-level balanced log loss that picks the checkpoint.

# %%
history = pd.read_csv(result.model_dir.history)
plots.plot_training_curves(history, title=f"{cfg.model} at {cfg.size} px")

# %% [markdown]
# Out-of-fold video scores (mean of frame predictions per video) beside the constant FAKE-share baseline.

# %%
oof = pd.read_csv(result.model_dir.oof_videos)
pd.DataFrame({"model": metrics.evaluate(oof["label"], oof["p"]), "prior baseline": metrics.prior_baseline(oof["label"])})
