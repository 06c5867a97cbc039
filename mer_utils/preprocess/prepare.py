"""Run a recipe over a clip table: faces once per clip, outputs cached on disk, a process pool, a report.

::

    prep = prepare("she2020", table)          # Prepared(table, arrays, report)
    prep.arrays["face"].shape                 # (N, 64, 140, 120, 3), rows in the table's order
    print(prep.report)                        # cache hits, faces found / fallen back, failures, timings

Stages: (1) landmarks of every clip (cached per clip and detector; one detection on the onset frame);
(2) clips without a face take the landmarks of the previous clip of the same subject in the table (same frame
size; the next one for a subject's first clips), else a whole-frame template — counted and reported; (3) the recipe's per-clip outputs, cached under the
recipe's parameter key; (4) outputs stacked over the clips (memory-mapped from the cache when large). One bad clip
(unreadable frames) does not stop the run: its arrays are zeros, ``prep_ok`` is False and the error is reported.
"""
from __future__ import annotations

import math
import multiprocessing as mp
import os
import time
import warnings
from contextlib import contextmanager
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .cache import PREPROCESS_VERSION, CacheWarning, atomic_save_npz, atomic_write_json, canonical, clip_path, \
    digest, frames_fingerprint, load_npz, npy_problem, preprocess_root, read_json, slim_entry
from .align import alignment_transform
from .clips import clip_segment, read_positions, shared_decoding
from .faces import detect_landmarks, whole_frame_landmarks
from .recipe import StepTimer

#: Version of the face stage (detection + landmarks); part of the landmark cache key.
FACE_VERSION = "1"
#: Stacks larger than this many bytes are memory-mapped from the cache instead of held in memory.
MEMMAP_BYTES = 1 << 30

_ROW_KEYS = ("clip_uid", "clip", "dataset", "subject", "subject_uid", "frame_numbers", "frame_paths", "onset",
             "apex", "offset", "apex_estimated")


# --------------------------------------------------------------------------------------------- report
@dataclass
class PrepareReport:
    """What :func:`prepare` did: cache use, faces, failures and time per step."""

    recipe: str
    params_key: str
    n_clips: int = 0
    cached: int = 0
    computed: int = 0
    recomputed: list = field(default_factory=list)
    stacks_rebuilt: list = field(default_factory=list)
    workers: int = 1
    faces_detected: int = 0
    faces_previous: int = 0
    faces_next: int = 0
    faces_whole_frame: int = 0
    fallbacks: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    seconds: dict = field(default_factory=dict)
    frames: dict = field(default_factory=dict)
    wall_seconds: float = 0.0
    #: the other recipes prepared in the same :func:`prepare_many` run (each clip decoded once for all of them);
    #: ``wall_seconds`` is then the whole run's
    shared_with: list = field(default_factory=list)

    @property
    def n_failed(self) -> int:
        return len(self.failed)

    def step_table(self) -> pd.DataFrame:
        """Seconds (summed over workers), frames and frames per second for each step."""
        rows = [{"step": k, "seconds": s, "frames": self.frames.get(k, 0),
                 "frames_per_s": self.frames.get(k, 0) / s if s > 0 else float("nan")} for k, s in self.seconds.items()]
        return pd.DataFrame(rows, columns=["step", "seconds", "frames", "frames_per_s"])

    def as_dict(self) -> dict:
        return canonical({k: getattr(self, k) for k in self.__dataclass_fields__} | {"n_failed": self.n_failed})

    def __str__(self) -> str:
        lines = [f"{self.recipe} [{self.params_key}]: {self.n_clips} clips — {self.cached} from cache, "
                 f"{self.computed} computed with {self.workers} worker(s) in {self.wall_seconds:.1f} s"
                 + (f" ({len(self.recomputed)} of them damaged in the cache and recomputed)" if self.recomputed else ""),
                 f"  faces: {self.faces_detected} detected, {self.faces_previous} from the previous clip of the "
                 f"subject, {self.faces_next} from its next clip, {self.faces_whole_frame} whole frame"]
        if self.shared_with:
            lines.append(f"  frames and faces shared with {', '.join(self.shared_with)} (one decode per clip)")
        for fb in self.fallbacks[:5]:
            lines.append(f"    {fb['clip_uid']}: {fb['source']}")
        if len(self.fallbacks) > 5:
            lines.append(f"    ... and {len(self.fallbacks) - 5} more")
        for r in self.recomputed[:5]:
            lines.append(f"    recomputed {r['clip_uid']}: {r['reason']}")
        for r in self.stacks_rebuilt[:5]:
            lines.append(f"    rebuilt stack {r['path']}: {r['reason']}")
        if self.failed:
            lines.append(f"  FAILED: {len(self.failed)} clip(s) (arrays left as zeros, prep_ok False)")
            for f in self.failed[:5]:
                lines.append(f"    {f['clip_uid']}: {f['error']}")
        return "\n".join(lines)


