"""The Ray executor (issue 24): folds of the cross-validation runner and notebooks of the course runner as Ray
tasks. A local Ray instance on CPU with 2 workers gives the local runner's predictions, resumes after a killed
worker or a failed fold, and an unreachable cluster address is a clear error."""
import json
import os
import signal
import socket
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
import torch

from mer_utils import executor as E
from mer_utils import training as T
from test_training import NearestCentroid, loso, mlp, toy  # tests/ is on sys.path (and on the workers')

torch.set_num_threads(1)  # as the Ray workers (one CPU each): the same float reductions
NO_RAY = "ray is not installed: `pip install -e .[ray]` (requirements/lock.txt holds it; scripts/bootstrap.sh)"


@pytest.fixture(scope="module")
def ray_local():
    """A local Ray instance with 2 CPU workers for this module, shut down afterwards."""
    ray = pytest.importorskip("ray", reason=NO_RAY)
    old = os.environ.get(E.RAY_CPUS_ENV)
    os.environ[E.RAY_CPUS_ENV] = "2"
    try:
        try:
            E.connect("ray")
        except E.RayStartError as err:  # the machine, not the code: Ray's raylet timed out waiting for its agents
            pytest.skip(f"Ray could not start on this (overloaded) machine: {err}")
        assert ray.cluster_resources()["CPU"] == 2
        yield ray
    finally:
        ray.shutdown()
        E._connected = None
        if old is None:
            os.environ.pop(E.RAY_CPUS_ENV, None)
        else:
            os.environ[E.RAY_CPUS_ENV] = old


def _cv(method, data, folds, root, **kw):
    kw = {"notebook": "test", "dataset": "toy", "protocol": "loso", "method_name": "m", "progress": False,
          "root": root, "device": "cpu", **kw}
    return T.cross_validate(method, data, folds, **kw)


def test_ray_gives_the_local_runners_predictions_and_folders(ray_local, tmp_path):
    table, X = toy(n_subjects=4, per_subject=6)
    data, folds = T.ClipDataset(table, X), loso(table)
    cfg = T.TrainConfig(epochs=3, batch_size=4, lr=0.05, optimizer="sgd")
    local = _cv(T.TorchMethod(mlp, cfg, track_test=True), data, folds, tmp_path / "local", executor="local")
    dist = _cv(T.TorchMethod(mlp, cfg, track_test=True), data, folds, tmp_path / "ray", executor="ray")
    assert dist.computed == [f.name for f in folds] and dist.resumed == []
    assert dist.run_dir.relative_to(tmp_path / "ray") == local.run_dir.relative_to(tmp_path / "local")
    pd.testing.assert_frame_equal(dist.predictions, local.predictions)  # labels and scores, bit for bit
    files = {p.relative_to(local.run_dir) for p in local.run_dir.glob("folds/*/*")}
    assert files == {p.relative_to(dist.run_dir) for p in dist.run_dir.glob("folds/*/*")}
    assert {p.name for p in dist.run_dir.glob("folds/000_*/*")} >= {"fold.json", "predictions.csv", "model.pt",
                                                                    "history.csv", "test_epochs.csv"}
    for name in local.histories:  # the same losses epoch by epoch (only the timings differ)
        pd.testing.assert_frame_equal(dist.histories[name].drop(columns="seconds"),
                                      local.histories[name].drop(columns="seconds"))
    # a second call reuses every fold (whichever executor wrote them)
    again = _cv(T.TorchMethod(mlp, cfg, track_test=True), data, folds, tmp_path / "ray", executor="local")
    assert again.computed == [] and again.resumed == [f.name for f in folds]


class Flaky(NearestCentroid):
    """Nearest centroid whose fold ``victim`` fails: ``"raise"`` raises, ``"kill"`` kills its worker process
    once (a marker file says it happened). Same ``repr`` whatever the mode: the same run folder."""

    def __init__(self, X, labels, victim=None, mode=None, marker=None):
        super().__init__(X, labels)
        self.victim, self.mode, self.marker = victim, mode, marker

    def __call__(self, fold, train_idx, test_idx, fold_dir):
        if fold.name == self.victim and self.mode == "raise":
            raise ValueError(f"simulated failure in fold {fold.name}")
        if fold.name == self.victim and self.mode == "kill" and not Path(self.marker).exists():
            Path(self.marker).write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)  # the worker dies mid-fold, as on an OOM kill or preemption
        return super().__call__(fold, train_idx, test_idx, fold_dir)


def test_failed_fold_is_the_only_one_recomputed(ray_local, tmp_path):
    table, X = toy()
    folds, y = loso(table), table["label"].to_numpy()
    reference = _cv(Flaky(X, y), table, folds, tmp_path / "reference", executor="local")
    victim = folds[2].name
    with pytest.raises(RuntimeError, match=f"1 of 6 fold\\(s\\) failed.*{victim}.*simulated failure") as err:
        _cv(Flaky(X, y, victim, "raise"), table, folds, tmp_path / "run", executor="ray")
    assert "re-run" in str(err.value)
    run = next((tmp_path / "run").glob("*/*/*/*"))
    assert len(list(run.glob("folds/*/fold.json"))) == 5 and not (run / "metrics.json").exists()
    final = _cv(Flaky(X, y), table, folds, tmp_path / "run", executor="ray")
    assert final.run_dir == run and final.computed == [victim]
    assert final.resumed == [f.name for f in folds if f.name != victim]
    pd.testing.assert_frame_equal(final.predictions, reference.predictions)


