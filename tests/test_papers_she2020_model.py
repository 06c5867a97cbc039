"""Shapes and parameter counts of She et al. 2020's residual branches and fusion head (Fig. 1, eq. 1-2)."""
import pytest
import torch

from mer_utils.papers.she2020.model import (BRANCHES, IdentityShortcut, MultipleAggregationNetwork,
                                      ResidualBlock, ResidualBranch)

# pixel boxes (top, bottom, left, right) on a 140 x 120 face, as a 12x14 grid of 10 px cells gives
ROIS = {"left_eye": (20, 60, 10, 60), "right_eye": (20, 60, 60, 110), "mouth": (90, 130, 30, 90)}


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def test_identity_shortcut_has_no_parameters_and_pads_channels():
    sc = IdentityShortcut(4, 8, stride=2)
    x = torch.arange(2 * 4 * 5 * 5, dtype=torch.float32).reshape(2, 4, 5, 5)
    y = sc(x)
    assert n_params(sc) == 0
    assert y.shape == (2, 8, 3, 3)
    assert torch.equal(y[:, :4], x[:, :, ::2, ::2]) and torch.all(y[:, 4:] == 0)


@pytest.mark.parametrize("size", [(10, 10), (7, 9)])
def test_residual_block_downsamples_odd_sizes(size):
    block = ResidualBlock(4, 8, stride=2)
    assert block(torch.randn(1, 4, *size)).shape == (1, 8, (size[0] + 1) // 2, (size[1] + 1) // 2)


@pytest.mark.parametrize("channels,width,n,hw", [(1, 8, 1, (140, 120)), (3, 4, 2, (40, 50)), (1, 4, 1, (40, 60))])
def test_branch_output_shape(channels, width, n, hw):
    branch = ResidualBranch(channels, width, n).eval()
    assert branch(torch.randn(3, channels, *hw)).shape == (3, 4 * width)


def test_branch_resnet20_parameter_count():
    # He et al.'s CIFAR ResNet-20 (3-channel input, FC 10) has 269,722 parameters; the branch omits the FC
    assert n_params(ResidualBranch(3, 16, 3)) + 64 * 10 + 10 == 269_722


def test_branch_rejects_wrong_channels():
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        ResidualBranch(1, 4, 1)(torch.randn(2, 3, 20, 20))


def test_fusion_shapes_frame_features_and_concat():
    net = MultipleAggregationNetwork(ROIS, width=4, blocks_per_stage=1).eval()
    x = torch.randn(5, 1, 140, 120)
    assert net.branch_features(x).shape == (5, 4 * 16)  # eq. (2): four 16-d branch features
    assert net.frame_features(x).shape == (5, 64)
    assert net(x).shape == (5, 4)
    assert torch.all(net.frame_features(x) >= 0)  # post-ReLU activations of FC-64


def test_fusion_crops_the_rois():
    net = MultipleAggregationNetwork(ROIS, width=4, blocks_per_stage=1)
    x = torch.randn(1, 1, 140, 120)
    assert net.crop(x, "mouth").shape == (1, 1, 40, 60)
    assert net.crop(x, "face").shape == (1, 1, 140, 120)


@pytest.mark.parametrize("branch", BRANCHES)
def test_single_branch_models(branch):
    net = MultipleAggregationNetwork(ROIS, branches=(branch,), width=4, blocks_per_stage=1).eval()
    assert list(net.branches) == [branch]
    assert net(torch.randn(2, 1, 140, 120)).shape == (2, 4)


def test_head_is_fc64_fc4_with_dropout():
    net = MultipleAggregationNetwork(ROIS, width=4, blocks_per_stage=1, num_classes=4)
    assert (net.fc1.in_features, net.fc1.out_features, net.fc2.out_features) == (64, 64, 4)
    assert net.dropout.p == 0.5
    net.train()
    x = torch.randn(8, 1, 140, 120)
    torch.manual_seed(0)
    a = net(x)
    torch.manual_seed(1)
    assert not torch.allclose(a, net(x))  # dropout active in training
    net.eval()
    assert torch.allclose(net(x), net(x))


def test_fusion_errors_name_the_fix():
    with pytest.raises(ValueError, match="needs its pixel box"):
        MultipleAggregationNetwork({}, branches=("face", "mouth"))
    with pytest.raises(ValueError, match="distinct names"):
        MultipleAggregationNetwork(ROIS, branches=("nose",))
    net = MultipleAggregationNetwork({"mouth": (90, 150, 0, 60)}, branches=("mouth",), width=4, blocks_per_stage=1)
    with pytest.raises(ValueError, match="outside the face"):
        net(torch.randn(1, 1, 140, 120))


def test_fusion_backward_reaches_every_branch():
    net = MultipleAggregationNetwork(ROIS, width=4, blocks_per_stage=1)
    loss = torch.nn.functional.cross_entropy(net(torch.randn(4, 1, 140, 120)), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    for name in BRANCHES:
        assert net.branches[name].stem[0].weight.grad.abs().sum() > 0