@dataclass
class Prepared:
    """The result of :func:`prepare`.

    ``table``: the input table (same rows, same order, same index) plus ``face_source``, ``prep_ok`` and the
    recipe's per-clip columns; ``arrays``: name -> array stacked over clips (row i = table row i), read-only
    memory maps for large outputs, plus the recipe's views (e.g. She et al.'s RoIs); ``landmarks`` (N, 68, 2) in
    frame pixels and ``transforms`` (N, 2, 3) face alignment matrices; ``params``: the resolved parameters.
    """

    recipe: str
    params: Any
    table: pd.DataFrame
    arrays: dict
    report: PrepareReport
    landmarks: np.ndarray
    transforms: np.ndarray
    cache_dir: Path | None = None

    def __len__(self) -> int:
        return len(self.table)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}{tuple(v.shape)}" for k, v in self.arrays.items())
        return f"Prepared({self.recipe}, {len(self)} clips: {shapes})"


# ----------------------------------------------------------------------------------------- helpers
def _row_dict(row: pd.Series) -> dict:
    out = {}
    for k in _ROW_KEYS:
        if k in row.index:
            v = row[k]
            if isinstance(v, np.ndarray):
                v = v.tolist()
            out[k] = v
    return out


def _check_table(table: pd.DataFrame) -> None:
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"prepare() needs a clip table (pandas DataFrame), got {type(table).__name__}.")
    missing = [c for c in ("clip_uid", "frame_paths", "frame_numbers") if c not in table.columns]
    if missing:
        raise ValueError(f"The clip table lacks column(s) {missing}; expected a table from mer_utils.data loaders "
                         "(clip_uid, frame_paths, frame_numbers, onset, apex, offset, ...).")
    dup = table["clip_uid"][table["clip_uid"].duplicated()].tolist()
    if dup:
        raise ValueError(f"clip_uid must be unique (it keys the cache); repeated: {dup[:5]}.")


def face_key(detector: str, landmark_frames: int) -> str:
    """Cache key of the face stage for a detector and the number of frames averaged."""
    return digest({"detector": detector, "landmark_frames": int(landmark_frames), "face": FACE_VERSION,
                   "preprocess": PREPROCESS_VERSION})


