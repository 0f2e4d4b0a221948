"""Closed-form ground-truth decoders f_GT of the paper's benchmark data sets.

Each function maps numpy arrays to numpy arrays (float64):
``z`` is ``[N, K]`` (``K = 1`` for all the non-linear examples), ``y`` is ``[N]`` or
``None``; the result is ``[N, D]``. These are the functions the surrogate networks are
fitted to (App. G/H: "fit a surrogate neural network by full supervision until the
MSE < 1e-4, and generate the data from the surrogate").

Sources, equation by equation:
  figure8                Eq. 33 (App. G.1), noise variance 0.02
  circle                 Eq. 34 (App. G.2), noise variance 0.01
  absolute_value         Sec. 6 ("f(z) = |z|") and Eq. 35 (App. G.3), noise 0.01;
                         see the note in :func:`absolute_value`
  clusters               Eq. 36 (App. G.4), noise variance 0.2
  spiral_dots            Eq. 37 (App. G.5), noise variance 0.01
  semicircle_discrete    Eq. 38 (App. H.1), noise variance 0.01
  semicircle_continuous  Eq. 39 (App. H.2), noise variance not stated; we use 0.01
                         (the value of its discrete twin)
  linear_cholesky        Eq. 6 (Sec. 5.2) with footnotes 1-2
  5-D embeddings         Sec. 8, footnote 3: x = f(z) @ A with A of shape [2, 5]
"""
from __future__ import annotations

import numpy as np
from scipy import stats

#: Sec. 8, footnote 3: the linear map that embeds the 2-D Figure-8 / Clusters data in 5-D.
#: A point f(z) in R^2 (a row vector) is sent to f(z) @ EMBED_5D in R^5.
EMBED_5D = np.array(
    [[1.0, 0.0, 0.5, 0.2, -0.8],
     [0.0, 1.0, -0.5, 0.3, -0.1]]
)

#: Eq. 6 footnotes 1-2: sigma_eps^2, B and the ground-truth A of the Cholesky example.
LINEAR_SIGMA2 = 0.01
LINEAR_B = np.diag([0.006, 0.006])
LINEAR_A_GT = np.array([[0.75, 0.25], [1.5, -1.0]])

#: Beta(0.2, 0.2) shape parameters of h(y) in Eq. 39.
SEMICIRCLE_BETA = (0.2, 0.2)


def _col(z: np.ndarray) -> np.ndarray:
    """The single latent coordinate of a [N, 1] (or [N]) array, as float64 [N]."""
    z = np.asarray(z, dtype=np.float64)
    if z.ndim == 2:
        if z.shape[1] != 1:
            raise ValueError(f"expected a 1-D latent z of shape [N, 1], got {list(z.shape)}")
        z = z[:, 0]
    if z.ndim != 1:
        raise ValueError(f"expected z of shape [N, 1], got {list(z.shape)}")
    return z


def figure8(z: np.ndarray) -> np.ndarray:
    """Eq. 33: a lemniscate traced by u(z) = (0.6 + 1.8 Phi(z)) pi."""
    u = (0.6 + 1.8 * stats.norm.cdf(_col(z))) * np.pi
    den = np.sin(u) ** 2 + 1.0
    return np.stack([np.sqrt(2) / 2 * np.cos(u) / den,
                     np.sqrt(2) * np.cos(u) * np.sin(u) / den], axis=1)


def circle(z: np.ndarray) -> np.ndarray:
    """Eq. 34: the unit circle traced once by the angle 2 pi Phi(z)."""
    a = 2 * np.pi * stats.norm.cdf(_col(z))
    return np.stack([np.cos(a), np.sin(a)], axis=1)


