"""App. E.1-E.2 and Figures 8-15 (the qualitative page): the claims of its captions.

The page draws Figures 8-15 from the Section-5 sweep with ``sec5``; this module turns
what their captions and App. E.2 say into claims of the registry (``page_claims``) and
computes our evidence for them from the same cached records (``claims_evidence``):

* E.2: on Circle and Absolute-Value (one condition of Sec. 5.1 each) the VAE fits p(x)
  no worse than IWAE, and the VAE-IWAE gap is larger where both conditions hold
  (``effect`` claims over data versions, on the kNN z-scores of ``sec5.table2_per_version``);
* Figs. 11 and 14: LIN's kNN statistic is closer to the VAE's than to IWAE's;
* Fig. 15: IWAE's Clusters model is indistinguishable from the data (kNN z-score below
  the one-sided 5% point of N(0, 1));
* Figs. 9, 10, 12, 13, 15: the learned decoder's posteriors are simpler than the
  truth's (mean best-Gaussian KL, ``sec5.qualitative_data``, data version 0, the model
  each figure shows: ``check`` claims on that single fit).
"""
from __future__ import annotations

import pandas as pd
from scipy import stats

from . import reference as R
from . import sec5
from .claim import Claim, difference_terms

__all__ = ["CLAIMS_SWEEP", "CLAIMS_VERSION", "PAGE", "DATASETS", "CONDITIONS", "Z_NULL", "KL_MODELS",
           "posterior_kl", "page_claims", "claims_evidence"]

#: the named sweep whose records the evidence reads
CLAIMS_SWEEP = "section5"
#: bump when ``claims_evidence`` changes what it returns
CLAIMS_VERSION = 1
#: the book page of these claims
PAGE = "appE_qualitative"
#: the page's four data sets: two with both conditions of Sec. 5.1, two with one
DATASETS = sec5.SEC5_BOTH_CONDITIONS + sec5.SEC5_ONE_CONDITION
#: which conditions of Sec. 5.1 each data set meets (App. E.2)
CONDITIONS = {"figure8": "both", "clusters": "both", "circle": "only (2)", "absolute_value": "only (1)"}
#: one-sided 5% point of N(0, 1): a kNN z-score below it is "indistinguishable from the
#: true p(x) at this sample size" (our threshold; the paper's statistic has another scale)
Z_NULL = float(stats.norm.ppf(0.95))
#: the (method, data set) models whose posteriors a caption describes (Figs. 9-15)
KL_MODELS = (("VAE", "absolute_value"), ("VAE", "figure8"), ("IWAE", "figure8"), ("VAE", "clusters"),
             ("IWAE", "clusters"))
#: the data version the figures show
FIG_VERSION = 0
_N = sec5.DATASET_NAMES


def posterior_kl(profile: str, records: list[dict], models=KL_MODELS, version: int = FIG_VERSION) -> pd.DataFrame:
    """The mean best-Gaussian KL (the PMO of an ideal per-point Gaussian, nats) of the
    exact posteriors under the true and the learned f, on the test points of
    ``sec5.qualitative_data`` (the model of the figure, data version ``version``): one
    row per (method, data set). Loads the selected models; trains nothing."""
    rows = []
    for m, ds in models:
        d = sec5.qualitative_data(profile, ds, m, version=version, n=200, records=records)
        rows.append({"method": m, "dataset": ds, "kl_true": d["kl_true"], "kl_learned": d["kl_learned"]})
    return pd.DataFrame(rows)


def _knn(ds: str, m: str) -> tuple:
    return ("appE", "knn", ds, m)


def _kl(ds: str, m: str, what: str) -> tuple:
    return ("appE", "kl", ds, m, what)


