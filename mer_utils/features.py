"""Hand-crafted features: LBP-TOP, the classic micro-expression baseline.

LBP-TOP (Zhao & Pietikäinen 2007, cited as the baseline in Peng et al. 2018 Tables IV–VI and Zhao et al.
2021 Tables 2–3): local binary patterns computed on the three orthogonal planes of a clip — XY (appearance,
every frame), XT and YT (motion along rows and columns over time) — histogrammed per spatial block and
concatenated. The 59-bin histogram of uniform patterns for P = 8 neighbours is scikit-image's
``method="nri_uniform"`` (58 uniform codes + 1 bin for every non-uniform pattern); ``"uniform"`` would be
the 10-bin rotation-invariant variant (REFERENCE.md §4).

Vectorised: the planes of one orientation are stacked into one tall image and coded with a single
:func:`skimage.feature.local_binary_pattern` call. Only pixels at least ``radius`` away from every border
(in x, y and t) are histogrammed, so a neighbour never comes from the next plane in the stack nor from
the zero padding outside the clip; the result equals coding every plane separately.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

PLANES = ("XY", "XT", "YT")


def n_bins(points: int = 8) -> int:
    """Number of ``nri_uniform`` codes for ``points`` neighbours: ``P (P - 1) + 3`` (59 for P = 8)."""
    return points * (points - 1) + 3


def _as_grey_volume(clip: np.ndarray) -> np.ndarray:
    clip = np.asarray(clip)
    if clip.ndim == 4 and clip.shape[-1] in (3, 4):
        clip = clip[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    if clip.ndim != 3:
        raise ValueError(f"LBP-TOP expects a clip of shape (T, H, W) grey or (T, H, W, 3) colour, got {clip.shape}.")
    if np.issubdtype(clip.dtype, np.integer):
        return clip.astype(np.int32)
    lo, hi = float(np.min(clip)), float(np.max(clip))
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    return np.round((clip - lo) * scale).astype(np.int32)  # integer codes avoid skimage's float-tie warning


def lbp_top_codes(clip: np.ndarray, radius: int = 1, points: int = 8) -> np.ndarray:
    """LBP codes of every voxel on the three planes: array ``(3, T, H, W)`` (XY, XT, YT), ``nri_uniform``.

    Voxels closer than ``radius`` to a border carry codes computed with scikit-image's zero padding;
    :func:`lbp_top` ignores them.
    """
    from skimage.feature import local_binary_pattern

    vol = _as_grey_volume(clip)
    T, H, W = vol.shape
    if min(T, H, W) <= 2 * radius:
        raise ValueError(f"clip of shape (T={T}, H={H}, W={W}) is too small for radius {radius}: every axis "
                         f"needs more than {2 * radius} samples.")

    def code(img: np.ndarray) -> np.ndarray:
        return local_binary_pattern(img, points, radius, method="nri_uniform").astype(np.int16)

    xy = code(vol.reshape(T * H, W)).reshape(T, H, W)                                          # rows y, cols x
    xt = code(vol.transpose(1, 0, 2).reshape(H * T, W)).reshape(H, T, W).transpose(1, 0, 2)     # rows t, cols x
    yt = code(vol.transpose(2, 0, 1).reshape(W * T, H)).reshape(W, T, H).transpose(1, 2, 0)     # rows t, cols y
    return np.stack([xy, xt, yt])


def lbp_top(clip: np.ndarray, blocks: Sequence[int] = (5, 5), radius: int = 1, points: int = 8,
            t_blocks: int = 1, normalize: bool = True) -> np.ndarray:
    """LBP-TOP feature of one clip: histograms per plane and block, length ``3 * blocks * 59``.

    ``blocks = (rows, cols)`` splits the (border-trimmed) face into a grid; ``t_blocks`` splits time too.
    The vector is ordered plane-major: ``[XY block 0 .. block B-1, XT ..., YT ...]``, each 59 bins
    (``nri_uniform``, P = 8), each histogram normalised to sum 1 when ``normalize``.
    """
    rows, cols = (int(b) for b in blocks)
    if rows < 1 or cols < 1 or t_blocks < 1:
        raise ValueError(f"blocks={blocks}, t_blocks={t_blocks}: expected positive block counts.")
    codes = lbp_top_codes(clip, radius, points)
    _, T, H, W = codes.shape
    r = radius
    inner = codes[:, r:T - r, r:H - r, r:W - r]
    Ti, Hi, Wi = inner.shape[1:]
    if rows > Hi or cols > Wi or t_blocks > Ti:
        raise ValueError(f"{rows}x{cols}x{t_blocks} blocks do not fit the {Hi}x{Wi}x{Ti} interior of the clip.")
    by = np.arange(Hi) * rows // Hi
    bx = np.arange(Wi) * cols // Wi
    bt = np.arange(Ti) * t_blocks // Ti
    block = (bt[:, None, None] * rows + by[None, :, None]) * cols + bx[None, None, :]  # (Ti, Hi, Wi)
    nb, K = rows * cols * t_blocks, n_bins(points)
    flat = (np.arange(3)[:, None, None, None] * nb + block[None]) * K + inner
    hist = np.bincount(flat.ravel(), minlength=3 * nb * K).reshape(3, nb, K).astype(np.float64)
    if normalize:
        hist /= hist.sum(axis=2, keepdims=True)
    return hist.ravel()


def lbp_top_features(clips: Iterable[np.ndarray], blocks: Sequence[int] = (5, 5), radius: int = 1,
                     points: int = 8, t_blocks: int = 1, progress: bool = True) -> np.ndarray:
    """Stack :func:`lbp_top` over clips: array ``(N, 3 * blocks * t_blocks * 59)``; tqdm progress."""
    from tqdm.auto import tqdm

    feats = [lbp_top(c, blocks, radius, points, t_blocks) for c in tqdm(clips, desc="LBP-TOP", disable=not progress)]
    if not feats:
        raise ValueError("lbp_top_features: no clips given.")
    return np.stack(feats)


def feature_names(blocks: Sequence[int] = (5, 5), points: int = 8, t_blocks: int = 1) -> list[str]:
    """Names of the LBP-TOP vector's entries (``XY/b3/c12``), in :func:`lbp_top` order."""
    nb = int(blocks[0]) * int(blocks[1]) * t_blocks
    return [f"{p}/b{b}/c{c}" for p in PLANES for b in range(nb) for c in range(n_bins(points))]


