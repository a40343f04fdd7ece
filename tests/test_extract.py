"""Frames, faces and crops: real DFDC videos, broken files, crop geometry, tracking, resume, Dask, shards."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from conftest import require_shared, shared_or_demo
from deepfake_detection.artifacts import CropsDir
from deepfake_detection.config import ExtractConfig
from deepfake_detection.extract import (
    SettingsChanged,
    crop_settings,
    extract_dataset,
    for_run,
    keyframe_stride,
    merge_parts,
    shard_rows,
    video_faces,
)
from deepfake_detection.faces import (
    DETECTORS,
    FaceBox,
    Track,
    crop_face,
    fill_track,
    make_detector,
    select_tracks,
    track_faces,
)
from deepfake_detection.video import sample_frames, wanted_indices

PORTRAIT = ("data", "dfdc", "dfdc_train_part_0", "brtujopkby.mp4")  # 1080 wide x 1920 high
LANDSCAPE = ("data", "dfdc", "dfdc_train_part_10", "widuwuoiur.mp4")  # 1920 x 1080
PORTRAIT_720 = ("data", "dfdc", "dfdc_train_part_10", "yhffcuhhjy.mp4")  # 720 x 1280
FACE_CLIP = ("data", "face-clips", "FAKE", "0_aaqaifqrwn.mp4_0_0.mp4")  # 256 x 256, 149 frames
CFG = ExtractConfig(frames=4)  # few frames keep the tests fast; detection works as with 32
# Resume, shards, Dask and original boxes are detector-agnostic: Haar keeps TensorFlow out of
# the extra processes those tests start.
HAAR = replace(CFG, detector="haar")
COMPARED = ["video_id", "frame", "track", "crop_path", "label", "group", "detected"]


@pytest.fixture(scope="session")
def mtcnn():
    """One MTCNN detector for the whole session (building it loads TensorFlow)."""
    return make_detector("mtcnn", long_side=CFG.detect_long_side, min_confidence=CFG.min_confidence)


def _write_clip(path: Path, frames: int, size=(64, 48), fourcc: str = "mp4v") -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 10, size)
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), 8 * i % 256, np.uint8))
    writer.release()
    return path


@pytest.fixture(scope="session")
def broken(tmp_path_factory, demo_dir) -> dict[str, Path]:
    """Files that must end as a status row: zero-byte, truncated, text named .mp4, 1 frame, missing, cut AVI."""
    folder = tmp_path_factory.mktemp("broken")
    (folder / "zero.mp4").write_bytes(b"")
    (folder / "text.mp4").write_text("This is not a video.\n")
    real = shared_or_demo(LANDSCAPE, demo_dir).read_bytes()
    (folder / "truncated.mp4").write_bytes(real[: len(real) // 3])  # a copy in tmp, cut
    _write_clip(folder / "one_frame.mp4", 1)
    avi = _write_clip(folder / "full.avi", 30, fourcc="MJPG").read_bytes()
    (folder / "cut.avi").write_bytes(avi[: len(avi) // 2])  # header intact, stream ends early
    return {p.stem: p for p in folder.iterdir()} | {"missing": folder / "missing.mp4"}


def _index(entries: dict[str, Path]) -> pd.DataFrame:
    """A minimal index with absolute paths (data_dir=None)."""
    return pd.DataFrame({
        "video_id": list(entries), "filename": [p.name for p in entries.values()],
        "path": [str(p) for p in entries.values()], "label": pd.array([1] * len(entries), dtype="Int64"),
        "original": "", "group": [f"g_{k}" for k in entries], "part": "p", "compression": ""})


@pytest.fixture(scope="session")
def small_index(broken, demo_dir) -> pd.DataFrame:
    videos = {"a_landscape": shared_or_demo(LANDSCAPE, demo_dir, 0),
              "b_portrait": shared_or_demo(PORTRAIT, demo_dir, 1)}
    return _index(videos | {f"c_{k}": broken[k] for k in ("zero", "text", "missing", "one_frame")})


@pytest.fixture(scope="session")
def local_run(small_index, mtcnn, tmp_path_factory) -> tuple[Path, pd.DataFrame, pd.DataFrame]:
    """The reference: one uninterrupted in-process extraction of small_index."""
    out = tmp_path_factory.mktemp("local")
    extract_dataset(small_index, out, CFG)
    return out, pd.read_csv(out / "manifest.csv"), pd.read_csv(out / "videos.csv")


@pytest.fixture(scope="session")
def mp_index(broken, demo_dir) -> pd.DataFrame:
    """Smaller videos for the tests that start processes: a face clip, then a slower 720p video, then broken files."""
    videos = {"a_clip": shared_or_demo(FACE_CLIP, demo_dir, 2),
              "b_portrait": shared_or_demo(PORTRAIT_720, demo_dir, 3)}
    return _index(videos | {f"c_{k}": broken[k] for k in ("zero", "text", "missing", "one_frame")})


@pytest.fixture(scope="session")
def haar_run(mp_index, tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    """The reference for the multi-process tests: an uninterrupted in-process Haar extraction."""
    out = tmp_path_factory.mktemp("haar")
    extract_dataset(mp_index, out, HAAR)
    manifest = pd.read_csv(out / "manifest.csv")
    assert set(manifest["video_id"]) == {"a_clip", "b_portrait"}  # a non-trivial reference
    return out, manifest


def _same_manifest(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Identical rows; boxes within a pixel (detector arithmetic may differ across processes)."""
    a, b = a.reset_index(drop=True), b.reset_index(drop=True)
    pd.testing.assert_frame_equal(a[COMPARED], b[COMPARED])
    assert np.abs(a[["x1", "y1", "x2", "y2"]].to_numpy() - b[["x1", "y1", "x2", "y2"]].to_numpy()).max() <= 1.0


