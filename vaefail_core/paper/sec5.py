"""Section 5 and Appendices D, E.1, E.2: Table 2, Figures 4-5 and 8-15, and the MLEO/PMO
mechanism of Eq. 3, all computed from the cached Section-5 sweep
(``section5_tasks``; ``vaefail sweep section5 --profile P``).

What is here (every function returns plain data; the two notebooks only call these):

* ``table2`` / ``table2_per_version`` / ``write_table2_csv``: the smooth kNN statistic
  of the chosen model per data set and method (Table 2), with the hyper-parameter setting
  chosen per data version by the validation loss (Table 2's caption) or by the
  validation kNN statistic (App. D), ``paper_table2`` (the paper's numbers, reference
  only), ``vae_vs_iwae`` (significance test), ``method_order``; with ``include_flow``
  also the rows of a normalizing-flow encoder (method "Flow", ours, issue 15; sweep
  ``section5_flow``, ``section5_flow_tasks``), off by default;
* ``init_counts``: was the selected restart initialised at the ground truth or randomly
  (Sec. 4: if random restarts win, the ELBO prefers a model other than the truth);
* ``mechanism_per_version`` / ``mechanism_table``: the negative ELBO split into MLEO and
  PMO (Eq. 3) at the ground-truth initialisation and at the selected optimum;
* ``fig4_data``, ``fig5_data``, ``qualitative_data`` (Figs. 8-15) and the composite
  figure functions ``draw_fig4``, ``draw_fig5``, ``draw_qualitative``;
* ``page_claims`` / ``claims_evidence``: the Section 5 page's claims for the scorecard
  (Eq. 3, the optimum vs the truth, random vs ground-truth restarts, the flow rows),
  judged on the caches above (``claims``; Table 2's cells and orderings are its own).

Our kNN statistic is a z-score (``metrics.smooth_knn_statistic``), not the paper's raw
scale: orderings and significance can be compared with Table 2, magnitudes cannot.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from scipy import stats

from .. import data as D
from .. import plots, set_seed
from .. import posterior as P
from . import reference
from .claim import Claim, difference_terms
from ..cache import RESULTS_DIR, cached_json, write_table_csv
from ..evaluate import as_members, f_on_grid, posterior_grid, sample_px
from ..nets import HIDDEN_SYNTHETIC
from ..objectives import VAEConfig, derive_seed
from ..plots import install_empty_panel_check
from ..profiles import get_profile
from ..sweep import Task, grid_tasks, load_or_run, load_selected, verify_record
from ..train import Member, TrainConfig, train_ensemble

__all__ = [
    "TABLE2_DATASETS", "E2_DATASETS", "METHOD_NAMES", "PAPER_TABLE2", "PAPER_FIGURES",
    "section5_flow_tasks", "TABLE2_METHODS",
    "load_records", "ensure_records", "settings_frame", "choose_settings", "table2_per_version", "table2",
    "write_table2_csv", "paper_table2", "table2_display", "vae_vs_iwae", "method_order", "order_gaps", "order_verdict",
    "init_counts", "gt_init_split", "best_gaussian_pmo", "split_at", "mechanism_per_version", "mechanism_table",
    "fig4_data", "fig5_data", "qualitative_data", "draw_fig4", "draw_fig5", "draw_qualitative",
    "CLAIMS_SWEEP", "CLAIMS_VERSION", "page_claims", "claims_evidence", "flow_records",
]

#: Table 2's data sets (both conditions of Sec. 5.1 hold), in the paper's row order
TABLE2_DATASETS = ("clusters", "figure8")
#: App. E.2's data sets (one condition only): Fig. 5c (Circle), Fig. 5d (Absolute-Value)
E2_DATASETS = ("circle", "absolute_value")
METHOD_NAMES = {"iwae": "IWAE", "lin": "LIN", "vae": "VAE", "flow": "Flow"}
#: Table 2's methods in the paper's column order; "Flow" (ours, issue 15: the ELBO with a
#: normalizing-flow encoder, sweep ``section5_flow``) follows them when asked for
TABLE2_METHODS = ("IWAE", "LIN", "VAE")
_METHOD_KEYS = {v: k for k, v in METHOD_NAMES.items()}
DATASET_NAMES = {"clusters": "Clusters", "figure8": "Figure-8", "circle": "Circle",
                 "absolute_value": "Absolute-Value"}
#: Table 2's data sets (both conditions of Sec. 5.1 hold) get the full App. D grid;
#: the two one-condition sets of App. E.2 (Fig. 5c-d) get VAE and IWAE.
SEC5_BOTH_CONDITIONS = ("figure8", "clusters")
SEC5_ONE_CONDITION = ("circle", "absolute_value")


def section5_tasks(profile: str) -> list:
    """Every training task behind Table 2 and Figures 5, 8-15 under ``profile``."""
    return (grid_tasks(SEC5_BOTH_CONDITIONS, profile, methods=("vae", "iwae", "lin"))
            + grid_tasks(SEC5_ONE_CONDITION, profile, methods=("vae", "iwae")))


def section5_flow_tasks(profile: str) -> list:
    """Table 2 with a flow encoder (``vaefail sweep section5_flow``): method "flow" on
    Table 2's data sets, the versions and restarts of ``section5_tasks`` (ground-truth
    restarts start with the decoder at the truth and the flow at the identity, i.e. the
    Gaussian encoder, then fit q as the other methods fit theirs), one task per layer
    count in ``sweep.FLOW_LAYERS``."""
    return grid_tasks(SEC5_BOTH_CONDITIONS, profile, methods=("flow",))


#: Table 2 of the paper (App. E.1) and the figures of App. I (reference only: ``paper.reference``)
PAPER_TABLE2 = reference.TABLE2
PAPER_FIGURES = reference.FIGURES
TABLE2_COLUMNS = ["dataset", "method", "mean", "sd", "n_versions"]
SELECTIONS = ("val_loss", "knn")
#: App. D's rule for Table 2's hyper-parameters (the smallest smooth kNN statistic, here on
#: the validation set); Table 2's caption names the validation loss instead ("val_loss",
#: shown beside it on the page)
TABLE2_SELECTION = "knn"


# --------------------------------------------------------------------------------------
# Records -> one row per hyper-parameter setting (task)
# --------------------------------------------------------------------------------------
def load_records(profile: str, cache_dir=None, include_flow: bool = False) -> list[dict]:
    """Every record of the Section-5 sweep under ``profile`` (verified against its task),
    with ``include_flow`` also those of ``section5_flow``. Raises FileNotFoundError naming
    how many are missing and the command to compute them."""
    sweeps = [("section5", section5_tasks(profile))]
    if include_flow:
        sweeps.append(("section5_flow", section5_flow_tasks(profile)))
    out = []
    for name, tasks in sweeps:
        recs = [verify_record(t, cache_dir) for t in tasks]
        missing = [t.label for t, r in zip(tasks, recs) if r is None]
        if missing:
            raise FileNotFoundError(
                f"{len(missing)} of {len(tasks)} {name} records missing for profile {profile!r} "
                f"(e.g. {missing[0]}); run `vaefail sweep {name} --profile {profile}`")
        out += recs
    return out


def ensure_records(profile: str, recompute: bool = False, workers: int = 2,
                   device: str = "cpu") -> list[dict]:
    """The Section-5 sweep's records under ``profile``: loaded from the cache, with any
    missing (or stale) task trained first (``sweep.run_sweep``; ``vaefail sweep section5
    --profile P`` does the same from the shell). ``recompute=True`` retrains every task.
    The quick sweep takes well under a minute on 2 cores; reduced about 20-40 min.
    The one policy for missing records is ``sweep.load_or_run``; the Section 5 pages ask
    it to train what is missing. ``device`` ("cpu", "cuda" or "auto"): where it trains
    (on a GPU pass ``workers=1``: the ensembles are sized to its memory)."""
    records, _ = load_or_run(section5_tasks(profile), train_missing=True, retrain=recompute, workers=workers,
                             device=device)
    return records


def _setting(task: dict) -> str:
    if task["method"] == "iwae":
        return f"S={task['iwae_samples']}"
    if task["method"] == "lin":
        return f"T={task['lin_T']:g},R={task['lin_R']}"
    if task["method"] == "flow":
        return f"L={task['flow_layers']}"
    return "-"


def settings_frame(records: Iterable[dict]) -> pd.DataFrame:
    """One row per record (data set x version x method x hyper-parameter setting): the
    restart selected by the validation objective (Sec. 4) and its metrics.

    Columns: dataset, version, method (IWAE/LIN/VAE), setting, key, restart, init
    (of the selected restart), val_loss (its mean validation objective: -ELBO for VAE /
    LIN, -IWAE bound with the task's S for IWAE), knn_val, knn_test, test_neg_elbo,
    test_log_px_is, best_gt_val_loss, best_random_val_loss (best validation objective
    over the ground-truth / random restarts; NaN if there were none)."""
    rows = []
    for rec in records:
        task = rec["config"]["task"]
        sel = rec["selected"]
        members = {m["restart"]: m for m in rec["members"]}
        if sel["restart"] not in members:
            raise ValueError(f"record {rec.get('label')}: selected restart {sel['restart']} not among its members")
        m = members[sel["restart"]]
        gt = [r["val_objective"] for r in rec["members"] if r["init"] == "gt" and r["val_objective"] is not None]
        rnd = [r["val_objective"] for r in rec["members"] if r["init"] == "random" and r["val_objective"] is not None]
        rows.append({
            "dataset": task["dataset"], "version": int(task["version"]),
            "method": METHOD_NAMES[task["method"]], "setting": _setting(task),
            "key": rec["key"], "restart": int(sel["restart"]), "init": m["init"],
            "val_loss": _num(m["val_objective"]), "knn_val": _num(sel.get("knn_val")),
            "knn_test": _num(sel.get("knn_test")), "test_neg_elbo": _num(m.get("test_neg_elbo")),
            "test_log_px_is": _num(sel.get("test_log_px_is")),
            "best_gt_val_loss": min(gt) if gt else np.nan,
            "best_random_val_loss": min(rnd) if rnd else np.nan,
        })
    if not rows:
        raise ValueError("no records given")
    return pd.DataFrame(rows)


def _num(v) -> float:
    return np.nan if v is None else float(v)


def choose_settings(frame: pd.DataFrame, selection: str = TABLE2_SELECTION) -> pd.DataFrame:
    """Per (data set, method, data version), the hyper-parameter setting whose selected
    restart has the smallest ``val_loss`` (``selection="val_loss"``, Table 2's caption)
    or the smallest validation kNN statistic (``selection="knn"``, App. D; never the
    test kNN). Ties go to the first setting in sweep order."""
    if selection not in SELECTIONS:
        raise ValueError(f"selection must be one of {SELECTIONS}, got {selection!r}")
    col = "val_loss" if selection == "val_loss" else "knn_val"
    if frame[col].isna().any():
        bad = frame.loc[frame[col].isna(), "key"].iloc[0]
        raise ValueError(f"{col} missing for record {bad[:16]}: cannot select by {selection!r}")
    idx = frame.groupby(["dataset", "method", "version"], sort=True)[col].idxmin()
    out = frame.loc[idx.values].reset_index(drop=True)
    out.insert(0, "selection", selection)
    return out


def table2_per_version(profile: str | None = None, selection: str = TABLE2_SELECTION,
                       datasets: Sequence[str] = TABLE2_DATASETS, records=None,
                       cache_dir=None, include_flow: bool = False) -> pd.DataFrame:
    """The chosen setting of every (data set, method, data version), with its metrics
    (``choose_settings`` applied to the records of the Section-5 sweep; with
    ``include_flow`` also of ``section5_flow``, method "Flow", setting "L=<layers>").
    Without it, flow records among ``records`` are left out."""
    recs = load_records(profile, cache_dir, include_flow) if records is None else list(records)
    frame = settings_frame(recs)
    if not include_flow:
        frame = frame[frame["method"] != METHOD_NAMES["flow"]]
    unknown = sorted(set(datasets) - set(frame["dataset"]))
    if unknown:
        raise ValueError(f"no records for data set(s) {unknown}")
    frame = frame[frame["dataset"].isin(datasets)]
    return choose_settings(frame, selection)


def table2(profile: str | None = None, selection: str = TABLE2_SELECTION,
           datasets: Sequence[str] = TABLE2_DATASETS, records=None, cache_dir=None,
           include_flow: bool = False) -> pd.DataFrame:
    """Table 2 (App. E.1): smooth kNN statistic of the chosen model's samples against the
    held-out *test* set of its data version (lower is better), mean and sample sd
    (ddof = 1) over data versions, per data set and method.

    Selection (per method and data version): the restart is the one with the best
    validation objective (Sec. 4, App. D; done by the sweep). Among the method's
    hyper-parameter settings (IWAE: S; LIN: T x R; VAE: none), ``selection="knn"`` (the
    default, ``TABLE2_SELECTION``: App. D, "Hyper-parameter Selection") takes the one
    whose selected restart has the smallest smooth kNN statistic, computed on the
    *validation* set so the test set stays untouched; ``selection="val_loss"`` takes the
    smallest validation loss, the method's own objective, as Table 2's caption says.
    (With the validation loss, IWAE tends to pick the largest S, whose bound is tightest.)

    Returns a tidy frame with columns dataset, method, mean, sd, n_versions, settings
    (how often each setting was chosen) and selection, one row per cell, in the paper's
    order (data sets as given, methods IWAE, LIN, VAE). ``include_flow``: also the flow
    encoder's rows (method "Flow", after VAE; settings over its layer counts), from the
    ``section5_flow`` records (loaded with the others unless ``records`` are given).
    """
    pv = table2_per_version(profile, selection, datasets, records, cache_dir, include_flow)
    methods = TABLE2_METHODS + ((METHOD_NAMES["flow"],) if include_flow else ())
    rows = []
    for ds in datasets:
        for meth in methods:
            g = pv[(pv["dataset"] == ds) & (pv["method"] == meth)]
            if g.empty:
                continue
            v = g["knn_test"].to_numpy(float)
            counts = g["setting"].value_counts()
            settings = ", ".join(f"{s} x{counts[s]}" for s in sorted(counts.index))
            rows.append({"dataset": ds, "method": meth, "mean": float(np.mean(v)),
                         "sd": float(np.std(v, ddof=1)) if len(v) > 1 else np.nan,
                         "n_versions": int(len(v)), "settings": settings, "selection": selection})
    df = pd.DataFrame(rows)
    df.attrs["profile"] = profile
    return df


def write_table2_csv(df: pd.DataFrame, profile: str, results_dir=None, include_flow: bool = False) -> Path:
    """Write ``results/<profile>/table2.csv`` with exactly the columns dataset, method,
    mean, sd, n_versions (one row per cell of ``df``, values written with ``cache.CSV_FLOAT``, 4 significant digits).
    Rows of method "Flow" are written only with ``include_flow`` (extra rows after the
    paper's methods). Returns the path."""
    if not include_flow:
        df = df[df["method"] != METHOD_NAMES["flow"]]
    missing = [c for c in TABLE2_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"table is missing column(s) {missing}")
    if df.duplicated(["dataset", "method"]).any():
        raise ValueError("table has more than one row per (dataset, method) cell")
    out = df[TABLE2_COLUMNS].copy()
    out[["mean", "sd"]] = out[["mean", "sd"]].astype(float)
    return write_table_csv(out, Path(results_dir or RESULTS_DIR) / profile / "table2.csv")


def paper_table2() -> pd.DataFrame:
    """The paper's Table 2 as a tidy frame (reference only; columns as ``table2``)."""
    return pd.DataFrame([{"dataset": ds, "method": m, "mean": mu, "sd": sd}
                         for (ds, m), (mu, sd) in PAPER_TABLE2.items()])


def table2_display(df: pd.DataFrame, with_paper: bool = True, digits: int = 2) -> pd.DataFrame:
    """Table 2 laid out as in the paper (rows: data sets, columns: methods, cells
    "mean +- sd"), with the paper's numbers in reference columns ("paper: ...")."""
    cell = lambda mu, sd: f"{mu:.{digits}f} +- {sd:.{digits}f}" if not np.isnan(sd) else f"{mu:.{digits}f}"
    rows = []
    for ds in dict.fromkeys(df["dataset"]):
        row = {"data set": DATASET_NAMES.get(ds, ds)}
        for _, r in df[df["dataset"] == ds].iterrows():
            row[f"ours: {r['method']}"] = cell(r["mean"], r["sd"])
        if with_paper:
            for m in ("IWAE", "LIN", "VAE"):
                if (ds, m) in PAPER_TABLE2:
                    mu, sd = PAPER_TABLE2[(ds, m)]
                    row[f"paper: {m}"] = f"{mu:.3f} +- {sd:.3f}"
        rows.append(row)
    return pd.DataFrame(rows).set_index("data set")


def vae_vs_iwae(per_version: pd.DataFrame, alternative: str = "greater") -> pd.DataFrame:
    """Is the VAE's kNN statistic larger (worse) than the IWAE's? Per data set.

    Test: the paired t-test over data versions (``scipy.stats.ttest_rel``), because both
    methods are trained and evaluated on the same data versions, so pairing removes the
    version-to-version variation of the data; one-sided (``alternative="greater"``:
    H1 VAE > IWAE) as Table 2 claims a direction. With 4 versions a rank test cannot reach
    p < 0.05 when paired (Wilcoxon's smallest one-sided p is 1/16), so the t-test is the
    primary test; the unpaired exact Mann-Whitney U (``scipy.stats.mannwhitneyu``) is
    reported beside it as a distribution-free check (smallest one-sided p with 4 + 4
    values: 1/70). ``alternative="less"`` tests VAE < IWAE and "two-sided" either.
    """
    rows = []
    for ds in dict.fromkeys(per_version["dataset"]):
        g = per_version[per_version["dataset"] == ds]
        a = g[g["method"] == "VAE"].set_index("version")["knn_test"]
        b = g[g["method"] == "IWAE"].set_index("version")["knn_test"]
        common = a.index.intersection(b.index)
        a, b = a.loc[common].to_numpy(float), b.loc[common].to_numpy(float)
        n = len(common)
        t_p = float(stats.ttest_rel(a, b, alternative=alternative).pvalue) if n >= 2 else np.nan
        u_p = (float(stats.mannwhitneyu(a, b, alternative=alternative, method="exact").pvalue)
               if n >= 1 else np.nan)
        rows.append({"dataset": ds, "n_versions": n, "VAE mean": float(a.mean()) if n else np.nan,
                     "IWAE mean": float(b.mean()) if n else np.nan,
                     "mean diff (VAE - IWAE)": float((a - b).mean()) if n else np.nan,
                     "VAE worse in": f"{int((a > b).sum())}/{n}",
                     "paired t p": t_p, "Mann-Whitney p": u_p,
                     "significant (t, 0.05)": bool(t_p < 0.05) if not np.isnan(t_p) else False})
    out = pd.DataFrame(rows).set_index("dataset")
    out.attrs["alternative"] = alternative
    return out


def method_order(df: pd.DataFrame, col: str = "mean") -> pd.Series:
    """Per data set, the methods sorted by ``col`` (best first), e.g. "IWAE < LIN < VAE"."""
    return pd.Series({ds: " < ".join(g.sort_values([col, "method"])["method"])
                      for ds, g in df.groupby("dataset", sort=False)}, name="order (best first)")


def order_gaps(df: pd.DataFrame) -> pd.DataFrame:
    """How well separated the ordering is: for each data set, each adjacent pair of
    methods in ``method_order`` (better first), the gap in mean and its standard error
    sqrt(sd_a^2 / n_a + sd_b^2 / n_b) over data versions; ``separated`` when the gap
    exceeds 2 standard errors (a rough, unpaired 95 % criterion)."""
    rows = []
    for ds, g in df.groupby("dataset", sort=False):
        g = g.sort_values(["mean", "method"]).reset_index(drop=True)
        for a, b in zip(g.index[:-1], g.index[1:]):
            ra, rb = g.loc[a], g.loc[b]
            se = math.sqrt(ra["sd"] ** 2 / ra["n_versions"] + rb["sd"] ** 2 / rb["n_versions"])
            gap = float(rb["mean"] - ra["mean"])
            rows.append({"dataset": ds, "pair": f"{ra['method']} < {rb['method']}", "gap": gap,
                         "se": se, "separated (gap > 2 se)": bool(gap > 2 * se)})
    return pd.DataFrame(rows)


def order_verdict(ours: str, paper: str) -> str:
    """Compare two orderings like "IWAE < LIN < VAE" (best first)."""
    a, b = ours.split(" < "), paper.split(" < ")
    if a == b:
        return "reproduced"
    if a[0] == b[0]:
        return f"partly: {a[0]} best as in the paper, the others swapped"
    if a[-1] == b[-1]:
        return f"partly: {a[-1]} worst as in the paper, the others swapped"
    return "not reproduced"


def init_counts(per_version: pd.DataFrame) -> pd.DataFrame:
    """For the chosen settings: how often the restart selected by validation objective
    was initialised at the ground truth vs randomly, and by how much the best random
    restart's validation loss beat the best ground-truth one (mean over versions;
    negative: random restarts win, i.e. the objective prefers a model that is not the
    truth; Sec. 4). One row per data set and method."""
    rows = []
    for (ds, meth), g in per_version.groupby(["dataset", "method"], sort=False):
        margin = (g["best_random_val_loss"] - g["best_gt_val_loss"]).to_numpy(float)
        rows.append({"dataset": ds, "method": meth, "n_versions": len(g),
                     "selected gt": int((g["init"] == "gt").sum()),
                     "selected random": int((g["init"] == "random").sum()),
                     "best random - best gt val loss": float(np.nanmean(margin)) if np.isfinite(margin).any() else np.nan})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------
# Eq. 3: MLEO / PMO at the ground-truth initialisation and at the selected optimum
# --------------------------------------------------------------------------------------
#: z-grid of the split: step 0.005, fine enough for encoder sds down to ~0.015
MECH_GRID = (-6.0, 6.0, 2401)
#: test points on which the best-Gaussian PMO (ideal MFG) is computed (a global lattice
#: search per point, ``posterior.best_gaussian_kl``: the slow part, hence a subset and
#: every second grid point, step 0.01)
MECH_BEST_N = 300
_MECH_VERSION = "sec5-mechanism-2"


def _cache_missing(profile: str, name: str):
    """A ``compute`` for ``cached_json`` that refuses to compute (``cache_only``)."""
    def compute():
        raise FileNotFoundError(f"results/{profile}/{name}.json holds no result for these records; "
                                f"execute the sec5_failures page to compute it")
    return compute


def _grid():
    return P.z_grid(*MECH_GRID)


def _encoder_q(model, x) -> tuple[np.ndarray, np.ndarray]:
    with torch.no_grad():
        mu, lv = model.encode(as_members(x, model.n_models, model.device))
    return mu[..., 0].cpu().double().numpy(), torch.exp(0.5 * lv[..., 0]).cpu().double().numpy()


def best_gaussian_pmo(f_vals, x, noise_var, z=None) -> np.ndarray:
    """Per x, KL(best Gaussian || exact posterior) of a decoder tabulated on grid z: the
    PMO an ideal non-amortised MFG would pay (Condition 1 of Sec. 5.1; low means simple
    posteriors). Uses every second point of z (f_vals [G, D] on z)."""
    z = _grid() if z is None else torch.as_tensor(np.asarray(z), dtype=torch.float64)
    f_vals = torch.as_tensor(np.asarray(f_vals), dtype=torch.float64)
    zz, ff = z[::2], f_vals[::2]
    post = P.grid_posterior(ff, x, noise_var, z=zz)
    # chunk=32: ~3x faster than the default 128 here (smaller temporaries, less page faulting)
    return P.best_gaussian_kl(zz, post, chunk=32)[0].numpy()


def split_at(model, x, truth, m: int = 0, best_n: int = MECH_BEST_N, chunk: int = 500,
             pmo_best_gaussian: float | None = None) -> dict:
    """Eq. 3 for member ``m`` of ``model`` on data x [N, D] (K = 1, exact on a z-grid).

    * ``mleo`` = mean over x of log p(x) - log p_theta(x): the true log p(x) by quadrature
      with the ground truth's f (its surrogate), the model's by quadrature with its f;
    * ``pmo`` = mean over x of KL(q(z|x) || p_theta(z|x)), q the encoder's Gaussian and
      p_theta(z|x) the exact grid posterior of the learned decoder;
    * ``neg_elbo`` = the exact -ELBO = ``entropy + mleo + pmo`` (``entropy`` = mean of
      -log p(x));
    * ``pmo_best_gaussian``: the PMO an ideal (per-x, non-amortised) Gaussian would pay
      under this decoder, on the first ``best_n`` points: how simple its posteriors are;
    * ``q_sd_min`` and ``frac_q_off_grid`` flag encoders the grid cannot resolve
      (sd < 3 grid steps or |mu| > 5.5).

    ``pmo_best_gaussian`` may be passed in when already known (it depends on the decoder
    only, e.g. the same ground-truth decoder for VAE and IWAE).
    """
    z = _grid()
    x = np.asarray(x, dtype=np.float64)
    nv = model.noise_var[m].detach().cpu().double()
    f_model = torch.as_tensor(f_on_grid(model, z[:, None].float())[m], dtype=torch.float64)
    f_true = torch.as_tensor(truth.f(z.numpy()[:, None]), dtype=torch.float64)
    mu, sd = _encoder_q(model, x)
    mu, sd = mu[m], sd[m]
    parts = []
    for a in range(0, len(x), chunk):
        xb = x[a:a + chunk]
        lt = P.log_px_grid(f_true, xb, truth.noise_var, z=z)
        parts.append(P.neg_elbo_split(f_model, xb, nv, mu[a:a + chunk], sd[a:a + chunk],
                                      log_px_true=lt, z=z) | {"n": len(xb)})
    w = np.array([p["n"] for p in parts], float)
    out = {k: float(np.average([p[k] for p in parts], weights=w))
           for k in ("neg_log_px_model", "pmo", "neg_elbo", "entropy", "mleo")}
    out["pmo_best_gaussian"] = (float(best_gaussian_pmo(f_model, x[:best_n], nv, z).mean())
                                if pmo_best_gaussian is None else float(pmo_best_gaussian))
    dz = float(z[1] - z[0])
    out["q_sd_min"] = float(sd.min())
    out["frac_q_off_grid"] = float(((sd < 3 * dz) | (np.abs(mu) > 5.5)).mean())
    return out


def _gt_members(profile: str, keys: Sequence[tuple[str, int, str, int]]):
    """Re-run the ground-truth initialisation (App. D; ``train.train_ensemble`` with 0
    joint epochs: decoder = the surrogate, encoder fit with the decoder frozen) of
    restart 0 of the sweep's tasks, one ensemble per (method, S). keys: (dataset,
    version, method, S). Member seeds, data and epochs are the sweep's, so each member
    is the starting point of that task's restart 0. Returns {key: (model, member index,
    final encoder-fit loss)}."""
    p = get_profile(profile)
    out = {}
    by_obj: dict[tuple[str, int], list] = {}
    for k in keys:
        by_obj.setdefault((k[2], k[3]), []).append(k)
    for (method, S), ks in sorted(by_obj.items()):
        xs, zs, noise, sur, members = [], [], [], [], []
        for ds, v, _, _ in ks:
            g = D.get(ds)
            tr = D.splits(ds, v, n_train=p.n_train, n_val=p.n_val, n_test=p.n_test)["train"]
            xs.append(np.asarray(tr.x, np.float32))
            zs.append(np.asarray(tr.z, np.float32).reshape(len(tr.z), -1))
            noise.append(np.broadcast_to(np.asarray(g.noise_var, float), (g.data_dim,)))
            sur.append(g.surrogate())
            members.append(Member(seed=derive_seed(p.seed, f"{ds}/{v}/0"), init="gt"))
        g0 = D.get(ks[0][0])
        arch = VAEConfig(data_dim=g0.data_dim, latent_dim=g0.latent_dim, hidden=HIDDEN_SYNTHETIC)
        cfg = TrainConfig(method="vae" if method == "lin" else method, iwae_samples=max(1, S), epochs=0,
                          batch_size=p.batch_size, lr=p.lr,
                          **Task(ks[0][0], ks[0][1], "vae", profile).gt_train_kwargs())
        res = train_ensemble(arch, cfg, members, {"x": np.stack(xs), "z": np.stack(zs)},
                             noise_var=np.stack(noise), surrogates=sur, device="cpu", progress=False)
        for j, k in enumerate(ks):
            out[k] = (res.model, j, float(res.history["gt_fit_loss"][j]))
    return out


def gt_init_split(profile: str, datasets: Sequence[str] = TABLE2_DATASETS,
                  methods: Sequence[str] = ("VAE", "IWAE"), selection: str = TABLE2_SELECTION,
                  retrain: bool = False, records=None, cache_only: bool = False) -> pd.DataFrame:
    """Eq. 3 at the ground-truth initialisation, per data set, method and data version:
    the encoder the sweep's restart 0 started from (``_gt_members``; for IWAE fit by the
    IWAE bound with the chosen S), evaluated with ``split_at`` on the version's test set.
    Cached in ``results/<profile>/sec5_mechanism_gt.json`` (a few numbers per row).
    ``gt_fit_loss_ours`` vs ``gt_fit_loss_record`` checks that we rebuilt the same start.
    ``cache_only``: raise ``FileNotFoundError`` instead of computing a missing result."""
    pv = table2_per_version(profile, selection, datasets, records)
    pv = pv[pv["method"].isin(methods)]
    recs = {r["key"]: r for r in (load_records(profile) if records is None else records)}
    keys = []
    for _, r in pv.iterrows():
        S = int(r["setting"][2:]) if r["method"] == "IWAE" else 0
        keys.append((r["dataset"], int(r["version"]), _METHOD_KEYS[r["method"]], S))
    cfg = {"v": _MECH_VERSION, "profile": get_profile(profile).to_dict(), "keys": [list(k) for k in keys],
           "records": pv["key"].tolist(), "grid": list(MECH_GRID), "best_n": MECH_BEST_N}

    def compute():
        p = get_profile(profile)
        models = _gt_members(profile, keys)
        rows, best = [], {}
        for k, (_, r) in zip(keys, pv.iterrows()):
            model, j, fit = models[k]
            x = D.splits(k[0], k[1], n_train=p.n_train, n_val=p.n_val, n_test=p.n_test)["test"].x
            s = split_at(model, x, D.get(k[0]), m=j, pmo_best_gaussian=best.get(k[:2]))
            best[k[:2]] = s["pmo_best_gaussian"]     # the decoder is the surrogate for every method
            rec_fit = next((m["gt_fit_loss"] for m in recs[r["key"]]["members"]
                            if m["restart"] == 0 and m["init"] == "gt"), None)
            rows.append({"dataset": k[0], "version": k[1], "method": r["method"], "setting": r["setting"],
                         **s, "gt_fit_loss_ours": fit, "gt_fit_loss_record": rec_fit})
        return {"rows": rows}

    fn = _cache_missing(profile, "sec5_mechanism_gt") if cache_only else compute
    return pd.DataFrame(cached_json(profile, "sec5_mechanism_gt", cfg, fn, retrain=retrain)["rows"])


def mechanism_per_version(profile: str, datasets: Sequence[str] = TABLE2_DATASETS,
                          methods: Sequence[str] = ("VAE", "IWAE"), selection: str = TABLE2_SELECTION,
                          retrain: bool = False, records=None, cache_dir=None,
                          cache_only: bool = False) -> pd.DataFrame:
    """Eq. 3 split (``split_at``) at the ground-truth initialisation (``gt_init_split``)
    and at the chosen optimum (the restart selected by validation objective, of the
    setting chosen as in Table 2), one row per data set, method, version and ``point``
    ("ground truth" | "optimum"). Evaluated on the version's test set. The optimum part is
    cached too (``sec5_mechanism_opt.json``, keyed by the chosen records' keys).
    ``cache_only``: raise ``FileNotFoundError`` instead of computing a missing part."""
    recs = load_records(profile, cache_dir) if records is None else list(records)
    by_key = {r["key"]: r for r in recs}
    pv = table2_per_version(profile, selection, datasets, recs)
    pv = pv[pv["method"].isin(methods)].reset_index(drop=True)
    gt = gt_init_split(profile, datasets, methods, selection, retrain, recs, cache_only=cache_only)
    cfg = {"v": _MECH_VERSION, "keys": pv["key"].tolist(), "grid": list(MECH_GRID), "best_n": MECH_BEST_N}

    def compute():
        p = get_profile(profile)
        rows = []
        for _, r in pv.iterrows():
            model = load_selected(by_key[r["key"]], cache_dir)
            x = D.splits(r["dataset"], int(r["version"]), n_train=p.n_train, n_val=p.n_val,
                         n_test=p.n_test)["test"].x
            rows.append({"dataset": r["dataset"], "version": int(r["version"]), "method": r["method"],
                         "setting": r["setting"], "init": r["init"],
                         **split_at(model, x, D.get(r["dataset"]))})
        return {"rows": rows}

    fn = _cache_missing(profile, "sec5_mechanism_opt") if cache_only else compute
    opt = pd.DataFrame(cached_json(profile, "sec5_mechanism_opt", cfg, fn, retrain=retrain)["rows"])
    gt = gt.assign(point="ground truth", init="gt")
    opt = opt.assign(point="optimum")
    cols = ["dataset", "method", "version", "point", "setting", "init", "mleo", "pmo", "neg_elbo",
            "entropy", "pmo_best_gaussian", "q_sd_min", "frac_q_off_grid",
            "gt_fit_loss_ours", "gt_fit_loss_record"]
    out = pd.concat([gt, opt], ignore_index=True)
    out["neg_elbo_minus_entropy"] = out["neg_elbo"] - out["entropy"]
    return out[cols + ["neg_elbo_minus_entropy"]]


def mechanism_table(per_version: pd.DataFrame) -> pd.DataFrame:
    """Mean over data versions of MLEO, PMO, -ELBO - entropy (= MLEO + PMO) and the
    best-Gaussian PMO, at the ground truth and at the optimum, per data set and method;
    plus the share of versions in which the optimum has a larger MLEO, a smaller PMO and
    a smaller -ELBO than the ground-truth start (the trade Sec. 5.2-5.3 describe), and
    in which the truth with an ideal per-x Gaussian q (-ELBO - H = its best-Gaussian PMO,
    MLEO = 0) would beat the optimum as trained, and the optimum's decoder with an
    ideal q (MLEO + its best-Gaussian PMO; the best-Gaussian PMO is on a subset of
    ``MECH_BEST_N`` test points). If the truth wins, the ground-truth start lost because
    of its amortised encoder, and the run does not show that the truth is not the ELBO's
    optimum. These comparisons are meaningful for the ELBO (VAE), not the IWAE bound."""
    cols = ["mleo", "pmo", "neg_elbo_minus_entropy", "pmo_best_gaussian"]
    rows = []
    for (ds, meth), g in per_version.groupby(["dataset", "method"], sort=False):
        a = g[g["point"] == "ground truth"].set_index("version")
        b = g[g["point"] == "optimum"].set_index("version")
        common = a.index.intersection(b.index)
        a, b = a.loc[common], b.loc[common]
        row = {"dataset": ds, "method": meth, "n_versions": len(common)}
        for c in cols:
            row[f"{c} (gt)"] = float(a[c].mean())
            row[f"{c} (opt)"] = float(b[c].mean())
        row["MLEO up"] = f"{int((b['mleo'] > a['mleo']).sum())}/{len(common)}"
        row["PMO down"] = f"{int((b['pmo'] < a['pmo']).sum())}/{len(common)}"
        row["-ELBO down"] = f"{int((b['neg_elbo'] < a['neg_elbo']).sum())}/{len(common)}"
        # the truth with an ideal per-x Gaussian q has -ELBO - H = 0 + its best-Gaussian PMO:
        # if that beats the optimum, the gap at "gt" is the encoder fit, not the decoder
        ideal_opt = b["mleo"] + b["pmo_best_gaussian"]
        row["ideal-q -ELBO - H (gt)"] = float(a["pmo_best_gaussian"].mean())
        row["ideal-q -ELBO - H (opt)"] = float(ideal_opt.mean())
        ideal = a["pmo_best_gaussian"] < b["neg_elbo_minus_entropy"]
        row["truth + ideal q beats optimum"] = f"{int(ideal.sum())}/{len(common)}"
        both = a["pmo_best_gaussian"] < ideal_opt
        row["truth beats optimum, both ideal q"] = f"{int(both.sum())}/{len(common)}"
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------
def fig4_data(name: str, n_points: int = 20000, n_kl: int = 1000, seed: int = 0,
              quantiles: Sequence[float] = (0.5, 0.9, 1.0)) -> dict:
    """Figure 4 (one row): draws from p(x), f(z) on a grid, starred training points of
    data version 0 chosen by quantiles of their best-Gaussian KL (typical, bad, worst:
    ``data.condition1_evidence``, ``plots.pick_by_quantile``) and their true posteriors."""
    g = D.get(name)
    ev = D.condition1_evidence(name, n=n_kl, version=0)
    idx = plots.pick_by_quantile(ev["_kl"], quantiles, mask=ev["_resolved"])
    stars = ev["_sample"].x[idx]
    zf = np.linspace(-4, 4, 4001)
    z, post = g.posterior(stars)
    return {"name": name, "x": g.sample(n_points, seed).x, "z_f": zf, "f": g.f(zf[:, None]),
            "stars": stars, "z": z, "post": post, "kl": ev["_kl"][idx],
            "frac_kl_gt": ev["frac_kl_gt"]}


def _chosen(profile, dataset, method, version, selection, records, cache_dir):
    flow = method == METHOD_NAMES["flow"]     # the flow's records, when asked for (ours)
    pv = table2_per_version(profile, selection, (dataset,), records, cache_dir, include_flow=flow)
    r = pv[(pv["method"] == method) & (pv["version"] == version)]
    if r.empty:
        raise ValueError(f"no {method} record for {dataset} version {version}")
    return r.iloc[0]


def fig5_data(profile: str, datasets: Sequence[str] = SEC5_BOTH_CONDITIONS + SEC5_ONE_CONDITION,
              methods: Sequence[str] = ("VAE", "IWAE"), version: int = 0, n: int = 20000,
              seed: int = 0, selection: str = TABLE2_SELECTION, records=None, cache_dir=None) -> dict:
    """Figure 5: for each data set, draws from the true p(x) and from the learned p_theta(x)
    of each method's chosen model on data version ``version`` (``evaluate.sample_px``),
    with that model's test kNN statistic. {dataset: {"true": x, method: {"x", "knn", ...}}}.
    A method "Flow" among ``methods`` draws the flow encoder's model (ours; its records
    are loaded with the others unless ``records`` are given)."""
    flow = METHOD_NAMES["flow"] in methods
    recs = load_records(profile, cache_dir, include_flow=flow) if records is None else list(records)
    by_key = {r["key"]: r for r in recs}
    out = {}
    for ds in datasets:
        entry = {"true": D.get(ds).sample(n, seed + 1).x}
        for meth in methods:
            r = _chosen(profile, ds, meth, version, selection, recs, cache_dir)
            model = load_selected(by_key[r["key"]], cache_dir)
            entry[meth] = {"x": sample_px(model, n, tag=f"fig5/{seed}")[0], "knn": float(r["knn_test"]),
                           "setting": r["setting"], "init": r["init"]}
        out[ds] = entry
    return out


def qualitative_data(profile: str, dataset: str, method: str, version: int = 0, n: int = 20000,
                     n_kl: int = 200, seed: int = 0, quantiles: Sequence[float] = (0.5, 0.9, 1.0),
                     selection: str = TABLE2_SELECTION, records=None, cache_dir=None) -> dict:
    """Panels (a)-(d) of Figures 8-15 for one method and data set (data version
    ``version``, the chosen model): (a) true and learned p(x) (draws) with the true and
    learned f(z); (b) f against z, true and learned; (c) true posteriors at starred
    test points (chosen by quantiles of the best-Gaussian KL of the *true* posterior);
    (d) posteriors of the learned model at the same points, with the encoder's q.
    Also the mean best-Gaussian KL (ideal MFG PMO) under the true and the learned f on
    ``n_kl`` test points: how much simpler the learned posteriors are (Figs. 9-15)."""
    recs = load_records(profile, cache_dir) if records is None else list(records)
    by_key = {r["key"]: r for r in recs}
    r = _chosen(profile, dataset, method, version, selection, recs, cache_dir)
    model = load_selected(by_key[r["key"]], cache_dir)
    g = D.get(dataset)
    p = get_profile(profile)
    x_test = D.splits(dataset, version, n_train=p.n_train, n_val=p.n_val, n_test=p.n_test)["test"].x[:n_kl]
    z = _grid()
    f_true = g.f(z.numpy()[:, None])
    post_true = P.grid_posterior(f_true, x_test, g.noise_var, z=z)
    kl_true = best_gaussian_pmo(f_true, x_test, g.noise_var, z)
    post_learned = torch.as_tensor(posterior_grid(model, x_test, z)[0])
    kl_learned = best_gaussian_pmo(f_on_grid(model, z[:, None].float())[0], x_test,
                                   model.noise_var[0].detach().double(), z)
    idx = plots.pick_by_quantile(kl_true, quantiles)
    mu, sd = _encoder_q(model, x_test[idx])
    zf = np.linspace(-4, 4, 4001)
    return {
        "dataset": dataset, "method": method, "version": version, "setting": r["setting"],
        "init": r["init"], "knn": float(r["knn_test"]), "figure": PAPER_FIGURES.get((_METHOD_KEYS[method], dataset)),
        "x_true": g.sample(n, seed + 1).x, "x_learned": sample_px(model, n, tag=f"qual/{seed}")[0],
        "z_f": zf, "f_true": g.f(zf[:, None]), "f_learned": f_on_grid(model, zf[:, None])[0],
        "stars": x_test[idx], "z": z.numpy(), "post_true": post_true[idx].numpy(),
        "post_learned": post_learned[idx].numpy(), "q_mu": mu[0], "q_sd": sd[0],
        "kl_true": float(kl_true.mean()), "kl_learned": float(kl_learned.mean()),
        "kl_true_stars": kl_true[idx], "kl_learned_stars": kl_learned[idx],
        "kl_true_all": kl_true, "kl_learned_all": kl_learned,
    }


def _extent(*xs, pad: float = 0.05):
    x = np.concatenate([np.asarray(a)[:, :2] for a in xs])
    lo, hi = np.quantile(x, 0.001, 0), np.quantile(x, 0.999, 0)
    d = pad * (hi - lo)
    return (lo[0] - d[0], hi[0] + d[0], lo[1] - d[1], hi[1] + d[1])


def draw_fig4(rows: Sequence[dict]):
    """Figure 4 from ``fig4_data`` rows: left p(x) with f coloured by z and stars, right
    the true posteriors at the stars. Returns the figure."""
    fig, axes = plt.subplots(len(rows), 2, figsize=(10, 4.2 * len(rows)), squeeze=False)
    for (ax_d, ax_p), d in zip(axes, rows):
        cols = plots.star_colors(len(d["stars"]))
        name = DATASET_NAMES.get(d["name"], d["name"])
        plots.plot_density_with_f(ax_d, d["x"], d["f"], d["z_f"], stars=d["stars"], star_colors_=cols,
                                  z_range=(-4, 4), bins=150, title=f"{name}: p(x) and f(z)")
        plots.plot_posteriors(ax_p, d["z"], d["post"], labels=[f"best-Gaussian KL {k:.2f}" for k in d["kl"]],
                              colors=cols, xlim=(-4, 4), title=f"{name}: p(z | x) at the stars")
        ax_p.legend(fontsize=9)
    fig.tight_layout()
    return fig


def draw_fig5(d: dict, methods: Sequence[str] = ("VAE", "IWAE")):
    """Figure 5 from ``fig5_data``: one row per data set, columns true / each method
    (2-D histograms of draws on a common range per row). Returns the figure."""
    fig, axes = plt.subplots(len(d), 1 + len(methods), figsize=(3.6 * (1 + len(methods)), 3.4 * len(d)),
                             squeeze=False)
    for row, (ds, e) in zip(axes, d.items()):
        ext = _extent(e["true"])
        plots.plot_density(row[0], e["true"], extent=ext, bins=120)
        row[0].set_title(f"{DATASET_NAMES.get(ds, ds)}: true p(x)", fontsize=10)
        for ax, meth in zip(row[1:], methods):
            plots.plot_density(ax, e[meth]["x"], extent=ext, bins=120)
            st = "" if e[meth]["setting"] == "-" else f" ({e[meth]['setting']})"
            ax.set_title(f"{meth}{st}: learned p(x), kNN {e[meth]['knn']:.1f}", fontsize=10)
        for ax in row:
            ax.set_xlim(ext[:2])
            ax.set_ylim(ext[2:])
    fig.tight_layout()
    return fig


def draw_qualitative(d: dict):
    """Figures 8-15 from ``qualitative_data``, in two rows. Top: (a) true p(x) with the
    true f and learned p(x) with the learned f, coloured by z; (b) f(z) coordinates, true
    (dashed) vs learned (solid). Bottom: (c) posteriors under the true f at the stars,
    (d) posteriors under the learned f (solid) with the encoder's Gaussian q (dotted),
    and the distribution of the per-point best-Gaussian KL under both f (how simple the
    posteriors are). Returns the figure."""
    fig, axes = plt.subplots(2, 3, figsize=(11, 7.6))
    ax = axes.ravel()
    cols = plots.star_colors(len(d["stars"]))
    ext = _extent(d["x_true"])
    plots.plot_density_with_f(ax[0], d["x_true"], d["f_true"], d["z_f"], stars=d["stars"], star_colors_=cols,
                              z_range=(-3, 3), extent=ext, bins=100, colorbar=False,
                              title="(a) true p(x) and f")
    plots.plot_density_with_f(ax[1], d["x_learned"], d["f_learned"], d["z_f"], stars=d["stars"],
                              star_colors_=cols, z_range=(-3, 3), extent=ext, bins=100,
                              title=f"(a) learned p(x) and f (kNN {d['knn']:.1f})")
    for a in ax[:2]:
        a.set_xlim(ext[:2])
        a.set_ylim(ext[2:])
    for j, c in enumerate(("C0", "C3")):
        ax[2].plot(d["z_f"], d["f_true"][:, j], ls="--", color=c, label=f"true $f_{j + 1}$")
        ax[2].plot(d["z_f"], d["f_learned"][:, j], ls="-", color=c, label=f"learned $f_{j + 1}$")
    ax[2].set_xlabel("z")
    ax[2].set_title("(b) true vs learned f(z)")
    ax[2].legend(fontsize=9, ncol=2)
    plots.plot_posteriors(ax[3], d["z"], d["post_true"], colors=cols, xlim=(-4, 4),
                          labels=[f"best-Gaussian KL {k:.2f}" for k in d["kl_true_stars"]],
                          title="(c) posteriors under the true f")
    plots.plot_posteriors(ax[4], d["z"], d["post_learned"], colors=cols, xlim=(-4, 4),
                          labels=[f"best-Gaussian KL {k:.2f}" for k in d["kl_learned_stars"]],
                          title="(d) posteriors under the learned f; q dotted")
    zq = d["z"]
    for mu, sd, c in zip(d["q_mu"], d["q_sd"], cols):
        ax[4].plot(zq, np.exp(-0.5 * ((zq - mu) / sd) ** 2) / (sd * math.sqrt(2 * math.pi)), ls=":", color=c)
    hi = max(float(np.quantile(d["kl_true_all"], 0.99)), float(np.quantile(d["kl_learned_all"], 0.99)), 1e-3)
    bins = np.linspace(0, hi, 30)
    ax[5].hist(np.clip(d["kl_true_all"], 0, hi), bins=bins, alpha=0.5, color="0.3",
               label=f"true f (mean {d['kl_true']:.3f})")
    ax[5].hist(np.clip(d["kl_learned_all"], 0, hi), bins=bins, alpha=0.5, color="C1",
               label=f"learned f (mean {d['kl_learned']:.3f})")
    ax[5].set_xlabel("KL(best Gaussian || posterior), nats")
    ax[5].set_ylabel("test points")
    ax[5].set_title("posterior complexity (lower: simpler)")
    ax[5].legend(fontsize=9)
    fig_no = f"paper Fig. {d['figure']}" if d["figure"] else "no paper figure"
    st = "" if d["setting"] == "-" else f"{d['setting']}, "
    fig.suptitle(f"{d['method']} ({st}selected restart started: {d['init']}) on "
                 f"{DATASET_NAMES.get(d['dataset'], d['dataset'])}, data version {d['version']} ({fig_no})",
                 fontsize=11)
    for a in (ax[3], ax[4]):
        a.legend(fontsize=9)
    for a in ax:
        a.title.set_fontsize(9.5)
    fig.tight_layout()
    return fig


#: points drawn per panel for the density plots, per profile
N_PLOT = {"quick": 5000, "reduced": 20000, "paper": 20000}


def setup_notebook(profile: str, seed: int) -> int:
    """Shared set-up of the Section 5 / App. E pages: seeds, pandas display options
    (the verdict tables hold sentences), and the per-panel sample size it returns."""
    set_seed(seed)
    install_empty_panel_check()
    pd.set_option("display.width", 160)
    pd.set_option("display.max_columns", 30)
    pd.set_option("display.max_colwidth", None)
    return N_PLOT[profile]


# --------------------------------------------------------------------------------------
# The page's claims (the scorecard's rows for ``sec5_failures`` beyond Table 2)
# --------------------------------------------------------------------------------------
#: the named sweeps whose records ``claims_evidence`` is given (their keys key its cache)
CLAIMS_SWEEP = ("section5", "section5_flow")
#: bump when ``claims_evidence`` changes what it returns
CLAIMS_VERSION = 2
_PAGE = "sec5_failures"
#: the paper's side of the flow rows: the question is ours
FLOW_PAPER = "beyond the paper (the paper's conclusion about rich families in general)"
#: the Eq. 3 quantities of the VAE's split, as evidence cells ("sec5", "mech", ds, point, q)
_MECH_CELLS = ("mleo", "pmo", "neg_elbo", "neg_elbo_minus_entropy", "pmo_best_gaussian")


def _mech(ds: str, point: str, q: str) -> tuple:
    return ("sec5", "mech", ds, point, q)


def page_claims() -> list[Claim]:
    """The claims the Section 5 page judges besides Table 2's cells and orderings (those
    are the registry's source "table2"): per data set, the Eq. 3 trade of the VAE from
    the ground-truth start to the selected optimum (MLEO up, PMO down, -ELBO down), that
    the ELBO's optimum is not the truth (the optimum beats the truth with an ideal
    Gaussian q), that the objective prefers another model (a random restart reaches a
    better validation objective than the ground-truth ones), and ours: whether a
    normalizing-flow encoder also avoids the failure (better than the VAE; vs IWAE).
    Every one is an ``effect``: one paired difference per data version."""
    out = []
    for ds in TABLE2_DATASETS:
        name = DATASET_NAMES[ds]
        eq3 = dict(source="sec5", kind="effect", where="Sec. 5.2-5.3, Eq. 3", page=_PAGE)
        out.append(Claim(f"sec5/{ds}/eq3/mleo_up", statement=f"{name} (VAE): the MLEO rises from the "
                         "ground-truth start to the selected optimum", paper="yes (qualitative)",
                         terms=difference_terms(_mech(ds, "opt", "mleo"), _mech(ds, "gt", "mleo")),
                         labels=("MLEO (opt)", "MLEO (gt)"), **eq3))
        out.append(Claim(f"sec5/{ds}/eq3/pmo_down", statement=f"{name} (VAE): the PMO falls from the "
                         "ground-truth start to the selected optimum", paper="yes (qualitative)",
                         terms=difference_terms(_mech(ds, "gt", "pmo"), _mech(ds, "opt", "pmo")),
                         labels=("PMO (gt)", "PMO (opt)"), **eq3))
        out.append(Claim(f"sec5/{ds}/eq3/neg_elbo_down", statement=f"{name} (VAE): the -ELBO (MLEO + PMO + H) "
                         "falls from the ground-truth start to the selected optimum", paper="yes (qualitative)",
                         terms=difference_terms(_mech(ds, "gt", "neg_elbo"), _mech(ds, "opt", "neg_elbo")),
                         labels=("-ELBO (gt)", "-ELBO (opt)"), **eq3))
        opt = dict(source="sec5", kind="effect", where="Sec. 5.1-5.3", page=_PAGE,
                   paper="yes (Table 2 and Eq. 3)")
        out.append(Claim(f"sec5/{ds}/optimum_not_truth/as_trained",
                         statement=f"{name} (VAE): the ELBO's optimum is not the truth: the selected optimum's "
                         "-ELBO - H is below the truth's with an ideal per-point Gaussian q",
                         terms=difference_terms(_mech(ds, "gt", "pmo_best_gaussian"), _mech(ds, "opt", "neg_elbo_minus_entropy")),
                         labels=("truth, ideal q", "optimum as trained"), **opt))
        out.append(Claim(f"sec5/{ds}/optimum_not_truth/ideal_q",
                         statement=f"{name} (VAE): the ELBO's optimum is not the truth: the optimum's decoder "
                         "beats the truth's when both get an ideal per-point Gaussian q (-ELBO - H)",
                         terms=difference_terms(_mech(ds, "gt", "pmo_best_gaussian"), _mech(ds, "opt", "ideal_q")),
                         labels=("truth, ideal q", "optimum, ideal q"), **opt))
        out.append(Claim(f"sec5/{ds}/prefers_other_model", source="sec5", kind="effect", where="Sec. 4", page=_PAGE,
                         statement=f"{name} (VAE): the objective prefers a model other than the truth: the best "
                         "random restart reaches a lower validation -ELBO than the best ground-truth restart",
                         paper="yes (Sec. 4: a restart away from the truth is selected)",
                         terms=difference_terms(("sec5", "start", ds, "gt"), ("sec5", "start", ds, "random")),
                         labels=("best gt restart", "best random restart")))
    for ds in TABLE2_DATASETS:
        name = DATASET_NAMES[ds]
        fl = dict(source="sec5", kind="effect", where="Table 2 (App. E.1) with a flow encoder", page=_PAGE,
                  paper=FLOW_PAPER)
        cell = lambda m: (("sec5", "flow", ds, m),)  # noqa: E731
        out.append(Claim(f"sec5/{ds}/flow<VAE", statement=f"{name}: a normalizing-flow encoder (ELBO) fits "
                         "p(x) better than the VAE (smooth kNN, lower is better)",
                         terms=((+1, "one", cell("VAE")), (-1, "one", cell("Flow"))), labels=("VAE", "Flow"), **fl))
        out.append(Claim(f"sec5/{ds}/flow<IWAE", statement=f"{name}: a normalizing-flow encoder (ELBO) fits "
                         "p(x) better than IWAE (within noise: as well as IWAE)",
                         terms=((+1, "one", cell("IWAE")), (-1, "one", cell("Flow"))), labels=("IWAE", "Flow"), **fl))
    return out


def flow_records(profile: str, cache_dir=None) -> list[dict] | None:
    """The verified records of the ``section5_flow`` sweep under ``profile``, or None if
    any is missing (read from the cache; nothing is trained)."""
    recs = [verify_record(t, cache_dir) for t in section5_flow_tasks(profile)]
    return None if any(r is None for r in recs) else recs


def claims_evidence(profile: str, records: list[dict]) -> dict:
    """The cells of ``page_claims``, one value per data version, from the page's caches:
    the Eq. 3 split of the VAE (``mechanism_per_version``, read from its cache only),
    the best validation objective of the ground-truth and random restarts of the VAE's
    chosen setting (``table2_per_version``), and Table 2's statistic with the flow
    (``table2_per_version(include_flow=True)``, if the ``section5_flow`` records exist).
    A missing cache leaves its cells out (their claims are "not run")."""
    out = {}
    is_flow = [r["config"]["task"]["method"] == "flow" for r in records]
    flow = [r for r, f in zip(records, is_flow) if f]
    records = [r for r, f in zip(records, is_flow) if not f]
    if not records:
        return out
    try:
        pv = table2_per_version(profile, records=records)
    except ValueError:
        return out
    vae = pv[pv["method"] == "VAE"]
    for ds, g in vae.groupby("dataset"):
        g = g.set_index("version").sort_index()
        out[("sec5", "start", ds, "gt")] = g["best_gt_val_loss"].astype(float)
        out[("sec5", "start", ds, "random")] = g["best_random_val_loss"].astype(float)
    try:
        # the page's call (VAE and IWAE: the caches are keyed by it), then the VAE's rows
        mp = mechanism_per_version(profile, records=records, cache_only=True)
    except FileNotFoundError:
        mp = None
    if mp is not None:
        mp = mp[mp["method"] == "VAE"]
        mp = mp.assign(ideal_q=mp["mleo"] + mp["pmo_best_gaussian"])
        for (ds, point), g in mp.groupby(["dataset", "point"]):
            g = g.set_index("version").sort_index()
            pt = "gt" if point == "ground truth" else "opt"
            for q in _MECH_CELLS + (("ideal_q",) if pt == "opt" else ()):
                out[_mech(ds, pt, q)] = g[q].astype(float)
    if len(flow) == len(section5_flow_tasks(profile)):
        fv = table2_per_version(profile, records=records + flow, include_flow=True)
        for (ds, m), g in fv.groupby(["dataset", "method"]):
            out[("sec5", "flow", ds, m)] = g.set_index("version")["knn_test"].astype(float).sort_index()
    return out
