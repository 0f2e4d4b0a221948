"""Tests of the Appendix F attack / defence functions and the Figs. 23-24 posterior
measures in vaefail_core.paper.appF and paper.sec8 (and their plot helpers)."""
import math

import numpy as np
import pytest
import torch
from scipy import stats

from vaefail_core import data
from vaefail_core.paper import appF, sec8


# --------------------------------------------------------------------------------------
# Appendix F
# --------------------------------------------------------------------------------------
def test_linear_attack_lands_exactly_on_the_boundary():
    rng = np.random.default_rng(0)
    w, b = rng.normal(size=5), 0.3
    x = rng.normal(size=(50, 5))
    eta = appF.linear_attack(w, b, x)
    s = x @ w + b
    assert np.abs((x + eta) @ w + b).max() < 1e-12                      # on the boundary
    assert np.allclose(np.linalg.norm(eta, axis=1), np.abs(s) / np.linalg.norm(w))
    # along w (any other crossing direction d needs |s| / |w.d| >= |s| / ||w||)
    cos = np.abs(eta @ w) / (np.linalg.norm(eta, axis=1) * np.linalg.norm(w))
    assert np.allclose(cos, 1.0)
    d = rng.normal(size=(200, 5))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    assert (np.abs(s[0]) / np.abs(d @ w) >= np.linalg.norm(eta[0]) - 1e-12).all()
    # with an overshoot every point crosses, by exactly that share of the distance
    eta2 = appF.linear_attack(w, b, x, overshoot=0.1)
    assert (np.sign((x + eta2) @ w + b) == -np.sign(s)).all()
    assert np.allclose(eta2, 1.1 * eta)


def test_linear_attack_bad_input():
    with pytest.raises(ValueError):
        appF.linear_attack(np.zeros(3), 0.0, np.ones((2, 3)))
    with pytest.raises(ValueError):
        appF.linear_attack(np.ones(3), 0.0, np.ones((2, 4)))
    with pytest.raises(ValueError):
        appF.linear_attack(np.ones(3), 0.0, np.ones((2, 3)), overshoot=-0.5)


def _figure7_cartoon(n=40):
    """Fig. 7a in 2-D: the manifold is the x_1-axis, the true label 1[x_1 > 0]; the learned
    classifier w = (1, 1), b = 0 agrees with it on the manifold but not off it."""
    x = np.stack([np.linspace(0.1, 1.0, n), np.zeros(n)], 1)
    y = np.ones(n, dtype=np.int64)
    w, b = np.array([1.0, 1.0]), 0.0
    predict = lambda a: (a @ w + b > 0).astype(np.int64)
    x_adv = x + appF.linear_attack(w, b, x, overshoot=0.1)
    return x, y, x_adv, predict


def test_defence_table_identity_truth_and_mismatched_projection():
    x, y, x_adv, predict = _figure7_cartoon()
    on_manifold = lambda a: np.stack([a[:, 0], np.zeros(len(a))], 1)   # the true projection
    shrink = lambda a: np.stack([a[:, 0], 0.9 * a[:, 1]], 1)           # removes 10 % of the noise
    proj = {"none": (x, x_adv), "truth": (on_manifold(x), on_manifold(x_adv)),
            "mismatched": (shrink(x), shrink(x_adv))}
    y_true_adv = (x_adv[:, 0] > 0).astype(np.int64)      # the attack keeps x_1 > 0: all valid
    df = appF.defence_table(predict, proj, x, x_adv, y, y_true_adv, clean=on_manifold(x))
    assert (df["attack success"] == 1.0).all()
    assert df.loc["none", "survival"] == 1.0 and df.loc["none", "kept"] == pytest.approx(1.0)
    assert df.loc["truth", "survival"] == 0.0 and df.loc["truth", "survival (valid)"] == 0.0
    assert df.loc["mismatched", "survival"] == 1.0
    assert df.loc["truth", "valid attacks"] == 1.0
    assert (df["clean error"] == 0.0).all()
    # the true projection keeps only the tangential part of the attack (|eta_1| / |eta|)
    assert df.loc["truth", "kept"] == pytest.approx(1 / math.sqrt(2))
    assert df.loc["truth", "dist after"] < df.loc["none", "dist after"] == df.loc["none", "dist before"]
    # invalid attacks (true label flipped) are left out of survival (valid)
    df2 = appF.defence_table(predict, proj, x, x_adv, y, 1 - y_true_adv)
    assert df2.loc["none", "valid attacks"] == 0.0 and np.isnan(df2.loc["none", "survival (valid)"])


