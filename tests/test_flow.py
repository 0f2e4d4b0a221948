"""Tests of the normalizing-flow encoder (method "flow", issue 15): ``flows.py``,
``objectives.FlowVAE``, its training, its sweep tasks and Table 2 with it.

Data: the Circle example (App. G.2), generated here as in ``tests/test_train.py``.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from vaefail_core import evaluate as ev
from vaefail_core import set_seed
from vaefail_core.paper import records, sec5
from vaefail_core.flows import ConditionalSplineFlow, rq_spline
from vaefail_core.nets import EnsembleMLP
from vaefail_core.objectives import (
    VAE, FlowVAE, GaussianRegression, MemberRNG, VAEConfig, iwae_log_weights, model_class, neg_elbo_terms,
)
from vaefail_core.sweep import Task, grid_tasks, verify_record
from vaefail_core.train import Member, TrainConfig, train_ensemble

from conftest import CIRCLE_NOISE, circle

NOISE = CIRCLE_NOISE
U64 = float(np.finfo(np.float64).eps) / 2


@pytest.fixture(autouse=True)
def _seed():
    set_seed(0)


@pytest.fixture
def float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _perturb(flow: ConditionalSplineFlow, scale: float = 1.0, seed: int = 0) -> None:
    """Move the flow away from the identity (random output layers of the conditioners)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for net in flow.conditioners:
            last = net.layers[-1]
            last.weight.copy_(scale * torch.randn(last.weight.shape, generator=g))
            last.bias.copy_(scale * torch.randn(last.bias.shape, generator=g))


# --------------------------------------------------------------------------------------
# the bijection
# --------------------------------------------------------------------------------------
def test_spline_identity_at_zero_and_inverse(float64):
    g = torch.Generator().manual_seed(1)
    x = torch.linspace(-7, 7, 301)       # inside and outside [-B, B]
    w, h, d = (3 * torch.randn(1, k, generator=g).expand(301, k) for k in (8, 8, 7))   # one spline
    y, ld = rq_spline(x, w, h, d)
    assert (torch.diff(y) > 0).all()                       # monotone
    assert torch.equal(y[x.abs() > 5], x[x.abs() > 5])    # identity tails
    xr, ldi = rq_spline(y, w, h, d, inverse=True)
    assert torch.allclose(xr, x, atol=1e-9) and torch.allclose(ld + ldi, torch.zeros_like(ld), atol=1e-9)
    y0, ld0 = rq_spline(x, 0 * w, 0 * h, 0 * d)
    assert torch.allclose(y0, x, atol=1e-12) and ld0.abs().max() < 1e-12


@pytest.mark.parametrize("K", [1, 3])
def test_flow_logdet_matches_autograd_jacobian(K, float64):
    """log |det dT/du| of the whole flow (element-wise splines for K = 1, coupling layers
    for K = 3) equals the log-determinant of torch.autograd's Jacobian, per member."""
    M, D, B = 2, 2, 3
    flow = ConditionalSplineFlow(M, D, K, 3, (16, 16), seeds=[[1, 2], [3, 4], [5, 6]])
    _perturb(flow)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(M, B, D, generator=g)
    u = 1.5 * torch.randn(M, B, K, generator=g)
    logdet = flow(u, x)[1].detach()
    for m in range(M):
        for b in range(B):
            def f(v, m=m, b=b):
                uu = u.clone()
                uu[m, b] = v
                return flow(uu, x)[0][m, b]
            J = torch.autograd.functional.jacobian(f, u[m, b].clone()).detach()
            assert float(torch.linalg.slogdet(J)[1]) == pytest.approx(float(logdet[m, b]), abs=1e-8)
    # the inverse undoes it, with the opposite log-determinant; extra sample axes broadcast
    us = torch.randn(M, 4, B, K, generator=g)
    v, ld = flow(us, x)
    ui, ldi = flow.inverse(v, x)
    assert torch.allclose(ui, us, atol=1e-8) and torch.allclose(ld + ldi, torch.zeros_like(ld), atol=1e-8)


