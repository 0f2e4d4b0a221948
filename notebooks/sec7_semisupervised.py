# ---
# jupyter:
#   jupytext:
#     text_representation: {extension: .py, format_name: percent}
#   kernelspec: {display_name: Python 3, language: python, name: python3}
# ---

# %% [markdown]
# # Section 7: partial labels and functional collapse (Tables 3-4, Figures 6, 17-22)
#
# Section 7 (with App. B, E.3 and H) argues that adding partial labels to a VAE does not
# rescue the latent space when the labels conflict with what a mean-field Gaussian
# posterior can represent. The semi-supervised "M2" model (Kingma et al. 2014; our
# `vaefail_core/m2.py`) generates x from a latent z and a label y; the labels are seen
# for 10% of the training points. On the two Semi-Circle sets (App. H) both cohorts lie
# on one semi-circle but are spread differently along it, so an unlabelled point could
# have come from either cohort and its true posterior over z is bimodal. The claims we
# test:
#
# * **Discrete labels (Fig. 6, 17-19; Tables 3-4).** The MFG-VAE (and LIN) learns p(x)
#   well but makes f(z, y = 0) and f(z, y = 1) nearly the same function ("functional
#   collapse"), so its cohorts p(x | y) are poor. IWAE keeps the cohorts apart (better
#   Table 4) at the price of a worse p(x) (Table 3).
# * **Continuous labels (Fig. 20-22).** The same trade-off, plus a second one: a larger
#   weight alpha on the Gaussian discriminator q(y | x) buys predictive accuracy with more
#   collapse; IWAE's p(x) is best but its cohorts are no better than the others'.
# * **Trade-offs.** gamma (the weight of labelled data, Eq. 11) trades realistic data
#   against realistic counterfactuals; alpha trades prediction against collapse.
#
# Models come from one sweep (`sec7.section7_tasks(profile)`), cached in
# `results/<profile>/`; this page summarises the records and writes
# `results/<profile>/table3.csv` and `table4.csv`. Numbers are smooth kNN z-scores (lower
# is better; see the App. D page): the paper's values are on another scale, so verdicts
# compare orderings.

# %% tags=["parameters", "hide-input"]
PROFILE = "reduced"
SEED = 0
RETRAIN = False
TRAIN_MISSING = False  # True: train the tasks that are not in the cache yet (long)

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from vaefail_core.tables import show
from vaefail_core import data, m2, plots
from vaefail_core.paper import robustness, scorecard, sec7
from vaefail_core.paper.records import gt_start_table, page_records, training_curves
from vaefail_core.profiles import PAGE_KEYS, page_setup
from vaefail_core.sweep import load_selected

prof = page_setup(PROFILE, SEED, keys=())

# %% [markdown]
# **Ours, beyond the paper: the run's settings.** The profile's protocol and the
# semi-supervised settings every table and figure on this page uses.

# %% tags=["hide-input"]
settings = {k: v for k, v in prof.describe().items() if k in PAGE_KEYS}
settings.update({"alpha": ", ".join(f"{a:g}" for a in prof.ss_alpha),
                 "gamma": ", ".join(f"{g:g}" for g in prof.ss_gamma),
                 "labelled share": f"{m2.LABEL_FRACTION:g}",
                 "Gumbel-softmax temperature": f"{m2.TEMPERATURE:g}"})
if PROFILE == "reduced":
    settings.update({f"Section 7 under 'reduced': {k}": str(v) for k, v in sec7.SEC7_REDUCED.items()})
show(pd.Series(settings, name=PROFILE), caption=f"Ours: settings of the {PROFILE} profile used on this page")

# %% tags=["hide-input"]
records = page_records("section7", PROFILE, TRAIN_MISSING, RETRAIN)
frame = sec7.records_table(records)

# %% [markdown]
# **Ours, beyond the paper: does the ground-truth start survive training?** First-epoch
# loss / the start's loss of every ground-truth restart of this page's sweep (median and
# maximum over restarts and versions; the App. D page explains the check). This sweep's
# records were trained with the legacy start (one encoder fit, no learning-rate warm-up;
# its start's loss is the encoder fit's best score). Its decoders were fitted by gradient
# descent and the check passes without the warm-up; App. D's encoder restarts are not
# applied here yet. Right: the training curves of ground-truth and random restarts (M2
# VAE, alpha = 0.1, gamma = 1, data version 0; dots at epoch 0: the starts' losses).

