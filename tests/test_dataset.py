"""Index, probe and folds: on the real DFDC/FF++ files in ../shared and on small made-up layouts."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deepfake_detection import dataset
from deepfake_detection.dataset import (
    class_weights,
    fold_summary,
    holdout_split,
    imbalance_table,
    index_videos,
    make_folds,
    probe_video,
    read_index,
    video_id_for,
)


def _write_metadata(folder: Path, entries: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metadata.json").write_text(json.dumps(entries))


def test_dfdc_parts_index(shared_dfdc):
    index, problems = index_videos(shared_dfdc)
    parts = index[index["part"].str.startswith("dfdc_train_part")]
    assert len(parts) == 6
    assert parts["exists"].sum() == 3
    assert (parts["label"] == 1).all()
    row = parts.set_index("filename").loc["brtujopkby.mp4"]
    assert row["original"] == "gnmmhlbzge.mp4" and row["group"] == "gnmmhlbzge"
    assert (row["width"], row["height"]) == (1080, 1920)  # portrait, true orientation
    assert row["frames"] == 300 and row["readable"] == 1
    missing = parts.set_index("filename").loc["awnfpubqmo.mp4"]
    assert missing["exists"] == 0 and missing["error"] == "missing"
    assert problems.missing_videos == len(index) - 3


def test_train_sample_metadata_counts(shared_dfdc):
    index, _ = index_videos(shared_dfdc, probe=False)
    sample = index[index["part"] == "train_sample_videos"]
    assert len(sample) == 400
    assert (sample["label"] == 1).sum() == 323 and (sample["label"] == 0).sum() == 77
    fakes = sample[sample["label"] == 1]
    assert (fakes["group"] == fakes["original"].str.replace(".mp4", "", regex=False)).all()


def test_ffpp_index(shared_ffpp):
    index, _ = index_videos(shared_ffpp)
    assert (index["label"] == 0).sum() == 15 and (index["label"] == 1).sum() == 52
    assert set(index["compression"]) == {"c23", "c40"}
    assert set(index.loc[index["label"] == 1, "method"]) == {"Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures"}
    assert index["video_id"].is_unique
    groups = index.set_index("video_id")["group"]
    pair = index[index["filename"].isin(["183.mp4", "253.mp4", "183_253.mp4", "253_183.mp4"])]
    assert pair["group"].nunique() == 1 and len(pair) > 4
    assert groups.nunique() == 7
    assert index["readable"].all()


def test_unsafe_and_malformed_metadata(tmp_path, caplog):
    _write_metadata(tmp_path / "part_a", {"../escape.mp4": {"label": "FAKE"}, "/abs.mp4": {"label": "REAL"},
                                          "ok.mp4": {"label": "REAL"}})
    (tmp_path / "part_b").mkdir()
    (tmp_path / "part_b" / "metadata.json").write_text("{not json")
    _write_metadata(tmp_path / "part_c", {"fine.mp4": {"label": "FAKE", "original": "ok.mp4"}})
    with caplog.at_level(logging.ERROR):
        index, problems = index_videos(tmp_path, probe=False)
    assert sorted(index["filename"]) == ["fine.mp4", "ok.mp4"]
    assert len(problems.unsafe_entries) == 2 and all("part_a/metadata.json" in p for p in problems.unsafe_entries)
    assert any("'../escape.mp4'" in p for p in problems.unsafe_entries)
    assert len(problems.malformed_metadata) == 1 and "part_b/metadata.json" in problems.malformed_metadata[0]


def test_test_folder_and_duplicates(tmp_path):
    (tmp_path / "test_videos").mkdir()
    (tmp_path / "test_videos" / "aaa.mp4").write_bytes(b"")
    (tmp_path / "test_videos" / "bbb.mp4").write_text("not a video")
    _write_metadata(tmp_path / "p1", {"dup.mp4": {"label": "REAL"}})
    _write_metadata(tmp_path / "p2", {"dup.mp4": {"label": "REAL"}})
    index, problems = index_videos(tmp_path)
    test = index[index["split"] == "test"].set_index("filename")
    assert test["label"].isna().all() and set(test["source"]) == {"dfdc_test"}
    assert test.loc["aaa.mp4", "error"] == "empty file"
    assert "cannot open" in test.loc["bbb.mp4", "error"] or "no decodable" in test.loc["bbb.mp4", "error"]
    assert problems.duplicate_filenames == ["dup.mp4"]


def test_probe_missing_and_cache(tmp_path, shared_dfdc, monkeypatch):
    assert probe_video(tmp_path / "nope.mp4")["error"] == "missing"
    monkeypatch.setenv("DFD_CACHE_DIR", str(tmp_path / "cache"))  # start with an empty cache
    opened = []
    monkeypatch.setattr(dataset, "probe_video", lambda path: opened.append(Path(path).name) or probe_video(path))
    first, _ = index_videos(shared_dfdc / "dfdc_train_part_10")
    assert sorted(opened) == ["widuwuoiur.mp4", "yhffcuhhjy.mp4"]
    second, _ = index_videos(shared_dfdc / "dfdc_train_part_10")
    assert sorted(opened) == ["widuwuoiur.mp4", "yhffcuhhjy.mp4"]  # the second index opened no video
    pd.testing.assert_frame_equal(first, second)
    cached = json.loads((tmp_path / "cache" / "probes.json").read_text())
    assert sorted(Path(key.split("|")[0]).name for key in cached) == ["widuwuoiur.mp4", "yhffcuhhjy.mp4"]

    copy = tmp_path / "videos" / "clip.mp4"  # a changed file is probed again
    copy.parent.mkdir()
    copy.write_bytes((shared_dfdc / "dfdc_train_part_10" / "yhffcuhhjy.mp4").read_bytes())
    index_videos(copy.parent)
    os.utime(copy, ns=(copy.stat().st_atime_ns, copy.stat().st_mtime_ns + 10**9))
    index_videos(copy.parent)
    assert opened[2:] == ["clip.mp4", "clip.mp4"]


def test_index_roundtrip_csv(tmp_path, shared_ffpp):
    index, _ = index_videos(shared_ffpp, probe=False)
    index.to_csv(tmp_path / "index.csv", index=False)
    again = read_index(tmp_path / "index.csv")
    assert again["label"].tolist() == index["label"].tolist()
    assert again["original"].fillna("").tolist() == index["original"].tolist()


def _toy_index(n_groups: int = 20, fakes_per_group: int = 4) -> pd.DataFrame:
    rows = []
    for g in range(n_groups):
        rows.append({"video_id": f"r{g}", "filename": f"r{g}.mp4", "label": 0, "group": f"r{g}", "exists": 1})
        for f in range(fakes_per_group):
            rows.append({"video_id": f"f{g}_{f}", "filename": f"f{g}_{f}.mp4", "label": 1, "group": f"r{g}",
                         "exists": 1})
    frame = pd.DataFrame(rows)
    frame["label"] = frame["label"].astype("Int64")
    return frame


def test_folds_keep_groups_together_and_are_seeded():
    index = _toy_index()
    folds = make_folds(index, k=5, seed=0)
    assert (folds.groupby("group")["fold"].nunique() == 1).all()
    per_fold = folds.groupby("fold")["label"].agg(lambda s: set(s.astype(int)))
    assert all(labels == {0, 1} for labels in per_fold)
    assert folds["fold"].tolist() == make_folds(index, k=5, seed=0)["fold"].tolist()
    assert folds["fold"].tolist() != make_folds(index, k=5, seed=1)["fold"].tolist()
    summary = fold_summary(folds)
    assert summary["videos"].sum() == len(index) and summary["groups"].sum() == 20


def test_ffpp_folds_no_identity_crosses(shared_ffpp):
    index, _ = index_videos(shared_ffpp, probe=False)
    folds = make_folds(index, k=3, seed=0)
    ids_per_fold = {f: set("_".join(g["filename"].str.replace(".mp4", "", regex=False)).split("_"))
                    for f, g in folds.groupby("fold")}
    for a in ids_per_fold:
        for b in ids_per_fold:
            if a != b:
                assert not ids_per_fold[a] & ids_per_fold[b]


def test_holdout_and_too_few_groups():
    index = _toy_index(n_groups=10)
    holdout = holdout_split(index, 0.2, seed=0)
    share = (holdout["fold"] == 0).mean()
    assert 0.1 <= share <= 0.3
    assert (holdout.groupby("group")["fold"].nunique() == 1).all()
    with pytest.raises(ValueError, match="groups cannot fill"):
        make_folds(_toy_index(n_groups=3), k=5)


def test_class_weights_and_imbalance_table():
    labels = np.array([1] * 84 + [0] * 16)
    weights = class_weights(labels)
    assert weights[0] * 16 == pytest.approx(weights[1] * 84)
    table = imbalance_table(labels).set_index("strategy")
    assert table.loc["none", "effective_fake_share"] == 0.84
    for strategy in ("class_weights", "oversample", "undersample", "balanced"):
        assert table.loc[strategy, "effective_fake_share"] == pytest.approx(0.5)
    assert table.loc["oversample", "real_per_epoch"] == 84
    assert table.loc["undersample", "fake_per_epoch"] == 16


def test_video_id_is_path_based():
    assert video_id_for("manipulated_sequences/Deepfakes/c23/videos/183_253.mp4") == \
        "manipulated_sequences__Deepfakes__c23__videos__183_253"


def test_class_balance_is_one_rule_for_the_table_and_the_epoch_plan_on_odd_counts():
    """imbalance_table, epoch_size and epoch_plan agree per class, also for an odd number of crops."""
    import numpy as np

    from deepfake_detection.dataset import epoch_class_counts, imbalance_table
    from deepfake_detection.pipeline import epoch_plan, epoch_size

    labels = np.array([0, 0, 1, 1, 1, 1, 1])  # 2 REAL, 5 FAKE: 7 crops, odd
    table = imbalance_table(labels).set_index("strategy")
    for strategy in ("none", "class_weights", "oversample", "undersample", "balanced"):
        real, fake = epoch_class_counts(labels, strategy)
        assert (table.loc[strategy, "real_per_epoch"], table.loc[strategy, "fake_per_epoch"]) == (real, fake)
        assert epoch_size(labels, strategy) == real + fake
        plan = epoch_plan(labels, strategy, real + fake, seed=0, epoch=0)
        assert (int((labels[plan] == 0).sum()), int((labels[plan] == 1).sum())) == (real, fake), strategy
    assert epoch_class_counts(labels, "balanced") == (4, 3)  # the odd sample goes to REAL, in table and plan alike
