"""One helper for device choice, seeds and deterministic flags; every notebook calls :func:`setup`."""
from __future__ import annotations

import os
import random
from dataclasses import dataclass

import numpy as np

from .validate import DEVICE_PATTERN, ParameterError, check_seed, check_value

VALID_DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass(frozen=True)
class DeviceInfo:
    """What :func:`setup` chose, printable in a notebook."""

    device: "object"  # torch.device
    name: str
    seed: int
    deterministic: bool
    torch_version: str
    threads: int

    def __str__(self) -> str:  # pragma: no cover - cosmetic
        det = "deterministic" if self.deterministic else "non-deterministic"
        return (f"device={self.device} ({self.name}), seed={self.seed}, {det}, "
                f"torch {self.torch_version}, {self.threads} CPU threads")


def resolve_device(device: str = "auto"):
    """``'auto'`` -> CUDA when available, else CPU; ``'cuda'``/``'cuda:N'``/``'cpu'`` as asked.

    Raises ``ValueError`` for an unknown name and ``RuntimeError`` when CUDA is asked for but absent.
    """
    import torch

    if isinstance(device, torch.device):
        return device
    if not isinstance(device, str):
        raise ParameterError(f"DEVICE={device!r}: expected a string ({', '.join(map(repr, VALID_DEVICES))} or "
                             f"'cuda:N') or a torch.device, got {type(device).__name__}.")
    d = device.strip().lower()
    if not DEVICE_PATTERN.match(d):
        raise ParameterError(f"Unknown DEVICE {device!r}: expected one of {VALID_DEVICES} or 'cuda:N' (N = GPU "
                             "number, e.g. 'cuda:0').")
    if d == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if d == "cpu":
        return torch.device("cpu")
    if d.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError(f"DEVICE={device!r} but CUDA is not available on this machine; "
                               "use DEVICE='auto' (CUDA when present, else CPU) or DEVICE='cpu'.")
        if ":" in d and int(d.split(":")[1]) >= torch.cuda.device_count():
            raise RuntimeError(f"DEVICE={device!r} but this machine has {torch.cuda.device_count()} CUDA device(s) "
                               f"(cuda:0 .. cuda:{torch.cuda.device_count() - 1}); use DEVICE='cuda' or 'auto'.")
        return torch.device(d)
    mps = getattr(torch.backends, "mps", None)
    if not (mps is not None and mps.is_available()):
        raise RuntimeError(f"DEVICE={device!r} but Apple's MPS backend is not available on this machine; use "
                           "DEVICE='auto' or DEVICE='cpu'.")
    return torch.device("mps")


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and PyTorch (CPU and CUDA)."""
    import torch

    seed = check_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def setup(device: str = "auto", seed: int = 0, deterministic: bool = True, verbose: bool = True) -> DeviceInfo:
    """Pick the device, seed everything and set deterministic flags; print what was chosen.

    ``device``: ``'auto'``, ``'cpu'``, ``'cuda'``, ``'cuda:N'``, ``'mps'`` or a ``torch.device``; ``seed``: an int
    >= 0. Bad values raise :class:`~mer_utils.validate.ParameterError` naming the parameter and what is expected.

    Deterministic mode sets ``torch.use_deterministic_algorithms(True, warn_only=True)``, disables the
    cuDNN benchmark and sets ``CUBLAS_WORKSPACE_CONFIG`` so that repeated runs give the same numbers.
    """
    import torch

    seed = check_seed(seed)
    check_value("deterministic", deterministic, types=(bool,), constraint=False)
    dev = resolve_device(device)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    seed_everything(seed)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "CPU"
    info = DeviceInfo(dev, name, seed, deterministic, torch.__version__, torch.get_num_threads())
    if verbose:
        print(f"Using {info}")
    return info
