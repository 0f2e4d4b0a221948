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
#   (Eq. 9) depends on q, so it is biased: the paper finds it above the truth 0.01 both
#   when sigma^2 is fixed at the truth during training and then set by Eq. 9, and when it
#   is learned jointly (its values are in the summary table).
# * **Case B (Table 1, Figures 23-24).** On 5-D embeddings of Figure-8 and Clusters
#   (footnote 3), the ELBO prefers more latent dimensions than the truth (K = 1) with a
#   smaller noise variance, and the average information per latent dimension drops; IWAE
#   does not show the preference. With more latent dimensions the models' posteriors
#   become simpler (Figures 23-24).
# * **Appendix F (Figure 7).** A manifold-projection defence against adversarial
#   perturbations needs the right sigma^2 and K: projecting onto the true manifold undoes
#   an attack that does not change the true label, while a model with too many latent
#   dimensions and too small a noise variance barely moves the attacked point.
#
# All models come from one sweep (`sec8.section8_tasks(profile)`), cached in
# `results/<profile>/`; this notebook summarises the records and writes
# `results/<profile>/noise.csv` and `results/<profile>/table1.csv`.

# %% tags=["parameters", "hide-input"]
PROFILE = "reduced"
SEED = 0
RETRAIN = False
TRAIN_MISSING = False  # True: train the tasks that are not in the cache yet (long)

# %% tags=["hide-input"]
import inspect

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from vaefail_core.tables import show
from vaefail_core import data, evaluate, plots
from vaefail_core.paper import appF, scorecard, sec8
from vaefail_core.paper.records import gt_start_table, page_records, training_curves
from vaefail_core.profiles import PAGE_KEYS, page_setup
from vaefail_core.sweep import load_selected

prof = page_setup(PROFILE, SEED, PAGE_KEYS + ("IWAE S",))

# %% tags=["hide-input"]
records = page_records("section8", PROFILE, TRAIN_MISSING, RETRAIN)

# %% [markdown]
# ## Case A: Spiral-Dots noise variance (truth 0.01)
#
# Per data version, the selected restart (best validation objective, Sec. 4). Fixed:
# sigma^2 = 0.01 during training, then Eq. 9 on the training set
# (`selected.noise_eq9` of the record); learned: sigma^2 per dimension trained jointly.
# Both are averaged over the two data dimensions.
#
# **Ours, beyond the paper's numbering: Case A per data version.** The paper quotes the
# Case A noise estimates in the text of Sec. 8 only; here is each data version's value and
# whether its selected restart started at the ground truth or at random.

# %% tags=["hide-input"]
case_a = sec8.case_a_table(records)
show(case_a, caption=f"Case A per data version (ours, {PROFILE} profile): sigma^2 of the selected restart",
     digits=3, index=False)

# %% [markdown]
# **Ours against the paper's Sec. 8 text: Case A summary.** Mean and sd over data versions
# (the file `noise.csv`), beside the values the paper reports.

# %% tags=["hide-input"]
noise_csv = sec8.write_noise_csv(case_a, PROFILE)
noise = pd.read_csv(noise_csv)
noise["paper mean"] = [sec8.PAPER_CASE_A[e][0] for e in noise["experiment"]]
noise["paper sd"] = [sec8.PAPER_CASE_A[e][1] for e in noise["experiment"]]
show(noise, caption=f"Case A noise variance, ours ({PROFILE} profile; sd over data versions) vs the paper",
     digits=3, index=False)

# %% [markdown]
# **Ours, beyond the paper: does the ground-truth start survive training?** First-epoch
# loss / the start's loss of every ground-truth restart of this page's sweep (median and
# maximum over restarts and versions; the App. D page explains the check), and the
# training curves of ground-truth and random restarts (VAE, data version 0; dots at
# epoch 0: the starts' losses).

# %% tags=["hide-input"]
show(gt_start_table(records), digits=2, index=False,
     caption=f"Ours: first epoch vs ground-truth start, Sec. 8 sweep, {PROFILE} profile")
fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
for ax, (ds, name) in zip(axes, (("spiral_dots", "Spiral-Dots"), ("figure8_5d", "Figure-8-5D"),
                                 ("clusters_5d", "Clusters-5D"))):
    plots.plot_training_curves(ax, training_curves(records, ds), title=name)
axes[0].legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# **Figure 16 (paper's numbering), in part.** The Spiral-Dots test data with the true
# f (left), samples of the VAE whose sigma^2 was learned jointly with its learned f
# (middle), and the speed |f'(z)| of both curves (right, log scale): the true f alternates
# steep steps with flat stretches, the learned one is smoother, so its density is spread
# between the dots.

# %% tags=["hide-input"]
rec_l = next(r for r in records if r["config"]["task"]["dataset"] == "spiral_dots"
             and r["config"]["task"]["learn_noise"] and r["config"]["task"]["version"] == 0)
