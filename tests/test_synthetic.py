"""Synthetic data: AU geometry, intensity scaling, determinism, completion marker and lock.

The layouts' file formats are checked in ``test_synthetic_layouts.py``.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os

import numpy as np
import pytest

from mer_utils.data import synthetic as S
from mer_utils.data.synthetic import aus as A
from mer_utils.data.synthetic import faces as F
from mer_utils.data.synthetic import plan as P
from mer_utils.data.synthetic.render import ClipRenderer, Event, Nuisance

QUIET = Nuisance(head_amp=0.0, head_freq=[0.1, 1.0], head_phase=[0.0, 0.0], roll_amp_deg=0.0, tremor_amp=0.0,
                 blinks=[], flicker_amp=0.0, flicker_freq=1.0, flicker_phase=0.0, noise_sigma=0.0, jpeg_quality=95)


@pytest.fixture(scope="module")
def subject():
    rng = np.random.default_rng(1)
    return F.make_subject("test/s1", rng, 256, 192, (116, 124), source_index=0)


def _face_frame(subject, d):
    """Image displacements -> (outward, up) components in the subject's face frame, per point."""
    along = d @ subject.ex
    down = d @ subject.ey
    return along, -down


def test_au12_moves_lip_corners_up_and_out(subject):
    d = subject.token_displacement("12")
    along, up = _face_frame(subject, d)
    # landmark 48 is the image-left mouth corner (outward = -x), 54 the image-right one (outward = +x)
    assert along[48] < -0.3 * subject.iod and along[54] > 0.3 * subject.iod, "AU12 pulls the corners outward"
    assert up[48] > 0.2 * subject.iod and up[54] > 0.2 * subject.iod, "AU12 raises the corners"
    # the dense warp moves the texture the same way: sample the field at the corners
    f = subject.fields(["12"])["12"]
    for idx, sign in ((48, -1), (54, 1)):
        x, y = np.round(subject.landmarks[idx]).astype(int)
        v = f[y, x]
        assert sign * (v @ subject.ex) > 0 and (v @ subject.ey) < 0


def test_au12_seen_by_dlib_on_the_rendered_face(subject):
    """At macro intensity, dlib's own landmarks on the rendered frame move up and outward at the corners."""
    def corners(intensity):
        ev = Event(["12"], [intensity], onset=-1.0, apex=0.0, offset=1.0)
        frame = ClipRenderer(subject, [ev], QUIET, fps=30, n_frames=1, seed=0).frame(0)
        box = F.detect_faces(frame)[0]
        return F.landmarks_in_box(frame, box)[[48, 54]]

    neutral, smile = corners(0.0), corners(0.2)
    along, up = _face_frame(subject, smile - neutral)
    assert along[0] < 0 < along[1]
    assert up[0] > 0 and up[1] > 0


def test_other_aus_move_the_right_parts(subject):
    iod = subject.iod
    _, up1 = _face_frame(subject, subject.token_displacement("1"))
    assert up1[21] > 0.5 * iod and up1[22] > 0.5 * iod, "AU1 raises the inner brows"
    _, up4 = _face_frame(subject, subject.token_displacement("4"))
    assert up4[21] < 0 and up4[22] < 0, "AU4 lowers the brows"
    _, up15 = _face_frame(subject, subject.token_displacement("15"))
    assert up15[48] < 0 and up15[54] < 0, "AU15 pulls the corners down"
    d_left = subject.token_displacement("L12")
    assert np.linalg.norm(d_left[54]) > 5 * np.linalg.norm(d_left[48]), "L12 acts on the subject's left (image right)"


