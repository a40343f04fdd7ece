"""DFDC face-crop benchmark: the quick suite end to end on the real crops, honest rows, null check, stacker."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd

from conftest import require_shared


def test_quick_crop_suite_scores_every_row_honestly(tmp_path, capsys, demo_dir):
    from deepfake_detection.artifacts import StackerDir
    from deepfake_detection.cli import main

    data = require_shared("data", "dfdc-faces")
    mesonet = require_shared("weights", "mesonet")
    out = tmp_path / "out"
    assert main(["benchmark", "--suite", "dfdc-crops", "--data", str(data), "--quick", "--mesonet-dir", str(mesonet),
                 "--out", str(out), "--work", str(tmp_path / "work")]) == 0
    assert "| stack +cal |" in capsys.readouterr().out
    result = json.loads((out / "results.json").read_text())
    facts, table = result["facts"], pd.DataFrame(result["table"])
    assert facts["n_groups"] == 60 and facts["settings"]["k"] == 2
    assert set(table["model"]) == {"meso4", "meso4 +cal", "stack", "stack +cal", "Meso4_DF (pretrained)",
                                   "Meso4_DF (pretrained) +cal"}
    assert table["roc_auc_p"].between(0, 1).all() and (table["n_groups"] == 60).all()
    assert ((table["roc_auc_low"] <= table["roc_auc"] + 1e-9).all()
            and (table["roc_auc"] <= table["roc_auc_high"] + 1e-9).all())
    null = pd.DataFrame(result["null"]).set_index("row")
    assert set(table["model"]) <= set(null.index) and null["passes"].all()
    videos = pd.DataFrame(result["videos"])
    folds = videos.groupby("group")["fold"].nunique()
    assert (folds == 1).all()  # group CV: a fake never leaves its original's fold
    md = (out / "results.md").read_text()
    assert md.startswith("# DFDC face-crop benchmark (QUICK MODE") and "60 groups" in md and " †" in md
    spec = StackerDir.of(out).load()
    assert [m["name"] for m in spec["models"]] == ["meso4"]  # the project's own weights only
    assert np.isfinite(spec["calibration"]["scale"])
    assert (out / "stacker" / "stacking.md").is_file() and (out / "figures" / "roc.png").is_file()

    # the zoo: the run's deployed models + stacker + a card with the run's own numbers, used when no model is named
    zoo = tmp_path / "zoo"
    assert main(["zoo", "--work", str(tmp_path / "work"), "--bench", str(out), "--out", str(zoo)]) == 0
    card = (zoo / "MODEL_CARD.md").read_text()
    stack_row = table.set_index("model").loc["stack +cal"]
    assert f"| stack +cal | {stack_row['roc_auc']:.3f} [{stack_row['roc_auc_low']:.3f}" in card
    assert "Apache-2.0" in card and "research" in card and "Keras" in card
    crops = sorted((data / "FAKE").glob("*.jpg"))[:2] + sorted((data / "REAL").glob("*.jpg"))[:2]
    scores_csv = tmp_path / "scores.csv"
    assert main(["score-crops", *map(str, crops), "--zoo", str(zoo), "--out", str(scores_csv)]) == 0
    scores = pd.read_csv(scores_csv)
    assert list(scores.columns[:2]) == ["path", "p_fake"] and len(scores) == 4
    assert scores["p_fake"].between(spec["calibration"]["clip_low"], spec["calibration"]["clip_high"]).all()
    submission = tmp_path / "submission.csv"
    assert main(["predict", str(demo_dir / "test_videos"), "--models", str(zoo), "--out", str(submission),
                 "--frames", "4", "--sample-submission", str(demo_dir / "sample_submission.csv")]) == 0
    assert pd.read_csv(submission)["label"].between(0, 1).all()


def test_the_committed_zoo_scores_crops_with_no_model_named(tmp_path, monkeypatch):
    """A fresh clone detects without training: score-crops falls back to models/zoo, loaded in safe mode."""
    from pathlib import Path

    import cv2

    from deepfake_detection.cli import main

    repo = Path(__file__).resolve().parents[1]
    assert (repo / "models" / "zoo" / "MODEL_CARD.md").is_file()
    monkeypatch.chdir(repo)
    rng = np.random.default_rng(0)
    images = []
    for i in range(3):  # any face-crop-sized images: the zoo must return a probability for each
        images.append(tmp_path / f"crop_{i}.jpg")
        cv2.imwrite(str(images[-1]), rng.integers(0, 255, (160, 160, 3), dtype=np.uint8))
    out = tmp_path / "scores.csv"
    assert main(["score-crops", *map(str, images), "--out", str(out)]) == 0
    scores = pd.read_csv(out)
    from deepfake_detection.config import CropsBenchmarkConfig

    shipped = list(CropsBenchmarkConfig().recipes)  # `make models` ships the default recipes
    assert list(scores.columns) == ["path", "p_fake", *shipped] and len(scores) == 3
    assert scores[["p_fake", *shipped]].apply(lambda c: c.between(0, 1)).all().all()
    card = (repo / "models" / "zoo" / "MODEL_CARD.md").read_text()
    results = (repo / "reports" / "dfdc-crops" / "results.md").read_text()
    stack_auc = card.split("| stack +cal | ")[1].split(" |")[0]
    assert stack_auc in results  # the card's numbers are the committed benchmark run's


def test_crop_ablations_compare_each_variant_with_its_base(tmp_path):
    """Ablation rows: the variant and its base trained on the same folds, the paired delta with its interval; the
    extra recipes are scored but not stacked, and a model trained with another resize is served with it."""
    import json as _json

    from deepfake_detection.config import CROP_ABLATIONS, QUICK_CROPS_BENCHMARK, CropsBenchmarkConfig
    from deepfake_detection.predict import load_ensemble
    from deepfake_detection.studies import run_suite, suite_config
    from deepfake_detection.studies.common import train_or_reuse
    from deepfake_detection.studies.crops import recipe_config

    data = require_shared("data", "dfdc-faces")
    resize = next(c for c, pair in CROP_ABLATIONS.items() if pair[1] == "meso4_linear")
    work, out = tmp_path / "work", tmp_path / "out"
    cfg = suite_config("dfdc-crops", quick=True, ablations=(resize,), null=0)
    result = run_suite("dfdc-crops", data, out, work, cfg=cfg, quick=True, mesonet_dir=None)
    ablation = result.ablation.set_index("choice")
    row = ablation.loc[resize]
    assert (row["column"], row["base"]) == ("meso4_linear +cal", "meso4_flip +cal")
    assert row["delta_roc_auc_low"] <= row["delta_roc_auc"] <= row["delta_roc_auc_high"]
    assert result.facts["stack_models"] == ["meso4"]  # the ablation recipes are scored, never stacked
    assert {"meso4_flip", "meso4_linear +cal"} <= set(result.table["model"])
    assert result.stacker.load()["models"][0]["name"] == "meso4"
    oof = {n: pd.read_csv(work / "models" / n / "oof_frames.csv")["p"].to_numpy()
           for n in ("meso4_flip", "meso4_linear")}
    assert not np.allclose(oof["meso4_flip"], oof["meso4_linear"])  # the resize reached training and OOF
    assert "## Ablations" in (out / "results.md").read_text()
    served = {m.name: m.resize for m in load_ensemble(work / "models").models}
    assert served["meso4_linear"] == "linear" and served["meso4_flip"] == "area"

    # a finished run that predates a setting (no "resize" in its config.json) ran with its default: still reused
    config_json = work / "models" / "meso4_flip" / "config.json"
    config = _json.loads(config_json.read_text())
    config_json.write_text(_json.dumps({k: v for k, v in config.items() if k != "resize"}))
    cfg = recipe_config("meso4_flip", CropsBenchmarkConfig(**QUICK_CROPS_BENCHMARK), None, quick=True)
    reused = train_or_reuse(data, work / "folds.csv", cfg, "all", work / "models" / "meso4_flip")
    assert reused.reused and reused.seconds == 0.0 and reused.model_dir.name == "meso4_flip"
    assert reused.val_video_bll.keys() == {0, 1} and "roc_auc" in reused.oof_video_metrics
    # the suite caches decoded crops; a speed-only change (no cache, quieter logs) keeps the training, a real one not
    assert cfg.cache
    assert train_or_reuse(data, work / "folds.csv", replace(cfg, cache=False, verbose=0), "all",
                          work / "models" / "meso4_flip").reused
    assert not train_or_reuse(data, work / "folds.csv", replace(cfg, seed=cfg.seed + 1), "all",
                              work / "models" / "meso4_flip").reused
