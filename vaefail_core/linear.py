"""Linear-Gaussian VAEs in closed form (Sec. 5.2, Eq. 6; reused by Sec. 6).

Model: ``z ~ N(0, I_K)``, ``x | z ~ N(W z, Psi)``. Data: ``x ~ N(0, Sigma_data)``.
For such a model everything in Eq. 3 has a closed form:

* the posterior ``p(z | x)`` is Gaussian with precision ``Lambda = I + W^T Psi^-1 W``
  (the same for every x) and a mean linear in x;
* the best mean-field Gaussian q (reverse KL) keeps that mean and uses variances
  ``1 / Lambda_kk``; a neural encoder can represent it exactly (linear mean, constant
  variance), so the amortised optimum equals the per-point optimum;
* ``PMO = 0.5 (sum_k log Lambda_kk - log det Lambda)``, constant in x;
* ``MLEO = KL(N(0, Sigma_data) || N(0, W W^T + Psi))``.

The negative ELBO "up to the constant" of the paper is ``MLEO + PMO``
(the constant is the entropy of p(x)).

Eq. 6 restricts the decoder to ``W = Cholesky(A A^T + B)`` (lower triangular), with
``Psi = sigma^2 I - B``, so that ``W W^T + Psi = A A^T + sigma^2 I``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy import optimize, stats

from .nets import EnsembleMLP

# Footnotes 1-2 of the paper (inputs of the example, not results).
EQ6_B = np.diag([0.006, 0.006])
EQ6_SIGMA2 = 0.01
EQ6_A_GT = np.array([[0.75, 0.25], [1.5, -1.0]])


def gaussian_kl(cov_p: np.ndarray, cov_q: np.ndarray) -> float:
    """KL(N(0, cov_p) || N(0, cov_q))."""
    d = cov_p.shape[0]
    return 0.5 * (
        np.trace(np.linalg.solve(cov_q, cov_p)) - d
        + np.linalg.slogdet(cov_q)[1] - np.linalg.slogdet(cov_p)[1]
    )


def gaussian_entropy(cov: np.ndarray) -> float:
    return float(stats.multivariate_normal(mean=np.zeros(len(cov)), cov=cov).entropy())


@dataclass
class LinearTerms:
    """Closed-form pieces of Eq. 3 for a linear-Gaussian model with the optimal MFG q."""

    mleo: float
    pmo: float

    @property
    def neg_elbo(self) -> float:  # up to the entropy of p(x)
        return self.mleo + self.pmo


def posterior_precision(W: np.ndarray, noise_cov: np.ndarray) -> np.ndarray:
    return np.eye(W.shape[1]) + W.T @ np.linalg.solve(noise_cov, W)


def mfg_pmo(W: np.ndarray, noise_cov: np.ndarray) -> float:
    """KL from the best mean-field Gaussian to the exact (full-covariance) posterior."""
    lam = posterior_precision(W, noise_cov)
    return 0.5 * (np.log(np.diag(lam)).sum() - np.linalg.slogdet(lam)[1])


def linear_terms(W: np.ndarray, noise_cov: np.ndarray, data_cov: np.ndarray) -> LinearTerms:
    model_cov = W @ W.T + noise_cov
    return LinearTerms(mleo=float(gaussian_kl(data_cov, model_cov)), pmo=float(mfg_pmo(W, noise_cov)))


# -- Eq. 6 ---------------------------------------------------------------------------
def eq6_decoder(A: np.ndarray, B: np.ndarray = EQ6_B) -> np.ndarray:
    """``f_theta(z) = Cholesky(A A^T + B) z``: the lower-triangular decoder of Eq. 6."""
    return np.linalg.cholesky(A @ A.T + B)


def eq6_data_cov(A_gt: np.ndarray = EQ6_A_GT, sigma2: float = EQ6_SIGMA2) -> np.ndarray:
    return A_gt @ A_gt.T + sigma2 * np.eye(A_gt.shape[0])


def eq6_terms(A: np.ndarray, A_gt: np.ndarray = EQ6_A_GT, B: np.ndarray = EQ6_B,
              sigma2: float = EQ6_SIGMA2) -> LinearTerms:
    noise_cov = sigma2 * np.eye(len(B)) - B
    return linear_terms(eq6_decoder(A, B), noise_cov, eq6_data_cov(A_gt, sigma2))


def eq6_global_optimum(n_restarts: int = 20, seed: int = 0, **kw) -> tuple[np.ndarray, LinearTerms, list[float]]:
    """Minimise ``MLEO + PMO`` over A (Nelder-Mead from ``n_restarts`` random starts
    plus the ground truth). Returns the best A, its terms, and every restart's optimum."""
    rng = np.random.default_rng(seed)
    starts = [EQ6_A_GT.ravel()] + [rng.normal(size=4) for _ in range(n_restarts)]

    def obj(a):
        return eq6_terms(a.reshape(2, 2), **kw).neg_elbo

    runs = [optimize.minimize(obj, s, method="Nelder-Mead",
                              options=dict(maxiter=20000, xatol=1e-10, fatol=1e-12)) for s in starts]
    best = min(runs, key=lambda r: r.fun)
    A = best.x.reshape(2, 2)
    return A, eq6_terms(A, **kw), [float(r.fun) for r in runs]