m_l = load_selected(rec_l)
truth = data.get("spiral_dots")
zg = np.linspace(-3, 3, 601)
f_true = truth.f(zg[:, None])
f_l = evaluate.f_on_grid(m_l, zg[:, None].astype(np.float32))[0]
xs = data.splits("spiral_dots", 0, n_train=10, n_val=10, n_test=2000)["test"].x
smp = evaluate.sample_px(m_l, 2000, tag="fig16")[0]
fig, ax = plt.subplots(1, 3, figsize=(11, 3.7))
ax[0].scatter(xs[:, 0], xs[:, 1], s=2, alpha=0.4)
ax[0].plot(f_true[:, 0], f_true[:, 1], "k", lw=0.8)
ax[0].set_title("data and true f", fontsize=10)
ax[1].scatter(smp[:, 0], smp[:, 1], s=2, alpha=0.4, c="C1")
ax[1].plot(f_l[:, 0], f_l[:, 1], "k", lw=0.8)
ax[1].set_title(f"VAE, learned sigma^2 ({PROFILE}, v0)", fontsize=10)
ax[2].plot(zg, np.linalg.norm(np.gradient(f_true, zg, axis=0), axis=1), "k", label="true |f'(z)|")
ax[2].plot(zg, np.linalg.norm(np.gradient(f_l, zg, axis=0), axis=1), "C1", label="learned |f'(z)|")
ax[2].set_yscale("log")
ax[2].set_xlabel("z")
ax[2].legend(fontsize=9)
ax[2].set_title("steep steps vs a flatter learned f", fontsize=10)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Case B: Table 1
#
# Per (data set, method, K): mean and sd over data versions of the selected restart's
# test -ELBO, the test -IWAE bound (IWAE only; the paper's IWAE rows are presumably this
# bound, it does not say), avg_i I(x; z_i) (see the estimator check below), the learned sigma^2 (mean over the 5 dimensions) and the ELBO gap (test
# -ELBO minus importance-sampled -log p(x): the average KL(q || p_theta(z|x)) of the
# learned model, i.e. how hard its posteriors are for an MFG, for any K). K = 1 restarts
# start at the ground truth as the profile prescribes; K = 2, 3 start randomly.
#
# **Which mutual information.** For the learned models, `avg_mi` is the encoder's
# I_q(x; z_i) on the test points, averaged over the K coordinates: for a Gaussian encoder
# it is the entropy of the aggregate q(z_i) (a 1-D Gaussian mixture, integrated on a
# grid) minus the mean entropy of q(z_i | x), so no nearest-neighbour estimate is needed
# (`metrics.gaussian_encoder_mi`). `avg_mi_ksg` is the paper's estimator (KSG, App. D)
# on one draw z ~ q(z | x) per test point, kept as a cross-check. The `truth` row
# (`exact_mi`) is the ground truth's exact I(x; z) on the same test draws, by quadrature
# over the 1-D latent: what a K = 1 model at the ground truth should reach.
#
# **Table 1 (paper), our run.** Columns are K; each entry is mean ± sd over data
# versions. The rows `elbo_gap`, `neg_iwae`, `noise_var`, `avg_mi_ksg` and `exact_mi`
# and the three IWAE sample sizes go beyond the paper's table.

# %% tags=["hide-input"]
t1 = sec8.table1_frame(records, PROFILE)
summ = sec8.table1_summary(t1)
t1_csv = sec8.write_table1_csv(summ, PROFILE)
wide = summ.assign(val=[f"{m:.3f} ± {s:.3f}" for m, s in zip(summ["mean"], summ["sd"])]).pivot_table(
    index=["dataset", "metric", "method"], columns="K", values="val", aggfunc="first")
show(wide, caption=f"Table 1 (paper): ours, {PROFILE} profile ({t1['version'].nunique()} data versions; "
                   "mean ± sd)")

# %% [markdown]
# **Ours, beyond the paper: the mutual-information estimators against exact values.**
# On draws of each ground truth (n = 2000), the exact I(x; z) by quadrature against KSG
# (k = 3) on raw coordinates and after per-column standardisation (scikit-learn's
# convention, which an earlier version of this page used). Raw KSG is within 10 % on the
# smooth curves, Figure-8-5D included, but stays low where the joint density has sharp
# structure (Clusters, Spiral-Dots, Clusters-5D); standardising makes it a third low on
# the 5-D embeddings. That bias is why `avg_mi` above does not use KSG.

# %% tags=["hide-input"]
show(sec8.mi_estimator_check(), digits=3,
     caption="Ours: KSG against the exact I(x; z) of the ground truth (n = 2000 draws, seed 0)")

# %% [markdown]
# **Table 1 (paper), the paper's own numbers,** for reference (5 data versions x 10
# restarts in the paper; the paper has a single IWAE row per K and no `neg_iwae` row).

# %% tags=["hide-input"]
ref = sec8.PAPER_TABLE1.assign(val=[f"{m:.3f} ± {s:.3f}" for m, s in
                                      zip(sec8.PAPER_TABLE1["mean"], sec8.PAPER_TABLE1["sd"])])
show(ref.pivot_table(index=["dataset", "metric", "method"], columns="K", values="val", aggfunc="first"),
     caption=f"Table 1 (paper): the paper's numbers (reference for the {PROFILE} profile run above)")

