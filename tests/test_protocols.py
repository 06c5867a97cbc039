"""Protocols on small annotation tables (no frames): mappings, exclusions, dropped clips with reasons."""
from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from mer_utils.data import apply_protocol, get_protocol, list_protocols, summary
from mer_utils.data.naming import DataWarning, clip_uid, normalise_subject, subject_uid
from mer_utils.data.protocols import PROTOCOLS, Protocol, Rule, compare_with_megc2019
from mer_utils.data.summary import compare_published


def table(rows, **extra_columns):
    """Annotation-table rows from (dataset, subject, clip, emotion[, more]) tuples."""
    records = []
    for dataset, subject, clip, emotion, *more in rows:
        subject = normalise_subject(dataset, subject)
        record = {"dataset": dataset, "subject": subject, "subject_uid": subject_uid(dataset, subject), "clip": clip,
                  "clip_uid": clip_uid(dataset, subject, clip), "emotion": emotion, "onset": 1, "apex": 5, "offset": 10}
        for key, value in zip(extra_columns, more):
            record[key] = value
        records.append(record)
    return pd.DataFrame(records)


def test_every_protocol_is_consistent():
    assert {"casme2_5class", "megc2018_objective", "megc2019_composite", "she2020_4class", "reddy2019_casme_sq",
            "reddy2019_smic", "smic_3class", "samm_5class", "casme2_3class"} <= set(list_protocols())
    for name in list_protocols():
        protocol = get_protocol(name)
        assert protocol.name == name and protocol.classes and protocol.rules
        assert name in protocol.describe()
    with pytest.raises(ValueError, match="Unknown protocol"):
        get_protocol("megc2020")


def test_megc2019_mapping_exclusions_and_composite_subjects():
    clips = table([
        ("casme2", "01", "EP02_01f", "happiness"), ("casme2", "04", "EP12_01f", "disgust"),
        ("casme2", "05", "EP09_05f", "disgust"), ("casme2", "05", "EP01_01", "Repression"),
        ("casme2", "06", "EP01_02", "others"), ("samm", "006", "006_1_2", "Anger"),
        ("samm", "006", "006_1_3", "Other"), ("samm", "007", "007_1_1", "Contempt"),
        ("smic_hs", "s1", "s1_sur_01", "surprise"), ("smic_hs", "s01", "s1_po_01", "positive"),
    ])
    labelled, dropped = get_protocol("megc2019_composite").apply(clips)
    assert labelled["dataset"].tolist() == ["smic_hs", "smic_hs", "casme2", "casme2", "samm", "samm"]  # rule order
    assert labelled["label_name"].tolist() == ["surprise", "positive", "positive", "negative", "negative", "negative"]
    assert labelled["label"].tolist() == [2, 1, 1, 0, 0, 0] and labelled["label"].dtype == "int64"
    reasons = dict(zip(dropped["clip_uid"], dropped["reason"]))
    assert "ApexFrame is '/'" in reasons["casme2/sub04/EP12_01f"]
    assert "equals OnsetFrame" in reasons["casme2/sub05/EP09_05f"]
    assert "others" in reasons["casme2/sub06/EP01_02"] and "Other" in reasons["samm/006/006_1_3"]
    assert len(labelled) + len(dropped) == len(clips)
    assert labelled["subject_uid"].nunique() == 5                            # smic/s01, casme2/sub01, sub05, samm/006, 007
    assert labelled.attrs["protocol"] == "megc2019_composite"
    truth = labelled[["clip_uid", "label"]].copy()
    assert compare_with_megc2019(labelled, truth).empty
    truth.loc[0, "label"] = 0
    assert compare_with_megc2019(labelled, truth)["problem"].tolist() == ["label 2 vs ground truth 0"]


def test_unknown_label_is_warned_and_listed():
    clips = table([("casme2", 1, "EP01", "happiness"), ("casme2", 1, "EP02", "joy")])
    with pytest.warns(DataWarning, match=r"casme2/sub01/EP02 \('joy'\)"):
        labelled, dropped = apply_protocol("casme2_5class", clips)
    assert len(labelled) == 1 and "not in the casme2_5class mapping" in dropped["reason"].iloc[0]


def test_dataset_outside_protocol_is_listed():
    clips = table([("casme2", 1, "EP01", "happiness"), ("samm", 6, "006_1_1", "Anger")])
    labelled, dropped = apply_protocol("casme2_5class", clips)
    assert labelled["dataset"].tolist() == ["casme2"]
    assert dropped["reason"].iloc[0].startswith("dataset samm is not part of casme2_5class")


