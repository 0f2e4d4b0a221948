"""Section 7 and Appendices B, E.3, H: semi-supervision and functional collapse.

Everything the Section 7 page shows comes from here: the sweep's task list (the M2 model
of ``m2.py`` trained by the VAE, IWAE and LIN on the Discrete and Continuous Semi-Circle
sets, App. H), Tables 3 and 4 (smooth kNN statistics of p(x) and of the cohorts
p(x | y), hyper-parameters chosen by the statistic on the data marginal, App. D), the
collapse measures and the trade-off curves, and the data behind Figures 6 and 17-22.

Protocol (App. D): the alpha x gamma grid {0, 0.1, 1} x {0.5, 1, 2, 5} for every method,
IWAE S in {3, 10, 20}, LIN (T, R) in {0.05, 0.1} x {5, 10}; 10% of the training labels
observed (the paper states 10% for its real data sets only; we use it for the synthetic
ones too); per data version the restart with the lowest validation objective, then per
method the hyper-parameters with the lowest validation kNN statistic of p(x). The
``reduced`` profile's share of that grid is ``SEC7_REDUCED`` (said on the page).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from .. import cache, data, m2
from .. import evaluate as ev
from . import reference
from .claim import Claim, difference_terms
from ..plots import mark_stars, pick_by_quantile, plot_density, plot_posteriors, star_colors
from ..profiles import get_profile
from .sec5 import METHOD_NAMES, _num, _setting
from ..sweep import Task

__all__ = ["SEC7_DATASETS", "SEC7_REDUCED", "PAPER_TABLE3", "PAPER_TABLE4", "section7_tasks",
           "records_table", "select", "table3", "table4", "write_table_csv", "collapse_table",
           "tradeoff_frame", "figure_data", "COHORT_NAMES",
           "CLAIMS_SWEEP", "CLAIMS_VERSION", "page_claims", "claims_evidence"]

SEC7_DATASETS = ("semicircle_discrete", "semicircle_continuous")

#: what the ``reduced`` profile trains for Section 7 (the full grid is ~6 core-hours):
#: 3 data versions, restarts 0, 1 (ground truth) and 3, 4 (random), IWAE S in {3, 10},
#: LIN with (T, R) = (0.1, 5); alpha x gamma = the profile's {0.1, 1} x {1, 5}
SEC7_REDUCED = {"versions": 3, "restarts": (0, 1, 3, 4), "iwae_S": (3, 10), "lin": ((0.1, 5),)}

#: the paper's Tables 3 and 4 (App. E.3), as reference only: (mean, sd) (``paper.reference``)
PAPER_TABLE3 = reference.TABLE3
PAPER_TABLE4 = reference.TABLE4
#: Table 4's cohort 1 / cohort 2 are y = 0 / 1 (discrete) and y = -3.5 / 3.5 (continuous)
COHORT_NAMES = {"semicircle_discrete": ("0", "1"), "semicircle_continuous": ("-3.5", "3.5")}


def _grid(profile: str) -> dict:
    p = get_profile(profile)
    if p.name == "reduced":
        return {"versions": range(SEC7_REDUCED["versions"]), "restarts": SEC7_REDUCED["restarts"],
                "iwae_S": SEC7_REDUCED["iwae_S"], "lin": SEC7_REDUCED["lin"]}
    return {"versions": range(p.n_versions), "restarts": None, "iwae_S": p.iwae_S,
            "lin": tuple((t, r) for t in p.lin_T for r in p.lin_R)}


def section7_tasks(profile: str, datasets: Sequence[str] = SEC7_DATASETS,
                   unsupervised: bool = True) -> list:
    """Every training task of Section 7 under ``profile``: per data set and version, the
    M2 model for every method and alpha x gamma, and (``unsupervised``) a plain VAE on x
    alone as the reference for App. H's remark that p(x) alone is learned well."""
    p, g = get_profile(profile), _grid(profile)
    out = []
    for ds in datasets:
        for v in g["versions"]:
            # the records of this sweep predate the "stable" ground-truth start (sweep.GT_STARTS)
            kw = {"restarts": g["restarts"], "gt_start": "legacy"}
            if unsupervised:
                out.append(Task(ds, v, "vae", profile, **kw))
            for a in p.ss_alpha:
                for gm in p.ss_gamma:
                    ex = (("alpha", a), ("gamma", gm))
                    out.append(Task(ds, v, "vae", profile, extra=ex, **kw))
                    out += [Task(ds, v, "iwae", profile, iwae_samples=S, extra=ex, **kw) for S in g["iwae_S"]]
                    out += [Task(ds, v, "lin", profile, lin_T=t, lin_R=r, extra=ex, **kw) for t, r in g["lin"]]
    return out


