"""One loader per dataset: the licensed folder layouts of REFERENCE.md §1 -> a clip table (pandas DataFrame).

Every ``load_<dataset>(root, ...)`` reads a dataset folder exactly as the provider ships it (the synthetic sets
under ``data/synthetic/<size>/`` use the same layouts) and returns one row per clip with the columns of
``docs/DESIGN.md``: ``dataset, subject, subject_uid, clip, clip_uid, emotion, onset, apex, offset,
apex_estimated, aus, au_string, frame_numbers, frame_paths, fps`` plus ``frame_dir``, ``n_frames``,
``missing_frames`` (annotated frames absent on disk) and ``notes`` (the quirks handled for the clip).
Building a table lists each folder once and decodes no image; frames are loaded on demand with
:func:`mer_utils.data.frames.load_frames`.

:func:`load_dataset` is the entry point the notebooks use: the licensed copy under ``DATA_ROOT`` when it is
there, else the synthetic set (generated on first use), saying which and why.

Mismatches between spreadsheet and folders are never dropped silently: a coding row whose clip folder is
missing or empty is left out **with a warning naming it** (and listed in ``table.attrs["skipped"]``, a list of
``{"clip_uid", "reason"}`` dicts; pass
``require_frames=False`` to keep such rows), and clip folders without a coding row are reported
(``table.attrs["unannotated"]``).
"""
from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from .. import paths
from .frames import scan_frames
from .naming import (FPS, FRAME_PATTERNS, DataWarning, clip_uid, is_ignored_folder,
                     normalise_clip, normalise_subject, subject_number, subject_uid)
from .spreadsheets import (read_casme2_coding, read_casme2_objective_classes, read_casme_coding,
                           read_casme_sq_coding, read_samm_coding, read_smic_e_annotation, merge_objective_classes)

#: Columns every clip table has, in this order (extra dataset-specific columns follow).
CLIP_COLUMNS = ["dataset", "subject", "subject_uid", "clip", "clip_uid", "emotion", "onset", "apex", "offset",
                "apex_estimated", "aus", "au_string", "frame_dir", "frame_numbers", "frame_paths", "n_frames",
                "missing_frames", "fps", "notes", "source_file", "source_row"]

SMIC_MODALITIES = ("HS", "VIS", "NIR")
SMIC_EMOTIONS = {"negative": "ne", "positive": "po", "surprise": "sur"}


# --------------------------------------------------------------------------------------------------------------
# Folder helpers
# --------------------------------------------------------------------------------------------------------------
def _show(path: Path) -> str:
    """A path relative to the repository when inside it (stable notebook output), else absolute."""
    try:
        return str(Path(path).resolve().relative_to(paths.REPO_ROOT))
    except ValueError:
        return str(path)


def _find_dir(root: Path, names: Sequence[str]) -> Path | None:
    """``root/name`` for the first existing name (also ``root/name/name``, as some archives unpack)."""
    for name in names:
        for candidate in (root / name / name, root / name):
            if candidate.is_dir():
                return candidate
    return None


