"""CropNet (Zhao et al. 2021, §3.2): shapes, position embeddings (eq. 8), the without-CGPO ablation, weights."""
import math

import pytest
import torch

from mer_utils.papers.zhao2021.model import (NUM_SUBIMAGES, PAPER_PARAMETER_COUNT, CropNet, CropNetWithoutCGPO, SubImageHead,
                                       _cached_timm_weights, build_cropnet, count_parameters,
                                       rexnet_feature_extractor)

TINY = dict(width_mult=0.25, head_channels=16, pretrained=False)


@pytest.fixture(scope="module")
def tiny_cropnet():
    torch.manual_seed(0)
    return CropNet(5, **TINY).eval()


def test_cropnet_output_shape(tiny_cropnet):
    x = torch.randn(2, 10, 3, 32, 32)
    assert tiny_cropnet.num_subimages == NUM_SUBIMAGES == 10
    assert tiny_cropnet(x).shape == (2, 5)
    assert tiny_cropnet.subimage_features(x).shape == (2, 10, 24)
    assert tiny_cropnet.features(x).shape == (2, 240)
    assert tiny_cropnet.classifier.in_features == 10 * 24


def test_cropnet_paper_size_parameter_count():
    # §3.2.1: "approximately 7.6M"; our head choices (Fig. 3 gives no sizes) give about 7.2M.
    model = CropNet(5, pretrained=False)
    assert model.backbone_info.name == "rexnet_100" and model.backbone_info.num_features == 1280
    assert abs(count_parameters(model) - PAPER_PARAMETER_COUNT) < 0.1 * PAPER_PARAMETER_COUNT


def test_position_embeddings_are_trainable_and_get_gradients(tiny_cropnet):
    model = CropNet(3, **TINY)
    names = dict(model.named_parameters())
    assert "pos_embed" in names and names["pos_embed"].requires_grad
    assert model.pos_embed.shape == (9, 24)  # p_1..p_9 (eq. 8), none for the whole image z_0
    model.train()
    loss = torch.nn.functional.cross_entropy(model(torch.randn(3, 10, 3, 32, 32)), torch.tensor([0, 1, 2]))
    loss.backward()
    assert model.pos_embed.grad is not None and model.pos_embed.grad.abs().sum() > 0
    before = model.pos_embed.detach().clone()
    torch.optim.SGD([model.pos_embed], lr=1.0).step()
    assert not torch.equal(before, model.pos_embed.detach())


def test_position_embedding_initialisation_has_the_stated_variance():
    # §3.2.4: normal, mean 0, variance 0.2 -> std sqrt(0.2) ~ 0.447; a wide embedding makes the estimate tight.
    torch.manual_seed(1)
    model = CropNet(3, feature_dim=2000, **TINY)
    p = model.pos_embed.detach()
    assert model.pos_embed_std == pytest.approx(math.sqrt(0.2))
    assert abs(p.mean().item()) < 0.02
    assert p.std().item() == pytest.approx(math.sqrt(0.2), rel=0.03)
    assert CropNet(3, pos_embed_variance=0.04, **TINY).pos_embed.std().item() == pytest.approx(0.2, rel=0.2)


def test_position_embeddings_added_to_crops_only(tiny_cropnet):
    x = torch.randn(2, 10, 3, 32, 32)
    with torch.no_grad():
        z = tiny_cropnet.subimage_features(x)
        raw = tiny_cropnet.head(tiny_cropnet.extractor(x.flatten(0, 1))).view(2, 10, 24)
    torch.testing.assert_close(z[:, 0], raw[:, 0])
    torch.testing.assert_close(z[:, 1:], raw[:, 1:] + tiny_cropnet.pos_embed.detach())


def test_extractor_is_shared_over_subimages(tiny_cropnet):
    # the same sub-image in two slots gives the same z before the position embedding
    img = torch.randn(1, 1, 3, 32, 32)
    x = img.expand(1, 10, 3, 32, 32)
    with torch.no_grad():
        z = tiny_cropnet.subimage_features(x) - torch.cat([torch.zeros(1, 24), tiny_cropnet.pos_embed])
    torch.testing.assert_close(z, z[:, :1].expand_as(z))


