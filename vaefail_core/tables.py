"""Tables on a book page: a pandas DataFrame shown as an HTML table.

``show(df, caption, digits)`` renders through pandas' ``Styler`` (the library does the
HTML; we only fix what must not vary between runs): numbers are printed with
``digits`` decimals (the precision the experiment supports, chosen by the page), -0
prints as 0, and the table id is derived from the caption instead of a random uuid, so
an executed notebook's text is the same on every run and every machine.
"""
from __future__ import annotations

import hashlib
import re

import numpy as np
import pandas as pd

__all__ = ["show", "table_html"]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "table"


def _cell(v, digits: int):
    if isinstance(v, (bool, np.bool_)) or v is None:
        return v
    if isinstance(v, (float, np.floating)):
        if np.isnan(v):
            return ""
        s = f"{v:.{digits}f}"
        return s[1:] if s.startswith("-") and float(s) == 0 else s
    return v


def table_html(df: pd.DataFrame | pd.Series, caption: str | None = None, digits: int = 3,
               index: bool = True) -> str:
    """The HTML of ``show`` (a string; used by ``show`` and the tests)."""
    if isinstance(df, pd.Series):
        df = df.to_frame()
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame or Series, got {type(df).__name__}")
    if digits < 0:
        raise ValueError(f"digits must be >= 0, got {digits}")
    shown = df.map(lambda v: _cell(v, digits))
    tag = hashlib.sha256(repr((caption, list(map(str, df.columns)), df.shape)).encode()).hexdigest()[:6]
    sty = shown.style.set_uuid(f"{_slug(caption or 'table')}-{tag}")
    sty = sty.set_table_attributes('class="vaefail-table"')
    sty = sty.set_table_styles([
        {"selector": "th, td", "props": "padding: 2px 8px; text-align: right;"},
        {"selector": "caption", "props": "caption-side: top; text-align: left; font-weight: bold;"},
    ])
    # words read left to right, numbers line up right (by column position: an index or
    # columns that repeat a label are allowed)
    text_cols = [j for j in range(df.shape[1]) if df.iloc[:, j].dtype == object]
    if text_cols:
        sty = sty.set_table_styles([{"selector": f"td.col{j}", "props": "text-align: left;"}
                                    for j in text_cols], overwrite=False)
    if caption:
        sty = sty.set_caption(caption)
    if not index:
        sty = sty.hide(axis="index")
    return sty.to_html()


def show(df: pd.DataFrame | pd.Series, caption: str | None = None, digits: int = 3,
         index: bool = True) -> None:
    """Display ``df`` as an HTML table headed by ``caption`` (numbers to ``digits``
    decimals; NaN as an empty cell)."""
    from IPython.display import HTML, display

    display(HTML(table_html(df, caption, digits, index)))
