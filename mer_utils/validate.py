"""Checks of parameter values, with errors that name the parameter, the value given and what is expected.

Used before anything runs: by the course runner on the notebooks' parameters (:func:`check_parameters`, types
taken from the parameters cell's defaults and from the profile table the notebook resolves them against, plus
the declared :data:`CONSTRAINTS`), by :func:`mer_utils.device.setup`, by :func:`mer_utils.config.resolve_profile`
and, for the training settings, by :func:`check_train_config` (meant for ``TrainConfig.__post_init__``)::

    check_value("SEED", "abc", types=(int,))      # ParameterError: SEED='abc': expected an int (e.g. 0), got a str.
    check_value("EPOCHS", 2.5)                    # ParameterError: EPOCHS=2.5: expected an int >= 1, got a float.
    check_value("LR", -1)                         # ParameterError: LR=-1: expected a number > 0.

``None`` is accepted where the notebook's default is ``None`` ("take it from the profile").
"""
from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np


class ParameterError(TypeError, ValueError):
    """A parameter value of the wrong type or out of range. A ``ValueError`` and a ``TypeError``, so code that
    catches either (as callers of the checked functions did before) still does."""


# --------------------------------------------------------------------------------------------------------------
# Types
# --------------------------------------------------------------------------------------------------------------
_TYPE_NAMES = {bool: "True or False", int: "an int", float: "a number", str: "a string", list: "a list",
               dict: "a dict"}


def _is(value: Any, kind: type) -> bool:
    """``isinstance`` with the course's rules: bool is not an int, an int is a float, a tuple is a list."""
    if kind is bool:
        return isinstance(value, (bool, np.bool_))
    if kind is int:
        return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    if kind is float:
        return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if kind is list:
        return isinstance(value, (list, tuple))
    if kind is dict:
        return isinstance(value, Mapping)
    return isinstance(value, kind)


def types_of(value: Any) -> tuple[type, ...]:
    """The types a parameter whose default (or profile value) is ``value`` accepts; ``()`` for ``None``."""
    if value is None or value is _OPAQUE:
        return ()
    for kind in (bool, int, float, str, list, dict):
        if _is(value, kind):
            return (kind,)
    return (type(value),)


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def describe_types(types: Iterable[type]) -> str:
    names = [_TYPE_NAMES.get(t, f"a {t.__name__}") for t in dict.fromkeys(types)]
    return " or ".join(names) if names else "any value"


def _type_name(value: Any) -> str:
    return "None" if value is None else type(value).__name__


# --------------------------------------------------------------------------------------------------------------
# Declared constraints
# --------------------------------------------------------------------------------------------------------------
DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda|cuda:\d+|mps)$")


@dataclass(frozen=True)
class Constraint:
    """What a parameter must be: ``types`` (``None``: as its default), a range, ``choices`` or a device name."""

    types: tuple[type, ...] | None = None
    minimum: float | None = None
    exclusive_minimum: bool = False
    maximum: float | None = None
    exclusive_maximum: bool = False
    choices: tuple | None = None
    device: bool = False

    def expected(self) -> str:
        parts = [describe_types(self.types)] if self.types and self.choices is None and not self.device else []
        if self.minimum is not None:
            parts.append(f"{'>' if self.exclusive_minimum else '>='} {_number(self.minimum)}")
        if self.maximum is not None:
            parts.append(f"{'and ' if self.minimum is not None else ''}{'<' if self.exclusive_maximum else '<='} "
                         f"{_number(self.maximum)}")
        if self.choices is not None:
            parts.append("one of " + ", ".join(repr(c) for c in self.choices))
        if self.device:
            parts.append("'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'")
        return " ".join(parts)

    def problem(self, value: Any) -> str | None:
        """Why ``value`` breaks the constraint, or ``None``."""
        if self.types and not any(_is(value, t) for t in self.types):
            return f"got {_type_name(value)}"
        if self.minimum is not None or self.maximum is not None:
            if not _is(value, float):
                return f"got {_type_name(value)}"
            if isinstance(value, (float, np.floating)) and not math.isfinite(value):
                return "not a finite number"
            if self.minimum is not None and (value <= self.minimum if self.exclusive_minimum else value < self.minimum):
                return "out of range"
            if self.maximum is not None and (value >= self.maximum if self.exclusive_maximum else value > self.maximum):
                return "out of range"
        if self.choices is not None and value not in self.choices:
            return "not one of the choices"
        if self.device and not (isinstance(value, str) and DEVICE_PATTERN.match(value.strip().lower())):
            return "not a device name" if isinstance(value, str) else f"got {_type_name(value)}"
        return None