def _dirs(folder: Path) -> list[os.DirEntry]:
    """Sub-folders of ``folder`` by name, without hidden ones and macOS ``__MACOSX`` (zip archives carry them)."""
    try:
        return sorted((e for e in os.scandir(folder) if e.is_dir() and not is_ignored_folder(e.name)),
                      key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return []


#: A second download or a copy of a file: ``name (1).xlsx``, ``name(2).xlsx``, ``name - Copy.xlsx``,
#: ``Copy of name.xlsx``, ``name copy.xlsx``.
_DUPLICATE = re.compile(r"^(?:copy of\s+)?(?P<base>.+?)(?:\s*\(\d+\)|\s*-\s*copy(?:\s*\(\d+\))?|\s+copy(?:\s+\d+)?)?"
                        r"(?P<ext>\.[a-z0-9]+)$", re.IGNORECASE)


def _canonical_name(name: str) -> str:
    """``'SAMM_Micro_FACS_Codes_v2 (1).xlsx'`` -> ``'samm_micro_facs_codes_v2.xlsx'`` (lower case)."""
    match = _DUPLICATE.match(name)
    return (match.group("base") + match.group("ext")).lower() if match else name.lower()


_WARNED_COPIES: set[tuple] = set()


class AmbiguousFileError(ValueError):
    """Several different files could be a dataset's annotation; the user must say which (``coding=...``)."""


def _find_file(root: Path, patterns: Sequence[str], what: str, exclude: Sequence[str] = (),
               prefer_without: Sequence[str] = ()) -> Path:
    """The one file in ``root`` matching any glob of ``patterns`` (case-insensitive); clear errors otherwise."""
    if not root.is_dir():
        raise FileNotFoundError(f"Dataset folder not found: {root}. Expected the {what} inside it.")
    names = {e.name for e in os.scandir(root) if e.is_file() and not e.name.startswith(("~$", "."))}
    lowered = {n.lower(): n for n in names}
    import fnmatch

    hits = sorted({lowered[n] for n in lowered for p in patterns if fnmatch.fnmatch(n, p.lower())
                   and not any(x in n for x in exclude)})
    if len(hits) > 1:  # a second download (``name (1).xlsx``) or a copy beside the original: use the original
        groups: dict[str, list[str]] = {}
        for hit in hits:
            groups.setdefault(_canonical_name(hit), []).append(hit)
        kept = []
        for canonical_name, members in sorted(groups.items()):
            original = [m for m in members if m.lower() == canonical_name]
            chosen = original[0] if original else sorted(members, key=lambda m: (len(m), m))[0]
            kept.append(chosen)
            others = [m for m in members if m != chosen]
            if others and (str(root), tuple(others)) not in _WARNED_COPIES:  # once per folder (checks, then loader)
                _WARNED_COPIES.add((str(root), tuple(others)))
                warnings.warn(f"{root}: {others} look like extra downloads or copies of {chosen!r}; using "
                              f"{chosen!r} for the {what}. Delete the copies, or pass coding=... to use one of "
                              "them.", DataWarning, stacklevel=3)
        hits = sorted(kept)
    if len(hits) > 1 and prefer_without:
        preferred = [h for h in hits if not any(x in h.lower() for x in prefer_without)]
        hits = preferred if len(preferred) == 1 else hits
    if not hits:
        raise FileNotFoundError(f"No {what} in {root}: expected a file matching {' or '.join(patterns)}; the folder "
                                f"holds {sorted(names)[:12]}. Copy the annotation file from the dataset archive.")
    if len(hits) > 1:
        raise AmbiguousFileError(f"Several candidates for the {what} in {root}: {hits}. Pass the one to use "
                                 f"explicitly, e.g. coding={str(root / hits[0])!r} (load_dataset and load_protocol "
                                 "pass it on), or move the others away.")
    return root / hits[0]


def _subject_dirs(frames_root: Path, dataset: str) -> dict[str, Path]:
    """Normalised subject -> folder, for folders whose name holds a subject number (``sub01``, ``006``, ``s1``)."""
    found: dict[str, Path] = {}
    for entry in _dirs(frames_root):
        if subject_number(entry.name) is None:
            continue
        subject = normalise_subject(dataset, entry.name)
        if subject in found:
            warnings.warn(f"{frames_root}: folders {found[subject].name!r} and {entry.name!r} are the same subject "
                          f"{subject}; using {found[subject].name!r}.", DataWarning, stacklevel=3)
            continue
        found[subject] = Path(entry.path)
    return found


@dataclass
class _Report:
    """Rows dropped for want of frames and folders without a coding row: warned about, kept in ``attrs``."""

    dataset: str
    skipped: list[dict] = field(default_factory=list)
    unannotated: list[str] = field(default_factory=list)
    missing_frames: list[str] = field(default_factory=list)

    def emit(self, table: pd.DataFrame, kept_empty: bool) -> pd.DataFrame:
        if self.skipped:
            items = "; ".join(f"{s['clip_uid']} ({s['reason']})" for s in self.skipped[:20])
            more = f"; ... ({len(self.skipped) - 20} more)" if len(self.skipped) > 20 else ""
            action = "kept with no frames (require_frames=False)" if kept_empty else \
                "left out of the table (listed in table.attrs['skipped'])"
            warnings.warn(f"{self.dataset}: {len(self.skipped)} annotated clip(s) have no frames on disk and were "
                          f"{action}: {items}{more}.", DataWarning, stacklevel=3)
        if self.unannotated:
            warnings.warn(f"{self.dataset}: {len(self.unannotated)} clip folder(s) have no row in the annotation and "
                          f"are not in the table: {', '.join(self.unannotated[:20])}"
                          f"{' ...' if len(self.unannotated) > 20 else ''}.", DataWarning, stacklevel=3)
        if self.missing_frames:
            warnings.warn(f"{self.dataset}: {len(self.missing_frames)} clip(s) miss annotated frames on disk "
                          f"(column missing_frames; load_frames fills them with the nearest earlier frame): "
                          f"{'; '.join(self.missing_frames[:20])}{' ...' if len(self.missing_frames) > 20 else ''}.",
                          DataWarning, stacklevel=3)
        # plain lists only: pandas compares attrs when concatenating, which DataFrames would break
        table.attrs["skipped"] = [dict(s) for s in self.skipped]
        table.attrs["unannotated"] = list(self.unannotated)
        return table


def _short_range(numbers: Sequence[int]) -> str:
    numbers = list(numbers)
    if len(numbers) <= 6:
        return ", ".join(map(str, numbers))
    return f"{', '.join(map(str, numbers[:5]))} ... ({len(numbers)} frames)"


def _attach_frames(annotation: pd.DataFrame, frames_root: Path, dataset: str, fps: float,
                   require_frames: bool, folder_of: Callable[[pd.Series, dict], Path | None] | None = None,
                   restrict_to_range: bool = False) -> pd.DataFrame:
    """Add the frame columns to an annotation table by matching ``subject/clip`` to ``frames_root`` folders.

    ``folder_of(row, subject_dirs)`` overrides how a row finds its folder (CAS(ME)²'s long videos);
    ``restrict_to_range`` keeps only the frames onset..offset (a row is part of a longer video).
    """
    report = _Report(dataset)
    subjects = _subject_dirs(frames_root, dataset)
    clip_dirs: dict[str, dict[str, Path]] = {}
    used: set[Path] = set()
    scans: dict[Path, tuple[list[int], list[str]]] = {}

    def clips_of(subject: str) -> dict[str, Path]:
        if subject not in clip_dirs:
            folder = subjects.get(subject)
            clip_dirs[subject] = {e.name: Path(e.path) for e in _dirs(folder)} if folder else {}
        return clip_dirs[subject]

    columns: dict[str, list] = {k: [] for k in ("frame_dir", "frame_numbers", "frame_paths", "n_frames",
                                                "missing_frames", "notes")}
    keep = []
    for row in annotation.itertuples(index=False):
        row = row._asdict()
        notes = list(row.get("notes") or [])
        if folder_of is not None:
            folder = folder_of(row, subjects)
        else:
            folders = clips_of(row["subject"])
            folder = folders.get(row["clip"])
            if folder is None:
                by_key = {normalise_clip(dataset, n).lower(): p for n, p in folders.items()}
                folder = by_key.get(row["clip"].lower())
        if folder is None:
            where = subjects.get(row["subject"])
            target = repr(row["clip"]) if folder_of is None else f"for video {row.get('video_code')}"
            reason = (f"no folder {target} in {_show(where)}" if where is not None
                      else f"no subject folder for {row['subject']} in {_show(frames_root)}")
            report.skipped.append({"clip_uid": row["clip_uid"], "reason": reason})
            keep.append(not require_frames)
            numbers, frame_paths = [], []
        else:
            used.add(folder)
            if folder not in scans:
                scans[folder] = scan_frames(folder, FRAME_PATTERNS.get(dataset))
            numbers, frame_paths = scans[folder]
            if restrict_to_range:
                lo, hi = sorted((row["onset"], row["offset"]))
                i0, i1 = np.searchsorted(numbers, lo), np.searchsorted(numbers, hi, side="right")
                numbers, frame_paths = numbers[i0:i1], frame_paths[i0:i1]
            if not numbers:
                report.skipped.append({"clip_uid": row["clip_uid"], "reason": f"folder {_show(folder)} holds no frames"
                                       + (f" in {row['onset']}..{row['offset']}" if restrict_to_range else "")})
                keep.append(not require_frames)
            else:
                keep.append(True)
        missing: list[int] = []
        if numbers and row.get("onset") is not None:
            lo, hi = sorted((int(row["onset"]), int(row["offset"])))
            if hi - lo < 100_000:
                on_disk = np.asarray(numbers)
                wanted = np.arange(lo, hi + 1)
                missing = np.setdiff1d(wanted, on_disk).tolist()
            if missing:
                notes.append(f"{len(missing)} annotated frame(s) missing on disk")
                report.missing_frames.append(f"{row['clip_uid']} ({_short_range(missing)})")
        columns["frame_dir"].append(str(folder) if folder is not None else None)
        columns["frame_numbers"].append(list(numbers))
        columns["frame_paths"].append(list(frame_paths))
        columns["n_frames"].append(len(numbers))
        columns["missing_frames"].append(missing)
        columns["notes"].append(notes)
    table = annotation.copy()
    for key, values in columns.items():
        table[key] = values
    table["fps"] = float(fps)
    if folder_of is None:
        for subject, folder in sorted(subjects.items()):
            for name, path in sorted(clips_of(subject).items()):
                if path not in used:
                    report.unannotated.append(f"{subject}/{name}")
    table = table[np.asarray(keep, dtype=bool)].reset_index(drop=True) if len(table) else table
    return report.emit(_order(table), kept_empty=not require_frames)


def _order(table: pd.DataFrame) -> pd.DataFrame:
    first = [c for c in CLIP_COLUMNS if c in table.columns]
    return table[first + [c for c in table.columns if c not in first]]


def _frames_root(root: Path, names: Sequence[str], what: str) -> Path:
    found = _find_dir(root, names)
    if found is None:
        raise FileNotFoundError(f"No {what} folder in {root}: expected {' or '.join(n + '/' for n in names)} "
                                "as shipped with the dataset.")
    return found


def _check_root(root: str | os.PathLike, title: str) -> Path:
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"{title} folder not found: {root}. Point DATA_ROOT at the folder holding the "
                                f"datasets (see mer_utils.paths.DATASET_FOLDERS) or use load_dataset(...), which "
                                "falls back to the synthetic set.")
    return root


