"""Every figure of the project, drawn from DataFrames and arrays that other modules compute.

Each function returns a `matplotlib.figure.Figure` built without pyplot, so it works on any
backend (Agg in CI, inline in notebooks) and leaks no global figure state. Callers save it.
"""

from __future__ import annotations

import textwrap

import cv2
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import StrMethodFormatter

# Slide-readable defaults: one place for the look of every figure.
TITLE_SIZE = 13
LABEL_SIZE = 11
DIFF_CMAP = "magma"
DIFF_MIN_SCALE = 16.0  # |difference| colour scale tops out at least here (0-255 levels)


def _style(ax, title: str, xlabel: str = "", ylabel: str = "") -> None:
    ax.set_title(title, fontsize=TITLE_SIZE)
    ax.set_xlabel(xlabel, fontsize=LABEL_SIZE)
    ax.set_ylabel(ylabel, fontsize=LABEL_SIZE)
    ax.tick_params(labelsize=LABEL_SIZE - 1)


def abs_difference(original: np.ndarray, fake: np.ndarray) -> np.ndarray:
    """Per-pixel mean |original - fake| over RGB (float32 HxW, 0-255); fake resized to the original."""
    if fake.shape[:2] != original.shape[:2]:
        fake = cv2.resize(fake, (original.shape[1], original.shape[0]), interpolation=cv2.INTER_AREA)
    return np.abs(original.astype(np.float32) - fake.astype(np.float32)).mean(axis=2)


def plot_fake_vs_original(rows: list[tuple[str, np.ndarray, np.ndarray]]) -> Figure:
    """Grid of original | fake | amplified |difference| per pair: shows where the manipulation is.

    rows: (title, original RGB uint8 HxWx3, fake RGB uint8 HxWx3). The difference panel uses one
    colour scale per row (0 to the 99.5th percentile, at least DIFF_MIN_SCALE levels), shown by a
    colorbar in 0-255 intensity levels.
    """
    if not rows:
        raise ValueError("plot_fake_vs_original needs at least one (title, original, fake) row")
    height, width = rows[0][1].shape[:2]
    panel_w = 4.0
    panel_h = panel_w * height / width
    fig = Figure(figsize=(3 * panel_w + 0.8, len(rows) * (panel_h + 0.55) + 0.3), layout="constrained")
    axes = fig.subplots(len(rows), 3, squeeze=False)
    for (title, original, fake), (ax_o, ax_f, ax_d) in zip(rows, axes, strict=True):
        diff = abs_difference(original, fake)
        scale = max(DIFF_MIN_SCALE, float(np.percentile(diff, 99.5)))
        ax_o.imshow(original)
        ax_f.imshow(fake)
        image = ax_d.imshow(diff, cmap=DIFF_CMAP, vmin=0.0, vmax=scale)
        colorbar = fig.colorbar(image, ax=ax_d, fraction=0.046, pad=0.02)
        colorbar.set_label("|diff| (0-255)", fontsize=LABEL_SIZE - 2)
        colorbar.ax.tick_params(labelsize=LABEL_SIZE - 3)
        ax_o.set_title(f"{title}: original", fontsize=TITLE_SIZE - 1)
        ax_f.set_title(f"{title}: fake", fontsize=TITLE_SIZE - 1)
        ax_d.set_title(f"|difference| (mean {diff.mean():.1f})", fontsize=TITLE_SIZE - 1)
        for ax in (ax_o, ax_f, ax_d):
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle("Fake frames beside their originals", fontsize=TITLE_SIZE + 2)
    return fig


# --- stacking (inference helper) -------------------------------------------------------------------
def plot_correlation_matrix(corr, title: str = "Correlation") -> Figure:
    """Heatmap of a square correlation DataFrame (e.g. base models' OOF logits), values written in cells."""
    n = len(corr)
    fig = Figure(figsize=(1.2 * n + 2.5, 1.0 * n + 1.8), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(corr.to_numpy(), cmap="viridis", vmin=min(0.0, float(corr.to_numpy().min())), vmax=1.0)
    for i in range(n):
        for j in range(n):
            ax.text(j, i, f"{corr.iat[i, j]:.2f}", ha="center", va="center", color="white", fontsize=LABEL_SIZE)
    ax.set_xticks(range(n), corr.columns, rotation=30, ha="right")
    ax.set_yticks(range(n), corr.index)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.02)
    _style(ax, title)
    return fig


