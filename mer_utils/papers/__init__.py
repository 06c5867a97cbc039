"""The five papers of the course, one folder each, and the registry of their preprocessing recipes.

Each folder holds one paper's networks (``model.py``), its preprocessing recipe (``recipe.py``), its pipeline
(``pipeline.py``: multi-stage training, aggregation, transfer chain; Peng et al.'s is split by idea) and its
reported tables (``tables.json``, read by :mod:`mer_utils.paper_tables`); its ``__init__`` maps the paper's
sections and equations to the names. The shared machinery stays outside: the recipes' base class and the
preprocessing steps in :mod:`mer_utils.preprocess`, the protocols in :mod:`mer_utils.data.protocols`, training in
:mod:`mer_utils.training`, metrics in :mod:`mer_utils.evaluation`.

=============  ======================================================================  ===========================
recipe         arrays per clip (uint8; T = frames)                                     paper (folder)
=============  ======================================================================  ===========================
``she2020``    ``face`` (T=64, 140, 120, 3); views ``left_eye``/``right_eye`` (T, 50,    She et al. 2020 (000)
               60, 3), ``mouth`` (T, 40, 80, 3) cut from the 12x14 grid of 10-px cells
``peng2018``   ``apex`` (224, 224) grey (or (224, 224, 3) with ``color=True``)         Peng et al. 2018 (001)
``reddy2019``  ``face`` (T, 64, 64), ``eyes`` (T, 32, 32), ``nose_mouth`` (T, 32, 32)  Reddy et al. 2019 (002)
               grey; T = 18 (SMIC) or 96 (CAS(ME)²); time is the first axis
``zhao2021``   ``ars``, ``rrs`` (320, 320, 3); ``flow_farneback``, ``flow_tvl1``         Zhao et al. 2021 (003)
               (320, 320, 3) flow images; CGPO is applied later (:func:`~mer_utils.preprocess.cgpo.cgpo`)
``wei2022``    ``magnified`` (n=11, k=9, 224, 224, 3): n TIM frames x factors 1..k      Wei et al. 2022 (004)
=============  ======================================================================  ===========================

The registry (:data:`RECIPES`, :func:`get_recipe`) sits here, above the paper folders: it imports their recipes,
which import the base in :mod:`mer_utils.preprocess.recipe`; :mod:`mer_utils.preprocess` imports this registry
only inside functions, so there is no import cycle. Importing a recipe imports neither torch nor the papers'
networks and pipelines (the paper packages load those on first use).
"""
from __future__ import annotations

import dataclasses

from ..preprocess.recipe import Recipe
from .peng2018.recipe import Peng2018
from .reddy2019.recipe import Reddy2019
from .she2020.recipe import She2020
from .wei2022.recipe import Wei2022
from .zhao2021.recipe import Zhao2021

#: The papers' folders, in the order of the notebooks (10 .. 50).
PAPERS = ("she2020", "peng2018", "reddy2019", "zhao2021", "wei2022")

#: Recipe name -> recipe object.
RECIPES: dict[str, Recipe] = {r.name: r for r in (She2020(), Peng2018(), Reddy2019(), Zhao2021(), Wei2022())}


def get_recipe(recipe) -> Recipe:
    """The recipe object for a name (``she2020``, ``peng2018``, ``reddy2019``, ``zhao2021``, ``wei2022``)."""
    if isinstance(recipe, Recipe):
        return recipe
    if recipe not in RECIPES:
        raise ValueError(f"Unknown recipe {recipe!r}: expected one of {sorted(RECIPES)}.")
    return RECIPES[recipe]


def recipe_params(recipe, profile: str | None = None, table=None, **overrides):
    """Resolved parameters of a recipe (defaults < profile suggestions < overrides)."""
    return get_recipe(recipe).params(None, profile=profile, table=table, **overrides)


def settings_table(profile: str, recipes=None, table=None):
    """Paper settings (``full`` profile) beside the settings of ``profile``, one row per recipe and parameter
    that matters for the arrays (a DataFrame: recipe, parameter, paper, this run, same)."""
    import pandas as pd

    rows = []
    for name in recipes or RECIPES:
        rec = get_recipe(name)
        paper = dataclasses.asdict(rec.params(profile="full", table=table))
        run = dataclasses.asdict(rec.params(profile=profile, table=table))
        for k in paper:
            rows.append({"recipe": name, "parameter": k, "paper": repr(paper[k]), "this run": repr(run[k]),
                         "same": paper[k] == run[k]})
    return pd.DataFrame(rows)


__all__ = ["PAPERS", "RECIPES", "get_recipe", "recipe_params", "settings_table"]