_INT = (int,)
_NUMBER = (float,)
#: Constraints of the standard notebook parameters (and of the profile settings of the same name, upper-cased).
CONSTRAINTS: dict[str, Constraint] = {
    "SEED": Constraint(_INT, minimum=0),
    "EPOCHS": Constraint(_INT, minimum=1),
    "BATCH_SIZE": Constraint(_INT, minimum=1),
    "EVAL_BATCH_SIZE": Constraint(_INT, minimum=1),
    "LR": Constraint(_NUMBER, minimum=0, exclusive_minimum=True),
    "WEIGHT_DECAY": Constraint(_NUMBER, minimum=0),
    "MOMENTUM": Constraint(_NUMBER, minimum=0, maximum=1),
    "LABEL_SMOOTHING": Constraint(_NUMBER, minimum=0, maximum=1, exclusive_maximum=True),
    "VAL_FRACTION": Constraint(_NUMBER, minimum=0, maximum=1, exclusive_maximum=True),
    "PATIENCE": Constraint(_INT, minimum=1),
    "GRAD_CLIP": Constraint(_NUMBER, minimum=0, exclusive_minimum=True),
    "NUM_WORKERS": Constraint(_INT, minimum=0),
    "PROFILE": Constraint((str,), choices=("ci", "quick", "full")),
    "DEVICE": Constraint((str,), device=True),
    "SYNTHETIC_SIZE": Constraint((str,), choices=("tiny", "quick", "paper")),
    "DATA_ROOT": Constraint((str,)),
    "MAX_FOLDS": Constraint(_INT, minimum=1),
    "MAX_CLIPS": Constraint(_INT, minimum=1),
    "WORKERS": Constraint(_INT, minimum=1),
    "THREADS": Constraint(_INT, minimum=0),
    "N_FRAMES": Constraint(_INT, minimum=1),
    "IMAGE_SIZE": Constraint(_INT, minimum=1),
    "INNER_FOLDS": Constraint(_INT, minimum=2),
    "REQUIRE_LICENSED": Constraint((bool,)),
    "ALLOW_SUBSTITUTES": Constraint((bool,)),
}
#: Constraints by name ending (``MACRO_EPOCHS``, ``SMIC_FRAMES``, ``PRETRAIN_LR`` ...).
SUFFIX_CONSTRAINTS: dict[str, Constraint] = {
    "_EPOCHS": Constraint(_INT, minimum=1),
    "_LR": Constraint(_NUMBER, minimum=0, exclusive_minimum=True),
    "_BATCH_SIZE": Constraint(_INT, minimum=1),
    "_FRAMES": Constraint(_INT, minimum=1),
}


def constraint_for(name: str) -> Constraint | None:
    """The declared constraint of parameter ``name`` (case-insensitive), or ``None``."""
    key = str(name).upper()
    if key in CONSTRAINTS:
        return CONSTRAINTS[key]
    for suffix, constraint in SUFFIX_CONSTRAINTS.items():
        if key.endswith(suffix):
            return constraint
    return None