def _given_file(path: str | os.PathLike, option: str) -> Path:
    """A file passed explicitly (``coding=...``): it must exist; the error names the option and the fix."""
    path = Path(path).expanduser()
    if not path.is_file():
        state = "is a folder" if path.is_dir() else "does not exist"
        raise FileNotFoundError(f"{option}={str(path)!r} {state}; expected the annotation spreadsheet itself "
                                f"(a .xlsx / .xls / .csv file). Fix the path, or leave {option}=None to find it in the "
                                "dataset folder.")
    return path


def _finish(table: pd.DataFrame, root: Path, **attrs: Any) -> pd.DataFrame:
    table.attrs.update({"root": str(root), **attrs})
    return table


# --------------------------------------------------------------------------------------------------------------
# CASME II
# --------------------------------------------------------------------------------------------------------------
CASME2_RELEASES = {"raw": ["CASME2_RAW_selected", "CASME2_RAW", "CASME2-RAW"], "cropped": ["Cropped", "CASME2_Cropped"]}


def find_casme2_coding(root: str | os.PathLike) -> Path:
    """The CASME II coding spreadsheet in ``root`` (``CASME2-coding-*.xlsx``; errors if none or several)."""
    return _find_file(Path(root), ["CASME2-coding*.xlsx", "CASME2-coding*.xls", "CASME2_coding*.xlsx"],
                      "CASME II coding spreadsheet (CASME2-coding-*.xlsx)")


