"""Face alignment and cropping: one affine transform per clip, applied to every frame.

The landmarks are located once (on the onset frame, or averaged over a few frames), a transform is built from
them, and the same transform is applied to the whole clip — as AMAN does (Wei et al. 2022, 004, Sec. 3.1.1:
"68 landmarks ... in the onset frame and then align the face area in line with these landmarks"), so a clip
costs one detection instead of one per frame.

Two crops:

- ``crop="eyes"``: a similarity transform (rotation, uniform scale, shift) that puts the two eye centres
  exactly on the template positions :func:`template_eye_centres` — the mean dlib face
  (:data:`~mer_utils.preprocess.faces.MEAN_FACE_68`) scaled so its landmark box (jaw to jaw, brows to chin)
  fills the output minus a margin.
- ``crop="landmarks"``: the landmark-bounded crop of She et al. 2020 (000, Sec. III-A "cropped the face by using
  the 68 landmarks"), Reddy et al. 2019 and Zhao et al. 2021 (003, Sec. 3.1.1.3): rotate so the eyes are level,
  then map the bounding box of the 68 landmarks (plus a margin) onto the output (the two axes scaled separately).

Sizes are ``(width, height)`` as in OpenCV (She et al.'s "120 x 140" faces are 120 wide, 140 tall); arrays are
``(H, W[, 3])``.
"""
from __future__ import annotations

import cv2
import numpy as np

from .faces import MEAN_FACE_68, FaceLandmarks, _check_landmarks, detect_landmarks, eye_centres, to_grey, \
    whole_frame_landmarks

CROPS = ("eyes", "landmarks")


def as_size(size) -> tuple[int, int]:
    """``(width, height)`` from an int (square) or a pair."""
    if isinstance(size, (int, np.integer)):
        w = h = int(size)
    else:
        try:
            w, h = (int(v) for v in size)
        except (TypeError, ValueError):
            raise ValueError(f"Expected size as an int or a (width, height) pair, got {size!r}.") from None
    if w < 2 or h < 2:
        raise ValueError(f"Output size must be at least 2x2 pixels, got (width, height) = ({w}, {h}).")
    return w, h


def template_landmarks(size, margin: float = 0.05) -> np.ndarray:
    """The mean face's 68 points in an output of ``size`` (width, height) for ``crop="eyes"``.

    The mean face is scaled uniformly so that its landmark box fits inside the output with ``margin`` (a fraction
    of each side) left free on the tighter axis, and centred.
    """
    w, h = as_size(size)
    lo, hi = MEAN_FACE_68.min(axis=0), MEAN_FACE_68.max(axis=0)
    span = hi - lo
    s = min(w * (1 - 2 * margin) / span[0], h * (1 - 2 * margin) / span[1])
    centre_src = (lo + hi) / 2
    return (MEAN_FACE_68 - centre_src) * s + [w / 2, h / 2]


