"""How much do the orderings of Tables 2-4 depend on the choice of two-sample test?
(Sec. 5 / App. E.1: Table 2; Sec. 7 / App. E.3: Tables 3-4; App. D "Evaluation Metrics".)

Every cell of Tables 2-4 compares samples of a selected model's p_theta(x) (or of one
cohort p_theta(x | y)) with held-out truth by one number, the smooth kNN z-score of
``metrics.smooth_knn_statistic`` with our choices k = 1, alpha = 1 and distances in
units of the pooled median nearest-neighbour distance. The paper names the statistic
but none of these choices (App. D). This module recomputes every comparison behind the
three tables, from the cached selected models only, under

* a **sensitivity panel** of the same statistic: k in ``KNN_KS`` x alpha in
  ``KNN_ALPHAS`` x two distance conventions (``"median-NN"``: distances divided by the
  pooled median nearest-neighbour distance, ``scale="nn"``; ``"raw"``: distances in data
  units, ``scale=None``, as the reference implementation does);
* a **second, standard test**: the energy-distance test of ``dcor``
  (``dcor.homogeneity.energy_test``; statistic n1 n2 / (n1 + n2) times the V-statistic
  energy distance 2 E|X - Y| - E|X - X'| - E|Y - Y'|, larger = more different), with a
  permutation p-value from ``ENERGY_PERMUTATIONS`` label permutations.

What each test responds to. The smooth kNN statistic counts (softly) how many of each
point's nearest neighbours come from the other sample, so it is a *local* test: it
reacts to differences in the local shape of the density, such as samples smeared off a
thin curve, a missing gap between clusters or the wrong density along the manifold.
Smaller alpha widens the soft neighbourhoods, and so do raw distances here: our data's
nearest neighbours are a few hundredths of a unit apart, so a raw alpha of 0.5-5 (in
inverse data units) spreads each point's weight over many neighbours and moves the
statistic towards a kernel test of coarser structure. The energy distance is a weighted L2 distance between characteristic
functions and is built from all pairwise distances, so it weighs the *global placement of
mass* (how much mass each mode or cluster gets, shifts, overall spread) and is nearly
blind to detail at the scale of the observation noise. A verdict that holds under both
families is not an artefact of one test's blind spot.

Protocol. The model samples and the truth samples are exactly those behind the
recorded ``knn_test`` values (same tags, seeds and held-out sets, see ``sweep.run_group``
and ``m2.sweep_records``): Table 2 and Table 3 compare with the data version's test split,
Table 4 with fresh draws of the true cohort (``m2.cohort_sample`` with the sweep's seed).
At most ``N_PER_SIDE`` points per side (subsampled as ``metrics.smooth_knn_test`` does);
the same samples serve every setting; the energy test uses a seeded subsample of
``ENERGY_N`` points per side of them (2000 per side takes ~45 s per test on our 2 cores,
1000 takes ~10 s; importing ``dcor`` compiles its numba kernels, ~10 s of CPU, so it is
imported only when a test is run). The setting ``k=1,alpha=1,median-NN`` reproduces the
tables' numbers (to the float32 rounding of the samples, ~1e-5).

API:

* ``robustness_frame(profile, recompute=False)``: one row per comparison, data version
  and setting (cached in ``results/<profile>/robustness.json``);
* ``summary(frame)``: mean and sd over data versions (the rows of ``robustness.csv``);
* ``write_robustness_csv(frame, profile)``: ``results/<profile>/robustness.csv``;
* ``energy_table(frame)``: the energy test per cell beside the tables' kNN z-score;
* ``verdicts(frame, claims="paper")``: per ordering claim of Tables 2-4, "robust",
  "depends on the test" (with the settings that flip it) or "not supported";
* ``draw_panel(frame, table)``: the panel of one table as a figure;
* ``knn_panel(x, y)`` and ``energy_test(x, y)``: the two tests on raw samples.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.lines import Line2D

from .. import cache, m2, metrics, sweep
from . import sec5, sec7
from .. import data as D
from ..cache import atomic_write_json, config_hash, write_table_csv
from ..evaluate import sample_px
from ..metrics import _NINF, _cardinality_marginals, _nn_scale, knn_null_moments
from ..objectives import derive_seed
from ..profiles import get_profile
from ..sweep import GT_START_PROFILE_FIELDS, load_selected
from ..train import progress_enabled

__all__ = [
    "KNN_KS", "KNN_ALPHAS", "DISTANCES", "N_PER_SIDE", "ENERGY_N", "ENERGY_PERMUTATIONS",
    "TABLES", "CSV_COLUMNS", "DEFAULT_SETTING", "ENERGY_SETTING", "ENERGY_P_SETTING",
    "setting_label", "knn_panel", "energy_test", "comparisons", "comparison_samples",
    "robustness_frame", "summary", "write_robustness_csv", "energy_table", "paper_claims", "claims_from",
    "verdicts", "draw_panel",
]

#: the panel: numbers of neighbours, inverse temperatures, distance conventions
KNN_KS = (1, 3, 5)
KNN_ALPHAS = (0.5, 1.0, 2.0, 5.0)
#: "median-NN": distances in units of the pooled median NN distance (``scale="nn"``, the
#: tables' convention); "raw": data units (``scale=None``, the reference implementation's)
DISTANCES = ("median-NN", "raw")
_SCALE = {"median-NN": "nn", "raw": None}
#: points per side for the kNN panel (the tables' ``metrics.KNN_MAX_N``)
N_PER_SIDE = metrics.KNN_MAX_N
#: points per side and permutations of the energy test
ENERGY_N = 1000
ENERGY_PERMUTATIONS = 200
TABLES = ("table2", "table3", "table4")
TABLE_TITLES = {"table2": "Table 2 (Sec. 5): p(x), unsupervised",
                "table3": "Table 3 (Sec. 7): p(x), semi-supervised M2",
                "table4": "Table 4 (Sec. 7): p(x | y) per cohort, semi-supervised M2"}
CSV_COLUMNS = ["table", "dataset", "method", "cohort", "test", "setting", "mean", "sd"]
#: the cohort of the p(x) comparisons
MARGINAL = "marginal"
#: Table 4 verdicts also compare the mean of the two cohorts (as the Sec. 7 page does)
COHORT_MEAN = "mean of cohorts"
_VERSION = "robustness-1"
_ROW_CHUNK = 2000          #: rows of the kNN graph per sweep of the k > 1 marginals


def setting_label(k: int, alpha: float, distance: str) -> str:
    """The panel's name for one setting, e.g. ``"k=1,alpha=1,median-NN"``."""
    return f"k={int(k)},alpha={float(alpha):g},{distance}"


