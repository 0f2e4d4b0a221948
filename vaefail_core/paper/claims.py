"""The claims registry: every quantitative claim of the paper, as data.

Each ``Claim`` names where the paper makes it (section, table, figure or equation), the
book page that shows our evidence, the paper's value (from ``reference``), its kind
(``verdict.KINDS``) and the cell(s) of our results it is judged on. ``CLAIMS`` holds:

* every cell of Tables 1-6 (Table 1 is on our scale: kind ``number``; Tables 2-6 report
  a smooth kNN statistic on another scale: kind ``cell``, shown and not tested);
* the numbers in the text: Eq. 6's -ELBO at the ground truth and at the optimum (kind
  ``exact``) and Case A's two noise variances (kind ``number``);
* the orderings the tables support: for Tables 2-6, every pair of methods per data set
  and cohort, the one the paper finds lower as "better" (Tables 4 and 6 also for the
  mean over cohorts), and the directions Sec. 8 reads off Table 1 and Case A (kind
  ``effect``).

Our side is ``evidence(profile)``: one value per data version for every cell, read from
the results cache (``results/<profile>/``) through the page modules' own table
functions; nothing is trained (a sweep that is not in the cache leaves its claims "not
run"). ``judge(claim, evidence)`` applies the rule of ``verdict``.
"""
from __future__ import annotations

from itertools import combinations
from typing import Callable

import numpy as np
import pandas as pd

from ..cache import cached_json
from ..sweep import load_or_run
from . import appA_C, appD, appE, appE3, appF, appG_H, records, sec5, sec5_2, sec6, sec7, sec8
from . import reference as R
from .claim import PAGES, Claim, difference_terms, judge, ours_text

#: the page modules that register claims of their own pages beyond Tables 1-6 and the
#: text numbers: each has ``page_claims()`` (a list of ``Claim``), ``CLAIMS_SWEEP`` (the
#: named sweep whose records its evidence reads, a tuple of several, or None) and
#: ``claims_evidence(profile, records)`` (cell -> per-version Series)
PAGE_MODULES: dict = {name: mod for name, mod in {
    "sec5_2": sec5_2, "sec5": sec5, "sec6": sec6, "sec7": sec7, "sec8": sec8, "appA_C": appA_C,
    "appD": appD, "appE3": appE3, "appE": appE, "appF": appF,
    "appG_H": appG_H}.items() if hasattr(mod, "page_claims")}
#: the evidence source (``_SOURCES``) each claim source is judged on
_EVIDENCE_OF = {"eq6": "eq6", "table1": "table1", "case_a": "case_a", "table2": "table2", "table3": "table34",
               "table4": "table34", "table5": "table56", "table6": "table56", "appE3_text": "table56"}


def evidence_source(claim: Claim) -> str:
    """The evidence source (``_SOURCES``) a claim is judged on."""
    return _EVIDENCE_OF.get(claim.source, claim.source)

__all__ = ["Claim", "CLAIMS", "PAGES", "evidence_source", "PAGE_MODULES", "claims_frame", "evidence", "judge", "ours_text",
           "table56_cells"]

_DS = {"figure8_5d": "Figure-8-5D", "clusters_5d": "Clusters-5D", "clusters": "Clusters", "figure8": "Figure-8",
       "semicircle_discrete": "Discrete Semi-Circle", "semicircle_continuous": "Continuous Semi-Circle",
       **appE3.DATASET_NAMES}
_METRIC = {"neg_elbo": "-ELBO", "avg_mi": "avg. MI per latent dim", "neg_iwae": "-IWAE bound"}
_M = {"vae": "VAE", "iwae": "IWAE", "lin": "LIN"}
#: Table 1's metrics as the paper's rows read them: its single IWAE row of "-ELBO" is
#: compared with our -IWAE bound, the objective IWAE maximises (an IWAE-trained model's
#: ELBO is loose by design, so its -ELBO is not what the row reports as "IWAE does not
#: suffer from this pathology"); every other cell uses the same metric as the paper
_TABLE1_METRIC = {("iwae", "neg_elbo"): "neg_iwae"}


def _cohort_name(table: str, ds: str, c: int) -> str:
    if table == "table4":
        return f"y = {sec7.COHORT_NAMES[ds][c - 1]}"
    return appE3.CLASS_NAMES[ds][c - 1]


