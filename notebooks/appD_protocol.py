# ---
# jupyter:
#   jupytext:
#     text_representation: {extension: .py, format_name: percent}
#   kernelspec: {display_name: Python 3, language: python, name: python3}
# ---

# %% [markdown]
# # Appendix D: the experimental protocol each profile actually runs
#
# Appendix D of the paper fixes the protocol behind every table: how many versions of
# each synthetic data set and how many train / validation / test points, how many
# restarts per setting and how many of them start at the ground truth, Adam's learning
# rate and mini-batch size, the epochs on synthetic data, and hyper-parameter grids for
# IWAE (number of importance samples S), Lagging Inference Networks (threshold T, window
# R) and the semi-supervised weights (alpha, gamma); App. D's numbers are in the table
# "What we reproduced" below. Section 4 explains why: starting half of the restarts at the
# ground truth lets us tell whether the ELBO's optimum really prefers another model.
#
# This page prints the protocol **from the code's own configuration objects**
# (`vaefail_core.profiles`), so it cannot drift from what the sweeps run. The `paper`
# profile is the full protocol; `reduced` is what the committed book shows on a 2-core
# CPU; `quick` is the CI smoke run.

# %% tags=["parameters", "hide-input"]
PROFILE = "reduced"
SEED = 0
RETRAIN = False

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import pandas as pd

from vaefail_core import plots
from vaefail_core.paper import appD, scorecard
from vaefail_core.paper.records import gt_start_table, page_records, training_curves
from vaefail_core.tables import show
from vaefail_core.profiles import PROFILES, get_profile, page_setup
from vaefail_core.sweep import GT_STARTS

page_setup(PROFILE, SEED, keys=())

print("Profile this book was executed with:", get_profile(PROFILE).name)

# %% [markdown]
# **Ours, beyond the paper: the protocol of Appendix D as each profile runs it** (one
# column per profile; `paper` is Appendix D itself).

# %% tags=["hide-input"]
protocol = pd.DataFrame({name: p.describe() for name, p in PROFILES.items()}).drop(index="profile")
show(protocol, caption=f"App. D protocol per profile (ours; this book: profile {PROFILE})")

# %% [markdown]
# ## Every setting, side by side
#
# The full configuration objects (including evaluation settings such as the number of
# Monte-Carlo samples behind a reported negative ELBO), and where each profile departs
# from the paper's protocol.
#
# **Ours, beyond the paper: every field of the profile objects**, with a mark where the
# `reduced` profile differs from the paper's protocol.

# %% tags=["hide-input"]
full = pd.DataFrame({name: p.to_dict() for name, p in PROFILES.items()})
full = full.astype(str)
full["reduced departs from paper"] = ["yes" if full.loc[k, "reduced"] != full.loc[k, "paper"] else "" for k in full.index]
show(full.drop(index="name"), caption=f"Every profile setting (ours; this book: profile {PROFILE})")

# %% [markdown]
# ## Grid sizes per paper table
#
# How many settings each profile trains per data set and data version (methods x
# hyper-parameter settings), and how many models that makes behind each table (x
# restarts x data versions x 2 data sets), from the same objects.
#
# **Ours, beyond the paper: the size of the sweeps behind Table 2 and Tables 3-4 (paper's
# numbering)**, per profile.

# %% tags=["hide-input"]
rows = []
for name, p in PROFILES.items():
    unsup = 1 + len(p.iwae_S) + len(p.lin_T) * len(p.lin_R)  # VAE + IWAE grid + LIN grid
    ss = unsup * len(p.ss_alpha) * len(p.ss_gamma)
    rows.append({
        "profile": name,
        "unsupervised settings (VAE + IWAE S + LIN TxR)": unsup,
        "semi-supervised settings (x alpha x gamma)": ss,
        "restarts": p.n_restarts,
        "data versions": p.n_versions,
        "models for Table 2 (2 data sets)": 2 * unsup * p.n_restarts * p.n_versions,
        "models for Tables 3-4 (2 data sets)": 2 * ss * p.n_restarts * p.n_versions,
    })
show(pd.DataFrame(rows).set_index("profile"),
     caption=f"Models trained per sweep, per profile (ours; this book: profile {PROFILE})")

