"""Tests of ``vaefail diagnose`` (vaefail_core/diagnose.py, diagnose_report.py, cli.py).

Fast checks of each piece on the paper's benchmark sets (no training), one full run of
the command on Circle (must not be flagged) that also checks summary.json and the
report, and every kind of bad input. The six-set validation table (Figure-8, Clusters,
Spiral-Dots, both Semi-Circles flagged; Circle not) runs on the book page
notebooks/sec9_diagnose.py (a few minutes).
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vaefail_core import cli, data
from vaefail_core import diagnose as dg
from vaefail_core.diagnose_report import figures, from_json, terminal_table, to_json

pytest.importorskip("ripser")


def run(capsys, *argv):
    rc = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def write(tmp_path, name, n, seed=0, path=None) -> Path:
    return dg.export_csv(name, path or tmp_path / f"{name}.csv", n=n, seed=seed)


# --------------------------------------------------------------------------------------
# pieces
# --------------------------------------------------------------------------------------
def test_holm_matches_hand_computation():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted 0.005, 0.01, 0.03, 0.04 -> 4*0.005, 3*0.01, 2*0.03, 1*0.04, made monotone
    np.testing.assert_allclose(dg.holm(p), [0.03, 0.06, 0.06, 0.02])
    assert dg.holm([0.9, 0.8]).max() == 1.0


def test_twonn_dimension():
    rng = np.random.default_rng(0)
    t = rng.uniform(-1, 1, 800)
    line = np.stack([t, 2 * t, -t], 1) + 1e-6 * rng.standard_normal((800, 3))
    plane = np.concatenate([rng.uniform(-1, 1, (800, 2)), np.zeros((800, 1))], 1)
    assert abs(dg.twonn(line) - 1) < 0.25
    assert abs(dg.twonn(plane) - 2) < 0.4


def test_normal_basis_is_orthonormal_and_oriented():
    rng = np.random.default_rng(1)
    for D, K in ((2, 1), (3, 1), (4, 2), (3, 2)):
        J = rng.standard_normal((50, D, K))
        N = dg._normal_basis(J)
        assert N.shape == (50, D, D - K)
        np.testing.assert_allclose(np.einsum("ndk,ndj->nkj", N, N), np.broadcast_to(np.eye(D - K), (50, D - K, D - K)), atol=1e-10)
        np.testing.assert_allclose(np.einsum("ndk,ndj->nkj", J, N), 0, atol=1e-10)
        if D - K == 1:   # det[J, n] > 0: the sign does not flip along a manifold
            assert (np.linalg.det(np.concatenate([J, N], 2)) > 0).all()


def test_class_separability_flags_the_semicircle_not_separated_blobs():
    s = data.load("semicircle_discrete", n=600, seed=0)
    r = dg.class_separability(s.x, s.y)
    assert r["ran"] and r["flag"] is True
    assert 0.65 < r["metrics"]["balanced_accuracy"] < 0.9          # Bayes rate ~0.80
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 600)
    x = rng.standard_normal((600, 2)) * 0.3 + 4.0 * y[:, None]
    r = dg.class_separability(x, y.astype(object))
    assert r["flag"] is False and r["metrics"]["balanced_accuracy"] > 0.98
    # a continuous label is binned at its quartiles
    c = data.load("semicircle_continuous", n=600, seed=0)
    r = dg.class_separability(c.x, c.y)
    assert r["metrics"]["kind"] == "continuous" and r["metrics"]["n_classes"] == 4 and r["flag"] is True
    assert dg.class_separability(s.x, None)["ran"] is False


@pytest.mark.parametrize("name, clusters, loops, flag", [
    ("spiral_dots", (5, 9), (0, 1), True),      # separated dots: clusters
    ("circle", (1, 1), (1, 1), False),           # one component, one loop
    ("semicircle_discrete", (1, 1), (0, 0), False),
])
def test_data_shape(name, clusters, loops, flag):
    x = data.load(name, n=800, seed=0).x
    r = dg.data_shape(dg.prepare(x)[0], latent_dim=1, cfg=dg.FAST)
    ph = r["metrics"]["persistence"]
    assert clusters[0] <= ph["clusters"] <= clusters[1], ph
    assert loops[0] <= ph["loops"] <= loops[1], ph
    assert r["flag"] is flag
    assert r["arrays"]["h1"].shape[1] == 2


def test_two_loops_flag_a_one_dimensional_latent():
    # two well-separated clean circles touching at one point: a figure-8 without noise
    t = np.random.default_rng(0).uniform(0, 2 * np.pi, 900)
    half = np.arange(900) % 2 == 0
    x = np.stack([np.cos(t) + np.where(half, 1.0, -1.0), np.sin(t)], 1)
    x += 0.02 * np.random.default_rng(1).standard_normal(x.shape)
    r = dg.data_shape(x, latent_dim=1, cfg=dg.FAST)
    assert r["metrics"]["persistence"]["loops"] == 2 and r["flag"] is True
    assert dg.data_shape(x, latent_dim=2, cfg=dg.FAST)["flag"] is False   # 2-D latent: no crossing needed


def test_prepare_and_split():
    x = np.random.default_rng(0).standard_normal((300, 3)) * [1.0, 2.0, 3.0] + 5
    xs, centre, scale = dg.prepare(x)
    np.testing.assert_allclose(xs.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose((xs ** 2).mean(0).mean(), 1.0)
    sp = dg.split_indices(300, 0)
    allidx = np.concatenate(list(sp.values()))
    assert sorted(allidx.tolist()) == list(range(300)) and len(sp["test"]) == 60 == len(sp["val"])
    assert all(np.array_equal(sp[k], dg.split_indices(300, 0)[k]) for k in sp)


# --------------------------------------------------------------------------------------
# the command, end to end
# --------------------------------------------------------------------------------------
#: small enough for a unit test (~25 s of CPU), large enough that Circle's fits are sound
#: (with one restart and 100 epochs a poor local optimum of the MFG-VAE gets Circle flagged)
TEST_EPOCHS = 150


def test_command_on_circle_is_not_flagged(tmp_path, capsys):
    csv = write(tmp_path, "circle", 1000)
    out = tmp_path / "rep"
    rc, stdout, err = run(capsys, "diagnose", csv, "--columns", "x1,x2", "--latent-dim", 1,
                          "--out", out, "--fast", "--epochs", TEST_EPOCHS)
    assert rc == 0, err
    s = json.loads((out / "summary.json").read_text())
    # schema
    assert s["schema"] == dg.SCHEMA
    assert set(s) >= {"input", "settings", "checks", "rich_family_recommended", "reasons",
                      "bottom_line", "seconds"}
    assert list(s["checks"]) == list(dg.CHECKS)
    for name, c in s["checks"].items():
        assert set(c) >= {"guideline", "ran", "flag", "verdict", "metrics"}, name
        assert isinstance(c["verdict"], str) and c["verdict"]
        assert c["flag"] in (True, False, None)
    assert isinstance(s["rich_family_recommended"], bool)
    assert s["reasons"] == [c for c in dg.CHECKS if s["checks"][c]["flag"]]
    assert s["input"]["features"] == ["x1", "x2"] and s["input"]["latent_dim"] == 1
    assert s["checks"]["class_separability"]["ran"] is False
    # the verdicts: Circle is the paper's example where an MFG-VAE is fine (App. G.2, E.2)
    assert s["rich_family_recommended"] is False, s["reasons"]
    ph = s["checks"]["data_shape"]["metrics"]["persistence"]
    assert ph["clusters"] == 1 and ph["loops"] == 1
    nv = s["checks"]["noise_variance"]["metrics"]
    assert 0.005 < nv["sigma2_loglik"] < 0.05        # the truth is 0.01 (data units)
    # the report and the terminal table
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 5 and "Bottom line" in page
    assert "rich variational family recommended: no" in stdout
    assert stdout.startswith(terminal_table(s).splitlines()[0])
    assert err == "" or "vaefail: error" not in err


def test_diagnose_flags_figure8(tmp_path):
    # Figure-8: the ELBO's sigma^2 is far below the log-likelihood's, and an IWAE fits
    # held-out data better (App. G.1, E.1)
    # (the clearest signal: a small run, one restart, finds it in ~4 s of CPU)
    X, _, feats = dg.load_table(write(tmp_path, "figure8", 800), columns=["x1", "x2"])
    res = dg.diagnose(X, latent_dim=1, cfg=replace(dg.FAST, max_rows=800, epochs=100, restarts=1),
                      progress=False)
    s = res["summary"]
    assert s["rich_family_recommended"] is True
    assert s["checks"]["noise_variance"]["flag"] is True
    assert s["checks"]["noise_variance"]["metrics"]["ratio"] < 0.5
    assert s["checks"]["noise_variance"]["metrics"]["loglik_cost"] > dg.NOISE_MIN_COST
    # the result survives a trip through JSON (the book page's cache) and still draws
    back = from_json(json.loads(json.dumps(to_json(res))))
    figs = figures(back)
    assert sorted(figs) == ["data_shape", "density_gap", "manifold", "manifold_residuals", "noise_variance"]
    import matplotlib.pyplot as plt
    plt.close("all")
    assert "rich variational family recommended: YES" in terminal_table(back["summary"])


# --------------------------------------------------------------------------------------
# bad input: one line, exit status 2, nothing trained
# --------------------------------------------------------------------------------------
def _bad(capsys, *argv):
    rc, out, err = run(capsys, "diagnose", *argv)
    assert rc == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vaefail: error: "), err
    return lines[0]


def test_bad_inputs(tmp_path, capsys):
    good = pd.DataFrame({"a": np.random.default_rng(0).standard_normal(150),
                         "b": np.random.default_rng(1).standard_normal(150),
                         "y": [0, 1, 2] * 50})
    ok = tmp_path / "ok.csv"
    good.to_csv(ok, index=False)
    assert "no such file" in _bad(capsys, tmp_path / "missing.csv")
    assert "no label column 'lab'" in _bad(capsys, ok, "--label", "lab")
    text = good.astype(object)
    text.loc[7, "a"] = "abc"
    text.to_csv(tmp_path / "text.csv", index=False)
    msg = _bad(capsys, tmp_path / "text.csv")
    assert "column 'a' is not numeric" in msg and "row 9" in msg
    nan = good.copy()
    nan.loc[3, "b"] = np.nan
    nan.to_csv(tmp_path / "nan.csv", index=False)
    msg = _bad(capsys, tmp_path / "nan.csv", "--label", "y")
    assert "column 'b'" in msg and "NaN" in msg
    good.head(40).to_csv(tmp_path / "few.csv", index=False)
    assert "too few rows: 40" in _bad(capsys, tmp_path / "few.csv")
    one = good.assign(y=1)
    one.to_csv(tmp_path / "one.csv", index=False)
    assert "only one class" in _bad(capsys, tmp_path / "one.csv", "--label", "y")
    assert "--latent-dim must be an integer >= 1, got 0" in _bad(capsys, ok, "--latent-dim", 0)
    assert "--latent-dim must be an integer >= 1, got -2" in _bad(capsys, ok, "--latent-dim", -2)
    assert "must be below the number of feature columns (2)" in _bad(
        capsys, ok, "--label", "y", "--latent-dim", 2)
    assert "--out" in _bad(capsys, ok, "--out", ok)                    # a file, not a folder
    assert "does not exist" in _bad(capsys, ok, "--out", tmp_path / "no" / "where")
    assert "no column 'c'" in _bad(capsys, ok, "--columns", "a,c")
    (tmp_path / "empty.csv").write_text("")
    assert "empty" in _bad(capsys, tmp_path / "empty.csv")
    const = good.assign(b=1.0)
    const.to_csv(tmp_path / "const.csv", index=False)
    assert "constant" in _bad(capsys, tmp_path / "const.csv", "--label", "y")
    assert "invalid int value" in _bad(capsys, ok, "--latent-dim", "two")
    assert "at least 2 feature columns, got 1" in _bad(capsys, ok, "--columns", "a")
    assert list(tmp_path.glob("diagnose_*")) == []                      # nothing written


def test_label_rules(tmp_path):
    x = np.random.default_rng(0).standard_normal((120, 2))
    y = np.array([0, 1] * 60, dtype=object)
    y[:10] = ""                                                  # unlabelled rows are allowed
    mask, cls, info = dg._labels(y)
    assert mask.sum() == 110 and info["unlabelled_rows"] == 10 and info["kind"] == "classes"
    y2 = np.array(["a"] * 117 + ["b"] * 3, dtype=object)
    with pytest.raises(dg.DiagnoseInputError, match="class 'b' has 3 labelled rows"):
        dg.check_inputs(x, y2)
    with pytest.raises(dg.DiagnoseInputError, match="--latent-dim"):
        dg.check_inputs(x, None, 0)
