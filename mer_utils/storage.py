"""What the course keeps on disk, and removing parts of it when the user names them (``mer-course disk``).

The course never deletes what a run made: a changed preprocessing parameter writes a new cache folder beside the
old one (:mod:`mer_utils.preprocess.cache`), a changed training setting a new result folder
(:mod:`mer_utils.results`). That keeps every finished fold, but caches of settings no longer used keep their disk:
switching notebook 50's Fig. 3 sweep on (``N_GRID="paper"``) after a default ``full`` run writes magnified stacks
of 20 frames (~18 GB at paper size, by the cost plan) beside those of 11 (~10 GB). This module lists every such
folder with its size, what it holds and when it was last written, so a user can see where the disk went, and
removes the ones the user names — by the exact name the listing shows, nothing else::

    python -m mer_utils.course disk                      # the listing, largest first, with totals per kind
    python -m mer_utils.course disk --json
    python -m mer_utils.course disk --remove preprocess/wei2022/3f2a9c0d1e4b

Kinds: ``preprocess`` (one recipe's outputs for one parameter set: a folder holding ``params.json``),
``landmarks`` (one detector's cached landmarks), ``cache`` (the other folders of the cache root: pretrained
checkpoints, control features, Peng et al.'s macro stage ...), ``results`` (one run of the result store, a folder
holding ``params.json``: predictions, fold checkpoints, metrics), ``runs`` (course runs ``runs/<stamp>-<profile>``,
the site), ``synthetic`` (a generated data set, or a stale one the generator moved aside) and ``weights``
(pretrained files). The last two are listed for the totals but not removed here: they are data the course reads;
delete them by hand if you mean to (the bootstrap and ``ensure_synthetic`` make them again).

Only real folders are listed: a symbolic link anywhere below a root is skipped (never followed), and a folder is
removed only when it still resolves inside its root. A folder written in the last :data:`BUSY_SECONDS` seconds may
belong to a running notebook: :func:`remove` refuses it unless ``force=True``.
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
REMOVABLE = ("preprocess", "landmarks", "cache", "results", "runs")
#: A folder with a file written this recently (seconds) may be in use by a running notebook.
BUSY_SECONDS = 300


class StorageError(ValueError):
    """A name given to :func:`remove` that the listing does not hold, names a kind not removed here, or a folder
    that cannot be removed safely now."""


@dataclass(frozen=True)
class Item:
    """One folder the course keeps: ``name`` (what :func:`remove` takes), ``kind``, ``path``, ``bytes``,
    ``files``, ``modified`` (latest modification time of its files, seconds since the epoch; 0 when empty),
    ``what`` (a one-line description) and ``root`` (the root it must resolve inside to be removed)."""

    name: str
    kind: str
    path: Path
    bytes: int
    files: int
    modified: float
    what: str
    root: Path | None = None

    @property
    def removable(self) -> bool:
        return self.kind in REMOVABLE

    def row(self) -> dict:
        out = asdict(self)
        out.pop("root")
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
    """:func:`mer_utils.preprocess.cache.read_json`, ``{}`` unless it is a JSON object."""
    from .preprocess.cache import read_json

    out = read_json(path)
    return out if isinstance(out, dict) else {}


def _short(params: dict) -> str:
    return ", ".join(f"{k}={json.dumps(v, separators=(',', ':'))}" for k, v in sorted(params.items()))


def _changed(recipe: str, params: dict) -> str:
    """The parameters of a cached set that differ from the recipe's defaults (what tells two sets apart), or all of
    them when the recipe is unknown; ``"defaults"`` when none differs."""
    from .papers import RECIPES
    from .preprocess.cache import canonical

    try:
        default = canonical(RECIPES[recipe].params())
    except Exception:  # unknown recipe, or defaults that need a table: show everything
        return _short(params)
    changed = {k: v for k, v in params.items() if default.get(k, object()) != v}
    return _short(changed) if changed else "defaults"


def _real_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def _folders(root: Path, depth: int) -> list[Path]:
    """Real folders exactly ``depth`` levels under ``root`` (symbolic links are skipped, never followed)."""
    level = [root] if _real_dir(root) else []
    for _ in range(depth):
        level = [c for p in level for c in sorted(p.iterdir()) if _real_dir(c)]
    return level


def _inside(root: Path, path: Path) -> bool:
    """``path`` resolves strictly inside ``root``."""
    try:
        r, p = Path(root).resolve(), Path(path).resolve()
    except OSError:
        return False
    return p != r and r in p.parents


def _outdated(recipe: str, meta: dict) -> str:
    """Why a cached parameter set can no longer be read ('' when it can): its recipe is gone, or the recipe or the
    shared steps have another version now (both are part of the cache key, so the folder is never looked up
    again). Sets written before ``params.json`` recorded the shared steps' version are judged by the recipe's."""
    from .papers import RECIPES
    from .preprocess.cache import PREPROCESS_VERSION

    if recipe not in RECIPES:
        return f"recipe {recipe!r} no longer exists"
    now, was = str(RECIPES[recipe].version), meta.get("version")
    if was is not None and str(was) != now:
        return f"recipe version {was}, now {now}"
    shared = meta.get("preprocess")
    if shared is not None and str(shared) != str(PREPROCESS_VERSION):
        return f"shared preprocessing version {shared}, now {PREPROCESS_VERSION}"
    return ""


def _item(name: str, kind: str, folder: Path, what: str, root: Path | None = None) -> Item:
    size, files, latest = _usage(folder)
    return Item(name, kind, folder, size, files, latest, what, root)


def inventory() -> list[Item]:
    """Every folder the course keeps, largest first (roots from :mod:`mer_utils.paths`, so ``$MER_CACHE_ROOT``,
    ``$MER_RESULTS_ROOT``, ``$MER_SYNTHETIC_ROOT`` and ``$MER_WEIGHTS_ROOT`` are honoured)."""
    from .preprocess.cache import preprocess_root

    items: list[Item] = []
    cache, pre, res = paths.cache_root(), preprocess_root(), paths.results_root()
    for folder in _folders(pre, 2):
        recipe = folder.parent.name
        if recipe == "landmarks":
            items.append(_item(f"preprocess/landmarks/{folder.name}", "landmarks", folder,
                               f"landmarks, detector key {folder.name}", pre))
            continue
        if not (folder / "params.json").is_file():  # not a parameter set the cache wrote
            continue
        meta = _read_json(folder / "params.json")
        what = f"{meta.get('recipe', recipe)} v{meta.get('version', '?')}: " + _changed(recipe, meta.get("params", {}))
        if meta.get("tensor_ops"):
            what = "tensor path, " + what
        outdated = _outdated(recipe, meta)
        if outdated:
            what = f"[{outdated}; never read again] {what}"
        items.append(_item(f"preprocess/{recipe}/{folder.name}", "preprocess", folder, what, pre))
    for folder in _folders(cache, 1):
        if folder.name != pre.name and not _inside(folder, res) and not _inside(folder, paths.weights_root()):
            items.append(_item(f"cache/{folder.name}", "cache", folder, f"cache: {folder.name}", cache))
    for folder in _folders(res, 4):
        if not (folder / "params.json").is_file():  # the marker of a run folder (mer_utils.results)
            continue
        notebook, dataset, protocol = folder.parent.parent.parent.name, folder.parent.parent.name, folder.parent.name
        folds = folder / "folds"
        done = sum(1 for f in folds.iterdir() if (f / "fold.json").is_file()) if _real_dir(folds) else 0
        state = "complete" if (folder / "metrics.json").is_file() else "incomplete"
        items.append(_item(f"results/{notebook}/{dataset}/{protocol}/{folder.name}", "results", folder,
                           f"{notebook} {dataset} {protocol}: {done} fold(s) done, {state}", res))
    runs = paths.repo_path("runs")
    for folder in _folders(runs, 1):
        if folder.resolve() == res.resolve() or _inside(folder, res):  # the result store: listed run by run
            continue
        what = "course run (executed notebooks, summary)" if (folder / "summary.json").is_file() else \
            f"runs: {folder.name}"
        items.append(_item(f"runs/{folder.name}", "runs", folder, what, runs))
    synth = paths.synthetic_root("quick").parent
    for size in ("quick", "paper"):
        folder = paths.synthetic_root(size)
        if _real_dir(folder):
            meta = _read_json(folder / "_synthetic.json")
            items.append(_item(f"synthetic/{size}", "synthetic", folder,
                               f"synthetic {size} set, generator {meta.get('version', '?')}"))
        # stale sets the generator moved aside (``<size>.old-v<version>-<stamp>``, ``<size>.user-<stamp>``): kept
        # because they may hold files a user added, so they are listed for the disk they take
        for aside in sorted(synth.glob(f"{size}.*")) if _real_dir(synth) else []:
            if _real_dir(aside):
                items.append(_item(f"synthetic/{aside.name}", "synthetic", aside,
                                   f"moved aside by the generator ({aside.name.split('.', 1)[1]}); not read by the "
                                   "course"))
    weights = paths.weights_root()
    if _real_dir(weights):
        items.append(_item("weights", "weights", weights, "pretrained weights and package photos"))
    return sorted(items, key=lambda i: (-i.bytes, i.name))


def remove(names: list[str], items: list[Item] | None = None, force: bool = False) -> list[Item]:
    """Delete the listed folders the user named (exact names from :func:`inventory`). Every name is checked
    before anything is deleted: an unknown name, one of a kind not removed here (``synthetic``, ``weights``), a
    folder that no longer resolves inside its root (a link put there since), or one written in the last
    :data:`BUSY_SECONDS` seconds (a running notebook may be using it; ``force=True`` removes it anyway) raises
    :class:`StorageError` and deletes nothing. Returns the items removed."""
    if not names:
        raise StorageError("disk --remove: name at least one folder, as `mer-course disk` lists it.")
    items = inventory() if items is None else items
    by_name = {i.name: i for i in items}
    chosen = []
    now = time.time()
    for n in dict.fromkeys(n.strip().rstrip("/") for n in names):
        item = by_name.get(n)
        if item is None:
            close = [i.name for i in items if i.name.startswith(n.split("/")[0])][:5]
            raise StorageError(f"disk --remove {n!r}: no such folder in the listing; nothing was removed. Names "
                               "are those `mer-course disk` prints" + (f", e.g. {close}" if close else "") + ".")
        if not item.removable:
            raise StorageError(f"disk --remove {n!r}: {item.kind} folders are data the course reads and are not "
                               f"removed here; nothing was removed. Delete {item.path} by hand if you mean to.")
        if item.path.is_symlink() or item.root is None or not _inside(item.root, item.path):
            raise StorageError(f"disk --remove {n!r}: {item.path} is not a folder inside {item.root} (a link put "
                               "there?); nothing was removed.")
        if not force and item.modified and now - item.modified < BUSY_SECONDS:
            raise StorageError(f"disk --remove {n!r}: written {now - item.modified:.0f} s ago, so a running notebook "
                               "may be using it; nothing was removed. Wait for it to finish, or pass --force.")
        chosen.append(item)
    removed: list[Item] = []
    for item in chosen:
        try:
            shutil.rmtree(item.path)
        except OSError as exc:
            done = ", ".join(i.name for i in removed) or "none"
            raise StorageError(f"disk --remove: could not remove {item.path} ({exc}); removed before it: "
                               f"{done}.") from exc
        removed.append(item)
    return removed


def format_inventory(items: list[Item], width: int = 90) -> str:
    """The listing as text: one line per folder (size, last written, name, description), then totals per kind."""
    lines = [f"{'size':>11}  {'last written':16}  name  (what)"]
    for i in items:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(i.modified)) if i.modified else "-"
        what = i.what if len(i.what) <= width else i.what[: width - 3] + "..."
        lines.append(f"{i.bytes / 1e9:8.2f} GB  {when:16}  {i.name}  ({what})")
    totals: dict[str, int] = {}
    for i in items:
        totals[i.kind] = totals.get(i.kind, 0) + i.bytes
    lines.append("totals: " + ", ".join(f"{k} {v / 1e9:.2f} GB" for k, v in sorted(totals.items()))
                 + f"; all {sum(totals.values()) / 1e9:.2f} GB")
    lines.append("remove folders by name (not data or weights): mer-course disk --remove NAME [NAME ...]")
    return "\n".join(lines)


__all__ = ["Item", "StorageError", "REMOVABLE", "BUSY_SECONDS", "inventory", "remove", "format_inventory"]
