"""Sweeps on Dask (``dask_map.py``, ``vaefail sweep --dask``): the same records as the
in-process run, also when a worker process is killed part-way, and the address checks.

The sweeps are a few tasks of ``sec5.section5_tasks("quick")`` trained into
``tmp_path``. Records are compared with the tolerance of ``tests/test_sweep.py`` (every
number) and the selected parameters bit for bit: the groups are the same as in the
in-process run, and every worker computes with one torch thread on this machine.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time

import numpy as np
import pytest

pytest.importorskip("distributed", reason="dask and distributed are not installed "
                                          "(pip install -c requirements-lock.txt -e '.[test]')")

from distributed import Client  # noqa: E402

from vaefail_core import cache, cli, dask_map as dm  # noqa: E402
from vaefail_core.paper import records, sec5
from vaefail_core.sweep import load_selected, plan_groups, record_path, run_sweep  # noqa: E402

#: two data sets x two versions x (VAE, IWAE S=3): 8 tasks, 16 models
SUBSET = [t for t in sec5.section5_tasks("quick")
          if t.dataset in ("circle", "absolute_value") and t.method in ("vae", "iwae")
          and t.iwae_samples in (0, 3)]
#: 4 groups of 2 tasks (4 models) for the killed worker: one can die while others run
SMALL_GROUPS = 4
TIMINGS = ("group_seconds", "group_train_seconds")


def _assert_same(a, b, where="record"):
    """Same structure; numbers to the tolerance of test_sweep.py, everything else equal."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and sorted(a) == sorted(b), where
        for k in a:
            if k not in TIMINGS:
                _assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and not isinstance(b, bool):
        assert b == pytest.approx(a, rel=1e-4, abs=1e-4), where
    else:
        assert a == b, where


def _same_records(tasks, cache_a, cache_b):
    for t in tasks:
        ra = json.loads(record_path(t, cache_a).read_text())
        rb = json.loads(record_path(t, cache_b).read_text())
        _assert_same(ra, rb, t.label)
        va, vb = load_selected(ra, cache_a), load_selected(rb, cache_b)
        for k, v in va.state_dict().items():
            np.testing.assert_array_equal(v.numpy(), vb.state_dict()[k].numpy(), err_msg=f"{t.label}: {k}")


@pytest.fixture(autouse=True)
def quiet(monkeypatch):
    monkeypatch.setenv("VAEFAIL_QUIET", "1")


def test_cli_sweep_on_local_cluster_equals_in_process_run(tmp_path, monkeypatch, capsys):
    """``vaefail sweep section5 --profile quick --dask local:2`` (on SUBSET) writes the
    records of the in-process run; a re-run finds them all and starts no cluster."""
    ref = tmp_path / "ref"
    run_sweep(SUBSET, ref, progress=False)
    monkeypatch.setitem(records.SWEEPS, "section5", lambda profile: SUBSET)
    monkeypatch.setattr(cache, "RESULTS_DIR", tmp_path / "results")
    assert cli.main(["sweep", "section5", "--profile", "quick", "--dask", "local:2"]) == 0
    n = len(SUBSET)
    assert capsys.readouterr().out.strip() == f"section5 [quick]: {n} tasks, {n} computed, 0 from the cache"
    _same_records(SUBSET, ref, tmp_path / "results" / "quick")

    def no_cluster(*a, **k):
        raise AssertionError("nothing to compute: no cluster may start")

    monkeypatch.setattr(dm, "local_cluster", no_cluster)
    assert cli.main(["sweep", "section5", "--profile", "quick", "--dask", "local:2", "--workers", "1"]) == 0
    assert capsys.readouterr().out.strip() == f"section5 [quick]: {n} tasks, 0 computed, {n} from the cache"


