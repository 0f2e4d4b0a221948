"""Tests of vaefail_core.paper.sec5 (Table 2 selection and CSV, significance test, the Eq. 3
MLEO/PMO split) on tiny synthetic records and on the committed quick cache."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vaefail_core import data as D
from vaefail_core import set_seed
from vaefail_core.paper import sec5
from vaefail_core.sweep import Task, verify_record


# --------------------------------------------------------------------------------------
# synthetic records: just the fields sec5 reads
# --------------------------------------------------------------------------------------
def _record(dataset, version, method, val_losses, knn_val, knn_test, inits=None, S=0, T=0.0, R=0,
            selected=None):
    task = Task(dataset, version, method, "quick", iwae_samples=S, lin_T=T, lin_R=R)
    inits = inits or ["gt", "random"][: len(val_losses)]
    sel = int(np.argmin(val_losses)) if selected is None else selected
    members = [{"restart": r, "init": inits[r], "val_objective": float(v), "test_neg_elbo": 1.0}
               for r, v in enumerate(val_losses)]
    return {"key": task.key, "label": task.label, "config": task.config(), "members": members,
            "selected": {"restart": sel, "knn_val": knn_val, "knn_test": knn_test, "test_log_px_is": -1.0}}


def _records():
    """figure8, 2 versions: IWAE S=3 has the smaller validation loss but the larger
    validation kNN; S=20 the opposite. The test kNN tells which setting was taken."""
    recs = []
    for v in (0, 1):
        recs += [
            _record("figure8", v, "iwae", [1.0 + v, 3.0], knn_val=5.0, knn_test=10.0 + v, S=3),
            _record("figure8", v, "iwae", [2.0, 1.5 + v], knn_val=1.0, knn_test=20.0 + v, S=20),
            _record("figure8", v, "vae", [4.0, 3.0], knn_val=7.0, knn_test=30.0 + 2 * v),
            _record("figure8", v, "lin", [3.5, 3.9], knn_val=6.0, knn_test=25.0 + v, T=0.1, R=5),
        ]
    return recs


def test_table2_selects_smallest_validation_loss():
    t = sec5.table2(records=_records(), datasets=("figure8",), selection="val_loss").set_index("method")
    # S=3 wins on validation loss in both versions -> its test kNN values 10, 11
    assert t.loc["IWAE", "mean"] == pytest.approx(10.5)
    assert t.loc["IWAE", "sd"] == pytest.approx(np.std([10, 11], ddof=1))
    assert t.loc["IWAE", "settings"] == "S=3 x2"
    assert t.loc["VAE", "mean"] == pytest.approx(31.0) and t.loc["VAE", "n_versions"] == 2
    assert list(t.index) == ["IWAE", "LIN", "VAE"]


def test_table2_knn_selection_uses_validation_knn_not_test():
    """App. D's rule is the default (``TABLE2_SELECTION``)."""
    assert sec5.TABLE2_SELECTION == "knn"
    t = sec5.table2(records=_records(), datasets=("figure8",)).set_index("method")
    # S=20 has the smaller *validation* kNN although its test kNN is larger
    assert t.loc["IWAE", "mean"] == pytest.approx(20.5)
    assert t.loc["IWAE", "settings"] == "S=20 x2"


def test_selected_restart_loss_is_what_counts():
    # the restart-level minimum decides: S=20's *selected* restart (loss 1.5) beats S=3's (1.8)
    recs = [_record("clusters", 0, "iwae", [1.8, 9.0], 0.0, 3.0, S=3),
            _record("clusters", 0, "iwae", [9.0, 1.5], 0.0, 4.0, S=20)]
    pv = sec5.table2_per_version(records=recs, datasets=("clusters",), selection="val_loss")
    assert pv["setting"].tolist() == ["S=20"] and pv["init"].tolist() == ["random"]
    assert pv["knn_test"].tolist() == [4.0]


def test_bad_input_errors():
    with pytest.raises(ValueError, match="selection"):
        sec5.table2(records=_records(), datasets=("figure8",), selection="test")
    with pytest.raises(ValueError, match="no records"):
        sec5.table2(records=_records(), datasets=("spiral_dots",))
    bad = _record("figure8", 0, "vae", [1.0, 2.0], 1.0, 1.0, selected=5)
    with pytest.raises(ValueError, match="selected restart"):
        sec5.settings_frame([bad])


def test_table2_csv_has_exact_columns_and_one_row_per_cell(tmp_path):
    t = sec5.table2(records=_records(), datasets=("figure8",))
    path = sec5.write_table2_csv(t, "quick", results_dir=tmp_path)
    assert path == tmp_path / "quick" / "table2.csv"
    back = pd.read_csv(path)
    assert list(back.columns) == ["dataset", "method", "mean", "sd", "n_versions"]
    assert len(back) == 3 and not back.duplicated(["dataset", "method"]).any()
    assert back.set_index("method").loc["IWAE", "mean"] == pytest.approx(20.5)
    with pytest.raises(ValueError, match="more than one row"):
        sec5.write_table2_csv(pd.concat([t, t]), "quick", results_dir=tmp_path)
    with pytest.raises(ValueError, match="missing column"):
        sec5.write_table2_csv(t.drop(columns="sd"), "quick", results_dir=tmp_path)


