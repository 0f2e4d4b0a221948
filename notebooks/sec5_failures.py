# ---
# jupyter:
#   jupytext:
#     text_representation: {extension: .py, format_name: percent}
#   kernelspec: {display_name: Python 3, language: python, name: python3}
# ---

# %% [markdown]
# # Section 5: when the ELBO gives up on p(x)
#
# Section 5.1 of the paper names two conditions under which the global optimum of the
# MFG-VAE objective misestimates the data distribution: (1) for many x the true
# posterior is far from any Gaussian, and (2) no other decoder explains p(x) about as
# well with simpler posteriors. Section 5.3 builds two data sets that meet both,
# Figure-8 and Clusters (Figure 4), and claims, with Table 2 and Figure 5:
#
# * the VAE fits p(x) poorly on both; LIN (Lagging Inference Networks), which only changes
#   the optimisation, fails the same way; IWAE, whose implied posterior family is
#   richer, fits p(x) best (Table 2's ordering is IWAE < LIN < VAE, lower is better);
# * the reason is Eq. 3: the negative ELBO is the MLEO (KL from p(x) to p_theta(x)) plus
#   the PMO (mismatch between q and the model's posteriors). Starting at the ground truth,
#   where the MLEO is zero, training moves to a decoder with a positive MLEO but a much
#   smaller PMO;
# * with the ground-truth start available (Sec. 4), if the selected restart is a random
#   one, the objective itself prefers a model other than the truth.
#
# Everything below is loaded from the cached Section-5 sweep (`vaefail sweep section5`;
# a missing cache is computed first, and `RETRAIN=True` recomputes it) and computed by
# `vaefail_core.paper.sec5`. Our smooth kNN statistic is a z-score (README,
# Metrics), so its scale differs from Table 2's. We compare what can be compared: the
# ordering of the methods and whether the VAE is significantly worse than IWAE.
# Appendix E.2 and Figures 8-15 are on the next page (`appE_qualitative`).

# %% tags=["parameters", "hide-input"]
PROFILE = "reduced"
SEED = 0
RETRAIN = False

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from vaefail_core.tables import show
from vaefail_core import plots
from vaefail_core.paper import robustness, sec5
from vaefail_core.paper.records import gt_start_table, training_curves
from vaefail_core.profiles import get_profile

N_PLOT = sec5.setup_notebook(PROFILE, SEED)  # seeds, pandas display, points per density panel
#: training points per data set for Figure 4's condition-1 statistic
N_KL = {"quick": 200, "reduced": 1000, "paper": 1000}[PROFILE]
# the sweep's records (cached; missing tasks are trained first, all of them with RETRAIN)
records = sec5.ensure_records(PROFILE, recompute=RETRAIN)

# %% [markdown]
# **Ours, beyond the paper: the run's settings.** Every table and figure on this page
# comes from the profile listed here.

# %% tags=["hide-input"]
show(pd.Series(get_profile(PROFILE).describe(), name=PROFILE),
     caption=f"Ours: settings of the {PROFILE} profile used on this page")

# %% [markdown]
# ## Figure 4: the two data sets
#
# Left: draws from p(x) with the generating curve f(z) coloured by z. Right: the exact
# posteriors p(z | x) at the starred training points, which are the points whose
# best-Gaussian fit is typical (median KL), bad (90th percentile) and worst. On Figure-8,
# the curve passes near the origin three times. On Clusters, steep steps alternate with
# flat ones. Both give multi-modal or skewed posteriors (Condition 1).

# %% [markdown]
# **Figure 4 (paper's numbering).** Top row Figure-8, bottom row Clusters: the data
# density with the generating curve drawn over it, and the exact posteriors at the three
# starred points.

# %% tags=["hide-input"]
fig4 = [sec5.fig4_data(name, n_points=N_PLOT, n_kl=N_KL, seed=SEED) for name in ("figure8", "clusters")]
sec5.draw_fig4(fig4)
plt.show()