def plot_roc_curves(points) -> Figure:
    """ROC curve per model from a long DataFrame (model, fpr, tpr); AUC in the legend."""
    fig = Figure(figsize=(6, 5.5), layout="constrained")
    ax = fig.subplots()
    for model, curve in points.groupby("model", sort=False):
        auc = float(np.trapezoid(curve["tpr"], curve["fpr"]))
        ax.plot(curve["fpr"], curve["tpr"], label=f"{model} (AUC {auc:.3f})", lw=2)
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1)
    ax.legend(fontsize=LABEL_SIZE - 2, loc="lower right")
    _style(ax, "ROC curves (out-of-fold videos)", "false positive rate (REAL called FAKE)", "true positive rate")
    return fig


def plot_reliability(table) -> Figure:
    """Reliability diagram from a DataFrame (series, mean_pred, frac_fake, count): calibration before/after."""
    fig = Figure(figsize=(6, 5.5), layout="constrained")
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfect calibration")
    for series, rows in table.groupby("series", sort=False):
        ax.plot(rows["mean_pred"], rows["frac_fake"], marker="o", lw=2, label=series)
        ax.scatter(rows["mean_pred"], rows["frac_fake"], s=8 + 4 * np.sqrt(rows["count"]), alpha=0.3)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=LABEL_SIZE - 2, loc="upper left")
    _style(ax, "Reliability (marker area ~ videos per bin)", "mean predicted P(FAKE)", "observed FAKE share")
    return fig


REAL_COLOR, FAKE_COLOR, UNKNOWN_COLOR = "#2b7bba", "#d94f3d", "#9e9e9e"
SET_COLORS = {"train": "#2b7bba", "test": "#f0a030"}


def short_name(name: str) -> str:
    """Readable label for a video id or part path: FF++ folders lose their boilerplate, ids keep their tail."""
    name = name.replace("manipulated_sequences/", "").replace("original_sequences/", "").replace("/videos", "")
    return name.split("__")[-1] if "__" in name else name


def _bar_counts(ax, bars, total: float | None = None, fontsize: int = LABEL_SIZE - 1, **kwargs) -> None:
    """Write each bar's count (and share of total) on it; empty bars stay unlabelled."""
    values = [b.get_width() if kwargs.get("horizontal") else b.get_height() for b in bars]
    labels = ["" if v == 0 else f"{v:,.0f}" + (f" ({v / total:.1%})" if total else "") for v in values]
    ax.bar_label(bars, labels=labels, fontsize=fontsize, padding=2, label_type=kwargs.get("label_type", "edge"))


def plot_file_types(types) -> Figure:
    """Horizontal bars: files per extension, with the megabytes they take."""
    fig = Figure(figsize=(7, 0.5 * len(types) + 1.6), layout="constrained")
    ax = fig.subplots()
    bars = ax.barh(types["extension"], types["files"], color="#5a7d9a")
    ax.bar_label(bars, labels=[f"{n:,} files, " + (f"{mb:,.1f} MB" if mb >= 0.1 else f"{mb * 1000:,.0f} kB")
                         for n, mb in zip(types["files"], types["size_mb"], strict=True)],
                 fontsize=LABEL_SIZE - 1, padding=3)
    ax.invert_yaxis()
    ax.set_xlim(0, types["files"].max() * 1.6)
    _style(ax, "File types in the data folder", "files", "extension")
    return fig


