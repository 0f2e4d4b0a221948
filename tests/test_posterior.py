"""Grid posteriors against cases with known answers."""
import math

import numpy as np
import pytest
import torch
from scipy import stats

from vaefail_core import posterior as P
from vaefail_core import toy


def test_linear_gaussian_posterior_matches_closed_form():
    # f(z) = a z + b, x | z ~ N(f(z), s2), z ~ N(0,1): p(z|x) = N(a (x-b) / (a^2+s2), s2 / (a^2+s2))
    a, b, s2 = 1.7, -0.3, 0.2
    z = P.z_grid(-8, 8, 3201)
    x = torch.tensor([[-2.0], [0.0], [0.4], [3.0]], dtype=torch.float64)
    post = P.grid_posterior(a * z[:, None] + b, x, s2, z=z)
    mean = a * (x[:, 0] - b) / (a**2 + s2)
    sd = math.sqrt(s2 / (a**2 + s2))
    expected = torch.as_tensor(stats.norm.pdf(z.numpy()[None], mean.numpy()[:, None], sd))
    assert torch.allclose(post, expected, atol=1e-6)
    m, s = P.posterior_moments(z, post)
    assert torch.allclose(m, mean.double(), atol=1e-6) and torch.allclose(s, torch.full_like(s, sd), atol=1e-6)


def test_log_px_matches_gaussian_marginal():
    a, s2 = 0.8, 0.05
    z = P.z_grid(-8, 8, 3201)
    x = torch.linspace(-3, 3, 13)[:, None]
    lpx = P.log_px_grid(a * z[:, None], x, s2, z=z)
    expected = stats.norm.logpdf(x[:, 0].numpy(), 0, math.sqrt(a**2 + s2))
    np.testing.assert_allclose(lpx.numpy(), expected, atol=1e-6)


def test_rows_integrate_to_one_with_uniform_prior():
    z = P.z_grid(-0.5, 1.5, 801)
    post = P.grid_posterior(torch.sin(torch.pi * z)[:, None], torch.tensor([[0.5], [0.9]]), 0.01,
                            toy.uniform_log_prior(z), z)
    assert torch.allclose(torch.trapezoid(post, z), torch.ones(2, dtype=torch.float64), atol=1e-8)
    assert float(post[:, (z < 0) | (z > 1)].max()) == 0.0


def test_best_gaussian_kl_known_answers():
    z = P.z_grid()
    # exactly Gaussian posterior -> KL ~ 0 at the right moments
    post = torch.as_tensor(stats.norm.pdf(z.numpy(), 0.7, 0.4))[None]
    kl, mu, sd = P.best_gaussian_kl(z, post)
    assert float(kl) < 1e-4 and abs(float(mu) - 0.7) < 5e-3 and abs(float(sd) - 0.4) < 5e-3
    # equal mixture of two far-apart narrow Gaussians -> best reverse-KL fit sits on one mode, KL = log 2
    mix = 0.5 * stats.norm.pdf(z.numpy(), -2, 0.1) + 0.5 * stats.norm.pdf(z.numpy(), 2, 0.1)
    kl, mu, sd = P.best_gaussian_kl(z, torch.as_tensor(mix)[None])
    assert abs(float(kl) - math.log(2)) < 1e-3 and abs(abs(float(mu)) - 2) < 5e-3


def test_neg_elbo_split_adds_up_and_pmo_zero_for_exact_q():
    a, s2 = 1.2, 0.1
    z = P.z_grid(-8, 8, 2401)
    rng = np.random.default_rng(0)
    x = (a * rng.standard_normal(500) + math.sqrt(s2) * rng.standard_normal(500))[:, None]
    q_mu = a * x[:, 0] / (a**2 + s2)
    q_sd = np.full(500, math.sqrt(s2 / (a**2 + s2)))
    true_lpx = stats.norm.logpdf(x[:, 0], 0, math.sqrt(a**2 + s2))
    out = P.neg_elbo_split(a * z[:, None], x, s2, q_mu, q_sd, log_px_true=true_lpx, z=z)
    assert abs(out["pmo"]) < 1e-4 and abs(out["mleo"]) < 1e-6
    assert out["neg_elbo"] == pytest.approx(out["entropy"] + out["mleo"] + out["pmo"], abs=1e-9)
    # a worse q raises the PMO and the -ELBO by the same amount
    worse = P.neg_elbo_split(a * z[:, None], x, s2, q_mu + 0.3, q_sd, z=z)
    assert worse["pmo"] > 0.1 and worse["neg_elbo"] - out["neg_elbo"] == pytest.approx(worse["pmo"] - out["pmo"])


def test_bad_input_errors():
    z = P.z_grid()
    with pytest.raises(ValueError, match="same D"):
        P.grid_posterior(torch.zeros(len(z), 2), torch.zeros(3, 1), 0.1)
    with pytest.raises(ValueError, match="NaN"):
        P.grid_posterior(torch.zeros(len(z), 1), torch.tensor([[float("nan")]]), 0.1)
    with pytest.raises(ValueError, match="positive"):
        P.grid_posterior(torch.zeros(len(z), 1), torch.zeros(3, 1), 0.0)
    with pytest.raises(ValueError):
        P.z_grid(1, 0)