#: the tables' own setting (``metrics.KNN_K``, ``KNN_ALPHA``, ``KNN_SCALE``)
DEFAULT_SETTING = setting_label(metrics.KNN_K, metrics.KNN_ALPHA, "median-NN")
#: the energy test's rows: its statistic and its permutation p-value
ENERGY_SETTING = f"n={ENERGY_N},permutations={ENERGY_PERMUTATIONS}"
ENERGY_P_SETTING = ENERGY_SETTING + ",p-value"


# --------------------------------------------------------------------------------------
# The two tests on raw samples
# --------------------------------------------------------------------------------------
def _excluded_marginals(wt: torch.Tensor, ks: Sequence[int], work: dict | None = None
                        ) -> dict[int, torch.Tensor]:
    """Marginals P(j in S) of the "exactly k neighbours" model (``metrics``'
    ``_cardinality_marginals``) for several k at once, for R rows of the kNN graph given
    *column-wise*: ``wt[j, r] = exp(q_rj - max_j q_rj)`` [m, R] (weights, max 1 per row).
    Returns {k: marginals [m, R]}, laid out like ``wt``.

    P(j in S) = w_j e_{k-1}(w without j) / e_k(w). The elementary symmetric polynomials
    of all weights but w_j are the product of the prefix polynomial prod_{l<j} (1 + w_l t)
    and the suffix polynomial prod_{l>j} (1 + w_l t), truncated at degree max(k) - 1;
    both are built in one sweep over the columns (one direction each) from sums of
    non-negative numbers only: no cancellation and no autograd, many times faster than
    the log-space DP with autograd at m = 4000, and one sweep serves every k. Columns are
    normalised to sum to k (sum_j w_j e_{k-1}(w_-j) = k e_k(w)). Agrees with
    ``metrics._cardinality_marginals`` to rounding (tests). ``work``: buffers reused
    between calls (large fresh allocations cost page faults on every call).
    """
    K = max(ks)
    m, R = wt.shape
    work = {} if work is None else work
    shape = (m + 1, K, R)
    if work.get("shape") != shape or work.get("dtype") != wt.dtype:
        work.update(shape=shape, dtype=wt.dtype, pre=torch.empty(shape, dtype=wt.dtype),
                    suf=torch.empty(shape, dtype=wt.dtype), e=torch.empty(m, R, dtype=wt.dtype))
    pre, suf, e = work["pre"], work["suf"], work["e"]
    # pre[j]: coefficients of degree 0..K-1 of prod_{l<j}; suf[j]: of prod_{l>=j}
    pre[0].zero_()
    pre[0, 0] = 1.0
    suf[m].zero_()
    suf[m, 0] = 1.0
    for i in range(m):
        torch.addcmul(pre[i, 1:], wt[i], pre[i, :-1], out=pre[i + 1, 1:])
        pre[i + 1, 0] = 1.0
        j = m - 1 - i
        torch.addcmul(suf[j + 1, 1:], wt[j], suf[j + 1, :-1], out=suf[j, 1:])
        suf[j, 0] = 1.0
    out = {}
    for k in ks:
        e.zero_()
        for a in range(k):          # e_{k-1}(w_-j) = sum_a pre_j[a] * suf_{j+1}[k-1-a]
            e.addcmul_(pre[:m, a], suf[1:, k - 1 - a])
        num = e.mul_(wt)
        tot = num.sum(dim=0)
        out[k] = num * (k / tot)
        bad = ~(torch.isfinite(tot) & (tot > 0))
        if bad.any():    # every product of k weights underflowed: fall back to the log-space DP
            idx = torch.nonzero(bad).flatten()
            q = torch.log(wt[:, idx].T)
            out[k][:, idx] = _cardinality_marginals(q.clamp(min=_NINF), k).T
    return out


