"""Sections 6 and 8, Appendices A, C and F of the paper: the computations behind
``notebooks/sec6_latent_spaces.py``, ``notebooks/sec8_signal_noise.py`` and
``notebooks/appA_C_theory.py``.

* App. A   posterior collapse is a global optimum of the ELBO only for Gaussian p(x)
           (closed forms for linear-Gaussian models; grid quadrature for Circle);
* App. C.1 the quantities of Theorem 1 (Eqs. 16-19) on a grid, at the ground truth and
           at a trained model;
* App. C.2 Eq. 9: the sigma^2 maximising the expected log-likelihood term of the ELBO;
* Sec. 6   the linear example (after Stuhmer et al. 2020) in closed form, and the
           Absolute-Value example (Fig. 9) from the Section-5 sweep cache;
* Sec. 8   Case A (Spiral-Dots noise, Fig. 16) and Case B (Table 1, Figs. 23-24):
           the sweep tasks, and tidy tables / CSVs built from their records; for Figs.
           23-24 the per-point KL(q || p_theta(z|x)) of the Case-B VAEs (exact on 1-D and
           2-D latent grids, importance-sampled for K = 3);
* App. F   (Fig. 7) manifold projection as a defence: random perturbations, and minimal
           attacks on a logistic-regression classifier of a label of the de-noised point,
           defended by projecting onto the true and the learned manifolds.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from scipy import optimize, stats
from sklearn.linear_model import LogisticRegression

from . import data, linear, metrics, posterior
from . import evaluate as ev
from .paper import reference
from .cache import write_table_csv
from .evaluate import as_members, encode_gaussian, float64_copy
from .objectives import derive_seed, iwae_log_weights
from .profiles import get_profile
from .sec5 import section5_tasks
from .sweep import Task, default_cache_dir, load_selected, verify_record

__all__ = [
    "gaussian_collapse_scan", "collapse_vs_truth", "theorem1_split", "theorem1_table",
    "expected_loglik_curve", "eq9_check_truth", "eq9_check_model",
    "LINEAR_A", "LINEAR_B", "LINEAR_SIGMA2", "rotated_decoder", "linear_example",
    "rotation_scan", "absolute_value_analysis",
    "section8_tasks", "CASE_B_DATASETS", "CASE_B_K", "case_a_table", "table1_frame",
    "exact_mutual_information", "mi_estimator_check", "MI_CHECK_DATASETS", "TABLE1_METRICS",
    "table1_summary", "write_noise_csv", "write_table1_csv", "PAPER_TABLE1", "PAPER_CASE_A",
    "find_section5_record", "ground_truth_projection", "model_projection", "projection_defence",
    "ground_truth_mode", "APPF_DATASET", "manifold_label", "fit_label_classifier", "linear_attack",
    "defence_table", "case_b_model", "appf_attack", "appf_attack_summary", "APPF_OVERSHOOT",
    "appf_overshoot_curve",
    "grid_posterior_2d", "kl_gaussian_to_grid_2d", "model_posterior_grid", "posterior_gap",
    "active_units", "posterior_simplicity", "posterior_simplicity_versions",
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


def _model_grid_terms(model, x, z):
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
        kl_m, lpx_m = _model_grid_terms(model, x, z)
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


# ======================================================================================
# Section 6: the linear example
# ======================================================================================
#: Our choice for the linear example (the paper gives no numbers): K = D = 2, a
#: non-diagonal A whose posteriors are strongly correlated, b = (0.5, -1), sigma^2 = 0.1.
LINEAR_A = np.array([[1.0, 0.9], [0.3, -0.2]])
LINEAR_B = np.array([0.5, -1.0])
LINEAR_SIGMA2 = 0.1


def rotated_decoder(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sec. 6: ``A' = A R`` with R orthogonal chosen so that ``A'^T A'`` is diagonal (so
    the posterior precision ``I + A'^T A' / sigma^2`` is diagonal). With the SVD
    ``A = U S V^T``, ``R = V`` and ``A' = U S``. (The paper writes
    ``R = (S V^T)^-1 (Lambda - sigma^2 I)^(1/2)``; with ``Lambda = S^2 + sigma^2 I``,
    the choice that keeps p(x) unchanged, this is the same R = V.) Returns (A', R)."""
    U, S, Vt = np.linalg.svd(np.asarray(A, dtype=float))
    return U @ np.diag(S), Vt.T


