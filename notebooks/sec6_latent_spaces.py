# ---
# jupyter:
#   jupytext:
#     text_representation: {extension: .py, format_name: percent}
#   kernelspec: {display_name: Python 3, language: python, name: python3}
# ---

# %% [markdown]
# # Section 6: the ELBO prefers latent spaces with simple posteriors
#
# Section 6 argues that when the true posteriors are hard for a mean-field Gaussian
# (condition 1) but another decoder explains p(x) equally well with simpler posteriors
# (condition 2), MFG-VAE inference picks that other decoder, so the learned latent
# space need not be the ground truth's. Two examples:
#
# 1. **Linear** (after Stuhmer et al., 2020): f(z) = A z + b with a non-diagonal A
#    versus the rotated A' = A R that diagonalises the posterior. Both give the same
#    p(x); the ELBO prefers A' (closed form, `vaefail_core.linear`).
# 2. **Absolute-Value** (Figure 9): the true f(z) = (|z|, |z|) has bimodal posteriors; the
#    VAE of the Section-5 sweep learns a different f with unimodal posteriors and still
#    matches p(x).

# %% tags=["parameters", "hide-input"]
PROFILE = "reduced"
SEED = 0
RETRAIN = False

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from vaefail_core.tables import show
from vaefail_core.paper import scorecard, sec6
from vaefail_core.profiles import page_setup

prof = page_setup(PROFILE, SEED, keys=())

# %% [markdown]
# ## 1. The linear example
#
# The paper gives no numbers for this example; our choice (`sec6.LINEAR_A`): K = D = 2,
# sigma^2 = 0.1, b = (0.5, -1) (b does not enter any KL). With the SVD A = U S V^T, the
# rotation R = V gives A' = A R = U S, whose columns are orthogonal, so the posterior
# precision I + A'^T A' / sigma^2 is diagonal. (The paper writes R through an arbitrary
# diagonal Lambda; keeping p(x) unchanged forces Lambda = S^2 + sigma^2 I, which gives
# this same R.)
#
# **Ours, beyond the paper: the matrices of the linear example**, entries by row.

# %% tags=["hide-input"]
Ap, R = sec6.rotated_decoder(sec6.LINEAR_A)
mats = pd.DataFrame({name: np.asarray(M, dtype=float).ravel() for name, M in
                     [("A (ground truth)", sec6.LINEAR_A), ("A' = A R", Ap), ("R", R)]},
                    index=["(1, 1)", "(1, 2)", "(2, 1)", "(2, 2)"]).T
show(mats, caption=f"Linear example: A, the rotated A' and R (ours), profile {PROFILE}", digits=4)
print("R is orthogonal (R^T R = I up to float rounding):", bool(np.allclose(R.T @ R, np.eye(2))))

# %% [markdown]
# **Ours, beyond the paper: the linear example in closed form.** Both decoders give the
# same p(x) (MLEO 0, identical covariance of x), but only the rotated one has an
# uncorrelated posterior, and with it a PMO of 0. Values below 1e-12 are float rounding
# and are shown as 0.

# %% tags=["hide-input"]
lin = sec6.linear_example()
lin_shown = lin.mask(lin.abs() < 1e-12, 0.0)   # 1e-16-sized rounding of exact zeros
show(lin_shown, caption=f"Linear example: MLEO, PMO and posterior correlation (ours), profile {PROFILE}",
     digits=3)

# %% [markdown]
# **Ours, beyond the paper: every rotation of A.** MLEO and PMO of A R(theta) over a
# grid of 181 angles in [0, pi).

# %% tags=["hide-input"]
scan = sec6.rotation_scan()
plt.figure(figsize=(6.5, 3.8))
plt.plot(scan["theta"], scan["PMO"], label="PMO (nats)")
plt.plot(scan["theta"], scan["MLEO"], label="MLEO (nats)")
plt.xlabel("rotation angle theta of A R(theta)")
plt.title("Same p(x) for every rotation; the ELBO picks PMO = 0")
plt.legend()
plt.tight_layout()
plt.show()
max_mleo = float(scan["MLEO"].abs().max())
mleo_txt = "< 1e-12 (float rounding)" if max_mleo < 1e-12 else f"{max_mleo:.3g}"
print(f"Largest |MLEO| over the rotations: {mleo_txt}; the PMO ranges from "
      f"{scan['PMO'].min():.4f} to {scan['PMO'].max():.3f} nats.")

# %% [markdown]
# ## 2. Absolute-Value (Figure 9)
#
# The selected VAE of version 0 from the Section-5 sweep cache of this profile
# (`results/<profile>/`). Posterior complexity is the KL of the best Gaussian to each exact
# posterior (on a z-grid) on 500 fresh points; p(x) quality is the smooth kNN statistic of
# 2000-sample draws against the test set (lower is better; stored in the sweep records),
# and the MLEO of the learned model by quadrature.

# %% tags=["hide-input"]
N_AV = sec6.AV_N
try:
    av = sec6.absolute_value_analysis(PROFILE, version=sec6.AV_VERSION, n=N_AV, seed=SEED)