def page_claims() -> list[Claim]:
    """The claims of App. E.1-E.2 and the captions of Figures 8-15."""
    out = []
    for ds in sec5.SEC5_ONE_CONDITION:
        fig = R.FIGURES[("vae", ds)]
        out.append(Claim(f"appE/{ds}/vae_no_worse_than_iwae", "appE",
                         f"E.2, {_N[ds]} (only condition {CONDITIONS[ds][-2]} of Sec. 5.1): the VAE fits p(x) "
                         "no worse than IWAE (kNN z-score, IWAE minus VAE per data version)",
                         f"stated (Fig. 5, Fig. {fig}): as well as IWAE", "effect",
                         terms=difference_terms(_knn(ds, "IWAE"), _knn(ds, "VAE")),
                         labels=("IWAE", "VAE"), where=f"App. E.2, Fig. {fig}", page=PAGE))
    both, one = sec5.SEC5_BOTH_CONDITIONS, sec5.SEC5_ONE_CONDITION
    out.append(Claim("appE/gap_needs_both_conditions", "appE",
                     "E.2: the VAE-IWAE kNN gap is larger on the sets meeting both conditions "
                     "(Figure-8, Clusters) than on those meeting one (Circle, Absolute-Value)",
                     "implied (Sec. 5.1, App. E.2)", "effect",
                     terms=((+1, "mean", tuple(_knn(d, "VAE") for d in both)),
                            (-1, "mean", tuple(_knn(d, "IWAE") for d in both)),
                            (-1, "mean", tuple(_knn(d, "VAE") for d in one)),
                            (+1, "mean", tuple(_knn(d, "IWAE") for d in one))),
                     labels=("VAE, both", "IWAE, both", "VAE, one", "IWAE, one"),
                     where="App. E.2", page=PAGE))
    for ds in sec5.SEC5_BOTH_CONDITIONS:
        fig = R.FIGURES[("lin", ds)]
        lin, vae, iwae = (R.TABLE2[ds, m][0] for m in ("LIN", "VAE", "IWAE"))
        note = "LIN nearer the VAE" if abs(lin - vae) < abs(lin - iwae) else "LIN nearer IWAE"
        out.append(Claim(f"appE/{ds}/lin_like_vae", "appE",
                         f"Fig. {fig}: LIN fails like the VAE on {_N[ds]} (|LIN - IWAE| - |LIN - VAE| of the "
                         "kNN z-score, per data version)",
                         f"caption; its Table 2: LIN {lin:.3f}, VAE {vae:.3f}, IWAE {iwae:.3f} ({note})",
                         "effect", terms=((+1, "one", (("appE", "lin_like_vae", ds),)),),
                         labels=("|LIN - IWAE| - |LIN - VAE|",), where=f"App. I, Fig. {fig}", page=PAGE))
    fig = R.FIGURES[("iwae", "clusters")]
    out.append(Claim("appE/clusters/iwae_fits_px", "appE",
                     f"Fig. {fig}: IWAE fits the true p(x) on Clusters (kNN z-score below {Z_NULL:.3f}, "
                     "the one-sided 5% point of N(0, 1))",
                     f"caption; its Table 2: IWAE {R.TABLE2['clusters', 'IWAE'][0]:.3f}", "effect",
                     terms=((+1, "const", Z_NULL), (-1, "one", (_knn("clusters", "IWAE"),))),
                     labels=("threshold", "IWAE"), where=f"App. I, Fig. {fig}", page=PAGE))
    captions = {("VAE", "absolute_value"): "the learned f has simpler (unimodal) posteriors than the truth's",
                ("VAE", "figure8"): "the VAE learns simpler posteriors than the truth's",
                ("IWAE", "figure8"): "IWAE's posteriors are (slightly) simpler than the truth's",
                ("VAE", "clusters"): "the VAE learns simpler posteriors than the truth's",
                ("IWAE", "clusters"): "IWAE's posteriors are simpler than the truth's"}
    for m, ds in KL_MODELS:
        fig = R.FIGURES[(m.lower(), ds)]
        out.append(Claim(f"appE/{ds}/{m.lower()}/simpler_posteriors", "appE",
                         f"Fig. {fig}, {_N[ds]}: {captions[m, ds]} (best-Gaussian KL, true f minus learned f, "
                         f"data version {FIG_VERSION})",
                         "caption: simpler posteriors", "check",
                         cells=(_kl(ds, m, "diff"), _kl(ds, m, "true"), _kl(ds, m, "learned")),
                         cond=(">", 0.0), fmt="best-Gaussian KL: true f {1:.3f}, learned f {2:.3f}",
                         where=f"App. I, Fig. {fig}", page=PAGE))
    fig = R.FIGURES[("iwae", "figure8")]
    out.append(Claim("appE/figure8/iwae/closer_than_vae", "appE",
                     f"Fig. {fig}, Figure-8: IWAE's posteriors are closer to the truth's than the VAE's, as "
                     "'only slightly simpler' implies (|KL VAE - KL true| - |KL IWAE - KL true|, data version "
                     f"{FIG_VERSION})",
                     "caption: only slightly simpler", "check",
                     cells=(("appE", "kl", "figure8", "iwae_closer"), _kl("figure8", "IWAE", "learned"),
                            _kl("figure8", "VAE", "learned"), _kl("figure8", "IWAE", "true")),
                     cond=(">", 0.0), fmt="best-Gaussian KL: IWAE {1:.3f}, VAE {2:.3f}, true f {3:.3f}",
                     where=f"App. I, Fig. {fig}", page=PAGE))
    return out


def claims_evidence(profile: str, records: list[dict]) -> dict:
    """Our evidence for ``page_claims`` from the Section-5 records: per data version the
    chosen model's test kNN z-score of each (data set, method), LIN's distance gaps, and
    (data version 0) the posterior KLs of the models the figures show."""
    try:
        pv = sec5.table2_per_version(profile, datasets=DATASETS, records=records)
    except ValueError:            # a data set without records
        return {}
    out = {}
    for (ds, m), g in pv.groupby(["dataset", "method"], sort=False):
        out[_knn(ds, m)] = g.set_index("version")["knn_test"].astype(float).sort_index()
    for ds in sec5.SEC5_BOTH_CONDITIONS:
        lin, vae, iwae = (out[_knn(ds, m)] for m in ("LIN", "VAE", "IWAE"))
        out[("appE", "lin_like_vae", ds)] = ((lin - iwae).abs() - (lin - vae).abs()).dropna()
    kl = posterior_kl(profile, records).set_index(["method", "dataset"])
    one = lambda v: pd.Series([float(v)], index=[FIG_VERSION])  # noqa: E731
    for (m, ds), r in kl.iterrows():
        out[_kl(ds, m, "true")] = one(r["kl_true"])
        out[_kl(ds, m, "learned")] = one(r["kl_learned"])
        out[_kl(ds, m, "diff")] = one(r["kl_true"] - r["kl_learned"])
    t, iw, va = kl.loc[("IWAE", "figure8"), "kl_true"], kl.loc[("IWAE", "figure8"), "kl_learned"], \
        kl.loc[("VAE", "figure8"), "kl_learned"]
    out[("appE", "kl", "figure8", "iwae_closer")] = one(abs(va - t) - abs(iw - t))
    return out