def test_megc2018_objective_classes():
    clips = table([("casme2", 1, "EP01", "happiness", 1), ("casme2", 2, "EP02", "others", 7),
                   ("samm", 6, "006_1_1", "Anger", 3), ("samm", 6, "006_1_2", "Other", None)],
                  objective_class=None)
    clips["objective_class"] = pd.array(clips["objective_class"].tolist(), dtype="Int64")
    labelled, dropped = apply_protocol("megc2018_objective", clips)
    assert labelled["label_name"].tolist() == ["I", "III"] and labelled["label"].tolist() == [0, 2]
    assert sorted(dropped["reason"]) == ["no objective class for this clip",
                                         "objective class VII: MEGC 2018 uses classes I-V only"]
    with pytest.raises(ValueError, match="objective_class"):
        apply_protocol("megc2018_objective", clips.drop(columns="objective_class"))
    clips["objective_class"] = pd.array([None] * 4, dtype="Int64")
    with pytest.raises(ValueError, match="CASME2-ObjectiveClasses.xlsx"):
        apply_protocol("megc2018_objective", clips)


def test_she2020_choices_and_min_frames():
    clips = table([("casme", 1, "EP01_1", "tense"), ("casme", 1, "EP01_2", "comtempt"), ("casme", 2, "EP02_1", "fear"),
                   ("casme2", 1, "EP01", "repression"), ("smic_hs", 1, "s1_ne_01", "negative")])
    labelled, dropped = apply_protocol("she2020_4class", clips)
    assert labelled["label_name"].tolist() == ["others", "negative", "negative", "others", "negative"]
    assert dropped.empty and labelled["subject_uid"].nunique() == 4
    smic = table([("smic_hs", 1, "s1_ne_01", "negative", 17), ("smic_hs", 1, "s1_ne_02", "negative", 18)],
                 n_frames=None)
    labelled, dropped = apply_protocol("reddy2019_smic", smic)
    assert labelled["clip"].tolist() == ["s1_ne_02"] and "17 frames" in dropped["reason"].iloc[0]


def test_reddy_casme_sq_uses_the_stimulus():
    clips = table([("casme_sq", 15, "anger1_1", "negative", "anger", "micro"),
                   ("casme_sq", 15, "happy2_1", "positive", "happy", "macro"),
                   ("casme_sq", 16, "disgust1_3", "others", "disgust", "macro")], stimulus=None, expression_type=None)
    labelled, _ = apply_protocol("reddy2019_casme_sq", clips)
    assert labelled["label_name"].tolist() == ["angry", "happy", "disgust"] and labelled["label"].tolist() == [0, 1, 2]


def test_protocol_validation_and_variants():
    with pytest.raises(ValueError, match="both mapped and dropped"):
        Rule("casme2", mapping={"a": "x"}, drop={"a": "why"})
    with pytest.raises(ValueError, match="not in"):
        Protocol("p", "t", ("x",), (Rule("casme2", mapping={"a": "y"}),), "loso", "ref")
    she = get_protocol("she2020_4class")
    casme = dataclasses.replace(she.rule("casme"), mapping={**she.rule("casme").mapping, "comtempt": "others"})
    variant = dataclasses.replace(she, name="she_variant", rules=(casme,) + she.rules[1:])
    labelled, _ = variant.apply(table([("casme", 1, "EP01_2", "comtempt")]))
    assert labelled["label_name"].tolist() == ["others"] and "she_variant" not in PROTOCOLS


def test_summary_counts_and_published_check():
    rows = [("smic_hs", s, f"s{s}_ne_{i:02d}", "negative") for s in (1, 2) for i in range(3)]
    labelled, _ = apply_protocol("smic_3class", table(rows))
    counts = summary(labelled)
    assert counts.loc["smic_hs", "clips"] == 6 and counts.loc["smic_hs", "subjects"] == 2
    assert counts.loc["smic_hs", "negative"] == 6 and counts.loc["smic_hs", "surprise"] == 0
    comparison = compare_published(labelled)
    assert set(comparison["quantity"]) >= {"clips", "subjects", "class negative"}
    assert not comparison["ok"].any() or comparison.set_index("quantity").loc["class surprise", "ok"]
    with pytest.warns(DataWarning, match="smic_hs clips: 6 \\(published 164\\)"):
        checked = summary(labelled, check=True)
    assert checked.loc["smic_hs", "published_clips"] == 164 and not checked.loc["smic_hs", "matches_published"]
