"""Batched-ensemble trainer: VAE, IWAE and Lagging Inference Networks (LIN), with the
protocol of Sec. 4 / App. D (Adam, lr 1e-3, batch 100, ground-truth initialisation).
Method "flow" (ours, issue 15) is the ELBO with a normalizing-flow encoder
(``objectives.FlowVAE``, ``VAEConfig.flow_layers``): it trains as "vae" does, the flow's
conditioners being encoder parameters (a ground-truth start fits all of q, from the
flow's identity).

M independent models (restarts x hyper-parameter settings x data versions, whenever the
shapes match) are trained as one batched model. Member m is *exactly* the model one would
get by training it alone with the same seed, up to floating-point rounding
(``tests/test_train.py`` checks ensemble-of-3 against three single runs), because:

* the ensemble loss is the sum over members of their per-member mean losses, and every
  layer is a batched matmul with per-member weights (``nets.EnsembleMLP``);
* each member has its own initialisation seed, its own data order (``BatchStream``: one
  ``torch.Generator`` per member, a fresh permutation every epoch), its own noise stream
  (``objectives.MemberRNG``) and its own data version (data stacked as [M, N, D]);
* ``EnsembleAdam`` is Adam with per-member step counts and a per-member update mask, so
  a member that sits out a step (LIN) keeps parameters *and* optimiser state unchanged.

LIN (He et al. 2019) and the paper's T and R (App. D)
-----------------------------------------------------
While a member is "aggressive", every outer step is: (1) an inner loop of encoder-only
Adam steps, the first on the outer mini-batch and then on fresh mini-batches from a
separate per-member stream; after every R inner steps the mean inner loss over those R
steps is compared with the mean over the previous R steps, and the loop stops when it
improved by less than T (absolute, in nats per data point of the training loss; the
first window is always accepted), or after ``lin_max_inner`` steps (He et al.: 100);
(2) one decoder-only step on the outer mini-batch. Members leave the aggressive phase at
the end of the first epoch in which the mutual information I_q(x; z) on the validation
set (He et al.'s estimator, :func:`evaluate.q_mutual_info`) does not increase; from then
on they train normally (encoder and decoder together). He et al.'s code is the special
case R = 15, T = 0. An absolute T is used because the negative ELBO of the 2-D synthetic
data sets is near zero (Figure-8: about -0.1 nats), where a relative threshold is
meaningless. In an ensemble the inner loop runs while any member is still in it; members
that stopped are masked (no Adam update, no data or noise consumed), so each member
follows its own schedule exactly.

Ground-truth initialisation (App. D, "Initialization at Global Optima")
------------------------------------------------------------------------
For members with ``init="gt"``: the decoder is set to the fitted surrogate of the ground
truth (copied if the architectures match; otherwise regressed onto it with full
supervision on the true training z, as App. D describes), then the encoder is fit with the
decoder frozen, in two phases: ``gt_warm_epochs`` of maximum likelihood of the true z
under q (``objectives.GaussianRegression``; our addition: from a random encoder the ELBO
alone fails on Spiral-Dots) and ``gt_fit_epochs`` of the member's own training objective
(ELBO or IWAE bound), ending at each member's best iterate (scored after every epoch on
1000 training points with fixed noise: on Spiral-Dots the frozen-decoder ELBO oscillates
between ~90 and, at times, ~2000 nats). Main training then starts with fresh Adam states.

App. D fits the ground-truth encoder over several restarts and keeps the best:
``gt_encoder_restarts`` candidate encoders per member (candidate 0 is the member's own
initial encoder, the others are fresh initialisations from derived seeds) go through
both phases, and the one with the best final score is kept. ``gt_start_loss`` is the loss
of the start measured like an epoch of ``train_loss`` (one pass over the training data in
mini-batches, with its own noise stream, no update), so that the first epoch of joint
training can be compared with it.

Learning-rate warm-up of ground-truth members (``gt_lr_warmup_epochs``; not in the paper,
which uses plain Adam at lr 1e-3). Adam's first steps move every weight by about ``lr``
whatever the gradient's size (m / sqrt(v) is +-1 at step one). At a random start the
gradients are large and coherent and this is harmless; at the ground truth, an optimum,
they are noise, and the first epoch of joint training threw the start away (Spiral-Dots:
-ELBO from ~90 to ~4,000 nats, Clusters from 3.0 to ~10). A linear warm-up of these
members' learning rate from 0 to ``lr`` over the first epochs (``EnsembleAdam(warmup=)``)
keeps the start; random members train exactly as in the paper.

Stopping on the validation objective (opt-in, ``stop_patience > 0``; off by default)
-----------------------------------------------------------------------------------
App. D trains the UCI models for 20,000 epochs "and verified convergence". With
``stop_patience = P > 0`` the epoch count becomes a cap: after every ``stop_every``
epochs (and after the last epoch) each member's training objective is computed on the
validation data (mean over the whole set, ``stop_repeats`` noise draws, the *same*
draws at every check, so two checks differ only by the parameters). A member stops
once P consecutive checks have not lowered its best value by more than
``stop_min_delta`` (nats per point); it then takes no more steps, draws no more data or
noise (so it ends exactly where training it alone ends), and at the end of training
every member is set back to the parameters of its best check. Training ends when every
member has stopped or at the cap. ``history["epochs_used"]`` [M] holds the epochs each
member trained, ``history["best_epoch"]`` [M] the epoch of the parameters it returns,
``history["val_check"]`` [checks, M] the values (NaN after a member stopped). With the
rule off the loop, the random streams and the result are exactly those of plain training
(``epochs_used`` = ``epochs``). VAE and IWAE only (LIN has its own schedule).
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from . import default_device
from .evaluate import q_mutual_info   # evaluate imports objectives only; no cycle
from .m2 import M2Objective           # m2 imports evaluate and objectives only; no cycle
from .nets import EnsembleMLP
from .objectives import (
    VAE, GaussianRegression, MemberRNG, Objective, VAEConfig, derive_seed, make_objective, model_class,
)

__all__ = [
    "TrainConfig", "Member", "TrainResult", "EnsembleAdam", "BatchStream",
    "train_ensemble", "run_epochs", "init_ground_truth", "progress_enabled", "VAE", "VAEConfig",
    "make_training_objective", "cpu_ensemble_size", "size_rates", "fastest_size", "CPU_SIZE_CANDIDATES",
]


#: per-member ground-truth diagnostics in ``TrainResult.history`` (NaN for random members)
GT_KEYS = ("gt_decoder_mse", "gt_warm_loss", "gt_fit_loss", "gt_start_loss", "gt_encoder_choice")


def progress_enabled(progress: bool | None) -> bool:
    """Progress bars: on unless ``progress=False`` or the env var ``VAEFAIL_QUIET=1``."""
    if progress is False or os.environ.get("VAEFAIL_QUIET", "0") not in ("", "0"):
        return False
    return True


# --------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainConfig:
    """How to train one ensemble (every member shares these). Paper values: App. D."""

    method: str = "vae"              #: "vae" | "iwae" | "lin" | "flow" (ELBO, flow encoder: arch.flow_layers)
    iwae_samples: int = 5            #: S (IWAE only)
    epochs: int = 100                #: App. D: 100 on synthetic data (20000 on UCI)
    batch_size: int = 100            #: App. D
    lr: float = 1e-3                 #: App. D (Adam)
    lin_max_inner: int = 100         #: cap on LIN's inner encoder steps (He et al.: 100)
    lin_mi_batch: int = 100          #: batch over which I_q(x; z) aggregates q(z) (He et al.)
    gt_warm_epochs: int = 20         #: supervised warm start of the GT encoder
    gt_fit_epochs: int = 100         #: encoder fit by the objective, decoder frozen
    gt_decoder_epochs: int = 200     #: only if the surrogate's architecture differs
    gt_encoder_restarts: int = 1     #: candidate encoders per GT member (App. D: 10), best kept
    gt_lr_warmup_epochs: int = 0     #: linear lr warm-up of GT members in joint training (0: none)
    # stopping on the validation objective (module docstring); 0 = off: train ``epochs``
    stop_patience: int = 0           #: checks without improvement before a member stops (0: off)
    stop_every: int = 1              #: epochs between two checks of the validation objective
    stop_min_delta: float = 0.0      #: improvement (nats per point) that counts
    stop_repeats: int = 1            #: noise draws averaged per check (the same at every check)

    def __post_init__(self):
        if self.method not in ("vae", "iwae", "lin", "flow"):
            raise ValueError(f"unknown method {self.method!r}; use 'vae', 'iwae', 'lin' or 'flow'")
        for name in ("epochs", "gt_warm_epochs", "gt_fit_epochs", "gt_decoder_epochs",
                     "gt_lr_warmup_epochs"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("batch_size", "iwae_samples", "lin_max_inner", "lin_mi_batch", "gt_encoder_restarts",
                     "stop_every", "stop_repeats"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.stop_patience < 0 or not self.stop_min_delta >= 0:
            raise ValueError(f"stop_patience and stop_min_delta must be >= 0, got "
                             f"{self.stop_patience}, {self.stop_min_delta}")
        if self.stop_patience and self.method == "lin":
            raise ValueError("the stopping rule is for VAE and IWAE training (LIN has its own schedule)")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")

    @property
    def stopping(self) -> bool:
        """Whether the validation stopping rule is on (``stop_patience > 0``)."""
        return self.stop_patience > 0


@dataclass(frozen=True)
class Member:
    """One ensemble member: its seed, its initialisation, its own LIN hyper-parameters."""

    seed: int
    init: str = "random"     #: "random" | "gt"
    lin_T: float = 0.1       #: LIN threshold T (nats per data point, absolute)
    lin_R: int = 5           #: LIN window R (inner steps averaged per comparison)
    ss_alpha: float = 0.0    #: M2 only: weight of the discriminator term (App. B / D)
    ss_gamma: float = 1.0    #: M2 only: weight of the labelled bound L (Eq. 11)

    def __post_init__(self):
        if self.ss_alpha < 0 or self.ss_gamma < 0:
            raise ValueError(f"alpha and gamma must be >= 0, got {self.ss_alpha}, {self.ss_gamma}")
        if self.init not in ("random", "gt"):
            raise ValueError(f"init must be 'random' or 'gt', got {self.init!r}")
        if self.lin_R < 1 or not self.lin_T >= 0:
            raise ValueError(f"LIN needs R >= 1 and T >= 0, got R={self.lin_R}, T={self.lin_T}")


@dataclass
class TrainResult:
    model: VAE
    history: dict[str, np.ndarray]
    cfg: TrainConfig
    members: list[Member] = field(default_factory=list)
    seconds: float = 0.0


# --------------------------------------------------------------------------------------
# Per-member Adam, per-member data order
# --------------------------------------------------------------------------------------
class _Group:
    """One parameter group: a column slice [a, b) of the optimiser's flat buffers, with
    its own per-member step count."""

    def __init__(self, params: list[nn.Parameter], a: int, b: int, n_models: int, device):
        self.params, self.a, self.b = params, a, b
        self.t = torch.zeros(n_models, 1, device=device)


#: default of ``EnsembleAdam(fused=None)``: the environment variable ``VAEFAIL_FUSED_ADAM=1``
#: (read at import, so that spawned sweep workers see it too) switches every ensemble to
#: PyTorch's fused Adam kernel (opt-in; see ``EnsembleAdam``)
FUSED_ADAM = os.environ.get("VAEFAIL_FUSED_ADAM", "0") not in ("", "0")


class EnsembleAdam:
    """Adam (Kingma & Ba 2014; same update as ``torch.optim.Adam``) run independently for
    each of M ensemble members, with a per-member step count and update mask.

    All parameters (each with a leading model axis) are re-bound as views of one flat
    [M, P] buffer, a group being a column slice of it, so an update is a dozen
    elementwise ops on one tensor instead of a Python loop over parameters (and one
    update for all groups when they step together), written into preallocated scratch
    buffers. ``step(total, masks)`` differentiates ``total`` (the sum of per-member
    losses) w.r.t. the groups named in ``masks`` (all if None); a mask [M] bool freezes
    members with False (parameters and Adam state untouched). Create the optimiser after
    moving the model to its device.

    ``warmup``: per-member number of steps [M] over which the learning rate rises
    linearly from lr / warmup to lr (0: none; counted per parameter group).

    ``fused=True`` (default: ``FUSED_ADAM``, off) runs the update as PyTorch's fused Adam
    kernel (``torch._fused_adam_``, that of ``torch.optim.Adam(fused=True)``) on the
    members' rows (member m's row of parameters, gradient and moments is one tensor of a
    call, so its update reads nothing of another member; members whose step count and
    learning rate agree share a call; masked members are in none). One pass over memory
    instead of a dozen: the update is several times faster (a training step about 10 % at
    M = 60; ``benchmarks/bench_ensemble.py`` prints the rate), and the same algorithm,
    but its rounding differs from the default
    path in the last bits, which float32 training amplifies (after a few hundred steps
    losses differ by about 1 %, as between two ensemble sizes), so a run with it does not
    reproduce the cached records bit for bit. The default path is bit for bit the
    trainer's update before the fused option existed.
    """

    def __init__(self, groups: Mapping[str, Sequence[nn.Parameter]], n_models: int,
                 lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 warmup: Sequence[int] | None = None, fused: bool | None = None):
        self.n_models, self.lr, self.betas, self.eps = n_models, lr, betas, eps
        self.fused = FUSED_ADAM if fused is None else bool(fused)
        self.warmup = None
        if warmup is not None and any(int(w) > 0 for w in warmup):
            if len(warmup) != n_models:
                raise ValueError(f"warmup needs one entry per member ({n_models}), got {len(warmup)}")
            if any(int(w) < 0 for w in warmup):
                raise ValueError("warmup steps must be >= 0")
            self.warmup = [float(w) for w in warmup]
        groups = {k: list(v) for k, v in groups.items() if len(v)}
        params = [p for v in groups.values() for p in v]
        if not params:
            raise ValueError("no parameters to optimise")
        with torch.no_grad():
            flat = torch.cat([p.detach().reshape(n_models, -1) for p in params], 1).contiguous()
            off, self.groups = 0, {}
            for k, ps in groups.items():
                start = off
                for p in ps:      # re-bind every parameter as a view of the flat buffer
                    n = p[0].numel()
                    p.data = flat[:, off:off + n].view(p.shape)
                    off += n
                self.groups[k] = _Group(ps, start, off, n_models, flat.device)
        self.flat = flat
        if self.warmup is not None:
            self._warm = torch.tensor(self.warmup, dtype=flat.dtype, device=flat.device).view(-1, 1)
        self.m = torch.zeros_like(flat)
        self.v = torch.zeros_like(flat)
        self._scratch: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self._rows: dict[tuple[int, int], tuple[list, list, list]] = {}

    def step(self, total: torch.Tensor, masks: Mapping[str, torch.Tensor | None] | None = None):
        masks = {k: None for k in self.groups} if masks is None else dict(masks)
        lists = {k: None if mk is None else mk.tolist() for k, mk in masks.items() if k in self.groups}
        names = [k for k, mk in lists.items() if mk is None or any(mk)]
        if not names:
            return
        params = [p for k in names for p in self.groups[k].params]
        grads = torch.autograd.grad(total, params)
        flat_g = torch.cat([g.reshape(self.n_models, -1) for g in grads], 1)
        gs = [self.groups[k] for k in names]
        update = self._update_fused if self.fused else self._update
        with torch.no_grad():
            contiguous = all(g1.b == g2.a for g1, g2 in zip(gs, gs[1:]))
            if (contiguous and all(lists[k] is None for k in names)
                    and all(torch.equal(g.t, gs[0].t) for g in gs[1:])):
                update(gs[0].a, gs[-1].b, flat_g, None, gs)      # one update of all groups
                return
            off = 0
            for k, g in zip(names, gs):
                n = g.b - g.a
                update(g.a, g.b, flat_g[:, off:off + n], lists[k], [g])
                off += n

    def _weights(self, mask: list[bool] | None, gs: list[_Group]) -> torch.Tensor:
        """Count the step of the members in ``mask``; their 0 / 1 weights [M, 1]."""
        t0 = gs[0].t
        w = torch.ones_like(t0) if mask is None else torch.tensor(mask, dtype=t0.dtype, device=t0.device).view(-1, 1)
        for g in gs:
            g.t += w
        return w

    def _update(self, a: int, b: int, grad: torch.Tensor, mask: list[bool] | None, gs: list[_Group]):
        b1, b2 = self.betas
        w = self._weights(mask, gs)
        n = b - a
        if n not in self._scratch:
            self._scratch[n] = (torch.empty_like(grad), torch.empty_like(grad))
        s1, s2 = self._scratch[n]
        m, v, p = self.m[:, a:b], self.v[:, a:b], self.flat[:, a:b]
        m.lerp_(grad, (1 - b1) * w)            # w = 0: exactly unchanged
        v.lerp_(torch.mul(grad, grad, out=s1), (1 - b2) * w)
        t = gs[0].t.clamp(min=1.0)
        step_size = self.lr * w / (1 - b1 ** t)
        if self.warmup is not None:       # linear warm-up: members with warmup 0 keep factor 1
            ramp = torch.where(self._warm > 0, (t / self._warm.clamp(min=1.0)).clamp(max=1.0),
                               torch.ones_like(t))
            step_size = step_size * ramp
        denom = torch.div(v, 1 - b2 ** t, out=s1).sqrt_().add_(self.eps)
        p.sub_(torch.mul(step_size, m, out=s2).div_(denom))

    def _state_rows(self, a: int, b: int) -> tuple[list, list, list]:
        """Per-member rows (views) of the parameters and moments in columns [a, b)."""
        if (a, b) not in self._rows:
            self._rows[(a, b)] = tuple(list(x[:, a:b].unbind(0)) for x in (self.flat, self.m, self.v))
        return self._rows[(a, b)]

    def _update_fused(self, a: int, b: int, grad: torch.Tensor, mask: list[bool] | None, gs: list[_Group]):
        b1, b2 = self.betas
        self._weights(mask, gs)
        members = range(self.n_models) if mask is None else [i for i, on in enumerate(mask) if on]
        tv = gs[0].t.view(-1).tolist()
        calls: dict[tuple[float, float], list[int]] = {}
        for i in members:
            lr = float(self.lr)
            if self.warmup is not None and self.warmup[i] > 0:   # linear warm-up; warmup 0: lr
                lr = lr * min(1.0, tv[i] / self.warmup[i])
            calls.setdefault((tv[i], lr), []).append(i)
        ps, ms, vs = self._state_rows(a, b)
        g_rows = grad.unbind(0)
        for (step, lr), idx in calls.items():
            steps = [torch.tensor(step, dtype=torch.float32, device=self.flat.device)] * len(idx)
            torch._fused_adam_([ps[i] for i in idx], [g_rows[i] for i in idx], [ms[i] for i in idx],
                               [vs[i] for i in idx], [], steps, lr=lr, beta1=b1, beta2=b2,
                               weight_decay=0.0, eps=float(self.eps), amsgrad=False, maximize=False)


class BatchStream:
    """Mini-batch indices [M, B] with a per-member data order: member m walks through
    random permutations of range(n) drawn from its own generator (a fresh permutation
    each epoch; the last n mod B points of a permutation are dropped). ``next(active)``
    advances only the members with ``active[m]``."""

    def __init__(self, n: int, batch_size: int, seeds: Sequence[int]):
        if not 1 <= batch_size <= n:
            raise ValueError(f"batch_size must be in [1, n={n}], got {batch_size}")
        self.n, self.B = n, batch_size
        self.n_batches = n // batch_size
        self.gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
        self.perms: list[torch.Tensor | None] = [None] * len(seeds)
        self.pos = [self.n_batches * batch_size] * len(seeds)
        self._idle = torch.zeros(batch_size, dtype=torch.long)
        self._stacked: torch.Tensor | None = None    # [M, n] permutations while members are in step

    def next(self, active: torch.Tensor | None = None) -> torch.Tensor:
        act = None if active is None else active.tolist()
        if act is None or all(act):
            if self._stacked is not None or all(p is None for p in self.perms):
                return self._next_all()
        self._stacked = None          # members out of step: served one at a time from now on
        rows = []
        for m, gen in enumerate(self.gens):
            if act is not None and not act[m]:
                rows.append(self._idle)
                continue
            if self.pos[m] + self.B > self.n_batches * self.B:
                self.perms[m] = torch.randperm(self.n, generator=gen)
                self.pos[m] = 0
            rows.append(self.perms[m][self.pos[m]:self.pos[m] + self.B])
            self.pos[m] += self.B
        return torch.stack(rows)

    def _next_all(self) -> torch.Tensor:
        """``next()`` while every member has stepped every time (all at the same position):
        the same draws, the permutations stacked once per epoch instead of a row per member
        per step."""
        pos = self.pos[0]
        if pos + self.B > self.n_batches * self.B:
            self.perms = [torch.randperm(self.n, generator=gen) for gen in self.gens]
            self._stacked = torch.stack(self.perms)
            self.perms = list(self._stacked.unbind(0))
            pos = 0
        self.pos = [pos + self.B] * len(self.gens)
        return self._stacked[:, pos:pos + self.B].contiguous()


def _stack_data(data: Mapping, n_models: int, device) -> dict[str, torch.Tensor]:
    """Data dict -> tensors [M, N, ...] on device, floats in torch's default dtype
    (float32 unless a caller, such as a float64 test, changes it). Arrays without the
    model axis (their first axis is N, the same for every member) are broadcast (a view,
    no copy)."""
    out = {}
    for k, v in data.items():
        if v is None:
            continue
        t = torch.as_tensor(np.asarray(v) if not torch.is_tensor(v) else v)
        t = t.to(device, torch.get_default_dtype() if t.is_floating_point() else t.dtype)
        if k in ("x", "z", "y") and t.dim() == 1:
            t = t[:, None]
        if t.dim() >= 3 or (k == "label_mask" and t.dim() == 2):
            if t.shape[0] != n_models:
                raise ValueError(f"data[{k!r}] has {t.shape[0]} members, expected {n_models}")
        else:
            t = t.unsqueeze(0).expand(n_models, *t.shape)
        out[k] = t
    if "x" not in out:
        raise ValueError("data needs an 'x' entry")
    n = {k: v.shape[1] for k, v in out.items()}
    if len(set(n.values())) != 1:
        raise ValueError(f"data entries disagree on N: {n}")
    return out


def _take(data: dict[str, torch.Tensor], idx: torch.Tensor) -> dict[str, torch.Tensor]:
    """Rows ``idx`` [M, B] of every entry [M, N, ...]: ``v[m, idx[m]]`` (one
    ``index_select`` per entry; an entry shared by all members, broadcast with stride 0
    along the model axis, is read from its one copy)."""
    M, B = idx.shape
    flat_idx, shifted = idx.reshape(-1), None
    out = {}
    for k, v in data.items():
        rest = v.shape[2:]
        if v.stride(0) == 0:
            out[k] = v[0].index_select(0, flat_idx).view(M, B, *rest)
        elif v.is_contiguous():
            if shifted is None:        # row of member m, point i of the [M * N, ...] view
                shifted = (idx + torch.arange(M, device=idx.device)[:, None] * v.shape[1]).reshape(-1)
            out[k] = v.reshape(M * v.shape[1], *rest).index_select(0, shifted).view(M, B, *rest)
        else:
            out[k] = v[torch.arange(M, device=idx.device)[:, None], idx]
    return out


# --------------------------------------------------------------------------------------
# Training loops
# --------------------------------------------------------------------------------------
def run_epochs(vae: VAE, objective: Objective, data: dict[str, torch.Tensor], *, epochs: int,
               batch_size: int, lr: float, tag: str, groups: Sequence[str] = ("encoder", "decoder"),
               keep_best: bool = False, eval_n: int = 1000) -> np.ndarray:
    """Plain mini-batch Adam on ``objective`` for the parameter ``groups`` given (others
    frozen), every member active. Returns the per-epoch mean training loss [epochs, M].

    ``keep_best``: score each member's parameters before training and after every epoch
    on the first ``eval_n`` training points with fixed noise, and end with each member's
    best-scoring iterate (used for the ground-truth encoder fit, whose ELBO oscillates on
    data with very steep decoders such as Spiral-Dots). Row ``epochs`` of the result is
    then the best score [M] (the returned array has ``epochs + 1`` rows).
    """
    M = vae.n_models
    stream = BatchStream(data["x"].shape[1], batch_size, [derive_seed(s, tag + "/data") for s in vae.seeds])
    rng = MemberRNG([derive_seed(s, tag + "/noise") for s in vae.seeds], vae.device)
    pg = vae.param_groups()
    opt = EnsembleAdam({g: pg[g] for g in groups}, M, lr)
    out = np.zeros((epochs + int(keep_best), M))
    if keep_best:
        sub = {k: v[:, :eval_n] for k, v in data.items()}

        @torch.no_grad()
        def score():
            fixed = MemberRNG([derive_seed(s, tag + "/score") for s in vae.seeds], vae.device)
            return objective.loss(vae, sub, fixed)[0]

        best, best_flat = score(), opt.flat.clone()
    for e in range(epochs):
        acc = torch.zeros(M, device=vae.device)
        for _ in range(stream.n_batches):
            loss, _ = objective.loss(vae, _take(data, stream.next().to(vae.device)), rng)
            opt.step(loss.sum())
            acc += loss.detach()
        out[e] = (acc / stream.n_batches).cpu().numpy()
        if keep_best:
            cur = score()
            better = cur < best
            best = torch.where(better, cur, best)
            best_flat[better] = opt.flat[better]
    if keep_best:
        with torch.no_grad():
            opt.flat.copy_(best_flat)
        out[epochs] = best.cpu().numpy()
    return out


def init_ground_truth(vae: VAE, idx: Sequence[int], surrogates: Sequence[EnsembleMLP],
                      data: dict[str, torch.Tensor], objective: Objective, cfg: TrainConfig
                      ) -> dict[str, np.ndarray]:
    """Initialise members ``idx`` at the ground truth (App. D; see the module docstring).

    ``surrogates[j]`` is the fitted ground-truth network (an ``EnsembleMLP`` with M = 1)
    for member ``idx[j]``. Works on a sub-ensemble of ``cfg.gt_encoder_restarts``
    candidates per member. Returns, per member [len(idx)], the final loss of each phase
    (NaN for a phase that did not run), the start's loss ``gt_start_loss`` and the chosen
    candidate ``gt_encoder_choice``.
    """
    idx = list(idx)
    if len(surrogates) != len(idx):
        raise ValueError(f"need one surrogate per ground-truth member ({len(idx)}), got {len(surrogates)}")
    R = cfg.gt_encoder_restarts
    n = len(idx)
    # candidate c = j * R + r of member idx[j]; r = 0 is the member itself (seed and initial
    # encoder), r > 0 a fresh initialisation from a derived seed
    owner = [j for j in range(n) for _ in range(R)]
    if R == 1:
        sub = vae.subset(idx)
    else:
        seeds = [vae.seeds[idx[j]] if r == 0 else derive_seed(vae.seeds[idx[j]], f"gt-encoder/{r}")
                 for j in range(n) for r in range(R)]
        sub = type(vae)(vae.cfg, n * R, seeds=seeds).to(vae.device)
        with torch.no_grad():
            for c, j in enumerate(owner):
                if R > 1 and c % R == 0:
                    sub.load_member(c, vae.member_state(idx[j]))
                else:
                    sub.log_noise_var[c].copy_(vae.log_noise_var[idx[j]])
    sub_idx = [idx[j] for j in owner]
    sub_data = {k: v[sub_idx] for k, v in data.items()}
    if hasattr(objective, "subset"):         # per-member hyper-parameters (M2's alpha, gamma)
        objective = objective.subset(sub_idx)
    warm = objective.warm_start() if hasattr(objective, "warm_start") else GaussianRegression()
    nc = len(owner)
    out = {k: np.full(nc, np.nan) for k in ("gt_decoder_mse", "gt_warm_loss", "gt_fit_loss")}
    dec = sub.decoder
    need_fit = []
    for c, j in enumerate(owner):
        sur = surrogates[j]
        if not isinstance(sur, EnsembleMLP) or sur.n_models != 1:
            raise ValueError("a surrogate must be an EnsembleMLP with n_models = 1")
        if (sur.d_in, sur.d_out) != (dec.d_in, dec.d_out):
            raise ValueError(f"surrogate maps {sur.d_in} -> {sur.d_out}, the decoder "
                             f"{dec.d_in} -> {dec.d_out}: ground-truth init needs equal shapes")
        if sur.hidden == dec.hidden:
            dec.load_member(c, sur.member_state(0))
            out["gt_decoder_mse"][c] = 0.0
        else:
            need_fit.append(c)
    if need_fit:   # App. D: "initialised to the ground truth using full supervision"
        if "z" not in sub_data:
            raise ValueError("regressing the decoder onto a surrogate needs the true z ('z' in data)")
        out["gt_decoder_mse"][need_fit] = _regress_decoder(sub, need_fit, [surrogates[owner[c]] for c in range(nc)],
                                                           sub_data, cfg)
    if cfg.gt_warm_epochs:
        if "z" not in sub_data:
            raise ValueError("the ground-truth warm start needs the true z ('z' in data)")
        h = run_epochs(sub, warm, sub_data, epochs=cfg.gt_warm_epochs,
                       batch_size=cfg.batch_size, lr=cfg.lr, tag="gt-warm", groups=("encoder",))
        out["gt_warm_loss"] = h[-1]
    if cfg.gt_fit_epochs:
        h = run_epochs(sub, objective, sub_data, epochs=cfg.gt_fit_epochs, batch_size=cfg.batch_size,
                       lr=cfg.lr, tag="gt-fit", groups=("encoder",), keep_best=True)
        out["gt_fit_loss"] = h[-1]      # the best score (on a fixed training subset)
    # App. D: keep each member's best candidate (by the objective's score; ties: the first)
    score = out["gt_fit_loss"] if cfg.gt_fit_epochs else out["gt_warm_loss"]
    choice = np.zeros(n, dtype=np.int64)
    if R > 1:
        sc = np.where(np.isnan(score), np.inf, score).reshape(n, R)
        choice = sc.argmin(1)
    keep = [j * R + int(choice[j]) for j in range(n)]
    chosen = sub if R == 1 else sub.subset(keep)
    res = {k: v[keep] for k, v in out.items()}
    res["gt_encoder_choice"] = choice.astype(np.float64)
    obj_chosen = objective.subset(keep) if hasattr(objective, "subset") and R > 1 else objective
    res["gt_start_loss"] = epoch_loss(chosen, obj_chosen, {k: v[idx] for k, v in data.items()},
                                      batch_size=cfg.batch_size, tag="gt-start")
    vae.assign(idx, chosen)
    return res


@torch.no_grad()
def epoch_loss(vae: VAE, objective: Objective, data: dict[str, torch.Tensor], *, batch_size: int,
               tag: str) -> np.ndarray:
    """The mean mini-batch loss of one pass over ``data`` with no update [M], measured as
    an epoch of training measures it (own data order and noise stream per member)."""
    M = vae.n_models
    stream = BatchStream(data["x"].shape[1], batch_size, [derive_seed(s, tag + "/data") for s in vae.seeds])
    rng = MemberRNG([derive_seed(s, tag + "/noise") for s in vae.seeds], vae.device)
    acc = torch.zeros(M, device=vae.device)
    for _ in range(stream.n_batches):
        acc += objective.loss(vae, _take(data, stream.next().to(vae.device)), rng)[0]
    return (acc / stream.n_batches).cpu().numpy()


def _regress_decoder(sub: VAE, js: list[int], surrogates, data, cfg: TrainConfig) -> np.ndarray:
    """Fit decoders ``js`` of ``sub`` to their surrogates by MSE on the true training z."""
    z = data["z"]
    with torch.no_grad():
        target = torch.zeros(sub.n_models, z.shape[1], sub.cfg.data_dim, device=z.device)
        for j in js:
            inp = z[j:j + 1] if "y" not in data else torch.cat([z[j:j + 1], data["y"][j:j + 1]], -1)
            target[j] = surrogates[j].to(z.device)(inp)[0]
    mask = torch.zeros(sub.n_models, dtype=torch.bool, device=z.device)
    mask[js] = True
    d = {"z": z, "t": target}
    if "y" in data:
        d["y"] = data["y"]
    stream = BatchStream(z.shape[1], cfg.batch_size, [derive_seed(s, "gt-decoder/data") for s in sub.seeds])
    opt = EnsembleAdam({"decoder": list(sub.decoder.parameters())}, sub.n_models, cfg.lr)
    for _ in range(cfg.gt_decoder_epochs * stream.n_batches):
        b = _take(d, stream.next().to(z.device))
        mse = ((sub.decode(b["z"], b.get("y")) - b["t"]) ** 2).mean((1, 2))
        opt.step(mse.sum(), masks={"decoder": mask})
    with torch.no_grad():
        mse = ((sub.decode(z, data.get("y")) - target) ** 2).mean((1, 2))
    return mse[js].cpu().numpy()


def train_ensemble(arch: VAEConfig, cfg: TrainConfig, members: Sequence[Member],
                   train: Mapping, val: Mapping | None = None,
                   noise_var: float | Sequence | torch.Tensor = 1.0,
                   surrogates: Sequence[EnsembleMLP | None] | EnsembleMLP | None = None,
                   device: torch.device | str | None = None, progress: bool | None = None,
                   ) -> TrainResult:
    """Train ``len(members)`` VAEs as one ensemble (see the module docstring).

    train / val: dicts of arrays, ``"x"`` required ([M, N, D], or [N, D] shared by all
    members); ``"z"`` (true latents) is needed for ground-truth members; any other key
    (``"y"``, ``"label_mask"``) is batched alongside and handed to the objective.
    noise_var: fixed (or initial, if ``arch.learn_noise``) sigma^2: scalar, [D], [M], [M, D].
    surrogates: the ground-truth network for each member (None for random members), or
    one network for all. LIN needs ``val`` (its aggressive phase watches validation MI).
    History: ``train_loss`` [epochs, M] (mean outer-step loss per epoch), ``aggressive``
    [epochs, M] (LIN: aggressive during the epoch), ``inner_steps`` [epochs, M] (LIN encoder
    steps), ``val_mi`` [epochs, M] (NaN when not computed), and the ``gt_*`` losses [M].
    """
    members = list(members)
    M = len(members)
    if M == 0:
        raise ValueError("need at least one member")
    device = torch.device(device) if device is not None else default_device()
    data = _stack_data(train, M, device)
    vdata = _stack_data(val, M, device) if val is not None else None
    if data["x"].shape[-1] != arch.data_dim:
        raise ValueError(f"data has D={data['x'].shape[-1]}, the model expects {arch.data_dim}")
    if (cfg.method == "flow") != bool(arch.flow_layers) or (arch.flow_layers and arch.label is not None):
        raise ValueError(f"method 'flow' and a flow encoder (VAEConfig.flow_layers > 0, no labels) go "
                         f"together; got method {cfg.method!r} with flow_layers={arch.flow_layers}")
    if cfg.method == "lin" and vdata is None:
        raise ValueError("LIN needs validation data (its aggressive phase watches validation MI)")
    if cfg.stopping and vdata is None:
        raise ValueError("the stopping rule needs validation data (val)")
    t0 = time.perf_counter()
    vae = model_class(arch)(arch, M, seeds=[mb.seed for mb in members], noise_var=noise_var).to(device)
    objective = make_training_objective(arch, cfg, members)
    hist: dict[str, np.ndarray] = {k: np.full(M, np.nan) for k in GT_KEYS}

    gt_idx = [m for m, mb in enumerate(members) if mb.init == "gt"]
    if gt_idx:
        if surrogates is None:
            raise ValueError("ground-truth members need surrogates")
        surs = [surrogates] * M if isinstance(surrogates, EnsembleMLP) else list(surrogates)
        if len(surs) != M or any(surs[m] is None for m in gt_idx):
            raise ValueError("need a surrogate for every ground-truth member")
        res = init_ground_truth(vae, gt_idx, [surs[m] for m in gt_idx], data, objective, cfg)
        for k, v in res.items():
            hist[k][gt_idx] = v

    hist.update(_fit(vae, objective, data, vdata, cfg, members, q_mutual_info, progress))
    return TrainResult(vae, hist, cfg, members, time.perf_counter() - t0)


def make_training_objective(arch: VAEConfig, cfg: TrainConfig, members: Sequence[Member]) -> Objective:
    """The objective an ensemble trains: ELBO / IWAE (``objectives.make_objective``), or for
    a labelled architecture the M2 objective (App. B) with each member's alpha and gamma
    (S = ``cfg.iwae_samples`` importance samples for IWAE, the ELBO forms otherwise)."""
    if arch.label is None:
        return make_objective(cfg.method, cfg.iwae_samples)
    return M2Objective(alpha=tuple(mb.ss_alpha for mb in members), gamma=tuple(mb.ss_gamma for mb in members),
                       n_samples=cfg.iwae_samples if cfg.method == "iwae" else 1)


def _fit(vae, objective, data, vdata, cfg: TrainConfig, members, q_mutual_info, progress):
    """The main training phase (VAE / IWAE: plain Adam; LIN: aggressive schedule first)."""
    M, dev = vae.n_models, vae.device
    seeds = vae.seeds
    # true latents and hidden labels: ground-truth initialisation only
    data = {k: v for k, v in data.items() if k not in ("z", "y_true")}
    stream = BatchStream(data["x"].shape[1], cfg.batch_size, [derive_seed(s, "train/data") for s in seeds])
    rng = MemberRNG([derive_seed(s, "train/noise") for s in seeds], dev)
    warmup = [cfg.gt_lr_warmup_epochs * stream.n_batches if mb.init == "gt" else 0 for mb in members]
    opt = EnsembleAdam(vae.param_groups(), M, cfg.lr, warmup=warmup)
    lin = cfg.method == "lin"
    aggressive = torch.full((M,), lin, dtype=torch.bool, device=dev)
    if lin:
        inner_stream = BatchStream(data["x"].shape[1], cfg.batch_size,
                                   [derive_seed(s, "lin-inner/data") for s in seeds])
        inner_rng = MemberRNG([derive_seed(s, "lin-inner/noise") for s in seeds], dev)
        mi_rng = MemberRNG([derive_seed(s, "lin-mi/noise") for s in seeds], dev)
        T = torch.tensor([mb.lin_T for mb in members], device=dev)
        R = torch.tensor([mb.lin_R for mb in members], device=dev)
        prev_mi = torch.full((M,), -math.inf, device=dev)
    E = cfg.epochs
    hist = {"train_loss": np.zeros((E, M)), "aggressive": np.zeros((E, M), dtype=bool),
            "inner_steps": np.zeros((E, M), dtype=np.int64), "val_mi": np.full((E, M), np.nan),
            "epochs_used": np.full(M, E, dtype=np.int64)}
    stopper = _Stopping(vae, objective, vdata, cfg, opt) if cfg.stopping else None
    bar = None
    if progress_enabled(progress) and E > 1:
        from tqdm.auto import tqdm   # lazy: in a notebook kernel without ipywidgets its import warns on stderr
        bar = tqdm(total=E, desc=f"{cfg.method} x{M}", unit="epoch", leave=False)
    for e in range(E):
        acc = torch.zeros(M, device=dev)
        inner = torch.zeros(M, dtype=torch.long, device=dev)
        hist["aggressive"][e] = aggressive.cpu().numpy()
        act = None if stopper is None or stopper.all_active else stopper.active   # None: all step
        rng.active = act
        for _ in range(stream.n_batches):
            batch = _take(data, stream.next(act).to(dev))
            if lin and bool(aggressive.any()):
                inner += _lin_inner(vae, objective, batch, data, inner_stream, inner_rng, opt,
                                    T, R, cfg.lin_max_inner, aggressive)
            loss, _ = objective.loss(vae, batch, rng)
            enc_mask = (~aggressive) if lin and bool(aggressive.any()) else act
            opt.step(loss.sum(), masks={"encoder": enc_mask, "decoder": act})
            acc += loss.detach()
        hist["train_loss"][e] = (acc / stream.n_batches).cpu().numpy()
        if act is not None:
            hist["train_loss"][e][~act.cpu().numpy()] = np.nan
        if stopper is not None:
            stopper.after_epoch(e + 1, last=e + 1 == E)
            if not bool(stopper.active.any()):
                hist["train_loss"] = hist["train_loss"][: e + 1]
                for k in ("aggressive", "inner_steps", "val_mi"):
                    hist[k] = hist[k][: e + 1]
                if bar is not None:
                    bar.update(1)
                break
        hist["inner_steps"][e] = inner.cpu().numpy()
        if lin and bool(aggressive.any()):
            mi_rng.active = aggressive
            mi = q_mutual_info(vae, vdata["x"], mi_rng, batch=cfg.lin_mi_batch)
            hist["val_mi"][e] = np.where(aggressive.cpu().numpy(), mi.cpu().numpy(), np.nan)
            stop = aggressive & (mi - prev_mi < 0)
            prev_mi = torch.where(aggressive, mi, prev_mi)
            aggressive = aggressive & ~stop
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{float(hist['train_loss'][e].mean()):.3f}")
    if bar is not None:
        bar.close()
    rng.active = None
    if stopper is not None:
        hist.update(stopper.finish())
    return hist


class _Stopping:
    """The validation stopping rule of ``_fit`` (module docstring), per member."""

    def __init__(self, vae, objective, vdata, cfg: TrainConfig, opt: EnsembleAdam):
        M, dev = vae.n_models, vae.device
        self.vae, self.objective, self.cfg, self.opt = vae, objective, cfg, opt
        self.vdata = {k: v for k, v in vdata.items() if k not in ("z", "y_true")}
        self.active = torch.ones(M, dtype=torch.bool, device=dev)
        self.best = torch.full((M,), math.inf, dtype=torch.float64)
        self.best_flat = opt.flat.detach().clone()
        self.best_epoch = np.zeros(M, dtype=np.int64)
        self.epochs_used = np.full(M, cfg.epochs, dtype=np.int64)
        self.bad = np.zeros(M, dtype=np.int64)
        self.checks: list[np.ndarray] = []

    @property
    def all_active(self) -> bool:
        return bool(self.active.all())

    @torch.no_grad()
    def value(self) -> torch.Tensor:
        """The training objective on the whole validation set, [M] (float64), with the same
        noise draws at every check (a fresh stream from fixed per-member seeds)."""
        vae, n = self.vae, self.vdata["x"].shape[1]
        rng = MemberRNG([derive_seed(s, "stop/val-noise") for s in vae.seeds], vae.device)
        tot = torch.zeros(vae.n_models, dtype=torch.float64)
        chunk = 1000
        for _ in range(self.cfg.stop_repeats):
            for a in range(0, n, chunk):
                b = min(n, a + chunk)
                loss, _ = self.objective.loss(vae, {k: v[:, a:b] for k, v in self.vdata.items()}, rng)
                tot += loss.double().cpu() * (b - a)
        return tot / (self.cfg.stop_repeats * n)

    def after_epoch(self, epoch: int, last: bool) -> None:
        if epoch % self.cfg.stop_every and not last:
            return
        act = self.active.cpu()
        v = self.value()
        self.checks.append(np.where(act.numpy(), v.numpy(), np.nan))
        better = act & (v < self.best - self.cfg.stop_min_delta)
        self.best = torch.where(better, v, self.best)
        b = better.to(self.opt.flat.device)
        self.best_flat[b] = self.opt.flat.detach()[b]
        bn, an = better.numpy(), act.numpy()
        self.best_epoch[bn] = epoch
        self.bad = np.where(bn, 0, self.bad + an)
        done = an & (self.bad >= self.cfg.stop_patience)
        self.epochs_used[done] = epoch
        self.active = self.active & ~torch.as_tensor(done, device=self.active.device)

    def finish(self) -> dict[str, np.ndarray]:
        """Every member back at its best check; the rule's history."""
        with torch.no_grad():
            self.opt.flat.copy_(self.best_flat)
        return {"epochs_used": self.epochs_used.copy(), "best_epoch": self.best_epoch.copy(),
                "val_check": np.stack(self.checks) if self.checks else np.zeros((0, len(self.bad)))}