# --------------------------------------------------------------------------------------
# From records to tables
# --------------------------------------------------------------------------------------
TABLE_COLUMNS = ["dataset", "method", "cohort", "mean", "sd", "n_versions"]


def records_table(records: Sequence[dict]) -> pd.DataFrame:
    """One row per record (data set x version x method x hyper-parameters): the restart
    chosen by the validation objective and its metrics. ``semi`` is False for the
    unsupervised reference VAE (trained on x alone). Columns: dataset, version, method,
    semi, setting, alpha, gamma, restart, init, val_loss, knn_val, knn_test, cohort_1,
    cohort_2 (smooth kNN of p_theta(x | y) for Table 4's cohorts), separation,
    collapse_f, collapse_f_truth, collapse_ratio (= collapse_f / collapse_f_truth; 0 is
    full functional collapse), predictive (accuracy, or RMSE for continuous y),
    test_neg_elbo (-U, nats), key."""
    rows = []
    for rec in records:
        task, sel = rec["config"]["task"], rec["selected"]
        ex = dict((k, v) for k, v in task.get("extra", []))
        mem = {m["restart"]: m for m in rec["members"]}[sel["restart"]]
        semi = "alpha" in ex
        row = {"dataset": task["dataset"], "version": int(task["version"]),
               "method": METHOD_NAMES[task["method"]], "semi": semi, "setting": _setting(task),
               "alpha": ex.get("alpha", np.nan), "gamma": ex.get("gamma", np.nan),
               "restart": int(sel["restart"]), "init": mem["init"], "val_loss": _num(mem["val_objective"]),
               "knn_val": _num(sel.get("knn_val")), "knn_test": _num(sel.get("knn_test")),
               "test_neg_elbo": _num(mem.get("test_neg_elbo")), "key": rec["key"]}
        if semi:
            names = COHORT_NAMES[task["dataset"]]
            kc = sel["knn_cohort_test"]
            truth_d = rec["dataset"]["collapse_f_truth"]
            row.update({"cohort_1": _num(kc[names[0]]), "cohort_2": _num(kc[names[1]]),
                        "separation": _num(sel["separation"]), "collapse_f": _num(sel["collapse_f"]),
                        "collapse_f_truth": float(truth_d), "collapse_ratio": _num(sel["collapse_f"]) / truth_d,
                        "predictive": _num(sel["predictive"])})
        rows.append(row)
    if not rows:
        raise ValueError("no records given")
    return pd.DataFrame(rows)


#: the column Tables 3-4 choose the semi-supervised setting by (App. D: the smallest
#: smooth kNN statistic of p(x), on the validation set)
TABLE34_SELECTION = "knn_val"


