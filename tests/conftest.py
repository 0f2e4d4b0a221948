"""Shared test helpers: the noisy-circle sample of the trainer and flow tests."""
from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm

#: noise variance of the circle sample (``circle``)
CIRCLE_NOISE = 0.01


def circle(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n points of a unit circle parametrised by z ~ N(0, 1), with Gaussian noise of
    variance ``CIRCLE_NOISE``: (x [n, 2], z [n, 1]), float32."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 1))
    u = 2 * np.pi * norm.cdf(z)
    x = np.concatenate([np.cos(u), np.sin(u)], 1) + math.sqrt(CIRCLE_NOISE) * rng.standard_normal((n, 2))
    return x.astype(np.float32), z.astype(np.float32)
