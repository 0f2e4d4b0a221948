"""vaefail_core: a small torch core reproducing "Failure Modes of Variational
Autoencoders and Their Effects on Downstream Tasks" (Yacoby, Pan, Doshi-Velez).

Modules, from the lower layers up (one concept each; no module imports one above it):
  nets        ensemble MLPs (M independent models as one batched model)
  cache       atomic writes and the config-hash cache
  posterior   exact posteriors on a z-grid, log p(x) by quadrature, MLEO/PMO split
  linear      closed forms for linear-Gaussian models (Sec. 5.2, Eq. 6; Sec. 6)
  toy         the 1-D models of Figs. 2-3
  metrics     smooth kNN statistic, KSG mutual information, Eq. 9 noise estimate
  datasets/   closed-form ground truths and their fitted surrogate networks
  data        the benchmark data sets (App. G, H; Sec. 8 embedding; UCI)
  uci         the three UCI data sets and their splits (App. D)
  objectives  the VAE and M2 models, ELBO and IWAE objectives
  m2          the semi-supervised M2 bounds, objectives and evaluation (App. B, Sec. 7)
  evaluate    per-member bounds, samples, learned f and posteriors, kNN, Eq. 9
  train       batched-ensemble trainer, LIN schedule, ground-truth start, stopping rule
  profiles    quick / reduced / paper: how much of App. D a run reproduces
  plots       shared figure helpers, the empty-panel check
  tables      DataFrames as HTML tables on a page
  sweep       task lists -> resumable, verifiable results cache; the missing-record policy
  dask_map    sweeps on a Dask cluster
  paper/      the book's pages, one module each, above everything else: the paper's
              sections (sec5_2, sec5, sec6, sec7, sec8) and appendices (appA_C, appD,
              appE3, appF), the records behind them (records: the named sweeps and the
              one missing-record policy), the robustness of the orderings (robustness),
              the paper's numbers (reference), the verdict rule (verdict), the claims
              registry (claims) and the scorecard
  diagnose    ``vaefail diagnose``: Section 9's checks on a user's data
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
