"""Exploratory analysis: what the data folder holds, label and length distributions, whether test
videos look like training videos, and how similar fakes are to their originals (SSIM).

Numbers and DataFrames only; `plots.py` draws them and `run_eda` saves both. SSIM is computed on
downscaled grayscale frames (EdaConfig.ssim_long_side) and face regions (EdaConfig.face_size) to
keep the whole analysis within a CI budget.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from scipy.stats import ks_2samp
from skimage.metrics import structural_similarity
from tqdm.auto import tqdm

from deepfake_detection.artifacts import CropsDir
from deepfake_detection.config import FAKE, REAL, EdaConfig
from deepfake_detection.dataset import imbalance_table, index_videos, labelled, read_index
from deepfake_detection.faces import FaceBox, crop_face, make_detector
from deepfake_detection.reporting import to_markdown
from deepfake_detection.video import sample_frames

log = logging.getLogger(__name__)

FULL_INDEX_COLUMNS = ("name", "is_fake", "n_frame", "set_name")
KS_FEATURES = ("frames", "fps", "duration_s", "width", "height", "portrait", "size_mb")
ANNOTATION_LONG_SIDE = 640  # frames are downscaled to this long side before the Haar cascades run


# --- folder contents and labels -----------------------------------------------------------------
def file_types(data_dir: str | Path) -> pd.DataFrame:
    """Files and megabytes per extension under data_dir: what the folder really holds."""
    counts: dict[str, list[float]] = {}
    for folder, _, files in os.walk(data_dir):
        for name in files:
            entry = counts.setdefault(Path(name).suffix.lower() or "(none)", [0, 0.0])
            entry[0] += 1
            entry[1] += (Path(folder) / name).stat().st_size / 1e6
    table = pd.DataFrame([(ext, int(n), round(mb, 2)) for ext, (n, mb) in counts.items()],
                         columns=["extension", "files", "size_mb"])
    return table.sort_values(["files", "extension"], ascending=[False, True]).reset_index(drop=True)


def load_index(data_dir: str | Path, index: str | Path | None = None) -> pd.DataFrame:
    """The index CSV when given, else a fresh (probed) index of data_dir."""
    if index is not None:
        return read_index(index)
    table, _ = index_videos(data_dir)
    return table


def label_counts(index: pd.DataFrame, by: str = "part") -> pd.DataFrame:
    """REAL / FAKE / unknown videos and the FAKE share (of labelled) per `by` group, plus an `all` row.

    Counts listed videos (metadata is the truth about labels); `on_disk` says how many are present
    when the table has an `exists` column (DFDC metadata may list videos that were not downloaded).
    """
    label = index["label"]
    counts = pd.DataFrame({
        by: index[by].astype(str),
        "REAL": label.eq(REAL).fillna(False).astype(int),
        "FAKE": label.eq(FAKE).fillna(False).astype(int),
        "unknown": label.isna().astype(int),
    }).groupby(by, sort=True).sum()
    counts.loc["all"] = counts.sum()
    counts["total"] = counts.sum(axis=1)
    if "exists" in index:
        on_disk = index.groupby(index[by].astype(str))["exists"].sum()
        counts["on_disk"] = on_disk.reindex(counts.index).fillna(on_disk.sum()).astype(int)
    labelled_n = (counts["REAL"] + counts["FAKE"]).replace(0, np.nan)
    counts["fake_share"] = (counts["FAKE"] / labelled_n).round(3)
    counts.index.name = by
    return counts.reset_index()


def read_full_index(path: str | Path) -> pd.DataFrame:
    """The full DFDC training table (name, is_fake, n_frame, set_name) as name / label / frames / part."""
    full = pd.read_csv(path)
    missing = set(FULL_INDEX_COLUMNS) - set(full.columns)
    if missing:
        raise ValueError(f"{path}: missing columns {sorted(missing)} (expected {', '.join(FULL_INDEX_COLUMNS)})")
    return pd.DataFrame({"name": full["name"].astype(str), "label": full["is_fake"].astype("Int64"),
                         "frames": full["n_frame"].astype(int), "part": full["set_name"].astype(str)})


# --- lengths and train against test --------------------------------------------------------------
def video_lengths(index: pd.DataFrame) -> pd.DataFrame:
    """Per readable video: frames, fps, duration, resolution, orientation, file size and train/test set."""
    data = index[(index["exists"] == 1) & (index["readable"] == 1)]
    lengths = data[["video_id", "label", "source", "frames", "fps", "duration_s", "width", "height"]].copy()
    lengths["resolution"] = data["width"].astype(str) + "x" + data["height"].astype(str)
    lengths["orientation"] = np.select([data["height"] > data["width"], data["height"] < data["width"]],
                                       ["portrait", "landscape"], "square")
    lengths["portrait"] = (lengths["orientation"] == "portrait").astype(int)
    lengths["size_mb"] = (data["size_bytes"] / 1e6).round(3)
    lengths["set"] = data_set(data)
    return lengths.reset_index(drop=True)


def data_set(index: pd.DataFrame) -> pd.Series:
    """"train" for metadata/FF++ videos, "test" for a metadata-free folder named test*, else "other"."""
    test_folder = index["part"].astype(str).map(lambda part: Path(part).name.lower().startswith("test"))
    return pd.Series(np.where(index["split"] != "test", "train", np.where(test_folder, "test", "other")),
                     index=index.index, name="set")


def length_summary(lengths: pd.DataFrame) -> pd.DataFrame:
    """Count, mean, min, median and max of frames, fps, duration and file size, per set."""
    stats = (lengths.groupby("set")[["frames", "fps", "duration_s", "size_mb"]]
             .agg(["count", "mean", "min", "median", "max"]))
    return stats.stack(level=0, future_stack=True).round(2).rename_axis(["set", "feature"])


def full_index_lengths(full: pd.DataFrame) -> pd.DataFrame:
    """Videos per frame count in the full index, most common first, with their share."""
    counts = full["frames"].value_counts().rename_axis("frames").rename("videos").reset_index()
    counts["share"] = (counts["videos"] / len(full)).round(4)
    return counts


def unreadable_counts(index: pd.DataFrame) -> pd.DataFrame:
    """Videos on disk that could not be decoded, per set, with the reasons: test data may be damaged."""
    data = index[index["exists"] == 1].assign(set=data_set)
    bad = data[data["readable"] == 0]
    return (bad.groupby(["set", "error"]).size().rename("videos").reset_index()
            if len(bad) else pd.DataFrame(columns=["set", "error", "videos"]))


def train_test_ks(lengths: pd.DataFrame, alpha: float = EdaConfig.ks_alpha) -> pd.DataFrame | None:
    """Two-sample KS statistic per feature between train and test videos; None without a test set."""
    train, test = lengths[lengths["set"] == "train"], lengths[lengths["set"] == "test"]
    if train.empty or test.empty:
        return None
    rows = []
    for feature in KS_FEATURES:
        result = ks_2samp(train[feature].astype(float), test[feature].astype(float))
        rows.append({"feature": feature, "train_n": len(train), "test_n": len(test),
                     "train_median": float(train[feature].median()), "test_median": float(test[feature].median()),
                     "ks": round(float(result.statistic), 3), "p_value": round(float(result.pvalue), 4),
                     "differs": bool(result.pvalue < alpha)})
    return pd.DataFrame(rows)


def train_test_verdict(ks: pd.DataFrame | None, alpha: float = EdaConfig.ks_alpha) -> str:
    """One sentence: does the test set follow the training distribution, with the KS numbers."""
    if ks is None:
        return "No test folder was found, so train and test could not be compared."
    n_train, n_test = int(ks["train_n"].iloc[0]), int(ks["test_n"].iloc[0])
    differ = ks[ks["differs"]]
    if differ.empty:
        top = ks.loc[ks["ks"].idxmax()]
        return (f"Test ({n_test} videos) follows train ({n_train}) on all {len(ks)} features at alpha={alpha}; "
                f"the largest gap is {top['feature']} (KS D={top['ks']:.2f}, p={top['p_value']:.3f}).")
    listed = "; ".join(f"{r.feature} (D={r.ks:.2f}, p={r.p_value:.3f}, median {r.train_median:g} vs {r.test_median:g})"
                       for r in differ.itertuples())
    same = ", ".join(ks.loc[~ks["differs"], "feature"]) or "none"
    return (f"Test ({n_test} videos) differs from train ({n_train}) at alpha={alpha} on: {listed}. "
            f"No detectable difference on: {same}.")


# --- fakes and their originals -------------------------------------------------------------------
def fake_original_pairs(index: pd.DataFrame) -> pd.DataFrame:
    """Readable fakes whose original is readable too (FF++: the original at the same compression)."""
    usable = index[(index["exists"] == 1) & (index["readable"] == 1)]
    family = usable["source"].str.split("/").str[0]
    fakes = usable[(usable["label"] == FAKE) & (usable["original"] != "")].assign(_file=lambda d: d["original"],
                                                                                   _family=family)
    reals = usable[usable["label"] == REAL].assign(_file=lambda d: d["filename"], _family=family)
    reals = reals[["_file", "_family", "compression", "video_id", "path"]].rename(
        columns={"video_id": "original_id", "path": "original_path"})
    pairs = fakes.merge(reals, on=["_file", "_family", "compression"], how="inner").drop_duplicates("video_id")
    method = pairs["method"].where(pairs["method"] != "", pairs["source"])
    return pd.DataFrame({"fake_id": pairs["video_id"], "original_id": pairs["original_id"],
                         "fake_path": pairs["path"], "original_path": pairs["original_path"],
                         "method": method, "compression": pairs["compression"]}).reset_index(drop=True)


def select_pairs(pairs: pd.DataFrame, per_method: int = EdaConfig.pairs_per_method,
                 min_pairs: int = EdaConfig.min_pairs, prefer_compression: str = "c23") -> pd.DataFrame:
    """`per_method` pairs of each method (lighter compression first), topped up to `min_pairs` with
    pairs of other originals: a stable, varied selection for the SSIM analyses and the grid."""
    ranked = pairs.assign(_rank=(pairs["compression"] != prefer_compression).astype(int))
    ranked = ranked.sort_values(["_rank", "method", "fake_id"])
    chosen = ranked.groupby("method", sort=False).head(per_method)
    rest = ranked.drop(chosen.index)
    rest = rest.assign(_seen=rest["original_id"].isin(chosen["original_id"])).sort_values(["_seen", "_rank", "fake_id"])
    chosen = pd.concat([chosen, rest.head(max(0, min_pairs - len(chosen))).drop(columns="_seen")])
    return chosen.sort_values(["method", "_rank", "fake_id"]).drop(columns="_rank").reset_index(drop=True)


# --- SSIM ----------------------------------------------------------------------------------------
def gray_small(frame: np.ndarray, long_side: int) -> np.ndarray:
    """Grayscale uint8 HxW copy of an RGB frame, downscaled so its long side is at most long_side."""
    height, width = frame.shape[:2]
    scale = long_side / max(height, width)
    if scale < 1:
        frame = cv2.resize(frame, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two grayscale uint8 images (b resized to a's shape when they differ)."""
    if a.shape != b.shape:
        b = cv2.resize(b, (a.shape[1], a.shape[0]), interpolation=cv2.INTER_AREA)
    return float(structural_similarity(a, b, data_range=255))


