"""Pipeline glue for She et al. 2020 (Multiple Aggregation Networks): Part 3 of Fig. 1.

Frame-level features (the FC-64 activations of :class:`mer_utils.papers.she2020.model.MultipleAggregationNetwork`)
of the N frames of clip i form S_i (eq. 3); the video-level feature Z_i concatenates statistics of S_i
over the frames (eq. 4): mean, standard deviation and median. Table IV compares every non-empty subset
of the three statistics (7 choices); Z_i is classified with LIBSVM (scikit-learn's ``SVC`` wraps LIBSVM)
whose parameters are chosen by an inner cross-validation on the training subjects only.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

#: The statistics of eq. (4), in the paper's order.
STATISTICS = ("mean", "std", "median")


def aggregation_choices() -> dict[str, tuple[str, ...]]:
    """The 7 aggregation choices of Table IV, in its row order: ``{"mean": ("mean",), ..., "mean+std+median": (...)}``.

    Every non-empty combination of :data:`STATISTICS`; the last one is eq. (4).
    """
    return {"+".join(c): c for r in range(1, len(STATISTICS) + 1) for c in combinations(STATISTICS, r)}


def _statistic(frames: np.ndarray, name: str) -> np.ndarray:
    if name == "mean":
        return frames.mean(axis=-2)
    if name == "std":
        return frames.std(axis=-2)  # population standard deviation (ddof = 0) over the frames
    if name == "median":
        return np.median(frames, axis=-2)  # mean of the two middle values when N is even
    raise ValueError(f"Unknown statistic {name!r}: expected one of {STATISTICS}.")


def aggregate_frame_features(frames, statistics: Sequence[str] | str = STATISTICS) -> np.ndarray:
    """Video-level feature Z_i of eq. (4) from frame-level features S_i of eq. (3).

    Parameters
    ----------
    frames : ``(N, D)`` frame features of one clip, or ``(B, N, D)`` for B clips of N frames
        (NumPy array or torch tensor).
    statistics : names from :data:`STATISTICS` (or one ``"+"``-joined string such as ``"mean+std"``),
        concatenated in the given order.

    Returns ``(k * D,)`` or ``(B, k * D)`` with ``k = len(statistics)``: ``[mean | std | median]`` blocks of
    width D each. The standard deviation is the population one (ddof = 0); the median of an even number
    of frames is the mean of the two middle values (NumPy's convention; ``torch.median`` would return
    the lower one).
    """
    if hasattr(frames, "detach"):
        frames = frames.detach().cpu().numpy()
    frames = np.asarray(frames, dtype=np.float64)
    if frames.ndim not in (2, 3) or frames.shape[-2] < 1:
        raise ValueError(f"aggregate_frame_features expects frame features of shape (N, D) or (B, N, D) "
                         f"with N >= 1 frames; got {frames.shape}.")
    if isinstance(statistics, str):
        statistics = tuple(statistics.split("+"))
    if not statistics:
        raise ValueError(f"aggregate_frame_features: name at least one statistic of {STATISTICS}.")
    return np.concatenate([_statistic(frames, s) for s in statistics], axis=-1)


def aggregate_clips(frame_features: np.ndarray, clip_index: np.ndarray,
                    statistics: Sequence[str] | str = STATISTICS) -> tuple[np.ndarray, np.ndarray]:
    """Aggregate stacked frame features ``(F, D)`` whose clip of origin is ``clip_index`` ``(F,)``.

    Clips may have different numbers of frames. Returns ``(clips, Z)``: the sorted unique clip indices
    and their video-level features ``(len(clips), k * D)``, one row per clip in that order.
    """
    frame_features = np.asarray(frame_features)
    clip_index = np.asarray(clip_index)
    if frame_features.ndim != 2 or clip_index.shape != (frame_features.shape[0],):
        raise ValueError(f"aggregate_clips expects features (F, D) and clip_index (F,); got "
                         f"{frame_features.shape} and {clip_index.shape}.")
    clips, inverse, counts = np.unique(clip_index, return_inverse=True, return_counts=True)
    if np.all(counts == counts[0]):  # equal lengths (TIM): one vectorised call on (B, N, D)
        order = np.argsort(inverse, kind="stable")
        stacked = frame_features[order].reshape(len(clips), counts[0], -1)
        return clips, aggregate_frame_features(stacked, statistics)
    return clips, np.stack([aggregate_frame_features(frame_features[inverse == k], statistics)
                            for k in range(len(clips))])


#: SVM search grid (LIBSVM's usual log2 grid, trimmed): RBF and linear kernels.
DEFAULT_SVM_GRID = (
    {"svc__kernel": ["rbf"], "svc__C": [0.1, 1.0, 10.0, 100.0], "svc__gamma": ["scale", 1e-3, 1e-2]},
    {"svc__kernel": ["linear"], "svc__C": [0.01, 0.1, 1.0]},
)


def fit_video_svm(features: np.ndarray, labels: np.ndarray, groups: np.ndarray,
                  param_grid: Iterable[Mapping] | Mapping | None = None, inner_folds: int = 3,
                  seed: int = 0, scoring: str = "accuracy", class_weight: str | None = None):
    """Fit LIBSVM (``sklearn.svm.SVC``) on video-level features, parameters chosen on training subjects.

    ``GridSearchCV`` over ``param_grid`` (default :data:`DEFAULT_SVM_GRID`) with a ``GroupKFold`` on
    ``groups`` (the subjects), so a subject is never in both the inner training and validation parts and
    the outer test subjects are never seen. Features are standardised inside the pipeline. ``scoring``
    defaults to accuracy (the paper's metric) and ``class_weight`` to LIBSVM's unweighted classes. With fewer
    than two subjects (or one class) the search is skipped and the default ``SVC`` is fitted; a grid with a
    single candidate is fitted directly.
    Returns the fitted estimator (the refitted best pipeline) with ``best_params_`` when searched.
    """
    from sklearn.model_selection import GridSearchCV, GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    groups = np.asarray(groups)
    if features.ndim != 2 or labels.shape != (len(features),) or groups.shape != (len(features),):
        raise ValueError(f"fit_video_svm expects features (n, d), labels (n,) and groups (n,); got "
                         f"{features.shape}, {labels.shape}, {groups.shape}.")
    pipe = make_pipeline(StandardScaler(), SVC(class_weight=class_weight, random_state=seed))
    from sklearn.model_selection import ParameterGrid

    grid = list(DEFAULT_SVM_GRID) if param_grid is None else param_grid
    candidates = list(ParameterGrid(grid))
    if len(candidates) == 1:  # nothing to choose
        return pipe.set_params(**candidates[0]).fit(features, labels)
    n_groups = len(np.unique(groups))
    if n_groups < 2 or len(np.unique(labels)) < 2 or inner_folds < 2:
        return pipe.fit(features, labels)
    search = GridSearchCV(pipe, grid, cv=GroupKFold(n_splits=min(inner_folds, n_groups)),
                          scoring=scoring, error_score=0.0, n_jobs=1)
    return search.fit(features, labels, groups=groups)


# ============================================================================================ the pipeline
def she_roi_boxes(scale: float = 1.0) -> dict[str, tuple[int, int, int, int]]:
    """Pixel boxes ``(top, bottom, left, right)`` of She et al.'s three RoIs (Sec. III-B, Fig. 3).

    Taken from the shared 12x14 grid (:data:`mer_utils.preprocess.roi.SHE_ROI_CELLS`, cells of 10 px on the
    120x140 face); ``scale`` < 1 gives the same cells on a face resized by that factor (``0.5``: 5 px cells).
    """
    from ...preprocess.roi import SHE_CELL, SHE_ROI_CELLS

    if not 0 < scale <= 1:
        raise ValueError(f"she_roi_boxes: scale must be in (0, 1], got {scale}.")
    cell = SHE_CELL * scale
    return {name: (round(r0 * cell), round(r1 * cell), round(c0 * cell), round(c1 * cell))
            for name, (r0, r1, c0, c1) in SHE_ROI_CELLS.items()}


def resize_faces(faces: np.ndarray, scale: float = 1.0, grey: bool = False) -> np.ndarray:
    """Faces ``(N, T, 140, 120[, 3])`` uint8 -> ``(N, T, h, w, C)`` uint8 resized by ``scale`` (INTER_AREA).

    ``scale = 1`` keeps the paper's 120x140 faces; the quick profile uses 0.5 to train on a CPU in minutes.
    ``grey`` converts RGB to one channel. The channel axis is always present (C = 1 or 3).
    """
    import cv2

    faces = np.asarray(faces)
    if faces.ndim == 4:
        faces = faces[..., None]
    if faces.ndim != 5 or faces.shape[-1] not in (1, 3) or faces.dtype != np.uint8:
        raise ValueError(f"resize_faces expects uint8 faces (N, T, H, W) or (N, T, H, W, 3) as the she2020 recipe "
                         f"gives; got {faces.dtype} {faces.shape}.")
    if not 0 < scale <= 1:
        raise ValueError(f"resize_faces: scale must be in (0, 1], got {scale}.")
    n, t, h, w, c = faces.shape
    flat = faces.reshape(n * t, h, w, c)
    if grey and c == 3:
        flat = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in flat])[..., None]
        c = 1
    if scale != 1:
        size = (round(w * scale), round(h * scale))
        flat = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA).reshape(size[1], size[0], c)
                         for f in flat])
    return np.ascontiguousarray(flat.reshape(n, t, *flat.shape[1:]))


#: Frame-network inputs: ``"frames"`` = the TIM face frames (the paper, Sec. III-A); ``"onset_flow"`` = the optical
#: flow from the onset frame to each frame (:func:`onset_flow_frames`), the quick profile's view of the movement.
INPUTS = ("frames", "onset_flow")
#: Grey levels per pixel of flow in :func:`onset_flow_frames` (flows beyond 127/40 ~ 3 px saturate; micro
#: movements move the face by a pixel or less at these sizes).
FLOW_GAIN = 40.0


def onset_flow_frames(faces: np.ndarray, scale: float, flow_scale: float = 0.5, gain: float = FLOW_GAIN) -> np.ndarray:
    """Farneback optical flow from the first (onset) frame to every frame, as 3-channel uint8 "frames".

    ``faces``: the recipe's faces ``(N, T, 140, 120[, 3])`` uint8. The flow is computed on grey faces resized
    by ``flow_scale`` and the encoded flow then resized to ``scale`` (INTER_AREA, i.e. averaged; ``scale`` <=
    ``flow_scale``). Channels: ``128 + gain * dx``, ``128 + gain * dy``, ``gain * |flow|``, clipped to [0, 255];
    frame 0 is (128, 128, 0). She et al. feed the face frames themselves (Sec. III-A); at the quick profile's
    sizes a micro-movement shifts the face by a pixel or less, which single frames barely show and the frame
    network does not learn, while the flow field of each frame carries it. The four branches, their RoIs (the
    same cells of the 12 x 14 grid), the frame features and their aggregation are unchanged.
    """
    import cv2

    if not 0 < scale <= flow_scale <= 1:
        raise ValueError(f"onset_flow_frames: need 0 < scale <= flow_scale <= 1, got scale={scale}, "
                         f"flow_scale={flow_scale}.")
    grey = resize_faces(faces, flow_scale, grey=True)[..., 0]
    n, t, h, w = grey.shape
    flow = np.zeros((n, t, h, w, 2), np.float32)
    for i in range(n):
        for j in range(1, t):
            flow[i, j] = cv2.calcOpticalFlowFarneback(grey[i, 0], grey[i, j], None, 0.5, 3, 15, 3, 5, 1.2, 0)
    mag = np.sqrt((flow ** 2).sum(-1, keepdims=True))
    enc = np.clip(np.rint(np.concatenate([128.0 + gain * flow, gain * mag], axis=-1)), 0, 255).astype(np.uint8)
    if scale == flow_scale:
        return enc
    size = (round(120 * scale), round(140 * scale))
    flat = enc.reshape(n * t, h, w, 3)
    out = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in flat])
    return np.ascontiguousarray(out.reshape(n, t, size[1], size[0], 3))


def network_inputs(faces: np.ndarray, settings) -> np.ndarray:
    """The frame network's input per profile (``settings`` with ``input``, ``scale`` and ``flow_scale``): the
    resized faces (:func:`resize_faces`) or their onset flow (:func:`onset_flow_frames`)."""
    s = settings if isinstance(settings, dict) else vars(settings)
    kind = s.get("input", "frames")
    if kind not in INPUTS:
        raise ValueError(f"input={kind!r}: expected one of {INPUTS}.")
    if kind == "frames":
        return resize_faces(faces, s["scale"])
    return onset_flow_frames(faces, s["scale"], s.get("flow_scale", 0.5))


def frame_table(table, n_frames: int):
    """One row per frame (``clip_uid#j``) of every clip of ``table``, each frame carrying its clip's label,
    subject and dataset — She et al. train the frame network "on frames with the clip label" (Sec. IV-B c)."""
    import pandas as pd

    rep = table.loc[table.index.repeat(n_frames), ["clip_uid", "subject_uid", "dataset", "label"]].reset_index(drop=True)
    rep["frame"] = np.tile(np.arange(n_frames), len(table))
    rep["clip_uid"] = rep["clip_uid"].astype(str) + "#" + rep["frame"].astype(str)
    return pd.DataFrame(rep)


def frame_indices(clip_idx, n_frames: int) -> np.ndarray:
    """Positions in :func:`frame_table` of every frame of the clips ``clip_idx`` (clip-major order)."""
    clip_idx = np.asarray(clip_idx, dtype=np.int64)
    return (clip_idx[:, None] * n_frames + np.arange(n_frames)[None, :]).ravel()


def frame_tensor(frames: np.ndarray):
    """uint8 frames ``(M, h, w, C)`` -> one contiguous uint8 tensor ``(M, C, h, w)``: the training loop gathers
    whole batches from it (no per-frame Python call), on the GPU when it is resident there
    (:meth:`mer_utils.training.ClipDataset.resident`), and the network scales them to [0, 1] on the device
    (issue 20; the same numbers as converting each frame to float first)."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).contiguous()


#: Which frame features train the video SVM. ``"in_sample"`` (the paper, Fig. 1): one frame network trained on
#: every training clip, and the SVM trained on that network's features of **the same clips** — features of clips
#: the network has fitted, so they separate the classes better than the test clips' features will.
#: ``"cross_fit"``: the training subjects are cut into ``cross_fit_parts`` parts; for each part a network is
#: trained on the other parts and an SVM on *its* features of the held-out part (clips it never saw); each
#: (network, SVM) pair scores the test clips and their SVM decision values are averaged.
SVM_FEATURES = ("in_sample", "cross_fit")


@dataclass(frozen=True)
class She2020Settings:
    """Everything that defines one She et al. run (all recorded in the result folder's parameters).

    Paper (Sec. IV-B c): four branches, FC 64 -> FC 4, dropout 0.5, ReLU, 500 epochs, learning rate 0.0005;
    eq. (4) aggregation and LIBSVM. Not in the paper, chosen here: the optimiser (Adam), the batch size,
    the branch depth/width (see :mod:`mer_utils.papers.she2020.model`), the SVM grid and its inner folds.
    ``scale`` resizes the faces (1 = 120x140). ``main_aggregation`` is the choice whose predictions
    the runner stores as the run's predictions (eq. 4: all three statistics). ``logit_dropout``: dropout also
    after the 4-unit layer — Sec. IV-B c: "Each fully-connected layer is followed by a drop layer" (default,
    the paper's wording; ``False``: dropout after FC-64 only). ``svm_features`` / ``cross_fit_parts``: see
    :data:`SVM_FEATURES` (default ``"in_sample"``, the paper).
    """

    branches: tuple = ("face", "left_eye", "right_eye", "mouth")
    width: int = 16
    blocks_per_stage: int = 3
    hidden: int = 64
    dropout: float = 0.5
    epochs: int = 500
    batch_size: int = 64
    lr: float = 5e-4
    optimizer: str = "adam"
    weight_decay: float = 0.0
    scale: float = 1.0
    grey: bool = False
    aggregations: tuple = tuple(aggregation_choices())
    main_aggregation: str = "mean+std+median"
    svm_grid: tuple | None = None
    inner_folds: int = 3
    svm_scoring: str = "accuracy"
    class_weight: str | None = None
    logit_dropout: bool = True
    svm_features: str = "in_sample"
    cross_fit_parts: int = 2

    def __post_init__(self):
        if self.svm_features not in SVM_FEATURES:
            raise ValueError(f"She2020Settings: svm_features={self.svm_features!r}; expected one of {SVM_FEATURES} "
                             "('in_sample': the paper, 'cross_fit': SVM features from networks that never saw "
                             "those clips).")
        if self.svm_features == "cross_fit" and int(self.cross_fit_parts) < 2:
            raise ValueError(f"She2020Settings: cross_fit_parts must be >= 2, got {self.cross_fit_parts}.")
        choices = aggregation_choices()
        bad = [a for a in self.aggregations if a not in choices]
        if bad or self.main_aggregation not in self.aggregations:
            raise ValueError(f"She2020Settings: aggregations must come from {list(choices)} and include "
                             f"main_aggregation={self.main_aggregation!r}; got {self.aggregations}.")
        object.__setattr__(self, "branches", tuple(self.branches))
        object.__setattr__(self, "aggregations", tuple(self.aggregations))


class MultipleAggregationPipeline:
    """Fig. 1 end to end for one fold: train the frame network on the training clips' frames, extract the
    FC-64 frame features of every clip, aggregate them (eq. 4, every choice of Table IV) and classify the
    video features with an SVM tuned on training subjects (:func:`fit_video_svm`).

    ``faces``: ``(N, T, h, w, C)`` uint8 (:func:`resize_faces`), row i = clip i of ``table`` (prepared
    table with ``clip_uid, subject_uid, dataset, label``). :meth:`fit_predict` is the callable given to
    :func:`mer_utils.training.cross_validate`; it writes ``model.pt`` (the frame network, reused when the
    fold is re-run), ``aggregations.csv`` (test predictions of every aggregation choice), ``svm.csv`` (the
    chosen SVM parameters) and ``frame_features.npz`` (the test clips' frame features) in the fold folder.

    The frames are one uint8 tensor ``(N T, C, h, w)`` (:func:`frame_tensor`) placed once for the training
    device (:meth:`mer_utils.training.ClipDataset.resident`): on a CUDA GPU when it takes at most
    :data:`mer_utils.training.RESIDENT_FRACTION` of the memory available there — every training batch and every
    frame-feature batch is then gathered and converted to float on the GPU — else in host memory, gathered into
    pinned batches. ``frames_placement`` says what was decided (one printable line); ``frames_device`` is where
    the frames live. On the CPU the batches are the same tensors as before (bit-identical results).
    """

    def __init__(self, table, faces: np.ndarray, settings: She2020Settings, num_classes: int,
                 seed: int = 0, device="auto", progress: bool = True):
        from ...training import check_table

        self.table = check_table(table).reset_index(drop=True)
        faces = np.asarray(faces)
        if faces.ndim != 5 or len(faces) != len(self.table) or faces.dtype != np.uint8:
            raise ValueError(f"faces: expected uint8 (N={len(self.table)}, T, h, w, C) from resize_faces(); "
                             f"got {faces.dtype} {faces.shape}.")
        self.faces, self.settings, self.num_classes = faces, settings, int(num_classes)
        self.n_frames = faces.shape[1]
        self.seed, self.device, self.progress = int(seed), device, progress
        self._place_frames()

    def _place_frames(self) -> None:
        from ...device import resolve_device
        from ...training import ClipDataset

        flat = self.faces.reshape(-1, *self.faces.shape[2:])
        host = ClipDataset(frame_table(self.table, self.n_frames), frame_tensor(flat),
                           class_names=[str(k) for k in range(self.num_classes)])
        self.frames = host.resident(resolve_device(self.device))  # the host copy is dropped when moved

    @property
    def frames_placement(self):
        """Where the frames live and why (:class:`mer_utils.training.Placement`; ``str()`` is one line)."""
        return self.frames.placement

    @property
    def frames_device(self):
        """The device holding the frame tensor (``cuda:N`` when resident on the training GPU, else ``cpu``)."""
        return self.frames.inputs.device

    def __getstate__(self):  # a pickled pipeline (Ray tasks) carries the faces, not a GPU copy of the frames
        state = dict(self.__dict__)
        state.pop("frames", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._place_frames()

    def build_model(self):
        """A fresh :class:`~mer_utils.papers.she2020.model.MultipleAggregationNetwork` for these settings."""
        from .model import MultipleAggregationNetwork

        s = self.settings
        return MultipleAggregationNetwork(she_roi_boxes(s.scale), branches=s.branches, num_classes=self.num_classes,
                                          in_channels=self.faces.shape[-1], width=s.width,
                                          blocks_per_stage=s.blocks_per_stage, hidden=s.hidden, dropout=s.dropout,
                                          logit_dropout=s.logit_dropout)

    def train_config(self):
        from ...training import TrainConfig

        s = self.settings
        return TrainConfig(epochs=s.epochs, batch_size=s.batch_size, optimizer=s.optimizer, lr=s.lr,
                           weight_decay=s.weight_decay)

    def frame_features(self, model, clip_idx, batch_size: int = 256) -> np.ndarray:
        """FC-64 activations ``(len(clip_idx), T, hidden)`` of every frame of the clips ``clip_idx`` (eq. 3).

        Batches are gathered from the placed uint8 frame tensor (on the GPU when resident), moved to the model's
        device and scaled to [0, 1] there by the network, in the channels-last layout the features have always
        been computed in (frames ``(h, w, C)`` permuted): a fold computed now has bit-identical features on the CPU
        to a finished fold of the same run computed before (convolutions round differently per layout)."""
        import torch

        from ...device import resolve_device
        from ...training.loop import gather_rows

        dev = next(model.parameters()).device if any(True for _ in model.parameters()) else resolve_device(self.device)
        model.eval()
        frames, placement = self.frames.inputs, self.frames.placement
        pin = placement is not None and placement.pinned_batches
        idx = torch.as_tensor(frame_indices(clip_idx, self.n_frames), device=frames.device)
        out = []
        with torch.no_grad():
            for start in range(0, len(idx), batch_size):
                x = gather_rows(frames, idx[start: start + batch_size], pin).to(dev, non_blocking=True)
                x = x.contiguous(memory_format=torch.channels_last)
                out.append(model.frame_features(x).cpu().numpy())
        feats = np.concatenate(out) if out else np.zeros((0, model.hidden), np.float32)
        return feats.reshape(len(clip_idx), self.n_frames, -1)

    def cross_fit_parts(self, train_idx, seed: int) -> list[np.ndarray]:
        """The training clips cut by subject into ``settings.cross_fit_parts`` parts (positions into
        ``train_idx``), subjects shuffled with ``seed``; every part holds at least one subject."""
        subjects = self.table["subject_uid"].to_numpy()[train_idx]
        uniq = np.unique(subjects)
        k = int(self.settings.cross_fit_parts)
        if len(uniq) < k:
            raise ValueError(f"svm_features='cross_fit' needs at least cross_fit_parts={k} training subjects; the "
                             f"fold has {len(uniq)}. Lower cross_fit_parts or use svm_features='in_sample'.")
        order = np.random.default_rng(seed).permutation(uniq)
        return [np.flatnonzero(np.isin(subjects, part)) for part in np.array_split(order, k)]

    def fit_predict(self, fold, train_idx, test_idx, fold_dir):
        """One fold of Fig. 1 (see the class docstring); returns the runner's dict (pred, scores, history, tables).

        ``svm_features="in_sample"`` (the paper): one network on every training clip, the SVM on its features of
        those clips. ``"cross_fit"``: one (network, SVM) pair per part of :meth:`cross_fit_parts` — the network
        trained on the other parts (``model_crossfit{j}.pt``), the SVM on its features of the held-out part —
        and the pairs' SVM decision values on the test clips averaged."""
        import pandas as pd

        from ...device import resolve_device
        from ...preprocess.cache import atomic_save_npz
        from ...training import fit_or_load, fold_seed

        s, fold_dir = self.settings, Path(fold_dir)
        seed = fold_seed(self.seed, fold.name)
        dev = resolve_device(self.device) if isinstance(self.device, str) else self.device
        train_idx, test_idx = np.asarray(train_idx), np.asarray(test_idx)

        def network(idx, name, net_seed):
            res = fit_or_load(self.build_model(), self.frames, frame_indices(idx, self.n_frames), self.train_config(),
                              fold_dir / name, device=dev, seed=net_seed, progress=self.progress,
                              desc=f"{fold.name}: frames", resume=fold_dir / f"resume_{name}")  # mid-fold resume
            return res.model.to(dev), res.history

        if s.svm_features == "in_sample":
            model, history = network(train_idx, "model.pt", seed)
            pairs = [(model, train_idx)]  # the SVM learns from the clips the network was trained on
        else:
            pairs, history = [], None
            for j, part in enumerate(self.cross_fit_parts(train_idx, seed)):
                rest = np.delete(train_idx, part)
                model, h = network(rest, f"model_crossfit{j}.pt", fold_seed(seed, f"crossfit{j}"))
                pairs.append((model, train_idx[part]))
                history = h if history is None else history
        feats = [(self.frame_features(m, svm_idx), self.frame_features(m, test_idx), svm_idx) for m, svm_idx in pairs]
        y, groups = self.table["label"].to_numpy(), self.table["subject_uid"].to_numpy()
        uids = self.table["clip_uid"].to_numpy()
        grid = [dict(g) for g in s.svm_grid] if s.svm_grid is not None else None
        rows, svm_rows, main = [], [], None
        for name in s.aggregations:
            scores = []
            for j, (f_svm, f_test, svm_idx) in enumerate(feats):
                z_svm, z_test = aggregate_frame_features(f_svm, name), aggregate_frame_features(f_test, name)
                svm = fit_video_svm(z_svm, y[svm_idx], groups[svm_idx], grid, s.inner_folds, seed,
                                    s.svm_scoring, s.class_weight)
                if len(feats) == 1:
                    pred = svm.predict(z_test)
                scores.append(_svm_scores(svm, z_test, self.num_classes))
                svm_rows.append({"aggregation": name, **({"part": j} if len(feats) > 1 else {}),
                                 **{k.replace("svc__", ""): v for k, v in getattr(svm, "best_params_", {}).items()},
                                 "inner_score": getattr(svm, "best_score_", np.nan)})
            score = scores[0] if len(scores) == 1 else np.nanmean(np.stack(scores), axis=0)
            if len(feats) > 1:
                pred = np.nanargmax(np.where(np.isnan(score), -np.inf, score), axis=1)
            rows.append(pd.DataFrame({"clip_uid": uids[test_idx], "aggregation": name, "width": z_test.shape[1],
                                      "true": y[test_idx], "pred": pred}))
            if name == s.main_aggregation:
                main = (pred, score)
        atomic_save_npz(fold_dir / "frame_features.npz", {"clip_uid": uids[test_idx].astype(str),
                                                          "features": feats[0][1].astype(np.float32)})
        return {"pred": main[0], "scores": main[1], "history": history,
                "tables": {"aggregations": pd.concat(rows, ignore_index=True), "svm": pd.DataFrame(svm_rows)}}


def _svm_scores(svm, z, n_classes: int) -> np.ndarray:
    """SVC one-vs-rest decision values mapped onto all classes (NaN for a class absent from training)."""
    out = np.full((len(z), n_classes), np.nan)
    classes = np.asarray(svm.classes_, dtype=int)
    raw = svm.decision_function(z)
    if raw.ndim == 1:
        raw = np.stack([-raw, raw], axis=1)
    out[:, classes] = raw
    return out


def run_multiple_aggregation(table, faces: np.ndarray, folds, settings: She2020Settings, *, notebook: str,
                             dataset: str, protocol: str, method_name: str = "Multiple aggregation networks",
                             class_names=None, seed: int = 0, device="auto", data_source: str | None = None,
                             params: Mapping | None = None, progress: bool = True, max_folds: int | None = None):
    """Cross-validate the whole pipeline with the shared runner (:func:`mer_utils.training.cross_validate`).

    The settings, the input shape and ``params`` (e.g. the profile and the preprocessing parameters) go into
    the run's parameters, so a changed setting starts a fresh result folder and a re-run resumes finished
    folds. Returns the runner's ``CVResult`` (its predictions are those of ``settings.main_aggregation``), with
    ``frames_placement``: where the pipeline kept the frames (:attr:`MultipleAggregationPipeline.frames_placement`).
    """
    from dataclasses import asdict

    from ...training import CallableMethod, cross_validate

    class_names = list(class_names) if class_names is not None else None
    n_classes = len(class_names) if class_names is not None else int(table["label"].max()) + 1
    pipe = MultipleAggregationPipeline(table, faces, settings, n_classes, seed=seed, device=device, progress=progress)
    run_params = {"settings": asdict(settings), "input_shape": list(pipe.faces.shape[1:]), **dict(params or {})}
    cv = cross_validate(CallableMethod(pipe.fit_predict, name=method_name), table, folds, notebook=notebook,
                        dataset=dataset, protocol=protocol, method_name=method_name, params=run_params,
                        class_names=class_names, seed=seed, device=device, data_source=data_source,
                        progress=progress, max_folds=max_folds)
    cv.frames_placement = pipe.frames_placement
    return cv


def aggregation_results(run, num_classes: int):
    """Pooled metrics (all folds' test clips together) of every aggregation choice of a run — Table IV.

    ``run``: a ``CVResult`` of :func:`run_multiple_aggregation` (or its folder). Returns a DataFrame with
    ``aggregation, width, war, uar, uf1, wf1, n`` in Table IV's row order.
    """
    import pandas as pd

    from ...evaluation import compute_metrics
    from ...training import load_fold_tables

    tables = load_fold_tables(run, "aggregations")
    if not tables:
        raise FileNotFoundError("aggregation_results: no fold of this run has aggregations.csv; run "
                                "run_multiple_aggregation() first.")
    allp = pd.concat(tables.values(), ignore_index=True)
    order = [a for a in aggregation_choices() if a in set(allp["aggregation"])]
    rows = []
    for name in order:
        part = allp[allp["aggregation"] == name]
        rows.append({"aggregation": name, "width": int(part["width"].iloc[0]),
                     **compute_metrics(part["true"].to_numpy(), part["pred"].to_numpy(), num_classes)})
    return pd.DataFrame(rows)


def load_frame_features(run, table):
    """Test-fold frame features of a run, one block per clip: returns ``(features (n, T, D), rows)`` where
    ``rows`` are the matching rows of ``table`` (each clip's features come from the fold that held it out)."""
    from ...preprocess.cache import load_npz

    folder = run.run_dir if hasattr(run, "run_dir") else Path(run)
    uids, feats = [], []
    for f in sorted((folder / "folds").glob("*/frame_features.npz")):
        loaded = load_npz(f)
        if loaded is None:
            raise FileNotFoundError(f"{f} could not be read; delete the fold folder to recompute it.")
        arrays = loaded[0]
        uids.extend(arrays["clip_uid"].tolist())
        feats.append(arrays["features"])
    if not feats:
        raise FileNotFoundError(f"No frame_features.npz under {folder / 'folds'}; run run_multiple_aggregation() first.")
    pos = table.reset_index(drop=True).reset_index().set_index("clip_uid").loc[uids, "index"].to_numpy()
    return np.concatenate(feats), table.reset_index(drop=True).iloc[pos].reset_index(drop=True)


# ============================================================================================ notebook helpers
#: SVM grid of the quick / ci profiles (a subset of :data:`DEFAULT_SVM_GRID`).
SMALL_SVM_GRID = ({"svc__kernel": ["rbf"], "svc__C": [1.0, 10.0], "svc__gamma": ["scale"]},
                  {"svc__kernel": ["linear"], "svc__C": [0.1]})

#: Settings of notebook 10 per profile. ``full`` is the paper (Sec. III-A, IV-B): 64 TIM frames, 120x140
#: faces, 500 epochs, learning rate 0.0005; the branch depth (ResNet-20), optimiser, batch size and SVM grid
#: are this course's choices. ``quick`` / ``ci`` shrink frames, face size, branch width and epochs for a CPU, and
#: feed the frame network the optical flow from the onset frame (``input="onset_flow"``,
#: :func:`onset_flow_frames`, computed at half size and averaged to a quarter) with a higher learning rate.
PROFILES = {
    "ci": {"input": "onset_flow", "n_frames": 8, "scale": 0.25, "flow_scale": 0.5, "width": 4,
           "blocks_per_stage": 1, "epochs": 1, "batch_size": 64, "lr": 1e-3, "svm_grid": "tiny", "inner_folds": 2,
           "branches_alone": True, "synthetic_size": "quick", "max_folds": 2},
    "quick": {"input": "onset_flow", "n_frames": 8, "scale": 0.25, "flow_scale": 0.5, "width": 8,
              "blocks_per_stage": 1, "epochs": 6, "batch_size": 64, "lr": 1e-3, "svm_grid": "small",
              "inner_folds": 3, "branches_alone": True, "synthetic_size": "quick", "max_folds": None},
    "full": {"input": "frames", "n_frames": 64, "scale": 1.0, "flow_scale": 1.0, "width": 16, "blocks_per_stage": 3,
             "epochs": 500, "batch_size": 64, "lr": 5e-4, "svm_grid": "default", "inner_folds": 3,
             "branches_alone": True, "synthetic_size": "paper", "max_folds": None},
}

#: Splits notebook 10 can run: the paper's 5 folds by subject, or leave-one-subject-out.
SPLITS = ("5fold", "loso")


#: A single linear SVM (no search): the ci profile.
TINY_SVM_GRID = ({"svc__kernel": ["linear"], "svc__C": [0.1]},)


def svm_grid(name: str):
    """``"tiny"`` -> :data:`TINY_SVM_GRID`, ``"small"`` -> :data:`SMALL_SVM_GRID`, ``"default"`` ->
    :data:`DEFAULT_SVM_GRID`."""
    grids = {"tiny": TINY_SVM_GRID, "small": SMALL_SVM_GRID, "default": DEFAULT_SVM_GRID}
    if name not in grids:
        raise ValueError(f"svm_grid: expected one of {sorted(grids)}, got {name!r}.")
    return grids[name]


def select_datasets(table, datasets=None):
    """The rows of ``table`` from ``datasets`` (e.g. ``["casme2"]``; ``None`` keeps the whole composite)."""
    if datasets is None:
        return table
    datasets = [datasets] if isinstance(datasets, str) else list(datasets)
    unknown = sorted(set(datasets) - set(table["dataset"]))
    if unknown or not datasets:
        raise ValueError(f"DATASETS={datasets!r}: this protocol's table holds {sorted(table['dataset'].unique())}.")
    return table[table["dataset"].isin(datasets)].reset_index(drop=True)


def make_folds(table, split: str = "5fold", seed: int = 0, k: int = 5):
    """``"5fold"``: subjects shuffled with ``seed`` into ``k`` parts (Sec. IV-B b); ``"loso"``: one subject per fold."""
    from ...data import leave_one_subject_out, subject_kfold

    if split == "5fold":
        return subject_kfold(table, k=k, seed=seed)
    if split == "loso":
        return leave_one_subject_out(table)
    raise ValueError(f"SPLIT must be one of {SPLITS}, got {split!r}.")


def plot_branch_comparison(runs: Mapping[str, float], paper: Mapping[str, float] | None = None,
                           chance: float | None = None, metric: str = "accuracy", ax=None):
    """Fig. 4 of the paper: one bar per branch trained alone and one for the fusion (this run), with the
    paper's values as markers where it gives them. ``runs``/``paper``: ``{branch: value in [0, 1]}``."""
    import matplotlib.pyplot as plt

    names = list(runs)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.2))
    bars = ax.bar(range(len(names)), [runs[n] for n in names], color="#4c72b0", label="this run")
    ax.bar_label(bars, fmt="%.2f", fontsize=8)
    if paper:
        xs = [i for i, n in enumerate(names) if paper.get(n) is not None and np.isfinite(paper[n])]
        ax.scatter(xs, [paper[names[i]] for i in xs], marker="D", color="#dd8452", zorder=3, label="paper")
    if chance is not None:
        ax.axhline(chance, color="k", ls="--", lw=1, label="majority class")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels([n.replace("_", " ") for n in names])
    ax.set_ylim(0, 1)
    ax.set_ylabel(metric)
    ax.set_title("whole face vs each RoI vs fusion (Fig. 4)")
    ax.legend(fontsize=8, loc="upper left")
    return ax


#: What the paper states about its setting (Sec. III-A, IV-A, IV-B), for the "paper vs this run" table.
PAPER_SETTINGS = {
    "data": "CASME 195 + CASME II 247 + SMIC-HS 164 clips, 77 subjects (Table III)",
    "split": "5-fold by subject",
    "frames per clip (TIM)": 64,
    "face size (w x h)": "120 x 140",
    "frame network input": "the face frames (colour)",
    "residual branch": "not given (identity shortcuts, eq. 1)",
    "epochs": 500,
    "learning rate": 0.0005,
    "optimiser / batch size": "not given",
    "SVM": "LIBSVM, parameters not given",
    "dropout": "0.5 after each fully connected layer (FC-64 and FC-4)",
    "SVM training features": "frame features of the training clips, from the network trained on them",
    "per-dataset scores": "not reported (composite accuracy only)",
}


def settings_table(settings, table, data_source: str, split: str, logit_dropout: bool = True,
                   svm_features: str = "in_sample", cross_fit_parts: int = 2):
    """Paper vs this run, one row per setting of :data:`PAPER_SETTINGS` (``settings``: the resolved profile;
    ``logit_dropout``, ``svm_features``, ``cross_fit_parts``: the :class:`She2020Settings` of the run)."""
    import pandas as pd

    w, h = round(120 * settings.scale), round(140 * settings.scale)
    n = 6 * settings.blocks_per_stage + 2
    counts = table.groupby("dataset").size()
    this = {
        "data": f"{data_source}: " + " + ".join(f"{d} {c}" for d, c in counts.items())
                + f" clips, {table['subject_uid'].nunique()} subjects",
        "split": {"5fold": "5-fold by subject", "loso": "leave-one-subject-out"}[split],
        "frames per clip (TIM)": settings.n_frames,
        "face size (w x h)": f"{w} x {h}",
        "frame network input": {"frames": "the face frames (colour)",
                                "onset_flow": f"onset -> frame optical flow (computed at {settings.flow_scale:g} "
                                              "of 120 x 140, dx, dy, |flow| as 3 channels)"}[settings.input],
        "residual branch": f"ResNet-{n} (CIFAR-style), widths {settings.width}/{2 * settings.width}/{4 * settings.width}",
        "epochs": settings.epochs,
        "learning rate": settings.lr,
        "optimiser / batch size": f"Adam / {settings.batch_size}",
        "SVM": f"sklearn SVC (LIBSVM), {settings.svm_grid} grid, inner {settings.inner_folds}-fold CV by subject",
        "dropout": "0.5 after FC-64 and FC-4" if logit_dropout else "0.5 after FC-64 only (LOGIT_DROPOUT=False)",
        "SVM training features": {"in_sample": "as the paper: the training clips' features, from the network "
                                                "trained on those clips",
                                  "cross_fit": f"cross-fitted: {cross_fit_parts} parts by subject, each SVM on "
                                               "features of clips its network never saw"}[svm_features],
        "per-dataset scores": "each dataset against the classes it can have (SMIC: 3, no 'others')",
    }
    return pd.DataFrame({"paper": {k: str(v) for k, v in PAPER_SETTINGS.items()},
                         "this run": {k: str(v) for k, v in this.items()}})


# ============================================================================================ claims (issue 17)
def aggregation_predictions(run, table) -> dict:
    """``{aggregation: predictions}`` of a run (every fold's test clips), each with the ``subject_uid`` and
    ``fold`` columns that :func:`mer_utils.evaluation.result_summary` and ``paired_difference_ci`` need."""
    import pandas as pd

    from ...training import load_fold_tables

    tables = load_fold_tables(getattr(run, "run_dir", run), "aggregations")
    if not tables:
        raise FileNotFoundError("aggregation_predictions: no fold has aggregations.csv; run "
                                "run_multiple_aggregation() first.")
    allp = pd.concat([t.assign(fold=f) for f, t in tables.items()], ignore_index=True)
    allp = allp.merge(table[["clip_uid", "subject_uid"]], on="clip_uid", how="left")
    return {a: allp[allp["aggregation"] == a].reset_index(drop=True) for a in aggregation_choices()
            if a in set(allp["aggregation"])}


def claims_table(run, alone: Mapping, table, num_classes: int):
    """The paper's claims as paired comparisons on the same clips: Table IV (mean + std + median beats the mean
    alone) and Fig. 4 (the four-branch fusion beats each branch alone). One
    :func:`~mer_utils.evaluation.claim_row` per claim: claim, both UARs, their difference, the paired
    subject-bootstrap 95% interval of it and the verdict (reproduced / reversed / not resolved at this size);
    ``ci95`` keeps the interval as numbers (drop it to show the table)."""
    import pandas as pd

    from ...evaluation import claim_row

    aggs = aggregation_predictions(run, table)
    pairs = []
    if "mean+std+median" in aggs and "mean" in aggs:
        pairs.append(("mean + std + median beats the mean alone (Table IV)", aggs["mean+std+median"], aggs["mean"]))
    for name, other in alone.items():
        pairs.append((f"four-branch fusion beats the {name.replace('_', ' ')} branch alone (Fig. 4)",
                      run.predictions, other.predictions))
    return pd.DataFrame([claim_row(claim, a, b, num_classes, keep_interval=True) for claim, a, b in pairs])
