"""Tests of the batched-ensemble trainer (train.py), the objectives and evaluate.py.

Data: the Circle example (App. G.2, Eq. 34: x = (cos 2 pi Phi(z), sin 2 pi Phi(z)) + eps,
noise variance 0.01), generated here so the tests do not depend on the data module.
"""
from __future__ import annotations


import numpy as np
import pytest
import torch

from vaefail_core import evaluate as ev
from vaefail_core import set_seed
from vaefail_core.nets import EnsembleMLP
from vaefail_core.objectives import (
    VAE, MemberRNG, NegIWAE, VAEConfig, iwae_bound, iwae_log_weights, kl_std_normal,
    make_objective, neg_elbo_terms,
)
from vaefail_core.train import (
    BatchStream, EnsembleAdam, Member, TrainConfig, progress_enabled, train_ensemble,
)

from conftest import CIRCLE_NOISE, circle

NOISE = CIRCLE_NOISE
ARCH = VAEConfig(data_dim=2, latent_dim=1)


@pytest.fixture(autouse=True)
def _seed():
    set_seed(0)


def _state_diff(a: VAE, i: int, b: VAE, j: int) -> float:
    sa, sb = a.member_state(i), b.member_state(j)
    return max(float((sa[k] - sb[k]).abs().max()) for k in sa)


# --------------------------------------------------------------------------------------
# batched == sequential
# --------------------------------------------------------------------------------------
#: Float64 unit roundoff.
U64 = float(np.finfo(np.float64).eps) / 2


def _three_members():
    data = [circle(500, v) for v in range(3)]
    X = np.stack([d[0] for d in data])
    Z = np.stack([d[1] for d in data])
    XV = np.stack([circle(200, 10 + v)[0] for v in range(3)])
    members = [Member(seed=11, init="gt", lin_T=0.05, lin_R=3),
               Member(seed=12, lin_T=0.1, lin_R=5),
               Member(seed=13, lin_T=0.0, lin_R=4)]
    return X, Z, XV, members


@pytest.fixture
def float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


@pytest.mark.parametrize("method", ["vae", "iwae", "lin"])
def test_ensemble_member_equals_training_alone(method, float64):
    """Each member of an ensemble of 3 (own data version, seed, LIN T/R, init) ends where
    training it alone with the same seed ends.

    The batched and the solo computations run the same arithmetic, but ATen's vectorised
    kernels treat a vector's body and its scalar tail with different code, so a value's
    last bit depends on where it sits in the [M, ...] tensor, i.e. on M. In float32 such
    last-bit differences are not bounded after training: Adam turns a gradient that is
    zero up to rounding into a step of about lr, and LIN's stopping rule (and any other
    threshold) can flip. So this test runs in float64, where the bound is explicit: a
    gradient perturbed by delta changes one Adam step by at most lr * delta / eps (eps =
    1e-8). With delta <= 100 ulps of an O(1) gradient (100 * U64) and fewer than 40 steps
    (3 epochs x 5 batches, plus the ground-truth phases), parameters agree within
    40 * lr * 100 * U64 / eps ~ 4e-8, and discrete decisions (LIN's inner-step counts)
    are equal. Members really differ from each other by > 1e-2, so the check has teeth.
    """
    X, Z, XV, members = _three_members()
    surrogate = EnsembleMLP(1, 1, 2, seeds=[123])
    cfg = TrainConfig(method=method, iwae_samples=3, epochs=3, gt_warm_epochs=1, gt_fit_epochs=1)
    kw = dict(noise_var=NOISE, progress=False, device="cpu")
    ens = train_ensemble(ARCH, cfg, members, {"x": X, "z": Z}, {"x": XV},
                         surrogates=[surrogate, None, None], **kw)
    assert next(ens.model.parameters()).dtype == torch.float64
    tol = 40 * cfg.lr * 100 * U64 / 1e-8
    for m in range(3):
        alone = train_ensemble(ARCH, cfg, [members[m]], {"x": X[m:m + 1], "z": Z[m:m + 1]},
                               {"x": XV[m:m + 1]}, surrogates=[surrogate if m == 0 else None], **kw)
        assert _state_diff(ens.model, m, alone.model, 0) < tol
        np.testing.assert_allclose(ens.history["train_loss"][:, m], alone.history["train_loss"][:, 0],
                                   rtol=tol, atol=0)
        if method == "lin":
            np.testing.assert_array_equal(ens.history["inner_steps"][:, m], alone.history["inner_steps"][:, 0])
    assert _state_diff(ens.model, 0, ens.model, 1) > 1e-2
    if method == "lin":   # members with different T, R took different numbers of inner steps
        assert len({int(ens.history["inner_steps"][:, m].sum()) for m in range(3)}) > 1