def template_eye_centres(size, margin: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Where ``crop="eyes"`` puts the (left, right) eye centres in an output of ``size``."""
    return eye_centres(template_landmarks(size, margin))


def similarity_from_points(src: tuple, dst: tuple) -> np.ndarray:
    """2x3 similarity (rotation + uniform scale + shift) mapping the point pair ``src`` exactly onto ``dst``."""
    (a, b), (c, d) = (np.asarray(p, dtype=np.float64) for p in src), (np.asarray(p, dtype=np.float64) for p in dst)
    v_src, v_dst = b - a, d - c
    n = np.hypot(*v_src)
    if n < 1e-9:
        raise ValueError(f"The two source points {a} and {b} coincide; cannot build a similarity transform.")
    s = np.hypot(*v_dst) / n
    ang = np.arctan2(v_dst[1], v_dst[0]) - np.arctan2(v_src[1], v_src[0])
    r = s * np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    t = c - r @ a
    return np.hstack([r, t[:, None]])


def transform_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine ``matrix`` to (N, 2) points."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape != (2, 3):
        raise ValueError(f"Expected a 2x3 affine matrix, got shape {m.shape}.")
    p = np.asarray(points, dtype=np.float64)
    return p @ m[:, :2].T + m[:, 2]


def compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The 2x3 affine ``outer ∘ inner`` (apply ``inner`` first)."""
    o = np.vstack([outer, [0, 0, 1]])
    i = np.vstack([inner, [0, 0, 1]])
    return (o @ i)[:2]


def alignment_transform(landmarks: np.ndarray, size, crop: str = "eyes", margin: float = 0.05) -> np.ndarray:
    """2x3 affine mapping frame pixels onto the aligned face of ``size`` (width, height).

    ``crop="eyes"``: similarity putting the eye centres on :func:`template_eye_centres` (``margin`` as there).
    ``crop="landmarks"``: eyes levelled, then the 68-landmark box grown by ``margin`` (fraction of its width and
    height on every side) mapped onto the whole output.
    """
    lm = _check_landmarks(landmarks)
    w, h = as_size(size)
    if crop not in CROPS:
        raise ValueError(f"Unknown crop {crop!r}: expected one of {CROPS}.")
    left, right = eye_centres(lm)
    if crop == "eyes":
        return similarity_from_points((left, right), template_eye_centres((w, h), margin))
    v = right - left
    ang = -np.arctan2(v[1], v[0])
    rot = np.array([[np.cos(ang), -np.sin(ang), 0.0], [np.sin(ang), np.cos(ang), 0.0]])
    p = transform_points(rot, lm)
    lo, hi = p.min(axis=0), p.max(axis=0)
    span = np.maximum(hi - lo, 1e-6)
    lo, hi = lo - margin * span, hi + margin * span
    sx, sy = w / (hi[0] - lo[0]), h / (hi[1] - lo[1])
    scale = np.array([[sx, 0.0, -sx * lo[0]], [0.0, sy, -sy * lo[1]]])
    return compose(scale, rot)


def box_transform(matrix: np.ndarray, box: tuple, size) -> np.ndarray:
    """Affine that maps the box ``(x0, y0, x1, y1)`` — given in the output coordinates of ``matrix`` — onto an
    output of ``size``; composed with ``matrix`` so that a RoI is cut straight from the original frame."""
    w, h = as_size(size)
    x0, y0, x1, y1 = (float(v) for v in box)
    if x1 - x0 < 1e-6 or y1 - y0 < 1e-6:
        raise ValueError(f"RoI box {box} is empty: expected x1 > x0 and y1 > y0.")
    sx, sy = w / (x1 - x0), h / (y1 - y0)
    return compose(np.array([[sx, 0.0, -sx * x0], [0.0, sy, -sy * y0]]), matrix)


def _prescale(matrix: np.ndarray) -> float:
    """Factor by which to shrink frames (with INTER_AREA) before warping, so the warp itself scales by >= 0.5."""
    s = np.linalg.svd(np.asarray(matrix)[:, :2], compute_uv=False).max()
    return 1.0 if s >= 0.5 else float(2 * s)


def warp_frames(frames: np.ndarray, matrix: np.ndarray, size, interpolation: int = cv2.INTER_LINEAR,
                border: int = cv2.BORDER_REPLICATE) -> np.ndarray:
    """Warp every frame of a stack ``frames`` ((T, H, W) or (T, H, W, C)) with the same 2x3 ``matrix``.

    When the transform shrinks the face by more than 2x, the frames are first reduced with ``cv2.INTER_AREA``
    (the anti-aliased resize the 3D-CNN authors use, REFERENCE.md §3) and the matrix adjusted, so the result is
    not aliased. Use :func:`warp_image` for a single image.
    """
    arr = np.asarray(frames)
    if arr.ndim not in (3, 4):
        raise ValueError(f"Expected a stack of frames (T, H, W) or (T, H, W, C), got shape {arr.shape}; "
                         "use warp_image for a single image.")
    w, h = as_size(size)
    m = np.asarray(matrix, dtype=np.float64)
    f = _prescale(m)
    out = np.empty((arr.shape[0], h, w) + arr.shape[3:], dtype=arr.dtype)
    for i, frame in enumerate(arr):
        frame = np.ascontiguousarray(frame)
        mm = m
        if f < 1.0:
            fh, fw = frame.shape[:2]
            nw, nh = max(1, round(fw * f)), max(1, round(fh * f))
            frame = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_AREA)
            fx, fy = nw / fw, nh / fh
            # cv2.resize maps pixel centres: x_small = (x + 0.5) * fx - 0.5
            back = np.array([[1 / fx, 0.0, 0.5 / fx - 0.5], [0.0, 1 / fy, 0.5 / fy - 0.5]])
            mm = compose(m, back)
        warped = cv2.warpAffine(frame, mm, (w, h), flags=interpolation, borderMode=border)
        out[i] = warped.reshape(out.shape[1:])
    return out


