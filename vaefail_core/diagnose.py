"""``vaefail diagnose``: the paper's Section 9 guidelines run on a user's own data.

Section 9 of the paper ends with advice for practitioners who consider an MFG-VAE
(a VAE whose approximate posterior is a mean-field Gaussian). This module turns that
advice into five checks on a table of numbers ``X`` [N, D] (and, optionally, labels
``y``). Every check is a pure function that returns a JSON-ready dict with the same
keys: ``guideline`` (Sec. 9's number), ``ran`` (False when it does not apply), ``flag``
(True: this check argues for a richer variational family), ``verdict`` (one sentence)
and ``metrics`` (the numbers behind it). ``diagnose`` runs them all; the bottom line,
``rich_family_recommended``, is True when any check flags. The HTML report, the
terminal table and the plots are in ``diagnose_report.py``.

=====================  ==  ===================================================================
check                  G.  what is measured, and when it flags
=====================  ==  ===================================================================
class_separability     1   only with labels: a small neural-network classifier (scikit-learn)
                           under stratified cross-validation; balanced accuracy (adjusted for
                           chance) and the mean entropy of the out-of-fold p(y | x) (divided by
                           log C). Flags when the classes overlap (adjusted balanced accuracy
                           below ``SEPARABLE_BACC`` or normalised entropy above
                           ``SEPARABLE_ENTROPY``): then the semi-supervised objective's
                           unlabelled part needs a rich family (Sec. 7 / Sec. 9, item 1).
noise_variance         2   sigma^2 learned jointly with the ELBO vs sigma^2 picked on
                           validation data by an importance-sampled log-likelihood over a
                           grid (interpolated). Flags when they differ by more than a factor
                           ``NOISE_RATIO`` and the ELBO's value costs more than
                           ``NOISE_MIN_COST`` nats of validation log-likelihood per point:
                           the ELBO's pick is then biased (Sec. 8, Eq. 9), which happens
                           when the MFG posterior is a poor fit.
data_shape             3   intrinsic dimension (TwoNN, PCA) and persistent homology of the
                           Vietoris-Rips filtration (ripser): significant clusters (H0) and
                           loops (H1). Flags clustered data, or more loops than a
                           one-dimensional latent can trace without crossing itself (K = 1).
manifold_residuals     4i  each held-out x projected to its nearest point on the MFG-VAE's
                           manifold f(z); the residual's coordinates normal to the manifold are
                           tested for normality (Shapiro-Wilk, Holm-corrected across the D - K
                           normal directions). Flags when normality is rejected.
density_gap            4ii held-out log p(x) (importance sampled) of an IWAE vs the MFG-VAE,
                           same trainer, same sigma^2: paired per-point differences, mean +-
                           standard error. Flags a gain above ``DENSITY_MIN_GAIN`` nats per
                           point that is also significant (one-sided z-test at ``ALPHA``).
=====================  ==  ===================================================================

Models are fitted with the repository's own trainer (``train.train_ensemble``: Adam,
batch 100, batched restarts) and evaluated with ``evaluate`` (importance-sampled log
p(x)); everything runs in float64 on one torch thread, so the numbers do not depend on
the CPU's instruction set (a float32 run differs in the second digit between the
ATen ``default`` and AVX kernels; a float64 run does not). Data are centred and divided
by one common scale (isotropic noise stays isotropic); sigma^2 is reported in the
data's own units.

The thresholds are ours (the paper gives none); they were chosen on the benchmark data
sets of App. G / H and are checked by ``validation_table`` (Figure-8, Clusters,
Spiral-Dots and both Semi-Circles flagged, Circle not).
"""
from __future__ import annotations

import contextlib
import math
import time
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = [
    "DiagnoseConfig", "DiagnoseInputError", "FAST", "SCHEMA", "CHECKS", "load_table",
    "check_inputs", "prepare", "split_indices", "class_separability", "intrinsic_dimension",
    "persistence", "data_shape", "fit_models", "noise_variance", "project_to_manifold",
    "manifold_residuals", "density_gap", "holm", "diagnose", "validation_table",
    "VALIDATION_SETS", "EXPECTED_FLAGS",
]

SCHEMA = "vaefail-diagnose/1"
#: the checks in report order
CHECKS = ("class_separability", "noise_variance", "data_shape", "manifold_residuals", "density_gap")
#: significance level of every test (normality, loops, density gain)
ALPHA = 0.01
#: classes count as well separated when the chance-adjusted balanced accuracy is at least
#: this (0.9 balanced accuracy for two classes) and the normalised entropy at most ...
SEPARABLE_BACC = 0.8
SEPARABLE_ENTROPY = 0.3
#: distinct values up to which a numeric label is taken as classes (else it is binned)
MAX_CLASSES = 20
#: bins (quantiles) of a continuous label
CONTINUOUS_BINS = 4
#: a class needs at least this many labelled rows (stratified cross-validation)
MIN_CLASS_ROWS = 5
#: sigma^2 (ELBO) / sigma^2 (log-likelihood) outside [1 / NOISE_RATIO, NOISE_RATIO] flags
NOISE_RATIO = 2.0
#: ... and using the ELBO's sigma^2 costs more than this many nats of validation
#: log-likelihood per point (the grid's curve, interpolated in log sigma^2)
NOISE_MIN_COST = 0.05
#: a cluster split counts when both parts hold >= this share of the points (and >= 5) ...
CLUSTER_MIN_SHARE = 0.02
#: ... and stay apart over a range of scales this many times the median 1-NN distance
CLUSTER_GAP = 10.0
#: the IWAE's held-out gain (nats per point) that counts as a real improvement
DENSITY_MIN_GAIN = 0.05
MIN_ROWS = 100
#: the Rips filtration stops at this quantile of the pairwise distances (cost); a cycle
#: still alive there is given death = the threshold (its p-value is then conservative)
RIPS_QUANTILE = 0.25
#: Euler-Mascheroni constant (the universal null of Bobrowski & Skraba 2023)
_EULER_GAMMA = 0.5772156649015329


class DiagnoseInputError(ValueError):
    """Bad input (reported by the command line as one line, exit status 2)."""


