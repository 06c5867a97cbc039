"""Pipeline glue for She et al. 2020 (Multiple Aggregation Networks): Part 3 of Fig. 1.

Frame-level features (the FC-64 activations of :class:`mer_utils.models.she2020.MultipleAggregationNetwork`)
of the N frames of clip i form S_i (eq. 3); the video-level feature Z_i concatenates statistics of S_i
over the frames (eq. 4): mean, standard deviation and median. Table IV compares every non-empty subset
of the three statistics (7 choices); Z_i is classified with LIBSVM (scikit-learn's ``SVC`` wraps LIBSVM)
whose parameters are chosen by an inner cross-validation on the training subjects only.
"""
from __future__ import annotations

from itertools import combinations
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
    than two subjects (or one class) the search is skipped and the default ``SVC`` is fitted.
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
    n_groups = len(np.unique(groups))
    if n_groups < 2 or len(np.unique(labels)) < 2 or inner_folds < 2:
        return pipe.fit(features, labels)
    grid = list(DEFAULT_SVM_GRID) if param_grid is None else param_grid
    search = GridSearchCV(pipe, grid, cv=GroupKFold(n_splits=min(inner_folds, n_groups)),
                          scoring=scoring, error_score=0.0, n_jobs=1)
    return search.fit(features, labels, groups=groups)
