"""The public names of a paper package, each imported from its module on first use (PEP 562), so that
importing a paper's recipe (as the preprocessing worker processes do) does not import torch, its network or
its pipeline."""
from __future__ import annotations

import importlib
from typing import Callable, Mapping, Sequence


def lazy_exports(package: str, exports: Mapping[str, Sequence[str]]) -> tuple[Callable, Callable, list]:
    """``__getattr__``, ``__dir__`` and ``__all__`` for ``package`` from ``{module: names}``: ``package.name``
    imports ``package.module`` and returns its ``name``; ``package.module`` imports the module."""
    where = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str):
        if name in exports:
            return importlib.import_module(f"{package}.{name}")
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}; its names are in "
                                 f"{', '.join(exports)}: {sorted(where)}.")
        return getattr(importlib.import_module(f"{package}.{where[name]}"), name)

    def __dir__() -> list:
        return sorted(set(where) | set(exports))

    return __getattr__, __dir__, sorted(where)
