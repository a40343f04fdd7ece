"""Face detectors behind one interface, square face crops, and a small IoU tracker.

A detector is any object with `.detect(frames) -> list[list[FaceBox]]` and `compile_seconds` (time
spent compiling, which `predict`'s budget leaves out; 0 where nothing compiles); `DETECTORS` maps a name
to its class, so a third detector is one class and one registry entry. Detection runs on frames
downscaled to a long side of `long_side` px and the boxes are mapped back to full resolution:
DFDC faces are large, and detecting at 1080p costs about ten times more for the same recall.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from deepfake_detection.config import ExtractConfig

log = logging.getLogger(__name__)

_DEFAULTS = ExtractConfig()
# cv2 resizes a crop may go through (TrainConfig.resize names one); INTER_AREA averages pixels when shrinking
INTERPOLATIONS = {"area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST}


@dataclass
class FaceBox:
    """One face in full-frame pixels."""

    x1: float
    y1: float
    x2: float
    y2: float
    confidence: float = 1.0
    landmarks: np.ndarray | None = None  # (5, 2) x, y px: left eye, right eye, nose, mouth left, mouth right

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    @property
    def area(self) -> float:
        return max(0.0, self.width) * max(0.0, self.height)

    def scaled(self, factor: float) -> FaceBox:
        """The same box in an image resized by `factor`."""
        marks = None if self.landmarks is None else self.landmarks * factor
        return FaceBox(self.x1 * factor, self.y1 * factor, self.x2 * factor, self.y2 * factor, self.confidence, marks)


def iou(a: FaceBox, b: FaceBox) -> float:
    """Intersection over union of two boxes (0 when they do not touch)."""
    w = min(a.x2, b.x2) - max(a.x1, b.x1)
    h = min(a.y2, b.y2) - max(a.y1, b.y1)
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / (a.area + b.area - inter)


def _downscale(frame: np.ndarray, long_side: int) -> tuple[np.ndarray, float]:
    """Frame resized so its long side is at most long_side px, and the factor used (<= 1)."""
    h, w = frame.shape[:2]
    factor = min(1.0, long_side / max(h, w))
    if factor == 1.0:
        return frame, 1.0
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA), factor


class _OwnRetracing(logging.Filter):
    """Drops TensorFlow's "triggered tf.function retracing" warning about _XlaPerShape, which traces one function
    per input shape on purpose (a pyramid level, or a padded batch of candidate patches, each); the warning stays
    on for everything else."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "_XlaPerShape" not in record.getMessage()


class _XlaPerShape:
    """A Keras model called through one XLA-compiled function per input shape, its batch padded to a power of two.

    MTCNN's three networks are a few small convolutions with PReLU: P-Net over every pyramid level of a
    batch of frames, R-Net and O-Net over every candidate box's 24 px and 48 px patch. Eager TensorFlow
    runs each op on its own, XLA fuses them. Each image or patch is scored on its own, so padding the batch
    (8, 8, 1 keyframes; a few to a few thousand candidates) to 1, 2, 4, 8, ... bounds the shapes to compile
    where no row affects another (four sizes per doubling, tried, compiled more shapes and ran no faster).
    Compiling costs seconds per frame size and padded batch, so it pays off over many videos (`extract`,
    `predict`), not for one video; `compile_seconds` adds up the calls that compiled.
    If XLA fails on this platform, that is logged once per network, which runs eagerly from then on.
    """

    def __init__(self, model) -> None:
        self._model = model
        self._compiled: dict[tuple, Callable] = {}
        self.failed = False
        self.compile_seconds = 0.0
        tf_log = logging.getLogger("tensorflow")
        if not any(isinstance(f, _OwnRetracing) for f in tf_log.filters):
            tf_log.addFilter(_OwnRetracing())

    def _inference(self, images):
        return self._model(images, training=False)

    def __call__(self, images):
        if self.failed:
            return self._inference(images)
        import tensorflow as tf

        n = int(images.shape[0])
        padded = 1 << max(0, n - 1).bit_length()  # 1, 2, 4, 8, ...
        if padded != n:
            images = tf.concat([images, tf.zeros((padded - n, *images.shape[1:]), images.dtype)], axis=0)
        shape = tuple(images.shape)
        first = shape not in self._compiled
        if first:  # autograph off: the call is plain Keras layers, nothing for it to convert
            self._compiled[shape] = tf.function(self._inference, jit_compile=True, autograph=False)
        start = time.perf_counter()
        try:
            outputs = self._compiled[shape](images)
        except Exception as exc:  # noqa: BLE001 - any XLA failure: the eager call below answers or raises
            message = str(exc).splitlines()[0] if str(exc) else ""
            log.warning("XLA could not run %s (input shape %s: %s: %s); running it eagerly from now on",
                        self._model.name, shape, type(exc).__name__, message)
            self.failed = True
            outputs = self._inference(images)
        if first:
            self.compile_seconds += time.perf_counter() - start
        return [output[:n] for output in outputs]


