"""Tests for vaefail_core.metrics: smooth kNN statistic, KSG mutual information, Eq. 9."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from sklearn.feature_selection import mutual_info_regression

from vaefail_core import set_seed
from vaefail_core.metrics import (
    _cardinality_marginals,
    average_latent_mi,
    knn_edge_marginals,
    knn_null_moments,
    ksg_mutual_information,
    noise_variance_eq9,
    smooth_knn_statistic,
    smooth_knn_test,
)


@pytest.fixture(autouse=True)
def _seed():
    set_seed(0)


# ----------------------------------------------------------------- smooth kNN statistic

def test_null_is_standardised():
    """Two samples of one distribution: z has mean 0 and sd 1 exactly under the
    permutation null, hence also over repeated draws. 200 repetitions: the standard
    error of the mean is 1/sqrt(200) = 0.071 and of the sd about 0.05, so the
    tolerances below are about 3.5 and 4 standard errors."""
    rng = np.random.default_rng(123)
    zs = np.array([smooth_knn_statistic(rng.standard_normal((200, 2)),
                                        rng.standard_normal((200, 2)))
                   for _ in range(200)])
    assert abs(zs.mean()) < 0.25, zs.mean()
    assert 0.8 < zs.std(ddof=1) < 1.2, zs.std(ddof=1)


def test_grows_with_mean_shift():
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal((300, 2)), rng.standard_normal((300, 2))
    zs = [smooth_knn_statistic(a, b + np.array([s, 0.0])) for s in (0.0, 0.5, 1.0, 1.5, 2.5)]
    assert all(np.diff(zs) > 0), zs
    assert zs[-1] > 10, zs          # clearly different samples are far in the tail


def _perm_moments(mu: np.ndarray, n1: int):
    """T over every split of the pooled sample into n1 + (n - n1) points."""
    n = mu.shape[0]
    ts = []
    for first in itertools.combinations(range(n), n1):
        lab = np.zeros(n, bool)
        lab[list(first)] = True
        cross = lab[:, None] != lab[None, :]
        ts.append((mu * cross).sum())
    ts = np.array(ts)
    return ts.mean(), ts.var()


@pytest.mark.parametrize("n1,n2", [(3, 4), (4, 4), (2, 5)])
def test_null_moments_match_enumeration(n1, n2):
    rng = np.random.default_rng(n1 * 10 + n2)
    n = n1 + n2
    # an arbitrary non-symmetric weight matrix with zero diagonal
    mu = rng.uniform(size=(n, n))
    np.fill_diagonal(mu, 0.0)
    mean, var = knn_null_moments(torch.as_tensor(mu), n1, n2)
    em, ev = _perm_moments(mu, n1)
    assert mean == pytest.approx(em, rel=1e-10)
    assert var == pytest.approx(ev, rel=1e-10)
    # and the soft kNN graph of real points, k = 1 and k = 2
    pts = rng.standard_normal((n, 2))
    for k in (1, 2):
        mu_k, _ = knn_edge_marginals(pts, k=k)
        mean, var = knn_null_moments(mu_k, n1, n2)
        em, ev = _perm_moments(mu_k.numpy(), n1)
        assert (mean, var) == pytest.approx((em, ev), rel=1e-9)


def test_cardinality_marginals_brute_force():
    rng = np.random.default_rng(3)
    q = torch.as_tensor(rng.normal(scale=2.0, size=(4, 6)))
    for k in (1, 2, 3):
        got = _cardinality_marginals(q, k)
        want = torch.zeros_like(q)
        for r in range(q.shape[0]):
            subsets = list(itertools.combinations(range(q.shape[1]), k))
            w = torch.stack([q[r, list(s)].sum() for s in subsets]).softmax(0)
            for wi, s in zip(w, subsets):
                want[r, list(s)] += wi
        assert torch.allclose(got, want, atol=1e-12)
        assert torch.allclose(got.sum(1), torch.full((4,), float(k), dtype=q.dtype))
    assert torch.allclose(_cardinality_marginals(q, 1), q.softmax(1), atol=1e-12)


def test_k2_statistic_behaves():
    rng = np.random.default_rng(11)
    a, b = rng.standard_normal((60, 2)), rng.standard_normal((60, 2))
    same = smooth_knn_statistic(a, b, k=2)
    diff = smooth_knn_statistic(a, b + 1.5, k=2)
    assert abs(same) < 3.5 and diff > 5


def test_units_and_inputs():
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((100, 3)), rng.standard_normal((120, 3)) + 0.3
    z = smooth_knn_statistic(a, b)
    # "nn" units: invariant to a common rescaling of both samples
    assert smooth_knn_statistic(10 * a, 10 * b) == pytest.approx(z, rel=1e-9)
    # torch input, float32, gives the same value
    assert smooth_knn_statistic(torch.tensor(a, dtype=torch.float32),
                                torch.tensor(b, dtype=torch.float32)) == pytest.approx(z, rel=1e-5)
    # raw distances (reference convention) differ from NN units
    assert smooth_knn_statistic(a, b, scale=None) != pytest.approx(z)
    res = smooth_knn_test(a, b)
    assert res.z == pytest.approx(-(res.t - res.mean) / res.sd)
    # subsampling to max_n per side
    assert smooth_knn_test(a, b, max_n=50).mean == pytest.approx(2 * 50 * 50 / 99)
    # duplicates (discrete data) keep a positive unit
    ad = np.repeat(a[:10], 10, axis=0)
    assert smooth_knn_test(ad, b).scale > 0


@pytest.mark.parametrize("x,y,msg", [
    (np.zeros(10), np.zeros((10, 1)), "2-D"),
    (np.zeros((10, 2)), np.zeros((10, 3)), "same number of columns"),
    (np.full((10, 2), np.nan), np.zeros((10, 2)), "NaN"),
    (np.zeros((1, 2)), np.ones((10, 2)), "at least 2"),
])
def test_knn_bad_input(x, y, msg):
    with pytest.raises(ValueError, match=msg):
        smooth_knn_statistic(x, y)


def test_knn_bad_alpha_and_k():
    a = np.random.default_rng(0).standard_normal((10, 2))
    with pytest.raises(ValueError, match="alpha"):
        smooth_knn_statistic(a, a + 1, alpha=0.0)
    with pytest.raises(ValueError, match="k must"):
        smooth_knn_statistic(a, a + 1, k=0)
    with pytest.raises(ValueError, match="scale"):
        smooth_knn_statistic(a, a + 1, scale="std")


# ------------------------------------------------------------------ KSG mutual information

@pytest.mark.parametrize("rho", [0.5, 0.9])
def test_ksg_bivariate_gaussian(rho):
    """I = -0.5 log(1 - rho^2). KSG's bias is small here; its sd at n = 4000 is ~0.01,
    averaged over 3 draws ~0.006, so 0.03 is a loose but failing-when-wrong bound."""
    rng = np.random.default_rng(int(rho * 100))
    cov = [[1.0, rho], [rho, 1.0]]
    est = np.mean([ksg_mutual_information(*rng.multivariate_normal([0, 0], cov, 4000).T)
                   for _ in range(3)])
    assert est == pytest.approx(-0.5 * math.log(1 - rho ** 2), abs=0.03)


def test_ksg_multivariate_gaussian():
    """x 3-D, z scalar: I = 0.5 log(det S_x det S_z / det S)."""
    rng = np.random.default_rng(1)
    d = 3
    w = np.array([0.6, -0.4, 0.3])
    cov = np.eye(d + 1)
    cov[:d, :d] = [[1.0, 0.3, 0.0], [0.3, 1.0, 0.2], [0.0, 0.2, 1.0]]
    cov[:d, d] = cov[d, :d] = cov[:d, :d] @ w
    cov[d, d] = w @ cov[:d, :d] @ w + 0.5
    true = 0.5 * np.log(np.linalg.det(cov[:d, :d]) * cov[d, d] / np.linalg.det(cov))
    s = rng.multivariate_normal(np.zeros(d + 1), cov, 4000)
    est = ksg_mutual_information(s[:, :d], s[:, d])
    assert 0.3 < true < 1.0
    assert est == pytest.approx(true, abs=0.06)


def test_ksg_independent_and_scale_invariance():
    rng = np.random.default_rng(2)
    x, z = rng.standard_normal((3000, 2)), rng.standard_normal(3000)
    assert abs(ksg_mutual_information(x, z)) < 0.02
    y = x[:, 0] + 0.5 * rng.standard_normal(3000)
    # standardised: invariant to rescaling each variable; raw: to one common scale
    assert ksg_mutual_information(x, y, standardise=True) == pytest.approx(
        ksg_mutual_information(100 * x, torch.tensor(y) * 0.01, standardise=True), abs=1e-6)
    assert ksg_mutual_information(x, y) == pytest.approx(
        ksg_mutual_information(100 * x, torch.tensor(y) * 100), abs=1e-6)


def test_ksg_agrees_with_sklearn_1d():
    rng = np.random.default_rng(4)
    x = rng.standard_normal(2000)
    y = np.sin(2 * x) + 0.3 * rng.standard_normal(2000)
    ours = ksg_mutual_information(x, y, k=3)
    theirs = mutual_info_regression(x[:, None], y, n_neighbors=3, random_state=0)[0]
    assert ours == pytest.approx(theirs, abs=0.02)


def test_average_latent_mi():
    rng = np.random.default_rng(6)
    z = rng.standard_normal((3000, 2))
    x = np.c_[z[:, 0] + 0.1 * rng.standard_normal(3000), rng.standard_normal(3000)]
    per = [ksg_mutual_information(x, z[:, i]) for i in range(2)]
    assert average_latent_mi(x, z) == pytest.approx(np.mean(per))
    assert per[0] > 1.5 and abs(per[1]) < 0.03


def test_ksg_bad_input():
    with pytest.raises(ValueError, match="same number of rows"):
        ksg_mutual_information(np.zeros((10, 2)), np.zeros(9))
    with pytest.raises(ValueError, match="one latent dimension"):
        ksg_mutual_information(np.zeros((10, 2)), np.zeros((10, 2)))
    with pytest.raises(ValueError, match="NaN"):
        ksg_mutual_information(np.full(10, np.nan), np.zeros(10))


# ------------------------------------------------------------------------------ Eq. 9

def _linear_gaussian(n, noise_var, rng):
    """z ~ N(0, I_2), x = W z + b + eps, eps ~ N(0, diag(noise_var)), with the exact
    posterior q(z | x) = N(m(x), S) (Gaussian conjugacy)."""
    w = np.array([[1.0, 0.5], [-0.3, 0.8], [0.2, -1.0]])
    b = np.array([0.1, -0.2, 0.3])
    z = rng.standard_normal((n, 2))
    x = z @ w.T + b + rng.standard_normal((n, 3)) * np.sqrt(noise_var)
    prec = np.eye(2) + w.T @ np.diag(1 / noise_var) @ w
    s = np.linalg.inv(prec)
    m = (x - b) @ np.diag(1 / noise_var) @ w @ s
    return x, w, b, m, np.linalg.cholesky(s)


def test_eq9_recovers_true_noise_with_exact_posterior():
    rng = np.random.default_rng(8)
    noise_var = np.array([0.01, 0.1, 0.5])
    x, w, b, m, chol = _linear_gaussian(20000, noise_var, rng)
    zs = m[None] + rng.standard_normal((10, *m.shape)) @ chol.T       # [S, N, 2]
    f = zs @ w.T + b                                                    # [S, N, D]
    est = noise_variance_eq9(x, f)
    assert isinstance(est, np.ndarray) and est.shape == (3,)
    # relative sd of the estimate is about sqrt(2 / N) = 1%
    np.testing.assert_allclose(est, noise_var, rtol=0.04)
    # a biased decoder inflates the estimate (the point of Sec. 8, Case A)
    assert (noise_variance_eq9(x, 1.1 * f) > est).all()
    # torch in, torch out; leading (ensemble) axes are kept
    est_t = noise_variance_eq9(torch.tensor(x), torch.tensor(np.stack([f, f])))
    assert torch.is_tensor(est_t) and est_t.shape == (2, 3)
    np.testing.assert_allclose(est_t[1].numpy(), est, rtol=1e-12)


def test_eq9_maximises_expected_log_likelihood():
    """The Monte-Carlo reconstruction term E_q[log N(x | f(z), s2)] as a function of s2
    (the only part of the ELBO that depends on s2, Eq. 23) peaks at Eq. 9's value."""
    rng = np.random.default_rng(9)
    x, w, b, m, chol = _linear_gaussian(500, np.array([0.05, 0.2, 0.3]), rng)
    f = (m[None] + rng.standard_normal((4, *m.shape)) @ chol.T) @ w.T + b
    s2_hat = noise_variance_eq9(x, f)
    grid = np.linspace(0.5, 1.5, 2001)[:, None] * s2_hat              # [G, D]
    sq = ((x - f) ** 2).mean(axis=(0, 1))                               # [D]
    ell = -0.5 * np.log(2 * np.pi * grid) - sq / (2 * grid)             # [G, D]
    best = grid[ell.argmax(axis=0), np.arange(3)]
    np.testing.assert_allclose(best, s2_hat, rtol=1e-3)
    # and directly with torch.distributions on the full sample set
    s2 = torch.tensor(s2_hat, requires_grad=True)
    ll = torch.distributions.Normal(torch.tensor(f), s2.sqrt()).log_prob(torch.tensor(x)).mean()
    (g,) = torch.autograd.grad(ll, s2)
    assert torch.allclose(g, torch.zeros(3, dtype=g.dtype), atol=1e-10)


