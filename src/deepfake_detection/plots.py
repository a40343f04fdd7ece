"""Every figure of the project, drawn from DataFrames and arrays that other modules compute.

Each function returns a `matplotlib.figure.Figure` built without pyplot, so it works on any
backend (Agg in CI, inline in notebooks) and leaks no global figure state. Callers save it.
"""

from __future__ import annotations

import cv2
import numpy as np
from matplotlib.figure import Figure

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
    for (title, original, fake), (ax_o, ax_f, ax_d) in zip(rows, axes):
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
