# ---
# jupyter:
#   jupytext:
#     text_representation: {extension: .py, format_name: percent}
#   kernelspec: {display_name: Python 3, language: python, name: python3}
# ---

# %% [markdown]
# # Section 8: the ELBO misjudges the split between signal and noise
#
# Section 8 claims two mechanisms by which MFG-VAE inference mis-splits data into f(z)
# ("signal") and eps ("noise") when the conditions of Sec. 5.1 hold:
#
# * **Case A (Spiral-Dots, Figure 16).** The noise variance that maximises the ELBO
#   (Eq. 9) depends on q, so it is biased: the paper reports 0.014 +- 0.001 (fixed at the
#   truth 0.01 during training, then set by Eq. 9) and 0.020 +- 0.003 (learned jointly).
# * **Case B (Table 1, Figures 23-24).** On 5-D embeddings of Figure-8 and Clusters
#   (footnote 3), the ELBO prefers more latent dimensions than the truth (K = 1) with a
#   smaller noise variance, and the average information per latent dimension drops; IWAE
#   does not show the preference.
#
# All models come from one sweep (`sec6_8.section8_tasks(profile)`), cached in
# `results/<profile>/`; this notebook summarises the records and writes
# `results/<profile>/noise.csv` and `results/<profile>/table1.csv`.

# %% tags=["parameters"]
PROFILE = "reduced"
SEED = 0
RETRAIN = False
TRAIN_MISSING = False  # True: train the tasks that are not in the cache yet (long)

# %%
import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from vaefail_core import data, evaluate, posterior, sec6_8, set_seed
from vaefail_core.profiles import get_profile
from vaefail_core.sweep import load_selected

set_seed(SEED)
pd.set_option("display.precision", 3)
print("profile:", PROFILE)
print({k: v for k, v in get_profile(PROFILE).describe().items() if k in
       ("data versions", "train/val/test", "restarts (synthetic)", "epochs (synthetic / UCI)", "IWAE S")})

# %%
tasks = sec6_8.section8_tasks(PROFILE)
records, missing = sec6_8.load_or_run(tasks, TRAIN_MISSING, RETRAIN)
print(f"{len(tasks)} tasks, {len(records)} available under profile {PROFILE!r}")
if missing:
    print(f"not computed yet ({len(missing)}):", sorted({re.sub(r"-v\d+-", " ", t.label) for t in missing}))
    print(f"to compute them: vaefail sweep section8 --profile {PROFILE}")

# %% [markdown]
# ## Case A: Spiral-Dots noise variance (truth 0.01)
#
# Per data version, the selected restart (best validation objective, Sec. 4). Fixed:
# sigma^2 = 0.01 during training, then Eq. 9 on the training set
# (`selected.noise_eq9` of the record); learned: sigma^2 per dimension trained jointly.
# Both are averaged over the two data dimensions.

# %%
case_a = sec6_8.case_a_table(records)
print(case_a.round(4).to_string(index=False))
noise_csv = sec6_8.write_noise_csv(case_a, PROFILE)
noise = pd.read_csv(noise_csv)
noise["paper mean"] = [sec6_8.PAPER_CASE_A[e][0] for e in noise["experiment"]]
noise["paper sd"] = [sec6_8.PAPER_CASE_A[e][1] for e in noise["experiment"]]
print(f"\nnoise.csv ({PROFILE}; sd over data versions):")
print(noise.round(4).to_string(index=False))

# %%
rec_l = next(r for r in records if r["config"]["task"]["dataset"] == "spiral_dots"
             and r["config"]["task"]["learn_noise"] and r["config"]["task"]["version"] == 0)
m_l = load_selected(rec_l)
truth = data.get("spiral_dots")
zg = np.linspace(-3, 3, 601)
f_true = truth.f(zg[:, None])
f_l = evaluate.f_on_grid(m_l, zg[:, None].astype(np.float32))[0]
xs = data.splits("spiral_dots", 0, n_train=10, n_val=10, n_test=2000)["test"].x
smp = evaluate.sample_px(m_l, 2000, tag="fig16")[0]
fig, ax = plt.subplots(1, 3, figsize=(13, 3.8))
ax[0].scatter(xs[:, 0], xs[:, 1], s=2, alpha=0.4)
ax[0].plot(f_true[:, 0], f_true[:, 1], "k", lw=0.8)
ax[0].set_title("Spiral-Dots data and true f")
ax[1].scatter(smp[:, 0], smp[:, 1], s=2, alpha=0.4, c="C1")
ax[1].plot(f_l[:, 0], f_l[:, 1], "k", lw=0.8)
ax[1].set_title(f"VAE, sigma^2 learned ({PROFILE}, v0): samples and f")
ax[2].plot(zg, np.linalg.norm(np.gradient(f_true, zg, axis=0), axis=1), "k", label="true |f'(z)|")
ax[2].plot(zg, np.linalg.norm(np.gradient(f_l, zg, axis=0), axis=1), "C1", label="learned |f'(z)|")
ax[2].set_yscale("log")
ax[2].legend()
ax[2].set_title("steep steps vs a flatter learned f")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Case B: Table 1
#
# Per (data set, method, K): mean and sd over data versions of the selected restart's
# test -ELBO, the test -IWAE bound (IWAE only; the paper's IWAE rows are presumably this
# bound, it does not say), the KSG estimate of avg_i I(x; z_i) on the encoder means of the
# test points, the learned sigma^2 (mean over the 5 dimensions) and the ELBO gap (test
# -ELBO minus importance-sampled -log p(x): the average KL(q || p_theta(z|x)) of the
# learned model, i.e. how hard its posteriors are for an MFG, for any K). K = 1 restarts
# start at the ground truth as the profile prescribes; K = 2, 3 start randomly.

