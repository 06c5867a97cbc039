"""Show package code inside a notebook instead of copying it there."""
from __future__ import annotations

import inspect


def show_source(obj) -> None:
    """Display the source of a function or class, highlighted when IPython is available."""
    src = inspect.getsource(obj)
    try:
        from IPython.display import Code, display

        display(Code(src, language="python"))
    except Exception:  # pragma: no cover - outside IPython
        print(src)
