"""The records behind the book's pages: the named sweeps and the one missing-record policy.

``SWEEPS`` maps each ``vaefail sweep NAME`` to the task list of the page module that owns
it; ``run_named_sweep`` trains (or resumes) one; ``page_records`` gives a page its
records through ``sweep.load_or_run`` (the single policy: verified cached records are
used, missing ones are listed with the command that computes them, and trained only when
asked). The App. D helpers on ground-truth starts read these records.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..sweep import load_or_run, process_map, resolve_device, run_sweep
from . import appE3
from .appE3 import uci_tasks
from .sec5 import section5_flow_tasks, section5_tasks
from .sec7 import section7_tasks
from .sec8 import section8_tasks

__all__ = ["SWEEPS", "run_named_sweep", "page_records", "gt_start_rows", "gt_start_table",
           "training_curves"]

#: ``vaefail sweep NAME``: the training tasks behind each group of pages
SWEEPS = {"section5": section5_tasks, "section7": section7_tasks, "section8": section8_tasks,
          "uci": uci_tasks,
          # ours (issue 15): Table 2 with a normalizing-flow encoder (sec5.table2(include_flow=True))
          "section5_flow": section5_flow_tasks}


def run_named_sweep(name: str, profile: str, workers: int = 2, progress: bool | None = None,
                    dask: str | None = None, device: str = "cpu"):
    """Run (or resume) a named sweep into ``results/<profile>/``; finished tasks are
    skipped, so an interrupted run continues where it stopped.

    ``dask``: a Dask scheduler (``tcp://host:port``, or ``local:N`` for N local worker
    processes; ``dask_map.py``) that trains the groups instead of ``workers`` processes;
    the records are written here, as without it.

    ``device``: "cpu" (default), "cuda" or "auto" (``sweep.resolve_device``); on a GPU
    the ensembles are sized to its free memory (``sweep.max_models_for``), so use one
    worker (``workers=1``). Not with ``dask`` (the memory would be queried here, not on
    the workers)."""
    if name not in SWEEPS:
        raise ValueError(f"unknown sweep {name!r}; choose one of {sorted(SWEEPS)}")
    device = resolve_device(device)
    if dask is not None and device != "cpu":
        raise ValueError(f"a sweep on a Dask cluster trains on the CPU; --device {device} "
                         f"is for a sweep on this machine")
    tasks = SWEEPS[name](profile)
    if dask is not None:
        from ..dask_map import dask_map

        # connects to a tcp:// scheduler before anything runs; the Dask bar counts models
        with dask_map(dask, progress=progress) as map_fn:
            return run_sweep(tasks, progress=False, map_fn=map_fn, device=device)
    map_fn = process_map(workers) if workers > 1 else map
    return run_sweep(tasks, progress=progress, map_fn=map_fn, device=device)


#: per sweep, the reason a data set's data cannot be loaded (None when it can): with
#: ``train_missing``, such data sets are not trained and keep what the cache holds
DATA_ERROR = {"uci": appE3.data_error}


def page_records(name: str, profile: str, train_missing: bool = False, retrain: bool = False,
                 device: str = "cpu", tasks=None, cache_dir=None) -> list[dict]:
    """The records of a named sweep for a book page (``sweep.load_or_run``), printing how
    many are available and, if some are not computed yet, which and how to compute them
    (a page says what is missing instead of silently training for an hour). This is the
    book's one missing-record policy.

    ``train_missing`` / ``retrain`` train what is missing (or everything) on ``device``
    ("cpu", "cuda" or "auto"), except data sets whose data file cannot be loaded
    (``DATA_ERROR``: each prints the loader's one-line error). ``tasks``: a subset of the
    sweep's tasks (default all of them); ``cache_dir``: the results folder."""
    if name not in SWEEPS:
        raise ValueError(f"unknown sweep {name!r}; choose one of {sorted(SWEEPS)}")
    tasks = SWEEPS[name](profile) if tasks is None else list(tasks)
    by_key: dict = {}
    if train_missing or retrain:
        blocked = set()
        for ds in dict.fromkeys(t.dataset for t in tasks):
            err = DATA_ERROR[name](ds) if name in DATA_ERROR else None
            if err is not None:
                print(f"{ds}: not trained, its data are not available: {err}")
                blocked.add(ds)
        todo = [t for t in tasks if t.dataset not in blocked]
        if todo:
            trained, _ = load_or_run(todo, True, retrain, device=device, cache_dir=cache_dir)
            by_key.update({t.key: r for t, r in zip(todo, trained)})
    found, _ = load_or_run([t for t in tasks if t.key not in by_key], False, cache_dir=cache_dir)
    by_key.update({r["key"]: r for r in found})
    records = [by_key[t.key] for t in tasks if t.key in by_key]
    missing = [t for t in tasks if t.key not in by_key]
    print(f"{len(tasks)} tasks, {len(records)} available under profile {profile!r}")
    if missing:
        labels = sorted({re.sub(r"-v\d+-", " ", t.label) for t in missing})
        print(f"not computed yet ({len(missing)}):", labels[:12], "..." if len(labels) > 12 else "")
        print(f"to compute them: vaefail sweep {name} --profile {profile}")
    return records


# -- App. D: does a ground-truth start survive training? ----------------------------------
def gt_start_rows(records) -> pd.DataFrame:
    """One row per ground-truth restart of ``records``: the loss of its start and of its
    first epoch of joint training (``train_loss[0]``), their ratio and difference (nats).

    The start is ``gt_start_loss`` (one pass over the training data at the start, measured
    like an epoch of training; records of the "stable" start) or, for older records, the
    encoder fit's best score ``gt_fit_loss`` (on 1000 training points with fixed noise, a
    slightly optimistic estimate); column ``start`` says which."""
    rows = []
    for rec in records:
        t = rec["config"]["task"]
        for m in rec["members"]:
            if m.get("init") != "gt" or not m.get("train_loss"):
                continue
            start, which = m.get("gt_start_loss"), "gt_start_loss"
            if start is None:
                start, which = m.get("gt_fit_loss"), "gt_fit_loss"
            if start is None:
                continue
            first = float(m["train_loss"][0])
            rows.append({"dataset": t["dataset"], "method": t["method"], "version": int(t["version"]),
                         "restart": int(m["restart"]), "gt_start": t.get("gt_start", "legacy"),
                         "start": which, "start_loss": float(start), "first_epoch_loss": first,
                         "ratio": first / float(start), "difference": first - float(start)})
    return pd.DataFrame(rows)


def gt_start_table(records, by=("dataset", "method")) -> pd.DataFrame:
    """Per ``by`` group of ``gt_start_rows``: the number of ground-truth restarts, the
    median and maximum of first-epoch loss / start loss, and the median difference in
    nats (the ratio means little where the loss is near 0, as on Figure-8-5D)."""
    rows = gt_start_rows(records)
    if rows.empty:
        raise ValueError("no ground-truth restarts in these records")
    g = rows.groupby(list(by), sort=False)
    return pd.DataFrame({"gt_start": g["gt_start"].first(), "n_restarts": g.size(),
                         "median_ratio": g["ratio"].median(), "max_ratio": g["ratio"].max(),
                         "median_difference": g["difference"].median()}).reset_index()


def training_curves(records, dataset: str, method: str = "vae", version: int = 0) -> dict:
    """The per-epoch training loss of every restart of one record: the first in
    ``records`` with this ``dataset``, ``method`` and ``version`` and some ground-truth
    restarts:
    ``{"epochs": [E], "gt": [[E], ...], "random": [[E], ...], "gt_start": [...], "label"}``."""
    for rec in records:
        t = rec["config"]["task"]
        if (t["dataset"], t["method"], int(t["version"])) == (dataset, method, version) \
                and any(m["init"] == "gt" for m in rec["members"]):
            out = {"gt": [], "random": [], "gt_start": [], "label": rec.get("label", dataset)}
            for m in rec["members"]:
                out[m["init"]].append(np.asarray(m["train_loss"], float))
                if m["init"] == "gt":
                    out["gt_start"].append(m.get("gt_start_loss", m.get("gt_fit_loss")))
            out["epochs"] = np.arange(1, len((out["gt"] or out["random"])[0]) + 1)
            return out
    raise ValueError(f"no record for {dataset} / {method} / version {version}")