@dataclass(frozen=True)
class DiagnoseConfig:
    """How much work ``diagnose`` does (the defaults are the command's)."""

    seed: int = 0
    max_rows: int = 3000          #: a larger table is subsampled (seeded) to this many rows
    val_share: float = 0.2
    test_share: float = 0.2
    epochs: int = 200             #: training epochs of every model (Adam, batch 100)
    restarts: int = 2             #: random restarts per setting (best on validation data)
    sigma_grid: int = 9           #: sigma^2 values, geometric over [1e-3, 2] x the smallest PCA variance
    iwae_samples: int = 10        #: S of the IWAE (the rich family)
    is_samples_val: int = 200     #: importance samples of log p(x) for model selection
    is_samples_test: int = 500    #: ... and for the held-out comparison
    tda_points: int = 1000        #: points used for persistent homology (subsampled)
    cv_folds: int = 5
    classifier_hidden: tuple[int, ...] = (50, 50)
    projection_grid: int = 4001   #: z-grid of the nearest-point projection (K = 1)

    def __post_init__(self):
        for k in ("max_rows", "epochs", "restarts", "sigma_grid", "iwae_samples",
                  "is_samples_val", "is_samples_test", "tda_points", "cv_folds"):
            if int(getattr(self, k)) < 1:
                raise ValueError(f"{k} must be >= 1, got {getattr(self, k)}")
        if self.sigma_grid < 3:
            raise ValueError(f"sigma_grid must be >= 3, got {self.sigma_grid}")
        if not (0 < self.val_share < 0.5 and 0 < self.test_share < 0.5):
            raise ValueError("val_share and test_share must be in (0, 0.5)")


#: a small configuration for tests and the quick book profile (~4x less work)
FAST = DiagnoseConfig(max_rows=1500, epochs=120, sigma_grid=7, is_samples_val=100,
                      is_samples_test=300, tda_points=800)


