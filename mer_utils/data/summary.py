"""Counts per dataset (clips, subjects, classes) and their comparison with the published counts.

>>> summary(table)                      # doctest: +SKIP
          clips  subjects  negative  positive  surprise
dataset
smic_hs     164        16        70        51        43
...

On a table read from the licensed data (``table.attrs["source"] == "licensed"``) :func:`summary` also compares
the counts with :mod:`mer_utils.data.published` and warns about every mismatch of an exact count.
"""
from __future__ import annotations

import warnings
from typing import Any

import pandas as pd

from .naming import DataWarning, normalise_label
from .published import DATASET_COUNTS, PROTOCOL_COUNTS


def _class_column(table: pd.DataFrame) -> str:
    if "label_name" in table.columns:
        return "label_name"
    if "emotion" in table.columns:
        return "emotion"
    raise ValueError("The table has neither 'label_name' nor 'emotion'; expected a clip table or a protocol table.")


def summary(table: pd.DataFrame, check: bool | None = None) -> pd.DataFrame:
    """Clips, subjects and clips per class for each dataset of ``table`` (plus a ``total`` row for a composite).

    Classes are ``label_name`` for a protocol table (in the protocol's order), else ``emotion`` as written.
    ``check`` (default: when the table comes from the licensed data) adds ``published_clips``,
    ``published_subjects`` and ``matches_published`` from :func:`compare_published`.
    """
    column = _class_column(table)
    classes = list(table.attrs.get("classes") or table[column].dropna().astype(str).value_counts().index)
    subject = "subject_uid" if "subject_uid" in table.columns else "subject"
    rows = {}
    groups = [(d, table[table["dataset"] == d]) for d in pd.unique(table["dataset"])]
    if len(groups) > 1:
        groups.append(("total", table))
    for name, part in groups:
        counts = part[column].astype(str).value_counts()
        rows[name] = {"clips": len(part), "subjects": part[subject].nunique(),
                      **{c: int(counts.get(c, 0)) for c in classes}}
    result = pd.DataFrame.from_dict(rows, orient="index")
    result.index.name = "dataset"
    if check is None:
        check = table.attrs.get("source") == "licensed"
    if check:
        comparison = compare_published(table)
        for name in result.index:
            mine = comparison[comparison["dataset"] == name]
            clips = mine.loc[mine["quantity"] == "clips", "published"]
            subjects = mine.loc[mine["quantity"] == "subjects", "published"]
            result.loc[name, "published_clips"] = clips.iloc[0] if len(clips) else pd.NA
            result.loc[name, "published_subjects"] = subjects.iloc[0] if len(subjects) else pd.NA
            result.loc[name, "matches_published"] = bool(mine["ok"].all()) if len(mine) else pd.NA
        bad = comparison[~comparison["ok"] & comparison["exact"]]
        if len(bad):
            warnings.warn("Counts differ from the published ones: " + "; ".join(
                f"{r.dataset} {r.quantity}: {r.found} (published {r.published})" for r in bad.itertuples())
                + ". Check the dataset copy (or the protocol).", DataWarning, stacklevel=2)
    return result


def _published_for(table: pd.DataFrame) -> dict[str, dict]:
    protocol = table.attrs.get("protocol")
    if protocol:
        return PROTOCOL_COUNTS.get(protocol, {})
    out = {}
    for dataset in pd.unique(table["dataset"]):
        key = dataset
        if dataset == "casme_sq" and "expression_type" in table.columns and \
                (table.loc[table["dataset"] == dataset, "expression_type"] == "macro").any():
            key = "casme_sq_all"
        if key in DATASET_COUNTS:
            out[dataset] = DATASET_COUNTS[key]
    return out


def compare_published(table: pd.DataFrame) -> pd.DataFrame:
    """Each published count that applies to ``table`` beside the count found: columns ``dataset``, ``quantity``
    (``clips``, ``subjects``, ``class <name>``), ``published``, ``found``, ``ok``, ``exact``, ``source``.

    A protocol table (``attrs["protocol"]``) is compared with :data:`~mer_utils.data.published.PROTOCOL_COUNTS`,
    a dataset table with :data:`~mer_utils.data.published.DATASET_COUNTS`. Class names compare case-insensitively.
    """
    column = _class_column(table)
    subject = "subject_uid" if "subject_uid" in table.columns else "subject"
    rows: list[dict[str, Any]] = []
    for key, expected in _published_for(table).items():
        part = table if key == "total" else table[table["dataset"] == key]
        if key != "total" and part.empty:
            continue
        counts = part[column].map(normalise_label).value_counts()
        found = {"clips": len(part), "subjects": part[subject].nunique()}
        for quantity in ("clips", "subjects"):
            if quantity in expected:
                rows.append({"quantity": quantity, "published": expected[quantity], "found": found[quantity]})
        for name, number in expected.get("classes", {}).items():
            rows.append({"quantity": f"class {name}", "published": number,
                         "found": int(counts.get(normalise_label(name), 0))})
        for row in rows:
            row.setdefault("dataset", key)
            row.setdefault("exact", bool(expected.get("exact", True)))
            row.setdefault("source", expected.get("source", ""))
    result = pd.DataFrame(rows, columns=["dataset", "quantity", "published", "found", "exact", "source"])
    result.insert(4, "ok", result["published"] == result["found"])
    return result


__all__ = ["summary", "compare_published"]
