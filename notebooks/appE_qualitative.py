# ---
# jupyter:
#   jupytext:
#     text_representation: {extension: .py, format_name: percent}
#   kernelspec: {display_name: Python 3, language: python, name: python3}
# ---

# %% [markdown]
# # Appendices E.1, E.2 and I: when p(x) is and is not compromised (Figures 8-15)
#
# Appendix E.1 gives the full analysis behind Table 2. On Figure-8 and Clusters both
# conditions of Sec. 5.1 hold, and the VAE (and LIN) learn a decoder whose posteriors
# are simpler than the truth's, at the cost of p(x). IWAE gives up much less.
# Appendix E.2 argues that both conditions are needed, using two data sets that each
# meet only one:
#
# * **Circle** (App. G.2, Fig. 5c, Fig. 8) meets only condition (2). The
#   non-Gaussian posteriors occur only near the seam at x = (1, 0), a small share of
#   the data.
# * **Absolute-Value** (App. G.3, Fig. 5d, Fig. 9) meets only condition (1). Every true
#   posterior is bimodal, but a monotone decoder explains the same p(x) with unimodal
#   posteriors.
#
# On both, the paper says the MFG-VAE fits p(x) as well as IWAE. Appendix I's Figures
# 8-15 show each fit: the true and learned p(x) and f, and the posteriors under the
# true and the learned f. This page rebuilds them from the cached Section-5 sweep with
# `vaefail_core.paper.sec5` and turns each caption's claim into a number. Our kNN statistic is a
# z-score (README, Metrics): about N(0, 1) when the model's samples and the test data
# come from one distribution, larger when they differ.

# %% tags=["parameters", "hide-input"]
PROFILE = "reduced"
SEED = 0
RETRAIN = False

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import pandas as pd

from vaefail_core.tables import show
from vaefail_core.paper import scorecard, sec5
from vaefail_core.profiles import get_profile

N_PLOT = sec5.setup_notebook(PROFILE, SEED)  # seeds, pandas display, points per density panel
# the Section-5 sweep's records (cached; missing tasks are trained first, all with RETRAIN)
records = sec5.ensure_records(PROFILE, recompute=RETRAIN)

# %% [markdown]
# **Ours, beyond the paper: the run's settings.** Every table and figure on this page
# comes from the profile listed here.

# %% tags=["hide-input"]
show(pd.Series(get_profile(PROFILE).describe(), name=PROFILE),
     caption=f"Ours: settings of the {PROFILE} profile used on this page")

# %% [markdown]
# ## The kNN statistic on all four data sets
#
# As in Table 2, each method's setting is chosen per data version by the validation
# loss. Cells show mean +- sd over data versions. The paper reports Table 2 only, so
# Circle and Absolute-Value have no reference numbers.

# %% [markdown]
# **Table 2 (paper), extended to Circle and Absolute-Value.** Our kNN z-scores of the
# learned p(x) on all four data sets (lower is better). The Figure-8 and Clusters rows are
# those of the Section 5 page.

# %% tags=["hide-input"]
t_all = sec5.table2(PROFILE, datasets=("figure8", "clusters", "circle", "absolute_value"), records=records)
show(sec5.table2_display(t_all, with_paper=False),
     caption=f"Table 2 (paper) extended to four data sets: ours, {PROFILE} profile")

# %% [markdown]
# ### E.2: is the VAE worse than IWAE when only one condition holds?
#
# The test is the same one-sided paired t-test over data versions as in Table 2
# (H1: VAE's statistic larger), with the exact Mann-Whitney U as a rank check. A large p
# on the one-condition sets, beside a small p on the two-condition sets, is what E.2
# predicts. With few versions, a non-significant result is weak evidence of equality,
# so the mean difference is shown too.

# %% [markdown]
# **Ours, beyond the paper: VAE vs IWAE when one or both conditions hold.** One-sided
# tests over data versions (H1: the VAE's statistic is larger).

# %% tags=["hide-input"]
pv_all = sec5.table2_per_version(PROFILE, datasets=("figure8", "clusters", "circle", "absolute_value"),
                                 records=records)
tests = sec5.vae_vs_iwae(pv_all[pv_all["method"].isin(["VAE", "IWAE"])])
tests = tests.loc[["figure8", "clusters", "circle", "absolute_value"]]
tests.insert(0, "conditions of Sec. 5.1", ["both", "both", "only (2)", "only (1)"])
show(tests, caption=f"Ours: VAE vs IWAE on four data sets, {PROFILE} profile", digits=3)

# %% [markdown]
# E.2 also says that on these two sets the outcome does not depend on whether training
# started at the ground truth or randomly. We show which start the validation objective
# picked, and the best random restart's validation loss minus the best ground-truth
# one. A negative value means a random start reached a better objective.

# %% [markdown]
# **Ours, beyond the paper: which start wins, on all four data sets.**

# %% tags=["hide-input"]
show(sec5.init_counts(pv_all), caption=f"Ours: ground-truth vs random restarts, {PROFILE} profile", digits=3,
     index=False)

