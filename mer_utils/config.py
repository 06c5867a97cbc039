"""Profiles (``ci`` / ``quick`` / ``full``) and the resolution of notebook parameters against them.

A notebook's parameters cell sets paper-specific values to ``None`` meaning "take it from the profile";
:func:`resolve_profile` fills them in and prints what was chosen, so the reader sees the settings of the run.
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Mapping

from .validate import ParameterError, types_of, value_problem

PROFILES = ("ci", "quick", "full")


def check_profile(profile: str) -> str:
    """Return ``profile`` if known, else raise a ``ValueError`` naming the valid ones."""
    if not isinstance(profile, str):
        raise ParameterError(f"PROFILE={profile!r}: expected a string, one of {PROFILES} (ci = tiny smoke run, "
                             f"quick = CPU default, full = the paper's settings), got {type(profile).__name__}.")
    if profile not in PROFILES:
        raise ValueError(f"Unknown PROFILE {profile!r}: expected one of {PROFILES} "
                         "(ci = tiny smoke run, quick = CPU default, full = the paper's settings).")
    return profile


def resolve_profile(profile: str, table: Mapping[str, Mapping[str, Any]], verbose: bool = True,
                    **overrides: Any) -> SimpleNamespace:
    """Settings for ``profile`` from ``table`` (``{profile: {name: value}}``), with non-``None`` overrides.

    Every key of ``overrides`` must be a setting named in the table, so a typo in a notebook fails loudly.

    >>> s = resolve_profile("quick", {"quick": {"epochs": 5}, "full": {"epochs": 500}, "ci": {"epochs": 1}},
    ...                     verbose=False, epochs=None)
    >>> s.epochs
    5
    """
    check_profile(profile)
    if not isinstance(table, Mapping) or not all(isinstance(v, Mapping) for v in table.values()):
        raise ParameterError(f"resolve_profile: the profile table must map each profile name to a dict of settings "
                             f"({{'ci': {{...}}, 'quick': {{...}}, 'full': {{...}}}}), got {type(table).__name__}.")
    if profile not in table:
        raise ValueError(f"This notebook defines no settings for PROFILE {profile!r}; it has {sorted(table)}.")
    settings = dict(table[profile])
    source = {k: f"profile {profile}" for k in settings}
    problems = []
    for key, value in overrides.items():
        name = key.lower()
        if name not in settings:
            raise ValueError(f"Unknown setting {key!r}: the profiles define {sorted(settings)}.")
        if value is not None:
            # the type of the setting in the profiles (an int setting takes an int, a float one a number) and
            # the declared constraints of its parameter (EPOCHS >= 1, LR > 0 ...)
            kinds = tuple(dict.fromkeys(t for p in table.values() for t in types_of(p.get(name))))
            example = next((p.get(name) for p in table.values() if p.get(name) is not None), None)
            problem = value_problem(name.upper(), value, kinds, False, True, example)
            if problem is not None:
                problems.append(problem)
                continue
            settings[name] = value
            source[name] = "parameter"
    if problems:
        raise ParameterError("; ".join(problems) + f" (the value replaces the setting of PROFILE "
                             f"{profile!r}; None keeps the profile's value).")
    if verbose:
        width = max((len(k) for k in settings), default=0)
        print(f"Settings (PROFILE={profile!r}):")
        for k, v in settings.items():
            print(f"  {k:<{width}} = {v!r}  [{source[k]}]")
    return SimpleNamespace(**settings)
