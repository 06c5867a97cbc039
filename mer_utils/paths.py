"""Where things live: the repository, the data root, the synthetic data and the caches.

Every notebook resolves its data through :func:`data_root`, so papermill, nbval and a reader agree:
the ``DATA_ROOT`` parameter wins, then the ``MER_DATA_ROOT`` environment variable, then ``data/``
inside the repository.
"""
from __future__ import annotations

import os
from pathlib import Path

#: The repository root (the folder holding ``pyproject.toml``).
REPO_ROOT = Path(__file__).resolve().parent.parent
#: Environment variable naming the folder that holds the licensed datasets.
DATA_ROOT_ENV = "MER_DATA_ROOT"
#: Environment variable: "1" = every loader stops instead of falling back to the synthetic sets (see
#: :func:`require_licensed`); set by ``course run --require-licensed`` for the notebooks it runs.
REQUIRE_LICENSED_ENV = "MER_REQUIRE_LICENSED"
#: Environment variable naming the synthetic-data folder (default ``data/synthetic``).
SYNTHETIC_ROOT_ENV = "MER_SYNTHETIC_ROOT"
#: Environment variable naming the cache folder (default ``data/cache``).
CACHE_ROOT_ENV = "MER_CACHE_ROOT"
#: Environment variable naming the folder of pretrained weights (default ``data/weights``).
WEIGHTS_ROOT_ENV = "MER_WEIGHTS_ROOT"
#: Environment variable naming the result store (default ``runs/results``).
RESULTS_ROOT_ENV = "MER_RESULTS_ROOT"

#: Folder names expected under ``DATA_ROOT`` for each licensed dataset (what the providers ship inside).
DATASET_FOLDERS = {
    "casme2": "CASME2",     # CASME2_RAW_selected/, Cropped/, CASME2-coding-*.xlsx, CASME2-ObjectiveClasses.xlsx
    "samm": "SAMM",         # SAMM/<subject>/<clip>/*.jpg, SAMM_Micro_FACS_Codes_v2.xlsx
    "smic": "SMIC",         # SMIC_all_raw/{HS,VIS,NIR}/..., SMIC_HS_E/..., SMIC-HS-E_annotation.xlsx
    "casme": "CASME",       # CASME_raw_selected/, CASME coding spreadsheet
    "casme_sq": "CASME_sq", # rawpic/, CAS(ME)^2code_final.xlsx
    "megc2019": "MEGC2019", # combined_3_class_gt.csv
    "fer2013": "FER2013",   # fer2013.csv
    "ckplus": "CK+",        # cohn-kanade-images/, Emotion/
}


def repo_path(*parts: str) -> Path:
    """A path inside the repository."""
    return REPO_ROOT.joinpath(*parts)


def data_root(value: str | os.PathLike | None = None) -> Path:
    """The folder holding the licensed datasets: ``value``, else ``$MER_DATA_ROOT``, else ``data/``."""
    if value not in (None, ""):
        return Path(value).expanduser()
    env = os.environ.get(DATA_ROOT_ENV)
    if env:
        return Path(env).expanduser()
    return repo_path("data")


def explicit_data_root(value: str | os.PathLike | None = None) -> Path | None:
    """The data root the user chose — the ``DATA_ROOT`` parameter, else ``$MER_DATA_ROOT`` — checked, or ``None``
    when neither is set (then ``data/`` is used and may lack the licensed sets).

    A chosen root that does not exist (a mistyped path) is an error naming it and the fix, never a silent fallback
    to the synthetic data.
    """
    if value not in (None, ""):
        path, where = Path(value).expanduser(), f"DATA_ROOT={str(value)!r}"
    elif os.environ.get(DATA_ROOT_ENV):
        path, where = Path(os.environ[DATA_ROOT_ENV]).expanduser(), f"${DATA_ROOT_ENV}={os.environ[DATA_ROOT_ENV]!r}"
    else:
        return None
    if not path.exists():
        raise FileNotFoundError(f"{where} does not exist. Expected the folder holding the licensed datasets "
                                f"({', '.join(n + '/' for n in DATASET_FOLDERS.values())}); fix the path, or leave "
                                f"DATA_ROOT=None (and unset ${DATA_ROOT_ENV}) to use data/ and the synthetic sets.")
    if not path.is_dir():
        raise NotADirectoryError(f"{where} is a file, not a folder. Expected the folder holding the licensed "
                                 "datasets (CASME2/, SAMM/, ...); point DATA_ROOT at it.")
    return path