def eq6_sample(A: np.ndarray, n: int, seed: int, B: np.ndarray = EQ6_B,
               sigma2: float = EQ6_SIGMA2) -> np.ndarray:
    """Draw x from the Eq. 6 model with parameter A."""
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, A.shape[1]))
    eps = rng.multivariate_normal(np.zeros(len(B)), sigma2 * np.eye(len(B)) - B, size=n)
    return z @ eq6_decoder(A, B).T + eps


def exact_neg_elbo(W: np.ndarray, noise_cov: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Per-point ``-ELBO`` with the optimal MFG q, in closed form:
    ``-log p_theta(x) + PMO`` (Eq. 3 applied point-wise; the PMO is constant in x)."""
    model = stats.multivariate_normal(np.zeros(len(noise_cov)), W @ W.T + noise_cov)
    return -model.logpdf(x) + mfg_pmo(W, noise_cov)


def mc_neg_elbo(W: np.ndarray, noise_cov: np.ndarray, x: np.ndarray, n_z: int = 64, seed: int = 0) -> np.ndarray:
    """Per-point Monte-Carlo ``-ELBO`` with the optimal MFG q (to test the closed form)."""
    rng = np.random.default_rng(seed)
    lam = posterior_precision(W, noise_cov)
    mean = x @ np.linalg.solve(noise_cov, W) @ np.linalg.inv(lam).T
    sd = 1.0 / np.sqrt(np.diag(lam))
    eps = rng.standard_normal((n_z, *mean.shape))
    zs = mean[None] + sd * eps
    log_lik = stats.multivariate_normal(np.zeros(len(noise_cov)), noise_cov).logpdf(x[None] - zs @ W.T)
    log_prior = stats.norm.logpdf(zs).sum(-1)
    log_q = stats.norm.logpdf(zs, mean[None], sd).sum(-1)
    per_point = -(log_lik + log_prior - log_q).mean(0)
    return per_point


# -- an actual amortised MFG-VAE with the Eq. 6 decoder ------------------------------
class CholeskyVAE(torch.nn.Module):
    """Linear Cholesky decoder (Eq. 6, learnable A) with a neural MFG encoder."""

    def __init__(self, A0: np.ndarray, B: np.ndarray = EQ6_B, sigma2: float = EQ6_SIGMA2, seed: int = 0):
        super().__init__()
        self.A = torch.nn.Parameter(torch.tensor(A0, dtype=torch.float64))  # a copy, never a view
        self.register_buffer("B", torch.as_tensor(B, dtype=torch.float64))
        self.register_buffer("noise_var", torch.full((len(B),), sigma2, dtype=torch.float64) - torch.diagonal(self.B))
        self.encoder = EnsembleMLP(1, len(B), 2 * A0.shape[1], seeds=[seed]).double()

    def W(self) -> torch.Tensor:
        return torch.linalg.cholesky(self.A @ self.A.T + self.B)

    def encode(self, x: torch.Tensor):
        h = self.encoder(x[None])[0]
        mu, logvar = h.chunk(2, dim=-1)
        return mu, logvar

    def neg_elbo(self, x: torch.Tensor, n_z: int | None = None) -> torch.Tensor:
        """Per-point ``-ELBO``. With ``n_z=None`` the expectation over q is exact (the
        decoder is linear, so ``E_q ||x - W z||^2`` has a closed form); otherwise a
        reparameterised Monte-Carlo estimate with n_z samples (used for training)."""
        mu, logvar = self.encode(x)
        W, nv = self.W(), self.noise_var
        var = logvar.exp()
        if n_z is None:
            resid = x - mu @ W.T
            sq = (resid**2 / nv).sum(-1) + ((W**2 / nv[:, None]) * var[:, None, :]).sum((-1, -2))
        else:
            z = mu + var.sqrt() * torch.randn(n_z, *mu.shape, dtype=mu.dtype)
            sq = (((x - z @ W.T) ** 2) / nv).sum(-1).mean(0)
        nll = 0.5 * sq + 0.5 * torch.log(2 * math.pi * nv).sum()
        kl = 0.5 * (var + mu**2 - 1 - logvar).sum(-1)
        return nll + kl


def train_cholesky_vae(x_train: np.ndarray, x_val: np.ndarray, A0: np.ndarray, seed: int = 0,
                       epochs: int = 100, batch: int = 100, lr: float = 3e-3,
                       n_z: int = 8) -> tuple[CholeskyVAE, list[float]]:
    """Train ``CholeskyVAE`` by the reparameterised ELBO (Adam, batch 100 as in App. D,
    but a larger learning rate cosine-annealed to zero and n_z samples per point, so the
    small encoder reaches its optimum in ~100 epochs on a CPU).

    A separate small loop rather than the ensemble trainer: the Eq. 6 decoder is a
    constrained linear map, not an MLP. Returns the model and the validation ``-ELBO``
    (exact expectation) after every epoch."""
    torch.manual_seed(seed)
    model = CholeskyVAE(A0, seed=seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    xt = torch.as_tensor(x_train, dtype=torch.float64)
    xv = torch.as_tensor(x_val, dtype=torch.float64)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    gen = torch.Generator().manual_seed(seed)
    history = []
    for _ in range(epochs):
        perm = torch.randperm(len(xt), generator=gen)
        for i in range(0, len(xt), batch):
            opt.zero_grad()
            model.neg_elbo(xt[perm[i : i + batch]], n_z=n_z).mean().backward()
            opt.step()
        sched.step()
        with torch.no_grad():
            history.append(float(model.neg_elbo(xv).mean()))
    return model, history
