"""Cross-dataset suites: the shipped zoo on FF++ videos (a small copy of the real layout), scored per method;
the pooled suite (FF++ group CV with and without the DFDC crops) on the same copy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import REPO, require_shared
from deepfake_detection.config import TrainConfig
from deepfake_detection.studies import run_suite, suite_config
from deepfake_detection.studies.cross import STACK

ORIGINALS = ("183", "253", "469", "481")
FAKES = {"Deepfakes": ("183_253", "469_481"), "FaceSwap": ("253_183", "481_469")}


@pytest.fixture(scope="module")
def small_ffpp(tmp_path_factory):
    """4 originals and 4 fakes (2 methods) at c40, copied in the FF++ layout from ../shared."""
    ffpp = require_shared("data", "ffpp")
    root = tmp_path_factory.mktemp("ffpp")
    pairs = [(f"original_sequences/youtube/c40/videos/{v}.mp4") for v in ORIGINALS]
    pairs += [f"manipulated_sequences/{m}/c40/videos/{v}.mp4" for m, names in FAKES.items() for v in names]
    for rel in pairs:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ffpp / rel, root / rel)
    return root


def test_zoo_is_scored_on_every_video_per_method_with_intervals(small_ffpp, tmp_path):
    cfg = suite_config("cross-ffpp", models=str(REPO / "models" / "zoo"), n_boot=200, permutations=200)
    result = run_suite("cross-ffpp", small_ffpp, tmp_path / "out", tmp_path / "work", cfg=cfg)
    videos, table = result.videos, result.table
    assert len(videos) == 8 and videos["label"].sum() == 4
    assert set(table["subset"]) == {"all", "method=Deepfakes", "method=FaceSwap", "compression=c40"}
    zoo = json.loads((REPO / "models" / "zoo" / "stacker" / "stacker.json").read_text())
    assert set(table["model"]) == {STACK, *(m["name"] for m in zoo["models"])}
    assert videos[STACK].between(0, 1).all()
    row = table[(table["model"] == STACK) & (table["subset"] == "method=Deepfakes")].iloc[0]
    assert (row["n_fake"], row["n_real"]) == (2, 4)  # a method's fakes against every REAL video
    assert row["roc_auc_low"] <= row["roc_auc"] <= row["roc_auc_high"] and 0 < row["roc_auc_p"] <= 1
    text = result.bench.results_md.read_text()
    assert text.startswith("# Cross-dataset") and "8 FaceForensics++ videos (4 REAL / 4 FAKE" in text
    assert "## method=FaceSwap" in text and " †" in text  # few groups: intervals marked unreliable
    for det in (tmp_path / "work" / "detect").glob("*/result.json"):  # every video went through detect
        assert json.loads(det.read_text())["verdict"] in ("FAKE", "REAL", "uncertain", "unknown")


def test_face_clips_suite_labels_by_folder_and_reports_training_overlap(tmp_path):
    """REAL/ and FAKE/ video folders are labelled by their name; the report counts the scored videos that the zoo's
    training crops contain (by DFDC name) and warns when one class has only a few videos."""
    from deepfake_detection.cli import main

    clips = require_shared("data", "face-clips")
    root = tmp_path / "clips"
    for rel in [*(f"FAKE/{p.name}" for p in sorted((clips / "FAKE").glob("*.mp4"))[:3]),
                *(f"REAL/{p.name}" for p in sorted((clips / "REAL").glob("*.mp4")))]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(clips / rel, root / rel)
    labels = tmp_path / "labels.csv"  # training crops: the REAL clip's video is the original of one training fake
    real = next((root / "REAL").glob("*.mp4")).name.split("_")[1].removesuffix(".mp4")
    labels.write_text(f"file,video,label,original\nFAKE/x.jpg,zzzzzzzzzz.mp4,FAKE,{real}.mp4\n")
    out = tmp_path / "out"
    assert main(["benchmark", "--suite", "face-clips", "--data", str(root), "--models", str(REPO / "models" / "zoo"),
                 "--train-labels", str(labels), "--out", str(out), "--work", str(tmp_path / "work")]) == 0
    result = json.loads((out / "results.json").read_text())
    facts = result["facts"]
    assert (facts["n_fake"], facts["n_real"], facts["n_groups"]) == (3, 1, 4)
    assert (facts["overlap"]["as_training_crop"], facts["overlap"]["as_original_of_one"]) == (0, 1)
    assert {r["subset"] for r in result["table"]} == {"all"}  # no method or compression known: no empty subsets
    text = (out / "results.md").read_text()
    assert "originals of a training fake (same person and scene): 1" in text and "Only 1 REAL video(s)" in text


def test_pooled_suite_scores_each_training_on_the_same_held_out_videos(small_ffpp, tmp_path):
    """FF++ group CV: the recipe trained on the other FF++ folds alone and pooled with DFDC crops that train every
    fold but are never scored, beside the zoo's model of the recipe on the same crops."""
    import numpy as np
    import pandas as pd

    from deepfake_detection.aggregate import aggregate_frames
    from deepfake_detection.artifacts import CropsDir
    from deepfake_detection.config import TRAIN_ONLY_FOLD
    from deepfake_detection.models import load_model
    from deepfake_detection.studies.common import predict_crops
    from deepfake_detection.studies.pooled import DFDC_ONLY, FFPP_ONLY, POOLED

    pooled = require_shared("data", "dfdc-faces")
    zoo = REPO / "models" / "zoo"
    cfg = suite_config("ffpp-pooled", quick=True, models=str(zoo), pooled=str(pooled))
    work = tmp_path / "work"
    result = run_suite("ffpp-pooled", small_ffpp, tmp_path / "out", work, cfg=cfg, quick=True)
    videos, facts = result.videos, result.facts
    assert len(videos) == 8 and facts["margin"] == json.loads((zoo / "stacker" / "stacker.json").read_text())[
        "models"][0]["margin"]  # the FF++ crops are cut as the zoo serves faces
    folds = pd.read_csv(work / "pooled_crops" / "folds.csv", dtype={"video_id": str})
    training_only = set(folds.loc[folds["fold"] == TRAIN_ONLY_FOLD, "video_id"])
    assert len(training_only) == facts["n_pooled_crops"] > 0
    for tag in ("FFplusplus_only", "DFDC_plus_FFplusplus"):  # both trainings score exactly the FF++ videos
        oof = pd.read_csv(work / "models" / tag / "oof_frames.csv", dtype={"video_id": str})
        assert set(oof["video_id"]) == set(videos["video_id"]) and not training_only & set(oof["video_id"])
    for tag, n_crops in (("FFplusplus_only", facts["n_crops"]),
                         ("DFDC_plus_FFplusplus", facts["n_crops"] + facts["n_pooled_crops"])):
        assert json.loads((work / "models" / tag / "config.json").read_text())["n_crops"] == n_crops
    # the DFDC-only row is the zoo's model on the same crops, aggregated per video as predict does
    crops = CropsDir(next(work.glob("crops_f4_*"))).load()
    model = load_model(zoo / "forensic_gbm" / "model.keras")
    expected = aggregate_frames(crops.assign(p=predict_crops(model, crops["path"].tolist(), 224)), "mean")
    np.testing.assert_allclose(videos.set_index("video_id").loc[expected["video_id"], DFDC_ONLY], expected["p"],
                               atol=1e-5)
    assert not np.allclose(videos[FFPP_ONLY], videos[POOLED])  # the pooled crops changed the models
    table = result.table
    assert {f"{n}{s}" for n in (DFDC_ONLY, FFPP_ONLY, POOLED) for s in ("", " +cal")} <= set(table["model"])
    assert table["roc_auc_p"].between(0, 1).all()
    assert list(result.ablation["choice"]) == [FFPP_ONLY, POOLED, POOLED] and result.ablation[
        "delta_roc_auc"].notna().all()
    text = result.bench.results_md.read_text()
    assert "## Verdict" in text and "never scored" in text and "QUICK MODE" in text


