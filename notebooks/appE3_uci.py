# ---
# jupyter:
#   jupytext:
#     text_representation: {extension: .py, format_name: percent}
#   kernelspec: {display_name: Python 3, language: python, name: python3}
# ---

# %% [markdown]
# # Appendix E.3: semi-supervised VAEs on real data (Tables 5-6)
#
# Section 7 argues that partial labels do not rescue a VAE whose cohorts share one
# manifold: the mean-field posterior cannot represent an unlabelled point that could
# belong to several cohorts, so the ELBO prefers to make f(z, y) the same function for
# every y ("functional collapse"), and p(x | y) drifts towards p(x). IWAE, with its more
# flexible implied posterior, keeps the cohorts apart but fits p(x) worse. Sec. 7 then
# names a check for real data (a classifier of y from x whose predictions stay
# uncertain means overlapping cohorts), and App. E.3 reports Tables 5 and 6 on three UCI
# sets picked for their class overlap: Diabetic Retinopathy Debrecen, Contraceptive
# Method Choice and Titanic, each with 10% of its training labels observed. The claims
# we test:
#
# * **Tables 5-6.** The smooth kNN statistic of each learned p(x) (Table 5) and of each
#   cohort p(x | y) (Table 6) against held-out rows, IWAE against the VAE, with the
#   paper's orderings as the reference.
# * **App. E.3.** "A similar pattern" to the synthetic sets: IWAE worse on p(x), better
#   on p(x | y).
# * **Sec. 7's guideline.** High entropy of a classifier's p(y | x) should go with the
#   failure, i.e. with IWAE beating the VAE on the cohorts.
#
# Models come from one sweep (`appE3.uci_tasks(profile)`, `vaefail sweep uci`),
# cached in `results/<profile>/`; this page reads the cache (no data file is needed to
# render it) and writes `results/<profile>/table5.csv` and `table6.csv` (until the sweep
# has run, its tables are empty and it writes nothing). Numbers are
# smooth kNN z-scores (lower is better; see the App. D page), so verdicts compare
# orderings, not magnitudes.

# %% tags=["parameters", "hide-input"]
PROFILE = "reduced"
SEED = 0
RETRAIN = False
TRAIN_MISSING = False  # True: train the tasks that are not in the cache yet (long)

# %% tags=["hide-input"]
import matplotlib.pyplot as plt

from vaefail_core import m2
from vaefail_core.paper import appE3
from vaefail_core.paper import scorecard
from vaefail_core.paper.records import page_records
from vaefail_core.profiles import page_setup
from vaefail_core.tables import show

prof = page_setup(PROFILE, SEED, keys=())

# %% [markdown]
# **Ours, beyond the paper: the grid this page was trained on, against App. D's.** Every
# axis of the Table 5-6 grid under the `paper` profile (App. D) and under this page's
# profile, with the values the profile leaves out (`appE3.uci_grid`). Models are
# M2 with 3 x 100 leaky-ReLU networks, Adam at learning rate 0.001, mini-batches of 100,
# a relaxed one-hot q(y | x) at temperature 2.2.

# %% tags=["hide-input"]
show(appE3.grid_table(PROFILE), caption=f"Ours: the Table 5-6 grid, paper vs {PROFILE} profile")
print("stopping rule:", appE3.stop_rule_text())
print("labelled share of the training rows:", f"{m2.LABEL_FRACTION:g}", "(stratified by class)")

# %% tags=["hide-input"]
records = page_records("uci", PROFILE, TRAIN_MISSING, RETRAIN)
frame = appE3.records_table(records)

# %% [markdown]
# ## Table 5: learned vs true p(x)
#
# Per split, the restart with the lowest validation objective; then per method the
# setting (K, sigma^2, alpha, gamma and IWAE's S) with the smallest smooth kNN
# statistic of p(x) on the *validation* rows (the selection of Tables 3-4). The table
# gives the statistic against the test rows, mean +- sd over splits. Samples of the
# learned p(x) draw y from the model's uniform p(y) (App. B's M2 prior).
#
# **Table 5 (paper).** The kNN statistic of each method's learned p(x) against held-out
# rows (lower is better): ours beside the paper's values.

# %% tags=["hide-input"]
t5 = appE3.table5(frame)
appE3.write_table_csv(t5, "table5", PROFILE)
show(appE3.display(t5), caption=f"Table 5 (paper): ours (z-scores) and the paper's, {PROFILE} profile")

# %% [markdown]
# ## Table 6: learned vs true p(x | y)
#
# The same chosen models; each cohort of the model, p_theta(x | y = c), against the
# test rows of class c (every test label is used here; training saw 10% of the training
# labels). The paper numbers its cohorts 1-3 without naming them; we take them to be the
# classes in the order of the data files (shown beside each cohort).
#
# **Table 6 (paper).** The kNN statistic of each learned cohort against the held-out
# rows of that class (lower is better): ours beside the paper's values.

