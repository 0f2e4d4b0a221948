"""Sweeps on a Dask cluster: a ``map_fn`` for ``sweep.run_sweep`` backed by ``dask.distributed``.

    from vaefail_core.dask_map import dask_map
    with dask_map("tcp://scheduler:8786") as map_fn:       # or "local:N"
        run_sweep(tasks, map_fn=map_fn, progress=False)     # the Dask bar counts models

``ADDRESS`` is ``tcp://host:port`` (a running ``dask scheduler``: a ``distributed.Client``
connects to it, waiting at most ``timeout`` seconds) or ``local:N`` (a ``LocalCluster`` of
N worker processes on this machine, one thread each, started when the first group is
submitted and shut down at the end).

* Every group spec is submitted at once (``client.map(run_group, specs, pure=False,
  retries=...)``). Results come back as futures complete (``as_completed``), are
  buffered, and are yielded in the order of the specs, as ``run_sweep`` requires; the
  client (this process) writes each record as today, so a re-run submits only the
  groups with a missing record.
* No shared filesystem: a spec is a small JSON-able dict (task configs, the loader's
  module name); the worker loads the data by name, trains, and sends back the records
  and the selected parameters as bytes (``{"record": dict, "params": bytes}``). A worker
  machine needs a checkout of the same commit installed (same torch and dask; its
  committed ``results/surrogates`` are read there) and, for the UCI sweep, the data
  files that ``vaefail data`` reads; nothing is written on it.
* Faults. A worker process that dies mid-task (killed, out of memory, machine lost)
  costs only that task: the scheduler reschedules it on another worker (the nanny of
  a local cluster restarts the process; after ``distributed.scheduler.allowed-failures``
  = 3 deaths of one task, Dask's default, it fails with ``KilledWorker``); a task that
  *raises* is retried ``retries`` times before its exception reaches the client.
  Either way, records already written stay written, and a re-run resumes.
* Determinism. A group's records depend only on the group (``run_sweep`` plans groups
  from the whole task list) and the worker computes with one torch thread
  (``VAEFAIL_THREADS=1``, like ``sweep.process_map``), so a worker with the same torch
  and ATen CPU kernel writes the records of the in-process run bit for bit (timings
  aside); another CPU kernel (AVX2 vs AVX-512) rounds float32 differently, as two
  machines do without Dask.
* Progress: one tqdm bar over completed futures (in models), off with
  ``VAEFAIL_QUIET=1`` or ``progress=False``.
"""
from __future__ import annotations

import logging
import os
import re
from typing import Callable, Iterable, Iterator

import dask
from distributed import Client, LocalCluster, as_completed
from tqdm.auto import tqdm

from .sweep import Task
from .train import progress_enabled

__all__ = ["DaskMap", "dask_map", "local_cluster", "shutdown", "parse_address", "DEFAULT_RETRIES",
           "DEFAULT_TIMEOUT", "WORKER_ENV", "WORKER_CONFIG"]

#: re-runs of a group that raised (a worker that died is rescheduled regardless)
DEFAULT_RETRIES = 2
#: seconds to wait for a scheduler at ``tcp://host:port`` before giving up
DEFAULT_TIMEOUT = 5.0
#: environment of the worker processes of ``local:N`` (one torch thread, as process_map)
WORKER_ENV = {"VAEFAIL_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
#: Dask settings of the local workers. The nanny's default ``MALLOC_TRIM_THRESHOLD_=65536``
#: (return freed memory to the OS at once) makes the trainer ~1.6x slower here: each
#: step's tensors come back as fresh pages. ``None`` unsets it (distributed's own rule);
#: remote workers take the same setting from a Dask config file (see the README).
WORKER_CONFIG = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}

log = logging.getLogger(__name__)

_LOCAL = re.compile(r"local:([+-]?\d+)")
_TCP = re.compile(r"tcp://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})")


def parse_address(address: str, max_workers: int | None = None) -> tuple[str, int | str]:
    """``("local", N)`` for ``local:N`` or ``("tcp", address)`` for ``tcp://host:port``;
    ``ValueError`` (one line, naming the accepted forms) for anything else."""
    address = str(address).strip()
    m = _LOCAL.fullmatch(address)
    if m:
        n = int(m.group(1))
        if n < 1 or (max_workers is not None and n > max_workers):
            rng = f"[1, {max_workers}]" if max_workers is not None else "[1, ...]"
            raise ValueError(f"--dask local:N needs an integer N in {rng}, got {address!r}")
        return "local", n
    m = _TCP.fullmatch(address)
    if m:
        if not 1 <= int(m.group(2)) <= 65535:
            raise ValueError(f"--dask tcp://host:port needs a port in [1, 65535], got {address!r}")
        return "tcp", address
    raise ValueError(f"--dask must be local:N (N worker processes on this machine) or "
                     f"tcp://host:port (a dask scheduler), got {address!r}")


