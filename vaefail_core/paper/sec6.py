"""Section 6: latent spaces the ELBO prefers (``notebooks/sec6_latent_spaces.py``).

The linear example (after Stuhmer et al. 2020) in closed form, and the Absolute-Value
example (Fig. 9) from the Section-5 sweep cache.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from .. import data, linear, posterior
from .. import evaluate as ev
from .appA_C import model_grid_terms
from ..profiles import get_profile
from .sec5 import section5_tasks
from ..sweep import load_selected, verify_record

__all__ = [
    "LINEAR_A",
    "LINEAR_B",
    "LINEAR_SIGMA2",
    "rotated_decoder",
    "linear_example",
    "rotation_scan",
    "absolute_value_analysis",
    "find_section5_record",
]


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
    """(task, record or None) of one Section-5 sweep task (``sec5.section5_tasks``)."""
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
    kl_model, lpx_model = model_grid_terms(model, x, z)
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
