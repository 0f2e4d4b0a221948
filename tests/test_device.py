"""The CUDA path of the sweeps (issue 16): ``vaefail sweep --device``, the device-aware
ensemble cap (``sweep.max_models_for``), and the evaluation code on the model's device.

CPU only: where a GPU would be needed, ``torch.cuda`` is monkeypatched (availability,
free memory) or the model lives on ``torch.device("meta")`` (shapes without data: any
tensor made on the CPU and mixed with the model's raises a device error). Nothing here
is skipped on a machine without a GPU.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from vaefail_core import cli, m2
from vaefail_core.paper import appE3, records
from vaefail_core import evaluate as ev
from vaefail_core import sweep
from vaefail_core.nets import HIDDEN_UCI
from vaefail_core.objectives import M2VAE, VAE, GaussianRegression, MemberRNG, VAEConfig, make_objective
from vaefail_core.profiles import PROFILES, get_profile
from vaefail_core.sweep import Task, max_models_for, member_bytes, plan_groups, resolve_device, run_sweep
from vaefail_core.train import BatchStream, _stack_data, _take

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:      # test_sweep doubles as a small data loader
    sys.path.insert(0, str(HERE))
LOADER = "test_sweep"
GiB = 1 << 30


def run(capsys, *argv):
    rc = cli.main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def no_gpu(monkeypatch):
    """torch reports no GPU, whatever the machine has."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.fixture
def fake_gpu(monkeypatch):
    """torch reports one GPU with ``free`` bytes free (set ``fake_gpu.free``)."""
    class Fake:
        free, total = 64 * GiB, 80 * GiB

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (Fake.free, Fake.total))
    return Fake


@pytest.fixture
def captured_sweep(monkeypatch):
    """``run_named_sweep`` replaced by a recorder (the CLI's checks run, nothing trains)."""
    calls = []

    class Res(list):
        n_computed = n_cached = 0

    def fake(name, profile, **kw):
        calls.append({"name": name, "profile": profile, **kw})
        return Res()

    monkeypatch.setattr(records, "run_named_sweep", fake)
    return calls


# --------------------------------------------------------------------------------------
# vaefail sweep --device
# --------------------------------------------------------------------------------------
def test_cuda_without_a_gpu_is_a_one_line_error(capsys, no_gpu, captured_sweep):
    rc, out, err = run(capsys, "sweep", "section5", "--profile", "quick", "--device", "cuda")
    assert rc == 2 and out == "" and not captured_sweep
    assert err.count("\n") == 1 and err.startswith("vaefail: error: ")
    assert "cuda" in err and "torch.cuda.is_available() is False" in err
    with pytest.raises(ValueError, match="no CUDA GPU"):
        resolve_device("cuda")


def test_auto_resolves_to_cpu_on_this_machine(capsys, captured_sweep):
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto") == expected
    rc, out, err = run(capsys, "sweep", "section5", "--profile", "quick", "--device", "auto")
    assert rc == 0 and err == ""
    assert captured_sweep[-1]["device"] == expected
    if expected == "cpu":           # the CPU defaults: as without the flag
        assert captured_sweep[-1]["workers"] == cli.DEFAULT_WORKERS


def test_device_flag_default_and_choices(capsys, captured_sweep, no_gpu):
    assert resolve_device(None) == resolve_device("cpu") == "cpu" == resolve_device("auto")
    rc, _, err = run(capsys, "sweep", "section5", "--profile", "quick")
    assert rc == 0 and err == ""
    assert captured_sweep[-1]["device"] == "cpu" and captured_sweep[-1]["workers"] == cli.DEFAULT_WORKERS
    rc, out, err = run(capsys, "sweep", "section5", "--profile", "quick", "--device", "tpu")
    assert rc == 2 and out == "" and err.count("\n") == 1 and "unknown device" in err
    assert len(captured_sweep) == 1


