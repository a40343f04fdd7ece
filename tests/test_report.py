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


def test_real_report_is_rebuilt_byte_for_byte_from_real_data_and_loads_in_a_browser(tmp_path, monkeypatch):
    """`make report-real` output: first line names the real data, links only existing files, numbers equal the
    benchmark's results.json, and rebuilding gives the committed reports/real byte for byte."""
    import json
    import shutil

    import pandas as pd

    from conftest import REPO, SHARED, check_in_browser, require_shared
    from deepfake_detection.report import RealSources, write_real_report
    from deepfake_detection.studies.common import format_metric

    require_shared("data", "dfdc-faces")
    committed = REPO / "reports" / "real"
    out = tmp_path / "real"
    if (committed / "detect").is_dir():
        shutil.copytree(committed / "detect", out / "detect")
    monkeypatch.chdir(REPO)  # the committed report names the repository's files by relative path, as make does
    src = RealSources(shared=SHARED, detect=out / "detect", work=tmp_path / "work")
    text = write_real_report(out, src).read_text()
    assert text.startswith("# Progress report — data: real, ") and "15,172 DFDC face crops" in text
    links = [line.split("](")[1].split(")")[0] for line in text.splitlines() if line.startswith("![")]
    assert len(links) >= 8 and all((out / link).is_file() for link in links), links
    # the benchmark numbers are the run's own: its results.json where present (9 MB, not committed), and always
    # the stacker that run fitted and the zoo ships
    results = REPO / "reports" / "dfdc-crops" / "results.json"
    for row in json.loads(results.read_text())["table"] if results.is_file() else []:
        assert format_metric(row, "roc_auc") in text, row["model"]
    cv = json.loads((REPO / "models" / "zoo" / "stacker" / "stacker.json").read_text())["cv"]["stack_calibrated"]
    assert f"ROC AUC {cv['roc_auc']:.3f}, balanced log loss {cv['balanced_log_loss']:.3f}" in text
    assert f"| stack +cal | {len(pd.read_csv(SHARED / 'data' / 'dfdc-faces' / 'labels.csv'))} |" in text
    found = check_in_browser(out / "report.html", tmp_path / "report.png")
    assert found["problems"] == [] and found["images"] == len(links)
    if (committed / "report.md").is_file():
        assert text == (committed / "report.md").read_text(), "reports/real is stale: run `make report-real`"
        assert (sorted(p.name for p in (out / "figures").iterdir())
                == sorted(p.name for p in (committed / "figures").iterdir()))
        size = sum(p.stat().st_size for p in committed.rglob("*") if p.is_file())
        assert size <= 5 * 2**20, f"reports/real takes {size / 2**20:.1f} MB"
