"""Rendering a synthetic clip: AU intensities over time -> dense face warps -> frames with nuisances.

One expression **event** has AU tokens with apex intensities (largest landmark displacement in IOD, see
:mod:`mer_utils.data.synthetic.aus`) and onset / apex / offset times. Its intensity follows a smooth
raised-cosine profile, 0 before the onset, 1 at the apex (optionally held), 0 again at the offset.
Each frame's displacement field is the intensity-weighted sum of the subject's per-AU dense fields (so the
warp is linear in the intensities), plus label-independent nuisances: small head motion (a slow rigid drift
and tremor), blinks (AU45), illumination flicker, sensor noise, and JPEG compression when written.

Micro-expressions have apex intensities of a few percent of the inter-ocular distance (Yan et al. 2014,
CASME II: "subtle"); macro-expressions several times larger.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import cv2
import numpy as np

from .faces import Subject, backward_maps


#: AUs that part the lips (AU25 lips part, AU26 jaw drop, AU27 mouth stretch) and so uncover the mouth.
MOUTH_OPENING_AUS = ("25", "26", "27")


def paint_mouth(img: np.ndarray, lm: np.ndarray, iod: float) -> np.ndarray:
    """Paint the opening between the inner lips (landmarks 60-67) in place: a band of upper teeth and the dark
    oral cavity below, faded in with the opening (a warp alone would only stretch the lips' own texture).

    ``img`` float32 (H, W[, 3]) 0..255; ``lm`` the frame's (68, 2) landmarks. Returns ``img``.
    """
    inner = np.asarray(lm[60:68], dtype=np.float64)
    gap = float(np.mean(np.linalg.norm(inner[[7, 6, 5]] - inner[[1, 2, 3]], axis=1)))
    if gap < 0.5:
        return img
    h, w = img.shape[:2]
    x0, y0 = np.floor(inner.min(axis=0)).astype(int) - 3
    x1, y1 = np.ceil(inner.max(axis=0)).astype(int) + 4
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 3 or y1 - y0 < 2:
        return img
    mask = np.zeros((y1 - y0, x1 - x0), dtype=np.float32)
    cv2.fillPoly(mask, [np.round(inner - [x0, y0]).astype(np.int32)], 1.0, lineType=cv2.LINE_AA)
    mask = cv2.GaussianBlur(mask, (3, 3), 0) * np.float32(min(1.0, (gap - 0.5) / 2.5))
    roi = img[y0:y1, x0:x1]
    skin = roi.reshape(-1, roi.shape[-1] if roi.ndim == 3 else 1).mean(axis=0)
    top = inner[[1, 2, 3], 1].mean() - y0
    rows = np.arange(y1 - y0, dtype=np.float32)[:, None]
    teeth = np.clip(1.0 - (rows - top) / max(0.3 * gap, 1.0), 0, 1)  # upper teeth just under the upper lip
    shade = np.float32(0.22) + np.float32(0.6) * teeth  # cavity at 22 % of the lip-skin level, teeth at 82 %
    colour = (shade[..., None] * np.clip(skin * np.float32([1.0, 1.0, 1.0])[:len(skin)] + 25, 0, 255)
              if roi.ndim == 3 else shade * float(skin[0] + 25))
    if roi.ndim == 3:
        roi += mask[..., None] * (colour.astype(np.float32) - roi)
    else:
        roi += mask * (np.float32(colour) - roi)
    return img


#: Wrinkles and furrows that AUs deepen (FACS appearance changes, Ekman, Friesen & Hager 2002): AU -> feature.
WRINKLE_AUS = {1: "forehead", 2: "forehead", 4: "glabella", 6: "crows_feet", 9: "nose", 10: "nasolabial",
               12: "nasolabial"}
#: Apex intensity (IOD) at which a wrinkle is fully marked, and the darkening of its line then.
WRINKLE_FULL, WRINKLE_DARKEN = 0.2, 0.3


def _wrinkle_lines(lm: np.ndarray, feature: str) -> list:
    """Polylines (image pixels) of one wrinkle feature on a face with 68 landmarks."""
    left, right = lm[36:42].mean(axis=0), lm[42:48].mean(axis=0)
    ex = (right - left) / np.linalg.norm(right - left)
    iod = float(np.linalg.norm(right - left))
    up = np.array([ex[1], -ex[0]])
    if feature == "forehead":  # horizontal lines above the brows
        brow = lm[17:27]
        return [brow[2:8] + (k * iod) * up for k in (0.38, 0.52, 0.66)]
    if feature == "glabella":  # vertical furrows between the brows
        out = []
        for p in (lm[21], lm[22]):
            q = p + 0.18 * iod * (lm[27] - p) / max(np.linalg.norm(lm[27] - p), 1e-6)
            out.append(np.array([q - 0.05 * iod * up, q + 0.28 * iod * up]))
        return out
    if feature == "nose":  # creases across the bridge of the nose
        return [np.array([lm[k] - 0.18 * iod * ex, lm[k] + 0.18 * iod * ex]) for k in (28, 29)]
    if feature == "nasolabial":  # furrow from the nose wing to beyond the lip corner
        out = []
        for wing, corner, side in ((31, 48, -1.0), (35, 54, 1.0)):
            a = lm[wing] + side * 0.12 * iod * ex
            c = lm[corner] + side * 0.12 * iod * ex + 0.08 * iod * (-up)
            b = 0.5 * (a + c) + side * 0.07 * iod * ex
            out.append(np.array([a, b, c]))
        return out
    if feature == "crows_feet":  # short rays at the outer eye corners
        out = []
        for k, side in ((36, -1.0), (45, 1.0)):
            for ang in (-0.35, 0.0, 0.35):
                d = side * ex * np.cos(ang) + up * np.sin(ang)
                out.append(np.array([lm[k] + 0.1 * iod * side * ex + 0.0 * d, lm[k] + 0.1 * iod * side * ex + 0.2 * iod * d]))
        return out
    raise ValueError(f"Unknown wrinkle feature {feature!r}: expected one of {sorted(set(WRINKLE_AUS.values()))}.")


def paint_wrinkles(img: np.ndarray, lm: np.ndarray, levels: dict) -> np.ndarray:
    """Darken the wrinkles and furrows of the active AUs in place (``levels``: AU -> current intensity, IOD).

    A warp moves skin but cannot fold it; FACS codes AU1+2 by horizontal forehead wrinkles, AU4 by vertical
    furrows between the brows, AU9 by creases across the nose, AU10 / AU12 by a deepened nasolabial furrow and
    AU6 by crow's-feet. Each is a thin soft dark line whose depth grows with the AU's intensity (fully marked at
    :data:`WRINKLE_FULL` IOD, so micro-expressions leave only a faint trace).
    """
    strength: dict = {}
    for au, level in levels.items():
        feature = WRINKLE_AUS.get(au)
        if feature is not None and level > 0:
            strength[feature] = max(strength.get(feature, 0.0), min(1.0, level / WRINKLE_FULL))
    if not strength:
        return img
    h, w = img.shape[:2]
    iod = float(np.linalg.norm(lm[42:48].mean(axis=0) - lm[36:42].mean(axis=0)))
    mask = np.zeros((h, w), dtype=np.float32)
    thick = max(1, int(round(iod / 45)))
    for feature, s in strength.items():
        if s < 0.02:
            continue
        layer = np.zeros((h, w), dtype=np.float32)
        lines = [np.round(p * 4).astype(np.int32) for p in _wrinkle_lines(np.asarray(lm, dtype=np.float64), feature)]
        cv2.polylines(layer, lines, False, 1.0, thickness=thick, lineType=cv2.LINE_AA, shift=2)
        mask = np.maximum(mask, np.float32(s) * layer)
    if not mask.any():
        return img
    k = max(3, int(iod / 25) | 1)
    mask = cv2.GaussianBlur(mask, (k, k), 0)
    shade = 1.0 - np.float32(WRINKLE_DARKEN) * mask
    img *= shade[..., None] if img.ndim == 3 else shade
    return img


@dataclass
class Event:
    """An expression: AU ``tokens`` with apex ``intensities`` (IOD), times in seconds from the clip start."""

    tokens: list
    intensities: list
    onset: float
    apex: float
    offset: float
    hold: float = 0.0

    def profile(self, t: np.ndarray) -> np.ndarray:
        """Intensity in [0, 1] at times ``t`` (s): raised cosine onset -> apex, hold, raised cosine -> offset."""
        t = np.asarray(t, dtype=np.float64)
        e = np.zeros_like(t)
        rise = max(self.apex - self.onset, 1e-6)
        apex_end = self.apex + self.hold
        fall = max(self.offset - apex_end, 1e-6)
        up = (t >= self.onset) & (t < self.apex)
        e[up] = 0.5 * (1 - np.cos(np.pi * (t[up] - self.onset) / rise))
        e[(t >= self.apex) & (t <= apex_end)] = 1.0
        down = (t > apex_end) & (t < self.offset)
        e[down] = 0.5 * (1 + np.cos(np.pi * (t[down] - apex_end) / fall))
        return e


@dataclass
class Nuisance:
    """Label-independent nuisances of one clip (all amplitudes small)."""

    head_amp: float            # head drift amplitude, in IOD
    head_freq: list            # two drift frequencies (Hz)
    head_phase: list
    roll_amp_deg: float
    tremor_amp: float          # fast tremor amplitude, in IOD
    blinks: list               # [(start_s, duration_s), ...]
    flicker_amp: float         # relative illumination change
    flicker_freq: float        # Hz
    flicker_phase: float
    noise_sigma: float         # grey levels
    jpeg_quality: int

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}


def draw_nuisance(rng: np.random.Generator, length_s: float, blink_rate: float = 0.35) -> Nuisance:
    """Random nuisances for a clip of ``length_s`` seconds (independent of the label)."""
    n_blinks = rng.poisson(blink_rate * max(length_s, 0.3))
    blinks = []
    for _ in range(int(n_blinks)):
        dur = float(rng.uniform(0.1, 0.2))
        blinks.append((float(rng.uniform(-0.1, max(length_s - 0.05, 0.0))), dur))
    return Nuisance(head_amp=float(rng.uniform(0.0, 0.02)), head_freq=[float(rng.uniform(0.1, 0.6)),
                    float(rng.uniform(0.6, 2.0))], head_phase=[float(v) for v in rng.uniform(0, 2 * np.pi, 2)],
                    roll_amp_deg=float(rng.uniform(0.0, 0.6)), tremor_amp=float(rng.uniform(0.0, 0.004)),
                    blinks=blinks, flicker_amp=float(rng.uniform(0.0, 0.02)),
                    flicker_freq=float(rng.uniform(0.5, 9.0)), flicker_phase=float(rng.uniform(0, 2 * np.pi)),
                    noise_sigma=float(rng.uniform(0.8, 2.5)), jpeg_quality=int(rng.integers(82, 96)))


def blink_profile(t: np.ndarray, blinks) -> np.ndarray:
    """Eye-closure in [0, 1] at times ``t`` (a raised-cosine bump per blink)."""
    t = np.asarray(t, dtype=np.float64)
    b = np.zeros_like(t)
    for start, dur in blinks:
        u = (t - start) / dur
        inside = (u > 0) & (u < 1)
        b[inside] = np.maximum(b[inside], 0.5 * (1 - np.cos(2 * np.pi * u[inside])))
    return b


@dataclass
class Track:
    """Per-frame ground truth of a rendered clip (arrays over the frames)."""

    times: np.ndarray
    expression: np.ndarray       # event profile(s) summed, in [0, 1]
    blink: np.ndarray
    head: np.ndarray             # (T, 3): dx, dy (pixels), roll (degrees)
    landmarks: np.ndarray = field(default=None)  # (T, 68, 2)


class ClipRenderer:
    """Renders the frames of one clip of ``subject`` with ``events`` and ``nuisance`` at ``fps``.

    >>> # frames = list(ClipRenderer(subject, [event], nuisance, fps=200, n_frames=60, seed=0).frames())
    """

    def __init__(self, subject: Subject, events: list[Event], nuisance: Nuisance, fps: float, n_frames: int,
                 seed: int, t0: float = 0.0):
        self.subject, self.events, self.nuisance = subject, list(events), nuisance
        self.fps, self.n_frames, self.seed = float(fps), int(n_frames), int(seed)
        self.times = t0 + np.arange(self.n_frames) / self.fps
        tokens = [t for ev in self.events for t in ev.tokens]
        self.fields = subject.fields(list(dict.fromkeys(tokens + ["45"])))
        # Per-token intensity tracks (T, K)
        self.token_names = list(dict.fromkeys(tokens))
        self.intensity = np.zeros((self.n_frames, len(self.token_names)))
        self.expression = np.zeros(self.n_frames)
        for ev in self.events:
            prof = ev.profile(self.times)
            self.expression = np.maximum(self.expression, prof)
            for tok, amp in zip(ev.tokens, ev.intensities):
                self.intensity[:, self.token_names.index(tok)] += amp * prof
        self.blink = blink_profile(self.times, nuisance.blinks)
        nz = nuisance
        iod = subject.iod
        drift = np.stack([np.sin(2 * np.pi * nz.head_freq[0] * self.times + nz.head_phase[0]),
                          np.sin(2 * np.pi * nz.head_freq[1] * self.times + nz.head_phase[1])], axis=1)
        rng = np.random.default_rng(self.seed)
        tremor = rng.normal(0, 1, size=(self.n_frames, 2))
        tremor = cv2.GaussianBlur(tremor.astype(np.float32), (1, 5), 0) if self.n_frames >= 5 else tremor
        self.head = np.zeros((self.n_frames, 3))
        self.head[:, :2] = iod * (nz.head_amp * drift + nz.tremor_amp * np.asarray(tremor))
        self.head[:, 2] = nz.roll_amp_deg * np.sin(2 * np.pi * nz.head_freq[0] * 0.7 * self.times + nz.head_phase[1])
        self.flicker = 1.0 + nz.flicker_amp * np.sin(2 * np.pi * nz.flicker_freq * self.times + nz.flicker_phase)
        self._rng = rng
        self._opens_mouth = any(t.lstrip("LRA") in MOUTH_OPENING_AUS for t in self.token_names)
        self._wrinkles = any(int(t.lstrip("LRA")) in WRINKLE_AUS for t in self.token_names if t != "45")
        self._centre = subject.landmarks[27:36].mean(axis=0)
        # largest displacement of each frame, in IOD (chooses the number of inversion steps)
        gains = np.array([max(np.abs(subject.token_displacement(t)).max() / subject.iod, 1e-9)
                          for t in self.token_names]) if self.token_names else np.zeros(0)
        self._amplitude = (self.intensity * gains[None]).sum(axis=1) if self.token_names else np.zeros(self.n_frames)
        self._amplitude = self._amplitude + self.blink * 0.15 + np.abs(self.head[:, :2]).max(axis=1) / subject.iod

    # ---------------------------------------------------------------------------------------------- geometry
    def landmarks(self, i: int) -> np.ndarray:
        """The (68, 2) landmarks of frame ``i`` (ground truth of the warp)."""
        s = self.subject
        d = np.zeros((68, 2))
        for k, tok in enumerate(self.token_names):
            if self.intensity[i, k]:
                d += self.intensity[i, k] * s.token_displacement(tok)[:68]
        if self.blink[i]:
            d += self.blink[i] * s.token_displacement("45")[:68]
        p = s.landmarks + d
        return self._head_apply(p, i)

    def _head_apply(self, p: np.ndarray, i: int) -> np.ndarray:
        dx, dy, roll = self.head[i]
        th = np.deg2rad(roll)
        c = self._centre
        rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
        return (p - c) @ rot.T + c + np.array([dx, dy])

    def displacement(self, i: int) -> np.ndarray:
        """The dense (H, W, 2) displacement field of frame ``i`` (expression + blink + head motion)."""
        s = self.subject
        gx, _ = s.grid()
        total = np.zeros(gx.shape + (2,), dtype=np.float32)
        for k, tok in enumerate(self.token_names):
            a = self.intensity[i, k]
            if a:
                total += np.float32(a) * self.fields[tok]
        if self.blink[i]:
            total += np.float32(self.blink[i]) * self.fields["45"]
        dx, dy, roll = self.head[i]
        if dx or dy or roll:
            mask, rot_x, rot_y = s.rigid_basis()
            th = np.float32(np.deg2rad(roll))
            total[..., 0] += np.float32(dx) * mask + th * rot_x
            total[..., 1] += np.float32(dy) * mask + th * rot_y
        return total

    # ---------------------------------------------------------------------------------------------- frames
    def frame(self, i: int, noise: np.ndarray | None = None) -> np.ndarray:
        """Frame ``i`` as uint8 RGB (H, W, 3), or grey (H, W) for a grey subject.

        The neutral composite is warped once with ``cv2.remap``; one fixed-point step inverts the small
        fields of micro-expressions, two the larger ones (macro-expressions, blinks).
        """
        s = self.subject
        gx, gy = s.grid()
        iterations = 1 if self._amplitude[i] * s.iod < 1.5 else 2
        mx, my = backward_maps(self.displacement(i), gx, gy, iterations=iterations)
        img = cv2.remap(s.neutral(), mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT).astype(np.float32)
        if self._opens_mouth or self._wrinkles:
            lm = self.landmarks(i)
            if self._opens_mouth:
                paint_mouth(img, lm, s.iod)
            if self._wrinkles:
                levels: dict = {}
                for k, tok in enumerate(self.token_names):
                    au = int(tok.lstrip("LRA"))
                    levels[au] = levels.get(au, 0.0) + float(self.intensity[i, k])
                paint_wrinkles(img, lm, levels)
        if self.flicker[i] != 1.0:
            img *= np.float32(self.flicker[i])
        if noise is not None:
            img += noise
        img += np.float32(0.5)
        np.clip(img, 0, 255, out=img)
        return img.astype(np.uint8)

    def frames(self):
        """Yield ``(i, frame)`` for every frame, with sensor noise (seeded: a noise bank per clip, a random
        window of it per frame)."""
        s = self.subject
        w, h = s.size
        pad = 16
        shape = (h + pad, w + pad) if s.grey else (h + pad, w + pad, 3)
        bank = self._rng.standard_normal((3,) + shape, dtype=np.float32) * np.float32(self.nuisance.noise_sigma)
        picks = self._rng.integers(0, pad, size=(self.n_frames, 2))
        for i in range(self.n_frames):
            y, x = (int(v) for v in picks[i])
            yield i, self.frame(i, bank[i % 3, y:y + h, x:x + w])

    def track(self, with_landmarks: bool = False) -> Track:
        """Per-frame ground truth (expression profile, blink, head motion, optionally landmarks)."""
        lms = np.stack([self.landmarks(i) for i in range(self.n_frames)]) if with_landmarks else None
        return Track(self.times, self.expression, self.blink, self.head, lms)
