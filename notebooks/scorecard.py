# ---
# jupyter:
#   jupytext:
#     text_representation: {extension: .py, format_name: percent}
#   kernelspec: {display_name: Python 3, language: python, name: python3}
# ---

# %% [markdown]
# # Scorecard: which of the paper's claims hold
#
# Every quantitative claim of the paper, in one table: each cell of Tables 1-6, the
# numbers its text quotes (Eq. 6 in Sec. 5.2, Case A in Sec. 8), the orderings and
# directions of change that its tables are cited for, and the claims each page tests
# from the paper's text and figures (registered by that page's module). The claims live in one registry
# (`vaefail_core/paper/claims.py`, the paper's numbers in `paper/reference.py`); our side
# of each is read from the results cache of the profile below, nothing is trained here,
# and one rule (`paper/verdict.py`) turns each pair into a verdict. The same table is
# written to `results/<profile>/scorecard.csv` and printed by `vaefail scorecard`.
#
# The last column links to the page that shows the evidence, where the experiment, its
# checks and our explanation of each disagreement are.

# %% tags=["parameters", "hide-input"]
PROFILE = "reduced"
SEED = 0
RETRAIN = False

# %% tags=["hide-input"]
import pandas as pd

from vaefail_core.paper import scorecard as sc
from vaefail_core.paper.verdict import ALPHA, KINDS, vocabulary
from vaefail_core.profiles import page_setup
from vaefail_core.tables import show

page_setup(PROFILE, SEED, keys=())
card = sc.scorecard(PROFILE)
csv_path = sc.write_csv(card, PROFILE)
print(f"{len(card)} claims; written: results/{PROFILE}/{csv_path.name}")

# %% [markdown]
# ## The verdicts at a glance
#
# **Ours: claims per verdict**, overall and by kind of claim (a `number` is a value on
# our scale with an error; `exact` a closed form; `effect` an ordering or direction;
# `check` a stated condition on a noise-free computation; `cell` a table entry on
# another scale).

# %% tags=["hide-input"]
show(sc.counts(card), caption=f"Scorecard: claims per verdict ({PROFILE} profile)")

# %% tags=["hide-input"]
show(sc.by_source(card), caption=f"Scorecard: claims per verdict and place in the paper ({PROFILE} profile)")

# %% [markdown]
# ## The rule
#
# One vocabulary and one test per kind of claim, all at the 5% level. A number is
# compared by a two-sided z-test of the difference of the means, with the standard error
# of both sides (the paper's sd over its 5 data versions, App. D; ours over our
# versions). An exact value must match the paper's printed digits. An ordering or a
# direction ("IWAE better than the VAE", "the ELBO prefers K > 1") is tested on the
# paired per-version differences by a two-sided one-sample t-test, so it is
# "reproduced" only when our data versions show it clearly. A condition the text states
# about a computation without sampling noise (a closed form, a posterior on a grid, a
# single fit a page shows) is "reproduced" when it holds and "differs" when it does not. With the 3-4 versions of
# the `reduced` profile many orderings stay "within noise", which says that our runs do
# not settle them, not that they are false.

# %% tags=["hide-input"]
show(vocabulary(), caption="Scorecard: the verdicts and what each means")
show(pd.Series(KINDS, name="test").rename_axis("kind").to_frame(),
     caption=f"Scorecard: the test of each kind of claim (level {ALPHA:g})")

# %% [markdown]
# Two choices behind the table, stated once:
#
# - **Table 1's IWAE row.** The paper prints a single "-ELBO" row for IWAE. We compare it
#   with our IWAE's -IWAE bound, the objective IWAE maximises (an IWAE-trained model's
#   ELBO is loose by design). With that reading our six IWAE cells agree with the paper
#   within noise, which we take as evidence that this is what the row reports. Among
#   IWAE's S, each data version uses the one with the smallest validation kNN statistic
#   (App. D's hyper-parameter rule).
# - **Tables 2-6** report a smooth kNN two-sample statistic whose scale depends on
#   choices the paper does not state (see the App. D page), so their cells are shown
#   as "not comparable" and every pair of methods in them is judged as an ordering.
#
# The pages were written before this registry and some still word their own verdicts
# ("agrees", "partly", ...) and use their own thresholds; where a page and this table
# disagree, this table's rule is the book's verdict. The disagreement we know of: Case A
# with sigma^2 learned jointly, which the Section 8 page calls "agrees" (ours is close
# to the paper's value) and the z-test here calls "differs" (both sides' errors are
# small, so a small gap is significant; see its row below).

# %% [markdown]
# ## Every claim
#
# **Ours: the scorecard**, one table per place in the paper (paper's value, ours as mean ±
# sd over data versions, the verdict, the test's p-value and statistic).

# %% tags=["hide-input"]
for where in dict.fromkeys(card["where"]):
    show(sc.page_table(card, where), caption=f"Scorecard, {where}: paper vs ours ({PROFILE} profile)",
         index=False)
