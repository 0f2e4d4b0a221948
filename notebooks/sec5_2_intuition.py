# ---
# jupyter:
#   jupytext:
#     text_representation: {extension: .py, format_name: percent}
#   kernelspec: {display_name: Python 3, language: python, name: python3}
# ---

# %% [markdown]
# # Section 5.2: why the ELBO trades the fit of p(x) for simple posteriors
#
# Section 3 of the paper splits the negative ELBO (Eq. 3) into two parts: the
# **MLEO**, the KL divergence from the true data distribution to the model's, and the
# **PMO**, the expected KL divergence from the variational posterior to the model's exact
# posterior. Section 5.2 builds intuition for when minimising their sum sacrifices the
# first for the second. This page recomputes its three examples:
#
# 1. **Eq. 6 / Figure 1.** A linear decoder restricted to a lower-triangular (Cholesky)
#    matrix. The paper reports a negative ELBO (up to a constant) at the ground truth
#    and a much lower one at the global optimum (its two values are in the summary table
#    at the end), where the learned p(x) loses the correlation between the two
#    coordinates. We compute both in closed form, find the
#    optimum by a multi-start search over A, and also train an actual amortised MFG-VAE.
# 2. **Figure 2.** Non-identifiability: three decoders with the same p(x) but different
#    posteriors; the ELBO should prefer the one whose posteriors a Gaussian fits best.
# 3. **Figure 3 / Eq. 7.** A step-function decoder gives skewed, multi-modal posteriors.
#
# Nothing here is copied from the paper except the model definitions (Eq. 6 with the
# values of footnotes 1-2, Eq. 7); the paper's numbers appear only in the reference
# column of the closing table.

# %% tags=["parameters", "hide-input"]
PROFILE = "reduced"
SEED = 0
RETRAIN = False

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from vaefail_core.tables import show
from vaefail_core import linear, toy
from vaefail_core.paper import scorecard, sec5_2
from vaefail_core.profiles import page_setup

prof = page_setup(PROFILE, SEED, keys=())

# %% [markdown]
# ## 1. Eq. 6: closed form at the ground truth and at the global optimum
#
# For a linear-Gaussian decoder the exact posterior is a full-covariance Gaussian whose
# precision does not depend on x, the best mean-field q keeps its mean and takes the
# inverse diagonal precisions as variances, and both terms of Eq. 3 are closed-form
# (`vaefail_core.linear`). The optimum is a Nelder-Mead search over the four entries of
# A from the ground truth and 20 random starts.

# %% [markdown]
# **Ours, beyond the paper: the two terms of Eq. 3 for the Eq. 6 model.** The paper
# quotes only the sums (in its text); the table also splits each sum
# into MLEO and PMO. Closed form, so the numbers do not depend on the profile.

# %% tags=["hide-input"]
eq6 = sec5_2.eq6_closed_form(n_restarts=20, seed=SEED)
show(eq6.rename(columns={"mleo": "MLEO", "pmo": "PMO", "neg_elbo": "-ELBO + const"}),
     caption=f"Eq. 6 in closed form (ours; the same in every profile), profile {PROFILE}", digits=3)
optima = eq6.attrs["restart_optima"]
print(f"{sum(v < min(optima) + 1e-3 for v in optima)} of {len(optima)} Nelder-Mead starts "
      "end within 1e-3 nats of the best optimum found.")

# %% [markdown]
# At the ground truth the MLEO is zero and the whole cost is the PMO; the optimum pays
# a positive MLEO to make the PMO almost vanish. The optimal A is not unique (sign flips
# of its columns leave the model unchanged), so we do not print it.
#
# **Figure 1 (paper's numbering).** 2000 draws from the Eq. 6 model at the ground truth
# (left) and at the ELBO's global optimum (right): the optimum keeps the spread of each
# coordinate but nearly loses their correlation.

# %% tags=["hide-input"]
A_star = eq6.attrs["A_star"]
x_true = linear.eq6_sample(linear.EQ6_A_GT, 2000, seed=SEED + 11)
x_opt = linear.eq6_sample(A_star, 2000, seed=SEED + 12)
fig, axes = plt.subplots(1, 2, figsize=(8, 4), sharex=True, sharey=True)
for ax, x, title in [(axes[0], x_true, "ground truth (Eq. 6)"), (axes[1], x_opt, "global optimum of the ELBO")]:
    ax.scatter(x[:, 0], x[:, 1], s=3, alpha=0.4)
    ax.set_title(title)
    ax.set_xlabel("$x_1$")
axes[0].set_ylabel("$x_2$")
plt.tight_layout()
plt.show()
print(f"Correlation of x1 and x2 (closed form): {sec5_2.eq6_correlation(linear.EQ6_A_GT):.2f} at the ground "
      f"truth, {sec5_2.eq6_correlation(A_star):.2f} at the optimum (in the 2000 draws above: "
      f"{np.corrcoef(x_true.T)[0, 1]:.2f} and {np.corrcoef(x_opt.T)[0, 1]:.2f}).")

