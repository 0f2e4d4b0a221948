# ---
# jupyter:
#   jupytext:
#     text_representation: {extension: .py, format_name: percent}
#   kernelspec: {display_name: Python 3, language: python, name: python3}
# ---

# %% [markdown]
# # Appendices A and C: posterior collapse, Theorem 1 and the Eq. 9 noise estimate
#
# Three small theoretical claims of the paper, checked numerically:
#
# 1. **Appendix A.** A mean-field Gaussian VAE can only sit at a collapsed global optimum
#    (decoder ignoring z, noise carrying all variance) when the data are Gaussian. We
#    compare, in closed form (linear-Gaussian models, `vaefail_core.linear`), the
#    collapsed model with the best K = 1 linear model on Gaussian data, and on the
#    non-Gaussian Circle data set the collapsed model's negative ELBO with that of the
#    ground-truth model under the best per-point Gaussian q (grid quadrature).
# 2. **Appendix C.1, Theorem 1.** The split of the posterior-matching objective (PMO)
#    into low-KL and high-KL regions at a threshold eta (Eqs. 16-19), at the ground truth
#    of Figure-8 and at a trained VAE from the Section-5 sweep cache.
# 3. **Appendix C.2, Eq. 9.** The noise variance that maximises the ELBO's expected
#    log-likelihood term equals the mean squared residual under q.

# %% tags=["parameters", "hide-input"]
PROFILE = "reduced"
SEED = 0
RETRAIN = False

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from vaefail_core.tables import show
from vaefail_core.paper import appA_C, scorecard
from vaefail_core.profiles import page_setup

prof = page_setup(PROFILE, SEED, keys=())

# %% [markdown]
# ## 1. Appendix A: collapse on Gaussian data (closed form)
#
# Model: z ~ N(0, 1), x = w z + eps, eps ~ N(0, diag(noise)). For a given w the noise
# is set to its best value; all numbers are -ELBO minus the entropy of p(x) in nats
# (0 = p(x) learned exactly with an exact posterior). The collapsed model is w = 0,
# noise = data variance.
#
# **Ours, beyond the paper: the collapsed model against the best linear model on
# Gaussian data** (closed form, so the same in every profile; values below 1e-12 are
# float rounding and shown as 0).

# %% tags=["hide-input"]
gauss, scans = appA_C.gaussian_collapse_table()
show(gauss.mask(gauss < 1e-12, 0.0),
     caption=f"App. A on Gaussian data: -ELBO - H[p(x)] in nats (ours), profile {PROFILE}", digits=4)

# %% [markdown]
# **Ours, beyond the paper: the 1-D case along the whole w grid**, the noise set to its
# best value for each w.

# %% tags=["hide-input"]
r = scans["1-D x, var 0.5"]
plt.figure(figsize=(6.5, 3.8))
plt.plot(r["grid"], r["values"])
plt.xlabel("w (noise = 0.5 - w^2)")
plt.ylabel("-ELBO - H[p(x)]  (nats)")
plt.title("1-D Gaussian data: w = 0 (collapse) is one of the optima")
plt.tight_layout()
plt.show()

# %% [markdown]
# On isotropic Gaussian data the collapsed model reaches the global minimum (0), tied
# with every non-collapsed w that leaves the same p(x). With a diagonal noise model,
# Gaussian data are necessary but not sufficient: on correlated Gaussian data collapse
# loses the correlation and is beaten by a linear decoder.
#
# ## 1b. Appendix A: collapse on non-Gaussian data (Circle)
#
# **Ours, beyond the paper: the collapsed model against the ground truth on Circle**
# (the data set of the paper's Figure 8), in nats per point over 1000 test points.

# %% tags=["hide-input"]
cv = appA_C.collapse_vs_truth("circle", n=appA_C.N_CIRCLE, seed=SEED)
circ = pd.DataFrame([{"model": "collapsed (Gaussian fit, KL term 0)", "-ELBO": cv["collapsed_neg_elbo"]},
                     {"model": "ground truth, best per-point Gaussian q", "-ELBO": cv["truth_neg_elbo"]},
                     {"model": "  of which -log p(x)", "-ELBO": cv["truth_neg_log_px"]},
                     {"model": "  of which PMO", "-ELBO": cv["truth_pmo"]}]).set_index("model")
