"""Helpers of the data tour (notebook 00) that use the synthetic ground truth: folder trees, the intensity
curve beside the measured motion, landmarks with their apex displacement, clip animations, onset-frame face
detection rates, and a small learnability check of a synthetic set.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd


def layout_tree(folder: str | os.PathLike, depth: int = 4, max_entries: int = 3, skip=("_synthetic_gt",)) -> str:
    """A compact text tree of a dataset folder: at most ``max_entries`` entries per folder, then ``... (N more)``.

    Folders named in ``skip`` (the generator's ground truth) are left out, as a loader never sees them.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder; expected a dataset folder such as <root>/CASME2.")
    lines = [folder.name + "/"]

    def walk(path: Path, prefix: str, level: int) -> None:
        entries = sorted((e for e in os.scandir(path) if e.name not in skip), key=lambda e: (not e.is_dir(), e.name))
        shown = entries[:max_entries]
        for k, e in enumerate(shown):
            last = k == len(shown) - 1 and len(entries) <= max_entries
            lines.append(f"{prefix}{'└── ' if last else '├── '}{e.name}{'/' if e.is_dir() else ''}")
            if e.is_dir() and level < depth:
                walk(Path(e.path), prefix + ("    " if last else "│   "), level + 1)
        if len(entries) > max_entries:
            lines.append(f"{prefix}└── ... ({len(entries) - max_entries} more)")

    walk(folder, "", 1)
    return "\n".join(lines)


def raw_rows(path: str | os.PathLike, sheet: int | str = 0, rows: int = 5, start: int = 0) -> pd.DataFrame:
    """The first cells of a spreadsheet **as stored** (text stays text: ``'01'``, ``'/'``), one column per cell,
    with the Python type of each cell of the first data row in the column name."""
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        ws = wb.worksheets[sheet] if isinstance(sheet, int) else wb[sheet]
        cells = [list(r) for r in ws.iter_rows(min_row=start + 1, max_row=start + rows, values_only=True)]
    finally:
        wb.close()
    width = max(len(r) for r in cells) if cells else 0
    cells = [r + [None] * (width - len(r)) for r in cells]
    return pd.DataFrame(cells, index=[f"row {start + i + 1}" for i in range(len(cells))],
                        columns=[f"{chr(65 + j)}" for j in range(width)])


def plot_intensity_curve(record: dict, frame_numbers: Sequence[int] | None = None,
                         measured: Sequence[float] | None = None, ax=None, title: str | None = None):
    """The generator's expression intensity over the clip (0 neutral .. 1 apex) and the blink curve, with the
    annotated onset / apex / offset (solid) and the true ones (dotted); ``measured`` (e.g. the mean absolute
    difference to the first frame, for ``frame_numbers``) is drawn on a second axis."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 2.8))
    numbers = np.arange(record["first_frame"], record["first_frame"] + len(record["intensity"]))
    ax.plot(numbers, record["intensity"], color="C0", lw=2, label="expression intensity (ground truth)")
    if any(record.get("blink", [])):
        ax.plot(numbers, record["blink"], color="C7", lw=1, label="blink (nuisance)")
    for key, colour in (("onset", "C2"), ("apex", "C3"), ("offset", "C4")):
        ax.axvline(record[key], color=colour, lw=1.2, label=f"{key} (annotated) {record[key]}")
        ax.axvline(record[f"true_{key}"], color=colour, lw=1.2, ls=":")
    ax.set_xlabel("frame number")
    ax.set_ylabel("intensity")
    ax.set_ylim(-0.05, 1.1)
    if measured is not None:
        ax2 = ax.twinx()
        xs = np.asarray(frame_numbers if frame_numbers is not None else numbers[:len(measured)])
        ax2.plot(xs, measured, color="k", lw=1, ls="--", label="measured |frame - first frame|")
        ax2.set_ylabel("grey levels")
        ax2.legend(loc="upper right", fontsize=7)
    ax.legend(loc="upper left", fontsize=7)
    ax.set_title(title or f"{record['clip_uid']}: {record['emotion']} (AUs "
                 f"{'+'.join(a['token'] for a in record['aus'])}, apex {max(a['intensity'] for a in record['aus']):.3f} IOD)",
                 fontsize=9, loc="left")
    return ax


def plot_landmarks(image: np.ndarray, truth_onset: np.ndarray, truth_apex: np.ndarray | None = None,
                   detected: np.ndarray | None = None, scale: float = 10.0, ax=None, title: str | None = None):
    """An onset frame with the generator's landmarks (dots), dlib's landmarks (crosses) and the ground-truth
    landmark motion onset -> apex magnified ``scale`` times (arrows)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4, 3.5))
    ax.imshow(image, cmap="gray" if np.ndim(image) == 2 else None)
    t = np.asarray(truth_onset)
    ax.scatter(t[:, 0], t[:, 1], s=6, c="yellow", label="ground truth")
    if detected is not None:
        d = np.asarray(detected)
        ax.scatter(d[:, 0], d[:, 1], s=10, c="cyan", marker="x", lw=0.7, label="dlib")
    if truth_apex is not None:
        move = (np.asarray(truth_apex) - t) * scale
        big = np.linalg.norm(move, axis=1) > 0.3
        ax.quiver(t[big, 0], t[big, 1], move[big, 0], move[big, 1], color="red", angles="xy", scale_units="xy",
                  scale=1, width=0.006, label=f"onset -> apex x{scale:g}")
    ax.legend(fontsize=6, loc="lower left")
    ax.axis("off")
    ax.set_title(title or "", fontsize=9)
    return ax