# %% tags=["hide-input"]
t6 = appE3.table6(frame)
appE3.write_table_csv(t6, "table6", PROFILE)
show(appE3.display(t6), caption=f"Table 6 (paper): ours (z-scores) and the paper's, {PROFILE} profile")

# %% [markdown]
# ## Verdicts
#
# Every pair of cells (IWAE against the VAE) is judged by the book's one rule (see the
# scorecard page): the paper's ordering is "reproduced" when the paired per-split
# differences of ours are significant in its direction (two-sided t-test, 5%), "within
# noise" when they are not significant, "differs" when they are significant against
# it. The last rows test App. E.3's sentence that the real sets repeat the synthetic
# pattern (IWAE worse on p(x), better on p(x | y)); their "paper" column says whether the
# paper's own tables show it.
#
# **Ours: verdicts on Tables 5-6 and App. E.3's text** (the scorecard's rows for this
# page).

# %% tags=["hide-input"]
show(scorecard.page_verdicts(PROFILE, "appE3_uci"), index=False,
     caption=f"Tables 5-6 and App. E.3: paper vs ours ({PROFILE} profile)")

# %% [markdown]
# **What the `reduced` run shows** (written from the committed run; the tables above are
# recomputed on every run, this text is not). Every ordering of Tables 5-6 is "within
# noise" but one (Contraceptive, long-term cohort: the VAE better, as in the paper), so
# the three splits settle none of the paper's IWAE-against-VAE comparisons. The
# direction of our means agrees with the paper's in 8 of the 13 orderings. Two things
# stand out:
#
# * **Both families fit these sets badly.** Our statistics are z-scores far above 0 (14
#   to 63 for p(x)), so the learned p(x) of either method is easy to tell from held-out
#   rows, and the IWAE-VAE differences (0.1 to 4.4 z-units) are small beside that and beside
#   their spread over splits. Titanic, three discrete features modelled as Gaussian, is
#   the worst. In the paper, too, the IWAE-VAE gaps are within about one sd on most cells.
# * **App. E.3's sentence is not what its own tables show.** The paper says the real sets
#   repeat the synthetic pattern (IWAE worse on p(x), better on the cohorts). Its own
#   Table 5 has IWAE better on p(x) on two of the three sets, and its Table 6 has the VAE
#   better on Contraceptive's cohorts. Ours has IWAE worse on Retinopathy's cohorts and
#   better on Titanic's, all within noise.
#
# We do not call any of this "not reproduced": with three splits and the dropped grid
# points (first table), the run cannot separate the two methods. The `paper` profile
# (5 splits, 5 restarts, the whole grid, 20,000-epoch cap) is the experiment that could.

# %% [markdown]
# ## Training to convergence: the stopping rule and its check
#
# App. D trains 20,000 epochs on the real sets "and verified convergence" without saying
# how. We stop each model by the rule printed at the top (its validation objective no
# longer improves), capped at the grid's epoch cap (first table), and keep the
# parameters of its best check. Below, first the epochs every trained model actually
# used; then the check of the rule: for one setting per data set and method (split 0),
# the same models trained without the rule for the grid's longer check run (the
# paper's 20,000 epochs under `paper`), and whether the statistics the tables report
# move by more than their spread across restarts.
#
# **Ours, beyond the paper: epochs used under the stopping rule** (every trained restart
# of the grid).

# %% tags=["hide-input"]
show(appE3.epochs_table(records), index=False,
     caption=f"Ours: epochs each model trained (cap = the grid's epoch cap), {PROFILE} profile")

# %% [markdown]
# **Ours, beyond the paper: does training longer change the reported statistics?**
# "rule" / "cap": the chosen restart's kNN statistic with the stopping rule and after
# the run without it ("epochs without the rule"); "sd restarts": the sd of the statistic
# over the restarts with the rule; "cohorts": the mean over cohorts.

# %% tags=["hide-input"]
chk = appE3.stopping_check(records)
show(chk, digits=2, index=False, caption=f"Ours: the stopping rule against training longer without it, {PROFILE} profile")
print(f"within the spread across restarts: {int(chk['within spread'].sum())} of {len(chk)} configurations")

