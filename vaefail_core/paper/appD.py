"""App. D (the protocol page): the selection rules as the code applies them."""
from __future__ import annotations

import pandas as pd

from .. import evaluate
from . import appE3, sec5, sec7

__all__ = ["selection_rules"]

def selection_rules() -> pd.DataFrame:
    """Which restart and which hyper-parameters each table of the book uses, built from
    the constants the table code itself reads (``evaluate.RESTART_RULE``,
    ``sec5.TABLE2_SELECTION``, ``sec7.TABLE34_SELECTION``, ``appE3.STOP_RULE``), so the App. D page cannot drift
    from what was run."""

    restart = evaluate.RESTART_RULE
    knn = "the smallest smooth kNN statistic of p(x) on the validation set"
    t2 = {"knn": knn, "val_loss": "the smallest validation loss, the method's own objective"}
    t34 = {"knn_val": knn, "val_loss": "the smallest validation loss"}
    rows = [
        ("Table 1 (Sec. 8)", restart, "none: one row per method, IWAE S and latent dimension K"),
        ("Table 2 (Sec. 5)", restart,
         f"{t2[sec5.TABLE2_SELECTION]} (App. D); the page also shows Table 2's caption rule "
         f"({t2['val_loss' if sec5.TABLE2_SELECTION == 'knn' else 'knn']})"),
        ("Tables 3-4 (Sec. 7)", restart,
         f"{t34[sec7.TABLE34_SELECTION]}, over alpha, gamma and the method's own S or T x R (App. D)"),
        ("Case A (Sec. 8)", restart, "none: sigma^2 fixed at the truth, or learned jointly"),
        ("Tables 5-6 (App. E.3)", restart + "; each model trained until the stopping rule "
         f"{appE3.STOP_RULE!r} or the profile's epoch cap",
         f"{t34[sec7.TABLE34_SELECTION]}, over K, sigma^2, alpha, gamma and IWAE's S (App. D; "
         "the rule of Tables 3-4)"),
    ]
    return pd.DataFrame(rows, columns=["table", "restart", "hyper-parameters"])
