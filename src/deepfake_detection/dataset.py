"""Index DFDC / FaceForensics++ folders into one table, probe videos, and make leakage-safe folds.

Every later stage keys videos by `video_id`: the path relative to the data folder, without the
extension, with "/" replaced by "__". It is unique even where file names repeat (FF++ reuses
`183_253.mp4` across methods and compressions).
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import cv2
import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from deepfake_detection.config import CROP_LABELS_FILE, IMAGE_EXTENSIONS, LABEL_NAMES, SEED, VIDEO_EXTENSIONS
from deepfake_detection.io import atomic_write_json

log = logging.getLogger(__name__)

INDEX_COLUMNS = [
    "video_id", "filename", "path", "label", "split", "original", "group", "source", "method",
    "compression", "part", "exists", "frames", "fps", "width", "height", "duration_s", "readable",
    "error", "size_bytes",
]
PROBE_COLUMNS = ["frames", "fps", "width", "height", "duration_s", "readable", "error"]
_FFPP_ORIGINAL = re.compile(r"original_sequences/(?P<source>[^/]+)/(?P<comp>[^/]+)/videos$")
_FFPP_FAKE = re.compile(r"manipulated_sequences/(?P<method>[^/]+)/(?P<comp>[^/]+)/videos$")


class UnsafeEntryError(ValueError):
    """A metadata entry that would read outside its folder (absolute, `..`, or a separator)."""


@dataclass
class IndexProblems:
    """What indexing found wrong without stopping: shown to the user, never silently dropped."""

    malformed_metadata: list[str]
    unsafe_entries: list[str]
    missing_videos: int
    duplicate_filenames: list[str]
    bad_entries: list[str] = field(default_factory=list)  # entries kept with what could be read (label unknown)

    def error_rows(self, index: pd.DataFrame) -> list[tuple[str, str, str]]:
        """(input, status, reason) per problem, for errors.csv: metadata files, entries and listed-but-missing
        videos."""
        rows = [(line.split(": ", 1)[0], "malformed_metadata", line.split(": ", 1)[-1])
                for line in self.malformed_metadata]
        rows += [(line.split(": ", 1)[0], "unsafe_entry", line) for line in self.unsafe_entries]
        rows += [(line.split(": ", 1)[0], "bad_entry", line.split(": ", 1)[-1]) for line in self.bad_entries]
        rows += [(p, "missing", "listed in metadata.json but not on disk")
                 for p in index.loc[index["exists"] == 0, "path"]]
        duplicated = index[index["filename"].isin(self.duplicate_filenames) & (index["source"] == "dfdc")]
        rows += [(path, "duplicate_name", f"{name} is in several DFDC parts (video ids stay distinct per part)")
                 for path, name in zip(duplicated["path"], duplicated["filename"], strict=True)]
        return rows


def video_id_for(relative_path: str) -> str:
    """The project-wide key of a video: relative path minus extension, '/' -> '__'."""
    stem = str(PurePosixPath(relative_path).with_suffix(""))
    return stem.replace("/", "__")


def check_entry_name(name: str, metadata_path: Path) -> None:
    """Reject metadata names that could escape the part folder."""
    if not name or os.path.isabs(name) or "/" in name or "\\" in name or name in (".", "..") or ".." in name:
        raise UnsafeEntryError(f"{metadata_path}: unsafe entry {name!r} (absolute, '..' or a path separator)")


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def entry_problem(entry) -> str:
    """What is wrong with one metadata.json entry ("" when nothing): not an object, a label other than FAKE/REAL,
    or a field of the wrong type. The entry is still indexed, with an unknown label where that is unreadable."""
    if not isinstance(entry, dict):
        return f"entry is a {type(entry).__name__}, not an object"
    label = entry.get("label")
    if label is None:
        return "no label"
    if not isinstance(label, str) or label.upper() not in LABEL_NAMES:
        return f"label {label!r} is neither FAKE nor REAL"
    for key in ("original", "split"):
        if entry.get(key) is not None and not isinstance(entry[key], str):
            return f"{key} {entry[key]!r} is not a string"
    return ""


def _dfdc_rows(metadata_path: Path, root: Path, problems: IndexProblems) -> list[dict]:
    """Rows for one DFDC part: every metadata entry, present or not, plus unlisted videos."""
    folder = metadata_path.parent
    part = _rel(folder, root) if folder != root else folder.name
    try:
        metadata = json.loads(metadata_path.read_text())
        if not isinstance(metadata, dict):
            raise ValueError("top level is not an object")
    except (ValueError, UnicodeDecodeError) as exc:
        log.error("malformed metadata %s: %s", metadata_path, exc)
        problems.malformed_metadata.append(f"{metadata_path}: {exc}")
        return []
    rows = []
    for name, entry in sorted(metadata.items()):
        try:
            check_entry_name(name, metadata_path)
        except UnsafeEntryError as exc:
            log.error("%s", exc)
            problems.unsafe_entries.append(str(exc))
            continue
        problem = entry_problem(entry)
        if problem:
            log.error("%s: entry %s: %s", metadata_path, name, problem)
            problems.bad_entries.append(f"{folder / name}: {problem} in {metadata_path.name}")
        entry = entry if isinstance(entry, dict) else {}
        label = LABEL_NAMES.get(str(entry.get("label", "")).upper())
        original = entry.get("original") if isinstance(entry.get("original"), str) else ""
        rows.append({
            "filename": name, "path": _rel(folder / name, root),
            "label": label,
            "split": entry.get("split") if isinstance(entry.get("split"), str) and entry["split"] else "train",
            "original": original,
            "source": "dfdc", "method": "", "compression": "", "part": part,
        })
    listed = set(metadata)
    for video in sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS):
        if video.name not in listed:
            log.warning("%s is not listed in %s; indexed with an unknown label", video, metadata_path)
            rows.append({
                "filename": video.name, "path": _rel(video, root), "label": None, "split": "unlisted",
                "original": "", "source": "dfdc", "method": "", "compression": "", "part": part,
            })
    return rows


def _ffpp_rows(videos_dir: Path, root: Path) -> list[dict]:
    """Rows for one FaceForensics++ `videos/` folder (REAL originals or FAKE manipulations)."""
    rel = _rel(videos_dir, root)
    real, fake = _FFPP_ORIGINAL.search(rel), _FFPP_FAKE.search(rel)
    rows = []
    for video in sorted(p for p in videos_dir.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS):
        if real:
            label, method, comp, original = 0, "original", real["comp"], ""
        else:
            label, method, comp = 1, fake["method"], fake["comp"]
            original = video.stem.split("_")[0] + video.suffix  # target video of the manipulation
        rows.append({
            "filename": video.name, "path": _rel(video, root), "label": label, "split": "train",
            "original": original, "source": f"ffpp/{method}", "method": method, "compression": comp,
            "part": rel,
        })
    return rows


FOLDER_LABELS = {"REAL": 0, "FAKE": 1}  # a metadata-free video folder named so labels its videos


def _test_rows(folder: Path, root: Path) -> list[dict]:
    """Rows for a folder of videos with no metadata: unlabelled test videos such as DFDC `test_videos/`, or
    labelled ones when the folder is named REAL or FAKE (such as `face-clips/FAKE/`), each video its own group."""
    part = _rel(folder, root) if folder != root else folder.name
    label = FOLDER_LABELS.get(folder.name.upper()) if folder != root else None
    return [
        {"filename": v.name, "path": _rel(v, root), "label": label, "split": "test" if label is None else "train",
         "original": "", "source": "dfdc_test" if label is None else "folder", "method": "", "compression": "",
         "part": part}
        for v in sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)
    ]


def _ffpp_group(filename: str, parent: dict[str, str]) -> None:
    """Union the ids in an FF++ name (`183_253` joins 183 and 253)."""
    ids = PurePosixPath(filename).stem.split("_")

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for other in ids[1:]:
        a, b = find(ids[0]), find(other)
        if a != b:
            parent[max(a, b)] = min(a, b)
    find(ids[0])


def assign_groups(index: pd.DataFrame) -> pd.Series:
    """Cluster id tying each fake to its original (DFDC: `original`; FF++: transitive id pairs)."""
    parent: dict[str, str] = {}
    ffpp = index["source"].str.startswith("ffpp")
    for name in index.loc[ffpp, "filename"]:
        _ffpp_group(name, parent)

    def root_of(x: str) -> str:
        while parent[x] != x:
            x = parent[x]
        return x

    groups = []
    for row in index.itertuples():
        if row.source.startswith("ffpp"):
            groups.append("ffpp:" + root_of(PurePosixPath(row.filename).stem.split("_")[0]))
        else:
            key = row.original if row.original else row.filename
            groups.append(f"{row.part}:{PurePosixPath(key).stem}" if row.source == "dfdc_test"
                          else PurePosixPath(key).stem)
    return pd.Series(groups, index=index.index, name="group")


def probe_video(path: str | Path) -> dict:
    """Frame count, fps, true (rotation-applied) size, duration; `readable=False` with a reason."""
    path = Path(path)
    result = {"frames": 0, "fps": 0.0, "width": 0, "height": 0, "duration_s": 0.0, "readable": False, "error": ""}
    if not path.exists():
        result["error"] = "missing"
        return result
    if path.stat().st_size == 0:
        result["error"] = "empty file"
        return result
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            result["error"] = "cannot open (not a video or unsupported codec)"
            return result
        ok, frame = capture.read()
        if not ok or frame is None:
            result["error"] = "no decodable frame"
            return result
        frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        height, width = frame.shape[:2]  # decoded frame: orientation already applied
        result.update(frames=frames, fps=round(fps, 3), width=int(width), height=int(height),
                      duration_s=round(frames / fps, 3) if fps > 0 else 0.0, readable=True)
        return result
    finally:
        capture.release()


def _cache_path() -> Path:
    base = Path(os.environ.get("DFD_CACHE_DIR", Path.home() / ".cache" / "deepfake_detection"))
    return base / "probes.json"


def probe_videos(paths: list[Path], use_cache: bool = True) -> list[dict]:
    """Probe many videos, reusing results cached by absolute path, size and mtime."""
    from tqdm.auto import tqdm

    cache_file = _cache_path()
    cache: dict[str, dict] = {}
    if use_cache and cache_file.exists():
        try:
            cache = json.loads(cache_file.read_text())
        except ValueError:
            log.warning("probe cache %s is corrupt; starting afresh", cache_file)
    results, changed = [], False
    for path in tqdm(paths, desc="probe", unit="video", disable=len(paths) < 20):
        if not path.exists():
            results.append(probe_video(path))
            continue
        stat = path.stat()
        key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
        if key not in cache:
            cache[key] = probe_video(path)
            changed = True
        results.append(cache[key])
    if use_cache and changed:
        atomic_write_json(cache, cache_file, indent=None)
    return results


def find_layouts(root: Path) -> tuple[list[Path], list[Path], list[Path]]:
    """DFDC metadata files, FF++ `videos/` folders and metadata-free video folders under root."""
    metadata, ffpp, plain = [], [], []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        folder_path = Path(folder)
        rel = _rel(folder_path, root) if folder_path != root else ""
        if "metadata.json" in files:
            metadata.append(folder_path / "metadata.json")
        elif _FFPP_ORIGINAL.search(rel) or _FFPP_FAKE.search(rel):
            ffpp.append(folder_path)
        elif any(f.lower().endswith(VIDEO_EXTENSIONS) for f in files):
            plain.append(folder_path)
    return metadata, ffpp, plain


# --- face-crop datasets: one image per "video", no extraction step ------------------------------
def is_crop_dataset(root: str | Path) -> bool:
    """A folder of face crops: a labels.csv with a `file` column, or REAL/ and FAKE/ subfolders of images."""
    root = Path(root)
    labels = root / CROP_LABELS_FILE
    if labels.is_file():
        return "file" in pd.read_csv(labels, nrows=0).columns
    return all((root / name).is_dir() and any(p.suffix.lower() in IMAGE_EXTENSIONS for p in (root / name).iterdir())
               for name in LABEL_NAMES)


def crop_labels(root: Path) -> pd.DataFrame:
    """file, label (1 FAKE / 0 REAL), group, original per crop: from labels.csv, else from the REAL/FAKE folders.

    Without a `group` column every crop is its own group (nothing says which crops share a source video).
    """
    labels_csv = root / CROP_LABELS_FILE
    if labels_csv.is_file():
        table = pd.read_csv(labels_csv, dtype=str, keep_default_na=False)
        missing = {"file", "label"} - set(table.columns)
        if missing:
            raise ValueError(f"{labels_csv} lacks columns {sorted(missing)}")
        bad = ~table["label"].str.upper().isin(LABEL_NAMES)
        if bad.any():
            raise ValueError(f"{labels_csv}: {int(bad.sum())} rows with a label other than FAKE/REAL, "
                             f"e.g. {table.loc[bad, 'label'].iloc[0]!r}")
        for path in table["file"]:
            check_entry_name(path.replace("/", "_"), labels_csv)  # no absolute paths or `..`
        table["label"] = table["label"].str.upper().map(LABEL_NAMES)
    else:
        rows = [{"file": f"{name}/{p.name}", "label": value} for name, value in LABEL_NAMES.items()
                for p in sorted((root / name).iterdir()) if p.suffix.lower() in IMAGE_EXTENSIONS]
        table = pd.DataFrame(rows)
    if "group" not in table.columns or (table["group"] == "").any():
        own = table["file"].map(video_id_for)
        table["group"] = table["group"].where(table["group"] != "", own) if "group" in table.columns else own
    table["original"] = table["original"] if "original" in table.columns else ""
    return table


def index_crops(root: str | Path) -> pd.DataFrame:
    """Index rows (INDEX_COLUMNS) of a face-crop dataset: each crop stands for one video of one frame."""
    root = Path(root).resolve()
    table = crop_labels(root)
    paths = [root / f for f in table["file"]]
    exists = np.array([p.is_file() for p in paths], dtype=int)
    if (exists == 0).any():
        log.warning("%d crops listed in %s are missing on disk (kept with exists=0)", int((exists == 0).sum()), root)
    index = pd.DataFrame({
        "video_id": table["file"].map(video_id_for), "filename": [Path(f).name for f in table["file"]],
        "path": table["file"], "label": table["label"].astype("Int64"), "split": "train",
        "original": table["original"], "group": table["group"], "source": "crops", "method": "",
        "compression": "", "part": [str(PurePosixPath(f).parent) for f in table["file"]], "exists": exists,
        "frames": 1, "fps": 0.0, "width": np.nan, "height": np.nan, "duration_s": 0.0, "readable": exists,
        "error": np.where(exists == 1, "", "missing"),
        "size_bytes": [p.stat().st_size if p.is_file() else 0 for p in paths],
    })
    return index[INDEX_COLUMNS]


def crops_manifest(root: str | Path) -> pd.DataFrame:
    """The extraction manifest (pipeline.MANIFEST_COLUMNS) of a face-crop dataset: its crops are the manifest."""
    index = labelled(index_crops(root))
    return pd.DataFrame({"video_id": index["video_id"], "frame": 0, "track": 0, "x1": 0, "y1": 0, "x2": 0, "y2": 0,
                         "confidence": 1.0, "detected": 1, "crop_path": index["path"],
                         "label": index["label"].astype(int), "group": index["group"]})


def index_videos(data_dir: str | Path, probe: bool = True) -> tuple[pd.DataFrame, IndexProblems]:
    """One row per video found or listed under data_dir, with labels, groups and probe results.

    A face-crop dataset (`is_crop_dataset`) is indexed as one row per crop, with no probing.
    """
    root = Path(data_dir).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"data folder not found: {data_dir}")
    problems = IndexProblems([], [], 0, [])
    if is_crop_dataset(root):
        index = index_crops(root)
        problems.missing_videos = int((index["exists"] == 0).sum())
        return index, problems
    metadata_files, ffpp_dirs, plain_dirs = find_layouts(root)
    rows: list[dict] = []
    for metadata_path in metadata_files:
        rows += _dfdc_rows(metadata_path, root, problems)
    for videos_dir in ffpp_dirs:
        rows += _ffpp_rows(videos_dir, root)
    for folder in plain_dirs:
        rows += _test_rows(folder, root)
    index = pd.DataFrame(rows, columns=[c for c in INDEX_COLUMNS
                                        if c not in ("video_id", "group", "exists", "size_bytes", *PROBE_COLUMNS)])
    index.insert(0, "video_id", [video_id_for(p) for p in index["path"]])
    index["label"] = index["label"].astype("Int64")
    index["group"] = assign_groups(index) if len(index) else pd.Series(dtype=str)
    paths = [root / p for p in index["path"]]
    index["exists"] = [int(p.is_file()) for p in paths]
    index["size_bytes"] = [p.stat().st_size if p.is_file() else 0 for p in paths]
    problems.missing_videos = int((index["exists"] == 0).sum())
    if problems.missing_videos:
        log.warning("%d listed videos are missing on disk (kept with exists=0)", problems.missing_videos)
    dup = index.loc[index["source"] == "dfdc", "filename"]
    problems.duplicate_filenames = sorted(dup[dup.duplicated()].unique())
    if problems.duplicate_filenames:
        log.warning("duplicate file names across DFDC parts: %s", ", ".join(problems.duplicate_filenames))
    probes = probe_videos(paths) if probe else [probe_video(Path("/nonexistent"))] * len(index)
    for column in PROBE_COLUMNS:
        index[column] = [p[column] for p in probes]
    if not probe:
        index["error"] = "not probed"
    index["readable"] = index["readable"].astype(int)
    return index[INDEX_COLUMNS], problems


def read_index(path: str | Path) -> pd.DataFrame:
    """Read an index (or folds) CSV with the right dtypes."""
    index = pd.read_csv(path, dtype={"original": str, "group": str, "method": str, "compression": str,
                                     "error": str, "part": str, "filename": str, "video_id": str},
                        keep_default_na=False, na_values={"label": [""]})
    index["label"] = index["label"].astype("Int64")
    return index


def labelled(index: pd.DataFrame) -> pd.DataFrame:
    """Rows with a known label and a video on disk: what folds and training can use."""
    return index[index["label"].notna() & (index["exists"] == 1)].reset_index(drop=True)


def make_folds(index: pd.DataFrame, k: int = 5, seed: int = SEED) -> pd.DataFrame:
    """Stratified group K-fold: every group (a fake with its original) lands in exactly one fold."""
    data = labelled(index)
    n_groups = data["group"].nunique()
    if n_groups < k:
        raise ValueError(f"{n_groups} groups cannot fill {k} folds; lower --k")
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    folds = np.full(len(data), -1)
    for fold, (_, val) in enumerate(splitter.split(data, data["label"].astype(int), data["group"])):
        folds[val] = fold
    if (folds < 0).any():  # -1 is also config.TRAIN_ONLY_FOLD: an unassigned row must not become training-only
        raise RuntimeError(f"{int((folds < 0).sum())} rows were assigned no fold")
    data["fold"] = folds
    return data


def holdout_split(index: pd.DataFrame, test_size: float = 0.2, seed: int = SEED) -> pd.DataFrame:
    """One group-safe validation split: `fold` is 0 for validation rows and 1 for training rows."""
    if not 0 < test_size < 1:
        raise ValueError("test_size must be between 0 and 1")
    folds = make_folds(index, k=max(2, round(1 / test_size)), seed=seed)
    folds["fold"] = (folds["fold"] != 0).astype(int)
    return folds


def fold_summary(folds: pd.DataFrame) -> pd.DataFrame:
    """Videos, groups, FAKE and REAL counts and FAKE share per fold."""
    summary = folds.groupby("fold").agg(
        videos=("video_id", "size"), groups=("group", "nunique"),
        fake=("label", lambda s: int((s == 1).sum())), real=("label", lambda s: int((s == 0).sum())))
    summary["fake_share"] = (summary["fake"] / summary["videos"]).round(3)
    return summary


def class_weights(labels: np.ndarray | pd.Series) -> dict[int, float]:
    """Inverse-frequency weights {0: w_real, 1: w_fake} that make both classes weigh the same in total."""
    labels = np.asarray(labels, dtype=int)
    counts = np.bincount(labels, minlength=2)
    return {c: float(len(labels) / (2 * n)) if n else 0.0 for c, n in enumerate(counts)}


IMBALANCE_STRATEGIES = ("balanced", "class_weights", "oversample", "undersample", "none")


def epoch_class_counts(labels: np.ndarray | pd.Series, strategy: str, n_samples: int | None = None) -> tuple[int, int]:
    """(REAL, FAKE) samples in one epoch of an imbalance strategy: the one class-balance rule.

    `imbalance_table`, `pipeline.epoch_size` and `pipeline.epoch_plan` all use it. n_samples sets the epoch
    length of `balanced` (default: every crop once); with an odd length REAL gets the extra sample.
    """
    labels = np.asarray(labels, dtype=int)
    real, fake = int((labels == 0).sum()), int((labels == 1).sum())
    if strategy in ("none", "class_weights"):
        return real, fake
    if strategy == "balanced":
        n = real + fake if n_samples is None else int(n_samples)
        return n - n // 2, n // 2
    if strategy == "oversample":
        return max(real, fake), max(real, fake)
    if strategy == "undersample":
        return min(real, fake), min(real, fake)
    raise ValueError(f"unknown imbalance strategy {strategy!r}; choose from {IMBALANCE_STRATEGIES}")


def imbalance_table(labels: np.ndarray | pd.Series) -> pd.DataFrame:
    """What each imbalance strategy gives per epoch: REAL/FAKE samples, FAKE share, loss weights."""
    labels = np.asarray(labels, dtype=int)
    weights = class_weights(labels)
    rows = [(strategy, *epoch_class_counts(labels, strategy),
             *((weights[0], weights[1]) if strategy == "class_weights" else (1.0, 1.0)))
            for strategy in ("none", "class_weights", "oversample", "undersample", "balanced")]
    table = pd.DataFrame(rows, columns=["strategy", "real_per_epoch", "fake_per_epoch", "real_weight", "fake_weight"])
    eff_real = table["real_per_epoch"] * table["real_weight"]
    eff_fake = table["fake_per_epoch"] * table["fake_weight"]
    table["effective_fake_share"] = (eff_fake / (eff_real + eff_fake).replace(0, np.nan)).round(3)
    table["real_weight"] = table["real_weight"].round(3)
    table["fake_weight"] = table["fake_weight"].round(3)
    return table
