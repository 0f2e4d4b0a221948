"""Tests of the resumable sweep / results cache (sweep.py) and the profiles.

This module doubles as the sweep's data loader in the tests (``loader="test_sweep"``): it
provides ``get(name)`` and ``splits(name, version, ...)`` for a small Circle data set
(App. G.2), so the tests do not depend on the data module.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from scipy.stats import norm

from vaefail_core.nets import EnsembleMLP
from vaefail_core.profiles import PROFILES, get_profile
from vaefail_core.sweep import (
    EXIT_AFTER_ENV, Task, grid_tasks, load_selected, plan_groups, process_map, record_path,
    records_frame, run_sweep, verify_record,
)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(HERE) not in sys.path:      # the sweep imports this module by name as its loader
    sys.path.insert(0, str(HERE))
LOADER = "test_sweep"
DATASET = "circle_test"


# --------------------------------------------------------------------------------------
# the loader interface (as vaefail_core.data: get, splits)
# --------------------------------------------------------------------------------------
class _CircleTruth:
    latent_dim, data_dim, label_dim, noise_var = 1, 2, 0, 0.01

    def surrogate(self) -> EnsembleMLP:
        return EnsembleMLP(1, 1, 2, seeds=[7])      # stands in for the fitted f_GT network


def get(name: str):
    if name != DATASET:
        raise ValueError(f"unknown data set {name!r}")
    return _CircleTruth()


def splits(name, version, n_train=5000, n_val=2000, n_test=2000):
    get(name)
    rng = np.random.default_rng(100 + version)
    n = n_train + n_val + n_test
    z = rng.standard_normal((n, 1))
    u = 2 * np.pi * norm.cdf(z)
    x = np.concatenate([np.cos(u), np.sin(u)], 1) + math.sqrt(0.01) * rng.standard_normal((n, 2))
    cut = np.cumsum([0, n_train, n_val, n_test])
    return {p: SimpleNamespace(x=x[a:b], z=z[a:b], y=None)
            for p, a, b in zip(("train", "val", "test"), cut[:-1], cut[1:])}


TASKS = [Task(DATASET, v, m, "quick", iwae_samples=3 if m == "iwae" else 0)
         for m in ("vae", "iwae") for v in (0, 1)]
METRICS = ("val_objective", "train_neg_elbo", "val_neg_elbo", "test_neg_elbo")


def _same_results(ra: list[dict], rb: list[dict], cache_a: Path, cache_b: Path):
    for a, b in zip(ra, rb):
        assert a["key"] == b["key"]
        assert a["selected"]["restart"] == b["selected"]["restart"]
        for ma, mb in zip(a["members"], b["members"]):
            for k in METRICS:
                assert ma[k] == pytest.approx(mb[k], rel=1e-4, abs=1e-4), k
        for k in ("test_log_px_is", "knn_test"):
            assert a["selected"][k] == pytest.approx(b["selected"][k], rel=1e-3, abs=1e-3), k
        # bit-for-bit: both runs train the same groups on one machine at one thread
        # (run_sweep plans groups from the whole task list, whatever the cache holds)
        va, vb = load_selected(a, cache_a), load_selected(b, cache_b)
        for k, v in va.state_dict().items():
            np.testing.assert_array_equal(v.numpy(), vb.state_dict()[k].numpy(), err_msg=k)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted sweep, run in 2 worker processes (``process_map``)."""
    d = tmp_path_factory.mktemp("ref")
    res = run_sweep(TASKS, d, loader=LOADER, progress=False, map_fn=process_map(2))
    return d, res


def test_records_hold_every_model_and_the_selected_parameters(reference):
    d, res = reference
    assert res.n_computed == 4 and res.n_cached == 0 and res.n_groups == 2   # vae | iwae
    p = get_profile("quick")
    for task, rec in zip(TASKS, res):
        assert len(rec["members"]) == p.n_restarts
        assert [m["init"] for m in rec["members"]] == ["gt"] * p.n_gt_restarts + ["random"] * p.n_random_restarts
        vals = [m["val_objective"] for m in rec["members"]]
        sel = rec["selected"]["restart"]
        assert vals[sel] == min(vals)                             # selection on validation
        assert rec["members"][sel]["knn_test"] is not None and rec["selected"]["knn_val"] is not None
        assert all(m["knn_test"] is None for m in rec["members"] if m["restart"] != sel)
        assert ("test_neg_iwae" in rec["members"][0]) == (task.method == "iwae")
        assert len(rec["members"][0]["train_loss"]) == p.epochs
        assert np.isfinite(rec["selected"]["test_log_px_is"])
        vae = load_selected(rec, d)
        assert vae.n_models == 1 and vae.cfg.latent_dim == 1
    df = records_frame(res)
    assert len(df) == 4 * p.n_restarts and df["selected"].sum() == 4