# %%
t1 = sec6_8.table1_frame(records, PROFILE)
summ = sec6_8.table1_summary(t1)
t1_csv = sec6_8.write_table1_csv(summ, PROFILE)
wide = summ.assign(val=[f"{m:.3f} +- {s:.3f}" for m, s in zip(summ["mean"], summ["sd"])]).pivot_table(
    index=["dataset", "metric", "method"], columns="K", values="val", aggfunc="first")
print(f"Table 1, ours ({PROFILE}; {t1['version'].nunique()} data versions):")
print(wide.to_string())

# %%
ref = sec6_8.PAPER_TABLE1.assign(val=[f"{m:.3f} +- {s:.3f}" for m, s in
                                      zip(sec6_8.PAPER_TABLE1["mean"], sec6_8.PAPER_TABLE1["sd"])])
print("Table 1, the paper's numbers (reference only; 5 versions x 10 restarts):")
print(ref.pivot_table(index=["dataset", "metric", "method"], columns="K", values="val",
                      aggfunc="first").to_string())

# %%
def best_k(df, method, metric):
    sub = df[(df["method"] == method) & (df["metric"] == metric)]
    return {ds: int(g.loc[g["mean"].idxmin(), "K"]) for ds, g in sub.groupby("dataset", sort=False)}


pref = pd.DataFrame({
    "ELBO prefers K (ours, VAE)": best_k(summ, "vae", "neg_elbo"),
    "paper (VAE)": best_k(sec6_8.PAPER_TABLE1, "vae", "neg_elbo"),
    **{f"IWAE bound prefers K (ours, {m})": best_k(summ, m, "neg_iwae")
       for m in summ["method"].unique() if m.startswith("iwae")},
    "paper (IWAE)": best_k(sec6_8.PAPER_TABLE1, "iwae", "neg_elbo"),
})
print(pref.to_string())
print("(the paper prints K = 3 in bold for Figure-8 although its K = 2 entry is lower; we take the minimum)")

# %% [markdown]
# ## Figures 23-24: posteriors become simpler as K grows
#
# For K = 1 the learned model's exact posteriors are computed on a z-grid and compared
# with the best Gaussian; for K = 2, 3 grid posteriors are not computed here (a 2-D or 3-D
# grid per point is feasible but not done), so we show, per K, the ELBO gap (average
# KL(q || p_theta(z|x)), estimated with importance sampling) and the learned sigma^2.

# %%
fig, ax = plt.subplots(1, 2, figsize=(10, 3.3))
for i, ds in enumerate(sec6_8.CASE_B_DATASETS):
    for metric, a in (("elbo_gap", ax[0]), ("noise_var", ax[1])):
        s = summ[(summ["dataset"] == ds) & (summ["method"] == "vae") & (summ["metric"] == metric)]
        a.errorbar(s["K"], s["mean"], yerr=s["sd"], marker="o", label=ds, c=f"C{i}")
ax[0].set_title("VAE: ELBO gap = E KL(q || p(z|x)) (nats)")
ax[1].set_title("VAE: learned sigma^2 (mean over dims)")
ax[1].set_yscale("log")
for a in ax:
    a.set_xlabel("K")
    a.set_xticks(list(sec6_8.CASE_B_K))
    a.legend()
plt.tight_layout()
plt.show()

# %%
rows = []
for ds in sec6_8.CASE_B_DATASETS:
    rec = next(r for r in records if r["config"]["task"]["dataset"] == ds and r["config"]["task"]["method"] == "vae"
               and r["config"]["task"]["latent_dim"] == 1 and r["config"]["task"]["version"] == 0)
    m1 = load_selected(rec)
    x = data.splits(ds, 0, n_train=10, n_val=10, n_test=300)["test"].x
    z = posterior.z_grid()
    kl_model = posterior.best_gaussian_kl(z, evaluate.posterior_grid(m1, x, z)[0])[0].numpy()
    kl_true = data.get(ds).posterior_kl(x, z=z)["kl"]
    rows.append({"dataset": ds, "true posteriors: mean KL": kl_true.mean(),
                 "learned K=1 posteriors: mean KL": kl_model.mean()})
