"""Videos -> face crops: in memory for inference, or a resumable crops folder + manifest for training.

One per-video function does all the work, so the same code runs inline, in a local process pool,
or on a Dask cluster. Each finished video leaves `parts/<video_id>.json` (written last, by
rename) and `<video_id>/*.jpg` (renamed into place from a temporary folder): a run killed at any
moment leaves whole videos or nothing, and a rerun skips what is done (videos that ended in
`error` are tried again). `manifest.csv` and `videos.csv` are rebuilt from the part files at the
end of every run. `settings.json` records the settings the crops were made with: a rerun with
other settings is refused (or, with `overwrite`, starts afresh) instead of mixing old and new crops.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from deepfake_detection.artifacts import CropsDir
from deepfake_detection.config import ExtractConfig, from_dict
from deepfake_detection.faces import FaceBox, crop_face, fill_track, make_detector, select_tracks, track_faces
from deepfake_detection.io import atomic_write_csv, atomic_write_json, write_errors
from deepfake_detection.reporting import lap
from deepfake_detection.video import iter_frames

log = logging.getLogger(__name__)

FINAL_STATUSES = ("ok", "no_face", "unreadable")  # "missing" and "error" are retried by a rerun
# ExtractConfig fields that change how fast, not which crops (compiled and eager MTCNN agree within 1e-4 px)
SPEED_ONLY = ("detect_batch", "overlap_decode", "detect_compile", "detect_compile_from")


class SettingsChanged(ValueError):
    """The output folder holds crops made with other extraction settings; the message names them."""


@dataclass
class VideoFaces:
    """The faces of one video, in memory."""

    crops: np.ndarray  # uint8 (N, size, size, 3) RGB
    frames: list[int] = field(default_factory=list)  # video frame number of each crop
    tracks: list[int] = field(default_factory=list)  # 0 = most prominent person
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))  # (N, 4) x1, y1, x2, y2 px
    confidences: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))  # (N,)
    detected: list[bool] = field(default_factory=list)  # False: box interpolated between detections
    status: str = "ok"  # ok / no_face / unreadable / missing
    reason: str = ""
    seconds: float = 0.0
    n_frames: int = 0  # frames decoded


def _empty(size: int, status: str, reason: str, n_frames: int = 0) -> VideoFaces:
    return VideoFaces(np.zeros((0, size, size, 3), np.uint8), status=status, reason=reason, n_frames=n_frames)


def _detector_options(cfg: ExtractConfig) -> dict:
    """The constructor options of the detector a config asks for (the speed ones only where MTCNN takes them)."""
    speed = {"batch_size": cfg.detect_batch, "compile": cfg.detect_compile} if cfg.detector == "mtcnn" else {}
    return {"long_side": cfg.detect_long_side, "min_confidence": cfg.min_confidence, **speed}


def detector_for(cfg: ExtractConfig):
    """The detector a config asks for."""
    return make_detector(cfg.detector, **_detector_options(cfg))


def for_run(cfg: ExtractConfig, videos: int) -> ExtractConfig:
    """The config of a run over `videos` videos: MTCNN's networks compiled with XLA when asked (detect_compile) or
    when the run is long enough to pay for compiling (detect_compile_from); the boxes agree within 1e-4 px either
    way, so the crops do not depend on the run's length."""
    return replace(cfg, detect_compile=cfg.detect_compile or 0 < cfg.detect_compile_from <= videos)


def _keyframes_done(per_frame: list, positions: list[int], future: Future) -> None:
    for position, boxes in zip(positions, future.result(), strict=True):
        per_frame[position] = boxes


def keyframe_stride(stride: int, seconds_apart: float, max_gap: float) -> int:
    """Detect on every k-th sampled frame: k = stride, made smaller (down to 1) until keyframes are at most max_gap
    seconds apart when the sampled frames are seconds_apart apart (unknown: 0, the stride as it is)."""
    if seconds_apart <= 0:
        return max(1, stride)
    return max(1, min(stride, int(max_gap / seconds_apart + 1e-9)))


