"""Interactive explorers of the preprocessing (notebooks 01 and 50): move a slider, see what a step does to a clip.

Four explorers, each one call in a notebook, each computed by the package's own preprocessing functions on one
clip of a clip table (a ``clip`` dropdown switches clips):

- :func:`magnification` — the magnification factor and method (two-frame Eulerian :func:`~.magnify.magnify_pair`,
  AMAN's default; the temporal IIR :func:`~.magnify.eulerian_magnify` over the clip; Oh et al. 2018 with a loaded
  network), on any frame of the segment, optionally after TIM to ``tim_length`` frames (AMAN's pipeline,
  Wei et al. 2022 eq. 1-3);
- :func:`tim` — the temporal interpolation model: how many frames go in (a short clip), how many come out;
- :func:`flow` — the optical-flow method (Farneback, TV-L1), the target frame, onset or previous reference, and
  the arrows' spacing;
- :func:`residual_sums` — Zhao et al. 2021's key frames (N_key, the segment's end, eq. 1-4) and the ARS / RRS
  images they give (eq. 5-7).

**Live or static.** ``interactive="auto"`` (the notebooks' ``INTERACTIVE`` parameter) gives live ipywidgets only
where a person is looking: an IPython kernel that a Jupyter server started for a notebook (JupyterLab, Notebook 7:
the server sets ``JPY_SESSION_NAME`` in the kernel's environment; a kernel launched by another kernel, as by papermill
called from a notebook, does not count) and no ``MER_HEADLESS`` set. papermill, nbval and nbclient start kernels
without ``JPY_SESSION_NAME``, and the course's runners (``mer_utils.course``,
``scripts/test.sh``) also set ``MER_HEADLESS=1``, so a batch run gets the default state as an ordinary matplotlib
figure — the stored outputs and the tests stay deterministic. ``interactive=True`` forces the widgets (e.g. VS Code,
whose kernels have no Jupyter server), ``False`` the figure.

**Speed.** A clip's frames are read, its face found (:func:`~.prepare.clip_face`) and aligned once; every derived
array (TIM output, magnified frame, flow field, key-frame residuals) is cached under its parameters, so moving a
slider back redraws without recomputing, and a new value costs only its own step (a few to a few hundred ms; TV-L1
about a second). The live view draws into an ``ipywidgets.Image`` (PNG) with a status line giving the draw time.
"""
from __future__ import annotations

import io
import os
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from .paths import env_flag
from .preprocess.recipe import check_choice

INTERACTIVE_CHOICES = ("auto", True, False)
#: Methods of :func:`magnification`: two-frame linear Eulerian (AMAN's default magnifier), the temporal IIR
#: Eulerian video magnification over the clip, and Oh et al. 2018's network (only with ``network=``).
MAGNIFY_METHODS = ("eulerian", "eulerian_video", "oh2018")
FLOW_REFERENCES = ("onset", "previous")
_CLIP_CACHE_SIZE = 6
_ARRAY_CACHE_SIZE = 64


# ------------------------------------------------------------------------------------------ live or static
def frontend_state() -> tuple[bool, str]:
    """``(live, reason)``: whether ``interactive="auto"`` gives live widgets here, and why (see the module doc)."""
    if env_flag("MER_HEADLESS", yes="a batch run: explorers as static figures", no="live widgets in JupyterLab"):
        return False, "MER_HEADLESS is set (a batch run)"
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False, "ipywidgets is not installed"
    try:
        from IPython import get_ipython
    except ImportError:
        return False, "not running in IPython"
    shell = get_ipython()
    if shell is None or type(shell).__name__ != "ZMQInteractiveShell":
        return False, "not running in a Jupyter kernel"
    if not os.environ.get("JPY_SESSION_NAME"):
        return False, "the kernel was not started by a Jupyter server (papermill, nbval, nbclient)"
    if _launched_by_a_kernel(os.environ.get("JPY_PARENT_PID")):
        return False, "the kernel was started from another kernel (papermill run inside a notebook)"
    return True, f"notebook session {os.environ['JPY_SESSION_NAME']!r}"


