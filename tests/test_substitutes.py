"""Issue 20, item 3: a missing paper-critical input stops a ``full`` run before training with an error naming
what is missing, where to put it and ALLOW_SUBSTITUTES; an accepted substitute is recorded per stage."""
import json
import re

import nbformat
import pytest

from mer_utils import paths
from mer_utils.substitutes import MissingPaperInputError, PaperInput, check_paper_inputs


@pytest.fixture
def empty_weights(tmp_path, monkeypatch):
    """No ImageNet weights anywhere: an empty weights folder, no Hugging Face cache hit, no licensed data."""
    from mer_utils.papers.zhao2021 import model

    monkeypatch.setenv(paths.WEIGHTS_ROOT_ENV, str(tmp_path / "weights"))
    monkeypatch.setattr(model, "_cached_timm_weights", lambda name: None)
    (tmp_path / "licensed").mkdir()
    return tmp_path


def test_the_shared_check_raises_only_for_critical_substitutes_in_full():
    weights = PaperInput("weights", "ImageNet", "random initialisation", True, "data/weights/x.pth")
    clips = PaperInput("clips", "licensed", "synthetic", True, "DATA_ROOT", critical=False)
    with pytest.raises(MissingPaperInputError) as err:
        check_paper_inputs("nb", "full", [weights, clips])
    assert err.value.missing == [weights]
    assert "data/weights/x.pth" in str(err.value) and "ALLOW_SUBSTITUTES=True" in str(err.value)
    assert check_paper_inputs("nb", "full", [clips]).substitutes == [clips]  # synthetic clips: recorded only
    for profile, allow in (("full", True), ("quick", False), ("ci", False)):
        rec = check_paper_inputs("nb", profile, [weights, clips], allow).record()
        assert rec["substitutes"] == ["weights", "clips"] and rec["substitutes_allowed"]
        assert rec["stages"]["weights"] == {"paper": "ImageNet", "used": "random initialisation", "substitute": True,
                                            "critical": True}
    with pytest.raises(TypeError, match="ALLOW_SUBSTITUTES"):
        check_paper_inputs("nb", "full", [weights], allow_substitutes="yes")


def test_zhao_full_without_imagenet_weights_names_the_file_and_the_parameter(empty_weights):
    from mer_utils.papers.zhao2021 import paper_inputs

    with pytest.raises(MissingPaperInputError) as err:
        paper_inputs("full", "synthetic")
    text = str(err.value)
    assert "ReXNet" in text and "rexnet_100.safetensors" in text and "ALLOW_SUBSTITUTES" in text
    rec = paper_inputs("full", "synthetic", allow_substitutes=True).record()
    assert rec["stages"]["feature extractor initialisation"]["used"].startswith("random initialisation")
    # the weights where the error said: found, no substitute
    hit = empty_weights / "weights" / "imagenet" / "rexnet_100.safetensors"
    hit.parent.mkdir(parents=True)
    hit.write_bytes(b"")
    src = paper_inputs("full", "licensed")
    assert not src.substitutes and str(hit) in src.record()["stages"]["feature extractor initialisation"]["used"]
    # quick: the narrow extractor has no ImageNet weights by design; recorded, not an error
    quick = paper_inputs("quick", "synthetic", width_mult=0.25, depth_mult=0.35)
    assert "no ImageNet weights exist" in quick.record()["stages"]["feature extractor initialisation"]["used"]


def test_peng_full_defaults_to_ck_plus_the_macro_folder_and_names_each_missing_input(empty_weights):
    from mer_utils.papers.peng2018 import paper_inputs

    root = empty_weights / "licensed"
    with pytest.raises(MissingPaperInputError) as err:
        paper_inputs("full", root)
    text = str(err.value)
    for needed in ("IMAGENET_WEIGHTS", "CK+/", "MACRO_FOLDER", "Oulu-CASIA", "ALLOW_SUBSTITUTES"):
        assert needed in text, needed
    allowed = paper_inputs("full", root, allow_substitutes=True)
    assert allowed.settings["macro_sets"] == ["ckplus", "fer2013"]  # FER2013: the recorded substitute
    assert "FER2013" in allowed.record()["stages"]["stage 2: macro sets Oulu-CASIA NIR&VIS, JAFFE and MUG"]["used"]
    weights, folder = empty_weights / "resnet10.pth", empty_weights / "macro"
    weights.write_bytes(b"")
    folder.mkdir()
    with pytest.raises(MissingPaperInputError) as err:  # only CK+ is still missing
        paper_inputs("full", root, weights, None, folder)
    assert [m.stage for m in err.value.missing] == ["stage 2: macro set CK+"]
    quick = paper_inputs("quick", root)
    assert quick.settings["macro_sets"] == ["fer2013", "ckplus"]  # the quick design, unchanged
    with pytest.raises(FileNotFoundError, match="IMAGENET_WEIGHTS|does not exist"):
        paper_inputs("quick", root, empty_weights / "typo.pth")  # a mistyped path is not a substitute


