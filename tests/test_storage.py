"""`mer-course disk`: what the course keeps on disk, and removing only the folders a user names."""
from __future__ import annotations

import json
import os
import time

import pytest

from mer_utils import course, storage
from mer_utils.papers import RECIPES


def _write(path, nbytes=0, text=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    if text is not None:
        path.write_text(text)
    else:
        path.write_bytes(b"\0" * nbytes)


@pytest.fixture
def roots(tmp_path, monkeypatch):
    """A cache, result store, synthetic root and weights folder laid out as the course writes them."""
    cache, results, synth, weights = (tmp_path / n for n in ("cache", "results", "synthetic", "weights"))
    for env, path in (("MER_CACHE_ROOT", cache), ("MER_RESULTS_ROOT", results), ("MER_SYNTHETIC_ROOT", synth),
                      ("MER_WEIGHTS_ROOT", weights)):
        monkeypatch.setenv(env, str(path))
    pre = cache / "preprocess"
    for key, n_frames, size in (("aaaa11111111", 11, 3000), ("bbbb20202020", 20, 5000)):
        base = pre / "wei2022" / key
        _write(base / "params.json", text=json.dumps({"recipe": "wei2022", "version": RECIPES["wei2022"].version,
                                                      "params": {"n_frames": n_frames, "size": [224, 224]}}))
        _write(base / "casme2" / "sub01" / "EP01-x.npz", size)
        _write(base / "stacks" / "t-magnified.npy", size)
    old = pre / "wei2022" / "cccc00000000"  # written by an older version of the recipe
    _write(old / "params.json", text=json.dumps({"recipe": "wei2022", "version": "0", "params": {"n_frames": 11}}))
    _write(old / "casme2" / "sub01" / "EP01-y.npz", 10)
    _write(pre / "landmarks" / "hog1" / "casme2" / "sub01" / "EP01-f.json", 100)
    run = results / "50_wei2022_aman" / "casme2" / "casme2_5class" / "0123456789ab"
    _write(run / "params.json", text="{}")
    for fold in ("sub01", "sub02"):
        _write(run / "folds" / fold / "fold.json", text="{}")
        _write(run / "folds" / fold / "model.pt", 700)
    _write(run / "folds" / "sub03" / "history.csv", 10)  # started, not done
    _write(synth / "quick" / "_synthetic.json", text=json.dumps({"version": "2.1"}))
    _write(synth / "quick" / "CASME2" / "x.jpg", 50)
    _write(synth / "quick.old-v2.0-20261206-031500" / "CASME2" / "x.jpg", 40)  # a stale set moved aside
    _write(weights / "fer2013_mini_xception" / "w.h5", 20)
    _write(cache / "checkpoints" / "wei2022" / "backbone.pt", 400)  # another cache folder (pretraining)
    repo = tmp_path / "repo"
    _write(repo / "runs" / "20261206-quick" / "summary.json", text="{}")  # a course run
    _write(results / "50_wei2022_aman" / "casme2" / "casme2_5class" / "notarun" / "x" / "y.txt", 5)  # no params.json
    monkeypatch.setattr(storage.paths, "repo_path", lambda *parts: repo.joinpath(*parts))
    old_enough = time.time() - 2 * storage.BUSY_SECONDS  # written well before: no running notebook
    for f in tmp_path.rglob("*"):
        if f.is_file():
            os.utime(f, (old_enough, old_enough))
    return tmp_path


def test_the_listing_names_every_folder_with_its_size_and_what_it_holds(roots):
    items = {i.name: i for i in storage.inventory()}
    assert set(items) == {"preprocess/wei2022/aaaa11111111", "preprocess/wei2022/bbbb20202020",
                          "preprocess/wei2022/cccc00000000", "preprocess/landmarks/hog1",
                          "results/50_wei2022_aman/casme2/casme2_5class/0123456789ab", "synthetic/quick",
                          "synthetic/quick.old-v2.0-20261206-031500", "weights", "cache/checkpoints",
                          "runs/20261206-quick"}
    now = RECIPES["wei2022"].version
    assert items["preprocess/wei2022/cccc00000000"].what.startswith(
        f"[recipe version 0, now {now}; never read again] wei2022 v0:")
    assert not items["preprocess/wei2022/aaaa11111111"].what.startswith("[")
    aside = items["synthetic/quick.old-v2.0-20261206-031500"]
    assert "moved aside by the generator (old-v2.0-20261206-031500)" in aside.what and not aside.removable
    new, old = items["preprocess/wei2022/bbbb20202020"], items["preprocess/wei2022/aaaa11111111"]
    assert new.kind == "preprocess" and new.what.endswith(": n_frames=20")  # only what differs from the defaults
    assert old.what.endswith(": defaults")
    assert new.files == 3 and new.bytes > 10000 and new.modified > 0
    run = items["results/50_wei2022_aman/casme2/casme2_5class/0123456789ab"]
    assert run.what.endswith("2 fold(s) done, incomplete") and run.removable
    assert items["synthetic/quick"].what == "synthetic quick set, generator 2.1"
    assert not items["synthetic/quick"].removable and not items["weights"].removable
    sizes = [i.bytes for i in storage.inventory()]
    assert sizes == sorted(sizes, reverse=True)
    text = storage.format_inventory(storage.inventory())
    assert "preprocess/wei2022/bbbb20202020" in text and "totals:" in text and "--remove NAME" in text


def test_remove_deletes_only_the_named_folders(roots, capsys):
    gone = "preprocess/wei2022/aaaa11111111"
    assert course.main(["disk", "--remove", gone + "/"]) == 0
    assert f"removed {gone}" in capsys.readouterr().out
    left = {i.name for i in storage.inventory()}
    assert gone not in left and "preprocess/wei2022/bbbb20202020" in left and len(left) == 9
    assert (roots / "cache" / "preprocess" / "wei2022" / "bbbb20202020" / "params.json").is_file()


@pytest.mark.parametrize("names, message", [
    (["preprocess/wei2022/bbbb20202020", "preprocess/wei2022/nope"], "no such folder in the listing"),
    (["synthetic/quick"], "not removed here"),
    (["weights"], "not removed here"),
    (["preprocess"], "no such folder in the listing"),
])
def test_a_wrong_name_removes_nothing_and_says_which(roots, capsys, names, message):
    before = {i.name: i.bytes for i in storage.inventory()}
    assert course.main(["disk", "--remove", *names]) == 2
    err = capsys.readouterr().err
    assert message in err and "nothing was removed" in err
    assert {i.name: i.bytes for i in storage.inventory()} == before


def test_sets_of_older_shared_steps_and_of_the_tensor_path_are_told_apart(roots):
    from mer_utils.preprocess.cache import PREPROCESS_VERSION

    base = roots / "cache" / "preprocess" / "wei2022"
    now = RECIPES["wei2022"].version
    for key, meta in (("eeee", {"preprocess": "0"}), ("ffff", {"preprocess": PREPROCESS_VERSION, "tensor_ops": True})):
        _write(base / key / "params.json", text=json.dumps({"recipe": "wei2022", "version": now, "params": {}, **meta}))
    items = {i.name: i for i in storage.inventory()}
    assert items["preprocess/wei2022/eeee"].what.startswith(
        f"[shared preprocessing version 0, now {PREPROCESS_VERSION}; never read again]")
    assert items["preprocess/wei2022/ffff"].what.startswith("tensor path, wei2022")


def test_links_are_never_followed_listed_or_removed(roots, tmp_path):
    outside = tmp_path / "elsewhere" / "project"
    _write(outside / "precious.txt", 10)
    results = tmp_path / "results"
    (results / "nb_link").symlink_to(outside.parent, target_is_directory=True)  # a link to another project
    (tmp_path / "cache" / "preprocess" / "wei2022" / "dddd").symlink_to(outside, target_is_directory=True)
    names = {i.name for i in storage.inventory()}
    assert not [n for n in names if "nb_link" in n or n.endswith("/dddd")]
    # a folder swapped for a link after the listing: refused, nothing removed
    items = storage.inventory()
    victim = roots / "cache" / "preprocess" / "wei2022" / "bbbb20202020"
    os.rename(victim, tmp_path / "moved")
    victim.symlink_to(outside, target_is_directory=True)
    with pytest.raises(storage.StorageError, match="not a folder inside"):
        storage.remove(["preprocess/wei2022/aaaa11111111", "preprocess/wei2022/bbbb20202020"], items)
    assert (outside / "precious.txt").is_file() and (roots / "cache" / "preprocess" / "wei2022" / "aaaa11111111").is_dir()


def test_a_folder_written_in_the_last_minutes_needs_force(roots, capsys):
    run = roots / "results" / "50_wei2022_aman" / "casme2" / "casme2_5class" / "0123456789ab"
    _write(run / "folds" / "sub03" / "fold.json", text="{}")  # a notebook is writing it now
    name = "results/50_wei2022_aman/casme2/casme2_5class/0123456789ab"
    assert course.main(["disk", "--remove", name]) == 2
    assert "may be using it" in capsys.readouterr().err and run.is_dir()
    assert course.main(["disk", "--remove", name, "--force"]) == 0 and not run.exists()


def test_json_lists_every_folder(roots, capsys):
    assert course.main(["disk", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["kind"] for r in rows} == {"preprocess", "landmarks", "cache", "results", "runs", "synthetic", "weights"}
    assert all({"name", "path", "bytes", "files", "modified", "what", "removable"} <= set(r) for r in rows)


def test_empty_roots_list_nothing(tmp_path, monkeypatch):
    for env in ("MER_CACHE_ROOT", "MER_RESULTS_ROOT", "MER_SYNTHETIC_ROOT", "MER_WEIGHTS_ROOT"):
        monkeypatch.setenv(env, str(tmp_path / env))
    monkeypatch.setattr(storage.paths, "repo_path", lambda *parts: (tmp_path / "repo").joinpath(*parts))
    assert storage.inventory() == []
    assert "all 0.00 GB" in storage.format_inventory([])
