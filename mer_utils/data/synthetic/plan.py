"""What to generate: sizes, subjects, clip plans (emotion, AUs, timing, nuisances) per dataset layout.

A *plan* is decided before any pixel is drawn, from the seed only, one random stream per clip
(``numpy.random.SeedSequence`` of the seed and a CRC of the clip's key), so a clip's content does not depend on
which other datasets are generated or in which order.

Sizes (:data:`SIZES`):

- ``"quick"`` (CI and interactive runs): few subjects, every class of every protocol of REFERENCE.md §2 for
  several subjects (much less skewed than the real sets), frames about 256x192 with faces of 112-128 px
  (dlib's HOG detector finds them), short tails.
- ``"paper"``: the real datasets' subject lists, per-subject clip counts and emotion totals (CASME II 26
  subjects / 255 clips, SAMM 29 / 159, SMIC-HS 16 / 164, VIS and NIR 8 / 71, CASME 19 / 195 (approximate),
  CAS(ME)² 22 subjects with the 3D-CNN paper's 206 clips (94 happy / 76 anger / 36 disgust by eliciting
  video; one macro-expression per video, the others micro), FER2013 35,887 images, CK+ 123 subjects / 593 sequences / 327 labelled) and
  resolutions (640x480, SAMM 960x650, CK+ 640x490).
- ``"tiny"``: a few clips per layout at 160x120, for unit tests.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from . import aus as A
from .render import Nuisance

#: Apex intensity ranges (largest landmark displacement, in inter-ocular distances) of micro- and
#: macro-expressions. Micro: a few percent of the IOD; macro: several times larger.
MICRO_INTENSITY = (0.01, 0.025)
MACRO_INTENSITY = (0.1, 0.18)


def clip_seed(seed: int, *keys) -> np.random.SeedSequence:
    """A seed sequence from the global seed and string keys (stable across runs and Python versions)."""
    text = "/".join(str(k) for k in keys)
    return np.random.SeedSequence([int(seed) & 0xFFFFFFFF, zlib.crc32(text.encode("utf-8"))])


def rng_for(seed: int, *keys) -> np.random.Generator:
    return np.random.default_rng(clip_seed(seed, *keys))


# ----------------------------------------------------------------------------------------------------- sizes
# Real subject lists and per-subject clip counts (REFERENCE.md §1; counts of the published codings).
CASME2_COUNTS = {1: 9, 2: 13, 3: 7, 4: 5, 5: 19, 6: 5, 7: 9, 8: 3, 9: 14, 10: 14, 11: 10, 12: 12, 13: 8, 14: 4,
                 15: 3, 16: 4, 17: 36, 18: 3, 19: 16, 20: 11, 21: 2, 22: 2, 23: 12, 24: 10, 25: 7, 26: 17}
CASME2_EMOTIONS = {"others": 99, "disgust": 63, "happiness": 32, "repression": 27, "surprise": 25, "sadness": 7,
                   "fear": 2}
SAMM_COUNTS = {6: 11, 7: 10, 9: 4, 10: 4, 11: 20, 12: 3, 13: 6, 14: 11, 15: 3, 16: 5, 17: 6, 18: 4, 19: 3, 20: 9,
               21: 2, 22: 5, 23: 1, 24: 1, 25: 4, 26: 13, 28: 3, 30: 3, 31: 1, 32: 6, 33: 5, 34: 3, 35: 9, 36: 1,
               37: 3}
SAMM_EMOTIONS = {"Anger": 57, "Other": 26, "Happiness": 26, "Surprise": 15, "Contempt": 12, "Disgust": 9,
                 "Fear": 8, "Sadness": 6}
SMIC_HS_COUNTS = {1: 5, 2: 5, 3: 41, 4: 19, 5: 2, 6: 4, 8: 13, 9: 4, 11: 7, 12: 9, 13: 10, 14: 10, 15: 4, 18: 7,
                  19: 2, 20: 22}
SMIC_HS_EMOTIONS = {"negative": 70, "positive": 51, "surprise": 43}
SMIC_VIS_COUNTS = {11: 7, 12: 9, 13: 10, 14: 10, 15: 4, 18: 7, 19: 2, 20: 22}
SMIC_VIS_EMOTIONS = {"negative": 24, "positive": 28, "surprise": 19}
# CASME (Yan et al. 2013): 195 clips of 19 released subjects; the emotion totals are approximate.
CASME_EMOTIONS = {"tense": 69, "disgust": 44, "repression": 38, "surprise": 21, "happiness": 9, "sadness": 6,
                  "comtempt": 6, "fear": 2}
CASME_SQ_SUBJECTS = [15, 16, 19, 20, 21, 22, 23, 24, 25, 26, 27, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 40]
# 3D-CNN paper (Reddy et al. 2019, Table IV): 206 CAS(ME)² clips, happy 94 / angry 76 / disgust 36 (labelled by
# the eliciting video; the paper-size set has one macro-expression per video and the rest micro-expressions).
CASME_SQ_MICRO = {"happy": 94, "anger": 76, "disgust": 36}
#: CAS(ME)² eliciting videos: name in the coding -> (code, folder title).
CASME_SQ_VIDEOS = {"disgust1": ("0101", "disgustingteeth"), "disgust2": ("0102", "eatingworms"),
                   "anger1": ("0401", "girlcrashing"), "anger2": ("0402", "beatingpregnantwoman"),
                   "happy1": ("0502", "cup"), "happy2": ("0503", "unnyfarting"),
                   "happy3": ("0505", "funnyinnovations"), "happy4": ("0507", "climbingthewall"),
                   "happy5": ("0508", "funnydunkey")}
FER2013_CLASSES = ["Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral"]
FER2013_COUNTS = {"Angry": 4953, "Disgust": 547, "Fear": 5121, "Happy": 8989, "Sad": 6077, "Surprise": 4002,
                  "Neutral": 6198}
#: CK+ emotion codes (Lucey et al. 2010).
CKPLUS_CODES = {"neutral": 0, "anger": 1, "contempt": 2, "disgust": 3, "fear": 4, "happiness": 5, "sadness": 6,
                "surprise": 7}


@dataclass(frozen=True)
class DatasetSize:
    """Settings of one layout at one size."""

    subjects: tuple            # subject numbers
    clips: int = 0             # clips per subject (quick / tiny); 0 = use the real counts (paper)
    frame: tuple = (256, 192)  # (width, height)
    face: tuple = (112, 128)   # face width range in pixels
    tails: tuple = (0.0, 0.0)  # lead-in / tail range in seconds
    extra: dict = field(default_factory=dict)


def _size_table() -> dict:
    quick_face, quick_frame = (112, 128), (256, 192)
    quick = {
        "casme2": DatasetSize(tuple(range(1, 9)), 6, quick_frame, quick_face, extra={"extra_folders": 2}),
        "samm": DatasetSize((6, 7, 9, 10, 11, 12), 7, (288, 195), (112, 126), (0.04, 0.08)),
        "smic": DatasetSize((1, 2, 3, 4, 5, 6), 6, quick_frame, quick_face, (0.03, 0.1),
                            extra={"vis_subjects": (3, 4, 5, 6), "vis_clips": 4, "e_tails": (0.2, 0.35)}),
        "casme": DatasetSize(tuple(range(1, 7)), 6, quick_frame, quick_face),
        "casme_sq": DatasetSize(tuple(CASME_SQ_SUBJECTS[:4]), 0, quick_frame, quick_face, (2.4, 2.4),
                                extra={"videos": ("disgust1", "anger1", "happy1"), "micro_per_video": 3,
                                       "macro_per_video": 1}),
        "fer2013": DatasetSize(tuple(range(24)), 300, (160, 120), (96, 108)),
        "ckplus": DatasetSize(tuple(range(12)), 4, (320, 245), (128, 144), extra={"labelled": 0.85}),
    }
    paper = {
        "casme2": DatasetSize(tuple(CASME2_COUNTS), 0, (640, 480), (250, 290), extra={"extra_folders": 2}),
        "samm": DatasetSize(tuple(SAMM_COUNTS), 0, (960, 650), (330, 380), (0.1, 0.25)),
        "smic": DatasetSize(tuple(SMIC_HS_COUNTS), 0, (640, 480), (190, 220), (0.05, 0.15),
                            extra={"vis_subjects": tuple(SMIC_VIS_COUNTS), "e_tails": (0.3, 0.6)}),
        "casme": DatasetSize(tuple(range(1, 20)), 0, (640, 480), (160, 185), extra={"total": 195}),
        "casme_sq": DatasetSize(tuple(CASME_SQ_SUBJECTS), 0, (640, 480), (200, 230), (2.4, 2.4),
                                extra={"videos": ("disgust1", "anger1", "happy1"), "macro_per_video": 1}),
        "fer2013": DatasetSize(tuple(range(160)), 0, (160, 120), (96, 108)),
        "ckplus": DatasetSize(tuple(range(123)), 0, (640, 490), (260, 300),
                              extra={"sequences": 593, "labelled_total": 327}),
    }
    tiny_frame, tiny_face = (160, 120), (84, 92)
    tiny = {
        "casme2": DatasetSize((4, 5), 2, tiny_frame, tiny_face, extra={"extra_folders": 1, "max_s": 0.25}),
        "samm": DatasetSize((6, 7), 2, tiny_frame, tiny_face, (0.02, 0.03), extra={"max_s": 0.25}),
        "smic": DatasetSize((1, 2), 3, tiny_frame, tiny_face, (0.02, 0.04),
                            extra={"vis_subjects": (2,), "vis_clips": 3, "e_tails": (0.05, 0.1)}),
        "casme": DatasetSize((1, 2), 2, tiny_frame, tiny_face),
        "casme_sq": DatasetSize((15,), 0, tiny_frame, tiny_face, (0.5, 0.5),
                                extra={"videos": ("disgust1", "anger1", "happy1"), "micro_per_video": 1,
                                       "macro_per_video": 1}),
        "fer2013": DatasetSize((0, 1), 10, (160, 120), (96, 108)),
        "ckplus": DatasetSize((0, 1), 2, (160, 123), (84, 92), extra={"labelled": 0.75}),
    }
    return {"quick": quick, "paper": paper, "tiny": tiny}


#: Sizes -> layout -> :class:`DatasetSize`.
SIZES = _size_table()

#: Layouts the generator writes, in generation order (keys of :data:`mer_utils.paths.DATASET_FOLDERS`).
LAYOUTS = ("casme2", "samm", "smic", "casme", "casme_sq", "megc2019", "fer2013", "ckplus")


def size_table(size: str) -> dict:
    if size not in SIZES:
        raise ValueError(f"Unknown synthetic size {size!r}: expected one of {sorted(SIZES)} "
                         "(quick = CI / interactive, paper = the real datasets' counts, tiny = unit tests).")
    return SIZES[size]


# ----------------------------------------------------------------------------------------------------- clips
@dataclass
class ClipPlan:
    """One clip to render: who, what (emotion, AUs), when (events, frame numbers), how (nuisances)."""

    dataset: str                 # table dataset name: casme2, samm, smic_hs, smic_vis, smic_nir, smic_hs_e, ...
    subject: str                 # normalised subject id (sub01, 006, s01, s15, S005)
    folder_subject: str          # subject as the folder is named (sub01, 006, s1, s15, S005)
    clip: str
    emotion: str                 # label as the dataset writes it
    canonical: str               # canonical emotion (aus.EMOTION_VARIANTS key)
    tokens: list
    intensities: list
    objective_class: int
    fps: float
    first_frame: int
    n_frames: int
    onset: int
    apex: int
    offset: int
    events: list                 # list[Event], times in seconds from the first frame
    nuisance: Nuisance
    seed: int
    identity: str                # identity key of the subject
    micro: bool = True
    extra: dict = field(default_factory=dict)

    @property
    def last_frame(self) -> int:
        return self.first_frame + self.n_frames - 1


def choose_variant(rng: np.random.Generator, canonical: str, style=None, objective: int | None = None,
                   macro: bool = False):
    """Pick an AU variant of ``canonical`` (optionally restricted to an objective class), biased by the
    subject's preferred variants. Returns (tokens, objective class)."""
    vs = A.variants(canonical, macro=macro)
    idx = [i for i, v in enumerate(vs) if objective is None or v[1] == objective]
    if not idx:
        idx = list(range(len(vs)))
    w = np.array([vs[i][2] for i in idx], dtype=float)
    if style is not None and not macro and canonical in style.variant_bias:
        w = w * style.variant_bias[canonical][idx]
    i = idx[int(rng.choice(len(idx), p=w / w.sum()))]
    tokens, cls, _ = vs[i]
    return list(tokens), int(cls)


