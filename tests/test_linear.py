"""Closed forms of Sec. 5.2 (Eq. 6) against Monte-Carlo estimates."""
import numpy as np
import pytest
import torch

from vaefail_core import linear as L


def test_closed_form_matches_monte_carlo_elbo():
    W = L.eq6_decoder(L.EQ6_A_GT)
    psi = L.EQ6_SIGMA2 * np.eye(2) - L.EQ6_B
    x = L.eq6_sample(L.EQ6_A_GT, 4000, seed=1)
    exact = L.exact_neg_elbo(W, psi, x)
    mc = L.mc_neg_elbo(W, psi, x, n_z=64, seed=2)
    se = (mc - exact).std() / np.sqrt(len(x))
    assert abs(mc.mean() - exact.mean()) < 4 * se + 1e-9
    # and the sample -ELBO minus the entropy estimates MLEO + PMO = 0.532 (MLEO = 0 here)
    h = L.gaussian_entropy(L.eq6_data_cov())
    assert abs(exact.mean() - h - L.eq6_terms(L.EQ6_A_GT).neg_elbo) < 0.05


def test_pmo_zero_for_orthogonal_columns_and_positive_for_eq6():
    # W with orthogonal columns -> diagonal posterior precision -> the MFG is exact
    R = np.array([[np.cos(0.3), -np.sin(0.3)], [np.sin(0.3), np.cos(0.3)]])
    W = R @ np.diag([2.0, 0.5])  # a rotation times a diagonal: orthogonal columns
    assert abs(W[:, 0] @ W[:, 1]) < 1e-12
    assert L.mfg_pmo(W, 0.1 * np.eye(2)) == pytest.approx(0.0, abs=1e-12)
    assert L.eq6_terms(L.EQ6_A_GT).pmo > 0.1


def test_global_optimum_beats_ground_truth_and_is_a_minimum():
    A, terms, runs = L.eq6_global_optimum(n_restarts=5, seed=0)
    gt = L.eq6_terms(L.EQ6_A_GT)
    assert gt.mleo == pytest.approx(0.0, abs=1e-12)
    assert terms.neg_elbo < gt.neg_elbo and terms.mleo > 0
    rng = np.random.default_rng(3)
    for _ in range(20):  # no nearby perturbation does better
        assert L.eq6_terms(A + 1e-3 * rng.normal(size=(2, 2))).neg_elbo >= terms.neg_elbo - 1e-9


def test_ground_truth_array_is_not_modified_by_training():
    before = L.EQ6_A_GT.copy()
    x = L.eq6_sample(L.EQ6_A_GT, 300, seed=0)
    model, hist = L.train_cholesky_vae(x, x[:100], L.EQ6_A_GT, epochs=2)
    np.testing.assert_array_equal(L.EQ6_A_GT, before)
    assert hist[-1] < hist[0] or len(hist) == 2


def test_exact_and_sampled_vae_elbo_agree():
    torch.manual_seed(0)
    model = L.CholeskyVAE(L.EQ6_A_GT)
    x = torch.as_tensor(L.eq6_sample(L.EQ6_A_GT, 200, seed=5))
    with torch.no_grad():
        exact = model.neg_elbo(x).mean()
        mc = model.neg_elbo(x, n_z=4000).mean()
    assert float(abs(exact - mc)) < 0.02 * float(abs(exact)) + 0.05


def test_bad_n():
    with pytest.raises(ValueError):
        L.eq6_sample(L.EQ6_A_GT, 0, seed=0)
