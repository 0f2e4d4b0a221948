"""The one verdict rule of the book, and its vocabulary.

Every claim of the registry (``claims.py``) is one of four kinds, and each kind has one
test (``ALPHA`` = 0.05 throughout):

* ``number``: the paper prints a value with an error (mean +- sd over ``PAPER_N`` runs)
  and ours is on the same scale, one value per data version. The test is a two-sided
  z-test of the difference of the two means, with the combined standard error
  ``sqrt(sd_ours^2 / n_ours + sd_paper^2 / n_paper)``: "reproduced" when p >= ALPHA,
  "differs" when p < ALPHA. With one version of ours, its spread is unknown and only the
  paper's error enters (said in the detail).
* ``exact``: a quantity without sampling noise (a closed form); "reproduced" when ours
  agrees with the paper to the digits the paper prints (within half a unit of its last
  digit), else "differs".
* ``effect``: an ordering of methods or a direction of change ("IWAE better than VAE",
  "the ELBO prefers K > 1"). Ours is one paired difference per data version, signed so
  that a positive value supports the paper. The test is a two-sided one-sample t-test
  of those differences (``scipy.stats.ttest_1samp``): "reproduced" when p < ALPHA and the
  mean difference is positive, "differs" when p < ALPHA and it is negative, "within
  noise" otherwise (the data versions do not settle it at 5%).

* ``check``: a stated condition on a computation without sampling noise across data
  versions (a closed form, a grid posterior, a single fit the page shows): "reproduced"
  when it holds, "differs" when it does not; the detail gives the numbers compared.

Two verdicts need no test: "not comparable" (our statistic is on another scale than the
paper's; Tables 2-6 report a smooth kNN statistic whose scale depends on choices the
paper does not state, so their cells are shown but only their orderings are judged) and
"not run" (the profile has no results for the claim).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["ALPHA", "VERDICTS", "KINDS", "Judgement", "judge_number", "judge_exact", "judge_effect", "judge_check",
           "not_comparable", "not_run", "vocabulary"]

#: the significance level of every test
ALPHA = 0.05

#: the vocabulary, in the order the scorecard counts it, with each word's meaning
VERDICTS = {
    "reproduced": "ours supports the paper's claim: a number within the noise of both "
                  "runs (two-sided z-test, p >= 0.05), an exact value equal to the paper's "
                  "printed digits, an ordering / effect significant in the paper's "
                  "direction (paired t-test over data versions, p < 0.05), or a stated "
                  "condition on a noise-free computation that holds",
    "within noise": "an ordering or effect whose paired t-test over data versions is not "
                    "significant (p >= 0.05): our runs neither support nor contradict it",
    "differs": "a number or exact value that disagrees with the paper's (z-test p < 0.05, "
               "or other printed digits), an ordering / effect significant against the "
               "paper's direction (p < 0.05), or a stated condition that does not hold",
    "not comparable": "our statistic is on another scale than the paper's (the smooth kNN "
                      "statistic of Tables 2-6); the cell is shown, its orderings are judged",
    "not run": "the profile has no results for this claim yet",
}
#: the kinds of claims and their tests
KINDS = {"number": "two-sided z-test of the difference of means",
         "exact": "agreement to the paper's printed digits",
         "effect": "two-sided paired t-test of the per-version differences",
         "check": "a stated condition on a noise-free computation: holds or not",
         "cell": "a table cell on another scale: shown, not tested"}


@dataclass(frozen=True)
class Judgement:
    """One verdict: the word, the test's p-value (NaN where none), the number of our
    data versions behind it, and a short detail (the statistic)."""

    verdict: str
    p: float = math.nan
    n: int = 0
    detail: str = ""

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}; use one of {tuple(VERDICTS)}")


def _values(values) -> np.ndarray:
    v = np.asarray(values, dtype=float).ravel()
    if np.isnan(v).any():
        raise ValueError("a verdict needs finite values; got NaN")
    return v


def not_run(detail: str = "no results") -> Judgement:
    return Judgement("not run", detail=detail)


def not_comparable(n: int = 0, detail: str = "another scale") -> Judgement:
    return Judgement("not comparable", n=int(n), detail=detail)


def judge_number(ours: Sequence[float], paper_mean: float, paper_sd: float, paper_n: int) -> Judgement:
    """The ``number`` rule: z-test of mean(ours) - paper_mean with the combined standard
    error (ours: sample sd / sqrt(n), ddof 1; the paper's: sd / sqrt(paper_n))."""
    v = _values(ours)
    if v.size == 0:
        return not_run()
    if paper_sd < 0 or paper_n < 1:
        raise ValueError(f"the paper's sd must be >= 0 and its n >= 1, got {paper_sd}, {paper_n}")
    var = paper_sd ** 2 / paper_n
    if v.size > 1:
        var += float(np.var(v, ddof=1)) / v.size
    diff = float(v.mean()) - paper_mean
    if var == 0:
        p = 1.0 if diff == 0 else 0.0
        z = 0.0 if diff == 0 else math.copysign(math.inf, diff)
    else:
        z = diff / math.sqrt(var)
        p = float(2 * stats.norm.sf(abs(z)))
    detail = f"z = {z:.2f}" + ("" if v.size > 1 else " (paper's error only: one version)")
    return Judgement("reproduced" if p >= ALPHA else "differs", p=p, n=int(v.size), detail=detail)


def judge_exact(ours: float, paper: float, decimals: int) -> Judgement:
    """The ``exact`` rule: |ours - paper| <= half a unit of the paper's last printed digit
    (``decimals`` places), with a margin of 1e-9 for floating point."""
    if not np.isfinite(ours):
        raise ValueError("a verdict needs a finite value; got NaN")
    tol = 0.5 * 10.0 ** (-decimals) + 1e-9
    ok = abs(float(ours) - paper) <= tol
    return Judgement("reproduced" if ok else "differs", n=1,
                     detail=f"|diff| = {abs(float(ours) - paper):.1e}, tolerance {0.5 * 10.0 ** (-decimals):.0e}")


def judge_effect(diffs: Sequence[float]) -> Judgement:
    """The ``effect`` rule: two-sided one-sample t-test of the per-version differences
    (positive supports the paper). Fewer than 2 versions, or all differences equal and
    non-zero with no spread, are handled explicitly: one version cannot be tested
    ("within noise"); identical non-zero differences are significant in their sign."""
    d = _values(diffs)
    if d.size == 0:
        return not_run()
    m = float(d.mean())
    if d.size < 2:
        return Judgement("within noise", n=1, detail="one data version: no test")
    if float(np.ptp(d)) == 0.0:
        p, t = (1.0, 0.0) if m == 0 else (0.0, math.copysign(math.inf, m))
    else:
        res = stats.ttest_1samp(d, 0.0)
        p, t = float(res.pvalue), float(res.statistic)
    if p < ALPHA:
        verdict = "reproduced" if m > 0 else "differs"
    else:
        verdict = "within noise"
    return Judgement(verdict, p=p, n=int(d.size), detail=f"t = {t:.2f}, holds in {int((d > 0).sum())}/{d.size}")


def vocabulary() -> pd.DataFrame:
    """The vocabulary as a DataFrame (verdict, meaning) for the scorecard page."""
    return pd.DataFrame({"verdict": list(VERDICTS), "meaning": list(VERDICTS.values())}).set_index("verdict")


def judge_check(holds: bool, detail: str = "") -> Judgement:
    """The ``check`` rule: "reproduced" when the stated condition holds, else "differs"."""
    if not isinstance(holds, (bool, np.bool_)):
        raise ValueError(f"a check needs True or False; got {holds!r}")
    return Judgement("reproduced" if holds else "differs", n=1, detail=detail)
