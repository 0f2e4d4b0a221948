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


def one_error_line(err: str, needle: str = "") -> str:
    """``err`` is exactly one line ``vaefail: error: ...`` containing ``needle``."""
    lines = err.splitlines()
    assert len(lines) == 1 and err.endswith("\n"), err
    assert lines[0].startswith("vaefail: error: ") and needle in lines[0], err
    assert "Traceback" not in err
    return lines[0]


def load_must_not_run(*args, **kwargs):
    raise AssertionError("data.load was called for an input the CLI should refuse")


@pytest.mark.parametrize("argv, needle", [
    (["data", "figure9", "--n", "5"], "unknown data set 'figure9'"),
    (["data", "figure8", "--n", "-4"], "positive"),
    (["data", "figure8", "--n", "0"], "positive"),
    (["data", "figure8", "--n", "abc"], "invalid int value: 'abc'"),
    (["data", "figure8", "--n", "1e3"], "invalid int value: '1e3'"),
    (["data", "figure8", "--n", "100000000000"], "limit of 10,000,000 rows"),
    (["data", "figure8", "--n", str(cli.MAX_ROWS + 1)], "limit of 10,000,000 rows"),
    (["data", "uci_titanic", "--n", "100000000"], "limit of 10,000,000 rows"),
    (["data", "figure8", "--seed", "-1"], "--seed must be a non-negative integer"),
    (["data", "figure8", "--seed", "x"], "invalid int value: 'x'"),
    (["data"], "NAME"),
    (["data", "figure8", "--bogus"], "unrecognized arguments: --bogus"),
    ([], "give a COMMAND"),
    (["train"], "invalid choice: 'train'"),
    (["surrogates", "nope"], "no surrogate for 'nope'"),
    (["sweep", "section9"], "unknown sweep 'section9'"),
    (["sweep"], "required: NAME"),
    (["sweep", "section5", "--profile", "fast"], "unknown profile 'fast'"),
    (["sweep", "section5", "--workers", "0"], "--workers must be an integer in [1, 64]"),
    (["sweep", "section5", "--workers", "65"], "--workers must be an integer in [1, 64]"),
    (["sweep", "section5", "--workers", "two"], "invalid int value: 'two'"),
])
def test_bad_input_exits_2_with_one_line(capsys, monkeypatch, argv, needle):
    """Refused before anything is generated, loaded or trained."""
    from vaefail_core.paper import records

    monkeypatch.setattr(data, "load", load_must_not_run)
    monkeypatch.setattr(records, "run_named_sweep", load_must_not_run)
    rc, out, err = run(capsys, *argv)
    assert rc == 2 and out == ""
    one_error_line(err, needle)


def test_huge_n_fails_fast_without_allocating(capsys, monkeypatch):
    """The 1e11-row request (745 GiB of z alone) is refused from the arguments."""
    import time

    monkeypatch.setattr(data, "load", load_must_not_run)
    t0 = time.perf_counter()
    rc, out, err = run(capsys, "data", "figure8", "--n", "100000000000", "--out", "x.csv")
    assert time.perf_counter() - t0 < 0.5
    assert rc == 2 and out == ""
    line = one_error_line(err, "above the limit of 10,000,000 rows")
    assert "TiB" in line and "--seed" in line
    assert cli.sample_bytes(10 ** 11, 3) == 10 ** 11 * 3 * 24


@pytest.mark.parametrize("target, needle", [
    ("missing_dir/x.csv", "does not exist"),
    (".", "is a folder"),
    ("a_file.txt/x.csv", "is not a folder"),
])
def test_unwritable_output(tmp_path, capsys, monkeypatch, target, needle):
    (tmp_path / "a_file.txt").write_text("not a folder")
    monkeypatch.setattr(data, "load", load_must_not_run)
    rc, out, err = run(capsys, "data", "figure8", "--n", "5", "--out", str(tmp_path / target))
    assert rc == 2
    one_error_line(err, needle)
    assert not (tmp_path / "missing_dir").exists()


def test_output_without_permission(tmp_path, capsys, monkeypatch):
    """(Simulated: the tests may run as root, which ignores file modes.)"""
    monkeypatch.setattr(cli.os, "access", lambda path, mode: False)
    monkeypatch.setattr(data, "load", load_must_not_run)
    rc, out, err = run(capsys, "data", "figure8", "--n", "5", "--out", str(tmp_path / "x.csv"))
    assert rc == 2
    one_error_line(err, "no permission to create files in")
    (tmp_path / "x.csv").write_text("old")
    rc, out, err = run(capsys, "data", "figure8", "--n", "5", "--out", str(tmp_path / "x.csv"))
    assert rc == 2
    one_error_line(err, "no permission to write this file")
    assert (tmp_path / "x.csv").read_text() == "old"


