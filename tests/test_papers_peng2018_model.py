"""Unit tests for the cvgj ResNet-10 of Peng et al. 2018 (mer_utils.papers.peng2018.model)."""
import numpy as np
import pytest
import torch

from mer_utils.papers.peng2018.model import (RESNET10_PARAMETERS_IMAGENET, ResNet10, count_parameters,
                                       load_imagenet_weights, replace_classifier, resnet10_parameter_count)

torch.set_num_threads(1)


def test_parameter_count_imagenet_and_five_classes():
    # 4,904,070 in the convolutional body + 513 per class (see the ResNet10 docstring).
    assert count_parameters(ResNet10(1000)) == 5_417_070 == RESNET10_PARAMETERS_IMAGENET
    assert count_parameters(ResNet10(5)) == 4_906_635 == resnet10_parameter_count(5)
    assert count_parameters(ResNet10(5, in_channels=1)) == 4_900_359


def test_layout_is_preactivation_with_projection_shortcuts():
    m = ResNet10(5)
    assert m.conv1.kernel_size == (7, 7) and m.conv1.stride == (2, 2) and m.conv1.bias is not None
    assert m.data_bn.num_features == 3
    for name, (cin, cout) in {"layer_128_1": (64, 128), "layer_256_1": (128, 256), "layer_512_1": (256, 512)}.items():
        block = getattr(m, name)
        assert block.bn1.num_features == cin
        assert block.conv_expand.kernel_size == (1, 1) and block.conv_expand.stride == (2, 2)
        assert block.conv_expand.out_channels == cout
    assert not hasattr(m.layer_64_1, "bn1")  # the first block has no pre-activation BN (the stem did it)


def test_output_and_feature_shapes():
    m = ResNet10(5).eval()
    with torch.no_grad():
        x = torch.randn(2, 3, 224, 224)
        assert m(x).shape == (2, 5)
        assert m.features(x).shape == (2, 512)
        # spatial sizes: 224 -> 112 (conv1) -> 56 (pool, Caffe ceil rounding) -> 56, 28, 14, 7
        s = m.pool1(m.conv1(x))
        assert s.shape[-1] == 56
        assert ResNet10(3, in_channels=1).eval()(torch.randn(1, 1, 64, 64)).shape == (1, 3)


def test_bad_input_shape_names_the_expected_layout():
    m = ResNet10(5)
    with pytest.raises(ValueError, match="batch, 3, H, W"):
        m(torch.randn(2, 224, 224, 3))
    with pytest.raises(ValueError, match="at least 32x32"):
        m(torch.randn(1, 3, 16, 16))


def test_replace_classifier_is_seeded_and_keeps_body():
    m = ResNet10(1000)
    body = m.conv1.weight.clone()
    replace_classifier(m, 5, seed=3)
    w1 = m.fc.weight.clone()
    replace_classifier(m, 5, seed=3)
    assert m.num_classes == 5 and torch.equal(w1, m.fc.weight) and torch.equal(body, m.conv1.weight)


def test_load_imagenet_weights_missing_path_says_so(tmp_path):
    m = ResNet10(5)
    rep = load_imagenet_weights(m, None)
    assert not rep.loaded and "random initialisation" in rep.message
    rep = load_imagenet_weights(m, tmp_path / "absent.pth")
    assert not rep.loaded and "not found" in rep.message


def test_load_imagenet_weights_state_dict_skips_other_head(tmp_path):
    src = ResNet10(1000)
    torch.save(src.state_dict(), tmp_path / "r10.pth")
    dst = ResNet10(5)
    rep = load_imagenet_weights(dst, tmp_path / "r10.pth")
    assert rep.loaded and "fc.weight" in rep.skipped and "fc.weight" in rep.missing
    assert torch.equal(dst.layer_512_1.conv2.weight, src.layer_512_1.conv2.weight)
    assert torch.equal(dst.last_bn.running_var, src.last_bn.running_var)


def test_load_imagenet_weights_from_converted_caffe_npy(tmp_path):
    w = np.random.default_rng(0).normal(size=(128, 64, 1, 1)).astype(np.float32)
    raw = {"layer_128_1_conv_expand": {"weights": w},
           "last_bn": {"mean": np.ones(512, np.float32), "var": np.full(512, 2, np.float32),
                       "scale": np.full(512, 3, np.float32), "bias": np.zeros(512, np.float32)}}
    np.save(tmp_path / "r10.npy", raw, allow_pickle=True)
    m = ResNet10(5)
    rep = load_imagenet_weights(m, tmp_path / "r10.npy")
    assert rep.loaded
    assert np.allclose(m.layer_128_1.conv_expand.weight.detach().numpy(), w)
    assert float(m.last_bn.weight.detach()[0]) == 3.0 and float(m.last_bn.running_var[0]) == 2.0


def test_load_imagenet_weights_rejects_unrelated_file(tmp_path):
    torch.save({"foo": torch.zeros(3)}, tmp_path / "x.pth")
    with pytest.raises(ValueError, match="none of its"):
        load_imagenet_weights(ResNet10(5), tmp_path / "x.pth")
