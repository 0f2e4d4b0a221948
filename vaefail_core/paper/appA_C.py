"""Appendices A and C: the theory pages' computations (``notebooks/appA_C_theory.py``).

* App. A   posterior collapse is a global optimum of the ELBO only for Gaussian p(x)
           (closed forms for linear-Gaussian models; grid quadrature for Circle);
* App. C.1 the quantities of Theorem 1 (Eqs. 16-19) on a grid, at the ground truth and
           at a trained model;
* App. C.2 Eq. 9: the sigma^2 maximising the expected log-likelihood term of the ELBO.

The page's claims (``page_claims``) are judged on ``claims_evidence``, which calls the
same functions as the page (``gaussian_collapse_table``, ``collapse_vs_truth``,
``theorem1_table``, ``eq9_table``) on the closed forms, the grids and the cached
Figure-8 VAE of the Section-5 sweep (data version 0; nothing is trained).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from scipy import optimize, stats

from .. import data, linear, metrics, posterior
from .. import evaluate as ev
from ..evaluate import as_members
from ..sweep import load_selected, verify_record
from .claim import Claim
from .sec5 import section5_tasks

__all__ = [
    "gaussian_collapse_scan",
    "collapse_vs_truth",
    "theorem1_split",
    "theorem1_table",
    "expected_loglik_curve",
    "eq9_check_truth",
    "eq9_check_model",
    "model_grid_terms",
    "GAUSS_CASES",
    "gaussian_collapse_table",
    "find_section5_record",
    "figure8_vae",
    "eq9_table",
    "ETAS",
    "N_THEOREM",
    "N_CIRCLE",
    "ZERO_TOL",
    "EQ9_REL_TOL",
    "CLAIMS_SWEEP",
    "CLAIMS_VERSION",
    "PAGE",
    "page_claims",
    "claims_evidence",
]

#: the named sweep whose records the trained-model evidence reads
CLAIMS_SWEEP = "section5"
#: bump when ``claims_evidence`` changes what it returns
CLAIMS_VERSION = 1
#: the book page of these claims
PAGE = "appA_C_theory"
#: App. A's Gaussian data sets (label -> covariance); the first two are the cases where
#: collapse should be a global optimum (1-D, and isotropic 2-D with diagonal noise)
GAUSS_CASES = {"1-D x, var 0.5": np.array([[0.5]]),
               "2-D x, isotropic 0.5 I": 0.5 * np.eye(2),
               "2-D x, correlated (rho 0.8)": np.array([[1.0, 0.8], [0.8, 1.0]])}
#: Theorem 1: the thresholds eta, and the number of Figure-8 points
ETAS = (0.01, 0.05, 0.1, 0.5)
N_THEOREM = 500
#: App. A on Circle: the number of test points
N_CIRCLE = 1000
#: "zero" for a closed form or an identity: below this (float rounding)
ZERO_TOL = 1e-9
#: Eq. 9: the largest relative gap between the curve's maximiser (grid + parabola) and
#: the closed form that still counts as equal (the grid's resolution)
EQ9_REL_TOL = 1e-2


# ======================================================================================
# Appendix A: posterior collapse
# ======================================================================================
def _linear_neg_elbo(w: np.ndarray, noise_diag: np.ndarray, data_cov: np.ndarray) -> float:
    """Closed-form ``-ELBO`` minus the entropy of p(x) (= MLEO + PMO, Eq. 3) of a
    linear-Gaussian VAE ``x = w z + eps``, ``eps ~ N(0, diag(noise_diag))``, with the
    optimal MFG encoder (``linear.linear_terms``)."""
    W = np.asarray(w, dtype=float).reshape(len(data_cov), -1)
    return linear.linear_terms(W, np.diag(noise_diag), data_cov).neg_elbo


def gaussian_collapse_scan(data_cov, n_w: int = 81, w_max: float | None = None) -> dict:
    """App. A for Gaussian data ``x ~ N(0, data_cov)`` and a K = 1 linear decoder
    ``f(z) = w z`` (D = 1 or 2), with the noise variance of each dimension set to its
    optimum for the given w (the diagonal of ``data_cov - w w^T``, floored at 1e-6; this
    is the optimum when it is feasible).

    Returns the collapsed model's ``-ELBO - H[p(x)]`` (w = 0, noise = data variance), the
    minimum over a grid of w (one coordinate for D = 1; for D = 2 a grid over the two
    entries), the minimiser, and a closed-form check of the global minimum by
    Nelder-Mead over (w, log noise). All numbers in nats per point (0 = p(x) learned
    exactly with exact posteriors)."""
    S = np.atleast_2d(np.asarray(data_cov, dtype=float))
    D = S.shape[0]
    if S.shape != (D, D) or D not in (1, 2):
        raise ValueError(f"data_cov must be 1x1 or 2x2, got {S.shape}")
    w_max = float(np.sqrt(np.diag(S)).max() * 1.2) if w_max is None else w_max
    grid = np.linspace(-w_max, w_max, n_w)

    def obj_w(w):
        nd = np.maximum(np.diag(S) - np.asarray(w) ** 2, 1e-6)
        return _linear_neg_elbo(w, nd, S)

    collapsed = _linear_neg_elbo(np.zeros(D), np.diag(S), S)
    if D == 1:
        vals = np.array([obj_w([a]) for a in grid])
        i = int(vals.argmin())
        w_best = np.array([grid[i]])
    else:
        vals = np.array([[obj_w([a, b]) for b in grid] for a in grid])
        i, j = np.unravel_index(int(vals.argmin()), vals.shape)
        w_best = np.array([grid[i], grid[j]])
    def obj_full(p):
        return _linear_neg_elbo(p[:D], np.exp(p[D:]), S)

    starts = [np.r_[w_best, np.log(np.maximum(np.diag(S) - w_best ** 2, 1e-3))],
              np.r_[np.ones(D) * 0.3, np.log(np.diag(S) / 2)]]
    opt = min((optimize.minimize(obj_full, s, method="Nelder-Mead",
                                 options=dict(xatol=1e-9, fatol=1e-12, maxiter=20000)) for s in starts),
              key=lambda r: r.fun)
    return dict(grid=grid, values=vals, collapsed=float(collapsed), grid_min=float(vals.min()),
                w_best=w_best, global_min=float(opt.fun), global_w=opt.x[:D],
                global_noise=np.exp(opt.x[D:]))


def collapse_vs_truth(name: str = "circle", n: int = 2000, seed: int = 0) -> dict:
    """App. A on a non-Gaussian data set: the collapsed MFG-VAE (f constant = the data
    mean, sigma^2_d = the data variance of dimension d, q = prior) has
    ``-ELBO = -log N(x; mean, diag var)`` (the KL term is 0); the ground-truth model with
    the best per-point Gaussian q has ``-ELBO = -log p(x) + KL(q* || p(z|x))`` (Eq. 3),
    computed on the grid (``posterior.neg_elbo_split``). Test data: ``n`` draws with
    ``seed``; the collapsed model's mean and variances are fitted on an independent
    training draw of the same size (as a trained model would be)."""
    truth = data.get(name)
    if truth.latent_dim != 1 or truth.label is not None:
        raise ValueError(f"{name}: need an unsupervised 1-D-latent data set")
    x_tr = truth.sample(n, seed + 1).x.astype(np.float64)
    x = truth.sample(n, seed).x.astype(np.float64)
    mean, var = x_tr.mean(0), x_tr.var(0)
    collapsed = float(-stats.norm(mean, np.sqrt(var)).logpdf(x).sum(1).mean())
    z = posterior.z_grid(*truth.z_grid_spec)
    fv = torch.as_tensor(truth.f(z.numpy()[:, None]), dtype=torch.float64)
    post = posterior.grid_posterior(fv, x, truth.noise_var, z=z)
    kl, mu, sd = posterior.best_gaussian_kl(z, post)
    split = posterior.neg_elbo_split(fv, x, truth.noise_var, mu, sd, z=z)
    return dict(dataset=name, n=n, collapsed_neg_elbo=collapsed,
                truth_neg_elbo=split["neg_elbo"], truth_neg_log_px=split["neg_log_px_model"],
                truth_pmo=split["pmo"], data_var=var)


def gaussian_collapse_table(cases: dict = GAUSS_CASES) -> tuple[pd.DataFrame, dict]:
    """App. A on Gaussian data: per case of ``cases``, ``gaussian_collapse_scan``'s
    collapsed ``-ELBO - H[p(x)]``, the best over the w grid and the global minimum
    (clipped at 0: they are >= 0 in theory, so -1e-16 is rounding). Returns (table, the
    scans by label)."""
    rows, scans = [], {}
    for lab, cov in cases.items():
        r = gaussian_collapse_scan(cov, n_w=81 if len(cov) == 1 else 41)
        scans[lab] = r
        rows.append({"data": lab, "collapsed -ELBO": r["collapsed"], "best over w grid": r["grid_min"],
                     "global min (Nelder-Mead)": r["global_min"]})
    return pd.DataFrame(rows).set_index("data").clip(lower=0), scans


# ======================================================================================
# Appendix C.1: Theorem 1 (Eqs. 16-19)
# ======================================================================================
def theorem1_split(kl, eta: float) -> dict:
    """Eq. 16: split per-point KLs (the PMO integrand, one value per x ~ p(x)) at eta into
    X_Lo (KL <= eta) and X_Hi (KL > eta): Pr[X_Hi], D_Lo, D_Hi, and the PMO rebuilt by
    Eq. 19, ``Pr_Hi (D_Hi - D_Lo) + D_Lo`` (equals the plain mean)."""
    kl = np.asarray(kl, dtype=float).reshape(-1)
    if eta < 0:
        raise ValueError(f"eta must be >= 0, got {eta}")
    hi = kl > eta
    p_hi = float(hi.mean())
    d_lo = float(kl[~hi].mean()) if (~hi).any() else 0.0
    d_hi = float(kl[hi].mean()) if hi.any() else 0.0
    return dict(eta=float(eta), pr_hi=p_hi, d_lo=d_lo, d_hi=d_hi,
                pr_hi_d_hi=p_hi * d_hi, pr_lo_d_lo=(1 - p_hi) * d_lo,
                pmo_eq19=p_hi * (d_hi - d_lo) + d_lo, pmo_mean=float(kl.mean()))


def model_grid_terms(model, x, z):
    """Per-point log p_theta(x) and best-Gaussian KL of a trained K = 1 model on a grid."""
    post = ev.posterior_grid(model, x, z)[0]
    kl, _, _ = posterior.best_gaussian_kl(z, post)
    lpx = ev.log_px_grid(model, x, z)[0]
    return kl.numpy(), lpx


def theorem1_table(name: str = "figure8", etas: Sequence[float] = (0.01, 0.05, 0.1, 0.5),
                   n: int = 1000, seed: int = 0, model=None) -> tuple[pd.DataFrame, dict]:
    """Theorem 1 on data set ``name`` (1-D latent): per-x KL of the best Gaussian to the
    true posterior at the ground truth, split by each eta (Eqs. 16-19). If ``model`` (a
    trained single K = 1 VAE) is given, the same split for the model's own posteriors
    (per-point optimal q, as the theorem assumes) and its MLEO ``E[log p(x) - log
    p_theta(x)]`` on the same x, and whether condition (1) of the theorem holds:
    ``Pr_Hi^GT (D_Hi^GT - D_Lo^GT) > Pr_Hi^theta D_Hi^theta + MLEO`` and
    ``D_Lo^GT >= D_Lo^theta``."""
    truth = data.get(name)
    x = truth.sample(n, seed).x.astype(np.float64)
    z = posterior.z_grid(*truth.z_grid_spec)
    fv = torch.as_tensor(truth.f(z.numpy()[:, None]), dtype=torch.float64)
    kl_gt = truth.posterior_kl(x, z=z)["kl"]
    lpx_gt = posterior.log_px_grid(fv, x, truth.noise_var, z=z).numpy()
    extra = dict(kl_gt=kl_gt, x=x)
    if model is not None:
        kl_m, lpx_m = model_grid_terms(model, x, z)
        mleo = float(np.mean(lpx_gt - lpx_m))
        extra.update(kl_model=kl_m, mleo_model=mleo)
    rows = []
    for eta in etas:
        g = theorem1_split(kl_gt, eta)
        row = {"eta": eta, "Pr_Hi(GT)": g["pr_hi"], "D_Lo(GT)": g["d_lo"], "D_Hi(GT)": g["d_hi"],
               "PMO(GT) Eq.19": g["pmo_eq19"], "PMO(GT) mean": g["pmo_mean"]}
        if model is not None:
            m = theorem1_split(kl_m, eta)
            lhs = g["pr_hi"] * (g["d_hi"] - g["d_lo"])
            rhs = m["pr_hi"] * m["d_hi"] + mleo
            row.update({"Pr_Hi(model)": m["pr_hi"], "D_Lo(model)": m["d_lo"],
                        "D_Hi(model)": m["d_hi"], "lhs": lhs, "rhs": rhs,
                        "cond1": bool(lhs > rhs and g["d_lo"] >= m["d_lo"])})
        rows.append(row)
    return pd.DataFrame(rows).set_index("eta"), extra


def find_section5_record(profile: str, dataset: str, version: int, method: str = "vae", iwae_samples: int = 0):
    """(task, record or None) of one Section-5 sweep task (``sec5.section5_tasks``)."""
    for t in section5_tasks(profile):
        if (t.dataset, t.version, t.method, t.iwae_samples) == (dataset, version, method, iwae_samples):
            return t, verify_record(t)
    return None, None


def figure8_vae(profile: str, version: int = 0):
    """(record, model) of the selected Figure-8 VAE of the Section-5 sweep cache, or
    (None, None) when it is not cached (loads; trains nothing)."""
    _, rec = find_section5_record(profile, "figure8", version, "vae")
    return (rec, load_selected(rec)) if rec is not None else (None, None)


# ======================================================================================
# Appendix C.2: Eq. 9
# ======================================================================================
def expected_loglik_curve(x, f_samples, sigma2_grid) -> np.ndarray:
    """The sigma^2-dependent term of the ELBO, ``1/N sum_n E_q[log N(x_n^(d) | f(z)^(d),
    sigma^2)]`` (Eqs. 23-27), per data dimension d, for each sigma^2 in the grid:
    [len(grid), D]. ``f_samples`` [S, N, D] are decoder outputs at z ~ q(z | x_n)."""
    x = np.asarray(x, dtype=np.float64)
    f = np.asarray(f_samples, dtype=np.float64)
    if f.ndim != 3 or f.shape[1:] != x.shape:
        raise ValueError(f"f_samples must be [S, N, D] with [N, D] = {x.shape}, got {f.shape}")
    s2 = np.asarray(sigma2_grid, dtype=np.float64).reshape(-1, 1)
    if (s2 <= 0).any():
        raise ValueError("sigma2_grid must be positive")
    C = ((x[None] - f) ** 2).mean(axis=(0, 1))          # [D]
    return -0.5 * np.log(2 * math.pi * s2) - C[None, :] / (2 * s2)


def _argmax_refined(grid, curve):
    """Argmax of a curve on a log grid, refined by a parabola in log sigma^2."""
    i = int(np.argmax(curve))
    if 0 < i < len(grid) - 1:
        u = np.log(grid[i - 1:i + 2])
        a, b, _ = np.polyfit(u, curve[i - 1:i + 2], 2)
        if a < 0:
            return float(np.exp(-b / (2 * a)))
    return float(grid[i])


def eq9_check_truth(name: str = "figure8", n: int = 2000, n_samples: int = 64, seed: int = 0,
                    sigma2_grid=None) -> dict:
    """Eq. 9 at the ground-truth decoder with q = the best per-point Gaussian on the grid
    (the q the PMO would pick, App. C.2). Returns the curve of the expected
    log-likelihood term over a sigma^2 grid per dimension, its maximiser, and
    ``metrics.noise_variance_eq9`` on the same samples, beside the true sigma^2."""
    truth = data.get(name)
    x = truth.sample(n, seed).x.astype(np.float64)
    r = truth.posterior_kl(x)
    rng = np.random.default_rng(seed)
    zs = r["q_mu"][None] + r["q_sd"][None] * rng.standard_normal((n_samples, n))
    f = truth.f(zs.reshape(-1, 1)).reshape(n_samples, n, -1).astype(np.float64)
    return _eq9_pack(x, f, truth.noise_var, sigma2_grid)


def eq9_check_model(model, x, n_samples: int = 32, seed: int = 0, sigma2_grid=None,
                    true_noise=None) -> dict:
    """Eq. 9 for a trained single VAE: z ~ q_phi(z | x_n) (its encoder), f = its decoder."""
    g = torch.Generator().manual_seed(seed)
    X = as_members(x, 1, "cpu")
    with torch.no_grad():
        mu, lv = model.encode(X)
        eps = torch.randn(n_samples, *mu.shape[1:], generator=g)
        z = mu + torch.exp(0.5 * lv) * eps                 # [S, N, K]
        f = model.decode(z.reshape(1, n_samples, -1, mu.shape[-1]))[0].double().numpy()
    return _eq9_pack(np.asarray(x, dtype=np.float64), f, true_noise, sigma2_grid)


def _eq9_pack(x, f, true_noise, sigma2_grid):
    grid = np.logspace(-3.5, 0.5, 401) if sigma2_grid is None else np.asarray(sigma2_grid)
    curve = expected_loglik_curve(x, f, grid)
    argmax = np.array([_argmax_refined(grid, curve[:, d]) for d in range(curve.shape[1])])
    eq9 = np.asarray(metrics.noise_variance_eq9(x, f))
    return dict(grid=grid, curve=curve, argmax=argmax, eq9=eq9, true_noise=true_noise)


def eq9_table(model=None, seed: int = 0, name: str = "figure8") -> tuple[pd.DataFrame, list]:
    """Eq. 9 checked numerically: ``eq9_check_truth`` (1000 points) and, if ``model`` is
    given, ``eq9_check_model`` on 1000 fresh points; one row per (model, dimension):
    the maximiser of the curve, Eq. 9's value and the true sigma^2. Returns (table, the
    checks as (label, result) pairs)."""
    truth = data.get(name)
    checks = [("ground truth + best Gaussian q", eq9_check_truth(name, n=1000, n_samples=64, seed=seed))]
    if model is not None:
        xs = truth.sample(1000, 20_000 + seed).x
        checks.append(("trained VAE", eq9_check_model(model, xs, n_samples=32, seed=seed,
                                                      true_noise=truth.noise_var)))
    tab = pd.DataFrame([{"model": lab, "dim": d + 1, "argmax of curve": e["argmax"][d], "Eq. 9": e["eq9"][d],
                         "true sigma^2": truth.noise_var}
                        for lab, e in checks for d in range(len(e["eq9"]))]).set_index(["model", "dim"])
    return tab, checks


# ======================================================================================
# The page's claims
# ======================================================================================
def _c(*k) -> tuple:
    return ("appA_C",) + k


def page_claims() -> list[Claim]:
    """The claims of App. A and C the page checks (closed forms, grids, and the single
    cached Figure-8 VAE of data version 0)."""
    return [
        Claim("appA_C/appA/collapse_optimal_gaussian", "appA_C",
              "App. A: on Gaussian data (1-D, and isotropic 2-D) the collapsed model is a global optimum and "
              f"learns p(x) perfectly (its -ELBO - H[p(x)] below {ZERO_TOL:g}; closed form)",
              "stated: p(x) learned perfectly", "check",
              cells=(_c("collapse", "gauss_max"), _c("collapse", "gauss_global_min")),
              cond=("<", ZERO_TOL), fmt="collapsed {0:.1e} nats; global minimum {1:.1e}",
              where="App. A", page=PAGE),
        Claim("appA_C/appA/no_collapse_non_gaussian", "appA_C",
              "App. A: on non-Gaussian data (Circle) collapse is not a global optimum: the collapsed model's -ELBO "
              f"minus the ground truth's (best per-point Gaussian q, {N_CIRCLE} test points)",
              "stated: cannot occur on non-Gaussian data", "check",
              cells=(_c("collapse", "circle_gap"), _c("collapse", "circle_collapsed"), _c("collapse", "circle_truth")),
              cond=(">", 0.0), fmt="-ELBO: collapsed {1:.3f} vs truth {2:.3f} nats",
              where="App. A", page=PAGE),
        Claim("appA_C/c1/eq19_identity", "appA_C",
              "C.1, Eqs. 16-19: PMO = Pr_Hi (D_Hi - D_Lo) + D_Lo (largest gap to the plain mean over the "
              f"etas {', '.join(f'{e:g}' for e in ETAS)}, Figure-8 ground truth)",
              "identity (Eq. 19)", "check",
              cells=(_c("theorem1", "eq19_gap"), _c("theorem1", "pmo_gt")),
              cond=("<", ZERO_TOL), fmt="largest gap {0:.1e}; PMO of the ground truth {1:.3f} nats",
              where="App. C.1, Eq. 19", page=PAGE),
        Claim("appA_C/c1/cond1_holds", "appA_C",
              "C.1, Theorem 1: condition (1) holds on Figure-8 for the trained VAE at some eta tested "
              f"(number of the etas {', '.join(f'{e:g}' for e in ETAS)} where it holds)",
              "stated: the conditions hold on the data sets (App. C.1, E.1)", "check",
              cells=(_c("theorem1", "cond1_count"), _c("theorem1", "cond1_best_margin")),
              cond=(">", 0.0), fmt="holds at {0:.0f} of the etas; largest lhs - rhs {1:.3f} nats",
              where="App. C.1, Theorem 1", page=PAGE),
        Claim("appA_C/c1/misestimating_model_wins", "appA_C",
              "C.1: on Figure-8 a model with MLEO > 0 has a lower -ELBO than the ground truth (the trained VAE, "
              "per-point optimal q: ground truth's -ELBO - H[p(x)] minus the model's)",
              "stated: the global optimum misestimates p(x)", "check",
              cells=(_c("theorem1", "neg_elbo_gap"), _c("theorem1", "neg_elbo_model"), _c("theorem1", "mleo_model"),
                     _c("theorem1", "neg_elbo_gt")),
              cond=(">", 0.0), fmt="-ELBO - H[p(x)]: trained {1:.3f} (MLEO {2:.3f}) vs ground truth {3:.3f} nats",
              where="App. C.1", page=PAGE),
        Claim("appA_C/c2/eq9_argmax", "appA_C",
              "C.2, Eq. 9: the sigma^2 maximising the ELBO's expected log-likelihood equals the mean squared "
              f"residual under q (largest relative gap below {EQ9_REL_TOL:g}; grid + parabola, Figure-8)",
              "derived (Eqs. 21-27)", "check",
              cells=(_c("eq9", "rel_gap"),), cond=("<", EQ9_REL_TOL), fmt="largest relative gap {0:.1e}",
              where="App. C.2, Eq. 9", page=PAGE),
        Claim("appA_C/c2/eq9_trained_overestimates", "appA_C",
              "C.2 / Sec. 8: Eq. 9 at the trained Figure-8 VAE over-estimates the true sigma^2 (mean over "
              "dimensions minus the truth), the direction Sec. 8 reports on Spiral-Dots",
              "stated: can be biased; over-estimates in Case A", "check",
              cells=(_c("eq9", "trained_bias"), _c("eq9", "trained_mean"), _c("eq9", "true_noise")),
              cond=(">", 0.0), fmt="Eq. 9 {1:.4f} (mean over dimensions) vs true {2:.4f}",
              where="App. C.2, Sec. 8", page=PAGE),
    ]


def claims_evidence(profile: str, records: list[dict]) -> dict:
    """Our evidence for ``page_claims`` (one value each, index [0]); the trained-model
    cells are absent when the Figure-8 VAE of data version 0 is not cached."""
    one = lambda v: pd.Series([float(v)], index=[0])  # noqa: E731
    gauss, _ = gaussian_collapse_table()
    opt = gauss.iloc[:2]                        # the 1-D and the isotropic case
    cv = collapse_vs_truth("circle", n=N_CIRCLE, seed=0)
    _, model = figure8_vae(profile)
    th, extra = theorem1_table("figure8", etas=ETAS, n=N_THEOREM, seed=0, model=model)
    eq9, checks = eq9_table(model, seed=0)
    out = {_c("collapse", "gauss_max"): one(opt["collapsed -ELBO"].abs().max()),
           _c("collapse", "gauss_global_min"): one(opt["global min (Nelder-Mead)"].max()),
           _c("collapse", "circle_collapsed"): one(cv["collapsed_neg_elbo"]),
           _c("collapse", "circle_truth"): one(cv["truth_neg_elbo"]),
           _c("collapse", "circle_gap"): one(cv["collapsed_neg_elbo"] - cv["truth_neg_elbo"]),
           _c("theorem1", "eq19_gap"): one((th["PMO(GT) Eq.19"] - th["PMO(GT) mean"]).abs().max()),
           _c("theorem1", "pmo_gt"): one(np.mean(extra["kl_gt"])),
           _c("eq9", "rel_gap"): one(np.max(np.abs(eq9["argmax of curve"] - eq9["Eq. 9"]) / eq9["Eq. 9"]))}
    if model is None:
        return out
    gt = float(np.mean(extra["kl_gt"]))
    m = extra["mleo_model"] + float(np.mean(extra["kl_model"]))
    e_m = checks[1][1]
    out.update({_c("theorem1", "cond1_count"): one(th["cond1"].sum()),
                _c("theorem1", "cond1_best_margin"): one((th["lhs"] - th["rhs"]).max()),
                _c("theorem1", "neg_elbo_gt"): one(gt), _c("theorem1", "neg_elbo_model"): one(m),
                _c("theorem1", "mleo_model"): one(extra["mleo_model"]), _c("theorem1", "neg_elbo_gap"): one(gt - m),
                _c("eq9", "trained_mean"): one(np.mean(e_m["eq9"])), _c("eq9", "true_noise"): one(e_m["true_noise"]),
                _c("eq9", "trained_bias"): one(np.mean(e_m["eq9"]) - e_m["true_noise"])})
    return out