def knn_panel(x, y, ks: Sequence[int] = KNN_KS, alphas: Sequence[float] = KNN_ALPHAS,
              distances: Sequence[str] = DISTANCES, max_n: int | None = N_PER_SIDE,
              seed: int = 0) -> dict[str, float]:
    """The smooth kNN z-score (``metrics.smooth_knn_test``) of x [n1, D] against y [n2, D]
    for every k x alpha x distance convention, from one pooled distance matrix.

    Returns {``setting_label(k, alpha, distance)``: z}. Each value equals
    ``metrics.smooth_knn_statistic(x, y, k, alpha, scale, max_n, seed)`` (k = 1 the same
    arithmetic; k > 1 by ``_excluded_marginals``, equal to rounding): large and positive
    when the samples differ; lower is better when y are model samples. For k > 1 the
    graph is built transposed (column r = the neighbours of point r; the distance matrix
    is symmetric), which leaves T and its null moments unchanged (both are symmetric in
    mu and mu^T, ``metrics.knn_null_moments``).
    """
    unknown = [d for d in distances if d not in _SCALE]
    if unknown:
        raise ValueError(f"distance conventions must be among {DISTANCES}, got {unknown}")
    xs, ys = metrics.two_samples(x, y, max_n, seed)     # the subsample of smooth_knn_test
    n1, n2 = xs.shape[0], ys.shape[0]
    n = n1 + n2
    ks = [int(k) for k in ks]
    if any(not 1 <= k <= n - 1 for k in ks):
        raise ValueError(f"every k must be in [1, {n - 1}], got {ks}")
    big = sorted(k for k in set(ks) if k > 1)
    out = {}
    work: dict = {}
    with metrics._one_thread():
        pooled = torch.cat([xs, ys])
        d = torch.cdist(pooled, pooled, compute_mode="donot_use_mm_for_euclid_dist")
        units = {dist: (_nn_scale(d) if _SCALE[dist] == "nn" else 1.0) for dist in distances}
        d.fill_diagonal_(float("inf"))
        mu_t = {k: torch.empty(n, n, dtype=d.dtype) for k in big}
        for dist in distances:
            for a in metrics._alphas(list(alphas)):
                c = -a / units[dist]
                mus = {}
                if 1 in ks:        # exactly metrics.knn_edge_marginals' arithmetic
                    mus[1] = torch.softmax(d * c, dim=1)
                for r in range(0, n, _ROW_CHUNK) if big else ():
                    q = d[:, r:r + _ROW_CHUNK] * c                    # = rows r.. of q, transposed
                    wt = torch.exp(q.sub_(q.max(dim=0, keepdim=True).values))
                    del q
                    for k, part in _excluded_marginals(wt, big, work).items():
                        mu_t[k][:, r:r + _ROW_CHUNK] = part
                    del wt
                mus.update(mu_t)
                for k in ks:
                    mu = mus[k]
                    mu.fill_diagonal_(0.0)
                    t = float(mu[:n1, n1:].sum() + mu[n1:, :n1].sum())
                    mean, var = knn_null_moments(mu, n1, n2)
                    sd = math.sqrt(var)
                    out[setting_label(k, a, dist)] = -(t - mean) / sd if sd > 0 else 0.0
                del mus
    return out


def energy_test(x, y, num_resamples: int = ENERGY_PERMUTATIONS, seed: int = 0,
                n: int | None = ENERGY_N) -> tuple[float, float]:
    """The energy-distance two-sample test of ``dcor`` (``dcor.homogeneity.energy_test``,
    Euclidean distance, exponent 1, V-statistic): (statistic, p-value).

    The statistic is n1 n2 / (n1 + n2) x (2 E|X - Y| - E|X - X'| - E|Y - Y'|), >= 0 and
    larger when the samples differ; the p-value is (1 + #{permutations with a larger
    statistic}) / (1 + ``num_resamples``), so it is at least 1 / (1 + num_resamples).
    Each sample is first subsampled (without replacement, ``seed``) to at most ``n`` rows.
    """
    import dcor   # lazy on purpose: importing it compiles numba kernels (~10 s of CPU; module docstring)

    rng = np.random.default_rng(seed)
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    if n is not None:
        if len(xa) > n:
            xa = xa[np.sort(rng.choice(len(xa), n, replace=False))]
        if len(ya) > n:
            ya = ya[np.sort(rng.choice(len(ya), n, replace=False))]
    res = dcor.homogeneity.energy_test(xa, ya, num_resamples=int(num_resamples),
                                       random_state=np.random.RandomState(int(seed) & 0x7FFFFFFF))
    return float(res.statistic), float(res.pvalue)


# --------------------------------------------------------------------------------------
# The comparisons behind Tables 2-4
# --------------------------------------------------------------------------------------
def _sec7_records(profile: str) -> list[dict]:
    recs = [sweep.verify_record(t) for t in sec7.section7_tasks(profile)]
    # all or nothing: a sweep still being written (another page training it) must not
    # give Tables 3-4 a partial grid
    return [] if any(r is None for r in recs) else recs


def comparisons(profile: str, records5=None, records7=None) -> list[dict]:
    """Every comparison behind Tables 2-4 under ``profile``, in table order: dicts with
    table, dataset, method, cohort, version and the record key of the selected model.

    Table 2: the setting chosen per data version by ``sec5.TABLE2_SELECTION``
    (``sec5.table2_per_version``, as the page's Table 2). Tables 3-4: the M2 setting
    chosen by the validation kNN statistic of p(x) (``sec7.select``), plus Table 3's
    unsupervised reference "VAE (x only)". Only cached records are used
    (``sec5.load_records`` raises if Section 5's are missing; Tables 3-4 only when
    every Section 7 record is present)."""
    recs5 = sec5.load_records(profile) if records5 is None else list(records5)
    recs7 = _sec7_records(profile) if records7 is None else list(records7)
    out = []
    pv = sec5.table2_per_version(profile, sec5.TABLE2_SELECTION, records=recs5)
    for ds in sec5.TABLE2_DATASETS:
        for meth in ("IWAE", "LIN", "VAE"):
            for _, r in pv[(pv["dataset"] == ds) & (pv["method"] == meth)].sort_values("version").iterrows():
                out.append({"table": "table2", "dataset": ds, "method": meth, "cohort": MARGINAL,
                            "version": int(r["version"]), "key": r["key"], "kind": "unsupervised"})
    if recs7:
        frame = sec7.records_table(recs7)
        sel = sec7.select(frame)
        for table in ("table3", "table4"):
            for ds in sec7.SEC7_DATASETS:
                for meth in ("IWAE", "LIN", "VAE"):
                    g = sel[(sel["dataset"] == ds) & (sel["method"] == meth)].sort_values("version")
                    cohorts = [MARGINAL] if table == "table3" else [f"y={c}" for c in sec7.COHORT_NAMES[ds]]
                    for coh in cohorts:
                        for _, r in g.iterrows():
                            out.append({"table": table, "dataset": ds, "method": meth, "cohort": coh,
                                        "version": int(r["version"]), "key": r["key"], "kind": "m2"})
                if table == "table3":
                    u = frame[(~frame["semi"]) & (frame["dataset"] == ds)].sort_values("version")
                    for _, r in u.iterrows():
                        out.append({"table": table, "dataset": ds, "method": "VAE (x only)", "cohort": MARGINAL,
                                    "version": int(r["version"]), "key": r["key"], "kind": "unsupervised"})
    return out


