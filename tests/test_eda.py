"""EDA numbers equal pandas counts on the index, SSIM behaves on a real FF++ pair, every figure draws."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from conftest import require_shared
from deepfake_detection import eda, plots
from deepfake_detection.config import EdaConfig
from deepfake_detection.dataset import imbalance_table, index_videos, labelled

SMALL = EdaConfig(frames=4, every=10, ssim_long_side=160, face_size=64, max_videos=0, annotation_frames=1)
PAIR_183 = "manipulated_sequences__Deepfakes__c23__videos__183_253"


@pytest.fixture(scope="module")
def ffpp_index(shared_ffpp) -> pd.DataFrame:
    index, _ = index_videos(shared_ffpp)
    return index


@pytest.fixture(scope="module")
def full_index() -> pd.DataFrame:
    return eda.read_full_index(require_shared("data", "dfdc-full-index", "dfdc-data.csv"))


@pytest.fixture(scope="module")
def pair_result(ffpp_index, shared_ffpp) -> eda.SsimResult:
    pairs = eda.fake_original_pairs(ffpp_index)
    return eda.ssim_analysis(ffpp_index, shared_ffpp, pairs[pairs["fake_id"] == PAIR_183], SMALL)


def _rendered(figure: Figure) -> np.ndarray:
    """The figure as a BGR uint8 image at 40 dpi."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=40)
    return cv2.imdecode(np.frombuffer(buffer.getvalue(), np.uint8), cv2.IMREAD_COLOR)


def _inked(image: np.ndarray) -> float:
    """Share of pixels that are not (near) white."""
    return float((image.min(axis=2) < 245).mean())


def _empty_axes_like(figure: Figure) -> Figure:
    """A figure of the same size with the same axes boxes and nothing plotted in them."""
    empty = Figure(figsize=figure.get_size_inches())
    for ax in figure.axes:
        empty.add_axes(ax.get_position())
    return empty


def _titles(figure: Figure) -> list[str]:
    return [ax.get_title() for ax in figure.axes]


def test_label_counts_equal_pandas_counts(ffpp_index):
    counts = eda.label_counts(ffpp_index).set_index("part")
    expected = ffpp_index.groupby("part")["label"].value_counts().unstack(fill_value=0)
    for part, row in expected.iterrows():
        assert counts.loc[part, "REAL"] == row.get(0, 0) and counts.loc[part, "FAKE"] == row.get(1, 0)
    assert counts.loc["all", "REAL"] == 15 and counts.loc["all", "FAKE"] == 52
    assert counts.loc["all", "total"] == len(ffpp_index)
    assert counts.loc["all", "on_disk"] == ffpp_index["exists"].sum()


def test_full_index_numbers(full_index):
    counts = eda.label_counts(full_index).set_index("part")
    assert counts.loc["all", "total"] == 119_146
    assert (counts.loc["all", "FAKE"], counts.loc["all", "REAL"]) == (99_992, 19_154)
    assert counts.loc["all", "fake_share"] == pytest.approx(0.839, abs=1e-3)
    lengths = eda.full_index_lengths(full_index)
    assert (lengths.iloc[0]["frames"], lengths.iloc[0]["videos"]) == (300, 97_512)
    assert lengths["videos"].sum() == 119_146
    assert (full_index["frames"].min(), full_index["frames"].max()) == (83, 601)


def test_file_types_count_every_video(shared_ffpp, ffpp_index):
    types = eda.file_types(shared_ffpp).set_index("extension")
    assert types.loc[".mp4", "files"] == len(ffpp_index) == 67


def test_lengths_find_portrait_dfdc_video(shared_dfdc):
    index, _ = index_videos(shared_dfdc)
    lengths = eda.video_lengths(index).set_index("video_id")
    assert lengths.loc["dfdc_train_part_0__brtujopkby", "orientation"] == "portrait"
    assert lengths.loc["dfdc_train_part_10__widuwuoiur", "orientation"] == "landscape"
    assert set(lengths["set"]) == {"train"}
    assert eda.train_test_ks(lengths) is None


def test_ks_comparison_has_one_row_per_feature():
    rng = np.random.default_rng(0)
    lengths = pd.DataFrame({
        "set": ["train"] * 40 + ["test"] * 30,
        "frames": np.r_[rng.integers(290, 310, 40), rng.integers(100, 150, 30)],
        "fps": 30.0, "duration_s": rng.uniform(9, 11, 70), "width": 1920, "height": 1080,
        "portrait": np.r_[np.zeros(40, int), np.ones(30, int)], "size_mb": rng.uniform(1, 3, 70),
    })
    ks = eda.train_test_ks(lengths)
    assert list(ks["feature"]) == list(eda.KS_FEATURES)
    assert {"ks", "p_value", "differs", "train_n", "test_n"} <= set(ks.columns)
    differs = ks.set_index("feature")["differs"]
    assert differs["frames"] and differs["portrait"] and not differs["fps"]
    assert "frames (D=1.00" in eda.train_test_verdict(ks)


def test_pairs_match_original_at_same_compression(ffpp_index):
    pairs = eda.fake_original_pairs(ffpp_index).set_index("fake_id")
    assert pairs.loc[PAIR_183, "original_id"] == "original_sequences__youtube__c23__videos__183"
    assert (pairs["original_id"].str.split("__").str[2] == pairs["compression"]).all()
    chosen = eda.select_pairs(pairs.reset_index(), per_method=1)
    assert sorted(chosen["method"]) == ["Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures"]
    assert set(chosen["compression"]) == {"c23"}