def plot_label_counts(labels, title: str = "Labels per part") -> Figure:
    """Stacked REAL / FAKE / unknown bars per part (noting videos listed but not on disk), and the overall split."""
    parts = labels[labels.iloc[:, 0] != "all"]
    overall = labels[labels.iloc[:, 0] == "all"].iloc[0]
    names = [short_name(p) for p in parts.iloc[:, 0]]
    fig = Figure(figsize=(13, max(4.5, 0.42 * len(parts) + 1.8)), layout="constrained")
    ax_parts, ax_all = fig.subplots(1, 2, width_ratios=[2.2, 1])
    left = np.zeros(len(parts))
    for column, color in (("REAL", REAL_COLOR), ("FAKE", FAKE_COLOR), ("unknown", UNKNOWN_COLOR)):
        if parts[column].sum() == 0:
            continue
        bars = ax_parts.barh(names, parts[column], left=left, color=color, label=column)
        wide = parts[column] > 0.08 * parts["total"].max()  # narrow segments: the note beside the bar has the count
        ax_parts.bar_label(bars, labels=[f"{v:,}" if w else "" for v, w in zip(parts[column], wide, strict=True)],
                           label_type="center", fontsize=LABEL_SIZE - 2, color="white")
        left += parts[column].to_numpy()
    for y, row in enumerate(parts.itertuples()):
        split = " / ".join(f"{getattr(row, c):,} {c}" for c in ("REAL", "FAKE", "unknown") if getattr(row, c))
        share = "" if np.isnan(row.fake_share) else f", {row.fake_share:.0%} FAKE"
        missing = f" ({row.on_disk:,} on disk)" if "on_disk" in parts and row.on_disk < row.total else ""
        ax_parts.text(row.total, y, f"  {split}{share}{missing}", va="center", fontsize=LABEL_SIZE - 2)
    ax_parts.set_xlim(0, parts["total"].max() * 1.7)
    ax_parts.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    ax_parts.invert_yaxis()
    ax_parts.legend(loc="lower right", fontsize=LABEL_SIZE - 1)
    _style(ax_parts, "Per part", "videos", "")
    classes = [c for c in ("REAL", "FAKE", "unknown") if overall[c] > 0]
    colors = {"REAL": REAL_COLOR, "FAKE": FAKE_COLOR, "unknown": UNKNOWN_COLOR}
    bars = ax_all.bar(classes, [overall[c] for c in classes], color=[colors[c] for c in classes])
    _bar_counts(ax_all, bars, total=float(overall["total"]))
    ax_all.set_ylim(0, max(overall[c] for c in classes) * 1.18)
    ax_all.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    on_disk = (f", {overall['on_disk']:,} on disk" if "on_disk" in labels and overall["on_disk"] < overall["total"]
               else "")
    _style(ax_all, f"Overall ({overall['total']:,} videos{on_disk})", "label", "videos")
    fig.suptitle(title, fontsize=TITLE_SIZE + 2)
    return fig


def _hist_with_counts(ax, values, bins, color: str) -> None:
    _, _, bars = ax.hist(values, bins=bins, color=color, edgecolor="white")
    _bar_counts(ax, bars, fontsize=LABEL_SIZE - 2)


def plot_lengths(lengths) -> Figure:
    """Frames, duration, fps and resolution/orientation of the readable videos, with counts."""
    fig = Figure(figsize=(13, 8.5), layout="constrained")
    (ax_f, ax_d), (ax_fps, ax_res) = fig.subplots(2, 2)
    _hist_with_counts(ax_f, lengths["frames"], bins=min(12, max(3, lengths["frames"].nunique())), color="#5a7d9a")
    _style(ax_f, "Frames per video", "frames", "videos")
    _hist_with_counts(ax_d, lengths["duration_s"], bins=min(12, max(3, lengths["duration_s"].nunique())),
                      color="#7a9a5a")
    _style(ax_d, "Duration", "seconds", "videos")
    fps = lengths["fps"].round(2).value_counts().sort_index()
    bars = ax_fps.bar([f"{v:g}" for v in fps.index], fps.to_numpy(), color="#9a7a5a")
    _bar_counts(ax_fps, bars)
    _style(ax_fps, "Frame rate", "frames per second", "videos")
    res = lengths.groupby(["resolution", "orientation"]).size().sort_values(ascending=False).head(10)
    colors = {"landscape": "#5a7d9a", "portrait": "#d98a3d", "square": "#8a8a8a"}
    bars = ax_res.barh([r for r, _ in res.index], res.to_numpy(), color=[colors[o] for _, o in res.index])
    _bar_counts(ax_res, bars, horizontal=True)
    ax_res.invert_yaxis()
    ax_res.set_xlim(0, res.max() * 1.25)
    for orientation, color in colors.items():
        count = int((lengths["orientation"] == orientation).sum())
        if count:
            ax_res.bar(0, 0, color=color, label=f"{orientation}: {count}")
    ax_res.legend(fontsize=LABEL_SIZE - 1, loc="lower right")
    _style(ax_res, "Resolution (width x height) and orientation", "videos", "")
    for ax in (ax_f, ax_d, ax_fps):
        ax.margins(y=0.15)
    fig.suptitle(f"Video lengths ({len(lengths)} readable videos)", fontsize=TITLE_SIZE + 2)
    return fig


