"""The locked environment: what ``requirements/lock.txt`` pins, what is installed, and the fingerprint that
the committed notebooks carry of the environment their outputs were stored under.

The lock (made by ``scripts/lock.sh`` with ``uv pip compile --universal --generate-hashes``) holds the exact
version of every package, for every platform, with environment markers. ``scripts/bootstrap.sh`` installs
it; :func:`lock_mismatches` says whether the running interpreter really has it, and
:func:`baseline_fingerprint` is what ``mer_utils.course refresh`` writes into a notebook's metadata
(``metadata["mer_course"]["baseline"]``) so that the tests catch a baseline stored under other versions
before nbval reports confusing differences.

Command line::

    python -m mer_utils.envcheck            # exit 1 and list the differences when .venv is not the lock
    python -m mer_utils.envcheck --extras   # list installed packages the lock does not name (never removes)
"""
from __future__ import annotations

import argparse
import hashlib
import platform
import re
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from .paths import repo_path

LOCK_FILE = repo_path("requirements", "lock.txt")
#: Packages whose version can change a notebook's numbers or figures: recorded with every baseline.
COMPUTE_PACKAGES = ("torch", "torchvision", "numpy", "scipy", "scikit-learn", "scikit-image",
                    "opencv-contrib-python-headless", "dlib-bin", "pandas", "matplotlib", "seaborn", "timm",
                    "pillow", "h5py", "nbval", "papermill")
#: Installed distributions that are never in the lock: the project itself.
NOT_LOCKED = {"mer-utils"}
_REQ = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


class LockError(RuntimeError):
    """The lock file is missing or unreadable."""


def canonical(name: str) -> str:
    """PEP 503 normalised project name (``Scikit_Learn`` -> ``scikit-learn``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    marker: str | None

    def applies(self) -> bool:
        """Whether this line's environment marker holds for the running interpreter."""
        if not self.marker:
            return True
        from packaging.markers import Marker

        return Marker(self.marker).evaluate()


def read_lock(path: Path | str = LOCK_FILE) -> list[Pin]:
    """Every ``name==version ; marker`` line of the lock (hash continuation lines skipped)."""
    path = Path(path)
    if not path.is_file():
        raise LockError(f"lock file not found: {path}. Restore it from git "
                        f"(`git checkout -- requirements/lock.txt`) or regenerate it with scripts/lock.sh.")
    pins = []
    for line in path.read_text().splitlines():
        m = _REQ.match(line.strip())
        if m:
            pins.append(Pin(canonical(m.group(1)), m.group(2), m.group(3)))
    if not pins:
        raise LockError(f"{path} holds no `name==version` lines; regenerate it with scripts/lock.sh.")
    return pins


def locked_versions(path: Path | str = LOCK_FILE) -> dict[str, str]:
    """``{name: version}`` of the lock's lines that apply to this interpreter and platform."""
    out: dict[str, str] = {}
    for pin in read_lock(path):
        if pin.applies():
            out[pin.name] = pin.version
    return out


def installed_versions() -> dict[str, str]:
    """``{name: version}`` of every distribution importable by this interpreter."""
    out = {}
    for dist in metadata.distributions():
        name = dist.metadata.get("Name")
        if name:
            out.setdefault(canonical(name), dist.version)
    return out


def lock_mismatches(path: Path | str = LOCK_FILE) -> list[tuple[str, str, str | None]]:
    """``(name, locked, installed or None)`` for every locked package not installed at its locked version."""
    have = installed_versions()
    return [(name, version, have.get(name)) for name, version in sorted(locked_versions(path).items())
            if have.get(name) != version]


def extras(path: Path | str = LOCK_FILE) -> list[tuple[str, str]]:
    """Installed distributions the lock does not name (a user's own installs; never removed)."""
    locked = {p.name for p in read_lock(path)} | NOT_LOCKED
    return sorted((n, v) for n, v in installed_versions().items() if n not in locked)


def lock_digest(path: Path | str = LOCK_FILE) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def baseline_fingerprint() -> dict:
    """The environment a notebook's stored outputs come from: Python, platform, compute packages, lock hash."""
    have = installed_versions()
    return {"python": ".".join(platform.python_version_tuple()[:2]),
            "platform": f"{sys.platform}-{platform.machine()}",
            "packages": {name: have.get(name) for name in COMPUTE_PACKAGES},
            "lock_sha256": lock_digest() if LOCK_FILE.is_file() else None}


def baseline_differences(recorded: dict | None, current: dict | None = None) -> list[str]:
    """Human-readable differences between a notebook's recorded baseline and ``current`` (default: this one).

    The lock hash is not compared: a lock change that moves no compute package (a new dev tool, say) keeps
    the baselines valid.
    """
    if not recorded:
        return ["no environment recorded (refresh it with `scripts/course.sh refresh NN`)"]
    current = current or baseline_fingerprint()
    diffs = []
    for key in ("python", "platform"):
        if recorded.get(key) != current.get(key):
            diffs.append(f"{key} {recorded.get(key)} (stored) vs {current.get(key)} (here)")
    rec_p, cur_p = recorded.get("packages", {}), current.get("packages", {})
    for name in sorted(set(rec_p) | set(cur_p)):
        if rec_p.get(name) != cur_p.get(name):
            diffs.append(f"{name} {rec_p.get(name)} (stored) vs {cur_p.get(name)} (here)")
    return diffs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m mer_utils.envcheck", description=__doc__.split("\n\n")[0])
    p.add_argument("--extras", action="store_true", help="only list installed packages the lock does not name")
    p.add_argument("--lock", default=str(LOCK_FILE), help="lock file (default: requirements/lock.txt)")
    args = p.parse_args(argv)
    if args.extras:
        found = extras(args.lock)
        if found:
            print("envcheck: installed but not in the lock (kept; remove with pip uninstall if unwanted): "
                  + ", ".join(f"{n}=={v}" for n, v in found), file=sys.stderr)
        return 0
    bad = lock_mismatches(args.lock)
    if bad:
        print(f"envcheck: {len(bad)} package(s) differ from {args.lock}:", file=sys.stderr)
        for name, want, have in bad:
            print(f"  {name}: locked {want}, installed {have or 'nothing'}", file=sys.stderr)
        print("Fix: run scripts/bootstrap.sh (installs the lock into .venv).", file=sys.stderr)
        return 1
    print(f"envcheck: this environment matches {args.lock}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
