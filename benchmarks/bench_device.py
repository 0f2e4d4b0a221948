"""Seconds per model-epoch of one ensemble on the CPU and, when CUDA is available, on the
GPU, in one run; the last line is the GPU / CPU ratio (or that no GPU is available).

Run:  .venv/bin/python benchmarks/bench_device.py [--models 40] [--epochs 3] [--repeats 2]

The ensemble is a sweep group's: M Figure-8 VAEs (App. D architecture, 3 x 50 units),
5000 training points, batch 100, random starts (``train.train_ensemble``), on the
device a sweep with ``--device cpu`` / ``--device cuda`` uses. Each device first runs
one warm-up epoch (CUDA context, kernel caches), then the best of ``--repeats`` timed
runs is kept (other processes only add time). A few epochs suffice: an epoch is 50
identical steps. On a GPU the script also prints the cap ``sweep.max_models_for`` plans
for this architecture; rerun with ``--models`` at that cap to time the sweep's groups.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from vaefail_core import TORCH_THREADS, set_seed  # noqa: E402
from vaefail_core.datasets.analytic import figure8  # noqa: E402
from vaefail_core.objectives import VAEConfig  # noqa: E402
from vaefail_core.profiles import get_profile  # noqa: E402
from vaefail_core.sweep import max_models_for  # noqa: E402
from vaefail_core.train import Member, TrainConfig, train_ensemble  # noqa: E402

N_TRAIN, NOISE = 5000, 0.02


def fig8_data(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (figure8(rng.standard_normal((n, 1))) + math.sqrt(NOISE) * rng.standard_normal((n, 2))).astype(np.float32)


def train(M: int, epochs: int, device: str) -> None:
    x = np.stack([fig8_data(N_TRAIN, v) for v in range(M)])     # one data version per member
    members = [Member(seed=100 + i) for i in range(M)]
    cfg = TrainConfig(method="vae", epochs=epochs, gt_warm_epochs=0, gt_fit_epochs=0)
    train_ensemble(VAEConfig(2, 1), cfg, members, {"x": x}, noise_var=NOISE, device=device, progress=False)
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def per_model_epoch(M: int, epochs: int, repeats: int, device: str) -> float:
    set_seed(0)
    train(M, 1, device)                                        # warm-up
    best = math.inf
    for _ in range(repeats):
        t = time.perf_counter()
        train(M, epochs, device)
        best = min(best, time.perf_counter() - t)
    return best / (M * epochs)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=get_profile("paper").max_models,
                    help="ensemble size M (default: the profiles' CPU cap, 40)")
    ap.add_argument("--epochs", type=int, default=3, help="timed epochs per run (default 3)")
    ap.add_argument("--repeats", type=int, default=2, help="timed runs per device, best kept (default 2)")
    args = ap.parse_args(argv)
    M, E = args.models, args.epochs
    print(f"torch {torch.__version__}, {TORCH_THREADS} CPU thread(s); M = {M} Figure-8 VAEs, "
          f"n_train {N_TRAIN}, batch 100, {E} epochs, best of {args.repeats}")
    cpu = per_model_epoch(M, E, args.repeats, "cpu")
    print(f"cpu:  {cpu:.5f} s per model-epoch  ({cpu * M:.3f} s per ensemble epoch)")
    if not torch.cuda.is_available():
        print(f"GPU/CPU ratio: not measured, no GPU is available (torch.cuda.is_available() is False); "
              f"CPU {cpu:.5f} s per model-epoch")
        return 0
    name = torch.cuda.get_device_name(0)
    free, total = torch.cuda.mem_get_info(0)
    print(f"cuda: {name}, {free / 2**30:.1f} of {total / 2**30:.1f} GiB free; the sweep's cap for this "
          f"architecture under the paper profile: {max_models_for('cuda', 'paper')} members")
    gpu = per_model_epoch(M, E, args.repeats, "cuda")
    print(f"cuda: {gpu:.5f} s per model-epoch  ({gpu * M:.3f} s per ensemble epoch)")
    print(f"GPU/CPU ratio: {gpu / cpu:.4f} (seconds per model-epoch at M = {M}; "
          f"the GPU is {cpu / gpu:.1f}x {'faster' if gpu < cpu else 'slower'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
