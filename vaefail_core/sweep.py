"""Sweeps: lists of small, pure task configs -> a resumable, verifiable results cache.

A ``Task`` names one data set version, one method with its hyper-parameters and a block
of restarts under a profile (``profiles.py``). ``run_sweep(tasks)``:

1. skips every task whose record in ``cache_dir`` exists and verifies (parses, carries
   the key of the task's full config + ``CODE_VERSION``, and its parameter file has the
   recorded sha256); anything else (missing, truncated, edited, stale) is recomputed;
2. groups the remaining tasks whose shapes match (same D, K, method, S, learned-noise
   flag, architecture, profile) into ensembles of at most ``profile.max_models`` members
   (on a GPU, ``device="cuda"``: as many as its free memory holds, ``max_models_for``):
   restarts x data versions x LIN (T, R) x data sets share one batched model;
3. maps ``run_group`` over the groups (``map_fn``, default: the in-process ``map``; any
   map that yields results in order works, e.g. a wrapper around Dask's ``client.map``),
   and writes each task's record as soon as its group finishes, atomically (parameters
   first, then the JSON record, so a valid record implies valid parameters).

``run_group`` is a pure function of its (JSON-able) argument: it loads the data by name
(``loader``, a module path providing ``get`` and ``splits``, default
``vaefail_core.data``), trains, evaluates and returns the records; no global state.

A record (one JSON file per task, ``<cache_dir>/<label>-<key[:16]>.json``) holds metrics
for *every* trained model (train/val/test -ELBO, the IWAE bound for IWAE, the validation
objective used for selection, learned noise variances, LIN statistics, the training
curve) and, for the restart with the best validation objective (Sec. 4), the smooth kNN
statistic of its samples against the validation and the test set, an importance-sampled
test log p(x), the Eq. 9 noise estimate (on the training set), and its float32
parameters (``<same name>.npz``).

Test hook: with the environment variable ``VAEFAIL_SWEEP_EXIT_AFTER=n`` the process
exits (status 75) right after writing the records of the n-th group, to test resuming.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import math
import multiprocessing
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import pandas as pd
import torch

from . import __version__, default_device, m2, set_seed
from . import cache as _cache     # the module (``cache`` names a local dict below)
from . import evaluate as ev
from .cache import atomic_write_bytes
from .data import get, synthetic_names
from .evaluate import load_member
from .nets import HIDDEN_SYNTHETIC, HIDDEN_UCI
from .objectives import VAEConfig, derive_seed, make_objective
from .profiles import Profile, get_profile
from .train import Member, TrainConfig, cpu_ensemble_size, progress_enabled, train_ensemble

__all__ = ["CODE_VERSION", "Task", "GT_STARTS", "is_semi", "SweepResult", "run_sweep", "run_group", "plan_groups", "process_map",
           "grid_tasks", "record_path", "load_record", "verify_record", "load_selected",
           "records_frame", "load_or_run", "EXIT_AFTER_ENV", "REPO_ROOT", "DEVICES", "resolve_device",
           "max_models_for", "member_bytes"]

#: Bump when a change alters what the trainer or the evaluation computes: every cached
#: record with another code version is recomputed.
CODE_VERSION = f"vaefail-{__version__}/train-1"
EXIT_AFTER_ENV = "VAEFAIL_SWEEP_EXIT_AFTER"
REPO_ROOT = Path(__file__).resolve().parents[1]
#: the paper's methods (App. D; ``grid_tasks``' default)
METHODS = ("vae", "iwae", "lin")
#: every method a task may name: the paper's, and "flow" (ours, issue 15: the ELBO with a
#: normalizing-flow encoder, ``objectives.FlowVAE``; its layer count is ``Task.flow_layers``)
TASK_METHODS = (*METHODS, "flow")
#: the flow's grid of layer counts per profile (``grid_tasks``; not a ``Profile`` field,
#: since every field of the profile enters every task's key). A flow ensemble costs about
#: 2.0x (L = 1), 2.4x (L = 2) and 3.5x (L = 4) a VAE's per epoch on the CPU, so "reduced"
#: stops at L = 2 (its sweep: 26 min on 2 cores shared with other jobs)
FLOW_LAYERS = {"quick": (2,), "reduced": (1, 2), "paper": (1, 2, 4)}
#: how a ground-truth restart starts (train.py, "Ground-truth initialisation")
GT_STARTS = {
    "legacy": "decoder = surrogate; one encoder fit with the decoder frozen; joint training "
              "with plain Adam (records trained before the stable start existed)",
    "stable": "decoder = surrogate; App. D's encoder restarts (the profile's "
              "gt_encoder_restarts, best kept); the learning rate of these members warmed up "
              "linearly over the profile's gt_lr_warmup_epochs",
}
#: the profile fields that only the "stable" start reads
GT_START_PROFILE_FIELDS = ("gt_encoder_restarts", "gt_lr_warmup_epochs")
#: stopping rules on the validation objective (``train.py``, "Stopping on the validation
#: objective"): the profile's epoch count becomes a cap. "none": train every epoch (the
#: paper's synthetic protocol and every cached record of Sections 5-8). "val": check the
#: validation objective every ``every`` epochs; a member stops after ``patience`` checks
#: without an improvement of more than ``min_delta`` nats per point, and keeps its best
#: check's parameters (the UCI sweep, App. D: "trained 20,000 epochs and verified
#: convergence"). A rule other than "none" enters the task's key with its parameters.
STOP_RULES = {
    "none": None,
    "val": {"every": 10, "patience": 20, "min_delta": 0.0, "repeats": 2},
}


def _is_real(dataset: str) -> bool:
    """The UCI data sets (no ground truth; 3 x 100 networks, App. D)."""
    return dataset.startswith("uci_")


@dataclass(frozen=True)
class Task:
    """One cell of a sweep: a data set version, a method with its hyper-parameters, and
    a block of restarts (ids; 0 .. n_gt-1 start at the ground truth where possible)."""

    dataset: str
    version: int
    method: str = "vae"
    profile: str = "quick"
    latent_dim: int | None = None          #: None: the ground truth's K
    iwae_samples: int = 0                  #: S (IWAE only)
    lin_T: float = 0.0                     #: LIN only
    lin_R: int = 0                         #: LIN only
    learn_noise: bool = False              #: learn sigma^2 per data dimension (Sec. 8)
    noise_var: float | None = None         #: None: the ground truth's
    restarts: tuple[int, ...] | None = None  #: None: all of the profile's restarts
    knn: str = "selected"                  #: smooth kNN for "none" | "selected" | "all"
    extra: tuple[tuple[str, float], ...] = ()   #: hyper-parameters of future objectives
    gt_start: str = "stable"               #: ground-truth start: "stable" | "legacy" (GT_STARTS)
    stop_rule: str = "none"                #: stopping on the validation objective (STOP_RULES)
    epochs: int | None = None              #: None: the profile's epoch count (its cap under a stop rule)
    flow_layers: int = 0                   #: flow only: spline layers of q (in the key only for "flow")

    def __post_init__(self):
        if self.method not in TASK_METHODS:
            raise ValueError(f"unknown method {self.method!r}; use one of {TASK_METHODS}")
        if (self.method == "flow") != (self.flow_layers >= 1) or self.flow_layers < 0:
            raise ValueError(f"a flow task needs flow_layers >= 1 and other methods 0; got method "
                             f"{self.method!r} with flow_layers={self.flow_layers}")
        if self.method == "flow" and is_semi(self):
            raise ValueError("a flow task is unsupervised (no alpha / gamma in extra)")
        if self.method == "iwae" and self.iwae_samples < 1:
            raise ValueError("an IWAE task needs iwae_samples >= 1")
        if self.method != "iwae" and self.iwae_samples:
            raise ValueError(f"iwae_samples is for method 'iwae', not {self.method!r}")
        if self.method == "lin" and (self.lin_R < 1 or self.lin_T < 0):
            raise ValueError("a LIN task needs lin_R >= 1 and lin_T >= 0")
        if self.method != "lin" and (self.lin_R or self.lin_T):
            raise ValueError(f"lin_T / lin_R are for method 'lin', not {self.method!r}")
        if self.knn not in ("none", "selected", "all"):
            raise ValueError(f"knn must be 'none', 'selected' or 'all', got {self.knn!r}")
        if self.gt_start not in GT_STARTS:
            raise ValueError(f"gt_start must be one of {tuple(GT_STARTS)}, got {self.gt_start!r}")
        if self.stop_rule not in STOP_RULES:
            raise ValueError(f"stop_rule must be one of {tuple(STOP_RULES)}, got {self.stop_rule!r}")
        if self.stop_rule != "none" and self.method == "lin":
            raise ValueError("a stopping rule is for VAE and IWAE tasks, not LIN")
        if self.epochs is not None:
            if int(self.epochs) != self.epochs or self.epochs < 1:
                raise ValueError(f"epochs must be a positive integer or None, got {self.epochs!r}")
            object.__setattr__(self, "epochs", int(self.epochs))
        get_profile(self.profile)
        if self.restarts is not None:
            object.__setattr__(self, "restarts", tuple(int(r) for r in self.restarts))
            if not self.restarts or len(set(self.restarts)) != len(self.restarts):
                raise ValueError("restarts must be a non-empty tuple of distinct ids")
        object.__setattr__(self, "extra", tuple((str(k), float(v)) for k, v in self.extra))

    @property
    def prof(self) -> Profile:
        return get_profile(self.profile)

    def restart_ids(self) -> tuple[int, ...]:
        if self.restarts is not None:
            return self.restarts
        n = self.prof.n_restarts_real if _is_real(self.dataset) else self.prof.n_restarts
        return tuple(range(n))

    def has_gt_members(self) -> bool:
        """Whether some restart can start at the ground truth: a synthetic set at its true
        K, with a restart id below the profile's ``n_gt_restarts`` (``run_group`` also
        checks the labels and the surrogate)."""
        if self.dataset not in synthetic_names():
            return False
        K = get(self.dataset).latent_dim
        return ((self.latent_dim is None or self.latent_dim == K)
                and any(r < self.prof.n_gt_restarts for r in self.restart_ids()))

    def gt_train_kwargs(self) -> dict:
        """The ``TrainConfig`` fields of the ground-truth start (see ``GT_STARTS``)."""
        p = self.prof
        kw = {"gt_warm_epochs": p.gt_warm_epochs, "gt_fit_epochs": p.gt_fit_epochs}
        if self.gt_start == "stable":
            kw.update(gt_encoder_restarts=p.gt_encoder_restarts, gt_lr_warmup_epochs=p.gt_lr_warmup_epochs)
        return kw

    def train_epochs(self) -> int:
        """The epochs the task trains (its cap under a stopping rule): ``epochs`` when
        set, else the profile's ``epochs_real`` (UCI) or ``epochs`` (synthetic)."""
        if self.epochs is not None:
            return self.epochs
        return self.prof.epochs_real if _is_real(self.dataset) else self.prof.epochs

    def stop_train_kwargs(self) -> dict:
        """The ``TrainConfig`` fields of the task's stopping rule (none for "none")."""
        rule = STOP_RULES[self.stop_rule]
        if rule is None:
            return {}
        return {"stop_patience": int(rule["patience"]), "stop_every": int(rule["every"]),
                "stop_min_delta": float(rule["min_delta"]), "stop_repeats": int(rule["repeats"])}

    def config(self) -> dict:
        """The full configuration the result depends on (hashed into the key).

        The ground-truth start's settings (``gt_start`` and the profile's
        ``gt_encoder_restarts`` / ``gt_lr_warmup_epochs``) enter only where they change
        the training: a task with ground-truth members and ``gt_start="stable"``. The keys
        of every other task are those they had before these settings existed, so their
        cached records stay valid. Likewise ``stop_rule`` enters (with the rule's
        parameters, as ``config["stop"]``) only when it is not "none", ``epochs``
        only when it overrides the profile's count, and ``flow_layers`` only in a flow
        task's key."""
        d = asdict(self)
        d["restarts"] = list(self.restart_ids())
        d["extra"] = [list(kv) for kv in self.extra]
        prof = self.prof.to_dict()
        if self.gt_start == "legacy" or not self.has_gt_members():
            del d["gt_start"]
            for k in GT_START_PROFILE_FIELDS:
                prof.pop(k)
        out = {"task": d, "profile": prof, "code_version": CODE_VERSION}
        if self.stop_rule == "none":
            del d["stop_rule"]
        else:
            out["stop"] = dict(STOP_RULES[self.stop_rule])
        if self.epochs is None:
            del d["epochs"]
        if self.method != "flow":          # the keys of the other methods' tasks stay as they were
            del d["flow_layers"]
        return out

    @property
    def key(self) -> str:
        blob = json.dumps(self.config(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    @property
    def label(self) -> str:
        s = f"{self.dataset}-v{self.version}-{self.method}"
        if self.method == "iwae":
            s += f"-S{self.iwae_samples}"
        if self.method == "lin":
            s += f"-T{self.lin_T:g}-R{self.lin_R}"
        if self.method == "flow":
            s += f"-L{self.flow_layers}"
        if self.latent_dim is not None:
            s += f"-K{self.latent_dim}"
        if self.learn_noise:
            s += "-learnvar"
        if self.noise_var is not None:
            s += f"-var{self.noise_var:g}"
        for k, v in self.extra:
            s += f"-{k}{v:g}"
        if self.stop_rule != "none":
            s += f"-{self.stop_rule}stop"
        return s

    @classmethod
    def from_dict(cls, d: dict) -> "Task":
        d = dict(d)
        d["restarts"] = tuple(d["restarts"]) if d.get("restarts") is not None else None
        d["extra"] = tuple(tuple(kv) for kv in d.get("extra", ()))
        d.setdefault("gt_start", "legacy")    # a config without it: legacy, or no GT members
        d.setdefault("stop_rule", "none")
        d.setdefault("epochs", None)
        d.setdefault("flow_layers", 0)
        return cls(**d)


def grid_tasks(datasets: Sequence[str], profile: str, methods: Sequence[str] = METHODS,
               versions: Sequence[int] | None = None, **common) -> list[Task]:
    """The paper's unsupervised grid (App. D) for the given data sets under a profile:
    VAE once, IWAE for every S in ``profile.iwae_S``, LIN for every (T, R) in
    ``profile.lin_T x profile.lin_R``; one task per data version (all restarts). Method
    "flow" (not in the default ``methods``): one task per layer count in ``FLOW_LAYERS``."""
    p = get_profile(profile)
    versions = range(p.n_versions) if versions is None else versions
    out = []
    for ds in datasets:
        for v in versions:
            for m in methods:
                if m == "vae":
                    out.append(Task(ds, v, "vae", profile, **common))
                elif m == "iwae":
                    out += [Task(ds, v, "iwae", profile, iwae_samples=s, **common) for s in p.iwae_S]
                elif m == "lin":
                    out += [Task(ds, v, "lin", profile, lin_T=t, lin_R=r, **common)
                            for t in p.lin_T for r in p.lin_R]
                elif m == "flow":
                    out += [Task(ds, v, "flow", profile, flow_layers=n, **common)
                            for n in FLOW_LAYERS[p.name]]
                else:
                    raise ValueError(f"unknown method {m!r}")
    return out


# --------------------------------------------------------------------------------------
# The cache
# --------------------------------------------------------------------------------------
def default_cache_dir(profile: str) -> Path:
    """``results/<profile>`` in the repository (``$VAEFAIL_RESULTS/<profile>`` if set)."""
    return Path(_cache.RESULTS_DIR) / profile     # read at call time: it may be reassigned (tests do)


def record_path(task: Task, cache_dir: str | os.PathLike | None = None) -> Path:
    d = Path(cache_dir) if cache_dir is not None else default_cache_dir(task.profile)
    return d / f"{task.label}-{task.key[:16]}.json"


def _sha256(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def verify_record(task: Task, cache_dir=None) -> dict | None:
    """The task's record if it exists and verifies, else None (see the module docstring)."""
    path = record_path(task, cache_dir)
    try:
        rec = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(rec, dict) or rec.get("key") != task.key or rec.get("code_version") != CODE_VERSION:
        return None
    if rec.get("config") != json.loads(json.dumps(task.config())):
        return None
    pf = rec.get("params_file")
    if pf:
        try:
            if _sha256((path.parent / pf).read_bytes()) != rec.get("params_sha256"):
                return None
        except OSError:
            return None
    if not isinstance(rec.get("members"), list) or len(rec["members"]) != len(task.restart_ids()):
        return None
    return rec


def load_record(task: Task, cache_dir=None) -> dict:
    rec = verify_record(task, cache_dir)
    if rec is None:
        raise FileNotFoundError(f"no valid record for {task.label} in {record_path(task, cache_dir).parent}")
    return rec


def load_selected(record: dict, cache_dir=None, device=None):
    """The selected (best validation objective) model of a record as a single-model VAE."""
    task = Task.from_dict(record["config"]["task"])
    return load_member(record_path(task, cache_dir).parent / record["params_file"], device)[0]


def _write(task: Task, cache_dir, record: dict, params: bytes | None) -> None:
    path = record_path(task, cache_dir)
    if params is not None:
        pf = path.with_suffix(".npz")
        atomic_write_bytes(pf, params)
        record["params_file"], record["params_sha256"] = pf.name, _sha256(params)
    # compact JSON (one line): the committed cache stays small
    atomic_write_bytes(path, json.dumps(record, sort_keys=True, separators=(",", ":")).encode())


# --------------------------------------------------------------------------------------
# Grouping and running
# --------------------------------------------------------------------------------------
def _loader(spec: str):
    mod, _, attr = spec.partition(":")
    obj = importlib.import_module(mod)
    return getattr(obj, attr) if attr else obj


@dataclass(frozen=True)
class _Info:
    """What the engine needs to know about a data set for one task."""

    data_dim: int
    latent_dim: int          #: the model's K (the task's, else the ground truth's)
    latent_dim_gt: int | None
    noise_var: tuple         #: the model's sigma^2 per dimension (fixed or initial)
    noise_var_gt: tuple | None
    truth: object | None     #: the GroundTruth (None for real data)
    n_classes: int = 0       #: real data: classes of the label (the M2 label width)


def _info(ld, task: Task, cache: dict) -> _Info:
    """Shapes and noise for a task. Synthetic sets: from ``ld.get`` (memoised in
    ``cache``); real (UCI) sets have no ground truth, so the task must give
    ``latent_dim`` and ``noise_var``."""
    if _is_real(task.dataset):
        if task.latent_dim is None or task.noise_var is None:
            raise ValueError(f"{task.dataset} has no ground truth: set latent_dim and noise_var")
        if task.dataset not in cache:
            tr = ld.splits(task.dataset, 0)["train"]
            cache[task.dataset] = (int(np.asarray(tr.x).shape[1]), len(getattr(tr, "classes", ()) or ()))
        D, C = cache[task.dataset]
        return _Info(D, int(task.latent_dim), None, (float(task.noise_var),) * D, None, None, C)
    if task.dataset not in cache:
        cache[task.dataset] = ld.get(task.dataset)
    gt = cache[task.dataset]
    D = int(gt.data_dim)
    nv_gt = tuple(np.broadcast_to(np.asarray(gt.noise_var, dtype=float), (D,)).tolist())
    nv = nv_gt if task.noise_var is None else (float(task.noise_var),) * D
    return _Info(D, int(task.latent_dim or gt.latent_dim), int(gt.latent_dim), nv, nv_gt, gt)


def is_semi(task: Task) -> bool:
    """A semi-supervised (M2, App. B) task: its ``extra`` sets ``alpha`` and ``gamma``.
    Without them VAE, IWAE and LIN are unsupervised and ignore a data set's labels."""
    ex = dict(task.extra)
    return "alpha" in ex and "gamma" in ex


def _label_dim(task: Task, info: _Info) -> int:
    if not is_semi(task):
        return 0
    if info.truth is None:       # real data: one-hot over the label's classes
        return int(info.n_classes)
    return int(getattr(info.truth, "label_dim", 0) or 0)


def _shape_key(task: Task, info: _Info) -> tuple:
    # M2 tasks carry the label width; alpha and gamma are per member, so a whole
    # alpha x gamma grid shares one ensemble
    return (task.profile, info.data_dim, info.latent_dim, _label_dim(task, info), task.method,
            task.iwae_samples, task.learn_noise, _is_real(task.dataset), task.stop_rule,
            task.train_epochs(), task.flow_layers)


#: ``vaefail sweep --device``: where the groups train ("auto": CUDA if available, else CPU)
DEVICES = ("cpu", "cuda", "auto")
#: the largest ensemble ``max_models_for`` plans on a GPU, whatever its memory allows. A
#: guess, not yet measured on a GPU: a training step of these small networks should be
#: bound by kernel launches and by the per-member Python work of the data order and noise
#: streams long before memory runs out (``benchmarks/bench_device.py --models N``)
CUDA_MAX_MODELS = 1024
#: the share of the GPU's free memory that the ensembles of one group may plan on (the
#: rest: allocator fragmentation, cuBLAS workspaces, another process on the same GPU)
CUDA_MEMORY_FRACTION = 0.5
#: bytes per GPU kept for what does not grow with M: the CUDA context and the allocator
CUDA_CONTEXT_BYTES = 1 << 30
#: rows of the evaluation chunks whose size does not grow with M (``evaluate.iwae_value``
#: and ``m2.neg_u_value`` cut a chunk to about 200,000 sample rows over all members)
EVAL_CHUNK_ROWS = 200_000
#: float32 activations kept per row and network width: the forward values autograd saves,
#: their gradients and the temporaries of the densities
ACTIVATION_COPIES = 3
#: float32 copies of every parameter: the parameter, its gradient, the flat gradient,
#: Adam's two moments and the stopping rule's best parameters
PARAM_COPIES = 6


def resolve_device(device: str | None) -> str:
    """A ``--device`` value ("cpu", "cuda", "cuda:N" or "auto"; None: "cpu") as the
    torch device string the groups train on: "auto" is "cuda" when
    ``torch.cuda.is_available()``, else "cpu". A CUDA device without an available GPU
    (or an unknown name) is a ValueError."""
    name = "cpu" if device is None else str(device).strip().lower()
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError):
        dev = None
    if dev is None or dev.type not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r}: no CUDA GPU is available to torch "
                         f"(torch.cuda.is_available() is False; torch {torch.__version__}); "
                         f"use --device cpu or auto")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s)")
    return name


