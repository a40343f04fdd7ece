"""Demo data: DFDC layout, labels, broken test files, reproducibility, real manipulations, detectable faces."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from conftest import DEMO_QUICK
from deepfake_detection.blend import self_blend, self_blend_crop, soft_face_mask, swap_face
from deepfake_detection.config import DemoConfig
from deepfake_detection.synth import face_photos, make_demo_dataset


def _frames(path: Path) -> list[np.ndarray]:
    """Every decoded frame of a clip (BGR uint8)."""
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


def _manifest(demo_dir: Path) -> dict:
    return json.loads((demo_dir / "demo_manifest.json").read_text())


# --- the DFDC layout -----------------------------------------------------------------------------
def test_train_metadata_matches_files_and_links_fakes_to_real_originals(demo_dir):
    metadata = json.loads((demo_dir / "train" / "metadata.json").read_text())
    assert set(metadata) == {p.name for p in (demo_dir / "train").glob("*.mp4")}
    reals = {name for name, entry in metadata.items() if entry["label"] == "REAL"}
    fakes = {name for name, entry in metadata.items() if entry["label"] == "FAKE"}
    assert all(entry["split"] == "train" for entry in metadata.values())
    assert all(metadata[name]["original"] is None for name in reals)
    assert all(metadata[name]["original"] in reals for name in fakes)
    assert 2 <= len(fakes) / len(reals) <= 4  # DFDC-like imbalance
    methods = {c["method"] for c in _manifest(demo_dir)["clips"] if c["split"] == "train" and c["label"] == 1}
    assert {"self_blend", "face_swap_seamless", "face_swap_alpha"} <= methods


def test_test_folder_labels_and_sample_submission(demo_dir):
    test_files = sorted(p.name for p in (demo_dir / "test_videos").glob("*.mp4"))
    labels = pd.read_csv(demo_dir / "test_labels.csv")
    sample = pd.read_csv(demo_dir / "sample_submission.csv")
    specials = _manifest(demo_dir)["specials"]
    assert sample["filename"].tolist() == test_files
    assert (sample["label"] == 0.5).all()
    assert set(labels["label"]) == {0, 1}
    assert labels["label"].sum() * 2 == len(labels)  # balanced REAL/FAKE
    assert set(labels["filename"]) == set(test_files) - {specials["zero_byte"], specials["text_file"]}
    train_names = set(json.loads((demo_dir / "train" / "metadata.json").read_text()))
    assert not train_names & set(test_files)


def test_broken_test_files_are_what_they_claim(demo_dir):
    folder = demo_dir / "test_videos"
    specials = _manifest(demo_dir)["specials"]
    assert (folder / specials["zero_byte"]).stat().st_size == 0
    assert (folder / specials["text_file"]).read_text().startswith("This is a text file")
    assert not cv2.VideoCapture(str(folder / specials["text_file"])).isOpened()
    truncated = folder / specials["truncated"]
    assert truncated.read_bytes()[4:8] == b"ftyp"
    announced = int(cv2.VideoCapture(str(truncated)).get(cv2.CAP_PROP_FRAME_COUNT))
    assert 0 < len(_frames(truncated)) < announced  # decodes up to the cut, then stops
    assert len(_frames(folder / specials["one_frame"])) == 1
    portrait = _frames(folder / specials["portrait"])
    assert portrait and portrait[0].shape[0] > portrait[0].shape[1]
    assert len(_frames(folder / specials["no_face"])) > 1


def test_existing_demo_data_is_only_replaced_on_request(demo_dir):
    before = (demo_dir / "train" / "metadata.json").read_bytes()
    with pytest.raises(FileExistsError, match="overwrite"):
        make_demo_dataset(demo_dir, n_videos=2, seed=1, n_test=2)
    assert (demo_dir / "train" / "metadata.json").read_bytes() == before


# --- reproducibility -----------------------------------------------------------------------------
def test_same_seed_gives_identical_metadata_bytes_and_frames(tmp_path):
    config = DemoConfig(**DEMO_QUICK | {"seconds": (0.4, 0.4)})
    make_demo_dataset(tmp_path / "a", n_videos=3, seed=7, n_test=2, config=config)
    make_demo_dataset(tmp_path / "b", n_videos=3, seed=7, n_test=2, config=config)
    for name in ("train/metadata.json", "test_labels.csv", "sample_submission.csv", "face_boxes.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    clips = sorted((tmp_path / "a").glob("*/*.mp4"))
    assert len(clips) == 3 + 2 + 6
    for clip in clips:
        assert all(np.array_equal(x, y) for x, y in
                   zip(_frames(clip), _frames(tmp_path / "b" / clip.relative_to(tmp_path / "a")), strict=True))


# --- the fakes are real face manipulations -----------------------------------------------------------
def test_fakes_differ_from_their_original_inside_the_moving_face(demo_dir):
    metadata = json.loads((demo_dir / "train" / "metadata.json").read_text())
    boxes = pd.read_csv(demo_dir / "face_boxes.csv").set_index(["filename", "frame"])
    for name, entry in metadata.items():
        if entry["label"] != "FAKE":
            continue
        fake, real = _frames(demo_dir / "train" / name), _frames(demo_dir / "train" / entry["original"])
        assert len(fake) == len(real)
        inside_share, inside_mean, outside_mean = [], [], []
        for i, (f, r) in enumerate(zip(fake, real, strict=True)):
            diff = np.abs(f.astype(np.float32) - r).mean(axis=2)
            x1, y1, x2, y2 = boxes.loc[(name, i), ["x1", "y1", "x2", "y2"]]
            cx, cy, hw, hh = (x1 + x2) / 2, (y1 + y2) / 2, 0.65 * (x2 - x1), 0.65 * (y2 - y1)
            face = np.zeros(diff.shape, bool)
            face[max(0, int(cy - hh)):int(cy + hh), max(0, int(cx - hw)):int(cx + hw)] = True
            inside_share.append(diff[face].sum() / diff.sum())
            inside_mean.append(diff[face].mean())
            outside_mean.append(diff[~face].mean())
        assert np.mean(inside_share) > 0.8, name  # the change follows the face box frame by frame
        assert np.mean(inside_mean) > 2.0, name  # visible, not just re-encoding noise
        assert np.mean(inside_mean) > 20 * np.mean(outside_mean), name


@pytest.fixture(scope="module")
def mtcnn():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from mtcnn import MTCNN

    return MTCNN()


def test_mtcnn_finds_a_face_in_sampled_frames_of_every_clip(demo_dir, mtcnn):
    manifest = _manifest(demo_dir)
    found = {}  # share of 4 evenly spaced frames with a confident face, per clip
    for clip in manifest["clips"]:
        folder = "train" if clip["split"] == "train" else "test_videos"
        frames = _frames(demo_dir / folder / clip["filename"])
        picked = [cv2.cvtColor(frames[i], cv2.COLOR_BGR2RGB) for i in np.linspace(0, len(frames) - 1, 4).astype(int)]
        found[clip["filename"]] = np.mean([any(face["confidence"] >= 0.9 for face in faces)
                                           for faces in mtcnn.detect_faces(picked)])
    found = pd.Series(found)
    no_face = manifest["specials"]["no_face"]
    assert found.drop(no_face).min() >= 0.95, found[found < 0.95].to_dict()
    assert found[no_face] == 0.0


# --- blending ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def portrait():
    photo = face_photos()[0]
    return photo.image.copy(), photo.points, photo.face_box


def test_soft_face_mask_is_a_feathered_region_around_the_face(portrait):
    image, points, box = portrait
    mask = soft_face_mask(image.shape[0], image.shape[1], box, np.random.default_rng(0), landmarks=points)
    assert mask.dtype == np.float32 and mask.shape == image.shape[:2]
    assert mask.min() == 0.0 and mask.max() <= 1.0
    nose_x, nose_y = points[2].astype(int)
    assert mask[nose_y, nose_x] > 0.99
    assert 0 < ((mask > 0) & (mask < 1)).sum()  # a soft edge, not a hard cut
    x1, y1, x2, y2 = box
    ys, xs = np.nonzero(mask)
    assert x1 - 0.3 * (x2 - x1) < xs.min() and xs.max() < x2 + 0.3 * (x2 - x1)
    again = soft_face_mask(image.shape[0], image.shape[1], box, np.random.default_rng(0), landmarks=points)
    assert np.array_equal(mask, again)


def test_self_blend_and_face_swap_change_only_pixels_inside_the_mask(portrait):
    image, points, box = portrait
    mask = soft_face_mask(image.shape[0], image.shape[1], box, np.random.default_rng(1), landmarks=points)
    donor = face_photos()[1]
    outputs = [self_blend(image, mask, np.random.default_rng(2)),
               swap_face(image, points, donor.image, donor.points, mask, seamless=True),
               swap_face(image, points, donor.image, donor.points, mask, seamless=False)]
    for out in outputs:
        assert out.dtype == np.uint8 and out.shape == image.shape
        changed = np.any(out != image, axis=2)
        assert not changed[mask == 0].any()
        assert changed[mask > 0.5].mean() > 0.5
    assert np.array_equal(outputs[0], self_blend(image, mask, np.random.default_rng(2)))


def test_self_blend_crop_keeps_shape_and_changes_the_centre_not_the_corners():
    rng = np.random.default_rng(3)
    crop = rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    crop = cv2.GaussianBlur(crop, (5, 5), 0)
    out = self_blend_crop(crop, np.random.default_rng(4))
    assert out.dtype == np.uint8 and out.shape == crop.shape
    changed = np.any(out != crop, axis=2)
    assert changed[24:40, 24:40].mean() > 0.9
    assert not changed[:4, :4].any() and not changed[-4:, -4:].any()

