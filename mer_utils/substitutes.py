"""Paper-critical inputs: loud, not silent (issue 20, item 3).

Each paper notebook lists, before it trains, what every stage of the paper needs from outside the course
(ImageNet weights, a facial-expression pretraining set or checkpoint, the paper's macro-expression sets, a
pretrained magnification network) and what this run really uses for it. In the ``full`` profile a missing input
stops the notebook with :class:`MissingPaperInputError`, which names what is missing, where to put it and the
parameter that accepts running without it (``ALLOW_SUBSTITUTES=True``). In ``quick`` / ``ci`` the substitutes
are the course's documented design. Either way each stage's source is recorded in the metrics
(:meth:`DataSources.record`) and shown beside the paper's table (:meth:`DataSources.table`).

The papers' own lists: :func:`mer_utils.papers.peng2018.inputs.paper_inputs`,
:func:`mer_utils.papers.zhao2021.inputs.paper_inputs`, :func:`mer_utils.papers.wei2022.inputs.paper_inputs`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

#: The notebook parameter that accepts running the ``full`` profile with substitutes.
PARAMETER = "ALLOW_SUBSTITUTES"
#: Profiles in which a substitute for a paper-critical input must be accepted explicitly.
STRICT_PROFILES = ("full",)


@dataclass(frozen=True)
class PaperInput:
    """One stage's input: what the paper used, what this run uses, and how to supply the paper's.

    ``substitute`` is True when ``used`` is not what the paper used; ``critical`` inputs (pretrained weights,
    pretraining sets) stop a ``full`` run unless substitutes are allowed, the others (the synthetic
    micro-expression clips: the course's premise) are only recorded. ``where`` says where to put the paper's
    input (a path, a folder under ``DATA_ROOT``, a notebook parameter)."""

    stage: str
    paper: str
    used: str
    substitute: bool
    where: str = ""
    critical: bool = True


class MissingPaperInputError(FileNotFoundError):
    """A ``full`` run lacks a paper-critical input and ``ALLOW_SUBSTITUTES`` is False."""

    def __init__(self, notebook: str, missing: Iterable[PaperInput]):
        self.notebook, self.missing = notebook, list(missing)
        lines = [f"{notebook}: PROFILE='full' needs the paper's inputs, and {len(self.missing)} "
                 f"{'is' if len(self.missing) == 1 else 'are'} missing:"]
        for m in self.missing:
            lines.append(f"  - {m.stage}: the paper uses {m.paper}. Put it here: {m.where}. "
                         f"Without it this run would use {m.used}.")
        lines.append(f"Supply them, or set {PARAMETER}=True to run with the substitutes (each is recorded in the "
                     "metrics and shown beside the paper's table).")
        super().__init__("\n".join(lines))


@dataclass
class DataSources:
    """What each stage of a notebook really used (:func:`check_paper_inputs`)."""

    notebook: str
    profile: str
    inputs: list
    allow_substitutes: bool = False
    settings: dict = field(default_factory=dict)  # choices the inputs decide (e.g. Peng's macro sets)

    @property
    def substitutes(self) -> list:
        """The inputs that are not the paper's."""
        return [i for i in self.inputs if i.substitute]

    def table(self):
        """One row per stage: the paper's input, this run's, and whether it is a substitute."""
        import pandas as pd

        return pd.DataFrame([{"stage": i.stage, "paper": i.paper, "this run": i.used,
                              "substitute": "yes" if i.substitute else "no"} for i in self.inputs]).set_index("stage")

    def record(self) -> dict:
        """The metrics entry: ``{stage: {paper, used, substitute, critical}}`` plus ``substitutes_allowed``."""
        out = {i.stage: {k: v for k, v in asdict(i).items() if k not in ("stage", "where")} for i in self.inputs}
        return {"stages": out, "substitutes": [i.stage for i in self.substitutes],
                "substitutes_allowed": bool(self.allow_substitutes or self.profile not in STRICT_PROFILES)}

    def __str__(self) -> str:
        lines = [f"Data sources ({self.notebook}, PROFILE={self.profile!r}):"]
        for i in self.inputs:
            mark = "SUBSTITUTE" if i.substitute else "paper's"
            lines.append(f"  {i.stage}: {i.used}  [{mark}]")
        return "\n".join(lines)


def check_paper_inputs(notebook: str, profile: str, inputs: Iterable[PaperInput],
                       allow_substitutes: bool = False) -> DataSources:
    """Stop a ``full`` run that lacks a paper-critical input (:class:`MissingPaperInputError`, raised before
    anything trains) unless ``allow_substitutes``; otherwise return the :class:`DataSources` to show and record.

    In ``quick`` / ``ci`` the substitutes are the documented design: recorded, never an error."""
    if not isinstance(allow_substitutes, bool):
        raise TypeError(f"{PARAMETER}={allow_substitutes!r}: expected True or False.")
    inputs = list(inputs)
    missing = [i for i in inputs if i.substitute and i.critical]
    if missing and profile in STRICT_PROFILES and not allow_substitutes:
        raise MissingPaperInputError(notebook, missing)
    return DataSources(notebook, profile, inputs, allow_substitutes)


def micro_clips(source: str, paper: str) -> PaperInput:
    """The micro-expression clips stage: licensed (the paper's) or synthetic (recorded, never an error)."""
    synthetic = str(source).startswith("synthetic")
    return PaperInput("micro-expression clips", paper, str(source), synthetic,
                      "DATA_ROOT (the licensed datasets' folders, see the README)", critical=False)


def existing_file(path: Any) -> str | None:
    """``str(path)`` when ``path`` names an existing file, else ``None`` (a given path that is not there is an
    error: a mistyped path must not turn into a substitute)."""
    from pathlib import Path

    if path in (None, ""):
        return None
    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"{path} does not exist (or is not a file); fix the path or leave the parameter "
                                "None.")
    return str(p)


__all__ = ["PARAMETER", "STRICT_PROFILES", "PaperInput", "MissingPaperInputError", "DataSources",
           "check_paper_inputs", "micro_clips", "existing_file"]