def _mlp_params(d_in: int, hidden: Sequence[int], d_out: int) -> int:
    dims = [d_in, *hidden, d_out]
    return sum((a + 1) * b for a, b in zip(dims[:-1], dims[1:]))


def member_bytes(profile: str | Profile, data_dim: int, latent_dim: int, label_dim: int = 0,
                 hidden: Sequence[int] = HIDDEN_SYNTHETIC, iwae_samples: int = 0,
                 ground_truth: bool = True) -> int:
    """An upper estimate of the GPU memory (bytes) one ensemble member of a group needs,
    from the architecture and the profile (float32 throughout; D, K, L = data, latent,
    label widths, P = parameters of one member, H = sum of the hidden widths, S = max(1,
    IWAE samples), R = the profile's ground-truth encoder restarts)::

        params  = 4 * PARAM_COPIES * P
        data    = 4 * (n_train * (D + K + 2L + 1) + n_val * (D + L + 1) + n_test * D)
        gt      = R * (params + 4 * n_train * (D + K + 2L + 1))   (if ground_truth)
        act     = 4 * ACTIVATION_COPIES * rows * (nets * H + D + K + L),
                  rows = max(batch_size * S, 1000, n_test)        (a training step, an
                  evaluation chunk of 1000 points, the samples of the kNN statistic)
        member  = params + data + gt + act

    ``nets`` is 2 (encoder, decoder) or 4 for M2 (plus q(z | x, y) and q(y | x)). The
    ground-truth start fits R candidate encoders per ground-truth member on its own
    copy of the training data (``train.init_ground_truth``); counting it for every member
    keeps the estimate an upper one whatever share of the members starts there."""
    p = get_profile(profile)
    D, K, L = int(data_dim), int(latent_dim), int(label_dim)
    hidden = tuple(int(h) for h in hidden)
    P = _mlp_params(D, hidden, 2 * K) + _mlp_params(K + L, hidden, D) + D
    nets = 2
    if L:
        P += _mlp_params(D + L, hidden, 2 * K) + _mlp_params(D, hidden, max(L, 2))
        nets = 4
    params = 4 * PARAM_COPIES * P
    train_cols = D + K + 2 * L + 1
    data = 4 * (p.n_train * train_cols + p.n_val * (D + L + 1) + p.n_test * D)
    gt = p.gt_encoder_restarts * (params + 4 * p.n_train * train_cols) if ground_truth else 0
    rows = max(p.batch_size * max(1, int(iwae_samples)), 1000, p.n_test)
    act = 4 * ACTIVATION_COPIES * rows * (nets * sum(hidden) + D + K + L)
    return int(params + data + gt + act)


