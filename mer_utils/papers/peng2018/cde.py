"""Peng et al. 2018's composite-database evaluation (CDE, Sec. III-C and IV-B): which LOSO experiments give
Tables V, VI and VII.

The paper's CDE scores are exact fractions of each experiment's own clips — 48/68 = 70.59 % (SAMM, Table V),
140/185 = 75.68 % (CASME II, Table VI), 189/253 = 74.70 % (composite, Table VII) — and 48 + 140 = 188 ≠ 189, so the
per-database numbers are **not** the composite run split by database. Sec. IV-B says the same: "20 training-test
processes" for SAMM, 26 for CASME II and 46 for the composite. So by default (``design="separate"``) Tables V–VII
are three LOSO experiments: SAMM alone (train and test subjects from SAMM only), CASME II alone, and the composite.
The other reading, ``design="composite"``, runs the composite once and scores SAMM and CASME II on their clips of
that run (pooled over its folds) — MEGC 2019's practice for its per-dataset scores, not this paper's.

Fold counts: LOSO gives one fold per subject. The paper's 20 / 26 / 46 processes meet the real annotation files'
21 SAMM subjects (the 68 SAMM clips of objective classes I–V), 26 CASME II subjects and 47 in the composite — one
SAMM subject fewer than the files give; :func:`cde_fold_counts` counts them on the table at hand.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

#: Table of the paper -> the data its LOSO experiment runs on.
CDE_TABLES = {"V": "samm", "VI": "casme2", "VII": "composite"}
#: ``"separate"``: three LOSO experiments (the paper's numbers and wording); ``"composite"``: one composite run,
#: per-database scores taken from it (MEGC 2019 practice).
CDE_DESIGNS = ("separate", "composite")
#: The training-test processes (= LOSO folds) Sec. IV-B states for each experiment.
PAPER_CDE_FOLDS = {"samm": 20, "casme2": 26, "composite": 46}
#: The paper's CDE accuracies as fractions of each experiment's clips (Tables V-VII with Table I's counts).
PAPER_CDE_FRACTIONS = {"samm": (48, 68), "casme2": (140, 185), "composite": (189, 253)}


def check_design(design: str) -> str:
    if design not in CDE_DESIGNS:
        raise ValueError(f"CDE design {design!r}: expected one of {CDE_DESIGNS} ('separate': Tables V-VII as three "
                         "LOSO experiments, the paper; 'composite': one composite run split by database, MEGC 2019).")
    return design


def cde_experiments(design: str = "separate") -> list[str]:
    """The experiments a CDE design runs: ``["samm", "casme2", "composite"]`` or ``["composite"]``."""
    return ["samm", "casme2", "composite"] if check_design(design) == "separate" else ["composite"]


def cde_folds(table, experiment: str, per_dataset: int | None = None):
    """LOSO folds (:class:`mer_utils.data.Fold`, positional indices into ``table``) of one CDE experiment.

    ``experiment``: ``"samm"`` / ``"casme2"`` — that database alone: one fold per subject of it, trained on the
    database's other subjects only; ``"composite"`` — one fold per subject of both, trained on all other subjects.
    ``per_dataset``: keep only the first k test subjects of each database (the CPU profiles); ``None`` keeps all.
    """
    from ...data import Fold, leave_one_subject_out
    from .pipeline import select_folds

    if "dataset" not in table.columns:
        raise KeyError("cde_folds needs a 'dataset' column (casme2 / samm): a megc2018_objective protocol table.")
    datasets = table["dataset"].to_numpy()
    folds = leave_one_subject_out(table)
    if experiment != "composite":
        if experiment not in set(datasets):
            raise ValueError(f"CDE experiment {experiment!r}: expected 'composite' or a database of the table "
                             f"({sorted(set(datasets))}).")
        rows = np.flatnonzero(datasets == experiment)
        folds = [Fold(f.name, np.intersect1d(f.train, rows), f.test, f.subject_disjoint)
                 for f in folds if datasets[np.asarray(f.test)[0]] == experiment]
    return select_folds(folds, table, per_dataset)


def cde_fold_counts(table) -> dict[str, int]:
    """LOSO folds of each CDE experiment on ``table`` (= its subjects): ``{"samm", "casme2", "composite"}``."""
    subjects = table.groupby("dataset")["subject_uid"].nunique()
    return {"samm": int(subjects.get("samm", 0)), "casme2": int(subjects.get("casme2", 0)),
            "composite": int(table["subject_uid"].nunique())}


def cde_scores(runs, design: str = "separate"):
    """Accuracy (WAR), F1 (UF1), UAR, clips and folds behind Tables V, VI and VII.

    ``design="separate"``: ``runs`` maps each experiment (``samm``, ``casme2``, ``composite``) to its
    ``CVResult``; each table's score is its own run's, pooled over that run's folds. ``design="composite"``:
    ``runs`` is the composite ``CVResult`` (or ``{"composite": ...}``); SAMM and CASME II are scored on their clips
    of that run (MEGC 2019 practice). Experiments without a run are left out."""
    import pandas as pd

    check_design(design)
    if not isinstance(runs, Mapping):
        runs = {"composite": runs}
    rows = []
    for tid, ds in CDE_TABLES.items():
        if design == "separate" or ds == "composite":
            cv = runs.get(ds)
            if cv is None:
                continue
            m = cv.metrics["pooled"]
            how = f"{'composite' if ds == 'composite' else ds} LOSO run"
        else:
            cv = runs.get("composite")
            if cv is None or ds not in cv.metrics.get("per_dataset", {}):
                continue
            m = cv.metrics["per_dataset"][ds]
            how = "its clips in the composite run"
        n_folds = int(cv.predictions["fold"].nunique()) if "fold" in cv.predictions.columns else None
        rows.append({"table": tid, "dataset": ds, "scored on": how, **{k: m[k] for k in ("war", "uf1", "uar", "n")},
                     "folds": n_folds})
    return pd.DataFrame(rows)


def cde_folds_table(table, design: str = "separate", per_dataset: int | None = None):
    """Per experiment: the paper's training-test processes, the LOSO folds this table gives and the folds this run
    uses (``per_dataset`` limits them, as the CPU profiles do)."""
    import pandas as pd

    counts = cde_fold_counts(table)
    used = {e: len(cde_folds(table, e, per_dataset)) for e in cde_experiments(design)}
    return pd.DataFrame([{"table": tid, "experiment": ds, "paper's processes": PAPER_CDE_FOLDS[ds],
                          "LOSO folds (subjects here)": counts[ds],
                          "folds run": used.get(ds, f"(from the composite run, {used['composite']} folds)")}
                         for tid, ds in CDE_TABLES.items()]).set_index("table")


def run_cde_experiments(stage, train_data, folds_by_experiment: Mapping, *, test_data=None, params: Mapping | None = None,
                        **cv_kwargs) -> dict:
    """Run one CDE stage (:func:`~.pipeline.make_stage`) over each experiment's folds (:func:`cde_folds`) with
    :func:`~.pipeline.run_stage` (resumable result store); returns ``{experiment: CVResult}``. Each experiment is
    its own run (``dataset`` = the database, or ``casme2+samm`` for the composite; ``params`` gain
    ``experiment``)."""
    from .pipeline import run_stage

    out = {}
    for experiment, folds in folds_by_experiment.items():
        out[experiment] = run_stage(stage, train_data, folds, test_data=test_data,
                                    dataset="casme2+samm" if experiment == "composite" else experiment,
                                    params={**dict(params or {}), "experiment": experiment}, **cv_kwargs)
    return out
