"""The Section 5 page's own claims (``paper.sec5.page_claims``): well formed, judged as
expected on hand-made evidence, and their evidence read from the committed reduced
caches without training."""
from __future__ import annotations

import pandas as pd
import pytest

from vaefail_core.cache import RESULTS_DIR
from vaefail_core.paper import claims as C
from vaefail_core.paper import sec5
from vaefail_core.paper.claim import judge
from vaefail_core.paper.verdict import KINDS


def _cells(claim):
    return [c for _, reduce, cells in claim.terms if reduce != "const" for c in cells]


def test_page_claims_are_well_formed_and_registered():
    cl = sec5.page_claims()
    ids = [c.id for c in cl]
    assert len(ids) == len(set(ids))
    assert all(c.source == "sec5" and c.kind in KINDS and c.page == "sec5_failures" for c in cl)
    assert all(c.kind == "effect" and len(c.labels) == len(c.terms) for c in cl)
    registry = {c.id for c in C.CLAIMS}
    assert set(ids) <= registry
    # Table 2's cells and pair orderings stay the registry's source "table2" (no duplicates)
    assert not any(i.startswith("table2/") for i in ids)
    assert {"sec5/clusters/eq3/mleo_up", "sec5/figure8/optimum_not_truth/as_trained",
            "sec5/figure8/prefers_other_model", "sec5/figure8/flow<IWAE"} <= set(ids)
    flow = [c for c in cl if "flow" in c.id]
    assert len(flow) == 4 and all(c.paper == sec5.FLOW_PAPER for c in flow)
    # every evidence cell is a tuple of plain strings without the cache's separator
    for c in cl:
        for cell in _cells(c):
            assert isinstance(cell, tuple) and all(isinstance(p, (str, int)) and "|" not in str(p) for p in cell)


def _ev(claim, first: list[float], second: list[float]) -> dict:
    """Evidence for a two-term claim: its first (+) term's cell and its second (-)."""
    (_, _, (a,)), (_, _, (b,)) = claim.terms
    return {a: pd.Series(first, dtype=float), b: pd.Series(second, dtype=float)}


@pytest.mark.parametrize("cid", ["sec5/clusters/eq3/pmo_down", "sec5/figure8/flow<VAE",
                                 "sec5/figure8/prefers_other_model"])
def test_holding_and_failing_cases(cid):
    claim = next(c for c in sec5.page_claims() if c.id == cid)
    assert [s for s, _, _ in claim.terms] == [1, -1]
    # the first term (the worse side under the claim) clearly larger: supports the claim
    assert judge(claim, _ev(claim, [1.0, 1.1, 0.9, 1.05], [0.1, 0.2, 0.15, 0.1])).verdict == "reproduced"
    # the other way round: significant against it
    assert judge(claim, _ev(claim, [0.1, 0.2, 0.15, 0.1], [1.0, 1.1, 0.9, 1.05])).verdict == "differs"
    # mixed signs: the versions do not settle it
    assert judge(claim, _ev(claim, [1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.5, 0.6])).verdict == "within noise"
    # a missing cell: not run
    (_, _, (a,)), _ = claim.terms
    assert judge(claim, {a: pd.Series([1.0, 2.0])}).verdict == "not run"


def test_ideal_q_claim_uses_the_optimum_with_an_ideal_q():
    claim = next(c for c in sec5.page_claims() if c.id == "sec5/clusters/optimum_not_truth/ideal_q")
    assert _cells(claim) == [("sec5", "mech", "clusters", "gt", "pmo_best_gaussian"),
                             ("sec5", "mech", "clusters", "opt", "ideal_q")]


@pytest.mark.skipif(not (RESULTS_DIR / "reduced" / "sec5_mechanism_opt.json").exists(),
                    reason="no committed reduced Section 5 caches")
def test_reduced_evidence_has_every_cell_without_training():
    recs = sec5.load_records("reduced") + (sec5.flow_records("reduced") or [])
    ev = sec5.claims_evidence("reduced", recs)
    need = {c for cl in sec5.page_claims() for c in _cells(cl)}
    assert need <= set(ev)
    assert all(len(ev[c]) == 4 for c in need)
    # the MLEO at the truth is zero up to quadrature error
    assert ev[("sec5", "mech", "figure8", "gt", "mleo")].abs().max() < 1e-6
