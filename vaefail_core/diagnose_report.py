"""The outputs of ``vaefail diagnose``: the terminal table, the figures, the HTML report.

``diagnose.diagnose`` computes; this module only presents what it returned:

* ``terminal_table(summary)``   the short table the command prints;
* ``figures(result)``           matplotlib figures, one per check (name -> Figure);
* ``report_html(result)``       one self-contained HTML page (figures as base64 PNG);
* ``write_report(result, dir)`` ``report.html`` and ``summary.json`` in ``dir``.
"""
from __future__ import annotations

import base64
import html
import io
import json
import os
from pathlib import Path

import numpy as np

from .cache import atomic_write_bytes
from .diagnose import (ALPHA, CHECKS, CLUSTER_GAP, DENSITY_MIN_GAIN, NOISE_MIN_COST, NOISE_RATIO,
                       SEPARABLE_BACC, SEPARABLE_ENTROPY)

__all__ = ["terminal_table", "figures", "report_html", "write_report", "TITLES", "to_json", "from_json"]

TITLES = {"class_separability": ("1", "class separability"),
          "noise_variance": ("2", "noise variance"),
          "data_shape": ("3", "data shape"),
          "manifold_residuals": ("4i", "manifold residuals"),
          "density_gap": ("4ii", "density gap"),
          }


def _g(v, digits: int = 3) -> str:
    if v is None:
        return "-"
    return f"{float(v):.{digits}g}"


def _short(name: str, c: dict) -> str:
    """One line of numbers per check (rounded: the same on every CPU)."""
    m = c["metrics"]
    if not c["ran"]:
        return "not applicable (no --label)"
    if name == "class_separability":
        return (f"balanced acc. {m['balanced_accuracy']:.2f}, entropy {m['mean_entropy_normalised']:.2f}"
                f" of max ({m['n_classes']} classes)")
    if name == "noise_variance":
        return (f"sigma^2: ELBO {_g(m['sigma2_elbo'])} vs log-lik {_g(m['sigma2_loglik'])}"
                f" (ratio {m['ratio']:.2f})")
    if name == "data_shape":
        ph, ident = m["persistence"], m["intrinsic_dimension"]
        return (f"{ph['clusters']} cluster(s), {ph['loops']} loop(s), "
                f"intrinsic dim. ~{ident['twonn_coarsest_min']:.1f}")
    if name == "manifold_residuals":
        return f"Shapiro-Wilk, smallest Holm-adj. p = {_g(min(m['p_adjusted']), 2)}"
    if name == "density_gap":
        return (f"IWAE - VAE: {m['gain_mean']:+.3f} +- {m['gain_se']:.3f} nats/point"
                f" (p = {_g(m['p_value'], 2)})")
    raise KeyError(name)


def _flag_word(c: dict) -> str:
    if c["flag"] is None:
        return "-"
    return "YES" if c["flag"] else "no"


