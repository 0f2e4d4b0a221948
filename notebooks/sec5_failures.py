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
from vaefail_core.paper import robustness, scorecard, sec5
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
# ## Beyond the paper: a normalizing-flow encoder
#
# The paper concludes that IWAE avoids the Section 5 failure because its implied
# posterior family is richer than the mean-field Gaussian. Does a richer family other
# than IWAE's do the same? Ours (not in the paper): method "Flow" trains the plain ELBO
# with q(z | x) the Gaussian encoder followed by L rational-quadratic spline layers
# (8 bins; with K = 1 latent dimension each layer is an element-wise spline whose
# parameters one network computes from x), the identity at initialisation. The layer
# count L is its hyper-parameter (`reduced`: 1 or 2), chosen per data version by the
# validation kNN statistic like IWAE's S; data versions, restarts and ground-truth
# starts (decoder at the truth, flow at the identity) are those of the Section-5 sweep.
# The records come from the named sweep `vaefail sweep section5_flow`; the page reads
# them and does not train them.

# %% tags=["hide-input"]
flow_recs = sec5.flow_records(PROFILE)
if flow_recs is None:
    print(f"No section5_flow records for profile {PROFILE!r}: run `vaefail sweep section5_flow --profile {PROFILE}`.")
else:
    t2f = sec5.table2(PROFILE, records=records + flow_recs, include_flow=True)
    pvf = sec5.table2_per_version(PROFILE, records=records + flow_recs, include_flow=True)
    sec5.write_table2_csv(t2f, PROFILE, include_flow=True)
    print(f"The Flow rows are appended to results/{PROFILE}/{csv_path.name} (after the paper's methods).")

# %% [markdown]
# **Ours, beyond the paper: Table 2 with the flow.** Ours only (z-scores, mean +- sd over
# data versions; the paper has no such column), with the settings each method chose.

# %% tags=["hide-input"]
if flow_recs is not None:
    show(sec5.table2_display(t2f, with_paper=False).join(
        t2f.pivot(index="dataset", columns="method", values="settings")[["IWAE", "Flow"]]
        .rename(index=sec5.DATASET_NAMES, columns=lambda m: f"{m} settings")),
        caption=f"Ours, beyond the paper: Table 2's statistic with a flow encoder, {PROFILE} profile")
    show(pvf[pvf["method"].isin(["VAE", "IWAE", "Flow"])]
         .pivot_table(index=["dataset", "version"], columns="method", values="knn_test"),
         caption=f"Ours, beyond the paper: VAE, IWAE and Flow per data version, {PROFILE} profile", digits=2)

# %% [markdown]
# **Ours, beyond the paper: learned p(x) on Figure-8 with the flow** (data version 0, as
# Figure 5 below: draws from the true p(x) and from the chosen VAE, IWAE and Flow).

# %% tags=["hide-input"]
if flow_recs is not None:
    f5f = sec5.fig5_data(PROFILE, datasets=("figure8",), methods=("VAE", "IWAE", "Flow"), n=N_PLOT,
                         seed=SEED, records=records + flow_recs)
    sec5.draw_fig5(f5f, methods=("VAE", "IWAE", "Flow"))
    plt.show()

# %% [markdown]
# **What the `reduced` run shows** (written from the committed run; the verdicts at the
# end of the page are recomputed). On Clusters the flow does what IWAE does: it is better
# than the VAE in every data version (the claim "Flow better than the VAE" is reproduced)
# and indistinguishable from IWAE ("within noise"), so there the answer is yes. On Figure-8
# it is not: the flow is no better than the VAE on the kNN statistic ("within noise") and
# worse than IWAE in every version ("Flow better than IWAE" differs). Its training
# objective did improve: its validation -ELBO is below the VAE's in every version, and
# its importance-sampled test log-likelihood lies between the VAE's and IWAE's in 3 of
# 4 versions (below both in the fourth). Version
# 0's drawing shows the kind of miss behind the statistic: the flow's p(x) puts its mass
# on two horizontal bands and leaves out the diagonal where the curve crosses itself (in
# that version the VAE happens to fit well). What we think causes it (not tested, nothing
# was tuned): (1) the family: one or two 8-bin element-wise splines of a Gaussian must
# bend q into the two- or three-mode posteriors of points near the crossing, where IWAE
# (S = 10 or 20 here) reweights that many draws; (2) the budget: the flow trains the same epochs as the
# VAE with a larger encoder; (3) selection: with 4 versions, choosing L by the validation
# kNN statistic is noisy (the other L scores up to 1.4 lower or higher on the test set in
# some versions), and IWAE chooses among three settings, the flow among two.

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
# every pair of methods, checked against our numbers under every setting). These words
# are not the book's verdicts: "robust", "depends on the test" and "not supported" count
# the settings under which our mean over data versions is in the paper's order, with no
# test of significance. The book's verdict on each ordering is the scorecard row at the
# end of the page (a paired t-test at the default setting): a "robust" ordering can be
# "within noise" there, as most are with 4 data versions.

