"""Finding a dataset: the licensed copy under ``DATA_ROOT`` when it is complete, else the synthetic set of the
same layout, with the reason said and recorded (:func:`load_dataset`). The readers of each dataset's own
layout are in :mod:`mer_utils.data.loaders`.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import pandas as pd

from .. import paths
from .loaders import (CASME2_RELEASES, _find_dir, _find_file, _given_file, _samm_frames_root, _smic_modality,
                      _show, casme2_release, find_casme2_coding, find_casme_coding, find_casme_sq_coding,
                      find_samm_coding, find_smic_e_annotation, load_casme, load_casme2, load_casme_sq,
                      load_ckplus, load_fer2013, load_samm, load_smic, load_smic_hs_e)
from .naming import LicensedDataWarning

# --------------------------------------------------------------------------------------------------------------
# Entry point: licensed copy or synthetic set
# --------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DatasetSpec:
    """How :func:`load_dataset` finds and reads one dataset."""

    name: str
    title: str
    folder_key: str
    loader: Callable[..., pd.DataFrame]
    expected: Callable[[dict], str]
    check: Callable[[Path, dict], list[str]]


def _has_file(root: Path, finder: Callable[[Path], Path], given: Any = None, option: str = "coding") -> bool:
    """Whether the annotation file is there. A file given explicitly must exist (an error names it otherwise);
    several different candidates raise :class:`AmbiguousFileError` (the data is there: the user must choose)."""
    if given:
        _given_file(given, option)
        return True
    try:
        finder(root)
        return True
    except FileNotFoundError:
        return False


def _check_casme2(root: Path, options: dict) -> list[str]:
    release = options.get("release")
    if release is not None and release not in CASME2_RELEASES:
        casme2_release(root, release)  # raises the error naming the valid values
    folders = CASME2_RELEASES[release] if release else [f for r in CASME2_RELEASES.values() for f in r]
    missing = [] if _find_dir(root, folders) else \
        ([folders[0] + "/"] if release else ["CASME2_RAW_selected/ (or Cropped/)"])
    return missing + ([] if _has_file(root, find_casme2_coding, options.get("coding")) else ["CASME2-coding-*.xlsx"])


def _check_samm(root: Path, options: dict) -> list[str]:
    return ([] if _samm_frames_root(root) else ["subject folders 006/ ... (or SAMM/006/ ...)"]) + \
        ([] if _has_file(root, find_samm_coding, options.get("coding")) else ["SAMM_Micro_FACS_Codes_v2.xlsx"])


def _check_smic(root: Path, options: dict) -> list[str]:
    modality = _smic_modality(options.get("modality", "HS"))
    raw = _find_dir(root, ["SMIC_all_raw"])
    return [] if raw is not None and _find_dir(raw, [modality, modality.lower()]) else [f"SMIC_all_raw/{modality}/"]


def _check_smic_e(root: Path, options: dict) -> list[str]:
    return ([] if _find_dir(root, ["SMIC_HS_E", "SMIC-HS-E", "HS_E"]) else ["SMIC_HS_E/"]) + \
        ([] if _has_file(root, find_smic_e_annotation, options.get("annotation"), "annotation")
         else ["SMIC-HS-E_annotation.xlsx"])


def _check_casme(root: Path, options: dict) -> list[str]:
    return ([] if _find_dir(root, ["CASME_raw_selected", "CASME_RAW_selected", "CASME_raw"]) else ["CASME_raw_selected/"]) + \
        ([] if _has_file(root, find_casme_coding, options.get("coding")) else ["one coding spreadsheet (*.xlsx)"])


def _check_casme_sq(root: Path, options: dict) -> list[str]:
    return ([] if _find_dir(root, ["rawpic", "RawPic"]) else ["rawpic/"]) + \
        ([] if _has_file(root, find_casme_sq_coding, options.get("coding")) else ["CAS(ME)^2code_final.xlsx"])


def _check_fer(root: Path, options: dict) -> list[str]:
    return [] if _has_file(root, lambda r: _find_file(r, ["fer2013.csv", "*fer*.csv"], "FER2013 CSV")) else ["fer2013.csv"]


def _check_ck(root: Path, options: dict) -> list[str]:
    return ([] if _find_dir(root, ["cohn-kanade-images", "cohn-kanade"]) else ["cohn-kanade-images/"]) + \
        ([] if _find_dir(root, ["Emotion", "Emotion_labels"]) else ["Emotion/"])


DATASETS: dict[str, DatasetSpec] = {
    "casme2": DatasetSpec("casme2", "CASME II", "casme2", load_casme2,
                          lambda o: f"{CASME2_RELEASES.get(o.get('release') or 'raw', ['CASME2_RAW_selected'])[0]}/ and CASME2-coding-*.xlsx",
                          _check_casme2),
    "samm": DatasetSpec("samm", "SAMM", "samm", load_samm,
                        lambda o: "subject folders 006/... and SAMM_Micro_FACS_Codes_v2.xlsx", _check_samm),
    "smic": DatasetSpec("smic", "SMIC", "smic", load_smic,
                        lambda o: f"SMIC_all_raw/{str(o.get('modality', 'HS')).upper()}/s1/micro/...", _check_smic),
    "smic_hs_e": DatasetSpec("smic_hs_e", "SMIC-E (HS)", "smic", load_smic_hs_e,
                             lambda o: "SMIC_HS_E/ and SMIC-HS-E_annotation.xlsx", _check_smic_e),
    "casme": DatasetSpec("casme", "CASME", "casme", load_casme,
                         lambda o: "CASME_raw_selected/ and one coding spreadsheet", _check_casme),
    "casme_sq": DatasetSpec("casme_sq", "CAS(ME)²", "casme_sq", load_casme_sq,
                            lambda o: "rawpic/ and CAS(ME)^2code_final.xlsx", _check_casme_sq),
    "fer2013": DatasetSpec("fer2013", "FER2013", "fer2013", load_fer2013, lambda o: "fer2013.csv", _check_fer),
    "ckplus": DatasetSpec("ckplus", "CK+", "ckplus", load_ckplus,
                          lambda o: "cohn-kanade-images/ and Emotion/", _check_ck),
}

#: Aliases accepted by :func:`load_dataset`.
DATASET_ALIASES = {"casme_ii": "casme2", "casmeii": "casme2", "smic_hs": "smic", "cas(me)2": "casme_sq",
                   "casme_square": "casme_sq", "ck+": "ckplus", "fer": "fer2013"}


def dataset_spec(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` of ``name`` (or an alias); a ``ValueError`` lists the known names."""
    key = DATASET_ALIASES.get(str(name).lower(), str(name).lower())
    if key not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r}: expected one of {sorted(DATASETS)}.")
    return DATASETS[key]


