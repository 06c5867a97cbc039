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

from .model import PAPER_KERNEL_SIZE, TABLE_IX_KERNEL_SIZES, build_model
from ...training import ClipDataset, FoldOutput, TorchMethod, TrainConfig

__all__ = [
    "apex_window", "prepare_reddy", "model_inputs", "ModelFactory", "GlobalMeanMaxNormaliser", "ReddyTorchMethod",
    "authors_config", "epoch_accuracy", "last_epochs_summary", "subject_overlap", "saliency_region_shares",
    "face_roi_boxes", "kernel_label", "parse_kernel", "INPUTS", "claims_table", "SPLIT_GROUPS", "window_overlaps",
    "split_overlap", "class_counts",
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
    from ...data.frames import scan_frames

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


def prepare_reddy(table: pd.DataFrame, n_frames: int, window: str = "start", progress: bool = True,
                  input: str = "frames", **params):
    """Run the shared ``reddy2019`` recipe (dlib landmarks, landmark-bounded crops, grey, INTER_AREA, T frames).

    ``window="start"``: the first ``n_frames`` frames of the clip, as the authors' SMIC script does
    (``temporal="fixed"``, ``frame_start=0``). ``window="apex"``: ``n_frames`` frames of the video centred on the
    apex (:func:`apex_window`; used for CAS(ME)²). ``input``: ``"frames"`` (the paper's grey frames) or
    ``"onset_difference"`` (:func:`~mer_utils.papers.reddy2019.recipe.onset_difference`, the CPU profiles).
    Returns the shared :class:`~mer_utils.preprocess.Prepared`.
    """
    if input not in INPUTS:
        raise ValueError(f"input must be one of {sorted(INPUTS)}, got {input!r}.")
    params = {**INPUTS[input], **params}
    from ...preprocess import prepare

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
        t = x.float() if torch.is_tensor(x) else torch.from_numpy(np.array(x, dtype=np.float32))
        shape = (-1,) + (1,) * (t.dim() - 1)
        m = torch.tensor(np.asarray(self.mean, dtype=np.float32)).view(shape)
        s = torch.tensor(np.asarray(self.scale, dtype=np.float32)).view(shape)
        return (t - m) / s

    def as_table(self, names: Sequence[str] | None = None) -> pd.DataFrame:
        names = list(names) if names is not None else [f"channel_{i}" for i in range(len(self.mean))]
        return pd.DataFrame({"channel": names, "mean": self.mean, "max_minus_mean": self.scale})


class ReddyTorchMethod(TorchMethod):
    """:class:`~mer_utils.training.TorchMethod` with the authors' global normalisation fitted per fold on the
    training clips. ``track_test`` (default on) records the test clips' predictions after every epoch, for
    Table VIII and the learning curves only — the model evaluated is always the last epoch's. ``save_model``
    keeps each fold's weights (``model.pt``), off by default: a FuseNet at T = 96 weighs 708 MB."""

    NORMALISATION = "global mean subtracted, divided by global max; fitted on the fold's training clips"

    def __init__(self, model_factory, config: TrainConfig, track_test: bool = True, save_model: bool = False):
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
    from ...preprocess import reddy_roi_box, transform_points

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


# ------------------------------------------------------------------------------------------ experiments
#: Split names used by the notebook: the paper's single random split, and the honest protocol.
SPLITS = ("random_80_20", "loso")

#: Profiles of notebook 30 (``ci`` tiny, ``quick`` CPU default, ``full`` = the paper's settings).
#: Notebook 30's profiles. ``full``: the paper's settings (grey frames, SGD lr 0.01 without momentum, 100 epochs,
#: batch 8, T = 96 for CAS(ME)², all 12 kernels of Table IX, both datasets). ``quick`` / ``ci`` change how the
#: network sees the data so that it learns on a CPU in about a minute (notebook 30, "How this run differs"):
#: ``input="onset_difference"`` (each frame's absolute difference to the window's first frame, computed on 2.5x
#: larger crops after registering the frames, then area-averaged to 64x64 / 32x32), SGD with momentum 0.9,
#: 8 epochs, T = 18 for CAS(ME)², CAS(ME)² only (SMIC in ``full``), two kernels of Table IX.
PROFILES = {
    "ci": {"epochs": 1, "batch_size": 8, "lr": 0.01, "momentum": 0.9, "smic_frames": 18, "casme_sq_frames": 18,
           "kernel_grid": ["3x3x15"], "grid_splits": ["random_80_20"], "last_epochs": 1, "max_folds": 2,
           "saliency_clips": 1, "synthetic_size": "quick", "input": "onset_difference", "register": "euclidean",
           "datasets": ["casme_sq"]},
    "quick": {"epochs": 8, "batch_size": 8, "lr": 0.01, "momentum": 0.9, "smic_frames": 18, "casme_sq_frames": 18,
              "kernel_grid": ["3x3x15"], "grid_splits": ["random_80_20"], "last_epochs": 3,
              "max_folds": None, "saliency_clips": 3, "synthetic_size": "quick", "input": "onset_difference",
              "register": "euclidean", "datasets": ["casme_sq"]},
    "full": {"epochs": 100, "batch_size": 8, "lr": 0.01, "momentum": 0.0, "smic_frames": 18, "casme_sq_frames": 96,
             "kernel_grid": [kernel_label(k) for k in TABLE_IX_KERNEL_SIZES], "grid_splits": ["random_80_20", "loso"],
             "last_epochs": 10, "max_folds": None, "saliency_clips": 4, "synthetic_size": "paper", "input": "frames",
             "register": "none", "datasets": ["smic_hs", "casme_sq"]},
}
#: The two inputs: the paper's grey frame volume, or the onset differences of the CPU profiles (recipe params).
INPUTS = {"frames": {"motion": "none"}, "onset_difference": {"motion": "onset_difference"}}


#: How the 80/20 split keeps clips together: ``"video"`` (default) keeps every window cut from one video on one
#: side — CAS(ME)² windows of different expressions of one long video can overlap (:func:`window_overlaps`), and
#: a clip split would put the shared frames in training and test; ``"clip"`` is the authors' split of clips
#: (flagged: windows may share frames across the split). SMIC clips are one video each: both give the clip split.
SPLIT_GROUPS = ("video", "clip")


def make_folds(table: pd.DataFrame, split: str, seed: int = 0, group: str = "video"):
    """``"random_80_20"``: the paper's single random split (subject-overlapping; Section IV-A), grouped by video
    (``group="video"``, default) or over clips (``"clip"``, the authors'); or ``"loso"``."""
    from ...data import leave_one_subject_out, random_split_80_20

    if group not in SPLIT_GROUPS:
        raise ValueError(f"group must be one of {SPLIT_GROUPS} ('video': windows of one video stay together; "
                         f"'clip': the authors' clip split), got {group!r}.")
    if split == "random_80_20":
        by = "frame_dir" if group == "video" else None
        if by is not None and by not in table.columns:
            raise KeyError("make_folds(group='video') needs the 'frame_dir' column (the video each clip is cut from) "
                           "of a mer_utils.data clip table; pass group='clip' for the authors' clip split.")
        return random_split_80_20(table, seed=seed, groups=by)
    if split == "loso":
        return leave_one_subject_out(table)
    raise ValueError(f"split must be one of {SPLITS}, got {split!r}.")


def class_counts(protocol: str, dataset: str, table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per class: the counts of the paper's Table IV, of the authors' code (where known), of the whole source set
    (SMIC-HS: 70 / 51 / 43 over 164 clips) and of ``table`` (the data used here), with a ``possible`` column that
    says whether the paper's count fits within the whole source set. For SMIC-HS the paper's 79 negative clips
    exceed the 70 SMIC-HS has: Table IV cannot come from SMIC-HS, while the authors' code gives 66 / 47 / 43."""
    from ...data.published import PROTOCOL_COUNTS

    entry = PROTOCOL_COUNTS.get(protocol, {}).get(dataset)
    if entry is None:
        raise KeyError(f"class_counts: no published counts for protocol {protocol!r}, dataset {dataset!r}; known: "
                       f"{ {p: sorted(v) for p, v in PROTOCOL_COUNTS.items() if p.startswith('reddy2019')} }.")
    authors = entry["classes"] if "paper_classes" in entry else None
    paper = entry.get("paper_classes", entry["classes"])
    whole = PROTOCOL_COUNTS.get("smic_3class", {}).get("smic_hs", {}).get("classes") if dataset == "smic_hs" else None
    here = table["label_name"].value_counts() if table is not None and "label_name" in table.columns else None
    rows = []
    for c in paper:
        rows.append({"class": c, "paper (Table IV)": paper[c],
                     "authors' code": authors.get(c) if authors else None,
                     "whole SMIC-HS": whole.get(c) if whole else None,
                     "here": int(here.get(c, 0)) if here is not None else None,
                     "possible": (paper[c] <= whole[c]) if whole else None})
    df = pd.DataFrame(rows).set_index("class")
    df.loc["total"] = [df[col].sum() if df[col].notna().all() and col != "possible" else
                       (bool(df[col].all()) if col == "possible" and df[col].notna().all() else None)
                       for col in df.columns]
    return df.dropna(axis=1, how="all")


def window_overlaps(table: pd.DataFrame) -> pd.DataFrame:
    """Pairs of clips whose frame windows share frames of the same video: one row per pair with ``clip_a``,
    ``clip_b``, ``video`` (``frame_dir``) and ``shared_frames``. CAS(ME)² windows (:func:`apex_window`, 3.2 s =
    96 frames at 30 fps) around different expressions of one long video overlap when their apexes are closer
    than the window."""
    missing = [c for c in ("clip_uid", "frame_dir", "frame_numbers") if c not in table.columns]
    if missing:
        raise KeyError(f"window_overlaps needs a clip table with columns clip_uid, frame_dir, frame_numbers; "
                       f"missing {missing}.")
    rows = []
    for video, g in table.groupby(table["frame_dir"].astype(str), sort=True):
        if len(g) < 2:
            continue
        sets = [(uid, set(int(n) for n in nums)) for uid, nums in zip(g["clip_uid"], g["frame_numbers"])]
        for i in range(len(sets)):
            for j in range(i + 1, len(sets)):
                shared = len(sets[i][1] & sets[j][1])
                if shared:
                    rows.append({"clip_a": sets[i][0], "clip_b": sets[j][0], "video": video, "shared_frames": shared})
    return pd.DataFrame(rows, columns=["clip_a", "clip_b", "video", "shared_frames"])


def split_overlap(table: pd.DataFrame, fold, overlaps: pd.DataFrame | None = None) -> dict:
    """How many of a fold's test clips share frames with a training clip, and how many frames the training and test
    windows share in all (``overlaps``: :func:`window_overlaps` of ``table``, computed when not given)."""
    ov = window_overlaps(table) if overlaps is None else overlaps
    uids = table["clip_uid"].astype(str).to_numpy()
    train, test = set(uids[np.asarray(fold.train)]), set(uids[np.asarray(fold.test)])
    cross = ov[(ov["clip_a"].isin(train) & ov["clip_b"].isin(test)) | (ov["clip_a"].isin(test) & ov["clip_b"].isin(train))]
    leaked = set(cross["clip_a"]).union(cross["clip_b"]) & test
    return {"test_clips_sharing_frames_with_train": len(leaked), "shared_frames": int(cross["shared_frames"].sum())}


def run_experiment(prep, model: str, split: str, *, dataset: str, protocol: str, frames: int,
                   kernel: Sequence[int] = PAPER_KERNEL_SIZE, epochs: int = 100, batch_size: int = 8, lr: float = 0.01,
                   seed: int = 0, device="auto", max_folds: int | None = None, notebook: str = "30_reddy2019_3d_cnn",
                   data_source: str | None = None, extra_params: dict | None = None, save_model: bool = False,
                   progress: bool = True, train_overrides: dict | None = None, group: str = "video"):
    """Train and test one model under one split with the shared CV runner (resumable result store).

    The preprocessing settings (``frames``, the recipe's parameter key) and the profile values go into the run
    parameters, so a changed setting starts a fresh result folder. Only LOSO folds are subject-disjoint; the
    80/20 split is run with ``subject_wise=False`` and recorded as such. ``save_model`` keeps each fold's weights
    (``model.pt``; 708 MB per fold for a FuseNet at T = 96, so off by default). ``train_overrides`` change the
    authors' training settings (:func:`authors_config`), e.g. ``{"momentum": 0.9}`` in the CPU profiles.
    ``group``: how the 80/20 split keeps clips together (:data:`SPLIT_GROUPS`; recorded in the run parameters).
    """
    from ...training import cross_validate

    folds = make_folds(prep.table, split, seed, group)
    data = ClipDataset(prep.table, model_inputs(prep, model))
    method = ReddyTorchMethod(ModelFactory(model, int(frames), tuple(int(k) for k in kernel)),
                              authors_config(epochs, batch_size, lr, **(train_overrides or {})), save_model=save_model)
    params = {"split": split, "frames": int(frames), "kernel": kernel_label(kernel),
              "recipe_key": prep.report.params_key, "max_folds": max_folds, **(extra_params or {})}
    if split == "random_80_20":
        params["split_group"] = group
    return cross_validate(method, data, folds, notebook=notebook, dataset=dataset, protocol=f"{protocol}-{split}",
                          method_name=f"{model} {kernel_label(kernel)}", params=params, seed=seed, device=device,
                          data_source=data_source, subject_wise=(split != "random_80_20"), progress=progress,
                          max_folds=max_folds)


def run_summary(res, last: int = 10) -> dict:
    """The numbers of one run for Tables V and VIII.

    ``acc`` / ``uf1`` / ``uar``: pooled over the folds, last epoch (no selection). ``acc_best_epoch_on_test``: the
    authors' checkpointing (keep the epoch with the best *test* accuracy) — leaky, shown only to explain the gap.
    ``test_last_mean/std``: accuracy of the pooled test predictions over the last ``last`` epochs (Table VIII as
    the paper did it: on the split's test part). ``train_last_mean/std``: training-clip accuracy over the same
    epochs (mean over folds of the training accuracy measured during each epoch, with dropout active).
    """
    from ...evaluation import best_epoch_on_test, compute_metrics
    from ...training import load_fold_tables

    pooled = res.metrics["pooled"]
    C = len(res.class_names)
    epochs_tables = load_fold_tables(res, "test_epochs")
    leak_pred, _ = best_epoch_on_test(epochs_tables, C, "war")
    curve = epoch_accuracy(epochs_tables)
    test_tail = last_epochs_summary(curve, "accuracy", last)
    hist = pd.concat(res.histories.values()).groupby("epoch")["train_acc"].mean().reset_index()
    train_tail = last_epochs_summary(hist, "train_acc", last)
    return {"acc": pooled["war"], "uf1": pooled["uf1"], "uar": pooled["uar"], "n": int(pooled["n"]),
            "acc_best_epoch_on_test": compute_metrics(leak_pred["true"], leak_pred["pred"], C)["war"],
            "test_last_mean": test_tail["mean"], "test_last_std": test_tail["std"],
            "train_last_mean": train_tail["mean"], "train_last_std": train_tail["std"],
            "folds": len(res.histories) or len(epochs_tables)}


def table_v(summaries: dict, paper: pd.DataFrame) -> pd.DataFrame:
    """Table V beside this run: one row per (dataset, model) with the paper's accuracy, this run's 80/20 accuracy
    (last epoch, and best epoch chosen on the test part as the authors' checkpoint did) and the LOSO numbers.

    ``summaries``: ``{(dataset, model, split): run_summary(...)}``; ``paper``: ``paper_table("reddy2019", "V")``.
    """
    rows = []
    for (dataset, model, split), s in summaries.items():
        if split != "random_80_20":
            continue
        loso = summaries.get((dataset, model, "loso"), {})
        p = paper[(paper["dataset"] == dataset) & (paper["model"] == model)]["value"]
        rows.append({"dataset": dataset, "model": model, "paper (80/20, best epoch)": p.iloc[0] if len(p) else np.nan,
                     "80/20 last epoch": s["acc"], "80/20 best epoch on test (leaky)": s["acc_best_epoch_on_test"],
                     "LOSO acc": loso.get("acc", np.nan), "LOSO UF1": loso.get("uf1", np.nan),
                     "LOSO UAR": loso.get("uar", np.nan)})
    return pd.DataFrame(rows)


def table_viii(summaries: dict, paper: pd.DataFrame, last: int = 10) -> pd.DataFrame:
    """Table VIII beside this run: mean ± std over the last ``last`` epochs of (a) the 80/20 test part (what the
    paper calls validation accuracy), (b) the pooled LOSO test clips and (c) the training clips."""
    def fmt(m, s):
        return f"{100 * m:.1f} ± {100 * s:.1f}"

    rows = []
    for (dataset, model, split), s in summaries.items():
        if split != "random_80_20":
            continue
        loso = summaries.get((dataset, model, "loso"))
        p = paper[(paper["dataset"] == dataset) & (paper["model"] == model)]
        pm = p[p["metric"] == "war"]["value"]
        ps = p[p["metric"] == "war_std"]["value"]
        rows.append({"dataset": dataset, "model": model,
                     "paper (80/20 validation, epochs 91-100)": fmt(pm.iloc[0], ps.iloc[0]) if len(pm) else "-",
                     f"80/20 test, last {last} epochs": fmt(s["test_last_mean"], s["test_last_std"]),
                     f"LOSO test (pooled), last {last} epochs": fmt(loso["test_last_mean"], loso["test_last_std"])
                     if loso else "-",
                     f"80/20 training clips, last {last} epochs": fmt(s["train_last_mean"], s["train_last_std"])})
    return pd.DataFrame(rows)


def subject_majority_baseline(table: pd.DataFrame, folds) -> float:
    """Accuracy of a classifier that sees only *who* is in a clip: it predicts the most frequent label of the
    same subject's training clips (the overall training majority when the subject is not in training).

    Under LOSO it can only predict the training majority; under a subject-overlapping split it exploits each
    person's label distribution — the part of an 80/20 score that is identity, not expression."""
    y = table["label"].to_numpy()
    s = table["subject_uid"].to_numpy()
    correct = total = 0
    for fold in folds:
        tr, te = np.asarray(fold.train), np.asarray(fold.test)
        overall = pd.Series(y[tr]).value_counts().sort_index().idxmax()
        per_subject = pd.DataFrame({"s": s[tr], "y": y[tr]}).groupby("s")["y"].agg(
            lambda v: v.value_counts().sort_index().idxmax())
        pred = np.array([per_subject.get(subj, overall) for subj in s[te]])
        correct += int((pred == y[te]).sum())
        total += len(te)
    return correct / total


def load_trained(res, factory: ModelFactory, fold: int = 0):
    """The model trained in fold ``fold`` of a run (its ``model.pt``) and that fold's normaliser (from its
    ``normalisation.csv``), for the saliency maps of Fig. 4."""
    from ...training import load_checkpoint

    folders = sorted((res.run_dir / "folds").glob("*"))
    if not 0 <= fold < len(folders):
        raise IndexError(f"fold={fold}: the run at {res.run_dir} has {len(folders)} fold folder(s).")
    model = factory(len(res.class_names))
    load_checkpoint(model, folders[fold] / "model.pt")
    stats = pd.read_csv(folders[fold] / "normalisation.csv")
    norm = GlobalMeanMaxNormaliser()
    norm.mean, norm.scale = stats["mean"].to_numpy(float), stats["max_minus_mean"].to_numpy(float)
    return model.eval(), norm


def plot_face_rois(prep, i: int, frame: int | None = None, ax=None):
    """One aligned 64x64 face of clip ``i`` with Reddy et al.'s eye and nose-mouth boxes drawn on it (the regions
    MicroExpFuseNet's two streams see, resized to 32x32)."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    face = np.asarray(prep.arrays["face"][i])
    t = len(face) // 2 if frame is None else int(frame)
    if ax is None:
        _, ax = plt.subplots(figsize=(2.6, 2.6))
    ax.imshow(face[t], cmap="gray")
    colours = {"eyes": "tab:red", "nose_mouth": "tab:green"}
    for name, (x0, y0, x1, y1) in face_roi_boxes(prep, i).items():
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, lw=1.5, color=colours[name], label=name))
    ax.set_title(f"{prep.table['clip_uid'].iloc[i].split('/')[-1]}, frame {t}", fontsize=8)
    ax.legend(fontsize=6, loc="lower right")
    ax.axis("off")
    return ax


def claims_table(runs: dict, dataset: str, n_classes: int, note_8020: str = "") -> pd.DataFrame:
    """The claims of the paper that notebook 30 tests on ``dataset``, from ``runs[(dataset, model, split)]``
    (``CVResult``): MicroExpSTCNN under LOSO above chance (its UAR interval minus 1/C); MicroExpSTCNN (whole face)
    above each MicroExpFuseNet (eyes + nose-mouth), paired on the LOSO clips; the 80/20 split above LOSO, paired on
    the 80/20 test clips (both models' predictions for the same clips). One
    :func:`~mer_utils.evaluation.claim_row` per claim, indexed by claim, with the ``method`` and ``ablation``
    compared described first; intervals resample subjects."""
    from ...evaluation import claim_row

    rows = []
    stcnn = runs[dataset, "MicroExpSTCNN", "loso"].predictions
    rows.append(claim_row("MicroExpSTCNN recognises micro-expressions (LOSO above chance)", stcnn, 1.0 / n_classes,
                          n_classes, method="MicroExpSTCNN, LOSO", ablation=f"chance (1/{n_classes})"))
    for fuse in ("MicroExpFuseNet-intermediate", "MicroExpFuseNet-late"):
        if (dataset, fuse, "loso") in runs:
            rows.append(claim_row(f"whole face beats eyes + nose-mouth ({fuse.split('-')[1]} fusion)", stcnn,
                                  runs[dataset, fuse, "loso"], n_classes, method="MicroExpSTCNN, LOSO",
                                  ablation=f"{fuse}, LOSO"))
    for model in ("MicroExpSTCNN", "MicroExpFuseNet-intermediate", "MicroExpFuseNet-late"):
        if (dataset, model, "random_80_20") in runs and (dataset, model, "loso") in runs:
            split = runs[dataset, model, "random_80_20"].predictions
            loso = runs[dataset, model, "loso"].predictions
            common = set(split["clip_uid"]) & set(loso["clip_uid"])  # all of them unless LOSO ran some folds only
            if not common:
                continue
            split, loso = split[split["clip_uid"].isin(common)], loso[loso["clip_uid"].isin(common)]
            rows.append(claim_row(f"80/20 split scores above LOSO ({model})" + note_8020, split, loso, n_classes,
                                  method=f"{model}, 80/20", ablation=f"{model}, LOSO (same clips)"))
    return pd.DataFrame(rows).set_index("claim")
