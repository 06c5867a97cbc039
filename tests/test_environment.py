"""The locked environment (issue 15): the lock covers pyproject.toml, pins torch/torchvision as a pair, is
what .venv holds, and every committed notebook's outputs were stored under the locked versions."""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest's own dependency
    import tomli as tomllib

from mer_utils import envcheck
from mer_utils.course import REPRODUCIBLE_ENV, list_notebooks
from mer_utils.paths import repo_path

ROOT = repo_path()
LOCK = ROOT / "requirements" / "lock.txt"


def _pyproject_requirements() -> list[Requirement]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    reqs = list(data["project"]["dependencies"]) + list(data["project"]["optional-dependencies"]["dev"])
    reqs += [l.split("#")[0].strip() for l in (ROOT / "requirements" / "build.in").read_text().splitlines()
             if l.split("#")[0].strip()]
    return [Requirement(r) for r in reqs]


def test_lock_parses_and_every_line_is_exact_and_hashed():
    pins = envcheck.read_lock(LOCK)
    assert len(pins) > 50
    text = LOCK.read_text()
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    for block in blocks:
        head = block.splitlines()[0]
        if head.startswith("#") or not head.strip():
            continue
        assert "==" in head, f"lock line is not an exact pin: {head}"
        assert "--hash=sha256:" in block, f"lock line without a hash: {head}"


def test_lock_covers_pyproject_and_satisfies_its_ranges():
    """Catches a pyproject.toml edited without `scripts/lock.sh`: every dependency is locked, in range."""
    pins = envcheck.read_lock(LOCK)
    by_name: dict[str, list[str]] = {}
    for pin in pins:
        by_name.setdefault(pin.name, []).append(pin.version)
    problems = []
    for req in _pyproject_requirements():
        name = envcheck.canonical(req.name)
        if name not in by_name:
            problems.append(f"{req} is not in the lock")
        elif not any(req.specifier.contains(v, prereleases=True) for v in by_name[name]):
            problems.append(f"{req}: locked {by_name[name]} is outside the range")
    assert not problems, "requirements/lock.txt is out of date; run scripts/lock.sh: " + "; ".join(problems)


def test_torch_and_torchvision_locked_as_the_pinned_pair():
    pins = {}
    for line in (ROOT / "requirements" / "pins.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("#")[0].strip().split("==")
            pins[envcheck.canonical(name)] = version
    assert {"torch", "torchvision"} <= set(pins)
    locked = {p.name: p.version for p in envcheck.read_lock(LOCK)}
    for name, version in pins.items():
        assert locked[name] == version, f"lock has {name}=={locked[name]}, pins.txt says {version}"


@pytest.mark.skipif(os.environ.get("MER_ALLOW_UNLOCKED") == "1", reason="MER_ALLOW_UNLOCKED=1")
def test_installed_environment_is_the_lock():
    """The tests run in what bootstrap.sh installed (set MER_ALLOW_UNLOCKED=1 in an environment of your own)."""
    bad = envcheck.lock_mismatches(LOCK)
    assert not bad, ("this environment differs from requirements/lock.txt (run scripts/bootstrap.sh): "
                     + ", ".join(f"{n} {have} (locked {want})" for n, want, have in bad[:10]))


def test_lock_mismatch_is_reported_with_names(tmp_path: Path):
    lock = tmp_path / "lock.txt"
    lock.write_text("numpy==0.0.1 \\\n    --hash=sha256:00\nnot-a-real-package-xyz==1.0 ; python_version < '3'\n")
    bad = envcheck.lock_mismatches(lock)
    assert [b[0] for b in bad] == ["numpy"] and bad[0][1] == "0.0.1" and bad[0][2] is not None
    assert envcheck.main(["--lock", str(lock)]) == 1


def test_missing_lock_is_a_clear_error(tmp_path: Path):
    with pytest.raises(envcheck.LockError, match="scripts/lock.sh"):
        envcheck.read_lock(tmp_path / "nope.txt")


NOTEBOOKS = list_notebooks()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_notebook_outputs_were_stored_under_the_locked_versions(path: Path):
    """metadata.mer_course.baseline (written by `course refresh`) names the lock's compute package versions."""
    baseline = nbformat.read(str(path), as_version=4).metadata.get("mer_course", {}).get("baseline")
    assert baseline, f"{path.name}: no recorded environment; store it with `scripts/course.sh refresh {path.stem[:2]}`"
    if baseline["platform"] != f"{sys.platform}-{__import__('platform').machine()}":
        pytest.skip(f"baseline stored on {baseline['platform']}; the lock's markers are evaluated here")
    locked = envcheck.locked_versions(LOCK)
    stale = {n: (v, locked.get(n)) for n, v in baseline["packages"].items() if v != locked.get(n)}
    assert not stale, (f"{path.name} was stored under versions the lock does not hold "
                       f"({', '.join(f'{n} {v} vs locked {w}' for n, (v, w) in stale.items())}); "
                       f"refresh it: `scripts/course.sh refresh {path.stem[:2]}`")


def test_baseline_differences_name_the_package():
    cur = envcheck.baseline_fingerprint()
    old = {**cur, "packages": {**cur["packages"], "torch": "0.0.1"}}
    diffs = envcheck.baseline_differences(old, cur)
    assert len(diffs) == 1 and diffs[0].startswith("torch 0.0.1 (stored)")
    assert envcheck.baseline_differences(None, cur)[0].startswith("no environment recorded")
    assert envcheck.baseline_differences(cur, cur) == []


def test_test_script_uses_the_refresh_environment():
    """scripts/test.sh exports what `course refresh` used to store the baselines (threads, CPU only, ...)."""
    script = (ROOT / "scripts" / "test.sh").read_text()
    for key, value in REPRODUCIBLE_ENV.items():
        assert re.search(rf"\b{key}={re.escape(value)}(\s|$)", script), f"scripts/test.sh does not export {key}={value!r}"
