"""Where independent pieces of work run: the folds of :func:`mer_utils.training.cross_validate` and the
notebooks of a course run (:mod:`mer_utils.course`).

``local`` (the default) runs them one after another in this process. The other executors hand each piece to
`Ray <https://docs.ray.io>`_ as a task (``pip install -e .[ray]``):

* ``ray`` starts a Ray instance on this machine that uses every GPU it has (one task per GPU) or, without CUDA,
  its CPU cores (one task per core; ``MER_RAY_NUM_CPUS`` caps them);
* ``auto`` joins the cluster this machine belongs to (``ray start --head`` / ``ray start --address=...``);
* ``ray://HOST:PORT`` joins a remote cluster through its Ray Client server (port 10001 by default).

Choose with a function's ``executor=`` argument or the ``MER_EXECUTOR`` environment variable (the argument
wins). Ray is imported only when a Ray executor is chosen. Each task asks for one GPU when the cluster has
GPUs (``MER_RAY_GPUS_PER_TASK`` changes that, e.g. ``0.5`` for two small models per GPU), else one CPU.

On a cluster, the workers read the data and write the fold folders themselves: the data, the result store
(``MER_RESULTS_ROOT``) and this package must sit at the same paths on every node (a shared filesystem).
"""
from __future__ import annotations

import os
import re
import socket

EXECUTOR_ENV = "MER_EXECUTOR"
RAY_CPUS_ENV = "MER_RAY_NUM_CPUS"
RAY_GPUS_PER_TASK_ENV = "MER_RAY_GPUS_PER_TASK"
EXECUTORS = ("local", "ray", "auto", "ray://HOST:PORT")
_CLIENT = re.compile(r"^ray://(?P<host>\[[0-9A-Fa-f:]+\]|[A-Za-z0-9._-]+):(?P<port>\d{1,5})$")
#: The executor this process connected Ray with (``None``: not yet, or a user's own ``ray.init``).
_connected: str | None = None


class ExecutorError(RuntimeError):
    """A bad executor name, Ray missing, or a cluster that cannot be reached."""


class RayStartError(ExecutorError):
    """A local Ray instance did not start (on a loaded machine: its raylet's fixed 15 s wait for its agents)."""


def resolve_executor(executor: str | None = None) -> str:
    """The executor to use: ``executor`` when given, else ``$MER_EXECUTOR``, else ``'local'``; validated."""
    source = "executor=" if executor not in (None, "") else f"${EXECUTOR_ENV}="
    value = executor if executor not in (None, "") else os.environ.get(EXECUTOR_ENV, "").strip() or "local"
    if not isinstance(value, str):
        raise ExecutorError(f"{source}{value!r}: expected a string, one of {', '.join(EXECUTORS)}.")
    v = value.strip()
    if v.lower() in ("local", "ray", "auto"):
        return v.lower()
    if _CLIENT.match(v):
        return v
    raise ExecutorError(f"Unknown executor {source}{value!r}: expected 'local' (one piece after another in this "
                        "process, the default), 'ray' (a Ray instance on this machine, every GPU), 'auto' (the "
                        "Ray cluster this machine joined with `ray start`) or 'ray://HOST:PORT' (a remote "
                        "cluster's Ray Client address, e.g. ray://head-node:10001).")


def is_ray(executor: str) -> bool:
    return executor != "local"


def import_ray():
    """``ray``, or a clear error saying how to install it."""
    try:
        import ray
    except ImportError as err:
        raise ExecutorError("The Ray executor needs Ray, which is not installed in this environment. Install "
                            "it with `pip install -e .[ray]` (or `pip install ray`), or use the local executor "
                            f"(unset {EXECUTOR_ENV} or set it to 'local').") from err
    return ray


def check_reachable(address: str, timeout: float = 5.0) -> None:
    m = _CLIENT.match(address)
    host, port = m.group("host").strip("[]"), int(m.group("port"))
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as err:
        raise ExecutorError(
            f"Cannot reach the Ray cluster at {address} ({type(err).__name__}: {err}). Fix: start the cluster "
            f"(on the head node: `ray start --head --ray-client-server-port={port}`), check the host name, the "
            f"port and the firewall, or choose another executor ({EXECUTOR_ENV}=ray for this machine alone, "
            f"{EXECUTOR_ENV}=local for no Ray).") from err


def preflight(executor: str):
    """The checks before anything is written for a Ray ``executor``: a ``ray://`` address is reachable (a clear
    error, not a long retry loop) and Ray is installed; returns the ``ray`` module."""
    if executor.startswith("ray://"):
        check_reachable(executor)
    return import_ray()