def _launched_by_a_kernel(parent_pid: str | None) -> bool:
    """Whether the process that launched this kernel (jupyter_client's ``JPY_PARENT_PID``) is itself an IPython
    kernel: papermill called from a notebook passes the notebook's ``JPY_SESSION_NAME`` on to the kernels it
    starts. Linux ``/proc`` only; elsewhere (or unreadable) False."""
    try:
        with open(f"/proc/{int(parent_pid)}/cmdline", "rb") as f:
            cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
    except (TypeError, ValueError, OSError):
        return False
    return "ipykernel" in cmdline


def is_live(interactive: Any = "auto") -> bool:
    """Resolve the notebooks' ``INTERACTIVE`` parameter: ``"auto"`` (see :func:`frontend_state`), ``True`` or
    ``False``. ``True`` without ipywidgets raises an ImportError saying what to install."""
    if isinstance(interactive, str) and interactive.strip().lower() == "auto":
        return frontend_state()[0]
    if interactive is True or interactive is False:
        if interactive:
            try:
                import ipywidgets  # noqa: F401
            except ImportError as exc:
                raise ImportError("INTERACTIVE=True needs ipywidgets (in the project's environment: "
                                  "`pip install -e .`); use INTERACTIVE='auto' or False for static figures.") from exc
        return interactive
    raise ValueError(f"INTERACTIVE={interactive!r}: expected 'auto' (widgets only in a live JupyterLab kernel), "
                     "True (always widgets) or False (always a static figure).")


# ------------------------------------------------------------------------------------------ small checks
def _check_int(name: str, value, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}={value!r}: expected an integer.")
    value = int(value)
    if value < lo or (hi is not None and value > hi):
        span = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise ValueError(f"{name}={value}: expected an integer in {span}.")
    return value


class _LRU(OrderedDict):
    """A small least-recently-used memo: ``get(key, compute)``."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def get(self, key, compute: Callable[[], Any]):  # type: ignore[override]
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = compute()
        self[key] = value
        if len(self) > self.size:
            self.popitem(last=False)
        return value


# ------------------------------------------------------------------------------------------ one clip
@dataclass
class ClipFrames:
    """One clip of a table, read once: its onset..offset segment (:func:`~.clips.clip_segment`), colour frames,
    the onset landmarks (:func:`~.prepare.clip_face`) and a memo of every array derived from them."""

    row: Any
    seg: Any
    frames: np.ndarray
    landmarks: np.ndarray | None
    memo: _LRU = field(default_factory=lambda: _LRU(_ARRAY_CACHE_SIZE))

    @classmethod
    def load(cls, row) -> "ClipFrames":
        from .preprocess.clips import clip_segment, read_positions
        from .preprocess.prepare import clip_face

        seg = clip_segment(row)
        face = clip_face(row)
        lm = np.asarray(face["landmarks"], dtype=np.float64) if face["landmarks"] is not None else None
        return cls(row, seg, read_positions(seg, range(len(seg))), lm)

    @property
    def uid(self) -> str:
        return str(self.row["clip_uid"])

    def label(self, position: int) -> str:
        """``#number`` of the frame at ``position`` of the segment (with onset / apex / offset when it is one)."""
        marks = [n for n, p in (("onset", self.seg.onset), ("apex", self.seg.apex), ("offset", self.seg.offset))
                 if p == position]
        return f"#{int(self.seg.numbers[position])}" + (f" ({', '.join(marks)})" if marks else "")

    def faces(self, size: int, crop: str) -> np.ndarray:
        """The segment's frames aligned by the onset's landmarks (:func:`~.align.alignment_transform`, one
        transform for the clip), (T, size, size, 3) uint8; the whole frame resized when no face was found."""
        def compute():
            import cv2

            from .preprocess.align import alignment_transform, warp_frames

            if self.landmarks is None:
                return np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in self.frames])
            return warp_frames(self.frames, alignment_transform(self.landmarks, size, crop=crop), size)

        return self.memo.get(("faces", size, crop), compute)

    def grey(self, size: int, crop: str) -> np.ndarray:
        return self.memo.get(("grey", size, crop),
                             lambda: self.faces(size, crop).mean(axis=-1).round().astype(np.uint8))