def test_failed_write_leaves_no_file(tmp_path, capsys, monkeypatch):
    class Frame:
        def to_csv(self, fh, **kwargs):
            fh.write("x1,x2\n1,")
            raise OSError(28, "No space left on device", str(out_path))

    out_path = tmp_path / "x.csv"
    monkeypatch.setattr(data, "to_frame", lambda sample: Frame())
    rc, out, err = run(capsys, "data", "figure8", "--n", "5", "--out", str(out_path))
    assert rc == 2
    assert one_error_line(err) == f"vaefail: error: {out_path}: No space left on device"
    assert not out_path.exists()


def test_missing_uci_file(tmp_path, capsys, monkeypatch):
    """The loader's FileNotFoundError (with its long how-to message) becomes one line."""
    monkeypatch.setenv("VAEFAIL_MESSIDOR", str(tmp_path / "nope.arff"))
    rc, out, err = run(capsys, "data", "uci_retinopathy", "--out", str(tmp_path / "r.csv"))
    assert rc == 2
    one_error_line(err, "VAEFAIL_MESSIDOR=")
    assert not (tmp_path / "r.csv").exists()


def test_uci_n_above_its_rows(capsys):
    rc, out, err = run(capsys, "data", "uci_titanic", "--n", "5000")
    assert rc == 2
    one_error_line(err, "n must be an integer in [1, 2201]")


def raiser(exc):
    def f(*args, **kwargs):
        raise exc
    return f


@pytest.mark.parametrize("exc, rc_expected, needle", [
    (KeyboardInterrupt(), 130, "vaefail: error: interrupted"),
    (MemoryError(), 2, "out of memory (MemoryError); try a smaller --n"),
    (MemoryError("Unable to allocate 745. GiB"), 2, "out of memory (Unable to allocate 745. GiB)"),
    (PermissionError(13, "Permission denied", "/root/x"), 2, "error: /root/x: Permission denied"),
    (ValueError("first line\nsecond line"), 2, "error: first line; second line"),
    (NotImplementedError("not for this set"), 2, "error: not for this set"),
    (TypeError("a bug"), 1, "internal error (TypeError: a bug); rerun with VAEFAIL_DEBUG=1"),
])
def test_exceptions_become_one_line(capsys, monkeypatch, exc, rc_expected, needle):
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)
    monkeypatch.setattr(data, "load", raiser(exc))
    rc, out, err = run(capsys, "data", "figure8", "--n", "5")
    assert rc == rc_expected and out == ""
    one_error_line(err, needle)


@pytest.mark.parametrize("exc", [TypeError("a bug"), ValueError("bad"), KeyboardInterrupt()])
def test_debug_env_reraises(capsys, monkeypatch, exc):
    monkeypatch.setenv(cli.DEBUG_ENV, "1")
    monkeypatch.setattr(data, "load", raiser(exc))
    with pytest.raises(type(exc)):
        cli.main(["data", "figure8", "--n", "5"])
    assert capsys.readouterr().err == ""


def test_broken_pipe_is_quiet(capsys, monkeypatch):
    """``vaefail data circle | head``: status 1, no message, no traceback."""
    class Closed:
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            pass

    monkeypatch.setattr(sys, "stdout", Closed())
    rc = cli.main(["data", "circle", "--n", "5"])
    assert rc == 1 and capsys.readouterr().err == ""


def test_version(capsys):
    from vaefail_core import __version__

    rc, out, err = run(capsys, "--version")
    assert rc == 0 and out == f"vaefail {__version__}\n" and err == ""
    assert "vaefail --version" in cli.__doc__ and "MAX_ROWS" in cli.__doc__


def test_surrogates_table(capsys):
    rc, out, err = run(capsys, "surrogates")
    assert rc == 0
    rows = out.strip().splitlines()[1:]
    assert [r.split()[0] for r in rows] == ["figure8", "circle", "absolute_value", "clusters",
                                          "spiral_dots", "semicircle_discrete",
                                          "semicircle_continuous"]
    assert all(r.split()[-1] == "yes" for r in rows)


def test_module_entry_point(tmp_path):
    """``python -m vaefail_core.cli``: real process, exit codes, no traceback."""
    from vaefail_core import __version__

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop(cli.DEBUG_ENV, None)
    call = lambda *argv: subprocess.run([sys.executable, "-m", "vaefail_core.cli", *argv],
                                        capture_output=True, text=True, env=env, cwd=tmp_path)
    ok = call("data", "circle", "--n", "3", "--out", str(tmp_path / "c.csv"))
    assert ok.returncode == 0, ok.stderr
    assert len(pd.read_csv(tmp_path / "c.csv")) == 3
    bad = call("data", "figure8", "--n", "100000000000", "--out", "x.csv")
    assert bad.returncode == 2 and bad.stdout == ""
    one_error_line(bad.stderr, "above the limit of 10,000,000 rows")
    assert not (tmp_path / "x.csv").exists()
    version = call("--version")
    assert version.returncode == 0 and version.stdout == f"vaefail {__version__}\n"