# %% [markdown]
# ### An actual amortised MFG-VAE with the Eq. 6 decoder
#
# The closed form assumes the optimal encoder. Here a neural encoder (3 x 50 leaky-ReLU)
# and the Cholesky decoder are trained together by the reparameterised ELBO on samples
# of the true model (restart 0 starts at A_GT, the others at random A). We report the
# exact test negative ELBO of the trained pair, minus the entropy of the true p(x), so it
# is on the same scale as the closed form, and the closed-form MLEO / PMO of the learned A.
#
# **Ours, beyond the paper: the Eq. 6 decoder trained inside an amortised MFG-VAE**, one
# row per restart (values in nats, -ELBO up to the same constant as above).

# %% tags=["hide-input"]
vae = sec5_2.eq6_trained_vae(PROFILE, seed=SEED, retrain=RETRAIN)
show(vae.drop(columns="A").rename(columns={
         "val_neg_elbo": "validation -ELBO + const", "test_neg_elbo": "test -ELBO + const",
         "mleo_of_A": "MLEO of learned A", "pmo_of_A": "PMO of learned A"}),
     caption=f"Eq. 6 decoder in a trained amortised MFG-VAE (ours), profile {PROFILE}", digits=3)
best = vae.loc[vae["val_neg_elbo"].idxmin()]
print(f"Selected restart (lowest validation -ELBO): {int(vae['val_neg_elbo'].idxmin())}; its test "
      f"-ELBO + const is {best['test_neg_elbo']:.3f}, against "
      f"{eq6.loc['global optimum (A*)', 'neg_elbo']:.3f} at the closed-form optimum and "
      f"{eq6.loc['ground truth (A_GT)', 'neg_elbo']:.3f} at the ground truth.")

# %% [markdown]
# Training moves away from the ground truth even when it starts there: the learned A
# has a positive MLEO and a much smaller PMO, as the closed form predicts. The trained
# pair stays slightly above the closed-form optimum because the amortised encoder is
# not exactly optimal after a finite number of noisy gradient steps.
#
# ## 2. Figure 2: same p(x), different posteriors
#
# With the prior U(0, 1), any re-arrangement of [0, 1] that preserves length leaves the
# distribution of f(z), and so p(x), unchanged. `vaefail_core.toy` builds three such
# decoders (our construction; the paper only draws its variants). For each we compute
# p(x) by quadrature and, for 1000 draws of x, the exact posterior on a grid and the KL
# divergence of the best Gaussian to it: the PMO an ideal MFG encoder would pay.
#
# **Ours, beyond the paper: the PMO of the three Figure-2 variants.** The share of draws
# whose best-Gaussian KL exceeds 0.1 nats is a rate over the 1000 draws, given with its
# binomial standard error; the last column is the largest gap between the variant's
# p(x) and variant 1's on the x-grid.

# %% tags=["hide-input"]
N_FIG2 = 1000
fig2, curves = sec5_2.fig2_analysis(n=N_FIG2, seed=SEED)
share = fig2["frac_kl_above"]
fig2_shown = pd.DataFrame({
    "PMO of the best Gaussian q": fig2["pmo_best_gaussian"].map("{:.3f}".format),
    f"share KL > {fig2.attrs['kl_threshold']}": share.map("{:.2f}".format),
    "std. error": np.sqrt(share * (1 - share) / N_FIG2).map("{:.3f}".format),
    "max |p(x) - p_variant1(x)|": fig2["max_abs_px_diff_vs_v1"].map("{:.3f}".format),
})
show(fig2_shown, caption=f"Figure-2 variants: PMO of an ideal MFG encoder (ours), profile {PROFILE}")
print("The variant the ELBO prefers (equal MLEO, lowest PMO):", fig2["pmo_best_gaussian"].idxmin())

# %% [markdown]
# **Figure 2 (paper's numbering).** Top row: the joint density p(x, z) of each variant,
# with dotted lines at the three x values whose posteriors are drawn below it. Bottom
# row: those posteriors p(z | x).

# %% tags=["hide-input"]
import torch
from vaefail_core import posterior

z = curves["z"]
inside = (z >= 0) & (z <= 1)
x_marks = [0.3, 0.7, 0.95]
x_plot = posterior.z_grid(-0.4, 1.3, 200).float()[:, None]   # numpy-built grid (same on every CPU)
fig, axes = plt.subplots(2, 3, figsize=(11, 6.5), sharex=True)
for j, (name, f) in enumerate(toy.fig2_variants().items()):
    f_vals = f(z)[:, None]
    joint = posterior.log_joint_grid(f_vals, x_plot, toy.FIG2_NOISE_VAR, z, toy.uniform_log_prior(z)).exp()
    axes[0, j].imshow(joint[:, inside].numpy(), origin="lower", aspect="auto",
                      extent=[0, 1, float(x_plot[0]), float(x_plot[-1])], cmap="viridis")
    for xm in x_marks:
        axes[0, j].axhline(xm, ls=":", color="w")
    axes[0, j].set_title(f"{name}: p(x, z)")
    post = posterior.grid_posterior(f_vals, torch.tensor(x_marks)[:, None], toy.FIG2_NOISE_VAR,
                                    toy.uniform_log_prior(z), z)
    for xm, p in zip(x_marks, post):
        axes[1, j].plot(z[inside], p[inside], label=f"x = {xm}")
    axes[1, j].set_title(f"{name}: p(z | x)")
    axes[1, j].set_xlabel("z")