class MtcnnDetector:
    """MTCNN (the `mtcnn` package, TensorFlow) on downscaled frames, batched."""

    def __init__(self, long_side: int = _DEFAULTS.detect_long_side, min_confidence: float = _DEFAULTS.min_confidence,
                 batch_size: int = _DEFAULTS.detect_batch, min_face_size: int = 20,
                 compile: bool = _DEFAULTS.detect_compile) -> None:
        from mtcnn import MTCNN

        if min_face_size >= 40:
            # mtcnn 1.0 returns nothing at all from 40 up; the scale is controlled by long_side instead.
            raise ValueError("mtcnn 1.0 finds no faces with min_face_size >= 40; lower long_side instead")
        self.long_side, self.min_confidence = long_side, min_confidence
        self.batch_size, self.min_face_size = batch_size, min_face_size
        self._model = MTCNN()
        self._xla: list[_XlaPerShape] = []
        if compile:  # mtcnn 1.0's stages call self._model(...): per pyramid level (P-Net), once per batch (R, O)
            for stage in self._model.stages:
                stage._model = _XlaPerShape(stage.model)
                if not isinstance(stage.model, _XlaPerShape):
                    raise RuntimeError("this mtcnn version no longer keeps its networks in stage._model; "
                                       "run without compile")
                self._xla.append(stage.model)

    @property
    def compiled(self) -> bool:
        """Whether MTCNN's networks run through XLA."""
        return bool(self._xla)

    @property
    def compile_seconds(self) -> float:
        """Seconds spent in calls that compiled a network for a new shape (0 when not compiled): a one-off cost
        that a time budget should not read as the pace of detection."""
        return sum(network.compile_seconds for network in self._xla)

    def _run_stages(self, images: list[np.ndarray]) -> np.ndarray:
        """MTCNN's three stages on one batch: (faces, 16) rows of image id, x1, y1, x2, y2, confidence, landmarks.

        This is `MTCNN.detect_faces` with the normalised batch made a tensor once: given a NumPy
        batch, every pyramid level converts it again, which took about a fifth of detection's CPU time
        (bench/bench_extract.py).
        """
        import tensorflow as tf
        from mtcnn.utils.bboxes import fix_bboxes_offsets, limit_bboxes
        from mtcnn.utils.images import load_images_batch, standarize_batch

        normalized, shapes, padding = standarize_batch(load_images_batch(images), normalize=True)
        rows = None
        try:
            with tf.device(self._model.device):
                normalized = tf.convert_to_tensor(normalized)  # (batch, H, W, 3) float64, padded to the largest
                for stage in self._model.stages:
                    rows = stage(bboxes_batch=rows, images_normalized=normalized, images_oshapes=shapes,
                                 min_face_size=self.min_face_size)
                    if len(rows) == 0:
                        return np.empty((0, 16))
        except tf.errors.InvalidArgumentError:  # how mtcnn's own detect_faces reads a stage left without candidates
            return np.empty((0, 16))
        rows = fix_bboxes_offsets(rows, padding)
        return limit_bboxes(rows, images_shapes=shapes, limit_landmarks=False)

    def detect(self, frames: list[np.ndarray]) -> list[list[FaceBox]]:
        """Faces per frame, boxes in full-frame px; frames RGB uint8 HxWx3."""
        results: list[list[FaceBox]] = []
        for start in range(0, len(frames), self.batch_size):
            chunk = frames[start:start + self.batch_size]
            small, factors = [], []
            for frame in chunk:
                image, factor = _downscale(frame, self.long_side)
                small.append(image)
                factors.append(factor)
            per_frame: list[list[FaceBox]] = [[] for _ in chunk]
            for row in np.asarray(self._run_stages(small), dtype=np.float64).reshape(-1, 16):
                if row[5] < self.min_confidence:
                    continue
                i = int(row[0])
                marks = row[6:16].reshape(2, 5).T.copy()  # mtcnn stores x1..x5, then y1..y5
                box = FaceBox(*row[1:5].tolist(), confidence=float(row[5]), landmarks=marks)
                per_frame[i].append(box.scaled(1.0 / factors[i]))
            results += per_frame
        return results


