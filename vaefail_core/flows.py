"""A conditional normalizing flow for q(z | x), batched over ensemble members (issue 15).

The variational family of method "flow" (``objectives.FlowVAE``)::

    eps ~ N(0, I_K),   u = T_L( ... T_1(eps; x) ... ; x),   z = mu(x) + sigma(x) * u

i.e. the Gaussian encoder's z0 = mu + sigma * eps with L conditional, invertible layers
inserted before its affine map (the flow acts in the encoder's standardised coordinate,
so the spline's knots sit where q's mass is, in units of sigma(x), whatever the scale of
q). With every T_l the identity, q is exactly the Gaussian encoder N(mu(x), sigma(x)^2);
the flow is initialised there (the last layer of every conditioner is zero).

Each layer T_l is a monotone rational-quadratic spline (Durkan et al. 2019, "Neural
Spline Flows") on [-B, B] with ``n_bins`` bins and identity (linear) tails, whose bin
widths, heights and knot derivatives come from an ensemble MLP (``nets.EnsembleMLP``,
the App. D architecture) of

* x alone, transforming every latent dimension element-wise, when K = 1 (a coupling
  layer has no other half to condition on; a 1-D spline can still make q skewed or
  multi-modal, the shapes of the posteriors of Sec. 5). One network of x gives all L
  layers' parameters (the layers compose to one monotone map with L x n_bins pieces;
  one network instead of L keeps the cost of a layer to the spline arithmetic);
* x and the untouched half of u, transforming the other half, when K > 1 (affine-coupling
  style, Dinh et al. 2017, with a spline as the element-wise map): layer l transforms the
  dimensions d with d % 2 == l % 2, so use L >= 2 to transform every dimension.

log q(z | x) = log N(eps; 0, I) - sum_l log |det dT_l| - sum_k log sigma_k(x), exact; the
inverse (needed for log q at a given z: the ground-truth warm start fits q to the true
latents by maximum likelihood, and the tests integrate q on a grid) is analytic (a
quadratic per dimension).

Why not a flow library (e.g. ``zuko``)? Its transforms own their conditioner networks
(``nn.Linear`` without a member axis), so an M-member ensemble would be M modules and M
forward passes, breaking the one-batched-matmul design of ``nets.EnsembleMLP`` and the
flat [M, P] parameter buffer of ``train.EnsembleAdam`` (per-member Adam, masks, and
"member in an ensemble == member trained alone"). Here every weight has the leading
member axis and the spline itself has no weights, only the conditioners' outputs.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .nets import EnsembleMLP

__all__ = ["FLOW_BOUND", "FLOW_BINS", "rq_spline", "spline_table", "rq_apply", "ConditionalSplineFlow",
           "coupling_split"]

#: the spline acts on [-B, B] of the standardised coordinate (identity outside)
FLOW_BOUND = 5.0
#: bins per spline (the default of ``VAEConfig.flow_bins``)
FLOW_BINS = 8
MIN_SIZE = 1e-3          # smallest bin width and height, as a share of 2B
MIN_DERIV = 1e-3
#: softplus(_DERIV_SHIFT) + MIN_DERIV == 1: zero conditioner output gives slope 1 at every knot
_DERIV_SHIFT = math.log(math.expm1(1.0 - MIN_DERIV))


def rq_spline(x: torch.Tensor, w: torch.Tensor, h: torch.Tensor, d: torch.Tensor,
              bound: float = FLOW_BOUND, inverse: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Monotone rational-quadratic spline on [-B, B], identity outside (Durkan et al.
    2019, Eqs. 4-6 and App. A).

    x [...]; w, h [..., n] unnormalised bin widths and heights; d [..., n - 1]
    unnormalised interior knot derivatives (knots at +-B have slope 1, so the map is C1
    with its identity tails). The parameters may broadcast against x (e.g. one set per x
    for many samples of z). Returns (y, log |dy/dx|), each [...]; with ``inverse`` the
    inverse map and its log-derivative. All-zero parameters give the identity.
    """
    return rq_apply(x, spline_table(w, h, d, bound), bound, inverse)


