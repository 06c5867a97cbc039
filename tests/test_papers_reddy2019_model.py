"""Unit tests for MicroExpSTCNN / MicroExpFuseNet (Reddy et al. 2019, Tables I–III and IX).

Large models (T = 96: 44M and 177M parameters) are built on PyTorch's ``meta`` device, which allocates no
memory, so parameter counts and output shapes are checked in milliseconds; the small ones also run for real.
"""
import pytest
import torch

from mer_utils.papers.reddy2019.model import (
    MODEL_NAMES, PAPER_KERNEL_SIZE, TABLE_IX_KERNEL_SIZES, MicroExpFuseNet, MicroExpSTCNN, build_model,
    count_parameters)

# Hand-computed from Tables I–III (C = 3): conv 32*(3*3*15)+32 = 4,352 per stream, dense layers as listed.
EXPECTED_PARAMS = {
    (18, "MicroExpSTCNN"): 1_643_267,            # REFERENCE.md §3 / the authors' model.summary()
    (96, "MicroExpSTCNN"): 44_241_667,           # flatten 345,600 -> 128 -> 3
    (18, "MicroExpFuseNet-intermediate"): 6_694_915,
    (96, "MicroExpFuseNet-intermediate"): 177_088_515,   # concat 172,800 -> 1024 -> 128 -> 3
    (18, "MicroExpFuseNet-late"): 6_827_523,
    (96, "MicroExpFuseNet-late"): 177_221_123,   # 2 x (86,400 -> 1024 -> 128), concat 256 -> 3
}


@pytest.mark.parametrize("frames,name", sorted(EXPECTED_PARAMS))
def test_parameter_counts_and_output_shapes(frames, name):
    with torch.device("meta"):
        model = build_model(name, num_classes=3, frames=frames)
        out = model(torch.zeros((4,) + model.input_shape))
    assert count_parameters(model) == EXPECTED_PARAMS[(frames, name)]
    assert tuple(out.shape) == (4, 3)


def test_stcnn_smic_exact_parameter_count():
    model = MicroExpSTCNN(num_classes=3, frames=18)
    assert count_parameters(model) == 1_643_267


def test_table_i_layer_shapes_casme_sq():
    with torch.device("meta"):
        stcnn = MicroExpSTCNN(frames=96)
        fuse = MicroExpFuseNet(frames=96)
    # Table I (time moved to the front): conv 32 x 82 x 62 x 62, pool 32 x 27 x 20 x 20, flatten 345,600.
    assert stcnn.stem.conv_shape == (32, 82, 62, 62)
    assert stcnn.stem.pooled_shape == (32, 27, 20, 20)
    assert stcnn.stem.out_features == 345_600
    # Tables II/III: conv 32 x 82 x 30 x 30, pool 32 x 27 x 10 x 10, flatten 86,400 per stream.
    assert fuse.eye_stream.conv_shape == (32, 82, 30, 30)
    assert fuse.eye_stream.pooled_shape == (32, 27, 10, 10)
    assert fuse.eye_stream.out_features == 86_400


def test_smic_shapes_match_real_forward():
    torch.manual_seed(0)
    model = MicroExpSTCNN(frames=18).eval()
    assert model.stem.conv_shape == (32, 4, 62, 62) and model.stem.out_features == 12_800
    x = torch.randn(2, 1, 18, 64, 64)
    assert tuple(model.features(x).shape) == (2, 12_800)
    assert tuple(model(x).shape) == (2, 3)


@pytest.mark.parametrize("fusion", ["intermediate", "late"])
def test_fusenet_real_forward_and_input_forms(fusion):
    torch.manual_seed(0)
    model = MicroExpFuseNet(num_classes=5, frames=18, fusion=fusion).eval()
    eyes, mouth = torch.randn(3, 1, 18, 32, 32), torch.randn(3, 1, 18, 32, 32)
    a = model(eyes, mouth)
    b = model(torch.cat([eyes, mouth], dim=1))
    c = model((eyes, mouth))
    assert tuple(a.shape) == (3, 5)
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a, c)
    # The two streams are distinct: swapping the regions changes the output.
    assert not torch.allclose(a, model(mouth, eyes))


def test_fusenet_dense_layers_have_activations():
    """The authors' scripts stack Dense layers with no activation; ours put a ReLU after each hidden one."""
    inter = MicroExpFuseNet(frames=18, fusion="intermediate")
    late = MicroExpFuseNet(frames=18, fusion="late")
    for seq in (inter.fused, late.eye_dense, late.nose_mouth_dense):
        kinds = [type(m).__name__ for m in seq]
        assert kinds == ["Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout"]


@pytest.mark.parametrize("kernel", TABLE_IX_KERNEL_SIZES)
def test_table_ix_kernel_variants_build(kernel):
    with torch.device("meta"):
        model = MicroExpSTCNN(frames=96, kernel_size=kernel)
        out = model(torch.zeros(2, 1, 96, 64, 64))
    kh, kw, kt = kernel
    assert model.stem.conv.kernel_size == (kt, kh, kw)
    assert model.stem.conv_shape == (32, 96 - kt + 1, 64 - kh + 1, 64 - kw + 1)
    assert tuple(out.shape) == (2, 3)


def test_kernel_variants_build_at_short_clips_when_they_fit():
    # 18 frames: temporal kernels 3, 7 and 15 fit; 19 does not and must say so.
    for kernel in TABLE_IX_KERNEL_SIZES:
        if kernel[2] + 2 <= 18:
            MicroExpSTCNN(frames=18, kernel_size=kernel)
        else:
            with pytest.raises(ValueError, match="frames"):
                MicroExpSTCNN(frames=18, kernel_size=kernel)


def test_bad_inputs_raise_helpful_errors():
    model = MicroExpSTCNN(frames=18)
    with pytest.raises(ValueError, match=r"\(B, 1, 18, 64, 64\)"):
        model(torch.zeros(2, 1, 64, 64, 18))  # Keras layout (time last) is rejected
    with pytest.raises(ValueError, match="kernel_size"):
        MicroExpSTCNN(kernel_size=(3, 15))
    with pytest.raises(ValueError, match="fusion"):
        MicroExpFuseNet(fusion="early")
    with pytest.raises(ValueError, match="two regions"):
        MicroExpFuseNet(frames=18)(torch.zeros(2, 1, 18, 32, 32))
    with pytest.raises(ValueError, match="Unknown model"):
        build_model("C3D")


def test_training_step_reduces_loss_and_is_deterministic():
    def run():
        torch.manual_seed(0)
        model = MicroExpSTCNN(num_classes=3, frames=18, image_size=16, kernel_size=(3, 3, 7), dropout=0.0)
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        x, y = torch.randn(6, 1, 18, 16, 16), torch.tensor([0, 1, 2, 0, 1, 2])
        losses = []
        for _ in range(15):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses

    first, second = run(), run()
    assert first == second
    assert first[-1] < first[0]


def test_keras_init_statistics():
    torch.manual_seed(0)
    model = MicroExpSTCNN(frames=18)
    dense = model.classifier[0].weight
    assert abs(dense.std().item() - 0.05) < 0.002          # the authors' init='normal'
    assert float(model.stem.conv.bias.detach().abs().sum()) == 0.0   # Keras zero biases
    assert PAPER_KERNEL_SIZE == (3, 3, 15) and set(MODEL_NAMES) == {
        "MicroExpSTCNN", "MicroExpFuseNet-intermediate", "MicroExpFuseNet-late"}
