"""Reading the ground truth the generator writes next to each layout (``<folder>/_synthetic_gt/``)."""
from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from ...paths import DATASET_FOLDERS
from .layouts import GT_FOLDER

#: Table dataset name -> layout folder key.
DATASET_LAYOUT = {"casme2": "casme2", "samm": "samm", "smic_hs": "smic", "smic_vis": "smic", "smic_nir": "smic",
                  "smic_hs_e": "smic", "casme": "casme", "casme_sq": "casme_sq", "ckplus": "ckplus"}


def ground_truth_table(root: str | os.PathLike, dataset: str | None = None) -> pd.DataFrame:
    """The ground-truth index of a synthetic root: one row per clip (``dataset``, ``subject``, ``clip``,
    ``clip_uid``, ``emotion``, ``canonical_emotion``, ``objective_class``, ``aus``, ``intensity`` (largest apex
    AU intensity, IOD), ``micro``, ``fps``, true ``onset`` / ``apex`` / ``offset``, ``json``).

    ``dataset``: a table dataset name (``casme2``, ``smic_hs``, ...) or layout (``smic``); default all.
    """
    root = Path(root)
    layouts = sorted(set(DATASET_LAYOUT.values()))
    if dataset is not None:
        if dataset in DATASET_LAYOUT:
            layouts = [DATASET_LAYOUT[dataset]]
        elif dataset in layouts:
            layouts = [dataset]
        else:
            raise ValueError(f"Unknown dataset {dataset!r}: expected one of {sorted(DATASET_LAYOUT)} or a layout "
                             f"{layouts}.")
    frames = []
    for layout in layouts:
        path = root / DATASET_FOLDERS[layout] / GT_FOLDER / "index.csv"
        if path.exists():
            t = pd.read_csv(path, dtype={"subject": str, "subject_folder": str, "clip": str})
            t.insert(0, "layout", layout)
            frames.append(t)
    if not frames:
        raise FileNotFoundError(f"No synthetic ground truth under {root} for {dataset or 'any dataset'}: expected "
                                f"<folder>/{GT_FOLDER}/index.csv. Generate the set with "
                                "mer_utils.data.synthetic.ensure_synthetic().")
    table = pd.concat(frames, ignore_index=True)
    if dataset is not None and dataset in DATASET_LAYOUT and dataset != DATASET_LAYOUT[dataset] or dataset == "casme2":
        table = table[table["dataset"] == dataset].reset_index(drop=True)
    return table


def load_ground_truth(root: str | os.PathLike, clip_uid: str) -> dict:
    """The full sidecar of one clip (``dataset/subject/clip``): AU intensities, events, per-frame
    ``intensity`` and ``blink`` curves, nuisances, subject parameters, landmarks at onset and apex."""
    try:
        dataset, subject, clip = str(clip_uid).split("/", 2)
    except ValueError:
        raise ValueError(f"clip_uid {clip_uid!r}: expected 'dataset/subject/clip', e.g. 'casme2/sub01/EP02_01f'.") from None
    if dataset not in DATASET_LAYOUT:
        raise ValueError(f"No synthetic ground truth for dataset {dataset!r}; known: {sorted(DATASET_LAYOUT)}.")
    path = Path(root) / DATASET_FOLDERS[DATASET_LAYOUT[dataset]] / GT_FOLDER / dataset / subject / f"{clip}.json"
    if not path.exists():
        raise FileNotFoundError(f"No ground truth for {clip_uid} at {path}.")
    return json.loads(path.read_text())


# ------------------------------------------------------------------------------------------ plans, no frames
#: Columns of :func:`planned_table`.
PLANNED_COLUMNS = ["dataset", "subject", "subject_uid", "subject_folder", "clip", "clip_uid", "emotion",
                   "canonical_emotion", "objective_class", "aus", "micro", "expression_type", "fps", "onset", "apex",
                   "offset", "first_frame", "last_frame", "n_frames", "in_coding", "stimulus", "video"]


def planned_table(size: str = "paper", seed: int = 0, coded_only: bool = True) -> pd.DataFrame:
    """The clips a generation of ``size`` / ``seed`` would write, from the plans alone (no frame is rendered,
    so the paper size takes about a second): one row per clip of CASME II, SAMM, SMIC (HS, VIS, NIR, HS-E),
    CASME and CAS(ME)² (micro- and macro-expressions), with the columns the protocols read
    (:data:`PLANNED_COLUMNS`; ``subject_uid`` as the loaders write it, ``n_frames`` = frames on disk (of the
    expression, for CAS(ME)²), ``onset`` / ``apex`` / ``offset`` as written in the coding, quirks included:
    CASME II's apex ``'/'``, SAMM's apex slips, CAS(ME)²'s offset ``0``).

    ``coded_only`` leaves out the CASME II clip folders that have no coding row (the loaders do not list them).
    Apply a protocol to it as to a loaded table::

        labelled, dropped = mer_utils.data.protocols.apply_protocol("megc2019_composite", planned_table("paper"))
        mer_utils.data.summary.compare_published(labelled)   # against mer_utils.data.published
    """
    from ..naming import subject_uid
    from . import layouts as L

    ctx = L.Context(Path("."), size, seed, progress=False, check_faces=False)
    rows = []

    def add(p, **extra):
        rec = {"dataset": p.dataset, "subject": p.subject, "subject_uid": subject_uid(p.dataset, p.subject),
               "subject_folder": p.folder_subject, "clip": p.clip, "clip_uid": f"{p.dataset}/{p.subject}/{p.clip}",
               "emotion": p.emotion, "canonical_emotion": p.canonical, "objective_class": p.objective_class,
               "aus": "+".join(p.tokens), "micro": p.micro, "expression_type": "micro" if p.micro else "macro",
               "fps": p.fps, "onset": p.onset, "apex": p.extra.get("apex_cell", p.apex), "offset": p.offset,
               "first_frame": p.first_frame, "last_frame": p.last_frame, "n_frames": p.n_frames,
               "in_coding": True, "stimulus": None, "video": None}
        rec.update(extra)
        rows.append(rec)

    for p in L.plan_casme2(ctx):
        add(p, in_coding=bool(p.extra["in_coding"]), n_frames=p.n_frames - len(p.extra.get("missing_frames", [])))
    for p in L.plan_samm(ctx):
        add(p)
    for group in L.plan_smic(ctx).values():
        for p in group:
            add(p)
    for p in L.plan_casme(ctx):
        add(p)
    for vid in L.plan_casme_sq(ctx):  # the expressions of each long video, named as write_casme_sq names them
        for k, e in enumerate(sorted(vid["expressions"], key=lambda e: e["onset"]), start=1):
            subject = f"s{vid['subject']:02d}"
            micro = e["kind"] == "micro"
            add(SimpleNamespace(dataset="casme_sq", subject=subject, folder_subject=f"s{vid['subject']}",
                                clip=f"{vid['video']}_{k}", emotion=vid["category"], canonical=vid["canonical"],
                                objective_class=e["objective_class"], tokens=e["tokens"], micro=micro, fps=vid["fps"],
                                onset=e["onset"], apex=e["apex"], offset=e.get("offset_cell", e["offset"]),
                                first_frame=1, last_frame=vid["n_frames"], n_frames=e["offset"] - e["onset"] + 1,
                                extra={}),
                stimulus=vid["video"].rstrip("0123456789"), video=vid["folder"])
    table = pd.DataFrame(rows, columns=PLANNED_COLUMNS)
    if coded_only:
        table = table[table["in_coding"]].reset_index(drop=True)
    table.attrs = {"source": "synthetic plan", "size": size, "seed": int(seed)}
    return table
