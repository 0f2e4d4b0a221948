"""The paper's benchmark data sets as ground-truth objects (App. G, H; Sec. 5.2, 8; UCI).

Public entry points::

    names()                      every data-set name (synthetic, then UCI)
    get(name) -> GroundTruth     the generative process of a synthetic set
    load(name, n, seed) -> Sample
    splits(name, version) -> {"train", "val", "test"}   (App. D protocol)

Synthetic sets (all ``z ~ N(0, I_K)``, ``x = f(z[, y]) + eps``, ``eps ~ N(0, s2 I_D)``):

=====================  ==  ==  ==========  =====  ==============================
name                   K   D   label       s2     source
=====================  ==  ==  ==========  =====  ==============================
figure8                1   2   -           0.02   App. G.1, Eq. 33
circle                 1   2   -           0.01   App. G.2, Eq. 34
absolute_value         1   2   -           0.01   App. G.3, Eq. 35 / Sec. 6
clusters               1   2   -           0.2    App. G.4, Eq. 36
spiral_dots            1   2   -           0.01   App. G.5, Eq. 37
semicircle_discrete    1   2   discrete    0.01   App. H.1, Eq. 38 (y ~ Bern(1/2))
semicircle_continuous  1   2   continuous  0.01   App. H.2, Eq. 39 (y ~ N(0, 1))
linear_cholesky        2   2   -           0.004  Sec. 5.2, Eq. 6
figure8_5d             1   5   -           0.02   Sec. 8, footnote 3
clusters_5d            1   5   -           0.2    Sec. 8, footnote 3
=====================  ==  ==  ==========  =====  ==============================

As in the paper (App. G/H), the data of the non-linear sets are generated from a fitted
*surrogate* network of the closed form (``GroundTruth.surrogate()``, see
``vaefail_core.datasets.surrogate``), not from the closed form itself
(``GroundTruth.analytic_f``). The 5-D sets embed the 2-D ones linearly,
``x = f(z) @ A + eps`` with footnote 3's ``A`` (2 x 5) and the noise drawn in 5-D with the
2-D set's variance; their surrogate is the 2-D surrogate with ``A`` folded into its last
layer (exact). Eq. 6 is linear: its "surrogate" is the exact linear map (an
``EnsembleMLP`` without hidden layers), and its noise is ``sigma^2 I - B`` (variance 0.004).

The decoder input of a semi-supervised set is ``concat(z, y)``, with ``y`` one-hot
(discrete, 2 columns) or the scalar itself (continuous): ``GroundTruth.decoder_input``.

The UCI sets (``uci_*``) have no ground truth; ``load`` and ``splits`` hand them to
``vaefail_core.uci``.
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd
import torch
from scipy import stats

from . import posterior as P
from . import uci
from .datasets import analytic
from .datasets import surrogate as _sur
from .linear import EQ6_A_GT, EQ6_B, EQ6_SIGMA2, eq6_decoder, mfg_pmo
from .nets import EnsembleMLP

__all__ = ["GroundTruth", "LinearCholeskyTruth", "Sample", "names", "synthetic_names",
           "uci_names", "get", "load", "splits", "to_frame", "version_seed", "condition1_evidence", "N_VERSIONS", "EMBED_5D"]

#: App. D: "we generate 5 versions of each data set (5000/2000/2000 train/val/test)"
N_VERSIONS = 5
EMBED_5D = analytic.EMBED_5D
_UCI = ("uci_titanic", "uci_contraceptive", "uci_retinopathy")


@dataclass
class Sample:
    """A draw from a data set: ``x`` [n, D] float32, ``z`` [n, K] float32 (None for UCI),
    ``y`` None | [n] (int64 class for discrete labels, float32 for continuous)."""

    x: np.ndarray
    z: np.ndarray | None
    y: np.ndarray | None
    truth: "GroundTruth | None"
    name: str
    seed: int

    def __len__(self) -> int:
        return self.x.shape[0]

    def to_frame(self):
        """A pandas DataFrame with columns x1..xD, z1..zK and y (when present)."""
        return to_frame(self)


def to_frame(sample):
    """Columns x1..xD, z1..zK (if ``sample.z`` is not None), y (if labelled) of any
    sample with ``x`` / ``z`` / ``y`` attributes (``Sample`` or ``uci.UCISample``)."""
    cols = {f"x{i + 1}": sample.x[:, i] for i in range(sample.x.shape[1])}
    z = getattr(sample, "z", None)
    if z is not None:
        cols.update({f"z{i + 1}": z[:, i] for i in range(z.shape[1])})
    y = getattr(sample, "y", None)
    if y is not None:
        cols["y"] = y
    return pd.DataFrame(cols)


def _check_n(n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    return int(n)


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


@dataclass(frozen=True, eq=False)
class GroundTruth:
    """The generative process of one synthetic data set (see the module table).

    Attributes: ``name``, ``latent_dim`` (K), ``data_dim`` (D), ``label``
    (None | "discrete" | "continuous"), ``label_dim`` (width of the decoder's y-input),
    ``noise_var`` (the variance of each coordinate of eps), ``source`` (paper reference).
    """

    name: str
    latent_dim: int
    data_dim: int
    noise_var: float
    label: str | None
    source: str
    base: str | None = None                 # closed form / surrogate key
    embed: np.ndarray | None = field(default=None, repr=False)   # [2, D] or None
    #: default z-grid ``(lo, hi, n)`` of ``posterior`` (finer where posteriors are narrow)
    z_grid_spec: tuple[float, float, int] = (-6.0, 6.0, 1201)

    # -- shapes and inputs -------------------------------------------------------------
    @property
    def label_dim(self) -> int:
        return {None: 0, "discrete": 2, "continuous": 1}[self.label]

    def _z(self, z) -> np.ndarray:
        z = np.asarray(z, dtype=np.float64)
        if z.ndim == 1 and self.latent_dim == 1:
            z = z[:, None]
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"{self.name}: z must have shape [N, {self.latent_dim}], "
                             f"got {list(z.shape)}")
        return z

    def _y(self, y, n: int):
        if self.label is None:
            if y is not None:
                raise ValueError(f"{self.name} is unsupervised: y must be None")
            return None
        if y is None:
            raise ValueError(f"{self.name} is semi-supervised: f(z, y) needs y")
        y = np.asarray(y).reshape(-1)
        if y.shape[0] != n:
            raise ValueError(f"{self.name}: z has {n} rows but y has {y.shape[0]}")
        if self.label == "discrete" and not np.all((y == 0) | (y == 1)):
            raise ValueError(f"{self.name}: y must be 0 or 1")
        return y

    def encode_y(self, y) -> np.ndarray:
        """The decoder's y-columns: one-hot [N, 2], [N, 1], or [N, 0]."""
        return _sur.encode_y(y, self.label)

    def decoder_input(self, z, y=None) -> np.ndarray:
        """``concat(z, encode_y(y))`` as float32 [N, K + label_dim]."""
        z = self._z(z)
        y = self._y(y, len(z))
        cols = [z.astype(np.float32)]
        if self.label is not None:
            cols.append(self.encode_y(y))
        return np.concatenate(cols, 1)

    # -- the decoder -----------------------------------------------------------------
    def analytic_f(self, z, y=None) -> np.ndarray:
        """The paper's closed form f_GT(z[, y]), float64 [N, D]."""
        z = self._z(z)
        y = self._y(y, len(z))
        fn = getattr(analytic, self.base)
        out = fn(z) if self.label is None else fn(z, y)
        return out if self.embed is None else out @ self.embed

    @property
    def surrogate_record(self) -> dict:
        """Diagnostics of the fitted surrogate (no weights): method, steps, fit_seconds,
        mse, max_abs_err, config_hash; for the 5-D sets the MSE of the embedded map."""
        rec = _sur.load(self.base)
        out = {k: rec[k] for k in ("method", "steps", "fit_seconds", "mse", "max_abs_err",
                                   "config_hash")}
        if self.embed is not None:
            cov = np.asarray(rec["err_cov"])
            out["mse"] = float(np.trace(self.embed.T @ cov @ self.embed) / self.data_dim)
            out["max_abs_err"] = float("nan")   # not recorded for the embedded map
        return out

    @property
    def surrogate_mse(self) -> float:
        """The recorded MSE of the surrogate against the closed form (App. G/H: < 1e-4)."""
        return self.surrogate_record["mse"]

    def surrogate(self) -> EnsembleMLP:
        """A fresh copy of the fitted surrogate: ``EnsembleMLP`` with M = 1,
        ``d_in = K + label_dim``, ``d_out = D`` (input ``[1, N, d_in]``)."""
        rec = _sur.load(self.base)
        cfg = _sur.CONFIGS[self.base]
        state = {k: v.clone() for k, v in rec["state_dict"].items()}
        if self.embed is not None:   # fold x = f(z) @ A into the output layer (exact)
            A = torch.tensor(self.embed, dtype=torch.float64)
            last = len(cfg.hidden)
            w, b = state[f"layers.{last}.weight"], state[f"layers.{last}.bias"]
            state[f"layers.{last}.weight"] = (w.double() @ A).float()
            state[f"layers.{last}.bias"] = (b.double() @ A).float()
        net = EnsembleMLP(1, self.latent_dim + self.label_dim, self.data_dim,
                          hidden=cfg.hidden, seeds=[0])
        net.load_state_dict(state)
        return net.eval()

    def _net(self) -> EnsembleMLP:
        return _cached_net(self.name)

    def f(self, z, y=None) -> np.ndarray:
        """The data-generating decoder (the surrogate), float32 [N, D].

        The float32 weights are evaluated in float64 and the result rounded once to
        float32, so the data sets, and everything computed from them, are the same on
        every CPU: a float32 forward pass would round differently under different ATen
        kernels (AVX2, AVX-512, none), and a changed last bit can flip an argmax or a
        threshold downstream."""
        inp = self.decoder_input(z, y)
        with torch.no_grad():
            out = _cached_net64(self.name)(torch.from_numpy(inp).double()[None])[0]
        return out.numpy().astype(np.float32)

    # -- sampling ---------------------------------------------------------------------
    def sample_z(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``z ~ N(0, I_K)``, float32 [n, K]."""
        return rng.standard_normal((_check_n(n), self.latent_dim)).astype(np.float32)

    def sample_y(self, n: int, rng: np.random.Generator) -> np.ndarray | None:
        """Labels from their prior: Bern(1/2) as int64 (Eq. 38), N(0, 1) as float32
        (Eq. 39); None for unsupervised sets."""
        if self.label == "discrete":
            return rng.integers(0, 2, _check_n(n)).astype(np.int64)
        if self.label == "continuous":
            return rng.standard_normal(_check_n(n)).astype(np.float32)
        return None

    def sample(self, n: int, seed: int) -> Sample:
        """``n`` draws ``(x, z, y)``; the same seed gives identical arrays.

        One ``numpy`` generator per call draws z, then y, then the noise, so the 2-D set
        and its 5-D embedding share z for the same seed."""
        n, seed = _check_n(n), _check_seed(seed)
        rng = np.random.default_rng(seed)
        z = self.sample_z(n, rng)
        y = self.sample_y(n, rng)
        eps = rng.standard_normal((n, self.data_dim)) * math.sqrt(self.noise_var)
        x = (self.f(z, y).astype(np.float64) + eps).astype(np.float32)
        return Sample(x=x, z=z, y=y, truth=self, name=self.name, seed=seed)

    def log_prior_z(self, z) -> np.ndarray:
        """``log N(z; 0, I_K)`` summed over the K coordinates, [N]."""
        z = self._z(z)
        return -0.5 * (z ** 2).sum(1) - 0.5 * self.latent_dim * math.log(2 * math.pi)

    def log_prior_y(self, y) -> np.ndarray:
        """``log p(y)``: log 1/2 (discrete) or ``log N(y; 0, 1)`` (continuous)."""
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if self.label == "discrete":
            return np.full(y.shape, math.log(0.5))
        if self.label == "continuous":
            return -0.5 * y ** 2 - 0.5 * math.log(2 * math.pi)
        raise ValueError(f"{self.name} has no labels")

    # -- exact posteriors (1-D latent) ----------------------------------------------------
    def posterior(self, x, y=None, z=None, n_y: int = 48):
        """True posterior density ``p(z | x[, y])`` of the surrogate model on a z-grid.

        Returns ``(z [G], post [N, G])`` as float64 numpy (rows integrate to 1 by the
        trapezoid rule; ``z`` defaults to ``posterior.z_grid(*self.z_grid_spec)``: 1201
        points on [-6, 6], and 5001 on [-5, 5] for Spiral-Dots, whose posteriors on the
        steps are very narrow). Uses
        ``vaefail_core.posterior`` with ``f`` = the surrogate, the set's noise variance
        and the N(0, 1) prior. For a semi-supervised set, a given ``y`` conditions on it
        (one label per row of x); ``y=None`` gives the posterior of unlabelled data,
        ``p(z | x) = sum_y p(y | x) p(z | x, y)``: over both classes for discrete labels,
        and for continuous labels by the midpoint rule in ``u = Phi(y)`` with ``n_y``
        nodes (``y`` ~ N(0, 1), so the nodes have equal prior weight).
        """
        if self.latent_dim != 1:
            raise NotImplementedError(
                f"{self.name}: grid posteriors need a 1-D latent (K = {self.latent_dim})")
        zg = (P.z_grid(*self.z_grid_spec) if z is None
              else torch.as_tensor(np.asarray(z), dtype=torch.float64))
        zg_np = zg.numpy()
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        if x.shape[1] != self.data_dim:
            raise ValueError(f"{self.name}: x must have {self.data_dim} columns")
        G = len(zg_np)
        if self.label is None:
            post = P.grid_posterior(self.f(zg_np[:, None]), x, self.noise_var, z=zg)
            return zg_np, post.numpy()
        if y is not None:
            y = self._y(y, len(x))
            post = np.empty((len(x), G))
            for val in np.unique(y):     # one grid of f per distinct label value
                rows = np.flatnonzero(y == val)
                fv = self.f(zg_np[:, None], np.full(G, val))
                post[rows] = P.grid_posterior(fv, x[rows], self.noise_var, z=zg).numpy()
            return zg_np, post
        # unlabelled: p(z | x) is proportional to sum_j w_j p(x, z | y_j), w_j = p(y_j)
        if self.label == "discrete":
            ys, log_w = np.array([0, 1]), np.log([0.5, 0.5])
        else:
            ys = stats.norm.ppf((np.arange(n_y) + 0.5) / n_y)
            log_w = np.full(n_y, -math.log(n_y))
        f_all = self.f(np.tile(zg_np, len(ys))[:, None], np.repeat(ys, G)).reshape(
            len(ys), G, self.data_dim)     # one network call for every (y_j, z_g)
        log_joint = None
        for fv, lw in zip(f_all, log_w):   # streamed: memory stays [N, G]
            lj = P.log_joint_grid(fv, x, self.noise_var, z=zg).numpy() + lw
            log_joint = lj if log_joint is None else np.logaddexp(log_joint, lj)
        dens = np.exp(log_joint - log_joint.max(1, keepdims=True))
        return zg_np, dens / np.trapz(dens, zg_np, axis=1)[:, None]


    def posterior_kl(self, x, y=None, z=None, min_sd_steps: float = 3.0) -> dict:
        """How well the best Gaussian fits each true posterior (Condition 1, Sec. 5.1).

        For each row of x: the true posterior on the grid (``posterior``), the KL
        divergence ``KL(q* || p(z | x))`` of the best Gaussian q* (``posterior.
        best_gaussian_kl``, the per-point PMO of an ideal MFG encoder), and the
        posterior's own mean and sd. ``resolved`` is False where the posterior is
        narrower than ``min_sd_steps`` grid steps: the grid cannot represent it and its KL
        is meaningless (this happens on the very steep steps of Spiral-Dots, where the
        posterior sd is ~3e-4; such posteriors are narrow single spikes).

        Returns a dict of numpy arrays: kl, q_mu, q_sd, post_mean, post_sd, resolved.
        """
        zg, post = self.posterior(x, y=y, z=z)
        kl, q_mu, q_sd = P.best_gaussian_kl(zg, post)
        m, sd = P.posterior_moments(zg, post)
        dz = float(np.diff(zg).min())
        sd = sd.numpy()
        return {"kl": kl.numpy(), "q_mu": q_mu.numpy(), "q_sd": q_sd.numpy(),
                "post_mean": m.numpy(), "post_sd": sd, "resolved": sd >= min_sd_steps * dz}

    def label_posterior(self, x, y_grid=None):
        """True ``p(y | x)`` of a semi-supervised set (Sec. 7's classifier check).

        Discrete: probabilities [N, 2]. Continuous: ``(y_grid [Gy], density [N, Gy])``
        on ``y_grid`` (default 401 points on [-4, 4]). ``p(x | y)`` is integrated over z
        on ``posterior.z_grid()`` by ``posterior.log_px_grid``."""
        if self.label is None:
            raise ValueError(f"{self.name} has no labels")
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        zg = P.z_grid()
        zg_np, G = zg.numpy(), len(zg)
        if self.label == "discrete":
            ys = np.array([0.0, 1.0])
        else:
            ys = np.linspace(-4, 4, 401) if y_grid is None else np.asarray(y_grid, float)
        f_all = self.f(np.tile(zg_np, len(ys))[:, None], np.repeat(ys, G).astype(
            np.int64 if self.label == "discrete" else np.float32)).reshape(len(ys), G, -1)
        log_px_y = np.stack([P.log_px_grid(fv, x, self.noise_var, z=zg).numpy()
                             for fv in f_all], 1)          # [N, len(ys)]
        lj = log_px_y + self.log_prior_y(ys)[None]
        p = np.exp(lj - lj.max(1, keepdims=True))
        if self.label == "discrete":
            return p / p.sum(1, keepdims=True)
        return ys, p / np.trapz(p, ys, axis=1)[:, None]


class LinearCholeskyTruth(GroundTruth):
    """Eq. 6 (Sec. 5.2): ``x = Chol(A A^T + B) z + eps``, ``eps ~ N(0, sigma^2 I - B)``,
    with ``sigma^2 = 0.01``, ``B = 0.006 I`` and ``A_GT`` from footnotes 1-2.

    No surrogate is fitted (f is linear): ``surrogate()`` returns the exact map as an
    ``EnsembleMLP`` with no hidden layers (one linear layer, weight ``L^T``), ``f`` is that
    map, and ``analytic_f`` is the same map in float64. ``noise_var`` is the variance of
    eps, ``sigma^2 - 0.006 = 0.004`` (so that ``Cov(x) = A A^T + sigma^2 I``).
    """

    A_GT = EQ6_A_GT
    B = EQ6_B
    sigma2 = EQ6_SIGMA2

    @property
    def L(self) -> np.ndarray:
        """The lower-triangular decoder matrix ``Cholesky(A_GT A_GT^T + B)``."""
        return eq6_decoder(self.A_GT, self.B)

    @property
    def noise_cov(self) -> np.ndarray:
        return self.sigma2 * np.eye(2) - self.B

    @property
    def data_cov(self) -> np.ndarray:
        """``Cov(x) = A_GT A_GT^T + sigma^2 I``."""
        return self.A_GT @ self.A_GT.T + self.sigma2 * np.eye(2)

    def analytic_f(self, z, y=None) -> np.ndarray:
        self._y(y, 0)
        return self._z(z) @ self.L.T

    @property
    def surrogate_record(self) -> dict:
        """No fit: the only error is float32 rounding of ``L`` (measured on 10^4 draws)."""
        z = np.random.default_rng(0).standard_normal((10_000, 2))
        err = self.f(z).astype(np.float64) - self.analytic_f(z)
        return {"method": "exact", "steps": 0, "fit_seconds": 0.0,
                "mse": float((err ** 2).mean()), "max_abs_err": float(np.abs(err).max()),
                "config_hash": "exact"}

    def surrogate(self) -> EnsembleMLP:
        net = EnsembleMLP(1, 2, 2, hidden=(), seeds=[0])
        with torch.no_grad():
            net.layers[0].weight.copy_(torch.tensor(self.L.T, dtype=torch.float32)[None])
            net.layers[0].bias.zero_()
        return net.eval()

    def sample(self, n: int, seed: int) -> Sample:
        """Exact sampler of Eq. 6: z, then eps with covariance ``sigma^2 I - B``."""
        n, seed = _check_n(n), _check_seed(seed)
        rng = np.random.default_rng(seed)
        z = self.sample_z(n, rng)
        eps = rng.standard_normal((n, 2)) * np.sqrt(np.diag(self.noise_cov))
        x = (z.astype(np.float64) @ self.L.T + eps).astype(np.float32)
        return Sample(x=x, z=z, y=None, truth=self, name=self.name, seed=seed)

    def posterior(self, x, y=None, z=None, n_y: int = 48):
        """The exact Gaussian posterior: returns ``(mean [N, 2], cov [2, 2])``; the
        covariance ``(I + L^T Psi^-1 L)^-1`` is the same for every x (Sec. 5.2)."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        prec = np.eye(2) + self.L.T @ np.linalg.solve(self.noise_cov, self.L)
        cov = np.linalg.inv(prec)
        mean = x @ np.linalg.solve(self.noise_cov, self.L) @ cov
        return mean, cov


def _make(name: str) -> GroundTruth:
    spec = {
        "figure8": (0.02, None, "App. G.1, Eq. 33"),
        "circle": (0.01, None, "App. G.2, Eq. 34"),
        "absolute_value": (0.01, None, "App. G.3, Eq. 35 (f = |z| as in Sec. 6)"),
        "clusters": (0.2, None, "App. G.4, Eq. 36"),
        "spiral_dots": (0.01, None, "App. G.5, Eq. 37"),
        "semicircle_discrete": (0.01, "discrete", "App. H.1, Eq. 38"),
        "semicircle_continuous": (0.01, "continuous",
                                  "App. H.2, Eq. 39 (noise variance assumed 0.01)"),
    }
    if name in spec:
        v, label, src = spec[name]
        grid = (-5.0, 5.0, 5001) if name == "spiral_dots" else (-6.0, 6.0, 1201)
        return GroundTruth(name, 1, 2, v, label, src, base=name, z_grid_spec=grid)
    if name in ("figure8_5d", "clusters_5d"):
        base = name[:-3]
        v = spec[base][0]
        return GroundTruth(name, 1, 5, v, None, f"Sec. 8, footnote 3 (x = f(z) A, {base})",
                           base=base, embed=EMBED_5D.copy())
    if name == "linear_cholesky":
        return LinearCholeskyTruth(name, 2, 2, float(EQ6_SIGMA2 - EQ6_B[0, 0]), None,
                                   "Sec. 5.2, Eq. 6 (footnotes 1-2)")
    raise ValueError(f"unknown data set {name!r}; valid: {', '.join(names())}")


_SYNTHETIC = ("figure8", "circle", "absolute_value", "clusters", "spiral_dots",
              "semicircle_discrete", "semicircle_continuous", "linear_cholesky",
              "figure8_5d", "clusters_5d")


def synthetic_names() -> list[str]:
    """The synthetic data sets (those with a ``GroundTruth``)."""
    return list(_SYNTHETIC)


def uci_names() -> list[str]:
    return list(_UCI)


def names() -> list[str]:
    """Every data-set name: the synthetic ones, then the three UCI sets."""
    return list(_SYNTHETIC) + list(_UCI)


@lru_cache(maxsize=None)
def _get(name: str) -> GroundTruth:
    return _make(name)


def get(name: str) -> GroundTruth:
    """The ``GroundTruth`` of a synthetic data set (one shared object per name)."""
    if not isinstance(name, str) or name not in _SYNTHETIC:
        if name in _UCI:
            raise ValueError(f"{name} is a real data set without a ground truth; "
                             f"use load() or splits()")
        raise ValueError(f"unknown data set {name!r}; valid: {', '.join(names())}")
    return _get(name)


@lru_cache(maxsize=None)
def _cached_net(name: str) -> EnsembleMLP:
    return get(name).surrogate()


@lru_cache(maxsize=None)
def _cached_net64(name: str) -> EnsembleMLP:
    """The surrogate with its float32 weights cast (exactly) to float64."""
    return get(name).surrogate().double()


def load(name: str, n: int | None = None, seed: int = 0):
    """``n`` points of data set ``name`` drawn with ``seed`` (a ``Sample``).

    Synthetic sets need a positive integer ``n``. UCI names are handed to
    ``vaefail_core.uci.load_uci(name, n=n, seed=seed)`` (``n=None``: all rows)."""
    if name in _UCI:
        return uci.load_uci(name, n=n, seed=seed)
    truth = get(name)
    return truth.sample(_check_n(n), seed)


def version_seed(name: str, version: int, part: str) -> int:
    """The seed of one part ("train", "val", "test") of data version ``version``:
    derived from (name, version, part) by ``numpy.random.SeedSequence``, so every
    (data set, version, part) has its own independent stream."""
    key = [zlib.crc32(name.encode()), int(version), ("train", "val", "test").index(part)]
    return int(np.random.SeedSequence(key).generate_state(1)[0])


def splits(name: str, version: int, n_train: int = 5000, n_val: int = 2000,
           n_test: int = 2000) -> dict:
    """Version ``version`` of a data set as ``{"train", "val", "test"}`` (App. D).

    The paper uses 5 versions (``version in range(N_VERSIONS)``) of 5000/2000/2000
    points; any non-negative version is accepted. Each part is an independent draw with
    its own seed (``version_seed``), so the parts are disjoint samples and a version is
    identical wherever it is regenerated. UCI names go to
    ``vaefail_core.uci.uci_splits(name, version)`` (fixed equal thirds; the sizes here
    are ignored).
    """
    if isinstance(version, bool) or not isinstance(version, (int, np.integer)) or version < 0:
        raise ValueError(f"version must be a non-negative integer (the paper uses "
                         f"0..{N_VERSIONS - 1}), got {version!r}")
    if name in _UCI:
        return uci.uci_splits(name, int(version))
    truth = get(name)
    sizes = {"train": n_train, "val": n_val, "test": n_test}
    return {part: truth.sample(_check_n(m), version_seed(name, version, part))
            for part, m in sizes.items()}


def condition1_evidence(name: str, n: int = 1000, version: int = 0, threshold: float = 0.1,
                        labelled: bool = False, z=None) -> dict:
    """Evidence for Condition 1 of Sec. 5.1 on ``n`` training points of data version
    ``version``: the share of points whose true posterior is poorly fit by the best
    Gaussian (``KL > threshold`` nats) and the mean / median KL, over the points whose
    posterior the grid resolves (``GroundTruth.posterior_kl``); ``unresolved`` is the
    share left out. ``labelled=True`` conditions on the true labels (semi-supervised
    sets); otherwise y is marginalised out. Eq. 6 (2-D latent) uses the closed form:
    the best MFG's KL is the same for every x (``linear.mfg_pmo``).
    """
    truth = get(name)
    if isinstance(truth, LinearCholeskyTruth):
        kl = float(mfg_pmo(truth.L, truth.noise_cov))
        return {"data set": name, "n": _check_n(n), "frac_kl_gt": float(kl > threshold),
                "mean_kl": kl, "median_kl": kl, "unresolved": 0.0}
    s = splits(name, version, n_train=_check_n(n), n_val=1, n_test=1)["train"]
    r = truth.posterior_kl(s.x, y=s.y if labelled else None, z=z)
    ok = r["resolved"]
    kl = r["kl"][ok]
    return {"data set": name, "n": int(n), "frac_kl_gt": float((kl > threshold).mean()),
            "mean_kl": float(kl.mean()), "median_kl": float(np.median(kl)),
            "unresolved": float(1 - ok.mean()), "_kl": r["kl"], "_resolved": ok,
            "_sample": s}