except FileNotFoundError as err:
    av = None
    print("not available:", err)
if av is not None:
    print("The selected restart was initialised at:", "the ground truth" if av["selected_init"] == "gt"
          else av["selected_init"])
    print("Its learned sigma^2 per dimension:", ", ".join(f"{float(v):.4f}" for v in av["noise_var"]))
    print(f"MLEO of the learned model: {av['mleo']:.3f} nats.")

# %% [markdown]
# **Ours, beyond the paper: how Gaussian the posteriors are on Absolute-Value.** Mean KL
# (nats) of the best Gaussian to the exact posterior over the 500 points, and the share
# of points where it exceeds 0.1 nats, with its binomial standard error.

# %% tags=["hide-input"]
if av is not None:
    share = pd.Series([(av["kl_true"] > 0.1).mean(), (av["kl_model"] > 0.1).mean()])
    kl_tab = pd.DataFrame({"mean KL": [f"{av['kl_true'].mean():.3f}", f"{av['kl_model'].mean():.3f}"],
                           "share KL > 0.1": share.map("{:.2f}".format).tolist(),
                           "std. error": np.sqrt(share * (1 - share) / N_AV).map("{:.3f}".format).tolist()},
                          index=["true f (bimodal)", "learned f"])
    show(kl_tab, caption=f"Absolute-Value: best-Gaussian KL of the posteriors (ours), profile {PROFILE}")

# %% [markdown]
# **Ours, beyond the paper: how well p(x) is matched on Absolute-Value**, by the smooth
# kNN statistic of model samples against the test set (lower is better; from the sweep
# records of the VAE and of each IWAE).

# %% tags=["hide-input"]
if av is not None:
    knn_tab = pd.DataFrame({"smooth kNN statistic (test)": {k: v for k, v in av["knn"].items() if v is not None}})
    knn_tab.index.name = "method"
    show(knn_tab, caption=f"Absolute-Value: smooth kNN statistic (ours), profile {PROFILE}", digits=2)

# %% [markdown]
# **Figure 9 (paper's numbering).** The VAE trained on Absolute-Value, panels lettered as
# in the paper: (a) data against samples of the learned model; (b) the true and the
# learned f; (c) exact posteriors of the true model at three data points; (d) the
# learned model's exact posteriors at the same points.

# %% tags=["hide-input"]
if av is not None:
    fig, ax = plt.subplots(2, 2, figsize=(10, 7.5))
    z = av["z"]
    keep = np.abs(z) <= 3
    ax[0, 0].scatter(av["x"][:, 0], av["x"][:, 1], s=4, alpha=0.5, label="data")
    ax[0, 0].scatter(av["samples"][:, 0], av["samples"][:, 1], s=4, alpha=0.5, label="VAE samples")
    ax[0, 0].set_xlabel("$x_1$")
    ax[0, 0].set_ylabel("$x_2$")
    ax[0, 0].legend(fontsize=9)
    ax[0, 0].set_title("(a) p(x): data vs. VAE samples")
    for d in range(2):
        ax[0, 1].plot(z[keep], av["f_true"][keep, d], "k", lw=2 if d == 0 else 1, label="true f" if d == 0 else None)
        ax[0, 1].plot(z[keep], av["f_model"][keep, d], c=f"C{d}", label=f"learned f, dim {d + 1}")
    ax[0, 1].set_xlabel("z")
    ax[0, 1].legend(fontsize=9)
    ax[0, 1].set_title("(b) true vs. learned f(z)")
    for i in range(3):
        lab = f"x = ({av['x'][i, 0]:.2f}, {av['x'][i, 1]:.2f})"
        ax[1, 0].plot(z[keep], av["post_true"][i, keep], c=f"C{i}", label=lab)
        ax[1, 1].plot(z[keep], av["post_model"][i, keep], c=f"C{i}", label=lab)
    ax[1, 0].set_title("(c) posteriors under the true f")
    ax[1, 1].set_title("(d) posteriors under the learned f")
    for a in ax[1]:
        a.set_xlabel("z")
        a.legend(fontsize=9)
    ax[1, 0].set_ylabel("p(z | x)")
    plt.tight_layout()
    plt.show()

# %% [markdown]
# ## Summary
#
# **Ours: the verdicts on Section 6's claims** (the scorecard's rows for this page). The
# verdicts use the book's one rule, defined on the scorecard page: each claim is a check
# of a stated condition on the closed form (linear example) or on the single VAE fit of
# Figure 9 (data version 0), "reproduced" when it holds and "differs" when it does not;
# the thresholds are in the claims. The old "agrees" reads "reproduced", and
# Absolute-Value's "p(x) still matched" is now judged at every profile (by its MLEO
# below 0.1 nats) rather than left to "see numbers" at the quick profile.

# %% tags=["hide-input"]
show(scorecard.page_verdicts(PROFILE, "sec6_latent_spaces"), index=False,
     caption=f"Section 6: paper vs. ours ({PROFILE} profile)")