# %% [markdown]
# **Ours, beyond the paper: how common the hard posteriors are.** The share of
# training points of data version 0 whose exact posterior is more than 0.1 nats (KL)
# from its best Gaussian, with the binomial standard error of that share.

# %% tags=["hide-input"]
frac = np.array([d["frac_kl_gt"] for d in fig4])
share = pd.DataFrame({"data set": [sec5.DATASET_NAMES[d["name"]] for d in fig4], "points": N_KL,
                      "share with best-Gaussian KL > 0.1": frac,
                      "binomial se": np.sqrt(frac * (1 - frac) / N_KL)})
show(share, caption=f"Ours: share of poorly fit posteriors (Condition 1), {PROFILE} profile", digits=2,
     index=False)

# %% [markdown]
# ## Table 2: learned vs true p(x)
#
# For each data version, the restart of each setting is the one with the best validation
# objective, and each method's hyper-parameter setting (IWAE: S, LIN: T x R) is the one
# whose selected restart has the smallest smooth kNN statistic on the validation set:
# App. D's rules (the App. D page lists them for every table). Table 2's caption names
# the validation loss instead; that variant follows the table.
# Each cell shows the smooth kNN z-score of 2000 model samples against the held-out
# test set, as mean +- sd over data versions. The paper's numbers are a reference
# column only; they are on a different scale.

# %% [markdown]
# **Table 2 (paper).** The kNN statistic of each method's learned p(x) against the true
# one on Figure-8 and Clusters (lower is better): ours beside the paper's values.

# %% tags=["hide-input"]
t2 = sec5.table2(PROFILE, records=records)
csv_path = sec5.write_table2_csv(t2, PROFILE)
print(f"Selection: App. D (validation kNN); the table is also written to results/{PROFILE}/{csv_path.name}.")
show(sec5.table2_display(t2), caption=f"Table 2 (paper): ours (z-scores) and the paper's, {PROFILE} profile")

# %% [markdown]
# **Ours, beyond the paper: the settings behind Table 2.** For each cell, the
# hyper-parameter setting chosen in each data version ("x 3": chosen in three versions).

# %% tags=["hide-input"]
show(t2[["dataset", "method", "n_versions", "settings"]],
     caption=f"Ours: settings chosen for Table 2, {PROFILE} profile", index=False)

# %% [markdown]
# **Ours, beyond the paper: Table 2 per data version.** The test kNN z-score of each
# chosen model, one row per data version.

# %% tags=["hide-input"]
pv = sec5.table2_per_version(PROFILE, records=records)
show(pv.pivot_table(index=["dataset", "version"], columns="method", values="knn_test"),
     caption=f"Ours: Table 2's statistic per data version, {PROFILE} profile", digits=2)

# %% [markdown]
# ### Ordering and significance
#
# The ordering is by the mean over versions; the second table shows how far apart
# neighbouring methods are (the gap in mean against its standard error over versions).
# The test asks whether the VAE's statistic is
# larger than IWAE's: a one-sided paired t-test over data versions, since both methods
# see the same versions. Beside it is the exact one-sided Mann-Whitney U, a rank check
# that ignores the pairing. With 4 versions, the Mann-Whitney test cannot give p below
# 1/70.

# %% [markdown]
# **Table 2 (paper), ordering.** The methods sorted by their mean statistic, best first,
# in our run and in the paper's table.

# %% tags=["hide-input"]
orders = sec5.method_order(t2)
paper_orders = sec5.method_order(sec5.paper_table2())
show(pd.DataFrame({"ours": orders, "paper": paper_orders}),
     caption=f"Table 2 (paper): ordering of the methods, best first, {PROFILE} profile")

# %% [markdown]
# **Ours, beyond the paper: gaps between neighbours in the ordering.** Gap in mean and its
# standard error over data versions; "separated" means the gap exceeds two standard errors.

