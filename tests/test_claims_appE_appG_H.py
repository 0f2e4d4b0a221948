"""The claims of the App. E.1-E.2 page (``paper/appE.py``) and the App. G-H data-sets
page (``paper/appG_H.py``): registered once, judged by the one rule."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from vaefail_core.paper import appE, appG_H
from vaefail_core.paper import claims as C
from vaefail_core.paper import reference as R
from vaefail_core.paper.verdict import KINDS

ROOT = Path(__file__).resolve().parents[1]
MODULES = {"appE": appE, "appG_H": appG_H}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_page_claims_are_registered(name):
    mod = MODULES[name]
    cl = mod.page_claims()
    ids = [c.id for c in cl]
    assert cl and len(set(ids)) == len(ids)
    assert all(c.source == name and c.kind in KINDS and c.page == mod.PAGE and c.where for c in cl)
    assert all(i.startswith(f"{name}/") for i in ids)
    # every one of them is in the registry, shown on the page
    reg = {c.id: c for c in C.CLAIMS}
    assert all(i in reg and reg[i].page == mod.PAGE for i in ids)
    assert C.PAGE_MODULES[name] is mod


def _claim(mod, cid):
    return next(c for c in mod.page_claims() if c.id == cid)


def _s(*v):
    return pd.Series(list(map(float, v)), index=range(len(v)))


def test_appE_effects_and_checks():
    c = _claim(appE, "appE/circle/vae_no_worse_than_iwae")
    knn = lambda m: ("appE", "knn", "circle", m)  # noqa: E731
    better = {knn("IWAE"): _s(1.0, 1.2, 0.9, 1.1), knn("VAE"): _s(0.0, 0.1, -0.1, 0.05)}
    worse = {knn("IWAE"): _s(0.0, 0.1, -0.1, 0.05), knn("VAE"): _s(2.0, 2.3, 1.9, 2.1)}
    noisy = {knn("IWAE"): _s(0.0, 1.0, 0.0, 1.0), knn("VAE"): _s(1.0, 0.0, 1.0, 0.1)}
    assert C.judge(c, better).verdict == "reproduced"
    assert C.judge(c, worse).verdict == "differs"
    assert C.judge(c, noisy).verdict == "within noise"
    assert C.judge(c, {}).verdict == "not run"
    # Fig. 15: the threshold enters as a constant term
    c = _claim(appE, "appE/clusters/iwae_fits_px")
    cell = ("appE", "knn", "clusters", "IWAE")
    assert C.judge(c, {cell: _s(0.1, 0.3, -0.2, 0.0)}).verdict == "reproduced"
    assert C.judge(c, {cell: _s(3.0, 3.4, 2.9, 3.2)}).verdict == "differs"
    # a single-fit check on the posterior KLs
    c = _claim(appE, "appE/clusters/vae/simpler_posteriors")
    kl = lambda w: ("appE", "kl", "clusters", "VAE", w)  # noqa: E731
    ev = {kl("diff"): _s(0.4), kl("true"): _s(0.5), kl("learned"): _s(0.1)}
    assert C.judge(c, ev).verdict == "reproduced"
    assert C.ours_text(c, ev) == "best-Gaussian KL: true f 0.500, learned f 0.100"
    assert C.judge(c, {**ev, kl("diff"): _s(-0.1)}).verdict == "differs"


def test_appG_H_checks_and_exact():
    fig8 = _claim(appG_H, "appG_H/figure8/condition1")
    circ = _claim(appG_H, "appG_H/circle/condition1")
    ev = lambda n, f: {("appG_H", "cond1", n, "frac"): _s(f), ("appG_H", "cond1", n, "mean_kl"): _s(0.1),  # noqa: E731
                       ("appG_H", "cond1", n, "unresolved"): _s(0.0)}
    assert C.judge(fig8, ev("figure8", 0.3)).verdict == "reproduced"
    assert C.judge(fig8, ev("figure8", 0.1)).verdict == "differs"
    assert C.judge(circ, ev("circle", 0.1)).verdict == "reproduced"      # claimed not to hold
    assert C.judge(circ, ev("circle", 0.5)).verdict == "differs"
    lin = _claim(appG_H, "appG_H/linear_cholesky/pmo_equals_elbo")
    cell = ("appG_H", "cond1", "linear_cholesky", "mean_kl")
    gt = R.EQ6["ground truth"]
    assert C.judge(lin, {cell: _s(gt + 1e-4)}).verdict == "reproduced"
    assert C.judge(lin, {cell: _s(gt + 0.01)}).verdict == "differs"
    mse = _claim(appG_H, "appG_H/surrogates/mse")
    assert C.judge(mse, {("appG_H", "surrogate", "max_mse"): _s(1e-5)}).verdict == "reproduced"
    assert C.judge(mse, {("appG_H", "surrogate", "max_mse"): _s(5e-4)}).verdict == "differs"


def test_eq35_as_printed_is_one_to_one():
    t35, t6 = appG_H.eq35_turning_points()
    assert t35 == 0 and t6 == 1


@pytest.mark.parametrize("name", sorted(MODULES))
def test_committed_reduced_cache_has_every_cell(name):
    """The committed ``results/reduced/scorecard_<name>.json`` holds every cell the
    page's claims are judged on (read directly: nothing is recomputed)."""
    path = ROOT / "results" / "reduced" / f"scorecard_{name}.json"
    if not path.exists():
        pytest.skip(f"{path.name} not committed")
    blob = json.loads(path.read_text())["result"]
    have = set(C._decode(blob))
    need = set()
    for c in MODULES[name].page_claims():
        need |= set(c.cells)
        for _, red, cells in c.terms:
            if red != "const":
                need |= set(cells)
    assert need <= have, sorted(map(str, need - have))[:5]