def plot_full_index_lengths(full) -> Figure:
    """Histogram of frames per video over the full DFDC index (log scale: 300 frames dominates)."""
    fig = Figure(figsize=(12, 5), layout="constrained")
    ax = fig.subplots()
    low, high = int(full["frames"].min()), int(full["frames"].max())
    bins = np.arange(low // 20 * 20, high + 21, 20)
    _, _, bars = ax.hist(full["frames"], bins=bins, color="#5a7d9a", edgecolor="white")
    _bar_counts(ax, bars, fontsize=LABEL_SIZE - 3)
    ax.set_yscale("log")
    ax.set_ylim(0.7, len(full) * 3)
    mode = full["frames"].mode().iloc[0]
    at_mode = int((full["frames"] == mode).sum())
    ax.set_title(f"Frames per video, full DFDC index ({len(full):,} videos; range {low}-{high}; "
                 f"{at_mode:,} = {at_mode / len(full):.1%} have exactly {mode})", fontsize=TITLE_SIZE)
    ax.set_xlabel("frames (bins of 20)", fontsize=LABEL_SIZE)
    ax.set_ylabel("videos (log scale)", fontsize=LABEL_SIZE)
    return fig


def plot_imbalance(table) -> Figure:
    """REAL and FAKE samples per epoch under each imbalance strategy, with loss weights and FAKE share."""
    fig = Figure(figsize=(11, 5), layout="constrained")
    ax = fig.subplots()
    x = np.arange(len(table))
    bars_r = ax.bar(x - 0.2, table["real_per_epoch"], 0.4, color=REAL_COLOR, label="REAL per epoch")
    bars_f = ax.bar(x + 0.2, table["fake_per_epoch"], 0.4, color=FAKE_COLOR, label="FAKE per epoch")
    _bar_counts(ax, bars_r, fontsize=LABEL_SIZE - 2)
    _bar_counts(ax, bars_f, fontsize=LABEL_SIZE - 2)
    ax.set_xticks(x, [f"{s}\nweights {r:g} / {f:g}\nFAKE share {e:.0%}" for s, r, f, e in zip(
        table["strategy"], table["real_weight"], table["fake_weight"], table["effective_fake_share"].fillna(0),
        strict=True)],
        fontsize=LABEL_SIZE - 1)
    ax.set_ylim(0, max(table["real_per_epoch"].max(), table["fake_per_epoch"].max()) * 1.18)
    ax.legend(fontsize=LABEL_SIZE - 1)
    _style(ax, "Class imbalance: samples per epoch, loss weights (REAL / FAKE) and effective FAKE share", "", "videos")
    return fig


def plot_train_vs_test(lengths, ks, verdict: str = "") -> Figure:
    """Train and test distributions side by side per feature, each titled with its KS statistic."""
    features = list(ks["feature"])
    cols = 4
    rows = int(np.ceil(len(features) / cols))
    fig = Figure(figsize=(4 * cols, 3.4 * rows + 0.8), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, row in zip(axes, ks.itertuples(), strict=False):
        values = {s: lengths.loc[lengths["set"] == s, row.feature].astype(float) for s in ("train", "test")}
        low = min(v.min() for v in values.values())
        high = max(v.max() for v in values.values())
        binary = row.feature == "portrait"
        bins = np.array([-0.5, 0.5, 1.5]) if binary else np.linspace(low, high if high > low else low + 1, 11)
        for name, series in values.items():
            ax.hist(series, bins=bins, alpha=0.55, color=SET_COLORS[name], label=f"{name} (n={len(series)})",
                    weights=np.full(len(series), 1 / max(len(series), 1)))
        mark = "differs" if row.differs else "same"
        _style(ax, f"{row.feature}: KS D={row.ks:.2f}, p={row.p_value:.3f} ({mark})", row.feature, "share of videos")
        ax.title.set_fontsize(LABEL_SIZE)
        ax.legend(fontsize=LABEL_SIZE - 2)
        if binary:
            ax.set_xticks([0, 1], ["landscape/square", "portrait"])
    for ax in axes[len(features):]:
        ax.axis("off")
    if verdict and len(axes) > len(features):
        axes[len(features)].text(0, 0.5, textwrap.fill(verdict, 42), fontsize=LABEL_SIZE - 1, va="center",
                                 transform=axes[len(features)].transAxes)
    fig.suptitle("Train against test: distribution per feature (two-sample Kolmogorov-Smirnov)",
                 fontsize=TITLE_SIZE + 2)
    return fig


def plot_ssim_over_time(over_time) -> Figure:
    """Consecutive-frame SSIM along each video, full frame and face region side by side.

    REAL solid, FAKE dashed; a fake shares its original's colour (over_time["pair"]).
    """
    regions = [r for r in ("full", "face") if (over_time["region"] == r).any()]
    fig = Figure(figsize=(7 * len(regions) + 2.5, 5), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(regions), sharey=True))
    colors = {}
    palette = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666",
               "#1f78b4", "#b2df8a", "#fb9a99", "#cab2d6"]
    for ax, region in zip(axes, regions, strict=True):
        for (video_id, label, method, pair), curve in over_time[over_time["region"] == region].groupby(
                ["video_id", "label", "method", "pair"], sort=False):
            color = colors.setdefault(pair, palette[len(colors) % len(palette)])
            ax.plot(curve["frame"], curve["ssim"], color=color, linestyle="-" if label == "REAL" else "--",
                    marker="o", markersize=3, label=f"{label} {method} {short_name(video_id)}")
        title = "Full frame" if region == "full" else "Face region"
        _style(ax, f"{title}: SSIM with the previous sampled frame", "frame index", "SSIM" if region == "full" else "")
        ax.grid(alpha=0.3)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside right center", fontsize=LABEL_SIZE - 2)
    fig.suptitle("SSIM over time (REAL solid, FAKE dashed; a fake has its original's colour)", fontsize=TITLE_SIZE + 2)
    return fig