def _pm(v) -> str:
    return f"{v[0]:.3f} ± {v[1]:.3f}"


# --------------------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------------------
def _table_cells() -> list[Claim]:
    out = []
    for (ds, m, K, metric), v in R.TABLE1.items():
        ours = _TABLE1_METRIC.get((m, metric))
        what = _METRIC[metric] + (f" (ours: {_METRIC[ours]})" if ours else "")
        out.append(Claim(f"table1/{ds}/{m}/K{K}/{metric}", "table1",
                         f"{_DS[ds]}, {_M[m]}, K = {K}: {what}", _pm(v), "number",
                         cells=(("table1", ds, m, K, metric),), value=v))
    for (ds, m), v in R.TABLE2.items():
        out.append(Claim(f"table2/{ds}/{m}", "table2", f"{_DS[ds]}, {m}: smooth kNN of p(x)", _pm(v), "cell",
                         cells=(("table2", ds, m),), value=v))
    for (ds, m), v in R.TABLE3.items():
        out.append(Claim(f"table3/{ds}/{m}", "table3", f"{_DS[ds]}, {_M[m]}: smooth kNN of p(x)", _pm(v), "cell",
                         cells=(("table3", ds, _M[m]),), value=v))
    for (ds, m, c), v in R.TABLE4.items():
        out.append(Claim(f"table4/{ds}/{m}/{c}", "table4",
                         f"{_DS[ds]}, {_M[m]}: smooth kNN of p(x | {_cohort_name('table4', ds, c)})", _pm(v),
                         "cell", cells=(("table4", ds, _M[m], c),), value=v))
    for (ds, m), v in R.TABLE5.items():
        out.append(Claim(f"table5/{ds}/{m}", "table5", f"{_DS[ds]}, {m}: smooth kNN of p(x)", _pm(v), "cell",
                         cells=(("table5", ds, m),), value=v))
    for (ds, m, c), v in R.TABLE6.items():
        out.append(Claim(f"table6/{ds}/{m}/{c}", "table6",
                         f"{_DS[ds]}, {m}: smooth kNN of p(x | {_cohort_name('table6', ds, c)})", _pm(v),
                         "cell", cells=(("table6", ds, m, c),), value=v))
    return out


def _text_numbers() -> list[Claim]:
    out = [Claim(f"eq6/{k.replace(' ', '_')}", "eq6", f"-ELBO (up to a constant) at the {k}", f"{v:.3f}", "exact",
                 cells=(("eq6", k),), value=(v, 0.0), decimals=3) for k, v in R.EQ6.items()]
    for k, v in R.CASE_A.items():
        out.append(Claim(f"case_a/{'eq9' if 'Eq. 9' in k else 'learned'}", "case_a",
                         f"Spiral-Dots noise variance, {k}", _pm(v), "number", cells=(("case_a", k),), value=v))
    return out


def _pair_orderings(table: str, ref: dict, methods_of, cell_of, n_cohorts=None) -> list[Claim]:
    """Every pair of methods per data set (and cohort) of a table, ordered by the paper's
    values (lower is better); with cohorts, also the mean over cohorts."""
    out = []
    groups: dict = {}
    for key, v in ref.items():
        ds, m = key[0], key[1]
        c = key[2] if len(key) > 2 else None
        groups.setdefault((ds, c), {})[m] = v[0]
        if c is not None:
            groups.setdefault((ds, "mean"), {}).setdefault(m, []).append(v[0])
    for (ds, c), vals in groups.items():
        vals = {m: (float(np.mean(v)) if isinstance(v, list) else v) for m, v in vals.items()}
        for a, b in combinations(sorted(vals, key=lambda m: (vals[m], m)), 2):
            if c is None:
                ca, cb, what = (cell_of(ds, a),), (cell_of(ds, b),), "p(x)"
            elif c == "mean":
                cs = sorted({k[2] for k in ref if k[0] == ds})
                ca = tuple(cell_of(ds, a, k) for k in cs)
                cb = tuple(cell_of(ds, b, k) for k in cs)
                what = "p(x | y), mean over cohorts"
            else:
                ca, cb, what = (cell_of(ds, a, c),), (cell_of(ds, b, c),), f"p(x | {_cohort_name(table, ds, c)})"
            red = "mean" if c == "mean" else "one"
            cid = f"{table}/{ds}/{'' if c is None else f'{c}/'}{methods_of(a)}<{methods_of(b)}"
            out.append(Claim(cid, table, f"{_DS[ds]}: {methods_of(a)} better than {methods_of(b)} on {what}",
                             f"{methods_of(a)} {vals[a]:.3f} < {methods_of(b)} {vals[b]:.3f}", "effect",
                             terms=((-1, red, ca), (+1, red, cb)), labels=(methods_of(a), methods_of(b))))
    return out


