"""The spine's CLI commands run end to end on the real files in ../shared."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from conftest import require_shared
from deepfake_detection.cli import build_parser, main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "deepfake_detection", *args], capture_output=True, text=True)


def test_every_command_has_help(capsys):
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # noqa: SLF001 - argparse has no public API for this
    for name in commands:
        with pytest.raises(SystemExit) as exit_info:
            main([name, "--help"])
        assert exit_info.value.code == 0
        assert capsys.readouterr().out.startswith(f"usage: {parser.prog} {name}")


def test_index_folds_evaluate_validate(tmp_path, shared_ffpp, shared_dfdc, capsys):
    index_csv, folds_csv = tmp_path / "index.csv", tmp_path / "folds.csv"
    assert main(["index", str(shared_ffpp), "--out", str(index_csv)]) == 0
    assert len(pd.read_csv(index_csv)) == 67
    assert main(["folds", str(index_csv), "--k", "3", "--seed", "0", "--out", str(folds_csv)]) == 0
    out = capsys.readouterr().out
    assert "fake_share" in out and "67 labelled videos in 3 folds" in out
    folds = pd.read_csv(folds_csv)
    assert (folds.groupby("group")["fold"].nunique() == 1).all()

    sample = pd.read_csv(shared_dfdc / "sample_submission.csv")
    submission = tmp_path / "submission.csv"
    sample.assign(label=0.7).to_csv(submission, index=False)
    labels = tmp_path / "labels.csv"
    sample.assign(label=[1, 0] * (len(sample) // 2)).to_csv(labels, index=False)
    assert main(["evaluate", str(submission), str(labels), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["n"] == 400 and scores["accuracy"] == pytest.approx(0.5)

    assert main(["validate", str(submission), "--sample-submission", str(shared_dfdc / "sample_submission.csv")]) == 0
    sample.iloc[:-1].to_csv(submission, index=False)
    result = run_cli("validate", str(submission), "--sample-submission", str(shared_dfdc / "sample_submission.csv"))
    assert result.returncode == 1
    assert result.stdout.strip().splitlines() == [f"missing file {sample['filename'].iloc[-1]}"]


def test_index_cli_subprocess_reports_missing(tmp_path, shared_dfdc):
    result = run_cli("index", str(shared_dfdc / "dfdc_train_part_0"), "--out", str(tmp_path / "i.csv"))
    assert result.returncode == 0
    assert "1 missing" in result.stdout
    assert "missing on disk" in result.stderr


def test_extract_command_writes_crops_and_refuses_a_rerun_with_other_settings(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    for clip in sorted(require_shared("data", "face-clips", "FAKE").glob("*.mp4"))[:2]:
        shutil.copy(clip, videos / clip.name)
    index_csv, out = tmp_path / "index.csv", tmp_path / "crops"
    assert run_cli("index", str(videos), "--out", str(index_csv)).returncode == 0
    extract = ["extract", str(index_csv), "--out", str(out), "--data-dir", str(videos), "--detector", "haar"]
    first = run_cli(*extract, "--frames", "3")
    assert first.returncode == 0, first.stderr
    manifest = pd.read_csv(out / "manifest.csv")
    # 3 frames seconds apart are all detected (further apart than max_keyframe_gap allows a stride), and Haar
    # misses the face in one frame of the second clip
    assert manifest.groupby("video_id").size().tolist() == [3, 2]
    assert f"2 videos, 5 crops -> {out}/manifest.csv" in first.stdout
    assert run_cli(*extract, "--frames", "3").returncode == 0  # same settings: resumes

    rerun = run_cli(*extract, "--frames", "5")
    assert rerun.returncode != 0
    assert "SettingsChanged" in rerun.stderr and "frames: 3 -> 5" in rerun.stderr
    pd.testing.assert_frame_equal(pd.read_csv(out / "manifest.csv"), manifest)  # the old crops are kept as they were
