"""Tests for vaefail_core.uci. They never touch the network: downloads are disabled or
the fetch function is replaced."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from vaefail_core import uci
from vaefail_core.uci import (
    MESSIDOR_SHA256,
    ChecksumError,
    load_uci,
    messidor_path,
    uci_splits,
)


def _find_real_messidor() -> Path | None:
    env = os.environ.get("VAEFAIL_MESSIDOR")
    for p in ([Path(env)] if env else []) + uci._candidates():
        if p.is_file() and hashlib.sha256(p.read_bytes()).hexdigest() == MESSIDOR_SHA256:
            return p
    return None


REAL = _find_real_messidor()
needs_messidor = pytest.mark.skipif(
    REAL is None, reason="messidor_features.arff not present ($VAEFAIL_MESSIDOR, ../shared/data or ~/.cache/vaefail)")


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """No test may download: make any fetch fail loudly."""
    def boom(url):
        raise AssertionError(f"test tried to download {url}")
    monkeypatch.setattr(uci, "_fetch", boom)
    monkeypatch.setenv("VAEFAIL_NO_DOWNLOAD", "1")


@pytest.fixture
def nowhere(monkeypatch, tmp_path):
    """No file anywhere: env var unset, repo root and home moved to empty folders."""
    monkeypatch.delenv("VAEFAIL_MESSIDOR", raising=False)
    monkeypatch.setattr(uci, "_REPO_ROOT", tmp_path / "repo" / "main")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


# ------------------------------------------------------------------- KEEL data sets

@pytest.mark.parametrize("name,n,d,n_classes", [
    ("uci_titanic", 2201, 3, 2), ("uci_contraceptive", 1473, 9, 3)])
def test_keel_shapes(name, n, d, n_classes):
    s = load_uci(name)
    assert s.x.shape == (n, d) and s.x.dtype == np.float32
    assert s.y.shape == (n,) and s.y.dtype == np.int64
    assert s.z is None and s.label_mask is None
    assert s.n_classes == n_classes and len(s.columns) == d
    assert set(s.y.tolist()) == set(range(n_classes))
    # standardised per column
    np.testing.assert_allclose(s.x.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(s.x.std(0), 1, atol=1e-4)


def test_titanic_labels_and_raw_values():
    s = load_uci("titanic")          # short names work too
    assert s.classes == (-1, 1)
    assert int(s.y.sum()) == 711     # survivors in the KEEL file
    raw = s.x.astype(np.float64) * s.std + s.mean
    assert len(np.unique(raw.round(3), axis=0)) <= 16     # 4 classes x 2 ages x 2 sexes


def test_contraceptive_classes():
    s = load_uci("uci_contraceptive")
    assert s.classes == (1, 2, 3)
    assert np.bincount(s.y).tolist() == [629, 333, 511]


def test_subsample_and_errors():
    a = load_uci("uci_titanic", n=100, seed=3)
    b = load_uci("uci_titanic", n=100, seed=3)
    c = load_uci("uci_titanic", n=100, seed=4)
    assert len(a) == 100 and np.array_equal(a.rows, b.rows) and not np.array_equal(a.rows, c.rows)
    with pytest.raises(ValueError, match="n must be"):
        load_uci("uci_titanic", n=5000)
    with pytest.raises(ValueError, match="unknown UCI data set"):
        load_uci("uci_iris")


# ------------------------------------------------------------------------------ splits

@pytest.mark.parametrize("name", ["uci_titanic", "uci_contraceptive"])
def test_splits_disjoint_covering_equal(name):
    n = len(load_uci(name))
    sp = uci_splits(name, split=0)
    rows = [sp[k].rows for k in ("train", "val", "test")]
    sizes = [len(r) for r in rows]
    assert max(sizes) - min(sizes) <= 1 and sum(sizes) == n
    allrows = np.concatenate(rows)
    assert len(np.unique(allrows)) == n                  # disjoint and covering
    # training statistics: train is standardised exactly, val/test approximately
    np.testing.assert_allclose(sp["train"].x.mean(0), 0, atol=1e-5)
    assert np.allclose(sp["val"].mean, sp["train"].mean)
    # another split is another permutation; same split is reproducible
    assert not np.array_equal(uci_splits(name, split=1)["train"].rows, sp["train"].rows)
    assert np.array_equal(uci_splits(name, split=0)["train"].rows, sp["train"].rows)


@pytest.mark.parametrize("name", ["uci_titanic", "uci_contraceptive"])
def test_label_fraction(name):
    for split in range(2):
        sp = uci_splits(name, split=split)
        for part in ("train", "val", "test"):
            s = sp[part]
            m, y = s.label_mask, s.y
            assert m.dtype == bool and m.shape == y.shape
            assert abs(m.mean() - 0.1) < 0.01, m.mean()
            for c in range(s.n_classes):   # stratified: 10% of every class
                assert abs(m[y == c].mean() - 0.1) < 0.02
    sp = uci_splits(name, split=0, label_fraction=0.5)
    assert abs(sp["train"].label_mask.mean() - 0.5) < 0.01


def test_split_errors():
    with pytest.raises(ValueError, match="split must be"):
        uci_splits("uci_titanic", split=-1)
    with pytest.raises(ValueError, match="label_fraction"):
        uci_splits("uci_titanic", split=0, label_fraction=0.0)


# ------------------------------------------------------------------------- retinopathy

@needs_messidor
def test_retinopathy_shapes_and_splits(monkeypatch):
    monkeypatch.setenv("VAEFAIL_MESSIDOR", str(REAL))
    s = load_uci("uci_retinopathy")
    assert s.x.shape == (1151, 19) and s.classes == (0, 1)
    assert np.bincount(s.y).tolist() == [540, 611]
    sp = uci_splits("uci_retinopathy", split=2)
    assert [len(sp[k]) for k in ("train", "val", "test")] == [384, 384, 383]
    assert abs(sp["train"].label_mask.sum().item() - 38.4) <= 1.5   # 10% of 384


@needs_messidor
def test_retinopathy_found_in_default_locations(monkeypatch, nowhere):
    """Without the env var, the copy in <repo>/../shared/data is used."""
    shared = nowhere / "repo" / "shared" / "data"
    shared.mkdir(parents=True)
    (shared / "messidor_features.arff").write_bytes(REAL.read_bytes())
    assert messidor_path(download=False) == shared / "messidor_features.arff"


def test_corrupted_copy_is_rejected(monkeypatch, tmp_path):
    bad = tmp_path / "messidor_features.arff"
    bad.write_text("@relation dr\n@attribute 0 numeric\n@data\n1\n")
    monkeypatch.setenv("VAEFAIL_MESSIDOR", str(bad))
    with pytest.raises(ChecksumError, match="sha256"):
        load_uci("uci_retinopathy")
    with pytest.raises(ValueError, match=str(bad)):     # ChecksumError is a ValueError
        messidor_path()


def test_env_var_pointing_nowhere(monkeypatch, tmp_path):
    monkeypatch.setenv("VAEFAIL_MESSIDOR", str(tmp_path / "missing.arff"))
    with pytest.raises(FileNotFoundError, match="VAEFAIL_MESSIDOR"):
        load_uci("uci_retinopathy")


def test_missing_everywhere_and_download_disabled(nowhere):
    with pytest.raises(FileNotFoundError, match="download disabled") as err:
        messidor_path()                                   # VAEFAIL_NO_DOWNLOAD=1
    msg = str(err.value)
    assert "VAEFAIL_MESSIDOR" in msg and "archive.ics.uci.edu" in msg and ".cache/vaefail" in msg
    with pytest.raises(FileNotFoundError):
        messidor_path(download=False)


def test_download_is_checked_and_cached(monkeypatch, nowhere):
    """The download path, with the network replaced by a fake fetch."""
    monkeypatch.setattr(uci, "_fetch", lambda url: b"not the data")
    with pytest.raises(ChecksumError, match="downloaded"):
        messidor_path(download=True)
    cached = nowhere / "home" / ".cache" / "vaefail" / "messidor_features.arff"
    assert not cached.exists()                            # nothing bad is cached
    if REAL is not None:
        monkeypatch.setattr(uci, "_fetch", lambda url: REAL.read_bytes())
        assert messidor_path(download=True) == cached and cached.is_file()
        # second call finds the cache and does not fetch again
        monkeypatch.setattr(uci, "_fetch", lambda url: pytest.fail("fetched twice"))
        assert messidor_path(download=True) == cached

    def offline(url):
        raise OSError("network unreachable")
    cached.unlink(missing_ok=True)
    monkeypatch.setattr(uci, "_fetch", offline)
    with pytest.raises(FileNotFoundError, match="download of .* failed"):
        messidor_path(download=True)