# %% tags=["hide-input"]
ver = robustness.verdicts(rob)
show(ver[ver["table"].isin(["table2"])], digits=2, index=False,
     caption=f"Ours: do the paper's orderings in Table 2 hold under every test? ({PROFILE} profile)")

# %% [markdown]
# ## What we reproduced
#
# Notes on the reduced run, which is what the committed book shows (the verdict table
# below is recomputed on every run; this text is not):
#
# * **Reproduced.** The ordering IWAE < LIN < VAE holds on both sets in the means, under
#   App. D's selection rule and under the caption's; with 4 data versions only Clusters'
#   IWAE < VAE is significant (the VAE is worse in every version), the other pairs are
#   within noise. On Clusters the ordering survives every setting of the kNN statistic
#   and the energy test except LIN vs VAE. The Eq. 3 trade holds in every version of
#   both sets: from the ground-truth start to the selected optimum the MLEO rises from
#   zero, the PMO falls, and their sum falls.
# * **The ground-truth start now survives training** (first epoch at most 1.08 times
#   the start's loss, median 0.97-1.01), so the comparison of ground-truth and random
#   restarts means what Sec. 4 intends. On Clusters a random restart wins the selection
#   in every version and for every method (by about 0.02-0.06 nats of validation
#   objective), and its optimum beats even the truth with an ideal per-point Gaussian q
#   (`-ELBO - H` 0.09 against 0.49): there the objective itself prefers another model,
#   as the paper says.
# * **Not shown on Figure-8.** The ground-truth restarts win the VAE's selection in 2 of
#   4 versions. The truth with an ideal Gaussian q (`-ELBO - H` about 0.10 nats) is below
#   the selected optima as trained (about 0.27) in every version (that row differs) and
#   below them with an ideal q of their own (about 0.11) in 3 of 4 (within noise). The
#   best random restart beats the best ground-truth one in 2 of 4 versions (within
#   noise). So on Figure-8 the ground-truth starts lose, where they lose, through their
#   amortised encoder (PMO about 0.49 at the start, against 0.10 for an ideal q); the
#   ELBO's global optimum need not lie away from the truth. The VAE is worse than IWAE on
#   average but only in 2 of 4 versions (one-sided p = 0.30 above, within noise; 3 of 4
#   and p = 0.16 with the caption's selection).
# * **Beyond the paper: the flow encoder** avoids the failure on Clusters (better than
#   the VAE, as good as IWAE) but not on Figure-8 (worse than IWAE in every version);
#   see its section after Table 2.
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
# **Verdicts: the scorecard's rows for this page.** Every claim the page judges, in the
# book's one vocabulary (reproduced / within noise / differs / not comparable / not run)
# and under its one rule, defined on the scorecard page: Table 2's cells are "not
# comparable" (another scale); each pair of methods in Table 2, the Eq. 3 trade, the
# comparisons of the truth with the optimum, of ground-truth with random restarts, and
# of the flow (ours, beyond the paper) are `effect`s: one paired difference per data
# version, a two-sided t-test at 5%. Against the page's earlier hand-written verdicts,
# three words change. "VAE worse than IWAE" on Figure-8 ("same direction, not
# significant") and the Table 2 orderings with unseparated neighbours ("reproduced")
# are now "within noise" for each such pair. On Figure-8, "the ELBO's optimum is not the
# truth" (earlier "not shown") splits in two: the optimum as trained against the truth
# with an ideal q now "differs" (the truth is better in every version), the two decoders
# with an ideal q each are "within noise". "The objective prefers a model other than the
# truth" on Figure-8 (earlier "reproduced", because the selected model's MLEO exceeds
# 0.01 nats) is now judged on what Sec. 4 asks, whether random restarts reach a better
# validation objective than the ground-truth ones: "within noise" (2 of 4 versions); the
# MLEO's rise is its own Eq. 3 row. Whether the selection rule changes the ordering is a
# question of ours, answered in the selection section above, and has no row here.

# %% tags=["hide-input"]
show(scorecard.page_verdicts(PROFILE, "sec5_failures"), index=False,
     caption=f"Sec. 5, Table 2 and beyond: paper vs ours ({PROFILE} profile)")
