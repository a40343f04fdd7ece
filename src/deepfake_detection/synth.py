"""Synthetic demo data in the DFDC layout, built offline from public-domain face photos.

REAL clips animate a face photo that ships inside an installed package (the NASA astronaut
portrait in scikit-image, Grace Hopper in matplotlib's sample data) on a varied background with
camera motion, lighting change, sensor noise and compression. FAKE clips take a REAL clip's
frames and manipulate the moving face in every frame, with the blending code in `blend`:
a face swap (the other identity aligned on landmarks, recoloured, Poisson- or alpha-blended) or
self-blending. The face position in every frame is known from the animation, so no detector is
needed here. This is demo data for running the pipeline end to end and for tests, not DFDC.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import shutil
import struct
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from deepfake_detection.blend import face_ellipse, self_blend, soft_face_mask, swap_face
from deepfake_detection.config import FAKE, REAL, SEED, DemoConfig

log = logging.getLogger(__name__)

FOURCC = "mp4v"  # the MPEG-4 encoder every opencv-python wheel ships (no H.264 here)
NOISE_PAD = 32  # px of extra noise field around the frame, for per-frame offsets
MP4_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}  # boxes on the way to chunk offsets
FAKE_METHODS = ("face_swap_seamless", "self_blend", "face_swap_alpha")
NAME_LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"))
NAME_LENGTH = 10  # DFDC file names are 10 random lowercase letters
# Test files that the pipeline must survive; the ones with nothing to label are left out of
# test_labels.csv, the others are labelled as what they were made from.
UNLABELLED_SPECIALS = ("zero_byte", "text_file")
OUTPUT_FILES = ("test_labels.csv", "sample_submission.csv", "face_boxes.csv", "demo_manifest.json")


@dataclass(frozen=True)
class FacePhoto:
    """One bundled public-domain portrait: the image, five landmarks and a head-and-shoulders cut-out."""

    name: str
    image: np.ndarray  # RGB uint8 HxWx3
    points: np.ndarray  # (5, 2) px: left_eye, right_eye, nose, mouth_left, mouth_right (image left first)
    face_box: tuple[float, float, float, float]  # x1, y1, x2, y2 px (MTCNN box)
    alpha: np.ndarray  # float32 HxW in [0, 1]: the person, 0 on the background


# Landmarks and boxes measured once with MTCNN 1.0 on the original photos; the cut-out is a head
# ellipse (centre, semi-axes) plus a torso polygon drawn by hand, refined by GrabCut.
_PHOTO_SPECS = {
    "astronaut": {
        "points": [(204, 100), (245, 102), (224, 126), (202, 139), (244, 140)],
        "face_box": (182, 64, 265, 171),
        "head": ((226, 108), (74, 96)),
        "torso": [(150, 190), (300, 190), (350, 260), (370, 512), (20, 512), (60, 280)],
        "background": [],
    },
    "grace_hopper": {
        "points": [(220, 190), (308, 186), (268, 237), (232, 277), (304, 273)],
        "face_box": (178, 110, 351, 330),
        "head": ((266, 175), (120, 158)),
        "torso": [(200, 300), (345, 300), (470, 360), (512, 420), (512, 600), (10, 600), (20, 400), (90, 340)],
        "background": [[(140, 288), (182, 288), (198, 302), (203, 345), (140, 352)],  # flag fringe beside the neck
                       [(0, 360), (20, 360), (16, 600), (0, 600)]],  # flag stripe at the bottom-left edge
    },
}


def _read_photo(name: str) -> np.ndarray:
    """RGB uint8 pixels of a bundled photo (scikit-image / matplotlib sample data, no network)."""
    if name == "astronaut":
        from skimage import data

        return np.ascontiguousarray(data.astronaut()[..., :3])
    if name == "grace_hopper":
        from matplotlib import cbook

        path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
        return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    raise KeyError(name)


@lru_cache(maxsize=None)
def face_photos() -> tuple[FacePhoto, ...]:
    """The bundled portraits the demo clips are made of, with landmarks and person cut-outs."""
    photos = []
    for name, spec in _PHOTO_SPECS.items():
        image = _read_photo(name)
        photos.append(FacePhoto(name, image, np.array(spec["points"], np.float64), spec["face_box"],
                                person_cutout(image, spec["head"], spec["torso"], spec["face_box"],
                                              spec["background"])))
    return tuple(photos)


def person_cutout(image: np.ndarray, head: tuple, torso: list, face_box: tuple, background: list) -> np.ndarray:
    """Soft person mask (float32 HxW in [0, 1]): GrabCut refined from a hand-drawn head and torso.

    background: polygons that are surely not the person (GrabCut keeps them otherwise).
    """
    rough = np.zeros(image.shape[:2], np.uint8)
    cv2.ellipse(rough, head[0], head[1], 0, 0, 360, 1, -1)
    cv2.fillPoly(rough, [np.array(torso, np.int32)], 1)
    band = np.ones((25, 25), np.uint8)
    labels = np.full(rough.shape, cv2.GC_BGD, np.uint8)
    labels[cv2.dilate(rough, band) > 0] = cv2.GC_PR_BGD
    labels[rough > 0] = cv2.GC_PR_FGD
    labels[cv2.erode(rough, band, iterations=2) > 0] = cv2.GC_FGD
    x1, y1, x2, y2 = (int(v) for v in face_box)
    labels[y1:y2, x1:x2] = cv2.GC_FGD
    for polygon in background:
        cv2.fillPoly(labels, [np.array(polygon, np.int32)], int(cv2.GC_BGD))
    height, width = image.shape[:2]
    half = (width // 2, height // 2)  # GrabCut at half size: 4x faster, edges are feathered anyway
    small = cv2.cvtColor(cv2.resize(image, half, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2BGR)
    labels = cv2.resize(labels, half, interpolation=cv2.INTER_NEAREST)
    background_model, foreground_model = np.zeros((1, 65)), np.zeros((1, 65))
    cv2.grabCut(small, labels, None, background_model, foreground_model, 4, cv2.GC_INIT_WITH_MASK)
    person = np.isin(labels, [cv2.GC_FGD, cv2.GC_PR_FGD]).astype(np.float32)
    person = cv2.resize(person, (width, height), interpolation=cv2.INTER_LINEAR)
    return cv2.GaussianBlur(person, (0, 0), 2.0)


@lru_cache(maxsize=None)
def background_images() -> tuple[np.ndarray, ...]:
    """Public-domain scikit-image pictures without faces, used as backdrops (RGB uint8)."""
    from skimage import data

    images = []
    for load in (data.coffee, data.rocket, data.brick, data.grass, data.gravel, data.hubble_deep_field,
                 data.page, data.coins):
        image = load()
        if image.ndim == 2:
            image = np.stack([image] * 3, axis=-1)
        images.append(np.ascontiguousarray(image[..., :3]))
    return tuple(images)


# --- one clip's animation ----------------------------------------------------------------------
def _affine(scale: float, angle_deg: float, source: tuple[float, float], target: tuple[float, float]) -> np.ndarray:
    """3x3 matrix: rotate and scale about `source`, then move `source` to `target`."""
    matrix = np.eye(3)
    matrix[:2] = cv2.getRotationMatrix2D((float(source[0]), float(source[1])), angle_deg, scale)
    matrix[:2, 2] += np.asarray(target) - np.asarray(source)
    return matrix


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Points (N, 2) through a 3x3 affine matrix."""
    return points @ matrix[:2, :2].T + matrix[:2, 2]