def casme2_release(root: str | os.PathLike, release: str | None = None) -> str | None:
    """The CASME II release to read in ``root``: ``release`` when given (checked), else ``'raw'`` when
    ``CASME2_RAW_selected/`` is there, else ``'cropped'`` when only ``Cropped/`` is (a common distribution);
    ``None`` when neither folder exists."""
    if release is not None:
        if release not in CASME2_RELEASES:
            raise ValueError(f"release={release!r}: expected 'raw' (CASME2_RAW_selected/), 'cropped' (Cropped/) or "
                             "None (whichever is there, raw first).")
        return release
    for name, folders in CASME2_RELEASES.items():
        if _find_dir(Path(root), folders) is not None:
            return name
    return None


def load_casme2(root: str | os.PathLike, release: str | None = None, coding: str | os.PathLike | None = None,
                objective_classes: str | os.PathLike | None = None, require_frames: bool = True) -> pd.DataFrame:
    """CASME II (Yan et al. 2014): ``CASME2_RAW_selected/subXX/EPxx_yy/imgN.jpg`` (``release='raw'``) or
    ``Cropped/subXX/EPxx_yy/reg_imgN.jpg`` (``'cropped'``), coded by ``CASME2-coding-*.xlsx``; 200 fps.
    ``release=None`` reads the raw release when present, else the cropped one (copies shipped with ``Cropped/``
    only); ``table.attrs["release"]`` says which.

    When ``CASME2-ObjectiveClasses.xlsx`` is in ``root`` (or given), ``objective_class`` (1..7, MEGC 2018) is
    joined; otherwise the column is ``<NA>``.
    """
    root = _check_root(root, "CASME II")
    release = casme2_release(root, release) or "raw"
    frames_root = _frames_root(root, CASME2_RELEASES[release], f"CASME II {release}")
    coding = _given_file(coding, "coding") if coding else find_casme2_coding(root)
    annotation = read_casme2_coding(coding)
    oc_path = Path(objective_classes) if objective_classes else root / "CASME2-ObjectiveClasses.xlsx"
    if oc_path.is_file():
        annotation = merge_objective_classes(annotation, read_casme2_objective_classes(oc_path), source=oc_path.name)
    elif objective_classes:
        raise FileNotFoundError(f"Objective classes file not found: {oc_path} (expected CASME2-ObjectiveClasses.xlsx).")
    else:
        annotation["objective_class"] = pd.array([None] * len(annotation), dtype="Int64")
    table = _attach_frames(annotation, frames_root, "casme2", FPS["casme2"], require_frames)
    return _finish(table, root, dataset="casme2", release=release, coding=str(coding))