def linear_example(A: np.ndarray = LINEAR_A, sigma2: float = LINEAR_SIGMA2) -> pd.DataFrame:
    """Closed form for the ground truth A and the rotated A' (data from A): MLEO (0 for
    both: same p(x) = N(b, A A^T + sigma^2 I)), PMO, and -ELBO up to H[p(x)]."""
    A = np.asarray(A, dtype=float)
    Ap, _ = rotated_decoder(A)
    noise = sigma2 * np.eye(A.shape[0])
    cov = A @ A.T + noise
    rows = []
    for lab, W in (("ground truth A", A), ("rotated A' = A R", Ap)):
        t = linear.linear_terms(W, noise, cov)
        prec = linear.posterior_precision(W, noise)
        cov_post = np.linalg.inv(prec)
        corr = cov_post[0, 1] / math.sqrt(cov_post[0, 0] * cov_post[1, 1])
        rows.append({"model": lab, "MLEO": t.mleo, "PMO": t.pmo, "-ELBO - H[p(x)]": t.neg_elbo,
                     "posterior corr": corr,
                     "max |cov_x - cov_data|": float(np.abs(W @ W.T + noise - cov).max())})
    return pd.DataFrame(rows).set_index("model")


def rotation_scan(A: np.ndarray = LINEAR_A, sigma2: float = LINEAR_SIGMA2, n: int = 181) -> pd.DataFrame:
    """``A R(theta)`` for rotations theta in [0, pi): the MLEO stays 0 (rotational
    invariance of the N(0, I) prior) while the PMO varies; its minima (PMO = 0) are
    the rotations that diagonalise the posterior."""
    A = np.asarray(A, dtype=float)
    noise = sigma2 * np.eye(2)
    cov = A @ A.T + noise
    rows = []
    for th in np.linspace(0, np.pi, n):
        R = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
        t = linear.linear_terms(A @ R, noise, cov)
        rows.append({"theta": th, "MLEO": t.mleo, "PMO": t.pmo})
    return pd.DataFrame(rows)


# ======================================================================================
# Section 6: Absolute-Value (Fig. 9)
# ======================================================================================
def find_section5_record(profile: str, dataset: str, version: int, method: str = "vae", iwae_samples: int = 0):
    """(task, record or None) of one Section-5 sweep task (``experiments.section5_tasks``)."""
    for t in section5_tasks(profile):
        if (t.dataset, t.version, t.method, t.iwae_samples) == (dataset, version, method, iwae_samples):
            return t, verify_record(t)
    return None, None


def absolute_value_analysis(profile: str = "quick", version: int = 0, n: int = 500, seed: int = 0) -> dict:
    """Fig. 9 / Sec. 6 from the Section-5 sweep cache: the selected VAE on Absolute-Value
    (version ``version``): its f on the z-grid beside the true f, the best-Gaussian KL of
    its exact posteriors vs. the true posteriors on ``n`` test-like points, its samples,
    and the smooth kNN statistic (test) of the VAE and of each IWAE in the record cache.
    Raises FileNotFoundError if the VAE record is not in ``results/<profile>/``."""
    task, rec = find_section5_record(profile, "absolute_value", version, "vae")
    if rec is None:
        raise FileNotFoundError(f"no Section-5 VAE record for absolute_value v{version} in results/{profile}")
    model = load_selected(rec)
    truth = data.get("absolute_value")
    x = truth.sample(n, 10_000 + seed).x.astype(np.float64)
    z = posterior.z_grid(*truth.z_grid_spec)
    f_true = truth.f(z.numpy()[:, None])
    f_model = ev.f_on_grid(model, z.numpy()[:, None].astype(np.float32))[0]
    post_true = truth.posterior(x[:3], z=z)[1]
    post_model = ev.posterior_grid(model, x[:3], z)[0]
    kl_true = truth.posterior_kl(x, z=z)["kl"]
    kl_model, lpx_model = _model_grid_terms(model, x, z)
    lpx_true = posterior.log_px_grid(torch.as_tensor(f_true, dtype=torch.float64), x,
                                     truth.noise_var, z=z).numpy()
    knn = {"VAE": rec["selected"]["knn_test"]}
    for S in get_profile(profile).iwae_S:
        _, r = find_section5_record(profile, "absolute_value", version, "iwae", S)
        if r is not None:
            knn[f"IWAE S={S}"] = r["selected"]["knn_test"]
    return dict(profile=profile, version=version, z=z.numpy(), f_true=f_true, f_model=f_model,
                x=x, post_true=post_true, post_model=post_model, kl_true=kl_true,
                kl_model=kl_model, mleo=float(np.mean(lpx_true - lpx_model)),
                samples=ev.sample_px(model, n, tag="fig9")[0],
                noise_var=model.noise_var.detach().numpy()[0], knn=knn,
                selected_init=[m["init"] for m in rec["members"]
                               if m["restart"] == rec["selected"]["restart"]][0])


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