def test_defence_table_bad_input():
    x, y, x_adv, predict = _figure7_cartoon()
    with pytest.raises(ValueError):      # no attack crosses
        appF.defence_table(predict, {"none": (x, x)}, x, x, y)
    with pytest.raises(ValueError):
        appF.defence_table(predict, {"none": (x, x_adv[:3])}, x, x_adv, y)
    with pytest.raises(ValueError):
        appF.defence_table(predict, {"none": (x, x_adv)}, x, x_adv, y[:3])


def test_manifold_label_is_the_loop_of_the_figure8():
    z = np.random.default_rng(1).standard_normal((2000, 1))
    y = appF.manifold_label("figure8_5d", z)
    far = np.abs(z[:, 0]) > 0.02          # the surrogate may differ from the closed form at 0
    assert (y[far] == (z[far, 0] > 0)).all()
    assert 0.45 < y.mean() < 0.55
    assert (appF.manifold_label("figure8", z) == y).all()


def test_true_projection_ignores_perturbations_off_the_plane():
    """x = f(z) A + eps: a perturbation orthogonal to the rows of A does not change
    p(z | x), hence neither the mode nor the true label of the attacked point."""
    s = data.get("figure8_5d").sample(100, 7)
    A = data.EMBED_5D
    P = np.eye(5) - A.T @ np.linalg.solve(A @ A.T, A)
    r = np.random.default_rng(2).normal(size=(100, 5))
    z0 = appF.ground_truth_mode("figure8_5d", s.x)
    assert np.array_equal(z0, appF.ground_truth_mode("figure8_5d", s.x + r @ P))
    # the same perturbation within the plane does move the modes
    moved = appF.ground_truth_mode("figure8_5d", s.x + 0.3 * r @ (np.eye(5) - P))
    assert np.mean(moved != z0) > 0.5
    proj = appF.ground_truth_projection("figure8_5d", s.x)
    assert np.allclose(proj, data.get("figure8_5d").f(z0[:, None]))


def test_fit_label_classifier_learns_the_loop():
    s = data.get("figure8_5d").sample(1000, 3)
    y = appF.manifold_label("figure8_5d", s.z)
    clf = appF.fit_label_classifier(s.x, y)
    assert clf.score(s.x, y) > 0.9
    with pytest.raises(ValueError):
        appF.fit_label_classifier(s.x, np.zeros(len(s.x)))


# --------------------------------------------------------------------------------------
# Figures 23-24
# --------------------------------------------------------------------------------------
def _linear_gaussian(W, c, s2, x):
    """Closed-form posterior N(m, S) and log p(x) of x = W z + c + eps, z ~ N(0, I_2)."""
    S = np.linalg.inv(np.eye(2) + W.T @ W / s2)
    m = (x - c) @ W @ S / s2
    lpx = stats.multivariate_normal(c, W @ W.T + s2 * np.eye(len(c))).logpdf(x)
    return m, S, lpx


def test_grid_posterior_2d_matches_linear_gaussian():
    W = np.array([[1.0, 0.4], [0.2, -0.8], [0.5, 0.5]])
    c, s2 = np.array([0.1, -0.2, 0.3]), 0.3
    x = np.random.default_rng(0).normal(size=(4, 3))
    g = sec8.grid_posterior_2d(lambda Z: Z @ W.T + c, s2, x, lim=6.0, n=161)
    w = np.exp(g["log_w"])
    assert np.allclose((g["post"] * w).sum((1, 2)), 1.0, atol=1e-10)
    m, S, lpx = _linear_gaussian(W, c, s2, x)
    Z1, Z2 = np.meshgrid(g["z"], g["z"], indexing="ij")
    mean = np.stack([(g["post"] * Z1 * w).sum((1, 2)), (g["post"] * Z2 * w).sum((1, 2))], 1)
    assert np.allclose(mean, m, atol=1e-4)
    cov12 = (g["post"] * (Z1 - mean[:, :1, None]) * (Z2 - mean[:, 1:, None]) * w).sum((1, 2))
    assert np.allclose(cov12, S[0, 1], atol=1e-4)
    assert np.allclose(g["log_px"], lpx, atol=1e-4)
    with pytest.raises(ValueError):
        sec8.grid_posterior_2d(lambda Z: Z @ W.T, s2, x[:, :2])