# %% [markdown]
# **Ours, beyond the paper: the K each bound prefers,** read off the two Table 1 versions
# above (the K with the lowest mean negative bound per data set).

# %% tags=["hide-input"]
def best_k(df, method, metric):
    sub = df[(df["method"] == method) & (df["metric"] == metric)]
    return {ds: int(g.loc[g["mean"].idxmin(), "K"]) for ds, g in sub.groupby("dataset", sort=False)}


pref = pd.DataFrame({
    "ELBO prefers K (ours, VAE)": best_k(summ, "vae", "neg_elbo"),
    "paper (VAE)": best_k(sec8.PAPER_TABLE1, "vae", "neg_elbo"),
    **{f"IWAE bound prefers K (ours, {m})": best_k(summ, m, "neg_iwae")
       for m in summ["method"].unique() if m.startswith("iwae")},
    "paper (IWAE)": best_k(sec8.PAPER_TABLE1, "iwae", "neg_elbo"),
})
show(pref, caption=f"Preferred K by bound: ours ({PROFILE} profile) and the paper's Table 1")
print("(the paper prints K = 3 in bold for Figure-8 although its K = 2 entry is lower; we take the minimum)")

# %% [markdown]
# ## Figures 23-24: posteriors become simpler as K grows
#
# Figures 23 (Clusters-5D) and 24 (Figure-8-5D) claim that with more latent dimensions and
# a smaller sigma^2 the VAE's posteriors p_theta(z|x) become simpler, i.e. easier for the
# Gaussian encoder. We measure this for the selected VAE of each K by the per-point
# KL(q_phi(z|x) || p_theta(z|x)) = log p_theta(x) - ELBO(x) (the PMO term of Eq. 3):
#
# * K = 1: exact, by quadrature on a 1-D z-grid (`sec8.model_posterior_grid`), together
#   with the KL of the *best* Gaussian (no amortisation), and the same for the ground truth;
# * K = 2: exact, by quadrature on a 2-D grid (`sec8.grid_posterior_2d`: log p(x|z) +
#   log p(z) with the model's decoder and learned sigma^2);
# * K = 3: importance sampling with the encoder as proposal (`sec8.posterior_gap`; the
#   ELBO and log p(x) from the same samples). It is a lower bound where q misses modes; for
#   K = 2 we check it against the grid.
#
# "Active units" counts the latent dimensions the encoder actually uses (variance of the
# encoder mean over x above 0.01, Burda et al. 2016).
#
# **Ours, beyond the paper: ELBO gap and learned sigma^2 against K.** From the Table 1
# records (all test points, 500 importance samples): the version-averaged ELBO gap of the
# VAE (left) and its learned sigma^2 (right, log scale); error bars are the sd over data
# versions.

# %% tags=["hide-input"]
fig, ax = plt.subplots(1, 2, figsize=(10, 3.5))
for i, ds in enumerate(sec8.CASE_B_DATASETS):
    for metric, a in (("elbo_gap", ax[0]), ("noise_var", ax[1])):
        s = summ[(summ["dataset"] == ds) & (summ["method"] == "vae") & (summ["metric"] == metric)]
        a.errorbar(s["K"], s["mean"], yerr=s["sd"], marker="o", label=ds, c=f"C{i}")
ax[0].set_title("VAE: ELBO gap = E KL(q || p(z|x)) (nats)", fontsize=10)
ax[1].set_title("VAE: learned sigma^2 (mean over dims)", fontsize=10)
ax[1].set_yscale("log")
for a in ax:
    a.set_xlabel("K")
    a.set_xticks(list(sec8.CASE_B_K))
    a.legend(fontsize=9)
plt.tight_layout()
plt.show()

# %% tags=["hide-input"]
N_POST, S_POST = sec8.posterior_settings(PROFILE)
post_v0, post_all = {}, {}
for ds in sec8.CASE_B_DATASETS:
    post_v0[ds] = sec8.posterior_simplicity(records, PROFILE, ds, version=0, n=N_POST, n_samples=S_POST)
    post_all[ds] = sec8.posterior_simplicity_versions(records, PROFILE, ds, n=N_POST, n_samples=S_POST)[1]

# %% [markdown]
# **Ours, beyond the paper: the numbers behind Figures 23-24, version 0.** Per data set,
# the first test points of data version 0: learned sigma^2, active units, and the
# per-point KL(q || p_theta(z|x)) in nats (mean, median, 90 % quantile; the source says
# how it was computed), the importance-sampled gap of every K, and the best-Gaussian KL of
# the ground truth and of the K = 1 model.

# %% tags=["hide-input"]
for ds in sec8.CASE_B_DATASETS:
    show(post_v0[ds][0].drop(columns=["K"]), digits=3,
         caption=f"{ds}, version 0, {N_POST} test points ({PROFILE} profile): posterior mismatch (nats)")

# %% [markdown]
# **Ours, beyond the paper: quadrature against importance sampling.** For K = 1, 2, where
# the posterior is computed on a grid, the mean difference of log p(x) between the grid and
# importance sampling (positive: sampling underestimates log p(x)) and the correlation of
# the two per-point KL values.

