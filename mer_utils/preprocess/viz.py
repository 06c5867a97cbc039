"""Pictures of the preprocessing steps (notebook 01). Generic plots (frame strips, confusion matrices) are in
:mod:`mer_utils.plots`; these draw what only preprocessing has: detections, TIM curves, flow fields, magnified
differences. Each function returns the matplotlib Axes (or an array of them)."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .faces import FaceLandmarks, draw_landmarks
from .flow import flow_magnitude, flow_to_colour, optical_strain
from .temporal import _curve, _path_laplacian_eigenvectors, temporal_interpolate, tim_positions, uniform_indices


def _plt():
    import matplotlib.pyplot as plt

    return plt


def show_images(images: Sequence[np.ndarray], titles: Sequence[str] | None = None, ncols: int | None = None,
                size: float = 2.2, cmap: str | None = "gray", suptitle: str | None = None, axes=None):
    """Images side by side (grey ones with ``cmap``), one title each."""
    plt = _plt()
    n = len(images)
    ncols = ncols or n
    nrows = int(np.ceil(n / ncols))
    if axes is None:
        _, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows * 1.05), squeeze=False)
    axes = np.asarray(axes).ravel()
    for ax, k in zip(axes, range(len(axes))):
        ax.axis("off")
        if k < n:
            img = np.asarray(images[k])
            ax.imshow(img, cmap=cmap if img.ndim == 2 else None)
            if titles is not None:
                ax.set_title(titles[k], fontsize=8)
    if suptitle:
        axes[0].figure.suptitle(suptitle, fontsize=10)
    return axes


def plot_detections(frame: np.ndarray, detections: Mapping[str, FaceLandmarks | None], axes=None):
    """One panel per detector: its box and the 68 landmarks found in it (or 'no face')."""
    images, titles = [], []
    for name, face in detections.items():
        images.append(frame if face is None else draw_landmarks(frame, face))
        titles.append(f"{name}: no face" if face is None else name)
    return show_images(images, titles, size=3.0, axes=axes)


def plot_tim_basis(n: int = 10, ax=None):
    """The path graph's Laplacian eigenvectors (columns of V0, REFERENCE.md §4) at the n frame positions,
    with the continuous sinusoids that TIM evaluates between them."""
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3))
    v0 = _path_laplacian_eigenvectors(n)
    dense = np.linspace(0, 1, 200)
    curves = _curve(n, dense)
    pos = tim_positions(n)
    for k in range(min(4, n - 1)):
        c = v0[0, k] / _curve(n, np.zeros(1))[k, 0]
        line, = ax.plot(dense, c * curves[k], lw=1)
        ax.plot(pos, v0[:, k], "o", color=line.get_color(), ms=4, label=f"k = {k + 1}")
    ax.set_xlabel("position t on the curve")
    ax.set_title(f"TIM basis for N = {n} frames (dots: Laplacian eigenvectors)", fontsize=9)
    ax.legend(fontsize=7, ncol=4)
    return ax


def plot_tim_trajectories(frames: np.ndarray, n_out: int, pixels: Sequence[tuple] | None = None, ax=None):
    """Grey level of a few pixels over time: the input frames, the TIM curve through them, and the ``n_out``
    TIM frames; uniform resampling (nearest frame) for comparison."""
    plt = _plt()
    x = np.asarray(frames, dtype=np.float64)
    if x.ndim == 4:
        x = x.mean(axis=-1)
    n, h, w = x.shape
    if pixels is None:
        var = x.std(axis=0)
        flat = np.argsort(var.ravel())[::-1][:3]
        pixels = [tuple(np.unravel_index(i, var.shape)) for i in flat]
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3))
    dense = temporal_interpolate(x, 300)
    out = temporal_interpolate(x, n_out)
    uni = x[uniform_indices(n, n_out)]
    t_in, t_out = tim_positions(n), np.linspace(0, 1, n_out)
    for (r, c) in pixels:
        line, = ax.plot(np.linspace(0, 1, 300), dense[:, r, c], lw=1)
        col = line.get_color()
        ax.plot(t_in, x[:, r, c], "o", color=col, ms=4)
        ax.plot(t_out, out[:, r, c], "x", color=col, ms=4)
        ax.plot(t_out, uni[:, r, c], "s", mfc="none", color=col, ms=3, alpha=0.5)
    ax.set_xlabel("normalised time")
    ax.set_ylabel("grey level")
    ax.set_title(f"TIM: {n} frames (o) -> {n_out} frames (x); squares = nearest-frame resampling", fontsize=9)
    return ax


def plot_motion_curve(curve: np.ndarray, numbers: Sequence[int], marks: Mapping[str, int] | None = None, ax=None):
    """A per-frame motion curve (e.g. :func:`~mer_utils.preprocess.temporal.motion_curve`) with labelled frame
    numbers marked (onset, annotated apex, spotted apex, key frames)."""
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 2.6))
    ax.plot(numbers, curve, "-k", lw=1)
    styles = ["--", ":", "-.", "-"]
    for i, (name, number) in enumerate((marks or {}).items()):
        ax.axvline(number, ls=styles[i % len(styles)], color=f"C{i}", label=name)
    ax.set_xlabel("frame number")
    ax.set_ylabel("mean |frame - onset|")
    if marks:
        ax.legend(fontsize=7)
    return ax


def plot_flow(flow: np.ndarray, frame: np.ndarray | None = None, title: str = "", step: int = 8, axes=None):
    """Four panels: the frame with flow arrows, flow as colour, magnitude, optical strain."""
    plt = _plt()
    f = np.asarray(flow, dtype=np.float32)
    if axes is None:
        _, axes = plt.subplots(1, 4, figsize=(11, 2.9))
    h, w = f.shape[:2]
    yy, xx = np.mgrid[step // 2:h:step, step // 2:w:step]
    if frame is not None:
        axes[0].imshow(frame, cmap="gray" if np.asarray(frame).ndim == 2 else None)
    axes[0].quiver(xx, yy, f[yy, xx, 0], f[yy, xx, 1], color="yellow", angles="xy", scale_units="xy",
                   scale=max(float(flow_magnitude(f).max()) / step, 1e-6))
    axes[1].imshow(flow_to_colour(f))
    im2 = axes[2].imshow(flow_magnitude(f), cmap="magma")
    im3 = axes[3].imshow(optical_strain(f), cmap="viridis")
    for ax, t in zip(axes, ["arrows", "colour (hue = direction)", "magnitude (px)", "optical strain"]):
        ax.set_title(t, fontsize=8)
        ax.axis("off")
    # the axes' own figure (not pyplot's current one): also right for a figure made outside pyplot
    axes[2].figure.colorbar(im2, ax=axes[2], fraction=0.046)
    axes[3].figure.colorbar(im3, ax=axes[3], fraction=0.046)
    if title:
        axes[0].figure.suptitle(title, fontsize=10)
    return axes


def plot_magnification(onset: np.ndarray, frame: np.ndarray, magnified: np.ndarray, factors: Sequence[float],
                       gain: float = 4.0, axes=None):
    """Top row: the frame magnified with each factor; bottom row: |magnified - onset| x ``gain`` (the motion the
    magnification makes visible)."""
    plt = _plt()
    k = len(factors)
    if axes is None:
        _, axes = plt.subplots(2, k, figsize=(2.0 * k, 4.3), squeeze=False)
    on = np.asarray(onset, dtype=np.float32)
    for j in range(k):
        img = np.asarray(magnified[j])
        axes[0, j].imshow(img, cmap="gray" if img.ndim == 2 else None)
        axes[0, j].set_title(f"factor {factors[j]:g}", fontsize=8)
        diff = np.abs(img.astype(np.float32) - on)
        diff = diff.mean(axis=-1) if diff.ndim == 3 else diff
        axes[1, j].imshow(np.clip(diff * gain, 0, 255), cmap="inferno", vmin=0, vmax=255)
        axes[1, j].set_title(f"|mag - onset| x{gain:g}", fontsize=8)
        for ax in axes[:, j]:
            ax.axis("off")
    return axes