class ClipSource:
    """The clips of a table, each loaded on first use and kept (the last few) — shared by the explorers of one
    notebook so that a clip is read and its face found once."""

    def __init__(self, table, clip: str | None = None):
        import pandas as pd

        if not isinstance(table, pd.DataFrame) or "clip_uid" not in table.columns:
            raise TypeError("table: expected a clip table (pandas DataFrame with a 'clip_uid' column), as returned "
                            "by mer_utils.data.load_dataset or load_protocol.")
        if len(table) == 0:
            raise ValueError("table: the clip table is empty; load a dataset with clips first.")
        self.table = table.reset_index(drop=True)
        self.uids = [str(u) for u in self.table["clip_uid"]]
        self.default = self.check(clip) if clip is not None else self.uids[0]
        self._clips = _LRU(_CLIP_CACHE_SIZE)

    def check(self, clip) -> str:
        clip = str(clip)
        if clip not in self.uids:
            shown = ", ".join(self.uids[:5]) + (", ..." if len(self.uids) > 5 else "")
            raise KeyError(f"clip {clip!r} is not in the table ({len(self.uids)} clips: {shown}); pass one of its "
                           "'clip_uid' values.")
        return clip

    def __getitem__(self, clip) -> ClipFrames:
        clip = self.check(clip)
        return self._clips.get(clip, lambda: ClipFrames.load(self.table.iloc[self.uids.index(clip)]))


_SOURCES: dict[int, ClipSource] = {}


def _source(table, clip) -> ClipSource:
    """One :class:`ClipSource` per table object (the explorers of a notebook share its loaded clips)."""
    src = _SOURCES.get(id(table))
    if src is None or src.table.shape[0] != len(table) or src.uids != [str(u) for u in table["clip_uid"]]:
        src = _SOURCES[id(table)] = ClipSource(table)
    if clip is not None:
        src.check(clip)
    return src