def clip_face(row, detector: str = "hog", landmark_frames: int = 1) -> dict:
    """Detect the face and its 68 landmarks on the onset frame of a clip-table row.

    With ``landmark_frames`` > 1 the landmarks of that many frames from the onset are averaged. When no face is
    found there, the apex and the middle frame of the onset..offset segment are tried. Returns a dict with
    ``status`` (``"detected"`` / ``"missing"``), ``landmarks`` (68x2 list or None), ``box``, ``position`` (in the
    segment), ``frame_shape``, ``seconds``.
    """
    t0 = time.perf_counter()
    seg = clip_segment(row, "onset_offset")
    first = list(range(seg.onset, min(seg.onset + int(landmark_frames), len(seg))))
    found, shape, box, where = [], None, None, None
    for group in (first, [seg.apex], [(seg.onset + seg.offset) // 2]):
        for p in group:
            img = read_positions(seg, [p], color=False)[0]
            shape = img.shape
            face = detect_landmarks(img, method=detector)
            if face is not None:
                found.append(face.landmarks)
                if box is None:
                    box, where = face.box, p
        if found:
            break
    status = "detected" if found else "missing"
    return {"status": status, "landmarks": np.mean(found, axis=0).tolist() if found else None,
            "box": list(box) if box is not None else None, "position": where, "frame_shape": list(shape[:2]),
            "seconds": time.perf_counter() - t0}


def _face_task(row: dict, detector: str, landmark_frames: int, path: str | None) -> dict:
    try:
        out = clip_face(row, detector, landmark_frames)
    except Exception as exc:  # unreadable frames: reported by the output stage
        out = {"status": "error", "landmarks": None, "box": None, "position": None, "frame_shape": None,
               "error": f"{type(exc).__name__}: {exc}", "seconds": 0.0}
    if path is not None and out["status"] != "error":
        atomic_write_json(Path(path), out)
    return out


def _output_task(recipe_name: str, params: dict, row: dict, landmarks: list, path: str | None,
                 want_arrays: bool) -> dict:
    from ..papers import get_recipe  # the registry sits above the paper folders, which import this package

    recipe = get_recipe(recipe_name)
    p = recipe.params_class(**params)
    timer = StepTimer()
    try:
        seg = clip_segment(row, p.segment)
        arrays, meta = recipe.process(seg, np.asarray(landmarks, dtype=np.float64), p, timer)
        meta = dict(meta)
        if seg.notes:
            meta["notes"] = list(seg.notes)
        if path is not None:
            with timer("write", 1):
                atomic_save_npz(Path(path), arrays, meta)
        return {"ok": True, "meta": meta, "arrays": arrays if want_arrays else None, "seconds": timer.seconds,
                "frames": timer.frames}
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}", "meta": {}, "arrays": None,
                "seconds": timer.seconds, "frames": timer.frames}


def _clip_faces_task(row: dict, requests: list) -> list:
    """Faces of one clip for every (detector, landmark_frames, cache path) in ``requests``, its frames decoded
    once for all of them."""
    with shared_decoding():
        return [_face_task(row, detector, frames, path) for detector, frames, path in requests]


def _clip_outputs_task(row: dict, jobs: list, tensor_device: str | None = None) -> list:
    """The outputs of every recipe in ``jobs`` ((recipe, params, landmarks, path, want_arrays) each) for one clip,
    its frames decoded once for all of them (on ``tensor_device`` with the tensor path when given)."""
    from .recipe import tensor_path

    with shared_decoding(), tensor_path(tensor_device):
        return [_output_task(name, params, row, landmarks, path, want) for name, params, landmarks, path, want in jobs]


_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


@contextmanager
def _single_threaded_children():
    """Start pool workers with one BLAS / OpenMP thread each (they inherit the environment at start): one
    process per core is faster than processes that each start a thread per core."""
    saved = {k: os.environ.get(k) for k in _THREAD_VARS}
    os.environ.update({k: "1" for k in _THREAD_VARS})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _init_worker() -> None:
    import cv2

    cv2.setNumThreads(1)


def _n_workers(workers: int | None, n_tasks: int) -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if workers is None:
        # a worker costs a second or two to start (spawn, imports, dlib's model): give each at least 8 clips
        workers = min(cores, max(1, math.ceil(n_tasks / 8)))
    return max(1, min(int(workers), max(n_tasks, 1)))


