"""Label protocols of the five papers, defined once as data (REFERENCE.md §2).

A :class:`Protocol` names its classes and, per dataset, a :class:`Rule`: which column holds the source label,
how each value maps to a class, which values and clips are left out and why. Applying it to a clip table (or
to an annotation table from :mod:`mer_utils.data.spreadsheets`, no frames needed) gives::

    table, dropped = get_protocol("megc2019_composite").apply(clips)
    table[["clip_uid", "emotion", "label", "label_name"]]      # label: int, label_name: class name
    dropped[["clip_uid", "reason"]]                               # every left-out clip, with the reason

:func:`load_protocol` loads the datasets a protocol needs (licensed or synthetic, see
:func:`mer_utils.data.discovery.load_dataset`), concatenates them (``subject_uid`` stays unique per dataset
family) and applies the protocol.

=====================  =========================================  ============================  ===========
name                   datasets                                   classes                       evaluation
=====================  =========================================  ============================  ===========
casme2_5class          CASME II                                   others disgust happiness      LOSO
                                                                  repression surprise
casme2_3class          CASME II (the MEGC 2019 part)              negative positive surprise    LOSO
megc2019_composite     SMIC-HS + CASME II + SAMM                  negative positive surprise    LOSO
megc2018_objective     CASME II + SAMM                            objective classes I..V        LOSO / HDE
samm_5class            SAMM                                       anger contempt happiness      LOSO
                                                                  surprise other
smic_3class            SMIC-HS                                    negative positive surprise    LOSO
she2020_4class         CASME + CASME II + SMIC-HS                 negative positive surprise    5-fold
                                                                  others                        by subject
reddy2019_smic         SMIC-HS (clips of >= 18 frames)            negative positive surprise    80/20
reddy2019_casme_sq     CAS(ME)² (micro + macro, by stimulus)      angry happy disgust           80/20
=====================  =========================================  ============================  ===========
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np
import pandas as pd

from .. import paths
from .naming import DataWarning, normalise_label

EVALUATIONS = ("loso", "subject_kfold", "holdout_database", "random_80_20")


def _frozen(mapping: Mapping | None) -> Mapping:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Rule:
    """How one dataset enters a protocol.

    ``mapping``: normalised source value (:func:`~mer_utils.data.naming.normalise_label`) -> class name.
    ``drop``: source value -> reason it is left out. A value in neither is reported and left out.
    ``exclude``: ``"subject/clip"`` -> reason (named exclusions such as MEGC 2019's two CASME II clips).
    ``min_frames``: clips shorter than this are left out (frames on disk, else ``offset - onset + 1``).
    ``expression_types``: CAS(ME)² rows kept by type (``micro`` / ``macro``).
    ``loader`` / ``options``: what :func:`~mer_utils.data.discovery.load_dataset` is asked for.
    """

    dataset: str
    mapping: Mapping[str, str]
    drop: Mapping[str, str] = field(default_factory=dict)
    column: str = "emotion"
    exclude: Mapping[str, str] = field(default_factory=dict)
    min_frames: int | None = None
    expression_types: tuple[str, ...] | None = None
    loader: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("mapping", "drop", "exclude", "options"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        overlap = set(self.mapping) & set(self.drop)
        if overlap:
            raise ValueError(f"Rule for {self.dataset}: values {sorted(overlap)} are both mapped and dropped.")

    @property
    def loader_name(self) -> str:
        return self.loader or self.dataset


@dataclass(frozen=True)
class Protocol:
    """A named label protocol: classes (label ``i`` is ``classes[i]``), one :class:`Rule` per dataset, the
    evaluation the paper uses (one of :data:`EVALUATIONS`) and where it comes from."""

    name: str
    title: str
    classes: tuple[str, ...]
    rules: tuple[Rule, ...]
    evaluation: str
    reference: str
    notes: str = ""
    k: int | None = None

    def __post_init__(self) -> None:
        if self.evaluation not in EVALUATIONS:
            raise ValueError(f"Protocol {self.name}: evaluation {self.evaluation!r}; expected one of {EVALUATIONS}.")
        for rule in self.rules:
            unknown = sorted(set(rule.mapping.values()) - set(self.classes))
            if unknown:
                raise ValueError(f"Protocol {self.name}: rule {rule.dataset} maps to {unknown}, not in {self.classes}.")

    @property
    def datasets(self) -> tuple[str, ...]:
        return tuple(rule.dataset for rule in self.rules)

    @property
    def dataset_labels(self) -> dict[str, tuple[int, ...]]:
        """The labels each dataset can have under this protocol (the classes its rule maps to), in class order.

        A dataset whose emotions never map to a class (SMIC has no "others" in She et al.'s four classes) is
        scored per dataset against its own classes: :func:`mer_utils.evaluation.per_dataset_metrics`."""
        return {rule.dataset: tuple(i for i, c in enumerate(self.classes) if c in set(rule.mapping.values()))
                for rule in self.rules}

    def rule(self, dataset: str) -> Rule:
        for rule in self.rules:
            if rule.dataset == dataset:
                return rule
        raise KeyError(f"Protocol {self.name} has no rule for {dataset!r}; it covers {self.datasets}.")

    def apply(self, table: pd.DataFrame, warn: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
        """``(labelled, dropped)``: the clips the protocol keeps with ``label`` (int) and ``label_name``, and every
        clip it leaves out with its ``reason``. Labels outside the mapping are left out **and** warned about."""
        return apply_protocol(self, table, warn=warn)

    def describe(self) -> str:
        """A few lines: classes, per-dataset mapping, exclusions, evaluation, reference."""
        lines = [f"{self.name}: {self.title}", f"  classes: " + ", ".join(f"{i} {c}" for i, c in enumerate(self.classes)),
                 f"  evaluation: {self.evaluation}" + (f" (k={self.k})" if self.k else ""), f"  reference: {self.reference}"]
        for rule in self.rules:
            mapped = ", ".join(f"{k}->{v}" for k, v in rule.mapping.items())
            lines.append(f"  {rule.dataset} [{rule.column}]: {mapped}")
            if rule.drop:
                lines.append(f"    left out: {', '.join(rule.drop)}")
            for key, reason in rule.exclude.items():
                lines.append(f"    excluded: {key} ({reason})")
            if rule.min_frames:
                lines.append(f"    clips shorter than {rule.min_frames} frames left out")
        if self.notes:
            lines.append(f"  notes: {self.notes}")
        return "\n".join(lines)


DROPPED_COLUMNS = ["clip_uid", "dataset", "subject", "clip", "value", "reason"]


def _clip_lengths(part: pd.DataFrame) -> np.ndarray:
    if "n_frames" in part.columns:
        return part["n_frames"].to_numpy(dtype=np.int64)
    return (part["offset"] - part["onset"]).abs().to_numpy(dtype=np.int64) + 1


def apply_protocol(protocol: Protocol | str, table: pd.DataFrame, warn: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply ``protocol`` (or its name) to a clip or annotation table; see :meth:`Protocol.apply`."""
    protocol = get_protocol(protocol) if isinstance(protocol, str) else protocol
    if "dataset" not in table.columns:
        raise ValueError("The table has no 'dataset' column; expected a clip table from mer_utils.data.load_dataset "
                         "or an annotation table from mer_utils.data.spreadsheets.")
    kept_parts, dropped_parts, unknown_all = [], [], []
    rules = {rule.dataset: rule for rule in protocol.rules}
    for dataset in pd.unique(table["dataset"]):
        part = table[table["dataset"] == dataset]
        if dataset not in rules:
            dropped_parts.append(_dropped(part, part["dataset"], f"dataset {dataset} is not part of {protocol.name} "
                                                               f"({', '.join(protocol.datasets)})"))
            continue
        rule = rules[dataset]
        if rule.column not in part.columns:
            raise ValueError(f"Protocol {protocol.name} reads column {rule.column!r} of {dataset}, which the table "
                             f"lacks (columns: {list(part.columns)}). "
                             + ("Put CASME2-ObjectiveClasses.xlsx next to the CASME II coding."
                                if rule.column == "objective_class" else ""))
        if part[rule.column].isna().all():
            raise ValueError(f"Protocol {protocol.name} reads column {rule.column!r} of {dataset}, but it is empty "
                             f"for all {len(part)} clips. "
                             + ("Put CASME2-ObjectiveClasses.xlsx next to the CASME II coding."
                                if rule.column == "objective_class" else "Check the annotation file."))
        values = [("<missing>" if pd.isna(v) else normalise_label(v)) for v in part[rule.column]]
        keys = (part["subject"].astype(str) + "/" + part["clip"].astype(str)).tolist()
        lengths = _clip_lengths(part) if rule.min_frames else None
        types = part["expression_type"].tolist() if rule.expression_types and "expression_type" in part else None
        reasons: list[str | None] = []
        names: list[str | None] = []
        for i, (value, key) in enumerate(zip(values, keys)):
            reason, name = None, None
            if key in rule.exclude:
                reason = rule.exclude[key]
            elif types is not None and types[i] not in rule.expression_types:
                reason = f"{types[i]}-expression (the protocol uses {'/'.join(rule.expression_types)})"
            elif value in rule.drop:
                reason = rule.drop[value]
            elif value not in rule.mapping:
                reason = (f"{rule.column} {value!r} is not in the {protocol.name} mapping "
                          f"(expected one of {sorted(set(rule.mapping) | set(rule.drop))})")
                unknown_all.append(f"{dataset}/{key} ({value!r})")
            elif lengths is not None and lengths[i] < rule.min_frames:
                reason = f"{lengths[i]} frames, fewer than the {rule.min_frames} the protocol requires"
            else:
                name = rule.mapping[value]
            reasons.append(reason)
            names.append(name)
        keep = np.array([r is None for r in reasons], dtype=bool)
        if (~keep).any():
            dropped_parts.append(_dropped(part[~keep], pd.Series(values, index=part.index)[~keep],
                                          [r for r in reasons if r is not None]))
        kept = part[keep].copy()
        kept["label_name"] = [n for n in names if n is not None]
        kept["label"] = np.array([protocol.classes.index(n) for n in kept["label_name"]], dtype=np.int64)
        kept_parts.append((protocol.datasets.index(dataset), kept))
    if warn and unknown_all:
        warnings.warn(f"{protocol.name}: {len(unknown_all)} clip(s) have a label outside the mapping and were left "
                      f"out (see dropped): {', '.join(unknown_all[:20])}{' ...' if len(unknown_all) > 20 else ''}.",
                      DataWarning, stacklevel=3)
    kept_parts.sort(key=lambda item: item[0])
    frames = [p for _, p in kept_parts]
    labelled = pd.concat(frames, ignore_index=True) if frames else table.iloc[:0].assign(label_name=[], label=[])
    labelled["label"] = labelled["label"].astype("int64")
    if "clip_uid" in labelled and labelled["clip_uid"].duplicated().any():
        dups = labelled.loc[labelled["clip_uid"].duplicated(), "clip_uid"].tolist()
        raise ValueError(f"{protocol.name}: clip_uid values repeat after concatenation: {dups[:10]}. Load each "
                         "dataset once (a composite must not contain the same clip twice).")
    dropped = pd.concat(dropped_parts, ignore_index=True) if dropped_parts else pd.DataFrame(columns=DROPPED_COLUMNS)
    labelled.attrs = {**table.attrs, "protocol": protocol.name, "classes": list(protocol.classes),
                      "evaluation": protocol.evaluation}
    dropped.attrs = {"protocol": protocol.name}
    return labelled, dropped


def _dropped(part: pd.DataFrame, values: Any, reasons: Any) -> pd.DataFrame:
    return pd.DataFrame({"clip_uid": part["clip_uid"].to_numpy() if "clip_uid" in part else None,
                         "dataset": part["dataset"].to_numpy(), "subject": part["subject"].to_numpy(),
                         "clip": part["clip"].to_numpy(), "value": np.asarray(values, dtype=object),
                         "reason": reasons}, columns=DROPPED_COLUMNS)


# --------------------------------------------------------------------------------------------------------------
# The protocols
# --------------------------------------------------------------------------------------------------------------
_CASME2_EMOTIONS = ("others", "disgust", "happiness", "repression", "surprise", "sadness", "fear")
_SMIC3 = {"negative": "negative", "positive": "positive", "surprise": "surprise"}

#: MEGC 2019 leaves out these two CASME II clips (REFERENCE.md §2): apex ``/`` and apex == onset.
MEGC2019_CASME2_EXCLUDE = {
    "sub04/EP12_01f": "MEGC 2019 exclusion: ApexFrame is '/' in the CASME II coding",
    "sub05/EP09_05f": "MEGC 2019 exclusion: ApexFrame equals OnsetFrame in the CASME II coding",
}

_MEGC2019_CASME2 = Rule(
    "casme2", mapping={"disgust": "negative", "repression": "negative", "happiness": "positive", "surprise": "surprise"},
    drop={e: f"{e}: not in the MEGC 2019 3-class mapping" for e in ("others", "fear", "sadness")},
    exclude=MEGC2019_CASME2_EXCLUDE)
_MEGC2019_SAMM = Rule(
    "samm", mapping={**{e: "negative" for e in ("anger", "contempt", "disgust", "fear", "sadness")},
                     "happiness": "positive", "surprise": "surprise"},
    drop={"other": "Other: not in the MEGC 2019 3-class mapping"})
_SMIC_HS = Rule("smic_hs", mapping=_SMIC3, loader="smic", options={"modality": "HS"})

_OBJECTIVE = {str(i): c for i, c in enumerate(("I", "II", "III", "IV", "V"), start=1)}
_OBJECTIVE_DROP = {"6": "objective class VI: MEGC 2018 uses classes I-V only",
                   "7": "objective class VII: MEGC 2018 uses classes I-V only",
                   "<missing>": "no objective class for this clip"}

PROTOCOLS: dict[str, Protocol] = {}


def register(protocol: Protocol) -> Protocol:
    """Add ``protocol`` to :data:`PROTOCOLS` (a notebook can define a variant with ``dataclasses.replace``)."""
    PROTOCOLS[protocol.name] = protocol
    return protocol


register(Protocol(
    "casme2_5class", "CASME II, 5 classes (fear and sadness too rare)",
    classes=("others", "disgust", "happiness", "repression", "surprise"),
    rules=(Rule("casme2", mapping={e: e for e in _CASME2_EMOTIONS[:5]},
                drop={"sadness": "sadness: too few samples for the 5-class protocol",
                      "fear": "fear: too few samples for the 5-class protocol"}),),
    evaluation="loso", reference="Zhao et al. 2021 §4.3; Wei et al. 2022 §3.1; REFERENCE.md §2"))

register(Protocol(
    "casme2_3class", "CASME II, 3 classes (the CASME II part of MEGC 2019)",
    classes=("negative", "positive", "surprise"), rules=(_MEGC2019_CASME2,), evaluation="loso",
    reference="Zhao et al. 2021 Fig. 6 (three classes of CASME II); MEGC 2019 mapping, REFERENCE.md §2"))

register(Protocol(
    "megc2019_composite", "MEGC 2019 composite (CDE): SMIC-HS + CASME II + SAMM, 3 classes",
    classes=("negative", "positive", "surprise"), rules=(_SMIC_HS, _MEGC2019_CASME2, _MEGC2019_SAMM),
    evaluation="loso", reference="See et al. 2019 (MEGC 2019); Zhao et al. 2021 §4.4; REFERENCE.md §2",
    notes="442 clips, 68 subjects, 250/109/83 on the real data; per-dataset scores come from the composite LOSO run."))

register(Protocol(
    "megc2018_objective", "MEGC 2018: CASME II + SAMM, objective classes I-V",
    classes=("I", "II", "III", "IV", "V"),
    rules=(Rule("casme2", mapping=_OBJECTIVE, drop=_OBJECTIVE_DROP, column="objective_class"),
           Rule("samm", mapping=_OBJECTIVE, drop=_OBJECTIVE_DROP, column="objective_class")),
    evaluation="loso", reference="Peng et al. 2018 §III (Table I); Davison et al. 2018 (objective classes)",
    notes="HDE = holdout_database (train CASME II test SAMM and the reverse); CDE = LOSO on the composite."))

register(Protocol(
    "samm_5class", "SAMM, the 5 classes with more than 10 samples",
    classes=("anger", "contempt", "happiness", "surprise", "other"),
    rules=(Rule("samm", mapping={e: e for e in ("anger", "contempt", "happiness", "surprise", "other")},
                drop={e: f"{e}: 10 samples or fewer (Wei et al. 2022 keep classes with more than 10)"
                      for e in ("disgust", "fear", "sadness")}),),
    evaluation="loso", reference="Wei et al. 2022 §3.1 (AMAN): 'categories with more than 10 samples'"))

register(Protocol(
    "smic_3class", "SMIC-HS, 3 classes (all samples)", classes=("negative", "positive", "surprise"),
    rules=(_SMIC_HS,), evaluation="loso", reference="Li et al. 2013; Wei et al. 2022 §3.1"))

# She et al. 2020 §IV.A(a): Positive = {happiness}, Surprise = {surprise}, Negative = {disgust, fear, sadness},
# "those facial movements with unclear emotions are classified as Others". Choices the paper leaves open:
#   * tense (CASME), repression (CASME, CASME II) and others (CASME II) -> others (REFERENCE.md §2);
#   * contempt (CASME, spelt 'comtempt') -> negative: contempt is a negative emotion, not an unclear one, and
#     MEGC 2019 also counts contempt as negative. Change it with dataclasses.replace if you read the paper otherwise.
_SHE_COMMON = {"happiness": "positive", "surprise": "surprise", "disgust": "negative", "fear": "negative",
               "sadness": "negative", "repression": "others"}
register(Protocol(
    "she2020_4class", "She et al. 2020: CASME + CASME II + SMIC-HS, 4 classes",
    classes=("negative", "positive", "surprise", "others"),
    rules=(Rule("casme", mapping={**_SHE_COMMON, "tense": "others", "contempt": "negative", "comtempt": "negative"}),
           Rule("casme2", mapping={**_SHE_COMMON, "others": "others"}),
           _SMIC_HS),
    evaluation="subject_kfold", k=5,
    reference="She et al. 2020 §IV.A (Table III; labels regrouped following Peng et al. 2017)",
    notes="contempt -> negative and tense/repression/others -> others are this code's reading of 'unclear emotions'."))

# Reddy et al. 2019 §IV.A: SMIC-HS clips with at least 18 frames (their code takes frames 0..17), 156 clips;
# class order negative, positive, surprise as in the authors' code.
register(Protocol(
    "reddy2019_smic", "Reddy et al. 2019: SMIC-HS, 3 classes, clips of at least 18 frames",
    classes=("negative", "positive", "surprise"),
    rules=(Rule("smic_hs", mapping=_SMIC3, min_frames=18, loader="smic", options={"modality": "HS"}),),
    evaluation="random_80_20", reference="Reddy et al. 2019 §IV.A, Table IV",
    notes="The paper's single random 80/20 split mixes subjects; use LOSO for an honest number."))

# Reddy et al. 2019: CAS(ME)² '3 classes' happy / angry / disgust (206 clips). CAS(ME)² codes emotion as
# negative / positive / surprise / others; happy, anger and disgust are the emotions of the eliciting videos
# (video names anger1, disgust1, happy1 ...), so the class is the stimulus of the video the expression came
# from, over micro- and macro-expressions (57 micro alone cannot give 206). Their 'more than 96 frames'
# selection refers to the videos they cut and is not reproducible from the coding, so no length filter here.
register(Protocol(
    "reddy2019_casme_sq", "Reddy et al. 2019: CAS(ME)², 3 classes by eliciting video (angry, happy, disgust)",
    classes=("angry", "happy", "disgust"),
    rules=(Rule("casme_sq", mapping={"anger": "angry", "happy": "happy", "disgust": "disgust"},
                column="stimulus", options={"include_macro": True}),),
    evaluation="random_80_20", reference="Reddy et al. 2019 §IV.A, Table IV; authors' code (labels angry 0, happy 1, "
                                         "disgust 2)",
    notes="Class = emotion of the eliciting video; micro + macro expressions. The paper's 206-clip selection is not "
          "documented precisely enough to reproduce."))


def list_protocols() -> list[str]:
    """Names of the registered protocols."""
    return sorted(PROTOCOLS)


def get_protocol(name: str) -> Protocol:
    """The registered :class:`Protocol` called ``name`` (a ``ValueError`` lists the names)."""
    if isinstance(name, Protocol):
        return name
    if name not in PROTOCOLS:
        raise ValueError(f"Unknown protocol {name!r}: expected one of {list_protocols()}.")
    return PROTOCOLS[name]


# --------------------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------------------
def load_protocol(name: str | Protocol, data_root: str | Path | None = None, synthetic_size: str = "quick",
                  verbose: bool = True, check_megc2019: bool = True, require_licensed: bool | None = None,
                  release: str | None = None, coding: str | Path | Mapping[str, Any] | None = None,
                  options: Mapping[str, Mapping[str, Any]] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Load every dataset ``name`` needs (licensed when present, else synthetic), concatenate them and apply it.

    Returns ``(table, dropped)``. ``table.attrs["sources"]`` says, per dataset, which copy was read (and, after a
    fallback to the synthetic set, why). For the MEGC 2019 composite the result is compared with the
    ground-truth CSV found next to the data (``MEGC2019/`` or the data root itself; differences are warned
    about, see :func:`compare_with_megc2019`).

    ``require_licensed=True``: raise instead of falling back to the synthetic set for any dataset (``None``: from
    ``$MER_REQUIRE_LICENSED``, default False).
    ``release``: the CASME II release (``'raw'`` / ``'cropped'``; default whichever is there).
    ``coding``: the annotation spreadsheet to use — a path when the protocol reads one annotated dataset, else
    ``{dataset: path}`` (keys as in ``load_dataset``: ``casme2``, ``samm``, ``casme``, ``casme_sq``).
    ``options``: further ``{dataset: {option: value}}`` passed to :func:`~mer_utils.data.discovery.load_dataset`.
    """
    from .discovery import dataset_spec, load_dataset  # discovery imports nothing from here; local anyway

    protocol = get_protocol(name)
    extra = _protocol_options(protocol, release, coding, options)
    parts, sources = [], {}
    for rule in protocol.rules:
        loader = dataset_spec(rule.loader_name).name
        table = load_dataset(rule.loader_name, data_root, synthetic_size, verbose=verbose,
                             require_licensed=require_licensed, **{**dict(rule.options), **extra.get(loader, {})})
        sources[rule.dataset] = {"source": table.attrs.get("source"), "root": table.attrs.get("root")}
        if table.attrs.get("fallback"):
            sources[rule.dataset]["fallback"] = table.attrs["fallback"]
        parts.append(table)
    combined = pd.concat(parts, ignore_index=True)
    combined.attrs = {"sources": sources}
    labelled, dropped = protocol.apply(combined)
    labelled.attrs["sources"] = sources
    labelled.attrs["source"] = _overall_source(sources)
    if check_megc2019 and protocol.name == "megc2019_composite":
        csv = _megc2019_csv_near(sources)
        if csv is not None:
            from .spreadsheets import read_megc2019_csv

            differences = compare_with_megc2019(labelled, read_megc2019_csv(csv))
            labelled.attrs["megc2019_differences"] = differences.to_dict("records")
            if len(differences):
                warnings.warn(f"megc2019_composite differs from {csv} for {len(differences)} clip(s): "
                              + "; ".join(f"{u} ({p})" for u, p in zip(differences["clip_uid"][:10],
                                                                        differences["problem"][:10]))
                              + ".", DataWarning, stacklevel=2)
            elif verbose:
                print(f"megc2019_composite matches the ground truth {Path(csv).name} ({len(labelled)} clips).")
        elif verbose:
            where = sorted({str(Path(s["root"]).parent) for s in sources.values() if s.get("root")})
            print(f"megc2019_composite: no ground-truth CSV ({' or '.join(MEGC2019_CSV_NAMES)}) in MEGC2019/ or "
                  f"the data root ({', '.join(where)}); the composite is not checked against it.")
    if verbose:
        counts = labelled["label_name"].value_counts().reindex(protocol.classes, fill_value=0)
        print(f"{protocol.name}: {len(labelled)} clips, {labelled['subject_uid'].nunique()} subjects; "
              + ", ".join(f"{c} {n}" for c, n in counts.items()) + f"; {len(dropped)} clips left out (see dropped).")
    return labelled, dropped


_CODED = ("casme2", "samm", "casme", "casme_sq")


def _protocol_options(protocol: Protocol, release: Any, coding: Any, options: Any) -> dict[str, dict]:
    """Per-dataset loader options for :func:`load_protocol` from its ``release`` / ``coding`` / ``options``."""
    from .discovery import dataset_spec

    loaders = [dataset_spec(r.loader_name).name for r in protocol.rules]
    extra: dict[str, dict] = {}
    for key, value in dict(options or {}).items():
        loader = dataset_spec(key).name
        if loader not in loaders:
            raise ValueError(f"options[{key!r}]: protocol {protocol.name!r} reads {loaders}, not {key!r}.")
        if not isinstance(value, Mapping):
            raise TypeError(f"options[{key!r}]={value!r}: expected a dict of load_dataset options, e.g. "
                            "{'casme2': {'release': 'cropped'}}.")
        extra.setdefault(loader, {}).update(value)
    if release is not None:
        if "casme2" not in loaders:
            raise ValueError(f"release={release!r} selects the CASME II release, but protocol {protocol.name!r} reads "
                             f"{loaders}.")
        extra.setdefault("casme2", {})["release"] = release
    if coding is not None:
        if isinstance(coding, Mapping):
            for key, path in coding.items():
                loader = dataset_spec(key).name
                if loader not in loaders or loader not in _CODED:
                    raise ValueError(f"coding[{key!r}]: protocol {protocol.name!r} reads the coded datasets "
                                     f"{[d for d in loaders if d in _CODED]}.")
                extra.setdefault(loader, {})["coding"] = path
        else:
            coded = [d for d in dict.fromkeys(loaders) if d in _CODED]
            if len(coded) != 1:
                raise ValueError(f"coding={str(coding)!r} is ambiguous: protocol {protocol.name!r} reads the coded "
                                 f"datasets {coded}; pass coding={{dataset: path}}, e.g. "
                                 f"coding={{{coded[0]!r}: ...}}." if coded else
                                 f"coding={str(coding)!r}: protocol {protocol.name!r} reads no coded dataset.")
            extra.setdefault(coded[0], {})["coding"] = coding
    return extra


def _overall_source(sources: Mapping[str, Mapping]) -> str:
    kinds = {s["source"] for s in sources.values()}
    return kinds.pop() if len(kinds) == 1 else "mixed"


#: Names of the MEGC 2019 ground truth, with a header and without.
MEGC2019_CSV_NAMES = ("combined_3_class_gt.csv", "combined_3class_gt.csv")


def _megc2019_csv_near(sources: Mapping[str, Mapping]) -> Path | None:
    """The MEGC 2019 ground-truth CSV next to the data read: in ``<data root>/MEGC2019/`` (preferred) or in the
    data root itself (where many users unpack it)."""
    roots = {Path(s["root"]).parent for s in sources.values() if s.get("root")}
    for root in sorted(roots):
        for folder in (root / paths.DATASET_FOLDERS["megc2019"], root):
            for name in MEGC2019_CSV_NAMES:
                candidate = folder / name
                if candidate.is_file():
                    return candidate
    return None


def compare_with_megc2019(table: pd.DataFrame, ground_truth: pd.DataFrame) -> pd.DataFrame:
    """Clips where a labelled MEGC 2019 table and the ground-truth CSV disagree: ``clip_uid``, ``problem``
    (``missing from the table``, ``not in the ground truth``, ``label X vs Y``). Empty when they agree."""
    ours = dict(zip(table["clip_uid"], table["label"]))
    theirs = dict(zip(ground_truth["clip_uid"], ground_truth["label"]))
    rows = [{"clip_uid": u, "problem": "missing from the table"} for u in theirs if u not in ours]
    rows += [{"clip_uid": u, "problem": "not in the ground truth"} for u in ours if u not in theirs]
    rows += [{"clip_uid": u, "problem": f"label {ours[u]} vs ground truth {theirs[u]}"}
             for u in ours if u in theirs and int(ours[u]) != int(theirs[u])]
    return pd.DataFrame(rows, columns=["clip_uid", "problem"])


__all__ = ["Rule", "Protocol", "PROTOCOLS", "EVALUATIONS", "register", "get_protocol", "list_protocols",
           "apply_protocol", "load_protocol", "compare_with_megc2019", "MEGC2019_CASME2_EXCLUDE", "DROPPED_COLUMNS"]