def test_fine_tune_suite_starts_every_fold_from_the_zoo_models_and_averages_them(small_ffpp, tmp_path):
    """`ffpp-finetune`: each chosen fold network of the zoo's meso4_long starts every FF++ fold and is trained
    further on the other FF++ folds; the row averages them per crop, beside the zoo's model as it is."""
    import numpy as np
    import pandas as pd

    from deepfake_detection.aggregate import aggregate_frames
    from deepfake_detection.models import load_model
    from deepfake_detection.studies.pooled import DFDC_ONLY, FINE_TUNED
    from deepfake_detection.train import fold_member

    zoo = REPO / "models" / "zoo"
    cfg = suite_config("ffpp-finetune", quick=True, models=str(zoo), members=(1, 3))
    work = tmp_path / "work"
    result = run_suite("ffpp-finetune", small_ffpp, tmp_path / "out", work, cfg=cfg, quick=True)
    videos, facts = result.videos, result.facts
    assert len(facts["trained"]) == 2 and facts["n_pooled_crops"] == 0  # one training per member; no DFDC crop read
    shipped = load_model(zoo / "meso4_long" / "model.keras")
    oofs = []
    for member in (1, 3):
        model_dir = work / "models" / f"DFDC_init_plus_FFplusplus_fine-tune_from_fold_model_{member}"
        tuned = json.loads((model_dir / "config.json").read_text())
        assert (tuned["model"], tuned["size"], tuned["head_epochs"], tuned["select_best"]) == ("meso4", 128, 0, False)
        assert tuned["epochs"] == 1 and tuned["steps_per_epoch"] == 2 and tuned["fine_tune_learning_rate"] == 1e-4
        # the start is that fold's network of the shipped ensemble, weight for weight
        for a, b in zip(load_model(tuned["weights"]).get_weights(), fold_member(shipped, member).get_weights(),
                        strict=True):
            np.testing.assert_array_equal(a, b)
        oofs.append(pd.read_csv(model_dir / "oof_frames.csv", dtype={"video_id": str}))
        assert set(oofs[-1]["video_id"]) == set(videos["video_id"])  # every FF++ video scored out of fold
    assert not np.allclose(oofs[0]["p"], oofs[1]["p"])  # two starts, two models
    # the row is the members' mean per crop, aggregated per video as predict does
    mean = oofs[0].assign(p=(oofs[0]["p"] + oofs[1]["p"]) / 2)
    expected = aggregate_frames(mean, "mean")
    np.testing.assert_allclose(videos.set_index("video_id").loc[expected["video_id"], FINE_TUNED], expected["p"],
                               atol=1e-6)
    assert not np.allclose(videos[FINE_TUNED], videos[DFDC_ONLY])  # training on FF++ moved the scores
    # the original Meso4_DF weights, untrained, score the same videos as a reference row
    reference = "Meso4_DF (pretrained)"
    assert {f"{n}{s}" for n in (DFDC_ONLY, FINE_TUNED, reference) for s in ("", " +cal")} == set(result.table["model"])
    assert videos[reference].between(0, 1).all() and facts["pretrained"]["files"][0].endswith("Meso4_DF.h5")
    assert [(r["base"], r["choice"]) for _, r in result.ablation.iterrows()] == [
        (DFDC_ONLY, FINE_TUNED), (reference, DFDC_ONLY), (reference, FINE_TUNED)]
    text = result.bench.results_md.read_text()
    assert text.startswith("# Fine-tuning on FaceForensics++") and "fold models 1, 3 of the zoo's" in text
    assert "Best pretrained MesoNet reference on the same videos: **Meso4_DF (pretrained)" in text

    # a start file is rewritten only when it stops holding its fold model (another or a retrained zoo), and a
    # training started from a rewritten file is not reused
    from deepfake_detection.config import from_dict
    from deepfake_detection.studies.common import train_or_reuse
    from deepfake_detection.studies.pooled import zoo_member

    init = Path(tuned["weights"])  # fold model 3's start, from the loop above
    stamp = init.stat().st_mtime_ns
    assert zoo_member(shipped, 3, init) == init and init.stat().st_mtime_ns == stamp
    fold_member(shipped, 1).save(init)  # as if the zoo had been retrained
    zoo_member(shipped, 3, init)
    for a, b in zip(load_model(init).get_weights(), fold_member(shipped, 3).get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    settings = from_dict(TrainConfig, tuned)
    again = train_or_reuse(tuned["crops_dir"], Path(tuned["folds_csv"]), settings, "all", model_dir)
    assert not again.reused


def test_members_are_averaged_crop_by_crop_in_any_row_order():
    import pandas as pd

    from deepfake_detection.studies.pooled import mean_of_members

    keys = {"video_id": ["a", "a", "b"], "frame": [0, 5, 0], "track": [0, 0, 1], "label": [1, 1, 0]}
    first = pd.DataFrame({**keys, "p": [0.2, 0.4, 0.6]})
    second = pd.DataFrame({**keys, "p": [0.4, 0.8, 0.0]}).iloc[[2, 0, 1]]  # the same crops, another order
    mean = mean_of_members([first, second])
    assert list(mean["video_id"]) == ["a", "a", "b"] and list(mean["label"]) == [1, 1, 0]
    assert mean["p"].round(6).tolist() == [0.3, 0.6, 0.3]
    with pytest.raises(ValueError, match="cover different crops"):
        mean_of_members([first, second.iloc[:2]])
    with pytest.raises(ValueError, match="cover different crops"):
        mean_of_members([first, pd.concat([second, second.iloc[:1]])])


def test_fine_tune_refuses_a_tree_recipe():
    from deepfake_detection.config import PooledConfig, TrainConfig
    from deepfake_detection.studies.pooled import fine_tune_config

    with pytest.raises(ValueError, match="gradient-trained recipe"):
        fine_tune_config(TrainConfig(model="forensic_gbm", size=224), REPO / "x.keras", PooledConfig())
