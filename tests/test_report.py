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
