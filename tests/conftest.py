"""Shared fixtures: paths to the real data in ../shared and small generated inputs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def pytest_collection_modifyitems(config, items) -> None:
    """Tests marked `longest` run first: under `make test`'s two workers the two notebook chains (one file each) then
    start at once, one per worker, and the rest fill in beside them, instead of starting last and running alone.
    Whole files go to a worker in this order only with `--no-loadscope-reorder` (the Makefile passes it): by
    default pytest-xdist sends the files with the most tests first."""
    items.sort(key=lambda item: item.get_closest_marker("longest") is None)  # stable: the rest keep their order


os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DFD_SHARED", REPO.parent / "shared"))
SHARED_DATA = SHARED / "data"
SKIP_REASON = (f"real data folder {SHARED_DATA} is absent "
               "(present on this project's CI; a fresh clone elsewhere has none)")


def require_shared(*parts: str) -> Path:
    """Path under ../shared, or skip the test with a clear reason when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} must exist on CI")
        pytest.skip(SKIP_REASON)
    return path


def shared_or_demo(parts: tuple[str, ...], demo: Path, pick: int = 0) -> Path:
    """A real video under ../shared or, where it is absent (never on CI), demo train clip number `pick`: for tests
    that need some video with a face in it, not that particular one."""
    path = SHARED.joinpath(*parts)
    if path.exists():
        return path
    if os.environ.get("CI"):
        pytest.fail(f"{path} must exist on CI")
    clips = sorted((demo / "train").glob("*.mp4"))
    return clips[pick % len(clips)]


@pytest.fixture(scope="session")
def shared_dfdc() -> Path:
    return require_shared("data", "dfdc")


