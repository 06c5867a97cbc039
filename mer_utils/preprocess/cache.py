"""The preprocessing cache: content-addressed files under ``mer_utils.paths.cache_root() / "preprocess"``.

Layout::

    preprocess/landmarks/<detector key>/<dataset>/<subject>/<clip>-<frames fingerprint>.json
    preprocess/<recipe>/<params key>/params.json                 (what the key stands for, human-readable)
    preprocess/<recipe>/<params key>/<dataset>/<subject>/<clip>-<entry key>.npz
    preprocess/<recipe>/<params key>/stacks/<table key>-<array>.npy   (memory-mapped stacks of large outputs)

- the **params key** hashes the recipe name, its step version and every parameter (after defaults are resolved),
  so a changed parameter or a new version of a step never returns a stale result;
- the **frames fingerprint** hashes the paths, sizes and modification times of the clip's frame files, so new or
  regenerated data is never mistaken for the old;
- the **entry key** adds the landmarks the clip was aligned with (which may come from a fallback);
- every file is written to a temporary name in the same folder and then renamed (``os.replace``), so a crashed or
  killed run leaves no half-written entry — at most a ``.tmp`` file that is ignored and cleaned up later;
- every entry stores a **content checksum** of its arrays, verified when it is read in full: an entry that is
  readable but whose data changed (a disk fault, a bad copy, zeroed blocks) is deleted and recomputed with a
  :class:`CacheWarning` naming it; memory-mapped stacks are checked against their expected size
  (:func:`npy_problem`) and rebuilt when short;
- **one copy**: once a complete memory-mapped stack is written, each clip's entry is rewritten as a slim entry
  (:func:`slim_entry`: metadata, checksum and the stack row holding its arrays), so large outputs (notebook 50's
  magnified stacks) are not stored twice. A slim entry whose stack is gone is recomputed like a damaged one.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import uuid
import warnings
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from mer_utils.paths import cache_root

#: Bumped when a change to shared steps (faces, alignment, reading) changes outputs; part of every key.
PREPROCESS_VERSION = "1"
_META = "__meta__"
_CHECKSUM = "__checksum__"
#: In a slim entry (:func:`slim_entry`): where its arrays live, ``{"row": i, "stacks": {name: relative path}}``.
_STACK = "__stack__"


class CacheWarning(UserWarning):
    """A cache entry was damaged (unreadable, failed its checksum, shorter than expected) and is recomputed."""


def content_checksum(arrays: Mapping[str, np.ndarray]) -> str:
    """BLAKE2b of the arrays' names, dtypes, shapes and bytes (order-independent of the mapping)."""
    h = hashlib.blake2b(digest_size=16)
    for key in sorted(arrays):
        a = np.ascontiguousarray(arrays[key])
        h.update(f"{key}|{a.dtype.str}|{a.shape}\n".encode())
        h.update(a.reshape(-1).view(np.uint8).data if a.size else b"")
    return h.hexdigest()


def preprocess_root() -> Path:
    """``cache_root() / "preprocess"``."""
    return cache_root() / "preprocess"


def canonical(obj: Any) -> Any:
    """A JSON-able, order-stable version of ``obj`` (dataclasses, tuples, NumPy scalars, paths)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return canonical(dataclasses.asdict(obj))
    if isinstance(obj, Mapping):
        return {str(k): canonical(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [canonical(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return canonical(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, float):
        return float(f"{obj:.10g}")
    return obj


def digest(obj: Any, length: int = 12) -> str:
    """Short SHA-1 of the canonical JSON of ``obj``."""
    text = json.dumps(canonical(obj), sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()[:length]


def frames_fingerprint(paths) -> str:
    """Hash of the frame files' paths, sizes and modification times (changes when the data changes)."""
    h = hashlib.sha1()
    for p in dict.fromkeys(os.fspath(x) for x in paths):
        try:
            st = os.stat(p)
            h.update(f"{p}|{st.st_size}|{st.st_mtime_ns}\n".encode())
        except OSError:
            h.update(f"{p}|missing\n".encode())
    return h.hexdigest()[:12]


_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def safe_part(text: str) -> str:
    """A file-name-safe version of one component of a clip uid."""
    s = _UNSAFE.sub("_", str(text)).strip("._") or "_"
    return s[:120]


def clip_path(base: Path, clip_uid: str, suffix: str) -> Path:
    """``base/<dataset>/<subject>/<clip><suffix>`` from a ``dataset/subject/clip`` uid."""
    parts = [safe_part(p) for p in str(clip_uid).split("/") if p != ""]
    if not parts:
        raise ValueError(f"Empty clip_uid {clip_uid!r}: expected 'dataset/subject/clip'.")
    return base.joinpath(*parts[:-1], parts[-1] + suffix)


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")