# %% tags=["hide-input"]
gaps = sec5.order_gaps(t2)
show(gaps, caption=f"Ours: gaps in Table 2's ordering, {PROFILE} profile", digits=2, index=False)

# %% [markdown]
# **Ours, beyond the paper: is the VAE worse than IWAE?** One-sided tests over data
# versions (H1: the VAE's statistic is larger).

# %% tags=["hide-input"]
tests = sec5.vae_vs_iwae(pv)
show(tests, caption=f"Ours: VAE vs IWAE on Table 2's statistic, {PROFILE} profile", digits=3)

# %% [markdown]
# ## Selection by the validation loss instead (Table 2's caption)
#
# Table 2's caption says the hyper-parameters were chosen by the smaller validation loss,
# App. D by the smallest kNN statistic. The table above follows App. D; here is the
# caption's rule on the same records (the restart is chosen the same way in both).

# %% [markdown]
# **Table 2 (paper) under the caption's selection rule.** Our Table 2 with settings
# chosen by the validation kNN statistic (App. D, as above) beside the same table with
# settings chosen by the validation loss (mean and sd over data versions, and the
# settings that rule picks).

# %% tags=["hide-input"]
t2_loss = sec5.table2(PROFILE, selection="val_loss", records=records)
pv_loss = sec5.table2_per_version(PROFILE, selection="val_loss", records=records)
both = t2[["dataset", "method", "mean", "sd"]].merge(
    t2_loss[["dataset", "method", "mean", "sd", "settings"]], on=["dataset", "method"],
    suffixes=(" (val kNN)", " (val loss)"))
show(both, caption=f"Table 2 (paper) under two selection rules: ours, {PROFILE} profile", digits=2,
     index=False)

# %% [markdown]
# **Ours, beyond the paper: does the selection rule change the ordering?**

# %% tags=["hide-input"]
show(pd.DataFrame({"order, val-kNN selection": orders,
                   "order, val-loss selection": sec5.method_order(t2_loss)}),
     caption=f"Ours: Table 2's ordering under both selection rules, {PROFILE} profile")

# %% [markdown]
# **Ours, beyond the paper: VAE vs IWAE with validation-loss selection.** The same
# one-sided tests as above, on the models chosen by the validation loss.

# %% tags=["hide-input"]
show(sec5.vae_vs_iwae(pv_loss), caption=f"Ours: VAE vs IWAE, val-loss selection, {PROFILE} profile", digits=3)

# %% [markdown]
# ## Does the ground-truth start survive training?
#
# A restart that starts at the ground truth only tells us what the objective prefers if
# training does not throw the start away in its first steps. The table compares, for
# every ground-truth restart of this page's sweep, the loss of its start (one pass over
# the training data with the fitted encoder, measured like an epoch of training) with
# the mean loss of its first epoch of joint training. Our first runs failed this check
# (first epoch up to 47 times the start on Spiral-Dots, 2.7 on Clusters): Adam's first
# steps move every weight by about the learning rate whatever its gradient, and at an
# optimum the gradient is noise. Since then the ground-truth members warm their learning
# rate up over the first epochs (not in the paper; random restarts are trained exactly as
# the paper says), and their encoder is the best of several fits (App. D; the App. D page
# has the details and the same check for every sweep).

# %% [markdown]
# **Ours, beyond the paper: first epoch vs start of the ground-truth restarts.** Median
# and maximum over restarts and data versions of first-epoch loss / start loss, and the
# median difference in nats.

# %% tags=["hide-input"]
show(gt_start_table(records), digits=2, index=False,
     caption=f"Ours: does the ground-truth start survive the first epoch? {PROFILE} profile")

# %% [markdown]
# **Ours, beyond the paper: training curves of ground-truth and random restarts** (VAE,
# data version 0; dots at epoch 0: the starts' losses).

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 4, figsize=(13, 3.2))
for ax, ds in zip(axes, sec5.TABLE2_DATASETS + ("circle", "absolute_value")):
    plots.plot_training_curves(ax, training_curves(records, ds), title=sec5.DATASET_NAMES[ds])
