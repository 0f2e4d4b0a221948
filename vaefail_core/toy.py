"""The small 1-D models of Sec. 5.2 (Figs. 2 and 3).

Figure 2 (non-identifiability). With a uniform prior ``z ~ U(0, 1)``, the data marginal
``p(x)`` depends on f only through the distribution of ``f(z)``. Re-arranging [0, 1] by
any measure-preserving map therefore leaves ``p(x)`` unchanged while changing every
posterior. We build three such variants from one "profile" ``g(u) = sin(pi u / 2)``:

* ``variant 1``: ``f(z) = sin(pi z)`` (both ends of [0, 1] decode to the same x, so
  posteriors are bimodal);
* ``variant 2``: its increasing re-arrangement ``f(z) = sin(pi z / 2)`` (monotone, each x
  has one z: unimodal posteriors);
* ``variant 3``: variant 2 composed with a block permutation of [0, 1] (four blocks,
  order 2, 0, 3, 1), a jagged f whose posteriors are again multi-modal.

All three push U(0, 1) to the same distribution of f(z) (an arcsine-type law), hence the
same ``p(x)`` after adding noise. The paper's own variants are only shown as pictures;
these are our constructions with the same property.

Figure 3 / Eq. 7: ``z ~ N(0, 1)``, ``f(z) = floor(z)``.
"""
from __future__ import annotations

import numpy as np
import torch

FIG2_NOISE_VAR = 0.01
#: Eq. 7 does not state sigma^2; we use 0.05 (sd ~0.22, a fifth of a step).
FIG3_NOISE_VAR = 0.05
_BLOCKS = (2, 0, 3, 1)


def _block_permutation(z: torch.Tensor) -> torch.Tensor:
    """Measure-preserving map of [0, 1]: block i of four goes to position _BLOCKS[i]."""
    zc = z.clamp(0.0, 1.0 - 1e-12)
    block = torch.floor(zc * 4).long()
    offset = zc * 4 - block
    target = torch.tensor(_BLOCKS, dtype=torch.long)[block]
    return (target + offset) / 4


def fig2_variants() -> dict[str, callable]:
    """Name -> f(z) (torch, z in [0, 1]) for the three Figure-2 variants."""
    return {
        "variant 1": lambda z: torch.sin(torch.pi * z.clamp(0, 1)),
        "variant 2": lambda z: torch.sin(torch.pi * z.clamp(0, 1) / 2),
        "variant 3": lambda z: torch.sin(torch.pi * _block_permutation(z) / 2),
    }


def uniform_log_prior(z: torch.Tensor, lo: float = 0.0, hi: float = 1.0) -> torch.Tensor:
    """log density of U(lo, hi) on a grid (-inf outside), for ``posterior.*(log_prior=...)``."""
    inside = (z >= lo) & (z <= hi)
    return torch.where(inside, torch.full_like(z, -np.log(hi - lo)), torch.full_like(z, -np.inf))


def floor_f(z: torch.Tensor) -> torch.Tensor:
    """Eq. 7: ``f(z) = floor(z)``."""
    return torch.floor(z)