@pytest.mark.parametrize("method", ["vae", "iwae", "lin"])
def test_members_do_not_see_each_other(method):
    """At the production dtype (float32) and a fixed ensemble size, a member's result is
    bit-for-bit independent of the other members: replacing member 2's seed, data and
    LIN setting leaves members 0 and 1 exactly as they were (same shapes, so the same
    kernels at the same positions)."""
    X, Z, XV, members = _three_members()
    surrogate = EnsembleMLP(1, 1, 2, seeds=[123])
    cfg = TrainConfig(method=method, iwae_samples=3, epochs=3, gt_warm_epochs=1, gt_fit_epochs=1)
    kw = dict(noise_var=NOISE, progress=False, device="cpu", surrogates=[surrogate, None, None])
    a = train_ensemble(ARCH, cfg, members, {"x": X, "z": Z}, {"x": XV}, **kw)
    X2, XV2 = X.copy(), XV.copy()
    X2[2], XV2[2] = circle(500, 99)[0], circle(200, 98)[0]
    other = members[:2] + [Member(seed=99, lin_T=0.2, lin_R=2)]
    b = train_ensemble(ARCH, cfg, other, {"x": X2, "z": Z}, {"x": XV2}, **kw)
    assert next(a.model.parameters()).dtype == torch.float32
    for m in (0, 1):
        assert _state_diff(a.model, m, b.model, m) == 0.0
        np.testing.assert_array_equal(a.history["train_loss"][:, m], b.history["train_loss"][:, m])
    assert _state_diff(a.model, 2, b.model, 2) > 1e-2


def test_ensemble_adam_matches_torch_adam_and_masks_freeze():
    torch.manual_seed(0)
    w0 = torch.randn(2, 5, 3)
    target = torch.randn(2, 7, 3)
    x = torch.randn(2, 7, 5)
    p_ours = torch.nn.Parameter(w0.clone())
    p_ref = torch.nn.Parameter(w0.clone())
    ours = EnsembleAdam({"g": [p_ours]}, n_models=2, lr=1e-2)
    ref = torch.optim.Adam([p_ref], lr=1e-2)
    for _ in range(20):
        ours.step(((x @ p_ours - target) ** 2).mean((1, 2)).sum())
        ref.zero_grad()
        ((x @ p_ref - target) ** 2).mean((1, 2)).sum().backward()
        ref.step()
    assert torch.allclose(p_ours, p_ref, atol=1e-6)
    # a masked member keeps its parameters and its Adam state exactly
    before = p_ours.detach().clone()
    m_before = ours.m.clone()
    ours.step(((x @ p_ours - target) ** 2).mean((1, 2)).sum(), masks={"g": torch.tensor([False, True])})
    assert torch.equal(p_ours[0], before[0]) and not torch.equal(p_ours[1], before[1])
    assert torch.equal(ours.m[0], m_before[0])
    assert ours.groups["g"].t.view(-1).tolist() == [20.0, 21.0]