axes[0].legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Ground-truth or random restart?
#
# Half of each method's restarts start at the ground truth (Sec. 4, App. D). The columns
# count how often the restart picked by the validation objective was one of those, and
# give the validation loss of the best random restart minus that of the best
# ground-truth restart (negative: a random start reached a better objective than the
# truth's neighbourhood).

# %% [markdown]
# **Ours, beyond the paper: which start wins.** For the settings of Table 2
# (App. D's selection).

# %% tags=["hide-input"]
ic = sec5.init_counts(pv)
show(ic, caption=f"Ours: ground-truth vs random restarts, {PROFILE} profile", digits=3, index=False)

# %% [markdown]
# ## The mechanism (Eq. 3): MLEO up, PMO down
#
# For the chosen VAE and IWAE models of every data version, we split the exact
# negative ELBO on the test set into its two parts. Both are computed exactly on a
# z-grid, which is possible because the latent is 1-D:
#
# * **MLEO** is the mean over test points of log p(x) - log p_theta(x). The true
#   log p(x) comes from the generating decoder, the model's from the learned one, both
#   by quadrature.
# * **PMO** is the mean of KL(q(z|x) || p_theta(z|x)), with the encoder's Gaussian and
#   the exact posterior of the learned decoder.
#
# The split is computed twice. "gt" is the ground-truth start: the decoder set to the
# generating network and the encoder fit with the decoder frozen, rebuilt as the sweep's
# restart 0 began (same seeds, data and epochs). For IWAE that fit uses the IWAE bound. "opt" is the
# selected optimum. `-ELBO - H` equals MLEO + PMO, where H is the entropy of p(x).
# `best-Gaussian PMO` is what an ideal per-point Gaussian would pay under that decoder.
# A lower value means the decoder's posteriors are simpler. The paper's claim is that
# MLEO goes up, PMO goes down, and their sum goes down.
#
# The last rows check the ground-truth start itself. At the truth the MLEO is zero,
# so with an ideal per-point Gaussian q the VAE's `-ELBO - H` would equal the
# best-Gaussian PMO (gt); at the optimum it would be MLEO + best-Gaussian PMO (opt).
# Suppose the truth with an ideal q beats the optimum, either as trained or with an
# ideal q of its own. Then the start lost only because its amortised encoder is worse
# than ideal, and the run shows that training leaves a poorly fit start, not that the
# ELBO's global optimum lies away from the truth. The check applies to the ELBO, so only
# the VAE columns count.

# %% [markdown]
# **Ours, beyond the paper: the Eq. 3 split of the negative ELBO.** Nats per test point,
# mean over data versions, at the ground-truth start ("gt") and at the selected optimum
# ("opt"); the "k/n" rows count data versions.

# %% tags=["hide-input"]
mech_pv = sec5.mechanism_per_version(PROFILE, retrain=RETRAIN, records=records)
mech = sec5.mechanism_table(mech_pv)
show(mech.set_index(["dataset", "method"]).round(3).replace(-0.0, 0.0).T,
     caption=f"Ours: MLEO and PMO at the truth and at the optimum (test sets), {PROFILE} profile", digits=3)

# %% tags=["hide-input"]
check = mech_pv[mech_pv["point"] == "ground truth"]
fit_gap = float((check["gt_fit_loss_ours"] - check["gt_fit_loss_record"]).abs().max())
off_grid = float(mech_pv["frac_q_off_grid"].max())
print("Ground-truth start rebuilt as in the sweep: the largest gap between our encoder-fit loss and "
      "the recorded one is " + ("below 1e-4." if fit_gap < 1e-4 else f"{fit_gap:.4f}."))
print("Share of test points whose encoder the grid cannot resolve: "
      + ("below 1e-4." if off_grid < 1e-4 else f"{off_grid:.4f}."))