def _detect_sampled(frames_iter, cfg: ExtractConfig, detector,
                    fps: float = 0.0) -> tuple[list[int], list[np.ndarray], list]:
    """Decode frames while detecting faces on every k-th one in another thread (k: `keyframe_stride` of
    detect_stride, from the time between the first two sampled frames at `fps`; 0 = unknown).

    Returns frame numbers, RGB frames and per-frame boxes (None where detection did not run).
    Frames next to a keyframe where nothing was found are detected too, so a missed keyframe
    does not leave its neighbours without a face.
    """
    stride = max(1, cfg.detect_stride)
    indices: list[int] = []
    frames: list[np.ndarray] = []  # RGB uint8 HxWx3
    per_frame: list[list[FaceBox] | None] = []
    jobs: list[tuple[list[int], Future]] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="detect") as pool:
        pending: list[int] = []

        def submit() -> None:
            job = pool.submit(detector.detect, [frames[p] for p in pending])
            jobs.append((list(pending), job))
            pending.clear()
            if not cfg.overlap_decode:
                job.result()

        for index, rgb in frames_iter:
            position = len(frames)
            if position == 1 and fps > 0:  # evenly spaced samples: the first gap is every gap
                stride = keyframe_stride(cfg.detect_stride, (index - indices[0]) / fps, cfg.max_keyframe_gap)
            indices.append(index)
            frames.append(rgb)
            per_frame.append(None)
            if position % stride == 0:
                pending.append(position)
                if len(pending) >= cfg.detect_batch:
                    submit()
        if frames and (len(frames) - 1) % stride:
            pending.append(len(frames) - 1)  # the last frame anchors the interpolation
        if pending:
            submit()
        for positions, job in jobs:
            _keyframes_done(per_frame, positions, job)
    empty = {p for p, boxes in enumerate(per_frame) if boxes == []}
    retry = [p for p, boxes in enumerate(per_frame)
             if boxes is None and any(q in empty for q in range(p - stride + 1, p + stride))]
    if retry:
        for position, boxes in zip(retry, detector.detect([frames[p] for p in retry]), strict=True):
            per_frame[position] = boxes
    return indices, frames, per_frame


def video_faces(path: str | Path, cfg: ExtractConfig, detector, boxes_from: pd.DataFrame | None = None,
                timings: dict[str, float] | None = None) -> VideoFaces:
    """Sample a video, find and track its faces, and return square crops; never raises on bad input.

    boxes_from: manifest rows (frame, track, x1, y1, x2, y2, confidence) of another video, usually
    the original of a fake: the same frames are cropped at those boxes instead of detecting.
    timings: when given (profiling), the stages run one after another and their seconds go into it: "decode"
    (sampling the frames), "detect" (detector calls), "track + crop". Without it, decoding overlaps detection.
    """
    start = time.perf_counter()
    wanted = None if boxes_from is None else sorted(set(boxes_from["frame"].astype(int)))
    sample, frames_iter = iter_frames(path, n=cfg.frames, every=cfg.every, indices=wanted)
    if timings is not None:
        frames_iter = iter(list(frames_iter))
        stage = lap(timings, "decode", start)
    if boxes_from is not None:
        result = _faces_at_boxes(sample, frames_iter, boxes_from, cfg)
    else:
        indices, frames, per_frame = _detect_sampled(frames_iter, cfg, detector, sample.fps)
        if timings is not None:
            stage = lap(timings, "detect", stage)
        result = _faces_from_detections(indices, frames, per_frame, cfg)
        if timings is not None:
            lap(timings, "track + crop", stage)
    if sample.status in ("missing", "unreadable", "empty"):
        result = _empty(cfg.size, "missing" if sample.status == "missing" else "unreadable", sample.reason)
    elif sample.status == "partial":
        result.reason = "; ".join(r for r in (sample.reason, result.reason) if r)
    result.seconds = round(time.perf_counter() - start, 3)
    return result


def image_faces(path: str | Path, cfg: ExtractConfig, detector) -> VideoFaces:
    """The faces of one still image, as a one-frame video (frame 0, one track per face); never raises on bad input."""
    start = time.perf_counter()
    path = Path(path)
    if not path.is_file():
        return _empty(cfg.size, "missing", f"{path} is not a file")
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None or bgr.size == 0:
        return _empty(cfg.size, "unreadable", f"{path.name} is not a readable image")
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    result = _faces_from_detections([0], [rgb], detector.detect([rgb]), cfg)
    result.seconds = round(time.perf_counter() - start, 3)
    return result


def _min_track_length(per_frame: list, cfg: ExtractConfig) -> int:
    return max(1, min(cfg.min_track_length, sum(boxes is not None for boxes in per_frame)))