def _smooth_walk(rng: np.random.Generator, n: int, amplitude: float) -> np.ndarray:
    """Hand-held camera shake: a smoothed random walk (n, 2) with about `amplitude` px spread."""
    steps = rng.standard_normal((n + 8, 2))
    walk = np.cumsum(steps, axis=0)
    kernel = np.ones(8) / 8
    smooth = np.stack([np.convolve(walk[:, k], kernel, mode="valid")[:n] for k in range(2)], axis=1)
    smooth -= smooth.mean(axis=0)
    return smooth * amplitude / (smooth.std() + 1e-9)


def _backdrop(rng: np.random.Generator, width: int, height: int, plain: bool = False) -> np.ndarray:
    """A varied background larger than the frame (RGB uint8): smooth colour field, photo or a mix.

    plain: colour field only (textures such as gravel give MTCNN rare small false faces, which
    the no-face clip must not have).
    """
    big_w, big_h = int(width * 1.5), int(height * 1.5)
    field_colours = rng.uniform(20, 235, size=(3, 4, 3)).astype(np.float32)
    colour_field = cv2.resize(field_colours, (big_w, big_h), interpolation=cv2.INTER_CUBIC)
    images = background_images()
    picture = images[int(rng.integers(len(images)))]
    crop_scale = rng.uniform(0.6, 1.0)
    ph, pw = picture.shape[:2]
    ch, cw = int(ph * crop_scale), int(pw * crop_scale)
    y0, x0 = int(rng.integers(0, ph - ch + 1)), int(rng.integers(0, pw - cw + 1))
    photo = cv2.resize(picture[y0:y0 + ch, x0:x0 + cw], (big_w, big_h), interpolation=cv2.INTER_LINEAR)
    photo = photo.astype(np.float32) * rng.uniform(0.7, 1.2, size=3).astype(np.float32)
    mix = 0.0 if plain else rng.choice([0.0, 0.5, 1.0])
    backdrop = mix * photo + (1 - mix) * colour_field
    backdrop = cv2.GaussianBlur(backdrop, (0, 0), rng.uniform(0.5, 3.0))  # depth of field
    return np.clip(backdrop, 0, 255).astype(np.uint8)