# %% [markdown]
# ## What we reproduced
#
# **Ours: each setting of Appendix D against our `paper` profile** (the scorecard's rows
# for this page). Verdicts use the book's one rule, defined on the scorecard page: each
# setting is a `check`, "reproduced" when our `paper` profile holds exactly App. D's
# numbers and "differs" otherwise. The claims are about the code's full protocol, so they
# read the same under every profile; where the `reduced` profile of this book departs
# from it is marked in the table of every setting above. The former words "matches" and
# "differs" are now "reproduced" and "differs", with the same meaning.

# %% tags=["hide-input"]
show(scorecard.page_verdicts(PROFILE, "appD_protocol"), index=False,
     caption=f"App. D vs. our `paper` profile (this book: profile {PROFILE})")

# %% [markdown]
# ## Selection rules, from the code
#
# Appendix D chooses, for each setting, the restart with the best value of the method's
# own objective on validation data, and then the hyper-parameters whose chosen restart
# has the smallest smooth kNN statistic of p(x). The table is built from the constants
# the table code reads, so it shows the rule each table of this book used.
#
# **Ours, beyond the paper: the selection rule behind each table (paper's numbering).**

# %% tags=["hide-input"]
show(appD.selection_rules(), caption="Selection rules per table (ours, from the code)", index=False)

# %% [markdown]
# ## The ground-truth start
#
# Half of the restarts start at the ground truth (Sec. 4): the decoder is set to the
# network that generated the data, and the encoder is fitted to it with the decoder
# frozen (App. D: over several restarts of the encoder, keeping the best). Such a start
# only says what the objective prefers if joint training does not throw it away in its
# first steps. Our first runs did: Adam moves every weight by about the learning rate in
# its first steps, whatever the size of the gradient, and at an optimum the gradient is
# noise. The first epoch then cost up to 47 times the start's loss on Spiral-Dots and
# 2.7 times on Clusters. The "stable" start below keeps the encoder restarts of App. D
# and adds a linear warm-up of the learning rate of the ground-truth members over their
# first epochs (ours, not the paper's; random restarts train exactly as the paper says).
#
# **Ours, beyond the paper: the two ground-truth starts** (the records say which one
# trained them).

# %% tags=["hide-input"]
show(pd.DataFrame({"start": list(GT_STARTS), "what it does": list(GT_STARTS.values())}),
     caption="Ground-truth starts (ours)", index=False)

# %% [markdown]
# **Ours, beyond the paper: does the start survive the first epoch?** For every
# ground-truth restart of the three sweeps: first-epoch training loss / the start's loss
# (median and maximum over restarts and data versions; the median difference in nats).
# The start's loss is measured like a training epoch (`gt_start_loss`); records of the
# legacy start only have the encoder fit's best score, a slightly optimistic estimate.
# Our criterion for a start that survives: median ratio at most 1.2 on every data set.

# %% tags=["hide-input"]
recs = {name: page_records(name, PROFILE) for name in ("section5", "section7", "section8")}
tabs = [gt_start_table(r).assign(sweep=name) for name, r in recs.items() if r]
if tabs:
    gt = pd.concat(tabs, ignore_index=True)
    show(gt[["sweep", *[c for c in gt.columns if c != "sweep"]]], digits=2, index=False,
         caption=f"Ours: first epoch vs ground-truth start, every sweep, {PROFILE} profile")
    worst = gt.loc[gt["median_ratio"].idxmax()]
    print(f"largest median ratio: {worst['median_ratio']:.2f} ({worst['dataset']}, {worst['method']}); "
          f"criterion <= 1.2: {'met' if worst['median_ratio'] <= 1.2 else 'NOT met'}")
else:
    print(f"no sweep records under profile {PROFILE!r} yet (vaefail sweep NAME --profile {PROFILE})")

# %% [markdown]
# **Ours, beyond the paper: training curves of ground-truth and random restarts** on the
# data sets where the start used to break (VAE, data version 0; dots at epoch 0: the
# starts' losses).

# %% tags=["hide-input"]
panels = [(sweep, ds, name) for sweep, ds, name in
          [("section8", "spiral_dots", "Spiral-Dots"), ("section5", "clusters", "Clusters"),
           ("section8", "clusters_5d", "Clusters-5D"), ("section8", "figure8_5d", "Figure-8-5D")] if recs[sweep]]
if panels:
    fig, axes = plt.subplots(1, len(panels), figsize=(3.25 * len(panels), 3.2), squeeze=False)
    for ax, (sweep, ds, name) in zip(axes[0], panels):
        plots.plot_training_curves(ax, training_curves(recs[sweep], ds), title=name)
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    plt.show()
