"""Datasets: synthetic data, loaders, label protocols and subject-wise splits.

- :mod:`~mer_utils.data.loaders`       one loader per dataset (CASME II, SAMM, SMIC, SMIC-E, CASME, CAS(ME)²,
  FER2013, CK+), each reading the provider's own layout
- :mod:`~mer_utils.data.discovery`     :func:`load_dataset`: the licensed copy under ``DATA_ROOT``, else the
  synthetic set of the same layout (said, and recorded when unexpected)
- :mod:`~mer_utils.data.spreadsheets`  readers of the annotation files, usable without frames
- :mod:`~mer_utils.data.frames`        lazy frame loading: :func:`load_frames`, :class:`Clip`, tensors
- :mod:`~mer_utils.data.protocols`     the papers' label protocols as data; :func:`load_protocol`
- :mod:`~mer_utils.data.splits`        LOSO, k-fold by subject, holdout-database, the 80/20 split
- :mod:`~mer_utils.data.summary`       counts per dataset and the check against the published counts
- :mod:`~mer_utils.data.synthetic`     the synthetic data generator (written in the real layouts)
"""
from .frames import Clip, CorruptFrameError, frames_to_tensor, load_clip, load_frames, load_image, load_images, load_tensor, scan_frames
from .discovery import DATASETS, load_all, load_dataset
from .loaders import (CLIP_COLUMNS, AmbiguousFileError, load_casme, load_casme2, load_casme_sq, load_ckplus, load_fer2013,
                      load_samm, load_smic, load_smic_hs_e)
from .naming import DataWarning, LicensedDataWarning, au_numbers, normalise_subject, parse_aus
from .protocols import PROTOCOLS, Protocol, Rule, apply_protocol, get_protocol, list_protocols, load_protocol
from .splits import (Fold, check_disjoint, folds_table, holdout_database, leave_one_subject_out, random_split_80_20,
                     splits_for, subject_kfold)
from .spreadsheets import (read_casme2_coding, read_casme2_objective_classes, read_casme_coding, read_casme_sq_coding,
                           read_megc2019_csv, read_samm_coding, read_smic_e_annotation)
from .summary import compare_published, summary

__all__ = [
    "Clip", "CorruptFrameError", "AmbiguousFileError", "LicensedDataWarning", "frames_to_tensor", "load_clip", "load_frames", "load_image", "load_images", "load_tensor", "scan_frames",
    "CLIP_COLUMNS", "DATASETS", "load_all", "load_casme", "load_casme2", "load_casme_sq", "load_ckplus",
    "load_dataset", "load_fer2013", "load_samm", "load_smic", "load_smic_hs_e",
    "DataWarning", "au_numbers", "normalise_subject", "parse_aus",
    "PROTOCOLS", "Protocol", "Rule", "apply_protocol", "get_protocol", "list_protocols", "load_protocol",
    "Fold", "check_disjoint", "folds_table", "holdout_database", "leave_one_subject_out", "random_split_80_20",
    "splits_for", "subject_kfold",
    "read_casme2_coding", "read_casme2_objective_classes", "read_casme_coding", "read_casme_sq_coding",
    "read_megc2019_csv", "read_samm_coding", "read_smic_e_annotation",
    "compare_published", "summary",
]
