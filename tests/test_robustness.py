"""Tests of the test-robustness panel of Tables 2-4 (robustness.py): the batched kNN
panel against metrics.smooth_knn_test, the energy test's null and power, the verdict
rules at their boundaries, the CSV layout and the figure. No cached models needed."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from vaefail_core import metrics
from vaefail_core.paper import robustness as R
from vaefail_core.plots import empty_axes


# ----------------------------------------------------------------------- the two tests
def test_knn_panel_equals_smooth_knn_test_for_every_setting():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((31, 2))
    y = 1.2 * rng.standard_normal((37, 2)) + [0.3, 0.0]
    z = R.knn_panel(x, y)
    assert len(z) == len(R.KNN_KS) * len(R.KNN_ALPHAS) * len(R.DISTANCES)
    assert R.DEFAULT_SETTING in z
    for label, value in z.items():
        k, a, dist = label.split(",")
        ref = metrics.smooth_knn_statistic(x, y, k=int(k[2:]), alpha=float(a[6:]), scale=R._SCALE[dist])
        if int(k[2:]) == 1:
            assert value == ref                      # the same arithmetic as the tables
        else:
            assert value == pytest.approx(ref, rel=1e-9, abs=1e-9)


def test_knn_panel_subsamples_like_smooth_knn_test():
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((60, 2)), rng.standard_normal((50, 2)) + 0.5
    z = R.knn_panel(x, y, ks=(1,), alphas=(1.0,), distances=("median-NN",), max_n=40, seed=7)
    assert z[R.DEFAULT_SETTING] == metrics.smooth_knn_statistic(x, y, max_n=40, seed=7)


@pytest.mark.parametrize("scale", [0.5, 5.0, 80.0])
def test_excluded_marginals_match_the_log_space_dp(scale):
    rng = np.random.default_rng(5)
    x = torch.as_tensor(rng.standard_normal((40, 2)))
    d = torch.cdist(x, x)
    d.fill_diagonal_(float("inf"))
    q = -scale * d                          # 80: one neighbour outweighs the rest by e^-20 and more
    wt = torch.exp(q - q.max(dim=1, keepdim=True).values).T.contiguous()
    got = R._excluded_marginals(wt, (2, 3, 5))
    for k, mu_t in got.items():
        ref = metrics._cardinality_marginals(q.clamp(min=metrics._NINF), k)
        assert torch.allclose(mu_t.T, ref, rtol=1e-9, atol=1e-12)
        assert torch.allclose(mu_t.sum(0), torch.full((40,), float(k), dtype=mu_t.dtype))


def test_energy_p_values_are_roughly_uniform_under_the_null():
    reps, n, B = 40, 25, 99
    p = np.array([R.energy_test(np.random.default_rng(2 * i).standard_normal((n, 2)),
                                np.random.default_rng(2 * i + 1).standard_normal((n, 2)),
                                num_resamples=B, seed=i)[1] for i in range(reps)])
    assert ((p >= 1 / (B + 1)) & (p <= 1)).all()
    # share below 0.1 (and 0.5) within a two-sided 99.9 % binomial interval
    for level in (0.1, 0.5):
        lo, hi = stats.binom.ppf([0.0005, 0.9995], reps, level)
        assert lo <= (p < level).sum() <= hi, (level, (p < level).sum())


def test_energy_detects_a_mean_shift_and_scales_with_it():
    rng = np.random.default_rng(11)
    out = [R.energy_test(rng.standard_normal((25, 2)), rng.standard_normal((25, 2)) + [1.5, 0.0],
                         num_resamples=99, seed=i) for i in range(8)]
    assert all(p < 0.05 for _, p in out)
    x = rng.standard_normal((200, 2))
    small = R.energy_test(x, rng.standard_normal((200, 2)) + 0.2, num_resamples=19)[0]
    large = R.energy_test(x, rng.standard_normal((200, 2)) + 1.0, num_resamples=19)[0]
    assert 0 < small < large


def test_energy_subsamples_to_n():
    rng = np.random.default_rng(12)
    x, y = rng.standard_normal((300, 2)), rng.standard_normal((300, 2))
    a = R.energy_test(x, y, num_resamples=9, seed=1, n=50)
    b = R.energy_test(x, y, num_resamples=9, seed=1, n=50)
    assert a == b and a != R.energy_test(x, y, num_resamples=9, seed=1, n=None)


# ----------------------------------------------------------------------- hand-made frames
def _rows(table, dataset, method, cohort, setting, values, test="smooth_knn"):
    return [{"table": table, "dataset": dataset, "method": method, "cohort": cohort, "version": v,
             "test": test, "setting": setting, "value": x} for v, x in enumerate(values)]


def verdict_frame() -> pd.DataFrame:
    """Two kNN settings and the energy test on Figure-8 (two versions). Means:
    setting A: IWAE 1.5, LIN 2.0, VAE 2.5; setting B: IWAE 1.0, LIN 1.0 (a tie), VAE 1.5;
    energy: IWAE 3.0, VAE 3.5, LIN 4.0; the p-values point the other way and must be
    ignored by the verdicts."""
    A, B = "k=1,alpha=1,median-NN", "k=3,alpha=2,raw"
    vals = {  # method: (setting A, setting B, energy statistic, energy p-value)
        "IWAE": ([1.0, 2.0], [1.0, 1.0], [3.0, 3.0], [0.9, 0.9]),
        "LIN": ([1.5, 2.5], [0.5, 1.5], [4.0, 4.0], [0.8, 0.8]),
        "VAE": ([2.0, 3.0], [1.5, 1.5], [3.5, 3.5], [0.01, 0.01]),
    }
    rows = []
    for m, (a, b, e, p) in vals.items():
        rows += _rows("table2", "figure8", m, "marginal", A, a)
        rows += _rows("table2", "figure8", m, "marginal", B, b)
        rows += _rows("table2", "figure8", m, "marginal", R.ENERGY_SETTING, e, test="energy")
        rows += _rows("table2", "figure8", m, "marginal", R.ENERGY_P_SETTING, p, test="energy")
    return pd.DataFrame(rows)


def _claims(pairs):
    return pd.DataFrame([{"table": "table2", "dataset": "figure8", "cohort": "marginal", "better": a,
                          "worse": b} for a, b in pairs])


def test_verdicts_at_their_boundaries():
    fr = verdict_frame()
    v = R.verdicts(fr, _claims([("IWAE", "VAE"), ("IWAE", "LIN"), ("VAE", "LIN"), ("VAE", "IWAE")]))
    v = v.set_index("claim")
    assert v.loc["IWAE better than VAE", "verdict"] == "robust"
    assert v.loc["IWAE better than VAE", "holds under"] == "3 of 3 settings"
    assert v.loc["IWAE better than VAE", "flipped by"] == ""
    # a tie under one setting: not "robust", and that setting is named
    assert v.loc["IWAE better than LIN", "verdict"] == "depends on the test"
    assert v.loc["IWAE better than LIN", "flipped by"] == "k=3,alpha=2,raw"
    # holds under the energy statistic only: "depends", both kNN settings listed
    r = v.loc["VAE better than LIN"]
    assert r["verdict"] == "depends on the test" and r["holds (energy)"] and not r["holds (default)"]
    assert r["flipped by"] == "k=1,alpha=1,median-NN; k=3,alpha=2,raw"
    assert r["holds under"] == "1 of 3 settings"
    assert v.loc["VAE better than IWAE", "verdict"] == "not supported"
    assert v.loc["VAE better than IWAE", "flipped by"] == "k=1,alpha=1,median-NN; k=3,alpha=2,raw; energy"
    assert v.loc["VAE better than IWAE", "ours (default)"] == "2.5 vs 1.5"


def test_energy_alone_flipping_a_claim_is_named():
    fr = verdict_frame()
    fr.loc[(fr["method"] == "IWAE") & (fr["setting"] == R.ENERGY_SETTING), "value"] = 9.0
    v = R.verdicts(fr, _claims([("IWAE", "VAE")])).iloc[0]
    assert v["verdict"] == "depends on the test" and v["flipped by"] == "energy"
    assert v["energy"] == "9 vs 3.5" and not v["holds (energy)"]


def test_claims_from_paper_and_ours():
    pc = R.paper_claims()
    t2 = pc[(pc["table"] == "table2") & (pc["dataset"] == "clusters")]
    assert list(zip(t2["better"], t2["worse"])) == [("IWAE", "LIN"), ("IWAE", "VAE"), ("LIN", "VAE")]
    t4 = pc[(pc["table"] == "table4") & (pc["dataset"] == "semicircle_discrete")]
    assert set(t4["cohort"]) == {"y=0", "y=1", R.COHORT_MEAN}
    mean_rows = t4[t4["cohort"] == R.COHORT_MEAN]
    assert ("IWAE", "VAE") in set(zip(mean_rows["better"], mean_rows["worse"]))   # 1.56 < 13.35
    ours = R.claims_from(verdict_frame())
    assert list(zip(ours["better"], ours["worse"])) == [("IWAE", "LIN"), ("IWAE", "VAE"), ("LIN", "VAE")]
    v = R.verdicts(verdict_frame(), "ours")
    assert (v["holds (default)"]).all()                # our own orderings hold at the default


def test_verdicts_on_table4_use_the_mean_of_cohorts():
    rows = []
    for m, c0, c1 in (("IWAE", [1.0, 1.0], [9.0, 9.0]), ("VAE", [4.0, 4.0], [4.0, 4.0])):
        for coh, vals in (("y=0", c0), ("y=1", c1)):
            rows += _rows("table4", "semicircle_discrete", m, coh, R.DEFAULT_SETTING, vals)
            rows += _rows("table4", "semicircle_discrete", m, coh, R.ENERGY_SETTING, vals, test="energy")
    claims = pd.DataFrame([{"table": "table4", "dataset": "semicircle_discrete", "cohort": c, "better": "IWAE",
                            "worse": "VAE"} for c in ("y=0", "y=1", R.COHORT_MEAN)])
    v = R.verdicts(pd.DataFrame(rows), claims).set_index("cohort")["verdict"]
    assert v["y=0"] == "robust" and v["y=1"] == "not supported"
    assert v[R.COHORT_MEAN] == "not supported"          # (1 + 9) / 2 = 5 > 4


def full_frame(table: str, seed: int = 0) -> pd.DataFrame:
    """A frame with every setting of the panel, two data sets and two versions."""
    rng = np.random.default_rng(seed)
    datasets = {"table2": ("clusters", "figure8")}.get(table, ("semicircle_discrete", "semicircle_continuous"))
    methods = ("IWAE", "LIN", "VAE") + (("VAE (x only)",) if table == "table3" else ())
    rows = []
    for ds in datasets:
        cohorts = ["marginal"] if table != "table4" else (["y=0", "y=1"] if "discrete" in ds else ["y=-3.5", "y=3.5"])
        for m in methods:
            for coh in cohorts:
                for dist in R.DISTANCES:
                    for k in R.KNN_KS:
                        for a in R.KNN_ALPHAS:
                            rows += _rows(table, ds, m, coh, R.setting_label(k, a, dist), rng.gamma(2.0, 1.0, 2))
                rows += _rows(table, ds, m, coh, R.ENERGY_SETTING, rng.gamma(2.0, 1.0, 2), test="energy")
                rows += _rows(table, ds, m, coh, R.ENERGY_P_SETTING, rng.uniform(0.005, 1, 2), test="energy")
    return pd.DataFrame(rows)


def test_csv_has_exactly_the_columns_and_four_digits(tmp_path):
    fr = full_frame("table4")
    path = R.write_robustness_csv(fr, "testprofile", results_dir=tmp_path)
    assert path == tmp_path / "testprofile" / "robustness.csv"
    header = path.read_text().splitlines()[0]
    assert header.split(",") == R.CSV_COLUMNS
    back = pd.read_csv(path)
    assert set(back["test"]) == {"smooth_knn", "energy"}
    assert {R.ENERGY_SETTING, R.ENERGY_P_SETTING, R.DEFAULT_SETTING} <= set(back["setting"])
    assert len(back) == len(R.summary(fr))
    s = R.summary(fr).iloc[0]
    assert back["mean"].iloc[0] == float(f"{s['mean']:.4g}")
    assert s["sd"] == pytest.approx(fr[(fr["setting"] == s["setting"]) & (fr["method"] == s["method"])
                                       & (fr["cohort"] == s["cohort"]) & (fr["dataset"] == s["dataset"])
                                       ]["value"].std(ddof=1))
    with pytest.raises(ValueError):
        R.write_robustness_csv(fr.drop(columns="cohort"), "testprofile", results_dir=tmp_path)


@pytest.mark.parametrize("table", R.TABLES)
def test_draw_panel_has_data_in_every_panel(table):
    fr = full_frame(table, seed=len(table))
    fig = R.draw_panel(fr, table)
    try:
        assert empty_axes(fig) == []          # limits as autoscaled (no aspect or layout changes them)
        n_ds = 2
        assert len(fig.get_axes()) == n_ds * len(R.DISTANCES) * (len(R.KNN_KS) + 1)
        assert fig.get_size_inches()[0] <= 11.0
        sizes = [t.get_fontsize() for t in fig.findobj(matplotlib.text.Text) if t.get_text()]
        assert min(sizes) >= 9
        assert all(ax.get_xscale() == "log" for ax in fig.get_axes()[:len(R.KNN_KS)])
    finally:
        plt.close(fig)


def test_draw_panel_rejects_unknown_tables():
    with pytest.raises(ValueError):
        R.draw_panel(full_frame("table2"), "table9")
    with pytest.raises(ValueError):
        R.draw_panel(full_frame("table2"), "table3")      # no rows for it


def test_energy_table_beside_the_tables_statistic():
    e = R.energy_table(verdict_frame()).set_index("method")
    assert e.loc["VAE", "p < 0.05"] == "2/2" and e.loc["IWAE", "p < 0.05"] == "0/2"
    assert e.loc["IWAE", "energy"] == 3.0 and e.loc["IWAE", "energy sd"] == 0.0
    assert e.loc["IWAE", "kNN z (table)"] == 1.5 and e.loc["VAE", "p (mean)"] == pytest.approx(0.01)


def test_flip_list_names_whole_conventions():
    settings = ["k=1,alpha=1,median-NN", "k=3,alpha=1,median-NN", "k=1,alpha=1,raw", "k=3,alpha=1,raw",
                R.ENERGY_SETTING]
    flipped = ["k=3,alpha=1,median-NN", "k=1,alpha=1,raw", "k=3,alpha=1,raw", R.ENERGY_SETTING]
    assert R._flip_list(flipped, settings, [R.ENERGY_SETTING]) == \
        "every raw setting; k=3,alpha=1,median-NN; energy"


def test_compute_reuses_done_rows_and_saves_as_it_goes(monkeypatch):
    """Only comparisons without a row are computed; partial results are saved."""
    calls, saves = [], []
    rng = np.random.default_rng(0)

    def fake_samples(c, rec, profile):
        calls.append(c["version"])
        return rng.standard_normal((60, 2)), rng.standard_normal((60, 2))

    monkeypatch.setattr(R, "comparison_samples", fake_samples)
    monkeypatch.setattr(R, "knn_panel", lambda x, y, seed: {"k=1,alpha=1,raw": 0.5})
    monkeypatch.setattr(R, "energy_test", lambda x, y, seed: (1.0, 0.5))
    rec = {"members": [{"restart": 0, "seed": 3}], "selected": {"restart": 0}}
    comps = [{"table": "table2", "dataset": "figure8", "method": "VAE", "cohort": "marginal",
              "version": v, "key": f"k{v}"} for v in range(5)]
    done = {R._row_key(comps[1]): {**{k: comps[1][k] for k in R._ROW_KEYS}, "knn": {}, "energy": 9.0,
                                   "energy_p": 0.1, "seconds": 2.0}}
    res = R._compute("quick", comps, {c["key"]: rec for c in comps}, False, done=done,
                     save=lambda r, complete=True: saves.append(len(r["rows"])), save_every=2)
    assert calls == [0, 2, 3, 4]
    assert [r["version"] for r in res["rows"]] == [0, 1, 2, 3, 4]
    assert res["rows"][1]["energy"] == 9.0
    assert saves == [3]           # after 2 new rows (plus the reused one); the final save is the caller's


def test_sec7_records_all_or_nothing(monkeypatch):
    """A Section 7 sweep still being written gives no Table 3-4 comparisons at all."""
    from vaefail_core import sweep
    from vaefail_core.paper import sec7
    monkeypatch.setattr(sec7, "section7_tasks", lambda profile: ["a", "b", "c"])
    monkeypatch.setattr(sweep, "verify_record", lambda t: None if t == "b" else {"key": t})
    assert R._sec7_records("quick") == []
    monkeypatch.setattr(sweep, "verify_record", lambda t: {"key": t})
    assert [r["key"] for r in R._sec7_records("quick")] == ["a", "b", "c"]
