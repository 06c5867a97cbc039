"""Generate the synthetic sets, and make sure a complete set exists (safely, from several processes at once).

:func:`generate` writes every layout under a root; :func:`ensure_synthetic` generates only when the set is
missing or was made by another generator version / size / seed, under a file lock, into a temporary folder
that is renamed into place at the end — so a crash never leaves a half-written set that looks complete, and
two pytest-xdist workers never write the same folder. Nothing a user made is deleted: a folder it did not create
(no completion marker) is never touched, and a stale set of its own (another generator version, size or seed) is
moved aside to a dated name — with whatever files the user added to it — before the new one takes its place,
with a :class:`SyntheticSetWarning` saying where it went.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

from ...paths import DATASET_FOLDERS, synthetic_root
from . import layouts as L
from .plan import LAYOUTS, PLAN_REVISION, size_table

#: Completion marker written last into a generated root.
MARKER = "_synthetic.json"
_TMP_PREFIX = ".tmp-synthetic-"


class SyntheticSetNewerError(RuntimeError):
    """The synthetic set on disk was written by a newer generator than this code: it is not replaced."""


def _version_tuple(version) -> tuple | None:
    try:
        return tuple(int(p) for p in str(version).split("."))
    except ValueError:
        return None


def _check_not_newer(root: Path, marker: dict | None) -> None:
    """Refuse to replace a set a newer generator wrote (e.g. a notebook kernel started before ``git pull``): the
    newer set would be moved aside and regenerated older, and the newer code would then do the same back, each
    run leaving a copy of the data behind."""
    if not marker or marker.get("generator") != "mer_utils.data.synthetic":
        return
    theirs, ours = _version_tuple(marker.get("version")), _version_tuple(L.GENERATOR_VERSION)
    if theirs is not None and ours is not None and theirs > ours:
        raise SyntheticSetNewerError(
            f"The synthetic set at {root} was written by generator {marker.get('version')}, newer than this "
            f"code's {L.GENERATOR_VERSION}; it is left as it is. This process runs older course code: restart the "
            "kernel (or the command) after updating the code, or set MER_SYNTHETIC_ROOT to another folder for the "
            "older version.")


class SyntheticSetWarning(UserWarning):
    """The generator moved something aside instead of deleting it (a stale set, a symbolic link)."""


def _check_folder(root: Path) -> None:
    """A clear error when ``root`` (or a parent) is a file where a folder is needed."""
    for path in (root, *root.parents):
        if path.exists() and not path.is_dir():
            what = "is a file" if path == root else f"lies under {path}, which is a file"
            raise NotADirectoryError(f"The synthetic-data folder {root} {what}; expected a folder (or nothing, to "
                                     "create it). Move that file away or pass another root.")
        if path.exists():
            return


def _aside(path: Path, tag: str) -> Path:
    """A free dated name beside ``path``: ``<name>.<tag>-<YYYYmmdd-HHMMSS>[-N]``."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate = path.with_name(f"{path.name}.{tag}-{stamp}")
    n = 1
    while candidate.exists() or candidate.is_symlink():
        candidate = path.with_name(f"{path.name}.{tag}-{stamp}-{n}")
        n += 1
    return candidate


def _marker_payload(size: str, seed: int, datasets) -> dict:
    payload = {"generator": "mer_utils.data.synthetic", "version": L.GENERATOR_VERSION, "size": size,
               "seed": int(seed), "datasets": sorted(datasets)}
    if size in PLAN_REVISION:  # absent for the sizes whose plans never changed (their old markers stay valid)
        payload["plan"] = PLAN_REVISION[size]
    return payload


def read_marker(root: str | os.PathLike) -> dict | None:
    """The completion marker of a generated root, or ``None`` when there is none (or it is unreadable)."""
    path = Path(root) / MARKER
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, json.JSONDecodeError, UnicodeDecodeError):
        return None


def _check_datasets(datasets) -> list:
    if datasets is None:
        return list(LAYOUTS)
    if isinstance(datasets, str):
        datasets = [datasets]
    unknown = [d for d in datasets if d not in LAYOUTS]
    if unknown:
        raise ValueError(f"Unknown synthetic dataset(s) {unknown}: expected names from {list(LAYOUTS)} "
                         "(the keys of mer_utils.paths.DATASET_FOLDERS).")
    return [d for d in LAYOUTS if d in datasets]


def _is_foreign(root: Path) -> bool:
    """True when ``root`` exists, is not empty and has no completion marker of ours."""
    if not root.exists():
        return False
    if not root.is_dir():
        return True
    return any(root.iterdir()) and read_marker(root) is None


