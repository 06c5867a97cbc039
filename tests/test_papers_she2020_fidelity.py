"""Issue 21: She et al. 2020 read as the paper writes it — dropout after each FC layer, SMIC scored against its
three classes per dataset, and the in-sample SVM features named (cross-fitted features as an option)."""
import numpy as np
import pandas as pd
import pytest
from torch import nn

from mer_utils.data.protocols import get_protocol
from mer_utils.evaluation import metrics_table, per_dataset_metrics
from mer_utils.papers.she2020.model import MultipleAggregationNetwork
from mer_utils.papers.she2020.pipeline import MultipleAggregationPipeline, She2020Settings, run_multiple_aggregation
from mer_utils.training.crossval import protocol_dataset_labels

CLASSES = ["negative", "positive", "surprise", "others"]


def test_dropout_follows_each_fully_connected_layer_by_default():
    # Sec. IV-B c: "Each fully-connected layer is followed by a drop layer with a dropout ratio of 0.5."
    assert She2020Settings().logit_dropout is True
    net = MultipleAggregationNetwork(branches=("face",), width=2, blocks_per_stage=1, hidden=8)
    assert isinstance(net.dropout, nn.Dropout) and isinstance(net.logit_dropout, nn.Dropout)
    assert net.logit_dropout.p == 0.5
    other = MultipleAggregationNetwork(branches=("face",), width=2, blocks_per_stage=1, hidden=8, logit_dropout=False)
    assert isinstance(other.logit_dropout, nn.Identity)


def test_smic_is_scored_against_its_three_classes():
    proto = get_protocol("she2020_4class")
    assert proto.dataset_labels["smic_hs"] == (0, 1, 2)
    assert proto.dataset_labels["casme2"] == (0, 1, 2, 3)
    own = protocol_dataset_labels("she2020_4class", CLASSES)
    assert own == {"smic_hs": (0, 1, 2)}
    # every dataset of the MEGC 2019 composite has all three classes: nothing changes there
    assert protocol_dataset_labels("megc2019_composite", ["negative", "positive", "surprise"]) is None
    # SMIC predicted perfectly: UAR 1 against its 3 classes (against 4 it was capped at 0.75)
    p = pd.DataFrame({"dataset": ["smic_hs"] * 3 + ["casme2"] * 4, "true": [0, 1, 2, 0, 1, 2, 3],
                      "pred": [0, 1, 2, 0, 1, 2, 3]})
    assert per_dataset_metrics(p, 4)["smic_hs"]["uar"] == pytest.approx(0.75)
    m = per_dataset_metrics(p, 4, own)
    assert m["smic_hs"]["uar"] == 1.0 and m["smic_hs"]["uf1"] == 1.0 and m["casme2"]["uar"] == 1.0
    # an "others" prediction on a SMIC clip is an error for its true class, no class's false positive
    p.loc[2, "pred"] = 3
    m = per_dataset_metrics(p, 4, own)["smic_hs"]
    assert m["uar"] == pytest.approx(2 / 3) and m["war"] == pytest.approx(2 / 3)
    assert m["uf1"] == pytest.approx((1 + 1 + 0) / 3)
    assert "smic_hs (3 classes)" in metrics_table(p, 4, dataset_labels=own).index


def test_cross_fit_parts_split_training_subjects(she_tiny_problem):
    table, faces = she_tiny_problem(n_subjects=5)
    pipe = MultipleAggregationPipeline(table, faces, She2020Settings(svm_features="cross_fit", cross_fit_parts=2,
                                                                     scale=0.2), 4)
    train = np.arange(16)  # subjects 0..3
    parts = pipe.cross_fit_parts(train, seed=0)
    subj = table["subject_uid"].to_numpy()[train]
    assert len(parts) == 2 and sorted(np.concatenate(parts).tolist()) == list(range(16))
    assert not set(subj[parts[0]]) & set(subj[parts[1]])  # split by subject
    with pytest.raises(ValueError, match="cross_fit_parts"):
        She2020Settings(svm_features="cross_fit", cross_fit_parts=1)
    with pytest.raises(ValueError, match="svm_features"):
        She2020Settings(svm_features="oob")


@pytest.mark.slow
def test_cross_fitted_run_trains_one_network_per_part(tmp_path, monkeypatch, she_tiny_problem):
    from mer_utils.data.splits import subject_kfold

    monkeypatch.setenv("MER_RESULTS_ROOT", str(tmp_path))
    table, faces = she_tiny_problem()
    folds = subject_kfold(table, k=2, seed=0)
    settings = She2020Settings(width=2, blocks_per_stage=1, hidden=8, epochs=1, batch_size=16, scale=0.2,
                               svm_grid=({"svc__kernel": ["linear"], "svc__C": [1.0]},), inner_folds=2,
                               svm_features="cross_fit", cross_fit_parts=2, aggregations=("mean+std+median",))
    cv = run_multiple_aggregation(table, faces, folds, settings, notebook="test", dataset="tiny",
                                  protocol="she2020_4class", class_names=list("abcd"), device="cpu", progress=False)
    assert len(cv.predictions) == len(table)
    fold_dirs = sorted(p for p in (cv.run_dir / "folds").iterdir() if p.is_dir())
    assert len(fold_dirs) == 2
    assert fold_dirs and all((d / "model_crossfit0.pt").exists() and (d / "model_crossfit1.pt").exists()
                             and not (d / "model.pt").exists() for d in fold_dirs)
