"""Positive controls: simple, well-understood baselines run on **the same protocol and folds** as a paper's
model, so every results table can say whether the data carries the label at all and how far a method is
from a plain, honest baseline.

* ``flow_svm`` — Farneback optical flow from the onset to the annotated apex frame (the middle frame where
  a dataset has no apex, as for SMIC), on the eye-aligned face, averaged in an 8x8 grid of cells, then a
  linear SVM (:func:`mer_utils.data.synthetic.tour.flow_features`). The motion the papers' inputs carry,
  read by the simplest classifier.
* ``lbp_top_svm`` — LBP-TOP (Zhao & Pietikäinen 2007; 5x5 blocks on 16 TIM frames of the 64x64 aligned
  face, :func:`mer_utils.features.prepare_lbp_top`) and a linear SVM: the MEGC baseline of notebook 02.

The SVM's ``C`` is chosen **inside each training fold** by a subject-grouped inner cross-validation (never
on the test subject), with balanced class weights. Features are computed once per clip and cached under
``cache_root()/controls``; the predictions of one (control, table, folds, seed) are cached too, so every
notebook that asks for the same control on the same folds reuses them.
"""
from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import pandas as pd

from .paths import cache_root
from .preprocess.cache import atomic_save_npz, clip_path, digest, frames_fingerprint, load_npz

#: Bumped when a control's features or classifier change: part of every cache key.
CONTROLS_VERSION = "1"
#: The controls, with a one-line description for tables.
CONTROLS = {
    "flow_svm": "Farneback onset→apex flow (8x8 cells, eye-aligned face) + linear SVM",
    "lbp_top_svm": "LBP-TOP (5x5 blocks, 16 TIM frames, 64x64) + linear SVM",
}
C_GRID = (0.01, 0.1, 1.0)
#: Columns copied from the clip table into every prediction table.
KEEP = ("clip_uid", "subject_uid", "dataset")


def _controls_root():
    return cache_root() / "controls"


def _onset_apex(row) -> tuple[np.ndarray, np.ndarray]:
    from .preprocess.clips import clip_segment, read_positions

    seg = clip_segment(row, "onset_offset")
    frames = read_positions(seg, [seg.onset, seg.apex], color=False)
    return frames[0], frames[1]


def flow_feature_matrix(table: pd.DataFrame, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(X, ok)``: one row of onset→apex flow features per clip (cached per clip), and whether the face
    was found (rows without a face are zeros; they are kept so the folds stay aligned, and counted)."""
    from tqdm.auto import tqdm

    from .data.synthetic.tour import flow_features
    from .preprocess.faces import detect_landmarks

    base = _controls_root() / f"flow-v{CONTROLS_VERSION}"
    rows, ok = [], []
    for _, row in tqdm(table.iterrows(), total=len(table), desc="flow features", disable=not progress):
        paths = list(row["frame_paths"])
        path = clip_path(base, row["clip_uid"], f"-{frames_fingerprint(paths[:1] + paths[-1:])}.npz")
        hit = load_npz(path)
        if hit is None:
            onset, apex = _onset_apex(row)
            face = detect_landmarks(onset)
            if face is None:
                feats, found = np.zeros(128, np.float32), False
            else:
                feats, found = flow_features(onset, apex, face.landmarks).astype(np.float32), True
            atomic_save_npz(path, {"x": feats, "ok": np.array(found)}, {"clip_uid": row["clip_uid"]})
        else:
            feats, found = hit[0]["x"], bool(hit[0]["ok"])
        rows.append(feats)
        ok.append(found)
    ok = np.asarray(ok, bool)
    if (~ok).any():
        warnings.warn(f"flow control: no face found in {int((~ok).sum())} of {len(ok)} onset frames; those "
                      "clips get zero features.", stacklevel=2)
    return np.stack(rows), ok


def lbp_top_feature_matrix(table: pd.DataFrame, progress: bool = False) -> np.ndarray:
    """LBP-TOP features of every clip (the shared ``reddy2019`` faces, 16 TIM frames, 5x5 blocks)."""
    from .features import prepare_lbp_top

    dataset, _ = prepare_lbp_top(table, n_frames=16, blocks=5, progress=progress)
    return np.asarray(dataset.features(), dtype=np.float32)


def svm_fold_predictions(X: np.ndarray, table: pd.DataFrame, folds: Sequence, c_grid: Sequence[float] = C_GRID,
                         seed: int = 0) -> pd.DataFrame:
    """Linear SVM per fold on ``X`` (rows aligned with ``table``), ``C`` chosen on training subjects only."""
    from sklearn.model_selection import GridSearchCV, GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    if len(X) != len(table):
        raise ValueError(f"svm_fold_predictions: X has {len(X)} rows but the table has {len(table)} clips.")
    y = table["label"].to_numpy()
    subjects = table["subject_uid"].astype(str).to_numpy()
    parts = []
    for fold in folds:
        train, test = np.asarray(fold.train), np.asarray(fold.test)
        svc = make_pipeline(StandardScaler(), LinearSVC(class_weight="balanced", dual=False, max_iter=20000,
                                                        random_state=seed))
        n_groups = len(np.unique(subjects[train]))
        if n_groups >= 3 and len(c_grid) > 1:
            model = GridSearchCV(svc, {"linearsvc__C": list(c_grid)}, cv=GroupKFold(n_splits=min(3, n_groups)),
                                 scoring="f1_macro")
            model.fit(X[train], y[train], groups=subjects[train])
        else:
            model = svc.set_params(linearsvc__C=float(c_grid[len(c_grid) // 2]))
            model.fit(X[train], y[train])
        part = table.iloc[test][[c for c in KEEP if c in table.columns]].copy()
        part["fold"], part["true"], part["pred"] = fold.name, y[test], model.predict(X[test])
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def positive_control(table: pd.DataFrame, folds: Sequence, kind: str = "flow_svm", seed: int = 0,
                     progress: bool = False) -> pd.DataFrame:
    """Predictions of the positive control ``kind`` (see :data:`CONTROLS`) on ``folds`` of ``table``.

    ``table`` is a labelled clip table (a protocol's output: ``label``, ``subject_uid``, ``clip_uid``) and
    ``folds`` the model's own folds (positional indices). Cached by the control, the clips, their labels,
    the folds and the seed.
    """
    if kind not in CONTROLS:
        raise ValueError(f"positive_control: kind={kind!r}; expected one of {sorted(CONTROLS)}.")
    for col in ("label", "subject_uid", "clip_uid", "frame_paths"):
        if col not in table.columns:
            raise ValueError(f"positive_control: the table lacks the column {col!r}; pass a protocol's clip "
                             "table (mer_utils.data.load_protocol).")
    key = digest({"kind": kind, "v": CONTROLS_VERSION, "clips": table["clip_uid"].tolist(),
                  "labels": table["label"].tolist(), "seed": seed,
                  "folds": [(f.name, np.asarray(f.test).tolist()) for f in folds],
                  "frames": frames_fingerprint([p for ps in table["frame_paths"] for p in ps[:1]])})
    path = _controls_root() / "predictions" / f"{kind}-{key}.csv"
    if path.is_file():
        try:
            return pd.read_csv(path)
        except (OSError, ValueError, pd.errors.ParserError):
            warnings.warn(f"positive_control: cached predictions {path} are unreadable; recomputing them.",
                          stacklevel=2)
    X = flow_feature_matrix(table, progress)[0] if kind == "flow_svm" else lbp_top_feature_matrix(table, progress)
    pred = svm_fold_predictions(X, table, folds, seed=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pred.to_csv(tmp, index=False)
    tmp.replace(path)
    return pred
