"""Published counts of the real datasets and of the papers' protocols, as data (REFERENCE.md §1–2).

:func:`mer_utils.data.summary.compare_published` checks a table against these when it was read from the
licensed data. ``exact=False`` marks counts that a correct loader need not reproduce (a paper's own
selection that is not documented, or copies of a file that differ); a mismatch there is reported, not flagged.
Class names are compared case-insensitively.
"""
from __future__ import annotations

#: Per-dataset counts of the annotation as shipped (one entry per ``dataset`` value of a clip table).
DATASET_COUNTS: dict[str, dict] = {
    "casme2": {"clips": 255, "subjects": 26,
               "classes": {"others": 99, "disgust": 63, "happiness": 32, "repression": 27, "surprise": 25,
                           "sadness": 7, "fear": 2},
               "source": "CASME2-coding-20140508.xlsx (Yan et al. 2014; REFERENCE.md §1)", "exact": True},
    "samm": {"clips": 159, "subjects": 29,
             "classes": {"anger": 57, "other": 26, "happiness": 26, "surprise": 15, "contempt": 12, "disgust": 9,
                         "fear": 8, "sadness": 6},
             "source": "SAMM_Micro_FACS_Codes_v2.xlsx (Davison et al. 2018; REFERENCE.md §1)", "exact": True},
    "smic_hs": {"clips": 164, "subjects": 16, "classes": {"negative": 70, "positive": 51, "surprise": 43},
                "source": "SMIC-HS (Li et al. 2013; REFERENCE.md §1)", "exact": True},
    "smic_vis": {"clips": 71, "subjects": 8, "source": "SMIC-VIS (Li et al. 2013)", "exact": True},
    "smic_nir": {"clips": 71, "subjects": 8, "source": "SMIC-NIR (Li et al. 2013)", "exact": True},
    "casme": {"clips": 195, "subjects": 35, "source": "CASME (Yan et al. 2013); some copies of the coding have 189 rows",
              "exact": False},
    "casme_sq": {"clips": 57, "source": "CAS(ME)² micro-expressions (Qu et al. 2018); copies of the coding differ",
                 "exact": False},
    "casme_sq_all": {"clips": 357, "subjects": 22,
                     "source": "CAS(ME)² 300 macro + 57 micro-expressions, 22 subjects (Qu et al. 2018)", "exact": False},
}

#: Per-protocol counts: ``{protocol: {dataset | "total": {"clips", "subjects", "classes", "exact", "source"}}}``.
PROTOCOL_COUNTS: dict[str, dict[str, dict]] = {
    "casme2_5class": {
        "casme2": {"clips": 246, "subjects": 26,
                   "classes": {"others": 99, "disgust": 63, "happiness": 32, "repression": 27, "surprise": 25},
                   "source": "REFERENCE.md §2; Zhao et al. 2021 §4.3", "exact": True},
    },
    "casme2_3class": {
        "casme2": {"clips": 145, "subjects": 24, "classes": {"negative": 88, "positive": 32, "surprise": 25},
                   "source": "MEGC 2019 CASME II part (REFERENCE.md §2)", "exact": True},
    },
    "megc2019_composite": {
        "total": {"clips": 442, "subjects": 68, "classes": {"negative": 250, "positive": 109, "surprise": 83},
                  "source": "MEGC 2019 (See et al. 2019); REFERENCE.md §2", "exact": True},
        "smic_hs": {"clips": 164, "subjects": 16, "classes": {"negative": 70, "positive": 51, "surprise": 43},
                    "source": "MEGC 2019", "exact": True},
        "casme2": {"clips": 145, "subjects": 24, "classes": {"negative": 88, "positive": 32, "surprise": 25},
                   "source": "MEGC 2019", "exact": True},
        "samm": {"clips": 133, "subjects": 28, "classes": {"negative": 92, "positive": 26, "surprise": 15},
                 "source": "MEGC 2019", "exact": True},
    },
    "megc2018_objective": {
        "total": {"clips": 253, "subjects": 47, "classes": {"I": 49, "II": 28, "III": 119, "IV": 34, "V": 23},
                  "source": "Peng et al. 2018 Table I (MEGC 2018)", "exact": True},
        "casme2": {"clips": 185, "subjects": 26, "classes": {"I": 25, "II": 15, "III": 99, "IV": 26, "V": 20},
                   "source": "Peng et al. 2018 Table I", "exact": True},
        "samm": {"clips": 68, "subjects": 21, "classes": {"I": 24, "II": 13, "III": 20, "IV": 8, "V": 3},
                 "source": "Peng et al. 2018 Table I (clips); 21 subjects counted in SAMM_Micro_FACS_Codes_v2.xlsx "
                           "(Peng et al. §III.B mention 20 LOSO folds)", "exact": True},
    },
    "samm_5class": {
        "samm": {"clips": 136, "subjects": 27,
                 "classes": {"anger": 57, "happiness": 26, "other": 26, "surprise": 15, "contempt": 12},
                 "source": "Wei et al. 2022 §3.1 (classes with more than 10 samples); counted in the SAMM coding",
                 "exact": True},
    },
    "smic_3class": {
        "smic_hs": {"clips": 164, "subjects": 16, "classes": {"negative": 70, "positive": 51, "surprise": 43},
                    "source": "SMIC-HS (Li et al. 2013); Wei et al. 2022 §3.1 use all samples", "exact": True},
    },
    "reddy2019_smic": {
        "smic_hs": {"clips": 156, "classes": {"negative": 66, "positive": 47, "surprise": 43},
                    "paper_classes": {"negative": 79, "positive": 34, "surprise": 43},
                    "source": "Reddy et al. 2019 §IV.A (156 clips with at least 18 frames); class counts from the "
                              "authors' code (their Table IV says 79 / 34 / 43, which SMIC-HS's 70 / 51 / 43 "
                              "cannot give)", "exact": False},
    },
    "reddy2019_casme_sq": {
        "casme_sq": {"clips": 206, "classes": {"angry": 76, "happy": 94, "disgust": 36},
                     "source": "Reddy et al. 2019 Table IV; their clip selection (videos of more than 96 frames) is "
                               "not reproducible from the coding", "exact": False},
    },
    "she2020_4class": {
        "casme": {"clips": 195, "subjects": 35, "source": "She et al. 2020 Table III", "exact": False},
        "casme2": {"clips": 247, "subjects": 26, "source": "She et al. 2020 Table III (the coding has 255 rows)",
                   "exact": False},
        "smic_hs": {"clips": 164, "subjects": 16, "source": "She et al. 2020 Table III", "exact": True},
    },
}

__all__ = ["DATASET_COUNTS", "PROTOCOL_COUNTS"]
