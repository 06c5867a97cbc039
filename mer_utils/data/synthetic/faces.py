"""Source face photos, their 68 landmarks, and synthetic identities built from them.

The generator needs real faces but only PyPI can be reached, so it starts from face photos that ship inside
packages — ``skimage.data.astronaut()``, matplotlib's sample ``grace_hopper.jpg`` and the hash-pinned package
photos of :mod:`.photos` (sources and licences there) — plus any user folder of frontal portraits. A smiling
photo is first relaxed to neutral (:func:`relax_smile`, AU12 / AU6 / AU25 reversed), so that every expression
starts from a neutral face. dlib's HOG detector and 68-point shape predictor (model file from the
``face-recognition-models`` package, found through :func:`importlib.util.find_spec`, REFERENCE.md §5) locate
the landmarks once per process (cached).

A synthetic **subject** (:class:`Subject`) is one of those photos, morphed 15-35 % towards another one in shape
and texture (:func:`identity_face`, :func:`morph_faces`: a new person who resembles the first), placed in a frame with a per-subject
similarity transform (scale, roll, position, optional mirror), a geometric deformation of the face
(proportions of eyes, brows, nose, mouth, jaw; a smooth dense warp from landmark displacements), a skin-tone
and colour change, directional lighting, and a new background, plus an expression *style* (intensity scale,
preferred AU variants, timing).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from . import aus as A

#: Environment variable naming a folder of extra frontal portrait photos (jpg / png) to use as sources.
PHOTOS_ENV = "MER_SYNTHETIC_PHOTOS"


# ----------------------------------------------------------------------------------------------- dlib, cached
def shape_predictor_file() -> Path:
    """``shape_predictor_68_face_landmarks.dat`` inside the installed ``face-recognition-models`` package."""
    from ...preprocess.faces import shape_predictor_path  # one lookup for the course (imported when needed)

    return shape_predictor_path()


@lru_cache(maxsize=1)
def _dlib_models():
    import dlib

    return dlib.get_frontal_face_detector(), dlib.shape_predictor(str(shape_predictor_file()))


def detect_faces(image: np.ndarray, upsample: int = 0) -> list[tuple[int, int, int, int]]:
    """dlib HOG face boxes ``(x0, y0, x1, y1)`` in an RGB or grey uint8 image, largest first."""
    detector, _ = _dlib_models()
    rects = detector(np.ascontiguousarray(image), upsample)
    boxes = [(r.left(), r.top(), r.right(), r.bottom()) for r in rects]
    return sorted(boxes, key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))


def landmarks_in_box(image: np.ndarray, box) -> np.ndarray:
    """dlib's 68 landmarks (68, 2) float inside a face box."""
    import dlib

    _, predictor = _dlib_models()
    shape = predictor(np.ascontiguousarray(image), dlib.rectangle(*[int(v) for v in box]))
    return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)


# ----------------------------------------------------------------------------------------------- source photos
@dataclass(frozen=True)
class SourceFace:
    """A source photo (RGB uint8) with its 68 landmarks."""

    name: str
    image: np.ndarray
    landmarks: np.ndarray
    relaxed: dict = field(default_factory=dict)  # what relax_smile measured (lip gap, corner lift, width)


def _builtin_photos() -> list[tuple[str, np.ndarray]]:
    import matplotlib.cbook as cbook
    import skimage.data
    from PIL import Image

    from .photos import package_photos

    photos = [("astronaut", skimage.data.astronaut())]
    with cbook.get_sample_data("grace_hopper.jpg") as fh:
        photos.append(("grace_hopper", np.array(Image.open(fh).convert("RGB"))))
    return photos + package_photos()