def test_eq9_bad_input():
    with pytest.raises(ValueError, match="f_samples must be"):
        noise_variance_eq9(np.zeros((5, 2)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="f_samples must be"):
        noise_variance_eq9(np.zeros((5, 2)), np.zeros((3, 5, 3)))
    with pytest.raises(ValueError, match="NaN"):
        noise_variance_eq9(np.zeros((5, 2)), np.full((3, 5, 2), np.nan))


# --------------------------------------------------------------------------------------
# mutual information against exact values (Table 1)
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mi_check():
    from vaefail_core.paper import sec8
    return sec8.mi_estimator_check(("figure8", "circle", "absolute_value", "figure8_5d"), n=2000)


def test_ksg_matches_exact_mi_on_benchmarks(mi_check):
    """KSG on raw coordinates is within 10 % of the exact I(x; z) (quadrature) on four
    benchmark sets, including the 5-D embedding of Figure-8 that Table 1 uses."""
    assert (mi_check["KSG raw rel. error"].abs() < 0.10).all(), mi_check
    assert (mi_check["MC se"] < 0.05).all()


def test_standardising_biases_ksg_on_the_5d_embedding(mi_check):
    """Why raw coordinates: per-column standardisation makes KSG > 20 % low on Figure-8-5D."""
    assert mi_check.loc["figure8_5d", "KSG std. rel. error"] < -0.20
    assert abs(mi_check.loc["figure8_5d", "KSG raw rel. error"]) < 0.10


def test_gaussian_encoder_mi_matches_closed_form():
    """x ~ N(0, 1), q(z | x) = N(a x, v): I_q(x; z) = 0.5 log(1 + a^2 / v), per dimension."""
    from vaefail_core.metrics import gaussian_encoder_mi
    x = np.random.default_rng(0).standard_normal(20000)
    mu = np.stack([0.8 * x, -2.0 * x], 1)
    var = np.stack([np.full_like(x, 0.1), np.full_like(x, 0.5)], 1)
    got = gaussian_encoder_mi(mu, var)
    want = 0.5 * np.log(1 + np.array([0.64 / 0.1, 4.0 / 0.5]))
    np.testing.assert_allclose(got, want, rtol=0.01)
    # an encoder that ignores x carries no information
    assert abs(gaussian_encoder_mi(np.zeros((500, 1)), np.ones((500, 1)))[0]) < 1e-6
    with pytest.raises(ValueError):
        gaussian_encoder_mi(mu, -var)