class _Pool:
    """A spawn-started process pool created on first use (sized by the first stage that needs one) and shared by
    the stages of one :func:`prepare` call; ``workers == 1`` runs everything in this process."""

    def __init__(self, workers: int | None):
        self.requested = workers
        self.size = 1
        self._ex = None
        self._env = None

    def executor(self, n_tasks: int):
        if self._ex is None:
            self.size = _n_workers(self.requested, n_tasks)
            if self.size <= 1:
                return None
            self._env = _single_threaded_children()
            self._env.__enter__()
            self._ex = ProcessPoolExecutor(max_workers=self.size, mp_context=mp.get_context("spawn"),
                                           initializer=_init_worker)
        return self._ex

    def close(self):
        if self._ex is not None:
            self._ex.shutdown(wait=True, cancel_futures=True)
            self._ex = None
        if self._env is not None:
            self._env.__exit__(None, None, None)
            self._env = None


def _run(fn, tasks: list[tuple], pool: _Pool, desc: str, progress: bool) -> list:
    """Run ``fn(*task)`` for every task, in the pool or in this process."""
    from tqdm.auto import tqdm

    results: list = [None] * len(tasks)
    if not tasks:
        return results
    bar = tqdm(total=len(tasks), desc=desc, disable=not progress, leave=False)
    try:
        ex = pool.executor(len(tasks))
        if ex is None:
            for i, t in enumerate(tasks):
                results[i] = fn(*t)
                bar.update()
        else:
            futures = {ex.submit(fn, *t): i for i, t in enumerate(tasks)}
            for fut in as_completed(futures):
                results[futures[fut]] = fut.result()
                bar.update()
    finally:
        bar.close()
    return results


# ------------------------------------------------------------------------------------------- prepare
def prepare(recipe, table: pd.DataFrame, params=None, cache: bool = True, workers: int | None = None,
            progress: bool = True, profile: str | None = None, memmap: bool | None = None,
            tensor_device="auto") -> Prepared:
    """Run ``recipe`` (a name or a :class:`~mer_utils.preprocess.recipe.Recipe`) over every clip of ``table``.

    ``params``: a dict or params object overriding the recipe's defaults (``profile``: start from the recipe's
    suggestions for ``ci`` / ``quick`` / ``full``). ``cache``: read and write the on-disk cache
    (:mod:`mer_utils.preprocess.cache`). ``workers``: processes for the per-clip work (default: the cores,
    fewer when there are few clips to compute; 1 = in this process). ``memmap``: force (True) or forbid (False)
    memory-mapped stacks (default: when larger than 1 GiB; needs ``cache``). ``tensor_device``: ``"auto"`` runs
    the decoding and per-frame arithmetic as tensor operations on the GPU when CUDA is present
    (:mod:`~mer_utils.preprocess.tensor_ops`; equal to the reference within the tolerances stated there, cached
    under their own key) and the OpenCV / NumPy reference otherwise; None forces the reference, ``"cpu"`` /
    ``"cuda"`` the tensor path there. Several recipes over the same clips: :func:`prepare_many` (each clip decoded
    once for all of them).
    """
    from ..papers import get_recipe  # the registry sits above the paper folders, which import this package

    rec = get_recipe(recipe)
    _check_table(table)
    return _prepare_all([(rec, params, profile)], table, cache, workers, progress, memmap, tensor_device)[rec.name]


