"""Tests of the App. D helpers in vaefail_core.paper.records and paper.appD: the ground-truth start check
(first epoch against the start's loss), training curves, and the selection-rule table."""
from __future__ import annotations

import numpy as np
import pytest

from vaefail_core.paper import appD, records
from vaefail_core.paper import sec5, sec7
from vaefail_core.sweep import Task


def _rec(dataset, version, members, method="vae", gt_start="stable"):
    t = Task(dataset, version, method, "quick", iwae_samples=3 if method == "iwae" else 0,
             gt_start=gt_start)
    return {"config": t.config(), "label": t.label, "members": members}


def _m(restart, init, losses, start=None, fit=None):
    return {"restart": restart, "init": init, "train_loss": list(losses),
            "gt_start_loss": start, "gt_fit_loss": fit}


def test_gt_start_table_ratio_difference_and_fallback():
    recs = [_rec("figure8", 0, [_m(0, "gt", [2.0, 1.0], start=1.0, fit=0.9), _m(1, "random", [9.0, 3.0])]),
            _rec("figure8", 1, [_m(0, "gt", [1.0, 1.0], start=2.0, fit=1.5), _m(1, "random", [9.0, 3.0])]),
            # a legacy record without gt_start_loss: the encoder fit's score stands in
            _rec("circle", 0, [_m(0, "gt", [3.0], fit=1.5)], gt_start="legacy")]
    rows = records.gt_start_rows(recs)
    assert len(rows) == 3 and set(rows["start"]) == {"gt_start_loss", "gt_fit_loss"}
    tab = records.gt_start_table(recs).set_index("dataset")
    assert tab.loc["figure8", "n_restarts"] == 2
    assert tab.loc["figure8", "median_ratio"] == pytest.approx(np.median([2.0, 0.5]))
    assert tab.loc["figure8", "max_ratio"] == pytest.approx(2.0)
    assert tab.loc["figure8", "median_difference"] == pytest.approx(np.median([1.0, -1.0]))
    assert tab.loc["circle", "median_ratio"] == pytest.approx(2.0)
    assert tab.loc["circle", "gt_start"] == "legacy"
    with pytest.raises(ValueError, match="no ground-truth"):
        records.gt_start_table([_rec("figure8", 0, [_m(0, "random", [1.0])])])


def test_training_curves_split_gt_and_random():
    recs = [_rec("figure8", 0, [_m(0, "random", [5.0, 4.0])]),      # no GT member: skipped
            _rec("figure8", 0, [_m(0, "gt", [1.0, 1.1], start=1.0), _m(1, "random", [5.0, 2.0])])]
    c = records.training_curves(recs, "figure8")
    assert len(c["gt"]) == 1 and len(c["random"]) == 1 and c["gt_start"] == [1.0]
    assert c["epochs"].tolist() == [1, 2]
    with pytest.raises(ValueError):
        records.training_curves(recs, "clusters")


def test_selection_rules_follow_the_code_constants(monkeypatch):
    rules = appD.selection_rules().set_index("table")
    assert "validation" in rules.loc["Table 2 (Sec. 5)", "restart"]
    assert rules.loc["Table 2 (Sec. 5)", "hyper-parameters"].startswith("the smallest smooth kNN")
    monkeypatch.setattr(sec5, "TABLE2_SELECTION", "val_loss")
    monkeypatch.setattr(sec7, "TABLE34_SELECTION", "val_loss")
    rules = appD.selection_rules().set_index("table")
    assert rules.loc["Table 2 (Sec. 5)", "hyper-parameters"].startswith("the smallest validation loss")
    assert rules.loc["Tables 3-4 (Sec. 7)", "hyper-parameters"].startswith("the smallest validation loss")
