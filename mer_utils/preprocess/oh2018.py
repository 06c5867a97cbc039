"""The learning-based motion magnification network of Oh et al. 2018 (ECCV, "Learning-based Video Motion
Magnification"), used by AMAN (Wei et al. 2022, 004, Sec. 2.2.1, eq. 3) to magnify each frame against the onset.

Architecture (Oh et al. Fig. 2; REFERENCE.md §4), all convolutions with reflection padding:

- **Encoder** (shared by both frames): conv 7x7 (16) + ReLU, conv 3x3 stride 2 (32) + ReLU, 3 residual blocks;
  then a *texture* branch (conv 3x3 stride 2 (32) + ReLU, 2 residual blocks; 1/4 resolution) and a *shape*
  branch (conv 3x3 (32) + ReLU, 2 residual blocks; 1/2 resolution).
- **Manipulator**: ``M_b + h((alpha - 1) * g(M_b - M_a))`` with g = conv 3x3 + ReLU and h = conv 3x3 + residual
  block, so ``alpha = 1`` leaves the shape representation of frame b unchanged.
- **Decoder**: texture up-sampled x2 (nearest) and concatenated with the magnified shape (64 channels), 9
  residual blocks, up-sampling x2, conv 3x3 (32) + ReLU, conv 7x7 (3).

Inputs are RGB in [-1, 1], (B, 3, H, W) with H and W divisible by 4. Module names follow the public PyTorch port
of the network (``encoder.cba_1.conv2d.weight`` ...; convolutions without bias), so a state dict trained with that
port loads directly. No weights ship with this package and none can be downloaded here: the network is loaded
only from a checkpoint path the user supplies.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn


class ConvAct(nn.Module):
    """Reflection padding + convolution (no bias) + optional ReLU."""

    def __init__(self, c_in: int, c_out: int, k: int, stride: int = 1, relu: bool = True):
        super().__init__()
        self.pad = nn.ReflectionPad2d((k - 1) // 2)
        self.conv2d = nn.Conv2d(c_in, c_out, k, stride, bias=False)
        self.activation = nn.ReLU() if relu else nn.Identity()

    def forward(self, x):
        return self.activation(self.conv2d(self.pad(x)))


class ResBlk(nn.Module):
    """Residual block: conv 3x3 + ReLU, conv 3x3, plus the input."""

    def __init__(self, c: int, c_mid: int = 32):
        super().__init__()
        self.cba_1 = ConvAct(c, c_mid, 3)
        self.cba_2 = ConvAct(c_mid, c, 3, relu=False)

    def forward(self, x):
        return x + self.cba_2(self.cba_1(x))


class Encoder(nn.Module):
    """Shared encoder -> (texture at 1/4 resolution, shape at 1/2 resolution), 32 channels each."""

    def __init__(self, c_in: int = 3):
        super().__init__()
        self.cba_1 = ConvAct(c_in, 16, 7)
        self.cba_2 = ConvAct(16, 32, 3, stride=2)
        self.resblks = nn.Sequential(*[ResBlk(32) for _ in range(3)])
        self.texture_cba = ConvAct(32, 32, 3, stride=2)
        self.texture_resblks = nn.Sequential(*[ResBlk(32) for _ in range(2)])
        self.motion_cba = ConvAct(32, 32, 3)
        self.motion_resblks = nn.Sequential(*[ResBlk(32) for _ in range(2)])

    def forward(self, x):
        x = self.resblks(self.cba_2(self.cba_1(x)))
        return self.texture_resblks(self.texture_cba(x)), self.motion_resblks(self.motion_cba(x))


class Manipulator(nn.Module):
    """M_b + h((alpha - 1) g(M_b - M_a))."""

    def __init__(self):
        super().__init__()
        self.g = ConvAct(32, 32, 3)
        self.h_conv = ConvAct(32, 32, 3, relu=False)
        self.h_resblk = ResBlk(32)

    def forward(self, shape_a, shape_b, alpha):
        delta = self.g(shape_b - shape_a) * (alpha - 1.0)
        return shape_b + self.h_resblk(self.h_conv(delta))


class Decoder(nn.Module):
    """Texture (up-sampled) + magnified shape -> image."""

    def __init__(self, c_out: int = 3):
        super().__init__()
        self.texture_up = nn.Upsample(scale_factor=2, mode="nearest")
        self.resblks = nn.Sequential(*[ResBlk(64, 64) for _ in range(9)])
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.cba_1 = ConvAct(64, 32, 3)
        self.cba_2 = ConvAct(32, c_out, 7, relu=False)

    def forward(self, texture, shape):
        x = torch.cat([self.texture_up(texture), shape], dim=1)
        return self.cba_2(self.cba_1(self.up(self.resblks(x))))


class MotionMagnificationNet(nn.Module):
    """Oh et al. 2018's magnifier: ``forward(x_a, x_b, alpha)`` -> frame b with the motion a->b times alpha."""

    def __init__(self):
        super().__init__()
        self.encoder = Encoder(3)
        self.manipulator = Manipulator()
        self.decoder = Decoder(3)

    def forward(self, x_a: torch.Tensor, x_b: torch.Tensor, alpha) -> torch.Tensor:
        if x_a.shape != x_b.shape or x_a.dim() != 4 or x_a.shape[1] != 3:
            raise ValueError(f"Expected two RGB batches (B, 3, H, W) of one shape, got {tuple(x_a.shape)} and "
                             f"{tuple(x_b.shape)}.")
        if x_a.shape[-1] % 4 or x_a.shape[-2] % 4:
            raise ValueError(f"H and W must be divisible by 4 (two stride-2 stages), got {tuple(x_a.shape[-2:])}.")
        alpha = torch.as_tensor(alpha, dtype=x_a.dtype, device=x_a.device)
        if alpha.dim() == 1:
            alpha = alpha.view(-1, 1, 1, 1)
        _, shape_a = self.encoder(x_a)
        texture_b, shape_b = self.encoder(x_b)
        return self.decoder(texture_b, self.manipulator(shape_a, shape_b, alpha))


