"""FF++ benchmark: the quick run end to end on the real clips, table invariants, same seed -> same table."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from conftest import require_shared


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> dict:
    """One quick benchmark (2 folds, 4 frames, 1 epoch, meso4) on ../shared/data/ffpp.

    The ablation and cross-compression retrainings are left out to keep the test short (`--quick` runs them).
    """
    from deepfake_detection.studies import run_suite, suite_config

    data = require_shared("data", "ffpp")
    mesonet = require_shared("weights", "mesonet")
    root = tmp_path_factory.mktemp("ffpp_bench")
    cfg = suite_config("ffpp", quick=True, seed=0, ablations=False, cross_compression_models=(), null=300)
    result = run_suite("ffpp", data, root / "out", root / "work", cfg=cfg, quick=True, mesonet_dir=mesonet)
    assert result.bench.results_json == root / "out" / "results.json"
    return {"result": result, "root": root, "json": result.bench.load()}


def test_quick_run_writes_report_with_honest_first_lines(quick_run):
    md = (quick_run["root"] / "out" / "results.md").read_text().splitlines()
    facts = quick_run["json"]["facts"]
    head = "\n".join(md[:8])
    assert md[0].startswith("# FaceForensics++ benchmark (QUICK MODE")
    assert f"**Data:** {facts['n_videos']} videos" in head
    assert "small public sample of FaceForensics++" in head and "15 REAL / 52 FAKE" in head
    assert f"{facts['n_groups']} identity groups" in head and "2 stratified group folds" in head
    assert "**CPU time:**" in head and "**Weights:**" in head and "Meso4_DF.h5" in head
    assert facts["n_videos_available"] == 67 and facts["k"] == 2 and facts["settings"]["frames"] == 4
    for figure in ("roc.png", "by_method_balanced_log_loss.png", "by_method_roc_auc.png", "reliability.png"):
        assert (quick_run["root"] / "out" / "figures" / figure).stat().st_size > 0
    text = "\n".join(md)
    for row in ("| meso4 |", "| meso4 +cal |", "| stack +cal |", "| Meso4_DF (pretrained) |", "| constant prior |"):
        assert row in text
    assert "## method=Deepfakes" in text and "## compression=c40" in text


def test_every_main_row_passes_the_null_check(quick_run):
    """The quick run's own scoring path on permuted labels: no row does better than chance without signal."""
    null = pd.DataFrame(quick_run["json"]["null"]).set_index("row")
    table = pd.DataFrame(quick_run["json"]["table"])
    main_rows = set(table["model"])
    assert main_rows <= set(null.index), main_rows - set(null.index)
    assert null["passes"].all(), null
    assert (null["null_balanced_log_loss"] >= np.log(2) - 0.005).all()
    md = (quick_run["root"] / "out" / "results.md").read_text()
    assert "## Null check (labels permuted)" in md and "Every row passes." in md
    assert " †" in md and "groups" in md  # 2-fold quick run on few groups: intervals marked unreliable


def test_every_model_scored_on_every_subset_with_prior(quick_run):
    table = pd.DataFrame(quick_run["json"]["table"])
    models = set(table["model"])
    assert {"meso4", "meso4 +cal", "stack", "stack +cal"} <= models
    assert {"Meso4_DF (pretrained)", "Meso4_DF (pretrained) +cal"} <= models  # quick mode: one weight file
    subsets = table.groupby("model")["subset"].apply(set)
    assert all(s == subsets.iloc[0] for s in subsets)
    assert table["prior_balanced_log_loss"].notna().all()


def test_method_subsets_hold_all_real_and_only_their_fakes(quick_run):
    from deepfake_detection.studies.common import evaluation_subsets

    videos = pd.DataFrame(quick_run["json"]["videos"])
    real = set(videos.loc[videos["label"] == 0, "video_id"])
    subsets = evaluation_subsets(videos)
    methods = [s for s in subsets if s.startswith("method=")]
    assert methods
    for subset in methods:
        part = videos.loc[subsets[subset]]
        assert real <= set(part["video_id"])
        assert set(part.loc[part["label"] == 1, "method"]) == {subset.split("=")[1]}
    compressions = [subsets[s] for s in subsets if s.startswith("compression=")]
    assert sorted(i for idx in compressions for i in idx) == sorted(videos.index)


