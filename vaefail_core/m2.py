"""The semi-supervised M2 model (Kingma et al. 2014) and its objectives (Sec. 7, App. B).

Model (Eq. 10)::

    z ~ N(0, I_K),   y ~ p(y),   x | z, y ~ N(f_theta(z, y), diag(sigma^2))

with p(y) = Bern(1/2) as a one-hot pair (Discrete Semi-Circle, App. H.1) or N(0, 1)
(Continuous Semi-Circle, App. H.2). The decoder takes ``concat(z, y)`` exactly like the
ground-truth surrogate (``data.GroundTruth.decoder_input``), so ground-truth
initialisation copies the surrogate into it.

Inference networks (all mean-field, all 3 x 50 leaky-ReLU MLPs as in App. D):

* ``encoder``     q(z | x)      used by the unlabelled bound U (Eq. 13 / 15),
* ``encoder_xy``  q(z | x, y)   used by the labelled bound L (Eq. 12 / 14),
* ``classifier``  q(y | x)      the discriminator: logits of a categorical (discrete y;
                                sampled for U as a relaxed one-hot, Gumbel-softmax at
                                temperature 2.2, App. D) or (mean, log var) of a Gaussian
                                (continuous y).

Objective (Eq. 11 plus the discriminator term of Sec. 3), minimised per ensemble member::

    loss = ( sum_unlabelled -U(x)  +  gamma * sum_labelled -L(x, y)
             - alpha * sum_labelled log q(y | x) ) / B

with ``n_samples = 1`` the ELBO forms (Eqs. 12-13: one reparameterised sample, analytic KL
terms for z and for y) and ``n_samples = S > 1`` the IWAE forms (Eqs. 14-15: S joint
samples (y_s, z_s) with importance weights p(x, z_s, y_s) / q(y_s | x) q(z_s | x)).
Discrete y: App. D makes the relaxed one-hot (Concrete, temperature 2.2) the variational
family of y, so the decoder sees relaxed samples y_s and both forms of U need a *density*
of y_s. We use the Concrete density (Maddison et al. 2017) for q(y_s | x) and, for p(y_s),
the relaxation of Bern(1/2) at the same temperature: KL(q(y|x) || p(y)) of Eq. 13 is then a
one-sample estimate, and the ELBO form is exactly the S = 1 case of the IWAE form (so the
two bounds are ordered). KL terms of z, and of y when it is continuous, are analytic.

alpha and gamma are per member (``M2Objective.alpha[m]``), so a whole alpha x gamma grid
trains as one ensemble. Every term is computed for every row of the batch and masked with
``batch["label_mask"]``, so each member draws the same random numbers whatever its label
pattern (needed for member-wise reproducibility, ``train.py``).

Batch keys: ``x`` [M, B, D]; ``y`` [M, B, L] (one-hot / scalar; rows without a label
are zero and never read); ``label_mask`` [M, B] bool; for the ground-truth warm start also
``z`` and ``y_true`` (the hidden labels of every training point, used only there).

Densities are hand-written for speed, like in ``objectives``; the tests check the
Concrete density against ``torch.distributions.RelaxedOneHotCategorical``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from scipy import stats
from sklearn.metrics import balanced_accuracy_score

from . import metrics
from . import posterior as P
from .evaluate import as_members, knn_statistic, sample_px, select_restart
from .objectives import (LABELS, LOG_2PI, M2VAE, VAE, MemberRNG, VAEConfig, derive_seed, kl_std_normal,
                         model_class)

__all__ = [
    "LABELS", "TEMPERATURE", "LABEL_FRACTION", "M2VAE", "M2Objective", "M2Regression",
    "model_class", "concrete_log_prob", "relaxed_sample", "label_mask", "encode_labels",
    "prior_y", "batch_value", "neg_u", "predictive", "bayes_predictive", "collapse_distance", "knn_cohort",
    "knn_px", "cohort_sample", "posterior_unlabelled",
]

#: App. D: temperature of the relaxed one-hot q(y | x) for discrete labels
TEMPERATURE = 2.2
#: App. D gives 10% observed labels for the real data sets and no number for the
#: synthetic ones; we use 10% for both
LABEL_FRACTION = 0.1


# --------------------------------------------------------------------------------------
# Label densities
# --------------------------------------------------------------------------------------
def concrete_log_prob(log_y: torch.Tensor, log_pi: torch.Tensor, temperature: float) -> torch.Tensor:
    """log density of the Concrete / relaxed one-hot distribution (Maddison et al. 2017,
    Jang et al. 2016) at a point y of the simplex given as log y [..., L]; ``log_pi``
    are (possibly unnormalised) log class probabilities. Summed over the last axis -> [...]."""
    L = log_y.shape[-1]
    lam = float(temperature)
    return (math.lgamma(L) + (L - 1) * math.log(lam)
            + (log_pi - (lam + 1) * log_y).sum(-1)
            - L * torch.logsumexp(log_pi - lam * log_y, -1))


def relaxed_sample(log_pi: torch.Tensor, u: torch.Tensor, temperature: float) -> torch.Tensor:
    """Gumbel-softmax sample (log y) from log-probabilities [..., L] with U(0, 1) noise u."""
    g = -torch.log(-torch.log(u))
    return torch.log_softmax((log_pi + g) / temperature, -1)


def prior_y(model: M2VAE, y: torch.Tensor) -> torch.Tensor:
    """log p(y) of observed labels y [M, ..., L] -> [M, ...] (uniform classes or N(0, 1))."""
    if model.discrete:
        return torch.full(y.shape[:-1], -math.log(model.cfg.label_dim), device=y.device)
    return -0.5 * (y * y + LOG_2PI).sum(-1)


def _gauss_log_prob(v, mu, logvar):
    return -0.5 * (((v - mu) ** 2) * torch.exp(-logvar) + logvar + LOG_2PI).sum(-1)


# --------------------------------------------------------------------------------------
# The bounds
# --------------------------------------------------------------------------------------
def neg_l(model: M2VAE, x, y, rng: MemberRNG, n_samples: int = 1) -> torch.Tensor:
    """-L(x, y): Eq. 12 (n_samples = 1) or Eq. 14 (S > 1) per example, [M, B]."""
    K = model.cfg.latent_dim
    mu, lv = model.encode_xy(x, y)
    log_py = prior_y(model, y)
    if n_samples == 1:
        z = mu + torch.exp(0.5 * lv) * rng.normal(x.shape[1], K)
        ll = model.log_lik(x, model.decode(z, y))
        return kl_std_normal(mu, lv) - ll - log_py
    eps = rng.normal(n_samples, x.shape[1], K)
    z = mu.unsqueeze(1) + torch.exp(0.5 * lv).unsqueeze(1) * eps
    ll = model.log_lik(x, model.decode(z, y.unsqueeze(1)))
    log_w = (ll - 0.5 * (z * z + LOG_2PI).sum(-1) + 0.5 * (eps * eps + lv.unsqueeze(1) + LOG_2PI).sum(-1)
             + log_py.unsqueeze(1))
    return -(torch.logsumexp(log_w, 1) - math.log(n_samples))


def neg_u(model: M2VAE, x, rng: MemberRNG, n_samples: int = 1,
          temperature: float = TEMPERATURE) -> torch.Tensor:
    """-U(x): Eq. 13 (n_samples = 1) or Eq. 15 (S > 1) per example, [M, B]."""
    K, L, B = model.cfg.latent_dim, model.cfg.label_dim, x.shape[1]
    mu, lv = model.encode(x)
    a, b = model.classify(x)
    S = n_samples
    eps = rng.normal(S, B, K)
    if model.discrete:
        log_ys = relaxed_sample(a.unsqueeze(1), rng.uniform(S, B, L), temperature)    # [M, S, B, L]
        ys = log_ys.exp()
    else:
        ys = a.unsqueeze(1) + torch.exp(0.5 * b).unsqueeze(1) * rng.normal(S, B, 1)
    z = mu.unsqueeze(1) + torch.exp(0.5 * lv).unsqueeze(1) * eps
    ll = model.log_lik(x, model.decode(z, ys))                                       # [M, S, B]
    if model.discrete:   # Concrete densities of the relaxed sample (module docstring)
        log_qy = concrete_log_prob(log_ys, a.unsqueeze(1), temperature)
        log_py = concrete_log_prob(log_ys, torch.zeros_like(log_ys), temperature)
    else:
        log_qy = _gauss_log_prob(ys, a.unsqueeze(1), b.unsqueeze(1))
        log_py = -0.5 * (ys * ys + LOG_2PI).sum(-1)
    if S == 1:           # analytic KL for z (and for continuous y), one-sample for discrete y
        kl_y = kl_std_normal(a, b) if not model.discrete else (log_qy - log_py)[:, 0]
        return kl_std_normal(mu, lv) + kl_y - ll[:, 0]
    log_pz = -0.5 * (z * z + LOG_2PI).sum(-1)
    log_qz = -0.5 * (eps * eps + lv.unsqueeze(1) + LOG_2PI).sum(-1)
    log_w = ll + log_pz + log_py - log_qz - log_qy
    return -(torch.logsumexp(log_w, 1) - math.log(S))


def log_q_y(model: M2VAE, x, y) -> torch.Tensor:
    """The discriminator's log q(y | x) at observed labels, [M, B]."""
    a, b = model.classify(x)
    if model.discrete:
        return (a * y).sum(-1)
    return _gauss_log_prob(y, a, b)