# %% [markdown]
# ## Figure 5: true vs learned p(x)
#
# Draws from the true p(x) and from the chosen VAE and IWAE models of data version 0,
# on all four data sets. (a) Figure-8 and (b) Clusters meet both conditions. (c) Circle
# meets only condition (2) and (d) Absolute-Value only condition (1); see
# `appE_qualitative`. Each title gives the model's test kNN statistic.

# %% [markdown]
# **Figure 5 (paper's numbering).** One row per data set (a)-(d): draws from the true
# p(x), then from the chosen VAE and IWAE, on a common range per row.

# %% tags=["hide-input"]
f5 = sec5.fig5_data(PROFILE, n=N_PLOT, seed=SEED, records=records)
sec5.draw_fig5(f5)
plt.show()

# %% [markdown]
# ## Ours, beyond the paper: do the orderings survive the choice of test?
#
# The paper does not state k, alpha or the distance scale of its smooth kNN statistic
# (App. D), so we recompute every comparison behind Table 2 from the cached selected
# models (no retraining; `robustness.robustness_frame`) under a panel of settings of the
# same statistic (k in {1, 3, 5}, alpha from 0.5 to 5, distances in units of the pooled
# median nearest-neighbour distance or raw) and under a second, standard test: the
# energy-distance test of the `dcor` library (1000 points per side, 200 label
# permutations for its p-value). The kNN statistic is local: it reacts to the shape of
# the density at the scale of a few neighbours (mass smeared off a thin curve, a filled
# gap between clusters), and softer neighbourhoods (small alpha, raw distances) move it
# towards coarser structure. The energy distance is built from all pairwise distances,
# so it weighs where the mass sits globally (how much each mode gets, shifts, spread)
# and barely sees detail at the noise scale. A claim of the paper's tables is
# **robust** when our ordering agrees with it under all 24 kNN settings and under the
# energy statistic, **depends on the test** when only some settings agree (the last
# column names the ones that flip it), and **not supported** when none does. With 4
# data versions and 1000 points per side the energy test has little power on the
# Table 2-3 cells (most p-values above 0.05), so its orderings there are within noise.
#
# **Ours: the sensitivity panel of Table 2** (the statistic against alpha, one line
# per method; columns k, rows the distance convention; right: the energy statistic).

# %% tags=["hide-input"]
rob = robustness.robustness_frame(PROFILE)
robustness.write_robustness_csv(rob, PROFILE)
for t in ("table2",):
    fig = robustness.draw_panel(rob, t)
    plt.show()

# %% [markdown]
# **Ours: the energy test beside each cell of Table 2** (mean over data versions of the
# energy statistic, larger = more different; the mean permutation p-value and the
# number of versions with p < 0.05).

# %% tags=["hide-input"]
en = robustness.energy_table(rob)
show(en[en["table"].isin(["table2"])], digits=2, index=False,
     caption=f"Ours: energy-distance test per cell of Table 2, {PROFILE} profile")

# %% [markdown]
# **Ours: robustness verdicts for the orderings of Table 2** (the paper's ordering of
# every pair of methods, checked against our numbers under every setting).

# %% tags=["hide-input"]
ver = robustness.verdicts(rob)
show(ver[ver["table"].isin(["table2"])], digits=2, index=False,
     caption=f"Ours: do the paper's orderings in Table 2 hold under every test? ({PROFILE} profile)")