def comparison_samples(comp: dict, record: dict, profile: str) -> tuple[np.ndarray, np.ndarray]:
    """(truth samples, model samples) of one comparison, exactly as the sweep drew them
    for the record's ``knn_test`` / ``knn_cohort_test`` (``sweep.run_group``,
    ``m2.sweep_records``): the float32 test split of the data version against
    ``evaluate.sample_px(model, n_test, tag="knn/test")`` (an M2 model with labels from
    ``m2._prior_labels(model, n, "knn/test/y")``), or, for a cohort y = c, fresh draws of
    the true p(x | y = c) (``m2.cohort_sample`` with the sweep's seed) against the model's
    p_theta(x | y = c)."""
    p = get_profile(profile)
    model = load_selected(record)
    ds, v = comp["dataset"], int(comp["version"])
    x_test = np.asarray(D.splits(ds, v, n_train=p.n_train, n_val=p.n_val, n_test=p.n_test)["test"].x,
                        dtype=np.float32)
    n = len(x_test)
    if comp["cohort"] == MARGINAL:
        y = m2._prior_labels(model, n, "knn/test/y") if comp["kind"] == "m2" else None
        return x_test, sample_px(model, n, tag="knn/test", y=y)[0]
    truth = D.get(ds)
    value = float(comp["cohort"][2:])
    ref = m2.cohort_sample(truth, value, n, derive_seed(p.seed, f"{ds}/{v}/cohort/{value:g}"))
    labels = m2.encode_labels_model(model, np.full(n, value))
    return ref, sample_px(model, n, tag=f"knn-cohort/test/{value:g}", y=labels)[0]


_ROW_KEYS = ("table", "dataset", "method", "cohort", "version", "key")


def _row_key(c: dict) -> tuple:
    return tuple(c[k] for k in _ROW_KEYS)


def _read_json(path) -> dict | None:
    try:
        out = json.loads(Path(path).read_text())
        return out if isinstance(out, dict) else None
    except (OSError, json.JSONDecodeError):
        return None


def _compute(profile: str, comps: list[dict], records: dict, progress: bool | None,
             done: dict | None = None, save=None, save_every: int = 8) -> dict:
    """Rows of ``comps`` (``done``: rows already computed, by ``_row_key``, reused as they
    are); ``save(result)`` is called every ``save_every`` new rows, so an interrupted run
    keeps what it computed."""
    done = dict(done or {})
    todo = [c for c in comps if _row_key(c) not in done]
    bar = None
    if progress_enabled(progress) and todo:
        from tqdm.auto import tqdm   # lazy: in a notebook kernel without ipywidgets its import warns on stderr
        bar = tqdm(total=len(todo), desc="robustness", unit="comparison")

    def result():
        rows = [done[_row_key(c)] for c in comps if _row_key(c) in done]
        return {"rows": rows, "seconds": round(sum(r.get("seconds", 0.0) for r in rows), 1)}

    for i, c in enumerate(todo):
        t0 = time.perf_counter()
        rec = records[c["key"]]
        x, y = comparison_samples(c, rec, profile)
        member_seed = int(rec["members"][[m["restart"] for m in rec["members"]].index(
            rec["selected"]["restart"])]["seed"])
        z = knn_panel(x, y, seed=derive_seed(member_seed, "knn"))
        tag = f"energy/{c['table']}/{c['dataset']}/{c['method']}/{c['cohort']}/{c['version']}"
        stat, pval = energy_test(x, y, seed=derive_seed(0, tag))
        done[_row_key(c)] = ({k: c[k] for k in _ROW_KEYS}
                             | {"knn": {s: float(f"{v:.7g}") for s, v in z.items()},
                                "energy": float(f"{stat:.7g}"), "energy_p": float(f"{pval:.7g}"),
                                "seconds": round(time.perf_counter() - t0, 1)})
        if bar is not None:
            bar.update(1)
        if save is not None and (i + 1) % save_every == 0 and i + 1 < len(todo):
            save(result(), complete=False)
    if bar is not None:
        bar.close()
    return result()


def _setting_order(label: str) -> tuple:
    """Panel order: distance convention (``DISTANCES``), then k, then alpha."""
    k, a, dist = label.split(",")
    return (DISTANCES.index(dist) if dist in DISTANCES else len(DISTANCES), int(k[2:]), float(a[6:]))