show(circ, caption=f"App. A on Circle, 1000 test points: -ELBO in nats per point (ours), profile {PROFILE}",
     digits=3)

# %% [markdown]
# ## 2. Appendix C.1: Theorem 1 on Figure-8
#
# Per test point x: the KL of the best Gaussian q to the posterior (the PMO integrand).
# Eq. 19 rebuilds the PMO from Pr[X_Hi], D_Lo and D_Hi for any eta. The right-hand
# columns use the selected VAE of the Section-5 sweep (this profile's cache; its own
# exact posteriors with per-point optimal q, as the theorem assumes), and its MLEO on
# the same points. "cond1" checks the inequality of the theorem's condition (1).
# Pr_Hi is a share of the 500 points, given to 2 decimals with its binomial standard
# error.

# %% tags=["hide-input"]
N_TH = appA_C.N_THEOREM
rec, model = appA_C.figure8_vae(PROFILE)
print("Trained model:", "none in cache" if rec is None else rec["label"] + f" ({PROFILE} profile)")
th, th_extra = appA_C.theorem1_table("figure8", etas=appA_C.ETAS, n=N_TH, seed=SEED, model=model)
gt_neg_elbo = float(np.mean(th_extra["kl_gt"]))
if model is not None:
    m_neg_elbo = th_extra["mleo_model"] + float(np.mean(th_extra["kl_model"]))


def split_table(cols, rate):
    """The columns ``cols`` of ``th`` as text: the rate ``rate`` to 2 decimals with its
    binomial standard error beside it, the rest to 3 decimals."""
    out = pd.DataFrame(index=th.index.map("{:g}".format).rename("eta"))
    for c in cols:
        v = th[c].to_numpy()
        if c == rate:
            out[c] = [f"{p:.2f}" for p in v]
            out["std. error"] = [f"{np.sqrt(p * (1 - p) / N_TH):.3f}" for p in v]
        else:
            out[c] = [x if isinstance(x, (bool, np.bool_)) else f"{x:.3f}" for x in v]
    return out


# %% [markdown]
# **Ours, beyond the paper: the PMO split of Eqs. 16-19 at the Figure-8 ground truth**, for
# four thresholds eta (per-point KLs in nats).

# %% tags=["hide-input"]
show(split_table(["Pr_Hi(GT)", "D_Lo(GT)", "D_Hi(GT)", "PMO(GT) Eq.19", "PMO(GT) mean"], "Pr_Hi(GT)"),
     caption=f"Theorem 1 on Figure-8: ground truth, 500 points (ours), profile {PROFILE}")
print(f"-ELBO - H[p(x)] of the ground truth (its PMO; its MLEO is 0): {gt_neg_elbo:.3f} nats.")

# %% [markdown]
# **Ours, beyond the paper: the same split for the trained VAE, and condition (1) of
# Theorem 1** (lhs: Pr_Hi(GT) (D_Hi(GT) - D_Lo(GT)); rhs: Pr_Hi(model) D_Hi(model) + MLEO).

# %% tags=["hide-input"]
if model is not None:
    show(split_table(["Pr_Hi(model)", "D_Lo(model)", "D_Hi(model)", "lhs", "rhs", "cond1"], "Pr_Hi(model)"),
         caption=f"Theorem 1 on Figure-8: trained VAE, 500 points (ours), profile {PROFILE}")
    print(f"The trained model has MLEO {th_extra['mleo_model']:.3f} nats and -ELBO - H[p(x)] "
          f"{m_neg_elbo:.3f} nats (MLEO + PMO, per-point optimal q).")
else:
    print("No trained Figure-8 VAE in this profile's cache.")