def warp_image(image: np.ndarray, matrix: np.ndarray, size, **kwargs) -> np.ndarray:
    """:func:`warp_frames` for one (H, W) or (H, W, C) image."""
    img = np.asarray(image)
    if img.ndim not in (2, 3):
        raise ValueError(f"Expected one image (H, W) or (H, W, C), got shape {img.shape}.")
    return warp_frames(img[None], matrix, size, **kwargs)[0]


def align_image(image: np.ndarray, size, detector: str = "hog", crop: str = "eyes", margin: float = 0.05,
                face: FaceLandmarks | None = None) -> tuple[np.ndarray, FaceLandmarks, bool]:
    """Detect, align and crop one image (e.g. a macro-expression photo for Peng et al. 2018's transfer stage).

    Returns ``(aligned, face, found)``; when no face is found the whole image is used (``found`` False).
    """
    img = np.asarray(image)
    found = True
    if face is None:
        face = detect_landmarks(img, method=detector)
        if face is None:
            face, found = whole_frame_landmarks(img.shape), False
    m = alignment_transform(face.landmarks, size, crop=crop, margin=margin)
    out = warp_image(img, m, size)
    return out, face, found


#: How the frames of a clip are aligned to its first frame after the one-transform-per-clip crop: ``"none"`` —
#: the crop only, so head drift between frames stays in frame differences and residual sums; ``"euclidean"`` —
#: each later frame additionally registered to the first by a rigid (rotation + shift) ECC fit
#: (:func:`register_to_first`; Zhao et al. 2021's residual sums and Reddy et al. 2019's onset differences).
REGISTER_CHOICES = ("none", "euclidean")


def register_to_first(frames: np.ndarray, motion: str = "euclidean", iterations: int = 50,
                      eps: float = 1e-4) -> np.ndarray:
    """``frames`` (T, H, W[, 3]) uint8 with frames 1..T-1 warped onto frame 0 by a rigid ECC fit (OpenCV's
    ``findTransformECC``, on grey, slightly blurred copies); a frame whose fit fails is kept as it is.

    Removes the rigid head drift the one-transform-per-clip crop leaves between the first and the later frames,
    so differences to the first frame (residual sums, onset differences) keep the non-rigid facial motion rather
    than the edges of a shifted face.
    """
    frames = np.asarray(frames)
    if frames.ndim not in (3, 4) or frames.dtype != np.uint8:
        raise ValueError(f"register_to_first: expected uint8 frames (T, H, W[, 3]), got {frames.dtype} {frames.shape}.")
    if motion not in REGISTER_CHOICES[1:]:
        raise ValueError(f"register_to_first: motion={motion!r}, expected one of {REGISTER_CHOICES[1:]}.")

    def grey(x):
        return cv2.GaussianBlur(to_grey(x), (5, 5), 1.0).astype(np.float32)

    ref = grey(frames[0])
    h, w = ref.shape
    out = frames.copy()
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, iterations, eps)
    for i in range(1, len(frames)):
        warp = np.eye(2, 3, dtype=np.float32)
        try:
            _, warp = cv2.findTransformECC(ref, grey(frames[i]), warp, cv2.MOTION_EUCLIDEAN, criteria, None, 1)
        except cv2.error:
            continue
        out[i] = cv2.warpAffine(frames[i], warp, (w, h), flags=cv2.INTER_LINEAR + cv2.WARP_INVERSE_MAP,
                                borderMode=cv2.BORDER_REPLICATE)
    return out