def _to_frame(rows: list[dict]) -> pd.DataFrame:
    out = []
    for r in rows:
        base = {k: r[k] for k in ("table", "dataset", "method", "cohort", "version")}
        for s in sorted(r["knn"], key=_setting_order):   # the cache's JSON sorts its keys
            v = r["knn"][s]
            k, a, dist = s.split(",")
            out.append(base | {"test": "smooth_knn", "setting": s, "k": int(k[2:]), "alpha": float(a[6:]),
                               "distance": dist, "quantity": "z", "value": v})
        out.append(base | {"test": "energy", "setting": ENERGY_SETTING, "k": np.nan, "alpha": np.nan,
                           "distance": "raw", "quantity": "statistic", "value": r["energy"]})
        out.append(base | {"test": "energy", "setting": ENERGY_P_SETTING, "k": np.nan, "alpha": np.nan,
                           "distance": "raw", "quantity": "p-value", "value": r["energy_p"]})
    return pd.DataFrame(out)


def robustness_frame(profile: str, recompute: bool = False, progress: bool | None = None) -> pd.DataFrame:
    """Every comparison behind Tables 2-4 under the whole panel and the energy test: one
    row per (table, dataset, method, cohort, data version, setting).

    Columns: table ("table2" | "table3" | "table4"), dataset, method, cohort ("marginal"
    or "y=<value>"), version, test ("smooth_knn" | "energy"), setting (``setting_label``,
    ``ENERGY_SETTING`` or ``ENERGY_P_SETTING``), k, alpha, distance, quantity ("z",
    "statistic" or "p-value") and value. ``frame.attrs`` holds the profile and the
    seconds the computation took.

    Computed once and cached in ``results/<profile>/robustness.json`` under a hash of the
    configuration and the selected records' keys, so a page on a clean clone only loads
    it; ``recompute=True`` recomputes. The file is written every few comparisons, and a
    stale file's rows are reused where their comparison (record key included) and
    settings are unchanged, so an interrupted run resumes and a re-run sweep costs only
    its own comparisons. Cost on 2 shared cores:
    ~25-35 s per comparison (84 for ``reduced``), a tqdm bar shows progress
    (off with ``VAEFAIL_QUIET=1``)."""
    recs5 = sec5.load_records(profile)
    recs7 = _sec7_records(profile)
    comps = comparisons(profile, recs5, recs7)
    if profile == "quick":      # the CI smoke run: the first data version only
        first = min((c["version"] for c in comps), default=0)
        comps = [c for c in comps if c["version"] == first]
    records = {r["key"]: r for r in recs5 + recs7}
    # everything a row depends on besides its comparison and record (the ground-truth
    # start's profile fields only change records, whose keys are in the comparisons)
    prof = {k: v for k, v in get_profile(profile).to_dict().items() if k not in GT_START_PROFILE_FIELDS}
    consts = {"v": _VERSION, "profile": prof,
              "ks": list(KNN_KS), "alphas": list(KNN_ALPHAS), "distances": list(DISTANCES),
              "n_per_side": N_PER_SIDE, "energy_n": ENERGY_N, "energy_permutations": ENERGY_PERMUTATIONS}
    cfg = consts | {"comparisons": [list(_row_key(c)) for c in comps]}
    path = cache.RESULTS_DIR / profile / "robustness.json"
    old = None if recompute else _read_json(path)
    if old is not None and old.get("config_hash") == config_hash(cfg) and old.get("complete", True):
        res = old["result"]
    else:
        # rows of a stale or partial file are reused where their comparison, record and
        # settings are unchanged: after a re-run of one sweep only its comparisons are computed
        done = {}
        if old is not None and {k: old.get("config", {}).get(k) for k in consts} == json.loads(json.dumps(consts)):
            done = {_row_key(r): r for r in old.get("result", {}).get("rows", [])}

        def save(result, complete=True):
            atomic_write_json(path, {"config_hash": config_hash(cfg), "config": cfg,
                                     "complete": complete, "result": result})

        res = _compute(profile, comps, records, progress, done=done, save=save)
        save(res)
    frame = _to_frame(res["rows"])
    frame.attrs.update(profile=profile, seconds=res.get("seconds"))
    return frame


# --------------------------------------------------------------------------------------
# Summaries, the CSV and the verdicts
# --------------------------------------------------------------------------------------
_KEYS = ["table", "dataset", "method", "cohort", "test", "setting"]


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean and sd (ddof 1) over data versions per (table, dataset, method, cohort, test,
    setting), plus n_versions; rows in the frame's order."""
    g = frame.groupby(_KEYS, sort=False)["value"]
    out = g.agg(mean="mean", sd=lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else np.nan,
                n_versions="size").reset_index()
    return out


def write_robustness_csv(frame: pd.DataFrame, profile: str, results_dir=None) -> Path:
    """``results/<profile>/robustness.csv`` with exactly ``CSV_COLUMNS`` (``table,
    dataset, method, cohort, test, setting, mean, sd``; mean and sd over data versions,
    4 significant digits via ``cache.write_table_csv``). ``frame`` is the per-version
    ``robustness_frame`` (or its ``summary``). The energy test has two rows per cell:
    ``ENERGY_SETTING`` (its statistic) and ``ENERGY_P_SETTING`` (its p-value)."""
    aggregated = {"mean", "sd"} <= set(frame.columns)
    need = CSV_COLUMNS if aggregated else _KEYS + ["value"]
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise ValueError(f"frame is missing column(s) {missing}")
    s = frame if aggregated else summary(frame)
    out = s[CSV_COLUMNS].copy()
    out[["mean", "sd"]] = out[["mean", "sd"]].astype(float)
    return write_table_csv(out, Path(results_dir or cache.RESULTS_DIR) / profile / "robustness.csv")