def prepare_many(recipes, table: pd.DataFrame, params: dict | None = None, cache: bool = True,
                 workers: int | None = None, progress: bool = True, profile=None,
                 memmap: bool | None = None, tensor_device="auto") -> dict[str, Prepared]:
    """:func:`prepare` for several recipes over the same clip table, each clip's frames decoded once for all.

    ``recipes``: names (or :class:`~mer_utils.preprocess.recipe.Recipe` objects); ``params``: recipe name ->
    its params (dict or params object); ``profile``: one profile for all (``"quick"``) or recipe name -> profile;
    the other arguments as for :func:`prepare`.
    Faces are detected once per clip and detector (the recipes that use the same detector share them), then each
    clip is decoded once and handed to every recipe that still needs it (not in the cache), one clip per worker at
    a time. Every recipe's cache entries are exactly those :func:`prepare` writes for it alone (same keys, same
    contents). Returns recipe name -> :class:`Prepared`, in the order given.

    ::

        preps = prepare_many(["she2020", "zhao2021", "wei2022"], table, profile="quick")
        preps["she2020"].arrays["face"].shape
    """
    from ..papers import get_recipe  # the registry sits above the paper folders, which import this package

    if isinstance(recipes, (str, bytes)) or not hasattr(recipes, "__iter__"):
        recipes = [recipes]
    recs = [get_recipe(r) for r in recipes]
    names = [r.name for r in recs]
    if not recs:
        raise ValueError("prepare_many() needs at least one recipe, e.g. ['she2020', 'wei2022'].")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"Recipe(s) {dup} named twice; give each recipe once (its params by name in params=).")
    params = dict(params or {})
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise ValueError(f"params names recipe(s) {unknown} that are not prepared here; expected keys among {names}.")
    profiles = dict(profile) if isinstance(profile, dict) else {n: profile for n in names}
    unknown = sorted(set(profiles) - set(names))
    if unknown:
        raise ValueError(f"profile names recipe(s) {unknown} that are not prepared here; expected keys among {names}.")
    _check_table(table)
    return _prepare_all([(r, params.get(r.name), profiles.get(r.name)) for r in recs], table, cache, workers,
                        progress, memmap, tensor_device)


def _prepare_all(specs: list, table: pd.DataFrame, cache: bool, workers: int | None, progress: bool,
                 memmap: bool | None, tensor_device="auto") -> dict[str, Prepared]:
    """The stages of :func:`prepare` for (recipe, params, profile) ``specs``, sharing faces and decoded frames."""
    from .tensor_ops import resolve_tensor_device

    t_start = time.perf_counter()
    dev = resolve_tensor_device(tensor_device)
    runs = [_Preparation(rec, table, rec.params(p, profile=prof, table=table), cache, progress,
                         None if dev is None else str(dev)) for rec, p, prof in specs]
    pool = _Pool(workers)
    try:
        _find_faces(runs, pool)
        for run in runs:
            run.resolve_fallbacks()
        # on the tensor path each worker opens its own device context; the steps left on the CPU (optical flow,
        # writing the cache) still run in parallel
        _compute_outputs(runs, pool, None if dev is None else str(dev))
        arrays = [run.stack(memmap) for run in runs]
    finally:
        pool.close()
    wall = time.perf_counter() - t_start
    out = {}
    for run, arr in zip(runs, arrays):
        run.report.workers = pool.size
        run.report.wall_seconds = wall
        run.report.shared_with = [r.rec.name for r in runs if r is not run]
        out[run.rec.name] = run.result(arr)
    return out


def _label(runs: list, what: str) -> str:
    return f"{runs[0].rec.name}: {what}" if len(runs) == 1 else f"{len(runs)} recipes: {what}"


def _find_faces(runs: list, pool: "_Pool") -> None:
    """(1) Landmarks of every clip for every recipe: from the cache, or detected once per clip and detector."""
    wanted: dict[int, dict] = {}  # clip -> (detector, landmark_frames) -> [(run, cache path)]
    for run in runs:
        for i, key, path in run.face_requests():
            wanted.setdefault(i, {}).setdefault(key, []).append((run, path))
    todo = sorted(wanted)
    tasks = [(runs[0].rows[i], [(d, f, str(users[0][1]) if users[0][1] is not None else None)
                                for (d, f), users in wanted[i].items()]) for i in todo]
    for i, results in zip(todo, _run(_clip_faces_task, tasks, pool, _label(runs, "faces"), runs[0].progress)):
        for users, r in zip(wanted[i].values(), results):
            for k, (run, _) in enumerate(users):
                run.faces[i] = r
                if k == 0:  # the detection's time and frame count go to the first recipe that asked for it
                    run._add_steps({"detect": r.get("seconds", 0.0)}, {"detect": int(r["status"] != "error")})