def local_cluster(n_workers: int, **kwargs) -> LocalCluster:
    """A ``LocalCluster`` of ``n_workers`` single-threaded worker processes (``WORKER_ENV``,
    ``WORKER_CONFIG``) without a dashboard, its scheduler's HTTP endpoints on a free port
    (not 8787, which another cluster may hold); ``kwargs`` go to ``LocalCluster``. The
    nanny writes its spawn settings into this process's ``os.environ``; they are taken back."""
    kept = dict(os.environ)
    try:
        with dask.config.set(WORKER_CONFIG):
            return LocalCluster(**{"n_workers": n_workers, "threads_per_worker": 1, "processes": True,
                                   "dashboard_address": None, "env": dict(WORKER_ENV),
                                   "scheduler_kwargs": {"dashboard_address": ":0"}, **kwargs})
    finally:
        for k in set(os.environ) - set(kept):
            del os.environ[k]
        os.environ.update(kept)


def shutdown(client: Client | None = None, cluster: LocalCluster | None = None) -> None:
    """Close ``client``, then ``cluster``. On a busy machine a worker process can be slow
    to stop (the nanny waits 4 s, kills it, waits 1 s more, then raises TimeoutError):
    that is logged, not raised, since the records are already written by then."""
    for what in (client, cluster):
        if what is None:
            continue
        try:
            what.close()
        except (TimeoutError, OSError) as exc:    # asyncio.TimeoutError is TimeoutError
            log.warning("vaefail: closing the Dask %s timed out (%s); its worker processes "
                        "were killed", type(what).__name__, type(exc).__name__)


def _models(spec: dict) -> int:
    """How many models a group spec trains (for the progress bar)."""
    return sum(len(Task.from_dict(d).restart_ids()) for d in spec["tasks"])


class DaskMap:
    """A ``map_fn`` for ``run_sweep`` (see the module docstring). Use it as a context
    manager to connect to a ``tcp://`` scheduler up front (so an unreachable one fails
    before anything runs) and to keep one cluster across several sweeps; called without
    one, it opens the client at the first group and closes it at the end."""

    def __init__(self, address: str, *, retries: int = DEFAULT_RETRIES,
                 timeout: float | None = None, progress: bool | None = None,
                 max_workers: int | None = None):
        self.address = str(address).strip()
        self.kind, self.arg = parse_address(self.address, max_workers)
        self.retries, self.progress = int(retries), progress
        self.timeout = timeout                #: None: DEFAULT_TIMEOUT
        self.client: Client | None = None
        self._cluster: LocalCluster | None = None
        self._entered = False

    # -- the connection ----------------------------------------------------------------
    def open(self) -> Client:
        """Connect to the scheduler, or start the local cluster (idempotent)."""
        if self.client is not None:
            return self.client
        if self.kind == "local":
            self._cluster = local_cluster(self.arg)
            self.client = Client(self._cluster)
        else:
            timeout = DEFAULT_TIMEOUT if self.timeout is None else float(self.timeout)
            try:
                self.client = Client(self.address, timeout=timeout)
            except OSError as exc:       # refused / timed out / unknown host
                raise ConnectionError(
                    f"no Dask scheduler answered at {self.address} within {timeout:g} s "
                    f"(start one with `dask scheduler`, or check the host and port)") from exc
        return self.client

    def close(self) -> None:
        """Close the client (and shut the local cluster down)."""
        client, cluster = self.client, self._cluster
        self.client = self._cluster = None
        shutdown(client, cluster)

    def __enter__(self) -> "DaskMap":
        self._entered = True
        if self.kind == "tcp":
            self.open()
        return self

    def __exit__(self, *exc) -> None:
        self._entered = False
        self.close()

    # -- the map ---------------------------------------------------------------------------
    def __call__(self, fn: Callable, specs: Iterable[dict]) -> Iterator:
        specs = list(specs)
        if not specs:
            return
        client = self.open()
        pending = None
        bar = None
        try:
            futures = client.map(fn, specs, pure=False, retries=self.retries)
            index = {f.key: i for i, f in enumerate(futures)}
            pending = as_completed(futures)   # holds each future until it is done
            del futures
            sizes = [_models(s) for s in specs]
            if progress_enabled(self.progress):
                bar = tqdm(total=sum(sizes), desc=f"sweep [dask {self.address}]", unit="model")
            done: dict[int, object] = {}
            nxt = 0
            for fut in pending:
                i = index[fut.key]
                done[i] = fut.result()        # the task's exception, after its retries
                fut.release()
                if bar is not None:
                    bar.update(sizes[i])
                while nxt in done:            # in the order of the specs
                    yield done.pop(nxt)
                    nxt += 1
        finally:
            if bar is not None:
                bar.close()
            if pending is not None:
                pending.clear()               # a caller that stopped early: drop the rest
            if not self._entered:
                self.close()


def dask_map(address: str, **kwargs) -> DaskMap:
    """A ``map_fn`` for ``run_sweep`` on the Dask scheduler at ``address``
    (``tcp://host:port`` or ``local:N``); keyword arguments as ``DaskMap``."""
    return DaskMap(address, **kwargs)
