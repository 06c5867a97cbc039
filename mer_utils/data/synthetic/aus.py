"""Action units as landmark displacements, and emotions as AU combinations.

Each action unit (AU) of the Facial Action Coding System (Ekman & Friesen) that the five papers' datasets code
is written here as a displacement of dlib's 68 landmarks (plus a few virtual points on the forehead, cheeks,
nasolabial folds and chin) in a face-centred frame: ``x`` points from the image-left eye to the image-right
eye, ``y`` points down the face, and the unit is the inter-ocular distance (IOD). Each displacement pattern is
normalised so that its largest landmark displacement is 1 IOD; an AU *intensity* is therefore "the largest
landmark displacement at apex, in IOD". :mod:`mer_utils.data.synthetic.render` turns these sparse
displacements into a smooth dense warp of the face.

The emotions follow the AU combinations of She et al. 2020 (000, Table I) and of the CASME II / SAMM codings:
happiness AU6+12, disgust AU9 / AU10 / AU4+L10, repression AU14 / AU15 / AU17, surprise AU1+2 (+25), sadness
AU1 (+4+15), fear AU1+2+4 or AU20, contempt a unilateral AU12 / AU14, anger AU4+7, others mostly AU4 / AU7.
Each variant carries its MEGC 2018 objective class (Davison et al. 2018: I happiness-like AU6/12, II
surprise-like AU1+2/5/25/26, III AU4/7 (anger-like), IV AU9/10 (disgust-like), V AU1+4 / 15 / 17 (sadness-
like), VI AU1+2+4 / AU20 (fear-like), VII others). At paper size the (emotion, objective class) pairs come from
the real codings and the AUs are drawn among the combinations of that class (:func:`objective_class_of`,
:func:`objective_variants`, :data:`OBJECTIVE_EXTRA_VARIANTS`); the class tags of :data:`EMOTION_VARIANTS`, used
by the quick and tiny sizes, are looser (AU7 alone is tagged III there, VII by Davison et al.'s table).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

#: Number of dlib landmarks and of the virtual points appended to them (see :func:`virtual_points`).
N_LANDMARKS = 68
N_VIRTUAL = 9
N_POINTS = N_LANDMARKS + N_VIRTUAL

# Virtual point indices (appended after the 68 dlib points).
FOREHEAD_R, FOREHEAD_L, FOREHEAD_C = 68, 69, 70
CHEEK_R, CHEEK_L = 71, 72
NASOLABIAL_R, NASOLABIAL_L = 73, 74
GLABELLA, CHIN_BOSS = 75, 76


def virtual_points(lm: np.ndarray, iod: float, up: np.ndarray) -> np.ndarray:
    """The 9 virtual points (forehead, cheeks, nasolabial folds, glabella, chin boss) of a (68, 2) shape.

    ``up`` is the unit vector pointing up the face (image coordinates); ``iod`` the inter-ocular distance.
    """
    lm = np.asarray(lm, dtype=np.float64)
    up = np.asarray(up, dtype=np.float64)
    return np.array([
        lm[19] + 0.45 * iod * up,
        lm[24] + 0.45 * iod * up,
        0.5 * (lm[21] + lm[22]) + 0.55 * iod * up,
        0.4 * lm[41] + 0.3 * lm[48] + 0.3 * lm[2],
        0.4 * lm[46] + 0.3 * lm[54] + 0.3 * lm[14],
        0.5 * (lm[31] + lm[48]),
        0.5 * (lm[35] + lm[54]),
        (lm[21] + lm[22] + lm[27]) / 3.0,
        0.5 * (lm[57] + lm[8]),
    ])


# Bilateral pairs: (subject's right = image left, subject's left = image right).
_PAIRS = [(0, 16), (1, 15), (2, 14), (3, 13), (4, 12), (5, 11), (6, 10), (7, 9),
          (17, 26), (18, 25), (19, 24), (20, 23), (21, 22), (31, 35), (32, 34),
          (36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46),
          (48, 54), (49, 53), (50, 52), (59, 55), (58, 56), (60, 64), (61, 63), (67, 65),
          (FOREHEAD_R, FOREHEAD_L), (CHEEK_R, CHEEK_L), (NASOLABIAL_R, NASOLABIAL_L)]
#: Mirror permutation of the 68 dlib landmarks (for horizontally flipped faces).
MIRROR_68 = np.arange(N_LANDMARKS)
for _a, _b in _PAIRS:
    if _b < N_LANDMARKS:
        MIRROR_68[_a], MIRROR_68[_b] = _b, _a


def _sym(spec: dict) -> np.ndarray:
    """Expand a half-face spec ``{right_index: (outward, dy)}`` (plus midline points) to a (N_POINTS, 2) array.

    ``outward`` is positive away from the midline; on the image-left side that is ``-x``.
    """
    d = np.zeros((N_POINTS, 2))
    partner = {a: b for a, b in _PAIRS}
    for idx, (out, dy) in spec.items():
        if idx in partner:
            d[idx] = (-out, dy)
            d[partner[idx]] = (out, dy)
        else:  # a midline point: outward has no meaning
            d[idx] = (0.0, dy)
    return d


# Raw displacement patterns (outward, down) in IOD units before normalisation; keys are the image-left member of
# each bilateral pair, or a midline index.
_AU_SPECS: dict[int, dict] = {
    1: {21: (-0.15, -1.0), 20: (-0.05, -0.6), 19: (0.0, -0.25), FOREHEAD_R: (0.0, -0.3), FOREHEAD_C: (0.0, -0.5),
        GLABELLA: (0.0, -0.15)},
    2: {17: (0.1, -1.0), 18: (0.05, -0.8), 19: (0.0, -0.45), 20: (0.0, -0.15), FOREHEAD_R: (0.0, -0.4),
        37: (0.0, -0.1), 38: (0.0, -0.1)},
    4: {21: (-0.5, 0.8), 20: (-0.3, 0.8), 19: (-0.1, 0.6), 18: (0.0, 0.4), 17: (0.0, 0.2), GLABELLA: (0.0, 0.3),
        37: (0.0, 0.15), 38: (0.0, 0.15), FOREHEAD_C: (0.0, 0.3), FOREHEAD_R: (-0.1, 0.3)},
    5: {37: (0.0, -1.0), 38: (0.0, -1.0), 36: (0.0, -0.2), 39: (0.0, -0.15), 19: (0.0, -0.2), 20: (0.0, -0.15)},
    6: {CHEEK_R: (0.1, -1.0), 40: (0.0, -0.6), 41: (0.0, -0.6), 36: (0.0, -0.2), NASOLABIAL_R: (0.1, -0.5),
        48: (0.1, -0.2)},
    7: {40: (0.0, -1.0), 41: (0.0, -1.0), 37: (0.0, 0.4), 38: (0.0, 0.4), 36: (0.0, -0.1), 39: (0.0, -0.1)},
    9: {31: (-0.15, -1.0), 32: (-0.05, -0.8), 33: (0.0, -0.8), 30: (0.0, -0.5), 29: (0.0, -0.3), 21: (0.0, 0.4),
        50: (0.0, -0.5), 51: (0.0, -0.5), 61: (0.0, -0.4), 62: (0.0, -0.4), NASOLABIAL_R: (0.0, -0.6),
        GLABELLA: (0.0, 0.25)},
    10: {49: (0.0, -0.8), 50: (0.0, -1.0), 51: (0.0, -0.9), 61: (0.0, -0.8), 62: (0.0, -0.7),
         NASOLABIAL_R: (0.15, -0.6), 31: (0.0, -0.3), 48: (0.0, -0.3), 60: (0.0, -0.3)},
    12: {48: (1.0, -0.8), 60: (0.9, -0.7), 49: (0.45, -0.4), 59: (0.45, -0.4), 61: (0.35, -0.3), 67: (0.35, -0.3),
         NASOLABIAL_R: (0.4, -0.4), CHEEK_R: (0.2, -0.3), 50: (0.15, -0.15), 58: (0.15, -0.15)},
    14: {48: (0.8, 0.0), 60: (0.6, 0.0), 49: (0.3, 0.05), 59: (0.3, -0.05), 51: (0.0, 0.2), 57: (0.0, -0.2),
         50: (0.1, 0.15), 58: (0.1, -0.15), NASOLABIAL_R: (0.25, 0.0)},
    15: {48: (0.15, 1.0), 60: (0.1, 0.8), 59: (0.05, 0.5), 49: (0.0, 0.3), 58: (0.0, 0.2), 57: (0.0, 0.15),
         NASOLABIAL_R: (0.05, 0.2)},
    17: {7: (0.0, -0.6), 8: (0.0, -0.6), 6: (0.0, -0.3), CHIN_BOSS: (0.0, -1.0), 57: (0.0, -0.8), 58: (0.0, -0.7),
         59: (0.0, -0.6), 66: (0.0, -0.6), 67: (0.0, -0.6), 51: (0.0, -0.2), 48: (0.0, 0.15)},
    18: {48: (-1.0, 0.0), 60: (-0.8, 0.0), 49: (-0.4, 0.0), 59: (-0.4, 0.0), 50: (-0.15, 0.05),
         58: (-0.15, -0.05)},
    20: {48: (1.0, 0.25), 60: (0.9, 0.2), 49: (0.5, 0.1), 59: (0.5, 0.1), NASOLABIAL_R: (0.3, 0.1),
         50: (0.15, 0.05), 58: (0.15, 0.05), 5: (0.0, 0.1)},
    23: {50: (0.0, 0.4), 51: (0.0, 0.4), 57: (0.0, -0.4), 58: (0.0, -0.4), 48: (-0.3, 0.0), 60: (-0.3, 0.0)},
    24: {61: (0.0, 0.5), 62: (0.0, 0.5), 66: (0.0, -0.5), 67: (0.0, -0.5), 50: (0.0, 0.3), 51: (0.0, 0.3),
         57: (0.0, -0.3), 58: (0.0, -0.3)},
    25: {66: (0.0, 1.0), 67: (0.0, 0.9), 57: (0.0, 0.6), 58: (0.0, 0.55), 59: (0.0, 0.4), 62: (0.0, -0.3),
         61: (0.0, -0.25), CHIN_BOSS: (0.0, 0.2)},
    26: {8: (0.0, 1.0), 7: (0.0, 0.8), 6: (0.0, 0.6), 5: (0.0, 0.4), 4: (0.0, 0.2), CHIN_BOSS: (0.0, 1.0),
         57: (0.0, 0.8), 58: (0.0, 0.8), 59: (0.0, 0.7), 66: (0.0, 0.9), 67: (0.0, 0.9)},
}

#: Per-AU scale of the normalised pattern: small structures (eyelids, lips pressed together) cannot move as far
#: as the brows or the lip corners without folding the texture, so their displacement at a given intensity is
#: smaller. The largest landmark displacement of AU ``n`` at intensity ``a`` is ``a * AU_GAIN.get(n, 1)`` IOD.
AU_GAIN = {5: 0.35, 7: 0.45, 9: 0.8, 10: 0.7, 23: 0.4, 24: 0.4}

#: The AUs the generator can render (AU43 / AU45, eye closure / blink, is built from each face's own eye
#: opening by :func:`blink_displacement`).
AU_NUMBERS = tuple(sorted(_AU_SPECS))


def au_displacement(au: int) -> np.ndarray:
    """(N_POINTS, 2) displacement of AU ``au`` at intensity 1 in face coordinates (IOD units).

    The pattern is normalised to a largest row norm of 1 IOD, times :data:`AU_GAIN` for small structures.
    """
    if au not in _AU_SPECS:
        raise ValueError(f"AU{au} has no displacement pattern; the generator knows AUs {AU_NUMBERS}.")
    d = _sym(_AU_SPECS[au])
    return AU_GAIN.get(au, 1.0) * d / np.linalg.norm(d, axis=1).max()


def blink_displacement(lm: np.ndarray) -> np.ndarray:
    """(N_POINTS, 2) displacement in **image pixels** that closes both eyes (AU45 at intensity 1).

    The upper lids (37, 38 / 43, 44) move onto the lower lids (41, 40 / 47, 46); the lower lids rise 10%.
    """
    lm = np.asarray(lm, dtype=np.float64)
    d = np.zeros((N_POINTS, 2))
    for upper, lower in ((37, 41), (38, 40), (43, 47), (44, 46)):
        gap = lm[lower] - lm[upper]
        d[upper] = 0.9 * gap
        d[lower] = -0.1 * gap
    return d


# ---------------------------------------------------------------------------------------------------------------
# AU tokens: "12", "L10", "R12", "A12" (asymmetric: stronger on one side)
_TOKEN = re.compile(r"^([LRA]?)(\d+)$")


@dataclass(frozen=True)
class AUToken:
    """One coded AU: ``side`` is '' (bilateral), 'L' / 'R' (unilateral, the subject's left / right) or 'A'."""

    au: int
    side: str = ""

    @classmethod
    def parse(cls, text: str) -> "AUToken":
        match = _TOKEN.match(str(text).strip())
        if not match:
            raise ValueError(f"Cannot parse AU token {text!r}: expected e.g. '12', 'L10', 'R12' or 'A12'.")
        return cls(int(match.group(2)), match.group(1))

    def __str__(self) -> str:
        return f"{self.side}{self.au}"


def side_weights(side: str, face_x: np.ndarray, asym_strong: str = "L") -> np.ndarray:
    """Per-point weights (N,) for a token's side, from each point's face-frame ``x`` (IOD units, midline 0).

    Bilateral: 1 everywhere. 'L' (subject's left = image right, ``x > 0``) and 'R' use a smooth step across
    the midline so the warp stays smooth; 'A' keeps ``asym_strong`` at 1 and the other side at 0.5.
    """
    step = 1.0 / (1.0 + np.exp(-np.asarray(face_x) / 0.04))  # ~1 on the subject's left
    if side == "":
        return np.ones_like(step)
    if side == "L":
        return step
    if side == "R":
        return 1.0 - step
    if side == "A":
        return 0.5 + 0.5 * (step if asym_strong == "L" else 1.0 - step)
    raise ValueError(f"Unknown AU side {side!r}: expected '', 'L', 'R' or 'A'.")


# ---------------------------------------------------------------------------------------------------------------
# Emotions as AU combinations. Each variant: (tokens, objective class 1..7, weight).
Variant = tuple[tuple[str, ...], int, float]

#: Canonical emotions and their AU variants (weights are relative frequencies within the emotion).
EMOTION_VARIANTS: dict[str, list[Variant]] = {
    "happiness": [(("6", "12"), 1, 3.0), (("12",), 1, 2.0), (("6", "7", "12"), 1, 1.0), (("1", "12"), 1, 0.5)],
    "surprise": [(("1", "2"), 2, 3.0), (("1", "2", "25"), 2, 1.5), (("5",), 2, 0.5), (("25", "26"), 2, 0.5)],
    "disgust": [(("9",), 4, 1.5), (("4", "L10"), 4, 2.0), (("10",), 4, 1.0), (("4", "9"), 4, 1.5),
                (("4", "7", "9"), 4, 0.5)],
    "repression": [(("15",), 5, 1.5), (("17",), 5, 1.5), (("15", "17"), 5, 1.5), (("14",), 7, 1.0),
                   (("12", "15"), 5, 0.5)],
    "sadness": [(("1", "4"), 5, 2.0), (("1", "4", "15"), 5, 1.5), (("15",), 5, 1.0), (("4", "15"), 5, 1.0)],
    "fear": [(("1", "2", "4"), 6, 2.0), (("20",), 6, 1.5), (("4", "20"), 6, 1.0)],
    "anger": [(("4", "7"), 3, 3.0), (("4",), 3, 2.0), (("7",), 3, 1.5), (("4", "5"), 3, 0.5), (("4", "23"), 3, 0.5)],
    "contempt": [(("L12",), 7, 1.5), (("R12",), 7, 1.5), (("L14",), 7, 1.0), (("R14",), 7, 1.0)],
    "tense": [(("4",), 3, 2.0), (("4", "7"), 3, 1.0), (("7",), 3, 1.0), (("24",), 7, 0.5)],
    # CASME II / SAMM "others": mostly brow lowering or lid tightening (objective class III), some unclassified.
    "others": [(("4",), 3, 3.0), (("7",), 3, 1.0), (("4", "7"), 3, 1.0), (("14",), 7, 0.7), (("24",), 7, 0.5),
               (("L2",), 7, 0.5), (("18",), 7, 0.5)],
}

#: Macro-expression emotions (FER2013 / CK+) as AU variants at macro intensity.
MACRO_VARIANTS: dict[str, list[Variant]] = {
    # The EMFACS prototypes of the basic emotions (Ekman & Friesen; Ekman, Friesen & Hager 2002, FACS Investigator's
    # Guide Table 10-1) and their major variants.
    "anger": [(("4", "5", "7", "23"), 3, 2.0), (("4", "7", "23"), 3, 1.0), (("4", "5", "7", "24"), 3, 1.0)],
    "contempt": [(("L12", "L14"), 7, 1.0), (("R12", "R14"), 7, 1.0)],
    "disgust": [(("9", "10", "4"), 4, 2.0), (("9", "15", "17"), 4, 1.0), (("10", "17"), 4, 1.0)],
    "fear": [(("1", "2", "4", "5", "20", "25"), 6, 2.0), (("1", "2", "4", "5", "20", "26"), 6, 1.0)],
    "happiness": [(("6", "12", "25"), 1, 2.0), (("6", "12"), 1, 2.0)],
    "sadness": [(("1", "4", "15", "17"), 5, 2.0), (("1", "4", "15"), 5, 1.0), (("6", "15"), 5, 0.5)],
    "surprise": [(("1", "2", "5", "26"), 2, 2.0), (("1", "2", "5", "25"), 2, 1.0), (("1", "2", "26"), 2, 1.0)],
    "neutral": [((), 7, 1.0)],
}

#: MEGC 2018 objective class names (Davison et al. 2018), 1-based.
OBJECTIVE_CLASSES = {1: "I", 2: "II", 3: "III", 4: "IV", 5: "V", 6: "VI", 7: "VII"}

#: AU combinations of the objective classes I-VI (Davison, Merghani & Yap 2018, "Objective Classes for
#: Micro-Facial Expression Recognition", Table 2); any other combination is class VII ("others"). AU4+AU10 is
#: added to class IV because the CASME II objective-class file codes ``4+L10`` / ``4+R10`` as IV.
OBJECTIVE_AU_SETS: dict[int, tuple[frozenset, ...]] = {
    1: tuple(map(frozenset, [{6}, {12}, {6, 12}, {6, 7, 12}, {7, 12}])),
    2: tuple(map(frozenset, [{1, 2}, {5}, {25}, {1, 2, 25}, {25, 26}, {5, 24}])),
    3: tuple(map(frozenset, [{23}, {4}, {4, 7}, {4, 5}, {4, 5, 7}, {17, 24}, {4, 6, 7}, {4, 38}])),
    4: tuple(map(frozenset, [{10}, {9}, {4, 9}, {4, 10}, {4, 40}, {4, 5, 40}, {4, 7, 9}, {4, 9, 17}, {4, 7, 10},
                             {4, 5, 7, 9}, {7, 10}])),
    5: tuple(map(frozenset, [{1}, {15}, {1, 4}, {6, 15}, {15, 17}])),
    6: tuple(map(frozenset, [{1, 2, 4}, {20}])),
}


def objective_class_of(tokens) -> int:
    """The objective class (1..7) of an AU combination by :data:`OBJECTIVE_AU_SETS` (sides ignored: ``L12`` is
    AU12); a combination listed under no class I-VI is class VII."""
    aus = frozenset(AUToken.parse(t).au for t in tokens)
    for cls, sets in OBJECTIVE_AU_SETS.items():
        if aus in sets:
            return cls
    return 7


#: Further micro-expression AU variants per emotion, used only when a plan asks for an (emotion, objective
#: class) pair that :data:`EMOTION_VARIANTS` cannot give with a consistent AU combination; every pair here
#: occurs in the real CASME II / SAMM codings (e.g. CASME II disgust coded AU4 or AU4+7 is class III, surprise
#: coded AU1 alone is class V, SAMM anger coded AU7 alone is class VII). Kept apart from
#: :data:`EMOTION_VARIANTS` so that the subjects' variant preferences, and the quick sets, stay unchanged.
OBJECTIVE_EXTRA_VARIANTS: dict[str, list[Variant]] = {
    "disgust": [(("4", "7"), 3, 2.0), (("4",), 3, 1.0), (("4", "9", "14"), 7, 1.0), (("R2", "15"), 7, 1.0)],
    "happiness": [(("6", "15"), 5, 1.0), (("14",), 7, 2.0), (("12", "15"), 7, 1.0)],
    "others": [(("12",), 1, 1.0), (("6", "7", "12"), 1, 1.0), (("10",), 4, 1.0), (("9",), 4, 0.5),
               (("17",), 7, 1.0)],
    "surprise": [(("1",), 5, 1.0), (("R2",), 7, 1.0), (("L2",), 7, 1.0), (("26",), 7, 1.0)],
    "sadness": [(("1",), 5, 2.0), (("17",), 7, 1.0), (("12", "15"), 7, 1.0)],
}


def objective_variants(emotion: str, objective: int) -> list[tuple[Variant, int | None]]:
    """Micro-expression AU variants of ``emotion`` whose AU combination is of objective class ``objective``
    (:func:`objective_class_of`), as ``(variant, index in EMOTION_VARIANTS[emotion] or None)``; the variant's
    class is the computed one. Raises ``ValueError`` when the emotion has no such variant."""
    if emotion not in EMOTION_VARIANTS:
        raise ValueError(f"Unknown emotion {emotion!r}: the micro table has {sorted(EMOTION_VARIANTS)}.")
    pool = [(v, i) for i, v in enumerate(EMOTION_VARIANTS[emotion])]
    pool += [(v, None) for v in OBJECTIVE_EXTRA_VARIANTS.get(emotion, [])]
    out = [((tokens, objective, w), i) for (tokens, _, w), i in pool if objective_class_of(tokens) == objective]
    if not out:
        raise ValueError(f"No AU variant of {emotion!r} is of objective class {objective}: add one to "
                         "OBJECTIVE_EXTRA_VARIANTS (its AU combination must be of that class, see objective_class_of).")
    return out


def variants(emotion: str, macro: bool = False) -> list[Variant]:
    """The AU variants of a canonical emotion (micro table, or the macro table when ``macro``)."""
    table = MACRO_VARIANTS if macro else EMOTION_VARIANTS
    if emotion not in table:
        raise ValueError(f"Unknown emotion {emotion!r}: the {'macro' if macro else 'micro'} table has {sorted(table)}.")
    return table[emotion]


_INTENSITY_LETTERS = "ABCDE"


def intensity_letter(intensity: float, macro_full: float = 0.25) -> str:
    """FACS intensity letter A (trace) .. E (maximum) for an apex displacement in IOD (``macro_full`` = E)."""
    level = int(np.clip(np.floor(5 * intensity / macro_full), 0, 4))
    return _INTENSITY_LETTERS[level]


def format_aus(tokens, style: str = "casme2", intensities=None, rng: np.random.Generator | None = None):
    """Write AU tokens as a dataset's annotators did.

    - ``casme2`` / ``casme`` / ``casme_sq``: ``'4+L10'``; a single bilateral AU is stored as an **int** cell
      (``12``), as in the real CASME II coding where the column mixes numbers and strings.
    - ``samm``: tokens may carry an intensity letter (``'12A'``, ``'L12C'``, ``'A12'`` prefix for asymmetric),
      and a single plain AU is stored as an int.
    """
    tokens = [str(t) for t in tokens]
    if not tokens:
        return "?"
    if style == "samm":
        parts = []
        for i, tok in enumerate(tokens):
            letter = ""
            if intensities is not None and rng is not None and rng.random() < 0.55:
                letter = intensity_letter(float(intensities[i]))
            parts.append(f"{tok}{letter}")
        if len(parts) == 1 and parts[0].isdigit():
            return int(parts[0])
        return "+".join(parts)
    if style in ("casme2", "casme", "casme_sq"):
        if len(tokens) == 1 and tokens[0].isdigit():
            return int(tokens[0])
        return "+".join(tokens)
    raise ValueError(f"Unknown AU style {style!r}: expected 'casme2', 'casme', 'casme_sq' or 'samm'.")