def licensed_folder(name: str, data_root: str | os.PathLike | None = None) -> Path:
    """``DATA_ROOT/<folder>`` where the licensed copy of dataset ``name`` is expected."""
    spec = dataset_spec(name)
    return paths.data_root(data_root) / paths.DATASET_FOLDERS[spec.folder_key]


def licensed_status(name: str, data_root: str | os.PathLike | None = None, **options: Any) -> tuple[Path, list[str]]:
    """The licensed folder of ``name`` and what it lacks (an empty list: usable).

    Raises :class:`AmbiguousFileError` when several different annotation files are candidates, and
    ``FileNotFoundError`` when a file given in ``options`` (``coding=``) does not exist.
    """
    spec = dataset_spec(name)
    folder = licensed_folder(name, data_root)
    return folder, (spec.check(folder, options) if folder.is_dir() else [_NO_FOLDER])


_NO_FOLDER = "the folder itself"
#: Options naming files of the licensed copy: not passed to the synthetic set's loader on a fallback.
_FILE_OPTIONS = ("coding", "annotation", "objective_classes")


def _check_options(spec: DatasetSpec, options: dict) -> None:
    import inspect

    accepted = [p for p in inspect.signature(spec.loader).parameters if p != "root"]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise TypeError(f"load_dataset({spec.name!r}): unknown option(s) {unknown}; the {spec.title} loader "
                        f"accepts {accepted}.")