def consecutive_ssim(images: list[np.ndarray]) -> np.ndarray:
    """SSIM of each image with the one before it: len(images) - 1 values."""
    return np.array([ssim(a, b) for a, b in zip(images[:-1], images[1:], strict=True)], dtype=np.float64)


def face_track(frames: list[np.ndarray], detector) -> list[FaceBox] | None:
    """The largest face per frame (full-frame px), gaps filled from the nearest detected frame; None if no face."""
    found = [max(boxes, key=lambda b: b.area) if boxes else None for boxes in detector.detect(frames)]
    hits = [i for i, box in enumerate(found) if box is not None]
    if not hits:
        return None
    return [found[min(hits, key=lambda h: abs(h - i))] for i in range(len(found))]


def face_patches(frames: list[np.ndarray], boxes: list[FaceBox], cfg: EdaConfig) -> list[np.ndarray]:
    """Grayscale face regions (uint8 face_size x face_size) cut at the given boxes."""
    return [cv2.cvtColor(crop_face(f, b, margin=cfg.face_margin, size=cfg.face_size), cv2.COLOR_RGB2GRAY)
            for f, b in zip(frames, boxes, strict=True)]


def manifest_patches(crops_dir: str | Path, video_id: str, cfg: EdaConfig) -> tuple[list[int], list[np.ndarray]]:
    """Frame numbers and grayscale crops of a video's main face track from an extraction manifest."""
    manifest = _read_manifest(str(crops_dir))
    rows = manifest[manifest["video_id"] == video_id]
    if rows.empty:
        return [], []
    rows = rows[rows["track"] == rows["track"].value_counts().idxmax()].sort_values("frame").head(cfg.frames)
    patches = []
    for path in rows["path"]:
        image = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise FileNotFoundError(f"crop listed in the manifest is unreadable: {path}")
        patches.append(cv2.resize(image, (cfg.face_size, cfg.face_size), interpolation=cv2.INTER_AREA))
    return rows["frame"].astype(int).tolist(), patches


