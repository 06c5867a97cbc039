"""Names, ids and small parsers shared by the dataset loaders (REFERENCE.md §1).

The licensed datasets spell the same thing in several ways: CASME II subjects are ``'01'`` in one copy of the
coding and ``1`` in another, SAMM subjects ``'006'`` or ``6``, SMIC ``s1`` on disk and ``s01`` in the MEGC 2019
ground truth. Everything here turns those spellings into **one** normalised form, so tables from different
sources join on equal keys:

========================  ===============  ==============================
dataset family            subject          clip (example)
========================  ===============  ==============================
``casme2`` / ``casme``    ``sub01``        ``EP02_01f`` / ``EP01_5``
``samm``                  ``006``          ``006_1_2``
``smic``                  ``s01``          ``s1_ne_01`` (SMIC's own, unpadded)
``casme_sq``              ``s15``          ``disgust1_1`` (the coding's expression id)
========================  ===============  ==============================
"""
from __future__ import annotations

import math
import re
from typing import Any, Iterable

#: Frame rates of the datasets (frames per second), REFERENCE.md §1.
FPS = {
    "casme2": 200.0,
    "samm": 200.0,
    "smic_hs": 100.0,
    "smic_vis": 25.0,
    "smic_nir": 25.0,
    "smic_hs_e": 100.0,
    "casme": 60.0,
    "casme_sq": 30.0,
}

#: The family a table's ``dataset`` value belongs to: the people are the same within a family, so
#: ``subject_uid`` (``family/subject``) identifies one person across SMIC-HS, VIS, NIR and HS-E.
DATASET_FAMILY = {
    "casme2": "casme2",
    "samm": "samm",
    "smic_hs": "smic",
    "smic_vis": "smic",
    "smic_nir": "smic",
    "smic_hs_e": "smic",
    "smic": "smic",
    "casme": "casme",
    "casme_sq": "casme_sq",
    "fer2013": "fer2013",
    "ckplus": "ckplus",
}

_SUBJECT_FORMAT = {
    "casme2": "sub{:02d}",
    "casme": "sub{:02d}",
    "samm": "{:03d}",
    "smic": "s{:02d}",
    "casme_sq": "s{:02d}",
    "ckplus": "S{:03d}",
}


class DataWarning(UserWarning):
    """A quirk of a dataset's files that the loader handled (apex ``/``, a missing frame, an extra folder...).

    Filter with ``warnings.simplefilter("ignore", DataWarning)`` once you have read them.
    """


class LicensedDataWarning(UserWarning):
    """The licensed copy of a dataset was asked for (``DATA_ROOT`` given, or its folder exists) but cannot be used,
    so the synthetic set is read instead. Deliberately **not** a :class:`DataWarning`: notebooks that silence
    the dataset quirks still show it.
    """


def family(dataset: str) -> str:
    """The dataset family of a ``dataset`` value (``smic_hs`` -> ``smic``); unknown names map to themselves."""
    return DATASET_FAMILY.get(dataset, dataset)