# --------------------------------------------------------------------------------------
# Input
# --------------------------------------------------------------------------------------
def load_table(path, label: str | None = None, columns: Sequence[str] | None = None):
    """Read a CSV file: returns ``(X [N, D] float64, y [N] object | None, feature names)``.

    Features are every column but ``label`` (or only ``columns``); each must be numeric
    without missing values. An empty label cell marks an unlabelled row (semi-supervised
    data); ``check_inputs`` checks the rest. Raises ``DiagnoseInputError``."""
    import pandas as pd

    p = Path(path)
    if not p.exists():
        raise DiagnoseInputError(f"{path}: no such file")
    if p.is_dir():
        raise DiagnoseInputError(f"{path} is a folder; give a CSV file")
    try:
        df = pd.read_csv(p)
    except pd.errors.EmptyDataError:
        raise DiagnoseInputError(f"{path}: the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DiagnoseInputError(f"{path}: not a readable CSV file ({exc})") from None
    if label is not None and label not in df.columns:
        raise DiagnoseInputError(f"{path}: no label column {label!r}; columns: "
                                 f"{', '.join(map(str, df.columns))}")
    if columns:
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise DiagnoseInputError(f"{path}: no column {missing[0]!r}; columns: "
                                     f"{', '.join(map(str, df.columns))}")
        if label is not None and label in columns:
            raise DiagnoseInputError(f"--columns includes the label column {label!r}")
        feats = list(columns)
    else:
        feats = [c for c in df.columns if c != label]
    if not feats:
        raise DiagnoseInputError(f"{path}: no feature columns")
    for c in feats:
        col = df[c]
        if not pd.api.types.is_numeric_dtype(col):
            bad = col[pd.to_numeric(col, errors="coerce").isna() & col.notna()]
            where = f" (row {int(bad.index[0]) + 2}: {bad.iloc[0]!r})" if len(bad) else ""
            raise DiagnoseInputError(f"{path}: column {c!r} is not numeric{where}")
        if col.isna().any():
            raise DiagnoseInputError(f"{path}: column {c!r} has a missing value (NaN) in row "
                                     f"{int(np.flatnonzero(col.isna().to_numpy())[0]) + 2}")
    X = df[feats].to_numpy(dtype=np.float64)
    y = None
    if label is not None:
        y = df[label].to_numpy(dtype=object)
    return X, y, [str(c) for c in feats]


def check_inputs(X, y=None, latent_dim: int | None = None) -> None:
    """Raise ``DiagnoseInputError`` for data ``diagnose`` cannot work with."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise DiagnoseInputError(f"X must be a table [N, D], got shape {list(X.shape)}")
    n, d = X.shape
    if n < MIN_ROWS:
        raise DiagnoseInputError(f"too few rows: {n} (need at least {MIN_ROWS})")
    if d < 2:
        raise DiagnoseInputError(f"need at least 2 feature columns, got {d}")
    if not np.isfinite(X).all():
        r, c = np.argwhere(~np.isfinite(X))[0]
        raise DiagnoseInputError(f"non-finite value (NaN or inf) in row {r + 1}, column {c + 1}")
    const = np.flatnonzero(X.std(0) == 0)
    if len(const):
        raise DiagnoseInputError(f"feature column {const[0] + 1} is constant")
    if latent_dim is not None:
        if isinstance(latent_dim, bool) or int(latent_dim) != latent_dim or latent_dim < 1:
            raise DiagnoseInputError(f"--latent-dim must be an integer >= 1, got {latent_dim}")
        if latent_dim >= d:
            raise DiagnoseInputError(f"--latent-dim {latent_dim} must be below the number of "
                                     f"feature columns ({d})")
    if y is not None:
        y = np.asarray(y, dtype=object)
        if len(y) != n:
            raise DiagnoseInputError(f"y has {len(y)} rows, X has {n}")
        _labels(y)      # raises on a single class or too few rows per class


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())


def _labels(y) -> tuple[np.ndarray, np.ndarray, dict]:
    """Labelled rows -> (row mask, integer classes, info). A numeric label with more than
    ``MAX_CLASSES`` distinct values, or non-integer values, is continuous: cut at its
    quantiles into ``CONTINUOUS_BINS`` classes."""
    y = np.asarray(y, dtype=object)
    mask = np.array([not _missing(v) for v in y])
    vals = y[mask]
    if len(vals) == 0:
        raise DiagnoseInputError("the label column has no labelled rows")
    num = np.array([_as_float(v) for v in vals])
    info: dict = {"labelled_rows": int(mask.sum()), "unlabelled_rows": int((~mask).sum())}
    if np.isfinite(num).all() and (len(np.unique(num)) > MAX_CLASSES or
                                   not np.allclose(num, np.round(num))):
        edges = np.quantile(num, np.linspace(0, 1, CONTINUOUS_BINS + 1)[1:-1])
        cls = np.searchsorted(edges, num, side="right")
        info.update(kind="continuous", bins=CONTINUOUS_BINS,
                    bin_edges=[float(e) for e in edges])
        names = [f"bin {i + 1}" for i in range(CONTINUOUS_BINS)]
    else:
        keys = [_key(v) for v in vals]
        names = sorted(set(keys), key=lambda s: (_as_float(s), s))
        cls = np.array([names.index(k) for k in keys])
        info.update(kind="classes")
    counts = np.bincount(cls, minlength=len(names))
    present = counts > 0
    if present.sum() < 2:
        raise DiagnoseInputError(f"the label column has only one class ({names[int(np.argmax(counts))]})")
    small = [names[i] for i in np.flatnonzero(present & (counts < MIN_CLASS_ROWS))]
    if small:
        raise DiagnoseInputError(f"label class {small[0]!r} has {counts[names.index(small[0])]} "
                                 f"labelled rows; need at least {MIN_CLASS_ROWS} per class")
    info["classes"] = [names[i] for i in np.flatnonzero(present)]
    info["class_counts"] = [int(c) for c in counts[present]]
    remap = np.cumsum(present) - 1
    return mask, remap[cls], info


def _key(v) -> str:
    """A class name: 1, 1.0 and "1" are the same class "1"; other strings as they are."""
    f = _as_float(v)
    if not np.isfinite(f):
        return str(v).strip()
    return str(int(f)) if float(f).is_integer() else repr(f)


def _as_float(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def prepare(X) -> tuple[np.ndarray, np.ndarray, float]:
    """Centre and divide by one common scale (the root mean variance of the columns):
    ``(X_scaled, centre [D], scale)``. A common scale keeps isotropic noise isotropic;
    a variance in data units is ``scale ** 2`` times one in scaled units."""
    X = np.asarray(X, dtype=np.float64)
    centre = X.mean(0)
    scale = float(np.sqrt(X.var(0).mean()))
    return (X - centre) / scale, centre, scale


def split_indices(n: int, seed: int, val_share: float = 0.2, test_share: float = 0.2) -> dict:
    """A seeded random split of ``range(n)`` into train / val / test index arrays."""
    perm = np.random.default_rng([int(seed), 7]).permutation(n)
    n_val, n_test = max(1, int(round(val_share * n))), max(1, int(round(test_share * n)))
    return {"test": np.sort(perm[:n_test]), "val": np.sort(perm[n_test:n_test + n_val]),
            "train": np.sort(perm[n_test + n_val:])}


def _result(guideline, ran, flag, verdict, metrics=None, **extra) -> dict:
    out = {"guideline": guideline, "ran": bool(ran), "flag": None if flag is None else bool(flag),
           "verdict": verdict, "metrics": metrics or {}}
    out.update(extra)
    return out


# --------------------------------------------------------------------------------------
# Guideline 1: class separability
# --------------------------------------------------------------------------------------
def _one_blas_thread():
    """numpy / scikit-learn on one BLAS thread (speed on a shared machine, and the
    same summation order on every run)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


def class_separability(X, y, cfg: DiagnoseConfig = DiagnoseConfig()) -> dict:
    """Guideline 1: how well a small classifier predicts y from x (labelled rows only).

    scikit-learn ``MLPClassifier`` on standardised x, stratified ``cv_folds``-fold
    cross-validation; from the out-of-fold p(y | x): balanced accuracy (raw and adjusted
    for chance, so 0 is guessing and 1 perfect), and the mean entropy divided by log C.
    """
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if y is None:
        return _result(1, False, None, "no label column given (--label): not applicable")
    mask, cls, info = _labels(y)
    Xl = np.asarray(X, dtype=np.float64)[mask]
    C = int(cls.max()) + 1
    folds = min(cfg.cv_folds, int(np.bincount(cls).min()))
    clf = make_pipeline(StandardScaler(), MLPClassifier(
        hidden_layer_sizes=tuple(cfg.classifier_hidden), alpha=1e-3, max_iter=1000,
        random_state=cfg.seed))
    with warnings.catch_warnings(), _one_blas_thread():
        warnings.simplefilter("ignore")          # ConvergenceWarning on hard problems
        P = cross_val_predict(clf, Xl, cls, method="predict_proba",
                              cv=StratifiedKFold(folds, shuffle=True, random_state=cfg.seed))
    bacc = float(balanced_accuracy_score(cls, P.argmax(1)))
    adj = float(balanced_accuracy_score(cls, P.argmax(1), adjusted=True))
    ent = -(P * np.log(np.clip(P, 1e-300, 1.0))).sum(1)
    h = float(ent.mean() / math.log(C))
    overlap = adj < SEPARABLE_BACC or h > SEPARABLE_ENTROPY
    if overlap:
        verdict = (f"the classes overlap (balanced accuracy {bacc:.2f}, entropy {h:.2f} of the "
                   f"maximum): x rarely pins down y, so the unlabelled posterior p(z | x) mixes "
                   f"several cohorts; use a rich variational family in the unlabelled part of "
                   f"the semi-supervised objective")
    else:
        verdict = (f"the classes are well separated (balanced accuracy {bacc:.2f}, entropy "
                   f"{h:.2f} of the maximum): an MFG family is enough in the unlabelled part "
                   f"of the semi-supervised objective")
    metrics = {"balanced_accuracy": bacc, "balanced_accuracy_adjusted": adj,
               "mean_entropy_normalised": h, "n_classes": C, "folds": folds, **info}
    return _result(1, True, overlap, verdict, metrics,
                   arrays={"entropy": ent, "p_max": P.max(1)})


# --------------------------------------------------------------------------------------
# Guideline 3: the shape of the data
# --------------------------------------------------------------------------------------
def _subsample(n: int, m: int, seed: int, tag: int) -> np.ndarray:
    if n <= m:
        return np.arange(n)
    return np.sort(np.random.default_rng([int(seed), tag]).choice(n, m, replace=False))


def twonn(X) -> float:
    """TwoNN intrinsic dimension (Facco et al. 2017): the slope through the origin of
    -log(1 - F(mu)) against log(mu), mu = r2 / r1, the largest 10% of mu discarded."""
    from sklearn.neighbors import NearestNeighbors

    d, _ = NearestNeighbors(n_neighbors=3).fit(X).kneighbors(X)
    ok = d[:, 1] > 0
    mu = np.sort(d[ok, 2] / d[ok, 1])
    n = len(mu)
    F = np.arange(1, n + 1) / n
    keep = slice(0, int(0.9 * n))
    xs, ys = np.log(mu[keep]), -np.log(1 - F[keep])
    return float((xs * ys).sum() / (xs * xs).sum())


def intrinsic_dimension(X, seed: int = 0) -> dict:
    """TwoNN on the whole sample and on halving subsamples (coarser scales: noise inflates
    the estimate at the finest scale), and the number of principal components that
    explain 90% / 95% of the variance (scikit-learn PCA)."""
    from sklearn.decomposition import PCA

    X = np.asarray(X, dtype=np.float64)
    n, D = X.shape
    scales = []
    m = n
    while m >= 50 and len(scales) < 5:
        idx = _subsample(n, m, seed, 100 + len(scales))
        scales.append({"points": int(m), "twonn": twonn(X[idx])})
        m //= 2
    ev = PCA().fit(X).explained_variance_ratio_
    cum = np.cumsum(ev)
    pca90 = int(np.searchsorted(cum, 0.90) + 1)
    pca95 = int(np.searchsorted(cum, 0.95) + 1)
    coarse = min(s["twonn"] for s in scales)
    k = int(min(max(1, round(coarse)), D - 1))
    return {"twonn": scales[0]["twonn"], "twonn_by_scale": scales, "twonn_coarsest_min": coarse,
            "pca_components_90": pca90, "pca_components_95": pca95,
            "pca_explained_variance_ratio": [float(v) for v in ev],
            "suggested_latent_dim": k}


def _universal_pvalues(h1: np.ndarray) -> np.ndarray:
    """p-values of H1 features under the universal null of Bobrowski & Skraba (PNAS 2023):
    for Rips filtrations ``l = log log(death / birth)``, centred as ``l - mean(l) - gamma``,
    follows a left-skewed Gumbel law, ``p = exp(-exp(l))``."""
    if len(h1) == 0:
        return np.zeros(0)
    ratio = h1[:, 1] / np.maximum(h1[:, 0], 1e-300)
    ok = np.isfinite(ratio) & (ratio > 1)
    p = np.ones(len(h1))
    if ok.sum() < 2:
        return p
    L = np.log(np.log(ratio[ok]))
    ell = L - L.mean() - _EULER_GAMMA
    p[ok] = np.exp(-np.exp(ell))
    return p


def persistence(X, seed: int = 0, max_points: int = 1000) -> dict:
    """Persistent homology of the Vietoris-Rips filtration (ripser) of up to
    ``max_points`` points (seeded subsample).

    * clusters (H0): the single-linkage merges (the H0 deaths) that join two groups each
      holding >= ``CLUSTER_MIN_SHARE`` of the points (and >= 5), at a height of at least
      ``CLUSTER_GAP`` times the median nearest-neighbour distance; ``clusters`` = 1 + their
      number (outliers do not count).
    * loops (H1): p-values of every cycle under the universal null distribution of
      Bobrowski & Skraba (2023), Holm-corrected; ``loops`` = cycles with adjusted p < ALPHA.
      The filtration stops at the ``RIPS_QUANTILE`` quantile of the pairwise distances (a
      full Rips filtration of a large loop costs minutes); a cycle alive there is given
      that death, which can only raise its p-value.
    """
    from ripser import ripser
    from scipy.cluster.hierarchy import linkage
    from sklearn.neighbors import NearestNeighbors

    X = np.asarray(X, dtype=np.float64)
    idx = _subsample(len(X), max_points, seed, 11)
    P = X[idx]
    n = len(P)
    d1 = NearestNeighbors(n_neighbors=2).fit(P).kneighbors(P)[0][:, 1]
    nn = float(np.median(d1))
    from scipy.spatial.distance import pdist

    thresh = float(np.quantile(pdist(P), RIPS_QUANTILE))
    dg = ripser(P, maxdim=1, thresh=thresh)["dgms"]
    h0, h1 = dg[0], dg[1].copy()
    censored = ~np.isfinite(h1[:, 1])
    h1[censored, 1] = thresh         # alive at the threshold: death >= thresh (conservative)
    Z = linkage(P, "single")
    size = np.concatenate([np.ones(n), Z[:, 3]])
    small = np.minimum(size[Z[:, 0].astype(int)], size[Z[:, 1].astype(int)])
    min_size = max(5, CLUSTER_MIN_SHARE * n)
    big = (small >= min_size) & (Z[:, 2] >= CLUSTER_GAP * nn)
    p = _universal_pvalues(h1)
    p_adj = holm(p) if len(p) else p
    loops = int((p_adj < ALPHA).sum())
    order = np.argsort(p_adj, kind="stable")[:5]
    return {"points": int(n), "nn_median": nn, "clusters": int(1 + big.sum()), "loops": loops,
            "rips_threshold": thresh, "h1_censored": int(censored.sum()),
            "cluster_merge_heights": [float(v) for v in np.sort(Z[big, 2])[::-1]],
            "largest_gap_ratio": float(Z[small >= min_size, 2].max() / nn) if (small >= min_size).any() else 0.0,
            "h1_features": int(len(h1)),
            "top_loops": [{"birth": float(h1[i, 0]), "death": float(h1[i, 1]),
                           "p_adjusted": float(p_adj[i])} for i in order],
            "arrays": {"h0": h0, "h1": h1, "h1_p_adjusted": p_adj, "points": P}}


def data_shape(X, latent_dim: int | None = None, cfg: DiagnoseConfig = DiagnoseConfig()) -> dict:
    """Guideline 3: intrinsic dimension and topology (clusters, loops) of the data.

    Flags clustered data (more than one significant H0 component: a continuous map from
    a Gaussian latent must then have steep steps) and, for a one-dimensional latent, more
    than one significant loop (a line can close one loop, but two need a self-crossing:
    Figure-8)."""
    with _one_blas_thread():
        ident = intrinsic_dimension(X, cfg.seed)
        ph = persistence(X, cfg.seed, cfg.tda_points)
    K = latent_dim if latent_dim is not None else ident["suggested_latent_dim"]
    clustered = ph["clusters"] > 1
    crossing = K == 1 and ph["loops"] > 1
    parts = [f"{ph['clusters']} cluster{'s' if ph['clusters'] != 1 else ''}",
             f"{ph['loops']} loop{'s' if ph['loops'] != 1 else ''}",
             f"intrinsic dimension ~{ident['twonn_coarsest_min']:.1f} (TwoNN)"]
    if clustered or crossing:
        why = []
        if clustered:
            why.append("the data are clustered")
        if crossing:
            why.append("a 1-D latent would have to cross itself to trace the loops")
        verdict = (f"{', '.join(parts)}: {' and '.join(why)}, so f must fold or jump and the "
                   f"true posteriors are multi-modal; use a rich variational family for a "
                   f"{K}-D latent space")
    else:
        verdict = (f"{', '.join(parts)}: no topological reason against an MFG family with a "
                   f"{K}-D latent space")
    arrays = ph.pop("arrays")
    return _result(3, True, clustered or crossing, verdict,
                   {"intrinsic_dimension": ident, "persistence": ph, "latent_dim": int(K)},
                   arrays=arrays)


# --------------------------------------------------------------------------------------
# Model fits (guidelines 2 and 4)
# --------------------------------------------------------------------------------------
@contextlib.contextmanager
def _float64_one_thread():
    import torch

    old_dtype, old_threads = torch.get_default_dtype(), torch.get_num_threads()
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_default_dtype(old_dtype)
        torch.set_num_threads(old_threads)


def sigma_grid(X_train, n: int) -> np.ndarray:
    """``n`` values of sigma^2 spaced geometrically over [1e-3, 2] x the smallest
    principal variance of the (scaled) training data (the noise variance cannot exceed
    the variance of any direction by much)."""
    lam = float(np.linalg.eigvalsh(np.cov(np.asarray(X_train).T)).min())
    return lam * np.geomspace(1e-3, 2.0, n)


def _seed(cfg: DiagnoseConfig, tag: str) -> int:
    from .objectives import derive_seed

    return derive_seed(cfg.seed, "diagnose/" + tag)


def fit_models(X_train, X_val, latent_dim: int, cfg: DiagnoseConfig = DiagnoseConfig(),
               progress: bool | None = None, bar=None) -> dict:
    """Train the models of guidelines 2 and 4 with ``train.train_ensemble``:

    * an MFG-VAE for every sigma^2 of ``sigma_grid`` (fixed), ``restarts`` each, as one
      batched ensemble; each scored on validation data by importance-sampled log p(x);
    * an MFG-VAE with sigma^2 learned jointly with the ELBO (per dimension);
    * an IWAE (S = ``iwae_samples``) at the grid sigma^2 with the best validation log p(x).

    Returns the models and the validation scores (not JSON: ``noise_variance`` and
    ``density_gap`` read it)."""
    import torch

    from . import evaluate
    from .objectives import VAEConfig
    from .train import Member, TrainConfig, train_ensemble

    Xt = np.asarray(X_train, dtype=np.float64)
    Xv = np.asarray(X_val, dtype=np.float64)
    D, R = Xt.shape[1], cfg.restarts
    grid = sigma_grid(Xt, cfg.sigma_grid)
    out: dict = {"grid": grid, "latent_dim": int(latent_dim)}

    def step(label):
        if bar is not None:
            bar.set_description(label)

    def done():
        if bar is not None:
            bar.update(1)

    with _float64_one_thread():
        arch = VAEConfig(data_dim=D, latent_dim=int(latent_dim))
        tc = TrainConfig(method="vae", epochs=cfg.epochs)
        step(f"MFG-VAE x{len(grid) * R} (sigma^2 grid)")
        members = [Member(seed=_seed(cfg, f"grid/{g}/{r}")) for g in range(len(grid)) for r in range(R)]
        t0 = time.perf_counter()
        grid_fit = train_ensemble(arch, tc, members, {"x": Xt}, noise_var=torch.tensor(np.repeat(grid, R)),
                                  progress=progress)
        val_ll = evaluate.log_px_importance(grid_fit.model, Xv, cfg.is_samples_val, tag="diagnose-val")
        val_elbo = -evaluate.neg_elbo(grid_fit.model, Xv, n_samples=10, tag="diagnose-val-elbo")
        out.update(grid_model=grid_fit.model, grid_val_ll=val_ll.mean(1).reshape(len(grid), R),
                   grid_val_elbo=val_elbo.reshape(len(grid), R),
                   grid_train_loss=grid_fit.history["train_loss"], seconds_grid=time.perf_counter() - t0)
        done()

        step(f"MFG-VAE x{R} (sigma^2 learned)")
        t0 = time.perf_counter()
        archL = VAEConfig(data_dim=D, latent_dim=int(latent_dim), learn_noise=True)
        init = float(np.sqrt(grid[0] * grid[-1]))
        learn_fit = train_ensemble(archL, tc, [Member(seed=_seed(cfg, f"learn/{r}")) for r in range(R)],
                                   {"x": Xt}, noise_var=init, progress=progress)
        learn_val_elbo = -evaluate.neg_elbo(learn_fit.model, Xv, n_samples=10, tag="diagnose-val-elbo")
        out.update(learn_model=learn_fit.model, learn_val_elbo=learn_val_elbo,
                   learn_noise_var=learn_fit.model.noise_var.detach().cpu().numpy(),
                   seconds_learn=time.perf_counter() - t0)
        done()

        best = np.unravel_index(int(np.argmax(out["grid_val_ll"])), out["grid_val_ll"].shape)
        g_best, r_best = int(best[0]), int(best[1])
        out.update(best_grid=g_best, best_restart=r_best,
                   vae=grid_fit.model.subset([g_best * R + r_best]))
        step(f"IWAE x{R} (S={cfg.iwae_samples})")
        t0 = time.perf_counter()
        ti = TrainConfig(method="iwae", iwae_samples=cfg.iwae_samples, epochs=cfg.epochs)
        iw_fit = train_ensemble(arch, ti, [Member(seed=_seed(cfg, f"iwae/{r}")) for r in range(R)],
                                {"x": Xt}, noise_var=float(grid[g_best]), progress=progress)
        iw_val = evaluate.log_px_importance(iw_fit.model, Xv, cfg.is_samples_val, tag="diagnose-val").mean(1)
        i_best = int(np.argmax(iw_val))
        out.update(iwae=iw_fit.model.subset([i_best]), iwae_val_ll=iw_val, iwae_best=i_best,
                   seconds_iwae=time.perf_counter() - t0)
        done()
    return out


def _peak_log_grid(grid: np.ndarray, score: np.ndarray) -> tuple[float, bool]:
    """The maximiser of ``score`` over ``grid`` refined by a parabola in log(grid) through
    the best point and its two neighbours; ``(value, at_edge)``."""
    i = int(np.argmax(score))
    if i == 0 or i == len(grid) - 1:
        return float(grid[i]), True
    u = np.log(grid[i - 1:i + 2])
    a, b, _ = np.polyfit(u, score[i - 1:i + 2], 2)
    if a >= 0:
        return float(grid[i]), False
    return float(np.exp(np.clip(-b / (2 * a), u[0], u[2]))), False


def noise_variance(fits: dict, scale: float = 1.0) -> dict:
    """Guideline 2: sigma^2 learned jointly with the ELBO vs picked by log-likelihood.

    ``sigma2_elbo``: the mean over data dimensions of the learned sigma^2 of the
    restart with the best validation ELBO. ``sigma2_loglik``: the grid maximiser of the
    validation log p(x) (best restart per grid value), refined by a parabola in
    log sigma^2. Both in the data's units (``scale ** 2`` times the scaled value)."""
    grid = fits["grid"]
    ll = fits["grid_val_ll"].max(1)
    s2_ll, edge = _peak_log_grid(grid, ll)
    j = int(np.argmax(fits["learn_val_elbo"]))
    s2_elbo = float(np.mean(fits["learn_noise_var"][j]))
    ratio = s2_elbo / s2_ll
    lg = np.log(grid)
    at = lambda v: float(np.interp(np.clip(np.log(v), lg[0], lg[-1]), lg, ll))   # noqa: E731
    cost = at(s2_ll) - at(s2_elbo)
    flag = not (1 / NOISE_RATIO <= ratio <= NOISE_RATIO) and cost > NOISE_MIN_COST
    u = scale ** 2
    word = "below" if ratio < 1 else "above"
    if flag:
        verdict = (f"the ELBO learns sigma^2 = {s2_elbo * u:.3g}, {max(ratio, 1 / ratio):.1f}x "
                   f"{word} the {s2_ll * u:.3g} that the log-likelihood picks (which costs "
                   f"{cost:.2f} nats per validation point): the MFG bound distorts the noise "
                   f"estimate; set sigma^2 by log-likelihood (or domain knowledge), and prefer a "
                   f"rich family")
    else:
        verdict = (f"the ELBO's sigma^2 = {s2_elbo * u:.3g} and the log-likelihood's "
                   f"{s2_ll * u:.3g} (ratio {ratio:.2f}; the ELBO's value costs {cost:.2f} nats per "
                   f"validation point): no sign of a harmful bias in the noise estimate")
    if edge:
        verdict += " (the log-likelihood's best sigma^2 is at the edge of the grid)"
    metrics = {"sigma2_elbo": s2_elbo * u, "sigma2_loglik": s2_ll * u, "ratio": ratio,
               "loglik_cost": cost,
               "sigma2_elbo_per_dim": [float(v) * u for v in fits["learn_noise_var"][j]],
               "grid": [float(g) * u for g in grid], "grid_val_loglik": [float(v) for v in ll],
               "grid_val_elbo": [float(v) for v in fits["grid_val_elbo"].max(1)],
               "loglik_peak_at_grid_edge": edge}
    return _result(2, True, flag, verdict, metrics)


# --------------------------------------------------------------------------------------
# Guideline 4 (i): residuals from the learned manifold
# --------------------------------------------------------------------------------------
def project_to_manifold(model, X, grid_points: int = 4001, z_range: float = 5.0,
                        seed: int = 0) -> dict:
    """Nearest point f(z*) of the learned manifold to each row of X (float64 copy of the
    model): for K = 1 a z-grid on [-z_range, z_range] refined between the neighbours of
    the best grid point; for K > 1 Adam on ||x - f(z)||^2 from the encoder mean and four
    prior draws (best kept). Returns ``z`` [N, K], ``f`` [N, D], the tangent vectors
    ``J`` [N, D, K] (central differences) and ``normal`` [N, D, D-K], an orthonormal basis
    of the normal space (for D - K = 1 the oriented normal, so its sign is consistent
    along the manifold; otherwise Gram-Schmidt of J against the coordinate axes)."""
    import torch

    from .evaluate import float64_copy

    X = np.asarray(X, dtype=np.float64)
    with _float64_one_thread():
        m = float64_copy(model)
        K = m.cfg.latent_dim

        def dec(z):
            with torch.no_grad():
                return m.decode(torch.as_tensor(z, dtype=torch.float64)[None])[0].numpy()

        if K == 1:
            zg = np.linspace(-z_range, z_range, grid_points)
            F = dec(zg[:, None])
            best = np.empty(len(X), dtype=int)
            for a in range(0, len(X), 256):
                d2 = ((X[a:a + 256, None, :] - F[None]) ** 2).sum(-1)
                best[a:a + 256] = d2.argmin(1)
            step = zg[1] - zg[0]
            sub = np.linspace(-1, 1, 21)
            zc = zg[best][:, None] + step * sub[None]                  # [N, 21]
            Fc = dec(zc.reshape(-1, 1)).reshape(len(X), len(sub), -1)
            j = ((X[:, None, :] - Fc) ** 2).sum(-1).argmin(1)
            z = zc[np.arange(len(X)), j][:, None]
        else:
            Xt = torch.as_tensor(X)
            with torch.no_grad():
                starts = [m.encode(Xt[None])[0][0]]
            g = torch.Generator().manual_seed(int(seed))
            starts += [torch.randn(len(X), K, generator=g, dtype=torch.float64) for _ in range(4)]
            best_z, best_d = None, None
            for z0 in starts:
                z = z0.clone().requires_grad_(True)
                opt = torch.optim.Adam([z], lr=0.02)
                for _ in range(400):
                    opt.zero_grad()
                    loss = ((m.decode(z[None])[0] - Xt) ** 2).sum()
                    loss.backward()
                    opt.step()
                with torch.no_grad():
                    d = ((m.decode(z[None])[0] - Xt) ** 2).sum(1)
                    if best_z is None:
                        best_z, best_d = z.detach().clone(), d
                    else:
                        better = d < best_d
                        best_z[better], best_d[better] = z.detach()[better], d[better]
            z = best_z.numpy()
        f = dec(z)
        h = 1e-4
        J = np.stack([(dec(z + h * e) - dec(z - h * e)) / (2 * h) for e in np.eye(K)], -1)
    D = X.shape[1]
    normal = _normal_basis(J)
    return {"z": z, "f": f, "J": J, "normal": normal, "D": D, "K": K}


def _normal_basis(J: np.ndarray) -> np.ndarray:
    """Orthonormal bases [N, D, D-K] of the complements of the column spaces of J [N, D, K]."""
    N, D, K = J.shape
    if D - K == 1:
        # generalised cross product: n_i = (-1)^(i + K) det(J without row i), so that
        # det[J, n] > 0 (a consistent orientation along the manifold)
        n = np.empty((N, D))
        for i in range(D):
            rows = [r for r in range(D) if r != i]
            n[:, i] = (-1) ** (i + K) * np.linalg.det(J[:, rows, :])
        n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-300)
        return n[:, :, None]
    A = np.concatenate([J, np.broadcast_to(np.eye(D), (N, D, D))], 2)
    Q, Rm = np.linalg.qr(A)
    Q = Q * np.sign(np.where(np.diagonal(Rm, axis1=1, axis2=2) == 0, 1,
                             np.diagonal(Rm, axis1=1, axis2=2)))[:, None, :D]
    return Q[:, :, K:D]


