"""Exact posteriors for one-dimensional latents, computed on a z-grid.

For a model ``z ~ p(z)``, ``x | z ~ N(f(z), diag(noise_var))`` with scalar z, the
posterior ``p(z | x)`` is the normalised cross-section of the joint density through
``x`` (the horizontal slices of Figs. 2-4 of the paper). On a fine grid this is exact up
to quadrature error, and it gives three things every section needs:

* ``grid_posterior``   the posterior density on the grid (Figs. 2-4, panel (c) of 8-22);
* ``log_px_grid``      ``log p_theta(x)`` by quadrature;
* ``best_gaussian_kl`` how badly the best Gaussian fits that posterior (Condition 1 of
  Sec. 5.1), and ``neg_elbo_split`` the MLEO / PMO split of Eq. 3.

Everything works in torch (float64 by default) and accepts numpy arrays.
"""
from __future__ import annotations

import math

import numpy as np
import torch

_DTYPE = torch.float64
#: floor for log-densities on the grid, so that KL(q || p) stays finite where p underflows
_LOG_FLOOR = -700.0


def _t(a) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a) if not torch.is_tensor(a) else a, dtype=_DTYPE)


def z_grid(lo: float = -6.0, hi: float = 6.0, n: int = 1201) -> torch.Tensor:
    """A uniform grid for a scalar latent (default covers +-6 prior standard deviations).

    Built by numpy (``lo + i * step``, one rounding per point) rather than
    ``torch.linspace``, whose vectorised kernels use fused multiply-adds on some CPUs
    and not on others: a grid point that should sit exactly on a step of f (an integer
    for floor(z)) would then fall on either side of it depending on the machine."""
    if not hi > lo or n < 3:
        raise ValueError(f"need hi > lo and n >= 3, got lo={lo}, hi={hi}, n={n}")
    return torch.from_numpy(np.linspace(lo, hi, n, dtype=np.float64)).to(_DTYPE)


def _trapezoid_log_weights(z: torch.Tensor) -> torch.Tensor:
    """log of the trapezoid-rule weights on grid z (so that sum w_g g(z_g) ~ int g)."""
    dz = torch.diff(z)
    w = torch.zeros_like(z)
    w[:-1] += dz / 2
    w[1:] += dz / 2
    return torch.log(w)


def standard_normal_log_prior(z: torch.Tensor) -> torch.Tensor:
    return torch.distributions.Normal(torch.zeros((), dtype=_DTYPE), 1.0).log_prob(z)


def _check(f_vals, x, noise_var, z, log_prior):
    f_vals, x = _t(f_vals), _t(x)
    if x.dim() == 1:
        x = x[None, :]
    if f_vals.dim() == 1:
        f_vals = f_vals[:, None]
    if f_vals.dim() != 2 or x.dim() != 2 or f_vals.shape[1] != x.shape[1]:
        raise ValueError(
            f"f_vals must be [G, D] and x [N, D] with the same D; got {list(f_vals.shape)}"
            f" and {list(x.shape)}"
        )
    if torch.isnan(x).any() or torch.isnan(f_vals).any():
        raise ValueError("x or f_vals contains NaN")
    z = z_grid(n=f_vals.shape[0]) if z is None else _t(z)
    if z.shape != (f_vals.shape[0],):
        raise ValueError(f"z has {tuple(z.shape)} points but f_vals has {f_vals.shape[0]} rows")
    log_prior = standard_normal_log_prior(z) if log_prior is None else _t(log_prior)
    noise_var = _t(noise_var).expand(x.shape[1])
    if (noise_var <= 0).any():
        raise ValueError("noise_var must be positive")
    return f_vals, x, noise_var, z, log_prior


def log_likelihood_grid(f_vals, x, noise_var) -> torch.Tensor:
    """``log N(x_n | f(z_g), diag(noise_var))`` as an [N, G] matrix."""
    f_vals, x, noise_var = _t(f_vals), _t(x), _t(noise_var).expand(_t(x).shape[-1])
    sq = ((x[:, None, :] - f_vals[None, :, :]) ** 2 / noise_var).sum(-1)
    return -0.5 * sq - 0.5 * torch.log(2 * math.pi * noise_var).sum()


