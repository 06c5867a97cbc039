"""The per-frame arithmetic of the recipes as PyTorch tensor operations, for the GPU.

:func:`~mer_utils.preprocess.prepare` uses these when CUDA is present (``tensor_device="auto"``) and the
OpenCV / NumPy reference functions otherwise; each function here mirrors one reference function and is tested
against it on the CPU (``tests/test_preprocess_tensor_ops.py``), within these tolerances on uint8 outputs:

============================================  ==========================================  =====================
here                                          reference                                   agreement (0..255)
============================================  ==========================================  =====================
:func:`decode_frames`                         :func:`~.clips.decode` (``cv2.imread``)     grey: exact; colour:
                                                                                          <= 2; JPEG reduction
                                                                                          (area mean, not DCT
                                                                                          scaling): mean <= 1.5
:func:`warp_frames_tensor`                    :func:`~.align.warp_frames`                 <= 4 (OpenCV's 1/32-px
                                                                                          weights), mean <= 0.5
:func:`temporal_interpolate_tensor`           :func:`~.temporal.temporal_interpolate`     <= 1 (rounding)
:func:`magnify_pair_tensor`                   :func:`~.magnify.magnify_pair`              <= 2 on the input
                                                                                          (border pixels)
:func:`absolute_residual_sum_tensor`, ``rrs``  :mod:`~.residual` (eq. 5-7)                  exact
============================================  ==========================================  =====================

Batched JPEG decoding runs on the device (``torchvision.io.decode_jpeg(..., device="cuda")``, nvJPEG), so full
frames never cross the bus: only the aligned faces come back. Outputs go into a cache keyed apart from the
reference path's (:func:`~mer_utils.preprocess.prepare` adds ``tensor_ops`` to the key), so the two never mix.
"""
from __future__ import annotations

import os

import numpy as np

from .align import _prescale, as_size, compose
from .magnify import _RGB2YIQ, _YIQ2RGB, level_gains, pyramid_levels
from .temporal import tim_weights

_JPEG = (".jpg", ".jpeg")


def resolve_tensor_device(tensor_device="auto"):
    """The torch device of the tensor path, or None for the reference path.

    ``"auto"``: CUDA when ``torch.cuda.is_available()``, else None (reference path); None / False / ``"off"``:
    None; ``"cpu"``, ``"cuda"``, ``"cuda:1"``: that device (``"cpu"`` runs the tensor path on the CPU, for
    tests)."""
    if tensor_device in (None, False, "off", "none"):
        return None
    if tensor_device == "auto":
        try:
            import torch
        except ImportError:
            return None
        return torch.device("cuda") if torch.cuda.is_available() else None
    import torch

    try:
        dev = torch.device(tensor_device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"tensor_device={tensor_device!r}: expected 'auto', None, 'cpu' or 'cuda[:N]' ({exc}).") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"tensor_device={tensor_device!r} but CUDA is not available here; use 'auto' (CUDA when "
                           "present) or None (the OpenCV / NumPy reference path).")
    return dev


# ---------------------------------------------------------------------------------------------- decode
def decode_frames(paths, device, color: bool = True, reduce: int = 1, clip: str | None = None):
    """Frames (T, H, W, 3) RGB or (T, H, W) grey, uint8 on ``device``; JPEGs decoded in one batch there
    (nvJPEG on CUDA), other formats on the CPU. ``reduce`` > 1: an r x r area mean (the reference decodes the
    JPEG at 1/r size in the DCT domain)."""
    import torch
    import torch.nn.functional as F
    from torchvision.io import ImageReadMode, decode_image, decode_jpeg, read_file

    from mer_utils.data.frames import check_image_file

    paths = [os.fspath(p) for p in paths]
    for p in paths:
        check_image_file(p, clip)
    mode = ImageReadMode.RGB if color else ImageReadMode.GRAY
    jpeg = [i for i, p in enumerate(paths) if p.lower().endswith(_JPEG)]
    out: list = [None] * len(paths)
    if jpeg:
        data = [read_file(paths[i]) for i in jpeg]
        for i, img in zip(jpeg, decode_jpeg(data, mode=mode, device=device)):
            out[i] = img
    for i, p in enumerate(paths):
        if out[i] is None:
            out[i] = decode_image(read_file(p), mode=mode).to(device)
    shapes = {tuple(x.shape) for x in out}
    if len(shapes) > 1:
        raise ValueError(f"Clip {clip or '?'}: frames have different sizes {sorted(shapes)}.")
    x = torch.stack(out)  # (T, C, H, W)
    if reduce > 1:
        x = F.avg_pool2d(x.float(), reduce, ceil_mode=True)
        x = x.round_().clamp_(0, 255).to(torch.uint8)
    return x.permute(0, 2, 3, 1).contiguous() if color else x[:, 0]


# ------------------------------------------------------------------------------------------------ warp
def _nchw(frames):
    """(T, H, W[, C]) -> float32 (T, C, H, W) and whether there was a channel axis."""
    x = frames.float()
    if x.ndim == 3:
        return x[:, None], False
    return x.permute(0, 3, 1, 2), True