def test_ensemble_adam_warmup_ramps_only_its_members():
    """A member with warmup W takes steps lr * min(1, t / W) (times Adam's direction); a
    member with warmup 0 is bit-for-bit the plain optimiser."""
    torch.manual_seed(1)
    w0 = torch.randn(2, 4, 3)
    x, target = torch.randn(2, 6, 4), torch.randn(2, 6, 3)
    p_w, p_plain = torch.nn.Parameter(w0.clone()), torch.nn.Parameter(w0.clone())
    warm = EnsembleAdam({"g": [p_w]}, n_models=2, lr=1e-2, warmup=[4, 0])
    plain = EnsembleAdam({"g": [p_plain]}, n_models=2, lr=1e-2)
    loss = lambda p: ((x @ p - target) ** 2).mean((1, 2)).sum()   # noqa: E731
    before = p_w.detach().clone()
    warm.step(loss(p_w))
    plain.step(loss(p_plain))
    # step one of Adam moves every weight by lr (m / sqrt(v) = sign(g)); warm-up: lr / 4
    assert torch.allclose((p_w[0] - before[0]).abs(), torch.full_like(before[0], 1e-2 / 4), atol=1e-7)
    assert torch.equal(p_w[1], p_plain[1])
    for _ in range(6):
        warm.step(loss(p_w))
        plain.step(loss(p_plain))
    assert torch.equal(p_w[1], p_plain[1]) and not torch.equal(p_w[0], p_plain[0])
    with pytest.raises(ValueError):
        EnsembleAdam({"g": [torch.nn.Parameter(w0.clone())]}, n_models=2, warmup=[1, 2, 3])


def test_gt_encoder_restarts_keep_the_best_and_start_loss_is_measured():
    """App. D: the ground-truth encoder is fit over several restarts and the best kept.
    Candidate 0 is the single-restart fit, so the kept score is never worse (up to the
    ensemble's roundoff); gt_start_loss is measured at the start like a training epoch."""
    x, z = circle(1000, 0)
    surrogate = EnsembleMLP(1, 1, 2, seeds=[99])
    members = [Member(seed=1, init="gt"), Member(seed=2, init="gt")]
    out = {}
    for R in (1, 3):
        cfg = TrainConfig(epochs=1, gt_warm_epochs=2, gt_fit_epochs=2, gt_encoder_restarts=R,
                          gt_lr_warmup_epochs=1)
        out[R] = train_ensemble(ARCH, cfg, members, {"x": x, "z": z}, noise_var=NOISE,
                                surrogates=surrogate, progress=False, device="cpu").history
    assert np.all(out[3]["gt_fit_loss"] <= out[1]["gt_fit_loss"] + 1e-4)
    assert set(out[3]["gt_encoder_choice"].tolist()) <= {0.0, 1.0, 2.0}
    assert out[1]["gt_encoder_choice"].tolist() == [0.0, 0.0]
    for h in out.values():
        assert np.all(np.isfinite(h["gt_start_loss"]))
        # with the warm-up, the first epoch of joint training stays near the start
        assert np.all(h["train_loss"][0] < 1.5 * np.abs(h["gt_start_loss"]) + 0.5)


def test_batch_stream_is_per_member_and_covers_epoch():
    s3 = BatchStream(10, 5, seeds=[1, 2, 3])
    s1 = BatchStream(10, 5, seeds=[2])
    a = torch.cat([s3.next() for _ in range(2)], 1)
    b = torch.cat([s1.next() for _ in range(2)], 1)
    assert torch.equal(a[1], b[0])                       # member 1 of 3 == member alone
    assert sorted(a[0].tolist()) == list(range(10))      # one epoch = a permutation
    s3.next(active=torch.tensor([True, False, True]))
    assert s3.pos == [5, 10, 5]
    with pytest.raises(ValueError):
        BatchStream(3, 5, seeds=[0])


