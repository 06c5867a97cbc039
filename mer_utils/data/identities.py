"""Who is in a macro-expression set: keeping the course's pretraining free of the micro-expression subjects.

Used by every stage the course pretrains on the synthetic macro sets: Peng et al.'s macro stage
(:mod:`mer_utils.papers.peng2018`) and Wei et al.'s FER backbone when it is pretrained here
(:func:`mer_utils.papers.wei2022.pipeline.load_backbone`).

The synthetic FER2013 / CK+ sets are rendered from the same synthetic identities as the micro-expression sets
(their generator draws the micro subjects first), and their ground truth (``<set>/_synthetic_gt/``) records the
``identity`` of every image. A macro stage trained on them would have seen the test subjects' faces with
expression labels before the micro stage is evaluated on those subjects. :func:`synthetic_identities` reads the
identities of a macro or micro table, :func:`exclude_identities` drops the macro images of the micro subjects.
Licensed sets have no such record (their people are not the micro sets' people): their rows get ``None``.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np


@lru_cache(maxsize=16)
def _fer_identities(root: str) -> dict:
    import pandas as pd

    gt = Path(root) / "_synthetic_gt" / "fer2013.csv"
    if not gt.is_file():
        raise FileNotFoundError(f"{gt} not found: expected the synthetic FER2013 ground truth (row, identity).")
    table = pd.read_csv(gt, usecols=["row", "identity"])
    return dict(zip(table["row"].astype(int), table["identity"].astype(str)))


@lru_cache(maxsize=64)
def _clip_identities(root: str) -> dict:
    """clip_uid -> identity from ``root/_synthetic_gt/index.csv`` and the per-clip JSON files."""
    import pandas as pd

    base = Path(root) / "_synthetic_gt"
    index = base / "index.csv"
    if not index.is_file():
        raise FileNotFoundError(f"{index} not found: expected the synthetic ground-truth index (clip_uid, json).")
    table = pd.read_csv(index, usecols=["clip_uid", "json"], dtype=str)
    out = {}
    for uid, rel in zip(table["clip_uid"], table["json"]):
        path = Path(root) / rel
        if path.is_file():
            out[uid] = json.loads(path.read_text()).get("identity")
    return out


def _ck_clip_uid(image_id: str) -> str:
    """``ckplus/S005_001_00000006`` -> ``ckplus/S005/001`` (the sequence the image comes from)."""
    subject, sequence = image_id.split("/", 1)[1].split("_")[:2]
    return f"ckplus/{subject}/{sequence}"


def synthetic_identities(table, source: str, root) -> np.ndarray:
    """The synthetic identity of every row of a one-dataset ``table`` (object array; ``None`` when
    ``source`` is not ``"synthetic"``). ``root`` is the dataset folder (``table.attrs["root"]`` of a loader's
    table). FER2013 rows are matched by their row number (``image_id`` ``fer2013/<row>``), CK+ images by their
    sequence, micro-expression clips by ``clip_uid``."""
    n = len(table)
    if source != "synthetic":
        return np.full(n, None, dtype=object)
    datasets = set(table["dataset"].astype(str))
    if len(datasets) != 1:
        raise ValueError(f"synthetic_identities: expected one dataset per call, got {sorted(datasets)}.")
    dataset = datasets.pop()
    if dataset == "fer2013":
        ids = _fer_identities(str(root))
        keys = [int(str(i).split("/", 1)[1]) for i in table["image_id"]]
    else:
        ids = _clip_identities(str(root))
        keys = [_ck_clip_uid(str(i)) for i in table["image_id"]] if dataset == "ckplus" else \
            table["clip_uid"].astype(str).tolist()
    missing = [k for k in keys if k not in ids]
    if missing:
        raise KeyError(f"synthetic_identities: {len(missing)} {dataset} rows have no identity in {root}/_synthetic_gt "
                       f"(e.g. {missing[:3]}); regenerate the synthetic set.")
    return np.array([ids[k] for k in keys], dtype=object)


def micro_identities(table) -> set:
    """The synthetic identities of a micro-expression protocol table (``load_protocol``; its
    ``attrs["sources"]`` give each dataset's source and folder). Empty for licensed data."""
    sources = table.attrs.get("sources", {})
    out = set()
    for dataset, part in table.groupby("dataset"):
        info = sources.get(dataset, {})
        out |= {i for i in synthetic_identities(part, info.get("source", "licensed"), info.get("root")) if i}
    return out


def exclude_identities(macro, identities):
    """``(kept, dropped)``: the macro rows whose ``identity`` column is not in ``identities``, and a table of the
    dropped rows with the reason."""
    ident = macro["identity"]
    drop = ident.isin(set(identities)).to_numpy()
    dropped = macro.loc[drop, ["dataset", "image_id", "emotion"]].copy()
    dropped["reason"] = "synthetic identity of a micro-expression subject (issue 17: no leak into pretraining)"
    return macro.loc[~drop].reset_index(drop=True), dropped.reset_index(drop=True)