# --------------------------------------------------------------------------------------
# Objectives (the ``objectives.Objective`` protocol)
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class M2Objective:
    """The M2 training objective (see the module docstring); alpha, gamma per member."""

    alpha: tuple[float, ...]
    gamma: tuple[float, ...]
    n_samples: int = 1
    temperature: float = TEMPERATURE
    name: str = "neg_m2"

    def __post_init__(self):
        object.__setattr__(self, "alpha", tuple(float(a) for a in self.alpha))
        object.__setattr__(self, "gamma", tuple(float(g) for g in self.gamma))
        if len(self.alpha) != len(self.gamma) or not self.alpha:
            raise ValueError("alpha and gamma need one value per member (equal, non-empty lengths)")
        if min(self.alpha) < 0 or min(self.gamma) < 0:
            raise ValueError("alpha and gamma must be >= 0")
        if int(self.n_samples) < 1 or not self.temperature > 0:
            raise ValueError("M2 needs n_samples >= 1 and temperature > 0")

    def subset(self, idx: Sequence[int]) -> "M2Objective":
        idx = list(idx)
        return M2Objective(tuple(self.alpha[i] for i in idx), tuple(self.gamma[i] for i in idx),
                           self.n_samples, self.temperature, self.name)

    def warm_start(self) -> "M2Regression":
        return M2Regression()

    def terms(self, model: M2VAE, batch, rng: MemberRNG) -> dict[str, torch.Tensor]:
        """Per-example -U, -L and log q(y|x) for every row, [M, B] each."""
        x, y = batch["x"], batch["y"]
        return {"neg_u": neg_u(model, x, rng, self.n_samples, self.temperature),
                "neg_l": neg_l(model, x, y, rng, self.n_samples),
                "log_q_y": log_q_y(model, x, y)}

    def loss(self, model: M2VAE, batch, rng: MemberRNG):
        M = model.n_models
        if len(self.alpha) != M:
            raise ValueError(f"the objective has {len(self.alpha)} members, the model {M}")
        t = self.terms(model, batch, rng)
        lab = batch["label_mask"].to(t["neg_u"].dtype)
        alpha = torch.tensor(self.alpha, device=lab.device)[:, None]
        gamma = torch.tensor(self.gamma, device=lab.device)[:, None]
        per = (1 - lab) * t["neg_u"] + lab * (gamma * t["neg_l"] - alpha * t["log_q_y"])
        loss = per.mean(1)
        n_lab = lab.sum(1).clamp(min=1)
        stats = {"neg_m2": loss.detach(),
                 "neg_u": (((1 - lab) * t["neg_u"]).sum(1) / (1 - lab).sum(1).clamp(min=1)).detach(),
                 "neg_l": ((lab * t["neg_l"]).sum(1) / n_lab).detach(),
                 "log_q_y": ((lab * t["log_q_y"]).sum(1) / n_lab).detach()}
        return loss, stats