# --------------------------------------------------------------------------------------
# objectives
# --------------------------------------------------------------------------------------
def test_hand_written_densities_match_torch_distributions():
    from torch.distributions import Normal, kl_divergence
    torch.manual_seed(1)
    vae = VAE(ARCH, 2, seeds=[1, 2], noise_var=torch.tensor([[0.01, 0.02], [0.03, 0.04]]))
    x = torch.randn(2, 6, 2)
    mu, lv = vae.encode(x)
    f = vae.decode(mu)
    ref_ll = Normal(f, vae.noise_var.sqrt().unsqueeze(1)).log_prob(x).sum(-1)
    assert torch.allclose(vae.log_lik(x, f), ref_ll, atol=1e-4)
    ref_kl = kl_divergence(Normal(mu, (0.5 * lv).exp()), Normal(0.0, 1.0)).sum(-1)
    assert torch.allclose(kl_std_normal(mu, lv), ref_kl, atol=1e-5)
    eps = torch.randn(2, 4, 6, 1)
    lw = iwae_log_weights(vae, x, eps)
    z = mu.unsqueeze(1) + (0.5 * lv).exp().unsqueeze(1) * eps
    ref_lw = (Normal(vae.decode(z), vae.noise_var.sqrt()[:, None, None]).log_prob(x.unsqueeze(1)).sum(-1)
              + Normal(0.0, 1.0).log_prob(z).sum(-1)
              - Normal(mu.unsqueeze(1), (0.5 * lv).exp().unsqueeze(1)).log_prob(z).sum(-1))
    assert torch.allclose(lw, ref_lw, atol=1e-3)
    # -(IWAE bound) with S = 1 is the -ELBO with a Monte-Carlo KL: same draws, equal means
    eps = torch.randn(2, 4000, 6, 1)
    lw1 = iwae_log_weights(vae, x, eps)                                    # [2, 4000, 6]
    ne = neg_elbo_terms(vae, x.repeat(1, 4000, 1), eps.reshape(2, -1, 1))["neg_elbo"]
    assert torch.allclose(-lw1.mean(1), ne.view(2, 4000, 6).mean(1), atol=0.05)
    assert torch.allclose(-iwae_bound(lw1[:, :1]), -lw1[:, 0])
    with pytest.raises(ValueError):
        make_objective("no-such-method")     # ("flow" is a method now: the ELBO, flow encoder)
    with pytest.raises(ValueError):
        NegIWAE(0)


def test_member_rng_independent_of_ensemble_and_active_mask():
    r3 = MemberRNG([5, 6, 7], pool=8)
    r1 = MemberRNG([6], pool=8)
    a = torch.cat([r3.normal(3, 2)[1] for _ in range(4)])
    b = torch.cat([r1.normal(3, 2)[0] for _ in range(4)])
    assert torch.equal(a, b)
    r3.active = torch.tensor([True, False, True])
    out = r3.normal(5)
    assert torch.equal(out[1], torch.zeros(5)) and r3.pos[1] == r1.pos[0]


# --------------------------------------------------------------------------------------
# ground-truth initialisation, LIN, IWAE
# --------------------------------------------------------------------------------------
def test_gt_init_decoder_is_the_surrogate_and_encoder_is_fit_with_it_frozen():
    x, z = circle(1000, 0)
    surrogate = EnsembleMLP(1, 1, 2, seeds=[99])
    # 0 main epochs: the result is the ground-truth initialisation itself
    cfg = TrainConfig(epochs=0, gt_warm_epochs=3, gt_fit_epochs=3)
    res = train_ensemble(ARCH, cfg, [Member(seed=1, init="gt"), Member(seed=2)], {"x": x, "z": z},
                         noise_var=NOISE, surrogates=[surrogate, None], progress=False, device="cpu")
    vae = res.model
    sur_state = surrogate.member_state(0)
    dec0 = vae.decoder.member_state(0)
    assert all(torch.equal(dec0[k], sur_state[k]) for k in sur_state)          # decoder == surrogate
    fresh = VAE(ARCH, 2, seeds=[1, 2], noise_var=NOISE)
    assert _state_diff(vae, 1, fresh, 1) == 0.0                                  # random member untouched
    enc_fresh = fresh.encoder.member_state(0)
    assert any(not torch.equal(vae.encoder.member_state(0)[k], enc_fresh[k]) for k in enc_fresh)
    assert np.isfinite(res.history["gt_fit_loss"][0]) and np.isnan(res.history["gt_fit_loss"][1])
    # the encoder fit improved the ELBO of the (frozen) ground-truth decoder
    fresh.decoder.load_member(0, sur_state)
    assert ev.neg_elbo(vae.subset([0]), x)[0] < ev.neg_elbo(fresh.subset([0]), x)[0] - 1.0
    with pytest.raises(ValueError):   # a GT member without a surrogate
        train_ensemble(ARCH, cfg, [Member(seed=1, init="gt")], {"x": x, "z": z}, noise_var=NOISE,
                       progress=False, device="cpu")