def test_displacement_is_linear_in_intensity(subject):
    def field(a):
        ev = Event(["6", "12"], [a, a], onset=-1.0, apex=0.0, offset=1.0)
        r = ClipRenderer(subject, [ev], QUIET, fps=30, n_frames=1, seed=0)
        return r.displacement(0), r.landmarks(0) - subject.landmarks

    f1, l1 = field(0.02)
    f2, l2 = field(0.04)
    np.testing.assert_allclose(f2, 2 * f1, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(l2, 2 * l1, rtol=1e-9, atol=1e-9)
    # intensity = largest landmark displacement in IOD
    assert np.linalg.norm(l1, axis=1).max() == pytest.approx(0.02 * subject.iod * max(
        np.linalg.norm(subject.token_displacement(t)[:68], axis=1).max() / subject.iod for t in ("6", "12")), rel=0.35)


def test_micro_is_smaller_than_macro():
    assert P.MICRO_INTENSITY[1] * 1.3 < P.MACRO_INTENSITY[0], "micro apex < macro apex for every subject style"
    rng = np.random.default_rng(0)
    micro = [max(P.draw_intensities(rng, 2)) for _ in range(200)]
    macro = [max(P.draw_intensities(rng, 2, macro=True)) for _ in range(200)]
    assert max(micro) < min(macro)
    assert np.mean(macro) > 4 * np.mean(micro)


def test_profile_onset_apex_offset():
    ev = Event(["12"], [0.02], onset=0.1, apex=0.2, offset=0.4)
    t = np.array([0.0, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5])
    p = ev.profile(t)
    assert p[0] == 0 and p[1] == 0 and p[3] == 1 and p[5] == 0 and p[6] == 0
    assert 0 < p[2] < 1 and 0 < p[4] < 1


def test_emotion_variants_and_au_strings():
    for emotion, vs in A.EMOTION_VARIANTS.items():
        for tokens, cls, w in vs:
            assert 1 <= cls <= 7 and w > 0
            for t in tokens:
                assert A.AUToken.parse(t).au in A.AU_NUMBERS
    assert ("6", "12") in [v[0] for v in A.EMOTION_VARIANTS["happiness"]]
    assert A.format_aus(["12"], "casme2") == 12 and isinstance(A.format_aus(["12"], "casme2"), int)
    assert A.format_aus(["4", "L10"], "casme2") == "4+L10"
    with pytest.raises(ValueError, match="AU token"):
        A.AUToken.parse("twelve")


def test_objective_classes_of_au_combinations():
    assert A.objective_class_of(["6", "12"]) == 1 and A.objective_class_of(["L12"]) == 1, "sides are ignored"
    assert A.objective_class_of(["1", "2", "25"]) == 2 and A.objective_class_of(["4", "7"]) == 3
    assert A.objective_class_of(["4", "L10"]) == 4 and A.objective_class_of(["15", "17"]) == 5
    assert A.objective_class_of(["1", "2", "4"]) == 6 and A.objective_class_of(["20"]) == 6
    assert A.objective_class_of(["7"]) == 7 and A.objective_class_of(["R14"]) == 7, "unlisted -> VII (others)"
    for emotion, cls in (("disgust", 3), ("surprise", 5), ("anger", 7), ("contempt", 1)):
        for (tokens, c, w), _ in A.objective_variants(emotion, cls):
            assert c == cls and A.objective_class_of(tokens) == cls and w > 0
    with pytest.raises(ValueError, match="objective class"):
        A.objective_variants("fear", 1)
    from mer_utils.data.synthetic.layouts import ALL_TOKENS
    assert {t for vs in A.OBJECTIVE_EXTRA_VARIANTS.values() for v in vs for t in v[0]} <= set(ALL_TOKENS)


def test_apportion_and_casme_sq_counts():
    from mer_utils.data.synthetic.layouts.casme_sq import apportion, casme_sq_counts

    assert apportion(57, P.CASME_SQ_CLIPS) == {"happy": 26, "anger": 21, "disgust": 10}
    subjects, videos = [15, 16, 19], ["happy1", "happy2", "anger1", "disgust1"]
    micro, macro = casme_sq_counts(np.random.default_rng(0), subjects, videos, {"happy": 7, "anger": 4, "disgust": 2},
                                   micro_total=4, long_videos=5)
    assert sum(micro.values()) == 4 and sum(micro.values()) + sum(macro.values()) == 13
    assert sum(1 for k in micro if micro[k] + macro[k]) == 5, "five (subject, video) pairs hold every expression"
    assert {s for s, _ in micro if micro[(s, _)] + macro[(s, _)]} == set(subjects), "every subject has a video"
    assert sum(micro[(s, v)] + macro[(s, v)] for s in subjects for v in ("happy1", "happy2")) == 7
    with pytest.raises(ValueError, match="long videos"):
        casme_sq_counts(np.random.default_rng(0), subjects, videos, {"happy": 7}, 1, long_videos=2)


# ----------------------------------------------------------------------------------------------- plans only
@pytest.fixture(scope="module")
def paper_plan():
    from mer_utils.data.synthetic.gt import planned_table

    return planned_table("paper", seed=0)


#: Published counts the paper-size set departs from on purpose: (protocol or "dataset", key, quantity) -> why.
PAPER_DEPARTURES = {
    ("dataset", "casme_sq_all", "clips"): "CAS(ME)² macro + micro: the 3D-CNN paper's 206 clips by eliciting video, "
                                      "not the coding's 357 rows (plan.py docstring)",
    ("she2020_4class", "casme2", "clips"): "She et al. report 247; the CASME II coding (and this set) has 255 rows",
}


def test_paper_plan_reproduces_every_published_count(paper_plan):
    """Planning only (no frame rendered): the paper-size set gives the published dataset and protocol counts."""
    import warnings

    import pandas as pd

    from mer_utils.data import published
    from mer_utils.data.naming import DataWarning
    from mer_utils.data.protocols import apply_protocol
    from mer_utils.data.summary import compare_published

    table = paper_plan
    checks = []
    for dataset in published.DATASET_COUNTS:
        part = table[table["dataset"] == dataset.replace("_all", "")]
        if dataset == "casme_sq":
            part = part[part["expression_type"] == "micro"]
        assert len(part), f"the paper plan has no {dataset} clips"
        found = compare_published(part.assign(dataset=dataset).copy())
        checks.append(found.assign(what="dataset"))
    for name in published.PROTOCOL_COUNTS:
        with warnings.catch_warnings():
            warnings.simplefilter("error", DataWarning)  # no label outside a protocol's mapping
            labelled, dropped = apply_protocol(name, table)
        assert dropped["reason"].notna().all()
        checks.append(compare_published(labelled).assign(what=name))
    checks = pd.concat(checks, ignore_index=True)
    assert len(checks) > 100
    wrong = [f"{r.what} {r.dataset} {r.quantity}: planned {r.found}, published {r.published}"
             for r in checks.itertuples() if not r.ok and (r.what, r.dataset, r.quantity) not in PAPER_DEPARTURES]
    assert not wrong, "\n".join(wrong)
    departed = {(r.what, r.dataset, r.quantity) for r in checks.itertuples() if not r.ok}
    assert departed == set(PAPER_DEPARTURES), "a listed departure is gone: remove it from PAPER_DEPARTURES"


def test_paper_plan_quirks_and_objective_classes(paper_plan):
    from mer_utils.data.synthetic import layouts as L

    table = paper_plan
    coded = table[table["dataset"].isin(["casme2", "samm"])]
    bad = [(u, a, c) for u, a, c in zip(coded["clip_uid"], coded["aus"], coded["objective_class"])
           if A.objective_class_of(a.split("+")) != c]
    assert not bad, f"AUs inconsistent with the objective class: {bad[:5]}"
    samm = table[table["dataset"] == "samm"]
    apex = samm["apex"].astype(int)
    assert ((apex < samm["onset"]) | (apex > samm["offset"])).sum() == 2, "two SAMM apex slips, as in the real file"
    hs = table[table["dataset"] == "smic_hs"]
    assert hs.loc[hs["n_frames"] < 18, "emotion"].value_counts().to_dict() == {"negative": 4, "positive": 4}
    casme2 = table[table["dataset"] == "casme2"].set_index("clip_uid")
    assert casme2.loc["casme2/sub04/EP12_01f", "apex"] == "/"
    assert casme2.loc["casme2/sub05/EP09_05f", "apex"] == casme2.loc["casme2/sub05/EP09_05f", "onset"]
    sq = table[table["dataset"] == "casme_sq"]
    assert sq["expression_type"].value_counts().to_dict() == {"macro": 149, "micro": 57}
    assert sq["video"].nunique() == P.CASME_SQ_LONG_VIDEOS and (sq["offset"] == 0).sum() == 1
    assert len(L.plan_casme2(L.Context(".", "paper", 0, progress=False))) == 257, "255 coded + 2 uncoded folders"


def test_quick_plan_is_unchanged():
    """The quick set is the committed notebooks' baseline: its plans (labels, AUs, frame numbers) must not move.

    If a change to the generator is meant to alter the quick set, re-execute the notebooks and update the digest.
    """
    import hashlib

    from mer_utils.data.synthetic.gt import planned_table

    quick = planned_table("quick", coded_only=False)
    columns = ["clip_uid", "emotion", "aus", "objective_class", "onset", "apex", "offset", "first_frame", "n_frames"]
    digest = hashlib.sha256(quick[columns].to_csv(index=False).encode()).hexdigest()
    assert len(quick) == 280
    # generator 2.0 (issue 18): EMFACS macro prototypes (CAS(ME)² macro clips); per-subject label mixes skewed
    # like the real codings (plan.skewed_labels)
    assert digest == "a89f121e5d75e5b99c87a8fbd8c187622e6f91bfb3754c339c552ac519a4c2a7"


def test_bad_size_and_dataset_raise(tmp_path):
    with pytest.raises(ValueError, match="quick"):
        S.generate("huge", root=tmp_path / "x")
    with pytest.raises(ValueError, match="casme2"):
        S.generate("tiny", root=tmp_path / "x", datasets=["casme3"])


# ----------------------------------------------------------------------------------------------- determinism
def _files(root):
    out = {}
    for dirpath, _, names in os.walk(root):
        for n in names:
            p = os.path.join(dirpath, n)
            out[os.path.relpath(p, root)] = p
    return out


def test_same_seed_same_bytes(tmp_path):
    a = S.generate("tiny", root=tmp_path / "a", seed=3, datasets=["casme2", "samm"], progress=False)
    b = S.generate("tiny", root=tmp_path / "b", seed=3, datasets=["casme2", "samm"], progress=False)
    fa, fb = _files(a), _files(b)
    assert sorted(fa) == sorted(fb)
    frames = [k for k in fa if k.endswith(".jpg")]
    assert len(frames) > 50
    for k in frames + [k for k in fa if k.endswith((".json", ".csv"))]:
        if k.endswith("_synthetic.json"):
            continue
        with open(fa[k], "rb") as x, open(fb[k], "rb") as y:
            assert x.read() == y.read(), f"{k} differs between two runs with the same seed"
    import openpyxl
    for k in [k for k in fa if k.endswith(".xlsx")]:
        wa, wb = openpyxl.load_workbook(fa[k]), openpyxl.load_workbook(fb[k])
        assert wa.sheetnames == wb.sheetnames
        for sa, sb in zip(wa.worksheets, wb.worksheets):
            assert list(sa.values) == list(sb.values)
    c = S.generate("tiny", root=tmp_path / "c", seed=4, datasets=["casme2"], progress=False)
    assert sorted(k for k in _files(c) if k.endswith(".jpg")) != sorted(k for k in fa if "CASME2" in k and
                                                                          k.endswith(".jpg")), "another seed, other clips"


@pytest.mark.slow
def test_parallel_workers_write_the_same_bytes(tmp_path):
    a = S.generate("tiny", root=tmp_path / "a", seed=5, datasets=["casme", "megc2019"], progress=False, workers=1)
    b = S.generate("tiny", root=tmp_path / "b", seed=5, datasets=["casme", "megc2019"], progress=False, workers=2)
    fa, fb = _files(a), _files(b)
    assert sorted(fa) == sorted(fb)
    for k in fa:
        if k.endswith((".jpg", ".csv")):
            with open(fa[k], "rb") as x, open(fb[k], "rb") as y:
                assert x.read() == y.read(), k
    assert S.read_marker(b)["workers"] == 2


# ----------------------------------------------------------------------------------------------- marker / lock
def test_generate_refuses_a_foreign_folder(tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(FileExistsError, match="not written by the synthetic-data generator"):
        S.generate("tiny", root=foreign, datasets=["megc2019"], progress=False)
    with pytest.raises(FileExistsError, match="refusing"):
        S.ensure_synthetic("tiny", root=foreign, progress=False)
    assert (foreign / "thesis.tex").read_text() == "precious"


def test_ensure_synthetic_is_idempotent_and_replaces_only_its_own_stale_sets(tmp_path, monkeypatch):
    root = tmp_path / "tiny"
    calls = []
    from mer_utils.data.synthetic import sets as G

    original = G.generate

    def fake(size, root, seed, progress=True, **kw):  # fast stand-in: the marker logic is what is tested
        calls.append(root)
        return original(size=size, root=root, seed=seed, datasets=["megc2019"], progress=False)

    monkeypatch.setattr(G, "generate", fake)
    monkeypatch.setattr(G, "LAYOUTS", ("megc2019",))
    assert S.ensure_synthetic("tiny", root=root, seed=0, progress=False) == root
    marker = json.loads((root / S.MARKER).read_text())
    assert marker["size"] == "tiny" and marker["seed"] == 0 and marker["version"] == S.GENERATOR_VERSION
    assert (root / "MEGC2019" / "combined_3_class_gt.csv").exists()
    assert not list(tmp_path.glob(".tmp-synthetic-*")), "the temporary folder was renamed into place"
    S.ensure_synthetic("tiny", root=root, seed=0, progress=False)
    assert len(calls) == 1, "a complete set is reused"
    with pytest.warns(S.SyntheticSetWarning, match="was moved to"):
        S.ensure_synthetic("tiny", root=root, seed=1, progress=False)
    assert len(calls) == 2 and json.loads((root / S.MARKER).read_text())["seed"] == 1, "a stale set is replaced"
    aside = list(tmp_path.glob("tiny.old-v*"))
    assert len(aside) == 1 and json.loads((aside[0] / S.MARKER).read_text())["seed"] == 0, "the old set is kept"


def _ensure_worker(root):
    from mer_utils.data import synthetic

    synthetic.ensure_synthetic("tiny", root=root, progress=False)
    return synthetic.read_marker(root)["created"]


@pytest.mark.slow
def test_ensure_synthetic_from_two_processes(tmp_path):
    root = str(tmp_path / "shared")
    with mp.get_context("spawn").Pool(2) as pool:
        created = pool.map(_ensure_worker, [root, root])
    assert created[0] == created[1], "the second process reused the first one's set"
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp-synthetic-")]


def test_builtin_photos_only_set_is_stale_once_package_photos_may_be_used(monkeypatch):
    """Issue 18: a set generated offline from the two installed photos (fewer distinct people) is regenerated
    when the package photos may be used again; with the variable still set, it is current."""
    from mer_utils.data.synthetic import photos as P
    from mer_utils.data.synthetic.plan import LAYOUTS
    from mer_utils.data.synthetic.sets import _marker_payload, _matches

    marker = _marker_payload("quick", 0, LAYOUTS)
    monkeypatch.delenv(P.BUILTIN_ONLY_ENV, raising=False)
    assert _matches({**marker, "photos": ["astronaut", "grace_hopper", *(p.name for p in P.PHOTOS)]}, "quick", 0)
    assert not _matches({**marker, "photos": ["astronaut", "grace_hopper"]}, "quick", 0)
    monkeypatch.setenv(P.BUILTIN_ONLY_ENV, "1")
    assert _matches({**marker, "photos": ["astronaut", "grace_hopper"]}, "quick", 0)
