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
  killed run leaves no half-written entry — at most a ``.tmp`` file that is ignored and cleaned up later.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from mer_utils.paths import cache_root

#: Bumped when a change to shared steps (faces, alignment, reading) changes outputs; part of every key.
PREPROCESS_VERSION = "1"
_META = "__meta__"


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
    tmp = _tmp_name(path)
    payload = {k: np.asarray(v) for k, v in arrays.items()}
    payload[_META] = np.array(json.dumps(canonical(dict(meta or {}))))
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **payload)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def load_npz(path: Path, keys=None) -> tuple[dict, dict] | None:
    """``(arrays, meta)`` from an entry written by :func:`atomic_save_npz`; ``None`` if absent or unreadable
    (an unreadable entry is deleted so it gets recomputed)."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            wanted = [k for k in z.files if k != _META] if keys is None else list(keys)
            arrays = {k: z[k] for k in wanted}
            meta = json.loads(str(z[_META])) if _META in z.files else {}
        return arrays, meta
    except Exception:
        try:
            path.unlink()
        except OSError:
            pass
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