def test_gt_init_regresses_the_decoder_onto_a_surrogate_of_another_architecture():
    """App. D: the decoder is initialised at the ground truth "using full supervision";
    when the surrogate's architecture differs (e.g. the linear Eq. 6 map), it is regressed."""
    x, z = circle(1000, 0)
    surrogate = EnsembleMLP(1, 1, 2, hidden=(), seeds=[5])          # a linear map
    cfg = TrainConfig(epochs=0, gt_warm_epochs=0, gt_fit_epochs=0, gt_decoder_epochs=15)
    res = train_ensemble(ARCH, cfg, [Member(seed=1, init="gt")], {"x": x, "z": z}, noise_var=NOISE,
                         surrogates=surrogate, progress=False, device="cpu")
    zz = torch.linspace(-2, 2, 50)[None, :, None]
    with torch.no_grad():
        target = surrogate(zz)
        err = float(((res.model.decode(zz) - target) ** 2).mean())
        scale = float((target ** 2).mean())
    assert res.history["gt_decoder_mse"][0] < 1e-2 * scale and err < 2e-2 * scale


@pytest.mark.parametrize("method", ["lin", "iwae"])
def test_lin_and_iwae_run_and_improve_their_objective(method):
    x, _ = circle(1000, 0)
    xv, _ = circle(300, 1)
    cfg = TrainConfig(method=method, iwae_samples=10, epochs=6)
    members = [Member(seed=s, lin_T=0.05, lin_R=5) for s in (1, 2)]
    untrained = VAE(ARCH, 2, seeds=[1, 2], noise_var=NOISE)
    res = train_ensemble(ARCH, cfg, members, {"x": x}, {"x": xv}, noise_var=NOISE,
                         progress=False, device="cpu")
    obj = make_objective(method, 10)
    before = ev.objective_value(untrained, obj, xv)
    after = ev.objective_value(res.model, obj, xv)
    assert (after < before - 5).all(), (before, after)
    tl = res.history["train_loss"]
    assert (tl[-1] < tl[0]).all()
    if method == "lin":
        assert res.history["aggressive"][0].all()               # starts aggressive
        assert (res.history["inner_steps"][0] > 0).all()
        assert np.isfinite(res.history["val_mi"][0]).all()
    with pytest.raises(ValueError):
        train_ensemble(ARCH, TrainConfig(method="lin"), members, {"x": x}, None, progress=False)


# --------------------------------------------------------------------------------------
# p(x) is recovered on Circle (App. E.2), and the check can fail
# --------------------------------------------------------------------------------------
def test_vae_recovers_circle_px_and_a_broken_model_fails():
    x, _ = circle(2000, 0)
    xv, _ = circle(1000, 1)
    xt, _ = circle(1000, 2)
    res = train_ensemble(ARCH, TrainConfig(epochs=40), [Member(seed=s) for s in (1, 2)], {"x": x},
                         {"x": xv}, noise_var=NOISE, progress=False, device="cpu")
    vae = res.model
    best = int(np.argmin(ev.neg_elbo(vae, xv)))
    good = vae.subset([best])
    knn_good = ev.knn_statistic(good, xt)[0]
    untrained = ev.knn_statistic(VAE(ARCH, 1, seeds=[3], noise_var=NOISE), xt)[0]
    broken = good.subset([0])
    with torch.no_grad():                       # decoder output scaled by 0.5
        for p in broken.decoder.layers[-1].parameters():
            p.mul_(0.5)
    knn_broken = ev.knn_statistic(broken, xt)[0]
    assert knn_good < 10.0, knn_good
    assert knn_broken > 40.0 and untrained > 40.0, (knn_broken, untrained)
    # the learned f traces the unit circle: radius ~1 over the bulk of the prior
    f = ev.f_on_grid(good, np.linspace(-2, 2, 41))[0]
    assert np.abs(np.linalg.norm(f, axis=1) - 1).max() < 0.15