# --- frames ------------------------------------------------------------------------------------------------
def test_portrait_video_reads_in_true_orientation():
    sample = sample_frames(require_shared(*PORTRAIT), n=1)
    assert sample.status == "ok" and sample.indices == [0]
    assert sample.frames[0].shape == (1920, 1080, 3) and sample.frames[0].dtype == np.uint8


def test_sampling_is_even_and_every_kth_works():
    assert wanted_indices(300, 32)[0] == 0 and wanted_indices(300, 32)[-1] == 299
    assert len(wanted_indices(300, 32)) == 32
    assert wanted_indices(10, 32) == list(range(10))  # shorter than N: what exists
    sample = sample_frames(require_shared(*PORTRAIT_720), every=100)
    assert sample.indices == [0, 100, 200, 300] and sample.frames[0].shape == (1280, 720, 3)


@pytest.mark.parametrize("name, status", [("zero", "empty"), ("text", "unreadable"), ("missing", "missing"),
                                          ("truncated", "unreadable"), ("cut", "partial"), ("one_frame", "ok")])
def test_bad_files_give_a_status_not_an_exception(broken, name, status):
    sample = sample_frames(broken[name], n=8)
    assert sample.status == status
    assert status == "ok" or sample.reason
    if name == "cut":
        assert 0 < len(sample.frames) < 8  # the frames before the damage are kept
    if name == "one_frame":
        assert sample.indices == [0]


