"""The claims of the Sec. 7, Sec. 8 and App. D pages: well-formed, judged by the book's
one rule on hand-made evidence (a holding and a failing case each), and the committed
``reduced`` cache has every cell."""
from __future__ import annotations

import pandas as pd
import pytest

from vaefail_core.paper import appD, appF, claims as C, sec7, sec8
from vaefail_core.paper.claim import judge
from vaefail_core.paper.reference import APPD_PROTOCOL
from vaefail_core.paper.verdict import KINDS

MODULES = {"sec7": sec7, "sec8": sec8, "appD": appD, "appF": appF}
PAGES = {"sec7": "sec7_semisupervised", "sec8": "sec8_signal_noise", "appD": "appD_protocol",
         "appF": "sec8_signal_noise"}


def _cells(claim) -> list:
    if claim.kind == "effect":
        return [c for _, red, cells in claim.terms if red != "const" for c in cells]
    return list(claim.cells)


@pytest.mark.parametrize("key", list(MODULES))
def test_page_claims_are_well_formed(key):
    mod = MODULES[key]
    cl = mod.page_claims()
    assert cl and C.PAGE_MODULES[key] is mod
    ids = [c.id for c in cl]
    assert len(set(ids)) == len(ids)
    for c in cl:
        assert c.source == key and c.kind in KINDS and c.page == PAGES[key] and c.where
        assert c.id.startswith(f"{key}/")
        for cell in _cells(c):
            assert isinstance(cell, tuple) and all(isinstance(p, (str, int)) for p in cell)
            assert not any("|" in str(p) for p in cell)
    # registered exactly once, and no duplicate of the registry's own Table 1, 3-4 and Case A rows
    reg = [c.id for c in C.CLAIMS if c.source == key]
    assert sorted(reg) == sorted(ids)
    assert not any(i.startswith(("table", "case_a")) for i in ids)


def _series(*vals):
    return pd.Series(list(vals), index=range(len(vals)), dtype=float)


def test_sec7_effects_hold_and_fail():
    cl = {c.id: c for c in sec7.page_claims()}
    D, Cn = sec7.SEC7_DATASETS
    # functional collapse: ratio well below 1 in every version -> reproduced; above 1 -> differs
    c = cl[f"sec7/{D}/VAE/functional_collapse"]
    cell = ("sec7", D, "VAE", "collapse_ratio")
    assert judge(c, {cell: _series(0.1, 0.12, 0.09)}).verdict == "reproduced"
    assert judge(c, {cell: _series(1.5, 1.6, 1.55)}).verdict == "differs"
    assert judge(c, {cell: _series(0.5, 1.5, 0.9)}).verdict == "within noise"
    # IWAE's cohorts no better than the best of VAE and LIN: IWAE clearly better -> differs
    c = cl[f"sec7/{Cn}/iwae_cohorts_no_better"]
    ev = {("sec7", Cn, "IWAE", "cohort_mean"): _series(10.0, 11.0, 10.5),
          ("sec7", Cn, "VAE", "cohort_mean"): _series(18.0, 19.0, 18.4),
          ("sec7", Cn, "LIN", "cohort_mean"): _series(17.0, 18.2, 17.7)}
    assert judge(c, ev).verdict == "differs"
    ev[("sec7", Cn, "IWAE", "cohort_mean")] = _series(20.0, 21.0, 20.1)
    assert judge(c, ev).verdict == "reproduced"
    # alpha buys prediction: smaller RMSE at the largest alpha
    c = cl[f"sec7/{Cn}/VAE/alpha_better_prediction"]
    lo, hi = ("sec7", Cn, "VAE", "alpha_min", "predictive"), ("sec7", Cn, "VAE", "alpha_max", "predictive")
    assert judge(c, {lo: _series(1.0, 1.01, 1.0), hi: _series(0.97, 0.98, 0.975)}).verdict == "reproduced"
    assert judge(c, {lo: _series(0.97, 0.98, 0.975), hi: _series(1.0, 1.01, 1.0)}).verdict == "differs"
    assert judge(c, {}).verdict == "not run"