def energy_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The energy test per cell of Tables 2-4 beside the tables' own statistic: table,
    dataset, method, cohort, ``kNN z (table)`` (mean over versions at
    ``DEFAULT_SETTING``), ``energy`` and ``energy sd`` (the statistic's mean and sd over
    versions; larger: more different), ``p (mean)`` (mean permutation p-value) and
    ``p < 0.05`` (in how many versions the test rejects at 5 %, e.g. "3/4")."""
    key = ["table", "dataset", "method", "cohort"]
    s = summary(frame).set_index(key + ["setting"])
    p = frame[frame["setting"] == ENERGY_P_SETTING]
    rows = []
    for cell, g in p.groupby(key, sort=False):
        def get(setting, col="mean"):
            return float(s.loc[cell + (setting,), col]) if cell + (setting,) in s.index else np.nan
        rows.append(dict(zip(key, cell)) | {
            "kNN z (table)": get(DEFAULT_SETTING), "energy": get(ENERGY_SETTING),
            "energy sd": get(ENERGY_SETTING, "sd"), "p (mean)": float(g["value"].mean()),
            "p < 0.05": f"{int((g['value'] < 0.05).sum())}/{len(g)}"})
    return pd.DataFrame(rows)


def _paper_cells() -> list[tuple[str, str, str, str, float]]:
    cells = [("table2", ds, m, MARGINAL, mu) for (ds, m), (mu, _) in sec5.PAPER_TABLE2.items()]
    cells += [("table3", ds, m.upper(), MARGINAL, mu) for (ds, m), (mu, _) in sec7.PAPER_TABLE3.items()]
    cells += [("table4", ds, m.upper(), f"y={sec7.COHORT_NAMES[ds][c - 1]}", mu)
              for (ds, m, c), (mu, _) in sec7.PAPER_TABLE4.items()]
    return cells


def _pair_claims(cells: pd.DataFrame, source: str) -> pd.DataFrame:
    """Every pair of methods of every (table, dataset, cohort), better (lower) first."""
    rows = []
    for (table, ds, coh), g in cells.groupby(["table", "dataset", "cohort"], sort=False):
        g = g[g["method"].isin(("IWAE", "LIN", "VAE"))].sort_values(["value", "method"])
        vals = g.set_index("method")["value"]
        for i, a in enumerate(vals.index):
            for b in vals.index[i + 1:]:
                rows.append({"table": table, "dataset": ds, "cohort": coh, "better": a, "worse": b,
                             f"{source} (better vs worse)": f"{vals[a]:.3g} vs {vals[b]:.3g}"})
    return pd.DataFrame(rows)


def _with_cohort_mean(cells: pd.DataFrame) -> pd.DataFrame:
    t4 = cells[cells["table"] == "table4"]
    if t4.empty:
        return cells
    m = t4.groupby(["table", "dataset", "method"], sort=False)["value"].mean().reset_index()
    return pd.concat([cells, m.assign(cohort=COHORT_MEAN)], ignore_index=True)


def paper_claims() -> pd.DataFrame:
    """The ordering claims of the paper's Tables 2-4 (App. E.1, E.3): for every table,
    data set and cohort, every pair of IWAE / LIN / VAE with the one whose paper value is
    lower as ``better``; Table 4 also for the mean of its two cohorts (the Sec. 7 page's
    verdicts use that mean). Columns table, dataset, cohort, better, worse, paper."""
    cells = pd.DataFrame(_paper_cells(), columns=["table", "dataset", "method", "cohort", "value"])
    return _pair_claims(_with_cohort_mean(cells), "paper")


def _cell_means(frame: pd.DataFrame, setting: str) -> pd.DataFrame:
    """Mean over versions per (table, dataset, method, cohort) for one setting, with
    Table 4's mean of cohorts (per version the mean of the two cohorts, then the mean)."""
    f = frame[frame["setting"] == setting]
    t4 = f[f["table"] == "table4"]
    if not t4.empty:
        per_v = t4.groupby(["table", "dataset", "method", "version"], sort=False)["value"].mean().reset_index()
        f = pd.concat([f, per_v.assign(cohort=COHORT_MEAN)], ignore_index=True)
    return f.groupby(["table", "dataset", "method", "cohort"], sort=False)["value"].mean().reset_index()


def claims_from(frame: pd.DataFrame, setting: str = DEFAULT_SETTING) -> pd.DataFrame:
    """The ordering claims of *our* Tables 2-4 under one setting (default: the tables'
    own, k = 1, alpha = 1, median-NN): same layout as ``paper_claims``."""
    return _pair_claims(_cell_means(frame, setting), "ours")


def _settings(frame: pd.DataFrame) -> list[str]:
    """Settings a verdict is checked under: every kNN setting, then the energy statistic."""
    knn = list(dict.fromkeys(frame.loc[frame["test"] == "smooth_knn", "setting"]))
    energy = [s for s in dict.fromkeys(frame.loc[frame["test"] == "energy", "setting"]) if s != ENERGY_P_SETTING]
    return knn + energy


def _flip_list(flipped: list[str], settings: list[str], energy: list[str]) -> str:
    """The settings that flip a claim, "; "-joined, with "every <convention> setting" for
    a distance convention all of whose kNN settings flip it, and "energy" for the
    energy statistic."""
    by_dist: dict[str, list[str]] = {}
    for s in settings:
        if s not in energy:
            by_dist.setdefault(s.split(",")[-1], []).append(s)
    out, done = [], set()
    for dist, group in by_dist.items():
        if len(group) > 1 and all(s in flipped for s in group):
            out.append(f"every {dist} setting")
            done.update(group)
    out += [s for s in flipped if s not in done and s not in energy]
    out += ["energy" for s in flipped if s in energy]
    return "; ".join(out)