def absolute_value(z: np.ndarray) -> np.ndarray:
    """Sec. 6: f(z) = |z| in both coordinates, x = [|z|, |z|] + eps.

    Note on Eq. 35: App. G.3 prints the coordinates as |Phi(z)|. Because Phi(z) > 0,
    that function equals Phi(z), which is one-to-one, so its posteriors would be
    unimodal, contradicting the property both Sec. 6 and App. G.3 state for this
    example ("two values of z could have generated every x; the posteriors are all
    bimodal"). We therefore implement the two-to-one function named in Sec. 6,
    f(z) = |z|, placed on the diagonal as Eq. 35 places it.
    """
    a = np.abs(_col(z))
    return np.stack([a, a], axis=1)


def _step_u(u: np.ndarray, height: float) -> np.ndarray:
    """The smoothed staircase t(u) of Eqs. 36-37: on each interval [2k, 2k+2) it rises
    by 2*height through a tanh step centred at u = 2k+1 (height 2 in Eq. 36, 1 in Eq. 37)."""
    k = np.floor(u / 2)
    return height * np.tanh(10 * u - 20 * k - 10) + 2 * height * k + height


def clusters(z: np.ndarray) -> np.ndarray:
    """Eq. 36: a smoothed step function of z embedded on the unit circle."""
    u = 2 * np.pi / (1 + np.exp(-0.5 * np.pi * _col(z)))
    t = _step_u(u, 2.0)
    return np.stack([np.cos(t), np.sin(t)], axis=1)


def spiral_dots(z: np.ndarray) -> np.ndarray:
    """Eq. 37: a smoothed step function of z embedded on the spiral t (cos t, sin t)."""
    u = 4 * np.pi / (1 + np.exp(-0.5 * np.pi * _col(z)))
    t = _step_u(u, 1.0)
    return np.stack([t * np.cos(t), t * np.sin(t)], axis=1)


def _semicircle(z: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Eqs. 38-39: angle = w pi sqrt(Phi(z)) + (1 - w) pi Phi(z)^3 on the upper unit
    semi-circle; w = 1 - y for the discrete labels (y=0 -> sqrt, y=1 -> cube) and
    w = h(y) for the continuous one."""
    p = stats.norm.cdf(_col(z))
    a = w * np.pi * np.sqrt(p) + (1 - w) * np.pi * p ** 3
    return np.stack([np.cos(a), np.sin(a)], axis=1)


def _labels(y, n: int) -> np.ndarray:
    if y is None:
        raise ValueError("this data set is semi-supervised: f(z, y) needs y")
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if y.shape[0] != n:
        raise ValueError(f"z has {n} rows but y has {y.shape[0]}")
    return y


def semicircle_discrete(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Eq. 38: y in {0, 1}; y = 0 follows pi sqrt(Phi(z)), y = 1 follows pi Phi(z)^3."""
    zc = _col(z)
    y = _labels(y, zc.shape[0])
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("semicircle_discrete: y must be 0 or 1")
    return _semicircle(zc, 1.0 - y)


def semicircle_h(y: np.ndarray) -> np.ndarray:
    """Eq. 39: h(y) = B^{-1}(Phi(y); 0.2, 0.2), the Beta(0.2, 0.2) quantile of Phi(y)."""
    return stats.beta.ppf(stats.norm.cdf(np.asarray(y, dtype=np.float64)), *SEMICIRCLE_BETA)


def semicircle_continuous(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Eq. 39: a continuous mixing weight h(y) between the two curves of Eq. 38."""
    zc = _col(z)
    y = _labels(y, zc.shape[0])
    return _semicircle(zc, semicircle_h(y))


def linear_cholesky_matrix(a: np.ndarray = LINEAR_A_GT, b: np.ndarray = LINEAR_B) -> np.ndarray:
    """Eq. 6: the lower-triangular decoder matrix L = Cholesky(A A^T + B)."""
    return np.linalg.cholesky(a @ a.T + b)


def linear_cholesky(z: np.ndarray) -> np.ndarray:
    """Eq. 6: f(z) = Cholesky(A_GT A_GT^T + B) z, for z of shape [N, 2]."""
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2 or z.shape[1] != 2:
        raise ValueError(f"linear_cholesky expects z of shape [N, 2], got {list(z.shape)}")
    return z @ linear_cholesky_matrix().T
