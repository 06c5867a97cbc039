"""AMAN (Wei et al. 2022): attention modules, shapes, frozen trunk."""
import pytest
import torch

from mer_utils.papers.wei2022.model import AMAN, AttentionPool, MapHead, split_backbone


def test_attention_weights_in_unit_interval_and_weighted_mean_by_hand():
    pool = AttentionPool(dim=2)
    with torch.no_grad():
        pool.score.weight.copy_(torch.tensor([[1.0, 0.0]]))
        pool.score.bias.zero_()
    feats = torch.tensor([[[0.0, 1.0], [2.0, 3.0]]])          # (B=1, L=2, D=2)
    out, w = pool(feats, dim=1)
    a = torch.sigmoid(torch.tensor([0.0, 2.0]))               # alpha_i = sigmoid(F_i q)
    expected = (a[0] * feats[0, 0] + a[1] * feats[0, 1]) / a.sum()
    assert torch.allclose(pool.gates(feats)[0], a)
    assert torch.allclose(w[0], a / a.sum()) and torch.allclose(w.sum(-1), torch.ones(1))
    assert torch.allclose(out[0], expected)


def test_attention_stays_exact_when_every_gate_is_near_zero():
    """Scores around -110 make every sigmoid gate ~1e-48 (0 in fp32): the log-space normalisation still gives
    the exact ratio a_i / sum(a) = softmax(s) there, where a plain division returns NaN."""
    pool = AttentionPool(dim=1)
    with torch.no_grad():
        pool.score.weight.fill_(1.0)
        pool.score.bias.fill_(-110.0)
    feats = torch.tensor([[[0.0], [1.0], [2.0]]], dtype=torch.float16)  # half-precision input is scored in fp32
    out, w = pool(feats, dim=1)
    expected = torch.softmax(torch.tensor([0.0, 1.0, 2.0]), 0)
    assert w.dtype == torch.float32 and torch.isfinite(out).all()
    assert torch.allclose(w[0], expected, atol=1e-6) and torch.allclose(out[0, 0], (expected * torch.arange(3.0)).sum())
    naive = torch.sigmoid(pool.scores(feats))
    assert torch.isnan((naive.unsqueeze(-1) * feats.float()).sum(1) / naive.sum(1, keepdim=True)).all()


def test_disabled_attention_is_plain_mean():
    pool = AttentionPool(dim=3, enabled=False)
    feats = torch.randn(2, 4, 3)
    out, w = pool(feats, dim=1)
    assert torch.allclose(out, feats.mean(1), atol=1e-6) and torch.allclose(w, torch.full((2, 4), 0.25))


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


def _mini_xception():
    from mer_utils.pretrained import MiniXception

    torch.manual_seed(0)
    return MiniXception().eval()


def test_split_backbone_of_the_fer_mini_xception():
    net = _mini_xception()
    trunk, head, channels, dim = split_backbone(net)
    x = torch.randn(2, 1, 64, 64)
    maps = trunk(x)
    assert maps.shape == (2, 64, 8, 8) and channels == 64 and dim == 128
    assert torch.allclose(head(maps), net.features(x), atol=1e-5)   # trunk + last block = the whole network
    assert split_backbone(None)[2:] == (256, 512)                    # ResNet-18
    with pytest.raises(ValueError, match="ResNet-18 or the FER2013 MiniXception"):
        split_backbone(torch.nn.Linear(2, 2))


