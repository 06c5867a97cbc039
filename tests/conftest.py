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


@pytest.fixture
def she_tiny_problem():
    """A function ``(n_subjects=4, clips=4, frames=3) -> (table, faces)``: a tiny She et al. problem of uint8
    28 x 24 grey faces whose top rows brighten with the label (learnable), four classes, one CASME II-like
    dataset."""
    def make(n_subjects=4, clips=4, frames=3):
        import numpy as np
        import pandas as pd

        rng = np.random.default_rng(0)
        rows = [{"clip_uid": f"casme2/s{s}/c{c}", "subject_uid": f"casme2/s{s}", "dataset": "casme2",
                 "label": (s + c) % 4} for s in range(n_subjects) for c in range(clips)]
        table = pd.DataFrame(rows)
        faces = rng.integers(0, 255, size=(len(table), frames, 28, 24, 1), dtype=np.uint8)
        faces[..., :10, :, 0] += (table["label"].to_numpy() * 40)[:, None, None, None].astype(np.uint8)
        return table, faces
    return make


@pytest.fixture
def composite_store():
    """A function writing two finished runs into a result store: a composite run (MEGC 2019, LOSO, profile ``ci``)
    and a notebook-02 demonstration (``-shuffled``), both predicting class 0."""

    def write(root):
        from collections import namedtuple

        import numpy as np
        import pandas as pd

        from mer_utils import training as T

        Fold = namedtuple("Fold", "name train test")
        rng = np.random.default_rng(0)
        table = pd.DataFrame({"clip_uid": [f"{d}/s{i}/c{i}" for i, d in enumerate(["casme2", "samm"] * 6)],
                              "subject_uid": [f"{d}/s{i % 4}" for i, d in enumerate(["casme2", "samm"] * 6)],
                              "dataset": ["casme2", "samm"] * 6, "label": rng.integers(0, 3, 12)})
        subj = table["subject_uid"].to_numpy()
        folds = [Fold(s, np.flatnonzero(subj != s), np.flatnonzero(subj == s)) for s in np.unique(subj)]
        T.cross_validate(lambda f, tr, te, d: np.zeros(len(te), int), table, folds, notebook="99_test",
                         dataset="megc2019", protocol="megc2019_composite-loso", method_name="always negative",
                         params={"profile": "ci"}, class_names=["negative", "positive", "surprise"], root=root,
                         progress=False, device="cpu", data_source="synthetic (quick)")
        T.cross_validate(lambda f, tr, te, d: np.zeros(len(te), int), table, folds, notebook="02_evaluation",
                         dataset="casme2", protocol="casme2_5class-shuffled", method_name="demo",
                         class_names=["a", "b", "c"], root=root, progress=False, device="cpu")

    return write


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Say where the browser test (tests/test_browser.py) left its screenshots, when it ran in this session
    (on any xdist worker: the folder's files are newer than the session's start)."""
    try:
        from test_browser import artifact_dir  # tests/ is on sys.path (pytest's default import mode)
    except ImportError:
        return
    folder = artifact_dir()
    start = getattr(config, "_mer_session_start", None)
    if start is None or not folder.is_dir():
        return
    shots = [p for p in folder.glob("*.png") if p.stat().st_mtime >= start]
    if shots:
        terminalreporter.write_line(f"browser test: {len(shots)} JupyterLab screenshot(s) in {folder}")


def pytest_configure(config):
    import time

    config._mer_session_start = time.time()


def pytest_collection_modifyitems(config, items):
    """The ``paper_shapes`` smoke test (tests/test_paper_shapes.py, minutes of CPU) runs only when asked for
    with ``-m paper_shapes``; the default run (CI) skips it, saying how to run it."""
    if "paper_shapes" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="paper-size smoke test: scripts/test.sh -m paper_shapes tests/test_paper_shapes.py")
    for item in items:
        if "paper_shapes" in item.keywords:
            item.add_marker(skip)
