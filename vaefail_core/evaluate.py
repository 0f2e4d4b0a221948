"""Evaluating trained (ensembles of) VAEs: bounds, log p(x), samples, f on a grid, grid
posteriors, the smooth kNN statistic against held-out data, the Eq. 9 noise estimate,
and saving / loading single members.

Every function takes an ensemble ``VAE`` (M members; a single model is M = 1) and data x
as [M, N, D] (one data version per member) or [N, D] (shared), and returns per-member
results with a leading M axis (numpy). Random numbers come from per-member generators
seeded from the member's seed and a tag, so results do not depend on the ensemble's
composition (a member evaluated alone gives the same numbers).
"""
from __future__ import annotations

import copy
import io
import json
import math
import os
from typing import Sequence

import numpy as np
import torch

from . import metrics
from . import posterior as P
from .cache import atomic_write_bytes
from .objectives import (
    VAE, MemberRNG, Objective, VAEConfig, derive_seed, is_flow, iwae_bound, iwae_log_weights, model_class,
    neg_elbo_terms,
)

__all__ = [
    "as_members", "objective_value", "neg_elbo", "iwae_value", "log_px_importance",
    "sample_px", "f_on_grid", "posterior_grid", "log_px_grid", "knn_statistic", "noise_eq9",
    "q_mutual_info", "encode_mean", "member_arrays", "vae_from_arrays", "save_member", "load_member",
    "select_restart", "RESTART_RULE",
]


#: App. D's restart rule, as ``select_restart`` applies it
RESTART_RULE = "the lowest value of the method's own training objective on the validation data"


def select_restart(val_obj, idx: Sequence[int]) -> int:
    """Of the members ``idx`` (one task's restarts), the one with ``RESTART_RULE``
    (``val_obj`` [M], ties: the first)."""
    idx = list(idx)
    return idx[int(np.argmin(np.asarray(val_obj)[idx]))]


def as_members(x, n_models: int, device) -> torch.Tensor:
    """[N, D] (shared) or [M, N, D] -> tensor [M, N, D] on device, in torch's default
    float dtype (float32 unless changed)."""
    t = torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x).to(device, torch.get_default_dtype())
    if t.dim() == 1:
        t = t[:, None]
    if t.dim() == 2:
        return t.unsqueeze(0).expand(n_models, *t.shape)
    if t.dim() != 3 or t.shape[0] != n_models:
        raise ValueError(f"x must be [N, D] or [M={n_models}, N, D], got {list(t.shape)}")
    return t


def _rng(model: VAE, tag: str) -> MemberRNG:
    return MemberRNG([derive_seed(s, "eval/" + tag) for s in model.seeds], model.device)


def _chunks(n: int, size: int):
    for a in range(0, n, size):
        yield a, min(n, a + size)


@torch.no_grad()
def objective_value(model: VAE, objective: Objective, x, tag: str = "objective",
                    repeats: int = 1, batch: int = 1000, y=None) -> np.ndarray:
    """Mean of ``objective`` over x (e.g. the validation objective used to select the
    restart, Sec. 4), averaged over ``repeats`` noise draws. [M]."""
    M = model.n_models
    x = as_members(x, M, model.device)
    y = None if y is None else as_members(y, M, model.device)
    rng = _rng(model, tag)
    tot = torch.zeros(M, device=model.device)
    for _ in range(repeats):
        for a, b in _chunks(x.shape[1], batch):
            bt = {"x": x[:, a:b]}
            if y is not None:
                bt["y"] = y[:, a:b]
            loss, _ = objective.loss(model, bt, rng)
            tot += loss * (b - a)
    return (tot / (repeats * x.shape[1])).cpu().numpy()


@torch.no_grad()
def neg_elbo(model: VAE, x, n_samples: int = 10, tag: str = "neg_elbo", batch: int = 1000,
             y=None, per_example: bool = False) -> np.ndarray:
    """-ELBO (Eq. 2), its expectation over q estimated with ``n_samples`` reparameterised
    samples per x. Mean over x [M] (or [M, N] with ``per_example``)."""
    M, K = model.n_models, model.cfg.latent_dim
    x = as_members(x, M, model.device)
    y = None if y is None else as_members(y, M, model.device)
    rng = _rng(model, tag)
    out = []
    for a, b in _chunks(x.shape[1], batch):
        acc = 0.0
        for _ in range(n_samples):
            t = neg_elbo_terms(model, x[:, a:b], rng.normal(b - a, K), None if y is None else y[:, a:b])
            acc = acc + t["neg_elbo"]
        out.append(acc / n_samples)
    v = torch.cat(out, 1)
    return (v if per_example else v.mean(1)).cpu().numpy()