def test_intervals_contain_the_point_estimate(quick_run):
    table = pd.DataFrame(quick_run["json"]["table"])
    for metric in ("log_loss", "balanced_log_loss", "roc_auc", "accuracy"):
        rows = table[table[metric].notna() & table[f"{metric}_low"].notna()]
        assert len(rows)
        assert (rows[f"{metric}_low"] <= rows[metric] + 1e-9).all(), metric
        assert (rows[metric] <= rows[f"{metric}_high"] + 1e-9).all(), metric


def test_same_seed_retraining_gives_the_same_table(quick_run, tmp_path):
    """The benchmark run again with the same seed retrains meso4 (crops reused) and writes the same table."""
    import shutil
    from dataclasses import replace

    from deepfake_detection.config import TrainConfig, from_json
    from deepfake_detection.studies import run_suite, suite_config
    from deepfake_detection.train import train_model

    work = tmp_path / "work"  # the first run's crops and folds, none of its trainings
    shutil.copytree(quick_run["root"] / "work", work, ignore=shutil.ignore_patterns("models", "stack_inputs"))
    cfg = suite_config("ffpp", quick=True, seed=0, ablations=False, cross_compression_models=())
    run_suite("ffpp", require_shared("data", "ffpp"), tmp_path / "out", work, cfg=cfg, quick=True,
              mesonet_dir=require_shared("weights", "mesonet"))
    again = json.loads((tmp_path / "out" / "results.json").read_text())
    assert again["facts"]["reused_trainings"] == []  # meso4 was trained a second time
    first_p = pd.read_csv(quick_run["root"] / "work" / "models" / "meso4" / "oof_frames.csv")
    assert first_p["p"].std() > 0  # predictions vary by crop, so equality is not trivial
    pd.testing.assert_frame_equal(pd.read_csv(work / "models" / "meso4" / "oof_frames.csv"), first_p)
    for part in ("videos", "table"):
        pd.testing.assert_frame_equal(pd.DataFrame(again[part]), pd.DataFrame(quick_run["json"][part]))

    cfg_path = work / "models" / "meso4" / "config.json"  # another seed gives other predictions: the check can fail
    done, cfg = json.loads(cfg_path.read_text()), from_json(TrainConfig, cfg_path)
    train_model(done["crops_dir"], done["folds_csv"], replace(cfg, seed=cfg.seed + 1), fold=done["fold"],
                out_dir=tmp_path / "other_seed")
    assert np.abs(pd.read_csv(tmp_path / "other_seed" / "oof_frames.csv")["p"] - first_p["p"]).max() > 1e-4


def test_model_aliases_and_unknown_names():
    from deepfake_detection.studies.ffpp import resolve_models

    assert resolve_models(["mesonet4", "xception"]) == ("meso4", "xception")
    with pytest.raises(ValueError, match="unknown model"):
        resolve_models(["nope"])


def test_derived_crops_cut_the_margin_and_keep_the_manifest(tmp_path: Path):
    from deepfake_detection.studies.ffpp import derive_crops

    crops = tmp_path / "crops"
    (crops / "v").mkdir(parents=True)
    image = np.zeros((256, 256, 3), np.uint8)
    image[20:236, 20:236] = 255  # a margin-0.15 cut of a margin-0.3 crop keeps the centre 1.3 / 1.6 = 208 px (24:232)
    cv2.imwrite(str(crops / "v" / "00000_0.jpg"), image)
    pd.DataFrame([{"video_id": "v", "frame": 0, "track": 0, "x1": 0, "y1": 0, "x2": 1, "y2": 1, "confidence": 1.0,
                   "crop_path": "v/00000_0.jpg", "label": 1, "group": "g"}]).to_csv(crops / "manifest.csv", index=False)
    out = derive_crops(crops, tmp_path / "cut", 64, "area", margin=0.3, to_margin=0.15)
    small = cv2.imread(str(out.path / "v" / "00000_0.jpg"))
    assert small.shape == (64, 64, 3)
    assert small[2:-2, 2:-2].min() > 200  # the dark border was cut away: (1 + 0.3) / (1 + 0.6) of the side kept
    assert len(out.load()) == 1 and out.path == tmp_path / "cut"


def test_cli_lists_the_benchmark_command(capsys):
    from deepfake_detection.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["benchmark-ffpp", "--help"])
    assert exit_info.value.code == 0
    assert "--quick" in capsys.readouterr().out
