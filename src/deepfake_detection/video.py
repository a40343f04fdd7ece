"""Sequential frame sampling that never seeks and never raises on a bad file.

H.264 decoders must decode every frame up to the one you want, so seeking per sampled frame
decodes the same group of pictures again and again (about 10x slower than one pass). Here one
pass calls `grab()` on every frame and pays for `retrieve()` (the YUV -> BGR conversion) only
on the frames that are kept.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

STATUSES = ("ok", "partial", "unreadable", "missing", "empty")


@dataclass
class FrameSample:
    """Frames taken from one video, with what went wrong if anything did."""

    frames: list[np.ndarray] = field(default_factory=list)  # RGB uint8, HxWx3 (true orientation)
    indices: list[int] = field(default_factory=list)  # 0-based frame numbers in the video
    status: str = "ok"  # one of STATUSES
    reason: str = ""
    fps: float = 0.0
    frame_count: int = 0  # frames the container claims (may be off by a few)


def wanted_indices(frame_count: int, n: int = 32, every: int | None = None) -> list[int]:
    """Frame numbers to keep: n evenly spaced over the video, or every k-th frame."""
    if frame_count <= 0:
        return []
    if every is not None:
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        return list(range(0, frame_count, every))
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    return sorted(set(np.linspace(0, frame_count - 1, min(n, frame_count)).round().astype(int).tolist()))


def _open(path: Path) -> tuple[cv2.VideoCapture | None, FrameSample]:
    """An opened capture, or None and a FrameSample that says why not."""
    if not path.exists():
        why = "a broken or looping symlink" if path.is_symlink() else "file not found"
        return None, FrameSample(status="missing", reason=f"{why}: {path}")
    if path.is_dir():
        return None, FrameSample(status="unreadable", reason="a directory, not a video file")
    if not os.access(path, os.R_OK):
        return None, FrameSample(status="unreadable", reason="no permission to read the file")
    if path.stat().st_size == 0:
        return None, FrameSample(status="empty", reason="zero-byte file")
    capture = _capture(path)
    if not capture.isOpened():
        capture.release()
        return None, FrameSample(status="unreadable", reason="cannot open (not a video or unsupported codec)")
    sample = FrameSample(fps=float(capture.get(cv2.CAP_PROP_FPS) or 0.0),
                         frame_count=max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT))))
    return capture, sample


def _capture(path: Path) -> cv2.VideoCapture:
    """An FFmpeg capture that applies rotation metadata, so portrait phone videos stay portrait."""
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    capture.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
    return capture


def _count_frames(path: Path) -> int:
    """Frames that really decode, for containers that do not state a count (one grab() pass)."""
    capture = _capture(path)
    count = 0
    while capture.grab():
        count += 1
    capture.release()
    return count


def iter_frames(path: str | Path, n: int = 32, every: int | None = None,
                indices: Sequence[int] | None = None) -> tuple[FrameSample, Iterator[tuple[int, np.ndarray]]]:
    """The sample's header and a generator of (frame number, RGB uint8 HxWx3) for the wanted frames.

    The generator fills in `status`/`reason` of the returned FrameSample when it stops early, so
    callers can overlap decoding with other work and still learn what went wrong. `indices`
    overrides n/every (used to sample a fake at exactly its original's frames).
    """
    path = Path(path)
    capture, sample = _open(path)
    if capture is None:
        return sample, iter(())
    if indices is not None:
        wanted = sorted(set(int(i) for i in indices if i >= 0))
    else:
        count = sample.frame_count or _count_frames(path)
        wanted = wanted_indices(count, n, every)

    def frames() -> Iterator[tuple[int, np.ndarray]]:
        kept, position = 0, 0
        try:
            for target in wanted:
                while position <= target:
                    if not capture.grab():
                        _stopped_early(sample, position, kept, wanted)
                        return
                    position += 1
                ok, frame = capture.retrieve()
                if not ok or frame is None:
                    _stopped_early(sample, position - 1, kept, wanted)
                    return
                kept += 1
                yield target, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            if kept == 0:
                sample.status, sample.reason = "unreadable", "no decodable frame"
        finally:
            capture.release()

    return sample, frames()


def _stopped_early(sample: FrameSample, position: int, kept: int, wanted: list[int]) -> None:
    """Record why decoding ended before the last wanted frame."""
    if kept == 0:
        sample.status, sample.reason = "unreadable", f"no decodable frame (stopped at frame {position})"
    elif position >= sample.frame_count - 2 and sample.frame_count > 0:
        # Containers often claim a frame or two more than decode; that is not damage.
        return
    else:
        sample.status = "partial"
        sample.reason = f"decoding stopped at frame {position} of {sample.frame_count}; kept {kept} of {len(wanted)}"
    log.warning("%s", sample.reason)


def sample_frames(path: str | Path, n: int = 32, every: int | None = None,
                  indices: Sequence[int] | None = None) -> FrameSample:
    """N evenly spaced RGB frames (or every k-th) in one sequential pass; never raises on bad input."""
    sample, frames = iter_frames(path, n=n, every=every, indices=indices)
    for index, rgb in frames:
        sample.indices.append(index)
        sample.frames.append(rgb)
    return sample


def decode_all(path: str | Path) -> int:
    """Decode every frame without converting any (the lower bound on reading a video); returns the count."""
    return _count_frames(Path(path))


__all__ = ["FrameSample", "STATUSES", "wanted_indices", "iter_frames", "sample_frames", "decode_all"]
