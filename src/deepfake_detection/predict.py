"""Test videos -> submission.csv: faces -> each model -> aggregate -> stack -> calibrate, inside a time budget.

Per video: frames are sampled and faces cropped in memory (`extract.video_faces`), every loaded
model scores each face, the faces are aggregated per model with the aggregation chosen on
out-of-fold data, and the stacker (meta model + calibration + clip) turns the model probabilities
into one P(FAKE). A video without a usable face gets the fallback probability and its reason in
`predictions_log.csv`. Rows are appended and flushed as videos finish, so a rerun resumes where a
killed run stopped; it redoes rows made by other models or settings, budget fallbacks, and rows
predicted with the fewer frames or models a budget degradation left. The run measures its own pace
and degrades (fewer frames, then without the slowest model, then fallback values) so that it always
finishes inside the budget.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from deepfake_detection.aggregate import aggregate, logit, sigmoid
from deepfake_detection.artifacts import PREDICTIONS_LOG, ModelDir, ModelsDir, StackerDir
from deepfake_detection.config import ExtractConfig, PredictConfig
from deepfake_detection.ensemble import stacker_predict
from deepfake_detection.faces import resize_crop
from deepfake_detection.io import write_errors
from deepfake_detection.submission import expected_filenames, validate_submission, write_submission

log = logging.getLogger(__name__)

LOG_COLUMNS = ["video", "status", "reason", "seconds", "frames", "models", "p", "run"]
RATE_SMOOTHING = 0.3  # weight of the newest video in the moving averages of the pace
# PredictConfig fields that change a video's P(FAKE) (budget and batch settings only change how fast)
RESULT_SETTINGS = ("frames", "detector", "all_faces", "aggregation", "confident_fake", "confident_real",
                   "confident_fake_share", "confident_real_share", "fallback")
DEGRADED = "~degraded"  # suffix of the run column: predicted with fewer frames or models than asked for


@dataclass
class LoadedModel:
    """A base model in memory, with the crop side it expects and its frame aggregation."""

    name: str
    model: object  # keras.Model
    size: int  # square input side, px
    aggregation: str
    resize: str = "area"  # the crop interpolation it was trained with (TrainConfig.resize)


@dataclass
class Ensemble:
    """Everything a prediction needs, loaded once: models, stacker spec (or None) and the fallback."""

    models: list[LoadedModel]
    stacker: dict | None
    fallback: float

    def combine_rows(self, probs: dict[str, np.ndarray]) -> np.ndarray:
        """P(FAKE) per row from per-model probabilities (each (N,)); models dropped by the budget may be absent.

        With a stacker, a missing model's logit is imputed as the mean logit of the present ones;
        without one, the present probabilities are averaged.
        """
        present = np.stack([np.asarray(v, float).reshape(-1) for v in probs.values()], axis=1)  # (N, present)
        if self.stacker is None:
            return present.mean(axis=1)
        eps = self.stacker["logit_eps"]
        imputed = sigmoid(logit(present, eps).mean(axis=1))  # (N,)
        columns = [np.asarray(probs[m["name"]], float).reshape(-1) if m["name"] in probs else imputed
                   for m in self.stacker["models"]]
        return np.asarray(stacker_predict(self.stacker, np.stack(columns, axis=1)), float)

    def combine(self, probs: dict[str, float]) -> float:
        """One P(FAKE) from per-model video probabilities (see combine_rows)."""
        return float(self.combine_rows({name: np.array([p]) for name, p in probs.items()})[0])

    def track_probabilities(self, face_probs: dict[str, np.ndarray], tracks: np.ndarray,
                            cfg: PredictConfig) -> dict[int, float]:
        """P(FAKE) per face track: each model's face probabilities aggregated over the track, then combined."""
        aggregation = {m.name: m.aggregation for m in self.models}
        tracks = np.asarray(tracks)
        return {int(t): self.combine({name: aggregate(p[tracks == t], aggregation[name], cfg)
                                      for name, p in face_probs.items()})
                for t in np.unique(tracks)}

    def video_probability(self, face_probs: dict[str, np.ndarray], tracks: np.ndarray | None,
                          cfg: PredictConfig) -> tuple[float, dict[int, float]]:
        """(P(FAKE) of the video, P(FAKE) per track): a video is as fake as its most fake person.

        face_probs: per model, P(FAKE) of each face crop (N,); tracks: (N,) track id per crop (None: one track).
        `predict` and `detect` both call this, so they give one video the same number.
        """
        n = len(next(iter(face_probs.values())))
        per_track = self.track_probabilities(face_probs, np.zeros(n, int) if tracks is None else tracks, cfg)
        return max(per_track.values()), per_track