def test_vae_vs_iwae_test_direction():
    rows = []
    for v in range(4):
        rows += [{"dataset": "a", "version": v, "method": "VAE", "knn_test": 10.0 + v + 0.1 * (v % 2)},
                 {"dataset": "a", "version": v, "method": "IWAE", "knn_test": 1.0 + v},
                 {"dataset": "b", "version": v, "method": "VAE", "knn_test": 1.0 + 0.5 * v},
                 {"dataset": "b", "version": v, "method": "IWAE", "knn_test": 1.2 + 0.5 * v + 0.1 * (v % 2)}]
    res = sec5.vae_vs_iwae(pd.DataFrame(rows))
    assert res.loc["a", "paired t p"] < 0.001 and res.loc["a", "significant (t, 0.05)"]
    assert res.loc["a", "Mann-Whitney p"] == pytest.approx(1 / 70)
    assert res.loc["b", "paired t p"] > 0.9 and not res.loc["b", "significant (t, 0.05)"]
    assert res.loc["a", "VAE worse in"] == "4/4" and res.loc["b", "VAE worse in"] == "0/4"


def test_method_order_and_verdict():
    t = sec5.table2(records=_records(), datasets=("figure8",))
    assert sec5.method_order(t)["figure8"] == "IWAE < LIN < VAE"
    assert sec5.method_order(sec5.paper_table2())["clusters"] == "IWAE < LIN < VAE"
    assert sec5.order_verdict("IWAE < LIN < VAE", "IWAE < LIN < VAE") == "reproduced"
    assert sec5.order_verdict("IWAE < VAE < LIN", "IWAE < LIN < VAE").startswith("partly")
    assert sec5.order_verdict("VAE < IWAE < LIN", "IWAE < LIN < VAE") == "not reproduced"


def test_init_counts():
    recs = [_record("clusters", v, "vae", [1.0, 2.0] if v else [2.0, 1.0], 0.0, 1.0) for v in range(3)]
    ic = sec5.init_counts(sec5.table2_per_version(records=recs, datasets=("clusters",))).iloc[0]
    assert (ic["selected gt"], ic["selected random"]) == (2, 1)
    # best random - best gt: +1, -1, +1 -> mean 1/3
    assert ic["best random - best gt val loss"] == pytest.approx(1 / 3)


# --------------------------------------------------------------------------------------
# Eq. 3 on a trained model from the committed (reduced) cache
# --------------------------------------------------------------------------------------
def _quick_record(dataset="figure8", method="vae"):
    rec = verify_record(Task(dataset, 0, method, "reduced"))
    assert rec is not None, "the committed reduced Section-5 cache is missing or corrupt"
    return rec


def test_split_sums_to_monte_carlo_neg_elbo():
    from vaefail_core.evaluate import neg_elbo
    from vaefail_core.sweep import load_selected

    set_seed(0)
    model = load_selected(_quick_record())
    x = D.splits("figure8", 0, n_train=10, n_val=10, n_test=300)["test"].x
    s = sec5.split_at(model, x, D.get("figure8"), best_n=20)
    # the split is of the exact -ELBO: entropy + MLEO + PMO
    assert s["neg_elbo"] == pytest.approx(s["entropy"] + s["mleo"] + s["pmo"], abs=1e-9)
    assert s["neg_elbo"] - s["entropy"] == pytest.approx(s["mleo"] + s["pmo"], abs=1e-9)
    # ... and it agrees with an independent Monte-Carlo estimate of the -ELBO (Eq. 2)
    mc = float(neg_elbo(model, x, n_samples=400)[0])
    assert s["neg_elbo"] == pytest.approx(mc, abs=0.03)
    assert s["pmo"] >= 0 and s["pmo_best_gaussian"] >= 0
    # the ideal Gaussian can only do better than the amortised encoder, on average
    assert s["pmo_best_gaussian"] <= s["pmo"] + 1e-6


def test_ground_truth_start_has_zero_mleo_and_matches_the_sweep(tmp_path, monkeypatch):
    from vaefail_core import cache
    from vaefail_core.sweep import run_sweep

    monkeypatch.setattr(cache, "RESULTS_DIR", tmp_path)   # a fresh quick sweep of one task
    set_seed(0)
    rec = run_sweep([Task("figure8", 0, "vae", "quick")], progress=False).records[0]
    models = sec5._gt_members("quick", [("figure8", 0, "vae", 0)])
    model, j, fit = models[("figure8", 0, "vae", 0)]
    recorded = next(m["gt_fit_loss"] for m in rec["members"] if m["restart"] == 0)
    assert fit == pytest.approx(recorded, abs=1e-4)      # the sweep's restart 0 started here
    x = D.splits("figure8", 0, n_train=10, n_val=10, n_test=200)["test"].x
    s = sec5.split_at(model, x, D.get("figure8"), m=j, best_n=20)
    assert abs(s["mleo"]) < 1e-4                         # decoder = the data-generating network
    assert s["pmo"] > 0.01


def test_order_gaps_flags_close_pairs():
    df = pd.DataFrame({"dataset": ["a"] * 3, "method": ["IWAE", "LIN", "VAE"],
                       "mean": [0.0, 5.0, 5.1], "sd": [1.0, 1.0, 1.0], "n_versions": [4, 4, 4]})
    g = sec5.order_gaps(df).set_index("pair")
    assert g.loc["IWAE < LIN", "separated (gap > 2 se)"] and not g.loc["LIN < VAE", "separated (gap > 2 se)"]
    assert g.loc["LIN < VAE", "se"] == pytest.approx(np.sqrt(0.5))