def _count(result) -> int | dict:
    if isinstance(result, dict):
        return {k: len(v) for k, v in result.items()}
    return len(result) if hasattr(result, "__len__") else int(result)


def _write_layout(args) -> tuple:
    """Write one layout in its own Context (used directly, or in a worker process)."""
    root, size, seed, layout, progress, photo_folder = args
    ctx = L.Context(Path(root), size, seed, progress=progress, photo_folder=photo_folder)
    t0 = time.perf_counter()
    result = L.WRITERS[layout](ctx)
    return (layout, _count(result), round(time.perf_counter() - t0, 2), int(ctx.stats["frames"]),
            int(ctx.stats["identities_redrawn"]))


def default_workers(size: str) -> int:
    """Worker processes used by default: 1 for the small sizes, up to 4 (one layout each) for ``paper``."""
    return 1 if size != "paper" else max(1, min(4, os.cpu_count() or 1))


def generate(size: str = "quick", root: str | os.PathLike | None = None, seed: int = 0, datasets=None,
             progress: bool = True, photo_folder: str | None = None, workers: int | None = None) -> Path:
    """Write the synthetic sets of ``size`` under ``root`` (default ``mer_utils.paths.synthetic_root(size)``).

    ``datasets``: a subset of ``("casme2", "samm", "smic", "casme", "casme_sq", "megc2019", "fer2013",
    "ckplus")`` (default all). ``photo_folder``: extra frontal portraits to use as source faces (also
    ``$MER_SYNTHETIC_PHOTOS``). ``workers``: processes writing layouts in parallel (default
    :func:`default_workers`). The same ``size`` and ``seed`` give identical frames, whatever ``workers``.

    ``root`` must be missing, empty, or a set this generator made (its layout folders are replaced); a folder
    holding anything else raises an error instead of being overwritten. The completion marker
    ``_synthetic.json`` (generator version, size, seed, layouts, counts, seconds) is written last.
    Returns ``root``.
    """
    size_table(size)
    datasets = _check_datasets(datasets)
    root = Path(root) if root is not None else synthetic_root(size)
    _check_folder(root)
    if _is_foreign(root):
        raise FileExistsError(f"{root} exists and was not written by the synthetic-data generator (no {MARKER}); "
                              "refusing to write into it. Choose another root, or move that folder away.")
    old = read_marker(root) if root.exists() else None
    root.mkdir(parents=True, exist_ok=True)
    if old is not None:
        (root / MARKER).unlink()
    for d in datasets:  # replace our own layout folders
        folder = root / DATASET_FOLDERS[d]
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            # not ours (a link the user made, or a file): moved aside, never followed or deleted
            aside = _aside(folder, "user")
            target = f" (a link to {os.readlink(folder)})" if folder.is_symlink() else ""
            os.replace(folder, aside)
            warnings.warn(f"{folder}{target} was not written by the generator; it was renamed to {aside.name} "
                          f"(its contents untouched) and a fresh {DATASET_FOLDERS[d]}/ is generated in its place.",
                          SyntheticSetWarning, stacklevel=2)
        elif folder.exists():
            shutil.rmtree(folder)
    start = time.perf_counter()
    workers = default_workers(size) if workers is None else max(1, int(workers))
    jobs = [(str(root), size, int(seed), d, progress and workers == 1, photo_folder) for d in datasets]
    if workers > 1 and len(jobs) > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        from tqdm.auto import tqdm

        with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=mp.get_context("spawn")) as pool:
            results = list(tqdm(pool.map(_write_layout, jobs), total=len(jobs), desc=f"synthetic {size}",
                                disable=not progress))
    else:
        results = [_write_layout(job) for job in jobs]
    counts = {d: {"items": n, "seconds": sec} for d, n, sec, _, _ in results}
    frames = sum(r[3] for r in results)
    redrawn = sum(r[4] for r in results)
    payload = _marker_payload(size, seed, datasets)
    if old is not None and old.get("size") == size and old.get("seed") == seed and \
            old.get("version") == L.GENERATOR_VERSION and old.get("plan") == payload.get("plan"):
        payload["datasets"] = sorted(set(payload["datasets"]) | set(old.get("datasets", [])))
    from .faces import source_faces

    payload["photos"] = [f.name for f in source_faces(photo_folder)]  # the real photos the subjects come from
    payload.update(counts=counts, frames=int(frames), seconds=round(time.perf_counter() - start, 2),
                   identities_redrawn=int(redrawn), workers=workers,
                   created=time.strftime("%Y-%m-%dT%H:%M:%S"))
    (root / "README_SYNTHETIC.txt").write_text(
        "Synthetic micro-expression data written by mer_utils.data.synthetic (not real people's data).\n"
        "Each folder mimics a licensed dataset's layout (REFERENCE.md section 1); ground truth is in\n"
        "<folder>/_synthetic_gt/. Regenerate with: python -m mer_utils.data.synthetic --size " + size + "\n")
    tmp = root / (MARKER + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2))
    os.replace(tmp, root / MARKER)
    return root