def _orderings() -> list[Claim]:
    out = _pair_orderings("table2", R.TABLE2, str, lambda ds, m, c=None: ("table2", ds, m))
    out += _pair_orderings("table3", R.TABLE3, _M.get, lambda ds, m, c=None: ("table3", ds, _M[m]))
    out += _pair_orderings("table4", R.TABLE4, _M.get, lambda ds, m, c=None: ("table4", ds, _M[m], c))
    out += _pair_orderings("table5", R.TABLE5, str, lambda ds, m, c=None: ("table5", ds, m))
    out += _pair_orderings("table6", R.TABLE6, str, lambda ds, m, c=None: ("table6", ds, m, c))
    return out


def _sec8_effects() -> list[Claim]:
    """The directions Sec. 8 reads off Table 1 (Case B) and Case A."""
    out = []
    for ds in ("figure8_5d", "clusters_5d"):
        t = lambda m, K, metric: ("table1", ds, m, K, metric)  # noqa: E731
        out.append(Claim(f"table1/{ds}/vae/prefers_K>1", "table1",
                         f"{_DS[ds]}: the VAE's ELBO prefers K > 1 over the ground truth's K = 1",
                         "-ELBO lower at K = 2 or 3", "effect",
                         terms=((-1, "min", (t("vae", 2, "neg_elbo"), t("vae", 3, "neg_elbo"))),
                                (+1, "one", (t("vae", 1, "neg_elbo"),))), labels=("best of K = 2, 3", "K = 1")))
        out.append(Claim(f"table1/{ds}/iwae/no_K>1", "table1",
                         f"{_DS[ds]}: IWAE's bound does not prefer K > 1",
                         "-ELBO of IWAE lowest at K = 1", "effect",
                         terms=((-1, "one", (t("iwae", 1, "neg_elbo"),)),
                                (+1, "min", (t("iwae", 2, "neg_elbo"), t("iwae", 3, "neg_elbo")))),
                         labels=("K = 1", "best of K = 2, 3")))
        out.append(Claim(f"table1/{ds}/vae/mi_falls", "table1",
                         f"{_DS[ds]}: the VAE's average MI per latent dimension falls from K = 1 to K = 3",
                         "avg. MI K = 1 > K = 3", "effect",
                         terms=difference_terms(t("vae", 1, "avg_mi"), t("vae", 3, "avg_mi")),
                         labels=("K = 1", "K = 3")))
        out.append(Claim(f"table1/{ds}/vae/noise_falls", "table1",
                         f"{_DS[ds]}: the VAE learns a smaller sigma^2 at K = 3 than at K = 1",
                         "sigma^2 K = 1 > K = 3 (text)", "effect",
                         terms=difference_terms(t("vae", 1, "noise_var"), t("vae", 3, "noise_var")),
                         labels=("K = 1", "K = 3")))
    for k, v in R.CASE_A.items():
        out.append(Claim(f"case_a/{'eq9' if 'Eq. 9' in k else 'learned'}/over", "case_a",
                         f"Spiral-Dots: the ELBO over-estimates the noise variance ({k})",
                         f"{v[0]:.3f} > truth {R.CASE_A_TRUTH:g}", "effect",
                         terms=((+1, "one", (("case_a", k),)), (-1, "const", R.CASE_A_TRUTH)),
                         labels=("ours", "truth")))
    return out


