"""The fuzz corpus (tests/fuzz_corpus.py) through index, extract, predict and detect.

For every case: a message naming the file and the reason in the stage's errors.csv, a complete and valid
submission with the fallback for each bad video, nothing written outside the output folder, and no other
video's result lost (the intact clips are predicted like the good one).
"""

from __future__ import annotations

import json
import os

import cv2
import numpy as np
import pandas as pd
import pytest

from conftest import REPO
from deepfake_detection.cli import main
from fuzz_corpus import GOOD, INTACT, metadata_cases, video_cases

ZOO = REPO / "models" / "zoo"


def _tree(root) -> dict[str, tuple[int, int]]:
    """Relative path -> (size, mtime_ns) of everything under root, symlinks not followed."""
    out = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            stat = os.lstat(path)
            out[os.path.relpath(path, root)] = (stat.st_size, stat.st_mtime_ns)
    return out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, demo_dir):
    """(videos folder, metadata root, video cases, metadata cases, a snapshot of both)."""
    root = tmp_path_factory.mktemp("fuzz")
    source = sorted((demo_dir / "test_videos").glob("*.mp4"))
    manifest = json.loads((demo_dir / "demo_manifest.json").read_text())
    skip = set(manifest["specials"].values())
    clip = next(p for p in source if p.name not in skip)  # an ordinary demo clip: it has a face
    capture, frames = cv2.VideoCapture(str(clip)), []
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    capture.release()
    assert len(frames) >= 8, clip
    videos_cases = video_cases(root / "videos", frames)
    meta_cases = metadata_cases(root / "meta", root / "videos" / GOOD)
    snapshot = {"videos": _tree(root / "videos"), "meta": _tree(root / "meta")}
    yield root / "videos", root / "meta", videos_cases, meta_cases, snapshot
    os.chmod(root / "videos" / "no-permission.mp4", 0o644)  # let pytest clean up


@pytest.fixture(scope="module")
def runs(corpus, tmp_path_factory):
    """Every stage run once over the corpus from an empty working folder; returns that folder and the outputs."""
    videos, meta, _, _, _ = corpus
    cwd = tmp_path_factory.mktemp("cwd")
    out = cwd / "out"
    before = os.getcwd()
    os.chdir(cwd)
    try:
        codes = {
            "index_meta": main(["index", str(meta), "--out", str(out / "index_meta" / "index.csv")]),
            "index_videos": main(["index", str(videos), "--out", str(out / "index_videos" / "index.csv")]),
            "extract": main(["extract", str(out / "index_videos" / "index.csv"), "--data-dir", str(videos),
                             "--out", str(out / "crops"), "--frames", "8", "--size", "64"]),
            "predict": main(["predict", str(videos), "--models", str(ZOO),
                             "--out", str(out / "predict" / "submission.csv"), "--frames", "8"]),
            "detect": main(["detect", *map(str, sorted(videos.iterdir())), "--models", str(ZOO), "--out",
                            str(out / "detect"), "--frames", "8", "--no-gradcam"]),
        }
    finally:
        os.chdir(before)
    return cwd, out, codes


def _errors(folder) -> pd.DataFrame:
    errors = pd.read_csv(folder / "errors.csv", keep_default_na=False)
    assert list(errors.columns) == ["input", "status", "reason"] and (errors["reason"] != "").all()
    return errors


def _named(errors: pd.DataFrame, name: str) -> pd.DataFrame:
    return errors[errors["input"].map(lambda s: name in s)]


def test_every_stage_finishes_and_writes_only_into_its_output_folder(corpus, runs):
    videos, meta, _, _, snapshot = corpus
    cwd, out, codes = runs
    assert codes == dict.fromkeys(codes, 0)
    assert {"videos": _tree(videos), "meta": _tree(meta)} == snapshot  # inputs untouched
    assert sorted(os.listdir(cwd)) == ["out"]  # nothing beside the output folder


def test_broken_metadata_is_named_per_part_and_the_good_entries_stay(corpus, runs):
    _, _, _, meta_cases, _ = corpus
    _, out, _ = runs
    errors = _errors(out / "index_meta")
    index = pd.read_csv(out / "index_meta" / "index.csv", keep_default_na=False)
    failed = []
    for part, what in meta_cases.items():
        rows = _named(errors, f"{part}/")
        if rows.empty:
            failed.append(f"{part} ({what}): no errors.csv row")
        if (part not in ("invalid-json", "top-level-list", "binary")
                and f"{part}/aaaaaaaaaa.mp4" not in set(index["path"])):
            failed.append(f"{part} ({what}): its readable entry was dropped")
    assert not failed, failed
    statuses = errors.groupby(errors["input"].str.split("/").str[-2])["status"].apply(set)
    assert {"unsafe_entry"} <= statuses["dotdot"] and {"unsafe_entry"} <= statuses["absolute"]
    assert "missing" in statuses["missing-file"] and "duplicate_name" in set(errors["status"])
    assert index.loc[index["path"] == "label-unknown/aaaaaaaaaa.mp4", "label"].item() == ""  # unknown, not guessed


def test_every_bad_video_is_named_with_its_reason_at_every_stage(corpus, runs):
    _, _, cases, _, _ = corpus
    _, out, _ = runs
    extracted = pd.read_csv(out / "crops" / "videos.csv", keep_default_na=False).set_index("video_id")
    predicted = pd.read_csv(out / "predict" / "predictions_log.csv", keep_default_na=False).set_index("video")
    detected = {json.loads(p.read_text())["input"].rsplit("/", 1)[-1]: json.loads(p.read_text())
                for p in (out / "detect").glob("*/result.json")}
    failed = []
    for stage, folder, status_of in (
            ("extract", out / "crops", lambda n: extracted.loc[n.removesuffix(".mp4"), "status"]),
            ("predict", out / "predict", lambda n: predicted.loc[n, "status"]),
            ("detect", out / "detect", lambda n: detected[n]["status"])):
        errors = _errors(folder)
        for name, what in cases.items():
            try:
                status = status_of(name)
            except KeyError:
                failed.append(f"{stage}: {name} ({what}) has no result row")
                continue
            if name in INTACT:
                if status != "ok":
                    failed.append(f"{stage}: intact {name} got {status}")
            elif status != "ok" and _named(errors, name).empty:
                failed.append(f"{stage}: {name} ({what}) is {status} but not in errors.csv")
    assert not failed, failed
    n = len(cases)
    print(f"fuzz corpus: {n} video cases x 3 stages, all handled")  # noqa: T201 - the closing note's count


def test_the_submission_is_complete_with_the_fallback_for_every_bad_video(corpus, runs):
    videos, _, cases, _, _ = corpus
    _, out, _ = runs
    from deepfake_detection.artifacts import StackerDir
    from deepfake_detection.submission import validate_submission

    submission = out / "predict" / "submission.csv"
    names = sorted(p.name for p in videos.iterdir() if p.suffix == ".mp4")
    assert validate_submission(submission, names) == []
    table = pd.read_csv(submission).set_index("filename")["label"]
    log = pd.read_csv(out / "predict" / "predictions_log.csv", keep_default_na=False).set_index("video")
    fallback = StackerDir.of(ZOO).load()["fallback"]
    for name in cases:
        if log.loc[name, "status"] in ("ok", "partial"):
            assert table[name] != pytest.approx(fallback) or name not in INTACT
        else:
            assert table[name] == pytest.approx(fallback), name
    assert table[INTACT[0]] == pytest.approx(table[INTACT[1]], abs=1e-6)  # the same clip under a unicode name
    assert np.isfinite(table.to_numpy()).all()