def verdicts(frame: pd.DataFrame, claims: pd.DataFrame | str = "paper") -> pd.DataFrame:
    """Is each ordering claim of Tables 2-4 robust to the choice of test?

    A claim "A better than B" (for one table, data set and cohort) holds under a setting
    when A's mean over data versions of that setting's statistic is strictly lower than
    B's (a tie does not hold). Settings: every setting of the kNN panel in ``frame`` and
    the energy statistic (not its p-value). Verdict: "robust" (holds under all of them),
    "depends on the test" (under some; ``flipped by`` lists the others) or "not
    supported" (under none).

    ``claims``: "paper" (``paper_claims``: the paper's orderings), "ours" (``claims_from``
    at ``DEFAULT_SETTING``: the orderings of our tables) or a frame with columns table,
    dataset, cohort, better, worse. Returns one row per claim that ``frame`` can check:
    table, dataset, cohort, claim, the claim source's values, ``ours (default)`` (A vs B
    at ``DEFAULT_SETTING``, if in the frame) and whether it holds there, ``energy`` (A vs
    B), ``holds under`` ("n of N settings"), verdict and ``flipped by`` (the settings
    under which it fails; "every raw setting" when all of a convention's do).
    """
    if isinstance(claims, str):
        if claims not in ("paper", "ours"):
            raise ValueError(f"claims must be 'paper', 'ours' or a DataFrame, got {claims!r}")
        claims = paper_claims() if claims == "paper" else claims_from(frame)
    settings = _settings(frame)
    if not settings:
        raise ValueError("the frame has no settings to check")
    means = {s: _cell_means(frame, s).set_index(["table", "dataset", "cohort", "method"])["value"]
             for s in settings}
    energy = [s for s in settings if s not in set(frame.loc[frame["test"] == "smooth_knn", "setting"])]
    src = [c for c in claims.columns if c.endswith("(better vs worse)")]
    rows = []
    for _, c in claims.iterrows():
        ka = (c["table"], c["dataset"], c["cohort"], c["better"])
        kb = (c["table"], c["dataset"], c["cohort"], c["worse"])
        if not all(ka in means[s].index and kb in means[s].index for s in settings):
            continue
        holds = {s: bool(means[s][ka] < means[s][kb]) for s in settings}
        n_ok = sum(holds.values())
        verdict = ("robust" if n_ok == len(settings) else "not supported" if n_ok == 0
                   else "depends on the test")
        row = {"table": c["table"], "dataset": c["dataset"], "cohort": c["cohort"],
               "claim": f"{c['better']} better than {c['worse']}"}
        row.update({col: c[col] for col in src})
        if DEFAULT_SETTING in means:
            row["ours (default)"] = f"{means[DEFAULT_SETTING][ka]:.3g} vs {means[DEFAULT_SETTING][kb]:.3g}"
            row["holds (default)"] = holds[DEFAULT_SETTING]
        for s in energy:
            row["energy"] = f"{means[s][ka]:.3g} vs {means[s][kb]:.3g}"
            row["holds (energy)"] = holds[s]
        row["holds under"] = f"{n_ok} of {len(settings)} settings"
        row["verdict"] = verdict
        row["flipped by"] = _flip_list([s for s, ok in holds.items() if not ok], settings, energy)
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------
# The figure
# --------------------------------------------------------------------------------------
_METHOD_COLORS = {"IWAE": "C0", "LIN": "C1", "VAE": "C2", "VAE (x only)": "0.45"}
_DATASET_NAMES = {"clusters": "Clusters", "figure8": "Figure-8", "semicircle_discrete": "Discrete Semi-Circle",
                  "semicircle_continuous": "Continuous Semi-Circle"}


def _table_key(table) -> str:
    s = str(table).lower().replace(" ", "").replace(".", "")
    s = s if s.startswith("table") else f"table{s}"
    if s not in TABLES:
        raise ValueError(f"table must be one of {TABLES}, got {table!r}")
    return s