# %% [markdown]
# ## What we reproduced
#
# In the table, "paper" is the paper's statement or number and "ours" is computed
# above under the profile named in the claim. Notes on the reduced run, which is what
# the committed book shows:
#
# * **Reproduced.** The ordering IWAE < LIN < VAE holds on both sets, under App. D's
#   selection rule and under the caption's; neighbouring methods are not separated by
#   two standard errors with 4 data versions. On Clusters the VAE is worse than IWAE in
#   every version (one-sided paired t-test p = 0.004), and the ordering survives every
#   setting of the kNN statistic and the energy test except LIN vs VAE. The Eq. 3 trade
#   holds in every version of both sets: from the ground-truth start to the selected
#   optimum the MLEO rises from zero, the PMO falls, and their sum falls.
# * **The ground-truth start now survives training** (first epoch at most 1.08 times
#   the start's loss, median 0.97-1.01), so the comparison of ground-truth and random
#   restarts means what Sec. 4 intends. On Clusters a random restart wins the selection
#   in every version and for every method (by about 0.02-0.06 nats of validation
#   objective), and its optimum beats even the truth with an ideal per-point Gaussian q
#   (`-ELBO - H` 0.09 against 0.49): there the objective itself prefers another model,
#   as the paper says.
# * **Not shown on Figure-8.** The ground-truth restarts win the VAE's selection in 2 of
#   4 versions. The truth with an ideal Gaussian q (`-ELBO - H` about 0.10 nats) is below
#   the selected optima as trained (about 0.27) in every version and below them with an
#   ideal q of their own (about 0.11) in 3 of 4. So on Figure-8 the ground-truth starts
#   lose, where they lose, through their amortised encoder (PMO about 0.49 at the start,
#   against 0.10 for an ideal q); the ELBO's global optimum need not lie away from the
#   truth. The VAE is worse than IWAE on average but only in 2 of 4 versions (p = 0.30;
#   3 of 4 and p = 0.16 with the caption's selection).
# * **Where it differs.** Table 2's magnitudes cannot be compared: our statistic is a
#   z-score (about 0.3-2 here), and the paper's k, alpha and scaling are unknown. The
#   VAE's misfit is mild: its MLEO at the optimum is a few hundredths of a nat.
# * **Likely causes of the differences.** The reduced profile has 4 data versions
#   instead of 5 and 6 restarts instead of 10 (3 + 3 rather than 5 + 5), 3 encoder
#   restarts for the ground-truth start instead of 10, and a shorter ground-truth encoder
#   fit (10 + 50 epochs; the paper gives no number). With 4 versions the tests have
#   little power. The statistic's definition also matters (README, Metrics).
# * **Rebuilt starts.** The Eq. 3 split at the truth rebuilds each start in an ensemble
#   of another size; its last bits differ, which can change which of the 3 encoder
#   restarts is kept, hence the printed gap of a few hundredths of a nat to the recorded
#   encoder-fit loss.

# %% [markdown]
# **Ours, beyond the paper: claim-by-claim verdicts.** Each of the page's claims, the
# paper's statement or number, ours, and the verdict.

# %% tags=["hide-input"]
rows = []
for ds in sec5.TABLE2_DATASETS:
    name = sec5.DATASET_NAMES[ds]
    g = gaps[gaps["dataset"] == ds]
    weak = g[~g["separated (gap > 2 se)"]]
    note = "; ".join(f"{r.pair} not separated (gap {r.gap:.2f}, se {r.se:.2f})" for r in weak.itertuples())
    rows.append([f"Table 2, {name}: ordering (lower is better)", paper_orders[ds], orders[ds],
                 sec5.order_verdict(orders[ds], paper_orders[ds]) + (f" ({note})" if note else "")])
    tr = tests.loc[ds]
    ok = tr["significant (t, 0.05)"]
    worse = tr["mean diff (VAE - IWAE)"] > 0
    rows.append([f"Table 2, {name}: VAE fits p(x) worse than IWAE",
                 "{:.3f} vs {:.3f}".format(sec5.PAPER_TABLE2[(ds, "VAE")][0], sec5.PAPER_TABLE2[(ds, "IWAE")][0]),
                 f"{tr['VAE mean']:.2f} vs {tr['IWAE mean']:.2f} (z-scores), paired t p = {tr['paired t p']:.3f}, "
                 f"n = {tr['n_versions']}",
                 "reproduced (significant)" if ok else ("same direction, not significant" if worse else "not reproduced")])
    rows.append([f"Table 2, {name}: numeric values", "raw statistic, about 0.04-0.36",
                 "z-scores (README, Metrics)", "not comparable: different scale of the statistic"])
