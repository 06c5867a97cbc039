"""AMAN (Wei et al. 2022): attention modules, shapes, frozen trunk."""
import pytest
import torch

from mer_utils.papers.wei2022.model import AMAN, AttentionPool


def test_attention_weights_in_unit_interval_and_weighted_mean_by_hand():
    pool = AttentionPool(dim=2)
    with torch.no_grad():
        pool.score.weight.copy_(torch.tensor([[1.0, 0.0]]))
        pool.score.bias.zero_()
    feats = torch.tensor([[[0.0, 1.0], [2.0, 3.0]]])          # (B=1, L=2, D=2)
    out, w = pool(feats, dim=1)
    a = torch.sigmoid(torch.tensor([0.0, 2.0]))               # alpha_i = sigmoid(F_i q)
    expected = (a[0] * feats[0, 0] + a[1] * feats[0, 1]) / a.sum()
    assert torch.all((w > 0) & (w < 1))
    assert torch.allclose(w[0], a) and torch.allclose(out[0], expected)


def test_disabled_attention_is_plain_mean():
    pool = AttentionPool(dim=3, enabled=False)
    feats = torch.randn(2, 4, 3)
    out, w = pool(feats, dim=1)
    assert torch.allclose(out, feats.mean(1), atol=1e-6) and torch.all(w == 1)


@pytest.mark.parametrize("use_ma,use_fa", [(True, True), (True, False), (False, True)])
def test_output_shape_from_images_and_features(use_ma, use_fa):
    torch.manual_seed(0)
    model = AMAN(num_classes=5, use_ma=use_ma, use_fa=use_fa).eval()
    x = torch.randn(2, 3, 2, 3, 32, 32)                      # (B, n, k, C, H, W)
    logits, alpha, beta = model(x, return_attention=True)
    assert logits.shape == (2, 5) and alpha.shape == (2, 3, 2) and beta.shape == (2, 3)
    feats = model.trunk_features(x.reshape(-1, 3, 32, 32)).reshape(2, 3, 2, 256, 2, 2)
    assert torch.allclose(model(feats, features=True), logits, atol=1e-5)
    pooled = model.pooled_features(x.reshape(-1, 3, 32, 32)).reshape(2, 3, 2, 512)
    assert torch.allclose(model(pooled, features="pooled"), logits, atol=1e-5)


def test_frozen_trunk_gets_no_gradient_and_head_does():
    model = AMAN(num_classes=3).train()
    x = torch.randn(1, 2, 2, 3, 32, 32)
    model(x).sum().backward()
    assert all(p.grad is None for p in model.trunk.parameters())
    assert all(not p.requires_grad for p in model.trunk.parameters())
    assert all(p.grad is not None for p in model.head.parameters())
    assert model.ma.score.weight.grad is not None and model.fa.score.weight.grad is not None
    assert not model.trunk.training  # BatchNorm of the frozen trunk stays in eval mode


def test_bad_input_shape_is_explained():
    model = AMAN(num_classes=3)
    with pytest.raises(ValueError, match=r"expects \(B, n, k, C, H, W\)"):
        model(torch.randn(2, 3, 32, 32))
    with pytest.raises(ValueError, match="256 channels"):
        model(torch.randn(1, 1, 1, 64, 2, 2), features=True)
    with pytest.raises(ValueError, match="inputs='video'"):
        AMAN(num_classes=3, inputs="video")
    with pytest.raises(ValueError, match=r"\(B, n, k, 512\)"):
        AMAN(num_classes=3, inputs="pooled")(torch.randn(2, 3, 512))


def test_pooled_model_has_only_attention_and_classifier():
    model = AMAN(num_classes=4, inputs="pooled")
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == 2 * (512 + 1) + 512 * 4 + 4
    assert model(torch.randn(3, 5, 2, 512)).shape == (3, 4)
    with pytest.raises(RuntimeError, match="inputs='pooled'"):
        model(torch.randn(1, 1, 1, 3, 32, 32), features="images")