print(f"K = 1, best-Gaussian KL on 300 test points ({PROFILE}, v0):")
print(pd.DataFrame(rows).set_index("dataset").round(3).to_string())

# %% [markdown]
# ## Appendix F / Figure 7: projecting onto the learned manifold as a defence
#
# A manifold defence replaces x by M(x) = f(mu(x)) before classifying. We compare, on
# 300 Figure-8-5D test points (version 0), the projection onto the true manifold (true f
# at the mode of the exact posterior) with the projections of the Table-1 VAEs for
# K = 1, 2, 3: the mean squared displacement per dimension of clean points (what is
# removed as "noise"; the truth is 0.02 per dimension, minus the tangent part), and the
# median share of a random perturbation of norm 0.5 that survives the projection (Figure
# 7b's failure is a share near 1). Only 2-D slices are plotted (x1, x2 of the embedding
# are f(z) itself, footnote 3).

# %%
x_f = data.splits("figure8_5d", 0, n_train=10, n_val=10, n_test=300)["test"].x
projectors = {"ground truth (K = 1)": lambda a: sec6_8.ground_truth_projection("figure8_5d", a)}
for r in records:
    t = r["config"]["task"]
    if t["dataset"] == "figure8_5d" and t["method"] == "vae" and t["version"] == 0:
        projectors[f"VAE K = {t['latent_dim']}"] = (lambda m: (lambda a: sec6_8.model_projection(m, a)))(
            load_selected(r))
proj = sec6_8.projection_defence(projectors, x_f, radius=0.5, seed=SEED)
print(f"Appendix F ({PROFILE}, figure8_5d v0):")
print(proj.round(4).to_string())

# %%
fig, ax = plt.subplots(1, len(projectors), figsize=(3.2 * len(projectors), 3.2), sharex=True, sharey=True)
for a, (lab, P) in zip(ax, projectors.items()):
    px = P(x_f)
    a.scatter(x_f[:, 0], x_f[:, 1], s=3, c="0.75")
    a.scatter(px[:, 0], px[:, 1], s=3, c="C3")
    a.set_title(lab, fontsize=9)
plt.suptitle("test points (grey) and their projections M(x) (red), first two coordinates", fontsize=9)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Summary

# %%
nm = noise.set_index("experiment")
g = lambda ds, met, K, m="vae": float(summ[(summ.dataset == ds) & (summ.method == m) & (summ.metric == met)
                                            & (summ.K == K)]["mean"].iloc[0])
out = []
for e in nm.index:
    out.append({"claim": f"Case A: {e}", "paper": f"{nm.loc[e, 'paper mean']:.3f} +- {nm.loc[e, 'paper sd']:.3f}",
                "ours": f"{nm.loc[e, 'mean']:.4f} +- {nm.loc[e, 'sd']:.4f}",
                "verdict": ("not meaningful: quick profile (5 epochs, untrained models)" if PROFILE == "quick"
                            else "over-estimates (agrees in direction)" if 0.011 < nm.loc[e, "mean"] < 0.05
                            else "differs")})
for ds in sec6_8.CASE_B_DATASETS:
    k_vae = pref.loc[ds, "ELBO prefers K (ours, VAE)"]
    out.append({"claim": f"Table 1 {ds}: the ELBO prefers K > 1", "paper": f"K = {pref.loc[ds, 'paper (VAE)']}",
                "ours": f"K = {k_vae}", "verdict": "agrees" if k_vae > 1 else "differs"})
    out.append({"claim": f"Table 1 {ds}: avg_i I(x; z_i) falls with K (VAE)",
                "paper": "yes", "ours": "K=1,2,3: " + " / ".join(f"{g(ds, 'avg_mi', K):.3f}" for K in sec6_8.CASE_B_K),
                "verdict": "agrees" if g(ds, "avg_mi", 1) > g(ds, "avg_mi", 3) else "differs"})
    out.append({"claim": f"Table 1 {ds}: learned sigma^2 falls with K (VAE)",
                "paper": "yes", "ours": "K=1,2,3: " + " / ".join(f"{g(ds, 'noise_var', K):.4f}" for K in sec6_8.CASE_B_K),
                "verdict": "agrees" if g(ds, "noise_var", 1) > g(ds, "noise_var", 3) else "differs"})
gt_surv = proj["survival"].iloc[0]
k3_surv = proj.loc["VAE K = 3", "survival"] if "VAE K = 3" in proj.index else float("nan")
out.append({"claim": "App. F: a K = 3, small-sigma^2 model leaves perturbations in place",
            "paper": "qualitative (Fig. 7b)", "ours": f"survival {k3_surv:.3f} (K = 3) vs {gt_surv:.3f} (truth)",
            "verdict": "agrees" if k3_surv > gt_surv else "differs"})
summary = pd.DataFrame(out).set_index("claim")
if PROFILE == "quick":
    summary["verdict"] = summary["verdict"] + " [quick profile: smoke test only]"
print(f"profile: {PROFILE}")
print(summary.to_string())