# --------------------------------------------------------------------------------------------------------------
# Checking values
# --------------------------------------------------------------------------------------------------------------
def value_problem(name: str, value: Any, types: Iterable[type] | None = None, allow_none: bool = False,
                  constraint: Constraint | None | bool = True, example: Any = None) -> str | None:
    """The message for a bad ``value`` of parameter ``name``, or ``None`` when it is fine.

    ``types``: the accepted types (``None`` / empty: any); ``allow_none``: ``None`` is fine ("from the
    profile"); ``constraint``: ``True`` looks up :func:`constraint_for`, ``False`` / ``None`` skips it;
    ``example``: shown as the expected form (the notebook's default).
    """
    types = tuple(types or ())
    if constraint is True:
        constraint = constraint_for(name)
    shown = f"{name}={value!r}"
    if value is None:
        if allow_none:
            return None
        wanted = describe_types(types or (constraint.types if constraint and constraint.types else ()))
        return f"{shown}: expected {wanted}{_example(example)}; None is not accepted here"
    expected = []
    if types and not (constraint and (constraint.choices is not None or constraint.device)):
        expected.append(describe_types(types))
    if constraint:
        text = constraint.expected()
        if types and constraint.types:
            text = text.replace(describe_types(constraint.types), "", 1).strip()
        if text:
            expected.append(text)
    wanted = " ".join(expected) or "any value"
    if types and not any(_is(value, t) for t in types):
        return f"{shown}: expected {wanted}{_example(example)}, got {_type_name(value)}"
    if constraint:
        why = constraint.problem(value)
        if why is not None:
            got = f", {why}" if why.startswith("got") else ""
            return f"{shown}: expected {wanted}{_example(example)}{got}"
    return None


def _example(example: Any) -> str:
    return "" if example is None else f" (e.g. {example!r})"


def check_value(name: str, value: Any, types: Iterable[type] | None = None, allow_none: bool = False,
                constraint: Constraint | None | bool = True, example: Any = None) -> Any:
    """``value`` when :func:`value_problem` finds nothing wrong, else raise :class:`ParameterError`."""
    problem = value_problem(name, value, types, allow_none, constraint, example)
    if problem is not None:
        raise ParameterError(problem + ".")
    return value


def check_parameters(values: Mapping[str, Any], defaults: Mapping[str, Any],
                     profile_types: Mapping[str, tuple[type, ...]] | None = None, where: str = "",
                     converters: Mapping[str, Any] | None = None) -> None:
    """Check notebook parameter ``values`` against the parameters cell's ``defaults`` (types), the notebook's
    profile table (``profile_types``: the types of the setting a ``None`` default stands for) and
    :data:`CONSTRAINTS`. Raises one :class:`ParameterError` listing every bad value.

    - a non-``None`` default fixes the type: ``SEED = 0`` takes an int (not ``'abc'``, ``1.5``, ``True`` or
      ``None``), ``LR = 0.01`` a number, ``DEVICE = "auto"`` a string, ``DATASETS = [...]`` a list;
    - a ``None`` default takes ``None`` or what the profile table holds for that setting (any value when unknown);
    - the declared constraints then apply (``SEED >= 0``, ``EPOCHS >= 1``, ``LR > 0``, ``PROFILE`` and ``DEVICE``
      names ...);
    - a parameter with a converter (``converters``, :func:`profile_converters`: the notebook passes it as
      ``setting=alias.f(PARAM)``) is checked by calling it: its ``ValueError`` is the problem.
    """
    problems = []
    for name, value in values.items():
        if converters and name in converters and value is not None:
            try:
                converters[name](value)
            except (ValueError, TypeError) as exc:
                problems.append(str(exc))
            continue
        default = defaults.get(name)
        if default is not None:
            types, allow_none = types_of(default), False
        else:
            types, allow_none = tuple((profile_types or {}).get(name, ())), True
        problem = value_problem(name, value, types, allow_none, True, default)
        if problem is not None:
            problems.append(problem)
    if problems:
        lead = f"{where}: " if where else ""
        raise ParameterError(lead + "bad parameter value(s):\n  " + "\n  ".join(problems)
                             + "\nNothing was run. Fix the values (command line: -p NAME VALUE, parsed as YAML: "
                               "3 is an int, 3.0 a float, null is None, quote strings that look like numbers).")


