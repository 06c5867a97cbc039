"""The real annotation files (../shared/fixtures/real-annotations) parse with the loaders' own readers, and the
protocols reproduce the published counts from them (REFERENCE.md §1–2). Skipped when the folder is absent."""
from __future__ import annotations

import warnings

import pandas as pd
import pytest

from mer_utils.data import (apply_protocol, compare_published, read_casme2_coding, read_casme2_objective_classes,
                            read_megc2019_csv, read_samm_coding, read_smic_e_annotation, summary)
from mer_utils.data.naming import DataWarning
from mer_utils.data.protocols import compare_with_megc2019
from mer_utils.data.spreadsheets import merge_objective_classes
from mer_utils.paths import REPO_ROOT

FIXTURES = REPO_ROOT.parent / "shared" / "fixtures" / "real-annotations"
pytestmark = [pytest.mark.fixtures,
              pytest.mark.skipif(not FIXTURES.is_dir(), reason=f"real annotation fixtures not found at {FIXTURES}")]


@pytest.fixture(scope="module")
def casme2():
    with pytest.warns(DataWarning, match=r"sub04/EP12_01f \(row 31, value '/'\)"):
        coding = read_casme2_coding(FIXTURES / "CASME2-coding-20140508.xlsx")
    return merge_objective_classes(coding, read_casme2_objective_classes(FIXTURES / "CASME2-ObjectiveClasses.xlsx"))


@pytest.fixture(scope="module")
def samm():
    return read_samm_coding(FIXTURES / "SAMM_Micro_FACS_Codes_v2.xlsx")


@pytest.fixture(scope="module")
def megc():
    return read_megc2019_csv(FIXTURES / "combined_3_class_gt.csv")


@pytest.fixture(scope="module")
def smic_from_megc(megc):
    """SMIC-HS labels come from folders; the MEGC 2019 CSV rows stand in for them (no frames here)."""
    rows = megc[megc["dataset"] == "smic_hs"].drop(columns=["label", "label_name", "source_row"])
    return rows.assign(emotion=megc.loc[rows.index, "label_name"], onset=0, apex=0, offset=0)


def test_casme2_coding(casme2):
    assert len(casme2) == 255 and casme2["subject"].nunique() == 26
    assert casme2["subject"].iloc[0] == "sub01" and casme2["clip_uid"].is_unique
    assert casme2["emotion"].value_counts().to_dict() == {"others": 99, "disgust": 63, "happiness": 32,
                                                          "repression": 27, "surprise": 25, "sadness": 7, "fear": 2}
    quirk = casme2.set_index("clip_uid").loc["casme2/sub04/EP12_01f"]
    assert bool(quirk["apex_estimated"]) and quirk["apex"] == (quirk["onset"] + quirk["offset"]) // 2
    assert casme2["objective_class"].value_counts().to_dict() == {3: 99, 7: 69, 4: 26, 1: 25, 5: 20, 2: 15, 6: 1}
    assert casme2.loc[casme2["au_string"] == "4+L10", "aus"].iloc[0] == ["4", "L10"]
    assert (summary(casme2, check=True)["matches_published"]).all()


def test_samm_coding(samm):
    assert len(samm) == 159 and samm["subject"].nunique() == 29 and samm["subject"].iloc[0] == "006"
    assert samm["emotion"].value_counts()["Other"] == 26
    assert samm["objective_class"].isin(range(1, 8)).all()
    assert samm["aus"].map(len).gt(0).all()
    comparison = compare_published(samm)
    assert comparison["ok"].all(), comparison[~comparison["ok"]]


def test_smic_e_annotations():
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        corrected = read_smic_e_annotation(FIXTURES / "SMIC-HS-E_annotation.xlsx")
        original = read_smic_e_annotation(FIXTURES / "SMIC-HS-E_annotation_orig.xlsx")
    assert (len(corrected), len(original)) == (157, 162)
    for table in (corrected, original):
        assert table["subject"].nunique() == 16 and table["apex_estimated"].all()
        assert (table["offset"] >= table["onset"]).all()
        assert set(table["emotion"]) == {"negative", "positive", "surprise"}
    first = corrected.iloc[0]
    assert (first["clip"], first["onset"], first["offset"], first["first_frame"]) == ("s20_ne_01", 17581039, 17581055, 17580887)


def test_megc2019_csv_versions(megc):
    headerless = read_megc2019_csv(FIXTURES / "combined_3class_gt.csv")
    columns = ["dataset", "subject", "clip", "label"]
    assert megc[columns].equals(headerless[columns]) and len(megc) == 442
    assert megc["subject_uid"].nunique() == 68
    assert megc.groupby("dataset").size().to_dict() == {"casme2": 145, "samm": 133, "smic_hs": 164}
    assert megc["label_name"].value_counts().to_dict() == {"negative": 250, "positive": 109, "surprise": 83}


def test_megc2019_composite_from_the_codings(casme2, samm, smic_from_megc, megc):
    labelled, dropped = apply_protocol("megc2019_composite", pd.concat([casme2, samm, smic_from_megc], ignore_index=True))
    assert len(labelled) == 442 and labelled["subject_uid"].nunique() == 68
    assert labelled["label_name"].value_counts().to_dict() == {"negative": 250, "positive": 109, "surprise": 83}
    assert labelled.groupby("dataset").size().to_dict() == {"casme2": 145, "samm": 133, "smic_hs": 164}
    assert compare_with_megc2019(labelled, megc).empty                     # the same clips with the same labels
    assert set(dropped.loc[dropped["reason"].str.startswith("MEGC 2019 exclusion"), "clip_uid"]) == \
        {"casme2/sub04/EP12_01f", "casme2/sub05/EP09_05f"}
    assert len(labelled) + len(dropped) == 255 + 159 + 164
    checked = compare_published(labelled)
    assert checked["ok"].all(), checked[~checked["ok"]]


def test_megc2018_objective_classes(casme2, samm):
    labelled, dropped = apply_protocol("megc2018_objective", pd.concat([casme2, samm], ignore_index=True))
    assert labelled.groupby("dataset").size().to_dict() == {"casme2": 185, "samm": 68}
    assert compare_published(labelled)["ok"].all()
    assert set(dropped["value"]) == {"6", "7"}


@pytest.mark.parametrize("name, source, clips", [("casme2_5class", "casme2", 246), ("casme2_3class", "casme2", 145),
                                                 ("samm_5class", "samm", 136)])
def test_single_dataset_protocols(name, source, clips, casme2, samm):
    labelled, dropped = apply_protocol(name, casme2 if source == "casme2" else samm)
    assert len(labelled) == clips
    checked = compare_published(labelled)
    assert len(checked) and checked["ok"].all(), checked[~checked["ok"]]