# ------------------------------------------------------------------------------------------ drawing helpers
def _figure(width: float, height: float, layout: str | None = "tight"):
    """A matplotlib Figure outside pyplot: never shown twice by the inline backend, never left open. Its layout
    engine lays it out once, when it is drawn (an explicit ``tight_layout()`` would cost a second draw)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=90, layout=layout)


def _imshow(ax, img, title: str, **kw):
    img = np.asarray(img)
    ax.imshow(img, cmap=kw.pop("cmap", "gray" if img.ndim == 2 else None), **kw)
    ax.set_title(title, fontsize=8)
    ax.axis("off")


def _position(clip: ClipFrames, frame: int | None, name: str = "frame") -> int:
    if frame is None:
        return clip.seg.apex
    return _check_int(name, frame, 0, len(clip.seg) - 1)


# ------------------------------------------------------------------------------------------ magnification
def magnification_figure(src: ClipSource, clip: str | None = None, factor: float = 5.0, method: str = "eulerian",
                         frame: int | None = None, tim_length: int | None = None, size: int = 224,
                         crop: str = "eyes", gain: float = 4.0, network=None):
    """Onset, the chosen frame, the frame magnified ``factor`` times against the onset, and |magnified - onset|
    x ``gain``. ``frame`` is a position in the segment (default: the apex) or, with ``tim_length``, in the TIM
    sequence (AMAN: the clip is first interpolated to ``tim_length`` frames; default: its middle)."""
    from .preprocess.magnify import eulerian_magnify, magnify_against_onset
    from .preprocess.temporal import temporal_interpolate

    c = src[clip or src.default]
    try:
        factor = float(factor)
    except (TypeError, ValueError):
        raise TypeError(f"factor={factor!r}: expected a number (the magnification factor, 1 = no change).") from None
    if not np.isfinite(factor) or not 1.0 <= factor <= 100.0:
        raise ValueError(f"factor={factor!r}: expected a magnification factor in 1..100 (1 = the frame unchanged).")
    check_choice("method", method, MAGNIFY_METHODS)
    if method == "oh2018" and network is None:
        raise ValueError("method='oh2018' needs network=load_magnification_network('path/to/magnet.pth') (the "
                         "notebook's MAGNIFIER_CHECKPOINT); no weights can be downloaded here.")
    size = _check_int("size", size, 16)
    if tim_length is None:
        seq = c.faces(size, crop)
        pos = _position(c, frame)
        name = c.label(pos)
    else:
        tim_length = _check_int("tim_length", tim_length, 2, 512)
        seq = c.memo.get(("tim", size, crop, tim_length),
                         lambda: temporal_interpolate(c.faces(size, crop), tim_length, dtype=np.uint8))
        pos = tim_length // 2 if frame is None else _check_int("frame", frame, 0, tim_length - 1)
        name = f"TIM frame {pos} of {tim_length}"
    if method == "eulerian_video":
        # the temporal filter is causal: frame pos of the magnified clip depends only on frames 0..pos
        mag = c.memo.get(("video", size, crop, tim_length, factor), lambda: eulerian_magnify(seq, factor))[pos]
    else:
        mag = c.memo.get(("pair", size, crop, tim_length, pos, factor, method),
                         lambda: magnify_against_onset(seq[0], seq[pos][None], [factor], method=method,
                                                       network=network)[0, 0])
    diff = np.abs(mag.astype(np.float32) - seq[0]).mean(axis=-1)
    fig = _figure(9.6, 2.9)
    axes = fig.subplots(1, 4)
    _imshow(axes[0], seq[0], "onset" if tim_length is None else "TIM frame 0 (onset)")
    _imshow(axes[1], seq[pos], f"{name}, factor 1")
    _imshow(axes[2], mag, f"magnified x{factor:g} ({method})")
    _imshow(axes[3], np.clip(diff * gain, 0, 255), f"|magnified - onset| x{gain:g}", cmap="inferno", vmin=0,
            vmax=255)
    fig.suptitle(f"{c.uid} ({c.row.get('emotion', '')}): mean |magnified - onset| {diff.mean():.2f} grey levels",
                 fontsize=9)
    return fig


def magnification(table, clip: str | None = None, *, factor: float = 5.0, method: str = "eulerian",
                  frame: int | None = None, tim_length: int | None = None, size: int = 224, crop: str = "eyes",
                  factor_max: float = 20.0, network=None, interactive: Any = "auto"):
    """Explorer of motion magnification (Wei et al. 2022, eq. 1-3): factor, method, frame, clip — and the TIM
    length when ``tim_length`` is given (AMAN's pipeline). See :func:`magnification_figure` and the module doc."""
    src = _source(table, clip)
    kw = dict(clip=clip or src.default, factor=factor, method=method, frame=frame, tim_length=tim_length)
    fixed = dict(size=size, crop=crop, network=network)
    first = magnification_figure(src, **kw, **fixed)  # the default state; bad parameters raise here, in both modes
    if not is_live(interactive):
        return first
    import ipywidgets as W

    methods = [m for m in MAGNIFY_METHODS if m != "oh2018" or network is not None]
    c = src[kw["clip"]]
    n = tim_length or len(c.seg)
    controls = {
        "clip": W.Dropdown(options=src.uids, value=kw["clip"], description="clip"),
        "factor": W.FloatSlider(value=factor, min=1.0, max=max(float(factor_max), float(factor)), step=0.5, description="factor",
                                continuous_update=False),
        "method": W.Dropdown(options=methods, value=method, description="method"),
        "frame": W.IntSlider(value=(c.seg.apex if tim_length is None else n // 2) if frame is None else frame,
                             min=0, max=n - 1, description="frame", continuous_update=False),
    }
    if tim_length is not None:
        controls["tim_length"] = W.IntSlider(value=tim_length, min=2, max=max(64, tim_length),
                                             description="TIM length", continuous_update=False)

        def follow(change):  # the frame slider spans the TIM sequence
            controls["frame"].max = change["new"] - 1
        controls["tim_length"].observe(follow, names="value")
    else:
        def follow(change):  # the frame slider spans the new clip's segment, at its apex
            new = src[change["new"]]
            controls["frame"].max = len(new.seg) - 1
            controls["frame"].value = new.seg.apex
        controls["clip"].observe(follow, names="value")
    return Explorer(lambda **v: magnification_figure(src, **v, **fixed), controls, first)


# ------------------------------------------------------------------------------------------ TIM
def tim_figure(src: ClipSource, clip: str | None = None, n_in: int | None = None, n_out: int = 64,
               size: int = 120, crop: str = "landmarks", strip: int = 8):
    """TIM on a clip cut to ``n_in`` frames (evenly spread over the segment; default all): the grey level of the
    three most varying pixels through the input frames, the TIM curve and the ``n_out`` output frames (squares:
    nearest-frame resampling), and a strip of ``strip`` output frames as |frame - first| x 8."""
    from .preprocess.temporal import temporal_interpolate, uniform_indices
    from .preprocess.viz import plot_tim_trajectories

    c = src[clip or src.default]
    total = len(c.seg)
    n_in = total if n_in is None else _check_int("n_in", n_in, 2, total)
    n_out = _check_int("n_out", n_out, 2, 1024)
    strip = _check_int("strip", strip, 1, 16)
    grey = c.grey(_check_int("size", size, 16), crop).astype(np.float64)
    x = grey[uniform_indices(total, n_in)] if n_in < total else grey
    out = c.memo.get(("tim_grey", size, crop, n_in, n_out), lambda: temporal_interpolate(x, n_out))
    fig = _figure(9.6, 4.6)
    grid = fig.add_gridspec(2, strip, height_ratios=[2.2, 1])
    plot_tim_trajectories(x, n_out, ax=fig.add_subplot(grid[0, :]))
    for k, t in enumerate(np.linspace(0, n_out - 1, min(strip, n_out)).round().astype(int)):
        _imshow(fig.add_subplot(grid[1, k]), np.clip(np.abs(out[t] - out[0]) * 8, 0, 255),
                f"TIM frame {t}", cmap="inferno", vmin=0, vmax=255)
    fig.suptitle(f"{c.uid}: {n_in} of its {total} frames -> {n_out} TIM frames "
                 "(bottom: |TIM frame - TIM frame 0| x 8)", fontsize=9)
    return fig


def tim(table, clip: str | None = None, *, n_in: int | None = None, n_out: int = 64, size: int = 120,
        crop: str = "landmarks", interactive: Any = "auto"):
    """Explorer of the temporal interpolation model: frames in (a short clip), frames out, clip.
    See :func:`tim_figure`."""
    src = _source(table, clip)
    kw = dict(clip=clip or src.default, n_in=n_in, n_out=n_out)
    fixed = dict(size=size, crop=crop)
    first = tim_figure(src, **kw, **fixed)  # the default state; bad parameters raise here, in both modes
    if not is_live(interactive):
        return first
    import ipywidgets as W

    total = len(src[kw["clip"]].seg)
    controls = {
        "clip": W.Dropdown(options=src.uids, value=kw["clip"], description="clip"),
        "n_in": W.IntSlider(value=total if n_in is None else n_in, min=2, max=total, description="frames in",
                            continuous_update=False),
        "n_out": W.IntSlider(value=n_out, min=2, max=max(128, n_out), description="frames out",
                             continuous_update=False),
    }

    def follow(change):
        new = len(src[change["new"]].seg)
        controls["n_in"].max, controls["n_in"].value = new, new
    controls["clip"].observe(follow, names="value")
    return Explorer(lambda **v: tim_figure(src, **v, **fixed), controls, first)


# ------------------------------------------------------------------------------------------ optical flow
def flow_figure(src: ClipSource, clip: str | None = None, method: str = "farneback", frame: int | None = None,
                reference: str = "onset", step: int = 8, size: int = 224, crop: str = "landmarks"):
    """Dense flow on the aligned grey face from the onset (or the previous frame) to ``frame`` (default: the apex)
    with :func:`~.flow.optical_flow`: arrows every ``step`` px, colour, magnitude and optical strain
    (:func:`~.viz.plot_flow`)."""
    from .preprocess.flow import METHODS, flow_magnitude, optical_flow
    from .preprocess.viz import plot_flow

    c = src[clip or src.default]
    check_choice("method", method, METHODS)
    check_choice("reference", reference, FLOW_REFERENCES)
    step = _check_int("step", step, 2, 64)
    pos = _position(c, frame)
    if pos == 0:
        raise ValueError(f"frame=0 is the onset itself: expected a frame position in 1..{len(c.seg) - 1}.")
    grey = c.grey(_check_int("size", size, 16), crop)
    ref = 0 if reference == "onset" else pos - 1
    f = c.memo.get(("flow", size, crop, method, ref, pos),
                   lambda: optical_flow(grey[ref], grey[pos], method))
    fig = _figure(11.0, 3.1, layout=None)  # plot_flow places its colour bars itself
    plot_flow(f, grey[pos], step=step, axes=fig.subplots(1, 4),
              title=f"{c.uid}: {method}, {c.label(ref)} -> {c.label(pos)} "
                    f"(largest motion {float(flow_magnitude(f).max()):.2f} px)")
    return fig


def flow(table, clip: str | None = None, *, method: str = "farneback", frame: int | None = None,
         reference: str = "onset", step: int = 8, size: int = 224, crop: str = "landmarks",
         interactive: Any = "auto"):
    """Explorer of optical flow: method, target frame, reference (onset / previous), arrow spacing, clip.
    See :func:`flow_figure`."""
    from .preprocess.flow import METHODS

    src = _source(table, clip)
    kw = dict(clip=clip or src.default, method=method, frame=frame, reference=reference, step=step)
    fixed = dict(size=size, crop=crop)
    first = flow_figure(src, **kw, **fixed)  # the default state; bad parameters raise here, in both modes
    if not is_live(interactive):
        return first
    import ipywidgets as W

    c = src[kw["clip"]]
    controls = {
        "clip": W.Dropdown(options=src.uids, value=kw["clip"], description="clip"),
        "method": W.Dropdown(options=list(METHODS), value=method, description="method"),
        "frame": W.IntSlider(value=max(c.seg.apex, 1) if frame is None else frame, min=1, max=len(c.seg) - 1,
                             description="frame", continuous_update=False),
        "reference": W.ToggleButtons(options=list(FLOW_REFERENCES), value=reference, description="from"),
        "step": W.IntSlider(value=step, min=min(4, step), max=max(32, step), description="arrow step", continuous_update=False),
    }

    def follow(change):
        new = src[change["new"]]
        controls["frame"].max, controls["frame"].value = len(new.seg) - 1, max(new.seg.apex, 1)
    controls["clip"].observe(follow, names="value")
    return Explorer(lambda **v: flow_figure(src, **v, **fixed), controls, first)


# ------------------------------------------------------------------------------------------ residual sums
def residual_sums_figure(src: ClipSource, clip: str | None = None, n_key: int = 5, end: int | None = None,
                         include_end: bool = True, size: int = 320, crop: str = "landmarks"):
    """Zhao et al. 2021's key frames and residual sums: the segment start..end (eq. 1-2; ``end`` overrides it),
    ``n_key`` key frames at a fixed gap (eq. 3-4), marked on the motion curve, and the ARS (eq. 5) and RRS
    (eq. 6-7) images of the start frame and those key frames."""
    from .preprocess.residual import residual_sums
    from .preprocess.temporal import key_frames, motion_curve, residual_segment

    c = src[clip or src.default]
    n_key = _check_int("n_key", n_key, 1, 32)
    start, seg_end = residual_segment(c.seg.onset, c.seg.apex, c.seg.offset)
    end = seg_end if end is None else _check_int("end", end, start + 1, len(c.seg) - 1)
    keys = key_frames(start, end, n_key=n_key, include_end=bool(include_end))
    faces = c.faces(_check_int("size", size, 16), crop)
    q0, qk = faces[start], faces[keys]
    curve = c.memo.get(("curve", size, crop), lambda: motion_curve(c.grey(size, crop)))
    fig = _figure(9.6, 5.0)
    grid = fig.add_gridspec(2, 3, height_ratios=[1, 1.6])
    ax = fig.add_subplot(grid[0, :])
    ax.plot(c.seg.numbers, curve, "-k", lw=1)
    ax.axvspan(c.seg.numbers[start], c.seg.numbers[end], color="C0", alpha=0.12, label="segment start..end")
    for k in keys:
        ax.axvline(c.seg.numbers[k], color="C1", lw=1)
    ax.axvline(c.seg.numbers[c.seg.apex], color="C3", ls="--", lw=1, label="annotated apex")
    ax.plot([], [], color="C1", label=f"{len(keys)} key frames")
    ax.set(xlabel="frame number", ylabel="mean |frame - onset|")
    ax.legend(fontsize=7, loc="upper left")
    _imshow(fig.add_subplot(grid[1, 0]), q0, f"start {c.label(start)}")
    ars, rrs = residual_sums(q0, qk)
    _imshow(fig.add_subplot(grid[1, 1]), ars, "ARS (eq. 5)")
    _imshow(fig.add_subplot(grid[1, 2]), rrs, "RRS (eq. 6-7)")
    fig.suptitle(f"{c.uid}: key frames #{[int(c.seg.numbers[k]) for k in keys]} (N_key = {n_key}, "
                 f"gap {int(np.ceil((end - start) / (n_key + 1)))})", fontsize=9)
    return fig


def residual_sums(table, clip: str | None = None, *, n_key: int = 5, end: int | None = None,
                  include_end: bool = True, size: int = 320, crop: str = "landmarks", interactive: Any = "auto"):
    """Explorer of the key frames behind ARS / RRS: N_key, the segment's end, ``include_end``, clip.
    See :func:`residual_sums_figure`."""
    from .preprocess.temporal import residual_segment

    src = _source(table, clip)
    kw = dict(clip=clip or src.default, n_key=n_key, end=end, include_end=include_end)
    fixed = dict(size=size, crop=crop)
    first = residual_sums_figure(src, **kw, **fixed)  # the default state; bad parameters raise here, in both modes
    if not is_live(interactive):
        return first
    import ipywidgets as W

    def segment_end(c):
        return residual_segment(c.seg.onset, c.seg.apex, c.seg.offset)

    c = src[kw["clip"]]
    start, seg_end = segment_end(c)
    controls = {
        "clip": W.Dropdown(options=src.uids, value=kw["clip"], description="clip"),
        "n_key": W.IntSlider(value=n_key, min=1, max=max(12, n_key), description="N_key", continuous_update=False),
        "end": W.IntSlider(value=seg_end if end is None else end, min=start + 1, max=len(c.seg) - 1,
                           description="end", continuous_update=False),
        "include_end": W.Checkbox(value=include_end, description="last key frame = end"),
    }

    def follow(change):
        new = src[change["new"]]
        s, e = segment_end(new)
        controls["end"].min, controls["end"].max = 0, len(new.seg) - 1
        controls["end"].value = e
        controls["end"].min = s + 1
    controls["clip"].observe(follow, names="value")
    return Explorer(lambda **v: residual_sums_figure(src, **v, **fixed), controls, first)


# ------------------------------------------------------------------------------------------ the live view
def figure_png(fig, dpi: int = 90) -> bytes:
    """PNG bytes of a matplotlib figure."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


class Explorer:
    """Controls over an ``ipywidgets.Image``: every change redraws the figure ``draw(**values)`` into the image;
    the status line gives the draw time, or the error of an invalid combination (the previous image stays).
    Displays as its widget (``.widget``); :meth:`set` changes controls from code, as a slider move would."""

    def __init__(self, draw: Callable[..., Any], controls: Mapping[str, Any], first=None):
        import ipywidgets as W

        self.draw, self.controls = draw, dict(controls)
        self.image = W.Image(format="png", layout=W.Layout(max_width="100%"))
        self.status = W.HTML()
        self.draws = 0
        self._pictures = _LRU(32)  # PNG per combination of values: moving a slider back costs nothing
        items = list(self.controls.values())
        rows = [W.HBox(items[i:i + 3]) for i in range(0, len(items), 3)]
        self.widget = W.VBox(rows + [self.image, self.status])
        self.widget.add_class("mer-explorer")
        for w in items:
            w.observe(self._changed, names="value")
        if first is not None:  # the figure of the controls' initial values, already drawn
            self._pictures[tuple(self.values().items())] = figure_png(first)
        self.redraw()

    def values(self) -> dict:
        return {k: w.value for k, w in self.controls.items()}

    def redraw(self) -> None:
        t0 = time.perf_counter()
        values = self.values()
        try:
            png = self._pictures.get(tuple(values.items()), lambda: figure_png(self.draw(**values)))
        except Exception as exc:  # an invalid combination: say so, keep the last picture
            self.status.value = f"<span style='color:#b00'>{type(exc).__name__}: {exc}</span>"
            return
        self.image.value = png
        self.draws += 1
        shown = ", ".join(f"{k}={v}" for k, v in values.items() if k != "clip")
        self.status.value = f"<small>{shown} &mdash; drawn in {1000 * (time.perf_counter() - t0):.0f} ms</small>"

    def _changed(self, change) -> None:
        self.redraw()

    def set(self, **values) -> None:
        unknown = set(values) - set(self.controls)
        if unknown:
            raise ValueError(f"Unknown controls {sorted(unknown)}: expected some of {sorted(self.controls)}.")
        for k, v in values.items():
            self.controls[k].value = v

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