def test_cuda_flag_with_a_gpu(capsys, captured_sweep, fake_gpu):
    assert resolve_device("auto") == "cuda" == resolve_device("cuda")
    rc, _, err = run(capsys, "sweep", "section7", "--profile", "paper", "--device", "cuda")
    assert rc == 0 and err == ""
    assert captured_sweep[-1]["device"] == "cuda" and captured_sweep[-1]["workers"] == 1   # one process per GPU
    rc, _, err = run(capsys, "sweep", "section7", "--profile", "paper", "--device", "cuda", "--workers", "3")
    assert rc == 0 and captured_sweep[-1]["workers"] == 3
    rc, out, err = run(capsys, "sweep", "section7", "--profile", "paper", "--device", "cuda",
                       "--dask", "local:2")
    assert rc == 2 and out == "" and err.count("\n") == 1 and "--dask" in err


def test_run_named_sweep_refuses_cuda_on_dask(fake_gpu):
    with pytest.raises(ValueError, match="Dask"):
        records.run_named_sweep("section5", "quick", dask="local:1", device="cuda")


# --------------------------------------------------------------------------------------
# Ensembles sized to the device
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(PROFILES))
def test_cpu_cap_is_the_profiles(name):
    p = get_profile(name)
    assert max_models_for("cpu", p) == p.max_models == max_models_for(None, name)
    assert max_models_for(torch.device("cpu"), name, 9, 2, 3, HIDDEN_UCI, 20, False) == p.max_models