@lru_cache(maxsize=4)
def _read_manifest(crops_dir: str) -> pd.DataFrame:
    return CropsDir(crops_dir).load()  # cached: the figure reads one video at a time


def _over_time_rows(video_id: str, label, method: str, region: str, frames: list[int], images: list[np.ndarray],
                    pair: str = "") -> list[dict]:
    name = "unknown" if pd.isna(label) else "FAKE" if label == FAKE else "REAL"
    return [{"video_id": video_id, "label": name, "method": method, "pair": pair or video_id, "region": region,
             "frame": frame, "ssim": value}
            for frame, value in zip(frames[1:], consecutive_ssim(images), strict=True)]


def _face_series(video_id: str, frames: list[int], patches: list[np.ndarray], crops_dir: str | Path | None,
                 cfg: EdaConfig) -> tuple[list[int], list[np.ndarray]]:
    """Frame numbers and face crops for the over-time series: the extraction manifest's when it has the video."""
    if crops_dir is not None:
        crop_frames, crops = manifest_patches(crops_dir, video_id, cfg)
        if len(crops) >= 2:
            return crop_frames, crops
    return frames, patches


@dataclass
class SsimResult:
    """SSIM analyses in long format, the side-by-side grid rows, and the boxes they used."""

    # video_id, label, method, pair (original's id), region ("full"/"face"), frame, ssim vs previous sample
    over_time: pd.DataFrame
    vs_original: pd.DataFrame  # fake_id, original_id, method, compression, frame, region, ssim (fake vs original)
    grid_rows: list[tuple[str, np.ndarray, np.ndarray]] = field(default_factory=list)  # (title, original, fake) RGB
    notes: list[str] = field(default_factory=list)  # why a video or face region is missing