def holm(p) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1)."""
    p = np.asarray(p, dtype=np.float64)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adj = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, (m - rank) * p[i])
        adj[i] = min(1.0, running)
    return adj


def manifold_residuals(model, X_test, cfg: DiagnoseConfig = DiagnoseConfig()) -> dict:
    """Guideline 4 (i): is the residual from the learned manifold Gaussian?

    The residual R = x - f(z*) of each held-out point (``project_to_manifold``) is
    expressed in the normal space of the manifold (its tangential part is ~0 by
    construction). Under the model the D - K normal coordinates are N(0, sigma^2); each
    is tested with Shapiro-Wilk (scipy), Holm-corrected across the coordinates. (The raw
    coordinates of R are not Gaussian even for a perfect fit: the direction of the
    normal changes along a curved manifold, which mixes scales.)"""
    from scipy import stats

    X = np.asarray(X_test, dtype=np.float64)
    pr = project_to_manifold(model, X, cfg.projection_grid, seed=cfg.seed)
    R = X - pr["f"]
    C = np.einsum("nd,ndk->nk", R, pr["normal"])           # normal coordinates [N, D-K]
    pv, W, skew, kurt = [], [], [], []
    for k in range(C.shape[1]):
        c = C[:5000, k]
        w, p = stats.shapiro(c)
        pv.append(float(p)), W.append(float(w))
        skew.append(float(stats.skew(c))), kurt.append(float(stats.kurtosis(c)))
    adj = holm(pv)
    flag = bool((adj < ALPHA).any())
    tangential = float(np.sqrt((R ** 2).sum(1).mean() - (C ** 2).sum(1).mean()))
    if flag:
        verdict = (f"the residuals from the MFG-VAE's manifold are not Gaussian (Shapiro-Wilk, "
                   f"smallest Holm-adjusted p = {adj.min():.2g}): the manifold is probably "
                   f"misestimated; prefer a rich family")
    else:
        verdict = (f"the residuals from the MFG-VAE's manifold look Gaussian (smallest "
                   f"Holm-adjusted p = {adj.min():.2g}): no sign that the manifold is misestimated")
    metrics = {"points": int(len(X)), "normal_dims": int(C.shape[1]), "shapiro_w": W,
               "p_values": pv, "p_adjusted": [float(v) for v in adj], "skewness": skew,
               "excess_kurtosis": kurt, "residual_sd": [float(v) for v in C.std(0)],
               "tangential_rms": tangential}
    return _result(4, True, flag, verdict, metrics,
                   arrays={"normal_coords": C, "z": pr["z"], "f": pr["f"]})


# --------------------------------------------------------------------------------------
# Guideline 4 (ii): does a rich family raise the held-out log-likelihood?
# --------------------------------------------------------------------------------------
def density_gap(vae, iwae, X_test, cfg: DiagnoseConfig = DiagnoseConfig(), scale: float = 1.0) -> dict:
    """Guideline 4 (ii): held-out log p(x) of the IWAE minus that of the MFG-VAE.

    Both importance sampled (``evaluate.log_px_importance``, ``is_samples_test`` samples,
    each model's own encoder as the proposal) on the same test points: the paired
    per-point differences d_i, their mean and standard error, and a one-sided z-test.
    Log-likelihoods are per point in the data's units (``- D log scale``)."""
    from scipy import stats

    from . import evaluate

    X = np.asarray(X_test, dtype=np.float64)
    with _float64_one_thread():
        lv = evaluate.log_px_importance(vae, X, cfg.is_samples_test, tag="diagnose-test")[0]
        li = evaluate.log_px_importance(iwae, X, cfg.is_samples_test, tag="diagnose-test")[0]
    d = li - lv
    mean, se = float(d.mean()), float(d.std(ddof=1) / math.sqrt(len(d)))
    z = mean / se if se > 0 else (math.inf if mean > 0 else 0.0)
    p = float(stats.norm.sf(z))
    flag = mean > DENSITY_MIN_GAIN and p < ALPHA
    shift = X.shape[1] * math.log(scale)
    if flag:
        verdict = (f"the IWAE explains held-out data better by {mean:.3f} +- {se:.3f} nats per "
                   f"point (p = {p:.2g}): the MFG family costs density quality here; use a rich family")
    else:
        verdict = (f"the IWAE's held-out gain is {mean:.3f} +- {se:.3f} nats per point "
                   f"(p = {p:.2g}): no significant cost of the MFG family")
    metrics = {"points": int(len(X)), "loglik_vae": float(lv.mean()) - shift,
               "loglik_iwae": float(li.mean()) - shift, "gain_mean": mean, "gain_se": se,
               "gain_median": float(np.median(d)), "z": z, "p_value": p,
               "share_points_iwae_better": float((d > 0).mean())}
    return _result(4, True, flag, verdict, metrics, arrays={"differences": d})


# --------------------------------------------------------------------------------------
# Everything
# --------------------------------------------------------------------------------------
def learned_curve(model, n: int = 801, seed: int = 0) -> np.ndarray:
    """f(z) of a fitted model in scaled data units: on a z-grid over [-4, 4] for K = 1,
    at ``n`` prior draws otherwise (float64 copy of the model). [n, D]."""
    from . import evaluate

    K = model.cfg.latent_dim
    z = (np.linspace(-4, 4, n)[:, None] if K == 1
         else np.random.default_rng(seed).standard_normal((n, K)))
    with _float64_one_thread():
        return evaluate.f_on_grid(model, z)[0].astype(np.float64)


def _round(v, digits: int = 4):
    """JSON-ready copy with floats to ``digits`` significant digits (what the command
    prints does not depend on the CPU's last bits)."""
    if isinstance(v, dict):
        return {k: _round(x, digits) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_round(x, digits) for x in v]
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if not math.isfinite(v):
            return None
        return float(f"{v:.{digits}g}")
    return v


def diagnose(X, y=None, latent_dim: int | None = None, cfg: DiagnoseConfig = DiagnoseConfig(),
             progress: bool | None = None, source: str = "", columns: Sequence[str] | None = None,
             label: str | None = None) -> dict:
    """Run every check on ``X`` [N, D] (and labels ``y``); see the module docstring.

    Returns ``{"summary": <JSON-ready dict, floats rounded>, "arrays": <numpy arrays for
    the plots>}``. ``latent_dim=None`` takes the intrinsic-dimension estimate (rounded,
    in [1, D - 1]). Raises ``DiagnoseInputError`` for bad input."""
    from .train import progress_enabled

    t_start = time.perf_counter()
    X = np.asarray(X, dtype=np.float64)
    check_inputs(X, y, latent_dim)
    n_rows = len(X)
    rows = _subsample(n_rows, cfg.max_rows, cfg.seed, 3)
    X = X[rows]
    y = None if y is None else np.asarray(y, dtype=object)[rows]
    if y is not None:
        _labels(y)          # the subsample must still have two classes
    Xs, centre, scale = prepare(X)
    split = split_indices(len(Xs), cfg.seed, cfg.val_share, cfg.test_share)
    show = progress_enabled(progress)
    bar = None
    if show:
        from tqdm.auto import tqdm
        bar = tqdm(total=6, desc="vaefail diagnose", unit="step", leave=False)
    checks, arrays, seconds = {}, {}, {}
    try:
        t0 = time.perf_counter()
        if bar is not None:
            bar.set_description("classifier (guideline 1)")
        checks["class_separability"] = class_separability(Xs, y, cfg)
        arrays["class_separability"] = checks["class_separability"].pop("arrays", {})
        seconds["class_separability"] = time.perf_counter() - t0
        if bar is not None:
            bar.update(1)
            bar.set_description("topology (guideline 3)")
        t0 = time.perf_counter()
        checks["data_shape"] = data_shape(Xs, latent_dim, cfg)
        arrays["data_shape"] = checks["data_shape"].pop("arrays", {})
        seconds["data_shape"] = time.perf_counter() - t0
        K = checks["data_shape"]["metrics"]["latent_dim"]
        if bar is not None:
            bar.update(1)
        t0 = time.perf_counter()
        fits = fit_models(Xs[split["train"]], Xs[split["val"]], K, cfg, progress=progress, bar=bar)
        seconds["fits"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        if bar is not None:
            bar.set_description("evaluation (guidelines 2, 4)")
        checks["noise_variance"] = noise_variance(fits, scale)
        checks["manifold_residuals"] = manifold_residuals(fits["vae"], Xs[split["test"]], cfg)
        arrays["manifold_residuals"] = checks["manifold_residuals"].pop("arrays", {})
        checks["density_gap"] = density_gap(fits["vae"], fits["iwae"], Xs[split["test"]], cfg, scale)
        arrays["density_gap"] = checks["density_gap"].pop("arrays", {})
        seconds["evaluation"] = time.perf_counter() - t0
        if fits["best_grid"] == len(fits["grid"]) - 1:     # everything explained as noise
            for c in ("noise_variance", "manifold_residuals", "density_gap"):
                checks[c]["flag"] = None
                checks[c]["verdict"] = ("inconclusive: the best model puts all variation into the "
                                        "noise (sigma^2 at the top of the grid), so there is no "
                                        "learned manifold to judge; " + checks[c]["verdict"])
        if bar is not None:
            bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    arrays["data"] = {"x": Xs, "train": split["train"], "val": split["val"], "test": split["test"]}
    arrays["curves"] = {k: learned_curve(fits[k]) for k in ("vae", "iwae")}
    arrays["fits"] = {k: fits[k] for k in ("grid", "grid_val_ll", "grid_val_elbo", "learn_noise_var",
                                           "learn_val_elbo", "vae", "iwae", "best_grid")}
    reasons = [c for c in CHECKS if checks[c]["flag"]]
    rich = bool(reasons)
    summary = {
        "schema": SCHEMA,
        "input": {"source": str(source), "rows": int(n_rows), "rows_used": int(len(Xs)),
                  "features": list(columns) if columns is not None else [f"x{i + 1}" for i in range(X.shape[1])],
                  "label": label, "latent_dim": int(K),
                  "latent_dim_source": "given" if latent_dim is not None else "intrinsic dimension",
                  "split": {k: int(len(v)) for k, v in split.items()}, "scale": scale},
        "settings": {**asdict(cfg), "alpha": ALPHA, "separable_bacc": SEPARABLE_BACC,
                     "separable_entropy": SEPARABLE_ENTROPY, "noise_ratio": NOISE_RATIO,
                     "noise_min_cost": NOISE_MIN_COST, "rips_quantile": RIPS_QUANTILE,
                     "cluster_min_share": CLUSTER_MIN_SHARE, "cluster_gap": CLUSTER_GAP,
                     "density_min_gain": DENSITY_MIN_GAIN},
        "checks": {c: checks[c] for c in CHECKS},
        "rich_family_recommended": rich,
        "reasons": reasons,
        "bottom_line": _bottom_line(rich, reasons, checks),
        "seconds": {**seconds, "total": time.perf_counter() - t_start},
    }
    return {"summary": _round(summary), "arrays": arrays}


_SHORT = {"class_separability": "the classes overlap (guideline 1)",
          "noise_variance": "the ELBO's noise variance is biased (guideline 2)",
          "data_shape": "the data's topology (guideline 3)",
          "manifold_residuals": "non-Gaussian residuals from the learned manifold (guideline 4i)",
          "density_gap": "a rich family fits held-out data better (guideline 4ii)"}


def _bottom_line(rich: bool, reasons: list[str], checks: dict) -> str:
    if rich:
        return ("use a rich variational family (e.g. IWAE), because of: " +
                "; ".join(_SHORT[r] for r in reasons))
    return "an MFG-VAE looks adequate for these data: no check found a reason for a rich family"


# --------------------------------------------------------------------------------------
# Validation on the paper's benchmark data sets
# --------------------------------------------------------------------------------------
#: the validation sets and their labels (the two Semi-Circles are semi-supervised)
VALIDATION_SETS = ("figure8", "clusters", "spiral_dots", "semicircle_discrete",
                   "semicircle_continuous", "circle")
#: what the report must conclude (App. G / H, Sec. 9)
EXPECTED_FLAGS = {"figure8": True, "clusters": True, "spiral_dots": True,
                  "semicircle_discrete": True, "semicircle_continuous": True, "circle": False}


def export_csv(name: str, path, n: int = 2000, seed: int = 0) -> Path:
    """Write ``n`` points of a benchmark set as CSV with the columns ``vaefail data``
    writes (x1..xD, z1..zK, y); ``diagnose`` is then given ``columns=x1..xD``."""
    from . import data

    frame = data.to_frame(data.load(name, n=n, seed=seed))
    path = Path(path)
    frame.to_csv(path, index=False, float_format="%.8g")
    return path


def validation_table(names: Sequence[str] = VALIDATION_SETS, n: int = 2000, seed: int = 0,
                     cfg: DiagnoseConfig = DiagnoseConfig(), workdir=None,
                     progress: bool | None = False, keep_reports: bool = False):
    """Run ``diagnose`` on each benchmark set as a user would: export ``n`` points as CSV
    (``export_csv``), read it back (``load_table``, features x1..xD, label y for the
    Semi-Circles), K = 1 (the sets' true latent dimension). Returns ``(frame, reports)``:
    one row per set with every check's flag and key number, the bottom line, the
    expected flag, whether they agree and the seconds taken; ``reports`` maps names to
    ``diagnose`` results when ``keep_reports`` (else {})."""
    import tempfile

    import pandas as pd

    from . import data

    rows, reports = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(workdir) if workdir is not None else Path(tmp)
        for name in names:
            g = data.get(name)
            path = export_csv(name, work / f"{name}.csv", n=n, seed=seed)
            label = "y" if g.label is not None else None
            cols = [f"x{i + 1}" for i in range(g.data_dim)]
            X, y, feats = load_table(path, label=label, columns=cols)
            t0 = time.perf_counter()
            res = diagnose(X, y, latent_dim=g.latent_dim, cfg=replace(cfg, seed=seed),
                           progress=progress, source=path.name, columns=feats, label=label)
            secs = time.perf_counter() - t0
            s = res["summary"]
            c = s["checks"]
            m = {k: c[k]["metrics"] for k in CHECKS}
            rows.append({
                "data set": name,
                "labels": g.label or "-",
                "G1 overlap": c["class_separability"]["flag"],
                "G1 bal. acc.": m["class_separability"].get("balanced_accuracy", float("nan")),
                "G2 biased sigma2": c["noise_variance"]["flag"],
                "G2 ratio ELBO/LL": m["noise_variance"]["ratio"],
                "G3 topology": c["data_shape"]["flag"],
                "G3 clusters": m["data_shape"]["persistence"]["clusters"],
                "G3 loops": m["data_shape"]["persistence"]["loops"],
                "G4i non-Gaussian residuals": c["manifold_residuals"]["flag"],
                "G4i min adj. p": min(m["manifold_residuals"]["p_adjusted"]),
                "G4ii IWAE better": c["density_gap"]["flag"],
                "G4ii gain": m["density_gap"]["gain_mean"],
                "G4ii gain se": m["density_gap"]["gain_se"],
                "rich family recommended": s["rich_family_recommended"],
                "expected": EXPECTED_FLAGS.get(name),
                "agrees": s["rich_family_recommended"] == EXPECTED_FLAGS.get(name),
                "seconds": secs,
            })
            if keep_reports:
                reports[name] = res
    return pd.DataFrame(rows).set_index("data set"), reports