@dataclass
class VideoResult:
    """One row of predictions_log.csv."""

    video: str  # file name
    status: str  # ok / partial (predicted) or unreadable / missing / no_face / error / budget (fallback)
    reason: str
    seconds: float
    frames: int  # sampled frames that gave at least one face crop
    models: str  # ";"-joined names of the models used
    p: float
    model_seconds: dict[str, float] = field(default_factory=dict)  # per model, for the budget
    run: str = ""  # fingerprint of the models, stacker and settings that produced the row
    extract_seconds: float = 0.0


def _default_aggregation(model_dir: ModelDir, cfg: PredictConfig) -> str:
    """cfg.aggregation, else the one chosen on the model's OOF frames, else the mean."""
    if cfg.aggregation:
        return cfg.aggregation
    frames_csv = model_dir.oof_frames
    if frames_csv.exists():
        from deepfake_detection.aggregate import choose_aggregation

        return choose_aggregation(pd.read_csv(frames_csv), cfg)
    return "mean"


def _file_digest(path: Path) -> str:
    """sha1 of a file's bytes: a copied model keeps its rows, a retrained one does not."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha1").hexdigest()


def run_fingerprint(models_dir: ModelsDir | str | Path, stacker_dir: StackerDir | str | Path | None, cfg: PredictConfig,
                    extract_cfg: ExtractConfig | None = None) -> str:
    """Short hash of what decides a video's P(FAKE): the models used (their bytes, and the OOF frames their
    aggregation is chosen on), the stacker and the settings. A resumed run reuses only rows with the same hash."""
    from deepfake_detection.extract import crop_settings

    settings = {name: getattr(cfg, name) for name in RESULT_SETTINGS}
    crops = crop_settings(replace(extract_cfg or ExtractConfig(), frames=cfg.frames, size=0, detector=cfg.detector))
    digest = hashlib.sha1(json.dumps([settings, crops], sort_keys=True).encode())
    models = ModelsDir(models_dir)
    stacker = StackerDir.at(stacker_dir).load() if stacker_dir is not None else None
    if stacker is not None:
        digest.update(json.dumps(stacker, sort_keys=True).encode())
        files = [models.path / m["path"] for m in stacker["models"]]
    else:
        files = [f for d in models.deployable() for f in (d.model, d.oof_frames) if f.exists()]
    for path in files:
        digest.update(f"{path.parent.name}/{path.name}|{_file_digest(path)}".encode())
    return digest.hexdigest()[:12]


def load_ensemble(models_dir: ModelsDir | str | Path, stacker_dir: StackerDir | str | Path | None = None,
                  cfg: PredictConfig | None = None) -> Ensemble:
    """Load every base model once (the stacker's models, in its order, when a stacker is given)."""
    from deepfake_detection.models import input_size, load_model

    cfg = cfg or PredictConfig()
    models_dir = ModelsDir(models_dir)
    stacker = StackerDir.at(stacker_dir).load() if stacker_dir is not None else None
    if stacker is not None:
        entries = [(m["name"], models_dir.path / m["path"], cfg.aggregation or m["aggregation"])
                   for m in stacker["models"]]
    else:
        entries = [(d.name, d.model, _default_aggregation(d, cfg)) for d in models_dir.deployable()]
    if not entries:
        raise FileNotFoundError(f"no */{ModelDir.MODEL} under {models_dir.path}")
    models = []
    warm_batch = min(cfg.batch_size, 1 << (max(cfg.frames, 1) - 1).bit_length())  # a one-face video's batch shape
    for name, path, aggregation in entries:
        model = load_model(path)
        size = input_size(model)
        model.predict_on_batch(np.zeros((warm_batch, size, size, 3), np.float32))  # trace before timing starts
        models.append(LoadedModel(name, model, size, aggregation, ModelDir(path.parent).train_config().resize))
        log.info("loaded %s (%d px, aggregation %s)", name, size, aggregation)
    fallback = float(stacker["fallback"]) if stacker is not None else cfg.fallback
    return Ensemble(models, stacker, fallback)


def padded_batches(crops: np.ndarray, batch_size: int) -> Iterator[tuple[np.ndarray, int]]:
    """(float32 batch, number of real crops in it) for uint8 crops (N, S, S, 3), 0-255 RGB as the models expect;
    each batch zero-padded to a power of two, so predict_on_batch sees few shapes and retraces seldom."""
    for start in range(0, len(crops), batch_size):
        batch = crops[start:start + batch_size].astype(np.float32)
        n = len(batch)
        padded = 1 << (n - 1).bit_length()
        if padded > n:
            batch = np.concatenate([batch, np.zeros((padded - n, *batch.shape[1:]), np.float32)])
        yield batch, n


def face_probabilities(model: LoadedModel, crops: np.ndarray, batch_size: int) -> np.ndarray:
    """P(FAKE) per face crop; crops uint8 (N, S, S, 3) are resized to the model's side when S differs."""
    if crops.shape[1] != model.size:
        crops = np.stack([resize_crop(c, model.size, model.resize) for c in crops])
    return np.concatenate([np.asarray(model.model.predict_on_batch(batch)).reshape(-1)[:n]
                           for batch, n in padded_batches(crops, batch_size)])


def score_faces(ensemble: Ensemble, active: list[str], crops: np.ndarray,
                cfg: PredictConfig) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """(P(FAKE) per face crop (N,) for each active model, seconds per model) for uint8 crops (N, S, S, 3)."""
    probs, seconds = {}, {}
    for model in ensemble.models:
        if model.name in active:
            start = time.perf_counter()
            probs[model.name] = face_probabilities(model, crops, cfg.batch_size)
            seconds[model.name] = time.perf_counter() - start
    return probs, seconds


def serving_margin(stacker: dict | None) -> float | None:
    """The crop margin the stacker's models were trained at (BaseModel.margin), None when they declare none.

    All models of one ensemble see the same crops, so they must agree on it."""
    margins = {m["margin"] for m in (stacker or {}).get("models", []) if m.get("margin") is not None}
    if len(margins) > 1:
        raise ValueError(f"the stacker's models were trained on crops of different margins {sorted(margins)}; "
                         "one extraction cannot serve them all")
    return margins.pop() if margins else None


def inference_extract_config(extract_cfg: ExtractConfig | None, size: int, cfg: PredictConfig,
                             margin: float | None = None) -> ExtractConfig:
    """The extraction settings of inference: crops at `size` (the largest model side), every face track when asked,
    framed at `margin` when the models declare one (serving_margin), else at the extraction's margin."""
    base = extract_cfg or ExtractConfig()
    return replace(base, size=size, detector=cfg.detector, frames=cfg.frames, all_faces=cfg.all_faces,
                   margin=base.margin if margin is None else margin)


def inference_detector(extract_cfg: ExtractConfig, cfg: PredictConfig, videos: int):
    """The face detector of a run over `videos` videos (compiled with XLA in long runs: extract.for_run)."""
    from deepfake_detection.extract import detector_for, for_run

    return detector_for(for_run(replace(extract_cfg, detector=cfg.detector), videos))


def predict_video(path: Path, ensemble: Ensemble, active: list[str], extract_cfg: ExtractConfig,
                  detector, cfg: PredictConfig) -> VideoResult:
    """P(FAKE) of one video with the active models; fallback with the reason when no face is usable."""
    from deepfake_detection.extract import video_faces

    start = time.perf_counter()
    faces = video_faces(path, extract_cfg, detector)
    return score_video(path, faces, ensemble, active, extract_cfg, cfg, start, time.perf_counter() - start)


def score_video(path: Path, faces, ensemble: Ensemble, active: list[str], extract_cfg: ExtractConfig,
                cfg: PredictConfig, start: float, extract_seconds: float) -> VideoResult:
    """The VideoResult of a video's found faces (extract.VideoFaces) scored by the active models; the fallback with
    the reason when no face is usable. start: perf_counter() when the video's work began (its seconds count from)."""
    crops = np.asarray(faces.crops)
    if len(crops) == 0:
        status = faces.status if faces.status != "ok" else "no_face"
        reason = faces.reason or "no face found in the sampled frames"
        return VideoResult(path.name, status, reason, time.perf_counter() - start, 0, "", ensemble.fallback,
                           extract_seconds=extract_seconds)
    tracks = np.asarray(faces.tracks) if faces.tracks is not None and len(faces.tracks) == len(crops) else None
    probs, model_seconds = score_faces(ensemble, active, crops, cfg)
    used = len(set(faces.frames))
    notes = [faces.reason] if faces.reason else []
    if used < extract_cfg.frames:
        notes.append(f"faces in {used} of {extract_cfg.frames} requested frames")
    return VideoResult(path.name, faces.status, "; ".join(notes), time.perf_counter() - start,
                       used, ";".join(probs), ensemble.video_probability(probs, tracks, cfg)[0],
                       model_seconds, extract_seconds)


class BudgetPlanner:
    """Keeps a run inside its time budget: projects the remaining time from the measured pace and degrades.

    Pace is tracked per requested frame (extraction, and each model separately), so the cost of any
    degraded setting can be projected: fewer frames first, then without the slowest model, and when
    even one more video does not fit, fallback values for the rest.
    """

    def __init__(self, budget_seconds: float, frames: int, models: list[str], min_frames: int) -> None:
        self.start = time.monotonic()
        self.budget = budget_seconds
        self.frames = frames
        self.active = list(models)
        self.min_frames = min(min_frames, frames)
        self.extract_rate: float | None = None  # seconds per requested frame
        self.model_rate: dict[str, float] = {}  # seconds per requested frame, per model
        self.degradations: list[str] = []

    def time_left(self) -> float:
        return self.budget - (time.monotonic() - self.start)

    def per_video(self, frames: int, models: list[str]) -> float:
        """Projected seconds for one video at a setting (0 before anything was measured)."""
        rate = (self.extract_rate or 0.0) + sum(self.model_rate.get(m, 0.0) for m in models)
        return rate * frames

    def record(self, result: VideoResult, frames: int, one_off_seconds: float = 0.0) -> None:
        """Update the moving-average pace from a finished video that was predicted.

        `one_off_seconds` of its extraction will not recur (compiling the face detector for a new input shape: a
        frame size, or a padded count of candidate faces); they are left out of the pace, or the first video of a
        compiled run would read as the run's pace and halve the frames of every video after it.
        """
        def smooth(old: float | None, new: float) -> float:
            return new if old is None else (1 - RATE_SMOOTHING) * old + RATE_SMOOTHING * new

        extract_seconds = max(0.0, result.extract_seconds - one_off_seconds)
        self.extract_rate = smooth(self.extract_rate, extract_seconds / frames)
        for name, seconds in result.model_seconds.items():
            self.model_rate[name] = smooth(self.model_rate.get(name), seconds / frames)

    def _degrade(self) -> bool:
        if self.frames > self.min_frames:
            self.frames = max(self.min_frames, self.frames // 2)
            self.degradations.append(f"frames -> {self.frames}")
            return True
        if len(self.active) > 1:
            slowest = max(self.active, key=lambda m: self.model_rate.get(m, 0.0))
            self.active.remove(slowest)
            self.degradations.append(f"dropped model {slowest}")
            return True
        return False

    def plan(self, remaining: int) -> bool:
        """Degrade until `remaining` videos fit the time left; False when not even one more video fits."""
        left = self.time_left()
        if left <= 0:
            return False
        while self.per_video(self.frames, self.active) * remaining > left and self._degrade():
            log.warning("time budget: %s (%.0f s left for %d videos)", self.degradations[-1], left, remaining)
        return self.per_video(self.frames, self.active) <= left


class PredictionLog:
    """predictions_log.csv: one flushed line per finished video, read back to resume a killed run."""

    def __init__(self, path: Path, run: str) -> None:
        self.path = path
        self.run = run
        path.parent.mkdir(parents=True, exist_ok=True)
        self._repair()

    def _repair(self) -> None:
        """Cut a half-written last line (the run was killed while writing it)."""
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            self.path.write_bytes(data[: data.rfind(b"\n") + 1])

    def _rows(self, run: str) -> dict[str, VideoResult]:
        """The last row per video whose run column is `run`, budget fallbacks left out."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return {}
        rows = pd.read_csv(self.path, keep_default_na=False, dtype=str)
        rows = rows[(rows["run"] == run) & (rows["status"] != "budget")].drop_duplicates("video", keep="last")
        return {r.video: VideoResult(r.video, r.status, r.reason, float(r.seconds), int(r.frames), r.models,
                                     float(r.p), run=r.run) for r in rows.itertuples(index=False)}

    def done(self) -> dict[str, VideoResult]:
        """Videos finished by earlier runs of the same setup at full settings, by file name.

        Rows of another setup (models, stacker, frames, ...), budget fallbacks and rows the budget
        degraded are redone.
        """
        return self._rows(self.run)

    def degraded(self) -> dict[str, VideoResult]:
        """Rows of the same setup predicted with fewer frames or models: kept only if the budget runs out again."""
        return self._rows(self.run + DEGRADED)

    def append(self, result: VideoResult) -> None:
        """Write one row and push it to disk before the next video starts."""
        new = not self.path.exists() or self.path.stat().st_size == 0
        with self.path.open("a", newline="") as handle:
            writer = csv.writer(handle)
            if new:
                writer.writerow(LOG_COLUMNS)
            writer.writerow([result.video, result.status, result.reason, f"{result.seconds:.3f}", result.frames,
                             result.models, repr(float(result.p)), self.run])
            handle.flush()
            os.fsync(handle.fileno())


def predict_videos(videos_dir: str | Path, models_dir: ModelsDir | str | Path,
                   stacker_dir: StackerDir | str | Path | None = None,
                   out: str | Path = "submission.csv", budget_hours: float | None = None, frames: int | None = None,
                   sample_submission: str | Path | None = None, detector: str | None = None,
                   log_path: str | Path | None = None, cfg: PredictConfig | None = None,
                   extract_cfg: ExtractConfig | None = None) -> pd.DataFrame:
    """Predict every test video into a valid submission.csv (atomic), resuming from predictions_log.csv.

    Returns the log of this run's and earlier runs' rows, in submission order.
    """
    cfg = cfg or PredictConfig()
    cfg = replace(cfg, budget_hours=budget_hours if budget_hours is not None else cfg.budget_hours,
                  frames=frames or cfg.frames, detector=detector or cfg.detector)
    budget_seconds = cfg.budget_hours * 3600 * (1 - cfg.budget_margin)
    started = time.monotonic()
    videos_dir, out = Path(videos_dir), Path(out)
    models = ModelsDir(models_dir)
    stacker = StackerDir.at(stacker_dir) if stacker_dir is not None else (
        models.stacker if models.has_stacker() else None)  # MODELS/stacker when present
    names = expected_filenames(videos_dir, sample_submission)
    out.parent.mkdir(parents=True, exist_ok=True)
    run = run_fingerprint(models, stacker, cfg, extract_cfg)
    prediction_log = PredictionLog(Path(log_path) if log_path else out.with_name(PREDICTIONS_LOG), run)
    results, degraded_before = prediction_log.done(), prediction_log.degraded()
    todo = [n for n in names if n not in results]
    log.info("%d test videos, %d already predicted, %d to go", len(names), len(names) - len(todo), len(todo))

    if todo:
        ensemble = load_ensemble(models, stacker, cfg)
        planner = BudgetPlanner(budget_seconds - (time.monotonic() - started), cfg.frames,
                                [m.name for m in ensemble.models], cfg.min_frames)
        base_extract = inference_extract_config(extract_cfg, max(m.size for m in ensemble.models), cfg,
                                                serving_margin(ensemble.stacker))
        # sized on the whole run, not on what is left of it, so a resumed run detects as the first did
        face_detector = inference_detector(base_extract, cfg, len(names))
        for i, name in enumerate(tqdm(todo, desc="predict", unit="video")):
            if planner.plan(len(todo) - i):
                # One failing video must not cost the whole submission (a failed Kaggle rerun scores
                # nothing): anything it raises is logged with its traceback and recorded as its reason.
                compiled_before = face_detector.compile_seconds
                try:
                    run_cfg = replace(base_extract, frames=planner.frames)
                    result = predict_video(videos_dir / name, ensemble, planner.active, run_cfg, face_detector, cfg)
                except Exception as exc:  # noqa: BLE001 - recorded per video, see above
                    log.exception("%s failed", name)
                    result = VideoResult(name, "error", f"{type(exc).__name__}: {exc}", 0.0, 0, "", ensemble.fallback)
                if result.model_seconds:
                    planner.record(result, planner.frames, face_detector.compile_seconds - compiled_before)
                result.run = run + (DEGRADED if planner.degradations else "")
            elif name in degraded_before:  # an earlier degraded prediction beats the fallback
                results[name] = degraded_before[name]
                continue
            else:
                result = VideoResult(name, "budget", "time budget spent before this video", 0.0, 0, "",
                                     ensemble.fallback, run=run)
            prediction_log.append(result)
            results[name] = result
        if planner.degradations:
            log.warning("time budget degradations: %s", "; ".join(planner.degradations))

    write_submission({n: results[n].p for n in names}, out, order=names)
    write_errors([(n, results[n].status, results[n].reason) for n in names], out.parent)
    problems = validate_submission(out, names)
    if problems:
        raise ValueError(f"{out} is invalid: " + "; ".join(problems[:5]))
    log.info("wrote %s (%d rows) in %.1f s", out, len(names), time.monotonic() - started)
    return pd.DataFrame([{c: getattr(results[n], c) for c in LOG_COLUMNS} for n in names])
