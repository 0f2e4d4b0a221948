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
from vaefail_core import data
from vaefail_core.paper import appA_C, sec6
from vaefail_core.profiles import page_setup
from vaefail_core.sweep import load_selected

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
cases = {"1-D x, var 0.5": np.array([[0.5]]),
         "2-D x, isotropic 0.5 I": 0.5 * np.eye(2),
         "2-D x, correlated (rho 0.8)": np.array([[1.0, 0.8], [0.8, 1.0]])}
rows, scans = [], {}
for lab, cov in cases.items():
    r = appA_C.gaussian_collapse_scan(cov, n_w=81 if len(cov) == 1 else 41)
    scans[lab] = r
    rows.append({"data": lab, "collapsed -ELBO": r["collapsed"], "best over w grid": r["grid_min"],
                 "global min (Nelder-Mead)": r["global_min"]})
gauss = pd.DataFrame(rows).set_index("data").clip(lower=0)   # >= 0 in theory; drop -1e-16
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
cv = appA_C.collapse_vs_truth("circle", n=1000, seed=SEED)
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
N_TH = 500
task, rec = sec6.find_section5_record(PROFILE, "figure8", 0, "vae")
model = load_selected(rec) if rec is not None else None
print("Trained model:", "none in cache" if rec is None else rec["label"] + f" ({PROFILE} profile)")
th, th_extra = appA_C.theorem1_table("figure8", etas=(0.01, 0.05, 0.1, 0.5), n=N_TH, seed=SEED, model=model)
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
e_gt = appA_C.eq9_check_truth("figure8", n=1000, n_samples=64, seed=SEED)
checks = [("ground truth + best Gaussian q", e_gt)]
if model is not None:
    xs = data.get("figure8").sample(1000, 20_000 + SEED).x
    checks.append(("trained VAE (" + PROFILE + ")",
                   appA_C.eq9_check_model(model, xs, n_samples=32, seed=SEED, true_noise=0.02)))
eq9 = pd.DataFrame([{"model": lab, "dim": d + 1, "argmax of curve": e["argmax"][d],
                     "Eq. 9": e["eq9"][d], "true sigma^2": 0.02}
                    for lab, e in checks for d in range(len(e["eq9"]))]).set_index(["model", "dim"])
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
# **Ours, beyond the paper: each claim of Appendices A and C against our numbers.**
# Everything but the trained-model rows is independent of the profile.

# %% tags=["hide-input"]
gt_row = th.loc[0.1]
rel = float(np.max(np.abs(eq9["argmax of curve"] - eq9["Eq. 9"]) / eq9["Eq. 9"]))
summary = pd.DataFrame([
    {"claim": "App. A: collapse is a global optimum on (isotropic) Gaussian data",
     "paper": "yes (p(x) learned perfectly)",
     "ours": f"collapsed {gauss.iloc[1, 0]:.3f} = global min {gauss.iloc[1, 2]:.3f} nats",
     "verdict": "agrees"},
    {"claim": "App. A: collapse is not optimal on non-Gaussian data (Circle)",
     "paper": "yes", "ours": f"collapsed {cv['collapsed_neg_elbo']:.3f} vs truth {cv['truth_neg_elbo']:.3f} nats",
     "verdict": "agrees" if cv["collapsed_neg_elbo"] > cv["truth_neg_elbo"] else "differs"},
    {"claim": "App. A (ours): Gaussian but correlated data, diagonal noise",
     "paper": "not discussed",
     "ours": f"collapsed {gauss.iloc[2, 0]:.3f} vs best {gauss.iloc[2, 2]:.3f} nats",
     "verdict": "Gaussian is necessary, not sufficient"},
    {"claim": "C.1 Eq. 19: PMO = Pr_Hi (D_Hi - D_Lo) + D_Lo (eta 0.1, Figure-8 GT)",
     "paper": "identity",
     "ours": f"{gt_row['PMO(GT) Eq.19']:.3f} = {gt_row['PMO(GT) mean']:.3f}", "verdict": "agrees"},
    {"claim": "C.2 Eq. 9: argmax of the ELBO over sigma^2 = mean squared residual under q",
     "paper": "derived", "ours": f"max relative gap {rel:.1e} (grid + parabola)",
     "verdict": "agrees" if rel < 1e-2 else "differs"},
]).set_index("claim")
if model is not None:
    e_m = checks[1][1]["eq9"]
    summary.loc["C.2 (ours): Eq. 9 at the trained Figure-8 VAE (truth 0.02)"] = {
        "paper": "biased when q is poor (Sec. 8)", "ours": " / ".join(f"{v:.4f}" for v in e_m),
        "verdict": ("over-estimates" if e_m.mean() > 0.02 else "under-estimates")
                   + (" (quick: 5 epochs)" if PROFILE == "quick" else "")}
    summary.loc["C.1: a model with MLEO > 0 beats the ground truth's -ELBO (Figure-8)"] = {
        "paper": "yes (global optimum misestimates p(x))",
        "ours": f"trained {m_neg_elbo:.3f} (MLEO {th_extra['mleo_model']:.3f}) vs GT {gt_neg_elbo:.3f} nats",
        "verdict": ("agrees" if m_neg_elbo < gt_neg_elbo else "differs")
                   + (" (quick: 5 epochs)" if PROFILE == "quick" else "")}
if "cond1" in th.columns:
    held = [e for e in th.index if th.loc[e, "cond1"]]
    summary.loc["C.1 Theorem 1 condition (1) holds for the trained VAE (some eta)"] = {
        "paper": "assumed",
        "ours": ("holds for eta = " + ", ".join(f"{e:g}" for e in held)) if held
                else "holds for none of the etas tested",
        "verdict": "sufficient condition only; see table above (depends on the trained model)"}
show(summary, caption=f"Appendices A and C: paper vs. ours, profile {PROFILE}")
