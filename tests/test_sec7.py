"""Tests of the Section 7 tables (sec7.py): selection, Tables 3-4, collapse and trade-offs."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vaefail_core.paper import sec7
from vaefail_core.sweep import run_sweep


def fake_frame() -> pd.DataFrame:
    rows = []
    for v in range(2):
        for a, g, knn in ((0.1, 1.0, 3.0 + v), (1.0, 5.0, 1.0 + v)):
            rows.append({"dataset": "semicircle_discrete", "version": v, "method": "VAE", "semi": True,
                         "setting": "-", "alpha": a, "gamma": g, "knn_val": knn, "knn_test": 10 * knn,
                         "cohort_1": knn + 1, "cohort_2": knn + 2, "collapse_ratio": a,
                         "separation": 5.0, "predictive": 0.5 + a / 10, "key": f"k{v}{a}"})
        rows.append({"dataset": "semicircle_discrete", "version": v, "method": "VAE", "semi": False,
                     "setting": "-", "alpha": np.nan, "gamma": np.nan, "knn_val": 0.0, "knn_test": 7.0,
                     "key": f"u{v}"})
    return pd.DataFrame(rows)


def test_select_uses_validation_knn_and_ignores_unsupervised():
    fr = fake_frame()
    sel = sec7.select(fr)
    assert len(sel) == 2 and sel["semi"].all()
    assert (sel["alpha"] == 1.0).all()                 # knn_val 1, 2 beat 3, 4
    t3 = sec7.table3(fr, datasets=("semicircle_discrete",))
    vae = t3[t3["method"] == "VAE"].iloc[0]
    assert vae["mean"] == pytest.approx(15.0) and vae["sd"] == pytest.approx(np.std([10, 20], ddof=1))
    assert "a=1 g=5 x2" in vae["settings"]
    ref = t3[t3["method"] == "VAE (x only)"].iloc[0]
    assert ref["mean"] == 7.0 and ref["n_versions"] == 2
    t4 = sec7.table4(fr, datasets=("semicircle_discrete",))
    assert list(t4["cohort"]) == ["y=0", "y=1"]
    assert list(t4["mean"]) == pytest.approx([2.5, 3.5])
    tr = sec7.tradeoff_frame(fr)
    assert len(tr) == 2 and list(tr["n_versions"]) == [2, 2]
    with pytest.raises(ValueError, match="no semi"):
        sec7.select(fr[~fr["semi"]])


def test_write_table_csv(tmp_path):
    t3 = sec7.table3(fake_frame(), datasets=("semicircle_discrete",))
    path = sec7.write_table_csv(t3, "table3", "quick", results_dir=tmp_path)
    back = pd.read_csv(path)
    assert list(back.columns) == sec7.TABLE_COLUMNS
    with pytest.raises(ValueError, match="name"):
        sec7.write_table_csv(t3, "table9", "quick", results_dir=tmp_path)
    with pytest.raises(ValueError, match="missing"):
        sec7.write_table_csv(t3.drop(columns="cohort"), "table3", "quick", results_dir=tmp_path)


def test_task_grid_sizes():
    red = sec7.section7_tasks("reduced")
    # 2 sets x 3 versions x (1 unsupervised + 4 (alpha, gamma) x (VAE + 2 IWAE + 1 LIN))
    assert len(red) == 2 * 3 * (1 + 4 * 4)
    assert all(t.restart_ids() == (0, 1, 3, 4) for t in red)
    paper = sec7.section7_tasks("paper")
    assert len(paper) == 2 * 5 * (1 + 12 * (1 + 3 + 4))


def test_quick_sweep_end_to_end(tmp_path, monkeypatch):
    """A one-set quick sweep into a scratch cache, then every table of the page."""
    tasks = sec7.section7_tasks("quick", datasets=("semicircle_discrete",))
    recs = run_sweep(tasks, cache_dir=tmp_path, progress=False).records
    fr = sec7.records_table(recs)
    assert set(fr["method"]) == {"VAE", "IWAE", "LIN"} and (~fr["semi"]).sum() == 2
    t3 = sec7.table3(fr, datasets=("semicircle_discrete",))
    assert set(t3["method"]) == {"IWAE", "LIN", "VAE", "VAE (x only)"}
    disp = sec7.display(t3, "table3")
    assert disp.loc[("semicircle_discrete", "VAE"), "paper"] == "0.196 +- 0.078"
    coll = sec7.collapse_table(fr, n_sep=300)
    assert coll.loc[("semicircle_discrete", "ground truth"), "collapse ratio"] == 1.0
    assert coll.loc[("semicircle_discrete", "ground truth"), "cohort separation"] > 3
    rec = sec7.chosen_record(recs, fr, "semicircle_discrete", "IWAE")
    assert rec["config"]["task"]["method"] == "iwae"


def test_semicircle_angle_stays_in_the_panel():
    """A curve along the upper semi-circle reads 0-180 degrees even when np.unwrap starts
    it on the far side of atan2's branch cut (the LIN column of Figs. 17-19 was drawn at
    -365 to -174 degrees, outside the panel's -30..210)."""
    t = np.radians(np.linspace(5.0, 174.0, 200))
    fv = np.c_[np.cos(t), np.sin(t)]
    np.testing.assert_allclose(sec7.semicircle_angle(fv), np.degrees(t), atol=1e-9)
    shifted = np.degrees(t) - 360.0        # what a start just below -180 used to give
    jump = np.c_[np.cos(np.radians(shifted)), np.sin(np.radians(shifted))]
    jump[0] = [np.cos(np.radians(-181.0)), np.sin(np.radians(-181.0))]
    ang = sec7.semicircle_angle(jump)
    assert -30 <= np.median(ang) <= 210 and ang[1:].min() > 0
