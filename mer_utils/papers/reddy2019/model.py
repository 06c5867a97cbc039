"""MicroExpSTCNN and MicroExpFuseNet: the 3D spatiotemporal CNNs of Reddy et al. (IJCNN 2019).

S. P. T. Reddy, S. T. Karri, S. R. Dubey, S. Mukherjee, "Spontaneous Facial Micro-Expression Recognition
using 3D Spatiotemporal Convolutional Neural Networks", IJCNN 2019 (arXiv:1904.01390).

Tensor layout. The paper (and its Keras code, channels-first) writes clips as ``rows x cols x frames`` and
kernels as ``3 x 3 x 15`` (rows, cols, time). PyTorch's :class:`torch.nn.Conv3d` wants ``(B, C, D, H, W)``,
so every model here takes clips as ``(B, 1, T, H, W)`` (time first) and every kernel is given **in the
paper's order** ``(kh, kw, kt)`` and converted internally. Pooling is the Keras default: window 3 x 3 x 3,
stride equal to the window, no padding ("valid"), so every dimension is floor-divided by 3.

Where the authors' code is wrong we do it right (see REFERENCE.md §3 and notebook 30):

* the FuseNet dense layers have no activation in their scripts (a stack of linear maps is one linear map);
  here every hidden dense layer is followed by ReLU, as Section III says ("dense layers ... introduce more
  non-linearity");
* Table II lists the concatenation as 86,400 wide; two flattened 86,400-wide branches concatenate to 172,800;
* Table I lists a dropout after the final dense layer; the code has none and neither do we (softmax is
  folded into the cross-entropy loss, so the models return logits).

Parameter counts (asserted in ``tests/test_papers_reddy2019_model.py``): MicroExpSTCNN at T = 18, C = 3 has
exactly 1,643,267 parameters (REFERENCE.md §3); at T = 96, 44,241,667.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

__all__ = [
    "PAPER_KERNEL_SIZE",
    "TABLE_IX_KERNEL_SIZES",
    "MicroExpSTCNN",
    "MicroExpFuseNet",
    "SpatioTemporalStem",
    "build_model",
    "count_parameters",
    "MODEL_NAMES",
]

#: The kernel of Section III-A / Table I: 3 x 3 x 15 (rows, cols, frames).
PAPER_KERNEL_SIZE: tuple[int, int, int] = (3, 3, 15)

#: The 12 kernels of Table IX (spatial 3/5/7 x temporal 3/7/15/19), paper order (rows, cols, frames).
TABLE_IX_KERNEL_SIZES: tuple[tuple[int, int, int], ...] = tuple(
    (s, s, t) for s in (3, 5, 7) for t in (3, 7, 15, 19))

#: Names accepted by :func:`build_model` (the three rows of Table V).
MODEL_NAMES = ("MicroExpSTCNN", "MicroExpFuseNet-intermediate", "MicroExpFuseNet-late")


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters, as Keras' ``model.summary()`` reports them."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _check_kernel(kernel_size: Sequence[int]) -> tuple[int, int, int]:
    ks = tuple(int(k) for k in kernel_size)
    if len(ks) != 3 or min(ks) < 1:
        raise ValueError(f"kernel_size must be three positive ints in the paper's order (rows, cols, frames), "
                         f"e.g. (3, 3, 15); got {kernel_size!r}.")
    return ks  # type: ignore[return-value]


def _keras_init(module: nn.Module, dense_std: float | None = None) -> None:
    """Keras 2 defaults: Glorot-uniform kernels, zero biases; ``init='normal'`` dense layers (std 0.05) when
    ``dense_std`` is given (the authors' MicroExpSTCNN script)."""
    for m in module.modules():
        if isinstance(m, nn.Conv3d):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            if dense_std is None:
                nn.init.xavier_uniform_(m.weight)
            else:
                nn.init.normal_(m.weight, 0.0, dense_std)
            nn.init.zeros_(m.bias)


class SpatioTemporalStem(nn.Module):
    """One 3D convolution (32 filters, ReLU) -> 3x3x3 max pooling -> dropout -> flatten (Section III-A).

    This is the whole feature extractor of MicroExpSTCNN and each branch of MicroExpFuseNet
    (Tables I–III). Input ``(B, 1, T, H, W)``; output ``(B, features)``.
    """

    def __init__(self, frames: int, image_size: int, kernel_size: Sequence[int] = PAPER_KERNEL_SIZE,
                 filters: int = 32, pool: int = 3, dropout: float = 0.5):
        super().__init__()
        kh, kw, kt = _check_kernel(kernel_size)
        self.frames, self.image_size, self.pool = int(frames), int(image_size), int(pool)
        self.kernel_size = (kh, kw, kt)
        conv_shape = (self.frames - kt + 1, self.image_size - kh + 1, self.image_size - kw + 1)
        pooled = tuple(d // pool for d in conv_shape)
        if min(pooled) < 1:
            raise ValueError(
                f"A {kh}x{kw}x{kt} kernel (rows x cols x frames) followed by {pool}x{pool}x{pool} pooling needs at "
                f"least {kt + pool - 1} frames and {max(kh, kw) + pool - 1} pixels; got frames={frames}, "
                f"image_size={image_size}. Use more frames (SMIC 18, CAS(ME)² 96) or a shorter temporal kernel.")
        self.conv_shape = (filters,) + conv_shape          # (C, T', H', W')
        self.pooled_shape = (filters,) + pooled
        self.out_features = filters * pooled[0] * pooled[1] * pooled[2]
        self.conv = nn.Conv3d(1, filters, kernel_size=(kt, kh, kw))
        self.relu = nn.ReLU(inplace=False)
        self.pool3d = nn.MaxPool3d(kernel_size=pool, stride=pool)
        self.dropout = nn.Dropout(dropout)
        self.flatten = nn.Flatten()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expected = (1, self.frames, self.image_size, self.image_size)
        if x.dim() != 5 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"Expected clips of shape (B, {', '.join(map(str, expected))}) = (batch, 1 grey "
                             f"channel, frames, height, width); got {tuple(x.shape)}.")
        return self.flatten(self.dropout(self.pool3d(self.relu(self.conv(x)))))


class MicroExpSTCNN(nn.Module):
    """MicroExpSTCNN (Section III-A, Fig. 1, Table I): the whole grey face, 64 x 64 x T.

    Conv3D 32 x (3x3x15) + ReLU -> MaxPool3D 3x3x3 -> Dropout 0.5 -> Flatten -> Dense 128 + ReLU ->
    Dropout 0.5 -> Dense C (logits; softmax lives in the loss). SMIC: T = 18, CAS(ME)²: T = 96.

    Args:
        num_classes: C, the size of the last dense layer (3 on both datasets of the paper).
        frames: T, frames per clip.
        image_size: spatial side (64 in the paper).
        kernel_size: the 3D kernel in the paper's order (rows, cols, frames); Table IX varies it.
        filters, hidden, dropout: 32, 128 and 0.5 as in the paper.
        init: ``"keras"`` (Glorot-uniform conv, N(0, 0.05) dense as the authors' script) or ``"torch"``.

    ``forward`` takes ``(B, 1, T, H, W)`` and returns logits ``(B, C)``.
    """

    def __init__(self, num_classes: int = 3, frames: int = 18, image_size: int = 64,
                 kernel_size: Sequence[int] = PAPER_KERNEL_SIZE, filters: int = 32, hidden: int = 128,
                 dropout: float = 0.5, init: str = "keras"):
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}.")
        self.num_classes = int(num_classes)
        self.stem = SpatioTemporalStem(frames, image_size, kernel_size, filters, dropout=dropout)
        self.classifier = nn.Sequential(
            nn.Linear(self.stem.out_features, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, num_classes))
        if init == "keras":
            _keras_init(self.stem)
            _keras_init(self.classifier, dense_std=0.05)
        elif init != "torch":
            raise ValueError(f"init must be 'keras' or 'torch', got {init!r}.")

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """``(1, T, H, W)`` expected for one clip."""
        return (1, self.stem.frames, self.stem.image_size, self.stem.image_size)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The flattened pooled feature map (12,800 values at T = 18; 345,600 at T = 96)."""
        return self.stem(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.stem(x))


class MicroExpFuseNet(nn.Module):
    """MicroExpFuseNet (Section III-B, Figs. 2–3, Tables II–III): eye and nose-mouth streams, 32 x 32 x T each.

    Each stream is the MicroExpSTCNN stem (Conv3D 32 x 3x3x15 + ReLU, MaxPool 3x3x3, Dropout 0.5, Flatten).

    * ``fusion="intermediate"`` (Table II): concatenate the two flattened maps -> Dense 1024 + ReLU ->
      Dropout -> Dense 128 + ReLU -> Dropout -> Dense C.
    * ``fusion="late"`` (Table III): per stream Dense 1024 + ReLU -> Dropout -> Dense 128 + ReLU -> Dropout;
      concatenate the two 128-vectors (256) -> Dense C.

    The authors' scripts have no activation on these dense layers; we add ReLU (see module docstring).

    ``forward(eyes, nose_mouth)`` takes two ``(B, 1, T, 32, 32)`` tensors, or one ``(B, 2, T, 32, 32)`` tensor
    whose channel 0 is the eye region and channel 1 the nose-mouth region (so a single-input training loop
    can feed it), and returns logits ``(B, C)``.
    """

    FUSIONS = ("intermediate", "late")

    def __init__(self, num_classes: int = 3, frames: int = 18, image_size: int = 32, fusion: str = "intermediate",
                 kernel_size: Sequence[int] = PAPER_KERNEL_SIZE, filters: int = 32, hidden: Sequence[int] = (1024, 128),
                 dropout: float = 0.5, init: str = "keras"):
        super().__init__()
        if fusion not in self.FUSIONS:
            raise ValueError(f"fusion must be one of {self.FUSIONS} (Table II / Table III), got {fusion!r}.")
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}.")
        h1, h2 = (int(h) for h in hidden)
        self.fusion, self.num_classes = fusion, int(num_classes)
        self.eye_stream = SpatioTemporalStem(frames, image_size, kernel_size, filters, dropout=dropout)
        self.nose_mouth_stream = SpatioTemporalStem(frames, image_size, kernel_size, filters, dropout=dropout)
        f = self.eye_stream.out_features

        def mlp(n_in: int) -> nn.Sequential:
            return nn.Sequential(nn.Linear(n_in, h1), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(h1, h2), nn.ReLU(), nn.Dropout(dropout))

        if fusion == "intermediate":
            self.fused = mlp(2 * f)
            self.classifier = nn.Linear(h2, num_classes)
        else:
            self.eye_dense = mlp(f)
            self.nose_mouth_dense = mlp(f)
            self.classifier = nn.Linear(2 * h2, num_classes)
        if init == "keras":
            _keras_init(self)
        elif init != "torch":
            raise ValueError(f"init must be 'keras' or 'torch', got {init!r}.")

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """``(2, T, H, W)``: the stacked form (channel 0 eyes, channel 1 nose-mouth)."""
        s = self.eye_stream
        return (2, s.frames, s.image_size, s.image_size)

    @staticmethod
    def _split(eyes, nose_mouth):
        if nose_mouth is None:
            if isinstance(eyes, (tuple, list)) and len(eyes) == 2:
                return eyes[0], eyes[1]
            if torch.is_tensor(eyes) and eyes.dim() == 5 and eyes.shape[1] == 2:
                return eyes[:, :1], eyes[:, 1:]
            shape = tuple(eyes.shape) if torch.is_tensor(eyes) else type(eyes).__name__
            raise ValueError("MicroExpFuseNet needs two regions: call model(eyes, nose_mouth) with two "
                             f"(B, 1, T, H, W) tensors or model(x) with x of shape (B, 2, T, H, W); got {shape}.")
        return eyes, nose_mouth

    def forward(self, eyes, nose_mouth: torch.Tensor | None = None) -> torch.Tensor:
        eyes, nose_mouth = self._split(eyes, nose_mouth)
        fe, fn = self.eye_stream(eyes), self.nose_mouth_stream(nose_mouth)
        if self.fusion == "intermediate":
            return self.classifier(self.fused(torch.cat([fe, fn], dim=1)))
        return self.classifier(torch.cat([self.eye_dense(fe), self.nose_mouth_dense(fn)], dim=1))


def build_model(name: str, num_classes: int = 3, frames: int = 18, kernel_size: Sequence[int] = PAPER_KERNEL_SIZE,
                face_size: int = 64, region_size: int = 32, **kwargs) -> nn.Module:
    """One of the three models of Table V by name (:data:`MODEL_NAMES`)."""
    if name == "MicroExpSTCNN":
        return MicroExpSTCNN(num_classes, frames, face_size, kernel_size, **kwargs)
    if name.startswith("MicroExpFuseNet-"):
        fusion = name.split("-", 1)[1]
        if fusion in MicroExpFuseNet.FUSIONS:
            return MicroExpFuseNet(num_classes, frames, region_size, fusion, kernel_size, **kwargs)
    raise ValueError(f"Unknown model {name!r}: expected one of {MODEL_NAMES}.")