def clip_animation(frames: np.ndarray, amplify: float | None = 10.0, fps: float = 8.0, width: int = 160,
                   titles: Sequence[str] | None = None, dpi: int = 72) -> str:
    """A small HTML animation (matplotlib ``to_jshtml``) of a clip, and beside it the same clip with every
    frame's difference to the first frame multiplied by ``amplify`` (a crude linear magnification that makes
    the micro-expression visible). Frames are resized to ``width`` pixels wide and embedded as JPEG at ``dpi``,
    so a notebook stays small."""
    import cv2
    import matplotlib.pyplot as plt
    from matplotlib import animation

    frames = np.asarray(frames)
    h, w = frames.shape[1:3]
    size = (int(width), int(round(h * width / w)))
    small = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]).astype(np.float32)
    panels = [small]
    if amplify:
        panels.append(np.clip(small[:1] + amplify * (small - small[:1]), 0, 255))
    grey = small.ndim == 3
    fig, axes = plt.subplots(1, len(panels), figsize=(2.2 * len(panels), 2.2 * size[1] / size[0] + 0.3))
    axes = np.atleast_1d(axes)
    images = []
    names = titles or (["clip", f"difference x{amplify:g}"] if amplify else ["clip"])
    for ax, p, name in zip(axes, panels, names):
        images.append(ax.imshow(p[0].astype(np.uint8), cmap="gray" if grey else None, vmin=0, vmax=255))
        ax.set_title(name, fontsize=8)
        ax.axis("off")
    fig.tight_layout()

    def update(i):
        for im, p in zip(images, panels):
            im.set_data(p[i].astype(np.uint8))
        return images

    anim = animation.FuncAnimation(fig, update, frames=len(small), interval=1000.0 / fps, blit=True)
    with plt.rc_context({"animation.frame_format": "jpeg", "savefig.dpi": dpi}):  # small embedded frames
        html = anim.to_jshtml(default_mode="loop")
    plt.close(fig)
    return html


def onset_detection_rate(table: pd.DataFrame, max_clips: int | None = None) -> dict:
    """Fraction of clips whose onset frame has a face found by dlib's HOG detector (what every recipe relies
    on). ``table``: a clip table (``frame_paths``, ``frame_numbers``, ``onset``). Returns counts and misses."""
    import cv2

    from .faces import detect_faces

    rows = table if max_clips is None else table.iloc[:max_clips]
    found, misses = 0, []
    for _, row in rows.iterrows():
        numbers = list(row["frame_numbers"])
        k = int(np.argmin(np.abs(np.asarray(numbers) - int(row["onset"]))))
        img = cv2.imread(row["frame_paths"][k], cv2.IMREAD_GRAYSCALE)
        if img is not None and detect_faces(img):
            found += 1
        else:
            misses.append(row["clip_uid"])
    n = len(rows)
    return {"clips": n, "found": found, "rate": found / n if n else float("nan"), "misses": misses}