@dataclass(frozen=True)
class M2Regression:
    """Supervised warm start of the three inference networks at the ground truth (our
    addition, as ``objectives.GaussianRegression``): -log q(z | x) - log q(z | x, y)
    - log q(y | x) at the true z and the (hidden) true y of every training point."""

    name: str = "neg_log_q_truth"

    def loss(self, model: M2VAE, batch, rng):
        x, z, y = batch["x"], batch["z"], batch["y_true"]
        mu, lv = model.encode(x)
        mu2, lv2 = model.encode_xy(x, y)
        nll = -_gauss_log_prob(z, mu, lv) - _gauss_log_prob(z, mu2, lv2) - log_q_y(model, x, y)
        loss = nll.mean(1)
        return loss, {"neg_log_q": loss.detach()}


# --------------------------------------------------------------------------------------
# Labels of a data set: encoding and the observed-label mask
# --------------------------------------------------------------------------------------
def encode_labels(truth, y) -> np.ndarray:
    """Decoder / encoder columns of labels y (``truth.encode_y``): float32 [N, L]."""
    return np.asarray(truth.encode_y(y), dtype=np.float32).reshape(len(y), -1)


def label_mask(n: int, fraction: float, seed: int) -> np.ndarray:
    """Which of n points have an observed label: exactly round(fraction * n) of them,
    chosen by a seeded permutation. bool [n]."""
    if not 0 < fraction <= 1:
        raise ValueError(f"the labelled fraction must be in (0, 1], got {fraction}")
    k = max(1, int(round(fraction * n)))
    mask = np.zeros(n, dtype=bool)
    mask[np.random.default_rng(seed).permutation(n)[:k]] = True
    return mask


# --------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------
def _rng(model, tag):
    return MemberRNG([derive_seed(s, "eval/" + tag) for s in model.seeds], model.device)


def _mask_members(mask, M, device) -> torch.Tensor:
    """An observed-label mask, [N] (shared) or [M, N], as a bool tensor [M, N]."""
    t = torch.as_tensor(np.asarray(mask)).to(device, torch.bool)
    return t[None].expand(M, -1) if t.dim() == 1 else t


@torch.no_grad()
def batch_value(model: M2VAE, objective: M2Objective, x, y, mask, tag: str = "objective",
                repeats: int = 1, chunk: int = 1000) -> np.ndarray:
    """Mean of the M2 objective over a labelled / unlabelled data set (e.g. the validation
    objective used to select the restart, App. D), averaged over ``repeats`` noise draws. [M]."""
    M = model.n_models
    X = as_members(x, M, model.device)
    Y = as_members(y, M, model.device)
    K = _mask_members(mask, M, model.device)
    rng = _rng(model, tag)
    tot = torch.zeros(M, device=model.device)
    n = X.shape[1]
    for _ in range(repeats):
        for a in range(0, n, chunk):
            b = min(n, a + chunk)
            loss, _ = objective.loss(model, {"x": X[:, a:b], "y": Y[:, a:b], "label_mask": K[:, a:b]}, rng)
            tot += loss * (b - a)
    return (tot / (repeats * n)).cpu().numpy()


