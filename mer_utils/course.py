"""Run the course headless: generate the default data when missing, execute notebooks with papermill,
write the executed notebooks and a run summary under ``runs/``.

Usage (``scripts/course.sh`` sets up the environment, then calls this)::

    python -m mer_utils.course run                          # every notebook, quick profile
    python -m mer_utils.course run --notebook 10 --notebook 20 --profile full
    python -m mer_utils.course run --notebook 30 -p EPOCHS 5 -p DEVICE cuda
    python -m mer_utils.course run --profile full --executor ray   # notebooks as Ray tasks, one GPU each
    python -m mer_utils.course list                         # notebooks and their parameters
    python -m mer_utils.course refresh 00                   # maintainers: store a notebook's default outputs
    python -m mer_utils.course plan --profile full          # cost plan: GPU-hours, GPU/host memory, disk (mer_utils.plan)
    python -m mer_utils.course plan --profile full --notebook 50 --json
    python -m mer_utils.course site [--run runs/<stamp>]    # the static course site (mer_utils.site)

Every check (notebook names, profile, parameter names and values: types from the parameters cell's defaults
and the notebook's profile table, ranges from :data:`mer_utils.validate.CONSTRAINTS`) happens before anything
runs. A notebook that
fails does not stop the batch: the summary marks it failed with the cell and the error, and the exit
code is non-zero.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .config import PROFILES, check_profile
from .paths import repo_path
from .validate import ParameterError, check_parameters, parameter_defaults, profile_converters, profile_types

NOTEBOOK_DIR = repo_path("notebooks")
NOTEBOOK_NAME = re.compile(r"^(\d\d)_([a-z0-9]+(?:_[a-z0-9]+)*)\.ipynb$")
KERNEL_NAME = "python3"
#: Environment for the refresh of committed outputs and for the notebook tests, so both agree.
#: The baselines are CPU runs (``CUDA_VISIBLE_DEVICES=""``): a GPU computes other last digits. Folds run in the
#: notebook's process (``MER_EXECUTOR=local``), whatever the user's shell sets.
REPRODUCIBLE_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TQDM_DISABLE": "1",
                    "PYTHONHASHSEED": "0", "HF_HUB_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": "", "MER_EXECUTOR": "local",
                    # the explorers of notebooks 01 and 50 draw their default state as a figure (mer_utils.explore)
                    "MER_HEADLESS": "1"}


class CourseError(ValueError):
    """A bad request to the runner (unknown notebook, profile or parameter)."""


# --------------------------------------------------------------------------------------------------
# Notebook discovery and validation
# --------------------------------------------------------------------------------------------------
def list_notebooks(folder: Path = NOTEBOOK_DIR) -> list[Path]:
    """The course notebooks (``NN_slug.ipynb``) in run order."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if NOTEBOOK_NAME.match(p.name))


def resolve_notebooks(names: Iterable[str] | None, folder: Path = NOTEBOOK_DIR) -> list[Path]:
    """Map user names (``10``, ``10_she2020_multiple_aggregation``, the file name or a path) to notebooks."""
    available = list_notebooks(folder)
    if not names:
        return available
    chosen = []
    for name in names:
        stem = Path(name).name.removesuffix(".ipynb")
        hits = [p for p in available if p.stem == stem or p.stem.split("_", 1)[0] == stem]
        if len(hits) != 1:
            listing = ", ".join(p.stem for p in available) or "(none yet)"
            raise CourseError(f"Unknown notebook {name!r}: expected a number like '10' or a name from "
                              f"notebooks/: {listing}.")
        if hits[0] not in chosen:
            chosen.append(hits[0])
    return chosen