def _appE3_text() -> list[Claim]:
    """App. E.3's sentence that the real sets repeat the synthetic pattern: IWAE fits
    p(x) worse than the VAE and the cohorts p(x | y) better, on every UCI set (the
    paper's value says whether its own Tables 5-6 show it)."""
    out = []
    for ds in appE3.UCI_DATASETS:
        n_c = appE3.UCI_CLASSES[ds]
        px = R.TABLE5[ds, "VAE"][0] < R.TABLE5[ds, "IWAE"][0]
        coh = (np.mean([R.TABLE6[ds, "IWAE", c][0] for c in range(1, n_c + 1)])
               < np.mean([R.TABLE6[ds, "VAE", c][0] for c in range(1, n_c + 1)]))
        cohorts = lambda m: tuple(("table6", ds, m, c) for c in range(1, n_c + 1))  # noqa: E731
        out.append(Claim(f"appE3/{ds}/iwae_worse_px", "appE3_text", f"{_DS[ds]}: IWAE fits p(x) worse than the VAE",
                         f"stated; its Table 5: {'yes' if px else 'no'}", "effect",
                         terms=((-1, "one", (("table5", ds, "VAE"),)), (+1, "one", (("table5", ds, "IWAE"),))),
                         labels=("VAE", "IWAE")))
        out.append(Claim(f"appE3/{ds}/iwae_better_cohorts", "appE3_text",
                         f"{_DS[ds]}: IWAE fits the cohorts p(x | y) better than the VAE (mean over cohorts)",
                         f"stated; its Table 6: {'yes' if coh else 'no'}", "effect",
                         terms=((-1, "mean", cohorts("IWAE")), (+1, "mean", cohorts("VAE"))),
                         labels=("IWAE", "VAE")))
    return out


def _page_claims() -> list[Claim]:
    out = []
    for name, mod in PAGE_MODULES.items():
        for c in mod.page_claims():
            if c.source != name:
                raise RuntimeError(f"claim {c.id}: source {c.source!r} must be its module's {name!r}")
            out.append(c)
    return out


CLAIMS: tuple[Claim, ...] = tuple(_text_numbers() + _table_cells() + _sec8_effects() + _orderings()
                                  + _appE3_text() + _page_claims())
if len({c.id for c in CLAIMS}) != len(CLAIMS):
    raise RuntimeError("claim ids must be unique")


def claims_frame() -> pd.DataFrame:
    """The registry as a table: id, where, page, statement, paper, kind."""
    return pd.DataFrame([{"id": c.id, "where": c.where, "page": c.page, "statement": c.statement,
                          "paper": c.paper, "kind": c.kind} for c in CLAIMS])


# --------------------------------------------------------------------------------------
# Our evidence: one value per data version for every cell
# --------------------------------------------------------------------------------------
def _series(df: pd.DataFrame, keys: list[str], value: str, prefix: tuple) -> dict:
    out = {}
    for k, g in df.groupby(keys, sort=False):
        k = k if isinstance(k, tuple) else (k,)
        out[prefix + tuple(k)] = g.set_index("version")[value].astype(float).sort_index()
    return out




def _ev_table1(profile: str, recs: list[dict]) -> dict:
    f = sec8.table1_frame(recs, profile, ksg=False)
    f = f[f["method"] != "truth"].copy()
    iw = f[f["method"].str.startswith("iwae")]
    # IWAE: per data version the S with the smallest validation kNN (App. D's rule)
    iw = iw.loc[iw.groupby(["dataset", "K", "version"])["knn_val"].idxmin()].assign(method="iwae")
    f = pd.concat([f[f["method"] == "vae"], iw], ignore_index=True)
    f["K"] = f["K"].astype(int)
    out = {}
    for m in ("vae", "iwae"):
        for metric in ("neg_elbo", "avg_mi", "noise_var"):
            col = _TABLE1_METRIC.get((m, metric), metric)
            for k, v in _series(f[f["method"] == m], ["dataset", "method", "K"], col, ("table1",)).items():
                out[k + (metric,)] = v
    return out


def _ev_case_a(profile: str, recs: list[dict]) -> dict:
    ca = sec8.case_a_table(recs)
    return _series(ca, ["experiment"], "sigma2", ("case_a",)) if len(ca) else {}