def test_kl_gaussian_to_grid_2d_closed_form():
    # orthogonal columns -> a diagonal Gaussian posterior, which q can match exactly
    W = np.array([[1.2, 0.0], [0.0, 0.7], [0.0, 0.0]])
    c, s2 = np.zeros(3), 0.25
    x = np.array([[0.4, -0.3, 0.1], [-1.0, 0.5, 0.0]])
    g = sec8.grid_posterior_2d(lambda Z: Z @ W.T + c, s2, x, lim=6.0, n=201)
    m, S, _ = _linear_gaussian(W, c, s2, x)
    sd = np.sqrt(np.diag(S))[None].repeat(2, 0)
    assert np.abs(sec8.kl_gaussian_to_grid_2d(g, m, sd)).max() < 1e-4
    # a shifted, wider q: KL between two diagonal Gaussians in closed form
    mq, sq = m + 0.3, 1.5 * sd
    kl = (np.log(sd / sq) + (sq ** 2 + (mq - m) ** 2) / (2 * sd ** 2) - 0.5).sum(1)
    assert np.allclose(sec8.kl_gaussian_to_grid_2d(g, mq, sq), kl, atol=1e-4)


def _prior_encoder_vae(K, seed=0):
    """A random-decoder VAE whose encoder returns q = N(0, I) = the prior (last layer 0)."""
    from vaefail_core.objectives import VAE, VAEConfig
    vae = VAE(VAEConfig(data_dim=2, latent_dim=K, hidden=(20,)), seeds=[seed], noise_var=0.3)
    with torch.no_grad():
        last = vae.encoder.layers[-1]
        last.weight.zero_()
        last.bias.zero_()
    return vae


@pytest.mark.parametrize("K", [1, 2])
def test_posterior_gap_matches_grid_kl(K):
    """With q = prior, log p(x) - ELBO = KL(prior || p(z | x)): the importance-sampled
    gap and the grid KL must agree (and the gap is >= 0 for every point)."""
    vae = _prior_encoder_vae(K)
    from vaefail_core.evaluate import sample_px
    x = sample_px(vae, 40, tag="t")[0]
    gap = sec8.posterior_gap(vae, x, n_samples=4000)
    assert (gap["gap_is"] >= 0).all()
    assert np.allclose(gap["log_px_is"] + gap["neg_elbo"], gap["gap_is"])
    grid = sec8.model_posterior_grid(vae, x, lim=5.0, n=141, best_gaussian=False)
    assert np.allclose(grid["q_mu"], 0.0) and np.allclose(grid["q_sd"], 1.0)
    assert np.abs(grid["log_px"] - gap["log_px_is"]).mean() < 0.02
    assert abs(grid["kl_q"].mean() - gap["gap_is"].mean()) < 0.02
    assert grid["kl_q"].mean() > 0.05                  # not a trivial (zero-KL) case
    assert sec8.active_units(vae, x) == 0            # q ignores x


def test_plot_helpers_draw():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from vaefail_core import plots
    fig, ax = plt.subplots(1, 2)
    z = np.linspace(-3, 3, 61)
    post = np.exp(-0.5 * (z[:, None] ** 2 + z[None] ** 2))
    plots.plot_posterior_2d(ax[0], z, post, [0.0, 0.0], [1.0, 1.0])
    assert ax[0].get_xlim()[0] >= -3 and len(ax[0].patches) == 2
    with pytest.raises(ValueError):
        plots.plot_posterior_2d(ax[0], z, post[:10])
    ax[1].set_xlim(-1, 1)
    ax[1].set_ylim(-1, 1)
    (line,) = plots.plot_line(ax[1], [1.0, 1.0], 0.0)
    xs, ys = line.get_data()
    assert np.allclose(np.asarray(xs) + np.asarray(ys), 0.0)
    x, _, x_adv, _ = _figure7_cartoon(3)
    plots.plot_attack(ax[1], x, x_adv, x_adv * [1, 0], defended=[True, False, True])
    plt.close(fig)