def test_ssim_full_frame_near_one_face_region_lower(pair_result):
    vs = pair_result.vs_original
    assert set(vs["region"]) == {"full", "face"} and vs["ssim"].between(-1, 1).all()
    means = vs.groupby("region")["ssim"].mean()
    assert means["full"] > 0.9 and means["face"] < means["full"] - 0.05
    over = pair_result.over_time
    assert set(over["video_id"]) == {PAIR_183, "original_sequences__youtube__c23__videos__183"}
    assert len(over) == 2 * 2 * (SMALL.frames - 1)  # 2 videos x 2 regions x consecutive steps
    assert "holds" in eda.ssim_verdict(pair_result)


def test_every_figure_draws_with_its_titles(ffpp_index, full_index, pair_result):
    lengths = eda.video_lengths(ffpp_index)
    frame = np.random.default_rng(0).integers(0, 255, (60, 80, 3), dtype=np.uint8)
    annotations = eda.HaarAnnotations([(10, 10, 30, 30)], [(20, 20, 4)], [(15, 30, 15, 6)], [(40, 10, 25, 25)])
    split = lengths.assign(set=np.where(lengths["video_id"].str.contains("__c40__"), "test", "train"))
    ks = eda.train_test_ks(split)
    figures = {
        "File types in the data folder": plots.plot_file_types(eda.file_types(require_shared("data", "ffpp"))),
        "Per part": plots.plot_label_counts(eda.label_counts(ffpp_index)),
        "Frames per video": plots.plot_lengths(lengths),
        "Frames per video, full DFDC index": plots.plot_full_index_lengths(full_index),
        "Class imbalance": plots.plot_imbalance(imbalance_table(labelled(ffpp_index)["label"])),
        "frames: KS D=": plots.plot_train_vs_test(split, ks),
        "Deepfakes c23 183_253: original": plots.plot_fake_vs_original(pair_result.grid_rows),
        "Full frame: SSIM": plots.plot_ssim_over_time(pair_result.over_time),
        "Deepfakes c23 183_253": plots.plot_ssim_fake_vs_original(pair_result.vs_original),
        "1 frontal, 1 eyes, 1 smiles, 1 profiles": plots.plot_face_annotations([("frame", frame, annotations)]),
    }
    for title, figure in figures.items():
        assert isinstance(figure, Figure) and figure.axes
        assert any(title in t for t in _titles(figure)), f"{title!r} not in {_titles(figure)}"
        image = _rendered(figure)
        assert image.shape[:2] == tuple(np.round(figure.get_size_inches()[::-1] * 40).astype(int))
        assert _inked(image) > 1.5 * _inked(_rendered(_empty_axes_like(figure))), f"{title!r} draws next to nothing"


def test_run_eda_writes_figures_and_summary(demo_dir, tmp_path):
    full = require_shared("data", "dfdc-full-index", "dfdc-data.csv")
    out, summary = tmp_path / "figures", tmp_path / "eda_summary.md"
    cfg = EdaConfig(frames=4, every=5, ssim_long_side=128, face_size=48, min_pairs=2, max_videos=0, annotation_frames=1)
    result = eda.run_eda(demo_dir, full_index=full, out_dir=out, summary_path=summary, cfg=cfg)
    assert {p.name for p in out.glob("*.png")} == {f"eda_{name}.png" for name in (
        "file_types", "labels", "labels_full_index", "lengths", "lengths_full_index", "train_vs_test", "imbalance",
        "fake_vs_original", "ssim_over_time", "ssim_fake_vs_original", "face_annotations")}
    for png in out.glob("*.png"):
        image = cv2.imread(str(png))
        assert min(image.shape[:2]) > 100 and _inked(image) > 0.05, png.name
        assert len(np.unique(image.reshape(-1, 3), axis=0)) > 50, png.name  # more than text on a blank canvas
    text = summary.read_text()
    assert "| all | 19,154 | 99,992 | 0 | 119,146 | 0.839 |" in text
    assert result["train_test_verdict"] in text and result["ks"]["test_n"].iloc[0] > 0
    assert "Unreadable videos" in text  # the demo test folder holds broken files
    assert result["ssim_verdict"] in text and "full-frame SSIM averages" in result["ssim_verdict"]


def test_eda_command_is_registered():
    from deepfake_detection.cli import build_parser

    args = build_parser().parse_args(["eda", "data", "--full-index", "f.csv", "--crops", "crops", "--out", "figs"])
    assert (args.command, str(args.full_index), str(args.crops), str(args.out)) == ("eda", "f.csv", "crops", "figs")


def test_manifest_crops_give_the_face_series(tiny_crops):
    crops_dir, _ = tiny_crops
    video_id = pd.read_csv(crops_dir / "manifest.csv")["video_id"].iloc[0]
    frames, patches = eda.manifest_patches(crops_dir, video_id, EdaConfig(face_size=32))
    assert len(frames) == len(patches) == 6 and frames == sorted(frames)
    assert patches[0].shape == (32, 32) and patches[0].dtype == np.uint8
    assert eda.consecutive_ssim(patches).shape == (5,)