@torch.no_grad()
def neg_u_value(model: M2VAE, x, n_samples: int = 1, repeats: int = 1, tag: str = "neg_u",
                chunk: int | None = None) -> np.ndarray:
    """-U averaged over x (the bound on -log p_theta(x) of unlabelled data; Eq. 13 for
    n_samples = 1, averaged over ``repeats`` draws; Eq. 15 for S > 1). [M]."""
    M = model.n_models
    X = as_members(x, M, model.device)
    chunk = chunk or max(1, 200_000 // max(1, n_samples * M))
    rng = _rng(model, tag)
    tot = torch.zeros(M, device=model.device)
    for _ in range(repeats):
        for a in range(0, X.shape[1], chunk):
            b = min(X.shape[1], a + chunk)
            tot += neg_u(model, X[:, a:b], rng, n_samples).sum(1)
    return (tot / (repeats * X.shape[1])).cpu().numpy()


@torch.no_grad()
def predictive(model: M2VAE, x, y_true) -> np.ndarray:
    """How predictive the discriminator q(y | x) is on (x, y_true): accuracy of its most
    probable class (discrete), or the RMSE of its mean (continuous). [M]."""
    M = model.n_models
    X = as_members(x, M, model.device)
    a, _ = model.classify(X)
    yt = torch.as_tensor(np.asarray(y_true)).to(model.device)
    if model.discrete:
        return (a.argmax(-1) == yt.long()[None]).double().mean(1).cpu().numpy()
    return ((a[..., 0] - yt.float()[None]) ** 2).mean(1).sqrt().cpu().numpy()


def _z_quantiles(n: int) -> np.ndarray:
    return stats.norm.ppf((np.arange(n) + 0.5) / n)


def _z_points(n: int, K: int) -> np.ndarray:
    """Fixed points that cover N(0, I_K): the n prior quantiles for K = 1; for K > 1 a
    scrambled Sobol sequence (``scipy.stats.qmc``, seed 0; n rounded up to a power of 2)
    pushed through the normal quantile function. [n, K]."""
    if K == 1:
        return _z_quantiles(n)[:, None]
    u = stats.qmc.Sobol(d=K, scramble=True, seed=0).random_base2(int(math.ceil(math.log2(n))))
    return stats.norm.ppf(np.clip(u, 1e-6, 1 - 1e-6))


@torch.no_grad()
def collapse_distance(model: M2VAE, values: Sequence[float], n_z: int = 400) -> np.ndarray:
    """Functional collapse, measured on f itself: E_z ||f(z, y_a) - f(z, y_b)|| for the two
    cohort labels ``values`` (z at n_z fixed points of the prior, ``_z_points``). [M].
    Compare with ``collapse_distance_truth`` (0 = collapsed to one function)."""
    M = model.n_models
    zq = torch.as_tensor(_z_points(n_z, model.cfg.latent_dim), dtype=torch.float32, device=model.device)[None]
    zq = zq.expand(M, -1, -1)
    n_z = zq.shape[1]
    fa, fb = (model.decode(zq, as_members(encode_labels_model(model, np.full(n_z, v)), M, model.device))
              for v in values)
    return (fa - fb).norm(dim=-1).mean(1).cpu().numpy()


def collapse_distance_truth(truth, values: Sequence[float], n_z: int = 400) -> float:
    """The ground truth's E_z ||f(z, y_a) - f(z, y_b)|| (same quadrature)."""
    zq = _z_quantiles(n_z)[:, None]
    fa, fb = (truth.f(zq, np.full(n_z, v)) for v in values)
    return float(np.linalg.norm(fa - fb, axis=1).mean())


def bayes_predictive(truth, x, y_true, n_y: int = 48, chunk: int = 500) -> float:
    """The best a discriminator can do: accuracy of the Bayes classifier argmax p(y | x)
    (discrete y), or the RMSE of the posterior mean E[y | x] (continuous y; midpoint rule
    in Phi(y) with ``n_y`` nodes), under the ground truth, by quadrature over z
    (``posterior.log_px_grid``). The reference for ``predictive``."""
    zg = P.z_grid(*truth.z_grid_spec)
    x = np.asarray(x, dtype=np.float64)
    if truth.label == "discrete":
        ys, log_w = np.array([0.0, 1.0]), np.log([0.5, 0.5])
    else:
        ys = stats.norm.ppf((np.arange(n_y) + 0.5) / n_y)
        log_w = np.full(n_y, -math.log(n_y))
    G = len(zg)
    logp = np.stack([P.log_px_grid(truth.f(zg.numpy()[:, None], np.full(G, v)), x, truth.noise_var,
                                   z=zg).numpy() + lw for v, lw in zip(ys, log_w)], 1)     # [N, n_y]
    w = np.exp(logp - logp.max(1, keepdims=True))
    w /= w.sum(1, keepdims=True)
    y_true = np.asarray(y_true, dtype=np.float64).reshape(-1)
    if truth.label == "discrete":
        return float(np.mean(ys[w.argmax(1)] == y_true))
    return float(np.sqrt(np.mean((w @ ys - y_true) ** 2)))


def cohort_sample(truth, value: float, n: int, seed: int) -> np.ndarray:
    """n draws from the true p(x | y = value): z ~ N(0, 1), x = f(z, y) + eps. [n, D]."""
    rng = np.random.default_rng(seed)
    z = truth.sample_z(n, rng)
    eps = rng.standard_normal((n, truth.data_dim)) * math.sqrt(truth.noise_var)
    return (truth.f(z, np.full(n, value)).astype(np.float64) + eps).astype(np.float32)


def _prior_labels(model: M2VAE, n: int, tag: str) -> torch.Tensor:
    """Labels drawn from p(y), one stream per member, encoded: [M, n, L]. Discrete y:
    uniform over the L classes (``prior_y``; Bern(1/2) for two, App. H.1)."""
    rng = _rng(model, tag)
    L = model.cfg.label_dim
    if model.discrete:
        if L == 2:
            cls = (rng.uniform(n) < 0.5).long()          # [M, n]; Bern(1/2) (App. H.1)
        else:
            cls = (rng.uniform(n) * L).floor().long().clamp(max=L - 1)
        return torch.nn.functional.one_hot(cls, L).float()
    return rng.normal(n, 1)


def knn_px(model: M2VAE, x_ref, members=None, tag: str = "knn") -> np.ndarray:
    """Smooth kNN statistic of samples of the learned p_theta(x) (y ~ p(y), z ~ N(0, I))
    against data x_ref. [M] (NaN outside ``members``)."""
    n = np.asarray(x_ref).shape[-2]
    y = _prior_labels(model, n, tag + "/y")
    return knn_statistic(model, x_ref, tag=tag, members=members, y=y)


def knn_cohort(model: M2VAE, value: float, x_ref, members=None, tag: str = "knn-cohort") -> np.ndarray:
    """Smooth kNN statistic of samples of the learned p_theta(x | y = value) against true
    cohort samples x_ref (Table 4). [M]."""
    n = np.asarray(x_ref).shape[-2]
    y = encode_labels_model(model, np.full(n, value))
    return knn_statistic(model, x_ref, tag=f"{tag}/{value:g}", members=members, y=y)


def cohort_separation(model: M2VAE, values: Sequence[float], n: int, members=None,
                      tag: str = "separation") -> np.ndarray:
    """Functional collapse, measured on the distributions: the smooth kNN statistic
    between the model's own two cohorts p_theta(x | y_a) and p_theta(x | y_b) (near 0 when
    they coincide; compare with the truth's, ``cohort_separation_truth``). [M]."""
    a, b = values
    sa = sample_px(model, n, tag=f"{tag}/a", y=encode_labels_model(model, np.full(n, a)))
    sb = sample_px(model, n, tag=f"{tag}/b", y=encode_labels_model(model, np.full(n, b)))
    out = np.full(model.n_models, np.nan)
    for m in (range(model.n_models) if members is None else members):
        out[m] = metrics.smooth_knn_statistic(sa[m], sb[m], seed=derive_seed(model.seeds[m], tag))
    return out


def cohort_separation_truth(truth, values: Sequence[float], n: int, seed: int = 0) -> float:
    a, b = values
    return float(metrics.smooth_knn_statistic(cohort_sample(truth, a, n, seed),
                                              cohort_sample(truth, b, n, seed + 1), seed=seed))


@torch.no_grad()
def posterior_unlabelled(model: M2VAE, x, z=None, n_y: int = 48, y=None):
    """Exact posteriors of a single learned M2 model (M = 1, K = 1) on a z-grid:
    p_theta(z | x) = sum_y p(y | x) p_theta(z | x, y) for unlabelled x (continuous y by the
    midpoint rule in Phi(y), as ``data.GroundTruth.posterior``), or p_theta(z | x, y) for
    given labels y ([N]). Returns (z [G], post [N, G]) as numpy float64."""
    if model.n_models != 1 or model.cfg.latent_dim != 1:
        raise ValueError("posterior_unlabelled needs a single model (M = 1) with K = 1")
    zg = P.z_grid() if z is None else torch.as_tensor(np.asarray(z), dtype=torch.float64)
    G = len(zg)
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    nv = model.noise_var[0].detach().cpu().double()
    zt = zg.float()[None, :, None].to(model.device)

    def f_at(v):
        lab = torch.as_tensor(encode_labels_model(model, np.full(G, v)), device=model.device)[None]
        return model.decode(zt, lab)[0].double().cpu()

    if y is not None:
        y = np.asarray(y).reshape(-1)
        post = np.empty((len(x), G))
        for v in np.unique(y):
            rows = np.flatnonzero(y == v)
            post[rows] = P.grid_posterior(f_at(v), x[rows], nv, z=zg).numpy()
        return zg.numpy(), post
    if model.discrete:
        ys, log_w = np.arange(model.cfg.label_dim), np.full(model.cfg.label_dim, -math.log(model.cfg.label_dim))
    else:
        ys = stats.norm.ppf((np.arange(n_y) + 0.5) / n_y)
        log_w = np.full(n_y, -math.log(n_y))
    log_joint = None
    for v, lw in zip(ys, log_w):
        lj = P.log_joint_grid(f_at(v), x, nv, z=zg).numpy() + lw
        log_joint = lj if log_joint is None else np.logaddexp(log_joint, lj)
    dens = np.exp(log_joint - log_joint.max(1, keepdims=True))
    return zg.numpy(), dens / np.trapz(dens, zg.numpy(), axis=1)[:, None]


def encode_labels_model(model: M2VAE, y) -> np.ndarray:
    """Label columns for a model (one-hot for discrete, the value for continuous)."""
    y = np.asarray(y).reshape(-1)
    if model.discrete:
        return np.eye(model.cfg.label_dim, dtype=np.float32)[y.astype(np.int64)]
    return y.astype(np.float32)[:, None]


@torch.no_grad()
def f_curves(model: M2VAE, values: Sequence[float], z) -> np.ndarray:
    """The learned f_theta(z, y) at z [G] for each label value: [len(values), M, G, D]."""
    M, G = model.n_models, len(z)
    zt = torch.as_tensor(np.asarray(z), dtype=torch.float32, device=model.device)[None, :, None].expand(M, -1, -1)
    out = [model.decode(zt, as_members(encode_labels_model(model, np.full(G, v)), M, model.device))
           for v in values]
    return torch.stack(out).cpu().numpy()


# --------------------------------------------------------------------------------------
# The sweep's M2 path (called by ``sweep.run_group`` for tasks with alpha and gamma)
# --------------------------------------------------------------------------------------
#: the cohorts of Table 4: y = 0, 1 (discrete) and y = -3.5, 3.5 (continuous)
COHORTS = {"discrete": (0.0, 1.0), "continuous": (-3.5, 3.5)}


def sweep_labels(tasks, owner, data, infos, seed: int) -> dict:
    """Per member: encoded labels, the observed-label mask (the same for every restart
    of a data version; fraction ``LABEL_FRACTION`` unless the task's extra sets
    ``label_frac``) and the hidden true labels, for the train and validation splits;
    raw test labels. Arrays with the member axis first."""
    out = {"train": {"y": [], "label_mask": [], "y_true": []}, "val": {"y": [], "label_mask": []},
           "test": {"y_raw": []}}
    for m, (ti, _) in enumerate(owner):
        task, truth = tasks[ti], infos[ti].truth
        frac = dict(task.extra).get("label_frac", LABEL_FRACTION)
        for part in ("train", "val"):
            smp = data[part][m]
            if truth is None:   # real data (UCI): one-hot classes, the split's own stratified mask
                enc = np.eye(infos[ti].n_classes, dtype=np.float32)[np.asarray(smp.y, dtype=np.int64)]
                mask = np.asarray(smp.label_mask, dtype=bool)
                if "label_frac" in dict(task.extra):
                    raise ValueError("real data sets carry their own label mask (uci.uci_splits); "
                                     "label_frac is for synthetic sets")
                out[part]["y"].append(enc * mask[:, None])
                out[part]["label_mask"].append(mask)
                if part == "train":
                    out[part]["y_true"].append(enc)
                continue
            enc = encode_labels(truth, smp.y)
            mask = label_mask(len(enc), frac, derive_seed(seed, f"{task.dataset}/{task.version}/labels/{part}"))
            out[part]["y"].append(enc * mask[:, None])
            out[part]["label_mask"].append(mask)
            if part == "train":
                out[part]["y_true"].append(enc)
        out["test"]["y_raw"].append(np.asarray(data["test"][m].y))
    return {part: {k: np.stack(v) for k, v in d.items()} for part, d in out.items()}


def _evaluate_members(tasks, members, vae: M2VAE, labels, x_train, x_val, x_test, p):
    """The evaluation every M2 record starts from (same order, same noise streams for the
    synthetic and the UCI sweeps): the training objective, its validation value per
    member, -U on each part and, for IWAE, the -IWAE bound of U on validation and test."""
    S = max(1, tasks[0].iwae_samples)
    method = tasks[0].method
    obj = M2Objective(alpha=tuple(mb.ss_alpha for mb in members), gamma=tuple(mb.ss_gamma for mb in members),
                      n_samples=S if method == "iwae" else 1)
    val_obj = batch_value(vae, obj, x_val, labels["val"]["y"], labels["val"]["label_mask"],
                          tag="val-objective", repeats=p.eval_repeats)
    S_e = p.eval_elbo_samples
    nu = {part: neg_u_value(vae, xx, 1, repeats=S_e, tag=f"neg_u/{part}")
          for part, xx in (("train", x_train), ("val", x_val), ("test", x_test))}
    iw = {}
    if method == "iwae":
        iw = {part: neg_u_value(vae, xx, S, tag=f"iwae_u/{part}") for part, xx in (("val", x_val), ("test", x_test))}
    return obj, val_obj, nu, iw


def _select_and_knn(vae: M2VAE, task, ti: int, owner, val_obj, x_val, x_test):
    """Task ``ti``'s members, its selected restart (App. D) and the smooth kNN statistic of
    p_theta(x) on test and validation data for the members ``task.knn`` asks for (None
    when it asks for none)."""
    idx = [m for m, (o, _) in enumerate(owner) if o == ti]
    best = select_restart(val_obj, idx)
    knn_members = {"none": [], "selected": [best], "all": idx}[task.knn]
    knn = knn_px(vae, x_test, members=knn_members, tag="knn/test") if knn_members else None
    knn_v = knn_px(vae, x_val, members=knn_members, tag="knn/val") if knn_members else None
    return idx, best, knn, knn_v


def _selected_head(sel: M2VAE, owner, best: int, x_test, p, knn, knn_v) -> dict:
    """The first fields of every M2 record's ``selected`` entry: the restart, its
    importance-sampled test log p(x) (of U) and its kNN statistics."""
    return {
        "restart": owner[best][1],
        "test_log_px_is": float(-neg_u_value(sel, x_test[best:best + 1], p.eval_is_samples,
                                             tag="log_px/test").mean()),
        "knn_test": None if knn is None else float(knn[best]),
        "knn_val": None if knn_v is None else float(knn_v[best]),
    }


def _member_row(owner, members, m: int, val_obj, nu, nvar, h) -> dict:
    """The fields every M2 record keeps for member m."""
    return {
        "restart": owner[m][1], "init": members[m].init, "seed": members[m].seed,
        "alpha": members[m].ss_alpha, "gamma": members[m].ss_gamma,
        "val_objective": float(val_obj[m]),
        "train_neg_elbo": float(nu["train"][m]), "val_neg_elbo": float(nu["val"][m]),
        "test_neg_elbo": float(nu["test"][m]),
        "noise_var": nvar[m].tolist(), "train_loss": h["train_loss"][:, m].tolist(),
    }


def sweep_records(tasks, owner, members, infos, vae: M2VAE, h, labels, x_train, x_val, x_test,
                  p, t0: float, seconds_train: float, device, build) -> list[dict]:
    """Evaluate an M2 ensemble and build one record per task (the unsupervised records'
    layout, see ``sweep``; -ELBO columns hold -U, the bound on -log p(x) of unlabelled
    data), plus, for the selected restart, the smooth kNN statistics of p_theta(x) and of
    each cohort p_theta(x | y) (Tables 3-4) and the collapse measures."""
    method = tasks[0].method
    obj, val_obj, nu, iw = _evaluate_members(tasks, members, vae, labels, x_train, x_val, x_test, p)
    label = vae.cfg.label
    cohorts = COHORTS[label]
    y_test = labels["test"]["y_raw"]
    pred = np.array([predictive(vae.subset([m]), x_test[m], y_test[m])[0] for m in range(vae.n_models)])
    coll = collapse_distance(vae, cohorts)
    nvar = vae.noise_var.detach().cpu().numpy()

    out = []
    for ti, task in enumerate(tasks):
        truth = infos[ti].truth
        idx, best, knn, knn_v = _select_and_knn(vae, task, ti, owner, val_obj, x_val, x_test)
        rows = []
        for m in idx:
            row = {
                **_member_row(owner, members, m, val_obj, nu, nvar, h),
                "gt_decoder_mse": float(h["gt_decoder_mse"][m]), "gt_warm_loss": float(h["gt_warm_loss"][m]),
                "gt_fit_loss": float(h["gt_fit_loss"][m]), "gt_start_loss": float(h["gt_start_loss"][m]),
                "knn_test": None if knn is None else float(knn[m]),
                "knn_val": None if knn_v is None else float(knn_v[m]),
                "predictive": float(pred[m]), "collapse_f": float(coll[m]),
            }
            if iw:
                row["val_neg_iwae"], row["test_neg_iwae"] = float(iw["val"][m]), float(iw["test"][m])
            if method == "lin":
                row["aggressive_epochs"] = int(h["aggressive"][:, m].sum())
                row["inner_steps"] = int(h["inner_steps"][:, m].sum())
                row["val_mi"] = h["val_mi"][:, m].tolist()
            rows.append(row)
        sel = vae.subset([best])
        n_c = x_test.shape[1]
        knn_c = {}
        for v in cohorts:
            ref = cohort_sample(truth, v, n_c, derive_seed(p.seed, f"{task.dataset}/{task.version}/cohort/{v:g}"))
            knn_c[f"{v:g}"] = float(knn_cohort(sel, v, ref, tag="knn-cohort/test")[0])
        selected = {
            **_selected_head(sel, owner, best, x_test, p, knn, knn_v),
            "knn_cohort_test": knn_c,
            "separation": float(cohort_separation(sel, cohorts, n_c)[0]),
            "collapse_f": float(coll[best]), "predictive": float(pred[best]),
            "noise_eq9": None,
        }
        extra = {"label": label, "cohorts": list(cohorts),
                 "label_fraction": dict(task.extra).get("label_frac", LABEL_FRACTION),
                 "collapse_f_truth": collapse_distance_truth(truth, cohorts)}
        out.append(build(task, infos[ti], obj.name, rows, selected, vae, best, owner[best][1], len(members),
                         seconds_train, t0, device, dataset_extra=extra))
    return out


# --------------------------------------------------------------------------------------
# The sweep's M2 path on real data (Tables 5-6: no ground truth; cohorts are held-out rows)
# --------------------------------------------------------------------------------------
def class_pairs(n_classes: int) -> list[tuple[int, int]]:
    """Every unordered pair of classes (a < b): the pairs the collapse measures average."""
    return [(a, b) for a in range(n_classes) for b in range(a + 1, n_classes)]


def cohort_separation_sizes(model: M2VAE, pairs, sizes, tag: str = "separation") -> np.ndarray:
    """The smooth kNN statistic between a single model's (M = 1) cohorts p_theta(x | y = a)
    and p_theta(x | y = b) for each pair, drawing as many samples of class c as
    ``sizes[c]`` (so that it compares with the same statistic between the data's own
    cohorts, whose z-score depends on the sample sizes). [len(pairs)]."""
    if model.n_models != 1:
        raise ValueError("cohort_separation_sizes needs a single model (M = 1)")
    out = []
    for a, b in pairs:
        sa = sample_px(model, int(sizes[a]), tag=f"{tag}/{a}", y=encode_labels_model(model, np.full(int(sizes[a]), a)))
        sb = sample_px(model, int(sizes[b]), tag=f"{tag}/{b}", y=encode_labels_model(model, np.full(int(sizes[b]), b)))
        out.append(metrics.smooth_knn_statistic(sa[0], sb[0], seed=derive_seed(model.seeds[0], f"{tag}/{a}{b}")))
    return np.asarray(out, dtype=float)


def data_cohort_separation(x, y, pairs, seed: int = 0) -> np.ndarray:
    """The same statistic between the data's own cohorts (rows of class a vs class b). [pairs]."""
    x, y = np.asarray(x), np.asarray(y)
    return np.asarray([metrics.smooth_knn_statistic(x[y == a], x[y == b], seed=seed) for a, b in pairs])


@torch.no_grad()
def balanced_accuracy(model: M2VAE, x, y_true) -> np.ndarray:
    """Balanced accuracy (mean recall over classes) of the discriminator's most probable
    class on (x, y_true), [M] (``sklearn.metrics.balanced_accuracy_score``)."""
    M = model.n_models
    a, _ = model.classify(as_members(x, M, model.device))
    pred = a.argmax(-1).cpu().numpy()
    yt = np.asarray(y_true).reshape(-1)
    return np.array([balanced_accuracy_score(yt, pred[m]) for m in range(M)])


def sweep_records_real(tasks, owner, members, infos, vae: M2VAE, h, labels, x_train, x_val, x_test,
                       p, t0: float, seconds_train: float, device, build) -> list[dict]:
    """Evaluate an M2 ensemble trained on a real (UCI) data set and build one record per
    task, as ``sweep_records`` does, with the data's own held-out rows in place of the
    ground truth (App. D, Tables 5-6):

    * the smooth kNN statistic of p_theta(x) (y from the model's uniform p(y)) against the
      test rows (``knn_test``) and the validation rows (``knn_val``, for choosing the
      setting), and of each cohort p_theta(x | y = c) against the test rows of class c
      (``knn_cohort_test``, Table 6; every test label is used here, none in training);
    * functional collapse: ``collapse_f`` = the mean over class pairs of
      E_z ||f(z, a) - f(z, b)|| (``collapse_distance``; 0 = one function for all
      classes), and the cohort separation of the model beside the data's
      (``separation`` / ``separation_data``, mean over pairs, at the test class sizes);
    * the discriminator's accuracy and balanced accuracy on the test rows;
    * the stopping rule's ``epochs_used`` / ``best_epoch`` per member (``train.py``).
    """
    method = tasks[0].method
    obj, val_obj, nu, iw = _evaluate_members(tasks, members, vae, labels, x_train, x_val, x_test, p)
    y_test = labels["test"]["y_raw"]
    C = vae.cfg.label_dim
    pairs = class_pairs(C)
    pred = np.array([predictive(vae.subset([m]), x_test[m], y_test[m])[0] for m in range(vae.n_models)])
    bal = np.array([balanced_accuracy(vae.subset([m]), x_test[m], y_test[m])[0] for m in range(vae.n_models)])
    coll_pairs = np.stack([collapse_distance(vae, pr) for pr in pairs], 1)           # [M, pairs]
    coll = coll_pairs.mean(1)
    nvar = vae.noise_var.detach().cpu().numpy()
    M = vae.n_models
    epochs_used = h.get("epochs_used", np.full(M, h["train_loss"].shape[0]))
    best_epoch = h.get("best_epoch", np.full(M, h["train_loss"].shape[0]))
    val_check = h.get("val_check")

    out = []
    for ti, task in enumerate(tasks):
        idx, best, knn, knn_v = _select_and_knn(vae, task, ti, owner, val_obj, x_val, x_test)
        rows = []
        for m in idx:
            row = {
                **_member_row(owner, members, m, val_obj, nu, nvar, h),
                "knn_test": None if knn is None else float(knn[m]),
                "knn_val": None if knn_v is None else float(knn_v[m]),
                "predictive": float(pred[m]), "balanced_accuracy": float(bal[m]),
                "collapse_f": float(coll[m]),
                "epochs_used": int(epochs_used[m]), "best_epoch": int(best_epoch[m]),
            }
            if val_check is not None:
                row["val_check"] = val_check[:, m].tolist()
            if task.knn == "all":      # the cohorts of every restart too (the stopping rule's check)
                ym = np.asarray(y_test[m])
                row["knn_cohort_test"] = {
                    str(c): float(knn_cohort(vae.subset([m]), c, x_test[m][ym == c], tag="knn-cohort/test")[0])
                    for c in range(C)}
            if iw:
                row["val_neg_iwae"], row["test_neg_iwae"] = float(iw["val"][m]), float(iw["test"][m])
            rows.append(row)
        sel = vae.subset([best])
        yt = np.asarray(y_test[best])
        sizes = np.bincount(yt, minlength=C)
        knn_c = {str(c): float(knn_cohort(sel, c, x_test[best][yt == c], tag="knn-cohort/test")[0])
                 for c in range(C)}
        sep = cohort_separation_sizes(sel, pairs, sizes)
        sep_data = data_cohort_separation(x_test[best], yt, pairs, seed=derive_seed(p.seed, f"{task.dataset}/{task.version}/sep"))
        selected = {
            **_selected_head(sel, owner, best, x_test, p, knn, knn_v),
            "knn_cohort_test": knn_c,
            "separation": float(sep.mean()), "separation_data": float(sep_data.mean()),
            "separation_pairs": sep.tolist(), "separation_data_pairs": sep_data.tolist(),
            "collapse_f": float(coll[best]), "collapse_f_pairs": coll_pairs[best].tolist(),
            "predictive": float(pred[best]), "balanced_accuracy": float(bal[best]),
            "epochs_used": int(epochs_used[best]), "best_epoch": int(best_epoch[best]),
            "noise_eq9": None,
        }
        extra = {"label": "discrete", "n_classes": C, "pairs": [list(pr) for pr in pairs],
                 "label_fraction": float(np.mean(labels["train"]["label_mask"][best])),
                 "test_class_sizes": sizes.tolist()}
        out.append(build(task, infos[ti], obj.name, rows, selected, vae, best, owner[best][1], len(members),
                         seconds_train, t0, device, dataset_extra=extra))
    return out
