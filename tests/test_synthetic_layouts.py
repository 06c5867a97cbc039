"""The synthetic writer's layouts read with the loaders, and every protocol on them (a tiny set in tmp_path).

Checks that what :mod:`mer_utils.data.synthetic` writes is what :mod:`mer_utils.data.loaders` reads: the same
clips, labels and onset / offset as the generator's ground truth, the quirks of REFERENCE.md §1 where they are
expected, frames that decode, and every protocol giving a non-empty labelled table (the MEGC 2019 composite
equal to the written ground-truth CSV).
"""
from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd
import pytest

from mer_utils import paths
from mer_utils.data import (CLIP_COLUMNS, DataWarning, get_protocol, list_protocols, load_casme, load_casme2,
                            load_casme_sq, load_ckplus, load_dataset, load_fer2013, load_frames, load_image,
                            load_protocol, load_samm, load_smic, load_smic_hs_e, read_megc2019_csv, splits_for)
from mer_utils.data.protocols import compare_with_megc2019

synthetic = pytest.importorskip("mer_utils.data.synthetic")
# generating the tiny set takes a few seconds: once per module, on one xdist worker (--dist loadgroup)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("synthetic_layouts")]

SIZE = "tiny"


@pytest.fixture(scope="module")
def synthetic_base(tmp_path_factory):
    """``<base>/tiny`` holds a freshly generated tiny set; ``base`` can serve as ``$MER_SYNTHETIC_ROOT``."""
    base = tmp_path_factory.mktemp("synthetic")
    synthetic.generate(SIZE, root=base / SIZE, progress=False)
    return base


@pytest.fixture(scope="module")
def root(synthetic_base):
    return synthetic_base / SIZE


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return fn(*args, **kwargs)


def folder(root, name):
    return root / paths.DATASET_FOLDERS[name]


def check_clip_table(table, dataset):
    assert len(table) > 0, f"{dataset}: empty table"
    assert list(table.columns[:len(CLIP_COLUMNS)]) == CLIP_COLUMNS
    assert set(table["dataset"]) == {dataset} and table["clip_uid"].is_unique
    assert (table["n_frames"] > 0).all()
    for numbers, frame_paths in zip(table["frame_numbers"], table["frame_paths"]):
        assert numbers == sorted(numbers) and len(numbers) == len(frame_paths)
    first = table.iloc[0]
    frames = load_frames(first, start=first["onset"], stop=first["offset"])
    assert frames.dtype == np.uint8 and frames.ndim == 4 and frames.shape[-1] == 3
    assert frames.shape[0] == first["offset"] - first["onset"] + 1


def matches_ground_truth(table, dataset, root, columns=("emotion", "onset", "offset")):
    truth = synthetic.ground_truth_table(root, dataset)
    truth = truth[truth["dataset"] == dataset].set_index("clip_uid")
    mine = table.set_index("clip_uid")
    missing = sorted(set(mine.index) - set(truth.index))
    assert not missing, f"{dataset}: clips without ground truth {missing}"
    for column in columns:
        expected = truth.loc[mine.index, column]
        got = mine[column]
        if column == "emotion":
            expected, got = expected.astype(str).str.lower(), got.astype(str).str.lower()
        assert (got.to_numpy() == expected.to_numpy()).all(), f"{dataset}: {column} differs from the ground truth"
    return truth


def test_casme2_layout(root):
    with pytest.warns(DataWarning) as record:
        table = load_casme2(folder(root, "casme2"))
    messages = " ".join(str(w.message) for w in record)
    check_clip_table(table, "casme2")
    assert "sub04/EP12_01f" in messages                                      # apex '/'
    assert table.attrs["unannotated"], "the writer promises clip folders without a coding row"
    assert any(table["missing_frames"].map(len) > 0), "the writer promises a missing frame"
    quirk = table.set_index("clip_uid").loc["casme2/sub04/EP12_01f"]
    assert bool(quirk["apex_estimated"])
    same = table.set_index("clip_uid").loc["casme2/sub05/EP09_05f"]
    assert same["apex"] == same["onset"]
    assert table["objective_class"].notna().all()
    truth = matches_ground_truth(table, "casme2", root)
    coded = truth[truth["in_coding"].astype(str).str.lower() == "true"] if "in_coding" in truth else truth
    assert sorted(coded.index) == sorted(table["clip_uid"])
    cropped = quiet(load_casme2, folder(root, "casme2"), release="cropped")
    assert cropped["clip_uid"].tolist() == table["clip_uid"].tolist()
    assert cropped.iloc[0]["frame_paths"][0].split("/")[-1].startswith("reg_img")


def test_samm_layout(root):
    table = quiet(load_samm, folder(root, "samm"))
    check_clip_table(table, "samm")
    assert table["subject"].str.fullmatch(r"\d{3}").all()
    assert set(table["emotion"]) <= {"Anger", "Other", "Happiness", "Surprise", "Contempt", "Disgust", "Fear", "Sadness"}
    assert table["objective_class"].between(1, 7).all()
    outside = table[(table["apex"] < table["onset"]) | (table["apex"] > table["offset"])]
    assert len(outside) >= 1                                                  # the promised quirk
    matches_ground_truth(table, "samm", root)
    assert load_frames(table.iloc[0], color=False).ndim == 3