# --------------------------------------------------------------------------------------------------------------
# SAMM
# --------------------------------------------------------------------------------------------------------------
def find_samm_coding(root: str | os.PathLike) -> Path:
    """The SAMM coding spreadsheet in ``root`` (``SAMM_Micro_FACS_Codes_v2.xlsx`` or another ``SAMM*Micro*``)."""
    return _find_file(Path(root), ["SAMM_Micro_FACS_Codes*.xlsx", "SAMM*Micro*.xlsx", "SAMM*Micro*.xls"],
                      "SAMM coding spreadsheet (SAMM_Micro_FACS_Codes_v2.xlsx)", exclude=["longvideo"])


def _samm_frames_root(root: Path) -> Path | None:
    for candidate in (root / "SAMM", root):
        if any(re.fullmatch(r"\d{3}", e.name) for e in _dirs(candidate)):
            return candidate
    return None


def load_samm(root: str | os.PathLike, coding: str | os.PathLike | None = None, require_frames: bool = True) -> pd.DataFrame:
    """SAMM (Davison et al. 2018): ``SAMM/006/006_1_2/006_05562.jpg`` (greyscale, absolute frame numbers with
    varying zero-padding) coded by ``SAMM_Micro_FACS_Codes_v2.xlsx`` (sheet ``MICRO_ONLY``); 200 fps.

    The subject folders may sit directly in ``root`` or in ``root/SAMM``.
    """
    root = _check_root(root, "SAMM")
    frames_root = _samm_frames_root(root)
    if frames_root is None:
        raise FileNotFoundError(f"No SAMM subject folders (006/, 007/, ...) in {root} or {root / 'SAMM'}.")
    coding = _given_file(coding, "coding") if coding else find_samm_coding(root)
    table = _attach_frames(read_samm_coding(coding), frames_root, "samm", FPS["samm"], require_frames)
    return _finish(table, root, dataset="samm", coding=str(coding))


# --------------------------------------------------------------------------------------------------------------
# SMIC
# --------------------------------------------------------------------------------------------------------------
def _smic_modality(modality: str) -> str:
    key = str(modality).upper()
    if key not in SMIC_MODALITIES:
        raise ValueError(f"modality={modality!r}: expected one of {SMIC_MODALITIES}.")
    return key