# %% tags=["hide-input"]
show(gt_start_table(records), digits=2, index=False,
     caption=f"Ours: first epoch vs ground-truth start, Sec. 7 sweep, {PROFILE} profile")
fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
for ax, ds in zip(axes, sec7.SEC7_DATASETS):
    plots.plot_training_curves(ax, training_curves(records, ds), title=ds)
axes[0].legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Why the sets trigger the failure (App. H, Condition 1 of Sec. 7)
#
# For each set: how often the exact posterior of an *unlabelled* point, p(z | x) summed
# over y, is far from every Gaussian (best-Gaussian KL above 0.1 nats), against the
# posterior given the label, p(z | x, y). The labelled posteriors are close to Gaussian;
# the unlabelled ones are not, because two cohorts share the manifold.
#
# **Ours, beyond the paper: Condition 1 of Sec. 7, measured.** 400 draws per set; each
# share is shown with its binomial standard error, and KL values are in nats.

# %% tags=["hide-input"]
N_COND = 400
rows = []
for ds in sec7.SEC7_DATASETS:
    truth = data.get(ds)
    s = truth.sample(N_COND, 123)
    kl_u = truth.posterior_kl(s.x)["kl"]
    kl_l = truth.posterior_kl(s.x, y=s.y)["kl"]
    p_u, p_l = np.mean(kl_u > 0.1), np.mean(kl_l > 0.1)
    rows.append({"data set": ds, "unlabelled: share KL > 0.1": f"{p_u:.2f}",
                 "se (unlabelled)": f"{np.sqrt(p_u * (1 - p_u) / N_COND):.2f}", "unlabelled: mean KL": kl_u.mean(),
                 "labelled: share KL > 0.1": f"{p_l:.2f}", "se (labelled)": f"{np.sqrt(p_l * (1 - p_l) / N_COND):.2f}",
                 "labelled: mean KL": kl_l.mean()})
show(pd.DataFrame(rows).set_index("data set"),
     caption=f"Ours: unlabelled vs labelled posteriors of the Semi-Circle sets, {PROFILE} profile", digits=3)

# %% [markdown]
# ## Table 3: learned vs true p(x)
#
# Per data version the restart with the lowest validation objective, then per method
# the setting (alpha, gamma and S or T x R) with the lowest *validation* kNN statistic of
# p(x) (the captions of Tables 3-4); the table gives the test statistic, mean +- sd over
# versions. "VAE (x only)" is an unsupervised VAE trained on x alone (reference for
# App. H's remark that p(x) by itself is easy).

# %% [markdown]
# **Table 3 (paper).** The kNN statistic of each method's learned p(x) against the true
# one on the two Semi-Circle sets (lower is better): ours beside the paper's values.

# %% tags=["hide-input"]
t3 = sec7.table3(frame)
sec7.write_table_csv(t3, "table3", PROFILE)
show(sec7.display(t3, "table3", digits=2),
     caption=f"Table 3 (paper): ours (z-scores) and the paper's, {PROFILE} profile")

# %% [markdown]
# ## Table 4: learned vs true p(x | y)
#
# Same chosen models; each cohort of the model, p_theta(x | y) with y fixed, against
# fresh samples of the true p(x | y): y = 0, 1 (discrete) and y = -3.5, 3.5 (continuous).

# %% [markdown]
# **Table 4 (paper).** The kNN statistic of each learned cohort p(x | y) against the true
# one (lower is better): ours beside the paper's values.

# %% tags=["hide-input"]
t4 = sec7.table4(frame)
sec7.write_table_csv(t4, "table4", PROFILE)
show(sec7.display(t4, "table4", digits=2),
     caption=f"Table 4 (paper): ours (z-scores) and the paper's, {PROFILE} profile")

# %% [markdown]
# ## Functional collapse, measured directly
#
# *Collapse ratio*: the mean distance between the learned f(z, y_1) and f(z, y_2) over
# z ~ N(0, 1), divided by the truth's (1: as distinct as the truth; 0: one function for
# both labels). *Cohort separation*: the kNN statistic between the model's own two
# cohorts (large: the cohorts differ; near 0: p(x | y_1) = p(x | y_2)), beside the
# truth's. *Predictive*: accuracy of q(y | x) (discrete) or RMSE of its mean (continuous).
#
# **Ours, beyond the paper: functional collapse of the models chosen for Tables 3-4.**
# Means over data versions ("n"); the ground-truth rows use the true f and the
# Bayes-optimal p(y | x).