# --------------------------------------------------------------------------------------------------------------
# Reading a notebook: defaults of its parameters cell and the profile table it resolves them against
# --------------------------------------------------------------------------------------------------------------
def _cells(notebook: str | Path) -> list:
    """The notebook's cells (``cell_type``, ``source`` as one string). Read with nbformat; where it is not
    installed (a bare GPU machine running ``benchmarks/gpu_check.py``), the v4 JSON is read directly — the same
    cells, since the course's notebooks are all nbformat 4."""
    try:
        import nbformat
    except ImportError:
        import json

        class Cell(dict):  # nbformat's NotebookNode: a dict whose keys are attributes too
            __getattr__ = dict.__getitem__

        data = json.loads(Path(notebook).read_text(encoding="utf-8"))
        if data.get("nbformat") != 4:
            raise ValueError(f"{notebook}: nbformat {data.get('nbformat')} without the nbformat package installed; "
                             "expected a version 4 notebook (pip install nbformat to read others).") from None
        return [Cell(c, source="".join(c["source"]) if isinstance(c["source"], list) else c["source"])
                for c in data["cells"]]
    return nbformat.read(str(notebook), as_version=4).cells


def parameter_defaults(notebook: str | Path) -> dict[str, Any]:
    """The literal defaults of the notebook's ``parameters`` cell (``{"SEED": 0, "EPOCHS": None, ...}``);
    a default that is not a literal is left out."""
    for cell in _cells(notebook):
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            out = {}
            for node in ast.parse(cell.source).body:
                if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                    try:
                        out[node.targets[0].id] = ast.literal_eval(node.value)
                    except ValueError:
                        continue
            return out
    return {}


class _Unknown(Exception):
    pass


class _Opaque:
    """A value of a profile table that cannot be read without running the notebook (a name, a call)."""

    def __repr__(self) -> str:
        return "<unknown>"


_OPAQUE = _Opaque()


