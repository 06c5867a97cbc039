"""Shared pytest fixtures."""
from __future__ import annotations

from pathlib import Path

import pytest

from mer_utils.paths import REPO_ROOT

FIXTURES = REPO_ROOT.parent / "shared" / "fixtures" / "real-annotations"


@pytest.fixture(scope="session")
def real_annotations() -> Path:
    """The real annotation spreadsheets (outside the repo); tests using them skip when absent."""
    if not FIXTURES.is_dir():
        pytest.skip(f"real annotation fixtures not found at {FIXTURES}")
    return FIXTURES


def pytest_collection_modifyitems(config, items):
    """Keep the cells of one notebook on one xdist worker (nbval runs them in one kernel, in order), while
    the other tests, the papermill notebook runs included, spread over the workers (``--dist loadgroup``)."""
    for item in items:
        path = str(getattr(item, "path", getattr(item, "fspath", "")))
        if path.endswith(".ipynb"):
            item.add_marker(pytest.mark.xdist_group(name=f"nbval:{path}"))
