"""vaefail_core: a small torch core reproducing "Failure Modes of Variational
Autoencoders and Their Effects on Downstream Tasks" (Yacoby, Pan, Doshi-Velez).

Modules (one concept each):
  nets        ensemble MLPs (M independent models as one batched model)
  posterior   exact posteriors on a z-grid, log p(x) by quadrature, MLEO/PMO split
  linear      closed forms for linear-Gaussian models (Sec. 5.2, Eq. 6; Sec. 6)
  data        the benchmark data sets (App. G, H; Sec. 8 embedding; UCI)
  metrics     smooth kNN statistic, KSG mutual information, Eq. 9 noise estimate
  toy         the 1-D models of Figs. 2-3
  objectives  the VAE model, ELBO and IWAE objectives (M2 plugs in here)
  train       batched-ensemble trainer, LIN schedule, ground-truth initialisation
  evaluate    per-member bounds, samples, learned f and posteriors, kNN, Eq. 9
  profiles    quick / reduced / paper: how much of App. D a run reproduces
  sweep       task lists -> resumable, verifiable results cache
  experiments one function per paper table / figure family
  cache       atomic writes and the config-hash cache
  plots       shared figure helpers, the empty-panel check
  tables      DataFrames as HTML tables on a page
  cli         the `vaefail` command
"""
from __future__ import annotations

import os
import random

import numpy as np
import torch

__version__ = "0.1.0"

#: Torch threads used everywhere (results must not depend on the machine). One thread:
#: on a shared 2-core box OpenMP threads waiting at barriers slow small matmuls many
#: times over; sweeps get their parallelism from worker processes instead.
TORCH_THREADS = int(os.environ.get("VAEFAIL_THREADS", "1"))


def set_seed(seed: int, threads: int | None = None) -> None:
    """Seed python, numpy and torch, and fix the torch thread count."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads or TORCH_THREADS)


def default_device() -> torch.device:
    """CPU unless CUDA is available (same code on both)."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