def _folder_photos(folder: Path) -> list[tuple[str, np.ndarray]]:
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"Photo folder {folder} does not exist; give a folder of frontal portrait photos "
                                f"(jpg/png), or unset ${PHOTOS_ENV}.")
    photos = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp"):
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is None:
                raise ValueError(f"Cannot read image {path}: expected a jpg/png portrait photo.")
            photos.append((path.stem, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
    return photos


#: Neutral mouth of the relaxed source faces: width between the lip corners, in IOD (the neutral source photo,
#: grace_hopper, measures 0.82; a smile widens it, AU12 pulling the corners out and up).
NEUTRAL_MOUTH_WIDTH = 0.85
#: A relaxed lip corner sits a little below the line where the lips meet (IOD; grace_hopper: 0.01, lips closed).
CORNER_DROP = 0.04


def relax_smile_displacement(lm: np.ndarray) -> tuple[np.ndarray, dict]:
    """Landmark displacements (77, 2) in image pixels that relax a smiling face to neutral, and how much.

    The reverse of AU12 (lip-corner puller) and AU6 (cheek raiser) + AU25 (lips part), measured on the face
    itself: the lip corners are brought down to the line where the lips meet and in towards a neutral mouth
    width (:data:`NEUTRAL_MOUTH_WIDTH`), the parted lips close over the teeth (each lip moves half the inner
    gap), and the cheeks and lower lids drop in proportion to the corner lift. A face that does not smile
    (corners on the lip line, lips together) gets (almost) no displacement.
    """
    pts = all_points(lm)
    centre, iod, ex, ey = eye_frame(lm)
    loc = np.c_[(pts - centre) @ ex, (pts - centre) @ ey] / iod
    d = np.zeros_like(loc)
    gap = max(0.0, loc[[65, 66, 67], 1].mean() - loc[[61, 62, 63], 1].mean())
    upper = [49, 50, 51, 52, 53, 61, 62, 63]
    lower = [55, 56, 57, 58, 59, 65, 66, 67]
    d[upper, 1] += 0.5 * gap
    d[lower, 1] -= 0.5 * gap
    line = 0.5 * (loc[[61, 62, 63], 1].mean() + loc[[65, 66, 67], 1].mean())  # where the closed lips meet
    width = loc[54, 0] - loc[48, 0]
    shrink = 0.8 * max(0.0, width - NEUTRAL_MOUTH_WIDTH) / 2
    lift = {}
    for corner, inner, near, far in ((48, 60, (49, 59), (50, 58, 61, 67)), (54, 64, (53, 55), (52, 56, 63, 65))):
        up = max(0.0, line + CORNER_DROP - loc[corner, 1])  # how far above a neutral corner it sits
        lift[corner] = up
        side = -1.0 if corner == 48 else 1.0
        step = np.array([-side * shrink, up])
        d[corner] += step
        d[inner] += np.array([-side * shrink, max(0.0, line + CORNER_DROP - loc[inner, 1])])
        for j in near:
            d[j] += 0.6 * step
        for j in far:
            d[j] += 0.15 * step
    raise_ = float(np.mean(list(lift.values())))
    for cheek, nasolabial, lids in ((A.CHEEK_R, A.NASOLABIAL_R, (40, 41)), (A.CHEEK_L, A.NASOLABIAL_L, (46, 47))):
        d[cheek, 1] += 0.8 * raise_
        d[nasolabial] += np.array([0.0, 0.8 * raise_])
        d[list(lids), 1] += 0.2 * raise_
    d_img = face_to_image(d, iod, ex, ey)
    return d_img, {"lip_gap_iod": round(float(gap), 4), "corner_lift_iod": round(raise_, 4),
                   "mouth_width_iod": round(float(width), 4)}


def relax_smile(image: np.ndarray, lm: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
    """A source photo with its smile relaxed (:func:`relax_smile_displacement`, applied as a smooth dense warp):
    (image, new 68 landmarks, measurements)."""
    h, w = image.shape[:2]
    d_img, info = relax_smile_displacement(lm)
    if np.abs(d_img).max() < 0.5:
        return image, lm, info
    centre, iod, ex, ey = eye_frame(lm)
    field_ = dense_fields(all_points(lm), d_img, anchor_points(lm, w, h), w, h, sigma=0.3 * iod, step=2)[0]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    mx, my = backward_maps(field_, gx, gy, iterations=4)
    out = cv2.remap(np.ascontiguousarray(image), mx, my, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    return out, lm + d_img[:68], info


@lru_cache(maxsize=4)
def source_faces(photo_folder: str | None = None) -> tuple[SourceFace, ...]:
    """The source faces: the two installed photos, the package photos of :mod:`.photos` (unless
    ``$MER_SYNTHETIC_BUILTIN_PHOTOS_ONLY=1``) and any photos of ``photo_folder`` (or ``$MER_SYNTHETIC_PHOTOS``).

    Landmarks are detected once per process and cached. Each photo's smile is relaxed
    (:func:`relax_smile`) so that the subjects' faces are neutral before any expression is drawn. Photos without a detectable face are skipped with a
    warning; an error is raised when none is left.
    """
    import warnings

    folder = photo_folder or os.environ.get(PHOTOS_ENV) or None
    photos = _builtin_photos() + (_folder_photos(Path(folder)) if folder else [])
    faces = []
    for name, img in photos:
        boxes = detect_faces(img, upsample=1)
        if not boxes:
            warnings.warn(f"No face found by dlib in source photo {name!r}; it is skipped.")
            continue
        # The astronaut photo has a second small "face" (a reflection); the largest box is the face.
        lm = landmarks_in_box(img, boxes[0])
        img, lm, info = relax_smile(img, lm)  # neutral base face: a smiling photo's AU12/AU6/AU25 reversed
        faces.append(SourceFace(name, img, lm, info))
    if not faces:
        raise RuntimeError("No usable source face photo: dlib found no face in any of them.")
    return tuple(faces)


def _to_canonical(face: "SourceFace", size: int = 384, iod: float = 100.0):
    """A source face moved by a similarity transform so that its eyes sit at fixed places (IOD ``iod`` px) in
    a ``size`` x ``size`` image: (image, landmarks)."""
    centre, f_iod, ex, _ = eye_frame(face.landmarks)
    s = iod / f_iod
    rot = -np.arctan2(ex[1], ex[0])
    c, s_ = s * np.cos(rot), s * np.sin(rot)
    M = np.array([[c, -s_, 0.0], [s_, c, 0.0]])
    M[:, 2] = np.array([size / 2, 0.4 * size]) - M[:, :2] @ centre
    img = cv2.warpAffine(np.ascontiguousarray(face.image), M, (size, size),
                         flags=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    return img, face.landmarks @ M[:, :2].T + M[:, 2]


def morph_faces(a: "SourceFace", b: "SourceFace", t: float, size: int = 384, texture: bool = True) -> "SourceFace":
    """A new identity between two source faces: shape and texture morph (Beier-Neely-style landmark morphing).

    Both faces are aligned on their eyes, warped (smooth thin-plate warp of the 68 + virtual landmarks) onto the
    mean shape ``(1 - t) a + t b``, and their skin texture is cross-dissolved inside the face (jaw line up to
    the forehead points, feathered; ``texture=False`` keeps ``a``'s skin); hair and surroundings come from the
    nearer parent.
    """
    ia, la = _to_canonical(a, size)
    ib, lb = _to_canonical(b, size)
    pa, pb = all_points(la), all_points(lb)
    target = (1 - t) * pa + t * pb
    gx, gy = np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32))
    warped = []
    for img, pts, lm in ((ia, pa, la), (ib, pb, lb)):
        centre, iod, _, _ = eye_frame(lm)
        f = dense_fields(pts, target - pts, anchor_points(lm, size, size), size, size, sigma=0.35 * iod, step=2)[0]
        mx, my = backward_maps(f, gx, gy, iterations=4)
        warped.append(cv2.remap(img, mx, my, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT).astype(np.float32))
    hull = cv2.convexHull(np.round(np.vstack([target[:17], target[[A.FOREHEAD_R, A.FOREHEAD_C, A.FOREHEAD_L]]]))
                          .astype(np.int32))
    mask = np.zeros((size, size), dtype=np.float32)
    cv2.fillConvexPoly(mask, hull, 1.0, lineType=cv2.LINE_AA)
    k = int(0.25 * eye_frame(target[:68])[1]) | 1
    mask = cv2.GaussianBlur(mask, (k, k), 0)[..., None]
    base = warped[0] if t <= 0.5 else warped[1]
    mixed = (1 - t) * warped[0] + t * warped[1] if texture else warped[0]
    img = np.clip(base + mask * (mixed - base) + 0.5, 0, 255).astype(np.uint8)
    name = f"{a.name}~{b.name}@{t:.2f}"
    return SourceFace(name, img, target[:68].copy(), {"morph_of": [a.name, b.name], "t": float(t),
                                                       "texture": bool(texture)})


# ----------------------------------------------------------------------------------------------- geometry
def eye_frame(lm: np.ndarray) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """(eye midpoint, IOD, unit x axis (image-left eye -> image-right eye), unit 'down' axis) of a shape."""
    lm = np.asarray(lm, dtype=np.float64)
    left, right = lm[36:42].mean(axis=0), lm[42:48].mean(axis=0)
    ex = right - left
    iod = float(np.hypot(*ex))
    ex = ex / iod
    ey = np.array([-ex[1], ex[0]])
    return 0.5 * (left + right), iod, ex, ey


def all_points(lm: np.ndarray) -> np.ndarray:
    """The 68 landmarks followed by the virtual points of :func:`mer_utils.data.synthetic.aus.virtual_points`."""
    centre, iod, ex, ey = eye_frame(lm)
    return np.vstack([lm, A.virtual_points(lm, iod, -ey)])


def face_to_image(d_face: np.ndarray, iod: float, ex: np.ndarray, ey: np.ndarray) -> np.ndarray:
    """Face-frame displacements (N, 2) in IOD units -> image-pixel displacements."""
    return iod * (d_face[:, :1] * ex[None] + d_face[:, 1:2] * ey[None])


def face_x(points: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """Signed face-frame x (IOD units) of points relative to the facial midline of shape ``lm``."""
    centre, iod, ex, _ = eye_frame(lm)
    mid = np.mean(lm[[27, 28, 29, 30, 33, 51, 57, 8]], axis=0)
    return ((points - mid) @ ex) / iod


def anchor_points(lm: np.ndarray, width: int, height: int) -> np.ndarray:
    """Zero-displacement anchors: a ring around the face and points on the image border."""
    centre, iod, ex, ey = eye_frame(lm)
    c = centre + 0.6 * iod * ey
    angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    ring = c + (1.9 * iod) * (np.cos(angles)[:, None] * ex + 1.25 * np.sin(angles)[:, None] * ey)
    bx = np.linspace(0, width - 1, 6)
    by = np.linspace(0, height - 1, 5)
    border = np.vstack([np.c_[bx, np.zeros_like(bx)], np.c_[bx, np.full_like(bx, height - 1)],
                        np.c_[np.zeros_like(by[1:-1]), by[1:-1]], np.c_[np.full_like(by[1:-1], width - 1), by[1:-1]]])
    return np.vstack([ring, border])


def dense_fields(points: np.ndarray, displacements: np.ndarray, anchors: np.ndarray, width: int, height: int,
                 sigma: float, step: int = 4) -> np.ndarray:
    """Smooth dense displacement fields from sparse point displacements (Gaussian radial basis interpolation).

    ``points`` (N, 2), ``displacements`` (N, 2K) = K fields; anchors get zero displacement. The interpolant
    (:class:`scipy.interpolate.RBFInterpolator`, Gaussian kernel of width ``sigma`` pixels, slightly smoothed)
    is evaluated on a grid every ``step`` pixels and resized to full resolution with bicubic interpolation.
    Returns (K, H, W, 2) float32.
    """
    from scipy.interpolate import RBFInterpolator

    displacements = np.asarray(displacements, dtype=np.float64)
    k = displacements.shape[1] // 2
    pts = np.vstack([points, anchors])
    vals = np.vstack([displacements, np.zeros((len(anchors), displacements.shape[1]))])
    rbf = RBFInterpolator(pts / sigma, vals, kernel="thin_plate_spline", smoothing=1e-4)
    gw, gh = int(np.ceil(width / step)) + 1, int(np.ceil(height / step)) + 1
    gx, gy = np.meshgrid(np.arange(gw) * step, np.arange(gh) * step)
    coarse = rbf(np.c_[gx.ravel(), gy.ravel()] / sigma).astype(np.float32).reshape(gh, gw, k, 2)
    out = np.empty((k, height, width, 2), dtype=np.float32)
    for i in range(k):
        big = cv2.resize(coarse[:, :, i, :], ((gw - 1) * step + 1, (gh - 1) * step + 1), interpolation=cv2.INTER_CUBIC)
        out[i] = big[:height, :width]
    return out


def backward_maps(field: np.ndarray, grid_x: np.ndarray, grid_y: np.ndarray, iterations: int = 2):
    """Sampling maps for ``cv2.remap`` so that content at ``p`` moves to about ``p + field(p)``.

    Solves ``m(x) = x - field(m(x))`` by fixed-point iteration (exact for small, smooth fields).
    """
    mx = grid_x - field[..., 0]
    my = grid_y - field[..., 1]
    for _ in range(iterations):
        f = cv2.remap(field, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        mx = grid_x - f[..., 0]
        my = grid_y - f[..., 1]
    return mx, my


# ----------------------------------------------------------------------------------------------- subjects
@dataclass
class Style:
    """A subject's expression style: intensity scale, preferred AU variant per emotion, timing."""

    intensity_scale: float
    variant_bias: dict
    duration_scale: float
    apex_position: float
    unilateral_prob: float
    au_morph: dict = None  # AU -> ((N,) rotation in radians, (N,) scale, global scale): how this face moves


@dataclass
class Subject:
    """A synthetic identity rendered at one frame size.

    ``head`` (H, W, 3) uint8 RGB face layer, ``alpha`` (H, W) float32 its mask, ``background`` (H, W, 3) float32,
    ``landmarks`` (68, 2) of the neutral face, ``points`` (77, 2) with the virtual points, and the
    face frame (``iod`` in pixels, unit axes ``ex``, ``ey``).
    """

    key: str
    source: str
    head: np.ndarray
    alpha: np.ndarray
    background: np.ndarray
    landmarks: np.ndarray
    points: np.ndarray
    iod: float
    ex: np.ndarray
    ey: np.ndarray
    style: Style
    params: dict
    grey: bool = False
    _fields: dict = field(default_factory=dict, repr=False)
    _grid: tuple | None = field(default=None, repr=False)
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.head.shape[1], self.head.shape[0]

    def neutral(self) -> np.ndarray:
        """The neutral face composited on the background, uint8 (RGB, or grey for a grey subject); cached."""
        if "neutral" not in self._cache:
            img = self.background + self.alpha[..., None] * (self.head.astype(np.float32) - self.background)
            img = np.clip(img + 0.5, 0, 255).astype(np.uint8)
            self._cache["neutral"] = np.ascontiguousarray(img[..., 0]) if self.grey else img
        return self._cache["neutral"]

    def rigid_basis(self) -> tuple:
        """Dense fields of a small rigid head motion, confined to the head (background stays still):
        ``(mask, rot_x, rot_y)`` so that a shift (dx, dy) and a roll ``theta`` (radians, first order) move
        pixels by ``(dx * mask + theta * rot_x, dy * mask + theta * rot_y)``."""
        if "rigid" not in self._cache:
            gx, gy = self.grid()
            mask = (self.alpha > 0.05).astype(np.float32)
            k = max(3, int(0.6 * self.iod) | 1)
            mask = np.clip(cv2.GaussianBlur(mask, (k, k), 0) * 1.2, 0, 1)
            c = self.landmarks[27:36].mean(axis=0)
            self._cache["rigid"] = (mask, -mask * (gy - np.float32(c[1])), mask * (gx - np.float32(c[0])))
        return self._cache["rigid"]

    def grid(self):
        if self._grid is None:
            w, h = self.size
            gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
            self._grid = (gx, gy)
        return self._grid

    def token_displacement(self, token: str) -> np.ndarray:
        """(77, 2) image-pixel displacement of an AU token at intensity 1 (largest displacement = 1 IOD); cached."""
        cache = self._cache.setdefault("displacement", {})
        if token not in cache:
            cache[token] = self._token_displacement(token)
        return cache[token]

    def _token_displacement(self, token: str) -> np.ndarray:
        if token == "45":
            return A.blink_displacement(self.landmarks)
        tok = A.AUToken.parse(token)
        d_face = A.au_displacement(tok.au)
        if self.style is not None and self.style.au_morph and tok.au in self.style.au_morph:
            # this person's version of the AU: each point's direction turned and length scaled a little
            rot, scale, gain = self.style.au_morph[tok.au]
            c, s_ = np.cos(rot), np.sin(rot)
            d_face = gain * scale[:, None] * np.c_[c * d_face[:, 0] - s_ * d_face[:, 1], s_ * d_face[:, 0] + c * d_face[:, 1]]
        d = face_to_image(d_face, self.iod, self.ex, self.ey)
        w = A.side_weights(tok.side, face_x(self.points, self.landmarks),
                           asym_strong=self.params.get("asym_strong", "L"))
        return d * w[:, None]

    def fields(self, tokens) -> dict:
        """Dense (H, W, 2) fields of AU tokens at intensity 1 (cached per subject)."""
        missing = [t for t in dict.fromkeys(tokens) if t not in self._fields]
        if missing:
            w, h = self.size
            disp = np.hstack([self.token_displacement(t) for t in missing])
            dense = dense_fields(self.points, disp, anchor_points(self.landmarks, w, h), w, h,
                                 sigma=0.28 * self.iod)
            for t, f in zip(missing, dense):
                self._fields[t] = f
        return {t: self._fields[t] for t in tokens}


def _style(rng: np.random.Generator) -> Style:
    bias = {emo: rng.dirichlet(np.full(len(v), 1.5)) for emo, v in A.EMOTION_VARIANTS.items()}
    # How this face moves: each point's direction turned and length scaled a little (generator 2.0: 12 degrees,
    # 15 % and a 15 % gain, was 30 degrees, 30 % and 25 %, which tangled the texture at macro intensity).
    morph = {au: (rng.normal(0.0, np.deg2rad(12.0), A.N_POINTS), np.exp(rng.normal(0.0, 0.15, A.N_POINTS)),
                  float(np.exp(rng.normal(0.0, 0.15)))) for au in A.AU_NUMBERS}
    return Style(intensity_scale=float(rng.uniform(0.75, 1.3)), variant_bias=bias,
                 duration_scale=float(rng.uniform(0.8, 1.25)), apex_position=float(rng.uniform(0.3, 0.55)),
                 unilateral_prob=float(rng.uniform(0.0, 0.4)), au_morph=morph)


def _identity_displacement(rng: np.random.Generator, lm: np.ndarray) -> tuple[np.ndarray, dict]:
    """Random face-proportion changes as (77, 2) face-frame displacements in IOD units."""
    pts = all_points(lm)
    centre, iod, ex, ey = eye_frame(lm)
    local = np.c_[(pts - centre) @ ex, (pts - centre) @ ey] / iod  # face frame, IOD units
    p = {
        "eye_spacing": rng.uniform(-0.05, 0.05), "eye_size": rng.uniform(-0.12, 0.12),
        "brow_height": rng.uniform(-0.07, 0.07), "nose_length": rng.uniform(-0.07, 0.07),
        "nose_width": rng.uniform(-0.1, 0.1), "mouth_width": rng.uniform(-0.1, 0.1),
        "mouth_height": rng.uniform(-0.06, 0.06), "jaw_width": rng.uniform(-0.07, 0.07),
        "chin_length": rng.uniform(-0.07, 0.07),
    }
    d = np.zeros_like(local)
    sign = np.sign(local[:, 0])
    for eye in (range(36, 42), range(42, 48)):
        idx = list(eye)
        c = local[idx].mean(axis=0)
        d[idx] += p["eye_size"] * (local[idx] - c)
        d[idx, 0] += p["eye_spacing"] * np.sign(c[0])
    brows = list(range(17, 27)) + [A.FOREHEAD_R, A.FOREHEAD_L, A.FOREHEAD_C]
    d[brows, 1] -= p["brow_height"]
    nose_low = [30, 31, 32, 33, 34, 35]
    d[nose_low, 1] += p["nose_length"]
    d[[31, 32, 34, 35], 0] += p["nose_width"] * (local[[31, 32, 34, 35], 0])
    mouth = list(range(48, 68))
    mc = local[mouth].mean(axis=0)
    d[mouth, 0] += p["mouth_width"] * (local[mouth, 0] - mc[0])
    d[mouth + [A.NASOLABIAL_R, A.NASOLABIAL_L], 1] += p["mouth_height"]
    jaw = list(range(2, 15)) + [A.CHEEK_R, A.CHEEK_L]
    d[jaw, 0] += p["jaw_width"] * sign[jaw] * np.clip(np.abs(local[jaw, 0]), 0, 1)
    chin = [5, 6, 7, 8, 9, 10, 11, A.CHIN_BOSS]
    d[chin, 1] += p["chin_length"] * np.array([0.4, 0.7, 0.9, 1.0, 0.9, 0.7, 0.4, 1.0])
    return d, {k: float(v) for k, v in p.items()}


def _background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A plain lab-like background: a two-colour gradient with faint low-frequency texture, float32 0..255."""
    base = rng.uniform(70, 235)
    c0 = np.clip(base + rng.normal(0, 14, size=3), 0, 255)
    c1 = np.clip(c0 + rng.normal(0, 20, size=3), 0, 255)
    ang = rng.uniform(0, np.pi)
    xs, ys = np.meshgrid(np.linspace(-1, 1, width), np.linspace(-1, 1, height))
    t = (np.cos(ang) * xs + np.sin(ang) * ys + 1.5) / 3.0
    bg = c0[None, None] * (1 - t[..., None]) + c1[None, None] * t[..., None]
    tex = cv2.resize(rng.normal(0, 6, size=(max(2, height // 24), max(2, width // 24))).astype(np.float32),
                     (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(bg + tex[..., None], 0, 255).astype(np.float32)


def draw_style(rng: np.random.Generator) -> Style:
    """A random expression style (intensity scale 0.75-1.3, Dirichlet-biased AU variants, timing)."""
    return _style(rng)


#: How far (texture and shape) a subject's face is morphed from its primary photo towards a second one.
MORPH_RANGE = (0.15, 0.35)
#: Source photos whose person wears glasses: they give their face shape to a morph, not their texture (a
#: cross-dissolve would leave ghost glasses).
GLASSES = frozenset({"grace_hopper", "takeo"})


_MORPHS: dict = {}


def _morph_cached(a: "SourceFace", b: "SourceFace", t: float) -> "SourceFace":
    key = (id(a), id(b), t)
    if key not in _MORPHS:
        if len(_MORPHS) > 64:
            _MORPHS.clear()
        _MORPHS[key] = (a, b, morph_faces(a, b, t, texture=b.name not in GLASSES))
    return _MORPHS[key][2]


def identity_face(sources: tuple, k: int, t: float) -> "SourceFace":
    """The face of the ``k``-th identity: source photo ``k mod n`` morphed by ``t`` (shape and, unless the
    donor wears glasses, texture) towards another photo, a different one for each round over the photos, so
    that two subjects built on the same photo are two different people who resemble each other."""
    n = len(sources)
    primary = sources[k % n]
    if n < 2 or t <= 0:
        return primary
    donor = sources[(k % n + 1 + (k // n) % (n - 1)) % n]
    return _morph_cached(primary, donor, round(float(t), 3))


def make_subject(key: str, rng: np.random.Generator, width: int, height: int, face_range: tuple[float, float],
                 grey: bool = False, photo_folder: str | None = None, source_index: int | None = None,
                 style: Style | None = None) -> Subject:
    """Build one synthetic identity at frame size ``width`` x ``height`` (see module docstring).

    ``face_range`` gives the face width (jaw outline, landmark 0 to 16) in pixels; dlib's face box is about as
    wide. The face is placed near the frame centre with a random offset, roll (±5°), optional mirror,
    face-proportion changes, skin tone, lighting and background.
    """
    sources = source_faces(photo_folder)
    k = source_index if source_index is not None else int(rng.integers(len(sources)))
    src = identity_face(sources, k, float(rng.uniform(*MORPH_RANGE)))
    img, lm = src.image, src.landmarks.copy()
    mirror = bool(rng.random() < 0.5)
    if mirror:
        img = img[:, ::-1]
        lm = lm.copy()
        lm[:, 0] = img.shape[1] - 1 - lm[:, 0]
        lm = lm[A.MIRROR_68]
    centre, iod, ex, ey = eye_frame(lm)
    jaw = float(np.hypot(*(lm[16] - lm[0])))
    scale = float(rng.uniform(*face_range)) / jaw
    roll = float(np.deg2rad(rng.uniform(-5, 5)))
    # Centre of the face (between the brows and the chin) near the frame centre, with a random offset.
    face_c = 0.5 * (lm[17:27].mean(axis=0) + lm[8])
    target = np.array([width / 2 + rng.uniform(-0.07, 0.07) * width,
                       height / 2 + rng.uniform(-0.04, 0.04) * height + 0.05 * height])
    src_angle = np.arctan2(ex[1], ex[0])
    rot = roll - src_angle
    cos, sin = scale * np.cos(rot), scale * np.sin(rot)
    M = np.array([[cos, -sin, 0.0], [sin, cos, 0.0]])
    M[:, 2] = target - M[:, :2] @ face_c
    head = cv2.warpAffine(np.ascontiguousarray(img), M, (width, height), flags=cv2.INTER_AREA if scale < 1 else
                          cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    lm = lm @ M[:, :2].T + M[:, 2]

    # Face-proportion changes, as a smooth dense warp.
    d_face, shape_params = _identity_displacement(rng, lm)
    centre, iod, ex, ey = eye_frame(lm)
    pts = all_points(lm)
    d_img = face_to_image(d_face, iod, ex, ey)
    field_ = dense_fields(pts, d_img, anchor_points(lm, width, height), width, height, sigma=0.35 * iod)[0]
    gx, gy = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    mx, my = backward_maps(field_, gx, gy, iterations=3)
    head = cv2.remap(head, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    lm = lm + d_img[:68]
    centre, iod, ex, ey = eye_frame(lm)
    pts = all_points(lm)

    # Skin tone / colour and directional lighting.
    head_f = head.astype(np.float32)
    tone = rng.uniform(0.8, 1.12)
    gains = (tone * np.array([1.0, rng.uniform(0.9, 1.02), rng.uniform(0.82, 1.02)])).astype(np.float32)
    gamma = float(rng.uniform(0.8, 1.25))
    head_f = 255.0 * (np.clip(head_f * gains, 0, 255) / 255.0) ** gamma
    light_dir = rng.uniform(0, 2 * np.pi)
    light_amp = float(rng.uniform(0.0, 0.3))
    xs = (gx - centre[0]) / (2.0 * iod)
    ys = (gy - centre[1]) / (2.0 * iod)
    shade = 1.0 + light_amp * np.clip(np.cos(light_dir) * xs + np.sin(light_dir) * ys, -1, 1)
    head_f = np.clip(head_f * shade[..., None], 0, 255)
    if grey:
        g = cv2.cvtColor(head_f.astype(np.uint8), cv2.COLOR_RGB2GRAY)
        head_u8 = np.repeat(g[..., None], 3, axis=2)
    else:
        head_u8 = head_f.astype(np.uint8)

    # Head mask: an ellipse over forehead .. chin, feathered.
    c = centre + 0.55 * iod * ey
    axes = (int(round(1.35 * iod)), int(round(1.85 * iod)))
    alpha = np.zeros((height, width), dtype=np.float32)
    cv2.ellipse(alpha, (int(round(c[0])), int(round(c[1]))), axes, float(np.rad2deg(np.arctan2(ex[1], ex[0]))),
                0, 360, 1.0, -1, lineType=cv2.LINE_AA)
    k = max(3, int(0.25 * iod) | 1)
    alpha = cv2.GaussianBlur(alpha, (k, k), 0)
    background = _background(rng, width, height)
    if grey:
        background = np.repeat(background.mean(axis=2, keepdims=True), 3, axis=2)

    params = {"source": src.name, "mirror": mirror, "iod": float(iod), "roll_deg": float(np.rad2deg(roll)),
              "shape": shape_params, "skin_gains": gains.tolist(), "gamma": gamma,
              "light_dir": float(light_dir), "light_amp": light_amp,
              "asym_strong": "L" if rng.random() < 0.5 else "R"}
    return Subject(key=key, source=src.name, head=head_u8, alpha=alpha, background=background, landmarks=lm,
                   points=pts, iod=float(iod), ex=ex, ey=ey, style=style if style is not None else _style(rng),
                   params=params, grey=grey)
