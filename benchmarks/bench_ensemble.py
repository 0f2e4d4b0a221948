"""Speed of the batched-ensemble trainer, and what the paper's tables cost per profile.

Run:  VAEFAIL_THREADS=1 .venv/bin/python benchmarks/bench_ensemble.py [--epochs 3] [--fast]
      [--dask-speedup S | --no-dask] [--dask-workers N]

1. The same 10 Figure-8 VAEs (n_train 5000, batch 100) trained one at a time (M = 1
   each) and as one ensemble (M = 10), in this run: seconds per model-epoch and the
   per-model speed ratio; also a plain PyTorch loop (nn.Sequential, torch.optim.Adam,
   DataLoader), the way one VAE is usually written, as a second baseline (one untimed
   warm-up epoch first, like every other measurement). Then ensembles of the sizes
   ``train.CPU_SIZE_CANDIDATES`` (M = 10 and 30 always): the size with the best
   throughput is chosen automatically (``train.fastest_size``, the rule
   ``train.cpu_ensemble_size`` applies to its short calibration).
2. Rates (seconds per model-epoch) for IWAE (S = 3, 10, 20), LIN (T = 0.1, R = 5,
   aggressive phase included), the 3 x 100 UCI architecture, the ground-truth encoder
   fit, and evaluation; one process with the configured threads and 2 processes x 1
   thread (``sweep.process_map``).
3. Where the time goes: torch.profiler's operators by own time for an M = 10 and an
   M = 30 step, and cProfile of an M = 10 run (hand-written vs torch.distributions
   densities).
4. A markdown table: estimated hours per paper table and profile on the 2-core machine,
   on one GPU (measured only when torch sees one: the GPU/CPU ratio of the same ensemble),
   and on N Dask workers (``--dask-workers``, 1 core each), extrapolated from the 1 -> 2
   worker speed-up S that ``benchmarks/bench_dask.py`` measures (run here unless
   ``--dask-speedup S`` gives it or ``--no-dask``): N workers = one process x 1 thread
   divided by N * S / 2. A group never splits across workers, so the largest group caps
   the gain of a real sweep.

The last line is the per-model ratio of the fastest ensemble to the plain PyTorch loop,
both measured in this run. Timings are the minimum over repeats (other processes on a
shared machine only add time).
Caution: with 2 torch (OpenMP) threads on 2 cores, any other busy process makes threads
wait at barriers and small ops slow down by up to ~100x (we saw a 1-model epoch go from
0.05 s to 16 s). Use ``VAEFAIL_THREADS=1`` (or ``OMP_WAIT_POLICY=PASSIVE``) on a shared
machine, and ``sweep.process_map(2)`` (2 processes x 1 thread) for sweeps.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import math
import multiprocessing
import os
import pstats
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from vaefail_core import TORCH_THREADS, set_seed  # noqa: E402
from vaefail_core import evaluate as ev  # noqa: E402
from vaefail_core.datasets.analytic import figure8  # noqa: E402
from vaefail_core.objectives import VAE, MemberRNG, NegELBO, VAEConfig  # noqa: E402
from vaefail_core.profiles import PROFILES  # noqa: E402
from vaefail_core.train import CPU_SIZE_CANDIDATES, Member, TrainConfig, fastest_size, train_ensemble  # noqa: E402

N_TRAIN, NOISE = 5000, 0.02
LIN_EPOCHS = 10


def fig8_data(n: int, seed: int, D: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = figure8(rng.standard_normal((n, 1))) + math.sqrt(NOISE) * rng.standard_normal((n, 2))
    if D > 2:   # a fixed linear embedding, like Sec. 8's 5-D data
        x = x @ np.random.default_rng(1).standard_normal((2, D))
    return x.astype(np.float32)


def timed(fn, repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def train(M, epochs, method="vae", S=1, D=2, hidden=(50, 50, 50), n=N_TRAIN, gt=False, val=None,
          device="cpu"):
    x = fig8_data(n, 0, D)
    members = [Member(seed=100 + i, init="gt" if gt else "random", lin_T=0.1, lin_R=5) for i in range(M)]
    cfg = TrainConfig(method=method, iwae_samples=S, epochs=epochs,
                      gt_warm_epochs=epochs if gt else 0, gt_fit_epochs=0)
    sur = None
    if gt:
        from vaefail_core.nets import EnsembleMLP
        sur = EnsembleMLP(1, 1, D, hidden=hidden, seeds=[1])
    z = np.random.default_rng(0).standard_normal((n, 1)).astype(np.float32)
    return train_ensemble(VAEConfig(D, 1, hidden=hidden), cfg, members, {"x": x, "z": z},
                          {"x": x[:2000]} if method == "lin" else None, noise_var=NOISE,
                          surrogates=sur, progress=False, device=device)


def per_model_epoch(M, epochs, repeats, **kw) -> float:
    return timed(lambda: train(M, epochs, **kw), repeats) / (M * epochs)


# ---- a plain single-model PyTorch VAE (the usual way of writing one) ---------------------
def plain_vae_epochs(epochs: int, seed: int = 0) -> None:
    torch.manual_seed(seed)
    x = torch.as_tensor(fig8_data(N_TRAIN, 0))

    def mlp(i, o):
        return nn.Sequential(nn.Linear(i, 50), nn.LeakyReLU(), nn.Linear(50, 50), nn.LeakyReLU(),
                             nn.Linear(50, 50), nn.LeakyReLU(), nn.Linear(50, o))

    enc, dec = mlp(2, 2), mlp(1, 2)
    opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=1e-3)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x), batch_size=100, shuffle=True)
    prior = torch.distributions.Normal(0.0, 1.0)
    for _ in range(epochs):
        for (xb,) in loader:
            mu, lv = enc(xb).chunk(2, -1)
            q = torch.distributions.Normal(mu, (0.5 * lv).exp())
            z = q.rsample()
            ll = torch.distributions.Normal(dec(z), math.sqrt(NOISE)).log_prob(xb).sum(-1)
            loss = (torch.distributions.kl_divergence(q, prior).sum(-1) - ll).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()


# ---- 2 processes x 1 thread ------------------------------------------------------------
def _worker(args):
    M, epochs = args
    set_seed(0, threads=1)
    t = time.perf_counter()
    train(M, epochs)
    return time.perf_counter() - t


def two_process_rate(M, epochs) -> float:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        pool.map(_worker, [(1, 1), (1, 1)])          # warm up (imports)
        t = time.perf_counter()
        pool.map(_worker, [(M, epochs), (M, epochs)])
        wall = time.perf_counter() - t
    return wall / (2 * M * epochs)


def densities_microbench(repeats: int) -> tuple[float, float]:
    """Seconds per loss+backward, M = 10, B = 100: hand-written vs torch.distributions."""
    from torch.distributions import Normal, kl_divergence
    vae = VAE(VAEConfig(2, 1), 10, noise_var=NOISE)
    x = torch.as_tensor(np.stack([fig8_data(100, i) for i in range(10)]))
    rng = MemberRNG(range(10))

    def hand():
        NegELBO().loss(vae, {"x": x}, rng)[0].sum().backward()

    def dist():
        mu, lv = vae.encode(x)
        q = Normal(mu, (0.5 * lv).exp())
        z = q.rsample()
        ll = Normal(vae.decode(z), vae.noise_var.sqrt().unsqueeze(1)).log_prob(x).sum(-1)
        (kl_divergence(q, Normal(0.0, 1.0)).sum(-1) - ll).mean(1).sum().backward()

    n = 200
    return (timed(lambda: [hand() for _ in range(n)], repeats) / n,
            timed(lambda: [dist() for _ in range(n)], repeats) / n)


def profile_step(M: int = 10) -> str:
    pr = cProfile.Profile()
    pr.enable()
    train(M, 2)
    pr.disable()
    s = io.StringIO()
    pstats.Stats(pr, stream=s).sort_stats("tottime").print_stats(8)
    lines = [ln for ln in s.getvalue().splitlines() if ln.strip()]
    return "\n".join(lines[2:16])


def op_profile(M: int, epochs: int = 1, rows: int = 8) -> str:
    """torch.profiler: the operators with the most own CPU time in ``epochs`` epochs of an
    M-member ensemble (50 steps per epoch), as a markdown list with shares."""
    from torch.profiler import ProfilerActivity, profile
    train(M, 1)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        train(M, epochs)
    ev_ = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
    total = sum(e.self_cpu_time_total for e in ev_)
    out = [f"M={M}: {total / 1e3 / (50 * epochs):.2f} ms of operator time per step; by own time:"]
    for e in ev_[:rows]:
        out.append(f"  {e.key:<34} {100 * e.self_cpu_time_total / total:5.1f}%  ({e.count} calls)")
    return "\n".join(out)


def dask_speedup(fast: bool) -> tuple[float | None, str]:
    """The 1 -> 2 worker speed-up measured by ``bench_dask.py`` (last line), in a
    subprocess with one thread per worker; None if it cannot run (e.g. no dask)."""
    cmd = [sys.executable, str(Path(__file__).with_name("bench_dask.py")), "--repeats", "1" if fast else "2"]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=1800,
                             env={**os.environ, "VAEFAIL_THREADS": "1", "VAEFAIL_QUIET": "1"})
        last = res.stdout.strip().splitlines()[-1]
        return float(last.rsplit(":", 1)[1]), "measured in this run by benchmarks/bench_dask.py"
    except Exception as exc:      # noqa: BLE001 - reported in the table's note
        return None, f"bench_dask.py failed ({type(exc).__name__})"


# ---- the cost model --------------------------------------------------------------------
UCI_N_TRAIN = {"titanic": 2201 // 3, "contraceptive": 1473 // 3, "retinopathy": 1151 // 3}
#: fallback only: ``main`` measures what an M2 step costs in unsupervised steps
#: (``bench_m2.py``; about 3x for the ELBO forms, 2-2.6x for IWAE S = 10, 3)
M2_FACTOR = 3.0


def estimate(rates: dict, prof) -> dict[str, float]:
    """Hours on a 2-core machine per paper table for a profile, from measured rates
    (seconds per model-epoch at n_train = 5000)."""
    V, Rg, Rr = prof.n_versions, prof.n_gt_restarts, prof.n_random_restarts
    E, Eg = prof.epochs, prof.gt_warm_epochs + prof.gt_fit_epochs
    steps_scale = prof.n_train / N_TRAIN
    ev_s = rates["eval_per_model"] * steps_scale

    def cost(method, S=1, gt=True, D=2, n_models=None):
        r = rates[("iwae", S)] if method == "iwae" else rates["vae"] if method == "vae" else None
        if method == "lin":
            per_run = rates["lin_first"] * min(E, rates["lin_epochs"]) + rates["vae"] * max(0, E - rates["lin_epochs"])
        else:
            per_run = r * E
        if D != 2:
            per_run *= rates["D5_factor"]
        gt_models = Rg if gt else 0
        enc_fit = (rates[("iwae", S)] if method == "iwae" else rates["vae"]) * Eg * rates["gt_factor"]
        total = (Rg + Rr) * per_run + gt_models * enc_fit + (Rg + Rr) * ev_s
        return total * steps_scale * V

    S_grid, n_lin = prof.iwae_S, len(prof.lin_T) * len(prof.lin_R)
    unsup = lambda gt=True, D=2: (cost("vae", gt=gt, D=D) + n_lin * cost("lin", gt=gt, D=D)
                                  + sum(cost("iwae", S, gt=gt, D=D) for S in S_grid))
    t1 = 2 * sum(cost("vae", gt=(K == 1), D=5) + sum(cost("iwae", S, gt=(K == 1), D=5) for S in S_grid)
                 for K in (1, 2, 3))
    t2 = 2 * unsup()
    m2f = rates.get("m2_factor", M2_FACTOR)
    t34 = 2 * len(prof.ss_alpha) * len(prof.ss_gamma) * unsup() * m2f
    # UCI: no ground truth, 3 x 100 nets, epochs_real over tiny training sets, 5 splits
    grid = len(prof.ss_alpha) * len(prof.ss_gamma) * len(prof.uci_noise_var) * 2
    uci = 0.0
    for n in UCI_N_TRAIN.values():
        steps = max(1, n // prof.batch_size)
        per_model = rates["uci_step"] * steps * prof.epochs_real * m2f
        uci += grid * (1 + len(S_grid) * rates["iwae_uci_factor"]) * per_model * prof.n_restarts_real * V
    t8 = 2 * cost("vae")        # Spiral-Dots: fixed noise (then Eq. 9) and learned noise
    h = lambda s: s / 3600
    return {"Table 1 (5-D Fig-8/Clusters, K=1..3, VAE+IWAE)": h(t1),
            "Table 2 (Fig-8/Clusters, VAE+LIN+IWAE)": h(t2),
            f"Tables 3-4 (semi-sup. synthetic, alpha x gamma) [M2 step {m2f:.1f}x a VAE step]": h(t34),
            f"Tables 5-6 (UCI, VAE+IWAE, alpha x gamma x var x K) [M2 step {m2f:.1f}x]": h(uci),
            "Sec. 8 Case A (Spiral-Dots noise, 2 runs)": h(t8)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=TORCH_THREADS)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--fast", action="store_true", help="fewer measurements (smoke test)")
    ap.add_argument("--only-ratio", action="store_true", help="only part 1 (ensemble vs one at a time)")
    ap.add_argument("--dask-speedup", type=float, default=None,
                    help="1 -> 2 worker speed-up from bench_dask.py (default: measure it here)")
    ap.add_argument("--no-dask", action="store_true", help="no Dask column measurement")
    ap.add_argument("--dask-workers", type=int, default=8, help="N of the Dask column")
    args = ap.parse_args()
    set_seed(0, threads=args.threads)
    E, rep = args.epochs, args.repeats
    print(f"# bench_ensemble: torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
    train(2, 1)            # warm up
    plain_vae_epochs(1)    # warm up the plain loop too (DataLoader, torch.distributions)

    # 1. ensemble vs one at a time, and the ensemble size ----------------------------------
    seq = timed(lambda: [train(1, E) for _ in range(10)], rep) / (10 * E)
    plain = timed(lambda: plain_vae_epochs(E), rep) / E
    sizes = sorted({10, 30, *((10, 30, 60) if args.fast else CPU_SIZE_CANDIDATES)})
    size_rate = {M: per_model_epoch(M, E, rep) for M in sizes}
    plain = min(plain, timed(lambda: plain_vae_epochs(E), 1) / E)    # again, after: same conditions
    auto_M = fastest_size(size_rate)
    ens = size_rate[10]
    print("## 10 Figure-8 VAEs (n_train 5000, batch 100), seconds per model-epoch")
    print("| how | s / model-epoch | 100-epoch model (s) | speed-up vs our M=1 | vs plain loop |")
    print("|---|---|---|---|---|")
    row = lambda name, r: print(f"| {name} | {r:.4f} | {100 * r:.1f} | {seq / r:.2f}x | {plain / r:.2f}x |")
    row("plain PyTorch loop (nn.Linear, Adam, DataLoader), one model", plain)
    row("our engine, one at a time (M=1) x 10", seq)
    for M in sizes:
        row(f"our engine, one ensemble (M={M})" + (" **(fastest: chosen)**" if M == auto_M else ""),
            size_rate[M])
    from vaefail_core import train as train_mod
    was, train_mod.FUSED_ADAM = train_mod.FUSED_ADAM, True    # the opt-in EnsembleAdam(fused=True)
    fused = per_model_epoch(auto_M, E, rep)
    train_mod.FUSED_ADAM = was
    row(f"our engine, M={auto_M} with the opt-in fused Adam (VAEFAIL_FUSED_ADAM=1; not bit for bit "
        f"the default)", fused)
    rates = {"vae": ens, **{f"vae_M{M}": r for M, r in size_rate.items()}}
    final = (f"ensemble (auto-chosen M={auto_M}) vs plain PyTorch loop: {plain / size_rate[auto_M]:.1f}x "
             f"per model (M=10: {plain / size_rate[10]:.1f}x, M=30: {plain / size_rate[30]:.1f}x; "
             f"measured in this run; opt-in fused Adam at M={auto_M}: {plain / fused:.1f}x)")
    if args.only_ratio:
        print()
        print(final)
        return
    two = two_process_rate(10, E)
    rates["two_proc"] = two
    print(f"\n2 processes x 1 thread, M=10 each: {two:.4f} s per model-epoch "
          f"({ens / two:.2f}x the throughput of 1 process x {torch.get_num_threads()} thread(s))\n")

    # 2. other methods -------------------------------------------------------------------
    print("## Rates for the cost model (M=10 ensembles, seconds per model-epoch)")
    print("| what | s / model-epoch | vs VAE |")
    print("|---|---|---|")
    for S in (3, 10, 20):
        rates[("iwae", S)] = per_model_epoch(10, E, rep, method="iwae", S=S)
        print(f"| IWAE S={S} | {rates[('iwae', S)]:.4f} | {rates[('iwae', S)] / ens:.2f}x |")
    # LIN: one ensemble of the paper's four (T, R) settings x 6 restarts (as the sweep
    # groups a reduced-profile LIN grid) over the first LIN_EPOCHS epochs: members left the
    # aggressive phase after 2-9 epochs on Figure-8 in our runs, and the batched inner loop
    # runs as long as its slowest member; after that LIN trains like the VAE.
    E_lin = 3 if args.fast else LIN_EPOCHS
    x, xv = fig8_data(N_TRAIN, 0), fig8_data(2000, 1)
    members = [Member(seed=200 + i, lin_T=T, lin_R=R) for i, (T, R) in
               enumerate([(T, R) for T in (0.05, 0.1) for R in (5, 10)] * (2 if args.fast else 6))]
    t0 = time.perf_counter()
    res = train_ensemble(VAEConfig(2, 1), TrainConfig(method="lin", epochs=E_lin), members, {"x": x},
                         {"x": xv}, noise_var=NOISE, progress=False, device="cpu")
    lin_t = (time.perf_counter() - t0) / (len(members) * E_lin)
    agg = res.history["aggressive"].sum(0)
    inner = res.history["inner_steps"].sum(0) / agg.clip(1)
    rates["lin_first"], rates["lin_epochs"] = lin_t, E_lin
    print(f"| LIN, T x R = {{0.05, 0.1}} x {{5, 10}} in one ensemble (M={len(members)}), first {E_lin} epochs "
          f"(aggressive in {agg.mean():.1f} of them on average, {inner.mean():.0f} inner encoder "
          f"steps per aggressive epoch) | {lin_t:.4f} | {lin_t / ens:.2f}x |")
    gt = per_model_epoch(10, E, rep, gt=True) - ens     # extra cost of E encoder-only epochs
    rates["gt_factor"] = float(np.clip(gt / ens, 0.3, 1.0))
    print(f"| GT encoder fit (encoder only, per epoch) | {max(gt, 0):.4f} | {gt / ens:.2f}x "
          f"(cost model uses {rates['gt_factor']:.2f}x) |")
    from bench_m2 import m2_factor
    rates["m2_factor"] = m2_factor(E, 1)
    print(f"| M2 (semi-supervised, App. B) step, ELBO form, vs an unsupervised step (bench_m2.py) | | "
          f"{rates['m2_factor']:.2f}x |")
    d5 = per_model_epoch(10, E, 1, D=5)
    rates["D5_factor"] = d5 / ens
    print(f"| VAE, 5-D data (Table 1) | {d5:.4f} | {d5 / ens:.2f}x |")
    uci = per_model_epoch(10, E, 1, D=9, hidden=(100, 100, 100), n=1000)
    rates["uci_step"] = uci / 10   # 10 steps per epoch at n=1000
    uci_iw = per_model_epoch(10, E, 1, D=9, hidden=(100, 100, 100), n=1000, method="iwae", S=10)
    rates["iwae_uci_factor"] = uci_iw / uci
    print(f"| VAE, 3x100 nets, D=9 (UCI), per step | {rates['uci_step']:.5f} | |")
    vae10 = train(10, 1).model
    xt = fig8_data(2000, 5)
    t0 = time.perf_counter()
    p = PROFILES["paper"]
    ev.neg_elbo(vae10, fig8_data(5000, 6), n_samples=p.eval_elbo_samples)
    ev.neg_elbo(vae10, xt, n_samples=p.eval_elbo_samples)
    ev.neg_elbo(vae10, xt, n_samples=p.eval_elbo_samples)
    ev.objective_value(vae10, NegELBO(), xt, repeats=p.eval_repeats)
    per_member = (time.perf_counter() - t0) / 10
    t0 = time.perf_counter()
    ev.knn_statistic(vae10, xt, members=[0])
    ev.log_px_importance(vae10.subset([0]), xt, n_samples=p.eval_is_samples)
    selected = time.perf_counter() - t0
    rates["eval_per_model"] = per_member + selected / p.n_restarts
    print(f"| evaluation (paper profile; kNN + IS log p(x) for 1 selected of {p.n_restarts}) | "
          f"{rates['eval_per_model']:.3f} s per model | |\n")

    # 3. where the time goes ---------------------------------------------------------------
    hand, dist = densities_microbench(rep)
    print("## Where the time goes (torch.profiler, one epoch = 50 steps, operators by own time)")
    print("```")
    print(op_profile(10))
    print(op_profile(30))
    print("```")
    print("cProfile of an M=10 run (2 epochs, by own time):")
    print("```")
    print(profile_step(10))
    print("```")
    print(f"loss + backward, M=10, B=100: hand-written densities {hand * 1e3:.2f} ms, "
          f"torch.distributions {dist * 1e3:.2f} ms ({dist / hand:.2f}x)\n")

    # 4. cost of the paper's tables --------------------------------------------------------
    gpu_ratio, gpu_note = None, "not measured: no GPU in this run"
    if torch.cuda.is_available():
        Mg = max(sizes)
        gpu_ratio = per_model_epoch(Mg, E, rep, device="cuda") / size_rate[Mg]
        gpu_note = f"measured: {gpu_ratio:.2f}x the CPU rate at M={Mg}"
    S_dask, dask_note = args.dask_speedup, "given with --dask-speedup"
    if S_dask is None and not args.no_dask:
        S_dask, dask_note = dask_speedup(args.fast)
    N = args.dask_workers
    best = min(ens, two)
    scale = best / ens
    keep = ("D5_factor", "iwae_uci_factor", "lin_epochs", "gt_factor", "m2_factor")
    scaled = lambda f: {**rates, **{k: v * f for k, v in rates.items() if isinstance(v, float) and k not in keep}}
    names = list(PROFILES)
    est2 = {n: estimate(scaled(scale), PROFILES[n]) for n in names}        # the 2-core machine
    est1 = {n: estimate(scaled(1.0), PROFILES[n]) for n in names}          # 1 process x threads
    fmt = lambda h: f"{h:.1f} h" if h >= 1 else f"{60 * h:.1f} min"
    gpu_col = lambda n, t: fmt(est1[n][t] * gpu_ratio) if gpu_ratio is not None else "not measured: no GPU in this run"
    dask_col = lambda n, t: fmt(est1[n][t] / (N * S_dask / 2)) if S_dask else "not measured"
    print(f"## Estimated wall-clock time per table: 2 cores (rates scaled to the faster of "
          f"1x{torch.get_num_threads()} thread(s) and 2 processes x 1 thread: {scale:.2f}x the M=10 rate), "
          f"one GPU ({gpu_note}), {N} Dask workers of 1 core (1 -> 2 worker speed-up "
          f"{'%.2f' % S_dask if S_dask else 'n/a'}, {dask_note})")
    print(f"| table | profile | 2 cores | one GPU | {N} Dask workers |")
    print("|---|---|---|---|---|")
    for t in est2[names[0]]:
        for n in names:
            print(f"| {t} | {n} | {fmt(est2[n][t])} | {gpu_col(n, t)} | {dask_col(n, t)} |")
    for n in names:
        tot2, tot1 = sum(est2[n].values()), sum(est1[n].values())
        g = fmt(tot1 * gpu_ratio) if gpu_ratio is not None else "not measured: no GPU in this run"
        d = fmt(tot1 / (N * S_dask / 2)) if S_dask else "not measured"
        print(f"| **total** | {n} | {fmt(tot2)} | {g} | {d} |")
    print("\n(core-hours on the 2-core machine = 2 x its column. Semi-supervised rows use the M2 / "
          f"unsupervised step ratio measured above, {rates['m2_factor']:.2f}x; the reduced rows use the "
          "profile's grids, not the smaller Section 7 grid sec7.SEC7_REDUCED. The rates are those of "
          f"M=10 ensembles; the sweeps' groups (up to the profile's max_models) and M={auto_M}, the "
          f"fastest size here ({size_rate[10] / size_rate[auto_M]:.2f}x the M=10 throughput), are faster.)")
    print(f"load average at end: {os.getloadavg()[0]:.1f}\n")
    print(final)


if __name__ == "__main__":
    main()