class HaarDetector:
    """OpenCV Haar cascades, frontal plus profile (both directions): light, no confidence score."""

    compiled = False  # nothing to compile: the detector interface's speed facts, as MtcnnDetector has them
    compile_seconds = 0.0

    def __init__(self, long_side: int = _DEFAULTS.detect_long_side, min_confidence: float = _DEFAULTS.min_confidence,
                 scale_factor: float = 1.1, min_neighbors: int = 5, min_size: int = 24) -> None:
        self.long_side, self.min_confidence = long_side, min_confidence
        self.scale_factor, self.min_neighbors, self.min_size = scale_factor, min_neighbors, min_size
        self._frontal = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
        self._profile = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_profileface.xml")
        if self._frontal.empty() or self._profile.empty():
            raise FileNotFoundError(f"Haar cascades missing under {cv2.data.haarcascades}")

    def _run(self, cascade: cv2.CascadeClassifier, gray: np.ndarray) -> np.ndarray:
        found = cascade.detectMultiScale(gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
                                         minSize=(self.min_size, self.min_size))
        return np.asarray(found, dtype=np.float64).reshape(-1, 4)  # x, y, w, h

    def detect(self, frames: list[np.ndarray]) -> list[list[FaceBox]]:
        """Faces per frame, boxes in full-frame px; frames RGB uint8 HxWx3."""
        results = []
        for frame in frames:
            image, factor = _downscale(frame, self.long_side)
            gray = cv2.equalizeHist(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))
            width = gray.shape[1]
            frontal = self._run(self._frontal, gray)
            right = self._run(self._profile, gray)
            left = self._run(self._profile, cv2.flip(gray, 1))
            left[:, 0] = width - left[:, 0] - left[:, 2]  # mirror back
            boxes: list[FaceBox] = []
            # Frontal first: a profile hit overlapping a frontal one is the same face.
            for x, y, w, h in np.concatenate([frontal, right, left]):
                box = FaceBox(x, y, x + w, y + h, confidence=1.0)
                if all(iou(box, kept) < 0.3 for kept in boxes):
                    boxes.append(box)
            results.append([b.scaled(1.0 / factor) for b in boxes])
        return results


DETECTORS: dict[str, Callable[..., object]] = {"mtcnn": MtcnnDetector, "haar": HaarDetector}


def make_detector(name: str = _DEFAULTS.detector, **opts) -> MtcnnDetector | HaarDetector:
    """Build a registered detector by name; opts go to its constructor (long_side, min_confidence, ...)."""
    if name not in DETECTORS:
        raise ValueError(f"unknown detector {name!r}; choose from {', '.join(sorted(DETECTORS))}")
    return DETECTORS[name](**opts)


