"""nbval over the committed notebooks: before a notebook's cells are compared, check that its stored
outputs were produced under this environment's versions (``metadata["mer_course"]["baseline"]``, written by
``mer_utils.course refresh``). A notebook stored under other versions fails once, on its first cell, with
the differing packages and the fix, and its other cells are skipped instead of reporting confusing diffs.
Set ``MER_NBVAL_ANY_ENV=1`` to compare anyway.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import pytest


_reported: set[str] = set()


@lru_cache(maxsize=None)
def _stale(path: str) -> tuple[str, ...]:
    import nbformat

    from mer_utils.envcheck import baseline_differences

    nb = nbformat.read(path, as_version=4)
    return tuple(baseline_differences(nb.metadata.get("mer_course", {}).get("baseline")))


def pytest_runtest_setup(item):
    if type(item).__name__ != "IPyNbCell" or os.environ.get("MER_NBVAL_ANY_ENV") == "1":
        return
    path = str(item.fspath)
    diffs = _stale(path)
    if not diffs:
        return
    first = path not in _reported  # the first cell of this notebook that runs (xdist: one worker a file)
    _reported.add(path)
    msg = (f"{Path(path).name}: its stored outputs (the nbval baseline) were produced under another "
           f"environment: {'; '.join(diffs)}. Install the lock (scripts/bootstrap.sh), or store new "
           f"outputs under this one with `scripts/course.sh refresh {Path(path).name[:2]}` "
           f"(README: 'Updating the locked versions'). MER_NBVAL_ANY_ENV=1 compares anyway.")
    if first:
        pytest.fail(msg, pytrace=False)
    pytest.skip("baseline stored under another environment (see this notebook's first failing cell)")