# %% [markdown]
# **Ours, beyond the paper: where the hard posteriors lie on Figure-8.** Left: the 500
# points coloured by the KL of the best Gaussian to their ground-truth posterior. Right:
# the distribution of that KL, for the ground truth and for the trained VAE.

# %% tags=["hide-input"]
fig, ax = plt.subplots(1, 2, figsize=(10.5, 4))
x = th_extra["x"]
sc = ax[0].scatter(x[:, 0], x[:, 1], c=np.minimum(th_extra["kl_gt"], 1), s=6, cmap="magma")
plt.colorbar(sc, ax=ax[0], label="KL(best Gaussian || p(z|x)), clipped at 1")
ax[0].set_title("Figure-8 ground truth: where X_Hi lies")
bins = np.linspace(0, 1.5, 40)
ax[1].hist(np.minimum(th_extra["kl_gt"], 1.5), bins=bins, alpha=0.6, label="ground truth")
if model is not None:
    ax[1].hist(np.minimum(th_extra["kl_model"], 1.5), bins=bins, alpha=0.6, label="trained VAE")
ax[1].set_xlabel("per-point KL (nats), clipped at 1.5")
ax[1].set_ylabel("points")
ax[1].legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 3. Appendix C.2: Eq. 9
#
# (a) At the Figure-8 ground-truth decoder with q = the best per-point Gaussian, and
# (b) at the trained VAE above with its own encoder: the expected log-likelihood term as a
# function of sigma^2 (per dimension), its maximiser on a log grid (parabola-refined), and
# `metrics.noise_variance_eq9` on the same posterior samples.
#
# **Ours, beyond the paper: Eq. 9 checked numerically** (sigma^2 per dimension).

# %% tags=["hide-input"]
eq9, checks = appA_C.eq9_table(model, seed=SEED)
show(eq9, caption=f"Eq. 9: maximiser of the curve vs. the closed form (ours), profile {PROFILE}", digits=4)

# %% [markdown]
# **Ours, beyond the paper: the expected log-likelihood term against sigma^2**, with the
# Eq. 9 value of each dimension dashed.

# %% tags=["hide-input"]
fig, axs = plt.subplots(1, len(checks), figsize=(5.2 * len(checks), 3.8), squeeze=False)
for ax, (lab, e) in zip(axs[0], checks):
    for d in range(e["curve"].shape[1]):
        ax.semilogx(e["grid"], e["curve"][:, d], label=f"dim {d + 1}")
        ax.axvline(e["eq9"][d], ls="--", c=f"C{d}")
    ax.set_ylim(e["curve"].max() - 3, e["curve"].max() + 0.3)
    ax.set_title(lab, fontsize=10)
    ax.set_xlabel("sigma^2")
    ax.legend()
axs[0, 0].set_ylabel("E_q log N(x | f(z), sigma^2)")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Summary
#
# **Ours: the verdicts on the claims of Appendices A and C** (the scorecard's rows for
# this page). The verdicts use the book's one rule, defined on the scorecard page: each
# claim is a check of a stated condition (with the threshold it names) on a closed form,
# a grid computation, or the single cached Figure-8 VAE of data version 0, "reproduced"
# when it holds and "differs" when it does not; the rows that use the trained VAE
# (Theorem 1's condition, the misestimating model, and Eq. 9) depend on the profile. Two rows of the old summary changed: Theorem 1's condition (1), which read
# "sufficient condition only", is now the check that it holds at one of the etas tested
# (App. C.1 states that the conditions hold on the data sets), and Eq. 9 at the trained
# VAE, which read "over-estimates", is now the check that it over-estimates the true
# sigma^2, the direction Sec. 8 reports. The correlated Gaussian case of the first table
# (collapse loses to a linear decoder under a diagonal noise model) is ours, beyond the
# paper, and has no verdict.

# %% tags=["hide-input"]
show(scorecard.page_verdicts(PROFILE, "appA_C_theory"), index=False,
     caption=f"Appendices A and C: paper vs. ours ({PROFILE} profile)")