def atomic_save_npz(path: Path, arrays: Mapping[str, np.ndarray], meta: Mapping | None = None) -> Path:
    """Write ``arrays`` (+ JSON ``meta``) to ``path`` as an uncompressed ``.npz``, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {k: np.asarray(v) for k, v in arrays.items()}
    payload[_META] = np.array(json.dumps(canonical(dict(meta or {}))))
    payload[_CHECKSUM] = np.array(content_checksum({k: payload[k] for k in arrays}))
    _write_npz_atomically(path, payload)
    return path


def _write_npz_atomically(path: Path, payload: dict) -> None:
    """``np.savez`` into a temporary sibling, renamed over ``path`` when complete (never a half-written entry)."""
    tmp = _tmp_name(path)
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **payload)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def load_npz(path: Path, keys=None, problems: list | None = None) -> tuple[dict, dict] | None:
    """``(arrays, meta)`` from an entry written by :func:`atomic_save_npz`; ``None`` if absent or damaged.

    A damaged entry — unreadable, or (when every array is read, ``keys=None`` or all of them) its content no
    longer matching the stored checksum — is deleted so that it gets recomputed, with a :class:`CacheWarning`
    naming it; the reason is also appended to ``problems`` when given. Entries written before checksums existed
    are accepted as they are.
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            stack = json.loads(str(z[_STACK])) if _STACK in z.files else None
            stored = list(stack["stacks"]) if stack else [k for k in z.files if k not in (_META, _CHECKSUM)]
            wanted = stored if keys is None else list(keys)
            full = set(stored) <= set(wanted)
            read = stored if full else wanted
            arrays = {k: _stack_row(path, stack, k) for k in read} if stack else {k: z[k] for k in read}
            meta = json.loads(str(z[_META])) if _META in z.files else {}
            checksum = str(z[_CHECKSUM]) if _CHECKSUM in z.files else None
        reason = None
        if full and stored and checksum is not None and content_checksum(arrays) != checksum:
            reason = "its content does not match its checksum (the file is readable but its data changed)"
        arrays = {k: arrays[k] for k in wanted}
    except Exception as exc:
        reason = f"it cannot be read ({type(exc).__name__}: {exc})"
    if reason is None:
        return arrays, meta
    _discard(path, reason, problems)
    return None


def _stack_row(path: Path, stack: dict, key: str) -> np.ndarray:
    """Row ``stack["row"]`` of the memory-mapped stack of array ``key`` that a slim entry points to."""
    mm = np.load(path.parent / stack["stacks"][key], mmap_mode="r")
    return np.array(mm[int(stack["row"])])


def slim_entry(path: Path, stacks: Mapping[str, Path], row: int) -> bool:
    """Rewrite the full entry at ``path`` as a slim one pointing to row ``row`` of the complete, memory-mapped
    ``stacks`` (``{array name: .npy path}``) that hold the same arrays: metadata and checksum stay, the arrays are
    stored once (in the stacks). Atomic; returns False (entry left as it is) when the entry cannot be read or
    its arrays differ from the stack rows."""
    path = Path(path)
    got = load_npz(path)
    if got is None:
        return False
    arrays, meta = got  # a slim entry is re-pointed to the new stacks (its arrays are read from the old ones)
    rel = {k: os.path.relpath(Path(p), path.parent) for k, p in stacks.items()}
    if set(rel) != set(arrays):
        return False
    pointer = {"row": int(row), "stacks": rel}
    checksum = content_checksum(arrays)
    if content_checksum({k: _stack_row(path, pointer, k) for k in rel}) != checksum:
        return False
    payload = {_META: np.array(json.dumps(canonical(dict(meta)))), _CHECKSUM: np.array(checksum),
               _STACK: np.array(json.dumps(pointer))}
    _write_npz_atomically(path, payload)
    return True


def _discard(path: Path, reason: str, problems: list | None) -> None:
    warnings.warn(f"Cache entry {path}: {reason}; deleted, it is recomputed.", CacheWarning, stacklevel=3)
    if problems is not None:
        problems.append(reason)
    try:
        path.unlink()
    except OSError:
        pass


def npy_problem(path: Path, shape: tuple, dtype: Any) -> str | None:
    """What is wrong with a ``.npy`` stack that should hold ``shape`` / ``dtype``: a header that cannot be read,
    another shape or dtype, or fewer bytes than the header announces (a truncated file, which ``np.load(...,
    mmap_mode='r')`` would reject with "mmap length is greater than file size"). ``None`` when it is fine."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            got_shape, fortran, got_dtype = reader(f)
            offset = f.tell()
    except Exception as exc:
        return f"its header cannot be read ({type(exc).__name__}: {exc})"
    if tuple(got_shape) != tuple(shape) or np.dtype(got_dtype) != np.dtype(dtype):
        return f"it holds {got_dtype} {tuple(got_shape)}, expected {np.dtype(dtype)} {tuple(shape)}"
    expected = offset + int(np.prod(shape)) * np.dtype(dtype).itemsize
    if size < expected:
        return f"it is {size} bytes, expected {expected} (truncated)"
    return None


def atomic_write_json(path: Path, obj: Any) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(path)
    try:
        tmp.write_text(json.dumps(canonical(obj), indent=1, sort_keys=True))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def read_json(path: Path) -> Any | None:
    """JSON content of ``path``, or ``None`` when absent or unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def clear_cache(recipe: str | None = None, landmarks: bool = False) -> list[Path]:
    """Delete the cached outputs of one recipe (or of all recipes with ``recipe=None``); with ``landmarks=True``
    also the cached landmarks. Returns the folders removed."""
    root = preprocess_root()
    if not root.is_dir():
        return []
    targets = [root / recipe] if recipe else [p for p in root.iterdir() if p.is_dir() and p.name != "landmarks"]
    if landmarks:
        targets.append(root / "landmarks")
    removed = []
    for t in targets:
        if t.is_dir():
            shutil.rmtree(t)
            removed.append(t)
    return removed


def cache_size(recipe: str | None = None) -> int:
    """Bytes used by the cache of one recipe (or the whole preprocessing cache)."""
    root = preprocess_root() / recipe if recipe else preprocess_root()
    if not root.is_dir():
        return 0
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