def resize_crop(crop: np.ndarray, size: int, interpolation: str = "area") -> np.ndarray:
    """A face crop (H, W, 3) uint8 resized to (size, size, 3): the one resize of training and serving.

    Training (pipeline.decode_crop), scoring (models.read_images), prediction and the benchmark all call it,
    so a model never sees crops resized one way in training and another at test time. A model's own
    interpolation is its TrainConfig.resize (INTER_AREA by default, which averages pixels when shrinking);
    on small face crops the interpolation moves AUC by several points (README).
    """
    crop = np.asarray(crop)
    if crop.shape[:2] == (size, size):
        return crop
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"unknown interpolation {interpolation!r}; choose from {', '.join(INTERPOLATIONS)}")
    return cv2.resize(crop, (size, size), interpolation=INTERPOLATIONS[interpolation])


def crop_face(frame: np.ndarray, box: FaceBox, margin: float = _DEFAULTS.margin,
              size: int = _DEFAULTS.size) -> np.ndarray:
    """Square size x size crop of a face: a square around the box centre, its side the box's longer side times
    (1 + 2 margin), resized isotropically; where the square leaves the frame, zero padding.

    frame: uint8 HxWx3 (any channel order; it is kept). The face is never stretched and always sits at the same
    place and scale in the crop (so a crop of margin m is the centre (1 + 2m) / (1 + 2M) of a crop of margin M,
    `centre_cut`); the shorter box side gets real context, not bars. margin may be negative (> -0.5): a crop
    tighter than the box, like many published face-crop datasets (`measure_margin`).
    """
    if margin <= -0.5:
        raise ValueError(f"margin must be > -0.5 (a positive crop side), got {margin}")
    height, width = frame.shape[:2]
    side = max(1, round(max(box.width, box.height) * (1 + 2 * margin)))
    x1 = int(np.floor((box.x1 + box.x2) / 2 - side / 2))
    y1 = int(np.floor((box.y1 + box.y2) / 2 - side / 2))
    region = np.zeros((side, side, frame.shape[2]), dtype=frame.dtype)
    fx1, fy1, fx2, fy2 = max(x1, 0), max(y1, 0), min(x1 + side, width), min(y1 + side, height)
    if fx2 > fx1 and fy2 > fy1:
        region[fy1 - y1:fy2 - y1, fx1 - x1:fx2 - x1] = frame[fy1:fy2, fx1:fx2]
    return cv2.resize(region, (size, size), interpolation=cv2.INTER_AREA if side > size else cv2.INTER_LINEAR)


def centre_cut(crop: np.ndarray, from_margin: float, to_margin: float) -> np.ndarray:
    """The crop of margin `to_margin` inside a crop of margin `from_margin` (its centre (1 + 2 to) / (1 + 2 from)),
    at the cut's own pixel size; exact for `crop_face` crops."""
    keep = (1 + 2 * to_margin) / (1 + 2 * from_margin)
    if keep > 1.0:
        raise ValueError(f"a crop of margin {from_margin} holds no crop of the wider margin {to_margin}")
    side = crop.shape[0]
    cut = max(1, int(round(side * keep)))
    start = (side - cut) // 2
    return crop[start:start + cut, start:start + cut]


