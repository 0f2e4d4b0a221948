"""The own claims of the Section 5.2, Section 6 and Appendices A/C pages
(``paper.sec5_2``, ``paper.sec6``, ``paper.appA_C``: ``page_claims``): well formed and
registered, judged as expected on hand-made evidence (a holding and a failing case), and
their evidence read from the committed reduced caches."""
from __future__ import annotations

import pandas as pd
import pytest

from vaefail_core.cache import RESULTS_DIR
from vaefail_core.paper import appA_C, sec5_2, sec6
from vaefail_core.paper import claims as C
from vaefail_core.paper.claim import judge, ours_text
from vaefail_core.paper.verdict import KINDS

MODULES = {"sec5_2": (sec5_2, "sec5_2_intuition"), "sec6": (sec6, "sec6_latent_spaces"),
           "appA_C": (appA_C, "appA_C_theory")}


def _claim(mod, cid):
    return next(c for c in mod.page_claims() if c.id == cid)


def _ev(claim, first: float, rest: float = 1.0) -> dict:
    """One value per cell of a check: ``first`` for the judged cell, ``rest`` otherwise."""
    return {cell: pd.Series([first if i == 0 else rest]) for i, cell in enumerate(claim.cells)}


@pytest.mark.parametrize("key", sorted(MODULES))
def test_page_claims_are_well_formed_and_registered(key):
    mod, page = MODULES[key]
    cl = mod.page_claims()
    ids = [c.id for c in cl]
    assert len(ids) == len(set(ids))
    assert all(c.source == key and c.kind in KINDS and c.page == page and c.where for c in cl)
    assert all(c.id.startswith(key + "/") for c in cl)
    assert C.PAGE_MODULES[key] is mod
    registry = {c.id for c in C.CLAIMS}
    assert set(ids) <= registry
    for c in cl:
        assert c.kind == "check" and c.cells
        for cell in c.cells:
            assert isinstance(cell, tuple) and all(isinstance(p, (str, int)) and "|" not in str(p) for p in cell)
        # the formatted text takes one value per cell
        assert ours_text(c, _ev(c, 0.5)) != ""


def test_eq6_numbers_stay_with_the_registry():
    # Eq. 6's two -ELBO values are the registry's source "eq6", shown on the same page
    assert not any(c.id.startswith("eq6/") for c in sec5_2.page_claims())
    eq6 = [c for c in C.CLAIMS if c.source == "eq6"]
    assert {c.id for c in eq6} == {"eq6/ground_truth", "eq6/global_optimum"}
    assert all(c.page == "sec5_2_intuition" for c in eq6)


@pytest.mark.parametrize("mod, cid, holds, fails", [
    (sec5_2, "sec5_2/fig1/optimum_loses_correlation", 0.2, -0.1),
    (sec5_2, "sec5_2/fig2/same_px", 0.01, -0.01),
    (sec5_2, "sec5_2/fig2/prefers_monotone", 0.3, -0.05),
    (sec5_2, "sec5_2/fig3/non_gaussian_posteriors", 0.3, 0.05),
    (sec6, "sec6/linear/same_px", 1e-16, 1e-3),
    (sec6, "sec6/linear/prefers_rotated", 0.5, -0.1),
    (sec6, "sec6/abs_value/simpler_posteriors", 0.6, -0.2),
    (sec6, "sec6/abs_value/px_matched", 0.005, 0.5),
    (appA_C, "appA_C/appA/collapse_optimal_gaussian", 0.0, 0.1),
    (appA_C, "appA_C/appA/no_collapse_non_gaussian", 1.2, -0.3),
    (appA_C, "appA_C/c1/eq19_identity", 1e-17, 1e-3),
    (appA_C, "appA_C/c1/cond1_holds", 2.0, 0.0),
    (appA_C, "appA_C/c1/misestimating_model_wins", 0.015, -0.02),
    (appA_C, "appA_C/c2/eq9_argmax", 1e-4, 0.05),
    (appA_C, "appA_C/c2/eq9_trained_overestimates", 0.003, -0.003),
])
def test_holding_and_failing_cases(mod, cid, holds, fails):
    claim = _claim(mod, cid)
    assert judge(claim, _ev(claim, holds)).verdict == "reproduced"
    assert judge(claim, _ev(claim, fails)).verdict == "differs"
    # a missing cell: not run
    assert judge(claim, {claim.cells[0]: pd.Series([holds])} if len(claim.cells) > 1 else {}).verdict == "not run"


def test_sec5_2_evidence_is_the_page_computation():
    # the closed-form correlation the Fig. 1 claim uses, against a large sample
    import numpy as np

    from vaefail_core import linear
    x = linear.eq6_sample(linear.EQ6_A_GT, 200_000, seed=3)
    assert abs(np.corrcoef(x.T)[0, 1] - sec5_2.eq6_correlation(linear.EQ6_A_GT)) < 0.01


def test_sec6_linear_evidence_without_the_sweep(monkeypatch):
    # without the Absolute-Value record only the linear cells are given (those claims "not run")
    def missing(*a, **k):
        raise FileNotFoundError("no record")
    monkeypatch.setattr(sec6, "absolute_value_analysis", missing)
    ev = sec6.claims_evidence("reduced", [])
    verdicts = {c.id: judge(c, ev).verdict for c in sec6.page_claims()}
    assert verdicts["sec6/linear/same_px"] == verdicts["sec6/linear/prefers_rotated"] == "reproduced"
    assert verdicts["sec6/abs_value/simpler_posteriors"] == verdicts["sec6/abs_value/px_matched"] == "not run"


@pytest.mark.skipif(not all((RESULTS_DIR / "reduced" / f"scorecard_{k}.json").exists() for k in MODULES),
                    reason="no committed reduced scorecard caches of these pages")
def test_reduced_evidence_has_every_cell():
    ev = C.evidence("reduced", sources=set(MODULES))
    for key, (mod, _) in MODULES.items():
        for c in mod.page_claims():
            assert set(c.cells) <= set(ev), c.id
            assert judge(c, ev).verdict in ("reproduced", "differs")
