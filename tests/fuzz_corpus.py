"""A corpus of broken inputs, generated on the fly (never committed as media): the space of bad files and bad
metadata that real users hand the pipeline. Each generator writes into a folder and returns the case names.

Video cases are variations of one good clip (`good`, which has a face): truncations, fakes of the container, odd
shapes and frame timing (written with PyAV), file-system oddities. Metadata cases are DFDC parts whose
`metadata.json` is broken in one way each.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
from fractions import Fraction
from pathlib import Path

import numpy as np

GOOD = "good.mp4"
UNICODE = "vidéo à tester ☃.mp4"  # a good clip under a name with unicode and spaces
# Cases whose frames are intact: they must be predicted like the good clip, not fall back.
INTACT = (GOOD, UNICODE)


def _write_av(path: Path, frames: list[np.ndarray], pts: list[int] | None = None, codec: str = "libx264",
              fps: int = 30) -> None:
    """Frames uint8 (H, W, 3) RGB into an mp4, its index (`moov`) first as streaming files have it, so a cut file
    keeps the frames before the cut; pts in 1/fps units (variable gaps give a variable frame rate)."""
    import av

    with av.open(str(path), "w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, fps)
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = pts[i] if pts is not None else i
            frame.time_base = stream.time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


def _write_audio_only(path: Path, seconds: float = 1.0, rate: int = 44100) -> None:
    """An mp4 with one AAC audio stream and no video."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=rate)
        t = np.arange(int(seconds * rate)) / rate
        tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]  # (channels, samples)
        for start in range(0, tone.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(tone[:, start:start + 1024], format="fltp", layout="mono")
            frame.sample_rate, frame.pts = rate, start
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


def _boxes(data: bytes, names: tuple[bytes, ...]) -> list[tuple[int, int, bytes]]:
    """(offset, size, type) of every ISO-BMFF box of the given types, searched through the container boxes."""
    found, containers = [], (b"moov", b"trak", b"mdia", b"minf", b"stbl")

    def walk(start: int, end: int) -> None:
        while start + 8 <= end:
            size, kind = struct.unpack(">I4s", data[start:start + 8])
            if size < 8 or start + size > end:
                return
            if kind in names:
                found.append((start, size, kind))
            if kind in containers:
                walk(start + 8, start + size)
            elif kind == b"stsd":
                walk(start + 16, start + size)  # version/flags + entry count, then the sample entries
            start += size

    walk(0, len(data))
    return found


def claim_resolution(data: bytes, width: int, height: int) -> bytes:
    """The same mp4 whose track header and avc1 sample entry claim width x height (the stream itself is unchanged)."""
    out = bytearray(data)
    for offset, _, kind in _boxes(data, (b"tkhd", b"avc1")):
        if kind == b"avc1":  # 8 header + 6 reserved + 2 data ref + 16 predefined/reserved, then width, height
            struct.pack_into(">HH", out, offset + 32, width, height)
        else:  # tkhd v0: width and height are the last 8 bytes, 16.16 fixed point
            end = offset + struct.unpack(">I", data[offset:offset + 4])[0]
            struct.pack_into(">II", out, end - 8, width << 16, height << 16)
    return bytes(out)


def corrupt_moov(data: bytes) -> bytes:
    """The same mp4 with the inside of its `moov` box (the index of every frame) overwritten with 0xFF."""
    (offset, size, _), = _boxes(data, (b"moov",))
    out = bytearray(data)
    out[offset + 8:offset + size] = b"\xff" * (size - 8)
    return bytes(out)


def video_cases(folder: Path, good_frames: list[np.ndarray]) -> dict[str, str]:
    """Write every video case into folder; returns name -> what it is. good_frames: RGB frames with a face."""
    folder.mkdir(parents=True, exist_ok=True)
    _write_av(folder / GOOD, good_frames)
    good = (folder / GOOD).read_bytes()
    cases = {GOOD: "a good clip with a face"}
    (folder / "zero-byte.mp4").write_bytes(b"")
    cases["zero-byte.mp4"] = "an empty file"
    for share in (0.05, 0.5, 0.9):
        name = f"truncated-{int(share * 100)}.mp4"
        (folder / name).write_bytes(good[: int(len(good) * share)])
        cases[name] = f"the good clip cut after {share:.0%} of its bytes"
    (folder / "text.mp4").write_text("this is a text file, renamed .mp4\n" * 20)
    cases["text.mp4"] = "text renamed .mp4"
    _write_audio_only(folder / "audio-only.mp4")
    cases["audio-only.mp4"] = "an mp4 with sound and no video stream"
    _write_av(folder / "one-frame.mp4", good_frames[:1])
    cases["one-frame.mp4"] = "a single frame"
    _write_av(folder / "2x2.mp4", [np.full((2, 2, 3), 128, np.uint8)] * 8)
    cases["2x2.mp4"] = "a 2x2-pixel video"
    (folder / "claims-8k.mp4").write_bytes(claim_resolution(good, 7680, 4320))
    cases["claims-8k.mp4"] = "headers that claim 7680x4320"
    gaps = np.cumsum([0] + [1, 1, 7, 1, 15, 2] * (len(good_frames) // 6 + 1))[: len(good_frames)]
    _write_av(folder / "variable-rate.mp4", good_frames, pts=[int(g) for g in gaps])
    cases["variable-rate.mp4"] = "variable frame rate (gaps of 1 to 15 frames)"
    (folder / "corrupt-moov.mp4").write_bytes(corrupt_moov(good))
    cases["corrupt-moov.mp4"] = "a corrupt moov atom"
    (folder / "a-directory.mp4").mkdir()
    cases["a-directory.mp4"] = "a directory named .mp4"
    shutil.copyfile(folder / GOOD, folder / "no-permission.mp4")
    os.chmod(folder / "no-permission.mp4", 0)
    cases["no-permission.mp4"] = "mode 000 (still readable by root)"
    shutil.copyfile(folder / GOOD, folder / UNICODE)
    cases[UNICODE] = "unicode and spaces in the name"
    os.symlink("loop-b.mp4", folder / "loop-a.mp4")
    os.symlink("loop-a.mp4", folder / "loop-b.mp4")
    cases["loop-a.mp4"] = cases["loop-b.mp4"] = "a symlink loop"
    os.symlink("gone.mp4", folder / "dangling.mp4")
    cases["dangling.mp4"] = "a symlink to nothing"
    return cases


def metadata_cases(root: Path, good: Path) -> dict[str, str]:
    """One DFDC part per broken metadata.json under root (each beside a copy of the good clip); part -> what it is."""
    name = "aaaaaaaaaa.mp4"
    entry = {"label": "FAKE", "split": "train", "original": "bbbbbbbbbb.mp4"}
    parts = {
        "invalid-json": ("{not json", "invalid JSON"),
        "top-level-list": ([entry], "a list, not an object"),
        "entry-not-object": ({name: "FAKE"}, "an entry that is a string"),
        "label-missing": ({name: {"split": "train"}}, "an entry with no label"),
        "label-unknown": ({name: {**entry, "label": "MAYBE"}}, "an unknown label"),
        "label-wrong-type": ({name: {**entry, "label": 1}}, "a label that is a number"),
        "original-wrong-type": ({name: {**entry, "original": ["x"]}}, "an original that is a list"),
        "dotdot": ({"../escape.mp4": entry, name: entry}, "an entry reaching outside with ../"),
        "absolute": ({"/etc/passwd": entry, name: entry}, "an absolute path"),
        "missing-file": ({name: entry, "cccccccccc.mp4": entry}, "an entry whose file is not there"),
        "binary": (b"\x00\xff\xfe garbage", "binary bytes"),
    }
    cases = {}
    for part, (content, what) in parts.items():
        folder = root / part
        folder.mkdir(parents=True)
        shutil.copyfile(good, folder / name)
        meta = folder / "metadata.json"
        if isinstance(content, bytes):
            meta.write_bytes(content)
        else:
            meta.write_text(content if isinstance(content, str) else json.dumps(content))
        cases[part] = what
    for part in ("dup-a", "dup-b"):  # the same file name in two parts
        (root / part).mkdir()
        shutil.copyfile(good, root / part / name)
        (root / part / "metadata.json").write_text(json.dumps({name: entry}))
    cases["dup-a"] = cases["dup-b"] = "the same file name in two parts"
    return cases