def _evaluate(node: ast.AST, names: Mapping[str, Any], resolve: Callable[[ast.AST], Any]) -> Any:
    """A safe evaluation of a profile table: literals, ``dict(...)``, names assigned from literals, and
    ``module.PROFILES`` (through ``resolve``)."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return [_evaluate(e, names, resolve) for e in node.elts]
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            raise _Unknown
        return {_evaluate(k, names, resolve): _evaluate(v, names, resolve) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict" and not node.args:
        return {k.arg: _evaluate(k.value, names, resolve) for k in node.keywords if k.arg is not None}
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("range", "list", "tuple")
            and not node.keywords and 0 < len(node.args) <= (3 if node.func.id == "range" else 1)):
        args = [_evaluate(a, names, resolve) for a in node.args]  # range(1, 12), list(range(...))
        if node.func.id == "range":
            return list(range(*args)) if all(isinstance(a, int) and not isinstance(a, bool) for a in args) else _OPAQUE
        return list(args[0]) if isinstance(args[0], (list, tuple)) else _OPAQUE
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _evaluate(node.operand, names, resolve)
        return value if value is _OPAQUE or isinstance(node.op, ast.UAdd) else -value
    if isinstance(node, ast.BinOp):
        left, right = _evaluate(node.left, names, resolve), _evaluate(node.right, names, resolve)
        ops = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
               ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: a ** b}
        if type(node.op) in ops and _OPAQUE not in (left, right):
            return ops[type(node.op)](left, right)
        return _OPAQUE
    if isinstance(node, ast.Name):
        return names.get(node.id, _OPAQUE)
    if isinstance(node, ast.Attribute):
        try:
            return resolve(node)
        except _Unknown:
            return _OPAQUE
    return _OPAQUE


def profile_tables(notebook: str | Path) -> list[tuple[dict, dict[str, str]]]:
    """Every ``resolve_profile(PROFILE, table, setting=PARAM, ...)`` call of the notebook that can be read without
    running it: ``(table, {PARAM: setting})`` — the profile table (``{"ci": {...}, "quick": {...}, "full": {...}}``)
    and which notebook parameter overrides which setting. Tables written inline, names assigned earlier from
    literals, and ``alias.PROFILES`` of a module the notebook imports are understood; values that are not
    literals read as ``<unknown>``; calls whose table cannot be read are left out. A parameter passed through a
    function of a module the notebook imports, ``setting=alias.f(PARAM)`` (e.g. ``n_grid=aman.n_grid(N_GRID)``,
    which also takes ``"paper"``), maps too: the raw value reaches the setting, the function checks it before a
    run (:func:`profile_converters`), and whoever reads the setting (the cost plan's estimator) converts it."""
    return [(table, mapping) for table, mapping, _ in _profile_calls(notebook)]


def profile_converters(notebook: str | Path) -> dict[str, Any]:
    """``{PARAM: function}`` for the parameters a notebook passes as ``setting=alias.f(PARAM)``: calling the
    function on a value raises ``ValueError`` for a bad one, which :func:`check_parameters` reports before anything
    runs. A function whose module does not import is left out (no check)."""
    import importlib

    out = {}
    for _, _, converted in _profile_calls(notebook):
        for param, (module, attr) in converted.items():
            try:
                out[param] = getattr(importlib.import_module(module), attr)
            except Exception:  # the module moved or fails to import: no check from it
                continue
    return out


def _profile_calls(notebook: str | Path) -> list[tuple[dict, dict[str, str], dict[str, tuple[str, str]]]]:
    """:func:`profile_tables` plus, per call, the parameters passed through a module's function
    (``setting=alias.f(PARAM)``) and that function (``(module, name)``): their values are the function's to
    check, not the profile table's types."""
    import importlib

    cells = [c for c in _cells(notebook) if c.cell_type == "code"]
    names: dict[str, Any] = {}
    modules: dict[str, str] = {}
    found: list[tuple[dict, dict[str, str]]] = []

    def resolve(node: ast.AST) -> Any:
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
            try:
                return getattr(importlib.import_module(modules[node.value.id]), node.attr)
            except Exception:  # the module moved or fails to import: no types from it
                raise _Unknown from None
        raise _Unknown

    for cell in cells:
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:  # IPython magics
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    modules[alias.asname or alias.name.split(".")[0]] = alias.name
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                try:
                    names[node.targets[0].id] = _evaluate(node.value, names, resolve)
                except (_Unknown, Exception):
                    names.pop(node.targets[0].id, None)
            if not (isinstance(node, ast.Call) and len(node.args) >= 2 and (
                    (isinstance(node.func, ast.Attribute) and node.func.attr == "resolve_profile")
                    or (isinstance(node.func, ast.Name) and node.func.id == "resolve_profile"))):
                continue
            try:
                table = _evaluate(node.args[1], names, resolve)
            except (_Unknown, Exception):
                continue
            if not isinstance(table, Mapping):
                continue
            mapping, converted = {}, {}
            for kw in node.keywords:
                if kw.arg is None:
                    continue
                value = kw.value
                func = value.func if isinstance(value, ast.Call) else None
                if (func is not None and len(value.args) == 1 and not value.keywords
                        and isinstance(value.args[0], ast.Name) and isinstance(func, ast.Attribute)
                        and isinstance(func.value, ast.Name) and func.value.id in modules):
                    # setting=alias.f(PARAM) only; int(X), f(X) or other expressions map nothing
                    converted[value.args[0].id] = (modules[func.value.id], func.attr)
                    value = value.args[0]
                if isinstance(value, ast.Name):
                    mapping[value.id] = kw.arg.lower()
            found.append((table, mapping, converted))
    return found


def profile_types(notebook: str | Path) -> dict[str, tuple[type, ...]]:
    """For each notebook parameter passed to ``resolve_profile(PROFILE, table, setting=PARAM, ...)``, the types
    of that setting's non-``None`` values in the profile table (an int setting gives ``(int,)``, a float one
    ``(float,)`` which also takes ints). Tables are read by :func:`profile_tables`; anything else is left out
    (no check)."""
    out: dict[str, tuple[type, ...]] = {}
    for table, mapping, converted in _profile_calls(notebook):
        for param, setting in mapping.items():
            if param in converted:  # setting=alias.f(PARAM): f checks the value (e.g. N_GRID="paper")
                continue
            values = [p.get(setting) for p in table.values() if isinstance(p, Mapping)]
            kinds = tuple(dict.fromkeys(t for v in values for t in types_of(v)))
            if kinds:
                out[param] = kinds
    return out


# --------------------------------------------------------------------------------------------------------------
# Settings of training (TrainConfig) and of the device helper
# --------------------------------------------------------------------------------------------------------------
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")


def check_train_config(config: Any, balance_choices: Iterable[str] | None = None,
                       select_choices: Iterable[str] | None = None) -> None:
    """Check the fields of a ``TrainConfig`` (or any object with the same attributes); the error names the field,
    its value and what is expected, e.g. ``TrainConfig.epochs='3': expected an int >= 1, got str``.

    Meant to be the first line of ``TrainConfig.__post_init__`` (``mer_utils/training.py``).
    """
    name = type(config).__name__
    fields: list[tuple[str, tuple, bool, Constraint | None]] = [
        ("epochs", _INT, False, CONSTRAINTS["EPOCHS"]),
        ("batch_size", _INT, False, CONSTRAINTS["BATCH_SIZE"]),
        ("lr", _NUMBER, False, CONSTRAINTS["LR"]),
        ("weight_decay", _NUMBER, False, CONSTRAINTS["WEIGHT_DECAY"]),
        ("momentum", _NUMBER, False, CONSTRAINTS["MOMENTUM"]),
        ("label_smoothing", _NUMBER, False, CONSTRAINTS["LABEL_SMOOTHING"]),
        ("val_fraction", _NUMBER, False, CONSTRAINTS["VAL_FRACTION"]),
        ("amp", (bool,), False, None),
        ("patience", _INT, True, CONSTRAINTS["PATIENCE"]),
        ("grad_clip", _NUMBER, True, CONSTRAINTS["GRAD_CLIP"]),
        ("eval_batch_size", _INT, True, CONSTRAINTS["EVAL_BATCH_SIZE"]),
        ("num_workers", _INT, False, CONSTRAINTS["NUM_WORKERS"]),
    ]
    problems = []
    for field_name, types, allow_none, constraint in fields:
        if not hasattr(config, field_name):
            continue
        problem = value_problem(f"{name}.{field_name}", getattr(config, field_name), types, allow_none,
                                constraint or False)
        if problem:
            problems.append(problem)
    optimizer = getattr(config, "optimizer", "adam")
    if not callable(optimizer) and not (isinstance(optimizer, str) and optimizer.lower() in OPTIMIZERS):
        problems.append(f"{name}.optimizer={optimizer!r}: expected one of {OPTIMIZERS} or a factory "
                        "params -> torch.optim.Optimizer")
    for field_name, choices in (("balance", balance_choices), ("select", select_choices)):
        if choices is not None and hasattr(config, field_name) and getattr(config, field_name) not in tuple(choices):
            problems.append(f"{name}.{field_name}={getattr(config, field_name)!r}: expected one of {tuple(choices)}")
    for field_name in ("scheduler", "loss", "augment"):
        value = getattr(config, field_name, None)
        if value is not None and not callable(value):
            problems.append(f"{name}.{field_name}={value!r}: expected None or a callable")
    if problems:
        raise ParameterError("; ".join(problems) + ".")


def check_seed(seed: Any, name: str = "SEED") -> int:
    """An int seed in 0 .. 2**63 - 1 (not a bool, a float or a string)."""
    check_value(name, seed, types=_INT, constraint=Constraint(_INT, minimum=0, maximum=2 ** 63 - 1), example=0)
    return int(seed)


__all__ = ["ParameterError", "Constraint", "CONSTRAINTS", "SUFFIX_CONSTRAINTS", "constraint_for", "types_of",
           "describe_types", "value_problem", "check_value", "check_parameters", "parameter_defaults",
           "profile_tables", "profile_types", "profile_converters", "check_train_config", "check_seed", "OPTIMIZERS", "DEVICE_PATTERN"]