def measure_margin(crops: list[np.ndarray], detector=None) -> float | None:
    """The `crop_face` margin that reproduces a set of face crops' framing, measured with our own detector.

    Each crop (uint8 RGB, square) is pasted into a grey canvas twice its side (the detector needs context around
    a face that fills the image); the largest face found gives side / longer box side = 1 + 2 margin. Returns
    the median over the crops with a face, None when none has one. A model trained on such crops should be
    served crops cut at this margin by the same detector. Re-detected on a crop, MTCNN draws a slightly smaller
    box than on the whole frame, so crops we cut at margin m measure about m + 0.05 (tests/test_extract.py):
    close enough to undo a framing that differs by tens of percent, not a precise calibration.
    """
    detector = detector or make_detector("mtcnn", min_confidence=0.8)
    ratios = []
    for crop in crops:
        side = crop.shape[0]
        canvas = np.full((2 * side, 2 * side, 3), 127, np.uint8)
        canvas[side // 2:side // 2 + side, side // 2:side // 2 + side] = crop
        boxes = detector.detect([canvas])[0]
        if boxes:
            box = max(boxes, key=lambda b: b.area)
            ratios.append(side / max(box.width, box.height))
    return float((np.median(ratios) - 1) / 2) if ratios else None


@dataclass
class Track:
    """One face followed across sampled frames: positions index the list of sampled frames."""

    positions: list[int] = field(default_factory=list)
    boxes: list[FaceBox] = field(default_factory=list)

    @property
    def prominence(self) -> float:
        """Sum of confidence-weighted box areas: big, steady, long-lived faces win."""
        return float(sum(b.area * b.confidence for b in self.boxes))


def track_faces(per_frame: list[list[FaceBox] | None], iou_threshold: float = _DEFAULTS.track_iou) -> list[Track]:
    """Link detections across frames by greedy IoU with each track's last box.

    per_frame[i] is None where detection did not run on sampled frame i (strided detection).
    """
    tracks: list[Track] = []
    for position, boxes in enumerate(per_frame):
        if not boxes:
            continue
        pairs = sorted(((iou(t.boxes[-1], b), ti, bi) for ti, t in enumerate(tracks) for bi, b in enumerate(boxes)),
                       reverse=True)
        used_tracks: set[int] = set()
        used_boxes: set[int] = set()
        for overlap, ti, bi in pairs:
            if overlap < iou_threshold:
                break
            if ti in used_tracks or bi in used_boxes:
                continue
            tracks[ti].positions.append(position)
            tracks[ti].boxes.append(boxes[bi])
            used_tracks.add(ti)
            used_boxes.add(bi)
        for bi, box in enumerate(boxes):
            if bi not in used_boxes:
                tracks.append(Track([position], [box]))
    return tracks


def select_tracks(tracks: list[Track], min_length: int = _DEFAULTS.min_track_length,
                  all_faces: bool = _DEFAULTS.all_faces) -> list[Track]:
    """Tracks long enough to be real faces, most prominent first; only the first unless all_faces."""
    kept = sorted((t for t in tracks if len(t.positions) >= min_length), key=lambda t: -t.prominence)
    return kept if all_faces else kept[:1]


def fill_track(track: Track, n_frames: int, detected: list[bool]) -> list[tuple[int, FaceBox, bool]]:
    """(position, box, detected) for every frame the track covers, interpolating frames detection skipped.

    A frame where detection ran and did not match the track stays empty: boxes are only invented
    between detections for frames that were never looked at (strided detection).
    """
    known = dict(zip(track.positions, track.boxes, strict=True))
    out: list[tuple[int, FaceBox, bool]] = []
    for position in range(n_frames):
        if position in known:
            out.append((position, known[position], True))
            continue
        if detected[position]:
            continue
        before = [p for p in range(position - 1, -1, -1) if detected[p]]
        after = [p for p in range(position + 1, n_frames) if detected[p]]
        prev_p, next_p = (before[0] if before else None), (after[0] if after else None)
        if prev_p in known and next_p in known:
            t = (position - prev_p) / (next_p - prev_p)
            a, b = known[prev_p], known[next_p]
            out.append((position, FaceBox(a.x1 + t * (b.x1 - a.x1), a.y1 + t * (b.y1 - a.y1),
                                          a.x2 + t * (b.x2 - a.x2), a.y2 + t * (b.y2 - a.y2),
                                          confidence=min(a.confidence, b.confidence)), False))
        elif (prev_p in known and next_p is None) or (next_p in known and prev_p is None):
            nearest = known[prev_p if next_p is None else next_p]
            out.append((position, FaceBox(nearest.x1, nearest.y1, nearest.x2, nearest.y2, nearest.confidence), False))
    return out


__all__ = ["FaceBox", "iou", "MtcnnDetector", "HaarDetector", "DETECTORS", "make_detector", "crop_face", "centre_cut",
           "measure_margin", "Track", "track_faces", "select_tracks", "fill_track"]
