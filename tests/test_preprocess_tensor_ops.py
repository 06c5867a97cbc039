"""The tensor (GPU) path of the preprocessing against the OpenCV / NumPy reference, run on the CPU (issue 22).

Tolerances are those stated in :mod:`mer_utils.preprocess.tensor_ops`, on uint8 outputs (0..255)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from mer_utils.preprocess import tensor_ops as T  # noqa: E402
from mer_utils.preprocess.align import alignment_transform, warp_frames  # noqa: E402
from mer_utils.preprocess.clips import decode  # noqa: E402
from mer_utils.preprocess.faces import MEAN_FACE_68  # noqa: E402
from mer_utils.preprocess.magnify import magnify_against_onset  # noqa: E402
from mer_utils.preprocess.residual import absolute_residual_sum, relative_residual_sum, residual_sums  # noqa: E402
from mer_utils.preprocess.temporal import temporal_interpolate  # noqa: E402


@pytest.fixture(scope="module")
def frames():
    """Six 200x160 colour frames of a textured face moving by a pixel or two."""
    skdata = pytest.importorskip("skimage.data")
    face = cv2.resize(skdata.astronaut()[20:420, 90:410], (160, 200), interpolation=cv2.INTER_AREA)
    out = []
    for t in range(6):
        m = np.float32([[1, 0, 0.4 * t], [0, 1, 0.25 * t]])
        out.append(cv2.warpAffine(face, m, (160, 200), borderMode=cv2.BORDER_REFLECT))
    return np.stack(out)


@pytest.fixture(params=["cpu", "cuda"])
def dev(request):
    """The tensor path on the CPU always, on CUDA when present."""
    if request.param == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    return torch.device(request.param)


def _close(got, want, max_diff, mean_diff=None):
    got = got.cpu().numpy() if hasattr(got, "cpu") else got
    assert got.shape == want.shape and got.dtype == want.dtype
    d = np.abs(got.astype(np.int16) - want.astype(np.int16))
    assert d.max() <= max_diff, f"max difference {d.max()} > {max_diff}"
    if mean_diff is not None:
        assert d.mean() <= mean_diff, f"mean difference {d.mean():.3f} > {mean_diff}"


def test_device_choice():
    assert T.resolve_tensor_device(None) is None
    assert T.resolve_tensor_device("cpu") == torch.device("cpu")
    assert T.resolve_tensor_device("auto") == (torch.device("cuda") if torch.cuda.is_available() else None)
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            T.resolve_tensor_device("cuda")


def test_batched_decode_matches_opencv(frames, tmp_path, dev):
    paths = []
    for i, f in enumerate(frames):
        paths.append(str(tmp_path / f"img{i}.jpg"))
        cv2.imwrite(paths[-1], cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    for color, reduce, tol, mean in ((True, 1, 2, 0.5), (False, 1, 0, 0), (False, 2, 255, 1.5), (True, 2, 255, 1.5)):
        got = T.decode_frames(paths, dev, color=color, reduce=reduce)
        want = np.stack([decode(p, color, reduce) for p in paths])
        _close(got, want, tol, mean)


@pytest.mark.parametrize("size,crop", [((120, 140), "landmarks"), (224, "eyes"), (48, "landmarks")])
def test_warp_matches_opencv(frames, size, crop, dev):
    lm = MEAN_FACE_68 * 110 + [25, 40]
    m = alignment_transform(lm, size, crop)
    _close(T.warp_frames_tensor(torch.from_numpy(frames).to(dev), m, size), warp_frames(frames, m, size), 4, 0.5)
    grey = frames[..., 1].copy()
    _close(T.warp_frames_tensor(torch.from_numpy(grey).to(dev), m, size), warp_frames(grey, m, size), 4, 0.5)


def test_tim_matches_reference(frames, dev):
    for n_out in (4, 6, 11):
        want = temporal_interpolate(frames, n_out, dtype=np.uint8)
        _close(T.temporal_interpolate_tensor(torch.from_numpy(frames).to(dev), n_out), want, 1, 0.01)


def test_magnification_matches_reference(frames, dev):
    f = frames[:, :112, :112].copy()
    want = magnify_against_onset(f[0], f[1:4], [1.0, 2.0, 5.0])
    got = T.magnify_pair_tensor(torch.from_numpy(f[0]).to(dev), torch.from_numpy(f[1:4]).to(dev), [1.0, 2.0, 5.0])
    _close(got, want, 2, 0.05)
    np.testing.assert_array_equal(got[:, 0].cpu().numpy(), f[1:4])  # factor 1 returns the frame itself


def test_residual_sums_are_exact(frames, dev):
    a, k = torch.from_numpy(frames[0]).to(dev), torch.from_numpy(frames[1:]).to(dev)
    np.testing.assert_array_equal(T.absolute_residual_sum_tensor(a, k).cpu().numpy(),
                                  absolute_residual_sum(frames[0], frames[1:]))
    np.testing.assert_array_equal(T.relative_residual_sum_tensor(a, k).cpu().numpy(),
                                  relative_residual_sum(frames[0], frames[1:]))
    for got, want in zip(T.residual_sums_tensor(a, k), residual_sums(frames[0], frames[1:])):
        np.testing.assert_array_equal(got.cpu().numpy(), want)