def log_joint_grid(f_vals, x, noise_var, z=None, log_prior=None) -> torch.Tensor:
    """``log p(x_n, z_g)`` as [N, G] (z defaults to ``z_grid(n=G)``, prior to N(0, 1))."""
    f_vals, x, noise_var, z, log_prior = _check(f_vals, x, noise_var, z, log_prior)
    return log_likelihood_grid(f_vals, x, noise_var) + log_prior[None, :]


def log_px_grid(f_vals, x, noise_var, z=None, log_prior=None) -> torch.Tensor:
    """``log p(x_n) = log int p(x_n | z) p(z) dz`` by the trapezoid rule, shape [N]."""
    f_vals, x, noise_var, z, log_prior = _check(f_vals, x, noise_var, z, log_prior)
    lj = log_likelihood_grid(f_vals, x, noise_var) + log_prior[None, :]
    return torch.logsumexp(lj + _trapezoid_log_weights(z)[None, :], dim=1)


def grid_posterior(f_vals, x, noise_var, log_prior=None, z=None) -> torch.Tensor:
    """Posterior density ``p(z_g | x_n)`` on the grid, [N, G]; each row integrates to 1."""
    f_vals, x, noise_var, z, log_prior = _check(f_vals, x, noise_var, z, log_prior)
    lj = log_likelihood_grid(f_vals, x, noise_var) + log_prior[None, :]
    log_norm = torch.logsumexp(lj + _trapezoid_log_weights(z)[None, :], dim=1, keepdim=True)
    return torch.exp(lj - log_norm)


