"""Pipeline glue for Reddy et al. 2019 (MicroExpSTCNN / MicroExpFuseNet), on the shared data, preprocessing and
training code.

What lives here (and why it is not in the shared modules):

* :func:`apex_window` — CAS(ME)² frame windows. The authors' code reads frames 72..167 of their own cut videos;
  the CAS(ME)² coding gives onset..offset, usually far shorter than 96 frames. We take ``T`` frames of the
  video centred on each expression's apex (the shared recipe then reads them with ``segment="clip"``).
* :class:`GlobalMeanMaxNormaliser` — the authors' normalisation (subtract the global mean, divide by the global
  max of the centred data), fitted on the **training clips of each fold only** (their script fits it on all
  clips before splitting).
* :class:`ReddyTorchMethod` — the shared :class:`~mer_utils.training.TorchMethod` plus that per-fold
  normalisation, tracking the test set after every epoch (for Table VIII only; no epoch is chosen on it).
* :func:`authors_config` — SGD (lr 0.01, no momentum: Keras' default ``'SGD'``), cross-entropy, 100 epochs,
  batch 8 (Section IV-B).
* :func:`epoch_accuracy` / :func:`last_epochs_summary` — Table VIII (mean ± std over the last 10 epochs).
* :func:`saliency_region_shares` — Fig. 4 / Section V-D: which face regions carry the gradient saliency.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from ..models.reddy2019 import PAPER_KERNEL_SIZE, build_model
from ..training import ClipDataset, FoldOutput, TorchMethod, TrainConfig

__all__ = [
    "apex_window", "prepare_reddy", "model_inputs", "ModelFactory", "GlobalMeanMaxNormaliser", "ReddyTorchMethod",
    "authors_config", "epoch_accuracy", "last_epochs_summary", "subject_overlap", "saliency_region_shares",
    "face_roi_boxes", "kernel_label", "parse_kernel",
]


# ----------------------------------------------------------------------------------------------- frames
def apex_window(table: pd.DataFrame, n_frames: int) -> pd.DataFrame:
    """A copy of a clip table whose ``frame_numbers`` / ``frame_paths`` are ``n_frames`` frames of each clip's
    video (``frame_dir``) centred on the apex (the middle of onset..offset when the apex is missing), shifted to
    stay inside the video. Videos shorter than ``n_frames`` keep all their frames (the recipe then resamples them
    and flags ``short_clip``). Adds ``window_start`` / ``window_stop`` (frame numbers).

    Used for CAS(ME)², whose clip rows list only onset..offset (often fewer than 10 frames at 30 fps) while the
    paper feeds 96 frames per clip (Section IV-B; the authors' code reads frames 72..167 of their cut videos).
    """
    from ..data.frames import scan_frames

    if n_frames < 1:
        raise ValueError(f"n_frames must be >= 1, got {n_frames}.")
    missing = [c for c in ("frame_dir", "onset", "offset", "frame_numbers") if c not in table.columns]
    if missing:
        raise KeyError(f"apex_window needs a clip table from mer_utils.data (columns frame_dir, onset, apex, offset, "
                       f"frame_numbers); missing {missing}.")
    out = table.copy()
    listing: dict[str, tuple[np.ndarray, list]] = {}
    numbers_col, paths_col, starts, stops = [], [], [], []
    for _, row in table.iterrows():
        folder = str(row["frame_dir"])
        if folder not in listing:
            nums, paths = scan_frames(folder)
            listing[folder] = (np.asarray(nums, dtype=np.int64), list(paths))
        nums, paths = listing[folder]
        if len(nums) == 0:
            raise ValueError(f"Clip {row['clip_uid']}: no frames in {folder}; expected the video's image files.")
        apex = row.get("apex")
        if apex is None or pd.isna(apex) or bool(row.get("apex_estimated", False)):
            apex = (int(row["onset"]) + int(row["offset"])) // 2
        centre = int(np.clip(np.searchsorted(nums, int(apex)), 0, len(nums) - 1))
        if len(nums) <= n_frames:
            lo, hi = 0, len(nums)
        else:
            lo = int(np.clip(centre - n_frames // 2, 0, len(nums) - n_frames))
            hi = lo + n_frames
        numbers_col.append([int(n) for n in nums[lo:hi]])
        paths_col.append(paths[lo:hi])
        starts.append(int(nums[lo]))
        stops.append(int(nums[hi - 1]))
    out["frame_numbers"] = numbers_col
    out["frame_paths"] = paths_col
    out["n_frames"] = [len(p) for p in paths_col]
    out["window_start"] = starts
    out["window_stop"] = stops
    return out


def prepare_reddy(table: pd.DataFrame, n_frames: int, window: str = "start", progress: bool = True, **params):
    """Run the shared ``reddy2019`` recipe (dlib landmarks, landmark-bounded crops, grey, INTER_AREA, T frames).

    ``window="start"``: the first ``n_frames`` frames of the clip, as the authors' SMIC script does
    (``temporal="fixed"``, ``frame_start=0``). ``window="apex"``: ``n_frames`` frames of the video centred on the
    apex (:func:`apex_window`; used for CAS(ME)²). Returns the shared :class:`~mer_utils.preprocess.Prepared`.
    """
    from ..preprocess import prepare

    if window == "apex":
        table = apex_window(table, n_frames)
        params = {"segment": "clip", "temporal": "fixed", "frame_start": 0, **params}
    elif window != "start":
        raise ValueError(f"window must be 'start' (first T frames, authors' SMIC code) or 'apex' (T frames "
                         f"centred on the apex), got {window!r}.")
    return prepare("reddy2019", table, params={"n_frames": int(n_frames), **params}, progress=progress)


def model_inputs(prep, model: str) -> np.ndarray:
    """The uint8 input array of one of the three models from a prepared ``reddy2019`` result.

    MicroExpSTCNN: the face, ``(N, 1, T, 64, 64)``; MicroExpFuseNet: eyes and nose-mouth stacked as channels,
    ``(N, 2, T, 32, 32)`` (the model splits them again).
    """
    if model == "MicroExpSTCNN":
        return np.ascontiguousarray(np.asarray(prep.arrays["face"])[:, None])
    if model.startswith("MicroExpFuseNet"):
        return np.ascontiguousarray(np.stack([np.asarray(prep.arrays["eyes"]), np.asarray(prep.arrays["nose_mouth"])],
                                             axis=1))
    raise ValueError(f"Unknown model {model!r}: expected 'MicroExpSTCNN' or 'MicroExpFuseNet-<fusion>'.")


# ------------------------------------------------------------------------------------------------ models
@dataclass(frozen=True)
class ModelFactory:
    """``num_classes -> nn.Module`` for the CV runner; a dataclass so its settings enter the result hash."""

    name: str = "MicroExpSTCNN"
    frames: int = 18
    kernel_size: tuple = PAPER_KERNEL_SIZE
    face_size: int = 64
    region_size: int = 32
    init: str = "keras"

    def __call__(self, num_classes: int):
        return build_model(self.name, num_classes=num_classes, frames=self.frames, kernel_size=tuple(self.kernel_size),
                           face_size=self.face_size, region_size=self.region_size, init=self.init)


def kernel_label(kernel: Sequence[int]) -> str:
    """``(3, 3, 15)`` -> ``"3x3x15"`` (the paper's rows x cols x frames)."""
    return "x".join(str(int(k)) for k in kernel)


def parse_kernel(label: str) -> tuple[int, int, int]:
    """``"3x3x15"`` -> ``(3, 3, 15)``."""
    parts = str(label).lower().split("x")
    if len(parts) != 3 or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"Kernel label {label!r}: expected 'rows x cols x frames' such as '3x3x15'.")
    return tuple(int(p) for p in parts)  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------- normalisation
class GlobalMeanMaxNormaliser:
    """The authors' normalisation (their scripts: ``x -= mean(x); x /= max(x)``), one mean and max per input
    channel (the face; or the eye and nose-mouth regions, which their FuseNet scripts normalise separately).

    :meth:`fit` sees the **training clips only**; the same numbers are then applied to the test clips.
    """

    def __init__(self):
        self.mean: np.ndarray | None = None
        self.scale: np.ndarray | None = None

    def fit(self, clips) -> "GlobalMeanMaxNormaliser":
        """``clips``: an iterable of ``(C, T, H, W)`` arrays/tensors (the training clips)."""
        total, count, peak = None, 0, None
        for x in clips:
            a = np.asarray(x.numpy() if hasattr(x, "numpy") else x, dtype=np.float64)
            if a.ndim != 4:
                raise ValueError(f"GlobalMeanMaxNormaliser.fit: expected clips of shape (C, T, H, W), got {a.shape}.")
            flat = a.reshape(a.shape[0], -1)
            total = flat.sum(1) if total is None else total + flat.sum(1)
            peak = flat.max(1) if peak is None else np.maximum(peak, flat.max(1))
            count += flat.shape[1]
        if total is None:
            raise ValueError("GlobalMeanMaxNormaliser.fit: no training clips given.")
        self.mean = total / count
        scale = peak - self.mean
        self.scale = np.where(scale > 0, scale, 1.0)
        return self

    def __call__(self, x):
        """Normalise one clip ``(C, T, H, W)`` (tensor or array) -> float32 tensor."""
        import torch

        if self.mean is None:
            raise RuntimeError("GlobalMeanMaxNormaliser: call fit(training clips) first.")
        t = torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x).float()
        shape = (-1,) + (1,) * (t.dim() - 1)
        m = torch.as_tensor(self.mean, dtype=torch.float32).view(shape)
        s = torch.as_tensor(self.scale, dtype=torch.float32).view(shape)
        return (t - m) / s

    def as_table(self, names: Sequence[str] | None = None) -> pd.DataFrame:
        names = list(names) if names is not None else [f"channel_{i}" for i in range(len(self.mean))]
        return pd.DataFrame({"channel": names, "mean": self.mean, "max_minus_mean": self.scale})