def test_killed_worker_costs_only_its_task(tmp_path):
    """One of two worker processes is killed (SIGKILL) while it trains a group, right
    after the first group's records are written; the scheduler reschedules that group
    and the sweep ends with the records of the in-process run."""
    assert len(plan_groups(SUBSET, max_models=SMALL_GROUPS)) == 4
    ref, out = tmp_path / "ref", tmp_path / "dask"
    run_sweep(SUBSET, ref, progress=False, max_models=SMALL_GROUPS)
    cluster = dm.local_cluster(2)
    watcher = Client(cluster)
    try:
        pids = watcher.run(os.getpid)                     # worker address -> process id
        killed, stop = {}, threading.Event()

        def kill_a_busy_worker():
            while not list(out.glob("*.json")):        # the first group's records are written
                if stop.wait(0.02):
                    return
            while not stop.is_set():
                busy = {w: keys for w, keys in watcher.processing().items() if keys and w in pids}
                if busy:
                    w, keys = next(iter(busy.items()))
                    os.kill(pids[w], signal.SIGKILL)
                    killed.update(worker=w, pid=pids[w], keys=list(keys))
                    return
                stop.wait(0.02)

        killer = threading.Thread(target=kill_a_busy_worker, daemon=True)
        killer.start()
        try:
            res = run_sweep(SUBSET, out, progress=False, max_models=SMALL_GROUPS,
                            map_fn=dm.dask_map(cluster.scheduler_address, progress=False))
        finally:
            stop.set()
            killer.join(timeout=10)
        assert killed, "no worker was busy after the first group finished"
        assert killed["pid"] not in watcher.run(os.getpid).values()   # it died (the nanny restarts one)
    finally:
        dm.shutdown(watcher, cluster)
    assert (res.n_computed, res.n_groups) == (len(SUBSET), 4)
    _same_records(SUBSET, ref, out)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _must_not_run(*a, **k):
    raise AssertionError("must not be called")


@pytest.mark.parametrize("argv, needle", [
    (["--dask", "local:0"], "--dask local:N needs an integer N in [1, 64], got 'local:0'"),
    (["--dask", "local:65"], "--dask local:N needs an integer N in [1, 64], got 'local:65'"),
    (["--dask", "local:-2"], "--dask local:N needs an integer N in [1, 64]"),
    (["--dask", "local:two"], "--dask must be local:N"),
    (["--dask", "local"], "--dask must be local:N"),
    (["--dask", "tcp://host"], "or tcp://host:port (a dask scheduler), got 'tcp://host'"),
    (["--dask", "tcp://:8786"], "--dask must be local:N"),
    (["--dask", "http://host:8786"], "--dask must be local:N"),
    (["--dask", "tcp://host:0"], "--dask tcp://host:port needs a port in [1, 65535]"),
    (["--dask", "tcp://host:70000"], "--dask tcp://host:port needs a port in [1, 65535]"),
    (["--dask", "local:2", "--workers", "2"], "--dask and --workers 2 exclude each other"),
    (["--dask", "local:2", "--workers", "0"], "--workers must be an integer in [1, 64]"),
    (["--dask"], "expected one argument"),
])
def test_bad_dask_address_exits_2_with_one_line(capsys, monkeypatch, argv, needle):
    monkeypatch.setattr(records, "run_named_sweep", _must_not_run)
    assert cli.main(["sweep", "section5", "--profile", "quick", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and err.startswith("vaefail: error: ")
    assert needle in err


def test_unreachable_scheduler_exits_2_before_training(tmp_path, capsys, monkeypatch):
    import vaefail_core.sweep as sweep

    monkeypatch.setattr(dm, "DEFAULT_TIMEOUT", 1.0)
    monkeypatch.setattr(cache, "RESULTS_DIR", tmp_path)
    monkeypatch.setattr(sweep, "run_sweep", _must_not_run)
    address = f"tcp://127.0.0.1:{_free_port()}"
    t0 = time.monotonic()
    assert cli.main(["sweep", "section5", "--profile", "quick", "--dask", address]) == 2
    assert time.monotonic() - t0 < 10
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1
    assert f"vaefail: error: no Dask scheduler answered at {address} within 1 s" in err
    assert not list(tmp_path.iterdir())