def test_map_head_keeps_the_grid_and_aman_on_mini_xception_maps():
    head = MapHead(64, channels=4, grid=8, dropout=0.0)
    assert head(torch.randn(3, 64, 8, 8)).shape == (3, 256) and head.out_dim == 256
    assert MapHead(64, channels=2, grid=4)(torch.randn(1, 64, 8, 8)).shape == (1, 32)
    model = AMAN(num_classes=5, backbone=_mini_xception(), inputs="trunk", head="small",
                 map_head={"channels": 4, "dropout": 0.0}).eval()
    logits, alpha, beta = model(torch.randn(2, 3, 4, 64, 8, 8, dtype=torch.float16), return_attention=True)
    assert logits.shape == (2, 5) and alpha.shape == (2, 3, 4) and beta.shape == (2, 3)
    assert torch.allclose(alpha.sum(-1), torch.ones(2, 3)) and torch.allclose(beta.sum(-1), torch.ones(2))
    assert all(not p.requires_grad for p in model.trunk.parameters())
    with pytest.raises(ValueError, match="64 channels"):
        model(torch.randn(1, 1, 1, 256, 8, 8))


def test_onset_difference_removes_what_every_frame_shares():
    """With onset_difference the trained layers see maps minus the onset's (frame 0, factor 1): adding the same
    face to every image of a clip changes nothing."""
    torch.manual_seed(0)
    model = AMAN(num_classes=3, backbone=_mini_xception(), inputs="trunk", head="small", onset_difference=True).eval()
    x = torch.randn(2, 3, 2, 64, 8, 8)
    face = torch.randn(2, 1, 1, 64, 8, 8)
    assert torch.allclose(model(x), model(x + face), atol=1e-5)
    plain = AMAN(num_classes=3, backbone=_mini_xception(), inputs="trunk", head="small").eval()
    assert not torch.allclose(plain(x), plain(x + face), atol=1e-3)
    pooled = AMAN(num_classes=3, inputs="pooled", feature_dim=128, onset_difference=True).eval()
    f = torch.randn(2, 3, 2, 128)
    assert torch.allclose(pooled(f), pooled(f + torch.randn(2, 1, 1, 128)), atol=1e-5)


def test_images_through_the_mini_xception_match_cached_maps():
    net = _mini_xception()
    model = AMAN(num_classes=4, backbone=net, head="small").eval()
    images = torch.randn(1, 2, 2, 1, 64, 64)
    maps = model.trunk_features(images.reshape(-1, 1, 64, 64)).reshape(1, 2, 2, 64, 8, 8)
    assert torch.allclose(model(images), model(maps, features="trunk"), atol=1e-5)
    with pytest.raises(ValueError, match="head='big'"):
        AMAN(num_classes=3, head="big")


def test_checkpoints_hold_the_trained_parameters_only_and_old_ones_still_load(tmp_path):
    """Issue 20: a fold's checkpoint leaves out the frozen trunk (rebuilt from the backbone on load), predicts
    the same after loading, and a checkpoint of the old format (whole state_dict) loads too."""
    from torchvision.models import resnet18

    from mer_utils.training import load_checkpoint, save_checkpoint, trained_state_dict

    torch.manual_seed(0)
    backbone = resnet18(weights=None, num_classes=7).eval()
    model = AMAN(3, backbone=backbone, inputs="trunk")
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(0.01 * torch.randn_like(p))  # "trained"
    x = torch.randn(2, 2, 2, 256, 2, 2)
    expected = model.eval()(x)
    kept = trained_state_dict(model)
    assert not [k for k in kept if k.startswith("trunk.")] and "classifier.weight" in kept
    path = save_checkpoint(model, tmp_path / "model.pt", history=[])
    whole = sum(t.numel() for t in model.state_dict().values())
    assert sum(t.numel() for t in kept.values()) < whole
    fresh = AMAN(3, backbone=backbone, inputs="trunk")  # the factory rebuilds the trunk from the same backbone
    assert load_checkpoint(fresh, path) == {"history": []}
    assert torch.equal(fresh.eval()(x), expected)
    old = tmp_path / "old.pt"
    torch.save({"state_dict": model.state_dict()}, old)
    again = AMAN(3, backbone=backbone, inputs="trunk")
    load_checkpoint(again, old)
    assert torch.equal(again.eval()(x), expected)
    other = AMAN(5, backbone=backbone, inputs="trunk")  # another head: a clear error, not a silent partial load
    with pytest.raises(RuntimeError, match="classifier"):
        load_checkpoint(other, path)