class ReddyTorchMethod(TorchMethod):
    """:class:`~mer_utils.training.TorchMethod` with the authors' global normalisation fitted per fold on the
    training clips. ``track_test`` (default on) records the test clips' predictions after every epoch, for
    Table VIII and the learning curves only — the model evaluated is always the last epoch's."""

    NORMALISATION = "global mean subtracted, divided by global max; fitted on the fold's training clips"

    def __init__(self, model_factory, config: TrainConfig, track_test: bool = True, save_model: bool = True):
        super().__init__(model_factory, config, track_test=track_test, save_model=save_model)

    def describe(self) -> dict:
        return {**super().describe(), "normalisation": self.NORMALISATION}

    def run_fold(self, data: ClipDataset, fold, train_idx, test_idx, fold_dir, device, seed: int,
                 progress: bool = True) -> FoldOutput:
        if not isinstance(data, ClipDataset):
            raise TypeError("ReddyTorchMethod needs a ClipDataset(table, raw uint8 clips (N, C, T, H, W)).")
        norm = GlobalMeanMaxNormaliser().fit(data[int(i)][0] for i in train_idx)
        normalised = ClipDataset(data.table, lambda i: norm(data[i][0]), class_names=data.class_names)
        out = super().run_fold(normalised, fold, train_idx, test_idx, fold_dir, device, seed, progress)
        out.tables["normalisation"] = norm.as_table()
        return out