# %% tags=["hide-input"]
check = []
for ds in sec8.CASE_B_DATASETS:
    det = post_v0[ds][1]
    for K in (1, 2):
        if K in det:
            check.append({"data set": ds, "K": K,
                          "mean log p(x): grid - IS": float(np.mean(det[K]["grid"]["log_px"]
                                                                    - det[K]["gap"]["log_px_is"])),
                          "correlation of per-point KL": f"{np.corrcoef(det[K]['grid']['kl_q'], det[K]['gap']['gap_is'])[0, 1]:.2f}"})
show(pd.DataFrame(check), digits=3, index=False,
     caption=f"Grid vs importance sampling, version 0, {N_POST} test points ({PROFILE} profile)")

# %% [markdown]
# **Ours, beyond the paper: the same over all data versions.** Mean and sd over data
# versions of sigma^2, the active units and the mean and median per-point KL (nats).

# %% tags=["hide-input"]
POST_COLS = ("sigma2", "active units", "KL(q||p) mean", "KL(q||p) median")
for ds in sec8.CASE_B_DATASETS:
    pa = post_all[ds]
    tab = pd.DataFrame({(c, s): pa[c if s == "mean" else c + " sd"] for c in POST_COLS for s in ("mean", "sd")})
    tab.columns = pd.MultiIndex.from_tuples(tab.columns)
    show(tab, digits=3, caption=f"{ds}, {N_POST} test points per version, mean and sd over "
                                f"{int(pa['versions'].iloc[0])} data versions ({PROFILE} profile)")

# %% [markdown]
# Each of Figures 23 and 24 below shows, per data set, three test points chosen by the
# K = 1 model's KL (its median, 90 % quantile and maximum over the test points): the exact
# posterior of the K = 1 model (blue) with its encoder's Gaussian (red), and the exact 2-D
# posterior of the K = 2 model (filled contours) with its encoder's Gaussian (red
# ellipses: 1 and 2 sd); right, the per-point KL(q || p) of every K (K = 1, 2 by
# quadrature, K = 3 by importance sampling).

# %% tags=["hide-input"]
def posterior_figure(ds, fig_no):
    tab, det = post_v0[ds]
    if 1 not in det or 2 not in det:
        print(f"{ds}: K = 1 or K = 2 record missing, no figure")
        return
    g1, g2 = det[1]["grid"], det[2]["grid"]
    idx = plots.pick_by_quantile(g1["kl_q"], (0.5, 0.9, 1.0))
    fig = plt.figure(figsize=(11, 8.6))
    gs = fig.add_gridspec(3, 3)
    for r, i in enumerate(idx):
        a = fig.add_subplot(gs[r, 0])
        q = np.exp(-0.5 * ((g1["z"] - g1["q_mu"][i, 0]) / g1["q_sd"][i, 0]) ** 2) / (g1["q_sd"][i, 0] * np.sqrt(2 * np.pi))
        a.plot(g1["z"], g1["post"][i], "C0", label="exact p(z|x)")
        a.plot(g1["z"], q, "C3--", label="encoder q(z|x)")
        a.set_xlim(-4, 4)
        a.set_title(f"K = 1, test point {i}: KL = {g1['kl_q'][i]:.2f}", fontsize=10)
        a.set_xlabel("z")
        if r == 0:
            a.legend(fontsize=9)
        a = fig.add_subplot(gs[r, 1])
        plots.plot_posterior_2d(a, g2["z"], g2["post"][i], g2["q_mu"][i], g2["q_sd"][i],
                                title=f"K = 2, same point: KL = {g2['kl_q'][i]:.2f}")
        a.title.set_fontsize(10)
    a = fig.add_subplot(gs[:, 2])
    ks = [K for K in sec8.CASE_B_K if K in det]
    a.boxplot([det[K]["kl"] for K in ks], showfliers=False)
    a.set_xticks(range(1, len(ks) + 1), [f"K = {K}" for K in ks])
    a.set_ylabel("per-point KL(q || p_theta(z|x)) (nats)")
    a.set_title("all test points (K = 3: importance sampled;\nwhiskers 1.5 IQR, outliers not drawn)", fontsize=10)
    fig.suptitle(f"Figure {fig_no} ({ds}, {PROFILE}, version 0): "
                 f"sigma^2 = " + " / ".join(f"{tab.loc[f'VAE K = {K}', 'sigma2']:.3f}" for K in sec8.CASE_B_K
                                             if f"VAE K = {K}" in tab.index) + " for K = 1 / 2 / 3", fontsize=11)
    plt.tight_layout()
    plt.show()


# %% [markdown]
# **Figure 23 (paper's numbering): Clusters-5D.** Posteriors of the K = 1 and K = 2 VAEs
# at three test points, and the spread of the per-point mismatch for K = 1, 2, 3.

# %% tags=["hide-input"]
posterior_figure("clusters_5d", 23)

# %% [markdown]
# **Figure 24 (paper's numbering): Figure-8-5D.** The same for the Figure-8 embedding.