def load_smic(root: str | os.PathLike, modality: str = "HS") -> pd.DataFrame:
    """SMIC (Li et al. 2013): ``SMIC_all_raw/{HS,VIS,NIR}/s1/micro/{negative,positive,surprise}/s1_ne_01/*.bmp``.

    The label comes from the folder; SMIC has no onset / apex / offset annotation, so ``onset`` / ``offset``
    are the first / last frame and ``apex`` the middle frame (``apex_estimated=True``, as Zhao et al. 2021
    §4.4 do). HS is 100 fps, VIS and NIR 25 fps. ``dataset`` is ``smic_hs`` / ``smic_vis`` / ``smic_nir``.
    """
    root = _check_root(root, "SMIC")
    modality = _smic_modality(modality)
    dataset = f"smic_{modality.lower()}"
    raw = _frames_root(root, ["SMIC_all_raw"], "SMIC_all_raw")
    base = _find_dir(raw, [modality, modality.lower()])
    if base is None:
        raise FileNotFoundError(f"No {modality}/ folder in {raw}: expected SMIC_all_raw/{modality}/s1/micro/...")
    rows, mismatched, empty = [], [], []
    for subject_entry in _dirs(base):
        if subject_number(subject_entry.name) is None:
            continue
        subject = normalise_subject(dataset, subject_entry.name)
        micro = _find_dir(Path(subject_entry.path), ["micro"])
        if micro is None:
            warnings.warn(f"SMIC {modality}: subject folder {subject_entry.path} has no micro/ folder; skipped.",
                          DataWarning, stacklevel=2)
            continue
        for emotion_entry in _dirs(micro):
            emotion = emotion_entry.name.lower()
            if emotion not in SMIC_EMOTIONS:
                warnings.warn(f"SMIC {modality}: unexpected label folder {emotion_entry.path} (expected "
                              f"{sorted(SMIC_EMOTIONS)}); its clips are not loaded.", DataWarning, stacklevel=2)
                continue
            for clip_entry in _dirs(Path(emotion_entry.path)):
                clip = normalise_clip(dataset, clip_entry.name)
                numbers, frame_paths = scan_frames(clip_entry.path, FRAME_PATTERNS.get(dataset))
                uid = clip_uid(dataset, subject, clip)
                if not numbers:
                    empty.append(uid)
                    continue
                token = clip.split("_")[1] if clip.count("_") >= 2 else None
                notes = ["no apex annotated: middle frame used"]
                if token is not None and token != SMIC_EMOTIONS[emotion]:
                    mismatched.append(f"{uid} in {emotion}/")
                    notes.append(f"clip id says {token!r} but the folder says {emotion!r}: folder used")
                onset, offset = numbers[0], numbers[-1]
                rows.append({"dataset": dataset, "subject": subject, "subject_uid": subject_uid(dataset, subject),
                             "clip": clip, "clip_uid": uid, "emotion": emotion, "onset": onset,
                             "apex": numbers[len(numbers) // 2], "offset": offset, "apex_estimated": True,
                             "aus": [], "au_string": None, "frame_dir": clip_entry.path, "frame_numbers": numbers,
                             "frame_paths": frame_paths, "n_frames": len(numbers),
                             "missing_frames": np.setdiff1d(np.arange(onset, offset + 1), numbers).tolist()
                             if offset - onset < 100_000 else [],
                             "fps": FPS[dataset], "notes": notes, "source_file": None, "source_row": -1,
                             "modality": modality})
    if empty:
        warnings.warn(f"SMIC {modality}: {len(empty)} clip folder(s) hold no frames and are left out: "
                      f"{', '.join(empty[:20])}.", DataWarning, stacklevel=2)
    if mismatched:
        warnings.warn(f"SMIC {modality}: the label in the clip id disagrees with the folder for {len(mismatched)} "
                      f"clip(s) (folder used): {', '.join(mismatched[:20])}.", DataWarning, stacklevel=2)
    if not rows:
        raise FileNotFoundError(f"No SMIC {modality} clips under {base}: expected s1/micro/negative/s1_ne_01/*.bmp.")
    table = _order(pd.DataFrame(rows))
    table.attrs["skipped"] = [{"clip_uid": u, "reason": "clip folder holds no frames"} for u in empty]
    table.attrs["unannotated"] = []
    return _finish(table, root, dataset=dataset, modality=modality)


def find_smic_e_annotation(root: str | os.PathLike) -> Path:
    """``SMIC-HS-E_annotation.xlsx`` in ``root`` (a copy named ``..._orig`` is used only when it is the only one)."""
    return _find_file(Path(root), ["SMIC*HS*E*annotation*.xlsx", "SMIC*E*annotation*.xls*"],
                      "SMIC-E annotation (SMIC-HS-E_annotation.xlsx)", prefer_without=["orig"])


def load_smic_hs_e(root: str | os.PathLike, annotation: str | os.PathLike | None = None,
                   require_frames: bool = True) -> pd.DataFrame:
    """SMIC-E HS, the long-clip release: ``SMIC_HS_E/s01/s1_ne_01/imageNNNNNN.jpg`` with
    ``SMIC-HS-E_annotation.xlsx`` (``OnsetF``, ``OffsetF``; no apex -> middle). 100 fps.

    ``frame_paths`` list every frame of the long clip; the micro-expression is ``onset..offset``
    (``load_frames(row, start=row.onset, stop=row.offset)``).
    """
    root = _check_root(root, "SMIC")
    frames_root = _frames_root(root, ["SMIC_HS_E", "SMIC-HS-E", "HS_E"], "SMIC_HS_E")
    annotation = _given_file(annotation, "annotation") if annotation else find_smic_e_annotation(root)
    table = _attach_frames(read_smic_e_annotation(annotation), frames_root, "smic_hs_e", FPS["smic_hs_e"], require_frames)
    outside = [u for u, lo, hi, n in zip(table["clip_uid"], table["onset"], table["offset"], table["frame_numbers"])
               if n and (lo < n[0] or hi > n[-1])]
    if outside:
        warnings.warn(f"SMIC-E: onset..offset falls outside the frames on disk for {len(outside)} clip(s): "
                      f"{', '.join(outside[:20])}.", DataWarning, stacklevel=2)
    return _finish(table, root, dataset="smic_hs_e", annotation=str(annotation))


# --------------------------------------------------------------------------------------------------------------
# CASME
# --------------------------------------------------------------------------------------------------------------
def find_casme_coding(root: str | os.PathLike) -> Path:
    """The one CASME coding spreadsheet (any ``*.xlsx`` / ``*.xls`` in ``root``; errors name the candidates)."""
    return _find_file(Path(root), ["*.xlsx", "*.xls"], "CASME coding spreadsheet (e.g. CASME_coding.xlsx)")


def load_casme(root: str | os.PathLike, coding: str | os.PathLike | None = None, require_frames: bool = True) -> pd.DataFrame:
    """CASME (Yan et al. 2013): ``CASME_raw_selected/subXX/EP01_5/EP01_5-19.jpg`` and its coding spreadsheet
    (``Subject | Filename | OnsetF | ApexF1 | ApexF2 | OffsetF | ... | Emotion``); 60 fps.
    """
    root = _check_root(root, "CASME")
    frames_root = _frames_root(root, ["CASME_raw_selected", "CASME_RAW_selected", "CASME_raw"], "CASME_raw_selected")
    coding = _given_file(coding, "coding") if coding else find_casme_coding(root)
    table = _attach_frames(read_casme_coding(coding), frames_root, "casme", FPS["casme"], require_frames)
    return _finish(table, root, dataset="casme", coding=str(coding))


# --------------------------------------------------------------------------------------------------------------
# CAS(ME)²
# --------------------------------------------------------------------------------------------------------------
def find_casme_sq_coding(root: str | os.PathLike) -> Path:
    """``CAS(ME)^2code_final.xlsx`` (or ``...(Updated).xlsx``) in ``root``."""
    return _find_file(Path(root), ["CAS(ME)*code*.xlsx", "CAS(ME)*code*.xls", "CASME*sq*code*.xlsx"],
                      "CAS(ME)² coding (CAS(ME)^2code_final.xlsx)")


def load_casme_sq(root: str | os.PathLike, include_macro: bool = False, coding: str | os.PathLike | None = None,
                  require_frames: bool = True) -> pd.DataFrame:
    """CAS(ME)² (Qu et al. 2018): long videos ``rawpic/s15/15_0101disgustingteeth/imgN.jpg`` and
    ``CAS(ME)^2code_final.xlsx`` (header-less sheet 0 + naming sheets); 30 fps.

    One row per annotated expression (micro only unless ``include_macro``); ``frame_paths`` hold that
    expression's frames onset..offset of its video (``video`` = the video folder, ``frame_dir`` its path).
    """
    root = _check_root(root, "CAS(ME)²")
    frames_root = _frames_root(root, ["rawpic", "RawPic"], "rawpic")
    coding = _given_file(coding, "coding") if coding else find_casme_sq_coding(root)
    annotation = read_casme_sq_coding(coding, include_macro=include_macro)
    videos: dict[Path, dict[str, Path]] = {}

    def folder_of(row: dict, subjects: dict[str, Path]) -> Path | None:
        subject_dir = subjects.get(row["subject"])
        if subject_dir is None:
            return None
        if subject_dir not in videos:
            videos[subject_dir] = {}
            for entry in _dirs(subject_dir):
                match = re.match(r"^\D*(\d+)_(\d{4})", entry.name)
                if match:
                    videos[subject_dir][match.group(2)] = Path(entry.path)
        return videos[subject_dir].get(row["video_code"])

    table = _attach_frames(annotation, frames_root, "casme_sq", FPS["casme_sq"], require_frames,
                           folder_of=folder_of, restrict_to_range=True)
    table["video"] = [Path(d).name if d else None for d in table["frame_dir"]]
    return _finish(_order(table), root, dataset="casme_sq", include_macro=include_macro, coding=str(coding))


# --------------------------------------------------------------------------------------------------------------
# Macro-expression image sets
# --------------------------------------------------------------------------------------------------------------
FER2013_EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
CKPLUS_EMOTIONS = ("neutral", "anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise")
IMAGE_COLUMNS = ["dataset", "image_id", "subject", "path", "pixels", "label", "emotion", "usage"]


def load_fer2013(root: str | os.PathLike, usage: str | Sequence[str] | None = None) -> pd.DataFrame:
    """FER2013 (Goodfellow et al. 2013) ``fer2013.csv``: ``emotion`` (0..6), ``pixels`` (48x48 grey, space
    separated), ``Usage`` (Training / PublicTest / PrivateTest). One row per image; ``label`` is the integer as
    written, ``emotion`` its name; no subject ids exist. ``usage`` selects splits. Decode with ``load_image``.
    """
    root = _check_root(root, "FER2013")
    path = _find_file(root, ["fer2013.csv", "*fer*.csv"], "FER2013 CSV (fer2013.csv)")
    raw = pd.read_csv(path, dtype={"pixels": str})
    columns = {_key(c): c for c in raw.columns}
    missing = [c for c in ("emotion", "pixels", "usage") if c not in columns]
    if missing:
        raise ValueError(f"{path}: columns {list(raw.columns)} lack {missing}; expected emotion,pixels,Usage.")
    labels = pd.to_numeric(raw[columns["emotion"]], errors="coerce")
    bad = labels.isna() | ~labels.isin(range(len(FER2013_EMOTIONS)))
    if bad.any():
        rows = (np.flatnonzero(bad.to_numpy()) + 2)[:10].tolist()
        raise ValueError(f"{path}: emotion values outside 0..6 on row(s) {rows}; expected FER2013's 7 classes.")
    table = pd.DataFrame({
        "dataset": "fer2013", "image_id": [f"fer2013/{i}" for i in range(len(raw))], "subject": None, "path": None,
        "pixels": raw[columns["pixels"]].astype(str).to_numpy(), "label": labels.astype("int64").to_numpy(),
        "emotion": [FER2013_EMOTIONS[i] for i in labels.astype(int)], "usage": raw[columns["usage"]].astype(str).to_numpy()})
    if usage is not None:
        wanted = [usage] if isinstance(usage, str) else list(usage)
        unknown = sorted(set(wanted) - set(table["usage"]))
        if unknown:
            raise ValueError(f"usage={unknown}: not in {path.name}; its Usage values are {sorted(set(table['usage']))}.")
        table = table[table["usage"].isin(wanted)].reset_index(drop=True)
    return _finish(table, root, dataset="fer2013", classes=FER2013_EMOTIONS)


def _key(name: Any) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def load_ckplus(root: str | os.PathLike, last_k: int = 1, include_neutral: bool = False) -> pd.DataFrame:
    """CK+ (Lucey et al. 2010): ``cohn-kanade-images/S005/001/S005_001_00000011.png`` with labels in
    ``Emotion/S005/001/S005_001_00000011_emotion.txt`` (1..7; only labelled sequences are used).

    One row per image: the last ``last_k`` frames of each labelled sequence (the apex end; Peng et al. 2018
    §III.A take the last three), plus its first frame as ``neutral`` (label 0) when ``include_neutral``.
    """
    root = _check_root(root, "CK+")
    images = _frames_root(root, ["cohn-kanade-images", "cohn-kanade"], "cohn-kanade-images")
    labels_root = _frames_root(root, ["Emotion", "Emotion_labels"], "Emotion")
    if last_k < 1:
        raise ValueError(f"last_k={last_k}: expected at least 1 frame per sequence.")
    rows, unlabelled_images = [], []
    for subject_entry in _dirs(labels_root):
        for sequence_entry in _dirs(Path(subject_entry.path)):
            files = sorted(n for n in os.listdir(sequence_entry.path) if n.lower().endswith("_emotion.txt"))
            if not files:
                continue
            label_file = Path(sequence_entry.path) / files[0]
            try:
                label = int(float(label_file.read_text().split()[0]))
            except (ValueError, IndexError):
                raise ValueError(f"{label_file}: expected one number 1..7 (e.g. '3.0000000e+00').") from None
            if not 0 <= label < len(CKPLUS_EMOTIONS):
                raise ValueError(f"{label_file}: label {label}; expected 1..7 (CK+ emotions {CKPLUS_EMOTIONS[1:]}).")
            folder = images / subject_entry.name / sequence_entry.name
            numbers, frame_paths = scan_frames(folder, FRAME_PATTERNS["ckplus"])
            if not numbers:
                unlabelled_images.append(str(folder))
                continue
            chosen = list(zip(numbers, frame_paths))[-last_k:]
            if include_neutral and len(numbers) > last_k:
                chosen = [(numbers[0], frame_paths[0])] + chosen
            for number, path in chosen:
                neutral = include_neutral and number == numbers[0] and len(numbers) > last_k
                value = 0 if neutral else label
                rows.append({"dataset": "ckplus", "image_id": f"ckplus/{subject_entry.name}_{sequence_entry.name}_{number:08d}",
                             "subject": subject_entry.name, "path": path, "pixels": None, "label": value,
                             "emotion": CKPLUS_EMOTIONS[value], "usage": "all", "sequence": sequence_entry.name,
                             "frame_number": number})
    if unlabelled_images:
        warnings.warn(f"CK+: labelled sequence(s) without images are left out: {unlabelled_images[:10]}.",
                      DataWarning, stacklevel=2)
    if not rows:
        raise FileNotFoundError(f"No labelled CK+ sequence under {labels_root}: expected Emotion/S005/001/*_emotion.txt.")
    table = pd.DataFrame(rows)
    table["label"] = table["label"].astype("int64")
    return _finish(table, root, dataset="ckplus", classes=CKPLUS_EMOTIONS)


__all__ = ["CLIP_COLUMNS", "load_casme2", "load_samm", "load_smic", "load_smic_hs_e", "load_casme", "load_casme_sq",
           "load_fer2013", "load_ckplus", "find_casme2_coding", "find_samm_coding", "find_smic_e_annotation",
           "find_casme_coding", "find_casme_sq_coding", "FER2013_EMOTIONS", "CKPLUS_EMOTIONS", "SMIC_MODALITIES",
           "AmbiguousFileError", "casme2_release"]