def _back(x, had_channels: bool, dtype):
    import torch

    if dtype == np.uint8:
        x = x.round().clamp_(0, 255).to(torch.uint8)
    return x.permute(0, 2, 3, 1).contiguous() if had_channels else x[:, 0].contiguous()


def _area_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) weights of an area-mean shrink along one axis: output pixel i averages the source interval
    [i s, (i+1) s), s = n_in / n_out, each source pixel weighted by its overlap (``cv2.INTER_AREA``)."""
    s = n_in / n_out
    lo = np.arange(n_out)[:, None] * s
    j = np.arange(n_in)[None, :]
    return np.clip(np.minimum(j + 1, lo + s) - np.maximum(j, lo), 0, None) / s


def _area(x, nh: int, nw: int):
    """Area-mean resize of float (N, C, H, W) to (nh, nw) as two matrix products."""
    import torch

    h, w = x.shape[-2:]
    ay = torch.as_tensor(_area_matrix(h, nh), dtype=x.dtype, device=x.device)
    ax = torch.as_tensor(_area_matrix(w, nw), dtype=x.dtype, device=x.device)
    return ay @ x @ ax.T


def warp_frames_tensor(frames, matrix: np.ndarray, size, dtype=np.uint8):
    """:func:`~mer_utils.preprocess.align.warp_frames` on a tensor (T, H, W[, C]): the same 2x3 ``matrix`` for
    every frame, bilinear with replicated borders, an area-mean pre-shrink when the warp shrinks by more than 2x.
    Returns (T, h, w[, C]) uint8 (``dtype=None``: float32)."""
    import torch
    import torch.nn.functional as F

    w, h = as_size(size)
    x, chan = _nchw(frames)
    m = np.asarray(matrix, dtype=np.float64)
    f = _prescale(m)
    fh, fw = x.shape[-2:]
    if f < 1.0:
        nw, nh = max(1, round(fw * f)), max(1, round(fh * f))
        x = _area(x, nh, nw)
        fx, fy = nw / fw, nh / fh
        m = compose(m, np.array([[1 / fx, 0.0, 0.5 / fx - 0.5], [0.0, 1 / fy, 0.5 / fy - 0.5]]))
        fh, fw = nh, nw
    inv = np.linalg.inv(np.vstack([m, [0.0, 0.0, 1.0]]))[:2]  # output pixel -> source pixel
    # normalised source coordinates (align_corners=False: -1 and 1 are the outer edges of the border pixels)
    norm = np.array([[2.0 / fw, 0.0, 1.0 / fw - 1.0], [0.0, 2.0 / fh, 1.0 / fh - 1.0]])
    theta = compose(norm, inv)
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    t = torch.as_tensor(theta, dtype=torch.float64)
    grid = torch.stack([t[0, 0] * xs + t[0, 1] * ys + t[0, 2], t[1, 0] * xs + t[1, 1] * ys + t[1, 2]], dim=-1)
    grid = grid.to(device=x.device, dtype=torch.float32)[None].expand(x.shape[0], h, w, 2)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return _back(out, chan, dtype)


# ------------------------------------------------------------------------------------------------- TIM
def temporal_interpolate_tensor(frames, n_out: int | None = None, positions=None, dtype=np.uint8):
    """:func:`~mer_utils.preprocess.temporal.temporal_interpolate` (TIM, closed form) on a tensor (N, ...): the
    same :func:`~mer_utils.preprocess.temporal.tim_weights`, one matrix product on the device."""
    import torch

    n = frames.shape[0]
    a = torch.as_tensor(tim_weights(n, n_out, positions), dtype=torch.float32, device=frames.device)
    out = (a.T @ frames.reshape(n, -1).float()).reshape((a.shape[1],) + tuple(frames.shape[1:]))
    if dtype == np.uint8:
        return out.round().clamp_(0, 255).to(torch.uint8)
    return out


# ------------------------------------------------------------------------------------------- magnify
def _blur(x):
    """5x5 binomial blur [1 4 6 4 1]/16 (separable) of (N, C, H, W) with reflect-101 borders (OpenCV's
    BORDER_DEFAULT)."""
    import torch
    import torch.nn.functional as F

    c = x.shape[1]
    k = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], device=x.device, dtype=x.dtype) / 16.0
    x = F.pad(x, (2, 2, 2, 2), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, 5).expand(c, 1, 1, 5), groups=c)
    return F.conv2d(x, k.view(1, 1, 5, 1).expand(c, 1, 5, 1), groups=c)


def pyr_down(x):
    """``cv2.pyrDown`` of (N, C, H, W): blur, keep the even rows and columns -> ((H+1)//2, (W+1)//2)."""
    return _blur(x)[:, :, ::2, ::2]


def pyr_up(x, size):
    """``cv2.pyrUp`` of (N, C, h, w) to ``size`` (H, W): zeros between the samples, blur, times 4."""
    import torch

    n, c, h, w = x.shape
    up = torch.zeros((n, c, 2 * h, 2 * w), device=x.device, dtype=x.dtype)
    up[:, :, ::2, ::2] = x
    return 4.0 * _blur(up)[:, :, : size[0], : size[1]]


def magnify_pair_tensor(onset, frames, factors=(2.0,), lambda_c: float = 16.0, exaggeration: float = 2.0,
                        levels: int | None = None, chrom_attenuation: float = 1.0, dtype=np.uint8):
    """:func:`~mer_utils.preprocess.magnify.magnify_pair` for every frame of ``frames`` (n, H, W[, 3]) against
    ``onset`` (H, W[, 3]) at once -> (n, len(factors), H, W[, 3]) (AMAN's stack, Wei et al. 2022, eq. 3)."""
    import torch

    a, b = onset.float()[None], frames.float()
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(f"Onset {tuple(a.shape[1:])} and frames {tuple(b.shape[1:])} must have the same shape.")
    yiq = b.ndim == 4 and b.shape[-1] == 3 and chrom_attenuation != 1.0
    if yiq:
        to = torch.as_tensor(_RGB2YIQ.T, dtype=torch.float32, device=b.device)
        a, b = a @ to, b @ to
    h, w = b.shape[1:3]
    nlev = levels or pyramid_levels(h, w)
    factors = np.atleast_1d(np.asarray(factors, dtype=np.float64))
    gains = np.stack([level_gains(f, h, w, nlev, lambda_c, exaggeration) for f in factors])  # (K, L)
    d, chan = _nchw(b - a)
    pyr, cur = [], d
    for _ in range(nlev - 1):
        down = pyr_down(cur)
        pyr.append(cur - pyr_up(down, cur.shape[-2:]))
        cur = down
    pyr.append(cur)
    used = np.flatnonzero(np.abs(gains).sum(axis=0) > 0)
    out = b[:, None].repeat_interleave(len(factors), dim=1)  # (n, K, H, W[, C])
    for lvl in used:
        c = pyr[lvl]
        for j in range(lvl - 1, -1, -1):
            c = pyr_up(c, pyr[j].shape[-2:])
        c = c.permute(0, 2, 3, 1) if chan else c[:, 0]  # (n, H, W[, C])
        if yiq:
            c = c.clone()
            c[..., 1:] *= chrom_attenuation
        g = torch.as_tensor(gains[:, lvl], dtype=torch.float32, device=b.device)
        out = out + g.view((1, -1) + (1,) * (c.ndim - 1)) * c[:, None]
    if yiq:
        out = out @ torch.as_tensor(_YIQ2RGB.T, dtype=torch.float32, device=b.device)
    if dtype == np.uint8:
        return out.round().clamp_(0, 255).to(torch.uint8)
    return out


# ------------------------------------------------------------------------------------------ residuals
def residual_sum_tensor(start_frame, key_frames):
    """``sum_f |Q_f - Q_start|`` (Zhao et al. 2021, eq. 6) as int32 for uint8 frames."""
    import torch

    q0 = start_frame.to(torch.int32)
    qf = key_frames.to(torch.int32)
    if qf.ndim == q0.ndim:
        qf = qf[None]
    if tuple(qf.shape[1:]) != tuple(q0.shape):
        raise ValueError(f"Key frames {tuple(qf.shape[1:])} and the start frame {tuple(q0.shape)} must have the same shape.")
    return (qf - q0[None]).abs().sum(dim=0)


def absolute_residual_sum_tensor(start_frame, key_frames):
    """ARS (eq. 5): the residual sum modulo 256, uint8."""
    return _ars_tensor(residual_sum_tensor(start_frame, key_frames))


def relative_residual_sum_tensor(start_frame, key_frames, gmin: float = 0.0, gmax: float = 255.0):
    """RRS (eq. 6-7): the residual sum min-max scaled to [gmin, gmax] over the whole image, uint8."""
    return _rrs_tensor(residual_sum_tensor(start_frame, key_frames), gmin, gmax)


def residual_sums_tensor(start_frame, key_frames, gmin: float = 0.0, gmax: float = 255.0):
    """``(ARS, RRS)`` from one residual sum (:func:`~.residual.residual_sums`)."""
    diff = residual_sum_tensor(start_frame, key_frames)
    return _ars_tensor(diff), _rrs_tensor(diff, gmin, gmax)


def _ars_tensor(diff):
    import torch

    return (diff % 256).to(torch.uint8)


def _rrs_tensor(diff, gmin: float, gmax: float):
    import torch

    diff = diff.double()
    lo, hi = diff.min(), diff.max()
    if float(hi - lo) <= 0:
        scaled = torch.full_like(diff, float(gmin))
    else:
        scaled = (diff - lo) / (hi - lo) * (gmax - gmin) + gmin
    return scaled.round().clamp_(0, 255).to(torch.uint8)
