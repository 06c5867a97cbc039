"""Readers for the datasets' annotation files, usable without any frame folder (REFERENCE.md §1).

Each ``read_*`` function returns an *annotation table*: one row per annotated clip with the normalised columns
of the clip-table schema (``dataset``, ``subject``, ``subject_uid``, ``clip``, ``clip_uid``, ``emotion``,
``onset``, ``apex``, ``offset``, ``apex_estimated``, ``aus``, ``au_string``) plus where each row came from
(``source_file``, ``source_row``) and ``notes`` (the quirks handled for that row). The loaders in
:mod:`mer_utils.data.loaders` add the frame columns; the protocols work on either.

Columns are found **by name** (blank columns move between versions of the files), on a header row that is
searched for, so SAMM's 13 preamble rows need no special case. Known quirks are handled and reported with a
:class:`~mer_utils.data.naming.DataWarning` naming the file, row and clip: CASME II's apex ``/``
(sub04/EP12_01f -> middle of onset..offset), apex outside onset..offset, subjects stored as text or int,
mixed numeric / string AU cells, CAS(ME)²'s offset ``0`` (unknown), SMIC-E's formula cells.
"""
from __future__ import annotations

import csv
import re
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from .naming import (DataWarning, as_int, clip_uid, is_missing, normalise_clip, normalise_subject, parse_aus,
                     subject_number, subject_uid)

#: Column order of every annotation table.
ANNOTATION_COLUMNS = ["dataset", "subject", "subject_uid", "clip", "clip_uid", "emotion", "onset", "apex",
                      "offset", "apex_estimated", "aus", "au_string", "source_file", "source_row", "notes"]

#: Header rows are searched for in this many rows at the top of a sheet (SAMM has 13 preamble rows).
HEADER_SEARCH_ROWS = 40


