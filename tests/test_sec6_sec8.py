"""Tests of the page modules vaefail_core.paper.sec6, sec8, appA_C and appF (Sections 6, 8;
Appendices A, C, F)."""
import numpy as np
import pandas as pd
import pytest

from vaefail_core import data, linear, metrics
from vaefail_core.paper import appA_C, appF, sec6, sec8
from vaefail_core.profiles import get_profile


def test_rotated_decoder_same_px_zero_pmo():
    A = sec6.LINEAR_A
    Ap, R = sec6.rotated_decoder(A)
    assert np.allclose(R.T @ R, np.eye(2))
    assert np.allclose(A @ R, Ap)
    assert np.allclose(Ap @ Ap.T, A @ A.T)
    df = sec6.linear_example()
    assert abs(df.iloc[1]["MLEO"]) < 1e-10 and abs(df.iloc[0]["MLEO"]) < 1e-10
    assert abs(df.iloc[1]["PMO"]) < 1e-10
    assert df.iloc[0]["PMO"] > 0.1          # the non-diagonal A has correlated posteriors
    assert abs(df.iloc[1]["posterior corr"]) < 1e-10


def test_rotation_scan_mleo_constant_pmo_varies():
    s = sec6.rotation_scan(n=91)
    assert s["MLEO"].abs().max() < 1e-10
    assert s["PMO"].min() < 1e-3 < s["PMO"].max()


def test_gaussian_collapse():
    r = appA_C.gaussian_collapse_scan(0.5 * np.eye(2), n_w=11)
    assert abs(r["collapsed"]) < 1e-10 and r["global_min"] > -1e-8
    r = appA_C.gaussian_collapse_scan(np.array([[1.0, 0.8], [0.8, 1.0]]), n_w=11)
    assert r["collapsed"] > 0.4 and r["global_min"] < 1e-4   # collapse loses the correlation
    with pytest.raises(ValueError):
        appA_C.gaussian_collapse_scan(np.eye(3))


def test_theorem1_split_identity():
    kl = np.random.default_rng(0).exponential(0.2, 1000)
    for eta in (0.0, 0.1, 0.5, 10.0):
        g = appA_C.theorem1_split(kl, eta)
        assert g["pmo_eq19"] == pytest.approx(kl.mean(), rel=1e-12)
        assert g["pr_hi_d_hi"] + g["pr_lo_d_lo"] == pytest.approx(kl.mean(), rel=1e-12)
    assert appA_C.theorem1_split(kl, 0.1)["pr_hi"] == pytest.approx((kl > 0.1).mean())
    with pytest.raises(ValueError):
        appA_C.theorem1_split(kl, -1)


def test_eq9_is_the_maximiser():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 2))
    f = x[None] + rng.normal(scale=[0.1, 0.3], size=(16, 300, 2))
    grid = np.logspace(-3, 0, 301)
    curve = appA_C.expected_loglik_curve(x, f, grid)
    eq9 = metrics.noise_variance_eq9(x, f)
    for d in range(2):
        am = appA_C._argmax_refined(grid, curve[:, d])
        assert am == pytest.approx(eq9[d], rel=1e-3)
        assert grid[np.argmax(curve[:, d])] == pytest.approx(eq9[d], rel=0.03)
    assert eq9[1] > 5 * eq9[0]
    with pytest.raises(ValueError):
        appA_C.expected_loglik_curve(x, f[:, :10], grid)


def test_section8_tasks_shapes():
    p = get_profile("quick")
    ts = sec8.section8_tasks("quick")
    n_b = len(sec8.CASE_B_DATASETS) * len(sec8.CASE_B_K) * p.n_versions * (1 + len(p.iwae_S))
    assert len(ts) == 2 * p.n_versions + n_b
    assert len({t.key for t in ts}) == len(ts)
    a = [t for t in ts if t.dataset == "spiral_dots"]
    assert sorted(t.learn_noise for t in a) == [False] * p.n_versions + [True] * p.n_versions
    b = [t for t in ts if t.dataset != "spiral_dots"]
    assert all(t.learn_noise and t.latent_dim in (1, 2, 3) for t in b)
    assert {t.iwae_samples for t in b if t.method == "iwae"} == set(p.iwae_S)


