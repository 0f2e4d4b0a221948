"""The VAE of Eq. 1 (as an ensemble of M independent models) and its training objectives.

Model (Sec. 3, Eq. 1; App. D "Architectures")::

    z ~ N(0, I_K),   x | z ~ N(f_theta(z), diag(sigma^2)),   q_phi(z | x) = N(mu(x), diag(var(x)))

with f_theta and (mu, log var) leaky-ReLU MLPs (3 x 50 units; 3 x 100 for UCI data).
sigma^2 is fixed (at the ground truth unless a config says otherwise, Sec. 4) or learned
per data dimension (Sec. 8), one value per ensemble member.

Objectives (each per ensemble member: a loss of shape [M], the mean over the batch):

* ``NegELBO``   -ELBO of Eq. 2 with the analytic KL(q || N(0, I)) and one reparameterised
                sample for the likelihood term. Also the loss of LIN (He et al. 2019),
                which changes the *schedule* (``train.py``), not the objective.
* ``NegIWAE``   -(IWAE bound) with S importance samples (Burda et al. 2016):
                ``log 1/S sum_s p(x, z_s) / q(z_s | x)``, computed as logsumexp - log S.

Interface (``Objective``): ``loss(model, batch, rng) -> (loss [M], stats)`` where

* ``batch`` is a dict of tensors shaped ``[M, B, ...]``; ``"x"`` is always there. The
  trainer batches *every* key of the training-data dict with the same per-member indices,
  so an objective can ask for more inputs just by their being in the data dict: ``"z"``
  (true latents, used by the ground-truth warm start), ``"y"`` ([M, B, L] labels, one-hot
  for discrete y) and ``"label_mask"`` ([M, B] bool, True where y is observed).
* ``rng`` is a :class:`MemberRNG`: ``rng.normal(*shape)`` returns [M, *shape] standard
  normals drawn from *per-member* generators, so member m sees the same noise whether it
  is trained alone or inside an ensemble (``rng.uniform`` likewise, e.g. for Gumbel noise).
* ``stats`` maps names to detached per-member tensors [M] (logged by the trainer).
* ``total = loss.sum()`` is what gets differentiated: the sum over members of per-member
  means, so member m's gradient is that of its own mean loss.

Method "flow" (ours, issue 15: a rich variational family besides IWAE) trains the same
``NegELBO`` on a ``FlowVAE``, whose q(z | x) is the Gaussian encoder followed by a
conditional spline flow (``flows.py``); its KL term is the one-sample estimate
log q(z | x) - log p(z).

The semi-supervised M2 model and objectives (App. B, Eqs. 10-15) live in ``m2.py``: an
``M2VAE`` subclass (decoder input ``concat(z, y)``, extra inference nets for q(z | x, y)
and q(y | x) returned in ``param_groups()["encoder"]``) and ``M2Objective`` with alpha and
gamma per member; ``train.make_training_objective`` picks it for a labelled architecture.

Densities are written by hand (two one-liners, checked against ``torch.distributions``
in the tests): constructing ``Normal`` objects each step made a training step ~1.2-1.7x
slower in our micro-benchmark (``benchmarks/bench_ensemble.py`` prints the comparison).
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

import numpy as np
import torch
from torch import nn

from .flows import FLOW_BINS, ConditionalSplineFlow
from .nets import HIDDEN_SYNTHETIC, EnsembleMLP, MemberMixin

LOG_2PI = math.log(2 * math.pi)


def derive_seed(seed: int, tag: str) -> int:
    """A stable 31-bit seed for one use (``tag``) of a member seed (independent streams
    for encoder init, decoder init, data order, noise, ... of one member)."""
    return zlib.crc32(f"{int(seed)}/{tag}".encode()) & 0x7FFFFFFF


# --------------------------------------------------------------------------------------
# Per-member random numbers
# --------------------------------------------------------------------------------------
class MemberRNG:
    """Standard-normal draws from one ``torch.Generator`` per ensemble member.

    ``normal(*shape)`` returns ``[M, *shape]``; row m comes only from member m's generator
    and member m's own past requests, so it does not depend on M or on the other members
    (training alone or in an ensemble sees the same numbers). Numbers are served from a
    per-member pool refilled in large blocks (one generator call per block instead of one
    per step). Members with ``active[m] == False`` get zeros and consume nothing: LIN's
    inner loop uses this for members whose encoder loop has already stopped.
    """

    def __init__(self, seeds: Sequence[int], device: torch.device | str = "cpu",
                 pool: int = 1 << 16):
        self.gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
        self.device = torch.device(device)
        self.pool = int(pool)
        self.bufs = [torch.empty(0) for _ in seeds]
        self.pos = [0] * len(seeds)
        self.active: torch.Tensor | None = None   # [M] bool, None = all
        # while every member has drawn every time, the pools are the rows of one [M, L]
        # tensor (``bufs[m]`` views its rows) and a draw is one slice of it: the same
        # numbers as the per-member path, without a Python loop over members
        self._stack: torch.Tensor | None = torch.empty(len(seeds), 0)

    @property
    def n_models(self) -> int:
        return len(self.gens)

    def _take(self, m: int, n: int) -> torch.Tensor:
        buf, pos = self.bufs[m], self.pos[m]
        if pos + n > buf.numel():
            fresh = torch.randn(max(self.pool, n), generator=self.gens[m])
            buf = torch.cat([buf[pos:], fresh])
            self.bufs[m], pos = buf, 0
        self.pos[m] = pos + n
        return buf[pos:pos + n]

    def _take_all(self, n: int) -> torch.Tensor:
        stack, pos = self._stack, self.pos[0]
        if pos + n > stack.shape[1]:
            fresh = torch.stack([torch.randn(max(self.pool, n), generator=g) for g in self.gens])
            stack = self._stack = torch.cat([stack[:, pos:], fresh], 1)
            self.bufs = list(stack.unbind(0))
            pos = 0
        self.pos = [pos + n] * self.n_models
        return stack[:, pos:pos + n]

    def normal(self, *shape: int) -> torch.Tensor:
        n = int(np.prod(shape)) if shape else 1
        act = None if self.active is None else self.active.tolist()
        if self._stack is not None and (act is None or all(act)):
            return self._take_all(n).reshape(self.n_models, *shape).to(self.device, copy=True)
        self._stack = None      # members out of step: one pool per member from now on
        rows = [self._take(m, n) if act is None or act[m] else torch.zeros(n)
                for m in range(self.n_models)]
        return torch.stack(rows).view(self.n_models, *shape).to(self.device)

    def uniform(self, *shape: int, eps: float = 1e-6) -> torch.Tensor:
        """U(0, 1) draws as Phi(normal) (exact in distribution), clipped away from 0, 1."""
        return torch.special.ndtr(self.normal(*shape)).clamp(eps, 1 - eps)


# --------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VAEConfig:
    """Architecture of one VAE (shared by all members of an ensemble)."""

    data_dim: int                                 #: D
    latent_dim: int                               #: K
    label_dim: int = 0                            #: L (M2, App. B): decoder input is K + L
    hidden: tuple[int, ...] = HIDDEN_SYNTHETIC    #: App. D: 3 x 50 (3 x 100 for UCI)
    learn_noise: bool = False                     #: Sec. 8: learn sigma^2 per data dim
    label: str | None = None                      #: M2 (``m2.M2VAE``): "discrete" | "continuous"
    flow_layers: int = 0                          #: method "flow" (``FlowVAE``): L spline layers in q (0: none)
    flow_bins: int = FLOW_BINS                    #: bins per spline layer of the flow

    def __post_init__(self):
        for name in ("data_dim", "latent_dim"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.label_dim < 0:
            raise ValueError(f"label_dim must be >= 0, got {self.label_dim}")
        if self.label is not None and (self.label not in ("discrete", "continuous") or self.label_dim < 1):
            raise ValueError(f"label must be None, 'discrete' or 'continuous' (with label_dim >= 1), "
                             f"got {self.label!r} with label_dim {self.label_dim}")
        if self.flow_layers < 0 or self.flow_bins < 2:
            raise ValueError(f"flow_layers must be >= 0 and flow_bins >= 2, got {self.flow_layers}, {self.flow_bins}")
        if self.flow_layers and self.label is not None:
            raise ValueError("a flow encoder is for the unsupervised VAE (not M2)")
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))


class VAE(MemberMixin, nn.Module):
    """M independent VAEs (Eq. 1) evaluated as one batched model (M = 1: a single VAE).

    ``seeds[m]`` initialises member m's encoder and decoder (independently of M);
    ``noise_var`` is a scalar, [D], [M] or [M, D] (the initial value if learned).
    """

    def __init__(self, cfg: VAEConfig, n_models: int = 1, seeds: Sequence[int] | None = None,
                 noise_var: float | Sequence | torch.Tensor = 1.0):
        super().__init__()
        seeds = list(range(n_models)) if seeds is None else [int(s) for s in seeds]
        if len(seeds) != n_models:
            raise ValueError(f"need {n_models} seeds, got {len(seeds)}")
        self.cfg, self.n_models, self.seeds = cfg, n_models, seeds
        K, D, L = cfg.latent_dim, cfg.data_dim, cfg.label_dim
        self.encoder = EnsembleMLP(n_models, D, 2 * K, cfg.hidden,
                                   seeds=[derive_seed(s, "encoder") for s in seeds])
        self.decoder = EnsembleMLP(n_models, K + L, D, cfg.hidden,
                                   seeds=[derive_seed(s, "decoder") for s in seeds])
        lnv = torch.log(_noise_matrix(noise_var, n_models, D)).unsqueeze(1)   # [M, 1, D]
        if cfg.learn_noise:
            self.log_noise_var = nn.Parameter(lnv)
        else:
            self.register_buffer("log_noise_var", lnv)

    # -- the two networks ----------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [M, B, D] -> (mu, log var) of q(z | x), each [M, B, K]."""
        h = self.encoder(x)
        return h[..., : self.cfg.latent_dim], h[..., self.cfg.latent_dim:]

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """f_theta(z) (or f_theta(z, y) for M2): z [M, ..., K] -> [M, ..., D].

        Any middle axes (e.g. importance samples) are flattened into the batch axis; y
        [M, B, L] is broadcast against z's middle axes and concatenated to z.
        """
        if (y is None) != (self.cfg.label_dim == 0):
            raise ValueError(f"decode needs y of width {self.cfg.label_dim}" if y is None
                             else "this VAE takes no labels (label_dim = 0)")
        if y is not None:
            y = y.expand(*z.shape[:-1], y.shape[-1])
            z = torch.cat([z, y], dim=-1)
        mid = z.shape[1:-1]
        out = self.decoder(z.reshape(self.n_models, -1, z.shape[-1]))
        return out.view(self.n_models, *mid, self.cfg.data_dim)

    @property
    def noise_var(self) -> torch.Tensor:
        """sigma^2 per member and data dimension, [M, D]."""
        return self.log_noise_var.exp().squeeze(1)

    # -- log densities (hand-written for speed; see the module docstring) ------------------
    def log_lik(self, x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        """log N(x | f, diag sigma^2) summed over D. x [M, B, D], f [M, ..., B, D] -> [M, ..., B]."""
        lnv = self.log_noise_var
        if f.dim() == 4:                        # [M, S, B, D]
            x, lnv = x.unsqueeze(1), lnv.unsqueeze(1)
        return -0.5 * (((x - f) ** 2) * torch.exp(-lnv) + lnv + LOG_2PI).sum(-1)

    # -- parameters --------------------------------------------------------------------------
    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        """Inference-network and generative-model parameters (LIN steps them separately).
        A learned noise variance belongs to the generative model."""
        dec = list(self.decoder.parameters())
        if self.cfg.learn_noise:
            dec.append(self.log_noise_var)
        return {"encoder": list(self.encoder.parameters()), "decoder": dec}

    @classmethod
    def from_members(cls, cfg: VAEConfig, states: Sequence[dict], seeds: Sequence[int] | None = None
                     ) -> "VAE":
        """Stack one-member states (e.g. loaded from the results cache) into an ensemble."""
        vae = cls(cfg, len(states), seeds=seeds)
        for m, s in enumerate(states):
            vae.load_member(m, s)
        return vae

    def subset(self, idx: Sequence[int]) -> "VAE":
        """A new VAE holding copies of members ``idx`` (same config)."""
        idx = list(idx)
        return type(self).from_members(self.cfg, [self.member_state(m) for m in idx],
                                       seeds=[self.seeds[m] for m in idx]).to(self.device)

    @torch.no_grad()
    def assign(self, idx: Sequence[int], other: "VAE") -> None:
        """Copy ``other``'s members into slots ``idx`` (inverse of :meth:`subset`)."""
        for j, m in enumerate(idx):
            self.load_member(m, other.member_state(j))

    @property
    def device(self) -> torch.device:
        return self.log_noise_var.device


def _noise_matrix(noise_var, n_models: int, D: int) -> torch.Tensor:
    nv = torch.as_tensor(np.asarray(noise_var, dtype=np.float32) if not torch.is_tensor(noise_var)
                         else noise_var, dtype=torch.get_default_dtype())
    if nv.dim() == 0:
        nv = nv.expand(n_models, D)
    elif nv.dim() == 1 and nv.shape[0] == D:
        nv = nv.expand(n_models, D)
    elif nv.dim() == 1 and nv.shape[0] == n_models:
        nv = nv[:, None].expand(n_models, D)
    elif nv.dim() != 2 or tuple(nv.shape) != (n_models, D):
        raise ValueError(f"noise_var must be a scalar, [D={D}], [M={n_models}] or [M, D]; "
                         f"got shape {tuple(nv.shape)}")
    if not (nv > 0).all():
        raise ValueError("noise_var must be positive")
    return nv.clone()


# --------------------------------------------------------------------------------------
# Bounds (per example), shared by the objectives and evaluate.py
# --------------------------------------------------------------------------------------
def kl_std_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag e^logvar) || N(0, I)) summed over the last axis (analytic)."""
    return 0.5 * (mu * mu + logvar.exp() - logvar - 1.0).sum(-1)


def neg_elbo_terms(model: VAE, x: torch.Tensor, eps: torch.Tensor,
                   y: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """-ELBO per example (Eq. 2) with one reparameterised sample z = mu + sd * eps.

    x [M, B, D], eps [M, B, K] -> dict of [M, B]: ``neg_elbo``, ``kl``, ``neg_ll``.
    For a flow encoder (``FlowVAE``) ``kl`` is the one-sample estimate log q - log p(z).
    """
    if is_flow(model):
        z, log_q = model.q_sample(x, eps)
        ll = model.log_lik(x, model.decode(z, y))
        kl = log_q + 0.5 * (z * z + LOG_2PI).sum(-1)
        return {"neg_elbo": kl - ll, "kl": kl, "neg_ll": -ll}
    mu, logvar = model.encode(x)
    z = mu + torch.exp(0.5 * logvar) * eps
    ll = model.log_lik(x, model.decode(z, y))
    kl = kl_std_normal(mu, logvar)
    return {"neg_elbo": kl - ll, "kl": kl, "neg_ll": -ll}


def iwae_log_weights(model: VAE, x: torch.Tensor, eps: torch.Tensor,
                     y: torch.Tensor | None = None) -> torch.Tensor:
    """log p(x, z_s) - log q(z_s | x) for z_s = mu + sd * eps_s (a flow encoder:
    z_s = ``q_sample``). eps [M, S, B, K] -> [M, S, B]."""
    if is_flow(model):
        z, log_qz = model.q_sample(x, eps)
        ll = model.log_lik(x, model.decode(z, None if y is None else y.unsqueeze(1)))
        return ll - 0.5 * (z * z + LOG_2PI).sum(-1) - log_qz
    mu, logvar = model.encode(x)
    sd = torch.exp(0.5 * logvar)
    z = mu.unsqueeze(1) + sd.unsqueeze(1) * eps
    ll = model.log_lik(x, model.decode(z, None if y is None else y.unsqueeze(1)))
    log_pz = -0.5 * (z * z + LOG_2PI).sum(-1)
    # log q(z|x) at z = mu + sd * eps is exactly -0.5 * (eps^2 + logvar + log 2 pi)
    log_qz = -0.5 * (eps * eps + logvar.unsqueeze(1) + LOG_2PI).sum(-1)
    return ll + log_pz - log_qz


def iwae_bound(log_w: torch.Tensor) -> torch.Tensor:
    """log 1/S sum_s w_s over axis 1: [M, S, B] -> [M, B]."""
    return torch.logsumexp(log_w, dim=1) - math.log(log_w.shape[1])


# --------------------------------------------------------------------------------------
# Objectives
# --------------------------------------------------------------------------------------
class Objective(Protocol):
    """A training objective for an ensemble (see the module docstring)."""

    name: str

    def loss(self, model: VAE, batch: dict[str, torch.Tensor], rng: MemberRNG
             ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        ...


@dataclass(frozen=True)
class NegELBO:
    """Negative ELBO (Eq. 2), one reparameterised sample, analytic KL."""

    name: str = "neg_elbo"

    def loss(self, model, batch, rng):
        x = batch["x"]
        eps = rng.normal(x.shape[1], model.cfg.latent_dim)
        t = neg_elbo_terms(model, x, eps, batch.get("y"))
        loss = t["neg_elbo"].mean(1)
        return loss, {"neg_elbo": loss.detach(), "kl": t["kl"].detach().mean(1),
                      "neg_ll": t["neg_ll"].detach().mean(1)}


@dataclass(frozen=True)
class NegIWAE:
    """Negative IWAE bound with ``n_samples`` = S importance samples (Burda et al. 2016).

    Members with different S are trained in different ensembles (the sweep groups by S),
    so S is a property of the objective, not of a member.
    """

    n_samples: int = 5
    name: str = "neg_iwae"

    def __post_init__(self):
        if int(self.n_samples) < 1:
            raise ValueError(f"IWAE needs n_samples >= 1, got {self.n_samples}")

    def loss(self, model, batch, rng):
        x = batch["x"]
        eps = rng.normal(self.n_samples, x.shape[1], model.cfg.latent_dim)
        bound = iwae_bound(iwae_log_weights(model, x, eps, batch.get("y")))
        loss = -bound.mean(1)
        return loss, {"neg_iwae": loss.detach()}


@dataclass(frozen=True)
class GaussianRegression:
    """-log q(z_true | x): the supervised warm start of the ground-truth encoder (our
    addition to App. D's encoder fit: from a random encoder the ELBO alone fails on
    Spiral-Dots, see ``train.py``): maximum likelihood of the true latents under q, i.e.
    E_x KL(p(z | x) || q(z | x)) + const, fitting both the mean and the variance of q
    (for a flow encoder, ``FlowVAE``, all of q: its log density through the flow)."""

    name: str = "neg_log_q_ztrue"

    def loss(self, model, batch, rng):
        if is_flow(model):
            loss = -model.log_q(batch["z"], batch["x"]).mean(1)
            return loss, {"neg_log_q": loss.detach()}
        mu, logvar = model.encode(batch["x"])
        nll = 0.5 * (((batch["z"] - mu) ** 2) * torch.exp(-logvar) + logvar + LOG_2PI).sum(-1)
        loss = nll.mean(1)
        return loss, {"neg_log_q": loss.detach()}


#: method name -> factory(n_samples) of its training objective. LIN trains the ELBO with a
#: different schedule (train.py). The M2 objective (``m2.M2Objective``) is built by
#: ``train.py`` for labelled architectures, not looked up here.
OBJECTIVES: dict[str, Callable[..., Objective]] = {
    "vae": lambda n_samples=1: NegELBO(),
    "lin": lambda n_samples=1: NegELBO(),
    "iwae": lambda n_samples=5: NegIWAE(n_samples),
    # the ELBO with a flow encoder (``FlowVAE``): same objective, q through the flow
    "flow": lambda n_samples=1: NegELBO(),
}


def make_objective(method: str, n_samples: int = 1) -> Objective:
    if method not in OBJECTIVES:
        raise ValueError(f"unknown method {method!r}; known: {sorted(OBJECTIVES)}")
    return OBJECTIVES[method](n_samples=n_samples) if method == "iwae" else OBJECTIVES[method]()


#: the label kinds of an M2 architecture (``VAEConfig.label``)
LABELS = ("discrete", "continuous")


# --------------------------------------------------------------------------------------
# The M2 model (App. B; its bounds and objectives are in ``m2.py``)
# --------------------------------------------------------------------------------------
class M2VAE(VAE):
    """M independent M2 models (Eq. 10) as one batched model; ``cfg.label`` is
    "discrete" (``label_dim`` classes, one-hot) or "continuous" (``label_dim`` = 1)."""

    def __init__(self, cfg: VAEConfig, n_models: int = 1, seeds: Sequence[int] | None = None,
                 noise_var=1.0):
        if cfg.label not in LABELS or cfg.label_dim < 1:
            raise ValueError(f"M2 needs label in {LABELS} and label_dim >= 1, got "
                             f"{cfg.label!r} / {cfg.label_dim}")
        if cfg.label == "continuous" and cfg.label_dim != 1:
            raise ValueError("continuous labels are scalars: label_dim must be 1")
        if cfg.label == "discrete" and cfg.label_dim < 2:
            raise ValueError("discrete labels need label_dim >= 2 classes (one-hot)")
        super().__init__(cfg, n_models, seeds, noise_var)
        K, D, L = cfg.latent_dim, cfg.data_dim, cfg.label_dim
        self.encoder_xy = EnsembleMLP(n_models, D + L, 2 * K, cfg.hidden,
                                      seeds=[derive_seed(s, "encoder_xy") for s in self.seeds])
        self.classifier = EnsembleMLP(n_models, D, L if cfg.label == "discrete" else 2, cfg.hidden,
                                      seeds=[derive_seed(s, "classifier") for s in self.seeds])

    @property
    def discrete(self) -> bool:
        return self.cfg.label == "discrete"

    def encode_xy(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z | x, y): x [M, B, D], y [M, B, L] -> (mu, log var), each [M, B, K]."""
        h = self.encoder_xy(torch.cat([x, y], -1))
        return h[..., : self.cfg.latent_dim], h[..., self.cfg.latent_dim:]

    def classify(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """q(y | x): (log-probabilities [M, B, L], None) for discrete y, (mean, log var)
        [M, B, 1] each for continuous y."""
        h = self.classifier(x)
        if self.discrete:
            return torch.log_softmax(h, -1), None
        return h[..., :1], h[..., 1:]

    def param_groups(self):
        groups = super().param_groups()
        groups["encoder"] = (groups["encoder"] + list(self.encoder_xy.parameters())
                             + list(self.classifier.parameters()))
        return groups


# --------------------------------------------------------------------------------------
# A normalizing-flow encoder (method "flow"; issue 15: a rich family besides IWAE)
# --------------------------------------------------------------------------------------
class FlowVAE(VAE):
    """M independent VAEs whose q(z | x) is the Gaussian encoder followed by a conditional
    spline flow (``flows.ConditionalSplineFlow``, ``cfg.flow_layers`` layers of
    ``cfg.flow_bins`` bins): eps ~ N(0, I), u = T(eps; x), z = mu(x) + sigma(x) * u.

    The flow starts at the identity, so at initialisation q is the member's Gaussian
    encoder exactly. Its conditioners belong to the inference network
    (``param_groups()["encoder"]``). The bounds (``neg_elbo_terms``,
    ``iwae_log_weights``) use ``q_sample``; the KL term of the ELBO is then the
    one-sample estimate log q(z | x) - log p(z) (no closed form)."""

    has_flow = True

    def __init__(self, cfg: VAEConfig, n_models: int = 1, seeds: Sequence[int] | None = None,
                 noise_var=1.0):
        if cfg.flow_layers < 1:
            raise ValueError("FlowVAE needs cfg.flow_layers >= 1")
        super().__init__(cfg, n_models, seeds, noise_var)
        self.flow = ConditionalSplineFlow(
            n_models, cfg.data_dim, cfg.latent_dim, cfg.flow_layers, cfg.hidden,
            seeds=[[derive_seed(s, f"flow/{l}") for s in self.seeds] for l in range(cfg.flow_layers)],
            n_bins=cfg.flow_bins)

    def q_sample(self, x: torch.Tensor, eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Reparameterised z ~ q(z | x) and log q(z | x): x [M, B, D], eps [M, B, K] or
        [M, S, B, K] standard normals -> (z like eps, log q [M, (S,) B])."""
        mu, logvar = self.encode(x)
        if eps.dim() == 4:
            mu, logvar = mu.unsqueeze(1), logvar.unsqueeze(1)
        u, logdet = self.flow(eps, x)
        z = mu + torch.exp(0.5 * logvar) * u
        return z, -0.5 * (eps * eps + logvar + LOG_2PI).sum(-1) - logdet

    def log_q(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """log q(z | x) at given z [M, (S,) B, K] (through the flow's inverse) -> [M, (S,) B]."""
        mu, logvar = self.encode(x)
        if z.dim() == 4:
            mu, logvar = mu.unsqueeze(1), logvar.unsqueeze(1)
        eps, logdet_inv = self.flow.inverse((z - mu) * torch.exp(-0.5 * logvar), x)
        return -0.5 * (eps * eps + logvar + LOG_2PI).sum(-1) + logdet_inv

    def param_groups(self):
        groups = super().param_groups()
        groups["encoder"] = groups["encoder"] + list(self.flow.parameters())
        return groups


def is_flow(model) -> bool:
    """Whether ``model``'s q(z | x) is a flow (``FlowVAE``) rather than the Gaussian."""
    return bool(getattr(model, "has_flow", False))


def model_class(cfg: VAEConfig):
    """The model class for an architecture: ``M2VAE`` when it has labels, ``FlowVAE``
    when it has flow layers, else ``VAE``."""
    if cfg.label is not None:
        return M2VAE
    return FlowVAE if cfg.flow_layers else VAE