# %% tags=["hide-input"]
coll = sec7.collapse_table(frame)
show(coll, caption=f"Ours: collapse, cohort separation and prediction, {PROFILE} profile", digits=3)

# %% [markdown]
# Is the collapse an optimum of the objective or a trap of training? Every restart that
# starts at the ground truth begins with a collapse ratio of 1 (its decoder is the
# surrogate of the true f). Below: where all trained restarts end, by how they started
# (mean, sd and count over versions, alpha and the method's own settings).
#
# **Ours, beyond the paper: collapse ratio at the end of training, by start.**

# %% tags=["hide-input"]
by_start = sec7.collapse_by_start(records)
by_start.index = by_start.index.set_levels(by_start.index.levels[2].map("{:g}".format), level="gamma")
show(by_start,
     caption=f"Ours: collapse ratio of every trained restart, ground-truth vs random start, {PROFILE} profile",
     digits=3)

# %% [markdown]
# ## The trade-offs (App. E.3)
#
# For every (alpha, gamma): the method's own setting chosen by validation kNN, averaged
# over data versions. Left: data realism (kNN of p(x)) against counterfactual realism
# (mean kNN of the two cohorts), one point per (alpha, gamma), lines join the gamma values
# of one alpha. Right: prediction against collapse, one point per (alpha, gamma).
#
# **Ours, beyond the paper: the trade-offs per (alpha, gamma).** App. E.3 describes them
# in words; these are our numbers, means (and sds) over data versions.

# %% tags=["hide-input"]
tr = sec7.tradeoff_frame(frame)
show(tr.assign(alpha=tr["alpha"].map("{:g}".format), gamma=tr["gamma"].map("{:g}".format)),
     caption=f"Ours: data realism, counterfactual realism, collapse and prediction per (alpha, gamma), "
             f"{PROFILE} profile", digits=3, index=False)

# %% [markdown]
# **Ours, beyond the paper: the trade-offs drawn.** One row per data set; left, data
# against counterfactual realism ("g=" marks gamma); right, prediction against collapse.

# %% tags=["hide-input"]
fig, axes = plt.subplots(2, 2, figsize=(11, 9.5))
for i, ds in enumerate(sec7.SEC7_DATASETS):
    for j, meth in enumerate(("VAE", "IWAE", "LIN")):
        g = tr[(tr["dataset"] == ds) & (tr["method"] == meth)]
        for a, ga in g.groupby("alpha"):
            ga = ga.sort_values("gamma")
            axes[i, 0].plot(ga["knn_test"], ga["cohort_mean"], marker="o", color=f"C{j}",
                            ls=["-", "--", ":"][list(prof.ss_alpha).index(a) % 3],
                            label=f"{meth}, alpha={a:g}")
            for _, r in ga.iterrows():
                axes[i, 0].annotate(f"g={r['gamma']:g}", (r["knn_test"], r["cohort_mean"]), fontsize=9)
        axes[i, 1].scatter(g["collapse_ratio"], g["predictive"], color=f"C{j}", label=meth,
                           s=20 + 60 * g["alpha"])
    axes[i, 0].set_xlabel("kNN of p(x) (data realism; lower is better)")
    axes[i, 0].set_ylabel("mean kNN of p(x | y) (counterfactuals)")
    axes[i, 0].set_title(ds, fontsize=10)
    axes[i, 0].legend(fontsize=9)
    axes[i, 1].set_xlabel("collapse ratio (1 = as distinct as the truth)")
    axes[i, 1].set_ylabel("accuracy of q(y|x)" if "discrete" in ds else "RMSE of q(y|x) mean")
    axes[i, 1].set_title(f"{ds}: marker size grows with alpha", fontsize=10)
    axes[i, 1].legend(fontsize=9)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Figures 6 and 17-22
#
# Columns: the ground truth and the model chosen for Tables 3-4 (data version 0) of each
# method. Rows: (a) p(x); (b) f(z, y) per label, drawn as the angle along the semi-circle
# against z (both cohorts lie on the same curve, so the angle shows whether the two
# functions differ); (c) samples of each cohort p(x | y); (d) the unlabelled posterior
# p(z | x) at the starred points (a typical, a poorly and the worst Gaussian-fitted true
# posterior), under the truth's f and under each learned f. Figure 6 is the truth, IWAE
# and VAE columns of the discrete figure; Figures 17, 18, 19 are its VAE, LIN and IWAE
# columns, and Figures 20, 21, 22 the same columns of the continuous figure. To keep the
# columns legible, each set is drawn as two figures: the truth with IWAE and the VAE,
# then the truth with LIN.