# --------------------------------------------------------------------------------------
# evaluate.py
# --------------------------------------------------------------------------------------
def test_log_px_estimates_agree_and_bound_order(tmp_path):
    x, _ = circle(1000, 0)
    xt, _ = circle(200, 3)
    res = train_ensemble(ARCH, TrainConfig(epochs=8), [Member(seed=1), Member(seed=2)], {"x": x},
                         noise_var=NOISE, progress=False, device="cpu")
    vae = res.model
    quad = ev.log_px_grid(vae, xt)                   # quadrature (K = 1)
    is_ = ev.log_px_importance(vae, xt, n_samples=2000)
    nelbo = ev.neg_elbo(vae, xt, n_samples=20, per_example=True)
    assert quad.shape == is_.shape == (2, 200)
    # importance sampling with q approaches the exact log p(x) from below, above the ELBO
    assert abs((quad - is_).mean()) < 0.1
    assert (-nelbo.mean(1) < is_.mean(1)).all()
    post = ev.posterior_grid(vae, xt[:5])
    assert post.shape[:2] == (2, 5)
    # Eq. 9 and samples have the documented shapes
    assert ev.noise_eq9(vae, xt).shape == (2, 2)
    assert ev.sample_px(vae, 7).shape == (2, 7, 2)
    # save / load one member, rebuild a single VAE with identical outputs
    path = tmp_path / "m1.npz"
    ev.save_member(path, vae, 1, meta={"note": "x"})
    single, meta = ev.load_member(path)
    assert meta == {"note": "x"} and single.n_models == 1
    assert np.allclose(ev.f_on_grid(single, np.linspace(-1, 1, 5)), ev.f_on_grid(vae, np.linspace(-1, 1, 5))[1:2])
    assert np.allclose(ev.neg_elbo(single, xt), ev.neg_elbo(vae, xt)[1])   # same seed -> same noise


def test_learned_noise_moves_and_bad_inputs_raise(monkeypatch):
    x, _ = circle(500, 0)
    arch = VAEConfig(data_dim=2, latent_dim=1, learn_noise=True)
    res = train_ensemble(arch, TrainConfig(epochs=3), [Member(seed=1)], {"x": x}, noise_var=2.0,
                         progress=False, device="cpu")
    nv = res.model.noise_var.detach()
    # learned per dimension: from 2.0 down towards the Eq. 9 value (residuals are < 1 here)
    assert nv.shape == (1, 2) and (nv < 1.98).all()
    assert (torch.as_tensor(ev.noise_eq9(res.model, x)) < nv).all()
    with pytest.raises(ValueError):
        TrainConfig(method="flows")
    with pytest.raises(ValueError):
        Member(seed=0, init="truth")
    with pytest.raises(ValueError):
        VAEConfig(data_dim=0, latent_dim=1)
    with pytest.raises(ValueError):
        train_ensemble(ARCH, TrainConfig(epochs=1), [Member(seed=1)], {"x": np.zeros((10, 3), np.float32)},
                       progress=False)
    with pytest.raises(ValueError):
        VAE(ARCH, 2, noise_var=[1.0, 2.0, 3.0])
    monkeypatch.setenv("VAEFAIL_QUIET", "1")
    assert not progress_enabled(None)
    monkeypatch.setenv("VAEFAIL_QUIET", "0")
    assert progress_enabled(None) and not progress_enabled(False)


