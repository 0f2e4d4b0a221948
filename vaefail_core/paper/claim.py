"""One claim of the paper, and how it is judged on our evidence.

A ``Claim`` names where the paper makes it (section, table, figure or equation), the
book page that shows our evidence, the paper's value, its kind (``verdict.KINDS``) and
the evidence cells it is judged on. Evidence is a dict: cell id (a tuple) -> a Series of
our values, one per data version (index: the version). ``judge`` applies the rule of
``verdict`` and ``ours_text`` writes our side in numbers. The registry of every claim is
``claims``; the page modules add the claims of their own pages with this class.
"""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass

import pandas as pd

from .verdict import Judgement, judge_check, judge_effect, judge_exact, judge_number, not_comparable, not_run
from .reference import PAPER_N

__all__ = ["Claim", "PAGES", "WHERE", "difference_terms", "judge", "ours_text"]

#: the book page of each source of evidence
PAGES = {"eq6": "sec5_2_intuition", "table1": "sec8_signal_noise", "case_a": "sec8_signal_noise",
         "table2": "sec5_failures", "table3": "sec7_semisupervised", "table4": "sec7_semisupervised",
         "table5": "appE3_uci", "table6": "appE3_uci", "appE3_text": "appE3_uci"}
WHERE = {"eq6": "Sec. 5.2, Eq. 6", "table1": "Table 1 (Sec. 8)", "case_a": "Sec. 8, Case A",
          "table2": "Table 2 (App. E.1)", "table3": "Table 3 (App. E.3)", "table4": "Table 4 (App. E.3)",
          "table5": "Table 5 (App. E.3)", "table6": "Table 6 (App. E.3)", "appE3_text": "App. E.3 (text)"}
#: the comparison of a ``check`` claim
_OPS = {">": operator.gt, "<": operator.lt, ">=": operator.ge, "<=": operator.le}


@dataclass(frozen=True)
class Claim:
    """One claim. ``cells`` are the evidence cells it is judged on: one for ``number``
    and ``cell``; for ``check`` the first is compared with ``cond`` and all are shown
    through ``fmt``; for ``effect`` a list of (sign, cells) terms whose per-version sum is
    the difference (positive supports the paper), where a term of several cells takes
    their per-version minimum (``reduce="min"``) or mean (``"mean"``)."""

    id: str
    source: str
    statement: str
    paper: str
    kind: str
    cells: tuple = ()
    value: tuple[float, float] | None = None     #: the paper's (mean, sd), number / exact
    decimals: int = 3                           #: exact: the paper's printed digits
    terms: tuple = ()                           #: effect: ((sign, reduce, cells), ...)
    labels: tuple = ()                          #: effect: a name per term, for the text
    where: str = ""                             #: default: ``WHERE[source]``
    page: str = ""                              #: default: ``PAGES[source]``
    cond: tuple = (">", 0.0)                    #: check: (comparison, threshold) on the first cell
    fmt: str = "{0:.3f}"                        #: check: our side, formatted with every cell's value

    def __post_init__(self):
        if not self.where:
            object.__setattr__(self, "where", WHERE[self.source])
        if not self.page:
            object.__setattr__(self, "page", PAGES[self.source])
        if self.kind == "check" and self.cond[0] not in _OPS:
            raise ValueError(f"claim {self.id}: unknown comparison {self.cond[0]!r}; use one of {sorted(_OPS)}")


# --------------------------------------------------------------------------------------
# Judging
# --------------------------------------------------------------------------------------
def _term(ev: dict, reduce: str, cells) -> pd.Series | float | None:
    if reduce == "const":
        return float(cells)
    ss = [ev.get(c) for c in cells]
    if any(s is None or s.empty for s in ss):
        return None
    df = pd.concat(ss, axis=1, join="inner")
    if reduce == "min":
        return df.min(axis=1)
    if reduce == "mean":
        return df.mean(axis=1)
    return df.iloc[:, 0]


def _diffs(claim: Claim, ev: dict) -> pd.Series | None:
    total, series = 0.0, []
    for sign, reduce, cells in claim.terms:
        t = _term(ev, reduce, cells)
        if t is None:
            return None
        if isinstance(t, pd.Series):
            series.append(sign * t)
        else:
            total += sign * t
    d = pd.concat(series, axis=1, join="inner").sum(axis=1) + total
    return d


def ours_text(claim: Claim, ev: dict) -> str:
    """Our side of a claim in words and numbers (mean ± sd over data versions)."""
    if claim.kind == "effect":
        d = _diffs(claim, ev)
        if d is None or d.empty:
            return ""
        vals = []
        for (sign, reduce, cells), label in zip(claim.terms, claim.labels):
            t = _term(ev, reduce, cells)
            vals.append(f"{label} {t if reduce == 'const' else t.mean():.3g}")
        sd = d.std(ddof=1) if len(d) > 1 else math.nan
        return f"{', '.join(vals)}; difference {d.mean():.3g} ± {sd:.2g}"
    if claim.kind == "check":
        vals = _check_values(claim, ev)
        return "" if vals is None else claim.fmt.format(*vals)
    s = ev.get(claim.cells[0])
    if s is None or s.empty:
        return ""
    if claim.kind == "exact":
        return f"{float(s.iloc[0]):.3f}"
    sd = float(s.std(ddof=1)) if len(s) > 1 else math.nan
    return f"{float(s.mean()):.3f} ± {sd:.3f}"


def difference_terms(plus: tuple, minus: tuple) -> tuple:
    """The ``terms`` of an ``effect`` claim whose per-version difference is the cell
    ``plus`` minus the cell ``minus`` (positive supports the paper)."""
    return ((+1, "one", (plus,)), (-1, "one", (minus,)))


def _check_values(claim: Claim, ev: dict) -> list[float] | None:
    """A ``check`` claim's cells, one value each (a cell of several versions: its mean)."""
    ss = [ev.get(c) for c in claim.cells]
    if any(s is None or s.empty for s in ss):
        return None
    return [float(s.mean()) for s in ss]


def judge(claim: Claim, ev: dict) -> Judgement:
    """The verdict of one claim on the evidence (``verdict`` module's rule)."""
    if claim.kind == "check":
        vals = _check_values(claim, ev)
        if vals is None:
            return not_run()
        op, thr = claim.cond
        return judge_check(_OPS[op](vals[0], thr), f"{vals[0]:.3g} {op} {thr:g}")
    if claim.kind == "effect":
        d = _diffs(claim, ev)
        return not_run() if d is None or d.empty else judge_effect(d.to_numpy())
    s = ev.get(claim.cells[0])
    if s is None or s.empty:
        return not_run()
    if claim.kind == "cell":
        return not_comparable(n=len(s))
    if claim.kind == "exact":
        return judge_exact(float(s.iloc[0]), claim.value[0], claim.decimals)
    return judge_number(s.to_numpy(), claim.value[0], claim.value[1], PAPER_N)