def load_magnification_network(checkpoint=None, device="cpu", strict: bool = True) -> MotionMagnificationNet:
    """A :class:`MotionMagnificationNet` in eval mode with weights from ``checkpoint``.

    ``checkpoint``: path to a ``torch.save`` file holding a state dict (or a dict with a ``state_dict`` /
    ``model`` / ``model_state_dict`` entry; a ``module.`` prefix from DataParallel is removed;
    :func:`mer_utils.training.checkpoints.unwrap_state_dict`).
    """
    if checkpoint is None:
        raise ValueError(
            "The learning-based magnifier of Oh et al. 2018 needs trained weights, and none ship with this package "
            "or can be downloaded here. Train it (or convert the authors' TensorFlow weights) and pass "
            "checkpoint='path/to/magnet.pth' — a PyTorch state dict with keys like 'encoder.cba_1.conv2d.weight'. "
            "Otherwise use the Eulerian magnifier (method='eulerian').")
    path = Path(checkpoint).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"Magnification checkpoint {path} does not exist; pass the path of a saved state dict.")
    from ..training.checkpoints import unwrap_state_dict

    state = unwrap_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    net = MotionMagnificationNet()
    net.load_state_dict(state, strict=strict)
    return net.to(device).eval()


@torch.no_grad()
def magnify_with_network(net: MotionMagnificationNet, onset: np.ndarray, frame: np.ndarray, factors,
                         device=None) -> np.ndarray:
    """Magnify ``frame`` against ``onset`` (RGB uint8 (H, W, 3)) with each factor -> (k, H, W, 3) uint8.

    Frames whose sides are not multiples of 4 are reflection-padded and cropped back.
    """
    a, b = np.asarray(onset), np.asarray(frame)
    if a.shape != b.shape or a.ndim != 3 or a.shape[-1] != 3:
        raise ValueError(f"Expected two RGB frames (H, W, 3) of one shape, got {a.shape} and {b.shape}.")
    dev = torch.device(device) if device is not None else next(net.parameters()).device
    h, w = a.shape[:2]
    ph, pw = (-h) % 4, (-w) % 4

    def prep(img):
        t = torch.from_numpy(np.ascontiguousarray(img)).to(dev).permute(2, 0, 1).float() / 127.5 - 1.0
        return nn.functional.pad(t[None], (0, pw, 0, ph), mode="reflect") if (ph or pw) else t[None]

    factors = torch.as_tensor(np.atleast_1d(factors), dtype=torch.float32, device=dev)
    xa, xb = prep(a).expand(len(factors), -1, -1, -1), prep(b).expand(len(factors), -1, -1, -1)
    out = net(xa, xb, factors)[..., :h, :w]
    out = ((out.clamp(-1, 1) + 1.0) * 127.5).round().byte().permute(0, 2, 3, 1)
    return out.cpu().numpy()