def _compute_outputs(runs: list, pool: "_Pool", tensor_device: str | None = None) -> None:
    """(3) Every recipe's arrays for its clips not in the cache: one task per clip for all the recipes."""
    jobs: dict[int, list] = {}
    for run in runs:
        for i, job in run.output_jobs():
            jobs.setdefault(i, []).append((run, job))
    todo = sorted(jobs)
    tasks = [(runs[0].rows[i], [job for _, job in jobs[i]], tensor_device) for i in todo]
    for i, results in zip(todo, _run(_clip_outputs_task, tasks, pool, _label(runs, "clips"), runs[0].progress)):
        for (run, _), r in zip(jobs[i], results):
            run.take_output(i, r)


class _Preparation:
    """The state of one :func:`prepare` call, stage by stage."""

    def __init__(self, rec, table: pd.DataFrame, p, cache: bool, progress: bool, tensor_device: str | None = None):
        self.rec, self.table, self.p, self.cache, self.progress = rec, table, p, cache, progress
        self.tensor_device = tensor_device
        self.pdict = canonical(p)
        what = {"recipe": rec.name, "version": rec.version, "preprocess": PREPROCESS_VERSION, "params": self.pdict}
        if tensor_device is not None:  # outputs of the tensor path are kept apart from the reference path's (never mixed)
            what["tensor_ops"] = True
        self.identity = what  # written as params.json: everything the key hashes (mer-course disk reads it)
        key = digest(what)
        self.base = preprocess_root() / rec.name / key
        self.report = PrepareReport(rec.name, key, n_clips=len(table))
        self.rows = [_row_dict(r) for _, r in table.iterrows()]
        self.uids = [str(r["clip_uid"]) for r in self.rows]
        self.fingerprints = [frames_fingerprint(r.get("frame_paths") or []) for r in self.rows]
        n = len(self.rows)
        self.faces: list = [None] * n
        self.landmarks = np.zeros((n, 68, 2))
        self.sources: list[str] = []
        self.metas: list = [None] * n
        self.ok = [True] * n
        self.loaded: dict[int, dict] = {}
        self.entries: list[Path] = []

    def _add_steps(self, seconds: dict, frames: dict) -> None:
        for k, v in seconds.items():
            self.report.seconds[k] = self.report.seconds.get(k, 0.0) + v
            self.report.frames[k] = self.report.frames.get(k, 0) + frames.get(k, 0)

    def _fail(self, i: int, error: str) -> None:
        self.ok[i] = False
        self.metas[i] = {}
        self.report.failed.append({"clip_uid": self.uids[i], "error": error})

    # (1) landmarks of every clip, from the cache or detected (by _find_faces, shared between recipes)
    def face_requests(self) -> list[tuple[int, tuple, Path | None]]:
        """(clip, (detector, landmark_frames), cache path or None) of every clip whose landmarks are not cached;
        the cached ones are loaded."""
        p = self.p
        fbase = preprocess_root() / "landmarks" / face_key(p.detector, p.landmark_frames)
        paths = [clip_path(fbase, u, f"-{fp}.json") for u, fp in zip(self.uids, self.fingerprints)]
        out = []
        for i, path in enumerate(paths):
            got = read_json(path) if self.cache else None
            if got is None:
                out.append((i, (p.detector, int(p.landmark_frames)), path if self.cache else None))
            else:
                self.faces[i] = got
        return out

    # (2) a clip without a face takes the nearest earlier detection of its subject in the table, else the nearest
    # later one (for the subject's first clips), else a whole-frame template; a detection is only borrowed from a
    # clip with the same frame size
    def resolve_fallbacks(self) -> None:
        rep = self.report
        subjects = [row.get("subject_uid", row.get("subject", "")) for row in self.rows]
        shapes = [tuple(face.get("frame_shape") or ()) for face in self.faces]
        detected = [face["status"] == "detected" for face in self.faces]

        def borrow(i, order):
            for j in order:
                if detected[j] and subjects[j] == subjects[i] and (not shapes[i] or shapes[j] == shapes[i]):
                    return j
            return None

        for i, face in enumerate(self.faces):
            if detected[i]:
                self.landmarks[i] = face["landmarks"]
                self.sources.append("detected")
                rep.faces_detected += 1
                continue
            j = borrow(i, range(i - 1, -1, -1))
            kind = "previous"
            if j is None:
                j, kind = borrow(i, range(i + 1, len(self.faces))), "next"
            if j is not None:
                self.landmarks[i] = self.faces[j]["landmarks"]
                self.sources.append(f"{kind}:{self.uids[j]}")
                if kind == "previous":
                    rep.faces_previous += 1
                else:
                    rep.faces_next += 1
            else:
                self.landmarks[i] = whole_frame_landmarks(shapes[i] or (480, 640)).landmarks
                self.sources.append("whole_frame")
                rep.faces_whole_frame += 1
            rep.fallbacks.append({"clip_uid": self.uids[i], "source": self.sources[-1],
                                  "reason": face.get("error", "no face found on the onset, apex or middle frame")})

    # (3) the recipe's arrays for every clip not in the cache (computed by _compute_outputs, one task per clip)
    def output_jobs(self) -> list[tuple[int, tuple]]:
        """(clip, job for _output_task) of every clip whose entry is not in the cache."""
        self.entries = [clip_path(self.base, u, f"-{digest({'frames': fp, 'landmarks': np.round(lm, 2)})}.npz")
                        for u, fp, lm in zip(self.uids, self.fingerprints, self.landmarks)]
        todo = [i for i, path in enumerate(self.entries) if not (self.cache and path.is_file())]
        self.report.cached = len(self.rows) - len(todo)
        if self.cache:
            atomic_write_json(self.base / "params.json", self.identity)
        return [(i, (self.rec.name, self.pdict, self.landmarks[i].tolist(),
                     str(self.entries[i]) if self.cache else None, not self.cache)) for i in todo]

    def take_output(self, i: int, r: dict) -> None:
        self._add_steps(r["seconds"], r["frames"])
        if not r["ok"]:
            self._fail(i, r["error"])
            return
        self.metas[i] = r["meta"]
        self.report.computed += 1
        if r["arrays"] is not None:
            self.loaded[i] = r["arrays"]

    def _entry(self, i: int, keys: list) -> tuple[dict, dict] | None:
        """Arrays (``keys``) and metadata of clip i: from this run, the cache, or recomputed if the entry vanished."""
        if i in self.loaded:
            return self.loaded[i], self.metas[i]
        problems: list = []
        got = load_npz(self.entries[i], keys=keys, problems=problems)
        if got is not None:
            return got
        from .recipe import tensor_path

        with tensor_path(self.tensor_device):
            r = _output_task(self.rec.name, self.pdict, self.rows[i], self.landmarks[i].tolist(),
                             str(self.entries[i]) if self.cache else None, True)
        # counted as computed, not cached: the entry was damaged (or vanished) since compute_outputs saw it
        self.report.cached = max(0, self.report.cached - 1)
        self.report.recomputed.append({"clip_uid": self.uids[i], "entry": str(self.entries[i]),
                                       "reason": problems[0] if problems else "the entry vanished from the cache"})
        if not r["ok"]:
            self._fail(i, r["error"])
            return None
        self.report.computed += 1
        return r["arrays"], r["meta"]

    # (4) stack the clips (row i = table row i); large outputs as read-only memory maps in the cache
    def stack(self, memmap: bool | None) -> dict:
        specs = self.rec.outputs(self.p)
        n = len(self.rows)
        nbytes = sum(n * int(np.prod(s)) * np.dtype(d).itemsize for s, d in specs.values())
        use_mm = self.cache and (memmap if memmap is not None else nbytes > MEMMAP_BYTES)
        stack_key = digest([str(e.relative_to(self.base)) for e in self.entries] + [self.ok])
        mm_paths = {name: self.base / "stacks" / f"{stack_key}-{name}.npy" for name in specs}
        reuse = use_mm and all(self.ok) and all(pth.is_file() for pth in mm_paths.values())
        if reuse:  # a stack shorter than expected (truncated copy, full disk) is rebuilt, never memory-mapped
            for name, pth in mm_paths.items():
                problem = npy_problem(pth, (n,) + tuple(specs[name][0]), specs[name][1])
                if problem is not None:
                    warnings.warn(f"Memory-mapped stack {pth}: {problem}; deleted, it is rebuilt (the clips whose "
                                  "cache entries point into it are recomputed).", CacheWarning, stacklevel=3)
                    self.report.stacks_rebuilt.append({"path": str(pth), "reason": problem})
                    pth.unlink()
                    reuse = False
        arrays: dict = {}
        if reuse:
            arrays = {name: np.load(pth, mmap_mode="r") for name, pth in mm_paths.items()}
        else:
            for name, (shape, dtype) in specs.items():
                full = (n,) + tuple(shape)
                if use_mm:
                    mm_paths[name].parent.mkdir(parents=True, exist_ok=True)
                    tmp = mm_paths[name].with_name(f".{mm_paths[name].name}.{os.getpid()}.tmp")
                    arrays[name] = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=full)
                else:
                    arrays[name] = np.zeros(full, dtype=dtype)
        for i in range(n):
            if not self.ok[i] or (reuse and self.metas[i] is not None):
                continue
            got = self._entry(i, [] if reuse else list(specs))
            if got is None:
                continue
            data, meta = got
            if self.metas[i] is None:
                self.metas[i] = meta
            if reuse:
                continue
            for name, (shape, _) in specs.items():
                if tuple(data[name].shape) != tuple(shape):
                    raise RuntimeError(f"Cached entry {self.entries[i]} holds {name} of shape {data[name].shape}, "
                                       f"expected {shape}; clear it with mer_utils.preprocess.clear_cache"
                                       f"({self.rec.name!r}) and re-run.")
                arrays[name][i] = data[name]
        if use_mm and not reuse:
            for name in list(arrays):
                arrays[name].flush()
                tmp = Path(arrays[name].filename)
                if all(self.ok):
                    os.replace(tmp, mm_paths[name])
                    arrays[name] = np.load(mm_paths[name], mmap_mode="r")
                else:  # a stack with failed clips is not kept; it is rebuilt next time
                    arrays[name] = np.load(tmp, mmap_mode="r")
                    tmp.unlink()
            if all(self.ok):  # one copy: the clips' entries now point into the stacks (issue 20)
                for i, entry in enumerate(self.entries):
                    slim_entry(entry, mm_paths, i)
        arrays.update(self.rec.views(arrays, self.p))
        return arrays

    def result(self, arrays: dict) -> Prepared:
        out = self.table.copy()
        out["face_source"] = self.sources
        out["prep_ok"] = self.ok
        # what made these inputs: part of the cross-validation key (mer_utils.training.cross_validate), so a
        # changed detector, crop, TIM length or RoI never reuses folds computed from other inputs
        out.attrs["preprocessing"] = {"recipe": self.rec.name, "version": self.rec.version,
                                      "preprocess": PREPROCESS_VERSION, "params_key": self.report.params_key}
        for k in sorted({k for m in self.metas if m for k in m}):
            out[k] = [m.get(k) if m else None for m in self.metas]
        p = self.p
        transforms = np.stack([alignment_transform(lm, p.size, p.crop, p.margin) for lm in self.landmarks]) \
            if len(self.rows) else np.zeros((0, 2, 3))
        return Prepared(self.rec.name, p, out, arrays, self.report, self.landmarks, transforms,
                        self.base if self.cache else None)
