"""What the course keeps on disk, and removing parts of it when the user names them (``mer-course disk``).

The course never deletes what a run made: a changed preprocessing parameter writes a new cache folder beside the
old one (:mod:`mer_utils.preprocess.cache`), a changed training setting a new result folder
(:mod:`mer_utils.results`). That keeps every finished fold, but caches of settings no longer used keep their disk:
switching notebook 50's Fig. 3 sweep on (``N_GRID="paper"``) after a default ``full`` run writes magnified stacks
of 20 frames beside those of 11 (~10 GB each at paper size). This module lists every such folder with its size,
what it holds and when it was last written, so a user can see where the disk went, and removes the ones the user
names — by the exact name the listing shows, nothing else::

    python -m mer_utils.course disk                      # the listing, largest first, with totals per kind
    python -m mer_utils.course disk --json
    python -m mer_utils.course disk --remove preprocess/wei2022/3f2a9c0d1e4b

Kinds: ``preprocess`` (one recipe's outputs for one parameter set), ``landmarks`` (one detector's cached
landmarks), ``results`` (one run in the result store: predictions, fold checkpoints, metrics), ``synthetic``
(a generated data set) and ``weights`` (pretrained files). The last two are listed for the totals but not removed
here: they are data the course reads, delete them by hand if you mean to (the bootstrap and
``ensure_synthetic`` make them again).
"""
from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from . import paths

#: Kinds this module removes on request; the others are listed only.
REMOVABLE = ("preprocess", "landmarks", "results")


class StorageError(ValueError):
    """A name given to :func:`remove` that the listing does not hold, or names a kind that is not removed here."""


@dataclass(frozen=True)
class Item:
    """One folder the course keeps: ``name`` (what :func:`remove` takes), ``kind``, ``path``, ``bytes``,
    ``files``, ``modified`` (latest modification time of its files, seconds since the epoch; 0 when empty) and
    ``what`` (a one-line description)."""

    name: str
    kind: str
    path: Path
    bytes: int
    files: int
    modified: float
    what: str

    @property
    def removable(self) -> bool:
        return self.kind in REMOVABLE

    def row(self) -> dict:
        out = asdict(self)
        out.update(path=str(self.path), removable=self.removable)
        return out


def _usage(folder: Path) -> tuple[int, int, float]:
    """(bytes, files, latest mtime) of every regular file under ``folder`` (links are not followed)."""
    size = files = 0
    latest = 0.0
    for base, _, names in os.walk(folder):
        for n in names:
            try:
                st = os.lstat(os.path.join(base, n))
            except OSError:  # removed meanwhile
                continue
            size += st.st_size
            files += 1
            latest = max(latest, st.st_mtime)
    return size, files, latest


def _read_json(path: Path) -> dict:
    try:
        out = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return out if isinstance(out, dict) else {}


def _short(params: dict) -> str:
    return ", ".join(f"{k}={json.dumps(v, separators=(',', ':'))}" for k, v in sorted(params.items()))


def _folders(root: Path, depth: int) -> list[Path]:
    """Folders exactly ``depth`` levels under ``root``."""
    level = [root] if root.is_dir() else []
    for _ in range(depth):
        level = [c for p in level for c in sorted(p.iterdir()) if c.is_dir()]
    return level


def _outdated(recipe: str, meta: dict) -> str:
    """Why a cached parameter set can no longer be read ('' when it can): its recipe is gone or has another
    version now (the version is part of the cache key, so the folder is never looked up again)."""
    from .papers import RECIPES

    if recipe not in RECIPES:
        return f"recipe {recipe!r} no longer exists"
    now = str(RECIPES[recipe].version)
    was = meta.get("version")
    return f"recipe version {was}, now {now}" if was is not None and str(was) != now else ""


def _item(name: str, kind: str, folder: Path, what: str) -> Item:
    size, files, latest = _usage(folder)
    return Item(name, kind, folder, size, files, latest, what)


