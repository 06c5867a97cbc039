"""Repository-level pytest hooks (apply to tests/ and to the notebooks nbval collects)."""
import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Keep the cells of one notebook on one xdist worker (nbval runs them in one kernel, in order), while
    the other tests, the papermill notebook runs included, spread over the workers (``--dist loadgroup``)."""
    for item in items:
        path = str(getattr(item, "path", getattr(item, "fspath", "")))
        if path.endswith(".ipynb"):
            item.add_marker(pytest.mark.xdist_group(name=f"nbval:{path}"))