def plot_ssim_fake_vs_original(vs_original) -> Figure:
    """Frame-aligned SSIM of each fake against its original: full frame (solid) vs face region (dashed)."""
    pairs = vs_original[["fake_id", "method", "compression"]].drop_duplicates()
    cols = min(4, len(pairs))
    rows = int(np.ceil(len(pairs) / cols))
    fig = Figure(figsize=(4.2 * cols, 3.6 * rows + 0.8), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, sharey=True, squeeze=False)).ravel()
    low = max(0.0, vs_original["ssim"].min() - 0.05)
    for ax, pair in zip(axes, pairs.itertuples(), strict=False):
        data = vs_original[vs_original["fake_id"] == pair.fake_id]
        means = {}
        for region, style, color in (("full", "-", "#2b7bba"), ("face", "--", "#d94f3d")):
            curve = data[data["region"] == region]
            if len(curve):
                means[region] = curve["ssim"].mean()
                ax.plot(curve["frame"], curve["ssim"], style, color=color, marker="o", markersize=3,
                        label=f"{'full frame' if region == 'full' else 'face region'} (mean {means[region]:.3f})")
        ax.set_ylim(low, 1.0)
        _style(ax, f"{pair.method} {pair.compression} {short_name(pair.fake_id)}".strip(), "frame index", "SSIM")
        ax.legend(fontsize=LABEL_SIZE - 2, loc="lower left")
        ax.grid(alpha=0.3)
    for ax in axes[len(pairs):]:
        ax.axis("off")
    fig.suptitle("Fake against its original, frame-aligned SSIM: full frame vs face region", fontsize=TITLE_SIZE + 2)
    return fig