@pytest.fixture(scope="session")
def shared_ffpp() -> Path:
    return require_shared("data", "ffpp")


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory) -> None:
    """Keep the probe cache of test runs out of the user's home."""
    os.environ["DFD_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))


# --- training fixtures (pipeline/train tests, and trained models for the inference tests) -------
TINY_CROP_SIZE = 64


def _face_clip_sources() -> list[dict]:
    """8 real DFDC FAKE face clips, and the one REAL clip cut into 4 quarters that stand in for 4 REAL videos."""
    clips = SHARED_DATA / "face-clips"
    sources = [{"path": p, "label": 1, "segment": 0, "segments": 1} for p in sorted((clips / "FAKE").glob("*.mp4"))[:8]]
    sources += [{"path": p, "label": 0, "segment": q, "segments": 4}
                for p in sorted((clips / "REAL").glob("*.mp4"))[:1] for q in range(4)]
    return sources


def _demo_clip_sources(out_dir: Path) -> list[dict]:
    """12 synthetic demo clips (3 REAL, each with 3 fakes in its group), faces cut at the boxes the demo recorded."""
    import json

    import pandas as pd

    from deepfake_detection.config import DemoConfig
    from deepfake_detection.synth import make_demo_dataset

    demo = out_dir / "demo"
    make_demo_dataset(demo, n_videos=12, seed=0, n_test=2, config=DemoConfig(**DEMO_QUICK))
    metadata = json.loads((demo / "train" / "metadata.json").read_text())
    boxes = pd.read_csv(demo / "face_boxes.csv").query("split == 'train'")
    return [{"path": demo / "train" / name, "label": int(entry["label"] == "FAKE"), "segment": 0, "segments": 1,
             "group": Path(entry.get("original") or name).stem,
             "boxes": {int(b.frame): (b.x1, b.y1, b.x2, b.y2) for b in boxes[boxes["filename"] == name].itertuples()}}
            for name, entry in sorted(metadata.items())]


def write_crop_set(out_dir: Path, frames_per_video: int = 6, size: int = TINY_CROP_SIZE,
                   k: int = 3) -> tuple[Path, Path]:
    """A small crops dir (JPEG crops + manifest.csv) and folds.csv, every fold holding both classes.

    From the real DFDC face clips in ../shared when present (on CI they must be); elsewhere from synthetic demo
    clips, so the training and inference tests run in any clone.
    """
    import cv2
    import pandas as pd

    from deepfake_detection.dataset import make_folds

    if (SHARED_DATA / "face-clips").exists() or os.environ.get("CI"):
        require_shared("data", "face-clips")  # on CI the real clips must be there
        sources = _face_clip_sources()
    else:
        sources = _demo_clip_sources(out_dir)
    crops_dir = out_dir / "crops"
    rows, videos = [], []
    for source in sources:
        path, label, segment, segments = source["path"], source["label"], source["segment"], source["segments"]
        video_id = f"{path.stem.replace('.', '_')}_s{segment}"
        group = source.get("group", video_id)
        capture = cv2.VideoCapture(str(path))
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        start, span = segment * total // segments, total // segments
        wanted = {start + i * span // frames_per_video for i in range(frames_per_video)}
        (crops_dir / video_id).mkdir(parents=True, exist_ok=True)
        index = 0
        while len(wanted) and index <= max(wanted):
            ok, frame = capture.read()
            if not ok:
                break
            if index in wanted:
                box = source.get("boxes", {}).get(index)
                if box is not None:  # the demo's recorded face box
                    x1, y1, x2, y2 = (max(0, int(round(v))) for v in box)
                    frame = frame[y1:y2, x1:x2]
                crop = cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA)
                rel = f"{video_id}/{index:04d}_0.jpg"
                cv2.imwrite(str(crops_dir / rel), crop, [cv2.IMWRITE_JPEG_QUALITY, 95])
                rows.append({"video_id": video_id, "frame": index, "track": 0, "x1": 0, "y1": 0, "x2": 256,
                             "y2": 256, "confidence": 1.0, "crop_path": rel, "label": label, "group": group})
            index += 1
        capture.release()
        videos.append({"video_id": video_id, "label": label, "group": group, "exists": 1})
    pd.DataFrame(rows).to_csv(crops_dir / "manifest.csv", index=False)
    index_frame = pd.DataFrame(videos)
    index_frame["label"] = index_frame["label"].astype("Int64")
    folds_csv = out_dir / "folds.csv"
    make_folds(index_frame, k=k, seed=0).to_csv(folds_csv, index=False)
    return crops_dir, folds_csv


@pytest.fixture(scope="session")
def tiny_crops(tmp_path_factory) -> tuple[Path, Path]:
    """(crops_dir, folds_csv): 12 videos x 6 face crops at 64 px in 3 group folds (real DFDC clips from
    ../shared, else synthetic demo clips)."""
    return write_crop_set(tmp_path_factory.mktemp("tiny_crops"))


# --- demo data fixture (synthetic DFDC-layout clips, no ../shared needed) -----------------------
# Short 1 s clips at one frame size keep the session fixture to a few seconds; faces stay as large
# as in the full-size demo data, so detection behaves the same.
DEMO_QUICK = {"frame_sizes": ((480, 360),), "fps": (25,), "seconds": (1.0, 1.0), "workers": 1}


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> Path:
    """Demo dataset: train/ (10 clips, 3 REAL + 7 FAKE), test_videos/ (6 clips + broken files), labels."""
    from deepfake_detection.config import DemoConfig
    from deepfake_detection.synth import make_demo_dataset

    out = tmp_path_factory.mktemp("demo")
    make_demo_dataset(out, n_videos=10, seed=0, n_test=6, config=DemoConfig(**DEMO_QUICK))
    return out


TINY_MODELS = ("meso4", "mesoinception4", "mobilenet_v3_small")


@pytest.fixture(scope="session")
def tiny_models(tiny_crops, tmp_path_factory) -> dict[str, Path]:
    """name -> models/NAME folder (model.keras, oof_frames.csv, oof_videos.csv, ...) of 3 tiny models
    trained on `tiny_crops` over all 3 folds: 64 px, 1 epoch of 2 batches each (30-80 s on 2 busy CPU cores)."""
    from deepfake_detection.config import TrainConfig
    from deepfake_detection.train import train_model

    crops_dir, folds_csv = tiny_crops
    models_dir = tmp_path_factory.mktemp("tiny_models")
    for name in TINY_MODELS:
        cfg = TrainConfig(model=name, size=TINY_CROP_SIZE, batch_size=8, epochs=1, steps_per_epoch=2, augment=(),
                          verbose=0)
        train_model(crops_dir, folds_csv, cfg, fold="all", out_dir=models_dir / name)
    return {name: models_dir / name for name in TINY_MODELS}


# --- real headless browser (reports) -------------------------------------------------------------
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
# Injected first into a copy of the page: records script errors, console.error calls and images that did not
# load, optionally clicks the sortable headers, then writes the findings into the title for --dump-dom.
PROBE = """<script>
window.__problems = [];
window.addEventListener('error', function(e){
  if (e.target && e.target.tagName === 'IMG') {
    window.__problems.push('image failed: ' + (e.target.alt || e.target.src.slice(0, 60)));
  }
  else { window.__problems.push('script error: ' + e.message); }
}, true);
var __error = console.error;
console.error = function(){
  window.__problems.push('console.error: ' + Array.from(arguments).join(' ')); __error.apply(console, arguments);
};
window.addEventListener('load', function(){
  document.querySelectorAll('img').forEach(function(img){
    if (!img.complete || img.naturalWidth === 0) {
      window.__problems.push('image not loaded: ' + (img.alt || img.src.slice(0, 60)));
    }
  });
  document.querySelectorAll('th.sortable').forEach(function(th){ th.click(); th.click(); });
  document.title = 'PROBE:' + JSON.stringify({problems: window.__problems, images: document.images.length});
});
</script>"""


def browser_path() -> str | None:
    import shutil

    return next((p for p in map(shutil.which, BROWSERS) if p), None)


def check_in_browser(page: Path, screenshot: Path) -> dict:
    """Open an HTML file in headless Chromium: {'problems': [...], 'images': n}; also saves a screenshot.

    Skips (with the reason) when no browser is installed; `.ci/run` installs Debian's chromium.
    """
    import html as html_lib
    import json
    import re
    import subprocess

    browser = browser_path()
    if browser is None:
        pytest.skip(f"no headless browser ({', '.join(BROWSERS)}) on PATH; .ci/run installs Debian's chromium")
    text = page.read_text(encoding="utf-8")
    probed = page.with_name(f".probe-{page.name}")
    probed.write_text(text.replace("<head>", "<head>" + PROBE, 1), encoding="utf-8")
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
             "--virtual-time-budget=10000", f"--user-data-dir={page.parent / '.chromium-profile'}"]
    try:
        dom = subprocess.run([*flags, "--dump-dom", probed.as_uri()], capture_output=True, text=True, timeout=120)
        subprocess.run([*flags, "--window-size=1100,2400", f"--screenshot={screenshot}", page.as_uri()],
                       capture_output=True, text=True, timeout=120)
    finally:
        probed.unlink(missing_ok=True)
    match = re.search(r"<title>PROBE:(.*?)</title>", dom.stdout, re.S)
    assert match, f"the page never finished loading in {browser}: {dom.stderr[-2000:]}"
    return json.loads(html_lib.unescape(match.group(1)))