def stride_indices(cfg: EdaConfig) -> list[int]:
    """The frames the SSIM analyses read: cfg.frames frames, cfg.every apart, from the start."""
    return list(range(0, cfg.frames * cfg.every, cfg.every))


def aligned_frames(original_path: Path, fake_path: Path,
                   cfg: EdaConfig) -> tuple[list[int], list[np.ndarray], list[np.ndarray]]:
    """Frames at the same indices from an original and its fake (RGB uint8), for frame-aligned SSIM."""
    original = sample_frames(original_path, indices=stride_indices(cfg))
    fake = sample_frames(fake_path, indices=original.indices)
    fake_at = dict(zip(fake.indices, fake.frames, strict=True))
    common = [(i, f) for i, f in zip(original.indices, original.frames, strict=True) if i in fake_at]
    return [i for i, _ in common], [f for _, f in common], [fake_at[i] for i, _ in common]


def ssim_analysis(index: pd.DataFrame, data_dir: str | Path, pairs: pd.DataFrame, cfg: EdaConfig | None = None,
                  crops_dir: str | Path | None = None, detector=None) -> SsimResult:
    """Consecutive-frame SSIM along videos and frame-aligned fake-vs-original SSIM, full frame and face.

    Fake-vs-original SSIM cuts the face region of both videos at the boxes found on the original, so
    it compares the same pixels. The over-time face series uses the extraction manifest's crops when
    crops_dir is given (and lists the video), else those aligned regions or, for videos without a pair
    (up to cfg.max_videos in all), the video's own detections.
    """
    cfg = cfg or EdaConfig()
    root = Path(data_dir)
    detector = detector or make_detector(cfg.detector, long_side=cfg.detect_long_side)
    over_time, vs_original, grid_rows, notes = [], [], [], []
    done: set[str] = set()
    for pair in tqdm(list(pairs.itertuples()), desc="ssim pairs", unit="pair", disable=len(pairs) < 4):
        frames, original, fake = aligned_frames(root / pair.original_path, root / pair.fake_path, cfg)
        if len(frames) < 2:
            notes.append(f"{pair.fake_id}: fewer than 2 frames aligned with {pair.original_id}")
            continue
        title = f"{pair.method} {pair.compression} {pair.fake_id.split('__')[-1]}".replace("  ", " ")
        grid_rows.append((title, original[len(frames) // 2], fake[len(frames) // 2]))
        full_o = [gray_small(f, cfg.ssim_long_side) for f in original]
        full_f = [gray_small(f, cfg.ssim_long_side) for f in fake]
        boxes = face_track(original, detector)
        regions = {"full": (full_o, full_f)}
        if boxes is None:
            notes.append(f"{pair.original_id}: no face found, face-region SSIM skipped")
        else:
            regions["face"] = (face_patches(original, boxes, cfg), face_patches(fake, boxes, cfg))
        for region, (images_o, images_f) in regions.items():
            vs_original += [{"fake_id": pair.fake_id, "original_id": pair.original_id, "method": pair.method,
                             "compression": pair.compression, "frame": frame, "region": region, "ssim": ssim(a, b)}
                            for frame, a, b in zip(frames, images_o, images_f, strict=True)]
            videos = [(pair.fake_id, FAKE, pair.method, images_f)]
            if pair.original_id not in done:
                videos.insert(0, (pair.original_id, REAL, "original", images_o))
            for video_id, label, method, images in videos:
                series = ((frames, images) if region == "full"
                          else _face_series(video_id, frames, images, crops_dir, cfg))
                over_time += _over_time_rows(video_id, label, method, region, *series, pair=pair.original_id)
        done |= {pair.original_id, pair.fake_id}
    for row in _extra_videos(index, done, cfg.max_videos).itertuples():
        sample = sample_frames(root / row.path, indices=stride_indices(cfg))
        if len(sample.frames) < 2:
            notes.append(f"{row.video_id}: {sample.status} ({sample.reason}), skipped")
            continue
        method = row.method or row.source
        over_time += _over_time_rows(row.video_id, row.label, method, "full", sample.indices,
                                     [gray_small(f, cfg.ssim_long_side) for f in sample.frames])
        crop_frames, patches = manifest_patches(crops_dir, row.video_id, cfg) if crops_dir is not None else ([], [])
        if len(patches) < 2:
            boxes = face_track(sample.frames, detector)
            crop_frames, patches = (sample.indices, face_patches(sample.frames, boxes, cfg)) if boxes else ([], [])
        if len(patches) < 2:
            notes.append(f"{row.video_id}: no face track, face-region SSIM skipped")
        else:
            over_time += _over_time_rows(row.video_id, row.label, method, "face", crop_frames, patches)
    columns_t = ["video_id", "label", "method", "pair", "region", "frame", "ssim"]
    columns_v = ["fake_id", "original_id", "method", "compression", "frame", "region", "ssim"]
    return SsimResult(pd.DataFrame(over_time, columns=columns_t), pd.DataFrame(vs_original, columns=columns_v),
                      grid_rows, notes)


def _extra_videos(index: pd.DataFrame, done: set[str], max_videos: int) -> pd.DataFrame:
    """Readable videos not yet analysed, alternating REAL and FAKE (unlabelled last), to fill the over-time analysis."""
    room = max(0, max_videos - len(done))
    rest = index[(index["exists"] == 1) & (index["readable"] == 1) & ~index["video_id"].isin(done)]
    rest = rest.assign(_unknown=rest["label"].isna(), _order=rest.groupby(rest["label"].fillna(-1)).cumcount())
    rest = rest.sort_values(["_unknown", "_order", "video_id"])
    return rest.head(room).drop(columns=["_unknown", "_order"])


def ssim_summary(result: SsimResult) -> pd.DataFrame:
    """Mean and minimum fake-vs-original SSIM per method for the full frame and the face region."""
    table = result.vs_original.groupby(["method", "compression", "region"])["ssim"].agg(["mean", "min", "count"])
    table = table.unstack("region")
    table.columns = [f"{region}_{stat}" for stat, region in table.columns]
    if "face_mean" in table:
        table["gap"] = table["full_mean"] - table["face_mean"]
    return table.round(3).reset_index()


def temporal_gap(result: SsimResult) -> pd.DataFrame:
    """Mean |consecutive SSIM of fake - of its original| per pair and region: does the fake's motion differ?"""
    curves = result.over_time[["video_id", "region", "frame", "ssim"]]
    pairs = result.vs_original[["fake_id", "original_id", "method"]].drop_duplicates()
    joined = (pairs.merge(curves.rename(columns={"video_id": "fake_id", "ssim": "fake"}), on="fake_id")
              .merge(curves.rename(columns={"video_id": "original_id", "ssim": "original"}),
                     on=["original_id", "region", "frame"]))
    joined["abs_diff"] = (joined["fake"] - joined["original"]).abs()
    gap = joined.groupby(["fake_id", "method", "region"], sort=False)["abs_diff"].mean().round(4)
    return gap.rename("mean_abs_diff").reset_index()


def ssim_verdict(result: SsimResult) -> str:
    """Does full-frame SSIM stay near 1 for a fake against its original while the face region drops?"""
    if result.vs_original.empty:
        return "No fake with its original on disk: the fake-vs-original SSIM comparison could not be made."
    means = result.vs_original.groupby("region")["ssim"].mean()
    full = means.get("full", np.nan)
    if "face" not in means:
        return f"Full-frame SSIM of fakes against originals averages {full:.3f}; no face was found for the face region."
    face = means["face"]
    per_pair = result.vs_original.groupby(["fake_id", "region"])["ssim"].mean().unstack("region").dropna()
    lower = int((per_pair["face"] < per_pair["full"]).sum())
    holds = full >= 0.9 and lower == len(per_pair)
    text = (f"Fake against its original (frame-aligned, {len(per_pair)} pairs): full-frame SSIM averages {full:.3f} "
            f"(min {result.vs_original.loc[result.vs_original['region'] == 'full', 'ssim'].min():.3f}), "
            f"the face region {face:.3f}; the face region is less similar in {lower}/{len(per_pair)} pairs. "
            f"The expected pattern (full frame nearly identical, face region differs) "
            f"{'holds' if holds else 'does not fully hold'} on this data.")
    gap = temporal_gap(result)
    if not gap.empty:
        by_region = gap.groupby("region")["mean_abs_diff"].mean()
        text += (" Over time, the consecutive-frame SSIM curve of a fake departs from its original's by "
                 f"{by_region.get('full', np.nan):.4f} on average for full frames and "
                 f"{by_region.get('face', np.nan):.4f} for the face region.")
    return text


# --- OpenCV Haar annotation figure ---------------------------------------------------------------
@dataclass
class HaarAnnotations:
    """What the stock OpenCV cascades find on one frame, in full-frame pixels."""

    frontal: list[tuple[int, int, int, int]]  # x, y, w, h
    eyes: list[tuple[int, int, int]]  # centre x, centre y, radius
    smiles: list[tuple[int, int, int, int]]  # x, y, w, h
    profiles: list[tuple[int, int, int, int]]  # x, y, w, h


@lru_cache(maxsize=None)
def _cascade(name: str) -> cv2.CascadeClassifier:
    cascade = cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / name))
    if cascade.empty():
        raise FileNotFoundError(f"OpenCV cascade {name} not found in {cv2.data.haarcascades}")
    return cascade


def haar_annotations(frame: np.ndarray, long_side: int = ANNOTATION_LONG_SIDE) -> HaarAnnotations:
    """Frontal faces, eyes and smiles inside them, and profile faces on one RGB frame (Haar cascades)."""
    gray = cv2.equalizeHist(gray_small(frame, long_side))
    scale = frame.shape[0] / gray.shape[0]  # small -> full-frame px
    min_face = max(24, gray.shape[0] // 12)
    frontal = _cascade("haarcascade_frontalface_default.xml").detectMultiScale(gray, 1.1, 6,
                                                                               minSize=(min_face, min_face))
    eyes, smiles = [], []
    for x, y, w, h in frontal:
        upper = gray[y:y + h // 2, x:x + w]
        for ex, ey, ew, eh in _cascade("haarcascade_eye.xml").detectMultiScale(upper, 1.1, 6,
                                                                               minSize=(w // 12, w // 12))[:2]:
            eyes.append((x + ex + ew / 2, y + ey + eh / 2, max(ew, eh) / 2))
        lower = gray[y + h // 2:y + h, x:x + w]
        found = _cascade("haarcascade_smile.xml").detectMultiScale(lower, 1.5, 15, minSize=(w // 5, h // 10))
        if len(found):
            sx, sy, sw, sh = max(found, key=lambda s: s[2] * s[3])
            smiles.append((x + sx, y + h // 2 + sy, sw, sh))
    profile = _cascade("haarcascade_profileface.xml")
    left = profile.detectMultiScale(gray, 1.1, 5, minSize=(min_face, min_face))
    # faces turned the other way
    right = profile.detectMultiScale(cv2.flip(gray, 1), 1.1, 5, minSize=(min_face, min_face))
    profiles = [*left, *((gray.shape[1] - x - w, y, w, h) for x, y, w, h in right)]

    def up(values) -> list[tuple[int, ...]]:
        return [tuple(int(round(v * scale)) for v in value) for value in values]

    return HaarAnnotations(up(frontal), up(eyes), up(smiles), up(profiles))


def annotated_frames(index: pd.DataFrame, data_dir: str | Path, n: int = EdaConfig.annotation_frames,
                     prefer: list[str] | tuple[str, ...] = ()) -> list[tuple[str, np.ndarray, HaarAnnotations]]:
    """(title, middle RGB frame, Haar annotations) for n readable videos: `prefer` ids first, then REAL,
    FAKE and unlabelled videos from different sources."""
    usable = index[(index["exists"] == 1) & (index["readable"] == 1)]
    usable = usable.assign(_rank=np.select([usable["video_id"].isin(prefer), usable["label"].eq(REAL).fillna(False),
                                            usable["label"].notna()], [0, 1, 2], 3))
    usable = usable.assign(_pos=usable["video_id"].map({v: i for i, v in enumerate(prefer)}))
    usable = usable.sort_values(["_rank", "_pos", "source", "video_id"])
    chosen = usable.groupby("source").head(1).head(n)
    if len(chosen) < n:
        chosen = pd.concat([chosen, usable[~usable["video_id"].isin(chosen["video_id"])].head(n - len(chosen))])
    result = []
    for row in chosen.itertuples():
        sample = sample_frames(Path(data_dir) / row.path, n=3)
        if not sample.frames:
            log.warning("%s: %s (%s), left out of the annotation figure", row.video_id, sample.status, sample.reason)
            continue
        frame = sample.frames[len(sample.frames) // 2]
        result.append((f"{row.method or row.source}: {row.filename}", frame, haar_annotations(frame)))
    return result


# --- everything at once ---------------------------------------------------------------------------
def _summary_cell(value) -> str:
    """A cell of the summary file: blank for missing, yes/no, thousands separators, 4 significant digits."""
    if pd.isna(value):
        return ""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{value:,}"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _summary_table(table: pd.DataFrame) -> str:
    """A DataFrame as a GitHub markdown table (the summary file's format)."""
    cells = pd.DataFrame([[_summary_cell(v) for v in row] for row in table.itertuples(index=False)],
                         columns=table.columns, dtype=object)
    return to_markdown(cells, floatfmt=None, index=False)


def run_eda(data_dir: str | Path, index: str | Path | None = None, full_index: str | Path | None = None,
            out_dir: str | Path = "work/eda/figures", crops_dir: str | Path | None = None,
            summary_path: str | Path = "work/eda/eda_summary.md", cfg: EdaConfig | None = None) -> dict:
    """Every EDA table and figure for a data folder: PNGs with stable names plus a markdown summary."""
    from deepfake_detection import plots

    cfg = cfg or EdaConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figures: dict[str, Path] = {}

    def save(name: str, figure) -> None:
        figures[name] = out / f"eda_{name}.png"
        figure.savefig(figures[name], dpi=120)

    table = load_index(data_dir, index)
    types = file_types(data_dir)
    labels = label_counts(table)
    lengths = video_lengths(table)
    ks = train_test_ks(lengths, cfg.ks_alpha)
    imbalance = imbalance_table(labelled(table)["label"])
    save("file_types", plots.plot_file_types(types))
    save("labels", plots.plot_label_counts(labels, title="Labels per part (indexed videos)"))
    save("lengths", plots.plot_lengths(lengths))
    save("imbalance", plots.plot_imbalance(imbalance))
    sections = [
        f"# EDA summary\n\nData: `{data_dir}` ({len(table)} indexed videos, {len(lengths)} readable).",
        "## File types\n\n" + _summary_table(types),
        "## Labels (indexed videos)\n\n" + _summary_table(labels),
        "## Video lengths\n\n" + _summary_table(length_summary(lengths).reset_index()),
        "Orientation: " + ", ".join(f"{k} {v}" for k, v in lengths["orientation"].value_counts().items())
        + ". Resolutions: " + ", ".join(f"{k} {v}" for k, v in lengths["resolution"].value_counts().items()) + ".",
    ]
    if full_index is not None:
        full = read_full_index(full_index)
        full_labels = label_counts(full)
        full_lengths = full_index_lengths(full)
        save("labels_full_index", plots.plot_label_counts(full_labels,
                                                          title=f"DFDC full training index ({len(full):,} videos)"))
        save("lengths_full_index", plots.plot_full_index_lengths(full))
        imbalance_full = imbalance_table(full["label"])
        sections += [
            f"## Full DFDC index (`{full_index}`)\n\n" + _summary_table(full_labels),
            f"Frames per video: min {full['frames'].min()}, median {full['frames'].median():g}, "
            f"max {full['frames'].max()}; "
            f"{int(full_lengths['videos'].iloc[0]):,} videos ({full_lengths['share'].iloc[0]:.1%}) have "
            f"{int(full_lengths['frames'].iloc[0])} frames.\n\n"
            + _summary_table(full_lengths.head(10)),
            "### Imbalance strategies on the full index\n\n" + _summary_table(imbalance_full),
        ]
    sections.append("## Imbalance strategies (indexed, labelled videos)\n\n" + _summary_table(imbalance))
    verdict_tt = train_test_verdict(ks, cfg.ks_alpha)
    unreadable = unreadable_counts(table)
    sections.append("## Train against test\n\n" + verdict_tt
                    + ("\n\n" + _summary_table(ks) if ks is not None else "")
                    + ("\n\nUnreadable videos:\n\n" + _summary_table(unreadable) if len(unreadable) else ""))
    if ks is not None:
        save("train_vs_test", plots.plot_train_vs_test(lengths, ks, verdict_tt))
    pairs = select_pairs(fake_original_pairs(table), cfg.pairs_per_method, cfg.min_pairs)
    result = ssim_analysis(table, data_dir, pairs, cfg, crops_dir)
    verdict_ssim = ssim_verdict(result)
    if result.grid_rows:
        save("fake_vs_original", plots.plot_fake_vs_original(result.grid_rows[:cfg.grid_pairs]))
    if not result.over_time.empty:
        save("ssim_over_time", plots.plot_ssim_over_time(result.over_time))
    if not result.vs_original.empty:
        save("ssim_fake_vs_original", plots.plot_ssim_fake_vs_original(result.vs_original))
    sections.append(
        f"## SSIM\n\nGrayscale frames downscaled to a {cfg.ssim_long_side} px long side, face regions to "
        f"{cfg.face_size} px; {cfg.frames} frames {cfg.every} apart per video. Face regions of a pair are cut "
        f"at the boxes found on the original ({cfg.detector} detector"
        f"{', over-time crops from ' + str(crops_dir) if crops_dir else ''}).\n\n{verdict_ssim}"
        + ("\n\n" + _summary_table(ssim_summary(result)) if not result.vs_original.empty else "")
        + ("\n\nConsecutive-frame SSIM per video:\n\n" + _summary_table(
            result.over_time.groupby(["video_id", "label", "region"])["ssim"].agg(["mean", "min"]).round(3)
            .reset_index())
           if not result.over_time.empty else "")
        + ("\n\nNotes: " + "; ".join(result.notes) if result.notes else ""))
    annotations = annotated_frames(table, data_dir, cfg.annotation_frames, prefer=list(pairs["original_id"]))
    if annotations:
        save("face_annotations", plots.plot_face_annotations(annotations))
    sections.append("## Figures\n\n" + "\n".join(f"- `{p}`" for p in figures.values()))
    summary = Path(summary_path)
    summary.parent.mkdir(parents=True, exist_ok=True)
    summary.write_text("\n\n".join(sections) + "\n")
    return {"figures": figures, "summary": summary, "labels": labels, "lengths": lengths, "ks": ks,
            "train_test_verdict": verdict_tt, "ssim": result, "ssim_verdict": verdict_ssim, "imbalance": imbalance}