# %% [markdown]
# ## Figures 8-15: the learned models
#
# Each figure shows the chosen model of data version 0 for one method and data set:
# (a) the true p(x) with the true f, and the learned p(x) (draws) with the learned f,
# both coloured by z; (b) the two coordinates of f against z, true dashed and learned
# solid; (c) the exact posteriors under the true f at three starred test points, chosen
# as typical, bad and worst by the best-Gaussian KL; (d) the exact posteriors of the
# learned model at the same points (solid), with the encoder's Gaussian q (dotted).
# The last panel shows, for 200 test points, the KL of the best Gaussian to the exact
# posterior under each f. That is the PMO an ideal per-point Gaussian would pay, so
# lower values mean simpler posteriors. The learned f may run in the opposite direction of z from the true one:
# the prior is symmetric, so such a model is equally good.

# %% [markdown]
# **Ours, beyond the paper: the models behind Figures 8-15.** For each figure, the
# chosen setting, how its selected restart started, its kNN z-score, and the mean
# best-Gaussian KL of the posteriors under the true and the learned f (nats, 200 test
# points).

# %% tags=["hide-input"]
PANELS = [("VAE", "circle"), ("VAE", "absolute_value"), ("VAE", "figure8"), ("LIN", "figure8"),
          ("IWAE", "figure8"), ("VAE", "clusters"), ("LIN", "clusters"), ("IWAE", "clusters"),
          ("IWAE", "circle"), ("IWAE", "absolute_value")]
Q = {key: sec5.qualitative_data(PROFILE, key[1], key[0], version=0, n=N_PLOT, seed=SEED, records=records)
     for key in PANELS}
simpler = pd.DataFrame([{"paper figure": d["figure"] or "- (Fig. 5 only)", "method": m,
                         "data set": sec5.DATASET_NAMES[ds], "setting": d["setting"],
                         "selected restart started": d["init"], "kNN (version 0)": d["knn"],
                         "best-Gaussian KL, true f": d["kl_true"],
                         "best-Gaussian KL, learned f": d["kl_learned"]} for (m, ds), d in Q.items()])
show(simpler, caption=f"Ours: the models of Figures 8-15 (data version 0), {PROFILE} profile", digits=3,
     index=False)

# %% [markdown]
# ### Figure 8: VAE on Circle (only condition 2)
#
# **Figure 8 (paper's numbering).** The VAE's fit of Circle. The paper's caption says
# that most posteriors are close to Gaussian except near x = (1, 0), where z far below
# and far above zero meet, so the VAE can fit p(x).

# %% tags=["hide-input"]
sec5.draw_qualitative(Q[("VAE", "circle")])
plt.show()

# %% [markdown]
# ### Figure 9: VAE on Absolute-Value (only condition 1)
#
# **Figure 9 (paper's numbering).** The VAE's fit of Absolute-Value. The caption says
# the VAE's f differs entirely from the true |z|. It is monotone, so its posteriors are
# unimodal, and p(x) is still fit well.

# %% tags=["hide-input"]
sec5.draw_qualitative(Q[("VAE", "absolute_value")])
plt.show()

# %% [markdown]
# ### Figure 10: VAE on Figure-8 (both conditions)
#
# **Figure 10 (paper's numbering).** The VAE's fit of Figure-8. The caption says the
# learned f bends its two ends (z near -3 and 3) away from the crossing at the origin.
# That removes the multi-modal posteriors there and distorts p(x).

# %% tags=["hide-input"]
sec5.draw_qualitative(Q[("VAE", "figure8")])
plt.show()

# %% [markdown]
# ### Figure 11: LIN on Figure-8
#
# **Figure 11 (paper's numbering).** LIN's fit of Figure-8. LIN changes only the
# optimisation, and the caption says it fails as the VAE does.

# %% tags=["hide-input"]
sec5.draw_qualitative(Q[("LIN", "figure8")])
plt.show()

# %% [markdown]
# ### Figure 12: IWAE on Figure-8
#
# **Figure 12 (paper's numbering).** IWAE's fit of Figure-8. The caption says IWAE's
# posteriors are only slightly simpler than the truth's. With S = 20 it still does not
# fit p(x) perfectly.

# %% tags=["hide-input"]
sec5.draw_qualitative(Q[("IWAE", "figure8")])
plt.show()

# %% [markdown]
# ### Figure 13: VAE on Clusters (both conditions)
#
# **Figure 13 (paper's numbering).** The VAE's fit of Clusters. The caption says the
# learned f loses the interleaved steep and flat parts, so the density is smeared
# between the clusters.

# %% tags=["hide-input"]
sec5.draw_qualitative(Q[("VAE", "clusters")])
plt.show()

# %% [markdown]
# ### Figure 14: LIN on Clusters
#
# **Figure 14 (paper's numbering).** LIN's fit of Clusters. The caption says LIN fails
# as the VAE does (Fig. 13).