def _lin_inner(vae, objective, first_batch, data, stream, rng, opt, T, R, max_inner, aggressive):
    """LIN's aggressive inner loop (encoder only) for the members in ``aggressive``.
    Returns the number of inner steps each member took [M]."""
    M, dev = vae.n_models, vae.device
    active = aggressive.clone()
    k = torch.zeros(M, dtype=torch.long, device=dev)
    win = torch.zeros(M, device=dev)
    prev = torch.full((M,), math.inf, device=dev)
    batch = first_batch
    for _ in range(max_inner):
        rng.active = active
        loss, _ = objective.loss(vae, batch, rng)
        opt.step(loss.sum(), masks={"encoder": active})
        k += active.long()
        win += torch.where(active, loss.detach(), torch.zeros_like(win))
        check = active & (k % R == 0)
        if bool(check.any()):
            cur = win / R
            stop = check & (prev - cur < T)
            prev = torch.where(check, cur, prev)
            win = torch.where(check, torch.zeros_like(win), win)
            active = active & ~stop
        if not bool(active.any()):
            break
        batch = _take(data, stream.next(active).to(dev))
    return k



# --------------------------------------------------------------------------------------
# Ensemble size with the best CPU throughput
# --------------------------------------------------------------------------------------
#: ensemble sizes ``cpu_ensemble_size`` compares
CPU_SIZE_CANDIDATES = (5, 10, 20, 30, 40, 60)
_SIZE_MEMO: dict[tuple, int] = {}