@dataclass
class Clip:
    """Frames of one rendered REAL clip with the face landmarks of every frame."""

    frames: list[np.ndarray]  # RGB uint8 HxWx3, noise and compression applied
    points: list[np.ndarray | None]  # (5, 2) px per frame; None when the clip has no face
    fps: int


def render_real_clip(rng: np.random.Generator, photo: FacePhoto | None, width: int, height: int,
                     fps: int, n_frames: int, config: DemoConfig) -> Clip:
    """Animate a portrait (or only a backdrop when photo is None) into REAL frames.

    Camera: pan, zoom ramp, small roll and hand-held shake; subject: slow sway and head tilt;
    lighting: global gain drift, colour tint and a moving directional gradient; then Gaussian
    sensor noise and, for most clips, a JPEG round trip.
    """
    backdrop = _backdrop(rng, width, height, plain=photo is None)
    flip = bool(rng.random() < 0.5)
    face_share = rng.uniform(*config.face_height)
    anchor = (width * rng.uniform(0.38, 0.62), height * rng.uniform(0.40, 0.50))
    pan = rng.uniform(-0.04, 0.04, size=2) * (width, height)
    zoom_to = rng.uniform(0.94, 1.10)
    roll = rng.uniform(-3.0, 3.0)
    roll_hz = rng.uniform(0.2, 0.6)
    sway = rng.uniform(0.0, 0.025, size=2) * (width, height)
    sway_hz, sway_phase = rng.uniform(0.3, 0.9), rng.uniform(0, 2 * np.pi)
    tilt = rng.uniform(0.0, 4.0)
    shake = _smooth_walk(rng, n_frames, rng.uniform(0.5, 2.0))
    gain, gain_swing, gain_hz = rng.uniform(0.85, 1.12), rng.uniform(0.0, 0.12), rng.uniform(0.2, 0.8)
    tint = rng.uniform(0.92, 1.08, size=3).astype(np.float32)
    light_angle = rng.uniform(0, 2 * np.pi)
    light_from, light_to = rng.uniform(-0.35, 0.35, size=2)
    noise_sigma = rng.uniform(1.5, 4.5)
    jpeg_quality = int(rng.integers(55, 96)) if rng.random() < 0.7 else None

    # Sensor noise: one Gaussian field a little larger than the frame, seen through a random
    # offset in each frame (drawing a full normal field per frame costs more than the rest).
    noise_field = rng.standard_normal((height + NOISE_PAD, width + NOISE_PAD, 3), dtype=np.float32) * noise_sigma
    noise_offsets = rng.integers(0, NOISE_PAD, size=(n_frames, 2))
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    ramp = ((xx - width / 2) * np.cos(light_angle) + (yy - height / 2) * np.sin(light_angle)) / max(width, height)
    centre = (width / 2, height / 2)
    bg_h, bg_w = backdrop.shape[:2]
    bg_base = _affine(1.0, 0.0, (bg_w / 2, bg_h / 2), centre)

    if photo is not None:
        image, points, alpha = photo.image, photo.points.copy(), photo.alpha
        x1, y1, x2, y2 = photo.face_box
        face_centre = np.array([(x1 + x2) / 2, (y1 + y2) / 2])
        if flip:
            w = image.shape[1]
            image, alpha = image[:, ::-1], alpha[:, ::-1]
            points = points[[1, 0, 2, 4, 3]] * (-1, 1) + (w - 1, 0)
            face_centre = face_centre * (-1, 1) + (w - 1, 0)
        person_base = _affine(face_share * height / (y2 - y1), 0.0, tuple(face_centre), anchor)

    clip = Clip(frames=[], points=[], fps=fps)
    for i in range(n_frames):
        t = i / fps
        progress = i / max(1, n_frames - 1)
        zoom = 1.0 + (zoom_to - 1.0) * progress
        camera = _affine(zoom, roll * np.sin(2 * np.pi * roll_hz * t), centre,
                         tuple(np.add(centre, pan * progress + shake[i])))
        parallax = _affine(1.0 + (zoom - 1.0) * 0.5, 0.0, centre,
                           tuple(np.add(centre, (pan * progress + shake[i]) * 0.5)))
        frame = cv2.warpAffine(backdrop, (parallax @ bg_base)[:2], (width, height), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REFLECT).astype(np.float32)
        frame_points = None
        if photo is not None:
            swing = np.sin(2 * np.pi * sway_hz * t + sway_phase)
            subject = _affine(1.0, tilt * swing, anchor, tuple(np.add(anchor, sway * swing)))
            person = camera @ subject @ person_base
            layer = cv2.warpAffine(image, person[:2], (width, height), flags=cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
            cover = cv2.warpAffine(alpha, person[:2], (width, height), flags=cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_REPLICATE)[..., None]
            frame += (layer - frame) * cover
            frame_points = _apply(person, points)
        light = gain * (1 + gain_swing * np.sin(2 * np.pi * gain_hz * t))
        direction = light_from + (light_to - light_from) * progress
        frame *= (light * (1.0 + direction * ramp))[..., None]
        frame *= tint
        dy, dx = noise_offsets[i]
        frame += noise_field[dy:dy + height, dx:dx + width]
        frame = np.clip(frame, 0, 255).astype(np.uint8)
        if jpeg_quality is not None:
            ok, encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
            if not ok:
                raise RuntimeError("OpenCV could not JPEG-encode a demo frame")
            frame = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)
        clip.frames.append(frame)
        clip.points.append(frame_points)
    return clip


