"""Section 8: the signal-noise decomposition (``notebooks/sec8_signal_noise.py``).

Case A (Spiral-Dots noise, Fig. 16) and Case B (Table 1, Figs. 23-24): the sweep tasks,
and tidy tables / CSVs built from their records; for Figs. 23-24 the per-point
KL(q || p_theta(z|x)) of the Case-B VAEs (exact on 1-D and 2-D latent grids,
importance-sampled for K = 3). The defence of App. F is ``appF``.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from .. import data, metrics, posterior
from .. import evaluate as ev
from . import reference
from .claim import Claim, difference_terms
from ..cache import write_table_csv
from ..evaluate import as_members, encode_gaussian
from ..objectives import derive_seed, iwae_log_weights
from ..profiles import get_profile
from ..sweep import Task, default_cache_dir, load_selected

__all__ = [
    "section8_tasks",
    "CASE_B_DATASETS",
    "CASE_B_K",
    "case_a_table",
    "table1_frame",
    "exact_mutual_information",
    "mi_estimator_check",
    "MI_CHECK_DATASETS",
    "TABLE1_METRICS",
    "table1_summary",
    "case_b_model",
    "write_noise_csv",
    "write_table1_csv",
    "PAPER_TABLE1",
    "PAPER_CASE_A",
    "grid_posterior_2d",
    "kl_gaussian_to_grid_2d",
    "model_posterior_grid",
    "posterior_gap",
    "active_units",
    "posterior_simplicity",
    "posterior_simplicity_versions",
    "posterior_settings",
    "CLAIMS_SWEEP",
    "CLAIMS_VERSION",
    "page_claims",
    "claims_evidence",
]


# ======================================================================================
# Section 8: tasks and tables
# ======================================================================================
CASE_B_DATASETS = ("figure8_5d", "clusters_5d")
CASE_B_K = (1, 2, 3)

#: The paper's numbers, for the reference columns only (Sec. 8 and Table 1; ``paper.reference``).
PAPER_CASE_A = reference.CASE_A
PAPER_TABLE1 = reference.table1_frame()


def section8_tasks(profile: str) -> list:
    """Every training task of Section 8 under ``profile`` (all data versions):

    * Case A (Fig. 16): Spiral-Dots VAE with sigma^2 fixed at the truth (0.01; the
      record's ``selected.noise_eq9`` is the Eq. 9 re-estimate) and with sigma^2 learned
      per dimension (``learn_noise=True``, initialised at the truth);
    * Case B (Table 1): ``figure8_5d`` and ``clusters_5d`` with K in {1, 2, 3}
      (``latent_dim``), sigma^2 learned per dimension, VAE and IWAE (every S of the
      profile). K = 1 restarts follow the profile (ground-truth init for the first
      ``n_gt_restarts``); for K > 1 ``run_group`` sees K != K_GT and starts every restart
      randomly (as in the paper).
    """
    p = get_profile(profile)
    tasks = []
    for v in range(p.n_versions):
        tasks.append(Task("spiral_dots", v, "vae", profile))
        tasks.append(Task("spiral_dots", v, "vae", profile, learn_noise=True))
    for ds in CASE_B_DATASETS:
        for K in CASE_B_K:
            for v in range(p.n_versions):
                tasks.append(Task(ds, v, "vae", profile, latent_dim=K, learn_noise=True))
                tasks += [Task(ds, v, "iwae", profile, latent_dim=K, learn_noise=True, iwae_samples=S)
                          for S in p.iwae_S]
    return tasks


def _selected_member(rec: dict) -> dict:
    r = rec["selected"]["restart"]
    return next(m for m in rec["members"] if m["restart"] == r)


def case_a_table(records: Sequence[dict]) -> pd.DataFrame:
    """Case A per data version: the Eq. 9 estimate of the fixed-noise model and the
    jointly learned sigma^2 (both averaged over the 2 data dimensions), selected restart."""
    rows = []
    for rec in records:
        t = rec["config"]["task"]
        if t["dataset"] != "spiral_dots":
            continue
        if t["learn_noise"]:
            val = float(np.mean(_selected_member(rec)["noise_var"]))
            exp = "sigma^2 learned jointly"
        else:
            val = float(np.mean(rec["selected"]["noise_eq9"]))
            exp = "fixed sigma^2 = 0.01, then Eq. 9"
        rows.append({"experiment": exp, "version": t["version"], "sigma2": val,
                     "init": _selected_member(rec)["init"]})
    return pd.DataFrame(rows)


def write_noise_csv(case_a: pd.DataFrame, profile: str, truth: float = 0.01, out_dir=None) -> Path:
    """``results/<profile>/noise.csv``: experiment, mean, sd (over data versions), truth."""
    df = case_a.groupby("experiment", sort=False)["sigma2"].agg(mean="mean", sd="std").reset_index()
    df["truth"] = truth
    return write_table_csv(df, Path(out_dir or default_cache_dir(profile)) / "noise.csv")


def exact_mutual_information(name: str, x, z) -> float:
    """The ground truth's I(x; z) in nats, from draws (x, z) of its joint (1-D latents):
    the mean of ``log p(x | z) - log p(x)``, with ``log p(x)`` exact by quadrature on the
    set's z-grid (``posterior.log_px_grid``). Its only error is the Monte-Carlo error of
    the mean over the draws (about 0.02 nats at n = 2000)."""
    return float(np.mean(_pointwise_mi(name, x, z)))


def _pointwise_mi(name: str, x, z) -> np.ndarray:
    """``log p(x_n | z_n) - log p(x_n)`` of the ground truth ``name``, [N]."""
    truth = data.get(name)
    if truth.latent_dim != 1 or truth.label is not None:
        raise ValueError(f"{name}: the exact I(x; z) needs an unlabelled 1-D-latent ground truth")
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    z = np.asarray(z, dtype=np.float64).reshape(-1, 1)
    zg = posterior.z_grid(*truth.z_grid_spec)
    F = torch.as_tensor(truth.f(zg.numpy()[:, None]), dtype=torch.float64)
    log_px = posterior.log_px_grid(F, torch.as_tensor(x), truth.noise_var, z=zg).numpy()
    nv = truth.noise_var
    resid = ((x - truth.f(z).astype(np.float64)) ** 2).sum(1)
    return -0.5 * x.shape[1] * math.log(2 * math.pi * nv) - resid / (2 * nv) - log_px


#: The benchmark sets whose exact I(x; z) the estimator check of Table 1 uses.
MI_CHECK_DATASETS = ("figure8", "circle", "absolute_value", "clusters", "spiral_dots", "figure8_5d", "clusters_5d")


def mi_estimator_check(names: Sequence[str] = MI_CHECK_DATASETS, n: int = 2000, seed: int = 0,
                       k: int = 3) -> pd.DataFrame:
    """KSG against the exact I(x; z) on ground-truth draws (n points each): the exact
    value with its Monte-Carlo standard error, KSG on raw coordinates (what Table 1's
    ``avg_mi_ksg`` uses) and KSG after per-column standardisation (scikit-learn's
    convention), each with its relative error."""
    rows = []
    for name in names:
        s = data.get(name).sample(n, seed)
        x64 = s.x.astype(np.float64)
        d = _pointwise_mi(name, x64, s.z)
        exact = float(d.mean())
        raw = metrics.ksg_mutual_information(x64, s.z[:, 0], k=k, seed=seed)
        std = metrics.ksg_mutual_information(x64, s.z[:, 0], k=k, seed=seed, standardise=True)
        rows.append({"data set": name, "exact I(x; z)": exact, "MC se": float(d.std(ddof=1) / math.sqrt(n)),
                     "KSG raw": raw, "KSG raw rel. error": raw / exact - 1,
                     "KSG standardised": std, "KSG std. rel. error": std / exact - 1})
    return pd.DataFrame(rows).set_index("data set")


def table1_frame(records: Sequence[dict], profile: str, mi_k: int = 3, ksg: bool = True) -> pd.DataFrame:
    """Table 1 per (data set, method, K, data version), selected restart: test -ELBO,
    test -IWAE bound (IWAE), avg_i I_q(x; z_i) of the encoder on the test x
    (``metrics.gaussian_encoder_mi``: closed form plus a 1-D quadrature, no kNN bias),
    the same by KSG on one draw z ~ q(z | x) per test point (``avg_mi_ksg``, raw
    coordinates, k = ``mi_k``; the paper's estimator, biased low on Clusters), the
    learned sigma^2 (mean over dims), and the ELBO gap ``test -ELBO - (-log p(x))``
    (importance-sampled log p(x)): the expected KL(q || p_theta(z|x)) of the learned
    model, our measure of posterior complexity for any K (Figs. 23-24). One row per
    data version with method ``truth`` holds the exact I(x; z) of the ground truth on
    the same test draws (``exact_mutual_information``, metric ``exact_mi``). ``knn_val``
    (the selected restart's validation kNN statistic, App. D's hyper-parameter rule) is
    kept for choosing among IWAE's S; ``ksg=False`` skips the KSG estimate (NaN)."""
    p = get_profile(profile)
    rows, test_cache = [], {}
    for rec in records:
        t = rec["config"]["task"]
        if t["dataset"] not in CASE_B_DATASETS:
            continue
        key = (t["dataset"], t["version"])
        if key not in test_cache:
            test_cache[key] = data.splits(t["dataset"], t["version"], n_train=p.n_train,
                                          n_val=p.n_val, n_test=p.n_test)["test"]
            te = test_cache[key]
            rows.append({"dataset": t["dataset"], "method": "truth", "K": 1, "version": t["version"],
                         "exact_mi": exact_mutual_information(t["dataset"], te.x, te.z)})
        x = test_cache[key].x
        model = load_selected(rec)
        mu, var = (a[0] for a in encode_gaussian(model, x))
        z_q = mu + np.sqrt(var) * np.random.default_rng(t["version"]).standard_normal(mu.shape)
        sel = _selected_member(rec)
        method = t["method"] if t["method"] != "iwae" else f"iwae-S{t['iwae_samples']}"
        rows.append({"dataset": t["dataset"], "method": method, "K": t["latent_dim"],
                     "version": t["version"], "neg_elbo": sel["test_neg_elbo"],
                     "neg_iwae": sel.get("test_neg_iwae", np.nan),
                     "avg_mi": float(np.mean(metrics.gaussian_encoder_mi(mu, var))),
                     "avg_mi_ksg": metrics.average_latent_mi(x, z_q, k=mi_k) if ksg else np.nan,
                     "noise_var": float(np.mean(sel["noise_var"])),
                     "elbo_gap": sel["test_neg_elbo"] + rec["selected"]["test_log_px_is"],
                     "knn_val": rec["selected"].get("knn_val", np.nan),
                     "init": sel["init"]})
    return pd.DataFrame(rows)


#: Table 1's metrics in ``table1_frame`` (and ``table1.csv``), in display order.
TABLE1_METRICS = ("neg_elbo", "neg_iwae", "avg_mi", "avg_mi_ksg", "exact_mi", "noise_var", "elbo_gap")


def table1_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Long format ``dataset, method, K, metric, mean, sd`` (sd over data versions)."""
    long = frame.melt(id_vars=["dataset", "method", "K", "version"],
                      value_vars=[c for c in TABLE1_METRICS if c in frame.columns],
                      var_name="metric").dropna(subset=["value"])
    g = long.groupby(["dataset", "method", "K", "metric"], sort=False)["value"]
    return pd.DataFrame({"mean": g.mean(), "sd": g.std(ddof=1)}).reset_index()


def write_table1_csv(summary: pd.DataFrame, profile: str, out_dir=None) -> Path:
    """``results/<profile>/table1.csv`` with columns dataset, method, K, metric, mean, sd."""
    cols = ["dataset", "method", "K", "metric", "mean", "sd"]
    return write_table_csv(summary[cols], Path(out_dir or default_cache_dir(profile)) / "table1.csv")






def case_b_model(records: Sequence[dict], dataset: str, K: int, version: int, method: str = "vae"):
    """The selected model of one Case-B record (``section8_tasks``), or None if absent."""
    for r in records:
        t = r["config"]["task"]
        if (t["dataset"], t["method"], t["latent_dim"], t["version"]) == (dataset, method, K, version):
            return load_selected(r)
    return None


# ======================================================================================
# Figures 23-24: posteriors of the Case-B models as K grows
# ======================================================================================
def grid_posterior_2d(decode, noise_var, x, lim: float = 4.5, n: int = 181, chunk: int = 64) -> dict:
    """Exact posterior ``p(z | x) ~ N(x; f(z), diag noise_var) N(z; 0, I)`` of a model
    with a 2-D latent on the square grid ``[-lim, lim]^2`` (n x n points), the 2-D
    analogue of ``posterior.grid_posterior``; ``decode`` maps latents [G, 2] (numpy) to
    f [G, D]. Quadrature: the product of the 1-D trapezoid rules.

    Returns ``z`` [n] (both axes), ``post`` [N, n, n] (density, axis 1 = z_1, axis 2 =
    z_2; integrates to 1 under the rule), ``log_px`` [N] (log p(x) by the same rule) and
    ``log_w`` [n, n] (log quadrature weights)."""
    if lim <= 0 or n < 3:
        raise ValueError(f"need lim > 0 and n >= 3, got lim={lim}, n={n}")
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    z = np.linspace(-lim, lim, n)
    Z = np.stack(np.meshgrid(z, z, indexing="ij"), -1).reshape(-1, 2)
    F = np.asarray(decode(Z), dtype=np.float64)
    if F.shape[0] != len(Z) or F.shape[1] != x.shape[1]:
        raise ValueError(f"decode must map [G, 2] to [G, {x.shape[1]}], got {F.shape}")
    w1 = posterior._trapezoid_log_weights(torch.as_tensor(z))
    log_w = (w1[:, None] + w1[None, :]).reshape(-1)
    log_prior = torch.as_tensor(-0.5 * (Z ** 2).sum(1) - math.log(2 * math.pi))
    posts, lpx = [], []
    for a in range(0, len(x), chunk):
        lj = posterior.log_likelihood_grid(F, x[a:a + chunk], noise_var) + log_prior[None]
        ln = torch.logsumexp(lj + log_w[None], dim=1)
        posts.append(torch.exp(lj - ln[:, None]).numpy())
        lpx.append(ln.numpy())
    post = np.concatenate(posts).reshape(len(x), n, n)
    return dict(z=z, post=post, log_px=np.concatenate(lpx), log_w=log_w.numpy().reshape(n, n))


def kl_gaussian_to_grid_2d(grid: dict, mu, sd) -> np.ndarray:
    """``KL(N(mu, diag sd^2) || p)`` for each posterior p of ``grid_posterior_2d``
    (mu, sd [N, 2]): exact Gaussian entropy minus the cross term ``E_q[log p]`` by the
    grid's quadrature (log p floored at -700 as in ``posterior``), [N]. q must be a few
    grid steps wide and inside the grid."""
    z, post = grid["z"], grid["post"]
    mu, sd = np.atleast_2d(mu).astype(np.float64), np.atleast_2d(sd).astype(np.float64)
    if mu.shape != (len(post), 2) or sd.shape != mu.shape:
        raise ValueError(f"mu and sd must be [{len(post)}, 2], got {mu.shape} and {sd.shape}")
    w = np.exp(grid["log_w"])
    q1 = np.exp(-0.5 * ((z[None] - mu[:, :1]) / sd[:, :1]) ** 2) / (sd[:, :1] * math.sqrt(2 * math.pi))
    q2 = np.exp(-0.5 * ((z[None] - mu[:, 1:]) / sd[:, 1:]) ** 2) / (sd[:, 1:] * math.sqrt(2 * math.pi))
    log_p = np.maximum(np.log(np.maximum(post, 1e-300)), -700.0)
    cross = np.einsum("ni,nj,nij->n", q1, q2, log_p * w[None])
    entropy = 0.5 * np.log(2 * math.pi * math.e * sd ** 2).sum(1)
    return -entropy - cross


def _encoder_gaussian(model, x) -> tuple[np.ndarray, np.ndarray]:
    with torch.no_grad():
        mu, lv = model.encode(as_members(x, 1, "cpu"))
    return mu[0].double().numpy(), torch.exp(0.5 * lv[0]).double().numpy()


def model_posterior_grid(model, x, lim: float = 4.5, n: int = 181, best_gaussian: bool = True) -> dict:
    """Exact posteriors of a trained single VAE (K = 1 or 2) on a grid, with its encoder's
    Gaussians: ``z``, ``post`` ([N, G] for K = 1, [N, n, n] for K = 2), ``log_px``,
    ``q_mu``, ``q_sd`` [N, K], ``kl_q`` (KL(q_phi(z|x) || p_theta(z|x)) by quadrature,
    i.e. log p_theta(x) - ELBO(x), [N]) and, for K = 1, ``kl_best`` (the best Gaussian's
    KL, ``posterior.best_gaussian_kl``: the approximation gap without amortisation)."""
    K = model.cfg.latent_dim
    nv = model.noise_var.detach().double()[0]
    mu, sd = _encoder_gaussian(model, x)
    if K == 1:
        z = posterior.z_grid()
        post = ev.posterior_grid(model, x, z)[0]
        kl_q = posterior.kl_gaussian_to_grid(z, post, mu[:, 0], sd[:, 0]).numpy()
        kl_best = posterior.best_gaussian_kl(z, post)[0].numpy() if best_gaussian else np.full(len(mu), np.nan)
        return dict(z=z.numpy(), post=post, log_px=ev.log_px_grid(model, x, z)[0], q_mu=mu, q_sd=sd,
                    kl_q=kl_q, kl_best=kl_best)
    if K == 2:
        g = grid_posterior_2d(lambda Z: ev.f_on_grid(model, Z.astype(np.float32))[0], nv, x, lim, n)
        g.update(q_mu=mu, q_sd=sd, kl_q=kl_gaussian_to_grid_2d(g, mu, sd))
        g["post"] = g["post"].astype(np.float32)       # [N, n, n]: halve the memory for plots
        return g
    raise ValueError(f"grid posteriors need K = 1 or 2, got K = {K}")


def posterior_gap(model, x, n_samples: int = 1000, tag: str = "fig23", batch: int = 100) -> pd.DataFrame:
    """Per test point, for a trained single VAE of any K: with S = ``n_samples`` draws
    z_s ~ q_phi(z | x) and log weights ``lw_s = log p_theta(x, z_s) - log q_phi(z_s | x)``
    (``objectives.iwae_log_weights``), the ELBO estimate ``mean_s lw_s``, the
    importance-sampled ``log p_theta(x) ~ log mean_s exp(lw_s)`` (as
    ``evaluate.log_px_importance``) and their difference ``gap_is = log p(x) - ELBO =
    KL(q_phi(z|x) || p_theta(z|x))`` (the per-point PMO term of Eq. 3): how far the
    learned posterior is from the encoder's Gaussian. Both terms use the same samples,
    so their Monte-Carlo errors largely cancel in the gap (which is >= 0 for every
    sample set). The importance-sampled log p(x) is a lower bound, so ``gap_is``
    under-estimates the KL where the posterior has mass that q misses (other modes)."""
    X = as_members(x, 1, "cpu")
    K = model.cfg.latent_dim
    g = torch.Generator().manual_seed(derive_seed(model.seeds[0], "eval/" + tag))
    out = []
    with torch.no_grad():
        for a in range(0, X.shape[1], batch):
            xb = X[:, a:a + batch]
            eps = torch.randn(1, n_samples, xb.shape[1], K, generator=g)
            lw = iwae_log_weights(model, xb, eps)[0].double()            # [S, B]
            elbo = lw.mean(0)
            lpx = torch.logsumexp(lw, 0) - math.log(n_samples)
            out.append(torch.stack([-elbo, lpx, lpx - elbo], 1))
    v = torch.cat(out).numpy()
    return pd.DataFrame({"neg_elbo": v[:, 0], "log_px_is": v[:, 1], "gap_is": v[:, 2]})


def active_units(model, x, threshold: float = 0.01) -> int:
    """Latent dimensions whose encoder mean varies across x (Var_x E_q[z_k] > threshold;
    the "active units" of Burda et al. 2016): the dimensions the model actually uses."""
    mu, _ = _encoder_gaussian(model, x)
    return int((mu.var(0) > threshold).sum())


def posterior_simplicity(records: Sequence[dict], profile: str, dataset: str, version: int = 0,
                         n: int = 300, n_samples: int = 1000, lim: float = 4.5,
                         n_grid: int = 181, best_gaussian: bool = True) -> tuple[pd.DataFrame, dict]:
    """Figs. 23-24: how hard the posteriors of the selected Table-1 VAE of each K are for
    its Gaussian encoder, on the first ``n`` test points of ``dataset`` version
    ``version``. Per K: learned sigma^2 (mean over dims), active latent units, and the
    mean / median / 90 % quantile over the test points of KL(q_phi(z|x) || p_theta(z|x)),
    by quadrature for K <= 2 (``model_posterior_grid``) and by importance sampling for
    K = 3 (``posterior_gap``, n_samples draws; column ``KL source``); ``IS gap mean``
    is the importance-sampled value for every K (for K <= 2 a check of the grid), and
    for K = 1 the best Gaussian's KL (no amortisation). A first row gives the ground
    truth's best-Gaussian KL (K = 1, its sigma^2). ``best_gaussian=False`` skips the two
    best-Gaussian fits (the slow part). Returns (table, details) with details[K] = the
    per-point gap frame, the grid result (K <= 2) and the model."""
    p = get_profile(profile)
    truth = data.get(dataset)
    x = data.splits(dataset, version, n_train=p.n_train, n_val=p.n_val, n_test=p.n_test)["test"].x[:n]
    kl_true = truth.posterior_kl(x)["kl"] if best_gaussian else np.full(len(x), np.nan)
    rows = [{"model": "ground truth", "K": 1, "sigma2": truth.noise_var, "active units": 1,
             "KL source": "-", "KL(q||p) mean": np.nan, "KL(q||p) median": np.nan, "KL(q||p) q90": np.nan,
             "IS gap mean": np.nan, "best-Gaussian KL mean": float(kl_true.mean())}]
    details = {"x": x, "kl_true": kl_true}
    for K in CASE_B_K:
        m = case_b_model(records, dataset, K, version)
        if m is None:
            continue
        gap = posterior_gap(m, x, n_samples=n_samples)
        grid = model_posterior_grid(m, x, lim, n_grid, best_gaussian) if K <= 2 else None
        kl = grid["kl_q"] if grid is not None else gap["gap_is"].to_numpy()
        rows.append({"model": f"VAE K = {K}", "K": K, "sigma2": float(m.noise_var.detach().mean()),
                     "active units": active_units(m, x),
                     "KL source": "grid" if grid is not None else "importance sampling",
                     "KL(q||p) mean": float(np.mean(kl)), "KL(q||p) median": float(np.median(kl)),
                     "KL(q||p) q90": float(np.quantile(kl, 0.9)), "IS gap mean": float(gap["gap_is"].mean()),
                     "best-Gaussian KL mean": float(np.mean(grid["kl_best"])) if K == 1 else np.nan})
        details[K] = dict(gap=gap, grid=grid, model=m, kl=kl)
    return pd.DataFrame(rows).set_index("model"), details


def posterior_simplicity_versions(records: Sequence[dict], profile: str, dataset: str,
                                  versions: Sequence[int] | None = None, **kw) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``posterior_simplicity`` (without the best-Gaussian fits) for each data version
    with Case-B VAE records: (per-version table, mean and sd over versions per model)."""
    versions = range(get_profile(profile).n_versions) if versions is None else versions
    kw.setdefault("best_gaussian", False)
    tabs = []
    for v in versions:
        if case_b_model(records, dataset, 1, v) is None:
            continue
        t = posterior_simplicity(records, profile, dataset, v, **kw)[0].drop(index="ground truth")
        tabs.append(t.assign(version=v).reset_index())
    if not tabs:
        raise FileNotFoundError(f"no Case-B VAE record for {dataset} under profile {profile!r}")
    per = pd.concat(tabs, ignore_index=True)
    cols = ["sigma2", "active units", "KL(q||p) mean", "KL(q||p) median", "IS gap mean"]
    g = per.groupby("model", sort=False)[cols]
    summ = g.mean().join(g.std(ddof=1), rsuffix=" sd")
    summ.insert(0, "K", per.groupby("model", sort=False)["K"].first())
    summ["versions"] = g.size()
    return per, summ


def posterior_settings(profile: str) -> tuple[int, int]:
    """(test points, importance samples) behind the Figs. 23-24 numbers of the page and
    of its claims: (100, 200) for the ``quick`` smoke profile, else (300, 1000)."""
    return (100, 200) if get_profile(profile).name == "quick" else (300, 1000)


# ======================================================================================
# The page's claims (Sec. 8, Figs. 23-24) for the registry of ``claims``; App. F's are in ``appF``
# ======================================================================================
#: the named sweep whose records ``claims_evidence`` reads
CLAIMS_SWEEP = "section8"
#: bump when ``claims_evidence`` changes what it returns
CLAIMS_VERSION = 2
_PAGE = "sec8_signal_noise"
_DS_NAME = {"figure8_5d": "Figure-8-5D", "clusters_5d": "Clusters-5D"}


def page_claims() -> list[Claim]:
    """The claims of the page beyond Table 1, its Sec. 8 effects and Case A (those are in
    the registry already; App. F's are ``appF.page_claims``): Figs. 23-24, the VAE's
    posteriors get simpler as K grows: the per-point KL(q || p_theta(z | x)) (its mean,
    and its median, over the test points) of K = 1 above that of K = 2 and of K = 3, per
    data version (``effect``)."""
    out = []
    for ds, fig in (("clusters_5d", 23), ("figure8_5d", 24)):
        for stat in ("mean", "median"):
            for K in (2, 3):
                cell = lambda k: ("sec8", "posterior", ds, k, stat)  # noqa: E731
                out.append(Claim(f"sec8/fig{fig}/{ds}/kl_{stat}/K1>K{K}", "sec8",
                                 f"{_DS_NAME[ds]}: the VAE's posteriors are simpler at K = {K} than at K = 1 "
                                 f"({stat} over test points of KL(q || p(z | x)))", "qualitative (figure)",
                                 "effect", terms=difference_terms(cell(1), cell(K)),
                                 labels=("K = 1", f"K = {K}"), where=f"Sec. 8, Fig. {fig}", page=_PAGE))
    return out


def claims_evidence(profile: str, records: list[dict]) -> dict:
    """The cells of ``page_claims`` from the cached Sec. 8 models (nothing is trained):
    the per-version mean and median of KL(q || p(z | x)) per K
    (``posterior_simplicity_versions`` with ``posterior_settings``). A data set whose
    records are missing gives no cells (its claims are "not run")."""
    out = {}
    n, n_samples = posterior_settings(profile)
    for ds in CASE_B_DATASETS:
        try:
            per = posterior_simplicity_versions(records, profile, ds, n=n, n_samples=n_samples)[0]
        except FileNotFoundError:
            continue
        for K, g in per.groupby("K"):
            for stat in ("mean", "median"):
                out[("sec8", "posterior", ds, int(K), stat)] = \
                    g.set_index("version")[f"KL(q||p) {stat}"].astype(float).sort_index()
    return out
