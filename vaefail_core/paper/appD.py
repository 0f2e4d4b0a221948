"""App. D (the protocol page): the selection rules as the code applies them."""
from __future__ import annotations

import math
import re

import pandas as pd

from .. import evaluate
from ..profiles import get_profile
from . import appE3, sec5, sec7
from .claim import Claim
from .reference import APPD_PROTOCOL

__all__ = ["selection_rules", "protocol_values", "CLAIMS_SWEEP", "CLAIMS_VERSION", "page_claims",
           "claims_evidence"]

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


# --------------------------------------------------------------------------------------
# The page's claims: App. D's protocol against our `paper` profile
# --------------------------------------------------------------------------------------
#: no sweep: the claims are about the profile objects, not about trained models
CLAIMS_SWEEP = None
#: bump when ``claims_evidence`` changes what it returns
CLAIMS_VERSION = 1
_PAGE = "appD_protocol"
#: how the numbers of each setting are joined in the text
_SEP = {"train / validation / test": " / ", "restarts (ground truth + random)": " + "}


def protocol_values(profile: str) -> dict:
    """The settings of ``APPD_PROTOCOL`` as the profile's configuration object holds them
    (setting -> tuple of numbers, in App. D's order)."""
    p = get_profile(profile)
    return {"data versions": (p.n_versions,),
            "train / validation / test": (p.n_train, p.n_val, p.n_test),
            "restarts (ground truth + random)": (p.n_gt_restarts, p.n_random_restarts),
            "Adam: learning rate, batch size": (p.lr, p.batch_size),
            "epochs (synthetic)": (p.epochs,),
            "IWAE S": tuple(p.iwae_S), "LIN T": tuple(p.lin_T), "LIN R": tuple(p.lin_R),
            "alpha": tuple(p.ss_alpha), "gamma": tuple(p.ss_gamma)}


def _slug(setting: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", setting.lower()).strip("_")


def page_claims() -> list[Claim]:
    """One ``check`` per setting of App. D's protocol (``reference.APPD_PROTOCOL``): our
    ``paper`` profile, the full protocol the code runs, holds App. D's numbers. The
    first cell is 1 when every number agrees (same count, equal values), else 0; the
    others are the profile's numbers, shown in App. D's layout. The claims are about the
    code's configuration and are judged alike under every profile (the `reduced` and
    `quick` profiles depart from App. D by design; the page's tables show where)."""
    out = []
    for setting, nums in APPD_PROTOCOL.items():
        sep = _SEP.get(setting, ", ")
        key = _slug(setting)
        out.append(Claim(f"appD/protocol/{key}", "appD",
                         f"Our `paper` profile uses App. D's {setting}",
                         sep.join(f"{v:g}" for v in nums), "check",
                         cells=(("appD", key, "match"), *(("appD", key, i) for i in range(len(nums)))),
                         cond=(">", 0.5), fmt="`paper` profile: " + sep.join(f"{{{i + 1}:g}}" for i in range(len(nums))),
                         where="App. D", page=_PAGE))
    return out


def claims_evidence(profile: str, records: list[dict]) -> dict:
    """The cells of ``page_claims`` from the ``paper`` profile's configuration (whatever
    ``profile`` is: the claims are about the full protocol). A setting with fewer numbers
    than App. D's fills the missing ones with NaN (and does not match)."""
    ours = protocol_values("paper")
    out = {}
    for setting, nums in APPD_PROTOCOL.items():
        key, mine = _slug(setting), tuple(float(v) for v in ours[setting])
        match = len(mine) == len(nums) and all(math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
                                               for a, b in zip(mine, nums))
        out[("appD", key, "match")] = pd.Series([1.0 if match else 0.0])
        for i in range(len(nums)):
            out[("appD", key, i)] = pd.Series([mine[i] if i < len(mine) else math.nan])
    return out