def draw_panel(frame: pd.DataFrame, table):
    """The sensitivity panel of one table (``"table2"``, ``"table3"`` or ``"table4"``) as
    a matplotlib Figure, 11 in wide: per data set two rows (distances in median-NN units,
    raw distances) and one column per k, each showing the kNN z-score (mean over data
    versions; lower: closer to the truth) against alpha on a log axis, one line per method
    (in Table 4 line style and marker give the cohort); the last column shows the energy
    test per method: its statistic (mean +- sd over versions) in the median-NN row and its
    permutation p-value per data version (dots; the mean as a larger marker, 0.05 dotted,
    log axis) in the raw row. The kNN panels of one row share their y range."""
    key = _table_key(table)
    f = frame[frame["table"] == key]
    if f.empty:
        raise ValueError(f"the frame has no rows for {key}")
    s = summary(f)
    knn = s[s["test"] == "smooth_knn"].copy()
    parts = knn["setting"].str.split(",", expand=True)
    knn["k"] = parts[0].str[2:].astype(int)
    knn["alpha"] = parts[1].str[6:].astype(float)
    knn["distance"] = parts[2]
    datasets = list(dict.fromkeys(f["dataset"]))
    methods = list(dict.fromkeys(f["method"]))
    # cohorts per data set; their position (cohort 1, 2 of Table 4) sets line style and marker
    cohorts_of = {ds: list(dict.fromkeys(f.loc[f["dataset"] == ds, "cohort"])) for ds in datasets}
    n_coh = max(len(c) for c in cohorts_of.values())
    style = list(zip(("-", "--", ":", "-."), ("o", "s", "^", "D")))
    ks = sorted(knn["k"].unique())
    dists = [d for d in DISTANCES if d in set(knn["distance"])]
    nrow, ncol = len(datasets) * len(dists), len(ks) + 1
    height = 2.1 * nrow + 0.9
    fig, axes = plt.subplots(nrow, ncol, figsize=(11.0, height), squeeze=False,
                             gridspec_kw={"width_ratios": [1] * len(ks) + [0.95]})
    energy = s[s["test"] == "energy"]
    p_rows = f[f["setting"] == ENERGY_P_SETTING]
    dist_names = {"median-NN": "median-NN units", "raw": "raw distances"}
    for i, ds in enumerate(datasets):
        name = _DATASET_NAMES.get(ds, ds)
        cohorts = cohorts_of[ds]
        styles = {c: style[j % len(style)] for j, c in enumerate(cohorts)}
        offset = {c: (j - (len(cohorts) - 1) / 2) * 0.25 for j, c in enumerate(cohorts)}
        knn_axes = axes[i * len(dists):(i + 1) * len(dists), :len(ks)]
        for r, dist in enumerate(dists):
            ax_row = axes[i * len(dists) + r]
            for c, k in enumerate(ks):
                ax = ax_row[c]
                g = knn[(knn["dataset"] == ds) & (knn["distance"] == dist) & (knn["k"] == k)]
                for meth in methods:
                    for coh in cohorts:
                        h = g[(g["method"] == meth) & (g["cohort"] == coh)].sort_values("alpha")
                        if len(h):
                            ax.plot(h["alpha"], h["mean"], ls=styles[coh][0], marker=styles[coh][1], ms=4,
                                    lw=1.4, color=_METHOD_COLORS.get(meth, "k"))
                ax.set_xscale("log")
                alphas = sorted(g["alpha"].unique())
                ax.set_xticks(alphas)
                ax.set_xticklabels([f"{a:g}" for a in alphas])
                ax.minorticks_off()
                ax.tick_params(labelsize=9)
                ax.set_title(f"k = {k}, {dist_names.get(dist, dist)}", fontsize=9.5)
                if c == 0:
                    ax.set_ylabel(f"{name}\nkNN z-score", fontsize=9.5)
                if i * len(dists) + r == nrow - 1:
                    ax.set_xlabel("alpha", fontsize=9.5)
            ax = ax_row[-1]
            for j, meth in enumerate(methods):
                color = _METHOD_COLORS.get(meth, "k")
                for coh in cohorts:
                    x0 = j + offset[coh]
                    if r == 0:      # the energy statistic, mean +- sd over versions
                        h = energy[(energy["dataset"] == ds) & (energy["method"] == meth)
                                   & (energy["cohort"] == coh) & (energy["setting"] == ENERGY_SETTING)]
                        if len(h):
                            sd = float(h["sd"].iloc[0])
                            ax.errorbar([x0], [float(h["mean"].iloc[0])], yerr=[sd if np.isfinite(sd) else 0.0],
                                        fmt=styles[coh][1], ms=5, capsize=2, color=color)
                    else:           # the p-value of every version, and their mean
                        h = p_rows[(p_rows["dataset"] == ds) & (p_rows["method"] == meth)
                                   & (p_rows["cohort"] == coh)]
                        if len(h):
                            ax.plot(np.full(len(h), x0), h["value"], ls="none", marker=styles[coh][1], ms=3,
                                    alpha=0.5, color=color)
                            ax.plot([x0], [h["value"].mean()], ls="none", marker=styles[coh][1], ms=7,
                                    mfc="none", color=color)
            ax.set_xticks(range(len(methods)))
            ax.set_xticklabels([m.replace(" (x only)", "\n(x only)") for m in methods], fontsize=9)
            ax.set_xlim(-0.6, len(methods) - 0.4)
            ax.tick_params(labelsize=9)
            if r == 0:
                ax.set_title("energy statistic", fontsize=9.5)
            else:
                ax.set_yscale("log")
                ax.set_ylim(0.7 / (ENERGY_PERMUTATIONS + 1), 1.4)    # the smallest p-value possible .. 1
                ax.axhline(0.05, color="0.5", ls=":", lw=1)
                ax.set_title("energy p-value", fontsize=9.5)
        for row in knn_axes:      # one y range per row: the k columns side by side
            lo, hi = min(a.get_ylim()[0] for a in row), max(a.get_ylim()[1] for a in row)
            for a in row:
                a.set_ylim(lo, hi)
    handles = [Line2D([], [], color=_METHOD_COLORS.get(m, "k"), lw=2, label=m) for m in methods]
    if n_coh > 1:
        for j in range(n_coh):
            names = " / ".join(cohorts_of[ds][j] for ds in datasets if j < len(cohorts_of[ds]))
            handles.append(Line2D([], [], color="k", ls=style[j][0], marker=style[j][1],
                                  label=f"cohort {j + 1} ({names})"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=9, frameon=False)
    profile = frame.attrs.get("profile")
    fig.suptitle(TABLE_TITLES[key] + ": smooth kNN z-score by k, alpha and distance convention, and the "
                 "energy test" + (f"; {profile} profile" if profile else ""), fontsize=10)
    # fixed margins (tight_layout costs seconds on a figure this size)
    fig.subplots_adjust(left=0.075, right=0.99, top=1 - 0.55 / height, bottom=0.75 / height,
                        hspace=0.55, wspace=0.28)
    return fig
