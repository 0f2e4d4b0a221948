"""Ensemble MLPs: M independent networks evaluated as one batched network.

Every weight has a leading "model" axis, so a layer is one ``torch.baddbmm`` call for
all M models. Because the loss of the ensemble is the *sum* of the per-model losses and
Adam is element-wise, training the ensemble is the same as training each member alone
(same seed, same data order) up to floating-point tolerance.

Shapes: inputs ``[M, B, in]`` -> outputs ``[M, B, out]``. A single model is ``M = 1``;
there is no separate single-model class, so the surrogate of the ground truth
(App. G/H) and the VAE decoders are literally the same architecture family.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

#: Paper, App. D: 3 hidden layers of 50 leaky-ReLU units (100 for the UCI data sets).
HIDDEN_SYNTHETIC = (50, 50, 50)
HIDDEN_UCI = (100, 100, 100)


def _member_generators(seeds: Sequence[int]) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(int(s)) for s in seeds]


class MemberMixin:
    """Moving single members in and out of a module whose every parameter and buffer
    carries the leading model axis (shared by ``EnsembleMLP`` and ``objectives.VAE``)."""

    @torch.no_grad()
    def member_state(self, m: int) -> dict[str, torch.Tensor]:
        """Parameters and buffers of member m (leading axis of size 1), detached copies."""
        return {k: v[m : m + 1].detach().clone() for k, v in self.state_dict().items()}

    @torch.no_grad()
    def load_member(self, m: int, state: dict[str, torch.Tensor]) -> None:
        """Copy a one-member state (e.g. a fitted surrogate, M=1) into slot m."""
        own = self.state_dict()
        for k, v in state.items():
            if k not in own:
                raise KeyError(f"unexpected parameter {k!r}")
            own[k][m].copy_(torch.as_tensor(v).reshape(own[k][m].shape))


class EnsembleLinear(nn.Module):
    """M independent affine maps: ``y[m] = x[m] @ W[m] + b[m]``."""

    def __init__(self, n_models: int, d_in: int, d_out: int):
        super().__init__()
        self.n_models, self.d_in, self.d_out = n_models, d_in, d_out
        self.weight = nn.Parameter(torch.empty(n_models, d_in, d_out))
        self.bias = nn.Parameter(torch.empty(n_models, 1, d_out))

    @torch.no_grad()
    def reset_parameters(self, generators: Sequence[torch.Generator]) -> None:
        """PyTorch's nn.Linear default init (Kaiming-uniform, a=sqrt(5)), one generator
        per member so that member m does not depend on how many members there are."""
        bound = 1.0 / math.sqrt(self.d_in)
        for m, g in enumerate(generators):
            w = torch.empty(self.d_in, self.d_out).uniform_(-bound, bound, generator=g)
            b = torch.empty(1, self.d_out).uniform_(-bound, bound, generator=g)
            self.weight[m].copy_(w)
            self.bias[m].copy_(b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


class EnsembleMLP(MemberMixin, nn.Module):
    """M independent MLPs with leaky-ReLU hidden layers and a linear output layer."""

    def __init__(
        self,
        n_models: int,
        d_in: int,
        d_out: int,
        hidden: Sequence[int] = HIDDEN_SYNTHETIC,
        seeds: Sequence[int] | None = None,
        negative_slope: float = 0.01,
    ):
        super().__init__()
        self.n_models, self.d_in, self.d_out = n_models, d_in, d_out
        self.hidden = tuple(hidden)
        self.negative_slope = negative_slope
        dims = [d_in, *self.hidden, d_out]
        self.layers = nn.ModuleList(
            EnsembleLinear(n_models, a, b) for a, b in zip(dims[:-1], dims[1:])
        )
        self.reset_parameters(range(n_models) if seeds is None else seeds)

    def reset_parameters(self, seeds: Sequence[int]) -> None:
        seeds = list(seeds)
        if len(seeds) != self.n_models:
            raise ValueError(f"need {self.n_models} seeds, got {len(seeds)}")
        gens = _member_generators(seeds)
        for layer in self.layers:
            layer.reset_parameters(gens)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[0] != self.n_models or x.shape[-1] != self.d_in:
            raise ValueError(
                f"expected input [M={self.n_models}, B, {self.d_in}], got {list(x.shape)}"
            )
        h = x
        last = len(self.layers) - 1
        # the layers' arithmetic without module calls; leaky ReLU in place on the fresh
        # baddbmm output (its backward reads the output, baddbmm's does not)
        for i, layer in enumerate(self.layers):
            h = torch.baddbmm(layer.bias, h, layer.weight)
            if i < last:
                h = (nn.functional.leaky_relu_(h, self.negative_slope) if self.negative_slope > 0
                     else nn.functional.leaky_relu(h, self.negative_slope))
        return h

    @classmethod
    def from_members(cls, states: Sequence[dict[str, torch.Tensor]], **kwargs) -> "EnsembleMLP":
        """Stack one-member states into a new ensemble (kwargs: d_in, d_out, hidden)."""
        net = cls(len(states), **kwargs)
        for m, s in enumerate(states):
            net.load_member(m, s)
        return net