def _matches(marker: dict | None, size: str, seed: int) -> bool:
    """Whether the set with ``marker`` is the one this generator makes now. A set built offline from the
    installed photos alone (``$MER_SYNTHETIC_BUILTIN_PHOTOS_ONLY=1``) is stale once the package photos may be
    used: its subjects are fewer distinct people than the default set's."""
    from .photos import PHOTOS, builtin_only

    if not marker:
        return False
    want = _marker_payload(size, seed, LAYOUTS)
    photos_ok = builtin_only() or "photos" not in marker or {p.name for p in PHOTOS} <= set(marker["photos"])
    return all(marker.get(k) == want.get(k) for k in ("generator", "version", "size", "seed", "plan")) and \
        set(want["datasets"]) <= set(marker.get("datasets", [])) and photos_ok


@contextmanager
def _lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_synthetic(size: str = "quick", root: str | os.PathLike | None = None, seed: int = 0,
                     progress: bool = True, workers: int | None = None) -> Path:
    """The root of a complete synthetic set of ``size`` / ``seed``: generated only when missing or stale.

    Safe when several processes call it at once (an ``fcntl`` lock file next to ``root``); generation goes into
    a temporary sibling folder that is renamed to ``root`` when complete, so an interrupted run never leaves a
    set that looks complete. A stale set (another generator version, size or seed) is replaced only when its
    completion marker shows this generator wrote it, and never deleted: it is renamed to
    ``<root>.old-v<version>-<date>`` (with any files the user added) and a :class:`SyntheticSetWarning` says so.
    A folder without the marker raises ``FileExistsError``; a ``root`` that is a file ``NotADirectoryError``; a
    set written by a newer generator version :class:`SyntheticSetNewerError` (it is never replaced by an older one).
    """
    size_table(size)
    root = Path(root) if root is not None else synthetic_root(size)
    _check_folder(root)
    if _matches(read_marker(root), size, seed):
        return root
    lock = root.parent / f".{root.name}.lock"
    with _lock(lock):
        marker = read_marker(root)  # under the lock: every writer of this root holds it, so it stays as read
        if _matches(marker, size, seed):  # another process finished meanwhile
            return root
        _check_not_newer(root, marker)
        if _is_foreign(root):
            raise FileExistsError(f"{root} exists but holds no complete synthetic set written by this generator "
                                  f"(no {MARKER}); refusing to delete or overwrite it. Move it away, or pass "
                                  "another root.")
        for stale in root.parent.glob(f"{_TMP_PREFIX}{root.name}-*"):  # leftovers of crashed runs (ours)
            if "-old-" in stale.name or stale.is_symlink() or not stale.is_dir():
                continue  # an old set moved away by an earlier version: may hold the user's files, kept
            shutil.rmtree(stale, ignore_errors=True)
        tmp = root.parent / f"{_TMP_PREFIX}{root.name}-{os.getpid()}"
        generate(size=size, root=tmp, seed=seed, progress=progress, workers=workers)
        if root.exists() or root.is_symlink():  # our own stale set (checked above): kept, moved aside
            marker = marker or {}
            why = ", ".join(f"{k} {marker.get(k)!r} (now {v!r})" for k, v in
                            (("version", L.GENERATOR_VERSION), ("size", size), ("seed", seed),
                             ("plan", _marker_payload(size, seed, LAYOUTS).get("plan")))
                            if marker.get(k) != v) or \
                ("built from the installed photos only (MER_SYNTHETIC_BUILTIN_PHOTOS_ONLY)"
                 if marker.get("photos") is not None and marker.get("version") == L.GENERATOR_VERSION
                 else "incomplete")
            aside = _aside(root, f"old-v{marker.get('version', 'unknown')}")
            os.replace(root, aside)
            os.replace(tmp, root)
            warnings.warn(f"The synthetic set at {root} was stale ({why}); a new one was generated there and the "
                          f"old one, with any files you had added to it, was moved to {aside}. Copy out what you "
                          "need, then delete that folder to free the space.", SyntheticSetWarning, stacklevel=2)
        else:
            os.replace(tmp, root)
    return root