def declared_parameters(notebook: Path) -> dict[str, Any]:
    """Names (and defaults) declared in the notebook's ``parameters`` cell, read with papermill.

    A line papermill cannot parse (it skips it with a log message: e.g. a comment holding ``=``) would make that
    parameter unknown to ``-p``; it is an error naming the line instead.
    """
    import nbformat
    import papermill as pm

    params = pm.inspect_notebook(str(notebook))
    nb = nbformat.read(str(notebook), as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assigned = [line for c in cells for line in c.source.splitlines()
                if re.match(r"^[A-Za-z_][A-Za-z0-9_]*\s*(:[^=]*)?=", line)]
    unread = [line for line in assigned if re.match(r"^([A-Za-z_][A-Za-z0-9_]*)", line).group(1) not in params]
    if unread:
        raise CourseError(f"{Path(notebook).name}: papermill cannot read the parameter line(s) {unread} of the "
                          "parameters cell; keep one `NAME = value  # comment` per line, without '=' in the comment.")
    return {name: info.get("default") for name, info in params.items()}


def parse_value(text: str) -> Any:
    """Parse a command-line parameter value as YAML (numbers, booleans, null, lists); strings otherwise."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def plan_parameters(notebooks: list[Path], params: dict[str, Any], profile: str) -> dict[Path, dict]:
    """Parameters to pass to each notebook; raise :class:`CourseError` for an undeclared name.

    With one notebook, every name must be declared by it. With several, a name must be declared by at
    least one of them and is passed only to those that declare it. ``PROFILE`` goes to every notebook
    that declares it.
    """
    check_profile(profile)
    declared = {nb: declared_parameters(nb) for nb in notebooks}
    for nb, names in declared.items():
        if "PROFILE" not in names:
            raise CourseError(f"{nb.name} declares no PROFILE parameter; every course notebook must "
                              "(see docs/DESIGN.md). Its parameters are: " + ", ".join(names))
    for name in params:
        holders = [nb for nb in notebooks if name in declared[nb]]
        if not holders:
            where = notebooks[0].name if len(notebooks) == 1 else "any selected notebook"
            known = sorted(set().union(*(declared[nb] for nb in notebooks)))
            raise CourseError(f"Parameter {name!r} is not declared by {where}; declared parameters: "
                              f"{', '.join(known)}.")
    plan = {}
    for nb in notebooks:
        plan[nb] = {"PROFILE": profile, **{k: v for k, v in params.items() if k in declared[nb]}}
    check_values(plan)
    return plan


def check_values(plan: dict[Path, dict]) -> None:
    """Validate every parameter value of ``plan`` before anything runs (:func:`mer_utils.validate.check_parameters`):
    the type of the parameters cell's default (``SEED = 0`` takes an int: not ``abc``, ``1.5`` or ``null``),
    for ``None`` defaults the type of the profile setting they stand for, and the declared constraints
    (``SEED >= 0``, ``EPOCHS >= 1``, ``LR > 0``, ``DEVICE`` names ...). Raises :class:`CourseError`."""
    problems = []
    for nb, values in plan.items():
        try:
            check_parameters(values, parameter_defaults(nb), profile_types(nb), where=nb.name,
                             converters=profile_converters(nb))
        except ParameterError as exc:
            problems.append(str(exc))
    if problems:
        raise CourseError("\n".join(problems))


# --------------------------------------------------------------------------------------------------
# Execution
# --------------------------------------------------------------------------------------------------
@dataclass
class NotebookResult:
    notebook: str
    status: str  # "ok" | "failed"
    seconds: float
    parameters: dict = field(default_factory=dict)
    output: str = ""
    metrics: dict = field(default_factory=dict)
    error: dict | None = None


def _metrics_of(run_dir: Path, stem: str) -> dict:
    path = run_dir / "metrics" / f"{stem}.json"
    if path.exists():
        return json.loads(path.read_text()).get("metrics", {})
    return {}


def execute_notebook(notebook: Path, output: Path, parameters: dict | None, run_dir: Path | None,
                     env: dict[str, str] | None = None, kernel_name: str = KERNEL_NAME,
                     progress: bool = True) -> NotebookResult:
    """Execute one notebook with papermill (cwd = ``notebooks/``); never raises for a failing cell."""
    import papermill as pm

    old_env = dict(os.environ)
    if run_dir is not None:
        os.environ["MER_RUN_DIR"] = str(run_dir)
    os.environ.update(env or {})
    start = time.time()
    error = None
    try:
        pm.execute_notebook(str(notebook), str(output), parameters=parameters or None,
                            cwd=str(notebook.parent), kernel_name=kernel_name, progress_bar=progress,
                            log_output=False)
        status = "ok"
    except pm.PapermillExecutionError as exc:
        status = "failed"
        error = {"cell": exc.cell_index, "execution_count": exc.exec_count, "ename": exc.ename,
                 "evalue": str(exc.evalue)[:2000]}
    except Exception as exc:  # kernel died, bad notebook JSON, ...
        status = "failed"
        error = {"cell": None, "ename": type(exc).__name__, "evalue": str(exc)[:2000],
                 "traceback": traceback.format_exc(limit=5)}
    finally:
        os.environ.clear()
        os.environ.update(old_env)
    seconds = time.time() - start
    metrics = _metrics_of(run_dir, notebook.stem) if run_dir is not None else {}
    return NotebookResult(notebook.stem, status, round(seconds, 1), parameters or {}, str(output), metrics,
                          error)


def ensure_data(size: str) -> Path | None:
    """Generate the default synthetic data of ``size`` when missing (see :mod:`mer_utils.data.synthetic`)."""
    from .data.synthetic import ensure_synthetic

    return ensure_synthetic(size)


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def write_summary(run_dir: Path, results: list[NotebookResult], info: dict) -> Path:
    """``summary.json`` (machine-readable) and ``summary.md`` (a table) in ``run_dir``."""
    payload = {**info, "notebooks": [asdict(r) for r in results]}
    (run_dir / "summary.json").write_text(json.dumps(payload, indent=2, default=str))
    lines = [f"# Course run {run_dir.name}", "",
             f"profile `{info['profile']}`, data `{info['data_size']}`, started {info['started']}", "",
             "| notebook | status | seconds | key metrics | error |", "|---|---|---|---|---|"]
    for r in results:
        flat = _flatten(r.metrics)
        shown = ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                          for k, v in list(flat.items())[:6])
        err = "" if not r.error else f"cell {r.error.get('cell')}: {r.error.get('ename')}: " \
                                     f"{str(r.error.get('evalue')).splitlines()[0][:120] if r.error.get('evalue') else ''}"
        lines.append(f"| {r.notebook} | {r.status} | {r.seconds} | {shown} | {err} |")
    path = run_dir / "summary.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def run(notebooks: list[str] | None = None, profile: str = "quick", params: dict | None = None,
        out: str | os.PathLike | None = None, data_size: str | None = None, generate_data: bool = True,
        kernel_name: str = KERNEL_NAME, folder: Path = NOTEBOOK_DIR,
        require_licensed: bool = False, executor: str = "local") -> tuple[Path, list[NotebookResult]]:
    """Run notebooks headless; return the run folder and the per-notebook results.

    ``require_licensed=True`` (``--require-licensed``): every notebook stops at its first dataset that is not
    under the data root instead of falling back to the synthetic set (``$MER_REQUIRE_LICENSED=1`` in the
    kernels; a notebook's own ``REQUIRE_LICENSED=False`` parameter still wins). The synthetic data is then not
    generated either.
    ``executor``: ``"local"`` runs the notebooks one after another here; ``"ray"``, ``"auto"`` or
    ``"ray://HOST:PORT"`` run each as a Ray task with one GPU (:func:`run_on_ray`), same run folder and summary.
    """
    from .executor import ExecutorError, is_ray, resolve_executor

    try:
        executor = resolve_executor(executor or "local")
    except ExecutorError as exc:
        raise CourseError(str(exc)) from exc
    check_profile(profile)
    chosen = resolve_notebooks(notebooks, folder)
    if not chosen:
        raise CourseError(f"No notebooks found in {folder} (expected files named NN_slug.ipynb).")
    plan = plan_parameters(chosen, dict(params or {}), profile)
    data_size = data_size or ("paper" if profile == "full" else "quick")
    if data_size not in ("quick", "paper"):
        raise CourseError(f"Unknown data size {data_size!r}: expected 'quick' or 'paper'.")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir = Path(out) if out else repo_path("runs", f"{stamp}-{profile}")
    if run_dir.exists() and any(run_dir.iterdir()):
        raise CourseError(f"Output folder {run_dir} exists and is not empty; choose another --out "
                          "(the runner never overwrites an earlier run).")
    (run_dir / "notebooks").mkdir(parents=True, exist_ok=True)
    info = {"profile": profile, "data_size": data_size, "started": stamp, "parameters": params or {},
            "python": sys.version.split()[0]}
    info["require_licensed"] = bool(require_licensed)
    if generate_data and not require_licensed:
        print(f"[course] making sure the synthetic '{data_size}' data exists ...", flush=True)
        t0 = time.time()
        root = ensure_data(data_size)
        info["data_seconds"] = round(time.time() - t0, 1)
        print(f"[course] data ready at {root} ({info['data_seconds']} s)", flush=True)
    env = {"MER_SYNTHETIC_SIZE": data_size, "MER_HEADLESS": "1"}  # explorers as static figures (mer_utils.explore)
    if require_licensed:
        from .paths import REQUIRE_LICENSED_ENV

        env[REQUIRE_LICENSED_ENV] = "1"
    info["executor"] = executor
    if is_ray(executor):
        results = run_on_ray(executor, chosen, plan, run_dir, env, kernel_name, info)
    else:
        results = _run_here(chosen, plan, run_dir, env, kernel_name, info)
    summary = write_summary(run_dir, results, info)
    print(summary.read_text())
    print(f"[course] executed notebooks and summary in {run_dir}")
    return run_dir, results


def _report(res: NotebookResult) -> None:
    msg = "ok" if res.status == "ok" else f"FAILED in cell {res.error.get('cell')}: {res.error.get('ename')}"
    print(f"[course] {res.notebook}: {msg} ({res.seconds} s)", flush=True)


def _run_here(chosen, plan, run_dir, env, kernel_name, info) -> list[NotebookResult]:
    results = []
    for nb in chosen:
        print(f"[course] running {nb.name} with {plan[nb]} ...", flush=True)
        res = execute_notebook(nb, run_dir / "notebooks" / nb.name, plan[nb], run_dir, env, kernel_name)
        results.append(res)
        _report(res)
        write_summary(run_dir, results, info)
    return results


def ray_stages(chosen: list[Path]) -> list[list[Path]]:
    """Notebooks grouped into stages that may run at the same time: the shared notebooks (``0N``: data,
    preprocessing caches, evaluation), then the papers (``10``-``89``), then the closing ones (``9N``, which
    read every other notebook's results)."""
    def stage(nb: Path) -> int:
        n = int(nb.name[:2])
        return 0 if n < 10 else (2 if n >= 90 else 1)
    return [grp for k in (0, 1, 2) if (grp := [nb for nb in chosen if stage(nb) == k])]


def _notebook_task(sys_path, notebook, output, parameters, run_dir, env, kernel_name):
    """One notebook inside a Ray worker (Ray shows it only its own GPU); its folds run locally."""
    from .executor import extend_sys_path

    extend_sys_path(sys_path)
    return execute_notebook(Path(notebook), Path(output), parameters, Path(run_dir), env, kernel_name,
                            progress=False)


def run_on_ray(executor: str, chosen, plan, run_dir: Path, env: dict, kernel_name: str,
               info: dict) -> list[NotebookResult]:
    """Run the notebooks as Ray tasks, one GPU each (one CPU core without GPUs), stage by stage
    (:func:`ray_stages`); the summary is rewritten as each finishes, in the notebooks' order. The run folder,
    the data and the result store must be on a filesystem every node sees (a cluster) — on one machine they are."""
    from .executor import ExecutorError, connect, task_options

    try:
        ray = connect(executor)
    except ExecutorError as exc:
        raise CourseError(str(exc)) from exc
    opts = task_options(ray)
    info["ray"] = {"tasks": opts, "cluster": {k: v for k, v in ray.cluster_resources().items()
                                              if k in ("CPU", "GPU", "memory")}}
    task = ray.remote(**opts)(_notebook_task)
    env = {**env, "MER_EXECUTOR": "local"}  # a notebook holds one GPU: its folds run one after another
    done: dict[Path, NotebookResult] = {}
    for group in ray_stages(chosen):
        print(f"[course] Ray ({executor}): starting {', '.join(nb.name for nb in group)} ({opts})", flush=True)
        pending = {task.remote(list(sys.path), str(nb), str(run_dir / "notebooks" / nb.name), plan[nb], str(run_dir),
                               env, kernel_name): nb for nb in group}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                nb = pending.pop(ref)
                try:
                    res = ray.get(ref)
                except ray.exceptions.RayError as err:  # the worker died (retries exhausted)
                    res = NotebookResult(nb.stem, "failed", 0.0, plan[nb], str(run_dir / "notebooks" / nb.name),
                                         {}, {"cell": None, "ename": type(err).__name__, "evalue": str(err)[:2000]})
                done[nb] = res
                _report(res)
                write_summary(run_dir, [done[n] for n in chosen if n in done], info)
    return [done[nb] for nb in chosen]


def strip_execution_metadata(path: Path, baseline: dict | None = None) -> None:
    """Remove papermill/timing metadata so a refreshed notebook diffs cleanly; record ``baseline`` (the
    environment the outputs were stored under, :func:`mer_utils.envcheck.baseline_fingerprint`) in
    ``metadata["mer_course"]["baseline"]``, which the nbval run checks before comparing outputs."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    nb.metadata.pop("papermill", None)
    if baseline is not None:
        nb.metadata.setdefault("mer_course", {})["baseline"] = baseline
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    nbformat.write(nb, str(path))


def refresh(notebooks: list[str], kernel_name: str = KERNEL_NAME) -> list[NotebookResult]:
    """Execute notebooks in place with their default parameters (the committed nbval baseline).

    Runs with :data:`REPRODUCIBLE_ENV` (one thread, no progress bars), as the notebook tests do. A notebook
    that fails is left unchanged on disk.
    """
    import shutil
    import tempfile

    from .envcheck import baseline_fingerprint, lock_mismatches

    if not notebooks:
        raise CourseError("refresh needs notebook names (e.g. 'refresh 00 01', or 'refresh all'); it "
                          "rewrites the committed notebooks, so it never defaults to all of them.")
    chosen = resolve_notebooks(None if list(notebooks) == ["all"] else notebooks)
    bad = lock_mismatches()
    if bad:
        raise CourseError("refresh stores the nbval baselines, which hold only under the locked versions, but "
                          f"{len(bad)} package(s) differ from requirements/lock.txt (e.g. "
                          + ", ".join(f"{n} {have} instead of {want}" for n, want, have in bad[:3])
                          + "). Run scripts/bootstrap.sh first.")
    baseline = baseline_fingerprint()
    results = []
    for nb in chosen:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / nb.name
            # A clean result store and cache, as on a fresh clone, so the stored outputs are those of a
            # first run (no "resumed fold" messages) and equal what the tests see.
            env = {**REPRODUCIBLE_ENV, "MER_RESULTS_ROOT": str(Path(tmp) / "results"),
                   "MER_CACHE_ROOT": str(Path(tmp) / "cache")}
            res = execute_notebook(nb, out, None, Path(tmp), env, kernel_name, progress=True)
            if res.status == "ok":
                strip_execution_metadata(out, baseline)
                shutil.copyfile(out, nb)
        print(f"[refresh] {nb.name}: {res.status} ({res.seconds} s)"
              + (f" — cell {res.error['cell']}: {res.error['ename']}: {res.error['evalue'][:300]}"
                 if res.error else ""), flush=True)
        results.append(res)
    return results


# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mer-course", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="execute notebooks headless and write runs/<stamp>/summary.md")
    r.add_argument("--notebook", "-n", action="append", help="notebook number or name (repeatable; "
                   "default: all)")
    r.add_argument("--profile", default="quick", help=f"one of {PROFILES} (default quick)")
    r.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"), default=[],
                   help="a notebook parameter (value parsed as YAML), repeatable")
    r.add_argument("--out", help="output folder (default runs/<timestamp>-<profile>)")
    r.add_argument("--data-size", choices=("quick", "paper"), help="synthetic data size "
                   "(default: paper for the full profile, else quick)")
    r.add_argument("--no-data", action="store_true", help="do not generate the synthetic data first")
    r.add_argument("--require-licensed", action="store_true", help="stop each notebook at its first dataset "
                   "missing under the data root instead of using the synthetic set ($MER_REQUIRE_LICENSED=1)")
    r.add_argument("--kernel", default=KERNEL_NAME, help="Jupyter kernel name (default python3)")
    r.add_argument("--executor", default="local", help="local (default: one notebook after another) | ray (each "
                   "notebook a Ray task with one GPU, on this machine) | auto | ray://HOST:PORT (an existing Ray "
                   "cluster); needs `pip install -e .[ray]`")
    sub.add_parser("list", help="list the notebooks and their parameters")
    c = sub.add_parser("plan", help="estimated GPU-hours (one H100), peak GPU / host memory and disk per notebook "
                       "(computed from the settings and the data's size; see mer_utils.plan)")
    c.add_argument("--notebook", "-n", action="append", help="notebook number or name (repeatable; default: all, "
                   "plus the synthetic data)")
    c.add_argument("--profile", default="full", help=f"one of {PROFILES} (default full)")
    c.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"), default=[],
                   help="a notebook parameter (value parsed as YAML), repeatable, e.g. -p EPOCHS 10")
    c.add_argument("--json", action="store_true", help="a JSON list: one object per notebook (notebook, gpu_hours, "
                   "gpu_gb, host_gb, disk_gb, kind, stages, notes), the last one the total (notebook 'total')")
    c.add_argument("--stages", action="store_true", help="also print each notebook's stages and their formulas' inputs")
    d = sub.add_parser("disk", help="what the course keeps on disk (preprocessing caches per parameter set, the "
                       "result store per run, data, weights), largest first; --remove deletes folders you name")
    d.add_argument("--json", action="store_true", help="a JSON list, one object per folder (name, kind, path, "
                   "bytes, files, modified, what, removable)")
    d.add_argument("--remove", nargs="+", metavar="NAME", help="delete these folders (names as the listing "
                   "prints them; not data or weights; nothing is deleted if one name is wrong)")
    d.add_argument("--force", action="store_true", help="with --remove: also folders written in the last "
                   "minutes (a running notebook may be using them)")
    f = sub.add_parser("refresh", help="maintainers: execute notebooks in place with default parameters")
    f.add_argument("notebooks", nargs="+")
    f.add_argument("--kernel", default=KERNEL_NAME)
    s = sub.add_parser("site", help="build the static course site (HTML) from executed notebooks, without "
                       "re-executing them")
    s.add_argument("--run", help="a run folder (runs/<stamp>-<profile>) or a folder of executed notebooks "
                   "(default: the committed notebooks/)")
    s.add_argument("--out", help="build folder (default runs/site): src/ (generated Sphinx project) and html/")
    s.add_argument("--verbose", action="store_true", help="show Sphinx's progress and warnings")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "list":
            for nb in list_notebooks():
                print(f"{nb.name}: " + ", ".join(f"{k}={v}" for k, v in declared_parameters(nb).items()))
            return 0
        if args.command == "plan":
            from . import plan as cost

            params = {name: parse_value(value) for name, value in args.param}
            rows = cost.plan(args.profile, args.notebook, params)
            if args.json:
                print(json.dumps(rows, indent=1, default=float))
            else:
                print(f"Cost plan, profile {args.profile!r} (estimates; constants and formulas in mer_utils/plan.py):")
                print(cost.format_table(rows, markdown=False))
                if args.stages:
                    print(cost.format_stages(rows))
                else:
                    for r in rows:
                        for note in r.get("notes", []):
                            print(f"note ({r['notebook']}): {note}")
            return 0
        if args.command == "disk":
            from . import storage

            try:
                if args.remove:
                    for item in storage.remove(args.remove, force=args.force):
                        print(f"removed {item.name} ({item.bytes / 1e9:.2f} GB): {item.path}")
                    return 0
            except storage.StorageError as exc:
                raise CourseError(str(exc)) from exc
            items = storage.inventory()
            print(json.dumps([i.row() for i in items], indent=1) if args.json else storage.format_inventory(items))
            return 0
        if args.command == "site":
            from .site import SiteError, build_site

            try:
                t0 = time.time()
                html = build_site(args.run, args.out, quiet=not args.verbose)
            except SiteError as exc:
                raise CourseError(str(exc)) from exc
            print(f"[site] built in {time.time() - t0:.0f} s: open {html / 'index.html'}")
            return 0
        if args.command == "refresh":
            results = refresh(args.notebooks, args.kernel)
            return 0 if all(r.status == "ok" for r in results) else 1
        params = {name: parse_value(value) for name, value in args.param}
        if "PROFILE" in params:
            raise CourseError("Pass the profile with --profile, not -p PROFILE.")
        _, results = run(args.notebook, args.profile, params, args.out, args.data_size,
                         not args.no_data, args.kernel, require_licensed=args.require_licensed,
                         executor=args.executor)
        return 0 if all(r.status == "ok" for r in results) else 1
    except CourseError as exc:
        print(f"mer-course: error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # e.g. unknown profile from check_profile
        print(f"mer-course: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