def test_log_q_integrates_to_one_on_a_grid(float64):
    """K = 1: q(z | x) of a (non-identity) flow encoder is a density: its integral on a
    fine z-grid is 1, and ``q_sample``'s log q equals ``log_q`` at the sampled z."""
    vae = FlowVAE(VAEConfig(data_dim=2, latent_dim=1, flow_layers=3), 2, seeds=[4, 5])
    _perturb(vae.flow, scale=0.5)
    x = torch.as_tensor(circle(5, 0)[0]).double().expand(2, 5, 2)
    z = torch.linspace(-20, 20, 40001)
    zz = z.view(1, -1, 1, 1).expand(2, -1, 5, 1)
    with torch.no_grad():
        lq = vae.log_q(zz, x)                                   # [M, G, N]
    mass = torch.trapezoid(lq.exp(), z, dim=1)
    # (the trapezoid rule's error on the flow's steep pieces is ~1e-4 at this step)
    assert torch.allclose(mass, torch.ones_like(mass), atol=1e-3), mass
    eps = torch.randn(2, 7, 5, 1, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        zs, lqs = vae.q_sample(x, eps)
        assert torch.allclose(vae.log_q(zs, x), lqs, atol=1e-8)
        # not a Gaussian any more: the flow changed q
        mu, lv = vae.encode(x)
        gauss = -0.5 * ((zs - mu.unsqueeze(1)) ** 2 / lv.exp().unsqueeze(1) + lv.unsqueeze(1) + math.log(2 * math.pi))
        assert (lqs - gauss[..., 0]).abs().max() > 1e-2


def test_flow_at_initialisation_is_the_gaussian_encoder(float64):
    """A fresh FlowVAE is the VAE of the same seeds plus an identity flow: the same
    encoder and decoder, z = mu + sd * eps, log q Gaussian, and its bounds equal the
    VAE's (the ELBO's KL term in expectation: the one-sample estimate's mean)."""
    cfg = VAEConfig(data_dim=2, latent_dim=1)
    vae = VAE(cfg, 2, seeds=[7, 8], noise_var=NOISE)
    flow = FlowVAE(VAEConfig(data_dim=2, latent_dim=1, flow_layers=2), 2, seeds=[7, 8], noise_var=NOISE)
    assert model_class(flow.cfg) is FlowVAE and model_class(cfg) is VAE
    sv, sf = vae.state_dict(), flow.state_dict()
    for k in sv:
        assert torch.equal(sv[k], sf[k])
    assert all(float(p.detach().abs().max()) == 0 for n, p in flow.flow.named_parameters() if "layers.3" in n)
    x = torch.as_tensor(circle(300, 1)[0]).double().expand(2, 300, 2)
    eps = torch.randn(2, 5, 300, 1, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        lw_v, lw_f = iwae_log_weights(vae, x, eps), iwae_log_weights(flow, x, eps)
        assert torch.allclose(lw_v, lw_f, atol=1e-10)
        tv, tf = neg_elbo_terms(vae, x, eps[:, 0]), neg_elbo_terms(flow, x, eps[:, 0])
        assert torch.allclose(tv["neg_ll"], tf["neg_ll"], atol=1e-10)
        mu, lv = vae.encode(x)
        zf, lq = flow.q_sample(x, eps[:, 0])
        assert torch.allclose(zf, mu + torch.exp(0.5 * lv) * eps[:, 0], atol=1e-12)
        # the warm start's -log q(z_true | x) is the Gaussian one
        batch = {"x": x, "z": zf}
        assert torch.allclose(GaussianRegression().loss(vae, batch, None)[0],
                              GaussianRegression().loss(flow, batch, None)[0], atol=1e-10)


# --------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------
def test_training_lowers_the_negative_elbo():
    x, _ = circle(1000, 2)
    arch = VAEConfig(data_dim=2, latent_dim=1, flow_layers=2)
    members = [Member(seed=s) for s in (1, 2)]
    before = ev.neg_elbo(FlowVAE(arch, 2, seeds=[1, 2], noise_var=NOISE), x, n_samples=4, tag="t")
    res = train_ensemble(arch, TrainConfig(method="flow", epochs=4), members, {"x": x},
                         noise_var=NOISE, progress=False, device="cpu")
    after = ev.neg_elbo(res.model, x, n_samples=4, tag="t")
    assert (after < before - 1.0).all(), (before, after)
    assert res.history["train_loss"][-1].max() < res.history["train_loss"][0].min()
    assert float(res.model.flow.conditioners[0].layers[-1].weight.detach().abs().max()) > 0   # the flow trained
    # evaluation goes through the flow: log p(x) by importance sampling is above the ELBO
    lp = ev.log_px_importance(res.model, x[:200], n_samples=50).mean(1)
    assert (lp > -ev.neg_elbo(res.model, x[:200], n_samples=4)).all()
    # a member saved and loaded keeps its flow
    back, _ = ev.vae_from_arrays(ev.member_arrays(res.model, 1))
    assert isinstance(back, FlowVAE) and back.cfg == arch
    assert np.allclose(ev.neg_elbo(back, x[:100], tag="s"), ev.neg_elbo(res.model.subset([1]), x[:100], tag="s"))


def test_flow_member_equals_training_alone(float64):
    """As ``test_train.test_ensemble_member_equals_training_alone`` (same tolerance and
    reasoning): each member of a flow ensemble of 3 (own data, seed, init; member 0
    starts at the ground truth with 2 candidate encoders) ends where training it alone
    ends."""
    data = [circle(500, v) for v in range(3)]
    X, Z = np.stack([d[0] for d in data]), np.stack([d[1] for d in data])
    members = [Member(seed=11, init="gt"), Member(seed=12), Member(seed=13)]
    surrogate = EnsembleMLP(1, 1, 2, seeds=[123])
    arch = VAEConfig(data_dim=2, latent_dim=1, flow_layers=2)
    cfg = TrainConfig(method="flow", epochs=3, gt_warm_epochs=1, gt_fit_epochs=1, gt_encoder_restarts=2)
    kw = dict(noise_var=NOISE, progress=False, device="cpu")
    ens = train_ensemble(arch, cfg, members, {"x": X, "z": Z}, surrogates=[surrogate, None, None], **kw)
    assert isinstance(ens.model, FlowVAE) and next(ens.model.parameters()).dtype == torch.float64
    tol = 40 * cfg.lr * 100 * U64 / 1e-8

    def diff(a, i, b, j):
        sa, sb = a.member_state(i), b.member_state(j)
        return max(float((sa[k] - sb[k]).abs().max()) for k in sa)

    for m in range(3):
        alone = train_ensemble(arch, cfg, [members[m]], {"x": X[m:m + 1], "z": Z[m:m + 1]},
                               surrogates=[surrogate if m == 0 else None], **kw)
        assert diff(ens.model, m, alone.model, 0) < tol
        np.testing.assert_allclose(ens.history["train_loss"][:, m], alone.history["train_loss"][:, 0],
                                   rtol=tol, atol=0)
    assert diff(ens.model, 0, ens.model, 1) > 1e-2
    assert np.isfinite(ens.history["gt_warm_loss"][0]) and np.isnan(ens.history["gt_warm_loss"][1])


def test_flow_needs_its_architecture():
    with pytest.raises(ValueError, match="flow"):
        train_ensemble(VAEConfig(data_dim=2, latent_dim=1), TrainConfig(method="flow", epochs=1),
                       [Member(seed=1)], {"x": circle(200, 0)[0]}, noise_var=NOISE, progress=False)
    with pytest.raises(ValueError, match="flow"):
        VAEConfig(data_dim=2, latent_dim=1, label_dim=2, label="discrete", flow_layers=1)


# --------------------------------------------------------------------------------------
# tasks, keys and Table 2
# --------------------------------------------------------------------------------------
def test_flow_tasks_and_existing_keys_unchanged():
    """Flow tasks carry their layer count in key and label; every other task's config
    has no flow field, so its key is the one it had, and the committed records of the
    other sweeps still verify under results/reduced/."""
    t = Task("figure8", 0, "flow", "quick", flow_layers=2)
    assert t.config()["task"]["flow_layers"] == 2 and t.label == "figure8-v0-flow-L2"
    assert Task.from_dict(t.config()["task"]).key == t.key
    assert t.key != Task("figure8", 0, "flow", "quick", flow_layers=4).key
    for bad in (dict(method="flow"), dict(method="vae", flow_layers=2)):
        with pytest.raises(ValueError, match="flow"):
            Task("figure8", 0, profile="quick", **bad)
    assert [x.label for x in grid_tasks(["figure8"], "quick", methods=("flow",), versions=(0,))] == \
        ["figure8-v0-flow-L2"]
    assert "flow_layers" not in json.dumps(Task("figure8", 0, "vae", "quick").config())
    n_checked = 0
    for name, fn in records.SWEEPS.items():
        if name == "section5_flow":
            continue
        for task in fn("reduced"):
            assert "flow_layers" not in task.config()["task"]
        if name == "section5":      # committed, complete: every record verifies (key, config, params)
            assert all(verify_record(task) is not None for task in fn("reduced"))
            n_checked += len(fn("reduced"))
    assert n_checked > 0
    flow_tasks = records.SWEEPS["section5_flow"]("reduced")
    assert {x.dataset for x in flow_tasks} == set(sec5.TABLE2_DATASETS)
    base = [x for x in sec5.section5_tasks("reduced") if x.method == "vae" and x.dataset in sec5.TABLE2_DATASETS]
    assert {(x.dataset, x.version, x.restart_ids()) for x in flow_tasks} == \
        {(x.dataset, x.version, x.restart_ids()) for x in base}
    assert all(x.has_gt_members() for x in flow_tasks)


def _record(version, method, knn_test, **kw):
    task = Task("figure8", version, method, "quick", **kw)
    return {"key": task.key, "label": task.label, "config": task.config(),
            "members": [{"restart": 0, "init": "gt", "val_objective": 1.0, "test_neg_elbo": 1.0}],
            "selected": {"restart": 0, "knn_val": knn_test, "knn_test": knn_test, "test_log_px_is": -1.0}}


def test_table2_flow_rows_only_when_asked(tmp_path):
    recs = []
    for v in (0, 1):
        recs += [_record(v, "vae", 3.0 + v), _record(v, "iwae", 1.0 + v, iwae_samples=3),
                 _record(v, "lin", 2.0 + v, lin_T=0.1, lin_R=5),
                 _record(v, "flow", 0.5 + v, flow_layers=2), _record(v, "flow", 5.0, flow_layers=4)]
    plain = sec5.table2(records=recs, datasets=("figure8",))
    assert list(plain["method"]) == ["IWAE", "LIN", "VAE"]
    assert list(sec5.table2(records=[r for r in recs if "flow" not in r["label"]],
                            datasets=("figure8",))["mean"]) == list(plain["mean"])
    t = sec5.table2(records=recs, datasets=("figure8",), include_flow=True).set_index("method")
    assert list(t.index) == ["IWAE", "LIN", "VAE", "Flow"]
    assert t.loc["Flow", "mean"] == pytest.approx(1.0) and t.loc["Flow", "settings"] == "L=2 x2"
    pv = sec5.table2_per_version(records=recs, datasets=("figure8",), include_flow=True)
    assert set(pv["method"]) == {"IWAE", "LIN", "VAE", "Flow"}
    p = sec5.write_table2_csv(t.reset_index(), "quick", results_dir=tmp_path)
    assert "Flow" not in p.read_text()
    p = sec5.write_table2_csv(t.reset_index(), "quick", results_dir=tmp_path, include_flow=True)
    assert p.read_text().strip().splitlines()[-1].startswith("figure8,Flow,1,")