def track_rows(per_frame: list, cfg: ExtractConfig) -> list[tuple[int, int, FaceBox, bool]]:
    """(position, track, box, detected) of every kept face: detections linked into tracks, the tracks selected
    (the most prominent person first; one unless all_faces) and filled in where detection skipped a frame.

    per_frame[i]: the boxes found on sampled frame i, or None where detection did not run (strided detection).
    """
    detected = [boxes is not None for boxes in per_frame]
    tracks = select_tracks(track_faces(per_frame, cfg.track_iou), _min_track_length(per_frame, cfg), cfg.all_faces)
    return [(position, track_id, box, was_detected) for track_id, track in enumerate(tracks)
            for position, box, was_detected in fill_track(track, len(per_frame), detected)]


def _faces_from_detections(indices: list[int], frames: list[np.ndarray], per_frame: list,
                           cfg: ExtractConfig) -> VideoFaces:
    """Track, select, interpolate and crop."""
    rows = [(indices[position], track_id, position, box, was_detected)
            for position, track_id, box, was_detected in track_rows(per_frame, cfg)]
    rows.sort(key=lambda r: (r[0], r[1]))
    if not rows:
        min_length = _min_track_length(per_frame, cfg)
        return _empty(cfg.size, "no_face", f"no face track of >= {min_length} frames in {len(frames)} frames",
                      len(frames))
    return VideoFaces(
        crops=np.stack([crop_face(frames[r[2]], r[3], cfg.margin, cfg.size) for r in rows]),
        frames=[r[0] for r in rows], tracks=[r[1] for r in rows],
        boxes=np.array([[r[3].x1, r[3].y1, r[3].x2, r[3].y2] for r in rows], np.float32),
        confidences=np.array([r[3].confidence for r in rows], np.float32),
        detected=[r[4] for r in rows], n_frames=len(frames))


def _faces_at_boxes(sample, frames_iter, boxes_from: pd.DataFrame, cfg: ExtractConfig) -> VideoFaces:
    """Crop the sampled frames at given boxes (pixel-aligned with the video the boxes came from)."""
    frames = dict(frames_iter)
    rows = boxes_from[boxes_from["frame"].isin(list(frames))].sort_values(["frame", "track"])
    if rows.empty:
        return _empty(cfg.size, "no_face", "none of the given boxes' frames decoded", len(frames))
    boxes = [FaceBox(r.x1, r.y1, r.x2, r.y2, r.confidence) for r in rows.itertuples()]
    return VideoFaces(
        crops=np.stack([crop_face(frames[int(f)], b, cfg.margin, cfg.size)
                        for f, b in zip(rows["frame"], boxes, strict=True)]),
        frames=rows["frame"].astype(int).tolist(), tracks=rows["track"].astype(int).tolist(),
        boxes=rows[["x1", "y1", "x2", "y2"]].to_numpy(np.float32),
        confidences=rows["confidence"].to_numpy(np.float32), detected=[False] * len(rows), n_frames=len(frames))


# --- one video on disk ----------------------------------------------------------------------------------------
_DETECTORS: dict[str, object] = {}  # one detector per process, built on first use


def _cached_detector(cfg: ExtractConfig):
    key = json.dumps([cfg.detector, _detector_options(cfg)], sort_keys=True)  # what tells two detectors apart
    if key not in _DETECTORS:
        _DETECTORS[key] = detector_for(cfg)
    return _DETECTORS[key]


def _read_part(out_dir: Path, video_id: str) -> dict | None:
    path = CropsDir(out_dir).part(video_id)
    return json.loads(path.read_text()) if path.exists() else None


def extract_video(task: dict, cfg_dict: dict, out_dir: str) -> dict:
    """Extract one video to `out_dir/<video_id>/` and its part file; returns its videos.csv row.

    Top-level and picklable so process pools and Dask workers can run it. Unexpected errors are
    logged and recorded as status "error" (retried by the next run), so one bad video cannot stop
    a run that lasts days.
    """
    cfg, out = from_dict(ExtractConfig, cfg_dict), Path(out_dir)
    video_id = task["video_id"]
    try:
        faces = _extract_faces(task, cfg, out)
        rows = _write_crops(faces, video_id, task, cfg, out)
        video = {"video_id": video_id, "status": faces.status, "reason": faces.reason,
                 "frames": faces.n_frames, "faces": len(rows), "seconds": faces.seconds}
    except Exception as exc:  # noqa: BLE001 - recorded as an "error" row, logged with traceback
        log.exception("extracting %s failed", video_id)
        rows, video = [], {"video_id": video_id, "status": "error", "reason": f"{type(exc).__name__}: {exc}",
                           "frames": 0, "faces": 0, "seconds": 0.0}
    atomic_write_json({"video": video, "faces": rows}, CropsDir(out).part(video_id))
    return video