def select(frame: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """Tables 3-4's selection (App. D; the tables' captions): per (data set, method,
    data version[, ``by``]) the semi-supervised setting (alpha, gamma and the method's own
    S or T x R) with the smallest *validation* kNN statistic of p(x) (the test set is not
    used to choose). Ties go to the first record."""
    semi = frame[frame["semi"]]
    if semi.empty:
        raise ValueError("no semi-supervised records")
    if semi["knn_val"].isna().any():
        raise ValueError("knn_val missing: cannot select by the kNN statistic")
    keys = ["dataset", "method", "version", *by]
    idx = semi.groupby(keys, sort=True)[TABLE34_SELECTION].idxmin()
    return semi.loc[idx.values].reset_index(drop=True)


def _mean_sd(v) -> tuple[float, float]:
    v = np.asarray(v, float)
    return float(np.mean(v)), (float(np.std(v, ddof=1)) if len(v) > 1 else np.nan)


def _settings(g: pd.DataFrame) -> str:
    lab = (g["setting"].where(g["setting"] != "-", "") + " a=" + g["alpha"].map("{:g}".format)
           + " g=" + g["gamma"].map("{:g}".format)).str.strip()
    c = lab.value_counts()
    return ", ".join(f"{s} x{c[s]}" for s in sorted(c.index))


def table3(frame: pd.DataFrame, datasets: Sequence[str] = SEC7_DATASETS) -> pd.DataFrame:
    """Table 3: smooth kNN statistic of the chosen model's p_theta(x) against the test set
    (lower is better), mean and sd (ddof 1) over data versions. Tidy (``TABLE_COLUMNS`` +
    settings); ``cohort`` is "marginal". The unsupervised reference VAE is method
    "VAE (x only)"."""
    sel = select(frame)
    rows = []
    for ds in datasets:
        for meth in ("IWAE", "LIN", "VAE"):
            g = sel[(sel["dataset"] == ds) & (sel["method"] == meth)]
            if len(g):
                mu, sd = _mean_sd(g["knn_test"])
                rows.append({"dataset": ds, "method": meth, "cohort": "marginal", "mean": mu, "sd": sd,
                             "n_versions": len(g), "settings": _settings(g)})
        u = frame[(~frame["semi"]) & (frame["dataset"] == ds)]
        if len(u):
            mu, sd = _mean_sd(u["knn_test"])
            rows.append({"dataset": ds, "method": "VAE (x only)", "cohort": "marginal", "mean": mu, "sd": sd,
                         "n_versions": len(u), "settings": "unsupervised"})
    return pd.DataFrame(rows)


def table4(frame: pd.DataFrame, datasets: Sequence[str] = SEC7_DATASETS) -> pd.DataFrame:
    """Table 4: smooth kNN statistic of the chosen model's p_theta(x | y) against samples
    of the true p(x | y) for Table 4's two cohorts (same selection as Table 3)."""
    sel = select(frame)
    rows = []
    for ds in datasets:
        for meth in ("IWAE", "LIN", "VAE"):
            g = sel[(sel["dataset"] == ds) & (sel["method"] == meth)]
            for c, col in zip(COHORT_NAMES[ds], ("cohort_1", "cohort_2")):
                if len(g):
                    mu, sd = _mean_sd(g[col])
                    rows.append({"dataset": ds, "method": meth, "cohort": f"y={c}", "mean": mu, "sd": sd,
                                 "n_versions": len(g), "settings": _settings(g)})
    return pd.DataFrame(rows)


def write_table_csv(df: pd.DataFrame, name: str, profile: str, results_dir=None) -> Path:
    """``results/<profile>/<name>.csv`` with exactly ``TABLE_COLUMNS`` (``cache.CSV_FLOAT``)."""
    if name not in ("table3", "table4"):
        raise ValueError(f"name must be 'table3' or 'table4', got {name!r}")
    missing = [c for c in TABLE_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"table is missing column(s) {missing}")
    out = df[TABLE_COLUMNS].copy()
    out[["mean", "sd"]] = out[["mean", "sd"]].astype(float)
    return cache.write_table_csv(out, Path(results_dir or cache.RESULTS_DIR) / profile / f"{name}.csv")


def display(df: pd.DataFrame, which: str, digits: int = 3) -> pd.DataFrame:
    """Table 3 or 4 laid out for reading: one row per (data set, method[, cohort]),
    ours beside the paper's reference value ("paper", not computed here)."""
    rows = []
    for _, r in df.iterrows():
        meth = r["method"].lower() if r["method"] in ("IWAE", "LIN", "VAE") else None
        if which == "table3":
            ref = PAPER_TABLE3.get((r["dataset"], meth))
        else:
            k = 1 + COHORT_NAMES[r["dataset"]].index(r["cohort"][2:])
            ref = PAPER_TABLE4.get((r["dataset"], meth, k))
        ours = f"{r['mean']:.{digits}f}" + (f" +- {r['sd']:.{digits}f}" if np.isfinite(r["sd"]) else "")
        rows.append({"data set": r["dataset"], "method": r["method"], "cohort": r["cohort"],
                     "ours (z-score)": ours, "paper": "-" if ref is None else f"{ref[0]:.3f} +- {ref[1]:.3f}",
                     "n": int(r["n_versions"]), "chosen settings": r["settings"]})
    out = pd.DataFrame(rows)
    if which == "table3":
        out = out.drop(columns="cohort")
    return out.set_index(["data set", "method"])


# --------------------------------------------------------------------------------------
# Functional collapse and the trade-offs (Sec. 7, App. E.3)
# --------------------------------------------------------------------------------------
def tradeoff_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (data set, method, alpha, gamma): the setting of the method's own
    hyper-parameter chosen by validation kNN per data version, then the mean over
    versions of: knn_test (data realism, lower is better), cohort_mean (mean of the two
    cohort statistics: counterfactual realism), collapse_ratio (learned / true distance
    between f(., y_1) and f(., y_2)), separation (kNN statistic between the model's two
    cohorts) and predictive (accuracy / RMSE of q(y | x))."""
    sel = select(frame, by=("alpha", "gamma")).copy()
    sel["cohort_mean"] = sel[["cohort_1", "cohort_2"]].mean(1)
    cols = ["knn_test", "cohort_mean", "collapse_ratio", "separation", "predictive"]
    grp = sel.groupby(["dataset", "method", "alpha", "gamma"], sort=True)
    out = grp[cols].mean().reset_index()
    sd = grp[["knn_test", "cohort_mean"]].std(ddof=1).reset_index(drop=True)
    out["knn_test_sd"], out["cohort_mean_sd"] = sd["knn_test"].to_numpy(), sd["cohort_mean"].to_numpy()
    out["n_versions"] = grp.size().to_numpy()
    return out




def collapse_table(frame: pd.DataFrame, n_sep: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Functional collapse measured directly, per data set and method, for the models
    chosen for Tables 3-4: the distance between the learned f(., y_1) and f(., y_2)
    relative to the truth's (``m2.collapse_distance``; 1 = as distinct as the truth,
    0 = one function), and the kNN statistic between the model's two cohorts beside the
    truth's (``m2.cohort_separation``), and the discriminator's accuracy / RMSE beside the
    Bayes-optimal p(y | x) of the truth (``m2.bayes_predictive``). Mean +- sd over
    versions; a "ground truth" row per set."""
    sel = select(frame)
    rows = []
    for ds in dict.fromkeys(sel["dataset"]):
        truth = data.get(ds)
        cohorts = m2.COHORTS[truth.label]
        test = truth.sample(n_sep, seed + 7)
        rows.append({"dataset": ds, "method": "ground truth", "collapse ratio": 1.0,
                     "cohort separation": m2.cohort_separation_truth(truth, cohorts, n_sep, seed),
                     "predictive": m2.bayes_predictive(truth, test.x, test.y), "n": 0})
        for meth in ("IWAE", "LIN", "VAE"):
            g = sel[(sel["dataset"] == ds) & (sel["method"] == meth)]
            if len(g):
                rows.append({"dataset": ds, "method": meth, "collapse ratio": g["collapse_ratio"].mean(),
                             "collapse ratio sd": g["collapse_ratio"].std(ddof=1),
                             "cohort separation": g["separation"].mean(),
                             "predictive": g["predictive"].mean(), "n": len(g)})
    return pd.DataFrame(rows).set_index(["dataset", "method"])


# --------------------------------------------------------------------------------------
# Figures 6 and 17-22
# --------------------------------------------------------------------------------------
#: the label values whose f(., y) is drawn (the cohorts, plus y = 0 for continuous y)
CURVE_LABELS = {"discrete": (0.0, 1.0), "continuous": (-3.5, 0.0, 3.5)}


def chosen_record(records: Sequence[dict], frame: pd.DataFrame, dataset: str, method: str,
                  version: int = 0) -> dict:
    """The record behind a Table 3 cell for one data version (selection of ``select``)."""
    sel = select(frame)
    row = sel[(sel["dataset"] == dataset) & (sel["method"] == method) & (sel["version"] == version)]
    if row.empty:
        raise ValueError(f"no chosen model for {dataset} / {method} / version {version}")
    key = row["key"].iloc[0]
    return next(r for r in records if r["key"] == key)


def figure_marks(dataset: str, n: int = 400, seed: int = 1, quantiles=(0.5, 0.9, 1.0)) -> np.ndarray:
    """Points x at which the posterior panels are drawn: held-out draws whose true
    unlabelled posterior is fitted by the best Gaussian at the given quantiles of the
    KL (a typical, a bad and the worst one; Condition 1 of Sec. 7). [3, D]."""
    truth = data.get(dataset)
    x = truth.sample(n, seed).x
    kl = truth.posterior_kl(x)["kl"]
    return x[pick_by_quantile(kl, quantiles)]


def figure_data(model, dataset: str, marks, n: int = 2000, seed: int = 0) -> dict:
    """What one column of Figures 6 / 17-22 draws, for a learned M2 model (M = 1) or the
    ground truth (``model=None``): samples of p(x), f(z, y) on a z-grid for
    ``CURVE_LABELS``, samples of p(x | y) for Table 4's cohorts, and the unlabelled
    posteriors p(z | x) at ``marks``."""
    truth = data.get(dataset)
    zc = np.linspace(-3, 3, 301)
    cohorts = m2.COHORTS[truth.label]
    labels = CURVE_LABELS[truth.label]
    if model is None:
        s = truth.sample(n, seed)
        return {"px": s.x, "z": zc,
                "f": {v: truth.f(zc[:, None], np.full(len(zc), v)) for v in labels},
                "cohort": {v: m2.cohort_sample(truth, v, n, seed + 1 + i) for i, v in enumerate(cohorts)},
                "post": truth.posterior(marks)}
    if model.n_models != 1:
        raise ValueError("figure_data needs a single model (M = 1)")
    with torch.no_grad():
        y = m2._prior_labels(model, n, "figure/y")
        px = ev.sample_px(model, n, tag="figure/px", y=y)[0]
        f = m2.f_curves(model, labels, zc)
        coh = {v: ev.sample_px(model, n, tag=f"figure/cohort/{v:g}",
                               y=m2.encode_labels_model(model, np.full(n, v)))[0] for v in cohorts}
    return {"px": px, "z": zc, "f": {v: f[i, 0] for i, v in enumerate(labels)}, "cohort": coh,
            "post": m2.posterior_unlabelled(model, marks)}



def semicircle_angle(fv: np.ndarray) -> np.ndarray:
    """The angle of points ``fv`` [G, 2] along the circle, in degrees, continuous in the
    order given (``np.unwrap``) and shifted by whole turns so that its median lies in
    [-90, 270): the upper semi-circle reads 0-180 whatever side of the branch cut of
    atan2 the first point falls on (a curve that starts just below -180 degrees would
    otherwise be drawn a full turn lower, outside the panel)."""
    ang = np.degrees(np.unwrap(np.arctan2(fv[:, 1], fv[:, 0])))
    return ang - 360.0 * np.floor((np.median(ang) + 90.0) / 360.0)

def plot_columns(columns: dict, marks, suptitle: str | None = None):
    """Figures 6 / 17-22 as one grid: a column per model (``columns``: title ->
    ``figure_data``), rows (a) p(x), (b) f(z, y) per label (colour = label, line style
    per label, drawn as the angle of f along the semi-circle against z), (c) samples of p(x | y) per cohort, (d) unlabelled posteriors p(z | x)
    at the starred points."""
    n = len(columns)
    fig, axes = plt.subplots(4, n, figsize=(min(3.5 * n, 11.0), 12.0), squeeze=False)
    lim = (-1.45, 1.45, -0.45, 1.45)
    cols = star_colors(len(marks))
    for j, (title, fd) in enumerate(columns.items()):
        a = axes[:, j]
        plot_density(a[0], fd["px"], kind="hist", bins=90, extent=lim)
        a[0].set_title(f"{title}\n(a) p(x)", fontsize=9)
        for i, (v, fv) in enumerate(fd["f"].items()):    # both cohorts share the semi-circle:
            a[1].plot(fd["z"], semicircle_angle(fv), lw=2, color=f"C{i}",
                      label=f"y = {v:g}")              # draw where along it f(z, y) lies
        a[1].set_title("(b) f(z, y): angle on the circle", fontsize=9)
        a[1].set_xlabel("z")
        a[1].set_ylabel("atan2(f2, f1) (degrees)")
        a[1].set_ylim(-30, 210)
        a[1].legend(fontsize=9)
        for i, (v, xs) in enumerate(fd["cohort"].items()):
            a[2].scatter(xs[:600, 0], xs[:600, 1], s=2, alpha=0.35, color=f"C{i}", label=f"y = {v:g}",
                         rasterized=True)
        a[2].set_title("(c) samples of p(x | y)", fontsize=9)
        a[2].legend(fontsize=9, markerscale=4)
        mark_stars(a[0], marks, cols, size=120)
        z, post = fd["post"]
        plot_posteriors(a[3], z, post, colors=cols, xlim=(-3.5, 3.5))
        a[3].set_title("(d) p(z | x) at the stars", fontsize=9)
        for ax in (a[0], a[2]):
            ax.set_xlim(*lim[:2])
            ax.set_ylim(*lim[2:])
            ax.set_aspect("equal")
    if suptitle:
        fig.suptitle(suptitle, fontsize=11)
    fig.tight_layout()
    return fig




def collapse_by_start(records: Sequence[dict]) -> pd.DataFrame:
    """Where training ends, by how it started: the mean collapse ratio (learned / true
    distance between f(., y_1) and f(., y_2)) over *every* trained restart of the M2
    sweep, split by ground-truth vs random initialisation, per data set, method and gamma.
    A ground-truth start begins at ratio 1 (the surrogate of the true f); if it ends far
    below 1, the objective itself moved it towards one function (the collapse is not a
    local optimum reached only from random starts)."""
    rows = []
    for rec in records:
        task = rec["config"]["task"]
        ex = dict((k, v) for k, v in task.get("extra", []))
        if "alpha" not in ex:
            continue
        truth_d = rec["dataset"]["collapse_f_truth"]
        for m in rec["members"]:
            rows.append({"dataset": task["dataset"], "method": METHOD_NAMES[task["method"]],
                         "gamma": ex["gamma"], "start": m["init"], "ratio": m["collapse_f"] / truth_d})
    if not rows:
        raise ValueError("no semi-supervised records")
    df = pd.DataFrame(rows)
    out = df.groupby(["dataset", "method", "gamma", "start"])["ratio"].agg(["mean", "std", "count"])
    return out.unstack("start")


# --------------------------------------------------------------------------------------
# The page's claims (Sec. 7, App. E.3) for the registry of ``claims``
# --------------------------------------------------------------------------------------
#: the named sweep whose records ``claims_evidence`` reads
CLAIMS_SWEEP = "section7"
#: bump when ``claims_evidence`` changes what it returns
CLAIMS_VERSION = 1
_PAGE = "sec7_semisupervised"
_DS_NAME = {"semicircle_discrete": "Discrete Semi-Circle", "semicircle_continuous": "Continuous Semi-Circle"}


def _paper_cohort_means(ds: str) -> str:
    """The paper's Table 4 for one set: the mean of the two cohorts per method."""
    return ", ".join(f"{m.upper()} {(PAPER_TABLE4[ds, m, 1][0] + PAPER_TABLE4[ds, m, 2][0]) / 2:.1f}"
                     for m in ("iwae", "vae", "lin"))


def page_claims() -> list[Claim]:
    """The claims of Sec. 7 and App. E.3 this page judges beyond the pair orderings of
    Tables 3-4 (those are in the registry already): each an ``effect`` over data
    versions, signed so that a positive difference supports the paper.

    * Table 4, continuous labels: IWAE's cohorts are no better than the best of the VAE
      and LIN (IWAE's mean cohort statistic minus the smaller of the other two);
    * functional collapse: the learned f(., y_1), f(., y_2) are closer together than the
      truth's (1 - collapse ratio), for the methods the paper says collapse; on the
      discrete set IWAE collapses less than the VAE and LIN;
    * Fig. 20 (continuous, VAE): the largest alpha predicts y better (smaller RMSE of
      q(y | x)) and collapses more (smaller ratio) than the smallest, averaged over gamma;
    * App. E.3 (VAE): the largest gamma gives better cohorts and a worse p(x) than the
      smallest, averaged over alpha.
    """
    D, C = SEC7_DATASETS
    c = lambda ds, m, *k: ("sec7", ds, m, *k)  # noqa: E731
    out = [Claim(f"sec7/{C}/iwae_cohorts_no_better", "sec7",
                 f"{_DS_NAME[C]}: IWAE learns the cohorts p(x | y) no better than the VAE and LIN "
                 "(mean over cohorts; positive: IWAE not better than the best of the two)",
                 f"stated; its Table 4, mean of cohorts: {_paper_cohort_means(C)}", "effect",
                 terms=((+1, "one", (c(C, "IWAE", "cohort_mean"),)),
                        (-1, "min", (c(C, "VAE", "cohort_mean"), c(C, "LIN", "cohort_mean")))),
                 labels=("IWAE", "best of VAE and LIN"), where="App. E.3 (text), Table 4", page=_PAGE)]
    for ds, methods, fig in ((D, ("VAE", "LIN"), "Fig. 6, 17-18"), (C, ("VAE", "LIN", "IWAE"), "Fig. 20-22")):
        for m in methods:
            out.append(Claim(f"sec7/{ds}/{m}/functional_collapse", "sec7",
                             f"{_DS_NAME[ds]}: {m} collapses f(z, y) towards one function for all y "
                             "(collapse ratio below the truth's 1)",
                             "qualitative (figures)", "effect",
                             terms=((+1, "const", 1.0), (-1, "one", (c(ds, m, "collapse_ratio"),))),
                             labels=("truth", f"{m} ratio"), where=f"Sec. 7, {fig}", page=_PAGE))
    for other in ("VAE", "LIN"):
        out.append(Claim(f"sec7/{D}/IWAE_collapses_less_than_{other}", "sec7",
                         f"{_DS_NAME[D]}: IWAE keeps f(z, 0) and f(z, 1) further apart than {other} "
                         "(larger collapse ratio)", "qualitative (Fig. 6, 17-19)", "effect",
                         terms=difference_terms(c(D, "IWAE", "collapse_ratio"), c(D, other, "collapse_ratio")),
                         labels=("IWAE ratio", f"{other} ratio"), where="Sec. 7, Fig. 6, 17-19", page=_PAGE))
    out.append(Claim(f"sec7/{C}/VAE/alpha_better_prediction", "sec7",
                     f"{_DS_NAME[C]}, VAE: a larger alpha predicts y better (RMSE of q(y | x), "
                     "smallest vs largest alpha, mean over gamma)", "qualitative", "effect",
                     terms=difference_terms(c(C, "VAE", "alpha_min", "predictive"), c(C, "VAE", "alpha_max", "predictive")),
                     labels=("RMSE smallest alpha", "largest alpha"), where="App. E.3, H.2, Fig. 20", page=_PAGE))
    out.append(Claim(f"sec7/{C}/VAE/alpha_more_collapse", "sec7",
                     f"{_DS_NAME[C]}, VAE: a larger alpha collapses f(z, y) more (collapse ratio, "
                     "smallest vs largest alpha, mean over gamma)", "qualitative", "effect",
                     terms=difference_terms(c(C, "VAE", "alpha_min", "collapse_ratio"), c(C, "VAE", "alpha_max", "collapse_ratio")),
                     labels=("ratio smallest alpha", "largest alpha"), where="App. E.3, H.2, Fig. 20", page=_PAGE))
    for ds in SEC7_DATASETS:
        out.append(Claim(f"sec7/{ds}/VAE/gamma_better_cohorts", "sec7",
                         f"{_DS_NAME[ds]}, VAE: a larger gamma learns the cohorts better (mean kNN of "
                         "p(x | y), smallest vs largest gamma, mean over alpha)", "qualitative", "effect",
                         terms=difference_terms(c(ds, "VAE", "gamma_min", "cohort_mean"), c(ds, "VAE", "gamma_max", "cohort_mean")),
                         labels=("smallest gamma", "largest gamma"), where="Sec. 7, App. E.3", page=_PAGE))
        out.append(Claim(f"sec7/{ds}/VAE/gamma_worse_px", "sec7",
                         f"{_DS_NAME[ds]}, VAE: a larger gamma learns p(x) worse (kNN of p(x), "
                         "largest vs smallest gamma, mean over alpha)", "qualitative", "effect",
                         terms=difference_terms(c(ds, "VAE", "gamma_max", "knn_test"), c(ds, "VAE", "gamma_min", "knn_test")),
                         labels=("largest gamma", "smallest gamma"), where="Sec. 7, App. E.3", page=_PAGE))
    return out


def _by_version(df: pd.DataFrame, col: str) -> pd.Series:
    return df.groupby("version")[col].mean().astype(float).sort_index()


def claims_evidence(profile: str, records: list[dict]) -> dict:
    """The cells of ``page_claims`` from the cached Sec. 7 records (nothing is trained):
    per data set, method and data version, of the model chosen for Tables 3-4 its mean
    cohort statistic and collapse ratio; and of the models chosen per (alpha, gamma)
    (``select(frame, by=("alpha", "gamma"))``), the mean over gamma at the smallest and
    the largest alpha, and the mean over alpha at the smallest and largest gamma, of the
    kNN of p(x), the mean cohort statistic, the collapse ratio and the predictive score."""
    if not records:
        return {}
    frame = records_table(records)
    if not frame["semi"].any():
        return {}
    sel = select(frame).assign(cohort_mean=lambda f: f[["cohort_1", "cohort_2"]].mean(axis=1))
    out = {}
    for (ds, m), g in sel.groupby(["dataset", "method"]):
        for col in ("cohort_mean", "collapse_ratio"):
            out[("sec7", ds, m, col)] = _by_version(g, col)
    by = select(frame, by=("alpha", "gamma")).assign(cohort_mean=lambda f: f[["cohort_1", "cohort_2"]].mean(axis=1))
    for (ds, m), g in by.groupby(["dataset", "method"]):
        for par in ("alpha", "gamma"):
            for end, val in (("min", g[par].min()), ("max", g[par].max())):
                part = g[g[par] == val]
                for col in ("knn_test", "cohort_mean", "collapse_ratio", "predictive"):
                    out[("sec7", ds, m, f"{par}_{end}", col)] = _by_version(part, col)
    return out
