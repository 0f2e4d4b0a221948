"""What the Table 5-6 sweep (``vaefail sweep uci``) costs: measured training and
evaluation times, and the estimated wall-clock time of a profile's grid on 2 cores.

Run:  .venv/bin/python benchmarks/bench_uci.py [--epochs 5] [--profile reduced] [--cap 1200] [--out f.json]

For each UCI data set and each method (the VAE, and IWAE with every S of the profile and
of the paper), the first record group the profile's sweep trains (``sweep.plan_groups``:
up to 13 tasks x 3 restarts = 39 M2 models of 3 x 100 networks) is trained for
``--epochs`` epochs under the stopping rule (its validation check runs at least once)
and evaluated exactly as the sweep evaluates it; printed: seconds per model-epoch of
training and seconds of evaluation per group. For an S outside the profile's grid the
same group is trained with that S. The estimate for a profile sums, over the groups its
sweep trains, members x the epoch cap x the measured rate of the group's data set and
method, plus the measured evaluation per group, over 2 workers. It is an upper bound of
the training time: the stopping rule can only shorten a group (which runs until its
slowest member stops). Times are CPU seconds of the one-thread process (what an
otherwise idle core takes; wall-clock rates, which include waiting for a shared CPU, are
printed beside them). The paper's groups are costed with the rates and evaluation times
measured at this profile's ensemble sizes and evaluation settings.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vaefail_core import set_seed  # noqa: E402
from vaefail_core.paper import appE3
from vaefail_core.profiles import PROFILES, get_profile  # noqa: E402
from vaefail_core.sweep import Task, plan_groups, run_group  # noqa: E402


def measure(profile: str, ds: str, S: int, epochs: int) -> dict:
    """Train the first group the sweep of ``profile`` trains for data set ``ds`` and method
    S (0: the VAE; an S outside the profile's grid: that group with this S) for ``epochs``
    epochs and evaluate it as the sweep does. Returns CPU seconds per model-epoch of
    training (``rate``) and of the evaluation (``eval``), the same in wall-clock seconds
    (``rate_wall``, ``eval_wall``: they include waiting for a shared CPU) and the members."""
    method = "iwae" if S else "vae"
    grid = [t for t in appE3.uci_tasks(profile, (ds,), check=False)]
    S0 = S if any(t.iwae_samples == S for t in grid) else appE3.uci_grid(profile)["iwae_S"][0]
    group = next(g for g in plan_groups(grid) if g[0].method == method and g[0].iwae_samples == (S0 if S else 0))
    bench = replace(get_profile(profile), name="bench", epochs_real=epochs)
    PROFILES["bench"] = bench
    tasks = [Task(**{**t.config()["task"], "restarts": t.restarts, "extra": t.extra, "profile": "bench",
                     "iwae_samples": S if S else 0}) for t in group]
    cpu, wall = time.process_time(), time.perf_counter()
    out = run_group({"tasks": [t.config()["task"] for t in tasks]})
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    rec = out[0]["record"]
    M, wall_train = rec["group_size"], rec["group_train_seconds"]
    # CPU seconds of the one-thread process (what an otherwise idle core takes), split
    # between training and evaluation as the wall clock splits
    train_cpu = cpu * wall_train / wall
    return {"rate": train_cpu / (M * epochs), "eval": cpu - train_cpu, "M": M,
            "rate_wall": wall_train / (M * epochs), "eval_wall": wall - wall_train}


def estimate(profile: str, rates: dict, eval_s: dict, cap: int | None = None) -> tuple[float, int, int]:
    """(hours on 2 cores, models, groups) of ``profile``'s "uci" sweep at the epoch cap
    (the profile's ``epochs_real``, or ``cap``)."""
    tasks = appE3.uci_tasks(profile)
    cap = cap or appE3.uci_grid(profile)["epochs_cap"]
    secs, n = 0.0, 0
    groups = plan_groups(tasks)
    for g in groups:
        M = sum(len(t.restart_ids()) for t in g)
        key = (g[0].dataset, g[0].iwae_samples)
        secs += M * cap * rates[key] + eval_s[key]
        n += M
    return secs / 2 / 3600, n, len(groups)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--profile", default="reduced")
    ap.add_argument("--cap", type=int, action="append", default=[],
                    help="also estimate the profile's grid at this epoch cap (repeatable)")
    ap.add_argument("--out", help="write the measured rates to this JSON file")
    args = ap.parse_args(argv)
    set_seed(0)
    S_all = sorted({0, *appE3.uci_grid(args.profile)["iwae_S"], *appE3.uci_grid("paper")["iwae_S"]})
    rates, eval_s, wall, wall_e = {}, {}, {}, {}
    for ds in appE3.UCI_DATASETS:
        for S in S_all:
            r = measure(args.profile, ds, S, args.epochs)
            key = (ds, S)
            rates[key], eval_s[key], wall[key], wall_e[key] = r["rate"], r["eval"], r["rate_wall"], r["eval_wall"]
            print(f"{ds:18s} {'VAE' if S == 0 else f'IWAE S={S}':10s} {1e3 * r['rate']:6.1f} ms CPU per model-epoch "
                  f"(wall {1e3 * r['rate_wall']:.1f}; M = {r['M']}), evaluation {r['eval']:.1f} s CPU per group "
                  f"(wall {r['eval_wall']:.1f})", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps({"epochs": args.epochs, "profile": args.profile, "rows": [
            {"dataset": k[0], "S": k[1], "cpu_rate": rates[k], "cpu_eval": eval_s[k], "wall_rate": wall[k],
             "wall_eval": wall_e[k]} for k in rates]}, indent=1))
    for prof, cap in [(args.profile, None), *((args.profile, c) for c in args.cap), ("paper", None)]:
        h, n, g = estimate(prof, rates, eval_s, cap)
        hw, _, _ = estimate(prof, wall, wall_e, cap)
        print(f"{prof}: {n} models in {g} groups at a cap of {cap or appE3.uci_grid(prof)['epochs_cap']} "
              f"epochs: at most {h:.2f} h on 2 idle cores (2 workers; CPU time), {hw:.2f} h at this run's "
              f"wall-clock rates")
    return 0


if __name__ == "__main__":
    sys.exit(main())