def _ev_table2(profile: str, recs: list[dict]) -> dict:
    try:
        pv = sec5.table2_per_version(profile, records=recs)
    except ValueError:           # a Table 2 data set without records
        return {}
    return _series(pv, ["dataset", "method"], "knn_test", ("table2",))


def _ev_table34(profile: str, recs: list[dict]) -> dict:
    sel = sec7.select(sec7.records_table(recs))
    out = _series(sel, ["dataset", "method"], "knn_test", ("table3",))
    for c in (1, 2):
        out.update({k[:3] + (c,): v for k, v in
                    _series(sel, ["dataset", "method"], f"cohort_{c}", ("table4",)).items()})
    return out


def _ev_table56(profile: str, recs: list[dict]) -> dict:
    return table56_cells(appE3.records_table(recs))


def table56_cells(frame: pd.DataFrame) -> dict:
    """The evidence cells of Tables 5-6 from ``appE3.records_table``'s frame (the
    selection of ``appE3.select``): ("table5", ds, method) and ("table6", ds,
    method, cohort) -> per-split values."""
    if frame.empty:
        return {}
    sel = appE3.select(frame)
    out = _series(sel, ["dataset", "method"], "knn_test", ("table5",))
    for c in (1, 2, 3):
        col = f"cohort_{c}"
        if col not in sel.columns:
            continue
        part = sel.dropna(subset=[col])
        out.update({k[:3] + (c,): v for k, v in _series(part, ["dataset", "method"], col, ("table6",)).items()})
    return out


def _ev_eq6(profile: str, recs: list[dict]) -> dict:
    eq6 = sec5_2.eq6_closed_form()
    return {("eq6", "ground truth"): pd.Series([float(eq6.loc["ground truth (A_GT)", "neg_elbo"])]),
            ("eq6", "global optimum"): pd.Series([float(eq6.loc["global optimum (A*)", "neg_elbo"])])}


#: evidence source -> (the named sweep whose records it reads, or None; its function)
_SOURCES: dict[str, tuple[str | None, Callable[[str, list], dict]]] = {
    "eq6": (None, _ev_eq6), "table1": ("section8", _ev_table1), "case_a": ("section8", _ev_case_a),
    "table2": ("section5", _ev_table2), "table34": ("section7", _ev_table34), "table56": ("uci", _ev_table56),
    **{name: (mod.CLAIMS_SWEEP, mod.claims_evidence) for name, mod in PAGE_MODULES.items()}}
#: bump when an evidence function changes what it returns (invalidates the cache); a page
#: module's own ``CLAIMS_VERSION`` does the same for its ``claims_evidence``
EVIDENCE_VERSION = 1


def _encode(cells: dict) -> dict:
    return {"|".join(map(str, k)): {str(int(v)): float(x) for v, x in s.items()} for k, s in cells.items()}


def _decode(blob: dict) -> dict:
    out = {}
    for k, vals in blob.items():
        parts = tuple(int(p) if p.lstrip("-").isdigit() else p for p in k.split("|"))
        out[parts] = pd.Series({int(v): x for v, x in vals.items()}, dtype=float).sort_index()
    return out


def evidence(profile: str, sources=None) -> dict:
    """Every evidence cell under ``profile``: cell id -> per-version values (a Series
    indexed by data version). Each source reads the verified cached records of its sweep
    (nothing is trained; a sweep without records gives no cells) and is itself cached in
    ``results/<profile>/scorecard_<source>.json``, keyed by those records' keys."""
    out = {}
    for name, (sweep, fn) in _SOURCES.items():
        if sources is not None and name not in sources:
            continue
        recs = []
        if sweep is not None:
            names = (sweep,) if isinstance(sweep, str) else tuple(sweep)
            recs = [r for n in names for r in load_or_run(records.SWEEPS[n](profile), train_missing=False)[0]]
            if not recs:
                continue
        version = EVIDENCE_VERSION if name not in PAGE_MODULES else \
            f"{EVIDENCE_VERSION}.{getattr(PAGE_MODULES[name], 'CLAIMS_VERSION', 1)}"
        config = {"source": name, "version": version, "profile": profile,
                  "records": sorted(r["key"] for r in recs)}
        blob = cached_json(profile, f"scorecard_{name}", config, lambda: _encode(fn(profile, recs)))
        out.update(_decode(blob))
    return out