def terminal_table(summary: dict) -> str:
    """The command's printed table: one row per check, then the bottom line."""
    inp = summary["input"]
    head = (f"vaefail diagnose: {inp['source'] or 'data'} ({inp['rows_used']} of {inp['rows']} rows, "
            f"{len(inp['features'])} features, latent dim K = {inp['latent_dim']}"
            f"{' from the intrinsic dimension' if inp['latent_dim_source'] != 'given' else ''})")
    rows = [("G", "check", "result", "rich family?")]
    for name in CHECKS:
        g, title = TITLES[name]
        c = summary["checks"][name]
        rows.append((g, title, _short(name, c), _flag_word(c)))
    w = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [head, ""]
    for i, r in enumerate(rows):
        lines.append("  ".join(s.ljust(w[j]) for j, s in enumerate(r)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w[j] for j in range(4)))
    lines.append("")
    yes = "YES" if summary["rich_family_recommended"] else "no"
    lines.append(f"rich variational family recommended: {yes}")
    lines.append(f"  {summary['bottom_line']}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------
def _plt():
    import sys

    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:      # a command-line run: no GUI backend
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _two_d(x: np.ndarray):
    """The first two coordinates (D = 2) or the first two principal components."""
    if x.shape[1] == 2:
        return x, ("x1 (scaled)", "x2 (scaled)"), None
    from sklearn.decomposition import PCA

    p = PCA(2).fit(x)
    return p.transform(x), ("PC 1", "PC 2"), p


def fig_manifold(result: dict):
    """Data with the learned f(z) of the MFG-VAE and the IWAE (z in [-4, 4])."""
    plt = _plt()
    a = result["arrays"]
    x = np.asarray(a["data"]["x"])
    K = result["summary"]["input"]["latent_dim"]
    xy, labels, pca = _two_d(x)
    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    ax.scatter(xy[:, 0], xy[:, 1], s=3, c="0.6", alpha=0.6, label="data", rasterized=True)
    for key, col, name in (("vae", "tab:red", "MFG-VAE"), ("iwae", "tab:blue", "IWAE")):
        f = np.asarray(a["curves"][key])
        f = f if pca is None else pca.transform(f)
        if K == 1:
            ax.plot(f[:, 0], f[:, 1], color=col, lw=1.8, label=f"{name} f(z)")
        else:
            ax.scatter(f[:, 0], f[:, 1], s=2, color=col, alpha=0.5, label=f"{name} f(z)")
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.set_title("data and the learned manifolds")
    ax.legend(loc="best", fontsize=8, markerscale=3)
    ax.set_aspect("equal", adjustable="datalim")
    fig.tight_layout()
    return fig


def fig_persistence(result: dict):
    """Persistence diagram (H0, H1) with the significant loops and the cluster scale."""
    plt = _plt()
    a = result["arrays"]["data_shape"]
    ph = result["summary"]["checks"]["data_shape"]["metrics"]["persistence"]
    h0, h1, padj = a["h0"], a["h1"], a["h1_p_adjusted"]
    fin0 = h0[np.isfinite(h0[:, 1])]
    top = max([1e-9] + list(fin0[:, 1]) + list(h1[:, 1] if len(h1) else []))
    inf_y = top * 1.1
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    ax.plot([0, inf_y], [0, inf_y], color="0.5", lw=0.8)
    ax.axhline(inf_y, color="0.8", lw=0.8, ls=":")
    ax.scatter(fin0[:, 0], fin0[:, 1], s=10, color="tab:blue", label="H0 (components)")
    n_inf = int((~np.isfinite(h0[:, 1])).sum())
    ax.scatter([0] * n_inf, [inf_y] * n_inf, s=30, marker="^", color="tab:blue")
    gap = CLUSTER_GAP * ph["nn_median"]
    ax.axhline(gap, color="tab:blue", lw=0.8, ls="--",
               label=f"cluster scale ({CLUSTER_GAP:g} x median 1-NN)")
    if len(h1):
        sig = padj < ALPHA
        ax.scatter(h1[~sig, 0], h1[~sig, 1], s=10, color="tab:orange", label="H1 (loops)")
        ax.scatter(h1[sig, 0], h1[sig, 1], s=60, color="tab:red", marker="*",
                   label=f"significant loop (Holm p < {ALPHA:g})")
    ax.set_xlabel("birth (scaled units)")
    ax.set_ylabel("death")
    ax.set_title(f"persistence diagram: {ph['clusters']} cluster(s), {ph['loops']} loop(s)")
    ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    return fig


def fig_noise(result: dict):
    """Validation log p(x) and ELBO against sigma^2, with both picks."""
    plt = _plt()
    m = result["summary"]["checks"]["noise_variance"]["metrics"]
    fig, ax = plt.subplots(figsize=(5.2, 3.8))
    g = np.asarray(m["grid"])
    ax.plot(g, m["grid_val_loglik"], "o-", color="tab:blue", label="log p(x) (importance sampled)")
    ax.plot(g, m["grid_val_elbo"], "s--", color="tab:red", label="ELBO")
    ax.axvline(m["sigma2_loglik"], color="tab:blue", lw=1, label=f"log-lik pick {_g(m['sigma2_loglik'])}")
    ax.axvline(m["sigma2_elbo"], color="tab:red", lw=1, ls=":", label=f"ELBO (learned) {_g(m['sigma2_elbo'])}")
    ax.set_xscale("log")
    finite = [v for v in m["grid_val_loglik"] + m["grid_val_elbo"] if v is not None]
    lo = np.quantile(finite, 0.3) if finite else None
    hi = max(finite) if finite else None
    if lo is not None and hi is not None and hi > lo:
        ax.set_ylim(lo - 0.1 * (hi - lo), hi + 0.15 * (hi - lo))
    ax.set_xlabel("sigma^2 (data units)")
    ax.set_ylabel("validation value per point")
    ax.set_title("noise variance: ELBO vs log-likelihood")
    ax.legend(fontsize=7, loc="lower center")
    fig.tight_layout()
    return fig


def fig_residuals(result: dict):
    """Histogram and normal Q-Q plot of the first normal coordinate of the residuals."""
    from scipy import stats

    plt = _plt()
    c = result["arrays"]["manifold_residuals"]["normal_coords"][:, 0]
    m = result["summary"]["checks"]["manifold_residuals"]["metrics"]
    fig, axs = plt.subplots(1, 2, figsize=(8.4, 3.6))
    axs[0].hist(c, bins=40, density=True, color="0.6")
    t = np.linspace(c.min(), c.max(), 200)
    axs[0].plot(t, stats.norm.pdf(t, c.mean(), c.std()), color="tab:red", label="normal fit")
    axs[0].set_xlabel("residual, normal coordinate 1 (scaled units)")
    axs[0].set_title(f"residuals from the MFG-VAE's manifold (n = {m['points']})")
    axs[0].legend(fontsize=8)
    (osm, osr), (slope, icpt, _) = stats.probplot(c, dist="norm")
    axs[1].scatter(osm, osr, s=4, color="0.3")
    axs[1].plot(osm, slope * osm + icpt, color="tab:red")
    axs[1].set_xlabel("normal quantiles")
    axs[1].set_ylabel("residual quantiles")
    axs[1].set_title(f"Q-Q plot (Holm-adj. p = {_g(m['p_adjusted'][0], 2)})")
    fig.tight_layout()
    return fig


def fig_density(result: dict):
    """Per-point held-out log p(x) differences IWAE - MFG-VAE."""
    plt = _plt()
    d = result["arrays"]["density_gap"]["differences"]
    m = result["summary"]["checks"]["density_gap"]["metrics"]
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    lo, hi = np.quantile(d, [0.005, 0.995])
    ax.hist(np.clip(d, lo, hi), bins=50, color="0.6")
    ax.axvline(0, color="0.2", lw=0.8)
    ax.axvline(m["gain_mean"], color="tab:red", label=f"mean {m['gain_mean']:+.3f} +- {m['gain_se']:.3f}")
    ax.set_xlabel("log p_IWAE(x) - log p_VAE(x), per held-out point (nats)")
    ax.set_title("density gap (clipped at the 0.5% / 99.5% quantiles)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def fig_classes(result: dict):
    """Out-of-fold entropy of p(y | x) (normalised by log C)."""
    plt = _plt()
    a = result["arrays"]["class_separability"]
    m = result["summary"]["checks"]["class_separability"]["metrics"]
    h = a["entropy"] / np.log(m["n_classes"])
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    ax.hist(h, bins=30, range=(0, 1), color="0.6")
    ax.axvline(SEPARABLE_ENTROPY, color="tab:red", ls="--", label=f"threshold of the mean ({SEPARABLE_ENTROPY:g})")
    ax.axvline(m["mean_entropy_normalised"], color="tab:blue", label=f"mean {m['mean_entropy_normalised']:.2f}")
    ax.set_xlabel("entropy of p(y | x) / log C (out of fold)")
    ax.set_title(f"classifier: balanced accuracy {m['balanced_accuracy']:.2f}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def figures(result: dict) -> dict:
    """name -> matplotlib Figure for every check that ran, plus the data panel."""
    out = {"manifold": fig_manifold(result)}
    if result["summary"]["checks"]["class_separability"]["ran"]:
        out["class_separability"] = fig_classes(result)
    out["noise_variance"] = fig_noise(result)
    out["data_shape"] = fig_persistence(result)
    out["manifold_residuals"] = fig_residuals(result)
    out["density_gap"] = fig_density(result)
    return out


#: the arrays the figures read (everything in ``result["arrays"]`` but the models)
FIGURE_ARRAYS = ("data", "curves", "class_separability", "data_shape", "manifold_residuals",
                 "density_gap")


def to_json(result: dict, digits: int = 6) -> dict:
    """``result`` without the fitted models, as plain JSON (arrays as nested lists,
    floats to ``digits`` significant digits), e.g. for a results cache; ``from_json``
    turns it back into something ``figures`` draws."""
    def conv(v):
        if isinstance(v, dict):
            return {k: conv(u) for k, u in v.items()}
        if isinstance(v, np.ndarray):
            if v.dtype.kind in "iub":
                return v.tolist()
            return [conv(u) for u in v] if v.ndim > 1 else [None if not np.isfinite(u) else float(f"{u:.{digits}g}") for u in v]
        return v
    return {"summary": result["summary"],
            "arrays": {k: conv(result["arrays"][k]) for k in FIGURE_ARRAYS if k in result["arrays"]}}


def from_json(obj: dict) -> dict:
    """Inverse of ``to_json`` (lists back to float arrays; None back to inf)."""
    def conv(v):
        if isinstance(v, dict):
            return {k: conv(u) for k, u in v.items()}
        if isinstance(v, list):
            return np.array([[np.inf if u is None else u for u in r] if isinstance(r, list) else
                             (np.inf if r is None else r) for r in v], dtype=np.float64)
        return v
    return {"summary": obj["summary"], "arrays": {k: conv(v) for k, v in obj["arrays"].items()}}


def _png(fig) -> str:
    plt = _plt()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, metadata={"Software": None})
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


# --------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------
_CSS = """
body { font-family: system-ui, sans-serif; max-width: 960px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.8em 0; } td, th { padding: 3px 9px; border-bottom: 1px solid #eee; text-align: left; vertical-align: top; }
.yes { color: #b00; font-weight: bold; } .no { color: #070; } .box { padding: 0.8em 1em; border-radius: 6px; margin: 1em 0; }
.box.rich { background: #fdecea; border: 1px solid #e5a39c; } .box.ok { background: #eaf6ea; border: 1px solid #9ccf9c; }
img { max-width: 100%; } code { background: #f4f4f4; padding: 0 3px; } .small { color: #666; font-size: 0.9em; }
"""

_EXPLAIN = {
    "class_separability": (
        "Sec. 9, item 1 (with Sec. 7): a small neural network predicts the label from x under "
        "cross-validation. If it cannot (low balanced accuracy, high entropy of p(y | x)), the "
        "cohorts share one manifold, the posterior of an unlabelled point mixes several of them, "
        f"and an MFG family in the unlabelled part of the semi-supervised objective collapses the "
        f"class-conditional models. Flags below an adjusted balanced accuracy of {SEPARABLE_BACC:g} "
        f"or above a normalised entropy of {SEPARABLE_ENTROPY:g}."),
    "noise_variance": (
        "Sec. 9, item 2 (with Sec. 8, Eq. 9): the noise variance learned jointly with the ELBO "
        "is compared with the one that maximises an importance-sampled log-likelihood on "
        "validation data over a grid of fixed values. The ELBO's value is pulled towards "
        "E_q[(x - f(z))^2] and is biased whenever the MFG posterior is a poor fit. "
        f"Flags when they differ by more than a factor {NOISE_RATIO:g} and the ELBO's value costs "
        f"more than {NOISE_MIN_COST:g} nats of validation log-likelihood per point."),
    "data_shape": (
        "Sec. 9, item 3: the intrinsic dimension (TwoNN, PCA) and the persistent homology of the "
        "Vietoris-Rips filtration (ripser). Clusters are H0 merges of two groups of at least 2% of "
        f"the points each that stay apart for {CLUSTER_GAP:g} times the median nearest-neighbour "
        "distance; loops are H1 features that are significant under the universal null "
        "distribution of Bobrowski and Skraba (2023), Holm-corrected. Flags clustered data, and "
        "more than one loop for a one-dimensional latent space."),
    "manifold_residuals": (
        "Sec. 9, item 4 (i): every held-out point is projected to its nearest point on the "
        "MFG-VAE's learned manifold f(z); the residual's coordinates normal to the manifold should "
        f"be Gaussian if the manifold is right. Shapiro-Wilk per normal direction, Holm-corrected, "
        f"at level {ALPHA:g}."),
    "density_gap": (
        "Sec. 9, item 4 (ii): an IWAE (a rich family) and the MFG-VAE are trained by the same "
        "trainer at the same noise variance; their importance-sampled log-likelihoods on the same "
        f"held-out points are compared pairwise. Flags a mean gain above {DENSITY_MIN_GAIN:g} nats "
        f"per point that is significant at level {ALPHA:g} (one-sided z-test)."),
}


def _metrics_table(m: dict) -> str:
    rows = []
    for k, v in m.items():
        if isinstance(v, dict):
            v = ", ".join(f"{a}: {b}" for a, b in v.items() if not isinstance(b, (list, dict)))
        elif isinstance(v, list):
            v = ", ".join(str(u) for u in v[:12]) + (" ..." if len(v) > 12 else "")
        rows.append(f"<tr><td><code>{html.escape(str(k))}</code></td><td>{html.escape(str(v))}</td></tr>")
    return "<table class='small'>" + "".join(rows) + "</table>"


def report_html(result: dict) -> str:
    """The whole report as one HTML string (figures embedded as base64 PNG)."""
    s = result["summary"]
    inp = s["input"]
    figs = {k: _png(f) for k, f in figures(result).items()}
    rich = s["rich_family_recommended"]
    out = ["<!DOCTYPE html><html><head><meta charset='utf-8'>",
           f"<title>vaefail diagnose: {html.escape(inp['source'] or 'data')}</title>",
           f"<style>{_CSS}</style></head><body>",
           f"<h1>vaefail diagnose: {html.escape(inp['source'] or 'data')}</h1>",
           f"<p class='small'>{inp['rows_used']} of {inp['rows']} rows; features "
           f"{html.escape(', '.join(inp['features']))}; label {html.escape(str(inp['label'] or '-'))}; "
           f"latent dimension K = {inp['latent_dim']} ({html.escape(inp['latent_dim_source'])}); "
           f"train / validation / test rows {inp['split']['train']} / {inp['split']['val']} / "
           f"{inp['split']['test']}. The checks follow Section 9 of Yacoby, Pan and Doshi-Velez, "
           f"<i>Failure Modes of Variational Autoencoders and Their Effects on Downstream Tasks</i>.</p>",
           f"<div class='box {'rich' if rich else 'ok'}'><b>Bottom line: rich variational family "
           f"recommended: {'YES' if rich else 'no'}.</b> {html.escape(s['bottom_line'])}</div>",
           "<table><tr><th>guideline</th><th>check</th><th>result</th><th>rich family?</th><th>verdict</th></tr>"]
    for name in CHECKS:
        g, title = TITLES[name]
        c = s["checks"][name]
        word = _flag_word(c)
        cls = "yes" if word == "YES" else "no"
        out.append(f"<tr><td>{g}</td><td>{title}</td><td>{html.escape(_short(name, c))}</td>"
                   f"<td class='{cls}'>{word}</td><td>{html.escape(c['verdict'])}</td></tr>")
    out.append("</table>")
    out.append(f"<h2>The data and the two fitted models</h2><img alt='data and learned manifolds' "
               f"src='data:image/png;base64,{figs['manifold']}'>")
    for name in CHECKS:
        g, title = TITLES[name]
        c = s["checks"][name]
        out.append(f"<h2>Guideline {g}: {title}</h2><p>{html.escape(_EXPLAIN[name])}</p>")
        out.append(f"<p><b>Verdict:</b> {html.escape(c['verdict'])}</p>")
        if name in figs:
            out.append(f"<img alt='{title}' src='data:image/png;base64,{figs[name]}'>")
        if c["ran"]:
            out.append(_metrics_table(c["metrics"]))
    out.append("<h2>Settings</h2>" + _metrics_table(s["settings"]))
    out.append(f"<p class='small'>Computed in {s['seconds']['total']:.0f} s. The thresholds are "
               f"the tool's own choices (the paper gives none); see <code>summary.json</code>.</p>")
    out.append("</body></html>")
    return "\n".join(out)


def write_report(result: dict, out_dir) -> dict:
    """Write ``report.html`` and ``summary.json`` into ``out_dir`` (created if missing;
    its parent must exist). Returns the two paths."""
    out = Path(out_dir)
    out.mkdir(exist_ok=True)
    page = report_html(result)
    paths = {"report": out / "report.html", "summary": out / "summary.json"}
    atomic_write_bytes(paths["report"], page.encode("utf-8"))
    atomic_write_bytes(paths["summary"], (json.dumps(result["summary"], indent=1) + "\n").encode("utf-8"))
    umask = os.umask(0)
    os.umask(umask)
    for p in paths.values():          # the temporary file's 0600, made ordinary
        os.chmod(p, 0o666 & ~umask)
    return paths