# --- crops -------------------------------------------------------------------------------------------------
def test_crop_is_a_square_around_the_box_with_context_not_bars():
    frame = np.full((400, 600, 3), 200, np.uint8)
    crop = crop_face(frame, FaceBox(200, 150, 300, 200), margin=0.0, size=64)  # 100 x 50 box -> 100 px square
    assert crop.shape == (64, 64, 3)
    assert crop.min() == 200  # the shorter side is filled with frame context: no bars inside the frame
    frame[:, :, 1] = np.arange(600)[None, :] // 3  # green = x / 3: the square spans x 200..300
    crop = crop_face(frame, FaceBox(200, 150, 300, 200), margin=0.0, size=100)
    assert abs(int(crop[50, 0, 1]) - 200 // 3) <= 1 and abs(int(crop[50, -1, 1]) - 299 // 3) <= 1


def test_crop_margin_is_added_each_side_and_padded_past_the_border():
    frame = np.zeros((100, 100, 3), np.uint8)
    frame[:, :, 0] = np.arange(100)[None, :]  # red = x coordinate
    centre = crop_face(frame, FaceBox(40, 40, 60, 60), margin=0.5, size=40)  # region 30..70 -> 40 px, 1:1
    assert centre[:, 0, 0].min() == 30 and centre[:, -1, 0].max() == 69
    corner = crop_face(frame, FaceBox(0, 0, 20, 20), margin=0.5, size=40)  # region -10..30: 10 px of padding
    assert corner.shape == (40, 40, 3) and not corner[:, :10].any() and corner[20, 10, 0] == 0
    assert corner[20, -1, 0] == 29 and (corner[20, 11:, 0] > 0).all()  # the face stays where margin puts it
    tight = crop_face(frame, FaceBox(40, 40, 60, 60), margin=-0.25, size=10)  # a crop inside the box: 45..55
    assert tight[:, 0, 0].min() == 45 and tight[:, -1, 0].max() == 54
    with pytest.raises(ValueError, match="margin"):
        crop_face(frame, FaceBox(40, 40, 60, 60), margin=-0.5)


def test_a_tighter_crop_is_the_centre_cut_of_a_wider_one():
    from deepfake_detection.faces import centre_cut

    frame = np.random.default_rng(0).integers(0, 255, (300, 400, 3), dtype=np.uint8)
    box = FaceBox(150, 100, 230, 200)  # 80 x 100
    wide, tight = crop_face(frame, box, 0.5, 200), crop_face(frame, box, 0.0, 100)
    np.testing.assert_array_equal(centre_cut(wide, 0.5, 0.0), tight)  # both 1:1 in pixels: exact
    with pytest.raises(ValueError, match="wider"):
        centre_cut(tight, 0.0, 0.5)


def test_measured_margin_recovers_the_margin_a_crop_set_was_cut_at():
    from deepfake_detection.faces import make_detector, measure_margin

    photo = cv2.imread(str(require_shared("data", "real-faces", "obama.jpg")))
    real_faces_frame = cv2.cvtColor(photo, cv2.COLOR_BGR2RGB)
    detector = make_detector("mtcnn")
    boxes = detector.detect([real_faces_frame])[0]
    box = max(boxes, key=lambda b: b.area)
    measured = {m: measure_margin([crop_face(real_faces_frame, box, m, 160)], detector) for m in (-0.1, 0.1, 0.3)}
    # re-detected on a crop, MTCNN draws a slightly smaller box than on the frame (here +0.04..+0.08)
    for margin, found in measured.items():
        assert found == pytest.approx(margin, abs=0.1), measured
    assert measured[-0.1] < measured[0.1] < measured[0.3]
    assert measure_margin([np.full((64, 64, 3), 90, np.uint8)], detector) is None  # no face: no margin


def test_resize_crop_uses_the_named_interpolation_and_rejects_unknown_names():
    from deepfake_detection.faces import resize_crop

    crop = np.random.default_rng(0).integers(0, 255, (224, 224, 3), dtype=np.uint8)
    area, linear = resize_crop(crop, 128), resize_crop(crop, 128, "linear")
    assert area.shape == linear.shape == (128, 128, 3) and not np.array_equal(area, linear)
    assert area.std() < linear.std()  # area averages noise away when shrinking; linear samples it
    assert resize_crop(crop, 224, "nearest") is crop or np.array_equal(resize_crop(crop, 224, "nearest"), crop)
    with pytest.raises(ValueError, match="unknown interpolation"):
        resize_crop(crop, 128, "cubic")


# --- tracker -----------------------------------------------------------------------------------------------
def _moving(x: float, size: float = 50.0, confidence: float = 0.99) -> FaceBox:
    return FaceBox(x, 100, x + size, 100 + size, confidence)


def test_tracker_keeps_the_most_prominent_person_and_drops_one_frame_hits():
    per_frame = [[_moving(10 + 5 * i, 80), _moving(300 + 5 * i, 40)] for i in range(5)]
    per_frame[2].append(FaceBox(500, 500, 530, 530, 0.95))  # one-frame false positive
    tracks = track_faces(per_frame, iou_threshold=0.2)
    assert sorted(len(t.positions) for t in tracks) == [1, 5, 5]
    main = select_tracks(tracks, min_length=2, all_faces=False)
    assert len(main) == 1 and main[0].boxes[0].width == 80  # the bigger face
    assert [len(t.positions) for t in select_tracks(tracks, min_length=2, all_faces=True)] == [5, 5]


def test_interpolation_fills_only_frames_that_were_not_looked_at():
    track = Track([0, 2], [_moving(0), _moving(20)])
    filled = fill_track(track, 4, detected=[True, False, True, True])
    assert [(p, d) for p, _, d in filled] == [(0, True), (1, False), (2, True)]  # frame 3 was searched: no box
    assert filled[1][1].x1 == pytest.approx(10.0)


def test_detector_registry_and_unknown_name():
    assert {"mtcnn", "haar"} <= set(DETECTORS)
    with pytest.raises(ValueError, match="unknown detector"):
        make_detector("nope")


def test_mtcnn_detector_gives_the_packages_own_answer_and_xla_the_same_boxes(mtcnn):
    """The detector runs mtcnn's stages itself (the batch made a tensor once) and can compile its three
    networks with XLA (their batches padded): neither may change a box. The reference is the
    package's own detect_faces, frame by frame and on one batch of frames of different sizes."""
    from mtcnn import MTCNN

    from deepfake_detection.faces import _downscale

    frames = [sample_frames(require_shared(*PORTRAIT_720), n=1).frames[0],
              cv2.cvtColor(cv2.imread(str(require_shared("data", "real-faces", "multiface.jpg"))), cv2.COLOR_BGR2RGB),
              np.full((640, 360, 3), 90, np.uint8)]  # no face (mtcnn's stages end in an error); the 720p frame's size
    reference, compiled = MTCNN(), make_detector("mtcnn", compile=True)
    small = [_downscale(frame, CFG.detect_long_side)[0] for frame in frames]
    for batch in [[image] for image in small] + [small]:
        expected = np.asarray(reference.detect_faces(batch, output_type="numpy", box_format="xyxy")).reshape(-1, 16)
        np.testing.assert_array_equal(mtcnn._run_stages(batch), expected)  # to the last bit
        np.testing.assert_allclose(compiled._run_stages(batch), expected, rtol=0, atol=1e-4)
    assert len(compiled._xla) == 3  # P-Net, R-Net and O-Net; each really ran through XLA, no eager fallback
    assert all(network._compiled and not network.failed for network in compiled._xla)
    assert compiled.compile_seconds > 0 and mtcnn.compile_seconds == 0
    faces = mtcnn.detect(frames)  # boxes back in full-frame px
    assert faces[0] and len(faces[1]) >= 3 and faces[2] == []
    face = max(faces[0], key=lambda box: box.area)
    (lx, ly), (rx, ry) = face.landmarks[0], face.landmarks[1]  # left eye, right eye (x, y)
    assert face.x1 < lx < rx < face.x2 and face.y1 < ly < face.y2 and face.y1 < ry < face.y2


def test_a_network_xla_cannot_compile_runs_eagerly_with_one_warning(caplog):
    """On a platform whose XLA refuses the network, detection must go on, not fail every video."""
    import keras
    import tensorflow as tf

    from deepfake_detection.faces import _XlaPerShape

    class PythonOp(keras.layers.Layer):  # tf.py_function has no XLA kernel: a real compile failure
        def call(self, x):
            return tf.ensure_shape(tf.py_function(lambda t: t * 2.0, [x], tf.float32), x.shape)

        def compute_output_shape(self, shape):
            return shape

    inputs = keras.Input((4,))
    outputs = PythonOp()(inputs)
    network = _XlaPerShape(keras.Model(inputs, [outputs, outputs + 1.0], name="python_op"))
    with caplog.at_level("WARNING", logger="deepfake_detection.faces"):
        results = [network(tf.ones((n, 4))) for n in (3, 3, 5)]  # batches padded to 4 and 8, sliced back
    assert [tuple(r[0].shape) for r in results] == [(3, 4), (3, 4), (5, 4)]
    assert all((np.asarray(r[0]) == 2.0).all() and (np.asarray(r[1]) == 3.0).all() for r in results)
    warnings = [r for r in caplog.records if "XLA could not run python_op" in r.getMessage()]
    assert network.failed and len(warnings) == 1  # warned once, eager from then on


def test_detector_for_passes_the_speed_settings_to_mtcnn():
    from deepfake_detection.extract import detector_for

    detector = detector_for(replace(CFG, detect_batch=16, detect_compile=True))
    assert detector.batch_size == 16 and detector.compiled


def test_runs_of_enough_videos_compile_the_detector():
    cfg = replace(CFG, detect_compile=False, detect_compile_from=64)
    assert [for_run(cfg, n).detect_compile for n in (1, 63, 64, 4000)] == [False, False, True, True]
    assert not for_run(replace(cfg, detect_compile_from=0), 4000).detect_compile  # 0: never by itself
    assert for_run(replace(cfg, detect_compile=True), 1).detect_compile  # asked for: always
    assert crop_settings(for_run(cfg, 64)) == crop_settings(cfg)  # the same crops, only faster


def test_haar_finds_the_face_in_a_real_frame():
    frame = sample_frames(require_shared(*LANDSCAPE), n=1).frames[0]
    faces = make_detector("haar").detect([frame])[0]
    assert faces and all(0 <= f.x1 < f.x2 <= 1920 and 0 <= f.y1 < f.y2 <= 1080 for f in faces)


# --- faces of one video --------------------------------------------------------------------------------------
@pytest.mark.parametrize("parts, shape", [(LANDSCAPE, (1080, 1920)), (PORTRAIT, (1920, 1080))])
def test_mtcnn_finds_a_face_in_every_sampled_frame(mtcnn, parts, shape):
    faces = video_faces(require_shared(*parts), replace(CFG, frames=6), mtcnn)
    assert faces.status == "ok" and faces.n_frames == 6
    assert sorted(set(faces.frames)) == faces.frames and len(faces.frames) == 6  # 6/6, one person
    assert faces.crops.shape == (6, 128, 128, 3) and faces.crops.dtype == np.uint8
    assert (faces.boxes[:, 2] <= shape[1]).all() and (faces.boxes[:, 3] <= shape[0]).all()


def test_strided_detection_interpolates_between_keyframes(mtcnn):
    cfg = replace(CFG, frames=5, detect_stride=2, max_keyframe_gap=10.0)  # 5 frames of 10 s: keyframes 5 s apart
    faces = video_faces(require_shared(*LANDSCAPE), cfg, mtcnn)
    assert len(faces.frames) == 5 and faces.detected == [True, False, True, False, True]


def test_keyframes_stay_close_in_time_when_few_frames_are_sampled(mtcnn):
    assert keyframe_stride(3, 0.31, 3.0) == 3  # 32 frames of a 10 s DFDC video: every 3rd, 0.9 s apart
    assert keyframe_stride(3, 1.43, 3.0) == 2  # 8 frames of 10 s
    assert keyframe_stride(3, 5.6, 3.0) == 1  # 4 frames of 17 s: every frame
    assert keyframe_stride(3, 0.0, 3.0) == 3 and keyframe_stride(0, 0.5, 3.0) == 1  # fps unknown; stride 0
    # 4 frames of a 17 s FF++ clip, 5.6 s apart: at stride 3 its only keyframes (first and last) are 17 s apart,
    # too far for the tracker to link them, and the video had no face; every frame is detected instead
    clip = require_shared("data", "ffpp", "original_sequences", "youtube", "c40", "videos", "253.mp4")
    faces = video_faces(clip, replace(CFG, frames=4, detect_stride=3), mtcnn)
    assert faces.status == "ok" and all(faces.detected) and len(faces.frames) >= 2


# --- a dataset on disk -------------------------------------------------------------------------------------
def test_dataset_statuses_crops_and_manifest(local_run):
    out, manifest, videos = local_run
    status = dict(zip(videos["video_id"], videos["status"], strict=True))
    assert status == {"a_landscape": "ok", "b_portrait": "ok", "c_missing": "missing", "c_one_frame": "no_face",
                      "c_text": "unreadable", "c_zero": "unreadable"}
    assert videos.set_index("video_id").loc["c_zero", "reason"] == "zero-byte file"
    assert list(manifest.columns) == list(CropsDir.MANIFEST_COLUMNS)
    assert manifest.groupby("video_id").size().to_dict() == {"a_landscape": 4, "b_portrait": 4}
    crop = cv2.imread(str(out / manifest["crop_path"][0]))
    assert crop.shape == (128, 128, 3)
    assert set(manifest["group"]) == {"g_a_landscape", "g_b_portrait"} and (manifest["label"] == 1).all()


def test_rerun_skips_finished_videos(local_run, small_index):
    out, manifest, _ = local_run
    part = out / "parts" / "a_landscape.json"
    before = part.stat().st_mtime_ns
    extract_dataset(small_index, out, CFG)
    assert part.stat().st_mtime_ns == before
    _same_manifest(pd.read_csv(out / "manifest.csv"), manifest)


def test_shards_and_process_pool_give_the_same_manifest(haar_run, mp_index, tmp_path):
    seen = [set(shard_rows(mp_index, f"{i}/3")["video_id"]) for i in range(3)]
    assert set.union(*seen) == set(mp_index["video_id"]) and sum(map(len, seen)) == len(mp_index)
    extract_dataset(mp_index, tmp_path, HAAR, shard="0/2", workers=2)  # a local process pool
    extract_dataset(mp_index, tmp_path, HAAR, shard="1/2")
    _same_manifest(pd.read_csv(tmp_path / "manifest.csv"), haar_run[1])
    with pytest.raises(ValueError):
        shard_rows(mp_index, "2/2")


def test_dask_local_cluster_gives_the_same_manifest(haar_run, mp_index, tmp_path):
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster:
        extract_dataset(mp_index, tmp_path, HAAR, scheduler=cluster.scheduler_address)
    _same_manifest(pd.read_csv(tmp_path / "manifest.csv"), haar_run[1])


def test_fake_cropped_at_its_originals_boxes_is_pixel_aligned(local_run, small_index, mp_index, tmp_path):
    out, manifest, _ = local_run
    original = manifest[manifest["video_id"] == "a_landscape"]
    fake = video_faces(small_index.set_index("video_id").loc["a_landscape", "path"], CFG, None, boxes_from=original)
    assert fake.frames == original["frame"].tolist()
    np.testing.assert_allclose(fake.boxes, original[["x1", "y1", "x2", "y2"]].to_numpy(), atol=1e-3)
    portrait = Path(mp_index.set_index("video_id").loc["b_portrait", "path"])
    index = _index({"orig": portrait, "fake": portrait})
    index.loc[1, "original"] = index.loc[0, "filename"]
    videos = extract_dataset(index, tmp_path, replace(HAAR, use_original_boxes=True)).videos
    merged = pd.read_csv(tmp_path / "manifest.csv")
    assert "boxes of original orig" in videos.set_index("video_id").loc["fake", "reason"]
    by_video = {k: g[["frame", "x1", "y1", "x2", "y2"]].to_numpy() for k, g in merged.groupby("video_id")}
    np.testing.assert_array_equal(by_video["fake"], by_video["orig"])


def test_wrong_data_dir_is_an_error_not_a_run_of_missing_rows(small_index, tmp_path):
    relative = small_index.assign(path=[Path(p).name for p in small_index["path"]])
    with pytest.raises(FileNotFoundError, match="--data-dir"):
        extract_dataset(relative, tmp_path, CFG, data_dir=tmp_path)


def test_demo_test_videos_with_broken_files(demo_dir, mtcnn, tmp_path):
    from deepfake_detection.dataset import index_videos

    index, _ = index_videos(demo_dir / "test_videos", probe=False)
    videos = extract_dataset(index, tmp_path, CFG, data_dir=demo_dir / "test_videos").videos.set_index("video_id")
    specials = json.loads((demo_dir / "demo_manifest.json").read_text())["specials"]
    status = {kind: videos.loc[Path(name).stem, "status"] for kind, name in specials.items()}
    assert status["zero_byte"] == "unreadable" and status["text_file"] == "unreadable"
    assert status["no_face"] == "no_face" and status["portrait"] == "ok"
    assert status["truncated"] in ("unreadable", "ok") and status["one_frame"] in ("ok", "no_face")
    assert set(videos["status"]) <= {"ok", "no_face", "unreadable"}
    written = {name: pd.read_csv(tmp_path / name) for name in ("manifest.csv", "videos.csv")}
    assert len(written["manifest.csv"]) > 0
    for name in written:
        (tmp_path / name).unlink()
    manifest, table = merge_parts(index, tmp_path)  # rebuilt from the part files alone
    for name in written:
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / name), written[name])
    assert len(manifest) == len(written["manifest.csv"])
    pd.testing.assert_frame_equal(table.set_index("video_id"), videos)


# --- settings and retries on rerun -------------------------------------------------------------------------
@pytest.fixture
def clip_index(broken, demo_dir) -> pd.DataFrame:
    """One real face clip (Haar finds its face in every frame) and one zero-byte file."""
    return _index({"a_clip": shared_or_demo(FACE_CLIP, demo_dir, 2), "c_zero": broken["zero"]})


def test_rerun_with_other_settings_is_refused_or_extracts_again(clip_index, tmp_path):
    extract_dataset(clip_index, tmp_path, HAAR)
    assert json.loads(CropsDir(tmp_path).settings.read_text())["frames"] == HAAR.frames
    part = tmp_path / "parts" / "a_clip.json"
    before = part.stat().st_mtime_ns
    with pytest.raises(SettingsChanged, match=r"frames: 4 -> 6; size: 128 -> 64\).*another output folder"):
        extract_dataset(clip_index, tmp_path, replace(HAAR, frames=6, size=64))
    assert part.stat().st_mtime_ns == before  # nothing was touched
    extract_dataset(clip_index, tmp_path, replace(HAAR, detect_batch=2, detect_compile_from=1))  # speed: resumes
    assert part.stat().st_mtime_ns == before

    videos = extract_dataset(clip_index, tmp_path, replace(HAAR, frames=6, size=64), overwrite=True).videos
    manifest = pd.read_csv(tmp_path / "manifest.csv")
    assert videos.set_index("video_id").loc["a_clip", "faces"] == 6 and len(manifest) == 6
    assert {cv2.imread(str(tmp_path / p)).shape for p in manifest["crop_path"]} == {(64, 64, 3)}
    on_disk = sorted(p.name for p in (tmp_path / "a_clip").iterdir())
    assert on_disk == sorted(Path(p).name for p in manifest["crop_path"])  # the old crops are gone
    assert json.loads(CropsDir(tmp_path).settings.read_text())["size"] == 64


def test_videos_that_failed_are_retried_on_rerun(clip_index, tmp_path):
    (tmp_path / "a_clip").write_text("a file where the crop folder goes")  # renaming the crops into place fails
    first = extract_dataset(clip_index, tmp_path, HAAR).videos.set_index("video_id")
    assert first.loc["a_clip", "status"] == "error" and "a_clip" in first.loc["a_clip", "reason"]
    assert first.loc["c_zero", "status"] == "unreadable"
    zero_part = tmp_path / "parts" / "c_zero.json"
    before = zero_part.stat().st_mtime_ns
    (tmp_path / "a_clip").unlink()
    again = extract_dataset(clip_index, tmp_path, HAAR).videos.set_index("video_id")
    assert again.loc["a_clip", "status"] == "ok" and again.loc["a_clip", "faces"] == HAAR.frames
    assert len(list((tmp_path / "a_clip").glob("*.jpg"))) == HAAR.frames
    assert zero_part.stat().st_mtime_ns == before  # a final status is not redone


def test_killed_at_random_points_resumes_to_the_uninterrupted_result(demo_dir, tmp_path):
    """SIGKILL the extract command at three seeded random points of its work (each kill in a run that resumes
    the killed one), then let it finish: crops, manifest and videos.csv equal an uninterrupted run's."""
    from deepfake_detection.dataset import index_videos
    from killing import kill_points, run_until_killed

    index, _ = index_videos(demo_dir / "train", probe=False)
    index_csv = tmp_path / "index.csv"
    index.to_csv(index_csv, index=False)
    reference = tmp_path / "reference"
    extract_dataset(index, reference, HAAR, data_dir=demo_dir / "train")
    out = tmp_path / "crops"
    command = [sys.executable, "-m", "deepfake_detection", "extract", str(index_csv), "--out", str(out),
               "--data-dir", str(demo_dir / "train"), "--frames", str(HAAR.frames), "--detector", HAAR.detector]

    def finished() -> int:
        return len(list((out / "parts").glob("*.json"))) if (out / "parts").is_dir() else 0

    killed = [run_until_killed(command, finished, after, delay)
              for after, delay in kill_points(len(index), n=3, seed=0)]
    assert any(killed), "every run finished before its kill point: nothing was interrupted"
    done = subprocess.run(command, capture_output=True, text=True, env=os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, done.stderr[-2000:]
    manifest, expected = pd.read_csv(out / "manifest.csv"), pd.read_csv(reference / "manifest.csv")
    assert len(expected) > 0
    _same_manifest(manifest, expected)
    pd.testing.assert_frame_equal(pd.read_csv(out / "videos.csv")[["video_id", "status", "faces"]],
                                  pd.read_csv(reference / "videos.csv")[["video_id", "status", "faces"]])
    crops = sorted(p.relative_to(out) for p in out.rglob("*.jpg"))
    assert crops == sorted(p.relative_to(reference) for p in reference.rglob("*.jpg"))
    assert all((out / c).read_bytes() == (reference / c).read_bytes() for c in crops)
    assert not (out / ".tmp").exists() or not any((out / ".tmp").iterdir())  # the killed runs' leftovers are gone