def test_cropnet_applies_cgpo_to_whole_images(tiny_cropnet):
    # (B, 3, S, S) uint8 images: normalised, cut by the shared CGPO into 10 sub-images of S/2, then classified
    img = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    subs = tiny_cropnet.subimages(img)
    assert subs.shape == (2, 10, 3, 32, 32) and subs.dtype == torch.float32
    with torch.no_grad():
        torch.testing.assert_close(tiny_cropnet(img), tiny_cropnet(subs))
    assert tiny_cropnet(img).shape == (2, 5)


def test_cropnet_rejects_wrong_input(tiny_cropnet):
    with pytest.raises(ValueError, match="10 sub-images"):
        tiny_cropnet(torch.randn(1, 9, 3, 32, 32))
    with pytest.raises(ValueError, match=r"\(B, K, 3, H, W\)"):
        tiny_cropnet(torch.randn(1, 1, 32, 32))
    with pytest.raises(ValueError, match="square"):
        tiny_cropnet(torch.randn(1, 3, 32, 48))
    with pytest.raises(ValueError, match="grid"):
        CropNet(3, grid=3, overlap=1.2, **TINY)
    with pytest.raises(ValueError, match="num_classes"):
        CropNet(1, **TINY)


def test_without_cgpo_variant_shape():
    torch.manual_seed(0)
    model = CropNetWithoutCGPO(5, **TINY).eval()
    assert not hasattr(model, "pos_embed")
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, 5)
    assert model(torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)).shape == (2, 5)
    assert model(torch.randn(2, 1, 3, 64, 64)).shape == (2, 5)  # a single "sub-image" is accepted
    assert model.features(torch.randn(2, 3, 64, 64)).shape == (2, 24)
    assert model.classifier.in_features == 24
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        model(torch.randn(2, 10, 3, 32, 32))


def test_build_cropnet_switch():
    assert isinstance(build_cropnet(3, cgpo=True, **TINY), CropNet)
    assert isinstance(build_cropnet(3, cgpo=False, **TINY), CropNetWithoutCGPO)
    with pytest.raises(ValueError, match="without CGPO"):
        build_cropnet(3, cgpo=False, pos_embed_variance=0.2, **TINY)


def test_head_maps_feature_map_to_24d():
    head = SubImageHead(32, head_channels=8)
    assert head(torch.randn(4, 32, 5, 5)).shape == (4, 24)


def test_normalize_uint8():
    img = torch.full((2, 3, 4, 4), 255, dtype=torch.uint8)
    out = CropNet.normalize(img)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out[0, :, 0, 0], (1 - torch.tensor([0.485, 0.456, 0.406])) / torch.tensor([0.229, 0.224, 0.225]))
    with pytest.raises(ValueError, match="RGB"):
        CropNet.normalize(torch.zeros(2, 1, 4, 4))


def test_weights_never_downloaded():
    if _cached_timm_weights("rexnet_100") is not None:
        pytest.skip("ImageNet weights for rexnet_100 are cached on this machine")
    _, info = rexnet_feature_extractor("rexnet_100", pretrained="auto")
    assert not info.pretrained and info.weights == "random initialisation"
    with pytest.raises(FileNotFoundError, match="weights_path"):
        rexnet_feature_extractor("rexnet_100", pretrained=True)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        rexnet_feature_extractor("rexnet_100", weights_path="/nonexistent/model.safetensors")
    with pytest.raises(ValueError, match="No ImageNet weights"):
        rexnet_feature_extractor(width_mult=0.5, pretrained=True)
    _, small = rexnet_feature_extractor(width_mult=0.25, depth_mult=0.35)
    assert not small.pretrained and small.depth_mult == 0.35
    with pytest.raises(ValueError, match="ReXNet"):
        rexnet_feature_extractor("resnet18")


def test_channels_last_gives_the_same_outputs():
    from mer_utils.papers.zhao2021.model import use_channels_last

    torch.manual_seed(0)
    a = CropNet(3, **TINY).eval()
    b = CropNet(3, **TINY).eval()
    b.load_state_dict(a.state_dict())
    use_channels_last(b)
    x = torch.randint(0, 256, (2, 3, 48, 48), dtype=torch.uint8)
    with torch.no_grad():
        torch.testing.assert_close(a(x), b(x), rtol=1e-4, atol=1e-4)