def is_missing(value: Any) -> bool:
    """True for ``None``, NaN, ``pd.NA`` and blank strings (empty spreadsheet cells)."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, str) and not value.strip():
        return True
    try:  # pandas.NA and NaT
        import pandas as pd

        return bool(pd.isna(value)) if not isinstance(value, (list, tuple, dict)) else False
    except (TypeError, ValueError):
        return False


def as_int(value: Any) -> int | None:
    """An integer from a spreadsheet cell (``46``, ``46.0``, ``'46'``), or ``None`` when it is not one."""
    if is_missing(value) or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    text = str(value).strip()
    if re.fullmatch(r"[+-]?\d+(\.0+)?", text):
        return int(float(text))
    return None


def subject_number(value: Any) -> int | None:
    """The number inside a subject id: ``'sub01'``, ``'01'``, ``1``, ``'s1'``, ``'006'`` -> 1, 1, 1, 1, 6."""
    number = as_int(value)
    if number is not None:
        return number
    if is_missing(value):
        return None
    digits = re.findall(r"\d+", str(value))
    return int(digits[-1]) if digits else None


def normalise_subject(dataset: str, value: Any) -> str:
    """The normalised subject id of ``value`` for ``dataset`` (any member of a family), e.g.

    >>> normalise_subject("casme2", "01"), normalise_subject("samm", 6), normalise_subject("smic_hs", "s1")
    ('sub01', '006', 's01')
    """
    fam = family(dataset)
    number = subject_number(value)
    if number is None:
        raise ValueError(f"Cannot read a subject id from {value!r} ({dataset}): expected a number such as "
                         f"{_SUBJECT_FORMAT.get(fam, '{}').format(1)!r}, '01' or 1.")
    return _SUBJECT_FORMAT.get(fam, "{}").format(number)


_SMIC_CLIP = re.compile(r"^s0*(\d+)_([a-z]+)_0*(\d+)$", re.IGNORECASE)


def normalise_clip(dataset: str, value: Any) -> str:
    """The normalised clip id. Only SMIC needs work: ``s01_ne_01`` (MEGC 2019 CSV) -> ``s1_ne_01`` (on disk).

    Other datasets keep their clip id as written (``EP02_01f``, ``006_1_2``), stripped of blanks.
    """
    text = str(value).strip()
    if family(dataset) == "smic":
        match = _SMIC_CLIP.match(text)
        if match:
            subject, emotion, index = match.groups()
            return f"s{int(subject)}_{emotion.lower()}_{int(index):02d}"
    return text


def subject_uid(dataset: str, subject: str) -> str:
    """``family/subject``: unique across datasets in a composite (``casme2/sub01``, ``smic/s01``)."""
    return f"{family(dataset)}/{subject}"


def clip_uid(dataset: str, subject: str, clip: str) -> str:
    """``dataset/subject/clip``: the key used by caches and predictions (``casme2/sub01/EP02_01f``)."""
    return f"{dataset}/{subject}/{clip}"


_LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)")


#: The frame-file names each dataset ships (REFERENCE.md §1), matched case-insensitively against the whole name.
#: When two files claim one frame number (``img36.jpg`` and ``img036.jpg``, ``img40.jpg`` and
#: ``img40 (copy).jpg``), :func:`mer_utils.data.frames.scan_frames` keeps the one that follows this pattern.
FRAME_PATTERNS = {
    "casme2": r"(?:reg_)?img[1-9]\d*\.jpg|(?:reg_)?img0\.jpg",      # img46.jpg / reg_img46.jpg, never zero-padded
    "samm": r"\d{3}_\d+\.jpg",                                    # 006_05562.jpg (padding varies between clips)
    "smic_hs": r"image\d+\.(?:bmp|jpg)",                           # image000098.bmp
    "smic_vis": r"image\d+\.(?:bmp|jpg)",
    "smic_nir": r"image\d+\.(?:bmp|jpg)",
    "smic_hs_e": r"image\d+\.jpg",                                 # image017581039.jpg
    "casme": r"EP\d+_\d+[a-z]?-[1-9]\d*\.jpg",                     # EP01_5-19.jpg
    "casme_sq": r"img[1-9]\d*\.jpg",                                # img1.jpg
    "ckplus": r"S\d{3}_\d{3}_\d{8}\.png",                          # S005_001_00000011.png
}

#: Files that are never frames although they may carry an image extension: macOS AppleDouble companions
#: (``._img47.jpg``, written by copies to exFAT / FAT drives and by ``tar`` on a Mac), other hidden files
#: (``.DS_Store``), Windows thumbnails and Office lock files.
IGNORED_FILE_NAMES = {"thumbs.db", "desktop.ini", "ehthumbs.db", "icon\r"}


def is_ignored_file(name: str) -> bool:
    """True for hidden files, macOS ``._`` companions, ``Thumbs.db``, ``desktop.ini`` and ``~$`` lock files.

    >>> [is_ignored_file(n) for n in ("._img47.jpg", ".DS_Store", "Thumbs.db", "~$coding.xlsx", "img47.jpg")]
    [True, True, True, True, False]
    """
    return name.startswith((".", "~$")) or name.lower() in IGNORED_FILE_NAMES


def is_ignored_folder(name: str) -> bool:
    """True for hidden folders and the ``__MACOSX`` folder that macOS zip archives carry."""
    return name.startswith(".") or name == "__MACOSX"


def frame_number(name: str) -> int | None:
    """The frame number in a frame file name: the last run of digits of its stem.

    >>> [frame_number(n) for n in ("img46.jpg", "reg_img100.jpg", "006_05562.jpg", "EP01_5-19.jpg", "image017581039.bmp")]
    [46, 100, 5562, 19, 17581039]
    """
    stem = name.rsplit(".", 1)[0] if "." in name else name
    match = _LAST_NUMBER.search(stem)
    return int(match.group(1)) if match else None


# An AU token: an optional side / asymmetry prefix (L, R, A, T, B), the number, an optional intensity (A-E);
# or a SAMM reference "ref(24)". Words ("or"), "?" and lone letters ("A/B" intensity alternatives) are skipped.
_AU_TOKEN = re.compile(r"ref\(\s*[A-Za-z]*\d+[A-Za-z]*\s*\)|[A-Za-z]*\d+[A-Za-z]*")


def parse_aus(value: Any) -> list[str]:
    """The AU tokens of an ``Action Units`` cell, in order, without duplicates.

    Handles numbers (``12`` or ``12.0``), ``4+L10``, ``R6 or R12``, ``(R6 or R12) + R15``, ``10A/B``,
    ``12A+ref(24)`` and ``?`` (no AU):

    >>> parse_aus("4+L10"), parse_aus(12.0), parse_aus("(R6 or R12)+R15"), parse_aus("?")
    (['4', 'L10'], ['12'], ['R6', 'R12', 'R15'], [])
    """
    if is_missing(value):
        return []
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    tokens: list[str] = []
    for token in _AU_TOKEN.findall(str(value)):
        token = re.sub(r"\s+", "", token)
        if token not in tokens:
            tokens.append(token)
    return tokens


def au_numbers(aus: Iterable[str], include_references: bool = False) -> list[int]:
    """The AU numbers of parsed tokens (``['4', 'L10', 'ref(24)']`` -> ``[4, 10]``), sides and intensities dropped.

    SAMM's ``ref(N)`` tokens ("refer to AU N") are left out unless ``include_references``.
    """
    numbers: list[int] = []
    for token in aus:
        if token.startswith("ref(") and not include_references:
            continue
        digits = re.search(r"\d+", token)
        if digits and int(digits.group()) not in numbers:
            numbers.append(int(digits.group()))
    return numbers


def normalise_label(value: Any) -> str:
    """A label as a lower-case, trimmed string (``'Happiness '`` -> ``'happiness'``, ``3`` -> ``'3'``)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return re.sub(r"\s+", " ", str(value).strip().lower())