def test_sweep_resumes_after_kill_and_equals_uninterrupted_run(tmp_path, reference):
    ref_dir, ref = reference
    cache = tmp_path / "cache"
    script = (f"import sys; sys.path[:0] = [{str(REPO)!r}, {str(HERE)!r}]\n"
              "import test_sweep\nfrom vaefail_core.sweep import run_sweep\n"
              f"run_sweep(test_sweep.TASKS, {str(cache)!r}, loader='test_sweep', progress=False)\n")
    env = {**os.environ, EXIT_AFTER_ENV: "1", "VAEFAIL_QUIET": "1"}
    proc = subprocess.run([sys.executable, "-c", script], env=env, timeout=300,
                          capture_output=True, text=True)
    assert proc.returncode == 75, proc.stderr[-2000:]
    first = [t for t in TASKS if verify_record(t, cache) is not None]
    assert [t.method for t in first] == ["vae", "vae"]          # exactly the first group
    assert len(list(cache.glob("*.json"))) == 2
    stamps = {t: record_path(t, cache).stat().st_mtime_ns for t in first}

    res = run_sweep(TASKS, cache, loader=LOADER, progress=False)
    assert (res.n_cached, res.n_computed, res.n_groups) == (2, 2, 1)
    assert all(record_path(t, cache).stat().st_mtime_ns == s for t, s in stamps.items())
    _same_results(res.records, ref.records, cache, ref_dir)

    again = run_sweep(TASKS, cache, loader=LOADER, progress=False)
    assert again.n_computed == 0 and again.n_groups == 0

    # corrupt three entries in three ways; only those are recomputed
    p0, p1, p2, p3 = (record_path(t, cache) for t in TASKS)
    p0.write_bytes(p0.read_bytes()[:200])                                   # truncated JSON
    rec = json.loads(p1.read_text())
    rec["key"] = "0" * 64
    p1.write_text(json.dumps(rec))                                          # hash mismatch
    npz = p2.with_suffix(".npz")
    npz.write_bytes(npz.read_bytes()[:-10] + b"0123456789")                 # bad parameters
    keep = p3.stat().st_mtime_ns
    fixed = run_sweep(TASKS, cache, loader=LOADER, progress=False)
    assert (fixed.n_computed, fixed.n_cached) == (3, 1)
    assert p3.stat().st_mtime_ns == keep
    assert all(verify_record(t, cache) is not None for t in TASKS)
    _same_results(fixed.records, ref.records, cache, ref_dir)


def test_task_keys_grouping_and_validation():
    a = Task(DATASET, 0, "lin", "quick", lin_T=0.1, lin_R=5)
    assert a.key == Task(DATASET, 0, "lin", "quick", lin_T=0.1, lin_R=5).key
    assert a.key != Task(DATASET, 0, "lin", "quick", lin_T=0.05, lin_R=5).key
    assert a.key != Task(DATASET, 0, "lin", "reduced", lin_T=0.1, lin_R=5).key
    assert a.label == "circle_test-v0-lin-T0.1-R5"
    assert Task.from_dict(a.config()["task"]).key == a.key
    for bad in (dict(method="flows"), dict(method="iwae"), dict(method="vae", iwae_samples=3),
                dict(method="lin"), dict(profile="huge"), dict(knn="some"), dict(restarts=())):
        with pytest.raises(ValueError):
            Task(DATASET, 0, **bad)
    # LIN settings and versions share an ensemble; methods / S do not; max_models splits
    ts = grid_tasks([DATASET], "paper", methods=("vae", "lin", "iwae"), versions=(0, 1))
    assert len(ts) == 2 * (1 + 4 + 3)
    groups = plan_groups(ts, loader=LOADER, max_models=1000)
    kinds = sorted((g[0].method, g[0].iwae_samples, len(g)) for g in groups)
    assert kinds == [("iwae", 3, 2), ("iwae", 10, 2), ("iwae", 20, 2), ("lin", 0, 8), ("vae", 0, 2)]
    small = plan_groups(ts, loader=LOADER, max_models=25)
    assert max(sum(len(t.restart_ids()) for t in g) for g in small) <= 25
    assert sum(len(g) for g in small) == len(ts)


def test_profiles():
    p = get_profile("paper")
    assert (p.n_versions, p.n_train, p.n_val, p.n_test) == (5, 5000, 2000, 2000)   # App. D
    assert (p.n_gt_restarts, p.n_random_restarts, p.epochs, p.epochs_real) == (5, 5, 100, 20000)
    assert (p.lr, p.batch_size) == (1e-3, 100)
    assert p.iwae_S == (3, 10, 20) and p.lin_T == (0.05, 0.1) and p.lin_R == (5, 10)
    assert p.ss_alpha == (0.0, 0.1, 1.0) and p.ss_gamma == (0.5, 1.0, 2.0, 5.0)
    assert set(PROFILES) == {"quick", "reduced", "paper"}
    for name in PROFILES:
        d = get_profile(name).describe()
        assert d["profile"] == name and "restarts (synthetic)" in d
    with pytest.raises(ValueError, match="unknown profile"):
        get_profile("fast")


def test_gt_start_settings_enter_the_key_only_where_they_change_training():
    """Tasks without ground-truth members (UCI, K != K_GT) and "legacy" tasks keep the
    keys they had before the "stable" start existed; "stable" tasks with ground-truth
    members hash its settings."""
    stable = Task("figure8", 0, "vae", "reduced")
    legacy = Task("figure8", 0, "vae", "reduced", gt_start="legacy")
    k2 = Task("figure8_5d", 0, "vae", "reduced", latent_dim=2)
    assert stable.has_gt_members() and not k2.has_gt_members()
    assert stable.key != legacy.key
    assert "gt_start" in stable.config()["task"] and "gt_encoder_restarts" in stable.config()["profile"]
    for t in (legacy, k2, Task("figure8", 0, "vae", "reduced", restarts=(3, 4))):
        c = t.config()
        assert "gt_start" not in c["task"] and "gt_lr_warmup_epochs" not in c["profile"]
    assert k2.key == Task("figure8_5d", 0, "vae", "reduced", latent_dim=2, gt_start="legacy").key
    for t in (stable, legacy, k2):     # a task rebuilt from its config has its key
        assert Task.from_dict(t.config()["task"]).key == t.key
    assert stable.gt_train_kwargs()["gt_encoder_restarts"] == 3
    assert "gt_encoder_restarts" not in legacy.gt_train_kwargs()
    with pytest.raises(ValueError):
        Task("figure8", 0, "vae", "reduced", gt_start="warm")
