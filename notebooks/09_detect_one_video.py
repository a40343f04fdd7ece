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
# # 09 · Is this one video fake?
# The question a person holding one suspicious video asks: is it fake, how sure are you, and why?
# `deepfake_detection.detect` answers it with the same stages as `predict` (frames -> tracked faces -> every
# model -> aggregation -> stacker), so the video's P(FAKE) is the number `predict` would write, and adds the
# evidence: a 95 % interval from a bootstrap over frames, the P(FAKE) of every face in every sampled frame, a
# score per person, Grad-CAM of the most-fake and most-real faces, and what the models were trained on. The
# command line does the same: `python -m deepfake_detection detect VIDEO`.

# %% tags=["parameters"]
DATA_DIR = "work/demo"
WORK_DIR = "work"
VIDEO = None  # None: a real DFDC video from ../shared when present, else the demo's first test clip
MODELS_DIR = "models/zoo"  # the shipped zoo (models/zoo/MODEL_CARD.md)
QUICK = True
SEED = 0

# %% [markdown]
# Which video? A real DFDC training video (its label is known, so we can see whether the verdict is right),
# or, where `../shared` is absent, a synthetic demo clip.

# %%
import json
import os
from pathlib import Path

from IPython.display import Image, Markdown, display

from deepfake_detection.config import set_seeds
from deepfake_detection.detect import RESULT_FILE, DetectConfig, detect_paths

set_seeds(SEED)

# %%
shared_dfdc = Path(os.environ.get("DFD_SHARED", "../shared")) / "data" / "dfdc"
real = sorted(shared_dfdc.glob("dfdc_train_part_*/*.mp4"))
demo = sorted(p for p in Path(DATA_DIR, "test_videos").glob("*.mp4") if p.stat().st_size > 100_000)
VIDEO = Path(VIDEO) if VIDEO else (real or demo)[0]
label = json.loads((VIDEO.parent / "metadata.json").read_text()).get(VIDEO.name, {}).get("label") \
    if (VIDEO.parent / "metadata.json").exists() else None
print(VIDEO, "- DFDC label:", label or "unknown")

# %% [markdown]
# Run `detect`: it writes `result.json`, a self-contained `report.html` and the figures into `WORK_DIR/detect/`.

# %%
OUT = Path(WORK_DIR) / "detect"
detection = detect_paths([VIDEO], MODELS_DIR, OUT, dcfg=DetectConfig(seed=SEED))[0]
folder = OUT / detection.name
display(Markdown(f"**{detection.verdict}**: {detection.summary}"))

# %% [markdown]
# P(FAKE) of each face in each sampled frame (the stack applied to that face alone), with the threshold and the
# video score and its interval. A steady line says the verdict does not hang on a few frames.

# %%
Image(folder / "timeline.png") if (folder / "timeline.png").exists() else "no face, so no timeline"

# %% [markdown]
# Where the model looks on the most-fake and most-real faces (Grad-CAM of the first model with convolutional
# maps). Blending artefacts show up at the face boundary; a map on the background says the model keys on
# something other than the face.

# %%
Image(folder / "gradcam.png") if (folder / "gradcam.png").exists() else "no face, so no Grad-CAM"

# %% [markdown]
# Per model and per person, and how long each step took (2 CPU cores).

# %%
result = json.loads((folder / RESULT_FILE).read_text())
display(result["models"], result["tracks"])
result["timings"]

# %% [markdown]
# How far to trust it: the models' cross-validated scores and known limits, from the model card.

# %%
card = result["model_card"]
display(Markdown("\n".join(f"- {line}" for line in card.get("limits", [])) or card.get("note", "")))
card.get("cv", {}).get("stack_calibrated")