# ======================================================================================
# Appendix F / Figure 7: manifold projection as a defence
# ======================================================================================
def ground_truth_mode(name: str, x, chunk: int = 2000) -> np.ndarray:
    """The mode z* of the exact posterior p(z | x) of the ground truth on its z-grid, [N]
    (1-D-latent data sets only; computed in chunks of ``chunk`` rows to bound memory)."""
    truth = data.get(name)
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    out = []
    for a in range(0, len(x), chunk):
        z, post = truth.posterior(x[a:a + chunk])
        out.append(z[post.argmax(1)])
    return np.concatenate(out) if out else np.zeros(0)


def ground_truth_projection(name: str, x) -> np.ndarray:
    """Project x onto the true manifold: ``f_GT(z*)`` with z* the mode of the exact
    posterior p(z | x) on the grid (the posterior mean can fall between modes, off the
    manifold). 1-D-latent data sets only."""
    return data.get(name).f(ground_truth_mode(name, x)[:, None])


def model_projection(model, x) -> np.ndarray:
    """``M(x) = f_theta(mu_phi(x))`` (App. F): decode the encoder mean (in float64, so
    that which side of the classifier's boundary a projection lands on does not depend
    on the CPU's float32 rounding; see ``evaluate.float64_copy``)."""
    m64 = float64_copy(model)
    with torch.no_grad():
        mu, _ = m64.encode(torch.as_tensor(np.asarray(x, dtype=np.float64))[None])
        return m64.decode(mu)[0].numpy()


def projection_defence(projectors: dict, x, radius: float = 0.5, seed: int = 0) -> pd.DataFrame:
    """App. F: how much a manifold projection de-noises and how much of an off-data
    perturbation survives it. For each projector P (callable x -> P(x)):

    * ``removed/dim``: mean squared displacement ``||x - P(x)||^2 / D`` of clean test
      points; a projection onto the true manifold removes about the noise variance
      (minus the tangent part);
    * ``survival``: ``||P(x + delta) - P(x)|| / ||delta||`` for random perturbations
      delta of norm ``radius`` (uniform direction): near 1 means the projection leaves
      the perturbation in place (the defence fails, Fig. 7b), small means it is removed.
    """
    x = np.asarray(x, dtype=np.float64)
    rng = np.random.default_rng(seed)
    d = rng.standard_normal(x.shape)
    d *= radius / np.linalg.norm(d, axis=1, keepdims=True)
    rows = []
    for lab, P in projectors.items():
        px, pxd = np.asarray(P(x), dtype=np.float64), np.asarray(P(x + d), dtype=np.float64)
        rows.append({"projection": lab,
                     "removed/dim": float(((x - px) ** 2).sum(1).mean() / x.shape[1]),
                     "survival": float(np.median(np.linalg.norm(pxd - px, axis=1) / radius))})
    return pd.DataFrame(rows).set_index("projection")


# --------------------------------------------------------------------------------------
# Appendix F / Figure 7: a downstream label, a learned classifier, minimal attacks
# --------------------------------------------------------------------------------------
#: The data set of the App. F experiment (Figure-8 in 5-D, Sec. 8 Case B).
APPF_DATASET = "figure8_5d"