def draw_intensities(rng: np.random.Generator, n: int, style=None, macro: bool = False) -> list:
    """Apex intensities (IOD) of ``n`` AU tokens: a clip level times a per-AU factor."""
    lo, hi = MACRO_INTENSITY if macro else MICRO_INTENSITY
    level = rng.uniform(lo, hi) * (style.intensity_scale if style is not None else 1.0)
    return [float(level * f) for f in rng.uniform(0.75, 1.0, size=n)]


def draw_timing(rng: np.random.Generator, fps: float, style=None, macro: bool = False,
                max_s: float | None = None) -> tuple[int, int]:
    """(onset->offset length in frames, apex offset from onset in frames).

    Micro-expressions last 1/25 .. 1/2 s (drawn log-uniformly in 0.1 .. 0.5 s, scaled by the subject's timing
    style, at least 4 frames); macro-expressions 0.6 .. 2 s.
    """
    if macro:
        dur = rng.uniform(0.6, 2.0)
    else:
        dur = float(np.exp(rng.uniform(np.log(0.1), np.log(0.5))))
        dur = float(np.clip(dur * (style.duration_scale if style is not None else 1.0), 1 / 25, 0.5))
    if max_s is not None:
        dur = min(dur, max_s)
    n = max(4, int(round(dur * fps)))
    frac = float(np.clip((style.apex_position if style is not None else 0.4) + rng.normal(0, 0.08), 0.2, 0.7))
    apex = int(np.clip(round(frac * n), 1, n - 2))
    return n, apex


