"""Issue 20, item 5: the ``full`` path at the paper's shapes, end to end on the CPU — each paper's full-profile
preprocessing (image sizes, T, factors), network (widths, depths, the paper's backbones) and cross-validation
runner, with 1 epoch, 2 folds and a few clips. Not in the default run (minutes of CPU): run it with

    scripts/test.sh -m paper_shapes tests/test_paper_shapes.py

Clips come from the quick synthetic set (the datasets' layouts; the paper-size set is 17.5 GB), so the source
frames are smaller than the paper-size ones, but every tensor after preprocessing has the full profile's shape.
Pretrained weights are substituted (random initialisation; a random 8-class "FER+" checkpoint for AMAN), as
``ALLOW_SUBSTITUTES=True`` would.
"""
import numpy as np
import pandas as pd
import pytest
import torch

pytestmark = [pytest.mark.paper_shapes, pytest.mark.slow]


@pytest.fixture
def stores(tmp_path, monkeypatch):
    monkeypatch.setenv("MER_RESULTS_ROOT", str(tmp_path / "results"))
    monkeypatch.setenv("MER_CACHE_ROOT", str(tmp_path / "cache"))
    torch.set_num_threads(2)
    return tmp_path


def few_clips(protocol: str, per_subject: int = 2, subjects: int = 3) -> pd.DataFrame:
    """``per_subject`` clips of each of the first ``subjects`` subjects (2 LOSO folds are run)."""
    from mer_utils.data import load_protocol

    table, _ = load_protocol(protocol, None, synthetic_size="quick", verbose=False)
    keep = table["subject_uid"].drop_duplicates().iloc[:subjects]
    out = table[table["subject_uid"].isin(keep)].groupby("subject_uid").head(per_subject).reset_index(drop=True)
    out.attrs.update(table.attrs)
    return out


def test_zhao_full_shapes(stores):
    from mer_utils.papers import zhao2021 as zhao

    s = zhao.PROFILES["full"]
    table = few_clips("casme2_5class")
    prep = zhao.prepare_inputs(table, s["compute_size"], flows=s["flows"], register=s["register"], progress=False,
                               workers=1)
    images = zhao.input_images(prep, "ars", s["image_size"])
    assert images.shape == (len(table), 3, 320, 320)
    factory = zhao.CropNetFactory(pretrained=False, head_channels=s["head_channels"], input_norm=s["input_norm"],
                                  bn_momentum=s["bn_momentum"], pool_size=s["pool_size"], dropout=s["dropout"])
    cfg = zhao.cropnet_config(epochs=1, batch_size=s["batch_size"], lr=s["lr"], augment=s["augment"])
    cv = zhao.cropnet_loso(table, images, factory, cfg, notebook="40_paper_shapes", dataset="casme2",
                           protocol="casme2_5class", method_name="ARS+CropNet", params={"profile": "full"},
                           device="cpu", progress=False, max_folds=2)
    assert len(cv.computed) == 2 and len(cv.predictions) == 4


def test_wei_full_shapes(stores):
    from torchvision.models import resnet18

    from mer_utils.preprocess import prepare
    from mer_utils.papers import wei2022 as aman

    table = few_clips("casme2_5class")
    factors = tuple(float(f) for f in range(1, 12))
    prep = prepare("wei2022", table, params=dict(n_frames=11, interval=1, factors=factors, k=11, size=(224, 224),
                                                 tim_length=20), progress=False, workers=1)
    assert prep.arrays["magnified"].shape == (len(table), 11, 11, 224, 224, 3)
    ckpt = stores / "ferplus.pth"
    torch.save(resnet18(weights=None, num_classes=8).state_dict(), ckpt)
    backbone, report = aman.load_backbone("resnet18", checkpoint=ckpt)
    assert "replaced" in report["checkpoint_head"]
    bank = aman.feature_bank(backbone, prep.arrays["magnified"], level="trunk", progress=False, size=224, grey=True)
    assert tuple(bank.shape) == (len(table), 11, 11, 256, 14, 14)
    cv = aman.run_aman(table, bank, backbone, notebook="50_paper_shapes", dataset="casme2", protocol="casme2_5class",
                       level="trunk", config=aman.aman_config(epochs=1, batch_size=4), n_frames=11,
                       k=9, class_names=table.attrs["classes"], device="cpu", progress=False, max_folds=2)
    assert len(cv.computed) == 2
    ckpts = sorted(cv.run_dir.rglob("model.pt"))
    assert ckpts and not [k for k in torch.load(ckpts[0], weights_only=False)["state_dict"] if k.startswith("trunk.")]


def test_she_full_shapes(stores):
    from mer_utils.papers.she2020 import pipeline as M
    from mer_utils.preprocess import prepare

    s = M.PROFILES["full"]
    table = few_clips("she2020_4class")
    prep = prepare("she2020", table, params={"n_frames": s["n_frames"]}, progress=False, workers=1)
    faces = M.network_inputs(prep.arrays["face"], type("S", (), s))
    assert faces.shape[:3] == (len(table), 64, 140)
    folds = M.make_folds(prep.table, "loso")[:2]
    settings = M.She2020Settings(width=s["width"], blocks_per_stage=s["blocks_per_stage"], epochs=1,
                                 batch_size=s["batch_size"], lr=s["lr"], scale=s["scale"],
                                 svm_grid=({"svc__kernel": ["linear"], "svc__C": [1.0]},), inner_folds=2)
    cv = M.run_multiple_aggregation(prep.table, faces, folds, settings, notebook="10_paper_shapes", dataset="casme2",
                                    protocol="she2020_4class", class_names=list("abcd"), device="cpu",
                                    progress=False)
    assert len(cv.computed) == 2 and np.isfinite(cv.metrics["pooled"]["war"])
