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
# # 01 · Exploratory data analysis
# What does the data folder hold, how are labels and video lengths distributed (here and in the full
# DFDC training set), do the test videos look like the training videos, and where does a fake differ
# from its original? The SSIM analysis checks the expectation that a fake's full frame is nearly
# identical to its original while the face region is not. All logic lives in `deepfake_detection.eda`;
# `deepfake_detection.plots` draws. `python -m deepfake_detection eda DATA_DIR` writes the same figures as PNGs.

# %% tags=["parameters"]
from pathlib import Path

DATA_DIR = "work/demo" if Path("work/demo").is_dir() else "../shared/data"
FULL_INDEX = "../shared/data/dfdc-full-index/dfdc-data.csv"
CROPS_DIR = None  # extraction output with manifest.csv; None: detect faces inside the analysis
QUICK = True
SEED = 0

# %% [markdown]
# Settings: QUICK reads 8 frames per video instead of 16 and fewer extra videos. The analysis has no
# randomness (the seed is recorded in the config only). The `matplotlib_inline` import makes the
# package's figures (plain `matplotlib.figure.Figure` objects) display inline.

# %%
import matplotlib_inline.backend_inline  # noqa: F401
from deepfake_detection import eda, plots
from deepfake_detection.config import EdaConfig
from deepfake_detection.dataset import imbalance_table, labelled

cfg = EdaConfig(frames=8, max_videos=4, seed=SEED) if QUICK else EdaConfig(seed=SEED)
cfg

# %% [markdown]
# What kinds of files does the data folder hold?

# %%
types = eda.file_types(DATA_DIR)
plots.plot_file_types(types)

# %% [markdown]
# Index every video (labels from metadata or the FF++ layout, probed length, fps and size).

# %%
index = eda.load_index(DATA_DIR)
index.groupby(["source", "label"], dropna=False).size().rename("videos").to_frame()

# %% [markdown]
# How many REAL and FAKE videos are there, per part and overall?

# %%
labels = eda.label_counts(index)
display(labels)
plots.plot_label_counts(labels, title="Labels per part (indexed videos)")

# %% [markdown]
# The same for the full DFDC training set (119,146 videos), which shows the real class imbalance
# (skipped when the full index file is absent, as in a fresh clone without `../shared`).

# %%
full = eda.read_full_index(FULL_INDEX) if Path(FULL_INDEX).is_file() else None
full_labels = eda.label_counts(full) if full is not None else None
display(full_labels)
plots.plot_label_counts(full_labels, title=f"DFDC full training index ({len(full):,} videos)") if full is not None else None

# %% [markdown]
# How long are the videos, at what frame rate and resolution, and are any filmed in portrait?

# %%
lengths = eda.video_lengths(index)
display(eda.length_summary(lengths))
plots.plot_lengths(lengths)

# %% [markdown]
# Frames per video over the full DFDC training set.

# %%
display(eda.full_index_lengths(full).head(8) if full is not None else None)
plots.plot_full_index_lengths(full) if full is not None else None

# %% [markdown]
# Do the test videos follow the training distribution? (Two-sample KS test per feature; needs a test folder.)

# %%
ks = eda.train_test_ks(lengths, cfg.ks_alpha)
print(eda.train_test_verdict(ks, cfg.ks_alpha))
display(eda.unreadable_counts(index))
plots.plot_train_vs_test(lengths, ks, eda.train_test_verdict(ks, cfg.ks_alpha)) if ks is not None else None

# %% [markdown]
# What would each class-imbalance strategy give per epoch? (The same table training uses.)

# %%
imbalance = imbalance_table(labelled(index)["label"])
display(imbalance)
plots.plot_imbalance(imbalance)

# %% [markdown]
# Pair fakes with their originals (FF++: same compression), one pair per manipulation method, and run the SSIM analyses.

# %%
pairs = eda.select_pairs(eda.fake_original_pairs(index), cfg.pairs_per_method, cfg.min_pairs)
ssim = eda.ssim_analysis(index, DATA_DIR, pairs, cfg, CROPS_DIR)
pairs[["method", "compression", "fake_path", "original_path"]]

# %% [markdown]
# A fake frame beside its original: the amplified difference shows where the manipulation is.

# %%
plots.plot_fake_vs_original(ssim.grid_rows[: cfg.grid_pairs]) if ssim.grid_rows else None

# %% [markdown]
# SSIM over time: each sampled frame against the previous one, for the full frame and the face region.

# %%
plots.plot_ssim_over_time(ssim.over_time) if len(ssim.over_time) else None

# %% [markdown]
# Fake against its original, frame by frame: is the full frame nearly identical while the face region differs?

# %%
print(eda.ssim_verdict(ssim))
display(eda.ssim_summary(ssim) if len(ssim.vs_original) else None)
plots.plot_ssim_fake_vs_original(ssim.vs_original) if len(ssim.vs_original) else None

# %% [markdown]
# The OpenCV Haar cascades on sample frames: frontal faces green, eyes red circles, smiles red, profile faces blue.

# %%
plots.plot_face_annotations(eda.annotated_frames(index, DATA_DIR, cfg.annotation_frames))