def _extract_faces(task: dict, cfg: ExtractConfig, out: Path) -> VideoFaces:
    """Own detections, or the original's boxes when asked for and available."""
    original_id = task.get("original_id") or ""
    if not (cfg.use_original_boxes and original_id):
        return video_faces(task["path"], cfg, _cached_detector(cfg))
    part = _read_part(out, original_id)
    if part is not None and part["video"]["status"] in FINAL_STATUSES:
        status = part["video"]["status"]
        boxes = pd.DataFrame(part["faces"], columns=list(CropsDir.MANIFEST_COLUMNS))
    else:  # the original is in another shard or not done yet: detect it here, write nothing for it
        original = video_faces(task["original_path"], cfg, _cached_detector(cfg))
        status = original.status
        boxes = pd.DataFrame({"frame": original.frames, "track": original.tracks,
                              "x1": original.boxes[:, 0], "y1": original.boxes[:, 1], "x2": original.boxes[:, 2],
                              "y2": original.boxes[:, 3], "confidence": original.confidences})
    if boxes.empty:
        faces = video_faces(task["path"], cfg, _cached_detector(cfg))
        note = f"original {original_id} is {status}: own boxes"
        faces.reason = "; ".join(r for r in (note, faces.reason) if r)
        return faces
    faces = video_faces(task["path"], cfg, None, boxes_from=boxes.astype({"frame": int, "track": int}))
    if faces.status == "ok":
        faces.reason = "; ".join(r for r in (f"boxes of original {original_id}", faces.reason) if r)
    return faces


def _write_crops(faces: VideoFaces, video_id: str, task: dict, cfg: ExtractConfig, out: Path) -> list[dict]:
    """JPEGs into a temporary folder renamed into place; manifest rows for them."""
    final = out / video_id
    tmp = CropsDir(out).tmp / f"{video_id}.{uuid.uuid4().hex}"
    tmp.mkdir(parents=True)
    rows = []
    params = [cv2.IMWRITE_JPEG_QUALITY, int(cfg.jpeg_quality)]
    for crop, frame, track, box, confidence, detected in zip(faces.crops, faces.frames, faces.tracks, faces.boxes,
                                                             faces.confidences, faces.detected, strict=True):
        name = f"{frame:05d}_{track}.jpg"
        if not cv2.imwrite(str(tmp / name), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), params):
            raise OSError(f"could not write {tmp / name}")
        rows.append({"video_id": video_id, "frame": int(frame), "track": int(track),
                     "x1": round(float(box[0]), 1), "y1": round(float(box[1]), 1),
                     "x2": round(float(box[2]), 1), "y2": round(float(box[3]), 1),
                     "confidence": round(float(confidence), 4), "detected": int(detected),
                     "crop_path": f"{video_id}/{name}", "label": task.get("label"), "group": task.get("group", "")})
    if final.exists():  # left by a run killed between this rename and its part file
        shutil.rmtree(final)
    if rows:
        os.replace(tmp, final)
    else:
        tmp.rmdir()
    return rows