def test_sec8_claims_hold_and_fail():
    cl = {c.id: c for c in sec8.page_claims()}
    c = cl["sec8/fig23/clusters_5d/kl_mean/K1>K3"]
    k1, k3 = ("sec8", "posterior", "clusters_5d", 1, "mean"), ("sec8", "posterior", "clusters_5d", 3, "mean")
    assert judge(c, {k1: _series(0.5, 0.6, 0.55), k3: _series(0.1, 0.12, 0.11)}).verdict == "reproduced"
    assert judge(c, {k1: _series(0.1, 0.12, 0.11), k3: _series(0.5, 0.6, 0.55)}).verdict == "differs"


def test_appF_claims_hold_and_fail():
    cl = {c.id: c for c in appF.page_claims()}
    c = cl["appF/random/K3_keeps_perturbation"]
    cells = c.cells
    ok = {cells[0]: _series(0.5), cells[1]: _series(0.9), cells[2]: _series(0.4)}
    assert judge(c, ok).verdict == "reproduced" and C.ours_text(c, ok) == "kept share 0.90 (K = 3) vs 0.40 (truth)"
    assert judge(c, {**ok, cells[0]: _series(-0.1)}).verdict == "differs"
    c = cl["appF/mismatched_K_survive/valid/1pct"]
    cell = lambda d: ("appF", "attack", "survival (valid)", 1, d)  # noqa: E731
    ev = {cell("VAE K = 1"): _series(0.4, 0.45, 0.42, 0.41), cell("VAE K = 2"): _series(0.6, 0.7, 0.65, 0.66),
          cell("VAE K = 3"): _series(0.55, 0.66, 0.6, 0.62)}
    assert judge(c, ev).verdict == "reproduced"
    ev[cell("VAE K = 2")] = _series(0.3, 0.35, 0.33, 0.31)      # one mismatched K does better than K = 1
    assert judge(c, ev).verdict == "differs"
    c = cl["appF/true_manifold_defends"]
    tm = ("appF", "attack", "survival (valid)", 1, "true manifold")
    assert judge(c, {tm: _series(0.01, 0.0, 0.02)}).verdict == "reproduced"
    assert judge(c, {tm: _series(0.4, 0.5, 0.45)}).verdict == "differs"


def test_appD_checks_hold_and_fail(monkeypatch):
    cl = {c.id: c for c in appD.page_claims()}
    assert len(cl) == len(APPD_PROTOCOL)
    ev = appD.claims_evidence("reduced", [])
    c = cl["appD/protocol/data_versions"]
    assert judge(c, ev).verdict == "reproduced"
    # a `paper` profile with another number of data versions, or a shorter grid, differs
    real = appD.protocol_values

    def changed(profile):
        out = dict(real(profile))
        out["data versions"] = (out["data versions"][0] + 1,)
        out["IWAE S"] = out["IWAE S"][:-1]
        return out

    monkeypatch.setattr(appD, "protocol_values", changed)
    ev2 = appD.claims_evidence("reduced", [])
    assert judge(c, ev2).verdict == "differs"
    assert judge(cl["appD/protocol/iwae_s"], ev2).verdict == "differs"
    assert judge(cl["appD/protocol/lin_t"], ev2).verdict == "reproduced"


@pytest.mark.parametrize("key", ["sec7", "sec8", "appD", "appF"])
def test_reduced_cache_has_every_cell(key):
    """The committed ``reduced`` results (the evidence cache ``scorecard_<key>.json``)
    give every cell of the page's claims."""
    ev = C.evidence("reduced", sources={key})
    if key != "appD" and not ev:
        pytest.skip(f"no {key} records under the reduced profile")
    for c in MODULES[key].page_claims():
        for cell in _cells(c):
            assert cell in ev, (c.id, cell)
        assert judge(c, ev).verdict != "not run", c.id