def annotation_jitter(rng: np.random.Generator, fps: float) -> tuple[int, int, int]:
    """How far a human coder's frame numbers are from the true ones, in frames: the onset is marked up to
    15 ms early, the apex within ±15 ms, the offset up to 25 ms late. Returns (early onset, apex shift,
    late offset)."""
    r_on, r_ap, r_off = (max(0, int(round(x * fps))) for x in (0.015, 0.015, 0.025))
    return (int(rng.integers(0, r_on + 1)), int(rng.integers(-r_ap, r_ap + 1)), int(rng.integers(0, r_off + 1)))


def annotate(true: tuple, jitter: tuple, first: int, last: int) -> tuple[int, int, int]:
    """Annotated (onset, apex, offset) frame numbers from the true ones and a coder's jitter."""
    on, ap, off = true
    a_on = max(first, on - jitter[0])
    a_off = min(last, off + jitter[2])
    a_ap = int(np.clip(ap + jitter[1], a_on + 1, max(a_on + 1, a_off - 1)))
    return a_on, a_ap, a_off


def unilateralise(rng: np.random.Generator, tokens: list, style) -> list:
    """Some subjects often show AU10 / AU2 / AU14 on one side only ('L10', 'R2')."""
    out = []
    for t in tokens:
        if t in ("10", "2", "14") and style is not None and rng.random() < style.unilateral_prob:
            out.append(("L" if rng.random() < 0.5 else "R") + t)
        else:
            out.append(t)
    return out


def deal(rng: np.random.Generator, counts: dict, totals: dict) -> dict:
    """Assign a multiset of labels (``totals``) to subjects with fixed clip counts, at random."""
    labels = [lab for lab, n in totals.items() for _ in range(n)]
    if len(labels) != sum(counts.values()):
        raise ValueError(f"Label totals ({len(labels)}) and clip counts ({sum(counts.values())}) differ.")
    rng.shuffle(labels)
    out, i = {}, 0
    for subject, n in counts.items():
        out[subject] = labels[i:i + n]
        i += n
    return out


def balanced_labels(subject_index: int, n: int, core: list, extra: list) -> list:
    """Per-subject labels of a quick set: every ``core`` class once, then ``extra`` classes in rotation.

    With fewer clips than core classes (tiny sets) the core classes rotate over the subjects instead.
    """
    if n <= len(core):
        return [core[(subject_index * n + j) % len(core)] for j in range(n)]
    labels = list(core)
    k = subject_index
    while len(labels) < n:
        labels.append(extra[k % len(extra)])
        k += 1
    return labels