@pytest.mark.parametrize("modality", ["HS", "VIS", "NIR"])
def test_smic_layouts(root, modality):
    table = quiet(load_smic, folder(root, "smic"), modality=modality)
    dataset = f"smic_{modality.lower()}"
    check_clip_table(table, dataset)
    assert set(table["emotion"]) <= {"negative", "positive", "surprise"} and table["apex_estimated"].all()
    assert table["subject"].str.fullmatch(r"s\d{2}").all()
    truth = synthetic.ground_truth_table(root, dataset)
    truth = truth[truth["dataset"] == dataset]
    assert sorted(truth["clip_uid"]) == sorted(table["clip_uid"])


def test_smic_hs_e_layout(root):
    table = quiet(load_smic_hs_e, folder(root, "smic"))
    check_clip_table(table, "smic_hs_e")
    matches_ground_truth(table, "smic_hs_e", root)
    hs = quiet(load_smic, folder(root, "smic"))
    assert sorted(c for c in table["clip"]) == sorted(hs["clip"])            # the same clips, long versions


def test_casme_layout(root):
    table = quiet(load_casme, folder(root, "casme"))
    check_clip_table(table, "casme")
    assert table["subject"].str.fullmatch(r"sub\d{2}").all()
    matches_ground_truth(table, "casme", root)


def test_casme_sq_layout(root):
    micro = quiet(load_casme_sq, folder(root, "casme_sq"))
    every = quiet(load_casme_sq, folder(root, "casme_sq"), include_macro=True)
    check_clip_table(micro, "casme_sq")
    assert set(micro["expression_type"]) == {"micro"} and set(every["expression_type"]) == {"micro", "macro"}
    assert micro["video"].str.fullmatch(r"\d+_\d{4}\w+").all()
    assert set(every["stimulus"]) <= {"anger", "disgust", "happy"}
    truth = matches_ground_truth(every, "casme_sq", root, columns=("onset",))
    assert len(truth) == len(every)


def test_macro_sets(root):
    fer = load_fer2013(folder(root, "fer2013"))
    assert len(fer) > 0 and set(fer["usage"]) <= {"Training", "PublicTest", "PrivateTest"}
    assert load_image(fer.iloc[0]).shape == (48, 48)
    ck = load_ckplus(folder(root, "ckplus"))
    assert len(ck) > 0 and ck["label"].between(1, 7).all()
    assert load_image(ck.iloc[0]).ndim == 2


def test_load_dataset_reads_the_synthetic_root(synthetic_base, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv(paths.SYNTHETIC_ROOT_ENV, str(synthetic_base))
    start = time.perf_counter()
    tables = {name: quiet(load_dataset, name, data_root=tmp_path, synthetic_size=SIZE)
              for name in ("casme2", "samm", "smic", "smic_hs_e", "casme", "casme_sq")}
    elapsed = time.perf_counter() - start
    assert elapsed < 5, f"loading the tiny clip tables took {elapsed:.1f} s"
    assert all(t.attrs["source"] == "synthetic" for t in tables.values())
    assert capsys.readouterr().out.count("using the synthetic set") == len(tables)


@pytest.mark.parametrize("name", list_protocols())
def test_every_protocol_on_the_synthetic_set(name, synthetic_base, monkeypatch, tmp_path):
    monkeypatch.setenv(paths.SYNTHETIC_ROOT_ENV, str(synthetic_base))
    labelled, dropped = quiet(load_protocol, name, data_root=tmp_path, synthetic_size=SIZE, verbose=False)
    protocol = get_protocol(name)
    assert len(labelled) > 0, f"{name}: no clip left ({dropped['reason'].value_counts().to_dict()})"
    assert labelled["label"].between(0, len(protocol.classes) - 1).all()
    assert set(labelled["dataset"]) <= set(protocol.datasets) and labelled["clip_uid"].is_unique
    assert dropped["reason"].notna().all()
    assert labelled.attrs["source"] == "synthetic"
    for fold in splits_for(protocol, labelled, seed=0):
        assert len(fold.test) > 0
    if name == "megc2019_composite":
        truth = read_megc2019_csv(synthetic_base / SIZE / "MEGC2019" / "combined_3_class_gt.csv")
        assert compare_with_megc2019(labelled, truth).empty
        assert set(labelled["label_name"]) == {"negative", "positive", "surprise"}


def test_quick_set_loads_fast():
    """On the default quick set (when generated), all clip tables load in under a few seconds."""
    quick = paths.synthetic_root("quick")
    if synthetic.read_marker(quick) is None:
        pytest.skip(f"no generated quick set at {quick}")
    start = time.perf_counter()
    tables = [quiet(loader, folder(quick, key), **options) for loader, key, options in [
        (load_casme2, "casme2", {}), (load_samm, "samm", {}), (load_smic, "smic", {}), (load_smic_hs_e, "smic", {}),
        (load_casme, "casme", {}), (load_casme_sq, "casme_sq", {"include_macro": True})]]
    elapsed = time.perf_counter() - start
    assert all(len(t) for t in tables)
    assert elapsed < 5, f"loading the quick clip tables took {elapsed:.1f} s"