def face_box_of(points: np.ndarray) -> tuple[float, float, float, float]:
    """Axis-aligned face box (x1, y1, x2, y2 px) of the face ellipse through five landmarks."""
    centre, axes, _ = face_ellipse(None, points)
    return (centre[0] - axes[0], centre[1] - axes[1], centre[0] + axes[0], centre[1] + axes[1])


def fake_frames(clip: Clip, method: str, seed: int, donor: FacePhoto) -> list[np.ndarray]:
    """Manipulate the face in every frame of a REAL clip (RGB uint8 frames, same sizes).

    The mask and the perturbation are drawn from the same seed in every frame, so the
    manipulation is stable over time while it follows the moving face landmarks.
    """
    out = []
    for frame, points in zip(clip.frames, clip.points, strict=True):
        rng = np.random.default_rng(seed)
        mask = soft_face_mask(frame.shape[0], frame.shape[1], face_box_of(points), rng, landmarks=points)
        if method == "self_blend":
            out.append(self_blend(frame, mask, rng))
        else:
            out.append(swap_face(frame, points, donor.image, donor.points, mask,
                                 seamless=method == "face_swap_seamless"))
    return out


def write_clip(path: Path, frames: list[np.ndarray], fps: int) -> None:
    """Encode RGB frames as an mp4 (FOURCC) at `fps`; raise if OpenCV cannot open the writer."""
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*FOURCC), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {FOURCC} video to {path}")
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()