# --------------------------------------------------------------------------------------
# the fast paths of the streams, and the ensemble size chosen by throughput
# --------------------------------------------------------------------------------------
def test_stacked_streams_serve_what_per_member_streams_serve():
    """While every member steps, BatchStream and MemberRNG serve all members from one
    stacked tensor; the numbers must be those of one stream per member, also across
    refills and after a mask has put the members out of step."""
    seeds = [3, 4, 5]
    s3, singles = BatchStream(20, 5, seeds), [BatchStream(20, 5, [s]) for s in seeds]
    r3, rsingles = MemberRNG(seeds, pool=7), [MemberRNG([s], pool=7) for s in seeds]
    masks = [None] * 6 + [torch.tensor([True, False, True])] * 3 + [None] * 5
    for mask in masks:
        r3.active = mask
        idx, eps = s3.next(mask), r3.normal(2, 3)
        for m in range(3):
            if mask is None or mask[m]:
                assert torch.equal(idx[m], singles[m].next()[0])
                assert torch.equal(eps[m], rsingles[m].normal(2, 3)[0])
            else:
                assert torch.equal(eps[m], torch.zeros(2, 3))
        assert s3.pos == [s.pos[0] for s in singles] and r3.pos == [r.pos[0] for r in rsingles]


def test_fastest_size_and_the_auto_cap(monkeypatch):
    from vaefail_core import sweep, train as tr
    assert tr.fastest_size({10: 2.0, 30: 1.0, 60: 1.0, 5: 3.0}) == 30      # tie: the smaller
    with pytest.raises(ValueError):
        tr.fastest_size({})
    rates = tr.size_rates(candidates=(1, 3), steps=2, repeats=1)
    assert sorted(rates) == [1, 3] and all(v > 0 for v in rates.values())
    calls = []

    def fake_rates(*args, **kw):
        calls.append(args)
        return {10: 1.0, 20: 0.5, 30: 0.7}

    monkeypatch.setattr(tr, "size_rates", fake_rates)
    monkeypatch.setattr(tr, "_SIZE_MEMO", {})
    assert tr.cpu_ensemble_size(2, 1) == 20 and tr.cpu_ensemble_size(2, 1) == 20
    assert len(calls) == 1                                          # measured once per architecture
    from pathlib import Path
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent))   # the loader of test_sweep
    ts = sweep.grid_tasks(["circle_test"], "paper", methods=("lin",), versions=(0, 1))
    auto = sweep.plan_groups(ts, loader="test_sweep", max_models="auto")
    fixed = sweep.plan_groups(ts, loader="test_sweep")
    per = lambda gs: [sum(len(t.restart_ids()) for t in g) for g in gs]     # noqa: E731
    assert max(per(auto)) == 20 and max(per(fixed)) == 40                  # the chosen 20, the profile's 40
    assert sum(len(g) for g in auto) == len(ts)


def test_fused_adam_option_matches_torch_adam_masks_and_warmup():
    """The opt-in fused update: Adam's arithmetic (vs torch.optim.Adam), masked members
    untouched, a warmup-0 member bit for bit the plain fused optimiser."""
    torch.manual_seed(0)
    w0, x, target = torch.randn(3, 5, 3), torch.randn(3, 7, 5), torch.randn(3, 7, 3)
    loss = lambda p: ((x @ p - target) ** 2).mean((1, 2)).sum()   # noqa: E731
    p_f, p_ref, p_w = (torch.nn.Parameter(w0.clone()) for _ in range(3))
    fused = EnsembleAdam({"g": [p_f]}, n_models=3, lr=1e-2, fused=True)
    warm = EnsembleAdam({"g": [p_w]}, n_models=3, lr=1e-2, warmup=[4, 0, 0], fused=True)
    ref = torch.optim.Adam([p_ref], lr=1e-2)
    for _ in range(10):
        fused.step(loss(p_f))
        warm.step(loss(p_w))
        ref.zero_grad()
        loss(p_ref).backward()
        ref.step()
    assert torch.allclose(p_f, p_ref, atol=1e-6)
    assert torch.equal(p_w[1:], p_f[1:]) and not torch.equal(p_w[0], p_f[0])
    before, m_before = p_f.detach().clone(), fused.m.clone()
    fused.step(loss(p_f), masks={"g": torch.tensor([False, True, False])})
    assert torch.equal(p_f[0], before[0]) and torch.equal(p_f[2], before[2])
    assert not torch.equal(p_f[1], before[1]) and torch.equal(fused.m[0], m_before[0])
    assert fused.groups["g"].t.view(-1).tolist() == [10.0, 11.0, 10.0]