def test_fake_cuda_memory_gives_a_larger_bounded_cap(fake_gpu):
    p = get_profile("paper")
    fake_gpu.free = 64 * GiB
    big = max_models_for("cuda", p)
    assert p.max_models < big <= sweep.CUDA_MAX_MODELS
    fake_gpu.free = 10_000 * GiB                          # the bound holds for any GPU
    assert max_models_for("cuda", p) == sweep.CUDA_MAX_MODELS
    fake_gpu.free = 8 * GiB                               # the formula (docstring of max_models_for)
    D, K, L, S = 9, 2, 3, 20
    per = member_bytes(p, D, K, L, HIDDEN_UCI, S, ground_truth=False)
    reserve = sweep.CUDA_CONTEXT_BYTES + 4 * sweep.ACTIVATION_COPIES * sweep.EVAL_CHUNK_ROWS * (max(HIDDEN_UCI) + D + K + L)
    cap = max_models_for("cuda", p, D, K, L, HIDDEN_UCI, S, ground_truth=False)
    assert cap == int((sweep.CUDA_MEMORY_FRACTION * 8 * GiB - reserve) // per) and 1 < cap < sweep.CUDA_MAX_MODELS
    assert max_models_for("cuda", p, D, K, L, HIDDEN_UCI, 1, False) >= cap     # fewer samples, more members
    fake_gpu.free = 0                                     # a full GPU still trains one member at a time
    assert max_models_for("cuda", p) == 1
    # the estimate grows with every width that costs memory
    assert member_bytes(p, 2, 1) < member_bytes(p, 5, 1) < member_bytes(p, 5, 1, 2) < member_bytes(p, 5, 1, 2, HIDDEN_UCI)
    assert member_bytes(p, 2, 1, iwae_samples=50) > member_bytes(p, 2, 1, iwae_samples=20) >= member_bytes(p, 2, 1)
    assert member_bytes(p, 2, 1, ground_truth=False) < member_bytes(p, 2, 1)


def _plan_before(tasks, loader="vaefail_core.data"):
    """``plan_groups`` as it was before the device-aware cap (the profile's max_models)."""
    ld = sweep._loader(loader)
    cache, buckets = {}, {}
    for t in tasks:
        buckets.setdefault(sweep._shape_key(t, sweep._info(ld, t, cache)), []).append(t)
    groups = []
    for key, ts in buckets.items():
        cap = get_profile(key[0]).max_models
        cur, n = [], 0
        for t in ts:
            k = len(t.restart_ids())
            if cur and n + k > cap:
                groups.append(cur)
                cur, n = [], 0
            cur.append(t)
            n += k
        if cur:
            groups.append(cur)
    return groups


@pytest.mark.parametrize("name", sorted(records.SWEEPS))
def test_cpu_groups_unchanged_quick(name):
    tasks = records.SWEEPS[name]("quick")
    if name == "uci":     # planning reads each set's file; the retinopathy file may be absent
        have = {ds for ds in {t.dataset for t in tasks} if appE3.data_error(ds) is None}
        assert have, "no UCI data file at all"
        tasks = [t for t in tasks if t.dataset in have]
    before = _plan_before(tasks)
    assert plan_groups(tasks) == before
    assert plan_groups(tasks, device="cpu") == before
    assert plan_groups(tasks, device=torch.device("cpu")) == before


def test_cuda_groups_are_larger_and_within_the_cap(fake_gpu):
    tasks = records.SWEEPS["section5"]("reduced")    # CPU: buckets split at 40 members
    cpu = plan_groups(tasks, device="cpu")
    gpu = plan_groups(tasks, device="cuda")
    assert sorted((t for g in gpu for t in g), key=tasks.index) == tasks      # every task, once
    assert sorted((t for g in cpu for t in g), key=tasks.index) == tasks
    assert len(gpu) < len(cpu)
    size = lambda g: sum(len(t.restart_ids()) for t in g)    # noqa: E731
    assert max(size(g) for g in gpu) > get_profile("reduced").max_models
    fake_gpu.free = 2 * GiB          # little memory: small groups, never a task split
    small = plan_groups(tasks, device="cuda")
    assert len(small) > len(gpu) and all(g for g in small)
    assert plan_groups(tasks, device="cuda", max_models=7) == plan_groups(tasks, device="cpu", max_models=7)


# --------------------------------------------------------------------------------------
# The records: device="cpu" is what a run without the argument writes
# --------------------------------------------------------------------------------------
_TIMING = ("group_seconds", "group_train_seconds")


def test_tiny_sweep_device_cpu_equals_the_default(tmp_path, no_gpu):
    # no_gpu: without ``device`` a group trains on ``default_device()``, which is CUDA on
    # a machine that has one; the comparison is with the CPU run
    tasks = [Task("circle_test", 0, "vae", "quick")]
    a = run_sweep(tasks, tmp_path / "a", loader=LOADER, progress=False)
    b = run_sweep(tasks, tmp_path / "b", loader=LOADER, progress=False, device="cpu")
    assert a.n_computed == b.n_computed == 1
    ra, rb = a.records[0], b.records[0]
    assert ra["device"] == rb["device"] == "cpu" and ra["group_size"] == rb["group_size"]
    strip = lambda r: json.dumps({k: v for k, v in r.items() if k not in _TIMING}, sort_keys=True)  # noqa: E731
    assert strip(ra) == strip(rb)                        # every metric, digit for digit
    assert ra["params_sha256"] == rb["params_sha256"]    # the parameters, bit for bit
    assert (tmp_path / "a" / ra["params_file"]).read_bytes() == (tmp_path / "b" / rb["params_file"]).read_bytes()


# --------------------------------------------------------------------------------------
# Evaluation on the model's device (meta: a device error wherever a CPU tensor is mixed in)
# --------------------------------------------------------------------------------------
@pytest.fixture
def meta_host_copy(monkeypatch):
    """``Tensor.cpu()`` of a meta tensor gives zeros of its shape (a meta tensor has no
    data to copy), so that a function runs to its end; a CPU tensor combined with a meta
    tensor anywhere before still raises."""
    real = torch.Tensor.cpu

    def cpu(self, *a, **k):
        if self.device.type == "meta":
            return torch.zeros(self.shape, dtype=self.dtype)
        return real(self, *a, **k)

    monkeypatch.setattr(torch.Tensor, "cpu", cpu)


M = 3
SEEDS = [11, 12, 13]


def _x(n=40, D=2):
    return np.random.default_rng(0).standard_normal((M, n, D)).astype(np.float32)


def test_unsupervised_evaluation_runs_on_the_models_device(meta_host_copy):
    vae = VAE(VAEConfig(2, 1), M, seeds=SEEDS, noise_var=0.01).to("meta")
    assert vae.device.type == "meta"
    x = _x()
    assert ev.objective_value(vae, make_objective("vae"), x, repeats=2).shape == (M,)
    assert ev.objective_value(vae, make_objective("iwae", 3), x).shape == (M,)
    assert ev.neg_elbo(vae, x, n_samples=2).shape == (M,)
    assert ev.iwae_value(vae, x, 3).shape == (M,)
    assert ev.log_px_importance(vae, x, n_samples=5).shape == (M, 40)
    assert ev.sample_px(vae, 10).shape == (M, 10, 2)
    # (``noise_eq9`` checks its inputs for NaN, which a meta tensor cannot answer)
    assert ev.q_mutual_info(vae, x, MemberRNG(SEEDS, vae.device)).device.type == "meta"


@pytest.mark.parametrize("label, L", [("discrete", 2), ("continuous", 1)])
def test_m2_evaluation_runs_on_the_models_device(meta_host_copy, label, L):
    vae = M2VAE(VAEConfig(2, 1, label_dim=L, label=label), M, seeds=SEEDS, noise_var=0.01).to("meta")
    x = _x()
    y = np.zeros((M, 40, L), np.float32)
    mask = np.zeros((M, 40), bool)
    mask[:, :10] = True
    obj = m2.M2Objective(alpha=(0.1,) * M, gamma=(1.0,) * M)
    assert m2.batch_value(vae, obj, x, y, mask, repeats=2).shape == (M,)
    assert m2.neg_u_value(vae, x, 1, repeats=2).shape == (M,)
    assert m2.neg_u_value(vae, x, 3).shape == (M,)
    assert m2.predictive(vae, x[0], np.zeros(40)).shape == (M,)
    assert m2.collapse_distance(vae, m2.COHORTS[label]).shape == (M,)
    assert m2._prior_labels(vae, 10, "t").device.type == "meta"
    assert ev.sample_px(vae, 10, y=m2.encode_labels_model(vae, np.zeros(10))).shape == (M, 10, 2)


def test_training_step_inputs_live_on_the_models_device():
    """The trainer's pieces that feed a step (data, mini-batches, noise) and the loss
    and gradients of every objective, on a model on the meta device."""
    x = _x()
    data = _stack_data({"x": x, "z": x[..., :1]}, M, "meta")
    batch = _take(data, BatchStream(40, 10, SEEDS).next().to("meta"))
    assert batch["x"].device.type == "meta" and batch["x"].shape == (M, 10, 2)
    vae = VAE(VAEConfig(2, 1), M, seeds=SEEDS, noise_var=0.01).to("meta")
    rng = MemberRNG(SEEDS, vae.device)
    for obj in (make_objective("vae"), make_objective("iwae", 3), GaussianRegression()):
        loss, _ = obj.loss(vae, batch, rng)
        grads = torch.autograd.grad(loss.sum(), [p for p in vae.parameters() if p.requires_grad],
                                    allow_unused=True)
        assert loss.device.type == "meta" and all(g is None or g.device.type == "meta" for g in grads)
    m2v = M2VAE(VAEConfig(2, 1, label_dim=2, label="discrete"), M, seeds=SEEDS).to("meta")
    lab = {"x": batch["x"], "y": torch.zeros(M, 10, 2, device="meta"),
           "label_mask": torch.zeros(M, 10, dtype=torch.bool, device="meta")}
    loss, _ = m2.M2Objective(alpha=(0.1,) * M, gamma=(1.0,) * M).loss(m2v, lab, MemberRNG(SEEDS, "meta"))
    assert torch.autograd.grad(loss.sum(), list(m2v.parameters()))[0].device.type == "meta"