# %% tags=["hide-input"]
FIG_COLUMNS = {}   # data set -> (starred points, {method: (column title, figure data)})
for ds in sec7.SEC7_DATASETS:
    marks = sec7.figure_marks(ds)
    cols = {"ground truth": ("ground truth", sec7.figure_data(None, ds, marks, seed=SEED))}
    for meth in ("IWAE", "VAE", "LIN"):
        try:
            rec = sec7.chosen_record(records, frame, ds, meth, version=0)
        except ValueError:
            continue
        model = load_selected(rec)
        ex = dict(rec["config"]["task"]["extra"])
        cols[meth] = (f"{meth} (a={ex['alpha']:g}, g={ex['gamma']:g})", sec7.figure_data(model, ds, marks, seed=SEED))
    FIG_COLUMNS[ds] = (marks, cols)


def draw_columns(ds, methods, figs):
    """The truth's column and those of ``methods`` (the models chosen for Tables 3-4)."""
    marks, cols = FIG_COLUMNS[ds]
    shown = dict(cols[m] for m in ("ground truth", *methods) if m in cols)
    sec7.plot_columns(shown, marks, suptitle=f"{figs}: {ds} ({PROFILE}, version 0)")
    plt.show()


# %% [markdown]
# **Figure 6 (paper's numbering), with the IWAE and VAE columns of Figures 19 and 17.**
# Discrete Semi-Circle: the truth, IWAE and the VAE.

# %% tags=["hide-input"]
draw_columns("semicircle_discrete", ("IWAE", "VAE"), "Figure 6 (with Figs. 17, 19)")

# %% [markdown]
# **Figure 18 (paper's numbering).** Discrete Semi-Circle: the truth and LIN.

# %% tags=["hide-input"]
draw_columns("semicircle_discrete", ("LIN",), "Figure 18")

# %% [markdown]
# **Figures 22 and 20 (paper's numbering).** Continuous Semi-Circle: the truth, IWAE
# (Figure 22) and the VAE (Figure 20).

# %% tags=["hide-input"]
draw_columns("semicircle_continuous", ("IWAE", "VAE"), "Figures 22, 20")

# %% [markdown]
# **Figure 21 (paper's numbering).** Continuous Semi-Circle: the truth and LIN.

# %% tags=["hide-input"]
draw_columns("semicircle_continuous", ("LIN",), "Figure 21")

# %% [markdown]
# ## Ours, beyond the paper: do the orderings survive the choice of test?
#
# The paper does not state k, alpha or the distance scale of its smooth kNN statistic
# (App. D), so we recompute every comparison behind Table 3 and Table 4 from the cached selected
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
# These three words are this analysis's own and are not the book's verdicts: they ask
# whether the *sign of the mean* ordering survives a change of test, whatever the noise
# over data versions, while the book's rule (the Summary below and the scorecard) asks
# whether the ordering under the default setting is *significant* over data versions.
# An ordering can therefore be "robust" here and "within noise" there (the direction
# never flips, but the versions do not settle it).
#
# **Ours: the sensitivity panel of Table 3 and Table 4** (the statistic against alpha, one line
# per method; columns k, rows the distance convention; right: the energy statistic).

# %% tags=["hide-input"]
rob = robustness.robustness_frame(PROFILE)
robustness.write_robustness_csv(rob, PROFILE)
for t in ("table3", "table4",):
    fig = robustness.draw_panel(rob, t)
    plt.show()

# %% [markdown]
# **Ours: the energy test beside each cell of Table 3 and Table 4** (mean over data versions of the
# energy statistic, larger = more different; the mean permutation p-value and the
# number of versions with p < 0.05).

# %% tags=["hide-input"]
en = robustness.energy_table(rob)
show(en[en["table"].isin(["table3", "table4"])], digits=2, index=False,
     caption=f"Ours: energy-distance test per cell of Table 3 and Table 4, {PROFILE} profile")

# %% [markdown]
# **Ours: robustness verdicts for the orderings of Table 3 and Table 4** (the paper's ordering of
# every pair of methods, checked against our numbers under every setting).