axes[0, 0].set_ylabel("x")
axes[1, 0].set_ylabel("posterior density")
axes[1, 0].legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# **Figure 2, top-right panel (paper's numbering), with a panel of ours beside it.** Left:
# the marginal p(x) of the three variants, which coincide. Right (ours, beyond the
# paper): the PMO an ideal mean-field Gaussian encoder pays under each variant.

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
for name in curves["px"]:
    axes[0].plot(curves["x_grid"], curves["px"][name], label=name)
axes[0].set_title("p(x) of all three variants")
axes[0].set_xlabel("x")
axes[0].legend()
axes[1].bar(fig2.index, fig2["pmo_best_gaussian"])
axes[1].set_title("PMO of the best Gaussian q (nats)")
plt.tight_layout()
plt.show()

# %% [markdown]
# The three marginals coincide (last column of the table before Figure 2: grid error only),
# but the monotone variant 2 has by far the smallest PMO, so among these equally good
# density models the ELBO picks variant 2. Its PMO is still not zero: near the ends of
# [0, 1] the posterior is a truncated bump that no Gaussian matches.
#
# ## 3. Figure 3 / Eq. 7: a step-function decoder
#
# With f(z) = floor(z) and z ~ N(0, 1) (noise variance 0.05, our choice: Eq. 7 leaves it
# open), horizontal slices of the joint density cross several flat steps.
#
# **Figure 3 (paper's numbering).** Left: the joint density p(x, z) of Eq. 7, dotted at
# five values of x. Right: the posteriors p(z | x) at those values.

# %% tags=["hide-input"]
x_marks3 = sec5_2.FIG3_X_MARKS
res3 = sec5_2.fig3_posteriors(x_marks3)
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
axes[0].imshow(res3["joint"].numpy(), origin="lower", aspect="auto", cmap="viridis",
               extent=[float(res3["z"][0]), float(res3["z"][-1]), float(res3["x_grid"][0]), float(res3["x_grid"][-1])])
for xm in x_marks3:
    axes[0].axhline(xm, ls=":", color="w")
axes[0].set_xlabel("z")
axes[0].set_ylabel("x")
axes[0].set_title("p(x, z) for f(z) = floor(z)")
for xm, p in zip(x_marks3, res3["post"]):
    axes[1].plot(res3["z"], p, label=f"x = {xm}")
axes[1].set_xlabel("z")
axes[1].set_title("posteriors p(z | x)")
axes[1].legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# **Ours, beyond the paper: how far each Figure-3 posterior is from a Gaussian**, as the
# KL divergence (nats) of the best-fitting Gaussian to it.

# %% tags=["hide-input"]
show(pd.DataFrame({"x": [f"{v:g}" for v in x_marks3], "KL(best Gaussian || posterior)": res3["best_gauss_kl"].numpy()}),
     caption=f"Figure 3: best-Gaussian KL per posterior (ours), profile {PROFILE}", digits=3, index=False)

# %% [markdown]
# **Ours, beyond the paper: how close the trained amortised VAE comes to the closed-form
# optimum.** The paper trains no such model, so this is not one of its claims: the
# selected restart's test -ELBO + const beside the two closed-form values, and the share
# of the way from the ground truth to the optimum it covers (1 = at the optimum).

# %% tags=["hide-input"]
show(sec5_2.eq6_vae_vs_closed_form(vae, eq6),
     caption=f"Eq. 6: trained amortised VAE vs. the closed form (ours), profile {PROFILE}", digits=3)

# %% [markdown]
# ## What we reproduced
#
# **Ours: the verdicts on Section 5.2's claims** (the scorecard's rows for this page). The
# verdicts use the book's one rule, defined on the scorecard page: Eq. 6's two values
# are "reproduced" when they agree with the paper's three printed decimals; the
# qualitative claims of Figures 1-3 are checks of a stated condition on a noise-free
# computation (closed form or grid quadrature, with the threshold the claim names),
# "reproduced" when it holds and "differs" when it does not. Figure 1's correlation is
# now the closed-form correlation of x1 and x2 rather than that of 2000 draws, and
# Figure 2's claim is split into its two parts (the same p(x), and the ELBO's preference
# for variant 2). The trained VAE of the table above is no claim of the paper and has
# no verdict.

# %% tags=["hide-input"]
show(scorecard.page_verdicts(PROFILE, "sec5_2_intuition"), index=False,
     caption=f"Section 5.2: paper vs. ours ({PROFILE} profile)")