# %% tags=["hide-input"]
sec5.draw_qualitative(Q[("LIN", "clusters")])
plt.show()

# %% [markdown]
# ### Figure 15: IWAE on Clusters
#
# **Figure 15 (paper's numbering).** IWAE's fit of Clusters. The caption says IWAE fits
# the true p(x) while its posteriors are simpler than the truth's.

# %% tags=["hide-input"]
sec5.draw_qualitative(Q[("IWAE", "clusters")])
plt.show()

# %% [markdown]
# ### IWAE on Circle and Absolute-Value (no paper figure; Fig. 5c-d only)
#
# These are the IWAE columns of Figure 5c-d in the same detail, as a baseline for the
# VAE in Figures 8 and 9.

# %% [markdown]
# **Ours, beyond the paper: IWAE on Circle** (the layout of Figures 8-15).

# %% tags=["hide-input"]
sec5.draw_qualitative(Q[("IWAE", "circle")])
plt.show()

# %% [markdown]
# **Ours, beyond the paper: IWAE on Absolute-Value** (the layout of Figures 8-15).

# %% tags=["hide-input"]
sec5.draw_qualitative(Q[("IWAE", "absolute_value")])
plt.show()

# %% [markdown]
# ## What we reproduced
#
# The kNN numbers are means over data versions. The posterior KL numbers come from
# data version 0, 200 test points. Notes on the reduced run, which is what the
# committed book shows:
#
# * **E.2.** On Circle and Absolute-Value the VAE is not significantly worse than
#   IWAE (on Circle its mean is even the better one), while on the two sets that meet
#   both conditions it is worse on average. This is weak evidence of equality, with
#   only 4 data versions, and the larger gap on the two-condition sets is not
#   significant either. On Circle the ground-truth restarts win the selection in every
#   version, by about 0.2 nats of validation objective. We cannot check the paper's
#   "regardless of initialisation": only the selected restart's kNN is stored.
# * **Figures 9, 10, 13, 15.** Every learned decoder has simpler posteriors than the
#   truth. On Absolute-Value the VAE finds a monotone f whose posteriors are almost
#   exactly Gaussian, as Figure 9 describes. On Figure-8 the VAE of version 0 is a
#   ground-truth restart and its posteriors are only a little simpler than the truth's.
# * **Figure 12.** IWAE's Figure-8 posteriors are about as complex as the truth's, not
#   slightly simpler; they are closer to the truth's than the VAE's are.
# * **Figures 11 and 14.** On the means over versions LIN sits between the VAE and
#   IWAE on both sets. Per data version, LIN's Figure-8 z-score is closer to IWAE's than
#   to the VAE's in all 4 versions (as the paper's own Table 2 has it); on Clusters it
#   is closer to the VAE's in 2 of 4.
# * **Figure 15.** IWAE's Clusters model is indistinguishable from the data in 3 of the
#   4 versions (z below 1.645).
# * **Selection.** Hyper-parameters follow App. D's rule (smallest validation kNN
#   statistic); the Section 5 page shows Table 2's caption rule beside it. All models
#   come from the sweep with the "stable" ground-truth start (App. D page).

# %% [markdown]
# ## Verdicts
#
# Every claim is judged by the book's one rule (defined on the scorecard page). Claims
# about p(x) are judged over data versions: the per-version difference of kNN z-scores,
# signed so that a positive value supports the paper, is "reproduced" when a two-sided
# paired t-test finds it significantly positive (5%), "differs" when significantly
# negative, and "within noise" otherwise. So "the VAE fits p(x) no worse than IWAE" is
# "within noise" when the two do not differ significantly, "reproduced" when the VAE is
# significantly better and "differs" only when it is significantly worse. Claims about
# the posteriors of the model a figure shows (data version 0) are checks on that single
# fit: "reproduced" when the stated inequality of best-Gaussian KLs holds, else
# "differs". Several verdicts changed from
# the page's earlier hand-written ones. The two E.2 claims, the E.2 gap between one and
# both conditions, Fig. 14 (LIN like the VAE on Clusters) and Fig. 15's p(x) claim are
# now "within noise" rather than "reproduced" / "partly", since four data versions do
# not settle them at 5%. Fig. 11 (LIN fails like the VAE on Figure-8) is now judged per
# data version, where LIN's z-score is closer to IWAE's than to the VAE's in every
# version, so it "differs" (the earlier verdict compared means, which one high VAE
# version pulls toward LIN). Fig. 12's "partly" is split into two checks, one that holds
# (closer to the truth than the VAE's) and one that does not (simpler than the
# truth's).
#
# **Ours, beyond the paper: claim-by-claim verdicts.** Each caption's claim, the paper's
# statement or number, ours, the verdict and its test (the scorecard's rows for this
# page).

# %% tags=["hide-input"]
show(scorecard.page_verdicts(PROFILE, "appE_qualitative"), index=False,
     caption=f"Ours: verdicts on the claims of App. E.1-E.2 and Figures 8-15, {PROFILE} profile")