for ds in sec5.TABLE2_DATASETS:
    name = sec5.DATASET_NAMES[ds]
    m = mech[(mech["dataset"] == ds) & (mech["method"] == "VAE")].iloc[0]
    up, down, elbo = m["MLEO up"], m["PMO down"], m["-ELBO down"]
    n = m["n_versions"]
    full = all(s == f"{n}/{n}" for s in (up, down, elbo))
    rows.append([f"Eq. 3, {name} (VAE): optimum trades a higher MLEO for a lower PMO",
                 "qualitative (Sec. 5.2-5.3)",
                 f"MLEO {round(m['mleo (gt)'], 3) + 0.0:.3f} -> {m['mleo (opt)']:.3f}, "
                 f"PMO {m['pmo (gt)']:.3f} -> {m['pmo (opt)']:.3f} "
                 f"(MLEO up {up}, PMO down {down}, -ELBO down {elbo})",
                 "reproduced" if full else "partly reproduced"])
for ds in sec5.TABLE2_DATASETS:
    name = sec5.DATASET_NAMES[ds]
    m = mech[(mech["dataset"] == ds) & (mech["method"] == "VAE")].iloc[0]
    k, k2 = m["truth + ideal q beats optimum"], m["truth beats optimum, both ideal q"]
    n = m["n_versions"]
    rows.append([f"Sec. 5.1-5.3, {name} (VAE): the ELBO's optimum is not the truth",
                 "yes (Table 2 and Eq. 3)",
                 f"-ELBO - H: truth with an ideal Gaussian q {m['ideal-q -ELBO - H (gt)']:.3f}; optimum as trained "
                 f"{m['neg_elbo_minus_entropy (opt)']:.3f}, with an ideal q {m['ideal-q -ELBO - H (opt)']:.3f} "
                 f"(truth better in {k} and {k2} versions)",
                 "supported: the optimum beats even the truth with an ideal q" if k == f"0/{n}" and k2 == f"0/{n}" else
                 "not shown: the truth with an ideal q does as well or better than the optimum found, so the "
                 "ground-truth start may have lost through its amortised encoder"])
for ds in sec5.TABLE2_DATASETS:
    name = sec5.DATASET_NAMES[ds]
    r = ic[(ic["dataset"] == ds) & (ic["method"] == "VAE")].iloc[0]
    m = mech[(mech["dataset"] == ds) & (mech["method"] == "VAE")].iloc[0]
    drift = m["mleo (opt)"] > 0.01
    rows.append([f"Sec. 4, {name} (VAE): the objective prefers a model other than the truth",
                 "yes (the selected model misfits p(x))",
                 f"selected restart started at the ground truth in {r['selected gt']} of {r['n_versions']} versions; "
                 f"MLEO at the optimum {m['mleo (opt)']:.3f} nats",
                 (f"reproduced: the selected model is not the truth (MLEO > 0.01); a random start "
                  f"won in {r['selected random']} of {r['n_versions']} versions")
                 if drift else "not reproduced: the optimum stays at the truth"])
for ds in sec5.TABLE2_DATASETS:
    name = sec5.DATASET_NAMES[ds]
    o_loss = sec5.method_order(t2_loss)[ds]
    rows.append([f"App. D vs Table 2 caption, {name}: does the selection rule change the ordering?",
                 "not discussed", f"val kNN (App. D): {orders[ds]}; val loss (caption): {o_loss}",
                 "same ordering" if o_loss == orders[ds] else "ordering changes"])
summary = pd.DataFrame(rows, columns=["claim", "paper", f"ours (profile {PROFILE})", "verdict"])
show(summary, caption=f"Ours: verdicts on the claims of Sec. 5, {PROFILE} profile", index=False)
