"""Reading the ground truth the generator writes next to each layout (``<folder>/_synthetic_gt/``)."""
from __future__ import annotations

import json
import os
from pathlib import Path

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