def inventory() -> list[Item]:
    """Every folder the course keeps, largest first (roots from :mod:`mer_utils.paths`, so ``$MER_CACHE_ROOT``,
    ``$MER_RESULTS_ROOT``, ``$MER_SYNTHETIC_ROOT`` and ``$MER_WEIGHTS_ROOT`` are honoured)."""
    from .preprocess.cache import preprocess_root

    items: list[Item] = []
    pre = preprocess_root()
    for folder in _folders(pre, 2):
        recipe = folder.parent.name
        if recipe == "landmarks":
            items.append(_item(f"preprocess/landmarks/{folder.name}", "landmarks", folder,
                               f"landmarks, detector key {folder.name}"))
            continue
        meta = _read_json(folder / "params.json")
        what = f"{meta.get('recipe', recipe)} v{meta.get('version', '?')}: " + _short(meta.get("params", {}))
        outdated = _outdated(recipe, meta)
        if outdated:
            what = f"[{outdated}; never read again] {what}"
        items.append(_item(f"preprocess/{recipe}/{folder.name}", "preprocess", folder, what))
    res = paths.results_root()
    for folder in _folders(res, 4):
        notebook, dataset, protocol = folder.parent.parent.parent.name, folder.parent.parent.name, folder.parent.name
        folds = folder / "folds"
        done = sum(1 for f in folds.iterdir() if (f / "fold.json").is_file()) if folds.is_dir() else 0
        state = "complete" if (folder / "metrics.json").is_file() else "incomplete"
        items.append(_item(f"results/{notebook}/{dataset}/{protocol}/{folder.name}", "results", folder,
                           f"{notebook} {dataset} {protocol}: {done} fold(s) done, {state}"))
    synth = paths.synthetic_root("quick").parent
    for size in ("quick", "paper"):
        folder = paths.synthetic_root(size)
        if folder.is_dir():
            meta = _read_json(folder / "_synthetic.json")
            items.append(_item(f"synthetic/{size}", "synthetic", folder,
                               f"synthetic {size} set, generator {meta.get('version', '?')}"))
        # stale sets the generator moved aside (``<size>.old-v<version>-<stamp>``, ``<size>.user-<stamp>``): kept
        # because they may hold files a user added, so they are listed for the disk they take
        for aside in sorted(synth.glob(f"{size}.*")) if synth.is_dir() else []:
            if aside.is_dir() and not aside.is_symlink():
                items.append(_item(f"synthetic/{aside.name}", "synthetic", aside,
                                   f"moved aside by the generator ({aside.name.split('.', 1)[1]}); not read by the "
                                   "course"))
    weights = paths.weights_root()
    if weights.is_dir():
        items.append(_item("weights", "weights", weights, "pretrained weights and package photos"))
    return sorted(items, key=lambda i: (-i.bytes, i.name))


def remove(names: list[str], items: list[Item] | None = None) -> list[Item]:
    """Delete the listed folders the user named (exact names from :func:`inventory`). Every name is checked
    before anything is deleted: an unknown name, or one of a kind not removed here (``synthetic``, ``weights``),
    raises :class:`StorageError` and deletes nothing. Returns the items removed."""
    if not names:
        raise StorageError("disk --remove: name at least one folder, as `mer-course disk` lists it.")
    items = inventory() if items is None else items
    by_name = {i.name: i for i in items}
    chosen = []
    for n in dict.fromkeys(n.strip().rstrip("/") for n in names):
        item = by_name.get(n)
        if item is None:
            close = [i.name for i in items if i.name.startswith(n.split("/")[0])][:5]
            raise StorageError(f"disk --remove {n!r}: no such folder in the listing; nothing was removed. Names "
                               "are those `mer-course disk` prints" + (f", e.g. {close}" if close else "") + ".")
        if not item.removable:
            raise StorageError(f"disk --remove {n!r}: {item.kind} folders are data the course reads and are not "
                               f"removed here; nothing was removed. Delete {item.path} by hand if you mean to.")
        chosen.append(item)
    for item in chosen:
        shutil.rmtree(item.path)
    return chosen


def format_inventory(items: list[Item], width: int = 90) -> str:
    """The listing as text: one line per folder (size, last written, name, description), then totals per kind."""
    def gb(b):
        return f"{b / 1e9:8.2f} GB"

    lines = [f"{'size':>11}  {'last written':16}  name  (what)"]
    for i in items:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(i.modified)) if i.modified else "-"
        lines.append(f"{gb(i.bytes)}  {when:16}  {i.name}  ({_short_text(i.what, width)})")
    totals: dict[str, int] = {}
    for i in items:
        totals[i.kind] = totals.get(i.kind, 0) + i.bytes
    lines.append("totals: " + ", ".join(f"{k} {v / 1e9:.2f} GB" for k, v in sorted(totals.items()))
                 + f"; all {sum(totals.values()) / 1e9:.2f} GB")
    lines.append("remove a preprocess / landmarks / results folder: mer-course disk --remove NAME [NAME ...]")
    return "\n".join(lines)


def _short_text(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


__all__ = ["Item", "StorageError", "REMOVABLE", "inventory", "remove", "format_inventory"]