# --- groups of clips (one REAL and the FAKEs made from it) -----------------------------------------
@dataclass
class GroupJob:
    """One REAL clip and its FAKEs: what to render and where (picklable, for worker processes)."""

    folder: str
    seed: list[int]  # SeedSequence entropy of this group
    identity: int  # index into face_photos(); -1 renders a clip without a face
    real_name: str
    fakes: list[tuple[str, str]] = field(default_factory=list)  # (file name, method)
    size: tuple[int, int] | None = None  # width, height; None draws one of config.frame_sizes


@dataclass
class ClipRecord:
    """What was written for one clip: the manifest row."""

    filename: str
    label: int
    original: str | None
    method: str
    identity: str
    width: int
    height: int
    fps: int
    frames: int
    boxes: list[tuple[float, float, float, float]]  # face box per frame (empty without a face)


def render_group(job: GroupJob, config: DemoConfig) -> list[ClipRecord]:
    """Render and write one group's clips; deterministic in job.seed."""
    cv2.setNumThreads(1)
    rng = np.random.default_rng(np.random.SeedSequence(job.seed))
    width, height = job.size or config.frame_sizes[int(rng.integers(len(config.frame_sizes)))]
    fps = int(config.fps[int(rng.integers(len(config.fps)))])
    n_frames = int(round(fps * rng.uniform(*config.seconds)))
    photos = face_photos()
    photo = photos[job.identity] if job.identity >= 0 else None
    fake_seeds = rng.integers(0, 2**31, size=len(job.fakes))
    clip = render_real_clip(rng, photo, width, height, fps, n_frames, config)
    boxes = [face_box_of(p) for p in clip.points] if photo is not None else []
    identity = photo.name if photo is not None else "none"
    folder = Path(job.folder)
    records = []
    write_clip(folder / job.real_name, clip.frames, fps)
    records.append(ClipRecord(job.real_name, REAL, None, "original", identity, width, height, fps, n_frames, boxes))
    for (name, method), seed in zip(job.fakes, fake_seeds, strict=True):
        donor = photos[(job.identity + 1) % len(photos)]
        write_clip(folder / name, fake_frames(clip, method, int(seed), donor), fps)
        records.append(ClipRecord(name, FAKE, job.real_name, method, identity, width, height, fps,
                                  n_frames, boxes))
    return records