def max_models_for(device: str | torch.device | None, profile: str | Profile, data_dim: int = 2,
                   latent_dim: int = 1, label_dim: int = 0, hidden: Sequence[int] = HIDDEN_SYNTHETIC,
                   iwae_samples: int = 0, ground_truth: bool = True) -> int:
    """The largest ensemble ``plan_groups`` forms on ``device`` for this architecture.

    CPU (or None): the profile's ``max_models``, unchanged (so are the CPU groups, and
    with them every cached record). CUDA: as many members as fit in
    ``CUDA_MEMORY_FRACTION`` of the GPU's free memory (``torch.cuda.mem_get_info``) after
    ``CUDA_CONTEXT_BYTES`` and the evaluation chunks that do not grow with M::

        reserve = CUDA_CONTEXT_BYTES + 4 * ACTIVATION_COPIES * EVAL_CHUNK_ROWS * (max(hidden) + D + K + L)
        cap     = clamp(floor((CUDA_MEMORY_FRACTION * free - reserve) / member_bytes(...)),
                        1, CUDA_MAX_MODELS)

    (``member_bytes`` gives the per-member estimate and the symbols; the evaluation
    chunks run without gradients, so a few [rows, width] tensors are alive at a time.)"""
    p = get_profile(profile)
    dev = torch.device("cpu" if device is None else device)
    if dev.type != "cuda":
        return p.max_models
    free, _total = torch.cuda.mem_get_info(dev)
    hidden = tuple(int(h) for h in hidden)
    reserve = CUDA_CONTEXT_BYTES + 4 * ACTIVATION_COPIES * EVAL_CHUNK_ROWS * (
        max(hidden) + data_dim + latent_dim + label_dim)
    per = member_bytes(p, data_dim, latent_dim, label_dim, hidden, iwae_samples, ground_truth)
    return int(max(1, min(CUDA_MAX_MODELS, (CUDA_MEMORY_FRACTION * free - reserve) // per)))


def _group_cap(device, task: Task, info: _Info, max_models: int | str | None) -> int:
    """The ensemble cap of the bucket that ``task`` opens (``max_models`` if given;
    ``"auto"``: on the CPU the size with the best measured throughput for the bucket's
    architecture, ``train.cpu_ensemble_size``, on a GPU ``max_models_for``)."""
    if max_models == "auto":
        if device is not None and torch.device(device).type == "cuda":
            max_models = None
        else:
            return cpu_ensemble_size(info.data_dim, info.latent_dim + _label_dim(task, info),
                                     HIDDEN_UCI if _is_real(task.dataset) else HIDDEN_SYNTHETIC,
                                     task.prof.batch_size)
    if max_models:
        return int(max_models)
    if device is None or torch.device(device).type != "cuda":
        return task.prof.max_models
    real = _is_real(task.dataset)
    return max_models_for(device, task.profile, info.data_dim, info.latent_dim, _label_dim(task, info),
                          HIDDEN_UCI if real else HIDDEN_SYNTHETIC, task.iwae_samples,
                          ground_truth=not real)


def plan_groups(tasks: Sequence[Task], loader: str = "vaefail_core.data",
                max_models: int | str | None = None, device: str | None = None) -> list[list[Task]]:
    """Tasks whose shapes match, in ensembles of at most ``max_models`` members (a task's
    restarts are never split). Deterministic: follows the order of first appearance.
    Without ``max_models`` the cap is ``max_models_for(device, ...)``: the profile's
    ``max_models`` on the CPU (and for ``device=None``), larger on a GPU.
    ``max_models="auto"`` (opt-in) caps each bucket on the CPU at the ensemble size with
    the best measured throughput for its architecture (``train.cpu_ensemble_size``: a
    calibration of a few seconds per architecture and process). It changes speed only,
    but a member's last bits can depend on its ensemble's size, so a sweep planned this
    way need not reproduce a cached record bit for bit (the records still verify)."""
    ld = _loader(loader)
    cache: dict = {}
    buckets: dict[tuple, list[Task]] = {}
    first: dict[tuple, tuple[Task, _Info]] = {}
    for t in tasks:
        info = _info(ld, t, cache)
        key = _shape_key(t, info)
        buckets.setdefault(key, []).append(t)
        first.setdefault(key, (t, info))
    groups = []
    for key, ts in buckets.items():
        cap = _group_cap(device, *first[key], max_models)
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


def _nan_to_none(x):
    """JSON-ready: NaN/inf -> None, floats rounded to 7 significant digits (float32)."""
    if isinstance(x, float):
        return float(f"{x:.7g}") if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _nan_to_none(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_nan_to_none(v) for v in x]
    return x


def _f(a) -> float:
    return float(np.asarray(a))


def run_group(spec: dict) -> list[dict]:
    """Train and evaluate one group of shape-compatible tasks (a pure function).

    spec: ``{"tasks": [task.config()["task"], ...], "loader": "module[:attr]",
    "device": None | str}``. Returns, per task, ``{"record": dict, "params": bytes | None}``.
    """
    tasks = [Task.from_dict(d) for d in spec["tasks"]]
    ld = _loader(spec.get("loader", "vaefail_core.data"))
    device = torch.device(spec["device"]) if spec.get("device") else default_device()
    p = tasks[0].prof
    set_seed(p.seed)
    t0 = time.perf_counter()

    cache, splits, surs = {}, {}, {}
    members, owner, surrogates, noise, infos = [], [], [], [], []
    data = {"train": [], "val": [], "test": []}
    for ti, t in enumerate(tasks):
        info = _info(ld, t, cache)
        infos.append(info)
        sk = (t.dataset, t.version)
        if sk not in splits:
            splits[sk] = ld.splits(t.dataset, t.version, n_train=p.n_train, n_val=p.n_val, n_test=p.n_test)
        sp = splits[sk]
        # ground-truth init needs the true K, a surrogate with the model's inputs (z alone
        # for the unsupervised methods, which ignore labels; concat(z, y) for M2) and the
        # true z of the training points
        gt_ok = (info.truth is not None and info.latent_dim == info.latent_dim_gt
                 and int(getattr(info.truth, "label_dim", 0) or 0) == _label_dim(t, info)
                 and hasattr(info.truth, "surrogate") and getattr(sp["train"], "z", None) is not None)
        ex = dict(t.extra)
        for r in t.restart_ids():
            init = "gt" if (gt_ok and r < p.n_gt_restarts) else "random"
            members.append(Member(seed=derive_seed(p.seed, f"{t.dataset}/{t.version}/{r}"), init=init,
                                  lin_T=t.lin_T if t.method == "lin" else 0.1,
                                  lin_R=t.lin_R if t.method == "lin" else 5,
                                  ss_alpha=ex.get("alpha", 0.0), ss_gamma=ex.get("gamma", 1.0)))
            owner.append((ti, r))
            noise.append(np.asarray(info.noise_var, dtype=np.float64))
            if init == "gt" and t.dataset not in surs:
                surs[t.dataset] = info.truth.surrogate()
            surrogates.append(surs[t.dataset] if init == "gt" else None)
            for part in data:
                data[part].append(sp[part])

    t, info0 = tasks[0], infos[0]
    real = _is_real(t.dataset)
    semi = is_semi(t)
    if len({task.stop_rule for task in tasks}) != 1:
        raise ValueError("the tasks of one group need the same stopping rule")
    arch = VAEConfig(data_dim=info0.data_dim, latent_dim=info0.latent_dim, label_dim=_label_dim(t, info0),
                     hidden=HIDDEN_UCI if real else HIDDEN_SYNTHETIC, learn_noise=t.learn_noise,
                     label=("discrete" if info0.truth is None else info0.truth.label) if semi else None,
                     flow_layers=t.flow_layers)
    cfg = TrainConfig(method=t.method, iwae_samples=max(1, t.iwae_samples),
                      epochs=t.train_epochs(),
                      batch_size=p.batch_size, lr=p.lr,
                      **t.gt_train_kwargs(), **t.stop_train_kwargs())

    def stack(part, attr, need=True):
        vals = [getattr(s, attr, None) for s in data[part]]
        if any(v is None for v in vals):
            if need:
                raise ValueError(f"split {part!r} lacks {attr!r}")
            return None
        return np.stack([np.asarray(v, dtype=np.float32).reshape(len(v), -1) for v in vals])

    train = {"x": stack("train", "x"), "z": stack("train", "z", need=False)}
    val = {"x": stack("val", "x")}
    x_val, x_test, x_train = val["x"], stack("test", "x"), train["x"]
    labels = None
    if semi:   # M2: labels observed on a fixed, seeded share of the points (m2.label_mask)
        labels = m2.sweep_labels(tasks, owner, data, infos, p.seed)
        train.update(labels["train"])
        if cfg.stopping:     # the stopping rule watches the whole objective, labels included
            val.update(labels["val"])
    res = train_ensemble(arch, cfg, members, train, val, noise_var=np.stack(noise),
                         surrogates=surrogates, device=device, progress=False)
    vae, h = res.model, res.history
    seconds_train = res.seconds
    if semi:
        records = m2.sweep_records_real if real else m2.sweep_records
        return records(tasks, owner, members, infos, vae, h, labels, x_train, x_val, x_test,
                       p, t0, seconds_train, device, build=build_record)

    # ---- evaluation of every member ------------------------------------------------------
    obj = make_objective(t.method, max(1, t.iwae_samples))
    val_obj = ev.objective_value(vae, obj, x_val, tag="val-objective", repeats=p.eval_repeats)
    S_e = p.eval_elbo_samples
    ne = {part: ev.neg_elbo(vae, xx, n_samples=S_e, tag=f"neg_elbo/{part}")
          for part, xx in (("train", x_train), ("val", x_val), ("test", x_test))}
    iw = {}
    if t.method == "iwae":
        iw = {part: ev.iwae_value(vae, xx, t.iwae_samples, tag=f"iwae/{part}")
              for part, xx in (("val", x_val), ("test", x_test))}
    nvar = vae.noise_var.detach().cpu().numpy()

    out = []
    for ti, task in enumerate(tasks):
        idx = [m for m, (o, _) in enumerate(owner) if o == ti]
        best = ev.select_restart(val_obj, idx)
        knn_members = {"none": [], "selected": [best], "all": idx}[task.knn]
        knn = ev.knn_statistic(vae, x_test, tag="knn/test", members=knn_members) if knn_members else None
        # on validation data too: for choosing hyper-parameters by kNN (App. D) without the test set
        knn_v = ev.knn_statistic(vae, x_val, tag="knn/val", members=knn_members) if knn_members else None
        rows = []
        for m in idx:
            row = {
                "restart": owner[m][1], "init": members[m].init, "seed": members[m].seed,
                "val_objective": _f(val_obj[m]),
                "train_neg_elbo": _f(ne["train"][m]), "val_neg_elbo": _f(ne["val"][m]),
                "test_neg_elbo": _f(ne["test"][m]),
                "noise_var": nvar[m].tolist(),
                "train_loss": h["train_loss"][:, m].tolist(),
                "gt_decoder_mse": _f(h["gt_decoder_mse"][m]), "gt_warm_loss": _f(h["gt_warm_loss"][m]),
                "gt_fit_loss": _f(h["gt_fit_loss"][m]), "gt_start_loss": _f(h["gt_start_loss"][m]),
                "knn_test": None if knn is None else _f(knn[m]),
                "knn_val": None if knn_v is None else _f(knn_v[m]),
            }
            if iw:
                row["val_neg_iwae"], row["test_neg_iwae"] = _f(iw["val"][m]), _f(iw["test"][m])
            if task.method == "lin":
                row["aggressive_epochs"] = int(h["aggressive"][:, m].sum())
                row["inner_steps"] = int(h["inner_steps"][:, m].sum())
                row["val_mi"] = h["val_mi"][:, m].tolist()
            rows.append(row)
        sel = vae.subset([best])
        xs_test = x_test[best:best + 1]
        selected = {
            "restart": owner[best][1],
            "test_log_px_is": _f(ev.log_px_importance(sel, xs_test, n_samples=p.eval_is_samples,
                                                      tag="log_px/test").mean()),
            "knn_test": None if knn is None else _f(knn[best]),
            "knn_val": None if knn_v is None else _f(knn_v[best]),
            "noise_eq9": ev.noise_eq9(sel, x_train[best:best + 1], n_samples=S_e)[0].tolist(),
        }
        out.append(build_record(task, infos[ti], obj.name, rows, selected, vae, best, owner[best][1],
                                len(members), seconds_train, t0, device))
    return out


def build_record(task: Task, info: _Info, objective: str, rows: list, selected: dict, vae, best: int,
                 restart: int, group_size: int, seconds_train: float, t0: float, device,
                 dataset_extra: dict | None = None) -> dict:
    """A task's record (see the module docstring) and the parameters of its selected
    member ``best``: ``{"record": dict, "params": bytes}`` (shared by the M2 path)."""
    meta = {"task": task.label, "key": task.key, "restart": restart}
    params = ev.npz_bytes(ev.member_arrays(vae, best, meta))
    record = {
        "key": task.key, "code_version": CODE_VERSION, "label": task.label,
        "config": json.loads(json.dumps(task.config())),
        "dataset": {"name": task.dataset, "data_dim": info.data_dim,
                    "latent_dim": info.latent_dim, "latent_dim_gt": info.latent_dim_gt,
                    "noise_var": list(info.noise_var), "noise_var_gt": info.noise_var_gt,
                    **(dataset_extra or {})},
        "objective": objective, "members": rows, "selected": selected,
        "group_size": group_size, "group_train_seconds": seconds_train,
        "group_seconds": time.perf_counter() - t0, "torch": torch.__version__, "device": str(device),
    }
    return {"record": _finish_record(record), "params": params}


def _finish_record(record: dict) -> dict:
    """JSON-ready record (NaN -> None, 7 digits), keeping ``config`` exact (it is
    compared when verifying)."""
    config = record.pop("config")
    record = _nan_to_none(record)
    record["config"] = config
    return record


def process_map(workers: int = 2, threads: int = 1) -> Callable:
    """A ``map_fn`` for ``run_sweep`` that runs groups in ``workers`` fresh processes
    (spawn) with ``threads`` torch threads each, yielding results in order.

    On a small CPU box, 2 processes x 1 thread beats 1 process x 2 threads: intra-op
    threads help little at these matrix sizes, and when the cores are shared with
    anything else, OpenMP threads waiting at barriers slow a step down many times over.
    """
    def _map(fn, specs):
        specs = list(specs)
        old = os.environ.get("VAEFAIL_THREADS")
        os.environ["VAEFAIL_THREADS"] = str(threads)   # the spawned workers inherit it
        try:
            pool = multiprocessing.get_context("spawn").Pool(min(workers, max(1, len(specs))))
        finally:
            if old is None:
                os.environ.pop("VAEFAIL_THREADS", None)
            else:
                os.environ["VAEFAIL_THREADS"] = old
        with pool:
            yield from pool.imap(fn, specs)

    return _map


@dataclass
class SweepResult:
    """Records in task order, and what this call computed vs. found in the cache."""

    records: list[dict]
    n_computed: int = 0
    n_cached: int = 0
    n_groups: int = 0

    def __iter__(self):
        return iter(self.records)

    def __len__(self):
        return len(self.records)

    def __getitem__(self, i):
        return self.records[i]


def run_sweep(tasks: Iterable[Task], cache_dir: str | os.PathLike | None = None, *,
              loader: str = "vaefail_core.data", progress: bool | None = None,
              map_fn: Callable = map, max_models: int | str | None = None,
              device: str | None = None, recompute: bool = False) -> SweepResult:
    """Run (or load) every task; see the module docstring. ``cache_dir`` defaults to
    ``results/<profile>`` in the repository. ``recompute=True`` ignores valid records.
    ``device``: where the groups train and are evaluated ("cpu", "cuda", ...; None:
    ``default_device()``, as before); a CUDA device also sizes the ensembles
    (``max_models_for``). ``max_models``: the ensemble cap (``plan_groups``; "auto": the
    size with the best measured CPU throughput)."""
    tasks = list(dict.fromkeys(tasks))       # drop duplicates, keep order
    todo = [t for t in tasks if recompute or verify_record(t, cache_dir) is None]
    missing = set(todo)
    n_models = lambda ts: sum(len(t.restart_ids()) for t in ts)
    # Groups are planned from the whole task list, never from what the cache holds, and a
    # group with any missing task is trained whole: a record then depends only on its
    # group, so a resumed or repaired sweep writes exactly what an uninterrupted run
    # writes. (A smaller ensemble would run the same arithmetic at other positions of
    # the [M, ...] tensors; ATen's vector kernels round those last bits differently, and
    # Adam and the selection rules can amplify that.) Only missing records are written.
    groups = [g for g in plan_groups(tasks, loader, max_models, device=device) if missing.intersection(g)]
    bar = None
    if progress_enabled(progress) and todo:
        from tqdm.auto import tqdm   # lazy: in a notebook kernel without ipywidgets its import warns on stderr
        bar = tqdm(total=n_models(tasks), initial=n_models(tasks) - n_models(todo),
                   desc="sweep", unit="model")
    specs = [{"tasks": [t.config()["task"] for t in g], "loader": loader, "device": device}
             for g in groups]
    exit_after = int(os.environ.get(EXIT_AFTER_ENV, "0") or 0)
    done = 0
    for g, results in zip(groups, map_fn(run_group, specs)):
        for t, res in zip(g, results):
            if t in missing:
                _write(t, cache_dir, res["record"], res["params"])
        done += 1
        if bar is not None:
            bar.update(n_models([t for t in g if t in missing]))
        if exit_after and done >= exit_after:
            os._exit(75)
    if bar is not None:
        bar.close()
    return SweepResult([load_record(t, cache_dir) for t in tasks], n_computed=len(todo),
                       n_cached=len(tasks) - len(todo), n_groups=len(groups))


def records_frame(records: Iterable[dict]):
    """A tidy pandas DataFrame, one row per trained model (task config columns + metrics),
    with ``selected`` marking each task's chosen restart."""
    rows = []
    for rec in records:
        task = rec["config"]["task"]
        base = {k: task[k] for k in ("dataset", "version", "method", "profile", "latent_dim",
                                      "iwae_samples", "lin_T", "lin_R", "learn_noise", "noise_var")}
        base["label"] = rec["label"]
        for row in rec["members"]:
            r = dict(base)
            r.update({k: v for k, v in row.items() if k not in ("train_loss", "val_mi", "noise_var")})
            r["noise_var_mean"] = float(np.mean(row["noise_var"]))
            r["selected"] = row["restart"] == rec["selected"]["restart"]
            if r["selected"]:
                r["test_log_px_is"] = rec["selected"]["test_log_px_is"]
            rows.append(r)
    return pd.DataFrame(rows)


def load_or_run(tasks, train_missing: bool, retrain: bool = False, workers: int = 1,
                device: str = "cpu", cache_dir=None):
    """Records for ``tasks``: run the sweep (training what is missing) when
    ``train_missing`` or ``retrain``; otherwise only the verified cached records, plus the
    list of tasks that are not computed yet (so a page can say what is missing instead of
    silently training for an hour). ``workers`` > 1 trains in that many processes.
    ``device`` ("cpu", "cuda" or "auto"; ``resolve_device``) is where missing records
    train; ``cache_dir`` is the results folder (default ``default_cache_dir``)."""
    if train_missing or retrain:
        device = resolve_device(device)
        map_fn = process_map(workers) if workers > 1 else map
        return list(run_sweep(tasks, cache_dir=cache_dir, progress=False, recompute=retrain, map_fn=map_fn,
                              device=device).records), []
    found = [(t, verify_record(t, cache_dir)) for t in tasks]
    return [r for _, r in found if r is not None], [t for t, r in found if r is None]