def require_licensed(value: bool | None = None) -> bool:
    """Whether a missing licensed dataset is an error instead of a fallback to the synthetic set.

    ``value`` (the ``require_licensed=`` argument or a notebook's ``REQUIRE_LICENSED`` parameter) wins when it is
    ``True`` or ``False``; ``None`` reads ``$MER_REQUIRE_LICENSED`` (``1``/``true``/``yes`` or ``0``/``false``/
    ``no``/unset). Anything else is an error naming the value, never a guess.
    """
    if value is not None:
        if not isinstance(value, bool):
            raise TypeError(f"require_licensed={value!r}: expected True, False or None (None: from "
                            f"${REQUIRE_LICENSED_ENV}, default False).")
        return value
    return env_flag(REQUIRE_LICENSED_ENV, yes="stop unless the licensed data is there",
                    no="fall back to the synthetic sets")


#: The values :func:`env_flag` reads as on / off (any case, surrounding spaces ignored).
FLAG_TRUE = ("1", "true", "yes", "on")
FLAG_FALSE = ("0", "false", "no", "off")


def env_flag(name: str, default: bool = False, *, yes: str = "", no: str = "") -> bool:
    """The environment variable ``name`` read as an on/off switch: ``1``/``true``/``yes``/``on`` or
    ``0``/``false``/``no``/``off`` (any case); unset or empty gives ``default``. Anything else is a
    ``ValueError`` naming the variable and its value, never a guess; ``yes`` / ``no`` say in it what each
    setting does."""
    raw = os.environ.get(name, "")
    value = raw.strip().lower()
    if not value:
        return default
    if value in FLAG_TRUE:
        return True
    if value in FLAG_FALSE:
        return False
    raise ValueError(f"${name}={raw!r}: expected 1/true/yes{f' ({yes})' if yes else ''} or "
                     f"0/false/no{f' ({no})' if no else ''}; fix or unset it.")


def synthetic_root(size: str = "quick") -> Path:
    """The folder of the generated synthetic sets of one size (``quick`` or ``paper``).

    Its sub-folders carry the same names as :data:`DATASET_FOLDERS`, so a loader reads it like ``DATA_ROOT``.
    """
    base = os.environ.get(SYNTHETIC_ROOT_ENV)
    root = Path(base).expanduser() if base else repo_path("data", "synthetic")
    return root / size


def cache_root() -> Path:
    """The preprocessing cache (``data/cache`` unless ``$MER_CACHE_ROOT`` says otherwise)."""
    env = os.environ.get(CACHE_ROOT_ENV)
    return Path(env).expanduser() if env else repo_path("data", "cache")


def weights_root() -> Path:
    """Pretrained weights fetched from packages or placed by the user (``data/weights`` unless
    ``$MER_WEIGHTS_ROOT`` says otherwise). Apart from the cache: the tests use a fresh cache, but the
    weights stay where ``scripts/bootstrap.sh`` put them."""
    env = os.environ.get(WEIGHTS_ROOT_ENV)
    return Path(env).expanduser() if env else repo_path("data", "weights")


def results_root() -> Path:
    """The result store (``runs/results`` unless ``$MER_RESULTS_ROOT`` says otherwise)."""
    env = os.environ.get(RESULTS_ROOT_ENV)
    return Path(env).expanduser() if env else repo_path("runs", "results")
