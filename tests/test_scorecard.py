"""The claims registry, the one verdict rule (at its boundaries) and the scorecard."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vaefail_core.paper import claims as C
from vaefail_core.paper import reference as R
from vaefail_core.paper import scorecard as sc
from vaefail_core.paper.verdict import (ALPHA, VERDICTS, Judgement, judge_effect, judge_exact,
                                        judge_number)

ROOT = Path(__file__).resolve().parents[1]
Z = 1.959963984540054        # the two-sided 5% point of the normal


# -- the number rule ------------------------------------------------------------------
def _two(mean: float, se: float) -> list[float]:
    """Two values with the given mean whose standard error (sd / sqrt 2) is ``se``."""
    return [mean - se, mean + se]


def test_number_rule_at_the_z_boundary():
    # paper sd 0: the combined se is ours alone, = 1
    inside = judge_number(_two(Z - 0.01, 1.0), 0.0, 0.0, 5)
    outside = judge_number(_two(Z + 0.01, 1.0), 0.0, 0.0, 5)
    assert inside.verdict == "reproduced" and inside.p > ALPHA
    assert outside.verdict == "differs" and outside.p < ALPHA
    # the paper's error counts too: sd 1 over n = 1 makes the se sqrt(2)
    assert judge_number(_two(Z * 1.2, 1.0), 0.0, 1.0, 1).verdict == "reproduced"
    assert judge_number(_two(-Z * 1.5, 1.0), 0.0, 1.0, 1).verdict == "differs"


def test_number_rule_edge_cases():
    one = judge_number([0.5], 0.0, 0.3, 1)          # one version: the paper's error alone
    assert one.n == 1 and "one version" in one.detail and one.verdict == "reproduced"
    assert judge_number([1.0, 1.0], 1.0, 0.0, 5).verdict == "reproduced"     # no noise, equal
    assert judge_number([1.0, 1.0], 1.1, 0.0, 5).verdict == "differs"        # no noise, unequal
    assert judge_number([], 0.0, 1.0, 5).verdict == "not run"
    with pytest.raises(ValueError, match="NaN"):
        judge_number([0.1, float("nan")], 0.0, 1.0, 5)
    with pytest.raises(ValueError):
        judge_number([0.1, 0.2], 0.0, -1.0, 5)


# -- the exact rule -------------------------------------------------------------------
def test_exact_rule_half_a_unit_of_the_last_digit():
    assert judge_exact(0.5325, 0.532, 3).verdict == "reproduced"
    assert judge_exact(0.5315, 0.532, 3).verdict == "reproduced"
    assert judge_exact(0.5326, 0.532, 3).verdict == "differs"
    assert judge_exact(0.19, 0.196, 3).verdict == "differs"
    assert judge_exact(0.19, 0.2, 1).verdict == "reproduced"
    with pytest.raises(ValueError):
        judge_exact(float("nan"), 0.5, 3)


# -- the effect rule ------------------------------------------------------------------
def _t_p(d):
    from scipy import stats
    return stats.ttest_1samp(d, 0.0).pvalue


def test_effect_rule_at_the_t_boundary():
    base = np.array([-1.0, 0.0, 1.0, 0.0])            # sd sqrt(2/3); shift sets t
    lo, hi = None, None
    for shift in np.linspace(0.5, 2.0, 301):
        p = _t_p(base + shift)
        if p >= ALPHA:
            lo = shift
        elif hi is None:
            hi = shift
    assert lo is not None and hi is not None and lo < hi
    assert judge_effect(base + lo).verdict == "within noise"
    assert judge_effect(base + hi).verdict == "reproduced"
    assert judge_effect(-(base + hi)).verdict == "differs"
    assert judge_effect(-(base + lo)).verdict == "within noise"


def test_effect_rule_edge_cases():
    assert judge_effect([0.3]).verdict == "within noise"              # one version: no test
    assert judge_effect([0.2, 0.2, 0.2]).verdict == "reproduced"      # no spread, positive
    assert judge_effect([-0.2, -0.2]).verdict == "differs"
    assert judge_effect([0.0, 0.0]).verdict == "within noise"
    assert judge_effect([]).verdict == "not run"
    j = judge_effect([0.1, 0.3, 0.2, -0.05])
    assert j.n == 4 and "holds in 3/4" in j.detail
    with pytest.raises(ValueError):
        Judgement("agrees")                  # not in the vocabulary


# -- the registry ---------------------------------------------------------------------
def test_registry_holds_every_table_cell_once():
    ids = [c.id for c in C.CLAIMS]
    assert len(ids) == len(set(ids))
    n_cells = {"table1": len(R.TABLE1), "table2": len(R.TABLE2), "table3": len(R.TABLE3),
               "table4": len(R.TABLE4), "table5": len(R.TABLE5), "table6": len(R.TABLE6)}
    for table, n in n_cells.items():
        got = [c for c in C.CLAIMS if c.source == table and c.kind in ("number", "cell")]
        assert len(got) == n, table
    # Table 1 is on our scale, Tables 2-6 are not
    assert {c.kind for c in C.CLAIMS if c.source == "table1" and c.cells and c.kind != "effect"} == {"number"}
    assert {c.kind for c in C.CLAIMS if c.source in ("table2", "table5") and c.kind != "effect"} == {"cell"}
    # the exact numbers of the text built here (pages may register more of their own)
    assert {c.id for c in C.CLAIMS if c.kind == "exact" and c.source not in C.PAGE_MODULES} == {
        "eq6/ground_truth", "eq6/global_optimum"}


def test_registry_orderings_follow_the_papers_values():
    t2 = {c.id for c in C.CLAIMS if c.source == "table2" and c.kind == "effect"}
    assert t2 == {"table2/clusters/IWAE<LIN", "table2/clusters/IWAE<VAE", "table2/clusters/LIN<VAE",
                  "table2/figure8/IWAE<LIN", "table2/figure8/IWAE<VAE", "table2/figure8/LIN<VAE"}
    # Titanic: the paper finds the VAE better on p(x) (Table 5), IWAE better on its cohorts
    assert "table5/uci_titanic/VAE<IWAE" in {c.id for c in C.CLAIMS}
    assert "table6/uci_titanic/mean/IWAE<VAE" in {c.id for c in C.CLAIMS}


def test_every_claim_links_to_a_page_of_the_book():
    pages = {p.stem for p in (ROOT / "notebooks").glob("*.py")}
    assert {c.page for c in C.CLAIMS} <= pages


def test_judging_on_given_evidence():
    by_id = {c.id: c for c in C.CLAIMS}
    v = pd.Series([2.0, 2.5, 1.8, 2.2])
    ev = {("table2", "clusters", "IWAE"): pd.Series([0.3, 0.2, 0.4, 0.1]),
          ("table2", "clusters", "VAE"): v}
    c = by_id["table2/clusters/IWAE<VAE"]
    assert C.judge(c, ev).verdict == "reproduced"
    assert C.ours_text(c, ev).startswith("IWAE 0.25, VAE 2.12; difference 1.88")
    flipped = {("table2", "clusters", "IWAE"): v, ("table2", "clusters", "VAE"): pd.Series([0.3, 0.2, 0.4, 0.1])}
    assert C.judge(c, flipped).verdict == "differs"
    assert C.judge(by_id["table2/clusters/IWAE"], ev).verdict == "not comparable"
    assert C.judge(by_id["table2/clusters/LIN<VAE"], ev).verdict == "not run"      # no LIN cell
    # a number against the paper: Case A learned, paper 0.020 +- 0.003
    ca = by_id["case_a/learned"]
    near = {("case_a", "sigma^2 learned jointly"): pd.Series([0.019, 0.021, 0.020, 0.022])}
    far = {("case_a", "sigma^2 learned jointly"): pd.Series([0.040, 0.041, 0.039, 0.042])}
    assert C.judge(ca, near).verdict == "reproduced" and C.judge(ca, far).verdict == "differs"
    # the over-estimate: ours against the truth 0.01
    assert C.judge(by_id["case_a/learned/over"], far).verdict == "reproduced"
    # versions are paired: only versions present in both cells count
    part = {("table2", "clusters", "IWAE"): pd.Series([0.3, 0.2], index=[0, 1]),
            ("table2", "clusters", "VAE"): pd.Series([2.0, 2.5, 1.8], index=[1, 2, 3])}
    assert C.judge(c, part).n == 1


def test_scorecard_frame_and_csv(tmp_path):
    card = sc.scorecard("quick", ev={})
    assert len(card) == len(C.CLAIMS) and set(card["verdict"]) == {"not run"}
    path = sc.write_csv(card, "quick", results_dir=tmp_path)
    back = pd.read_csv(path)
    assert list(back.columns) == sc.CSV_COLUMNS == ["claim", "where", "paper", "ours", "profile", "verdict"]
    assert len(back) == len(C.CLAIMS) and (back["profile"] == "quick").all()
    cnt = sc.counts(card)
    assert list(cnt.index) == list(VERDICTS) and cnt.loc["not run", "all claims"] == len(C.CLAIMS)
    table = sc.page_table(card)
    assert table["evidence"].str.startswith('<a href="').all()
    text = sc.terminal(card)
    assert text.splitlines()[0].startswith(f"vaefail scorecard: {len(C.CLAIMS)} claims")
    with pytest.raises(ValueError):
        sc.scorecard("nope", ev={})


def test_cli_scorecard_rejects_an_unknown_profile():
    env = dict(os.environ, VAEFAIL_QUIET="1")
    r = subprocess.run([sys.executable, "-m", "vaefail_core.cli", "scorecard", "--profile", "nope"],
                       capture_output=True, text=True, env=env, cwd=ROOT)
    assert r.returncode == 2 and r.stderr.startswith("vaefail: error: unknown profile 'nope'")
    assert len(r.stderr.strip().splitlines()) == 1


def test_no_notebook_types_a_paper_number():
    """The paper's numbers live in ``paper/reference.py`` only: no notebook, code or prose,
    holds one of them as a literal (3-decimal values of Tables 1-6, Eq. 6 and Case A)."""
    values = {f"{v:.3f}" for v in R.EQ6.values()}
    for table in (R.TABLE1, R.TABLE2, R.TABLE3, R.TABLE4, R.TABLE5, R.TABLE6, R.CASE_A):
        for mean, sd in table.values():
            values |= {f"{mean:.3f}", f"{sd:.3f}"}
    values = {v for v in values if abs(float(v)) >= 0.05}     # below: thresholds, not claims
    for nb in (ROOT / "notebooks").glob("*.py"):
        code = nb.read_text()
        found = sorted(v for v in values if re.search(rf"(?<![\d.]){re.escape(v)}(?!\d)", code))
        assert not found, f"{nb.name} types the paper's number(s) {found}"


def test_check_rule_and_a_check_claim():
    """A ``check`` claim: reproduced exactly when its condition holds, at the boundary too;
    its text formats every cell; a non-boolean or an unknown comparison is refused."""
    from vaefail_core.paper.claim import Claim
    from vaefail_core.paper.verdict import judge_check

    assert judge_check(True).verdict == "reproduced" and judge_check(False).verdict == "differs"
    with pytest.raises(ValueError, match="True or False"):
        judge_check(0.5)
    c = Claim("x/check", "x", "a beats b", "yes", "check", cells=(("x", "d"), ("x", "a"), ("x", "b")),
              cond=(">", 0.0), fmt="diff {0:.2f} (a {1:.1f}, b {2:.1f})", where="Sec. 0", page="p")
    ev = {("x", "d"): pd.Series([0.5]), ("x", "a"): pd.Series([2.0]), ("x", "b"): pd.Series([1.5])}
    assert C.judge(c, ev).verdict == "reproduced" and C.ours_text(c, ev) == "diff 0.50 (a 2.0, b 1.5)"
    assert C.judge(c, {**ev, ("x", "d"): pd.Series([0.0])}).verdict == "differs"     # > is strict
    assert C.judge(c, {k: v for k, v in ev.items() if k != ("x", "b")}).verdict == "not run"
    with pytest.raises(ValueError, match="unknown comparison"):
        Claim("x/bad", "x", "s", "p", "check", cells=(("x", "d"),), cond=("==", 0.0), where="w", page="p")
