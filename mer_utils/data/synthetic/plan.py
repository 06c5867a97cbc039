"""What to generate: sizes, subjects, clip plans (emotion, AUs, timing, nuisances) per dataset layout.

A *plan* is decided before any pixel is drawn, from the seed only, one random stream per clip
(``numpy.random.SeedSequence`` of the seed and a CRC of the clip's key), so a clip's content does not depend on
which other datasets are generated or in which order.

Sizes (:data:`SIZES`):

- ``"quick"`` (CI and interactive runs): few subjects, every class of every protocol of REFERENCE.md §2 for
  several subjects, each subject's label mix skewed like the real subjects' (:func:`skewed_labels`; the totals
  are less skewed than the real sets'), frames about 256x192 with faces of 112-128 px
  (dlib's HOG detector finds them), short tails.
- ``"paper"``: the real datasets' subject lists, per-subject label counts and resolutions (640x480, SAMM
  960x650, CK+ 640x490), so that every count of REFERENCE.md §1-2 and :mod:`mer_utils.data.published` comes
  out of the loaders and protocols as on the licensed data (checked from the plans alone by
  :func:`mer_utils.data.synthetic.gt.planned_table` and ``tests/test_synthetic.py``):

  * CASME II 26 subjects / 255 clips and SAMM 29 / 159 with each subject's real (emotion, objective class)
    counts (:data:`CASME2_CODING`, :data:`SAMM_CODING`), hence the subject counts of every protocol (MEGC 2019
    442 clips / 68 subjects, SAMM 5-class 136 / 27, MEGC 2018 185 + 68 in classes I-V); the AUs of each clip
    are drawn among combinations of its objective class (:func:`choose_objective_variant`). Two SAMM rows have
    their apex outside onset..offset, as in the real file.
  * SMIC-HS 16 / 164 with each subject's real class counts; 8 clips (4 negative, 4 positive) are shorter than
    18 frames, so Reddy et al.'s 18-frame selection keeps 156 (66 / 47 / 43). VIS and NIR 8 / 71.
  * CASME 35 subjects / 195 clips (emotion totals approximate).
  * CAS(ME)² 22 subjects: the 3D-CNN paper's 206 clips by eliciting video (94 happy / 76 anger / 36 disgust),
    57 of them micro-expressions as in the real coding and 149 macro-expressions, in 87 long videos. The real
    coding has 300 macro-expressions (357 rows); writing all of them would make the eliciting-video count of
    ``reddy2019_casme_sq`` 357 instead of the paper's 206, whose clip selection is not documented, so the
    paper-size set keeps the 206 and the real micro-expression count.
  * FER2013 35,887 images, CK+ 123 subjects / 593 sequences / 327 labelled.
- ``"tiny"``: a few clips per layout at 160x120, for unit tests.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from . import aus as A
from .render import Nuisance

#: Apex intensity ranges (largest landmark displacement, in inter-ocular distances) of micro- and
#: macro-expressions. Micro: a few percent of the IOD; macro: a full posed expression, where the lip corners of a
#: smile or the brows of a surprise move about a fifth to a third of the IOD (CK+ peak frames; generator 2.0,
#: was 0.1-0.18, which left the posed faces halfway to their peak).
MICRO_INTENSITY = (0.01, 0.025)
MACRO_INTENSITY = (0.18, 0.28)


def clip_seed(seed: int, *keys) -> np.random.SeedSequence:
    """A seed sequence from the global seed and string keys (stable across runs and Python versions)."""
    text = "/".join(str(k) for k in keys)
    return np.random.SeedSequence([int(seed) & 0xFFFFFFFF, zlib.crc32(text.encode("utf-8"))])


def rng_for(seed: int, *keys) -> np.random.Generator:
    return np.random.default_rng(clip_seed(seed, *keys))


# ----------------------------------------------------------------------------------------------------- sizes
# Real subject lists, per-subject label counts and class totals (REFERENCE.md §1; mer_utils.data.published).
# The per-subject tables give, for each subject, how many clips it has of each (label, objective class) pair in
# the published codings ("disgust:4x2" = two disgust clips of objective class IV): counts only, no clip, frame or
# AU data. Writing the paper-size set from them reproduces every count of REFERENCE.md §1-2 that depends on who
# shows what: e.g. SAMM subject 025 has only "Other" clips (so MEGC 2019 has 28 SAMM subjects), SAMM 024 and 036
# only disgust (so SAMM 5-class has 27), CASME II sub10 and sub18 no 3-class emotion (24 CASME II subjects).
#: CASME II (CASME2-coding-20140508.xlsx + CASME2-ObjectiveClasses.xlsx): 26 subjects, 255 clips.
CASME2_CODING = {
    1: "disgust:4x2 happiness:1 others:3x5 others:7",
    2: "happiness:7 others:3 others:7x3 repression:5x2 repression:7x3 surprise:2x2 surprise:5",
    3: "disgust:3 disgust:4x3 others:3x2 surprise:5",
    4: "disgust:3x2 disgust:7 others:3x2",
    5: "disgust:7 happiness:7 others:3x7 others:4 others:7x4 surprise:2x2 surprise:5x2 surprise:7",
    6: "disgust:4 happiness:7 others:3 surprise:2 surprise:7",
    7: "disgust:4x5 others:3x2 others:7x2",
    8: "others:3x2 repression:5",
    9: "fear:6 happiness:1x3 happiness:5 happiness:7 others:3x3 repression:5x3 repression:7x2",
    10: "fear:7 others:3x13",
    11: "disgust:3x2 disgust:4x2 others:3x4 others:7x2",
    12: "disgust:3x4 disgust:4 happiness:1x2 others:7 surprise:2x4",
    13: "happiness:1x2 others:3x3 others:7x3",
    14: "happiness:1 happiness:7x2 others:7",
    15: "disgust:3 happiness:1 surprise:2",
    16: "happiness:1 happiness:7 others:7 repression:7",
    17: "disgust:3x10 disgust:4x3 disgust:7 happiness:1x6 happiness:7 others:3x2 others:7 repression:7x9 sadness:5x2 "
        "surprise:7",
    18: "others:3x3",
    19: "disgust:3 disgust:4x2 happiness:1x3 others:1x2 others:3 others:7 sadness:5 surprise:2x4 surprise:7",
    20: "disgust:3x2 others:3x5 others:7x4",
    21: "others:3 repression:7",
    22: "repression:5x2",
    23: "disgust:4x4 happiness:1 others:3x4 repression:7x3",
    24: "disgust:3 disgust:4 others:3x3 others:7 sadness:5x3 surprise:2",
    25: "disgust:3x3 others:7x2 surprise:7x2",
    26: "disgust:3x8 disgust:4 happiness:1x2 others:7x5 sadness:5",
}
#: The two CASME II clips MEGC 2019 leaves out, as (emotion, objective class) in the real coding.
CASME2_FORCED = {4: ("EP12_01f", "disgust", 3), 5: ("EP09_05f", "disgust", 7)}
#: SAMM (SAMM_Micro_FACS_Codes_v2.xlsx, emotion and "Objective Classes"): 29 subjects, 159 clips.
SAMM_CODING = {
    6: "Anger:3x6 Anger:7 Fear:6 Sadness:5 Surprise:2x2",
    7: "Fear:6 Happiness:1x3 Happiness:7x2 Other:7x2 Surprise:2 Surprise:7",
    9: "Anger:7x2 Fear:7 Surprise:2",
    10: "Anger:7x4",
    11: "Anger:7x5 Contempt:1 Contempt:7x2 Disgust:4x5 Happiness:1x7",
    12: "Fear:6x2 Surprise:2",
    13: "Anger:7x6",
    14: "Contempt:7 Fear:6 Happiness:1x7 Other:7 Surprise:2",
    15: "Contempt:7 Sadness:5 Surprise:2",
    16: "Anger:3 Anger:7 Happiness:1 Surprise:2x2",
    17: "Anger:7 Contempt:7x2 Other:7x2 Surprise:7",
    18: "Disgust:4 Other:7 Sadness:7 Surprise:2",
    19: "Happiness:1 Other:7x2",
    20: "Anger:7 Contempt:7 Happiness:1 Happiness:7 Other:7x5",
    21: "Anger:3x2",
    22: "Anger:7x3 Happiness:1x2",
    23: "Anger:7",
    24: "Disgust:7",
    25: "Other:7x4",
    26: "Anger:3x2 Anger:7x4 Contempt:7x2 Disgust:4 Other:7x4",
    28: "Contempt:7 Surprise:2x2",
    30: "Anger:3x3",
    31: "Anger:7",
    32: "Anger:3x2 Anger:7 Other:7x2 Sadness:5",
    33: "Anger:3 Anger:7x2 Happiness:1 Sadness:7",
    34: "Anger:7x3",
    35: "Anger:3x2 Anger:7 Contempt:7 Fear:6x2 Other:7 Sadness:7 Surprise:2",
    36: "Disgust:4",
    37: "Anger:3 Other:7x2",
}
#: SMIC-HS per subject (the MEGC 2019 ground truth's SMIC part; no objective classes): 16 subjects, 164 clips.
SMIC_HS_CODING = {
    1: {"negative": 3, "positive": 2, "surprise": 1}, 2: {"positive": 1, "surprise": 5},
    3: {"negative": 22, "positive": 11, "surprise": 6}, 4: {"negative": 10, "positive": 4, "surprise": 5},
    5: {"negative": 1, "surprise": 1}, 6: {"negative": 2, "surprise": 2}, 8: {"negative": 9, "positive": 4},
    9: {"positive": 1, "surprise": 3}, 11: {"negative": 3, "positive": 3, "surprise": 1},
    12: {"positive": 8, "surprise": 1}, 13: {"positive": 10}, 14: {"negative": 3, "positive": 2, "surprise": 5},
    15: {"negative": 1, "positive": 1, "surprise": 2}, 18: {"negative": 2, "surprise": 5},
    19: {"positive": 1, "surprise": 1}, 20: {"negative": 14, "positive": 3, "surprise": 5},
}
#: SMIC-HS clips shorter than 18 frames, per class: Reddy et al. 2019 §IV.A keep the 156 clips of at least 18
#: frames, 66 / 47 / 43 negative / positive / surprise in the authors' code (of 70 / 51 / 43).
SMIC_HS_SHORT = {"negative": 4, "positive": 4}


def parse_coding(table: dict) -> dict:
    """``{subject: "label:class[xN] ..."}`` -> ``{subject: [(label, class), ...]}`` (class 0 = none given)."""
    out = {}
    for subject, text in table.items():
        items = []
        for part in text.split():
            label, _, rest = part.partition(":")
            cls, _, n = rest.partition("x")
            if not label or not cls.isdigit() or (n and not n.isdigit()):
                raise ValueError(f"Subject {subject}: cannot parse {part!r}; expected 'label:class' or "
                                 "'label:classxN' (e.g. 'disgust:4x2').")
            items += [(label, int(cls))] * (int(n) if n else 1)
        out[subject] = items
    return out


def _totals(table: dict) -> dict:
    out: dict = {}
    for items in parse_coding(table).values():
        for label, _ in items:
            out[label] = out.get(label, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


CASME2_COUNTS = {s: len(v) for s, v in parse_coding(CASME2_CODING).items()}
CASME2_EMOTIONS = _totals(CASME2_CODING)
SAMM_COUNTS = {s: len(v) for s, v in parse_coding(SAMM_CODING).items()}
SAMM_EMOTIONS = _totals(SAMM_CODING)
SMIC_HS_COUNTS = {s: sum(v.values()) for s, v in SMIC_HS_CODING.items()}
SMIC_HS_EMOTIONS = {e: sum(v.get(e, 0) for v in SMIC_HS_CODING.values()) for e in ("negative", "positive", "surprise")}
SMIC_VIS_COUNTS = {11: 7, 12: 9, 13: 10, 14: 10, 15: 4, 18: 7, 19: 2, 20: 22}
SMIC_VIS_EMOTIONS = {"negative": 24, "positive": 28, "surprise": 19}
# CASME (Yan et al. 2013; She et al. 2020 Table III): 195 clips of 35 subjects; the emotion totals are approximate.
CASME_EMOTIONS = {"tense": 69, "disgust": 44, "repression": 38, "surprise": 21, "happiness": 9, "sadness": 6,
                  "comtempt": 6, "fear": 2}
CASME_SUBJECTS = 35
CASME_SQ_SUBJECTS = [15, 16, 19, 20, 21, 22, 23, 24, 25, 26, 27, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 40]
# CAS(ME)² at paper size: the 3D-CNN paper's 206 clips (Reddy et al. 2019 Table IV: happy 94 / angry 76 /
# disgust 36, labelled by the eliciting video), of which 57 are micro-expressions as in the real coding (Qu et al.
# 2018: 57 micro + 300 macro); the other 149 are macro-expressions, in 87 long videos (Qu et al. 2018, part A).
CASME_SQ_CLIPS = {"happy": 94, "anger": 76, "disgust": 36}
CASME_SQ_MICRO_TOTAL = 57
CASME_SQ_LONG_VIDEOS = 87
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
        "samm": DatasetSize(tuple(SAMM_COUNTS), 0, (960, 650), (330, 380), (0.1, 0.25), extra={"odd_apex_rows": 2}),
        "smic": DatasetSize(tuple(SMIC_HS_COUNTS), 0, (640, 480), (190, 220), (0.05, 0.15),
                            extra={"vis_subjects": tuple(SMIC_VIS_COUNTS), "e_tails": (0.3, 0.6),
                                   "short": SMIC_HS_SHORT, "short_tails": (0.01, 0.03), "short_max_s": 0.11}),
        "casme": DatasetSize(tuple(range(1, CASME_SUBJECTS + 1)), 0, (640, 480), (160, 185), extra={"total": 195}),
        "casme_sq": DatasetSize(tuple(CASME_SQ_SUBJECTS), 0, (640, 480), (200, 230), (2.4, 2.4),
                                extra={"videos": tuple(CASME_SQ_VIDEOS), "clips": CASME_SQ_CLIPS,
                                       "micro_total": CASME_SQ_MICRO_TOTAL, "long_videos": CASME_SQ_LONG_VIDEOS}),
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

#: Revision of a size's plans, written into that size's completion marker (``"plan"``) so that a set planned by
#: an older revision is regenerated. Bump a size's entry when its plans change without a generator-version change
#: (the quick set, the committed notebooks' baseline, has no entry: its plans have not changed). Paper revision
#: 2: the real per-subject (emotion, objective class) counts, short SMIC-HS clips, CASME 35 subjects, CAS(ME)²
#: 57 micro + 149 macro-expressions in 87 videos, two SAMM apex slips.
PLAN_REVISION = {"paper": 2}

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


def choose_objective_variant(rng: np.random.Generator, canonical: str, objective: int, style=None):
    """Pick an AU variant of ``canonical`` whose AU combination **is** of objective class ``objective`` by
    Davison et al.'s definition (:func:`~mer_utils.data.synthetic.aus.objective_class_of`), biased by the
    subject's preferred variants. Used at paper size, where the (emotion, class) pairs come from the real codings.
    Returns (tokens, objective class)."""
    pool = A.objective_variants(canonical, objective)
    w = np.array([v[2] for v, _ in pool], dtype=float)
    if style is not None and canonical in style.variant_bias:
        bias = style.variant_bias[canonical]
        w = w * np.array([bias[i] if i is not None else float(np.mean(bias)) for _, i in pool])
    tokens, cls, _ = pool[int(rng.choice(len(pool), p=w / w.sum()))][0]
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


#: Total Dirichlet concentration of a quick-set subject's label preference (lower = more skewed). At 2, a
#: subject's most frequent class typically holds about half of its drawn clips, as in the real codings (CASME II:
#: the median subject's largest class is 50 % of its clips; SAMM 67 %), and some classes it never shows.
SUBJECT_MIX_CONCENTRATION = 2.0


def skewed_labels(rng: np.random.Generator, subject_index: int, n: int, core: list, extra: list, weights: dict,
                  covered: int = 3) -> list:
    """Per-subject labels of a quick set, mixed like the real datasets' subjects (not perfectly balanced).

    ``covered`` core classes per subject, rotating over the subjects so that every core class is shown by several
    subjects (each protocol keeps its classes under leave-one-subject-out); the other ``n - covered`` clips are
    drawn from the subject's own preference over all classes: a Dirichlet around the real dataset's label
    frequencies ``weights`` (e.g. :data:`CASME2_EMOTIONS`) with total concentration
    :data:`SUBJECT_MIX_CONCENTRATION`. With ``n <= covered`` the core classes rotate (:func:`balanced_labels`).
    """
    if n <= covered:
        return balanced_labels(subject_index, n, core, extra)
    k = len(core)
    labels = [core[(subject_index * covered + j) % k] for j in range(min(covered, k))]
    seen = {c[0] for c in core}
    pool = list(core) + [e for e in extra if e[0] not in seen and not seen.add(e[0])]
    w = np.array([float(weights.get(p[0], 1.0)) for p in pool])
    pref = rng.dirichlet(np.maximum(SUBJECT_MIX_CONCENTRATION * w / w.sum(), 1e-3))
    labels += [pool[int(i)] for i in rng.choice(len(pool), size=n - len(labels), p=pref)]
    return labels