def _run_jobs(jobs: list[GroupJob], config: DemoConfig, workers: int, desc: str) -> list[ClipRecord]:
    """Render groups in `workers` spawned processes (1: in this process) behind a progress bar."""
    total = sum(1 + len(job.fakes) for job in jobs)
    records: list[ClipRecord] = []
    with tqdm(total=total, desc=desc, unit="clip") as bar:
        if workers <= 1:
            for job in jobs:
                done = render_group(job, config)
                records += done
                bar.update(len(done))
        else:
            context = multiprocessing.get_context("spawn")  # no fork of a process that may hold TF threads
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                futures = [pool.submit(render_group, job, config) for job in jobs]
                for future in as_completed(futures):
                    done = future.result()
                    records += done
                    bar.update(len(done))
    return sorted(records, key=lambda r: r.filename)


def _names(rng: np.random.Generator, n: int, taken: set[str]) -> list[str]:
    """n new DFDC-like file names (10 random lowercase letters + .mp4), unique across the dataset."""
    names = []
    while len(names) < n:
        name = "".join(rng.choice(NAME_LETTERS, NAME_LENGTH)) + ".mp4"
        if name not in taken:
            taken.add(name)
            names.append(name)
    return names


def _train_jobs(folder: Path, n_videos: int, rng: np.random.Generator, taken: set[str],
                config: DemoConfig) -> list[GroupJob]:
    """Groups of one REAL + 2-4 FAKEs adding up to n_videos, identities and methods alternating."""
    n_real = max(1, int(np.ceil(n_videos / (1 + config.fakes_per_real))))
    fakes_per_group = np.full(n_real, (n_videos - n_real) // n_real)
    fakes_per_group[: (n_videos - n_real) % n_real] += 1
    n_photos = len(face_photos())
    jobs = []
    for g, n_fakes in enumerate(fakes_per_group):
        real_name, *fake_names = _names(rng, 1 + int(n_fakes), taken)
        start = int(rng.integers(len(FAKE_METHODS)))
        methods = [FAKE_METHODS[(start + k) % len(FAKE_METHODS)] for k in range(int(n_fakes))]
        seed = [int(s) for s in rng.integers(0, 2**31, size=2)]
        jobs.append(GroupJob(str(folder), seed, g % n_photos, real_name, list(zip(fake_names, methods, strict=True))))
    return jobs


def _test_jobs(folder: Path, n_test: int, rng: np.random.Generator, taken: set[str],
               config: DemoConfig) -> tuple[list[GroupJob], dict[str, str]]:
    """Balanced REAL/FAKE test groups (one FAKE per REAL) plus the no-face and portrait clips."""
    n_photos = len(face_photos())
    jobs = []
    for g in range(max(1, n_test // 2)):
        real_name, fake_name = _names(rng, 2, taken)
        method = FAKE_METHODS[int(rng.integers(len(FAKE_METHODS)))]
        seed = [int(s) for s in rng.integers(0, 2**31, size=2)]
        jobs.append(GroupJob(str(folder), seed, g % n_photos, real_name, [(fake_name, method)]))
    no_face, portrait = _names(rng, 2, taken)
    seeds = [[int(s) for s in rng.integers(0, 2**31, size=2)] for _ in range(2)]
    jobs.append(GroupJob(str(folder), seeds[0], -1, no_face))
    jobs.append(GroupJob(str(folder), seeds[1], int(rng.integers(n_photos)), portrait, size=config.portrait_size))
    return jobs, {"no_face": no_face, "portrait": portrait}


def _mp4_boxes(data: bytes | bytearray, start: int, end: int):
    """Yield (type, start, header length, end) of the MP4 boxes between start and end."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", data[pos + 8:pos + 16])[0], 16
        elif size == 0:
            size = end - pos
        yield kind, pos, header, pos + size
        pos += size


def _shift_chunk_offsets(moov: bytearray, start: int, end: int, delta: int) -> None:
    """Add delta to every sample-chunk offset (stco/co64) inside a moov box, in place."""
    for kind, pos, header, stop in _mp4_boxes(moov, start, end):
        if kind in MP4_CONTAINERS:
            _shift_chunk_offsets(moov, pos + header, stop, delta)
        elif kind in (b"stco", b"co64"):
            width, fmt = (4, ">I") if kind == b"stco" else (8, ">Q")
            count = struct.unpack(">I", moov[pos + header + 4:pos + header + 8])[0]
            for at in range(pos + header + 8, pos + header + 8 + count * width, width):
                moov[at:at + width] = struct.pack(fmt, struct.unpack(fmt, moov[at:at + width])[0] + delta)


def faststart(data: bytes) -> bytes:
    """The same MP4 with its index (moov) moved before the media data, as streaming files have it.

    OpenCV writes the index last, so a cut-off file has no index and no frame decodes; with the
    index first, a truncated file decodes up to the cut, like a partly downloaded video.
    """
    top = list(_mp4_boxes(data, 0, len(data)))
    kinds = [kind for kind, *_ in top]
    if kinds.index(b"moov") < kinds.index(b"mdat"):
        return data
    _, pos, _, stop = top[kinds.index(b"moov")]
    moov = bytearray(data[pos:stop])
    _shift_chunk_offsets(moov, 0, len(moov), len(moov))
    parts = []
    for kind, box_start, _, box_end in top:
        if kind == b"mdat":
            parts.append(bytes(moov))
        if kind != b"moov":
            parts.append(data[box_start:box_end])
    return b"".join(parts)


def _write_broken_files(folder: Path, source: Path, rng: np.random.Generator, taken: set[str]) -> dict[str, str]:
    """Zero-byte, truncated (decodable up to the cut), text-named-mp4 and one-frame files next to the test clips."""
    zero, truncated, text, one_frame = _names(rng, 4, taken)
    (folder / zero).write_bytes(b"")
    data = faststart(source.read_bytes())
    (folder / truncated).write_bytes(data[: len(data) * 3 // 5])
    (folder / text).write_text("This is a text file, not a video.\n")
    capture = cv2.VideoCapture(str(source))
    ok, frame = capture.read()
    capture.release()
    if not ok:
        raise RuntimeError(f"cannot read back {source} to cut a one-frame clip")
    write_clip(folder / one_frame, [cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)], 25)
    return {"zero_byte": zero, "truncated": truncated, "text_file": text, "one_frame": one_frame}


def make_demo_dataset(out_dir: str | Path, n_videos: int = 40, seed: int = SEED, n_test: int | None = None,
                      config: DemoConfig | None = None, workers: int | None = None, overwrite: bool = False) -> dict:
    """Write a DFDC-layout demo dataset under out_dir and return a summary.

    Writes train/metadata.json + mp4s (about 1 REAL : 3 FAKE), test_videos/ (balanced clips
    from another seed plus broken files), test_labels.csv (filename,label 1 FAKE / 0 REAL;
    zero-byte and text files are not labelled, the other special files carry the label of what
    they were cut from), sample_submission.csv (0.5 for every test file), face_boxes.csv (true
    face box per frame) and demo_manifest.json (method and identity of every clip).
    An existing demo dataset in out_dir is replaced only with overwrite=True (stale clips
    would otherwise end up in the listings).
    """
    config = config or DemoConfig()
    workers = config.workers if workers is None else workers
    n_test = max(2, int(round(n_videos * config.test_share))) if n_test is None else n_test
    started = time.perf_counter()
    out = Path(out_dir)
    train_dir, test_dir = out / "train", out / "test_videos"
    outputs = [out / name for name in OUTPUT_FILES]
    if any(folder.is_dir() and any(folder.iterdir()) for folder in (train_dir, test_dir)) or \
            any(path.exists() for path in outputs):
        if not overwrite:
            raise FileExistsError(f"{out} already holds demo data; pass overwrite=True (--overwrite) to replace it")
        for folder in (train_dir, test_dir):
            shutil.rmtree(folder, ignore_errors=True)
        for path in outputs:
            path.unlink(missing_ok=True)
    train_dir.mkdir(parents=True, exist_ok=True)
    test_dir.mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()
    train_rng = np.random.default_rng(np.random.SeedSequence([seed, 0]))
    test_rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))

    train_jobs = _train_jobs(train_dir, n_videos, train_rng, taken, config)
    test_jobs, specials = _test_jobs(test_dir, n_test, test_rng, taken, config)
    records = _run_jobs(train_jobs + test_jobs, config, workers, desc="demo clips")
    train_names = {name for job in train_jobs for name in [job.real_name, *(f for f, _ in job.fakes)]}
    train = [r for r in records if r.filename in train_names]
    test = [r for r in records if r.filename not in train_names]
    first_fake = next(r for r in test if r.label == FAKE)
    specials.update(_write_broken_files(test_dir, test_dir / first_fake.filename, test_rng, taken))

    metadata = {r.filename: {"label": "FAKE" if r.label == FAKE else "REAL", "split": "train",
                             "original": r.original} for r in train}
    (train_dir / "metadata.json").write_text(json.dumps(metadata, indent=1, sort_keys=True) + "\n")

    test_labels = {r.filename: r.label for r in test}
    test_labels[specials["truncated"]] = first_fake.label
    test_labels[specials["one_frame"]] = first_fake.label
    labels = pd.DataFrame(sorted(test_labels.items()), columns=["filename", "label"])
    labels.to_csv(out / "test_labels.csv", index=False)
    test_files = sorted(p.name for p in test_dir.glob("*.mp4"))
    pd.DataFrame({"filename": test_files, "label": 0.5}).to_csv(out / "sample_submission.csv", index=False)

    box_rows = [(split, r.filename, i, *np.round(box, 1)) for split, rows in (("train", train), ("test", test))
                for r in rows for i, box in enumerate(r.boxes)]
    pd.DataFrame(box_rows, columns=["split", "filename", "frame", "x1", "y1", "x2", "y2"]).to_csv(
        out / "face_boxes.csv", index=False)
    manifest = {
        "seed": seed,
        "note": "synthetic demo data for running the pipeline end to end; not DFDC",
        "specials": specials,
        "unlabelled_specials": [specials[k] for k in UNLABELLED_SPECIALS],
        "clips": [{k: v for k, v in asdict(r).items() if k != "boxes"} | {"split": split}
                  for split, rows in (("train", train), ("test", test)) for r in rows],
    }
    (out / "demo_manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")

    methods = pd.Series([r.method for r in train]).value_counts().sort_index()
    summary = {
        "out_dir": str(out),
        "train_videos": len(train),
        "train_real": sum(r.label == REAL for r in train),
        "train_fake": sum(r.label == FAKE for r in train),
        "train_methods": {k: int(v) for k, v in methods.items()},
        "test_files": len(test_files),
        "test_labelled": len(labels),
        "test_fake": int(labels["label"].sum()),
        "specials": specials,
        "seconds": round(time.perf_counter() - started, 1),
    }
    log.info("demo dataset: %s", summary)
    return summary


def _middle_frame(path: Path) -> np.ndarray:
    """The middle frame of a clip (RGB uint8 HxWx3)."""
    capture = cv2.VideoCapture(str(path))
    capture.set(cv2.CAP_PROP_POS_FRAMES, int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) // 2)
    ok, frame = capture.read()
    capture.release()
    if not ok:
        raise RuntimeError(f"cannot read the middle frame of {path}")
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def demo_pairs(out_dir: str | Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(title, REAL frame, FAKE frame) for the first train FAKE of each method, for a side-by-side figure."""
    out = Path(out_dir)
    clips = json.loads((out / "demo_manifest.json").read_text())["clips"]
    rows = []
    for method in FAKE_METHODS:
        fake = next((c for c in clips if c["split"] == "train" and c["method"] == method), None)
        if fake is not None:
            rows.append((f"{method} ({fake['identity']})", _middle_frame(out / "train" / fake["original"]),
                         _middle_frame(out / "train" / fake["filename"])))
    return rows
