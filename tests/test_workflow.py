"""`demo --quick` end to end in a temporary folder: the run layout, evaluation.json and a complete report."""

from __future__ import annotations

import json

import pandas as pd

from deepfake_detection.cli import main


def test_quick_demo_writes_the_run_layout_its_evaluation_and_a_full_report(tmp_path, capsys):
    run, reports = tmp_path / "run", tmp_path / "reports"
    assert main(["demo", "--quick", "--videos", "12", "--models", "meso4", "--frames", "4", "--size", "64",
                 "--null", "20", "--out", str(run), "--reports", str(reports)]) == 0
    printed = capsys.readouterr().out
    assert "stack_calibrated" in printed and "null_balanced_log_loss" in printed and "submission" in printed
    for name in ("index.csv", "folds.csv", "crops/manifest.csv", "crops/videos.csv", "models/meso4/model.keras",
                 "models/meso4/oof_frames.csv", "models/stacker/stacker.json", "models/stacker/stacking.md",
                 "submission.csv", "predictions_log.csv", "evaluation.json", "timings.json"):
        assert (run / name).is_file(), name
    scores = json.loads((run / "evaluation.json").read_text())
    submission = pd.read_csv(run / "submission.csv")
    labels = pd.read_csv(run / "data" / "test_labels.csv")
    assert scores["n"] == len(labels) and submission["label"].between(0, 1).all()
    report = (reports / "report.md").read_text()
    assert report.startswith("# Progress report — data: demo (synthetic")
    assert "section skipped" not in report  # every section had its files
    for heading in ("## Data", "## Exploratory analysis", "## Face detection", "## Models", "## Stacking",
                    "### Null check (labels permuted)", "## Inference time", "## Submission"):
        assert heading in report, heading
    assert f"{scores['log_loss']:.4f}" in report  # the test score comes from this run's evaluation.json
    lines = report.splitlines()
    links = [(i, line.split("](")[1].rstrip(")")) for i, line in enumerate(lines) if line.startswith("![")]
    assert links
    for i, link in links:
        assert (reports / link).is_file(), link  # every figure the report shows exists beside it
        name = link.split("/")[-1]
        # ... and was drawn by this run: its own copy is in the run folder, and the caption names the run
        assert (run / "figures" / name).is_file() or (run / "models" / "stacker" / "figures" / name).is_file()
        caption = next(line for line in lines[i + 1:] if line.startswith("*"))
        assert str(run) in caption, (link, caption)
    assert sorted(p.name for p in (reports / "figures").iterdir()) == sorted({link.split("/")[-1] for _, link in links})
    stacking = (run / "models" / "stacker" / "stacking.md").read_text()
    assert "nested" in stacking and "meso4_calibrated" in stacking