def connect(executor: str):
    """Connect this process to Ray as ``executor`` says (once; later calls reuse the connection); return ``ray``.

    ``ray``: a new local instance (``MER_RAY_NUM_CPUS`` caps its CPUs; GPUs: all that CUDA shows). ``auto``
    and ``ray://HOST:PORT``: an existing cluster, or :class:`ExecutorError` naming the address and the fix.
    A connection made by the user (``ray.init(...)`` before) is reused whatever the executor.
    """
    global _connected
    executor = resolve_executor(executor)
    if not is_ray(executor):
        raise ExecutorError("connect() is for the Ray executors; 'local' needs no connection.")
    ray = preflight(executor)
    if ray.is_initialized():
        if _connected not in (None, executor):
            raise ExecutorError(f"This process is already connected to Ray as {_connected!r}, not {executor!r}; "
                                "call ray.shutdown() first (or restart the kernel) to change the executor.")
        return ray
    kwargs = {"include_dashboard": False, "logging_level": "warning"}
    try:
        if executor == "ray":
            cpus = os.environ.get(RAY_CPUS_ENV, "").strip()
            if cpus and not cpus.isdigit():
                raise ExecutorError(f"${RAY_CPUS_ENV}={cpus!r}: expected a whole number of CPU cores (or unset).")
            _start_local(ray, int(cpus) if cpus else None, kwargs)
        elif executor == "auto":
            ray.init(address="auto", **kwargs)
        else:
            ray.init(address=executor, logging_level="warning")
    except ExecutorError:
        raise
    except Exception as err:
        if executor == "ray":
            raise RayStartError(
                f"Could not start a Ray instance on this machine (3 tries): {str(err).splitlines()[0][:300].rstrip('.')}. On a "
                "loaded machine Ray's raylet gives up after 15 s waiting for its Python agents to start (Ray issue "
                "#65983; each Ray process spends seconds of CPU importing ray; logs in /tmp/ray/session_latest/logs). Fix: retry when the machine is less busy (`uptime`), "
                f"or join an instance already running ({EXECUTOR_ENV}=auto after `ray start --head`), or set "
                f"{EXECUTOR_ENV}=local.") from err
        if not isinstance(err, (ConnectionError, TimeoutError, RuntimeError)):
            raise
        where = "the cluster this machine joined (address 'auto')" if executor == "auto" else executor
        raise ExecutorError(f"Cannot connect to Ray at {where}: {str(err).splitlines()[0][:300]}. Fix: start "
                            "the cluster first (`ray start --head` on the head node, `ray start --address=HEAD:6379` "
                            f"on the others), or set {EXECUTOR_ENV}=ray to start a Ray instance on this machine "
                            f"alone, or {EXECUTOR_ENV}=local.") from err
    _connected = executor
    return ray


def _start_local(ray, num_cpus, kwargs, attempts: int = 3) -> None:
    """``ray.init`` of a local instance, tried ``attempts`` times: on a loaded machine Ray's raylet can give up
    waiting (15 s, fixed) for its Python metrics agent to start (ray-project/ray#65983)."""
    for attempt in range(1, attempts + 1):
        try:
            # no prestarted workers: they would import ray while the raylet waits for its agents to start
            ray.init(address="local", num_cpus=num_cpus, _system_config={"enable_worker_prestart": False,
                                                                         "prestart_worker_first_driver": False},
                     **kwargs)
            return
        except Exception:
            ray.shutdown()
            if attempt == attempts:
                raise


def task_options(ray) -> dict:
    """Resources of one task: one GPU when the cluster has GPUs (``MER_RAY_GPUS_PER_TASK`` overrides), else one
    CPU. Tasks killed with their worker (out of memory, preemption, ``kill``) are retried by Ray."""
    gpus = float(ray.cluster_resources().get("GPU", 0))
    want = os.environ.get(RAY_GPUS_PER_TASK_ENV, "").strip()
    if want:
        try:
            per = float(want)
        except ValueError:
            raise ExecutorError(f"${RAY_GPUS_PER_TASK_ENV}={want!r}: expected a number of GPUs such as 1 or 0.5.")
        if per < 0 or per > max(gpus, 0):
            raise ExecutorError(f"${RAY_GPUS_PER_TASK_ENV}={want}: the cluster has {gpus:g} GPU(s); use a value "
                                "between 0 and that.")
    else:
        per = 1.0 if gpus >= 1 else 0.0
    opts = {"num_cpus": 1, "max_retries": 3}
    if per > 0:
        opts["num_gpus"] = per
    return opts


def extend_sys_path(paths) -> None:
    """Inside a task: make the driver's import path visible (modules the method's code lives in)."""
    import sys

    for p in paths:
        if p and p not in sys.path and os.path.isdir(p):
            sys.path.append(p)
