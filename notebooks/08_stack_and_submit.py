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
# # 08 · Stack the models and write the submission
# Do the trained models combine into a better, calibrated P(FAKE) than the best of them, and does the
# whole test folder (broken files included) become one valid `submission.csv` within the time budget?
# The meta model and calibration are fitted on out-of-fold predictions (`deepfake_detection.ensemble`),
# then every test video goes frames -> faces -> models -> aggregation -> stacker -> calibration
# (`deepfake_detection.predict`). Runs offline: on Kaggle, from the bundle of `python -m deepfake_detection
# kaggle-bundle`, with the internet off.

# %% tags=["parameters"]
DATA_DIR = "work/demo"
WORK_DIR = "work"
MODELS_DIR = None  # None: WORK_DIR/models
VIDEOS_DIR = None  # None: DATA_DIR/test_videos
SAMPLE_SUBMISSION = None  # None: DATA_DIR/sample_submission.csv (used when it exists)
LABELS = None  # None: DATA_DIR/test_labels.csv (used when it exists)
OUT = None  # None: WORK_DIR/submission.csv
STACKER_DIR = None  # None: MODELS_DIR/stacker
REPORTS_DIR = None  # None: STACKER_DIR (stacking.md beside the stacker it describes)
WHEELS_DIR = None
BUDGET_HOURS = 9.0
QUICK = True
SEED = 0

# %% [markdown]
# Paths left at None follow from the data and work folders.

# %%
MODELS_DIR = MODELS_DIR or f"{WORK_DIR}/models"
VIDEOS_DIR = VIDEOS_DIR or f"{DATA_DIR}/test_videos"
SAMPLE_SUBMISSION = SAMPLE_SUBMISSION or f"{DATA_DIR}/sample_submission.csv"
LABELS = LABELS or f"{DATA_DIR}/test_labels.csv"
OUT = OUT or f"{WORK_DIR}/submission.csv"
STACKER_DIR = STACKER_DIR or f"{MODELS_DIR}/stacker"
REPORTS_DIR = REPORTS_DIR or STACKER_DIR

# %% [markdown]
# On Kaggle the package, Keras and `mtcnn` come from the bundle's wheels (no internet); in the repository they are
# installed.

# %%
import subprocess
import sys
from pathlib import Path

# every wheel of the bundle (this package, Keras, mtcnn and its dependencies), --no-deps: the Kaggle image
# brings TensorFlow and the rest
wheels = sorted(str(w) for w in Path(WHEELS_DIR).glob("*.whl")) if WHEELS_DIR else []
offline_install = [sys.executable, "-m", "pip", "install", "--no-index", "--no-deps", *wheels]
subprocess.run(offline_install, check=True) if WHEELS_DIR else "package already installed"

# %%
from deepfake_detection import ensemble, metrics, predict, submission
from deepfake_detection.artifacts import StackerDir
from deepfake_detection.config import PredictConfig, set_seeds

set_seeds(SEED)
cfg = PredictConfig(budget_hours=BUDGET_HOURS, frames=8 if QUICK else PredictConfig.frames)
cfg

# %% [markdown]
# Fit the meta model on the base models' out-of-fold video predictions; every score is out-of-fold
# (group folds), `_calibrated` rows after cross-fitted calibration.

# %%
stack = ensemble.fit_stacker(MODELS_DIR, cfg, seed=SEED)
StackerDir(STACKER_DIR).save(stack.spec)
stack.scores[["log_loss", "balanced_log_loss", "roc_auc", "accuracy"]]

# %% [markdown]
# Write `stacking.md` (beside the stacker) with the correlation matrix, ROC curves and the reliability plot.

# %%
ensemble.write_stacking_report(stack, REPORTS_DIR)

# %% [markdown]
# Predict every test video. Unusable files get the fallback probability; the reason is logged.

# %%
sample = SAMPLE_SUBMISSION if Path(SAMPLE_SUBMISSION).exists() else None
rows = predict.predict_videos(VIDEOS_DIR, MODELS_DIR, STACKER_DIR, OUT, sample_submission=sample, cfg=cfg)
rows[["video", "status", "reason", "frames", "models", "p"]]

# %% [markdown]
# Is the submission valid (every test file once, probabilities in [0, 1])?

# %%
problems = submission.validate_submission(OUT, submission.expected_filenames(VIDEOS_DIR, sample))
problems or f"{OUT} is valid"

# %% [markdown]
# How good is it, where test labels exist (the demo data has them, Kaggle's test set does not)?

# %%
metrics.evaluate_files(OUT, LABELS)[0] if Path(LABELS).exists() else "no test labels"
