"""Scaling of a sweep on Dask from 1 to 2 local workers (``vaefail_core/dask_map.py``).

Run:  .venv/bin/python benchmarks/bench_dask.py [--sweep section5] [--profile quick]

Runs the same named sweep, each time into a fresh temporary folder: in-process (``map``),
on ``local:1`` and on ``local:2`` (a ``LocalCluster`` of 1 or 2 single-threaded worker
processes, both started once), ``--repeats`` times, interleaved; the minimum counts
(other processes on a shared machine only add time). Prints the wall-clock seconds of
each, the clusters' start-up time (separately: it is paid once per sweep), whether the
records equal the in-process run's (timings aside), and, on the last line, the speed-up
of ``local:2`` over ``local:1`` on the sweep itself (cluster started). The speed-up is
bounded by the sweep's largest group (a group is never split across workers) and by
what else runs on the cores.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("VAEFAIL_QUIET", "1")

from vaefail_core.dask_map import dask_map  # noqa: E402
from vaefail_core.paper.records import SWEEPS  # noqa: E402
from vaefail_core.sweep import plan_groups, record_path, run_sweep  # noqa: E402

TIMINGS = ("group_seconds", "group_train_seconds")


def _records(tasks, folder) -> list[tuple[dict, bytes]]:
    out = []
    for t in tasks:
        rec = json.loads(record_path(t, folder).read_text())
        for k in TIMINGS:
            rec.pop(k)
        out.append((rec, record_path(t, folder).with_suffix(".npz").read_bytes()))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sweep", default="section5", choices=sorted(SWEEPS))
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--repeats", type=int, default=2,
                    help="runs of each mode, interleaved; the minimum counts (default 2)")
    args = ap.parse_args()
    tasks = SWEEPS[args.sweep](args.profile)
    groups = plan_groups(tasks)
    print(f"{args.sweep} [{args.profile}]: {len(tasks)} tasks, {len(groups)} groups of "
          f"{[sum(len(t.restart_ids()) for t in g) for g in groups]} models; {os.cpu_count()} CPUs; "
          f"minimum of {args.repeats} interleaved runs")
    modes = ("in-process", "local:1", "local:2")
    secs = {m: [] for m in modes}
    starts, same = {}, {}
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        maps = {"in-process": map}
        for address in modes[1:]:
            maps[address] = stack.enter_context(dask_map(address, progress=False))
            t0 = time.perf_counter()
            maps[address].open()
            starts[address] = time.perf_counter() - t0
        for r in range(args.repeats):
            for m in modes:
                folder = Path(tmp, f"{m.replace(':', '')}-{r}")
                t0 = time.perf_counter()
                run_sweep(tasks, folder, progress=False, map_fn=maps[m])
                secs[m].append(time.perf_counter() - t0)
                if r == 0:
                    same[m] = _records(tasks, folder) == _records(tasks, Path(tmp, "in-process-0"))
    best = {m: min(v) for m, v in secs.items()}
    for m in modes:
        extra = "" if m == "in-process" else (
            f"  (+ {starts[m]:.1f} s cluster start; records "
            f"{'equal to' if same[m] else 'DIFFERENT from'} the in-process run's)")
        runs = ", ".join(f"{x:.1f}" for x in secs[m])
        print(f"{m:<11} {best[m]:7.1f} s  [runs: {runs}]{extra}")
    print(f"dask local:1 vs in-process: {best['in-process'] / best['local:1']:.2f}")
    print(f"dask local:2 vs local:1 speed-up: {best['local:1'] / best['local:2']:.2f}")


if __name__ == "__main__":
    main()