# %% tags=["hide-input"]
ver = robustness.verdicts(rob)
show(ver[ver["table"].isin(["table3", "table4"])], digits=2, index=False,
     caption=f"Ours: do the paper's orderings in Table 3 and Table 4 hold under every test? ({PROFILE} profile)")

# %% [markdown]
# ## Summary
#
# **Ours: verdicts on the claims of Sec. 7, Tables 3-4 and App. E.3** (the scorecard's
# rows for this page). Verdicts use the book's one rule, defined on the scorecard page.
# The cells of Tables 3-4 are "not comparable" (our smooth kNN statistic is a z-score,
# the paper's is on another scale); every ordering of a pair of methods in them, and
# every other claim below, is an effect over data versions: a per-version difference
# signed so that a positive value supports the paper, "reproduced" when a two-sided
# t-test finds it significantly positive (5%), "within noise" when it does not settle
# it, "differs" when it is significantly negative. The page's former verdict words
# change as follows: the "agrees in direction (within noise)" of the Table 3 and
# Table 4 orderings is now "within noise" (the direction alone is no longer counted);
# Table 4's "IWAE's cohorts are no better than VAE's and LIN's", which used to read
# "agrees" when IWAE was not clearly better, is now "within noise", because a claim of
# no difference can at best be left unsettled by the t-test; the collapse claim is split
# into one row per method (collapse ratio below the truth's) and two orderings (IWAE
# collapses less than the VAE and LIN); and the "partly" of the alpha and gamma
# trade-offs is now one row per half of each claim.

# %% tags=["hide-input"]
show(scorecard.page_verdicts(PROFILE, "sec7_semisupervised"), index=False,
     caption=f"Sec. 7, Tables 3-4 and App. E.3: paper vs ours ({PROFILE} profile)")

# %% [markdown]
# ## What differs from the paper, and why we think so
#
# Written from the committed `reduced` run (the tables above are recomputed on every run;
# this text is not).
#
# * **Functional collapse reproduces, and it is what the objective prefers.** The chosen
#   VAE keeps about a tenth of the truth's distance between f(., 0) and f(., 1) on the
#   discrete set and a twentieth on the continuous one, and its two cohorts are almost the
#   same distribution (cohort separation about 3, against 46 for the truth). Restarts that
#   begin *at* the ground truth end just as collapsed as random ones (ratio about 0.07 at
#   gamma = 1 for the VAE and LIN), so the collapse is not a local optimum found only from
#   bad starts.
# * **IWAE collapses too, less.** The paper's IWAE keeps the cohorts apart (Table 4: 1.4 /
#   1.7). Ours does so only at gamma = 5 (collapse ratio 0.55-0.58, cohort statistic 4.5-4.7
#   against the VAE's 10.2), but the selection by the p(x) statistic (the tables' caption)
#   picks gamma = 1 for IWAE in all three versions, where it collapses almost like the VAE
#   (ratio 0.24). So the Table 4 ordering holds only in direction. Which gamma the paper's
#   selection chose is not stated; we also lack its IWAE S = 20 and the gamma values 0.5
#   and 2 (reduced grid, `SEC7_REDUCED`), and train 3 versions instead of 5.
# * **Table 3 orderings hold in direction only.** With 3 versions the sds (about 0.4-1.7)
#   are as large as the gaps; the paper's much smaller values are on another scale (our
#   statistic is a z-score at 2000 points per side, see App. D).
# * **Continuous labels: alpha changes prediction, not collapse.** Every method is already
#   collapsed at alpha = 0.1 (ratio 0.05-0.1), so there is little left for alpha to
#   collapse; a larger alpha improves the discriminator a little (RMSE 1.00 -> 0.98, the
#   Bayes-optimal E[y | x] reaches 0.84 and the prior alone 1.0). The paper attributes this
#   pathology to a bimodal p(y | x); on our version of the set (App. H.2 gives no noise
#   variance, we use 0.01) p(y | x) is unimodal (see the App. G-H page), so this part of the
#   mechanism may not be triggered here. Our grid has no alpha = 0 point (reduced profile).
# * **gamma.** On the discrete set a larger gamma clearly improves the cohorts (12.4 ->
#   10.2 for the VAE) while p(x) does not clearly worsen; on the continuous set neither
#   moves clearly.
# * **p(x) alone is easy (App. H).** An unsupervised VAE on x alone reaches 2.0 / 2.8
#   (discrete / continuous), in the range of the semi-supervised models: the failure is in
#   the conditionals, not the marginal.