def test_wei_full_needs_a_fer_backbone_and_the_magnification_network(empty_weights):
    from mer_utils.papers.wei2022 import paper_inputs

    root = empty_weights / "licensed"
    with pytest.raises(MissingPaperInputError) as err:
        paper_inputs("full", "synthetic", backbone="resnet18", data_root=root)
    text = str(err.value)
    assert "BACKBONE_CHECKPOINT" in text and "FER2013/fer2013.csv" in text and "MAGNIFIER_CHECKPOINT" in text
    ckpt, magnet = empty_weights / "fer_plus.pth", empty_weights / "magnet.pth"
    ckpt.write_bytes(b"")
    magnet.write_bytes(b"")
    ok = paper_inputs("full", "licensed", backbone="resnet18", backbone_checkpoint=ckpt, data_root=root,
                      magnifier="oh2018", magnifier_checkpoint=magnet)
    assert not ok.substitutes
    quick = paper_inputs("quick", "synthetic", backbone="fer2013_mini_xception")
    assert quick.record()["substitutes"] == ["backbone pretraining", "magnification", "micro-expression clips"]


def test_a_fer_plus_checkpoint_loads_with_its_head_replaced(tmp_path, capsys):
    import torch
    from torchvision.models import resnet18

    from mer_utils.papers.wei2022 import load_backbone
    from mer_utils.training import load_state_replacing_head

    torch.manual_seed(0)
    fer_plus = resnet18(weights=None, num_classes=8)
    path = tmp_path / "ferplus.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in fer_plus.state_dict().items()}}, path)
    model, report = load_backbone("resnet18", checkpoint=path)
    assert "8-class head 'fc'" in report["checkpoint_head"] and "replaced" in capsys.readouterr().out
    assert model.fc.out_features == 7
    assert torch.equal(model.layer4[1].conv2.weight, fer_plus.layer4[1].conv2.weight)
    assert load_state_replacing_head(resnet18(weights=None, num_classes=8), fer_plus.state_dict()) == "loaded as it is"
    broken = {k: v for k, v in fer_plus.state_dict().items() if not k.startswith("layer4.")}
    with pytest.raises(RuntimeError, match="missing .*layer4"):
        load_state_replacing_head(resnet18(weights=None, num_classes=7), broken)


@pytest.mark.parametrize("name, call", [("20_peng2018_macro_to_micro", "P.paper_inputs("),
                                        ("40_zhao2021_residual_sum_cropnet", "zhao.paper_inputs("),
                                        ("50_wei2022_aman", "aman.paper_inputs(")])
def test_paper_notebooks_check_their_inputs_before_training_and_record_them(name, call):
    nb = nbformat.read(paths.repo_path("notebooks", f"{name}.ipynb"), as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    params = [c.source for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and re.search(r"^ALLOW_SUBSTITUTES = False", params[0], re.M)
    check = next(i for i, s in enumerate(code) if call in s and "allow_substitutes=ALLOW_SUBSTITUTES" in s)
    training = re.compile(r"run_stage\(|cropnet_loso\(|run_aman\(|load_backbone\(|prepare\(|prepare_inputs\(")
    first_training = next(i for i, s in enumerate(code) if training.search(s))
    assert check < first_training, "the inputs are checked after training started"
    assert any(".record()" in s and "record_metrics" in s for s in code), "the data sources are not recorded"
    assert any("print_plan(" in s for s in code[:check + 1]), "no plan line before training"


def test_the_plan_line_is_free_for_the_cpu_profiles():
    from mer_utils.plan import plan_line

    line = plan_line("40_zhao2021_residual_sum_cropnet", "quick", {"EPOCHS": 3})
    assert "PROFILE='quick'" in line and "--profile full --notebook 40" in line
    json.dumps(line)
