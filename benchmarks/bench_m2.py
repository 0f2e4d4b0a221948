"""What a semi-supervised (M2, App. B) training step costs relative to an unsupervised one.

Run:  .venv/bin/python benchmarks/bench_m2.py [--epochs 2] [--repeats 2]

In one run, on the Discrete Semi-Circle training set (5000 points, 10% labelled, batch
100), an ensemble of M = 10 models is trained with the unsupervised ELBO (the x alone) and
with the M2 objective (``m2.M2Objective``: three inference networks, the U and L bounds
and the discriminator term, all computed for every row), for the ELBO forms and for
IWAE with S = 3 and 10. Prints seconds per model-epoch and the ratio M2 / unsupervised for
the same method: the factor the cost model of ``bench_ensemble.py`` assumes (1.5x).
Timings are the minimum over repeats.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vaefail_core import data, m2, set_seed  # noqa: E402
from vaefail_core.objectives import VAEConfig  # noqa: E402
from vaefail_core.train import Member, TrainConfig, train_ensemble  # noqa: E402


def rate(arch: VAEConfig, d: dict, method: str, S: int, epochs: int, repeats: int, M: int = 10) -> float:
    cfg = TrainConfig(method=method, iwae_samples=S, epochs=epochs, gt_warm_epochs=0, gt_fit_epochs=0)
    mem = [Member(seed=i, ss_alpha=0.1, ss_gamma=1.0) for i in range(M)]
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        train_ensemble(arch, cfg, mem, d, noise_var=0.01, progress=False, device="cpu")
        best = min(best, (time.perf_counter() - t0) / (M * epochs))
    return best


def _data():
    truth = data.get("semicircle_discrete")
    tr = data.splits("semicircle_discrete", 0)["train"]
    y = m2.encode_labels(truth, tr.y)
    mask = m2.label_mask(len(y), m2.LABEL_FRACTION, 0)
    semi = {"x": tr.x, "y": y * mask[:, None], "label_mask": mask}
    return (VAEConfig(2, 1, label_dim=truth.label_dim, label=truth.label), semi), (VAEConfig(2, 1), {"x": tr.x})


def m2_factor(epochs: int = 2, repeats: int = 1, method: str = "vae", S: int = 1) -> float:
    """Seconds per model-epoch of M2 over the unsupervised ELBO / IWAE, measured now."""
    (a_s, d_s), (a_p, d_p) = _data()
    return rate(a_s, d_s, method, S, epochs, repeats) / rate(a_p, d_p, method, S, epochs, repeats)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    set_seed(0)
    (a_semi, semi), (a_plain, plain) = _data()
    print("## M2 vs unsupervised step, M = 10, Discrete Semi-Circle (5000 points), seconds per model-epoch")
    print("| method | unsupervised | M2 | M2 / unsupervised |")
    print("|---|---|---|---|")
    for method, S in (("vae", 1), ("iwae", 3), ("iwae", 10)):
        u = rate(a_plain, plain, method, S, args.epochs, args.repeats)
        s = rate(a_semi, semi, method, S, args.epochs, args.repeats)
        name = "ELBO (VAE)" if method == "vae" else f"IWAE S={S}"
        print(f"| {name} | {u:.4f} | {s:.4f} | {s / u:.2f}x |")


if __name__ == "__main__":
    main()
