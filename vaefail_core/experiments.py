"""One function per paper table / figure family; notebooks call these and plot.

Each function returns plain data (dicts, numpy arrays, tidy pandas DataFrames) and,
where it trains anything, goes through the results cache (``cache.cached_json``), so a
notebook re-run with the committed cache is fast and a missing cache is recomputed.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import torch

from . import evaluate, linear, posterior, sec5, sec7, toy
from .cache import cached_json
from .sec5 import SEC5_BOTH_CONDITIONS, SEC5_ONE_CONDITION, section5_tasks  # noqa: F401 (re-exported)
from .sec5 import section5_flow_tasks
from .paper.sec8 import section8_tasks
from .sec7 import section7_tasks
from .sweep import load_or_run, process_map, resolve_device, run_sweep
from .uci_tables import uci_tasks

# -- Sec. 5.2, Eq. 6 -------------------------------------------------------------------
#: Settings of the trained Cholesky VAE per profile (restarts: first at the ground
#: truth, the rest random, as in Sec. 4; epochs at batch 100).
EQ6_VAE = {
    "quick": dict(n_train=2000, n_val=1000, n_test=2000, epochs=15, restarts=1),
    "reduced": dict(n_train=5000, n_val=2000, n_test=10000, epochs=100, restarts=3),
    "paper": dict(n_train=5000, n_val=2000, n_test=10000, epochs=100, restarts=10),
}


def _check_profile(profile: str, table: dict) -> dict:
    if profile not in table:
        raise ValueError(f"unknown profile {profile!r}; choose one of {sorted(table)}")
    return table[profile]


def eq6_closed_form(n_restarts: int = 20, seed: int = 0) -> pd.DataFrame:
    """MLEO, PMO and ``-ELBO`` (up to the entropy of p(x)) at the ground truth and at the
    global optimum over A of Eq. 6, all in closed form. Also returns the optimum's A in
    ``df.attrs['A_star']``."""
    gt = linear.eq6_terms(linear.EQ6_A_GT)
    A_star, opt, runs = linear.eq6_global_optimum(n_restarts=n_restarts, seed=seed)
    df = pd.DataFrame(
        [
            dict(model="ground truth (A_GT)", mleo=gt.mleo, pmo=gt.pmo, neg_elbo=gt.neg_elbo),
            dict(model="global optimum (A*)", mleo=opt.mleo, pmo=opt.pmo, neg_elbo=opt.neg_elbo),
        ]
    ).set_index("model")
    df.attrs["A_star"] = A_star
    df.attrs["restart_optima"] = runs
    return df


def eq6_trained_vae(profile: str = "reduced", seed: int = 0, retrain: bool = False) -> pd.DataFrame:
    """Train amortised MFG-VAEs with the Eq. 6 decoder (restart 0 at A_GT, the others
    from random A) on samples of the true model; per restart report the exact test
    ``-ELBO`` minus the entropy of p(x) (comparable with the closed form) and the
    closed-form MLEO / PMO of the learned A."""
    cfg = dict(_check_profile(profile, EQ6_VAE), seed=seed, version=1)

    def compute():
        x_tr = linear.eq6_sample(linear.EQ6_A_GT, cfg["n_train"], seed * 1000 + 1)
        x_va = linear.eq6_sample(linear.EQ6_A_GT, cfg["n_val"], seed * 1000 + 2)
        x_te = linear.eq6_sample(linear.EQ6_A_GT, cfg["n_test"], seed * 1000 + 3)
        entropy = linear.gaussian_entropy(linear.eq6_data_cov())
        rng = np.random.default_rng(seed)
        rows = []
        for r in range(cfg["restarts"]):
            A0 = linear.EQ6_A_GT if r == 0 else rng.normal(size=(2, 2))
            model, hist = linear.train_cholesky_vae(x_tr, x_va, A0, seed=seed * 100 + r, epochs=cfg["epochs"])
            with torch.no_grad():
                te = float(model.neg_elbo(torch.as_tensor(x_te)).mean()) - entropy
            A = model.A.detach().numpy()
            terms = linear.eq6_terms(A)
            rows.append(dict(restart=r, init="ground truth" if r == 0 else "random",
                             val_neg_elbo=hist[-1] - entropy, test_neg_elbo=te,
                             mleo_of_A=terms.mleo, pmo_of_A=terms.pmo, A=A.round(4).tolist()))
        return dict(rows=rows)

    res = cached_json(profile, "sec5_2_eq6_vae", cfg, compute, retrain=retrain)
    cols = ["restart", "init", "val_neg_elbo", "test_neg_elbo", "mleo_of_A", "pmo_of_A", "A"]
    df = pd.DataFrame(res["rows"])[cols].set_index("restart")  # fixed order (the cache sorts keys)
    df.attrs["profile"] = profile
    return df


# -- Sec. 5.2, Figure 2 ------------------------------------------------------------------
def fig2_analysis(n: int = 1000, seed: int = 0, kl_threshold: float = 0.1):
    """For each Figure-2 variant: its p(x) on an x-grid, and the PMO of the best Gaussian
    q (per-point optimum, averaged over x ~ p(x)), i.e. what the ELBO adds to the (equal)
    MLEO. Returns (table, curves) where curves holds the grids for plotting."""
    z = posterior.z_grid(-0.5, 1.5, 1001)
    log_prior = toy.uniform_log_prior(z)
    x_grid = posterior.z_grid(-0.6, 1.5, 421).float()[:, None]
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(n, generator=g, dtype=torch.float64)
    noise = np.sqrt(toy.FIG2_NOISE_VAR) * torch.randn(n, generator=g, dtype=torch.float64)
    rows, curves = [], {"z": z, "x_grid": x_grid[:, 0], "px": {}, "f": {}}
    for name, f in toy.fig2_variants().items():
        f_vals = f(z)[:, None]
        x = (f(u) + noise)[:, None]
        post = posterior.grid_posterior(f_vals, x, toy.FIG2_NOISE_VAR, log_prior, z)
        kl, _, _ = posterior.best_gaussian_kl(z, post)
        curves["px"][name] = posterior.log_px_grid(f_vals, x_grid, toy.FIG2_NOISE_VAR, z, log_prior).exp()
        curves["f"][name] = f_vals[:, 0]
        rows.append(dict(variant=name, pmo_best_gaussian=float(kl.mean()),
                         frac_kl_above=float((kl > kl_threshold).double().mean())))
    ref = curves["px"]["variant 1"]
    for r in rows:
        r["max_abs_px_diff_vs_v1"] = float((curves["px"][r["variant"]] - ref).abs().max())
    table = pd.DataFrame(rows).set_index("variant")
    table.attrs["kl_threshold"] = kl_threshold
    return table, curves


def joint_and_posteriors(f, noise_var: float, x_marks, z=None, log_prior=None, x_grid=None):
    """Joint density p(x, z) on an (x, z) grid for a scalar x, and posteriors at x_marks."""
    z = posterior.z_grid(-3.5, 3.5, 1401) if z is None else z
    x_grid = posterior.z_grid(-4.5, 3.5, 321).float()[:, None] if x_grid is None else x_grid
    f_vals = f(z)[:, None]
    joint = posterior.log_joint_grid(f_vals, x_grid, noise_var, z, log_prior).exp()
    marks = torch.as_tensor(np.asarray(x_marks, dtype=float))[:, None]
    post = posterior.grid_posterior(f_vals, marks, noise_var, log_prior, z)
    kl, _, _ = posterior.best_gaussian_kl(z, post)
    return dict(z=z, x_grid=x_grid[:, 0], joint=joint, post=post, best_gauss_kl=kl)


# -- the named sweeps: each page module owns its task list -------------------------------
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
        from .dask_map import dask_map

        # connects to a tcp:// scheduler before anything runs; the Dask bar counts models
        with dask_map(dask, progress=progress) as map_fn:
            return run_sweep(tasks, progress=False, map_fn=map_fn, device=device)
    map_fn = process_map(workers) if workers > 1 else map
    return run_sweep(tasks, progress=progress, map_fn=map_fn, device=device)


def page_records(name: str, profile: str, train_missing: bool = False, retrain: bool = False,
                 device: str = "cpu") -> list[dict]:
    """The records of a named sweep for a book page (``sweep.load_or_run``), printing how
    many are available and, if some are not computed yet, which and how to compute them
    (a page says what is missing instead of silently training for an hour). ``device``
    ("cpu", "cuda" or "auto"): where missing records train (with ``train_missing``)."""
    if name not in SWEEPS:
        raise ValueError(f"unknown sweep {name!r}; choose one of {sorted(SWEEPS)}")
    tasks = SWEEPS[name](profile)
    records, missing = load_or_run(tasks, train_missing, retrain, device=device)
    print(f"{len(tasks)} tasks, {len(records)} available under profile {profile!r}")
    if missing:
        print(f"not computed yet ({len(missing)}):", sorted({re.sub(r"-v\d+-", " ", t.label) for t in missing}))
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


# -- App. D: the selection rules, as the code applies them ---------------------------------
def selection_rules() -> pd.DataFrame:
    """Which restart and which hyper-parameters each table of the book uses, built from
    the constants the table code itself reads (``evaluate.RESTART_RULE``,
    ``sec5.TABLE2_SELECTION``, ``sec7.TABLE34_SELECTION``), so the App. D page cannot drift
    from what was run."""

    restart = evaluate.RESTART_RULE
    knn = "the smallest smooth kNN statistic of p(x) on the validation set"
    t2 = {"knn": knn, "val_loss": "the smallest validation loss, the method's own objective"}
    t34 = {"knn_val": knn, "val_loss": "the smallest validation loss"}
    rows = [
        ("Table 1 (Sec. 8)", restart, "none: one row per method, IWAE S and latent dimension K"),
        ("Table 2 (Sec. 5)", restart,
         f"{t2[sec5.TABLE2_SELECTION]} (App. D); the page also shows Table 2's caption rule "
         f"({t2['val_loss' if sec5.TABLE2_SELECTION == 'knn' else 'knn']})"),
        ("Tables 3-4 (Sec. 7)", restart,
         f"{t34[sec7.TABLE34_SELECTION]}, over alpha, gamma and the method's own S or T x R (App. D)"),
        ("Case A (Sec. 8)", restart, "none: sigma^2 fixed at the truth, or learned jointly"),
        ("Tables 5-6 (App. E.3)", "not run yet", "not run yet"),
    ]
    return pd.DataFrame(rows, columns=["table", "restart", "hyper-parameters"])