def authors_config(epochs: int = 100, batch_size: int = 8, lr: float = 0.01, **overrides) -> TrainConfig:
    """Section IV-B: categorical cross-entropy, SGD with Keras' defaults (lr 0.01, no momentum, constant rate),
    100 epochs, batch 8; the last epoch's model is the one evaluated (no selection)."""
    return TrainConfig(**{"epochs": epochs, "batch_size": batch_size, "optimizer": "sgd", "lr": lr, "momentum": 0.0,
                          "select": "last", **overrides})


# --------------------------------------------------------------------------------------------- results
def epoch_accuracy(test_epochs: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Accuracy of the test predictions after every epoch, pooled over folds: ``epoch, accuracy, n``.

    ``test_epochs``: fold -> table with ``epoch, true, pred`` (``load_fold_tables(run, "test_epochs")``).
    """
    if not test_epochs:
        raise ValueError("epoch_accuracy: no per-epoch test predictions; train with ReddyTorchMethod(track_test=True).")
    allp = pd.concat(test_epochs.values(), ignore_index=True)
    g = allp.assign(correct=allp["true"] == allp["pred"]).groupby("epoch")["correct"]
    return pd.DataFrame({"accuracy": g.mean(), "n": g.size()}).reset_index()


def last_epochs_summary(curve: pd.DataFrame, column: str = "accuracy", last: int = 10) -> dict:
    """Table VIII: mean and (sample) standard deviation of ``column`` over the last ``last`` epochs (91–100 of
    100 in the paper; all epochs when fewer were run)."""
    tail = curve.sort_values("epoch").tail(last)[column].to_numpy(dtype=float)
    return {"mean": float(tail.mean()), "std": float(tail.std(ddof=1)) if len(tail) > 1 else 0.0,
            "epochs": [int(e) for e in curve.sort_values("epoch").tail(last)["epoch"]]}


def subject_overlap(table: pd.DataFrame, fold) -> dict:
    """How much a split mixes people: test clips whose subject also appears in training, and shared subjects."""
    subjects = table["subject_uid"].to_numpy()
    train_subjects = set(subjects[np.asarray(fold.train)])
    test_subjects = subjects[np.asarray(fold.test)]
    seen = np.isin(test_subjects, list(train_subjects))
    return {"test_clips": int(len(test_subjects)), "test_clips_with_subject_in_train": int(seen.sum()),
            "shared_subjects": int(len(set(test_subjects) & train_subjects)),
            "subjects": int(len(set(subjects)))}


# --------------------------------------------------------------------------------------------- saliency
def face_roi_boxes(prep, i: int) -> dict[str, tuple[float, float, float, float]]:
    """Reddy et al.'s eye and nose-mouth boxes ``(x0, y0, x1, y1)`` of clip ``i`` in the coordinates of its
    aligned face crop (what MicroExpSTCNN sees), from the landmarks and the alignment transform of the recipe."""
    from ..preprocess import reddy_roi_box, transform_points

    lm = transform_points(np.asarray(prep.transforms[i]), np.asarray(prep.landmarks[i]))
    return {name: reddy_roi_box(lm, name) for name in ("eyes", "nose_mouth")}


def saliency_region_shares(saliency: np.ndarray, boxes: dict[str, tuple[float, float, float, float]]) -> pd.DataFrame:
    """Share of the saliency mass (summed over frames) inside each box and in the rest of the face, beside each
    region's share of the image area (Section V-D: do the eyes and mouth carry the decision?).

    ``saliency``: ``(T, H, W)`` (or with a leading channel axis of 1). Overlapping boxes are counted once, in the
    order given. Returns ``region, saliency_share, area_share, ratio`` (ratio > 1: more than its area's worth).
    """
    sal = np.squeeze(np.asarray(saliency, dtype=float))
    if sal.ndim == 2:
        sal = sal[None]
    if sal.ndim != 3:
        raise ValueError(f"saliency: expected (T, H, W), got {np.shape(saliency)}.")
    mass = sal.sum(0)
    h, w = mass.shape
    yy, xx = np.mgrid[0:h, 0:w]
    taken = np.zeros((h, w), dtype=bool)
    rows, total = [], mass.sum() or 1.0
    for name, (x0, y0, x1, y1) in boxes.items():
        inside = (xx + 0.5 >= x0) & (xx + 0.5 <= x1) & (yy + 0.5 >= y0) & (yy + 0.5 <= y1) & ~taken
        taken |= inside
        rows.append((name, mass[inside].sum() / total, inside.mean()))
    rows.append(("rest of the face", mass[~taken].sum() / total, (~taken).mean()))
    df = pd.DataFrame(rows, columns=["region", "saliency_share", "area_share"])
    df["ratio"] = df["saliency_share"] / df["area_share"].where(df["area_share"] > 0)
    return df