# --- a dataset --------------------------------------------------------------------------------------------------
def parse_shard(shard: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """'i/N' -> (i, N) with 0 <= i < N."""
    if shard is None:
        return None
    i, n = (int(x) for x in shard.split("/")) if isinstance(shard, str) else shard
    if not (n >= 1 and 0 <= i < n):
        raise ValueError(f"shard must be i/N with 0 <= i < N, got {shard!r}")
    return i, n


def shard_rows(index: pd.DataFrame, shard: str | tuple[int, int] | None) -> pd.DataFrame:
    """The rows of one shard: every N-th video in video_id order, starting at i (shards partition the index)."""
    parsed = parse_shard(shard)
    ordered = index.sort_values("video_id", kind="stable")
    if parsed is None:
        return ordered
    i, n = parsed
    return ordered.iloc[i::n]


def _original_ids(index: pd.DataFrame) -> pd.Series:
    """video_id of each fake's original in the same index ('' when absent): same part, else same compression."""
    by_name: dict[str, list] = {}
    for row in index.itertuples():
        by_name.setdefault(row.filename, []).append(row)
    ids = []
    for row in index.itertuples():
        candidates = by_name.get(row.original or "", []) if row.original else []
        best = (next((c for c in candidates if c.part == row.part), None)
                or next((c for c in candidates if c.compression == row.compression), None)
                or (candidates[0] if candidates else None))
        ids.append(best.video_id if best is not None else "")
    return pd.Series(ids, index=index.index)


def _tasks(rows: pd.DataFrame, index: pd.DataFrame, data_dir: Path | None) -> list[dict]:
    resolve = (lambda p: str(data_dir / p)) if data_dir is not None else str
    paths = dict(zip(index["video_id"], index["path"], strict=True))
    originals = _original_ids(index) if "original" in index else pd.Series("", index=index.index)
    original_of = dict(zip(index["video_id"], originals, strict=True))
    tasks = []
    for row in rows.itertuples():
        original_id = original_of.get(row.video_id, "")
        label = getattr(row, "label", None)
        tasks.append({"video_id": row.video_id, "path": resolve(row.path),
                      "label": None if pd.isna(label) else int(label), "group": getattr(row, "group", ""),
                      "original_id": original_id, "original_path": resolve(paths[original_id]) if original_id else ""})
    return tasks


def _run_tasks(tasks: list[dict], cfg: ExtractConfig, out_dir: Path, workers: int, scheduler) -> None:
    """Run extract_video over tasks inline, in a process pool, or on a Dask cluster."""
    from tqdm.auto import tqdm

    if not tasks:
        return
    cfg_dict, out = asdict(cfg), str(out_dir)
    progress = tqdm(total=len(tasks), desc="extract", unit="video")
    if scheduler is not None:
        from dask.distributed import Client, as_completed

        with Client(scheduler) as client:
            futures = client.map(extract_video, tasks, cfg_dict=cfg_dict, out_dir=out, pure=False)
            for future in as_completed(futures):
                future.result()
                progress.update()
    elif workers > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        # spawn: TensorFlow is not fork-safe once imported.
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            for future in as_completed([pool.submit(extract_video, t, cfg_dict, out) for t in tasks]):
                future.result()
                progress.update()
    else:
        for task in tasks:
            extract_video(task, cfg_dict, out)
            progress.update()
    progress.close()


def merge_parts(index: pd.DataFrame, out_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rebuild manifest.csv and videos.csv from every finished part of the index's videos."""
    out = Path(out_dir)
    faces, videos = [], []
    for video_id in sorted(index["video_id"]):
        part = _read_part(out, video_id)
        if part is not None:
            videos.append(part["video"])
            faces += part["faces"]
    manifest = pd.DataFrame(faces, columns=list(CropsDir.MANIFEST_COLUMNS))
    manifest["label"] = manifest["label"].astype("Int64")
    table = pd.DataFrame(videos, columns=list(CropsDir.VIDEOS_COLUMNS))
    crops = CropsDir(out)
    atomic_write_csv(manifest, crops.manifest)
    atomic_write_csv(table, crops.videos)
    paths = dict(zip(index["video_id"], index["path"], strict=True))  # errors.csv names the file, not the key
    write_errors(list(zip(table["video_id"].map(paths), table["status"], table["reason"].fillna(""), strict=True)), out)
    return manifest, table


def crop_settings(cfg: ExtractConfig) -> dict:
    """The settings that decide which crops are written (speed-only fields left out), as plain JSON values."""
    return {k: v for k, v in json.loads(json.dumps(asdict(cfg))).items() if k not in SPEED_ONLY}


def settings_differences(stored: dict, wanted: dict) -> list[str]:
    """'name: stored -> wanted' per differing setting; a setting absent from an older file counts as its default."""
    defaults = crop_settings(ExtractConfig())
    return [f"{name}: {stored.get(name, defaults.get(name))!r} -> {value!r}" for name, value in wanted.items()
            if stored.get(name, defaults.get(name)) != value]


def clear_extraction(out: Path) -> None:
    """Delete what extract_dataset wrote into out: part files, their crop folders, manifest, videos and settings."""
    for part in sorted(CropsDir(out).parts.glob("*.json")):
        shutil.rmtree(out / part.stem, ignore_errors=True)
    for folder in (CropsDir.PARTS, CropsDir.TMP):
        shutil.rmtree(out / folder, ignore_errors=True)
    for name in (CropsDir.MANIFEST, CropsDir.VIDEOS, CropsDir.SETTINGS):
        (out / name).unlink(missing_ok=True)


def check_settings(out: Path, cfg: ExtractConfig, overwrite: bool = False) -> None:
    """Record cfg in out/settings.json; raise SettingsChanged when out holds crops made with other settings.

    overwrite: clear the folder's earlier extraction instead of raising.
    """
    path, wanted = CropsDir(out).settings, crop_settings(cfg)
    if path.exists():
        changed = settings_differences(json.loads(path.read_text()), wanted)
        if not changed:
            return
        if not overwrite:
            raise SettingsChanged(
                f"{out} holds crops extracted with other settings ({'; '.join(changed)}). To resume, rerun with "
                f"the settings in {path}; to keep both, extract into another output folder; to replace them, "
                f"pass --overwrite (overwrite=True to extract_dataset) or delete {out}")
        log.warning("%s: settings changed (%s); deleting the earlier crops", out, "; ".join(changed))
        clear_extraction(out)
    elif any(CropsDir(out).parts.glob("*.json")):
        log.warning("%s holds crops from before settings were recorded; assuming they match %s", out, wanted)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(wanted, path)


@dataclass(frozen=True)
class Extraction:
    """What `extract_dataset` returns: the crops folder (its manifest covers every finished video of the index) and
    this run's videos.csv rows (the shard's videos: status, reason, frames, faces, seconds)."""

    crops: CropsDir
    videos: pd.DataFrame


def extract_dataset(index: pd.DataFrame, out_dir: CropsDir | str | Path, cfg: ExtractConfig, workers: int = 1,
                    scheduler=None, shard: str | tuple[int, int] | None = None,
                    data_dir: str | Path | None = None, overwrite: bool = False) -> Extraction:
    """Crops, manifest.csv and videos.csv for the index's videos into a CropsDir; resumable.

    index paths are relative to data_dir (None: used as given). scheduler: a Dask scheduler
    address (or Client-compatible object) whose workers see out_dir. shard "i/N" runs every N-th
    video; the manifest always covers every finished video of the whole index. A folder extracted
    with other settings raises SettingsChanged, or with overwrite=True is cleared and extracted again.
    """
    out = Path(out_dir)
    data_root = Path(data_dir) if data_dir is not None else None
    if len(index):
        resolved = [(data_root / p) if data_root is not None else Path(p) for p in index["path"]]
        if not any(p.is_file() for p in resolved):
            raise FileNotFoundError(f"none of the {len(index)} indexed videos exist under "
                                    f"{data_root or Path.cwd()}; is the data folder (--data-dir) right?")
    check_settings(out, cfg, overwrite)
    crops = CropsDir(out)
    crops.parts.mkdir(parents=True, exist_ok=True)
    if shard is None and scheduler is None and crops.tmp.exists():
        shutil.rmtree(crops.tmp)  # leftovers of killed runs; sharded runs may share the folder
    rows = shard_rows(index, shard)
    done, failed = set(), 0
    for video_id in rows["video_id"]:
        part = _read_part(out, video_id)
        if part is not None and part["video"]["status"] in FINAL_STATUSES:
            done.add(video_id)
        failed += part is not None and part["video"]["status"] == "error"
    todo = rows[~rows["video_id"].isin(done)]
    log.info("%d videos in this shard, %d already done, %d to extract (%d retried after an error)",
             len(rows), len(done), len(todo), failed)
    tasks = _tasks(todo, index, data_root)
    cfg = for_run(cfg, len(tasks))
    if cfg.use_original_boxes:  # originals first, so fakes reuse their boxes instead of detecting again
        first = [t for t in tasks if not t["original_id"]]
        _run_tasks(first, cfg, out, workers, scheduler)
        tasks = [t for t in tasks if t["original_id"]]
    _run_tasks(tasks, cfg, out, workers, scheduler)
    _, videos = merge_parts(index, out)
    return Extraction(crops, videos[videos["video_id"].isin(set(rows["video_id"]))].reset_index(drop=True))


__all__ = ["VideoFaces", "SettingsChanged", "Extraction", "detector_for", "for_run", "keyframe_stride",
           "track_rows", "video_faces", "extract_video", "parse_shard", "shard_rows", "merge_parts", "check_settings",
           "extract_dataset"]
