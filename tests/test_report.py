"""The progress report names its data in the first line and never fakes a section it has no files for."""

from __future__ import annotations

from deepfake_detection.dataset import index_videos
from deepfake_detection.report import write_report


def test_report_names_demo_data_and_skips_missing_sections(demo_dir, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    index, _ = index_videos(demo_dir)
    index.to_csv(run / "index.csv", index=False)
    report = write_report(run, tmp_path / "reports", data_dir=demo_dir).read_text()
    first = report.splitlines()[0]
    assert first.startswith("# Progress report — data: demo (synthetic")
    assert f"{len(index)} videos" in report
    assert "no `submission.csv`" in report and "no `crops/videos.csv`" in report


def test_report_names_ffpp_and_dfdc(shared_ffpp, shared_dfdc, tmp_path):
    for data, origin in ((shared_ffpp, "FaceForensics++"), (shared_dfdc / "dfdc_train_part_10", "DFDC")):
        run = tmp_path / origin
        run.mkdir()
        index_videos(data)[0].to_csv(run / "index.csv", index=False)
        first = write_report(run, run / "reports", data_dir=data).read_text().splitlines()[0]
        assert first == f"# Progress report — data: {origin}"


def test_report_shows_only_the_figures_of_its_own_run(demo_dir, tmp_path):
    run, reports = tmp_path / "run", tmp_path / "reports"
    (run / "figures").mkdir(parents=True)
    index_videos(demo_dir)[0].to_csv(run / "index.csv", index=False)
    from matplotlib.figure import Figure

    Figure(figsize=(2, 2)).savefig(run / "figures" / "eda_labels.png")  # as `eda` draws it into the run
    (reports / "figures").mkdir(parents=True)
    (reports / "figures" / "stacking_roc.png").write_bytes(b"left by another run")
    report = write_report(run, reports, data_dir=demo_dir).read_text()
    assert sorted(p.name for p in (reports / "figures").iterdir()) == ["eda_labels.png"]
    assert "![eda_labels.png](figures/eda_labels.png)" in report
    assert f"*eda_labels.png: run `{run}`, data: demo (synthetic" in report
    assert "stacking_roc" not in report