# %% [markdown]
# **Reading the check** (from the committed run). Under the 600-epoch cap a third to
# two-thirds of the models were still improving when they stopped (the "% at cap"
# column), so the cap, not the rule, ended them. Training the check's settings for 2,000
# epochs without the rule moved the reported statistics by more than their spread across
# restarts in 4 of 6 configurations, in both directions. Mostly p(x) got worse (the
# validation objective kept falling while the fit to held-out rows degraded); on Titanic
# IWAE it got better. The `reduced` results therefore depend on when training stops,
# and App. D's "verified convergence" at 20,000 epochs is not matched here. The
# `paper` profile raises the cap to 20,000 epochs and checks the rule against the full
# run.

# %% [markdown]
# ## Section 7's guideline: are the cohorts hard to tell apart?
#
# Sec. 7 proposes a check: train a classifier of y from x; if it stays uncertain (high
# mean entropy of p(y | x)), the cohorts overlap on one manifold and the VAE is expected
# to collapse them. We measure it with two small scikit-learn classifiers under 5-fold
# stratified cross-validation on every row (all labels): balanced accuracy, and the
# mean entropy of the out-of-fold p(y | x), in nats and relative to the entropy of the
# class frequencies (1: x says nothing about y) and to log C.
#
# **Ours, beyond the paper: class overlap of the three sets (Sec. 7's check, measured).**

# %% tags=["hide-input"]
sep = appE3.separability_table(PROFILE, retrain=RETRAIN, store=bool(records))
show(sep.assign(dataset=sep["dataset"].map(appE3.DATASET_NAMES)).set_index(["dataset", "classifier"]),
     digits=2, caption="Ours: balanced accuracy and entropy of p(y | x), 5-fold cross-validation")

# %% [markdown]
# Does the check predict where IWAE beats the VAE on the cohorts? "IWAE advantage": the
# VAE's mean cohort statistic minus IWAE's (positive: IWAE better), ours (with its
# standard error over splits) and the paper's (Table 6); "VAE separation / data's": the
# chosen VAE's kNN statistic between its own cohorts over the same statistic between the
# data's cohorts (near 0: collapsed cohorts). With three data sets, the rank correlation
# below gives a direction, not a test.
#
# **Ours, beyond the paper: the guideline against Table 6** (logistic regression).

# %% tags=["hide-input"]
gl = appE3.guideline_table(sep, frame)
show(gl, digits=2, caption=f"Ours: class overlap vs IWAE's advantage on p(x | y), {PROFILE} profile")
if "kendall_ours" in gl.attrs:
    print(f"Kendall's tau, relative entropy vs IWAE advantage: ours {gl.attrs['kendall_ours']:.2f}, "
          f"paper's Table 6 {gl.attrs['kendall_paper']:.2f} ({len(gl)} data sets)")

# %% [markdown]
# ## Ours, beyond the paper: figures in the style of Figs. 17-22
#
# The paper shows no figure for the real sets; these follow its Figs. 17-22 for one
# split (split 0). Columns: the held-out test rows, and the IWAE and VAE models chosen
# for Tables 5-6. Rows: (a) p(x) and (b) the cohorts p(x | y), in the plane of a PCA
# fitted on the split's training rows (test rows, and as many model samples as the test
# set has rows of each class; Titanic's test rows take 16 distinct values, so they are
# drawn with a small jitter); (c) for the models, f(z, y) for every class along the
# first latent axis (z_1 from -3 to 3, the other coordinates 0), in the same plane:
# curves on top of each other are functional collapse; for the truth's column, the
# collapse measures: the kNN statistic between cohorts for the data and for each model,
# and each model's mean distance between f(z, a) and f(z, b) over z ~ N(0, I)
# (averaged over class pairs).

# %% tags=["hide-input"]
for ds in appE3.UCI_DATASETS:
    fd = appE3.figure_data(records, frame, ds, PROFILE, split=0, retrain=RETRAIN)
    if fd is not None:
        appE3.plot_figure(fd, f"Ours: {appE3.DATASET_NAMES[ds]} (split 0, {PROFILE} profile)")
        plt.show()

# %% [markdown]
# ## Where this page departs from the paper
#
# * **Scale.** Our statistic is a z-score at the test set's size (a few hundred rows per
#   cohort); the paper's scale and sample sizes are not stated, so only orderings compare.
# * **Epochs.** The paper trains 20,000 epochs; we stop by the validation objective
#   under the grid's cap and report the epochs used and the check of the rule above.
# * **Grid.** The first table says exactly which splits, restarts and hyper-parameters
#   the profile leaves out of App. D's grid.
# * **Labels and prior.** 10% of the training labels per class are observed (stratified);
#   the model's p(y) is uniform over the classes, as App. B's M2 prior, although the
#   classes are unbalanced (e.g. a third of Titanic's passengers survived).
# * **Features.** Every column, binary and ordinal ones included, is standardised on the
#   training part and modelled as real-valued, as the paper's Gaussian likelihood does.