def fastest_size(rates: Mapping[int, float]) -> int:
    """The ensemble size with the lowest time per model (``rates``: M -> seconds per
    model-step or model-epoch); a tie goes to the smaller M."""
    if not rates:
        raise ValueError("no rates to choose from")
    return min(sorted(rates), key=lambda m: rates[m])


def size_rates(data_dim: int = 2, latent_dim: int = 1, hidden: Sequence[int] = (50, 50, 50),
               batch_size: int = 100, candidates: Sequence[int] = CPU_SIZE_CANDIDATES,
               steps: int = 15, repeats: int = 2) -> dict[int, float]:
    """Seconds per model-step of ELBO training (the trainer's step: data order, noise,
    loss, gradient, ``EnsembleAdam``) for an ensemble of each size in ``candidates``, on
    the CPU with torch's current threads: the minimum over ``repeats`` runs of ``steps``
    steps after one untimed step, on random data (the timing does not depend on it)."""
    arch = VAEConfig(int(data_dim), int(latent_dim), hidden=tuple(int(h) for h in hidden))
    objective = make_objective("vae", 1)
    out = {}
    for M in sorted({int(m) for m in candidates}):
        if M < 1:
            raise ValueError(f"ensemble sizes must be >= 1, got {M}")
        seeds = list(range(M))
        n = 10 * batch_size
        data = {"x": torch.randn(M, n, arch.data_dim, generator=torch.Generator().manual_seed(0))}
        vae = VAE(arch, M, seeds=seeds)
        stream = BatchStream(n, batch_size, seeds)
        rng = MemberRNG(seeds)
        opt = EnsembleAdam(vae.param_groups(), M)

        def one():
            loss, _ = objective.loss(vae, _take(data, stream.next()), rng)
            opt.step(loss.sum())

        one()
        best = math.inf
        for _ in range(max(1, repeats)):
            t0 = time.perf_counter()
            for _ in range(steps):
                one()
            best = min(best, time.perf_counter() - t0)
        out[M] = best / (steps * M)
    return out