# %% tags=["hide-input"]
posterior_figure("figure8_5d", 24)

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
#
# **Ours, beyond the paper (App. F has no table): random perturbations and projections.**
# `removed/dim` is the mean squared displacement per dimension of clean points;
# `survival` here is the median share of a random perturbation of norm 0.5 left after
# projecting (a ratio of lengths, not a rate).

# %% tags=["hide-input"]
projectors, x_f, proj = appF.appf_random_perturbation(records, seed=SEED)
show(proj, digits=3, caption=f"App. F random-perturbation test (ours, {PROFILE} profile; figure8_5d "
                             f"version 0, {len(x_f)} test points)")

# %% [markdown]
# **Ours, beyond the paper: where each projection sends the clean test points.** Test
# points (grey) and their projections M(x) (red) in the first two coordinates, one panel
# per projection; the K = 2, 3 projections fill the plane instead of collapsing onto a curve.

# %% tags=["hide-input"]
n_p = len(projectors)
n_col = 2 if n_p == 4 else min(n_p, 3)
n_row = -(-n_p // n_col)
fig, ax = plt.subplots(n_row, n_col, figsize=(4.2 * n_col, 3.8 * n_row), sharex=True, sharey=True,
                       squeeze=False)
for a, (lab, P) in zip(ax.flat, projectors.items()):
    px = P(x_f)
    a.scatter(x_f[:, 0], x_f[:, 1], s=3, c="0.75")
    a.scatter(px[:, 0], px[:, 1], s=3, c="C3")
    a.set_title(lab, fontsize=10)
for a in ax.flat[n_p:]:
    fig.delaxes(a)
for a in ax[-1]:
    a.set_xlabel("$x_1$")
for a in ax[:, 0]:
    a.set_ylabel("$x_2$")
plt.suptitle(f"test points (grey) and their projections M(x) (red), first two coordinates ({PROFILE}, v0)",
             fontsize=10)
plt.tight_layout()
plt.show()

# %% [markdown]
# ### Attacks on a downstream classifier (Figure 7)
#
# App. F argues with a picture (Figure 7): a classifier learned from noisy x agrees with the
# true classifier on the manifold but not off it, so a small perturbation can cross the
# learned boundary without changing the true label; projecting onto the true manifold
# undoes such an attack, while a model with too many latent dimensions and too small a
# sigma^2 barely moves the attacked point, so the attack survives. We test this on
# Figure-8-5D (every data version with Table-1 VAEs):
#
# * **Label.** y = 1[f_GT(z)_1 > 0] (`appF.manifold_label`): which loop of the 8 the
#   de-noised point lies on (= 1[z > 0]). It depends on f_GT(z) only, as Eq. 32 requires,
#   is balanced, and a linear classifier can learn it (the classes touch only at the
#   crossing of the 8).
# * **Learned classifier.** Logistic regression on the noisy training split
#   (`appF.fit_label_classifier`), the straight orange line of Figure 7.
# * **Attack.** For each correctly classified test point, the smallest perturbation that
#   crosses the learned boundary (closed form for a linear classifier,
#   `appF.linear_attack`), pushed 1 % past the boundary.
# * **Defences.** Replace the attacked point by its projection onto (c) the true manifold
#   (f_GT at the true posterior's mode), (a) the manifold of the K = 1 VAE (the true K,
#   sigma^2 learned jointly), (b) the manifolds of the K = 2, 3 VAEs, all with M(x) =
#   f(mu(x)); and no defence.
# * **Measures** (`appF.defence_table`). *Survival*: share of successful attacks whose
#   defended prediction is still wrong. *Valid attacks*: share of attacks that leave the
#   true label unchanged (the true label of an attacked point is the label of its
#   projection onto the true manifold); App. F's notion of an adversarial example, and
#   *survival (valid)* is survival among those. *Kept*: how much of the perturbation is
#   left after projecting (||M(x_adv) - M(x)|| / ||x_adv - x||), and the median distance
#   of the attacked point to the de-noised truth before and after projecting.
#
# How far past the boundary the attack goes matters, because the attacked point sits right
# at the boundary; we repeat everything for overshoots of 1 %, 3 %, 10 % and 30 %.
#
# The rates below are shares of attacks (or of clean points), averaged over the data
# versions; each is shown to 2 decimals beside its binomial standard error
# sqrt(p (1 - p) / n), with n the number of attacks (or clean points) pooled over the
# versions. A third decimal would not be reproducible: the true-manifold survival among
# valid attacks, for instance, rests on one or two dozen surviving attacks out of about two
# thousand, and its third decimal differs between CPUs. For the same reason the pooled
# counts are quoted to the nearest hundred.

# %% tags=["hide-input"]
curve, appf_full = appF.appf_overshoot_curve(records, PROFILE)
appf_per, appf_summ, appf_v0 = appf_full[appF.APPF_OVERSHOOT]
# Trials behind each rate: appf_attack attacks those of the first n_test test points that
# the classifier gets right; "test accuracy", "attack success" and "valid attacks" are exact shares of them.
N_ATTACKED = min(inspect.signature(appF.appf_attack).parameters["n_test"].default, prof.n_test)


def appf_counts(per):
    """Per defence: clean points classified correctly, successful and valid attacks,
    pooled over the data versions of a per-version App. F table."""
    n = pd.DataFrame({"defence": per["defence"]})
    n["clean"] = (per["test accuracy"] * N_ATTACKED).round()
    n["attacks"] = (n["clean"] * per["attack success"]).round()
    n["valid"] = (n["attacks"] * per["valid attacks"]).round()
    return n.groupby("defence", sort=False).sum().astype(int)


def binom_se(p, n):
    p, n = np.asarray(p, dtype=float), np.asarray(n, dtype=float)
    return np.sqrt(p * (1 - p) / n)


appf_n = appf_counts(appf_per)
assert appf_n.loc["no defence", "clean"] >= len(appf_v0["x"])   # version 0 alone
RATE_N = {"survival": "attacks", "survival (valid)": "valid", "clean error": "clean"}

# %% [markdown]
# **Ours, beyond the paper (App. F argues with Figure 7 only): attack survival per
# defence,** at the default overshoot of 1 %: survival among all successful attacks, among
# the valid ones (those that keep the true label), and the error of the defended
# classifier on clean points.

# %% tags=["hide-input"]
rates = pd.DataFrame({(c, s): (appf_summ[c] if s == "rate" else
                               binom_se(appf_summ[c], appf_n.loc[appf_summ.index, RATE_N[c]]))
                      for c in RATE_N for s in ("rate", "SE")}, index=appf_summ.index)
rates.columns = pd.MultiIndex.from_tuples(rates.columns)
show(rates, digits=2, caption=f"App. F attack survival (ours, {PROFILE} profile; figure8_5d, "
                              f"{int(appf_summ['versions'].iloc[0])} data versions, overshoot "
                              f"{appF.APPF_OVERSHOOT:.0%}; rate and binomial SE)")
n0 = appf_n.loc["no defence"]
va = appf_summ.loc["no defence", "valid attacks"]
acc = appf_summ["test accuracy"].iloc[0]
about = lambda n: f"about {int(round(n, -2)):,}"
print(f"pooled over versions: {about(n0['clean'])} correctly classified test points, {about(n0['attacks'])} "
      f"successful attacks, {about(n0['valid'])} of them valid (share {va:.2f} ± "
      f"{float(binom_se(va, n0['attacks'])):.2f}); "
      f"classifier test accuracy {acc:.2f} ± {float(binom_se(acc, N_ATTACKED * len(appf_per['version'].unique()))):.2f}")
print(f"median attack norm {appf_summ['attack norm'].iloc[0]:.2f}; median share of the attack off the plane "
      f"of the manifold {appf_summ['attack off-plane'].iloc[0]:.2f}")

# %% [markdown]
# **Ours, beyond the paper: how far the attacked point moves.** Median share of the
# perturbation kept after projecting, and the median distance of the attacked point to the
# de-noised truth before and after projecting (mean and sd over data versions).

# %% tags=["hide-input"]
GEOM = ("kept", "dist before", "dist after")
geom = pd.DataFrame({(c, s): appf_summ[c if s == "mean" else c + " sd"] for c in GEOM for s in ("mean", "sd")},
                    index=appf_summ.index)
geom.columns = pd.MultiIndex.from_tuples(geom.columns)
show(geom, digits=3, caption=f"App. F projection of the attacked points (ours, {PROFILE} profile; overshoot "
                             f"{appF.APPF_OVERSHOOT:.0%}; mean and sd over data versions)")

# %% [markdown]
# **Ours, beyond the paper: survival among valid attacks by overshoot,** rate and
# binomial SE per overshoot past the learned boundary, and below it the share of
# successful attacks that are valid at each overshoot (the successful attacks are the
# same at every overshoot; the further past the boundary, the fewer keep the true label).

# %% tags=["hide-input"]
n_by_ov = {ov: appf_counts(appf_full[ov][0]) for ov in appf_full}
sv = curve.pivot(index="defence", columns="overshoot", values="survival (valid)").loc[appf_summ.index]
by_ov = pd.DataFrame({(f"{ov:.0%}", s): (sv[ov] if s == "rate" else binom_se(sv[ov], n_by_ov[ov].loc[sv.index, "valid"]))
                      for ov in sv.columns for s in ("rate", "SE")}, index=sv.index)
by_ov.columns = pd.MultiIndex.from_tuples(by_ov.columns)
show(by_ov, digits=2, caption=f"App. F survival among valid attacks by overshoot (ours, {PROFILE} profile; "
                              "mean over data versions, binomial SE)")
va_ov = curve.groupby("overshoot")["valid attacks"].first()
show(pd.DataFrame({"overshoot": [f"{o:.0%}" for o in va_ov.index],
                   "valid share": va_ov.to_numpy(),
                   "SE": [float(binom_se(v, n_by_ov[o].loc["no defence", "attacks"])) for o, v in va_ov.items()]}),
     digits=2, index=False, caption=f"App. F share of valid attacks among successful ones, by overshoot (ours, "
                                     f"{PROFILE} profile; mean over data versions, binomial SE)")

# %% [markdown]
# **Figure 7 (paper's numbering), on data.** Version 0: three valid attacks (the 25 %,
# 50 % and 75 % quantiles of the attack norm), projected by each defence, one panel per
# defence. Points are drawn by their first two coordinates (x_1, x_2 of the embedding are
# f(z) itself, footnote 3), and the orange line is the learned boundary *within the plane
# of the manifold*; points off that plane can therefore appear on either side of it. The
# grey cloud is the learned manifold, f(z) for z from the prior: a curve for K = 1, a
# two-dimensional sheet for K = 2, 3. Clean point: star; attack: red arrow; projection:
# black arrow, ending in green where the defence restores the label and in red where the
# attack survives.

# %% tags=["hide-input"]
truth8 = data.get(appF.APPF_DATASET)
zz = np.linspace(-3, 3, 400)[:, None]
f_true8 = truth8.f(zz)
ex = plots.pick_by_quantile(np.linalg.norm(appf_v0["x_adv"] - appf_v0["x"], axis=1), (0.25, 0.5, 0.75),
                            mask=appf_v0["valid"])
defences = [d for d in appf_v0["projected"] if d != "no defence"]
clf8 = appf_v0["classifier"]
n_d = len(defences)
n_col = 2 if n_d == 4 else min(n_d, 3)
n_row = -(-n_d // n_col)
fig, axes = plt.subplots(n_row, n_col, figsize=(4.6 * n_col, 4.0 * n_row), sharex=True, sharey=True,
                         squeeze=False)
for a, d in zip(axes.flat, defences):
    a.plot(f_true8[:, 0], f_true8[:, 1], "k", lw=1, label="true manifold")
    if d.startswith("VAE"):
        K = int(d.split("=")[1])
        fm = evaluate.sample_px(appf_v0["models"][K], 1500, tag="fig7", noise=False)[0]
        a.scatter(fm[:, 0], fm[:, 1], s=1, c="0.6", label="learned f(z), z ~ p(z)")
    a.set_xlim(-1.0, 1.0)
    a.set_ylim(-0.8, 0.8)
    plots.plot_line(a, appf_v0["w_plane"], appf_v0["b"], lw=1.5, label="learned boundary")
    proj_adv = appf_v0["projected"][d][1][ex]
    plots.plot_attack(a, appf_v0["x"][ex], appf_v0["x_adv"][ex], proj_adv,
                      defended=clf8.predict(proj_adv) == appf_v0["y"][ex])
    a.set_title(f"projection onto the {d}" if d == "true manifold" else f"projection: {d}", fontsize=10)
for a in axes.flat[n_d:]:
    fig.delaxes(a)
for a in axes[-1]:
    a.set_xlabel("$x_1$")
for a in axes[:, 0]:
    a.set_ylabel("$x_2$")
# the legend of a panel with a learned manifold names all four kinds of mark
leg_ax = next((a for a, d in zip(axes.flat, defences) if d.startswith("VAE")), axes.flat[0])
leg_ax.legend(fontsize=9, loc="lower left")
plt.suptitle(f"Figure 7 ({PROFILE}, version 0): clean point (star), attack (red), projection (black; "
             "end green = defended, red = attack survives)", fontsize=10)
plt.tight_layout()
plt.show()

# %% [markdown]
# **Ours, beyond the paper: attack survival by defence and by overshoot.** Left: survival
# after each defence at 1 % overshoot, among all and among valid attacks. Right: survival
# among valid attacks against the overshoot. Error bars are the sd over data versions.

# %% tags=["hide-input"]
fig, ax = plt.subplots(1, 2, figsize=(11, 3.9))
pos = np.arange(len(appf_summ))
for j, (c, lab) in enumerate((("survival", "all attacks"), ("survival (valid)", "valid attacks"))):
    ax[0].bar(pos + (j - 0.5) * 0.38, appf_summ[c], 0.38, yerr=appf_summ[c + " sd"], label=lab, color=f"C{j}")
ax[0].set_xticks(pos, appf_summ.index, rotation=20, fontsize=9)
ax[0].set_ylabel("attack survival")
ax[0].set_title(f"survival after the defence (overshoot {appF.APPF_OVERSHOOT:.0%})", fontsize=10)
ax[0].legend(fontsize=9)
for i, (d, s) in enumerate(curve.groupby("defence", sort=False)):
    ax[1].errorbar(s["overshoot"], s["survival (valid)"], yerr=s["survival (valid) sd"], marker="o",
                   label=d, c=f"C{i}")
ax[1].set_xscale("log")
ax[1].set_xlabel("overshoot past the learned boundary")
ax[1].set_ylabel("survival among valid attacks")
ax[1].legend(fontsize=9)
plt.tight_layout()
plt.show()

# %% [markdown]
# Reading. The learned classifier is close to the best a classifier can do here, so its
# weights lie almost entirely in the plane that holds the manifold (off-plane share above).
# Its smallest attack therefore moves a point *within* that plane, towards the region
# between the loops where the true label itself is uncertain: only about half of the
# attacks leave the true label unchanged, fewer the further they go past the boundary.
# Among those valid attacks, the projection onto the true manifold restores the label by
# construction. The learned models differ in how they treat in-plane perturbations: the
# K = 2, 3 manifolds are sheets that fill the plane (grey clouds above), so their
# projections remove the off-plane noise but leave in-plane perturbations where they are
# (the "kept" column) -- Figure 7b's mechanism, although here it comes from the extra latent
# dimension rather than from a much smaller sigma^2 (the learned sigma^2 falls only a
# little with K, Table 1). The K = 1 VAE projects onto a curve, but onto its own, slightly
# wrong one, so it too fails on many valid attacks. The verdicts below compare the learned
# projections K = 1 against K = 2, 3 at every overshoot.

# %% [markdown]
# ## Summary
#
# **Ours: one verdict per claim of Sec. 8 and App. F** (the scorecard's rows for this
# page, recomputed on every run). Verdicts use the book's one rule, defined on the
# scorecard page: Table 1's cells and Case A's two variances are numbers with an error,
# "reproduced" when ours is within the noise of both runs (two-sided z-test, 5%); the
# directions Sec. 8 reads off them, the simpler posteriors of Figures 23-24 and the
# attack survival of App. F are effects over data versions (a per-version difference
# signed so that a positive value supports the paper: "reproduced" when a two-sided
# t-test finds it significantly positive, "within noise" when it does not settle it,
# "differs" when it is significantly negative); the random-perturbation test, one fit
# per K on version 0, is a check of its stated condition. The page's former words
# change as follows: Case A's "over-estimates (agrees in direction)" is now two rows,
# the number against the paper's and the effect "over the truth"; the "preferred K" of
# Table 1, once read off the version means, is now a paired test of the best of
# K = 2, 3 against K = 1 (and "falls with K" compares K = 1 with K = 3); the "partly" of
# Figures 23-24 is now one row per statistic and K; and the App. F row that combined
# every overshoot is now one row per overshoot.

# %% tags=["hide-input"]
show(scorecard.page_verdicts(PROFILE, "sec8_signal_noise"), index=False,
     caption=f"Sec. 8, Table 1 and App. F: paper vs ours ({PROFILE} profile)")

# %% [markdown]
# ## Where we differ from the paper, and what we think causes it
#
# Written from the committed `reduced` run (the table above is recomputed on every run;
# this text is not).
#
# * **Case A, fixed sigma^2 then Eq. 9 (ours about five times the paper's).** The selected Spiral-Dots
#   models now start at the ground truth in every version, and the start survives its
#   first epoch (ratio 1.03; the table and curves above). Training then moves away from
#   it: the training loss falls from the start's 70-90 nats to about 10. The reason is the
#   encoder. An ideal per-point Gaussian q under the true decoder would give a negative
#   ELBO of about 15.7 nats (true -log p(x) = 1.23 plus a mean best-Gaussian KL of 14.4
#   over the training points), but the 3 x 50 encoder fitted with the decoder frozen (best
#   of 3 fits) stops at 70-90 nats. Jointly, the ELBO prefers a smoother f whose
#   posteriors this encoder can follow, and Eq. 9 then books the misfit as noise: the same
#   direction as the paper's bias, five times larger. We have not run the paper's 10
#   encoder restarts on this set (the `paper` profile; the command is `vaefail sweep
#   section8 --profile paper`). The jointly learned sigma^2 agrees with the paper.
# * **Table 1, Clusters-5D: the ELBO prefers K = 1, the paper K = 3.** Our three K differ by
#   0.02-0.04 nats with sd about 0.05 over versions, and so do the paper's (Table 1 as
#   printed above): neither preference is clear at this number of versions. K > 1 starts
#   only from 3 random restarts here (5 in the paper).
# * **Table 1, IWAE on Figure-8-5D prefers K = 2 (the paper: K = 1).** The IWAE bound of K = 2
#   is lower for all three S, by about 0.01 nats against sds of 0.03-0.05; we have no
#   explanation beyond the reduced protocol.
# * **Figures 23-24.** On Figure-8 the mean posterior mismatch falls from K = 1 to K = 2, 3,
#   but only because of a few K = 1 points whose posterior the encoder misses (the median
#   does not fall). On Clusters the learned K = 1 model already has near-Gaussian
#   posteriors (best-Gaussian KL 0.08, against 0.50 for the truth): the K = 1 VAE itself
#   moved away from the truth's complex posteriors (Sec. 5), leaving nothing for larger K
#   to simplify.
# * **Appendix F.** Projecting onto the true manifold removes attacks that keep the true
#   label; the mismatched K = 2, 3 models let more attacks through than the K = 1 model at
#   every overshoot (0.53-0.58 against 0.46 at 1%, 0.83-0.85 against 0.59 at 10%). The
#   direction holds in most data versions, but with four versions and a large spread
#   between them the paired tests leave every overshoot "within noise".
