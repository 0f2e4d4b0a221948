"""Tests of the semi-supervised M2 model and objectives (m2.py; App. B, Eqs. 10-15)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vaefail_core import data, m2, set_seed
from vaefail_core import evaluate as ev
from vaefail_core import posterior as P
from vaefail_core.objectives import MemberRNG, VAEConfig
from vaefail_core.train import Member, TrainConfig, train_ensemble

DISC = data.get("semicircle_discrete")
CONT = data.get("semicircle_continuous")


@pytest.fixture(autouse=True)
def _seed():
    set_seed(0)


def arch(truth) -> VAEConfig:
    return VAEConfig(2, 1, label_dim=truth.label_dim, label=truth.label)


def gt_model(truth, n_models: int = 1) -> m2.M2VAE:
    """An M2 model whose decoder is the ground-truth surrogate (and sigma^2 the truth's)."""
    model = m2.M2VAE(arch(truth), n_models, seeds=list(range(n_models)), noise_var=truth.noise_var)
    for m in range(n_models):
        model.decoder.load_member(m, truth.surrogate().member_state(0))
    return model


def train_data(truth, n: int = 400, seed: int = 0, frac: float = 0.25):
    s = truth.sample(n, seed)
    y = m2.encode_labels(truth, s.y)
    mask = m2.label_mask(n, frac, seed)
    return {"x": s.x, "z": s.z, "y": y * mask[:, None], "label_mask": mask, "y_true": y}, s


def test_config_and_model_checks():
    with pytest.raises(ValueError, match="label"):
        VAEConfig(2, 1, label_dim=0, label="discrete")
    with pytest.raises(ValueError, match="label"):
        VAEConfig(2, 1, label_dim=2, label="ordinal")
    with pytest.raises(ValueError, match="M2 needs"):
        m2.M2VAE(VAEConfig(2, 1, label_dim=2))
    with pytest.raises(ValueError, match="scalars"):
        m2.M2VAE(VAEConfig(2, 1, label_dim=2, label="continuous"))
    with pytest.raises(ValueError, match="alpha and gamma"):
        m2.M2Objective(alpha=(0.1,), gamma=(1.0, 2.0))
    with pytest.raises(ValueError, match=">= 0"):
        m2.M2Objective(alpha=(-0.1,), gamma=(1.0,))
    with pytest.raises(ValueError, match="alpha and gamma"):
        Member(seed=0, ss_alpha=-1.0)
    assert m2.model_class(arch(DISC)) is m2.M2VAE
    model = m2.M2VAE(arch(DISC), 2)
    enc_names = {id(p) for p in model.param_groups()["encoder"]}
    assert all(id(p) in enc_names for p in model.classifier.parameters())
    assert all(id(p) in enc_names for p in model.encoder_xy.parameters())
    assert not any(id(p) in enc_names for p in model.decoder.parameters())


def test_concrete_density_matches_torch():
    torch.manual_seed(0)
    logits = torch.randn(7, 3)
    dist = torch.distributions.RelaxedOneHotCategorical(torch.tensor(2.2), logits=logits)
    y = dist.sample()
    ours = m2.concrete_log_prob(torch.log(y), torch.log_softmax(logits, -1), 2.2)
    assert torch.allclose(ours, dist.log_prob(y), atol=1e-4)
    # unnormalised logits give the same density
    assert torch.allclose(m2.concrete_log_prob(torch.log(y), logits + 3.0, 2.2), ours, atol=1e-4)


def test_relaxed_sample_is_gumbel_softmax():
    u = torch.rand(200_000, 2).clamp(1e-6, 1 - 1e-6)
    log_pi = torch.log(torch.tensor([0.8, 0.2]))
    y = m2.relaxed_sample(log_pi, u, 0.05).exp()     # low temperature: nearly one-hot
    assert abs(float((y[:, 0] > 0.5).double().mean()) - 0.8) < 0.01
    assert torch.allclose(y.sum(-1), torch.ones(len(y)))


@pytest.mark.parametrize("truth", [DISC, CONT], ids=["discrete", "continuous"])
def test_objective_splits_into_U_and_L(truth):
    model = m2.M2VAE(arch(truth), 2, seeds=[3, 4], noise_var=truth.noise_var)
    d, _ = train_data(truth, 50)
    x = torch.as_tensor(d["x"])[None].expand(2, -1, -1)
    y = torch.as_tensor(d["y_true"])[None].expand(2, -1, -1)
    obj = m2.M2Objective(alpha=(0.5, 0.0), gamma=(2.0, 1.0))

    def run(mask, o=obj):
        rng = MemberRNG([1, 2])
        return o.loss(model, {"x": x, "y": y, "label_mask": mask}, rng)[0]

    none = torch.zeros(2, 50, dtype=torch.bool)
    every = torch.ones(2, 50, dtype=torch.bool)
    t = obj.terms(model, {"x": x, "y": y}, MemberRNG([1, 2]))
    assert torch.allclose(run(none), t["neg_u"].mean(1), atol=1e-5)
    expect = torch.stack([2.0 * t["neg_l"][0] - 0.5 * t["log_q_y"][0], t["neg_l"][1]]).mean(1)
    assert torch.allclose(run(every), expect, atol=1e-5)
    # a member's loss does not depend on the other member's hyper-parameters
    other = m2.M2Objective(alpha=(0.5, 7.0), gamma=(2.0, 9.0))
    assert torch.allclose(run(every, other)[0], run(every)[0])


@pytest.mark.parametrize("truth", [DISC, CONT], ids=["discrete", "continuous"])
def test_iwae_forms_reduce_and_tighten(truth):
    model = gt_model(truth)
    d, _ = train_data(truth, 300)
    x = torch.as_tensor(d["x"])[None]
    y = torch.as_tensor(d["y_true"])[None]
    # S = 1 of the IWAE form of L is the ELBO form up to the KL estimate: equal in expectation
    with torch.no_grad():
        l1 = torch.stack([m2.neg_l(model, x, y, MemberRNG([s])) for s in range(20)]).mean()
        ls = m2.neg_l(model, x, y, MemberRNG([0]), n_samples=50).mean()
        u1 = m2.neg_u(model, x, MemberRNG([0]), n_samples=1)
        u50 = m2.neg_u(model, x, MemberRNG([0]), n_samples=50)
    assert float(ls) < float(l1)                  # more samples: a tighter bound
    assert float(u50.mean()) < float(u1.mean())


def test_neg_l_converges_to_exact_log_joint():
    """-L with many importance samples -> -log p(x, y) by quadrature (ground-truth decoder)."""
    truth = DISC
    model = gt_model(truth)
    s = truth.sample(20, 5)
    y = torch.as_tensor(m2.encode_labels(truth, s.y))[None]
    x = torch.as_tensor(s.x)[None]
    with torch.no_grad():
        # a wide proposal centred on the true z makes the IS estimate converge quickly
        model.encode_xy = lambda xx, yy: (torch.as_tensor(s.z)[None], torch.full((1, 20, 1), math.log(0.5)))
        est = m2.neg_l(model, x, y, MemberRNG([0]), n_samples=20000)[0].numpy()
    zg = P.z_grid(-6, 6, 4001)
    exact = np.empty(20)
    for i in range(20):
        fv = truth.f(zg.numpy()[:, None], np.full(len(zg), s.y[i]))
        exact[i] = -(P.log_px_grid(fv, s.x[i:i + 1], truth.noise_var, z=zg).numpy()[0] + math.log(0.5))
    np.testing.assert_allclose(est, exact, atol=0.03)


@pytest.mark.parametrize("truth", [DISC, CONT], ids=["discrete", "continuous"])
def test_posterior_and_collapse_of_ground_truth_decoder(truth):
    model = gt_model(truth)
    x = truth.sample(15, 2).x
    zg = P.z_grid(-5, 5, 801)
    z1, ours = m2.posterior_unlabelled(model, x, z=zg)
    z2, ref = truth.posterior(x, z=zg)
    assert np.allclose(np.trapz(ours, z1, axis=1), 1.0)
    assert np.abs(ours - ref).max() < 1e-3 * ref.max()
    cohorts = m2.COHORTS[truth.label]
    d_model = m2.collapse_distance(model, cohorts)[0]
    d_true = m2.collapse_distance_truth(truth, cohorts)
    assert d_true > 0.3 and abs(d_model - d_true) < 1e-4
    # a decoder that ignores y is collapsed: distance 0
    with torch.no_grad():
        model.decoder.layers[0].weight[:, 1:, :] = 0.0
    assert m2.collapse_distance(model, cohorts)[0] < 1e-6


def test_label_mask():
    a = m2.label_mask(1000, 0.1, 7)
    assert a.sum() == 100 and np.array_equal(a, m2.label_mask(1000, 0.1, 7))
    assert not np.array_equal(a, m2.label_mask(1000, 0.1, 8))
    with pytest.raises(ValueError, match="fraction"):
        m2.label_mask(10, 0.0, 0)


def test_member_in_ensemble_equals_solo_run():
    """alpha and gamma are per member: member 1 of a mixed ensemble is its solo run."""
    truth = CONT
    d, _ = train_data(truth, 300)
    cfg = TrainConfig(method="vae", epochs=2, gt_warm_epochs=1, gt_fit_epochs=1)
    mems = [Member(seed=11, init="gt", ss_alpha=0.0, ss_gamma=5.0),
            Member(seed=12, ss_alpha=1.0, ss_gamma=0.5)]
    sur = [truth.surrogate(), None]
    both = train_ensemble(arch(truth), cfg, mems, d, noise_var=truth.noise_var, surrogates=sur, progress=False)
    for j in range(2):
        solo = train_ensemble(arch(truth), cfg, [mems[j]], d, noise_var=truth.noise_var,
                              surrogates=[sur[j]], progress=False)
        for k, v in solo.model.member_state(0).items():
            assert torch.allclose(v, both.model.member_state(j)[k], atol=1e-5), k
    assert np.isfinite(both.history["gt_fit_loss"][0]) and np.isnan(both.history["gt_fit_loss"][1])


def test_training_uses_labels_only_where_observed():
    """The hidden labels (y_true) reach only the ground-truth warm start: changing them
    changes nothing for a randomly initialised member."""
    truth = DISC
    d, _ = train_data(truth, 300)
    cfg = TrainConfig(method="iwae", iwae_samples=3, epochs=2)
    mem = [Member(seed=5, ss_alpha=0.1, ss_gamma=1.0)]
    a = train_ensemble(arch(truth), cfg, mem, d, noise_var=truth.noise_var, progress=False)
    d2 = dict(d, y_true=1.0 - d["y_true"])
    b = train_ensemble(arch(truth), cfg, mem, d2, noise_var=truth.noise_var, progress=False)
    for k, v in a.model.member_state(0).items():
        assert torch.equal(v, b.model.member_state(0)[k])


def test_save_and_load_m2_member(tmp_path):
    model = gt_model(CONT, 2)
    ev.save_member(tmp_path / "m.npz", model, 1)
    back, _ = ev.load_member(tmp_path / "m.npz")
    assert isinstance(back, m2.M2VAE) and back.cfg.label == "continuous"
    x = CONT.sample(10, 0).x
    np.testing.assert_allclose(m2.f_curves(back, (0.0,), np.linspace(-2, 2, 5))[0, 0],
                               m2.f_curves(model, (0.0,), np.linspace(-2, 2, 5))[0, 1], atol=1e-6)
    assert np.isfinite(m2.predictive(back, x, np.zeros(10))).all()


def test_sweep_m2_records(tmp_path):
    from vaefail_core.sweep import Task, is_semi, run_sweep
    t = Task("semicircle_discrete", 0, "vae", "quick", extra=(("alpha", 0.1), ("gamma", 1.0)))
    u = Task("semicircle_discrete", 0, "vae", "quick")
    assert is_semi(t) and not is_semi(u)
    assert t.label == "semicircle_discrete-v0-vae-alpha0.1-gamma1"
    rec = run_sweep([t], cache_dir=tmp_path, progress=False).records[0]
    sel = rec["selected"]
    assert set(sel["knn_cohort_test"]) == {"0", "1"}
    assert rec["dataset"]["label"] == "discrete" and rec["dataset"]["collapse_f_truth"] > 0.3
    assert all(r["alpha"] == 0.1 and r["gamma"] == 1.0 for r in rec["members"])
    assert [r["init"] for r in rec["members"]] == ["gt", "random"]
    assert 0.0 <= sel["predictive"] <= 1.0 and np.isfinite(sel["separation"])
    model = ev.load_member(tmp_path / rec["params_file"])[0]
    assert isinstance(model, m2.M2VAE)