def flow_features(onset: np.ndarray, apex: np.ndarray, landmarks: np.ndarray, grid=(8, 8), size=(96, 112)) -> np.ndarray:
    """Farneback optical flow onset -> apex on the eye-aligned face (``size`` = width, height), averaged in a
    ``grid`` of cells: a deliberately simple feature for checking that a set is learnable."""
    import cv2

    def grey(x):
        return x if x.ndim == 2 else cv2.cvtColor(x, cv2.COLOR_RGB2GRAY)

    lm = np.asarray(landmarks, dtype=np.float64)
    left, right = lm[36:42].mean(axis=0), lm[42:48].mean(axis=0)
    angle = np.degrees(np.arctan2(right[1] - left[1], right[0] - left[0]))
    scale = 0.42 * size[0] / np.linalg.norm(right - left)
    centre = (left + right) / 2
    M = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, scale)
    M[:, 2] += np.array([size[0] / 2, 0.36 * size[1]]) - centre
    a, b = (cv2.warpAffine(grey(x), M, size) for x in (onset, apex))
    flow = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    gy, gx = grid
    h, w = (size[1] // gy) * gy, (size[0] // gx) * gx
    return flow[:h, :w].reshape(gy, h // gy, gx, w // gx, 2).mean(axis=(1, 3)).ravel()


def learnability_check(table: pd.DataFrame, label_column: str = "label", C: float = 0.1) -> dict:
    """Leave-one-subject-out accuracy of a linear SVM on :func:`flow_features` (onset -> annotated apex).

    A sanity check of a synthetic set, not a method of the papers: it should be clearly above chance (the
    expressions carry the label) and clearly below 100% (they are subtle, and nuisances move the face too).
    Returns pooled accuracy, UAR, chance level, and per-clip predictions.
    """
    import cv2
    from sklearn.metrics import accuracy_score, recall_score
    from sklearn.model_selection import LeaveOneGroupOut
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    from .faces import detect_faces, landmarks_in_box

    X, y, groups = [], [], []
    for _, row in table.iterrows():
        numbers = np.asarray(row["frame_numbers"])
        pick = lambda n: cv2.imread(row["frame_paths"][int(np.argmin(np.abs(numbers - int(n))))], cv2.IMREAD_GRAYSCALE)
        onset, apex = pick(row["onset"]), pick(row["apex"])
        boxes = detect_faces(onset)
        if not boxes:
            continue
        X.append(flow_features(onset, apex, landmarks_in_box(onset, boxes[0])))
        y.append(row[label_column])
        groups.append(row.get("subject_uid", row["subject"]))
    X, y, groups = np.asarray(X), np.asarray(y), np.asarray(groups)
    if len(np.unique(groups)) < 2:
        raise ValueError("learnability_check needs clips of at least two subjects (leave-one-subject-out).")
    pred = np.empty_like(y)
    for train, test in LeaveOneGroupOut().split(X, y, groups):
        model = make_pipeline(StandardScaler(), LinearSVC(C=C, max_iter=20000, random_state=0))
        model.fit(X[train], y[train])
        pred[test] = model.predict(X[test])
    classes = np.unique(y)
    return {"clips": int(len(y)), "subjects": int(len(np.unique(groups))), "classes": int(len(classes)),
            "accuracy": float(accuracy_score(y, pred)), "uar": float(recall_score(y, pred, average="macro")),
            "chance_uar": 1.0 / len(classes),
            "predictions": pd.DataFrame({"true": y, "pred": pred, "subject": groups})}


def plot_class_and_subject_counts(tables: dict, column: str = "emotion"):
    """One row per dataset: clips per class (left) and clips per subject (right)."""
    import matplotlib.pyplot as plt

    tables = {k: t for k, t in tables.items() if len(t)}
    fig, axes = plt.subplots(len(tables), 2, figsize=(10, 1.9 * len(tables)), squeeze=False,
                             gridspec_kw={"width_ratios": [1, 1.6]})
    for (name, t), (a, b) in zip(tables.items(), axes):
        t[column].astype(str).value_counts().plot.barh(ax=a, color="C0")
        a.invert_yaxis()
        a.set_title(f"{name}: {len(t)} clips", fontsize=9, loc="left")
        a.tick_params(labelsize=7)
        t["subject"].value_counts().sort_index().plot.bar(ax=b, color="C1")
        b.set_title(f"{t['subject'].nunique()} subjects: clips per subject", fontsize=9, loc="left")
        b.tick_params(labelsize=6)
        b.set_xlabel("")
    fig.tight_layout()
    return axes