def prepare_lbp_top(table, n_frames: int = 16, blocks: int | Sequence[int] = 5, temporal: str = "tim",
                    params: dict | None = None, progress: bool = True):
    """LBP-TOP features of every clip of a labelled clip table, as a :class:`mer_utils.training.ClipDataset`.

    Faces: the shared preprocessing (:func:`mer_utils.preprocess.prepare`) — dlib landmarks on the onset
    frame, one alignment for the whole clip, grey 64x64 crops (INTER_AREA), the onset..offset segment brought
    to ``n_frames`` frames by TIM (Pfister et al. 2011 used TIM before LBP-TOP); this is the face array of
    the ``reddy2019`` recipe, reused here, cached on disk. Features: :func:`lbp_top` with a
    ``blocks x blocks`` grid. Returns ``(dataset, faces)``: the ClipDataset (table with ``prep_ok``, inputs
    ``(N, 3 * blocks² * 59)``, class names from the protocol) and the ``(N, T, 64, 64)`` face stacks.
    """
    from .preprocess import prepare
    from .training import ClipDataset

    b = (int(blocks), int(blocks)) if np.isscalar(blocks) else tuple(int(x) for x in blocks)
    prep = prepare("reddy2019", table, params={"temporal": temporal, "n_frames": int(n_frames), **(params or {})},
                   progress=progress)
    faces = np.asarray(prep.arrays["face"])
    failed = int((~prep.table["prep_ok"].astype(bool)).sum()) if "prep_ok" in prep.table else 0
    if failed:
        import warnings

        warnings.warn(f"prepare_lbp_top: {failed} clip(s) could not be preprocessed (prep_ok=False); their "
                      "features come from blank faces.", stacklevel=2)
    X = lbp_top_features(faces, blocks=b, progress=progress).astype(np.float32)
    classes = table.attrs.get("classes")
    return ClipDataset(prep.table, X, class_names=list(classes) if classes else None), faces
