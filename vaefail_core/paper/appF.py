"""Appendix F and Figure 7: manifold projection as a defence (shown on the Section 8 page).

Random perturbations, and minimal attacks on a logistic-regression classifier of a label
of the de-noised point, defended by projecting onto the true and the learned manifolds.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import LogisticRegression

from .. import data
from ..evaluate import float64_copy
from ..profiles import get_profile
from .claim import Claim
from .sec8 import CASE_B_K, case_b_model

__all__ = [
    "APPF_RANDOM", "appf_random_perturbation", "CLAIMS_SWEEP", "CLAIMS_VERSION", "page_claims",
    "claims_evidence",
    "ground_truth_projection",
    "model_projection",
    "projection_defence",
    "ground_truth_mode",
    "APPF_DATASET",
    "manifold_label",
    "fit_label_classifier",
    "linear_attack",
    "defence_table",
    "appf_attack",
    "appf_attack_summary",
    "APPF_OVERSHOOT",
    "appf_overshoot_curve",
]


# ======================================================================================
# Appendix F / Figure 7: manifold projection as a defence
# ======================================================================================
def ground_truth_mode(name: str, x, chunk: int = 2000) -> np.ndarray:
    """The mode z* of the exact posterior p(z | x) of the ground truth on its z-grid, [N]
    (1-D-latent data sets only; computed in chunks of ``chunk`` rows to bound memory)."""
    truth = data.get(name)
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    out = []
    for a in range(0, len(x), chunk):
        z, post = truth.posterior(x[a:a + chunk])
        out.append(z[post.argmax(1)])
    return np.concatenate(out) if out else np.zeros(0)


def ground_truth_projection(name: str, x) -> np.ndarray:
    """Project x onto the true manifold: ``f_GT(z*)`` with z* the mode of the exact
    posterior p(z | x) on the grid (the posterior mean can fall between modes, off the
    manifold). 1-D-latent data sets only."""
    return data.get(name).f(ground_truth_mode(name, x)[:, None])


def model_projection(model, x) -> np.ndarray:
    """``M(x) = f_theta(mu_phi(x))`` (App. F): decode the encoder mean (in float64, so
    that which side of the classifier's boundary a projection lands on does not depend
    on the CPU's float32 rounding; see ``evaluate.float64_copy``)."""
    m64 = float64_copy(model)
    with torch.no_grad():
        mu, _ = m64.encode(torch.as_tensor(np.asarray(x, dtype=np.float64))[None])
        return m64.decode(mu)[0].numpy()


def projection_defence(projectors: dict, x, radius: float = 0.5, seed: int = 0) -> pd.DataFrame:
    """App. F: how much a manifold projection de-noises and how much of an off-data
    perturbation survives it. For each projector P (callable x -> P(x)):

    * ``removed/dim``: mean squared displacement ``||x - P(x)||^2 / D`` of clean test
      points; a projection onto the true manifold removes about the noise variance
      (minus the tangent part);
    * ``survival``: ``||P(x + delta) - P(x)|| / ||delta||`` for random perturbations
      delta of norm ``radius`` (uniform direction): near 1 means the projection leaves
      the perturbation in place (the defence fails, Fig. 7b), small means it is removed.
    """
    x = np.asarray(x, dtype=np.float64)
    rng = np.random.default_rng(seed)
    d = rng.standard_normal(x.shape)
    d *= radius / np.linalg.norm(d, axis=1, keepdims=True)
    rows = []
    for lab, P in projectors.items():
        px, pxd = np.asarray(P(x), dtype=np.float64), np.asarray(P(x + d), dtype=np.float64)
        rows.append({"projection": lab,
                     "removed/dim": float(((x - px) ** 2).sum(1).mean() / x.shape[1]),
                     "survival": float(np.median(np.linalg.norm(pxd - px, axis=1) / radius))})
    return pd.DataFrame(rows).set_index("projection")


# --------------------------------------------------------------------------------------
# Appendix F / Figure 7: a downstream label, a learned classifier, minimal attacks
# --------------------------------------------------------------------------------------
#: The data set of the App. F experiment (Figure-8 in 5-D, Sec. 8 Case B).
APPF_DATASET = "figure8_5d"


def manifold_label(name: str, z) -> np.ndarray:
    """The downstream label of App. F (Eq. 32 with a deterministic g): a function of the
    de-noised point f_GT(z) only, ``y = 1[f_GT(z)_1 > 0]`` (int64 [N]).

    On Figure-8 (Eq. 33) and its 5-D embedding (whose first coordinate is f_1, as the
    first column of footnote 3's A is e_1) this is the loop of the 8 the clean point
    lies on: ``cos u(z) > 0`` on ``u in (0.6 pi, 2.4 pi)`` iff ``u > 1.5 pi`` iff
    ``z > 0``, so the classes are balanced and the true classifier changes value on the
    manifold only at the crossing of the 8 (the origin)."""
    truth = data.get(name)
    z = np.asarray(z, dtype=np.float64).reshape(-1, truth.latent_dim)
    return (truth.f(z)[:, 0] > 0).astype(np.int64)


def fit_label_classifier(x, y, seed: int = 0, C: float = 1.0):
    """The learned classifier of App. F (the orange line of Fig. 7): an L2-regularised
    logistic regression of y on the *noisy* x (scikit-learn, lbfgs; ``seed`` is passed
    as ``random_state`` although lbfgs is deterministic)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y).reshape(-1)
    if x.ndim != 2 or len(x) != len(y):
        raise ValueError(f"x must be [N, D] with one label per row, got {x.shape} and {y.shape}")
    if len(np.unique(y)) != 2:
        raise ValueError("y must contain exactly two classes")
    return LogisticRegression(C=C, random_state=seed, max_iter=1000).fit(x, y)


def linear_attack(w, b: float, x, overshoot: float = 0.0) -> np.ndarray:
    """The smallest (Euclidean) perturbation that moves each row of x onto the boundary
    ``w . x + b = 0`` of a linear classifier, scaled by ``1 + overshoot`` so that it
    crosses it: ``eta = -(1 + overshoot) (w . x + b) w / ||w||^2`` (closed form: the
    distance from a point to a hyperplane is ``|w . x + b| / ||w||``, attained along w).
    Returns eta [N, D]."""
    w = np.asarray(w, dtype=np.float64).reshape(-1)
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    if x.shape[1] != len(w):
        raise ValueError(f"x has {x.shape[1]} columns but w has {len(w)} entries")
    ww = float(w @ w)
    if ww == 0.0:
        raise ValueError("w is zero: the classifier has no boundary")
    if overshoot < 0:
        raise ValueError(f"overshoot must be >= 0, got {overshoot}")
    s = x @ w + float(b)
    return -(1.0 + overshoot) * (s / ww)[:, None] * w[None, :]


def defence_table(predict, projected: dict, x, x_adv, y, y_true_adv=None, clean=None) -> pd.DataFrame:
    """App. F: how a manifold-projection defence fares against attacks ``x -> x_adv`` on
    a classifier ``predict`` (callable [N, D] -> labels), with true labels y of the
    clean points. ``projected[name] = (P(x), P(x_adv))`` for each defence P (include
    the identity as "no defence"). Columns, one row per defence:

    * ``attack success``: share of attacks that cross the learned boundary (the
      undefended prediction on x_adv differs from y);
    * ``clean error``: share of clean points the *defended* classifier ``predict(P(x))``
      gets wrong (the cost of the defence itself);
    * ``survival``: among successful attacks, the share whose defended prediction
      ``predict(P(x_adv))`` still differs from y (1 = the defence does nothing);
    * ``valid attacks`` / ``survival (valid)`` (if ``y_true_adv``, the true label of
      each attacked point, is given): the share of successful attacks that leave the
      true label unchanged, i.e. adversarial in App. F's sense (they fool the learned
      but not the true classifier), and the survival among those;
    * ``kept``: median ``||P(x_adv) - P(x)|| / ||x_adv - x||``, the share of the
      perturbation that survives the projection (Fig. 7b: near 1);
    * ``dist before`` / ``dist after`` (if ``clean``, the de-noised truth f_GT(z), is
      given): median distance of x_adv and of P(x_adv) to the clean point.
    """
    x, x_adv = np.asarray(x, dtype=np.float64), np.asarray(x_adv, dtype=np.float64)
    y = np.asarray(y).reshape(-1)
    if x.shape != x_adv.shape or x.ndim != 2 or len(y) != len(x):
        raise ValueError(f"x, x_adv must be [N, D] and y [N]; got {x.shape}, {x_adv.shape}, {y.shape}")
    success = np.asarray(predict(x_adv)).reshape(-1) != y
    if not success.any():
        raise ValueError("no attack crosses the classifier's boundary")
    valid = None if y_true_adv is None else success & (np.asarray(y_true_adv).reshape(-1) == y)
    norm = np.linalg.norm(x_adv - x, axis=1)
    rows = []
    for lab, (px, pa) in projected.items():
        px, pa = np.asarray(px, dtype=np.float64), np.asarray(pa, dtype=np.float64)
        if px.shape != x.shape or pa.shape != x.shape:
            raise ValueError(f"{lab}: projections must have shape {x.shape}")
        wrong = np.asarray(predict(pa)).reshape(-1) != y
        row = {"defence": lab, "attack success": float(success.mean()),
               "clean error": float(np.mean(np.asarray(predict(px)).reshape(-1) != y)),
               "survival": float(wrong[success].mean())}
        if valid is not None:
            row["valid attacks"] = float(valid.sum() / success.sum())
            row["survival (valid)"] = float(wrong[valid].mean()) if valid.any() else float("nan")
        row["kept"] = float(np.median(np.linalg.norm(pa - px, axis=1)[success] / norm[success]))
        if clean is not None:
            c = np.asarray(clean, dtype=np.float64)
            row["dist before"] = float(np.median(np.linalg.norm(x_adv - c, axis=1)[success]))
            row["dist after"] = float(np.median(np.linalg.norm(pa - c, axis=1)[success]))
        rows.append(row)
    return pd.DataFrame(rows).set_index("defence")


def appf_attack(records: Sequence[dict], profile: str, version: int = 0, n_test: int = 1000,
                overshoot: float = 0.01, seed: int = 0, name: str = APPF_DATASET) -> dict:
    """Appendix F on one data version of ``name`` (Figure-8-5D): label every point by
    ``manifold_label``, fit ``fit_label_classifier`` on the profile's (noisy) training
    split, attack those of the first ``n_test`` test points that it classifies correctly
    with ``linear_attack`` (``overshoot``: 1 % past the boundary by default), and defend
    by projecting onto

    * the true manifold (``ground_truth_projection``, reference (c));
    * the manifolds of the Table-1 VAEs with K = 1 (the true K, sigma^2 learned jointly)
      and the mismatched K = 2, 3 (``model_projection``, M(x) = f(mu(x)), App. F);

    beside no defence. The true label of an attacked point is the label of its
    projection onto the true manifold (the true classifier is defined on the manifold
    only; p(y | x) of the ground truth is this label up to posterior mass on the other
    loop). Returns a dict: ``table`` (``defence_table`` plus the version, the
    classifier's test accuracy, the median attack norm and the median share of the attack
    orthogonal to the plane that holds the true manifold) and the arrays behind the
    Figure-7 panel (``x``, ``x_adv``, ``y``, ``clean``, ``valid``, ``projected``,
    ``w_plane``/``b``: the classifier restricted to the plane of the manifold, in the
    coordinates of f (x_1, x_2 of the embedding), ``models``)."""
    p = get_profile(profile)
    truth = data.get(name)
    if truth.latent_dim != 1:
        raise ValueError(f"{name}: App. F needs a 1-D-latent ground truth")
    sp = data.splits(name, version, n_train=p.n_train, n_val=p.n_val, n_test=p.n_test)
    tr, te = sp["train"], sp["test"]
    clf = fit_label_classifier(tr.x, manifold_label(name, tr.z), seed=seed)
    x_all, z_all = te.x[:n_test].astype(np.float64), te.z[:n_test]
    y_all = manifold_label(name, z_all)
    ok = clf.predict(x_all) == y_all
    x, y = x_all[ok], y_all[ok]
    clean = truth.f(z_all[ok]).astype(np.float64)
    w, b = clf.coef_[0].astype(np.float64), float(clf.intercept_[0])
    x_adv = x + linear_attack(w, b, x, overshoot)
    z_adv = ground_truth_mode(name, x_adv)
    y_true_adv = manifold_label(name, z_adv)
    projected = {"no defence": (x, x_adv),
                 "true manifold": (ground_truth_projection(name, x), truth.f(z_adv[:, None]).astype(np.float64))}
    models = {}
    for K in CASE_B_K:
        m = case_b_model(records, name, K, version)
        if m is None:
            continue
        models[K] = m
        projected[f"VAE K = {K}"] = (model_projection(m, x), model_projection(m, x_adv))
    table = defence_table(clf.predict, projected, x, x_adv, y, y_true_adv, clean)
    table.insert(0, "version", version)
    table["test accuracy"] = float(ok.mean())
    eta = x_adv - x
    table["attack norm"] = float(np.median(np.linalg.norm(eta, axis=1)))
    embed = truth.embed if truth.embed is not None else np.eye(truth.data_dim)
    Q = np.linalg.qr(embed.T)[0]               # orthonormal basis of the manifold's plane
    table["attack off-plane"] = float(np.median(np.linalg.norm(eta - eta @ Q @ Q.T, axis=1)
                                                / np.linalg.norm(eta, axis=1)))
    return dict(table=table, x=x, x_adv=x_adv, y=y, clean=clean, valid=y_true_adv == y,
                projected=projected, w_plane=embed @ w, b=b, models=models, classifier=clf)


#: The attack's step beyond the learned boundary, as a share of the minimal perturbation.
APPF_OVERSHOOT = 0.01


def appf_overshoot_curve(records: Sequence[dict], profile: str,
                         overshoots: Sequence[float] = (APPF_OVERSHOOT, 0.03, 0.1, 0.3),
                         **kw) -> tuple[pd.DataFrame, dict]:
    """``appf_attack_summary`` for each overshoot (how far past the learned boundary the
    attack goes, relative to the minimal perturbation): a long frame with one row per
    (overshoot, defence) (survival, survival among valid attacks and their sd over
    versions, the share of valid attacks) and the full results per overshoot."""
    full, rows = {}, []
    for ov in overshoots:
        full[ov] = appf_attack_summary(records, profile, overshoot=ov, **kw)
        s = full[ov][1]
        rows.append(s[["survival", "survival sd", "survival (valid)", "survival (valid) sd",
                       "valid attacks"]].reset_index().assign(overshoot=ov))
    cols = ["overshoot", "defence", "survival", "survival sd", "survival (valid)",
            "survival (valid) sd", "valid attacks"]
    return pd.concat(rows, ignore_index=True)[cols], full


def appf_attack_summary(records: Sequence[dict], profile: str, versions: Sequence[int] | None = None,
                        **kw) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """``appf_attack`` for every data version that has a K = 1 VAE record: (per-version
    table, mean and sd over versions per defence, the first version's full result)."""
    versions = range(get_profile(profile).n_versions) if versions is None else versions
    runs = [appf_attack(records, profile, v, **kw) for v in versions
            if case_b_model(records, kw.get("name", APPF_DATASET), 1, v) is not None]
    if not runs:
        raise FileNotFoundError(f"no Case-B K = 1 VAE record for App. F under profile {profile!r}")
    per = pd.concat([r["table"] for r in runs]).reset_index()
    cols = [c for c in per.columns if c not in ("defence", "version")]
    g = per.groupby("defence", sort=False)[cols]
    summ = g.mean().join(g.std(ddof=1), rsuffix=" sd")
    summ["versions"] = g.size()
    return per, summ, runs[0]


# ======================================================================================
# App. F: the random-perturbation test of the manifold projections
# ======================================================================================
#: App. F's random-perturbation test: data set, data version, test points, perturbation norm
APPF_RANDOM = {"dataset": "figure8_5d", "version": 0, "n_test": 300, "radius": 0.5}


def appf_random_perturbation(records: Sequence[dict], seed: int = 0) -> tuple[dict, np.ndarray, pd.DataFrame]:
    """App. F's random-perturbation test on ``APPF_RANDOM``: the projection onto the true
    manifold and onto the manifold of each Table-1 VAE of that data version (one per K),
    applied to the first test points (``projection_defence``). Returns (projectors:
    name -> callable, the test points, the table)."""
    ds, v = APPF_RANDOM["dataset"], APPF_RANDOM["version"]
    x = data.splits(ds, v, n_train=10, n_val=10, n_test=APPF_RANDOM["n_test"])["test"].x
    projectors = {"ground truth (K = 1)": lambda a: ground_truth_projection(ds, a)}
    for K in CASE_B_K:
        m = case_b_model(records, ds, K, v)
        if m is not None:
            projectors[f"VAE K = {K}"] = (lambda mm: (lambda a: model_projection(mm, a)))(m)
    return projectors, x, projection_defence(projectors, x, radius=APPF_RANDOM["radius"], seed=seed)


# ======================================================================================
# App. F's claims (shown on the Sec. 8 page) for the registry of ``claims``
# ======================================================================================
#: the named sweep whose records ``claims_evidence`` reads
CLAIMS_SWEEP = "section8"
#: bump when ``claims_evidence`` changes what it returns
CLAIMS_VERSION = 1
_PAGE = "sec8_signal_noise"
#: the overshoots of the App. F attack (share past the learned boundary), in percent
APPF_OVERSHOOTS_PCT = (1, 3, 10, 30)


def page_claims() -> list[Claim]:
    """App. F's claims, judged on the Sec. 8 page:

    * random perturbations (one fit per K, data version 0: ``check``): the K = 3 VAE's
      projection leaves more of a random perturbation in place than the projection onto
      the true manifold;
    * attacks (``effect`` over data versions): projecting onto the true manifold lets
      less than 10 % of the valid attacks survive (the threshold is ours: the paper
      says the attacks fail); attacks survive both mismatched projections (K = 2, 3)
      more often than the K = 1 projection, at every overshoot, among all successful
      attacks and among the valid ones.
    """
    out = []
    rnd = lambda d: ("appF", "random", d)  # noqa: E731
    out.append(Claim("appF/random/K3_keeps_perturbation", "appF",
                     "A K = 3 VAE's projection leaves more of a random perturbation in place than the "
                     "projection onto the true manifold (median share kept, data version 0)",
                     "qualitative (Fig. 7b)", "check",
                     cells=(rnd("K3 - truth"), rnd("VAE K = 3"), rnd("ground truth (K = 1)")),
                     cond=(">", 0.0), fmt="kept share {1:.2f} (K = 3) vs {2:.2f} (truth)",
                     where="App. F, Fig. 7", page=_PAGE))
    att = lambda col, ov, d: ("appF", "attack", col, ov, d)  # noqa: E731
    out.append(Claim("appF/true_manifold_defends", "appF",
                     f"Projecting onto the true manifold defeats attacks that keep the true label "
                     f"(survival among valid attacks below 10 %, overshoot {APPF_OVERSHOOTS_PCT[0]} %)",
                     "qualitative (Fig. 7a)", "effect",
                     terms=((+1, "const", 0.1),
                            (-1, "one", (att("survival (valid)", APPF_OVERSHOOTS_PCT[0], "true manifold"),))),
                     labels=("threshold", "survival (valid)"), where="App. F, Fig. 7", page=_PAGE))
    for col, what in (("survival", "all attacks"), ("survival (valid)", "valid attacks")):
        for ov in APPF_OVERSHOOTS_PCT:
            out.append(Claim(f"appF/mismatched_K_survive/{'valid' if 'valid' in col else 'all'}/{ov}pct",
                             "appF",
                             f"Attacks survive both mismatched projections (K = 2, 3) more than the K = 1 "
                             f"projection ({what}, overshoot {ov} %)", "qualitative (Fig. 7b)", "effect",
                             terms=((+1, "min", (att(col, ov, "VAE K = 2"), att(col, ov, "VAE K = 3"))),
                                    (-1, "one", (att(col, ov, "VAE K = 1"),))),
                             labels=("lower of K = 2, 3", "K = 1"), where="App. F, Fig. 7", page=_PAGE))
    return out


def claims_evidence(profile: str, records: list[dict]) -> dict:
    """The cells of ``page_claims`` from the cached Sec. 8 models (nothing is trained):
    the random-perturbation test of version 0 (``appf_random_perturbation``) and the
    per-version attack survival per defence and overshoot (``appf_overshoot_curve``).
    A part whose records are missing gives no cells (its claims are "not run")."""
    out = {}
    _, _, proj = appf_random_perturbation(records)
    if "VAE K = 3" in proj.index:
        kept = proj["survival"]
        out[("appF", "random", "K3 - truth")] = pd.Series([float(kept["VAE K = 3"] - kept.iloc[0])])
        for name in ("VAE K = 3", "ground truth (K = 1)"):
            out[("appF", "random", name)] = pd.Series([float(kept[name])])
    try:
        _, full = appf_overshoot_curve(records, profile,
                                       overshoots=tuple(p / 100 for p in APPF_OVERSHOOTS_PCT))
    except FileNotFoundError:
        return out
    for pct in APPF_OVERSHOOTS_PCT:
        per = full[pct / 100][0]
        for (d, col) in [(d, c) for d in per["defence"].unique() for c in ("survival", "survival (valid)")]:
            out[("appF", "attack", col, pct, d)] = \
                per[per["defence"] == d].set_index("version")[col].astype(float).sort_index()
    return out