def cpu_ensemble_size(data_dim: int = 2, latent_dim: int = 1, hidden: Sequence[int] = (50, 50, 50),
                      batch_size: int = 100, candidates: Sequence[int] = CPU_SIZE_CANDIDATES,
                      steps: int = 15, repeats: int = 2) -> int:
    """The ensemble size (one of ``candidates``) with the best measured training
    throughput on this CPU for this architecture: ``fastest_size(size_rates(...))``, a
    calibration of a few seconds, measured once per process and architecture (memoised).

    Only speed depends on it, in distribution: a member's result does not depend on the
    other members, but its last bits can depend on the ensemble size M (ATen's vectorised
    kernels round a value by where it sits in the [M, ...] tensor; see
    ``tests/test_train.py``), and a timing is not reproducible, so the sweeps use it only
    when asked (``plan_groups(max_models="auto")``); their default grouping (the profile's
    ``max_models``) and with it every cached record stay as they are."""
    key = (int(data_dim), int(latent_dim), tuple(int(h) for h in hidden), int(batch_size),
           tuple(sorted(int(m) for m in candidates)), torch.get_num_threads())
    if key not in _SIZE_MEMO:
        _SIZE_MEMO[key] = fastest_size(size_rates(data_dim, latent_dim, hidden, batch_size, candidates,
                                                  steps, repeats))
    return _SIZE_MEMO[key]