def manifold_label(name: str, z) -> np.ndarray:
    """The downstream label of App. F (Eq. 32 with a deterministic g): a function of the
    de-noised point f_GT(z) only, ``y = 1[f_GT(z)_1 > 0]`` (int64 [N]).

    On Figure-8 (Eq. 33) and its 5-D embedding (whose first coordinate is f_1, as the
    first column of footnote 3's A is e_1) this is the loop of the 8 the clean point
    lies on: ``cos u(z) > 0`` on ``u in (0.6 pi, 2.4 pi)`` iff ``u > 1.5 pi`` iff
    ``z > 0``, so the classes are balanced and the true classifier changes value on the
    manifold only at the crossing of the 8 (the origin)."""
    truth = data.get(name)
    z = np.asarray(z, dtype=np.float64).reshape(-1, truth.latent_dim)
    return (truth.f(z)[:, 0] > 0).astype(np.int64)


def fit_label_classifier(x, y, seed: int = 0, C: float = 1.0):
    """The learned classifier of App. F (the orange line of Fig. 7): an L2-regularised
    logistic regression of y on the *noisy* x (scikit-learn, lbfgs; ``seed`` is passed
    as ``random_state`` although lbfgs is deterministic)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y).reshape(-1)
    if x.ndim != 2 or len(x) != len(y):
        raise ValueError(f"x must be [N, D] with one label per row, got {x.shape} and {y.shape}")
    if len(np.unique(y)) != 2:
        raise ValueError("y must contain exactly two classes")
    return LogisticRegression(C=C, random_state=seed, max_iter=1000).fit(x, y)


def linear_attack(w, b: float, x, overshoot: float = 0.0) -> np.ndarray:
    """The smallest (Euclidean) perturbation that moves each row of x onto the boundary
    ``w . x + b = 0`` of a linear classifier, scaled by ``1 + overshoot`` so that it
    crosses it: ``eta = -(1 + overshoot) (w . x + b) w / ||w||^2`` (closed form: the
    distance from a point to a hyperplane is ``|w . x + b| / ||w||``, attained along w).
    Returns eta [N, D]."""
    w = np.asarray(w, dtype=np.float64).reshape(-1)
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    if x.shape[1] != len(w):
        raise ValueError(f"x has {x.shape[1]} columns but w has {len(w)} entries")
    ww = float(w @ w)
    if ww == 0.0:
        raise ValueError("w is zero: the classifier has no boundary")
    if overshoot < 0:
        raise ValueError(f"overshoot must be >= 0, got {overshoot}")
    s = x @ w + float(b)
    return -(1.0 + overshoot) * (s / ww)[:, None] * w[None, :]


def defence_table(predict, projected: dict, x, x_adv, y, y_true_adv=None, clean=None) -> pd.DataFrame:
    """App. F: how a manifold-projection defence fares against attacks ``x -> x_adv`` on
    a classifier ``predict`` (callable [N, D] -> labels), with true labels y of the
    clean points. ``projected[name] = (P(x), P(x_adv))`` for each defence P (include
    the identity as "no defence"). Columns, one row per defence:

    * ``attack success``: share of attacks that cross the learned boundary (the
      undefended prediction on x_adv differs from y);
    * ``clean error``: share of clean points the *defended* classifier ``predict(P(x))``
      gets wrong (the cost of the defence itself);
    * ``survival``: among successful attacks, the share whose defended prediction
      ``predict(P(x_adv))`` still differs from y (1 = the defence does nothing);
    * ``valid attacks`` / ``survival (valid)`` (if ``y_true_adv``, the true label of
      each attacked point, is given): the share of successful attacks that leave the
      true label unchanged, i.e. adversarial in App. F's sense (they fool the learned
      but not the true classifier), and the survival among those;
    * ``kept``: median ``||P(x_adv) - P(x)|| / ||x_adv - x||``, the share of the
      perturbation that survives the projection (Fig. 7b: near 1);
    * ``dist before`` / ``dist after`` (if ``clean``, the de-noised truth f_GT(z), is
      given): median distance of x_adv and of P(x_adv) to the clean point.
    """
    x, x_adv = np.asarray(x, dtype=np.float64), np.asarray(x_adv, dtype=np.float64)
    y = np.asarray(y).reshape(-1)
    if x.shape != x_adv.shape or x.ndim != 2 or len(y) != len(x):
        raise ValueError(f"x, x_adv must be [N, D] and y [N]; got {x.shape}, {x_adv.shape}, {y.shape}")
    success = np.asarray(predict(x_adv)).reshape(-1) != y
    if not success.any():
        raise ValueError("no attack crosses the classifier's boundary")
    valid = None if y_true_adv is None else success & (np.asarray(y_true_adv).reshape(-1) == y)
    norm = np.linalg.norm(x_adv - x, axis=1)
    rows = []
    for lab, (px, pa) in projected.items():
        px, pa = np.asarray(px, dtype=np.float64), np.asarray(pa, dtype=np.float64)
        if px.shape != x.shape or pa.shape != x.shape:
            raise ValueError(f"{lab}: projections must have shape {x.shape}")
        wrong = np.asarray(predict(pa)).reshape(-1) != y
        row = {"defence": lab, "attack success": float(success.mean()),
               "clean error": float(np.mean(np.asarray(predict(px)).reshape(-1) != y)),
               "survival": float(wrong[success].mean())}
        if valid is not None:
            row["valid attacks"] = float(valid.sum() / success.sum())
            row["survival (valid)"] = float(wrong[valid].mean()) if valid.any() else float("nan")
        row["kept"] = float(np.median(np.linalg.norm(pa - px, axis=1)[success] / norm[success]))
        if clean is not None:
            c = np.asarray(clean, dtype=np.float64)
            row["dist before"] = float(np.median(np.linalg.norm(x_adv - c, axis=1)[success]))
            row["dist after"] = float(np.median(np.linalg.norm(pa - c, axis=1)[success]))
        rows.append(row)
    return pd.DataFrame(rows).set_index("defence")


def case_b_model(records: Sequence[dict], dataset: str, K: int, version: int, method: str = "vae"):
    """The selected model of one Case-B record (``section8_tasks``), or None if absent."""
    for r in records:
        t = r["config"]["task"]
        if (t["dataset"], t["method"], t["latent_dim"], t["version"]) == (dataset, method, K, version):
            return load_selected(r)
    return None


def appf_attack(records: Sequence[dict], profile: str, version: int = 0, n_test: int = 1000,
                overshoot: float = 0.01, seed: int = 0, name: str = APPF_DATASET) -> dict:
    """Appendix F on one data version of ``name`` (Figure-8-5D): label every point by
    ``manifold_label``, fit ``fit_label_classifier`` on the profile's (noisy) training
    split, attack those of the first ``n_test`` test points that it classifies correctly
    with ``linear_attack`` (``overshoot``: 1 % past the boundary by default), and defend
    by projecting onto

    * the true manifold (``ground_truth_projection``, reference (c));
    * the manifolds of the Table-1 VAEs with K = 1 (the true K, sigma^2 learned jointly)
      and the mismatched K = 2, 3 (``model_projection``, M(x) = f(mu(x)), App. F);

    beside no defence. The true label of an attacked point is the label of its
    projection onto the true manifold (the true classifier is defined on the manifold
    only; p(y | x) of the ground truth is this label up to posterior mass on the other
    loop). Returns a dict: ``table`` (``defence_table`` plus the version, the
    classifier's test accuracy, the median attack norm and the median share of the attack
    orthogonal to the plane that holds the true manifold) and the arrays behind the
    Figure-7 panel (``x``, ``x_adv``, ``y``, ``clean``, ``valid``, ``projected``,
    ``w_plane``/``b``: the classifier restricted to the plane of the manifold, in the
    coordinates of f (x_1, x_2 of the embedding), ``models``)."""
    p = get_profile(profile)
    truth = data.get(name)
    if truth.latent_dim != 1:
        raise ValueError(f"{name}: App. F needs a 1-D-latent ground truth")
    sp = data.splits(name, version, n_train=p.n_train, n_val=p.n_val, n_test=p.n_test)
    tr, te = sp["train"], sp["test"]
    clf = fit_label_classifier(tr.x, manifold_label(name, tr.z), seed=seed)
    x_all, z_all = te.x[:n_test].astype(np.float64), te.z[:n_test]
    y_all = manifold_label(name, z_all)
    ok = clf.predict(x_all) == y_all
    x, y = x_all[ok], y_all[ok]
    clean = truth.f(z_all[ok]).astype(np.float64)
    w, b = clf.coef_[0].astype(np.float64), float(clf.intercept_[0])
    x_adv = x + linear_attack(w, b, x, overshoot)
    z_adv = ground_truth_mode(name, x_adv)
    y_true_adv = manifold_label(name, z_adv)
    projected = {"no defence": (x, x_adv),
                 "true manifold": (ground_truth_projection(name, x), truth.f(z_adv[:, None]).astype(np.float64))}
    models = {}
    for K in CASE_B_K:
        m = case_b_model(records, name, K, version)
        if m is None:
            continue
        models[K] = m
        projected[f"VAE K = {K}"] = (model_projection(m, x), model_projection(m, x_adv))
    table = defence_table(clf.predict, projected, x, x_adv, y, y_true_adv, clean)
    table.insert(0, "version", version)
    table["test accuracy"] = float(ok.mean())
    eta = x_adv - x
    table["attack norm"] = float(np.median(np.linalg.norm(eta, axis=1)))
    embed = truth.embed if truth.embed is not None else np.eye(truth.data_dim)
    Q = np.linalg.qr(embed.T)[0]               # orthonormal basis of the manifold's plane
    table["attack off-plane"] = float(np.median(np.linalg.norm(eta - eta @ Q @ Q.T, axis=1)
                                                / np.linalg.norm(eta, axis=1)))
    return dict(table=table, x=x, x_adv=x_adv, y=y, clean=clean, valid=y_true_adv == y,
                projected=projected, w_plane=embed @ w, b=b, models=models, classifier=clf)


#: The attack's step beyond the learned boundary, as a share of the minimal perturbation.
APPF_OVERSHOOT = 0.01


def appf_overshoot_curve(records: Sequence[dict], profile: str,
                         overshoots: Sequence[float] = (APPF_OVERSHOOT, 0.03, 0.1, 0.3),
                         **kw) -> tuple[pd.DataFrame, dict]:
    """``appf_attack_summary`` for each overshoot (how far past the learned boundary the
    attack goes, relative to the minimal perturbation): a long frame with one row per
    (overshoot, defence) (survival, survival among valid attacks and their sd over
    versions, the share of valid attacks) and the full results per overshoot."""
    full, rows = {}, []
    for ov in overshoots:
        full[ov] = appf_attack_summary(records, profile, overshoot=ov, **kw)
        s = full[ov][1]
        rows.append(s[["survival", "survival sd", "survival (valid)", "survival (valid) sd",
                       "valid attacks"]].reset_index().assign(overshoot=ov))
    cols = ["overshoot", "defence", "survival", "survival sd", "survival (valid)",
            "survival (valid) sd", "valid attacks"]
    return pd.concat(rows, ignore_index=True)[cols], full


def appf_attack_summary(records: Sequence[dict], profile: str, versions: Sequence[int] | None = None,
                        **kw) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """``appf_attack`` for every data version that has a K = 1 VAE record: (per-version
    table, mean and sd over versions per defence, the first version's full result)."""
    versions = range(get_profile(profile).n_versions) if versions is None else versions
    runs = [appf_attack(records, profile, v, **kw) for v in versions
            if case_b_model(records, kw.get("name", APPF_DATASET), 1, v) is not None]
    if not runs:
        raise FileNotFoundError(f"no Case-B K = 1 VAE record for App. F under profile {profile!r}")
    per = pd.concat([r["table"] for r in runs]).reset_index()
    cols = [c for c in per.columns if c not in ("defence", "version")]
    g = per.groupby("defence", sort=False)[cols]
    summ = g.mean().join(g.std(ddof=1), rsuffix=" sd")
    summ["versions"] = g.size()
    return per, summ, runs[0]


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