def posterior_moments(z, post) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation of each grid posterior (rows of ``post``)."""
    z, post = _t(z), _t(post)
    lw = _trapezoid_log_weights(z).exp()
    mean = (post * z * lw).sum(1)
    var = (post * (z - mean[:, None]) ** 2 * lw).sum(1)
    return mean, var.clamp_min(0).sqrt()


def kl_gaussian_to_grid(z, post, mu, sd) -> torch.Tensor:
    """``KL(N(mu, sd^2) || p)`` where p is a density tabulated on grid z (rows of post).

    Broadcasts: post [..., G], mu and sd [...]. The Gaussian entropy is exact; the cross
    term ``E_q[log p]`` uses the trapezoid rule with q evaluated on the grid, so q must
    live inside the grid and be a few grid steps wide (``best_gaussian_kl`` ensures it)."""
    z, post, mu, sd = _t(z), _t(post), _t(mu), _t(sd)
    w = _trapezoid_log_weights(z).exp()
    q_dens = torch.exp(-0.5 * ((z - mu[..., None]) / sd[..., None]) ** 2) / (
        sd[..., None] * math.sqrt(2 * math.pi)
    )
    log_p = torch.log(post).clamp_min(_LOG_FLOOR)
    cross = (q_dens * log_p * w).sum(-1)
    entropy = 0.5 * torch.log(2 * math.pi * math.e * sd**2)
    return -entropy - cross


def _gauss_on_grid(z, mu, sd):
    return torch.exp(-0.5 * ((z - mu[..., None]) / sd[..., None]) ** 2) / (sd[..., None] * math.sqrt(2 * math.pi))


def best_gaussian_kl(z, post, n_mu: int = 97, n_sd: int = 24, refine: int = 4, chunk: int = 128):
    """For each row p_n of ``post``, the Gaussian q minimising ``KL(q || p_n)``.

    This is the per-point optimum of the posterior-matching objective (PMO, Eq. 3) for a
    1-D mean-field family, i.e. how far each true posterior is from anything an MFG can
    represent (Condition 1 of Sec. 5.1). Reverse KL is mode-seeking and has local optima
    on multi-modal posteriors, so instead of gradient steps from one start we search a
    (mu, log sd) lattice globally (one matrix product for all rows) and then refine it
    ``refine`` times around each row's best point (each refinement shrinks the step
    threefold). q is kept inside the grid (mu in the central 80 %, sd between 2 grid
    steps and a tenth of the range). Hand-written because no library fits a Gaussian to
    a tabulated density by reverse KL.

    Returns ``(kl [N], mu [N], sd [N])``.
    """
    z, post = _t(z), _t(post)
    if post.dim() == 1:
        post = post[None]
    lo, hi = float(z[0]), float(z[-1])
    span = hi - lo
    mu_lo, mu_hi = lo + 0.1 * span, hi - 0.1 * span
    lsd_lo, lsd_hi = math.log(2.0 * float(torch.diff(z).min())), math.log(span / 10)
    w = _trapezoid_log_weights(z).exp()
    # level 0: one lattice shared by all rows -> a single matrix product
    MU0, LSD0 = [a.reshape(-1) for a in torch.meshgrid(
        z_grid(mu_lo, mu_hi, n_mu), z_grid(lsd_lo, lsd_hi, n_sd), indexing="ij")]
    Qw0 = _gauss_on_grid(z, MU0, LSD0.exp()) * w
    ent0 = 0.5 * torch.log(2 * math.pi * math.e * torch.exp(2 * LSD0))
    k = z_grid(-1.0, 1.0, 7)
    out = []
    for i in range(0, post.shape[0], chunk):
        log_p = torch.log(post[i : i + chunk]).clamp_min(_LOG_FLOOR)
        kl0 = -ent0[None, :] - log_p @ Qw0.T
        best = kl0.argmin(1)
        bmu, blsd, bkl = MU0[best], LSD0[best], kl0[torch.arange(len(best)), best]
        dmu, dlsd = (mu_hi - mu_lo) / (n_mu - 1), (lsd_hi - lsd_lo) / (n_sd - 1)
        for _ in range(refine):  # local lattices, 7 x 7 around each row's best point
            MU = (bmu[:, None, None] + dmu * k[None, :, None]).expand(-1, -1, 7).reshape(len(bmu), -1)
            LSD = (blsd[:, None, None] + dlsd * k[None, None, :]).expand(-1, 7, -1).reshape(len(bmu), -1)
            MU, LSD = MU.clamp(mu_lo, mu_hi), LSD.clamp(lsd_lo, lsd_hi)
            cross = torch.einsum("ncg,ng->nc", _gauss_on_grid(z, MU, LSD.exp()) * w, log_p)
            kl = -0.5 * torch.log(2 * math.pi * math.e * torch.exp(2 * LSD)) - cross
            best = kl.argmin(1)
            rows = torch.arange(len(best))
            bmu, blsd, bkl = MU[rows, best], LSD[rows, best], kl[rows, best]
            dmu, dlsd = dmu / 3, dlsd / 3
        out.append((bkl, bmu, blsd.exp()))
    return tuple(torch.cat(t) for t in zip(*out))


def neg_elbo_split(f_vals, x, noise_var, q_mu, q_sd, log_px_true=None, z=None, log_prior=None):
    """Split the negative ELBO on data x into the two terms of Eq. 3.

    ``-ELBO = E_p(x)[-log p_theta(x)] + PMO`` with ``PMO = E_p(x) KL(q(z|x) || p_theta(z|x))``.
    If ``log_px_true`` (the true ``log p(x_n)``) is given, ``MLEO = E[log p(x) - log
    p_theta(x)]`` is returned too (a Monte-Carlo estimate of ``KL(p || p_theta)``), so
    that ``neg_elbo = entropy + mleo + pmo`` with ``entropy = E[-log p(x)]``.
    All expectations are sample means over the rows of x.
    """
    f_vals, x, noise_var, z, log_prior = _check(f_vals, x, noise_var, z, log_prior)
    log_px_model = log_px_grid(f_vals, x, noise_var, z, log_prior)
    post = grid_posterior(f_vals, x, noise_var, log_prior, z)
    pmo_n = kl_gaussian_to_grid(z, post, _t(q_mu).reshape(-1), _t(q_sd).reshape(-1))
    out = {
        "neg_log_px_model": float(-log_px_model.mean()),
        "pmo": float(pmo_n.mean()),
    }
    out["neg_elbo"] = out["neg_log_px_model"] + out["pmo"]
    if log_px_true is not None:
        lt = _t(log_px_true).reshape(-1)
        out["entropy"] = float(-lt.mean())
        out["mleo"] = float((lt - log_px_model).mean())
    return out
