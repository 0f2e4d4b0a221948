"""The scorecard: every claim of the registry judged under one profile.

``scorecard(profile)`` is one row per claim of ``claims.CLAIMS`` (the claim, where the
paper makes it, the paper's value, ours, the profile, the verdict of ``verdict``'s rule,
the test's p-value and detail, the page with the evidence). ``write_csv`` writes
``results/<profile>/scorecard.csv`` with the columns ``CSV_COLUMNS``; ``counts`` tallies
the verdicts; ``page_table`` is the HTML-ready frame of the book's front page (a link
per row) and ``terminal`` the text ``vaefail scorecard`` prints.
"""
from __future__ import annotations

import html
import math
from pathlib import Path

import pandas as pd

from ..cache import RESULTS_DIR, write_table_csv
from ..profiles import get_profile
from . import claims as C
from .verdict import KINDS, VERDICTS

__all__ = ["CSV_COLUMNS", "scorecard", "counts", "write_csv", "page_table", "page_verdicts", "by_source",
           "terminal"]

#: the columns of ``results/<profile>/scorecard.csv``
CSV_COLUMNS = ["claim", "where", "paper", "ours", "profile", "verdict"]


def scorecard(profile: str, ev: dict | None = None, page: str | None = None) -> pd.DataFrame:
    """One row per registered claim: id, claim, where, page, kind, paper, ours, profile,
    verdict, p, n (our data versions), test (the statistic). ``ev``: the evidence
    (default ``claims.evidence(profile)``, read from the results cache). ``page``: only
    the claims whose evidence that book page shows (and only their evidence is read)."""
    get_profile(profile)
    chosen = [c for c in C.CLAIMS if page is None or c.page == page]
    if page is not None and not chosen:
        raise ValueError(f"no claim of the registry is shown on page {page!r}")
    if ev is None:
        ev = C.evidence(profile, sources={C.evidence_source(c) for c in chosen})
    rows = []
    for c in chosen:
        j = C.judge(c, ev)
        rows.append({"id": c.id, "claim": c.statement, "where": c.where, "page": c.page, "kind": c.kind,
                     "paper": c.paper, "ours": C.ours_text(c, ev) or "-", "profile": profile,
                     "verdict": j.verdict, "p": j.p, "n": j.n, "test": j.detail})
    return pd.DataFrame(rows)


def counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Claims per verdict (every word of the vocabulary, in its order), overall and per
    kind of claim."""
    tab = pd.crosstab(frame["verdict"], frame["kind"]).reindex(index=list(VERDICTS), fill_value=0)
    tab = tab.reindex(columns=[k for k in KINDS if k in tab.columns])
    tab.insert(0, "all claims", tab.sum(axis=1))
    tab.columns.name = None
    return tab


def by_source(frame: pd.DataFrame) -> pd.DataFrame:
    """Claims per verdict for each place in the paper (rows in the registry's order)."""
    tab = pd.crosstab(frame["where"], frame["verdict"]).reindex(columns=list(VERDICTS), fill_value=0)
    order = list(dict.fromkeys(frame["where"]))
    tab = tab.reindex(order)
    tab.index.name = None
    tab.columns.name = None
    return tab


def write_csv(frame: pd.DataFrame, profile: str, results_dir=None) -> Path:
    """``results/<profile>/scorecard.csv``: ``CSV_COLUMNS``, one row per claim."""
    d = Path(results_dir) if results_dir is not None else RESULTS_DIR / profile
    d.mkdir(parents=True, exist_ok=True)
    return write_table_csv(frame[CSV_COLUMNS], d / "scorecard.csv")


def _p(p: float) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return ""
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def page_table(frame: pd.DataFrame, where: str | None = None, link: bool = True) -> pd.DataFrame:
    """The front page's table: claim, paper, ours, verdict, p, test and (``link``) a link
    to the page with the evidence (HTML anchors; text escaped). ``where``: only that
    place in the paper."""
    f = frame if where is None else frame[frame["where"] == where]
    out = pd.DataFrame({
        "claim": [html.escape(s) for s in f["claim"]],
        "paper": [html.escape(s) for s in f["paper"]],
        "ours": [html.escape(s) for s in f["ours"]],
        "verdict": f["verdict"].to_numpy(),
        "p": [_p(p) for p in f["p"]],
        "test": [html.escape(s) for s in f["test"]],
        "evidence": [f'<a href="{pg}.html">{pg}</a>' for pg in f["page"]],
    })
    return out if link else out.drop(columns="evidence")


def page_verdicts(profile: str, page: str, where: str | None = None) -> pd.DataFrame:
    """A book page's verdict table: the scorecard rows of the claims it shows evidence
    for (``scorecard(profile, page=page)``), without the link to itself."""
    return page_table(scorecard(profile, page=page), where=where, link=False)


def terminal(frame: pd.DataFrame, width: int = 60) -> str:
    """The text of ``vaefail scorecard``: the counts, then one line per claim."""
    prof = frame["profile"].iloc[0] if len(frame) else "?"
    head = [f"vaefail scorecard: {len(frame)} claims of the paper, profile {prof!r}"]
    cnt = counts(frame)["all claims"]
    head.append("  " + "; ".join(f"{v}: {n}" for v, n in cnt.items()))
    lines = []
    for _, r in frame.iterrows():
        claim = r["claim"] if len(r["claim"]) <= width else r["claim"][:width - 3] + "..."
        lines.append(f"{r['verdict']:<15} {r['where']:<20} {claim:<{width}}  paper {r['paper']}; ours {r['ours']}")
    return "\n".join(head + [""] + lines)