@torch.no_grad()
def iwae_value(model: VAE, x, n_samples: int, tag: str = "iwae", batch: int | None = None,
               y=None, per_example: bool = False) -> np.ndarray:
    """-(IWAE bound) with S = ``n_samples`` (Burda et al. 2016): mean over x [M] (or [M, N])."""
    M, K = model.n_models, model.cfg.latent_dim
    x = as_members(x, M, model.device)
    y = None if y is None else as_members(y, M, model.device)
    batch = batch or max(1, 200_000 // max(1, n_samples * M))
    rng = _rng(model, tag)
    out = []
    for a, b in _chunks(x.shape[1], batch):
        lw = iwae_log_weights(model, x[:, a:b], rng.normal(n_samples, b - a, K),
                              None if y is None else y[:, a:b])
        out.append(-iwae_bound(lw))
    v = torch.cat(out, 1)
    return (v if per_example else v.mean(1)).cpu().numpy()


def log_px_importance(model: VAE, x, n_samples: int = 1000, tag: str = "log_px", y=None) -> np.ndarray:
    """Importance-sampled log p_theta(x) with q(z | x) as the proposal (the IWAE bound with
    many samples; it converges to log p(x) from below). Per example, [M, N]."""
    return -iwae_value(model, x, n_samples, tag=tag, y=y, per_example=True)


@torch.no_grad()
def sample_px(model: VAE, n: int, tag: str = "sample", y=None, noise: bool = True) -> np.ndarray:
    """n samples from the learned p_theta(x) (Eq. 1): z ~ N(0, I), x = f(z) + eps. [M, n, D].
    For an M2 model pass y ([n, L] or [M, n, L]) to sample p_theta(x | y)."""
    M, K = model.n_models, model.cfg.latent_dim
    rng = _rng(model, tag)
    z = rng.normal(n, K)
    yy = None if y is None else as_members(y, M, model.device)
    f = model.decode(z, yy)
    if noise:
        f = f + model.noise_var.sqrt().unsqueeze(1) * rng.normal(n, model.cfg.data_dim)
    return f.cpu().numpy()


@torch.no_grad()
def float64_copy(model: VAE) -> VAE:
    """A copy of ``model`` with its weights cast (exactly) to float64.

    Deterministic evaluations of a learned model (its f on a grid, its encoder means)
    run on this copy and round the result once to float32: a float32 forward pass
    rounds differently under different ATen CPU kernels, and a changed last bit can
    move a nearest neighbour, an argmax or a threshold downstream, so the book's
    numbers would depend on the CPU that printed them."""
    return copy.deepcopy(model).double()


def f_on_grid(model: VAE, z, y=None) -> np.ndarray:
    """The learned f_theta at given latents z ([G] or [G, K], shared): float32 [M, G, D]
    (computed in float64, see ``float64_copy``)."""
    M = model.n_models
    m64 = float64_copy(model)
    zt = as_members(z, M, model.device).double()
    if zt.shape[-1] != model.cfg.latent_dim:
        raise ValueError(f"z must have K={model.cfg.latent_dim} columns, got {zt.shape[-1]}")
    yt = None if y is None else as_members(y, M, model.device).double()
    with torch.no_grad():
        return m64.decode(zt, yt).cpu().numpy().astype(np.float32)


def posterior_grid(model: VAE, x, z=None) -> np.ndarray:
    """Exact posteriors p_theta(z | x) of each member's generative model on a z-grid
    (K = 1 only; ``posterior.grid_posterior``): [M, N, G]."""
    z, F, X = _grid_inputs(model, x, z)
    nv = model.noise_var.detach().cpu().double()
    return np.stack([P.grid_posterior(F[m], X[m], nv[m], z=z).numpy() for m in range(model.n_models)])


def log_px_grid(model: VAE, x, z=None) -> np.ndarray:
    """log p_theta(x) by quadrature on a z-grid (K = 1 only; ``posterior.log_px_grid``): [M, N]."""
    z, F, X = _grid_inputs(model, x, z)
    nv = model.noise_var.detach().cpu().double()
    return np.stack([P.log_px_grid(F[m], X[m], nv[m], z=z).numpy() for m in range(model.n_models)])


def _grid_inputs(model: VAE, x, z):
    if model.cfg.latent_dim != 1 or model.cfg.label_dim:
        raise ValueError("grid posteriors need a 1-D latent and no labels")
    z = P.z_grid() if z is None else torch.as_tensor(np.asarray(z), dtype=torch.float64)
    F = torch.as_tensor(f_on_grid(model, z[:, None].float()), dtype=torch.float64)
    X = as_members(x, model.n_models, "cpu").double()
    return z, F, X


def knn_statistic(model: VAE, x_ref, n_samples: int | None = None, tag: str = "knn",
                  members: Sequence[int] | None = None, y=None, **knn_kwargs) -> np.ndarray:
    """Smooth kNN z-score (``metrics.smooth_knn_statistic``; App. D) of samples from each
    member's learned p_theta(x) against held-out data x_ref ([N, D] or [M, N, D]); as many
    samples as reference points unless ``n_samples``. Lower is better. [M] (NaN for
    members not in ``members``). The samples are drawn on the model's device; the
    statistic itself runs on the CPU in float64 whatever that device is (given the
    samples, its value does not depend on the device)."""
    knn_kwargs.setdefault("max_n", metrics.KNN_MAX_N)     # the tables' sample size per side
    M = model.n_models
    X = as_members(x_ref, M, "cpu").numpy()
    n = n_samples or X.shape[1]
    samples = sample_px(model, n, tag=tag, y=y)
    out = np.full(M, np.nan)
    for m in (range(M) if members is None else members):
        out[m] = metrics.smooth_knn_statistic(X[m], samples[m], seed=derive_seed(model.seeds[m], "knn"),
                                              **knn_kwargs)
    return out


@torch.no_grad()
def noise_eq9(model: VAE, x, n_samples: int = 10, tag: str = "eq9", batch: int = 1000) -> np.ndarray:
    """Eq. 9: the sigma^2 per data dimension that minimises the negative ELBO for the
    member's fixed encoder and decoder (``metrics.noise_variance_eq9``), [M, D]."""
    M, K = model.n_models, model.cfg.latent_dim
    X = as_members(x, M, model.device)
    rng = _rng(model, tag)
    fs = []
    for a, b in _chunks(X.shape[1], batch):
        if is_flow(model):       # q(z | x) through the flow (``objectives.FlowVAE``)
            fs.append(model.decode(model.q_sample(X[:, a:b], rng.normal(n_samples, b - a, K))[0]))
            continue
        mu, lv = model.encode(X[:, a:b])
        z = mu.unsqueeze(1) + torch.exp(0.5 * lv).unsqueeze(1) * rng.normal(n_samples, b - a, K)
        fs.append(model.decode(z))
    f = torch.cat(fs, 2)   # [M, S, N, D]
    # on the model's device (a GPU copies only the [D] result back, not f)
    return np.stack([metrics.noise_variance_eq9(X[m], f[m]).cpu().numpy() for m in range(M)])


@torch.no_grad()
def q_mutual_info(model: VAE, x, rng: MemberRNG, batch: int = 100) -> torch.Tensor:
    """I_q(x; z) = E[log q(z | x)] - E[log q(z)] under the encoder, with the aggregate
    q(z) estimated within mini-batches of ``batch`` points (He et al. 2019, ``calc_mi``;
    used by LIN to end its aggressive phase). [M] tensor (weighted mean over batches).
    Gaussian encoders only."""
    if is_flow(model):
        raise ValueError("q_mutual_info is for the Gaussian encoder (LIN), not a flow encoder")
    M, K = model.n_models, model.cfg.latent_dim
    X = as_members(x, M, model.device)
    N = X.shape[1]
    tot = torch.zeros(M, device=model.device)
    for a, b in _chunks(N, batch):
        mu, lv = model.encode(X[:, a:b])
        n = b - a
        z = mu + torch.exp(0.5 * lv) * rng.normal(n, K)
        neg_entropy = (-0.5 * K * math.log(2 * math.pi) - 0.5 * (1 + lv).sum(-1)).mean(1)
        dev = z.unsqueeze(2) - mu.unsqueeze(1)                    # [M, n(z_i), n(x_j), K]
        log_dens = (-0.5 * (dev ** 2 / lv.exp().unsqueeze(1)).sum(-1)
                    - 0.5 * (K * math.log(2 * math.pi) + lv.sum(-1)).unsqueeze(1))
        log_qz = torch.logsumexp(log_dens, dim=2) - math.log(n)
        tot += (neg_entropy - log_qz.mean(1)) * n
    return tot / N


@torch.no_grad()
def encode_gaussian(model: VAE, x) -> tuple[np.ndarray, np.ndarray]:
    """The encoder's Gaussian q(z | x): means and variances, float64 [M, N, K] each
    (computed in float64, see ``float64_copy``)."""
    X = as_members(x, model.n_models, model.device).double()
    with torch.no_grad():
        mu, logvar = float64_copy(model).encode(X)
    return mu.cpu().numpy(), logvar.exp().cpu().numpy()


def encode_mean(model: VAE, x) -> np.ndarray:
    """The encoder mean mu_phi(x), float32 [M, N, K] (the latent codes of Sec. 6 /
    Table 1; computed in float64, see ``float64_copy``)."""
    X = as_members(x, model.n_models, model.device).double()
    with torch.no_grad():
        return float64_copy(model).encode(X)[0].cpu().numpy().astype(np.float32)


# --------------------------------------------------------------------------------------
# Saving and loading single members (float32 npz, with the architecture as JSON)
# --------------------------------------------------------------------------------------
def member_arrays(model: VAE, m: int, meta: dict | None = None) -> dict[str, np.ndarray]:
    """Member m as float32 arrays, plus ``__arch__`` / ``__meta__`` (JSON strings)."""
    arr = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in model.member_state(m).items()}
    cfg = model.cfg
    arch = {"data_dim": cfg.data_dim, "latent_dim": cfg.latent_dim, "label_dim": cfg.label_dim,
            "hidden": list(cfg.hidden), "learn_noise": cfg.learn_noise, "seed": model.seeds[m]}
    if cfg.label is not None:
        arch["label"] = cfg.label
    if cfg.flow_layers:          # only then: the files of Gaussian encoders stay as they were
        arch["flow_layers"], arch["flow_bins"] = cfg.flow_layers, cfg.flow_bins
    arr["__arch__"] = np.array(json.dumps(arch))
    arr["__meta__"] = np.array(json.dumps(meta or {}, sort_keys=True))
    return arr


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def vae_from_arrays(arrays, device=None) -> tuple[VAE, dict]:
    """Rebuild a single-model VAE (M = 1; an ``m2.M2VAE`` for a labelled architecture) from
    ``member_arrays`` output (or a loaded npz)."""
    arch = json.loads(str(arrays["__arch__"]))
    meta = json.loads(str(arrays["__meta__"])) if "__meta__" in arrays else {}
    seed = arch.pop("seed", 0)
    arch["hidden"] = tuple(arch["hidden"])
    cfg = VAEConfig(**arch)
    state = {k: torch.as_tensor(np.asarray(arrays[k])) for k in arrays if not k.startswith("__")}
    vae = model_class(cfg).from_members(cfg, [state], seeds=[seed])
    return (vae.to(device) if device is not None else vae), meta


def save_member(path: str | os.PathLike, model: VAE, m: int, meta: dict | None = None) -> bytes:
    """Write member m to ``path`` (npz, atomic). Returns the bytes written."""
    data = npz_bytes(member_arrays(model, m, meta))
    atomic_write_bytes(path, data)
    return data


def load_member(path: str | os.PathLike, device=None) -> tuple[VAE, dict]:
    """Load a member saved by ``save_member`` as a single-model VAE; returns (vae, meta)."""
    with np.load(path, allow_pickle=False) as f:
        return vae_from_arrays({k: f[k] for k in f.files}, device)