def test_killed_worker_is_retried_and_the_run_completes(ray_local, tmp_path):
    table, X = toy(n_subjects=4)
    folds, y = loso(table), table["label"].to_numpy()
    reference = _cv(Flaky(X, y), table, folds, tmp_path / "reference", executor="local")
    marker = tmp_path / "killed.pid"
    res = _cv(Flaky(X, y, folds[1].name, "kill", marker), table, folds, tmp_path / "run", executor="ray")
    assert marker.exists() and int(marker.read_text()) != os.getpid()  # a worker, not this process, was killed
    assert res.computed == [f.name for f in folds]
    pd.testing.assert_frame_equal(res.predictions, reference.predictions)
    info = json.loads(next(res.run_dir.glob("folds/001_*/fold.json")).read_text())
    assert info["name"] == folds[1].name


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_cluster_is_a_clear_error_before_anything_is_written(tmp_path):
    address = f"ray://127.0.0.1:{_free_port()}"
    table, X = toy(n_subjects=3)
    with pytest.raises(E.ExecutorError, match=f"(?s)Cannot reach the Ray cluster at {address}.*ray start --head"):
        _cv(Flaky(X, table["label"].to_numpy()), table, loso(table), tmp_path, executor=address)
    assert not any(tmp_path.iterdir())


def test_executor_names_are_checked(monkeypatch):
    monkeypatch.delenv(E.EXECUTOR_ENV, raising=False)
    assert E.resolve_executor(None) == "local"
    monkeypatch.setenv(E.EXECUTOR_ENV, "Ray")
    assert E.resolve_executor(None) == "ray" and E.resolve_executor("local") == "local"
    assert E.resolve_executor("ray://head-node:10001") == "ray://head-node:10001"
    monkeypatch.setenv(E.EXECUTOR_ENV, "dask")
    with pytest.raises(E.ExecutorError, match=r"\$MER_EXECUTOR='dask'.*'local'.*'ray'.*ray://HOST:PORT"):
        E.resolve_executor(None)
    with pytest.raises(E.ExecutorError, match="executor='ray://nohostport'"):
        E.resolve_executor("ray://nohostport")


def test_course_stages_shared_notebooks_first_and_the_comparison_last():
    from mer_utils.course import ray_stages

    nbs = [Path(n) for n in ("00_data.ipynb", "01_pre.ipynb", "10_a.ipynb", "50_b.ipynb", "90_comparison.ipynb")]
    assert ray_stages(nbs) == [nbs[:2], nbs[2:4], nbs[4:]]
    assert ray_stages(nbs[2:4]) == [nbs[2:4]]


def _notebook(path: Path, body: str) -> None:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('PROFILE = "quick"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))


@pytest.mark.slow
def test_course_runs_notebooks_as_ray_tasks_with_the_same_summary(ray_local, tmp_path):
    from mer_utils import course

    folder = tmp_path / "notebooks"
    folder.mkdir()
    _notebook(folder / "10_first.ipynb", "import os\nprint(os.environ['MER_EXECUTOR'], PROFILE)")
    _notebook(folder / "90_last.ipynb", "raise ValueError('expected failure')")
    run_dir, res = course.run(None, "quick", out=tmp_path / "run", generate_data=False, folder=folder,
                              executor="ray")
    assert [r.notebook for r in res] == ["10_first", "90_last"] and [r.status for r in res] == ["ok", "failed"]
    assert res[1].error["ename"] == "ValueError"
    out = nbformat.read(str(run_dir / "notebooks" / "10_first.ipynb"), as_version=4)
    assert "local quick" in out.cells[-1].outputs[0]["text"]  # folds inside a notebook task run locally
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["executor"] == "ray" and [n["status"] for n in summary["notebooks"]] == ["ok", "failed"]
    assert "| 90_last | failed |" in (run_dir / "summary.md").read_text()


def test_local_runner_never_imports_ray(tmp_path):
    import subprocess
    import sys

    script = ("import sys\nfrom collections import namedtuple\nimport numpy as np, pandas as pd\n"
              "from mer_utils import training as T\n"
              "t = pd.DataFrame({'clip_uid': list('abcd'), 'subject_uid': list('aabb'), 'dataset': 'x',"
              " 'label': [0, 1, 0, 1]})\n"
              "F = namedtuple('F', 'name train test')\n"
              "folds = [F('a', np.array([2, 3]), np.array([0, 1])), F('b', np.array([0, 1]), np.array([2, 3]))]\n"
              "T.cross_validate(lambda fo, tr, te, d: np.zeros(len(te), int), t, folds, notebook='n', dataset='x',"
              " protocol='p', method_name='m', root=sys.argv[1], progress=False, device='cpu')\n"
              "assert 'ray' not in sys.modules, 'the local runner imported ray'\n")
    env = {k: v for k, v in os.environ.items() if k != E.EXECUTOR_ENV}
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(list(tmp_path.glob("n/x/p/*/folds/*/fold.json"))) == 2
