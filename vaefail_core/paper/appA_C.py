"""Appendices A and C: the theory pages' computations (``notebooks/appA_C_theory.py``).

* App. A   posterior collapse is a global optimum of the ELBO only for Gaussian p(x)
           (closed forms for linear-Gaussian models; grid quadrature for Circle);
* App. C.1 the quantities of Theorem 1 (Eqs. 16-19) on a grid, at the ground truth and
           at a trained model;
* App. C.2 Eq. 9: the sigma^2 maximising the expected log-likelihood term of the ELBO.
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

__all__ = [
    "gaussian_collapse_scan",
    "collapse_vs_truth",
    "theorem1_split",
    "theorem1_table",
    "expected_loglik_curve",
    "eq9_check_truth",
    "eq9_check_model",
    "model_grid_terms",
]


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
