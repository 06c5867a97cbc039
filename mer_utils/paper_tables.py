"""The papers' reported numbers as data, and the comparisons of this course's runs with them.

Each paper's tables live in its folder, ``mer_utils/papers/<paper>/tables.json``; the LBP-TOP baselines that
several papers cite are collected in ``mer_utils/papers/lbptop_baseline.json`` (format in
``.dev/API_evaluation.md`` and :func:`paper_table`). Notebooks show them beside their own results with
:func:`compare_to_paper`, never typed into prose; :func:`comparison_table` puts every run of the result store
(:mod:`mer_utils.results`) beside every paper number.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from .results import load_results, read_json

#: Folder of the paper folders: ``<paper>/tables.json`` per paper, ``<name>.json`` for baselines cited by several.
PAPERS_DIR = Path(__file__).resolve().parent / "papers"
#: Format tag every paper-table file carries.
TABLE_FORMAT = "mer_utils.paper_tables/1"
#: Metric names allowed in paper tables (``accuracy``/``acc`` are read as ``war``); ``<metric>_std`` also allowed.
TABLE_METRICS = ("war", "uar", "uf1", "wf1", "f1")
_METRIC_ALIASES = {"accuracy": "war", "acc": "war", "war": "war", "uar": "uar", "uf1": "uf1",
                   "wf1": "wf1", "f1": "f1", "macro_f1": "uf1"}
#: Dataset name used for a score pooled over a composite (as opposed to one of its datasets).
COMPOSITE = "composite"


def table_files() -> dict[str, Path]:
    """Paper id -> its table file (``papers/<paper>/tables.json``, or ``papers/<name>.json`` for the baselines
    cited by several papers), sorted by id."""
    files = {p.parent.name: p for p in PAPERS_DIR.glob("*/tables.json")}
    files.update({p.stem: p for p in PAPERS_DIR.glob("*.json")})
    return dict(sorted(files.items()))


def _table_file(paper: str) -> Path:
    files = table_files()
    if paper not in files:
        raise FileNotFoundError(f"No paper table file for {paper!r} (papers/{paper}/tables.json or "
                                f"papers/{paper}.json in {PAPERS_DIR}); available: {sorted(files)}.")
    return files[paper]


def _file_label(paper: str) -> str:
    path = _table_file(paper)
    return path.relative_to(path.parents[1] if path.name == "tables.json" else path.parent).as_posix()


def _load_table_file(paper: str) -> dict:
    data = read_json(_table_file(paper))
    if data.get("format") != TABLE_FORMAT:
        raise ValueError(f"{_file_label(paper)}: 'format' must be {TABLE_FORMAT!r}, got {data.get('format')!r}.")
    if not isinstance(data.get("tables"), dict) or not data["tables"]:
        raise ValueError(f"{_file_label(paper)}: expected a non-empty 'tables' object keyed by table id.")
    return data


def list_paper_tables() -> pd.DataFrame:
    """All paper tables (:func:`table_files`): ``paper, table, kind, title, source``."""
    rows = []
    for paper in table_files():
        data = _load_table_file(paper)
        for tid, t in data["tables"].items():
            rows.append({"paper": paper, "table": tid, "kind": t.get("kind", "metrics"),
                         "title": t.get("title", ""), "source": t.get("source", data.get("citation", ""))})
    return pd.DataFrame(rows, columns=["paper", "table", "kind", "title", "source"])


def paper_table(paper: str, table_id: str | int) -> pd.DataFrame:
    """One table of a paper's reported numbers as a DataFrame.

    ``kind = "metrics"`` tables give a long table with columns ``paper, table, method, dataset, protocol,
    metric, value, printed`` (+ any extra columns the file defines): ``value`` is a fraction in [0, 1]
    (``printed / scale``, the table's ``scale`` or a row's own ``scale`` column: 1 for fractions, 100 for
    percent), ``printed`` is the number as it appears in the paper; ``NaN`` where the paper
    prints ``-`` or N/A. ``kind = "confusion"`` tables give the matrix (rows = true class, columns =
    predicted class) divided by ``scale``. The table's ``title``, ``source`` and ``notes`` are in
    ``DataFrame.attrs``. The file format is documented in ``.dev/API_evaluation.md``.
    """
    data = _load_table_file(paper)
    tid = str(table_id)
    if tid not in data["tables"]:
        raise KeyError(f"{_file_label(paper)} has no table {tid!r}; it has {sorted(data['tables'])}.")
    t = data["tables"][tid]
    kind = t.get("kind", "metrics")
    scale = float(t.get("scale", 1))
    where = f"{_file_label(paper)} table {tid!r}"
    if kind == "confusion":
        labels, matrix = t.get("labels"), t.get("matrix")
        if not labels or not matrix or len(matrix) != len(labels) or any(len(r) != len(labels) for r in matrix):
            raise ValueError(f"{where}: a confusion table needs 'labels' (C names) and 'matrix' (C x C).")
        df = pd.DataFrame(np.asarray(matrix, dtype=float) / scale, index=pd.Index(labels, name="true"),
                          columns=pd.Index(labels, name="pred"))
    elif kind == "metrics":
        columns, rows = t.get("columns"), t.get("rows")
        if not columns or rows is None:
            raise ValueError(f"{where}: a metrics table needs 'columns' and 'rows'.")
        records = []
        for i, r in enumerate(rows):
            rec = dict(zip(columns, r)) if isinstance(r, list) else dict(r)
            if isinstance(r, list) and len(r) != len(columns):
                raise ValueError(f"{where}: row {i} has {len(r)} values for {len(columns)} columns {columns}.")
            rec = {**t.get("defaults", {}), **rec}
            missing = [c for c in ("method", "dataset", "protocol", "metric", "value") if c not in rec]
            if missing:
                raise ValueError(f"{where}: row {i} lacks {missing} (give them in 'columns' or 'defaults').")
            rec["metric"] = _norm_metric(rec["metric"], f"{where} row {i}")
            records.append(rec)
        df = pd.DataFrame(records)
        df["printed"] = pd.to_numeric(df["value"], errors="coerce")
        row_scale = pd.to_numeric(df["scale"], errors="coerce").fillna(scale) if "scale" in df else scale
        df["value"] = df["printed"] / row_scale
        df = df.drop(columns=["scale"], errors="ignore")
        df.insert(0, "table", tid)
        df.insert(0, "paper", paper)
        first = ["paper", "table", "method", "dataset", "protocol", "metric", "value", "printed"]
        df = df[first + [c for c in df.columns if c not in first]]
    else:
        raise ValueError(f"{where}: kind={kind!r}; expected 'metrics' or 'confusion'.")
    df.attrs.update({"paper": paper, "table": tid, "title": t.get("title", ""),
                     "source": t.get("source", data.get("citation", "")), "notes": t.get("notes", "")})
    return df


def _norm_metric(name: str, where: str) -> str:
    key = str(name).strip().lower()
    std = key.endswith("_std")
    base = key[:-4] if std else key
    if base not in _METRIC_ALIASES:
        raise ValueError(f"{where}: metric {name!r}; expected one of {TABLE_METRICS} "
                         "(or 'accuracy'; add '_std' for a standard deviation).")
    return _METRIC_ALIASES[base] + ("_std" if std else "")


def paper_tables(papers: Iterable[str] | None = None) -> pd.DataFrame:
    """All ``metrics`` tables of the given papers (default: every file) concatenated into one long table."""
    names = list(papers) if papers is not None else list(table_files())
    frames = []
    for paper in names:
        for tid, t in _load_table_file(paper)["tables"].items():
            if t.get("kind", "metrics") == "metrics":
                frames.append(paper_table(paper, tid))
    if not frames:
        return pd.DataFrame(columns=["paper", "table", "method", "dataset", "protocol", "metric", "value", "printed"])
    return pd.concat(frames, ignore_index=True)


def run_value(summary: Mapping[str, Any], dataset: str, metric: str) -> float | None:
    """Look up ``metric`` for ``dataset`` in a :func:`mer_utils.evaluation.summarize` dict.

    ``dataset = "composite"`` (or the only dataset of a single-dataset run) -> the pooled score; a dataset
    inside a composite -> its per-dataset score. ``f1`` (F1 as printed when a paper does not say which)
    is compared with UF1. ``None`` when the run has no such score.
    """
    metric = {"f1": "uf1"}.get(metric, metric)
    per_ds = summary.get("per_dataset") or {}
    if dataset == COMPOSITE or (len(per_ds) <= 1 and (not per_ds or dataset in per_ds)):
        scope = summary.get("pooled", {})
    else:
        scope = per_ds.get(dataset, {})
    value = scope.get(metric)
    return None if value is None else float(value)


def compare_to_paper(paper_rows: pd.DataFrame, summary: Mapping[str, Any], label: str = "this run") -> pd.DataFrame:
    """Paper numbers beside this run's: one row per paper row, columns ``method, dataset, protocol,
    metric, paper, <label>``. ``paper_rows`` comes from :func:`paper_table` (filter it to the methods
    you compare); ``summary`` from :func:`mer_utils.evaluation.summarize` or ``CVResult.metrics``."""
    need = ["method", "dataset", "protocol", "metric", "value"]
    missing = [c for c in need if c not in paper_rows.columns]
    if missing:
        raise KeyError(f"paper_rows lacks {missing}; pass a metrics table from paper_table().")
    out = paper_rows[["method", "dataset", "protocol", "metric"]].copy()
    out["paper"] = paper_rows["value"].to_numpy()
    out[label] = [run_value(summary, d, m) for d, m in zip(paper_rows["dataset"], paper_rows["metric"])]
    return out.reset_index(drop=True)


# ----------------------------------------------------------------------------------------- comparison
#: Paper-table columns that describe *where* a score was obtained; any other filled column (aggregation,
#: kernel, branch, ablation, ...) marks a variant that :func:`comparison_table` leaves out by default.
CORE_TABLE_COLUMNS = ("paper", "table", "method", "dataset", "protocol", "metric", "value", "printed", "split",
                      "task", "notes")
#: Suffix of result-store protocols that are demonstrations (notebook 02's shuffled labels), not methods.
DEMO_SUFFIXES = ("-shuffled",)


def split_protocol(name: str) -> tuple[str, str | None]:
    """``"reddy2019_smic-loso"`` -> ``("reddy2019_smic", "loso")``; a name without ``-`` -> ``(name, None)``.

    Protocol names of :mod:`mer_utils.data.protocols` use underscores, so a ``-`` separates a split or
    variant that a notebook appended.
    """
    base, _, rest = str(name).partition("-")
    return base, (rest or None)


def comparison_table(runs: pd.DataFrame | None = None, papers: pd.DataFrame | None = None,
                     metrics: Iterable[str] = ("war", "uar", "uf1"), latest_only: bool = True,
                     main_only: bool = True, f1_as_uf1: bool = True) -> pd.DataFrame:
    """One table of every method of this course (from the result store) and every paper number, per protocol
    and dataset.

    Columns: ``protocol, dataset, split, method, source`` (``"this course"`` or ``"paper"``), ``reference``
    (notebook, or paper + table), ``data`` (what the run read; ``"published (licensed data)"`` for papers),
    ``profile``, the ``metrics`` and ``note``. Course runs come from :func:`load_results` (complete runs only;
    demonstrations such as notebook 02's shuffled labels left out; with ``latest_only`` the newest run per
    notebook, dataset, protocol, method and profile); a composite run gives a ``composite`` row plus one row
    per dataset inside it. Paper rows come from :func:`paper_tables`; with ``main_only`` rows describing
    variants (a filled column outside :data:`CORE_TABLE_COLUMNS`) are left out, and a baseline cited by
    several papers with the same numbers appears once. ``f1_as_uf1``: a paper's F1 whose average is not
    stated fills the UF1 column, said in ``note``.
    """
    metrics = list(metrics)
    cols = ["protocol", "dataset", "split", "method", "source", "reference", "data", "profile", *metrics, "note"]
    runs = load_results(per_dataset=True, include_incomplete=False) if runs is None else runs
    frames = []
    if len(runs):
        r = runs[runs["complete"].astype(bool)].copy()
        r = r[~r["protocol"].astype(str).str.endswith(DEMO_SUFFIXES)]
        if latest_only and len(r):
            keys = ["notebook", "dataset", "protocol", "method", "profile"]
            newest = r[r["scope"] == "pooled"].sort_values("created").groupby(keys, dropna=False)["run"].last()
            r = r[r["run"].isin(set(newest))]
        if len(r):
            base = r["protocol"].map(lambda p: split_protocol(p)[0])
            split = r["protocol"].map(lambda p: split_protocol(p)[1])
            multi = r["datasets"].fillna("").str.contains(",")
            scope_ds = np.where(r["scope"] != "pooled", r["scope"],
                                np.where(multi, COMPOSITE, r["datasets"].replace("", np.nan).fillna(r["dataset"])))
            ours = pd.DataFrame({"protocol": base.to_numpy(), "dataset": scope_ds, "split": split.to_numpy(),
                                 "method": r["method"].to_numpy(), "source": "this course",
                                 "reference": r["notebook"].to_numpy(), "data": r["data"].to_numpy(),
                                 "profile": r["profile"].to_numpy(), "note": ""})
            for m in metrics:
                ours[m] = r[m].to_numpy() if m in r.columns else np.nan
            frames.append(ours)
    papers = paper_tables() if papers is None else papers
    if len(papers):
        p = papers.copy()
        if main_only:
            extra = [c for c in p.columns if c not in CORE_TABLE_COLUMNS]
            if extra:
                p = p[p[extra].isna().all(axis=1)]
        p["split"] = p["split"] if "split" in p.columns else None
        p["note"] = ""
        if f1_as_uf1 and "uf1" in metrics:
            key = ["paper", "table", "method", "protocol", "dataset"]
            has_uf1 = set(map(tuple, p.loc[p["metric"] == "uf1", key].astype(str).to_numpy()))
            f1 = (p["metric"] == "f1") & ~p[key].astype(str).apply(tuple, axis=1).isin(has_uf1)
            p.loc[f1, "note"] = "paper's F1 (average not stated) shown as UF1"
            p.loc[f1, "metric"] = "uf1"
        p = p[p["metric"].isin(metrics)]
        p["reference"] = p["paper"] + " " + p["table"].astype(str)
        index = ["protocol", "dataset", "split", "method", "reference"]
        p["split"] = p["split"].fillna("")
        wide = p.pivot_table(index=index, columns="metric", values="value", aggfunc="first").reset_index()
        wide.columns.name = None
        notes = p[(p["note"] != "") & p["value"].notna()].groupby(index)["note"].first()
        wide["note"] = [notes.get(tuple(k), "") for k in wide[index].itertuples(index=False)]
        present = [m for m in metrics if m in wide.columns]
        wide = wide.dropna(subset=present, how="all")
        # a baseline cited by several papers (LBP-TOP...) appears once: same place, same numbers, same name stem;
        # the citing paper's own file wins over the collected baselines file
        wide = wide.sort_values("reference", key=lambda r: r.str.startswith("lbptop_baseline"), kind="stable")
        stem = wide["method"].str.lower().str.replace(r"[^a-z0-9]", "", regex=True).str[:4]
        wide = wide[~pd.concat([wide[["protocol", "dataset", *present]].round(4), stem.rename("stem")],
                               axis=1).duplicated()]
        wide["split"] = wide["split"].replace("", None)
        wide["source"], wide["data"], wide["profile"] = "paper", "published (licensed data)", None
        for m in metrics:
            if m not in wide.columns:
                wide[m] = np.nan
        frames.append(wide)
    if not frames:
        return pd.DataFrame(columns=cols)
    out = pd.concat([f[cols] for f in frames], ignore_index=True)
    order = {"this course": 0, "paper": 1}
    out = out.sort_values(["protocol", "dataset", "source", "method"], key=lambda s: s.map(order) if s.name == "source" else s)
    return out.reset_index(drop=True)


def comparison_selection(table: pd.DataFrame, metric: str = "uf1", papers_per_place: int = 3) -> pd.DataFrame:
    """The rows of :func:`comparison_table` worth plotting for ``metric``, with a ``where`` label
    (``protocol / dataset``).

    Where this course has results: those places only, with every course row, the LBP-TOP baseline and the
    ``papers_per_place`` best paper rows. Without any course results: the same selection of paper rows for
    every place. Rows lacking ``metric`` are dropped.
    """
    t = table.dropna(subset=[metric]).copy()
    t["where"] = t["protocol"].astype(str) + " / " + t["dataset"].astype(str)
    ours = t[t["source"] == "this course"]
    if len(ours):
        t = t[t["where"].isin(set(ours["where"]))]
    paper = t[t["source"] == "paper"]
    lbp = paper[paper["method"].str.contains("LBP-TOP", case=False, regex=False)]
    best = paper.sort_values(metric, ascending=False).groupby("where").head(papers_per_place)
    keep = pd.concat([t[t["source"] == "this course"], lbp, best])
    return keep[~keep.index.duplicated()].sort_values(["where", "source", metric], ascending=[True, False, False])


#: The course notebook of each paper (``NN_slug`` stems start with these numbers).
PAPER_NOTEBOOKS = {"10": "she2020", "20": "peng2018", "30": "reddy2019", "40": "zhao2021", "50": "wei2022"}


def course_main_results(notebook_dir: str | Path | None = None, papers: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per paper notebook: the main model's result **as committed** (``metrics["main"]`` of the stored
    quick run: UAR with its 95% subject-bootstrap interval, chance, majority baseline, positive control) beside
    the best number the paper reports on the same protocol (UAR where the paper gives it, else UF1, else
    accuracy), so a reader sees the course's runs without re-running them or filling a result store."""
    from .course import NOTEBOOK_DIR, list_notebooks
    from .record import committed_metrics

    papers = paper_tables() if papers is None else papers
    rows = []
    for path in list_notebooks(Path(notebook_dir) if notebook_dir is not None else NOTEBOOK_DIR):
        paper = PAPER_NOTEBOOKS.get(path.name[:2])
        if paper is None:
            continue
        try:
            m = committed_metrics(path)
        except ValueError:
            m = {}
        main = m.get("main") or {}
        row = {"notebook": path.stem, "paper": paper, "protocol": main.get("protocol"),
               "data": m.get("data_source"), "UAR": main.get("uar"),
               "UAR 95% CI": [round(float(v), 3) for v in main["uar_ci95"]] if main.get("uar_ci95") else None,
               "chance": main.get("chance_uar"), "majority": main.get("majority_uar"),
               "control (flow + SVM)": main.get("control_uar"), "UF1": main.get("uf1"), "WAR": main.get("war")}
        # "she2020_4class 5fold", "reddy2019_casme_sq-loso": the protocol's registered name comes first
        base = split_protocol(str(main["protocol"]).split()[0])[0] if main.get("protocol") else None
        same = papers[(papers["paper"] == paper) & (papers["protocol"] == base)] if base else papers.iloc[0:0]
        if (same["dataset"] == COMPOSITE).any():  # a composite's pooled number, not one of its datasets'
            same = same[same["dataset"] == COMPOSITE]
        for metric in ("uar", "uf1", "war"):
            vals = same[same["metric"] == metric]["value"]
            if len(vals):
                row["paper reports"] = f"{metric.upper()} up to {vals.max():.3f}"
                break
        else:
            row["paper reports"] = None
        rows.append(row)
    return pd.DataFrame(rows)