def load_dataset(name: str, data_root: str | os.PathLike | None = None, synthetic_size: str = "quick",
                 verbose: bool = True, require_licensed: bool | None = None, **options: Any) -> pd.DataFrame:
    """The clip table (or image table for ``fer2013`` / ``ckplus``) of dataset ``name``.

    Uses the licensed copy under ``mer_utils.paths.data_root(data_root)/<DATASET_FOLDERS[...]>`` when it holds
    what the loader needs; otherwise the synthetic set at ``mer_utils.paths.synthetic_root(synthetic_size)``
    (generated with ``mer_utils.data.synthetic.ensure_synthetic`` when missing), and prints which it used and
    why. ``options`` go to the loader: ``casme2``: ``release=None|'raw'|'cropped'``, ``coding=``; ``samm``,
    ``casme``, ``casme_sq``: ``coding=`` (the spreadsheet to use when the folder holds several);
    ``smic``: ``modality='HS'|'VIS'|'NIR'``; ``smic_hs_e``: ``annotation=``; ``casme_sq``: ``include_macro``;
    ``ckplus``: ``last_k``, ``include_neutral``; ``fer2013``: ``usage``.

    - A ``data_root`` (or ``$MER_DATA_ROOT``) that does not exist is an error, not a reason to fall back.
    - ``require_licensed=True`` raises instead of falling back (``None``: from ``$MER_REQUIRE_LICENSED``, see
      :func:`mer_utils.paths.require_licensed`; notebooks pass their ``REQUIRE_LICENSED`` parameter).
    - A fallback the user did not expect (``data_root`` / ``$MER_DATA_ROOT`` given, or the dataset's folder
      exists but is incomplete) is also reported with a :class:`~mer_utils.data.naming.LicensedDataWarning`
      naming what is missing and the synthetic path used.
    - Several candidate spreadsheets raise :class:`AmbiguousFileError` (pass ``coding=``); a second download
      (``name (1).xlsx``) beside the original is ignored with a warning.

    ``table.attrs`` records ``source`` (``'licensed'`` / ``'synthetic'``), ``root`` and, after a fallback,
    ``fallback`` (why the licensed copy was not used) and ``licensed_folder`` (where it was looked for).
    """
    spec = dataset_spec(name)
    _check_options(spec, options)
    require_licensed = paths.require_licensed(require_licensed)
    chosen = paths.explicit_data_root(data_root)
    folder, missing = licensed_status(spec.name, data_root, **options)
    fallback = None
    loader_options = dict(options)
    if not missing:
        source, root = "licensed", folder
        message = f"Using the licensed {spec.title} at {_show(folder)}"
    else:
        state = "not found under" if missing == [_NO_FOLDER] else f"incomplete (missing {', '.join(missing)}) under"
        reason = f"Licensed {spec.title} {state} {_show(folder)} (expected {spec.expected(options)})"
        if chosen is not None and chosen.name.lower() == folder.name.lower():
            reason += (f"; DATA_ROOT={str(chosen)!r} looks like the {folder.name}/ folder itself: point DATA_ROOT at "
                       "the folder that holds it")
        if require_licensed:
            raise FileNotFoundError(reason + ". Set DATA_ROOT (or $MER_DATA_ROOT) to the folder holding "
                                    f"{paths.DATASET_FOLDERS[spec.folder_key]}/ with the files above "
                                    "(require_licensed=True: no synthetic fallback).")
        size_root = paths.synthetic_root(synthetic_size)
        root = size_root / paths.DATASET_FOLDERS[spec.folder_key]
        dropped = {k: loader_options.pop(k) for k in _FILE_OPTIONS if loader_options.get(k) is not None}
        lacking = spec.check(root, loader_options) if root.is_dir() else [_NO_FOLDER]
        from .synthetic import MARKER, ensure_synthetic  # the generator; imported only when it is needed

        # generate when missing; a generated set is also refreshed when stale (ensure_synthetic is a no-op when
        # its completion marker matches); a complete set without a marker (made by hand) is read as it is
        if lacking or (size_root / MARKER).is_file():
            ensure_synthetic(synthetic_size)
            lacking = spec.check(root, loader_options) if root.is_dir() else [_NO_FOLDER]
        if lacking:
            raise FileNotFoundError(f"{reason}, and the synthetic set at {_show(root)} lacks {', '.join(lacking)}. "
                                    "Regenerate it (mer_utils.data.synthetic) or choose another option.")
        source = "synthetic"
        message = f"{reason}; using the synthetic set at {_show(root)}"
        if chosen is not None or folder.is_dir() or dropped:
            # an unexpected fallback (licensed data asked for or half there): recorded with the results
            fallback = reason
            given = f" (the licensed file option(s) {sorted(dropped)} are not used for it)" if dropped else ""
            warnings.warn(f"{message}{given}. The results will be those of synthetic data; pass "
                          "require_licensed=True (notebooks: REQUIRE_LICENSED = True; course run "
                          "--require-licensed) to stop instead.", LicensedDataWarning, stacklevel=2)
    table = spec.loader(root, **loader_options)
    table.attrs.update({"source": source, "root": str(root), "options": loader_options})
    if fallback is not None:
        table.attrs.update({"fallback": fallback, "licensed_folder": str(folder)})
    if verbose:
        subjects = table["subject"].nunique() if "subject" in table and table["subject"].notna().any() else None
        count = f"{len(table)} {'images' if spec.name in ('fer2013', 'ckplus') else 'clips'}"
        print(f"{message}: {count}" + (f", {subjects} subjects." if subjects else "."))
    return table


def load_all(data_root: str | os.PathLike | None = None, synthetic_size: str = "quick", verbose: bool = True,
             names: Iterable[str] = ("casme2", "samm", "smic", "casme", "casme_sq")) -> dict[str, pd.DataFrame]:
    """The clip tables of several datasets (default: the five micro-expression sets), keyed by name."""
    return {name: load_dataset(name, data_root, synthetic_size, verbose=verbose) for name in names}



__all__ = ["load_dataset", "load_all", "DATASETS", "DatasetSpec", "dataset_spec", "licensed_folder",
           "licensed_status", "DATASET_ALIASES"]