# --------------------------------------------------------------------------------------------------------------
# Workbooks and header detection
# --------------------------------------------------------------------------------------------------------------
class Workbook:
    """Sheets of an ``.xlsx`` (openpyxl, cached formula values), ``.xls`` (needs ``xlrd``) or ``.csv`` file.

    ``rows(sheet)`` gives the cells of one sheet as tuples, exactly as stored: a subject typed as text
    (``'01'``) stays text, a number stays a number (pandas' ``read_excel`` would turn ``'01'`` into ``1``).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"Annotation file not found: {self.path}. Check the path (or DATA_ROOT) and "
                                    "that the file is named as the dataset provider ships it.")
        suffix = self.path.suffix.lower()
        self._frames: dict[str, list[tuple]] = {}
        if suffix in (".xlsx", ".xlsm"):
            import openpyxl

            try:
                book = openpyxl.load_workbook(self.path, read_only=True, data_only=True)
            except Exception as exc:  # zipfile.BadZipFile, KeyError, ...: not an xlsx file
                raise ValueError(f"Cannot open {self.path} as an Excel .xlsx workbook ({exc}). Expected the "
                                 "spreadsheet as shipped with the dataset; re-save it from Excel if it is damaged.") from exc
            try:
                self.names = list(book.sheetnames)
                for ws in book.worksheets:
                    self._frames[ws.title] = [tuple(r) for r in ws.iter_rows(values_only=True)]
            finally:
                book.close()
        elif suffix == ".xls":
            try:
                sheets = pd.read_excel(self.path, sheet_name=None, header=None, dtype=object)
            except ImportError as exc:
                raise ImportError(f"Reading {self.path} (old Excel .xls) needs the 'xlrd' package: "
                                  "`.venv/bin/pip install xlrd`, or open it in Excel/LibreOffice and save it "
                                  "as .xlsx next to the original.") from exc
            self.names = list(sheets)
            for name, frame in sheets.items():
                self._frames[name] = [tuple(None if pd.isna(v) else v for v in row)
                                      for row in frame.itertuples(index=False, name=None)]
        elif suffix == ".csv":
            with open(self.path, newline="", encoding="utf-8-sig") as handle:
                rows = [tuple(_csv_cell(c) for c in row) for row in csv.reader(handle)]
            self.names = [self.path.stem]
            self._frames[self.path.stem] = rows
        else:
            raise ValueError(f"Unsupported annotation file type {self.path.suffix!r} ({self.path}): "
                             "expected .xlsx, .xls or .csv.")

    def sheet_name(self, sheet: int | str) -> str:
        """The name of ``sheet`` (index or name); a clear error listing the sheets when it does not exist."""
        if isinstance(sheet, int):
            if 0 <= sheet < len(self.names):
                return self.names[sheet]
        elif sheet in self._frames:
            return sheet
        else:
            by_lower = {n.lower().strip(): n for n in self.names}
            if str(sheet).lower().strip() in by_lower:
                return by_lower[str(sheet).lower().strip()]
        raise ValueError(f"{self.path.name} has no sheet {sheet!r}; its sheets are {self.names}.")

    def rows(self, sheet: int | str) -> list[tuple]:
        return self._frames[self.sheet_name(sheet)]


def _csv_cell(text: str) -> Any:
    text = text.strip()
    if text == "":
        return None
    if re.fullmatch(r"[+-]?\d+", text) and not (len(text) > 1 and text.startswith("0")):
        return int(text)
    return text


def _norm_col(name: Any) -> str:
    """Header cell -> comparable key: lower case, letters and digits only (``'Onset Frame'`` -> ``'onsetframe'``)."""
    return re.sub(r"[^a-z0-9]", "", str(name).lower()) if not is_missing(name) else ""


def _describe(columns: Mapping[str, Sequence[str]]) -> str:
    return ", ".join(f"{c} ({' / '.join(a)})" for c, a in columns.items())


def find_header(rows: Sequence[tuple], required: Mapping[str, Sequence[str]],
                optional: Mapping[str, Sequence[str]] | None = None, where: str = "sheet",
                search_rows: int = HEADER_SEARCH_ROWS) -> tuple[int, dict[str, int]]:
    """Locate the header row holding every ``required`` column (by any of its aliases, compared as
    :func:`_norm_col` keys) and return ``(row_index, {column: cell_index})``, optional columns included.

    Raises a ``ValueError`` naming the columns that were expected, the closest header found and what it lacks.
    """
    optional = optional or {}
    best: tuple[int, int, dict[str, int]] = (-1, -1, {})
    for i, row in enumerate(rows[:search_rows]):
        keys = [_norm_col(c) for c in row]
        found: dict[str, int] = {}
        for column, aliases in {**required, **optional}.items():
            for alias in aliases:
                key = _norm_col(alias)
                if key in keys:
                    found[column] = keys.index(key)
                    break
        hits = sum(c in found for c in required)
        if hits == len(required):
            return i, found
        if hits > best[1]:
            best = (i, hits, found)
    if best[0] < 0 or best[1] == 0:
        raise ValueError(f"{where}: no header row with the columns {_describe(required)} in its first "
                         f"{search_rows} rows. Is this the right file and sheet?")
    row = [c for c in rows[best[0]] if not is_missing(c)]
    missing = {c: a for c, a in required.items() if c not in best[2]}
    raise ValueError(f"{where}: the header on row {best[0] + 1} is {row} but lacks {_describe(missing)}. "
                     "A column was renamed or this is another version of the file: rename the column back, or "
                     "pass the file of the expected version.")


def read_records(path: str | Path, required: Mapping[str, Sequence[str]],
                 optional: Mapping[str, Sequence[str]] | None = None, sheet: int | str | None = 0,
                 prefer_sheets: Sequence[str] = (), expected: Sequence[str] = ()) -> tuple[list[dict[str, Any]], str, Path]:
    """Rows of a sheet as dicts keyed by the canonical column names (plus ``_row``, the 1-based sheet row).

    ``sheet=None`` picks the first of ``prefer_sheets`` that exists, else the first sheet whose header matches.
    Fully blank rows (and rows whose required cells are all blank) are skipped. An ``expected`` optional column
    (e.g. ``au_string``, "Action Units") missing from the header is reported with a :class:`DataWarning` naming
    the file, the header and the names looked for: the loader goes on, with that column empty.
    """
    book = Workbook(path)
    optional = optional or {}
    if sheet is None:
        names = [n for n in prefer_sheets if n in book.names] + [n for n in book.names if n not in prefer_sheets]
        errors = []
        for name in names:
            try:
                header, found = find_header(book.rows(name), required, optional, where=f"{book.path.name} [{name}]")
                sheet = name
                break
            except ValueError as exc:
                errors.append(str(exc))
        else:
            raise ValueError(f"No sheet of {book.path} has the columns {_describe(required)}:\n  " + "\n  ".join(errors))
    else:
        name = book.sheet_name(sheet)
        header, found = find_header(book.rows(name), required, optional, where=f"{book.path.name} [sheet {name!r}]")
        sheet = name
    for column in expected:
        if column not in found:
            cells = [c for c in book.rows(sheet)[header] if not is_missing(c)]
            warnings.warn(f"{book.path.name} [sheet {sheet!r}]: no {' / '.join(map(repr, optional[column]))} column "
                          f"in the header {cells} (row {header + 1}); '{column}' is left empty for every clip. If the "
                          "column was renamed, rename it back.", DataWarning, stacklevel=3)
    records = []
    for i, row in enumerate(book.rows(sheet)[header + 1:], start=header + 2):
        record = {c: (row[j] if j < len(row) else None) for c, j in found.items()}
        if all(is_missing(record[c]) for c in required):
            continue
        record["_row"] = i
        records.append(record)
    return records, str(sheet), book.path


# --------------------------------------------------------------------------------------------------------------
# Rows -> annotation table
# --------------------------------------------------------------------------------------------------------------
class _Issues:
    """Collects per-row quirks and emits one DataWarning per kind, naming every clip and row."""

    def __init__(self, source: str):
        self.source = source
        self.kinds: dict[str, list[str]] = defaultdict(list)

    def add(self, kind: str, item: str) -> None:
        self.kinds[kind].append(item)

    def emit(self, stacklevel: int = 3) -> None:
        for kind, items in self.kinds.items():
            shown = "; ".join(items[:20]) + (f"; ... ({len(items) - 20} more)" if len(items) > 20 else "")
            warnings.warn(f"{self.source}: {kind} for {len(items)} clip(s): {shown}.", DataWarning,
                          stacklevel=stacklevel)


def _frame(value: Any, what: str, where: str) -> int:
    number = as_int(value)
    if number is None:
        raise ValueError(f"{where}: {what} is {value!r}; expected a frame number (an integer).")
    return number


def _timing(rec: Mapping[str, Any], where: str, name: str, issues: _Issues,
            zero_means_unknown: bool = False, missing_offset_ok: bool = False,
            has_apex: bool = True) -> tuple[int, int, int, bool, list[str]]:
    """onset, apex, offset, apex_estimated and notes of one row, with the known quirks handled.

    ``has_apex=False`` (SMIC): no apex is annotated, the middle of onset..offset is used without a warning.
    """
    notes: list[str] = []
    onset = _frame(rec["onset"], "the onset frame", where)
    offset = as_int(rec["offset"])
    apex = as_int(rec.get("apex")) if has_apex else None
    if zero_means_unknown:
        apex = None if apex == 0 else apex
        offset = None if offset == 0 else offset
    if offset is None:
        if not (missing_offset_ok or zero_means_unknown):
            raise ValueError(f"{where}: the offset frame is {rec['offset']!r}; expected a frame number (an integer).")
        offset = apex if apex is not None else onset
        notes.append(f"offset {rec['offset']!r} unknown: offset set to {'the apex' if apex is not None else 'the onset'}")
        issues.add("offset unknown (set to the apex, or the onset when the apex is unknown too)",
                   f"{name} ({where.split(': ')[-1]}, value {rec['offset']!r})")
    estimated = False
    if apex is None:
        raw = rec.get("apex")
        apex = (onset + offset) // 2
        estimated = True
        if not has_apex:
            notes.append("no apex annotated: middle of onset..offset used")
        else:
            notes.append(f"apex {raw!r} is not a frame number: middle of onset..offset used")
            issues.add("apex is not a frame number, the middle of onset..offset is used (apex_estimated=True)",
                       f"{name} ({where.split(': ')[-1]}, value {raw!r})")
    elif not (min(onset, offset) <= apex <= max(onset, offset)):
        notes.append(f"apex {apex} outside onset..offset {onset}..{offset}")
        issues.add("apex outside onset..offset (kept as annotated)", f"{name} ({onset}, {apex}, {offset})")
    if offset < onset:
        notes.append(f"offset {offset} before onset {onset}")
        issues.add("offset before onset (kept as annotated)", f"{name} ({onset}..{offset})")
    return onset, apex, offset, estimated, notes


def _finish(rows: list[dict[str, Any]], extra: Sequence[str] = ()) -> pd.DataFrame:
    columns = ANNOTATION_COLUMNS + [c for c in extra if c not in ANNOTATION_COLUMNS]
    table = pd.DataFrame(rows, columns=columns)
    for column in ("onset", "apex", "offset", "source_row"):
        table[column] = table[column].astype("int64")
    table["apex_estimated"] = table["apex_estimated"].astype(bool)
    duplicated = table["clip_uid"].duplicated(keep=False)
    if duplicated.any():
        dups = table.loc[duplicated, ["clip_uid", "source_row"]].to_records(index=False)
        warnings.warn(f"{table['source_file'].iloc[0]}: clip ids appear more than once: "
                      + "; ".join(f"{u} (row {r})" for u, r in dups)
                      + ". Both rows are kept; clip_uid is not unique for them.", DataWarning, stacklevel=3)
    return table


def _standard_rows(dataset: str, records: Iterable[Mapping[str, Any]], path: Path, sheet: str,
                   issues: _Issues, **timing_options: Any) -> list[dict[str, Any]]:
    rows = []
    for rec in records:
        where = f"{path.name} [{sheet}]: row {rec['_row']}"
        try:
            subject = normalise_subject(dataset, rec["subject"])
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        if is_missing(rec["clip"]):
            raise ValueError(f"{where}: the Filename cell is empty; expected a clip id.")
        clip = normalise_clip(dataset, rec["clip"])
        name = f"{subject}/{clip}"
        onset, apex, offset, estimated, notes = _timing(rec, where, name, issues, **timing_options)
        emotion = rec.get("emotion")
        au_raw = rec.get("au_string")
        rows.append({
            "dataset": dataset, "subject": subject, "subject_uid": subject_uid(dataset, subject),
            "clip": clip, "clip_uid": clip_uid(dataset, subject, clip),
            "emotion": None if is_missing(emotion) else str(emotion).strip(),
            "onset": onset, "apex": apex, "offset": offset, "apex_estimated": estimated,
            "aus": parse_aus(au_raw), "au_string": None if is_missing(au_raw) else str(au_raw).strip(),
            "source_file": path.name, "source_row": int(rec["_row"]), "notes": notes,
            **{k: rec[k] for k in rec if k not in {"subject", "clip", "onset", "apex", "offset", "emotion",
                                                   "au_string", "_row"}},
        })
    return rows


# --------------------------------------------------------------------------------------------------------------
# CASME II
# --------------------------------------------------------------------------------------------------------------
CASME2_COLUMNS = {"subject": ["Subject"], "clip": ["Filename"],
                  "onset": ["OnsetFrame", "Onset Frame", "Onset", "OnsetF"],
                  "apex": ["ApexFrame", "Apex Frame", "Apex", "ApexF"],
                  "offset": ["OffsetFrame", "Offset Frame", "Offset", "OffsetF"],
                  "emotion": ["Estimated Emotion", "Emotion"]}
CASME2_OPTIONAL = {"au_string": ["Action Units", "AUs", "AU"]}


def read_casme2_coding(path: str | Path, sheet: int | str = 0) -> pd.DataFrame:
    """The CASME II coding (``CASME2-coding-20140508.xlsx``, sheet 1) as an annotation table.

    Columns are read by name: ``Subject | Filename | OnsetFrame | ApexFrame | OffsetFrame | Action Units |
    Estimated Emotion`` (Yan et al. 2014, PLoS ONE). Subject as text (``'01'``) or int both give ``sub01``;
    ApexFrame ``/`` (sub04/EP12_01f) becomes the middle of onset..offset with ``apex_estimated=True`` and a
    warning naming the clip; apex outside onset..offset is kept and reported.
    """
    records, sheet_name, file = read_records(path, CASME2_COLUMNS, CASME2_OPTIONAL, sheet=sheet, expected=["au_string"])
    issues = _Issues(file.name)
    table = _finish(_standard_rows("casme2", records, file, sheet_name, issues))
    issues.emit()
    return table


_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7}


def objective_class(value: Any) -> int | None:
    """An objective class (Davison et al. 2018) as an int 1..7 from ``3``, ``'3'``, ``'III'`` or ``'Class III'``."""
    number = as_int(value)
    if number is not None:
        return number
    if is_missing(value):
        return None
    key = re.sub(r"^class\s*", "", str(value).strip().lower())
    return _ROMAN.get(key)


def read_casme2_objective_classes(path: str | Path, sheet: int | str = 0) -> pd.DataFrame:
    """``CASME2-ObjectiveClasses.xlsx`` (``Subject | Filename | Objective Class``, classes 1..7) for MEGC 2018.

    Returns ``subject``, ``clip``, ``clip_uid``, ``objective_class`` (int), ``source_row``.
    """
    records, sheet_name, file = read_records(
        path, {"subject": ["Subject"], "clip": ["Filename"],
               "objective_class": ["Objective Class", "Objective Classes", "ObjectiveClass", "Class"]}, sheet=sheet)
    rows = []
    for rec in records:
        where = f"{file.name} [{sheet_name}]: row {rec['_row']}"
        cls = objective_class(rec["objective_class"])
        if cls is None or not 1 <= cls <= 7:
            raise ValueError(f"{where}: Objective Class is {rec['objective_class']!r}; expected 1..7 (or I..VII).")
        subject = normalise_subject("casme2", rec["subject"])
        clip = normalise_clip("casme2", rec["clip"])
        rows.append({"subject": subject, "clip": clip, "clip_uid": clip_uid("casme2", subject, clip),
                     "objective_class": cls, "source_row": rec["_row"]})
    return pd.DataFrame(rows, columns=["subject", "clip", "clip_uid", "objective_class", "source_row"])


def merge_objective_classes(table: pd.DataFrame, classes: pd.DataFrame, source: str = "objective classes") -> pd.DataFrame:
    """``table`` with an ``objective_class`` column (nullable Int64) joined on ``clip_uid``.

    Clips without a class and classes without a clip are reported in a warning (never dropped silently).
    """
    lookup = dict(zip(classes["clip_uid"], classes["objective_class"]))
    out = table.copy()
    out["objective_class"] = pd.array([lookup.get(u) for u in out["clip_uid"]], dtype="Int64")
    missing = out.loc[out["objective_class"].isna(), "clip_uid"].tolist()
    extra = sorted(set(lookup) - set(out["clip_uid"]))
    if missing:
        warnings.warn(f"{source}: no objective class for {len(missing)} clip(s): {', '.join(missing[:20])}"
                      f"{' ...' if len(missing) > 20 else ''}; their objective_class is <NA>.", DataWarning, stacklevel=2)
    if extra:
        warnings.warn(f"{source}: objective classes given for {len(extra)} clip(s) absent from the table: "
                      f"{', '.join(extra[:20])}{' ...' if len(extra) > 20 else ''}.", DataWarning, stacklevel=2)
    return out


# --------------------------------------------------------------------------------------------------------------
# SAMM
# --------------------------------------------------------------------------------------------------------------
SAMM_COLUMNS = {"subject": ["Subject"], "clip": ["Filename"],
                "onset": ["Onset Frame", "OnsetFrame", "Onset"], "apex": ["Apex Frame", "ApexFrame", "Apex"],
                "offset": ["Offset Frame", "OffsetFrame", "Offset"], "emotion": ["Estimated Emotion", "Emotion"]}
SAMM_OPTIONAL = {"au_string": ["Action Units", "AUs"], "objective_class": ["Objective Classes", "Objective Class"],
                 "inducement": ["Inducement Code"], "annotation_notes": ["Notes"], "micro": ["Micro"]}


def read_samm_coding(path: str | Path, sheet: int | str | None = None) -> pd.DataFrame:
    """The SAMM coding (``SAMM_Micro_FACS_Codes_v2.xlsx``, sheet ``MICRO_ONLY``) as an annotation table.

    The header (``Subject | Filename | Inducement Code | Onset Frame | Apex Frame | Offset Frame | Duration |
    Micro | Action Units | Estimated Emotion | Objective Classes | Notes``) is found below the 13 preamble
    rows (Davison et al. 2018). Subject ``'006'`` or ``6`` -> ``006``; emotion kept as written (``Other``);
    AU strings with ``or`` / ``/`` are split into tokens; ``objective_class`` is an int column.
    """
    records, sheet_name, file = read_records(path, SAMM_COLUMNS, SAMM_OPTIONAL, sheet=sheet, prefer_sheets=["MICRO_ONLY"],
                                             expected=["au_string"])
    issues = _Issues(file.name)
    rows = _standard_rows("samm", records, file, sheet_name, issues)
    for row in rows:
        cls = objective_class(row.get("objective_class"))
        row["objective_class"] = cls
        row["inducement"] = as_int(row.get("inducement"))
        if is_missing(row.get("annotation_notes")):
            row["annotation_notes"] = None
    table = _finish(rows, extra=["objective_class", "inducement", "annotation_notes"])
    table["objective_class"] = pd.array(table["objective_class"].tolist(), dtype="Int64")
    table["inducement"] = pd.array(table["inducement"].tolist(), dtype="Int64")
    issues.emit()
    return table


# --------------------------------------------------------------------------------------------------------------
# SMIC-E (long-video release)
# --------------------------------------------------------------------------------------------------------------
SMIC_E_COLUMNS = {"subject": ["Subject"], "clip": ["Filename"], "onset": ["OnsetF", "Onset Frame", "Onset"],
                  "offset": ["OffsetF", "Offset Frame", "Offset"]}
SMIC_E_OPTIONAL = {"emotion": ["Emotion"], "total": ["TotalMF1"], "first_frame": ["FirstF"], "last_frame": ["LastF"],
                   "onset2": ["Onset2F"], "offset2": ["Offset2F"], "onset3": ["Onset3F"], "offset3": ["Offset3F"]}


def read_smic_e_annotation(path: str | Path, sheet: int | str = "HS") -> pd.DataFrame:
    """The SMIC-E annotation (``SMIC-HS-E_annotation.xlsx``, sheet ``HS``) as an annotation table.

    ``OnsetF`` / ``OffsetF`` are frame numbers of the long clip; SMIC has no apex, so ``apex`` is the middle of
    onset..offset (``apex_estimated=True``, as Zhao et al. 2021 §4.4 do for SMIC-HS). Some cells are Excel
    formulas (``OffsetF = OnsetF + TotalMF1 - 1``): their cached values are read; when a copy has no cached
    value the offset is recomputed from ``TotalMF1`` and reported. ``first_frame`` / ``last_frame`` give the
    span of the long clip; second and third micro-expressions of a clip are kept in ``onset2`` ... ``offset3``.
    """
    records, sheet_name, file = read_records(path, SMIC_E_COLUMNS, SMIC_E_OPTIONAL, sheet=sheet)
    issues = _Issues(file.name)
    for rec in records:
        if as_int(rec["offset"]) is None and as_int(rec.get("total")) is not None and as_int(rec["onset"]) is not None:
            issues.add("OffsetF has no value (formula without a cached result), recomputed as OnsetF + TotalMF1 - 1",
                       f"{rec['clip']} (row {rec['_row']})")
            rec["offset"] = as_int(rec["onset"]) + as_int(rec["total"]) - 1
    dataset = "smic_hs_e"
    rows = []
    for row in _standard_rows(dataset, records, file, sheet_name, issues, has_apex=False):
        for key in ("total", "first_frame", "last_frame", "onset2", "offset2", "onset3", "offset3"):
            row[key] = as_int(row.get(key))
        rows.append(row)
    extra = ["first_frame", "last_frame", "onset2", "offset2", "onset3", "offset3"]
    table = _finish(rows, extra=extra)
    for key in extra:
        table[key] = pd.array(table[key].tolist(), dtype="Int64")
    issues.emit()
    return table


# --------------------------------------------------------------------------------------------------------------
# CASME (first version)
# --------------------------------------------------------------------------------------------------------------
CASME_COLUMNS = {"subject": ["Subject"], "clip": ["Filename"],
                 "onset": ["OnsetF", "Onset Frame", "OnsetFrame", "Onset"],
                 "apex": ["ApexF1", "ApexF", "Apex Frame", "ApexFrame", "Apex", "Apex1"],
                 "offset": ["OffsetF", "Offset Frame", "OffsetFrame", "Offset"],
                 "emotion": ["Emotion", "Estimated Emotion"]}
CASME_OPTIONAL = {"apex2": ["ApexF2", "Apex2"], "au_string": ["Action Units", "AUs", "AU", "Action Unit"]}


def read_casme_coding(path: str | Path, sheet: int | str | None = None) -> pd.DataFrame:
    """The CASME coding spreadsheet (``Subject | Filename | OnsetF | ApexF1 | ApexF2 | OffsetF | ... | Emotion``).

    Emotions are kept as written (``comtempt`` sic; Yan et al. 2013). ``apex`` is ApexF1 (the second apex,
    when given, is in ``apex2``); a missing or ``/`` apex becomes the middle of onset..offset, and a missing
    offset takes the apex, both reported.
    """
    records, sheet_name, file = read_records(path, CASME_COLUMNS, CASME_OPTIONAL, sheet=sheet, expected=["au_string"])
    issues = _Issues(file.name)
    rows = _standard_rows("casme", records, file, sheet_name, issues, missing_offset_ok=True)
    for row in rows:
        row["apex2"] = as_int(row.get("apex2"))
    table = _finish(rows, extra=["apex2"])
    table["apex2"] = pd.array(table["apex2"].tolist(), dtype="Int64")
    issues.emit()
    return table


# --------------------------------------------------------------------------------------------------------------
# CAS(ME)²
# --------------------------------------------------------------------------------------------------------------
#: Sheet 0 of ``CAS(ME)^2code_final.xlsx`` has no header; its columns, by position (REFERENCE.md §1).
CASME_SQ_POSITIONS = ["participant", "expression", "onset", "apex", "offset", "au_string", "emotion",
                      "expression_type", "self_report"]


def _mapping_rows(rows: Sequence[tuple]) -> list[tuple]:
    return [r for r in rows if any(not is_missing(c) for c in r)]


def read_casme_sq_subjects(path: str | Path, sheet: int | str = 1) -> dict[int, str]:
    """Participant number (sheet 0, column 1) -> subject (``s15``), from the naming sheet (``naming rule1``).

    Each row holds the subject folder / code and the participant number (last numeric cell); the subject is
    read from the first cell with digits and normalised (``15`` or ``'s15'`` -> ``s15``).
    """
    book = Workbook(path)
    name = book.sheet_name(sheet)
    mapping: dict[int, str] = {}
    for i, row in enumerate(_mapping_rows(book.rows(name)), start=1):
        cells = [c for c in row if not is_missing(c)]
        numbers = [as_int(c) for c in cells]
        if len(cells) < 2 or numbers[-1] is None:
            if i == 1:
                continue  # a header row
            raise ValueError(f"{book.path.name} [{name}] row {i}: expected a subject code and a participant "
                             f"number (e.g. 's15', 15, 1), found {cells}.")
        subject_cell = next((c for c in cells[:-1] if subject_number(c) is not None), None)
        if subject_cell is None:
            raise ValueError(f"{book.path.name} [{name}] row {i}: no subject code with digits in {cells}.")
        mapping[numbers[-1]] = normalise_subject("casme_sq", subject_cell)
    if not mapping:
        raise ValueError(f"{book.path.name} [{name}]: no subject mapping rows found; expected rows like "
                         "('s15', 15, 1) mapping participant numbers to subject folders.")
    return mapping


def read_casme_sq_videos(path: str | Path, sheet: int | str = 2) -> pd.DataFrame:
    """Video name (``anger1``) -> video code (``0401``) and, when given, a longer name, from ``naming rule2``."""
    book = Workbook(path)
    name = book.sheet_name(sheet)
    rows = []
    for i, row in enumerate(_mapping_rows(book.rows(name)), start=1):
        cells = [c for c in row if not is_missing(c)]
        code = as_int(cells[0]) if cells else None
        if code is None or len(cells) < 2:
            if i == 1:
                continue
            raise ValueError(f"{book.path.name} [{name}] row {i}: expected a video code and a video name "
                             f"(e.g. '0401', 'anger1'), found {cells}.")
        rows.append({"video_code": f"{code:04d}", "video_name": str(cells[1]).strip(),
                     "video_title": str(cells[2]).strip() if len(cells) > 2 else None})
    if not rows:
        raise ValueError(f"{book.path.name} [{name}]: no video mapping rows found; expected rows like "
                         "('0401', 'anger1').")
    return pd.DataFrame(rows)


def read_casme_sq_coding(path: str | Path, include_macro: bool = False, sheet: int | str = 0,
                         subjects_sheet: int | str = 1, videos_sheet: int | str = 2) -> pd.DataFrame:
    """The CAS(ME)² coding (``CAS(ME)^2code_final.xlsx``) as an annotation table (Qu et al. 2018).

    Sheet 0 has **no header**: participant, expression id (``anger1_1`` = video name + running number), onset,
    apex, offset (``0`` = unknown), AUs, emotion category (negative / positive / surprise / others), type
    (macro- / micro-expression), self-report (``happyiness`` sic). Sheets 1 and 2 map participant numbers to
    subjects (``s15``) and video names to codes (``0401``). Micro-expression rows only unless ``include_macro``.

    ``clip`` is the expression id (``disgust1_1``), unique within a subject; the video is in ``video_name`` /
    ``video_code`` and ``stimulus`` is the eliciting video's emotion (``disgust``, ``anger``, ``happy``).
    """
    book = Workbook(path)
    main = book.sheet_name(sheet)
    subjects = read_casme_sq_subjects(path, subjects_sheet)
    videos = read_casme_sq_videos(path, videos_sheet)
    codes = dict(zip(videos["video_name"].str.lower(), videos["video_code"]))
    issues = _Issues(book.path.name)
    records = []
    for i, row in enumerate(book.rows(main), start=1):
        cells = list(row[:len(CASME_SQ_POSITIONS)]) + [None] * max(0, len(CASME_SQ_POSITIONS) - len(row))
        if all(is_missing(c) for c in cells):
            continue
        rec = dict(zip(CASME_SQ_POSITIONS, cells))
        where = f"{book.path.name} [{main}]: row {i}"
        if as_int(rec["participant"]) is None or as_int(rec["onset"]) is None:
            if i == 1 and not records:
                continue  # a header row some copies add
            raise ValueError(f"{where}: expected participant number, expression id, onset, apex, offset, AUs, "
                             f"emotion, type, self-report (a header-less sheet), found {cells}. "
                             "Is sheet 0 the coding sheet?")
        kind = str(rec["expression_type"]).strip().lower()
        if kind.startswith("micro"):
            kind = "micro"
        elif kind.startswith("macro"):
            kind = "macro"
        else:
            raise ValueError(f"{where}: type is {rec['expression_type']!r}; expected 'macro-expression' or "
                             "'micro-expression' in the 8th column.")
        participant = as_int(rec["participant"])
        if participant not in subjects:
            raise ValueError(f"{where}: participant {participant} is not in the subject naming sheet "
                             f"(known: {sorted(subjects)}).")
        expression = str(rec["expression"]).strip()
        video_name = expression.split("_")[0]
        if video_name.lower() not in codes:
            raise ValueError(f"{where}: video {video_name!r} (from {expression!r}) is not in the video naming "
                             f"sheet (known: {sorted(codes)}).")
        rec.update(subject=subjects[participant], clip=expression, _row=i, expression_type=kind,
                   video_name=video_name, video_code=codes[video_name.lower()],
                   stimulus=re.sub(r"\d+$", "", video_name).lower(), participant=participant)
        records.append(rec)
    if not include_macro:  # before the quirks are reported: only about the rows returned
        records = [r for r in records if r["expression_type"] == "micro"]
    rows = _standard_rows("casme_sq", records, book.path, main, issues, zero_means_unknown=True)
    for row in rows:
        row["self_report"] = None if is_missing(row.get("self_report")) else str(row["self_report"]).strip()
    extra = ["expression_type", "video_name", "video_code", "stimulus", "self_report", "participant"]
    table = _finish(rows, extra=extra)
    issues.emit()
    return table


# --------------------------------------------------------------------------------------------------------------
# MEGC 2019 ground truth
# --------------------------------------------------------------------------------------------------------------
#: MEGC 2019 composite classes, in the order of the ground-truth CSV's integer labels.
MEGC2019_CLASSES = ("negative", "positive", "surprise")
_MEGC_DATASETS = {"casme2": "casme2", "casmeii": "casme2", "samm": "samm", "smic": "smic_hs", "smichs": "smic_hs"}


def read_megc2019_csv(path: str | Path) -> pd.DataFrame:
    """The MEGC 2019 composite ground truth: ``combined_3_class_gt.csv`` (header ``data,subject,clip,label``)
    or ``combined_3class_gt.csv`` (the same rows without a header). Labels 0/1/2 = negative/positive/surprise.

    Returns ``dataset`` (``casme2`` / ``samm`` / ``smic_hs``), normalised ``subject``, ``subject_uid``,
    ``clip``, ``clip_uid``, ``label``, ``label_name``, ``source_row``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MEGC 2019 ground truth not found: {path} (expected combined_3_class_gt.csv "
                                "with a header, or combined_3class_gt.csv without).")
    with open(path, newline="", encoding="utf-8-sig") as handle:
        lines = [row for row in csv.reader(handle) if any(c.strip() for c in row)]
    if not lines:
        raise ValueError(f"{path}: the file is empty; expected rows 'dataset,subject,clip,label'.")
    start = 1 if _norm_col(lines[0][-1]) == "label" or as_int(lines[0][-1]) is None else 0
    rows = []
    for i, line in enumerate(lines[start:], start=start + 1):
        if len(line) < 4:
            raise ValueError(f"{path.name}: row {i} has {len(line)} fields {line}; expected dataset,subject,clip,label.")
        data, subject, clip, label = (c.strip() for c in line[:4])
        dataset = _MEGC_DATASETS.get(_norm_col(data))
        if dataset is None:
            raise ValueError(f"{path.name}: row {i}: dataset {data!r}; expected one of casme2, samm, smic.")
        number = as_int(label)
        if number is None or not 0 <= number < len(MEGC2019_CLASSES):
            raise ValueError(f"{path.name}: row {i}: label {label!r}; expected 0 (negative), 1 (positive) or 2 (surprise).")
        subject = normalise_subject(dataset, subject)
        clip = normalise_clip(dataset, clip)
        rows.append({"dataset": dataset, "subject": subject, "subject_uid": subject_uid(dataset, subject), "clip": clip,
                     "clip_uid": clip_uid(dataset, subject, clip), "label": number,
                     "label_name": MEGC2019_CLASSES[number], "source_row": i})
    table = pd.DataFrame(rows)
    table["label"] = table["label"].astype("int64")
    return table


def au_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (clip, AU token): handy for AU histograms (``au_table(t).value_counts('au')``)."""
    exploded = table[["clip_uid", "emotion", "aus"]].explode("aus").dropna(subset=["aus"])
    return exploded.rename(columns={"aus": "au"}).reset_index(drop=True)


__all__ = ["ANNOTATION_COLUMNS", "Workbook", "find_header", "read_records", "read_casme2_coding",
           "read_casme2_objective_classes", "merge_objective_classes", "read_samm_coding",
           "read_smic_e_annotation", "read_casme_coding", "read_casme_sq_coding", "read_casme_sq_subjects",
           "read_casme_sq_videos", "read_megc2019_csv", "MEGC2019_CLASSES", "objective_class", "au_table"]