def spline_table(w: torch.Tensor, h: torch.Tensor, d: torch.Tensor, bound: float = FLOW_BOUND
                 ) -> torch.Tensor:
    """The knots of ``rq_spline``'s spline as one table [..., 6, n]: rows are the left
    x-knots, the left y-knots, the bin widths, the bin heights, and the slopes at the
    left and right knot of each bin (so that one gather picks a bin's values)."""
    n = w.shape[-1]
    # widths and heights together: sizes in (0, 1) summing to 1 (zero input: equal bins)
    size = MIN_SIZE + (1 - MIN_SIZE * n) * torch.softmax(torch.stack([w, h], -2), dim=-1)
    left = 2 * bound * F.pad(torch.cumsum(size[..., :-1], dim=-1), (1, 0)) - bound
    deriv = F.pad(MIN_DERIV + F.softplus(d + _DERIV_SHIFT), (1, 1), value=1.0)     # [..., n + 1]
    return torch.cat([left, 2 * bound * size, deriv[..., None, :-1], deriv[..., None, 1:]], dim=-2)


def rq_apply(x: torch.Tensor, table: torch.Tensor, bound: float = FLOW_BOUND, inverse: bool = False
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """``rq_spline`` with its knots given as ``spline_table``'s table [..., 6, n]
    (broadcasting against x [...])."""
    n = table.shape[-1]
    table = table.expand(*x.shape, 6, n)
    inside = (x > -bound) & (x < bound)
    xc = x.clamp(-bound, bound)          # the unused branch stays finite (no NaN gradients)
    knots = table[..., 1 if inverse else 0, :]
    idx = ((xc[..., None] >= knots).sum(-1, keepdim=True) - 1).clamp(0, n - 1)     # the bin [..., 1]
    x_k, y_k, w_k, h_k, d_k, d_k1 = table.gather(-1, idx[..., None, :].expand(*x.shape, 6, 1))[..., 0].unbind(-1)
    s = h_k / w_k
    if inverse:
        dy = xc - y_k
        a = h_k * (s - d_k) + dy * (d_k1 + d_k - 2 * s)
        b = h_k * d_k - dy * (d_k1 + d_k - 2 * s)
        c = -s * dy
        disc = (b * b - 4 * a * c).clamp(min=0.0)
        theta = (2 * c / (-b - torch.sqrt(disc))).clamp(0.0, 1.0)
        out = theta * w_k + x_k
    else:
        theta = ((xc - x_k) / w_k).clamp(0.0, 1.0)
    tt = theta * (1 - theta)
    denom = s + (d_k1 + d_k - 2 * s) * tt
    if not inverse:
        out = y_k + h_k * (s * theta * theta + d_k * tt) / denom
    logdet = (2 * torch.log(s) + torch.log(d_k1 * theta * theta + 2 * s * tt + d_k * (1 - theta) ** 2)
              - 2 * torch.log(denom))
    if inverse:
        logdet = -logdet
    return torch.where(inside, out, x), torch.where(inside, logdet, torch.zeros_like(logdet))


def coupling_split(latent_dim: int, layer: int) -> tuple[list[int], list[int]]:
    """(conditioning dims, transformed dims) of layer ``layer``: for K = 1 none and [0]
    (element-wise, conditioned on x only); for K > 1 the dims d with d % 2 != layer % 2
    condition the dims with d % 2 == layer % 2."""
    if latent_dim == 1:
        return [], [0]
    trans = [k for k in range(latent_dim) if k % 2 == layer % 2]
    return [k for k in range(latent_dim) if k % 2 != layer % 2], trans


class ConditionalSplineFlow(nn.Module):
    """L conditional spline layers for M ensemble members (see the module docstring).

    ``forward(u, x)``: u [M, ..., B, K] (any middle axes, e.g. importance samples), x
    [M, B, D] -> (T(u), sum_l log |det dT_l|) of shapes [M, ..., B, K] and [M, ..., B].
    ``inverse(v, x)`` likewise for T^{-1}.

    Conditioners (``EnsembleMLP``, hidden layers initialised as usual from the member
    seeds, output layer zero so that the flow starts at the identity): for K = 1 one
    network of x gives the parameters of all L layers (they all depend on x alone, so
    one pass per x serves every layer and every sample of z; ``seeds[0]``); for K > 1
    layer l has its own network of (x, the untouched half of u) (``seeds[l]``).
    """

    def __init__(self, n_models: int, data_dim: int, latent_dim: int, n_layers: int,
                 hidden: Sequence[int], seeds: Sequence[Sequence[int]], n_bins: int = FLOW_BINS,
                 bound: float = FLOW_BOUND):
        super().__init__()
        if n_layers < 1 or n_bins < 2:
            raise ValueError(f"a flow needs n_layers >= 1 and n_bins >= 2, got {n_layers}, {n_bins}")
        if len(seeds) != n_layers:
            raise ValueError(f"need one seed list per layer ({n_layers}), got {len(seeds)}")
        self.n_models, self.data_dim, self.latent_dim = n_models, data_dim, latent_dim
        self.n_layers, self.n_bins, self.bound = n_layers, n_bins, float(bound)
        self.n_params = 3 * n_bins - 1          # widths, heights, interior derivatives
        self.splits = [coupling_split(latent_dim, l) for l in range(n_layers)]
        if latent_dim == 1:
            shapes = [(data_dim, n_layers * self.n_params, seeds[0])]
        else:
            shapes = [(data_dim + len(c), len(t) * self.n_params, seeds[l])
                      for l, (c, t) in enumerate(self.splits)]
        self.conditioners = nn.ModuleList()
        for d_in, d_out, sd in shapes:
            net = EnsembleMLP(n_models, d_in, d_out, hidden, seeds=sd)
            with torch.no_grad():
                net.layers[-1].weight.zero_()
                net.layers[-1].bias.zero_()
            self.conditioners.append(net)

    def _params(self, l: int, u: torch.Tensor, x: torch.Tensor):
        """Spline parameters of coupling layer l (K > 1), [M, ..., B, |trans|, 3n - 1]."""
        cond, trans = self.splits[l]
        mid = u.shape[1:-2]
        P = self.n_params
        xe = x.view(self.n_models, *(1,) * len(mid), *x.shape[1:]).expand(*u.shape[:-1], x.shape[-1])
        inp = torch.cat([xe, u[..., cond]], -1).reshape(self.n_models, -1, x.shape[-1] + len(cond))
        return self.conditioners[l](inp).view(*u.shape[:-1], len(trans), P)

    def _run(self, u: torch.Tensor, x: torch.Tensor, inverse: bool) -> tuple[torch.Tensor, torch.Tensor]:
        logdet = torch.zeros(u.shape[:-1], dtype=u.dtype, device=u.device)
        n, P, L = self.n_bins, self.n_params, self.n_layers
        order = reversed(range(L)) if inverse else range(L)
        if self.latent_dim == 1:     # every layer's knots from one pass of one network of x
            h = self.conditioners[0](x).view(self.n_models, x.shape[1], L, P)
            tables = spline_table(h[..., :n], h[..., n:2 * n], h[..., 2 * n:], self.bound)   # [M, B, L, 6, n]
            view = (self.n_models, *(1,) * (u.dim() - 3), x.shape[1], 1, 6, n)
            for l in order:
                u, ld = rq_apply(u, tables[:, :, l].reshape(view), self.bound, inverse)
                logdet = logdet + ld[..., 0]
            return u, logdet
        for l in order:
            h = self._params(l, u, x)
            trans = self.splits[l][1]
            idx = torch.as_tensor(trans, device=u.device)
            y, ld = rq_spline(u.index_select(-1, idx), h[..., :n], h[..., n:2 * n], h[..., 2 * n:],
                              self.bound, inverse)
            u, logdet = u.index_copy(-1, idx, y), logdet + ld.sum(-1)
        return u, logdet

    def forward(self, u: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self._run(u, x, inverse=False)

    def inverse(self, v: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self._run(v, x, inverse=True)
