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

