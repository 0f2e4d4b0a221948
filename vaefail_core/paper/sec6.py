"""Section 6: latent spaces the ELBO prefers (``notebooks/sec6_latent_spaces.py``).

The linear example (after Stuhmer et al. 2020) in closed form, and the Absolute-Value
example (Fig. 9) from the Section-5 sweep cache. The page's four claims (``page_claims``)
are judged on ``claims_evidence``, which calls ``linear_example`` and
``absolute_value_analysis`` (the cached VAE of data version 0; nothing is trained): checks
of a stated condition on the closed form and on that single fit.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from .. import data, linear, posterior
from .. import evaluate as ev
from .appA_C import find_section5_record, model_grid_terms
from .claim import Claim
from ..profiles import get_profile
from ..sweep import load_selected

__all__ = [
    "LINEAR_A",
    "LINEAR_B",
    "LINEAR_SIGMA2",
    "rotated_decoder",
    "linear_example",
    "rotation_scan",
    "absolute_value_analysis",
    "find_section5_record",
    "AV_VERSION",
    "AV_N",
    "MLEO_TOL",
    "ZERO_TOL",
    "CLAIMS_SWEEP",
    "CLAIMS_VERSION",
    "PAGE",
    "page_claims",
    "claims_evidence",
]

#: the named sweep whose records the Absolute-Value evidence reads
CLAIMS_SWEEP = "section5"
#: bump when ``claims_evidence`` changes what it returns
CLAIMS_VERSION = 1
#: the book page of these claims
PAGE = "sec6_latent_spaces"
#: Absolute-Value: the data version of the figure, and the number of fresh points
AV_VERSION = 0
AV_N = 500
#: "p(x) still matched" = the learned model's MLEO below this (nats; our threshold)
MLEO_TOL = 0.1
#: "the same p(x)" in the linear example: |MLEO| below this (float rounding of a zero)
ZERO_TOL = 1e-9


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


# ======================================================================================
# The page's claims
# ======================================================================================
def page_claims() -> list[Claim]:
    """Sec. 6's claims: the linear example (closed form) and Absolute-Value (Fig. 9)."""
    return [
        Claim("sec6/linear/same_px", "sec6",
              f"Linear example: the rotated A' = A R gives the same p(x) as A (|MLEO of A'| below {ZERO_TOL:g})",
              "stated: p(x) = N(b, sigma^2 I + A A^T) for both", "check",
              cells=(("sec6", "linear", "mleo_rotated_abs"), ("sec6", "linear", "cov_gap")),
              cond=("<", ZERO_TOL), fmt="|MLEO of A'| {0:.1e}, max |cov_x - cov_data| {1:.1e}",
              where="Sec. 6 (linear example)", page=PAGE),
        Claim("sec6/linear/prefers_rotated", "sec6",
              "Linear example: the ELBO prefers A' (uncorrelated posterior): PMO of A minus PMO of A'",
              "stated: the ELBO prefers A'", "check",
              cells=(("sec6", "linear", "pmo_gap"), ("sec6", "linear", "pmo", "A"),
                     ("sec6", "linear", "pmo", "A_rotated")),
              cond=(">", 0.0), fmt="PMO {1:.4f} (A) vs {2:.4f} (A')",
              where="Sec. 6 (linear example)", page=PAGE),
        Claim("sec6/abs_value/simpler_posteriors", "sec6",
              "Absolute-Value: the VAE learns simpler posteriors than the truth's bimodal ones (mean best-Gaussian "
              f"KL, true f minus learned f, {AV_N} points, data version {AV_VERSION})",
              "stated: unimodal vs bimodal (Fig. 9)", "check",
              cells=(("sec6", "abs_value", "kl_gap"), ("sec6", "abs_value", "kl_true"),
                     ("sec6", "abs_value", "kl_model")),
              cond=(">", 0.0), fmt="mean best-Gaussian KL: true f {1:.3f}, learned f {2:.3f}",
              where="Sec. 6, Fig. 9", page=PAGE),
        Claim("sec6/abs_value/px_matched", "sec6",
              f"Absolute-Value: the VAE still explains p(x) well (MLEO of the learned model below {MLEO_TOL:g} nats, "
              f"data version {AV_VERSION})",
              "stated: explains p(x) well (Fig. 9)", "check",
              cells=(("sec6", "abs_value", "mleo"), ("sec6", "abs_value", "knn", "VAE"),
                     ("sec6", "abs_value", "knn", "IWAE best")),
              cond=("<", MLEO_TOL), fmt="MLEO {0:.3f} nats; smooth kNN VAE {1:.2f}, best IWAE {2:.2f}",
              where="Sec. 6, Fig. 9", page=PAGE),
    ]


def claims_evidence(profile: str, records: list[dict]) -> dict:
    """Our evidence for ``page_claims`` (one value each, index [0]): the linear example in
    closed form, and Absolute-Value from the cached VAE of data version ``AV_VERSION``
    (no Absolute-Value cells when its record is not in the cache)."""
    one = lambda v: pd.Series([float(v)], index=[0])  # noqa: E731
    lin = linear_example()
    pmo_a, pmo_r = float(lin["PMO"].iloc[0]), float(lin["PMO"].iloc[1])
    out = {("sec6", "linear", "mleo_rotated_abs"): one(abs(float(lin["MLEO"].iloc[1]))),
           ("sec6", "linear", "cov_gap"): one(float(lin["max |cov_x - cov_data|"].max())),
           ("sec6", "linear", "pmo", "A"): one(pmo_a), ("sec6", "linear", "pmo", "A_rotated"): one(pmo_r),
           ("sec6", "linear", "pmo_gap"): one(pmo_a - pmo_r)}
    try:
        av = absolute_value_analysis(profile, version=AV_VERSION, n=AV_N, seed=0)
    except FileNotFoundError:
        return out
    kt, km = float(np.mean(av["kl_true"])), float(np.mean(av["kl_model"]))
    iwae = [v for k, v in av["knn"].items() if k != "VAE" and v is not None]
    out.update({("sec6", "abs_value", "kl_true"): one(kt), ("sec6", "abs_value", "kl_model"): one(km),
                ("sec6", "abs_value", "kl_gap"): one(kt - km), ("sec6", "abs_value", "mleo"): one(av["mleo"]),
                ("sec6", "abs_value", "knn", "VAE"): one(av["knn"]["VAE"])})
    # no IWAE record: the cell is NaN (shown as "nan"; the claim is judged on the MLEO)
    out[("sec6", "abs_value", "knn", "IWAE best")] = one(min(iwae) if iwae else float("nan"))
    return out