def test_csv_writers(tmp_path):
    case_a = pd.DataFrame({"experiment": ["learned", "fixed", "learned", "fixed"],
                           "version": [0, 0, 1, 1], "sigma2": [0.03, 0.01, 0.05, 0.02]})
    path = sec8.write_noise_csv(case_a, "quick", out_dir=tmp_path)
    df = pd.read_csv(path)
    assert list(df.columns) == ["experiment", "mean", "sd", "truth"]
    assert df.set_index("experiment").loc["learned", "mean"] == pytest.approx(0.04)
    assert df.set_index("experiment").loc["fixed", "mean"] == pytest.approx(0.015)
    assert df.set_index("experiment").loc["fixed", "sd"] == pytest.approx(np.std([0.01, 0.02], ddof=1), rel=1e-3)   # 4 digits
    frame = pd.DataFrame({"dataset": ["figure8_5d"] * 2, "method": ["vae"] * 2, "K": [1, 1],
                          "version": [0, 1], "neg_elbo": [1.0, 3.0], "neg_iwae": [np.nan] * 2,
                          "avg_mi": [2.0, 2.0], "noise_var": [0.02, 0.02], "elbo_gap": [0.1, 0.3]})
    summ = sec8.table1_summary(frame)
    path = sec8.write_table1_csv(summ, "quick", out_dir=tmp_path)
    df = pd.read_csv(path)
    assert list(df.columns) == ["dataset", "method", "K", "metric", "mean", "sd"]
    row = df[df.metric == "neg_elbo"].iloc[0]
    assert row["mean"] == pytest.approx(2.0) and row["sd"] == pytest.approx(np.sqrt(2), rel=1e-3)   # 4 significant digits
    assert "neg_iwae" not in set(df.metric)


def test_paper_table1_reference_complete():
    t = sec8.PAPER_TABLE1
    assert len(t) == 24 and set(t.K) == {1, 2, 3}


def test_projection_defence_extremes():
    x = np.random.default_rng(0).normal(size=(200, 5))
    df = appF.projection_defence({"identity": lambda a: a, "constant": lambda a: np.zeros_like(a)}, x,
                                   radius=0.5)
    assert df.loc["identity", "survival"] == pytest.approx(1.0)
    assert df.loc["identity", "removed/dim"] == pytest.approx(0.0)
    assert df.loc["constant", "survival"] == pytest.approx(0.0)
    assert df.loc["constant", "removed/dim"] == pytest.approx((x ** 2).sum(1).mean() / 5)


def test_ground_truth_projection_denoises():
    from vaefail_core import data
    s = data.get("circle").sample(200, 3)
    px = appF.ground_truth_projection("circle", s.x)
    clean = data.get("circle").f(s.z)
    # 2-D noise onto a 1-D manifold: the normal half of the noise is removed (ratio ~0.5)
    ratio = ((px - clean) ** 2).sum(1).mean() / ((s.x - clean) ** 2).sum(1).mean()
    assert 0.3 < ratio < 0.7


def test_table1_summary_keeps_the_exact_mi_row():
    frame = pd.DataFrame({"dataset": ["figure8_5d"] * 3, "method": ["vae", "vae", "truth"], "K": [1, 1, 1],
                          "version": [0, 1, 0], "neg_elbo": [1.0, 3.0, np.nan],
                          "avg_mi": [2.0, 2.2, np.nan], "exact_mi": [np.nan, np.nan, 2.25]})
    summ = sec8.table1_summary(frame)
    row = summ[summ.metric == "exact_mi"].iloc[0]
    assert (row["method"], row["K"], row["mean"]) == ("truth", 1, 2.25)
    assert set(summ.metric) == {"neg_elbo", "avg_mi", "exact_mi"}


def test_exact_mi_is_stable_and_refuses_other_latents():
    """The exact I(x; z) of Figure-8-5D on two independent test draws agrees within its
    Monte-Carlo error (about 0.02 nats each); 2-D latents are refused."""
    s = data.get("figure8_5d").sample(2000, 0)
    mi = sec8.exact_mutual_information("figure8_5d", s.x, s.z)
    s2 = data.get("figure8_5d").sample(2000, 1)
    assert 2.1 < mi < 2.4
    assert abs(mi - sec8.exact_mutual_information("figure8_5d", s2.x, s2.z)) < 0.1
    with pytest.raises(ValueError):
        sec8.exact_mutual_information("linear_cholesky", s.x, s.z)