def plot_face_annotations(annotated) -> Figure:
    """Frames with OpenCV Haar detections: frontal faces green, eyes red circles, smiles red, profiles blue.

    annotated: (title, RGB uint8 HxWx3 frame, eda.HaarAnnotations) per panel.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Circle, Rectangle

    aspect = max(frame.shape[0] / frame.shape[1] for _, frame, _ in annotated)  # tallest panel sets the height
    fig = Figure(figsize=(5.2 * len(annotated), 5.2 * aspect + 1.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(annotated)))
    for ax, (title, frame, found) in zip(axes, annotated, strict=True):
        ax.imshow(frame)
        width = max(1.5, frame.shape[1] / 500)
        for x, y, w, h in found.frontal:
            ax.add_patch(Rectangle((x, y), w, h, fill=False, edgecolor="lime", linewidth=width))
        for cx, cy, r in found.eyes:
            ax.add_patch(Circle((cx, cy), r, fill=False, edgecolor="red", linewidth=width))
        for x, y, w, h in found.smiles:
            ax.add_patch(Rectangle((x, y), w, h, fill=False, edgecolor="red", linewidth=width))
        for x, y, w, h in found.profiles:
            ax.add_patch(Rectangle((x, y), w, h, fill=False, edgecolor="dodgerblue", linewidth=width))
        ax.set_title(f"{title}\n{len(found.frontal)} frontal, {len(found.eyes)} eyes, {len(found.smiles)} smiles, "
                     f"{len(found.profiles)} profiles", fontsize=LABEL_SIZE)
        ax.set_xticks([])
        ax.set_yticks([])
    legend = [Line2D([], [], color="lime", lw=3, label="frontal face"),
              Line2D([], [], color="red", marker="o", markerfacecolor="none", lw=0, markersize=10, label="eye"),
              Line2D([], [], color="red", lw=3, label="smile"),
              Line2D([], [], color="dodgerblue", lw=3, label="profile face")]
    fig.legend(handles=legend, loc="outside lower center", ncol=4, fontsize=LABEL_SIZE)
    fig.suptitle("OpenCV Haar cascades on sample frames", fontsize=TITLE_SIZE + 2)
    return fig


def plot_training_curves(history, title: str = "Training") -> Figure:
    """Training loss and validation video-level balanced log loss / AUC per epoch, one line per fold.

    history: DataFrame with fold, epoch, loss and (optionally) val_video_bll, val_video_auc columns,
    as `train.train_model` writes to history.csv.
    """
    panels = [("loss", "training loss (frames)"), ("val_video_bll", "validation balanced log loss (videos)"),
              ("val_video_auc", "validation ROC AUC (videos)")]
    panels = [(column, label) for column, label in panels if column in history.columns]
    fig = Figure(figsize=(4.6 * len(panels), 3.6), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (column, label) in zip(axes, panels, strict=True):
        for fold, rows in history.groupby("fold"):
            ax.plot(rows["epoch"] + 1, rows[column], marker="o", label=f"fold {fold}")
        _style(ax, label, "epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
    axes[0].legend(fontsize=LABEL_SIZE - 2)
    fig.suptitle(title, fontsize=TITLE_SIZE + 1)
    return fig


def plot_image_grid(images: np.ndarray, row_titles: list[str] | None = None, title: str = "") -> Figure:
    """A grid of uint8 RGB images (rows, cols, H, W, 3), e.g. face crops or augmented variants of them."""
    images = np.asarray(images)
    if images.ndim == 4:
        images = images[None]
    rows, cols = images.shape[:2]
    fig = Figure(figsize=(1.6 * cols + 0.6, 1.6 * rows + 0.5), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for r in range(rows):
        for c in range(cols):
            axes[r, c].imshow(images[r, c])
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
        if row_titles:
            axes[r, 0].set_ylabel(row_titles[r], fontsize=LABEL_SIZE - 1)
    if title:
        fig.suptitle(title, fontsize=TITLE_SIZE)
    return fig


def plot_gradcam(images: np.ndarray, heatmaps: np.ndarray, titles: list[str], alpha: float = 0.45) -> Figure:
    """Crop | crop with its Grad-CAM heatmap on top, per image: where the model's P(FAKE) comes from.

    images: uint8 RGB (N, H, W, 3); heatmaps: float (N, H, W) in [0, 1]; titles: one per image.
    Two image pairs per row.
    """
    n = len(images)
    rows = (n + 1) // 2
    fig = Figure(figsize=(7.2, 1.9 * rows + 0.4), layout="constrained")
    axes = fig.subplots(rows, 4, squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for i in range(n):
        ax_image, ax_cam = axes[i // 2, 2 * (i % 2)], axes[i // 2, 2 * (i % 2) + 1]
        ax_image.imshow(images[i])
        ax_image.set_title(titles[i], fontsize=LABEL_SIZE - 2)
        ax_cam.imshow(images[i])
        shown = ax_cam.imshow(heatmaps[i], cmap="jet", alpha=alpha, vmin=0.0, vmax=1.0)
        ax_cam.set_title("Grad-CAM", fontsize=LABEL_SIZE - 2)
    if n:
        fig.colorbar(shown, ax=axes.ravel().tolist(), shrink=0.6, label="relevance to P(FAKE)")
    fig.suptitle("Where the model looks", fontsize=TITLE_SIZE)
    return fig


def plot_detection_timeline(frames, p_video: float, interval: tuple[float, float] | None,
                            threshold: float = 0.5) -> Figure:
    """P(FAKE) of each face over the video (one line per face track), with the threshold and the video score.

    frames: table with columns frame, track, p (the stack's P(FAKE) of that face) and detected (False where
    the box was interpolated between detections, drawn hollow).
    """
    fig = Figure(figsize=(7.2, 2.8), layout="constrained")
    ax = fig.subplots()
    for track, rows in frames.groupby("track", sort=True):
        rows = rows.sort_values("frame")
        line, = ax.plot(rows["frame"], rows["p"], "-", lw=1.2, label=f"face {track}")
        seen = rows["detected"].astype(bool)
        ax.plot(rows["frame"][seen], rows["p"][seen], "o", ms=4, color=line.get_color())
        ax.plot(rows["frame"][~seen], rows["p"][~seen], "o", ms=4, mfc="white", color=line.get_color())
    ax.axhline(threshold, color="grey", ls="--", lw=1, label=f"threshold {threshold:g}")
    ax.axhline(p_video, color="crimson", lw=1.5, label=f"video P(FAKE) {p_video:.2f}")
    if interval is not None:
        ax.axhspan(interval[0], interval[1], color="crimson", alpha=0.12, label="95 % interval")
    ax.set_ylim(0, 1)
    _style(ax, "P(FAKE) per frame", "frame", "P(FAKE)")
    ax.legend(fontsize=LABEL_SIZE - 3, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


# --- FF++ benchmark (benchmark helper) --------------------------------------------------------------
def plot_metric_by_subset(table, metric: str = "balanced_log_loss") -> Figure:
    """Grouped bars of one metric per evaluation subset (all, each method, each compression) and model.

    table: benchmark.results_table rows (model, subset, METRIC, METRIC_low, METRIC_high, prior_METRIC);
    error bars are the bootstrap 95 % intervals, black ticks the constant-prior value of each subset.
    """
    subsets = list(dict.fromkeys(table["subset"]))
    models = list(dict.fromkeys(table["model"]))
    width = 0.8 / max(1, len(models))
    fig = Figure(figsize=(max(7.0, 1.3 * len(subsets) + 2), 4.8), layout="constrained")
    ax = fig.subplots()
    x = np.arange(len(subsets))
    for i, model in enumerate(models):
        rows = table[table["model"] == model].set_index("subset").reindex(subsets)
        value = rows[metric].to_numpy(float)
        err = np.vstack([value - rows[f"{metric}_low"].to_numpy(float), rows[f"{metric}_high"].to_numpy(float) - value])
        ax.bar(x + (i - (len(models) - 1) / 2) * width, value, width, yerr=np.clip(err, 0, None), capsize=2,
               label=model)
    prior = table.drop_duplicates("subset").set_index("subset").reindex(subsets)[f"prior_{metric}"].to_numpy(float)
    ax.scatter(x, prior, marker="_", s=900, color="black", zorder=3, label="constant prior")
    ax.set_xticks(x, [s.replace("method=", "").replace("compression=", "") for s in subsets], rotation=20)
    ax.legend(fontsize=LABEL_SIZE - 3, ncol=2)
    _style(ax, f"{metric} by subset (out-of-fold videos, 95 % group-bootstrap intervals)", "", metric)
    return fig
