"""Tests of the ``vaefail`` command line (vaefail_core.cli)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vaefail_core import cli, data

REPO = Path(__file__).resolve().parents[1]


def run(capsys, *argv):
    rc = cli.main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize("name, columns", [
    ("figure8", ["x1", "x2", "z1"]),
    ("semicircle_discrete", ["x1", "x2", "z1", "y"]),
    ("semicircle_continuous", ["x1", "x2", "z1", "y"]),
    ("linear_cholesky", ["x1", "x2", "z1", "z2"]),
    ("clusters_5d", ["x1", "x2", "x3", "x4", "x5", "z1"]),
])
def test_writes_csv(tmp_path, capsys, name, columns):
    out = tmp_path / "d.csv"
    rc, stdout, err = run(capsys, "data", name, "--n", "40", "--seed", "3", "--out", str(out))
    assert rc == 0 and err == "" and stdout == ""
    df = pd.read_csv(out)
    assert list(df.columns) == columns and len(df) == 40
    s = data.load(name, n=40, seed=3)
    np.testing.assert_allclose(df[[c for c in columns if c[0] == "x"]].to_numpy(), s.x, rtol=1e-7)
    np.testing.assert_allclose(df[[c for c in columns if c[0] == "z"]].to_numpy(), s.z, rtol=1e-7)
    if s.y is not None:
        np.testing.assert_allclose(df["y"].to_numpy(), s.y, rtol=1e-7)


def test_stdout_and_defaults(capsys):
    rc, out, err = run(capsys, "data", "circle")
    assert rc == 0 and err == ""
    lines = out.strip().splitlines()
    assert lines[0] == "x1,x2,z1" and len(lines) == 1 + cli.DEFAULT_N


def test_seed_changes_output(capsys):
    a = run(capsys, "data", "circle", "--n", "5", "--seed", "1")[1]
    b = run(capsys, "data", "circle", "--n", "5", "--seed", "1")[1]
    c = run(capsys, "data", "circle", "--n", "5", "--seed", "2")[1]
    assert a == b and a != c


def test_list(capsys):
    rc, out, err = run(capsys, "data", "--list")
    assert rc == 0
    listed = [line.split()[0] for line in out.strip().splitlines()]
    assert listed == data.names()


@pytest.mark.parametrize("argv, needle", [
    (["data", "figure9", "--n", "5"], "unknown data set"),
    (["data", "figure8", "--n", "-4"], "positive"),
    (["data", "figure8", "--n", "0"], "positive"),
    (["data", "figure8", "--n", "abc"], "invalid int"),
    (["data", "figure8", "--seed", "-1"], "seed"),
    (["data"], "NAME"),
    (["data", "figure8", "--bogus"], "unrecognized"),
    ([], ""),
])
def test_errors_exit_2_with_one_line(capsys, argv, needle):
    try:
        rc = cli.main(argv)
    except SystemExit as e:   # argparse's own errors
        rc = e.code
    out, err = capsys.readouterr()
    assert rc == 2
    if argv:
        assert len(err.strip().splitlines()) == 1 and "error" in err and needle in err
    assert "Traceback" not in err


@pytest.mark.parametrize("target", ["missing_dir/x.csv", "."])
def test_unwritable_output(tmp_path, capsys, target):
    path = tmp_path / target
    rc, out, err = run(capsys, "data", "figure8", "--n", "5", "--out", str(path))
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "error" in err
    assert not (tmp_path / "missing_dir").exists()


def test_surrogates_table(capsys):
    rc, out, err = run(capsys, "surrogates")
    assert rc == 0
    rows = out.strip().splitlines()[1:]
    assert [r.split()[0] for r in rows] == ["figure8", "circle", "absolute_value", "clusters",
                                          "spiral_dots", "semicircle_discrete",
                                          "semicircle_continuous"]
    assert all(r.split()[-1] == "yes" for r in rows)
    assert run(capsys, "surrogates", "nope")[0] == 2


def test_module_entry_point(tmp_path):
    """``python -m vaefail_core.cli``: real process, exit codes, no traceback."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    ok = subprocess.run([sys.executable, "-m", "vaefail_core.cli", "data", "circle", "--n", "3",
                         "--out", str(tmp_path / "c.csv")], capture_output=True, text=True,
                        env=env, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert len(pd.read_csv(tmp_path / "c.csv")) == 3
    bad = subprocess.run([sys.executable, "-m", "vaefail_core.cli", "data", "nope"],
                         capture_output=True, text=True, env=env, cwd=tmp_path)
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr
