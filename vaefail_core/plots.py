"""Shared figure helpers (matplotlib / seaborn), in the style of the paper's figures.

* ``plot_density_with_f``  data marginal p(x) with the decoder curve f(z) overlaid and
                           coloured by z (Fig. 4 left column; panel (a)/(b) of Figs. 8-22);
* ``plot_curve``           just the curve f(z) coloured by z (e.g. one per label value);
* ``plot_density``         just the marginal (2-D histogram, KDE or scatter);
* ``mark_stars``           starred query points x (Fig. 4);
* ``plot_posteriors``      p(z | x) at the starred points (Fig. 4 right column, panel (c));
* ``pick_by_quantile``     choose query points by quantiles of a score (e.g. the KL of
                           the best Gaussian) so the stars show typical and extreme cases;
* ``plot_posterior_2d``    a posterior on a 2-D latent grid with the encoder's Gaussian
                           (Figs. 23-24);
* ``plot_line``            a line ``w . x + b = 0`` (a linear classifier's boundary, Fig. 7);
* ``plot_attack``          clean point, attack and projection arrows (Fig. 7).

All functions draw on a given ``Axes`` and return what they drew; they never call
``plt.show()``. Only the first two coordinates of x and f are drawn.
"""
from __future__ import annotations

from typing import Sequence

import matplotlib as mpl
import numpy as np
import seaborn as sns
from matplotlib.collections import LineCollection

__all__ = ["star_colors", "plot_density", "plot_curve", "plot_density_with_f", "mark_stars",
           "plot_posteriors", "pick_by_quantile", "plot_posterior_2d", "plot_line", "plot_attack"]


def star_colors(n: int) -> list:
    """``n`` distinct colours for starred points and their posterior curves."""
    return sns.color_palette("Set1", max(n, 3))[:n]


def _np(a) -> np.ndarray:
    return a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)


def plot_density(ax, x, kind: str = "hist", bins: int = 120, cmap: str = "Greys",
                 extent=None, **kw):
    """Data marginal of x[:, :2]: ``kind`` = "hist" (2-D histogram, log-free density),
    "kde" (seaborn KDE, filled) or "scatter". ``extent = (x0, x1, y0, y1)`` fixes the
    histogram range (default: the data range plus 5 %)."""
    x = _np(x)[:, :2]
    if kind == "scatter":
        return ax.scatter(x[:, 0], x[:, 1], s=kw.pop("s", 2), alpha=kw.pop("alpha", 0.3),
                          color=kw.pop("color", "0.4"), rasterized=True, **kw)
    if kind == "kde":
        return sns.kdeplot(x=x[:, 0], y=x[:, 1], ax=ax, fill=True, cmap=cmap,
                           levels=kw.pop("levels", 12), thresh=kw.pop("thresh", 0.02), **kw)
    if kind != "hist":
        raise ValueError(f"kind must be 'hist', 'kde' or 'scatter', got {kind!r}")
    if extent is None:
        lo, hi = x.min(0), x.max(0)
        pad = 0.05 * (hi - lo)
        extent = (lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1])
    h, xe, ye = np.histogram2d(x[:, 0], x[:, 1], bins=bins,
                               range=[extent[:2], extent[2:]], density=True)
    return ax.imshow(h.T, origin="lower", extent=extent, cmap=cmap, aspect="auto",
                     interpolation="nearest", vmax=np.quantile(h[h > 0], 0.99) if (h > 0).any() else None,
                     **kw)


def plot_curve(ax, f_vals, z, cmap: str = "viridis", norm=None, lw: float = 2.0,
               ls="-", label: str | None = None):
    """The curve f(z)[:, :2] as a line coloured by z (a ``LineCollection``)."""
    f, z = _np(f_vals)[:, :2], _np(z).reshape(-1)
    order = np.argsort(z)
    f, z = f[order], z[order]
    segs = np.stack([f[:-1], f[1:]], axis=1)
    norm = norm or mpl.colors.Normalize(z.min(), z.max())
    lc = LineCollection(segs, cmap=cmap, norm=norm, linewidths=lw, linestyles=ls, label=label)
    lc.set_array(0.5 * (z[:-1] + z[1:]))
    ax.add_collection(lc)
    return lc


def mark_stars(ax, points, colors=None, size: float = 260):
    """Star markers at query points ``points`` [n, >=2] (Fig. 4)."""
    p = _np(points)[:, :2]
    colors = colors or star_colors(len(p))
    return ax.scatter(p[:, 0], p[:, 1], marker="*", s=size, c=colors, edgecolors="k",
                      linewidths=0.8, zorder=5)


def plot_density_with_f(ax, x, f_vals, z, stars=None, star_colors_=None, kind: str = "hist",
                        cmap: str = "viridis", colorbar: bool = True, title: str | None = None,
                        z_range: tuple[float, float] | None = (-3.0, 3.0), **density_kw):
    """Fig. 4 (left column): the marginal of x with f(z) overlaid, coloured by z.

    ``f_vals`` [G, D] are f evaluated on the 1-D grid ``z`` [G]; only the part with z in
    ``z_range`` is drawn (the tails of f carry almost no prior mass), and the colour
    scale spans the same range. ``stars`` [n, D] are marked with stars."""
    z = _np(z).reshape(-1)
    f_vals = _np(f_vals)
    plot_density(ax, x, kind=kind, **density_kw)
    keep = np.ones_like(z, bool) if z_range is None else (z >= z_range[0]) & (z <= z_range[1])
    norm = mpl.colors.Normalize(*(z_range or (z.min(), z.max())))
    lc = plot_curve(ax, f_vals[keep], z[keep], cmap=cmap, norm=norm)
    if stars is not None:
        mark_stars(ax, stars, star_colors_)
    if colorbar:
        ax.figure.colorbar(lc, ax=ax, label="z")
    if title:
        ax.set_title(title)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    return lc


def plot_posteriors(ax, z, post, labels: Sequence[str] | None = None, colors=None,
                    ls="-", xlim: tuple[float, float] | None = None, title: str | None = None,
                    lw: float = 1.8):
    """Fig. 4 (right column): posterior densities ``post`` [n, G] on grid ``z`` [G]."""
    z, post = _np(z).reshape(-1), np.atleast_2d(_np(post))
    colors = colors or star_colors(len(post))
    labels = labels if labels is not None else [None] * len(post)
    lines = [ax.plot(z, p, color=c, ls=ls, lw=lw, label=lab)[0]
             for p, c, lab in zip(post, colors, labels)]
    if xlim:
        ax.set_xlim(*xlim)
    ax.set_xlabel("z")
    ax.set_ylabel("p(z | x)")
    if title:
        ax.set_title(title)
    if any(lab is not None for lab in labels):
        ax.legend(fontsize="small")
    return lines


def pick_by_quantile(score, quantiles: Sequence[float] = (0.5, 0.9, 1.0), mask=None) -> np.ndarray:
    """Indices of the entries of ``score`` closest to the given quantiles (among
    ``mask``, if given): e.g. a typical, a bad and the worst posterior fit."""
    score = _np(score).reshape(-1)
    idx = np.flatnonzero(np.ones_like(score, bool) if mask is None else _np(mask))
    if len(idx) == 0:
        raise ValueError("no entries to pick from")
    vals = score[idx]
    out = []
    for q in quantiles:
        target = np.quantile(vals, q)
        out.append(int(idx[np.argmin(np.abs(vals - target))]))
    return np.asarray(out)


def plot_posterior_2d(ax, z, post, q_mu=None, q_sd=None, cmap: str = "Blues", zoom: float = 1e-3,
                      pad: float = 0.5, title: str | None = None):
    """Figs. 23-24 for K = 2: the density ``post`` [n, n] on the grid ``z`` [n] (axis 0 =
    z_1, axis 1 = z_2) as filled contours, and the encoder's Gaussian N(q_mu, diag q_sd^2)
    as 1- and 2-sd ellipses. The view is cut to the cells with density above ``zoom``
    times the maximum (plus ``pad``), joined with the 2-sd box of q."""
    from matplotlib.patches import Ellipse
    z, post = _np(z).reshape(-1), _np(post)
    if post.shape != (len(z), len(z)):
        raise ValueError(f"post must be [{len(z)}, {len(z)}], got {list(post.shape)}")
    cs = ax.contourf(z, z, post.T, levels=12, cmap=cmap)
    i, j = np.nonzero(post >= zoom * post.max())
    lo = np.array([z[i].min(), z[j].min()]) - pad
    hi = np.array([z[i].max(), z[j].max()]) + pad
    if q_mu is not None and q_sd is not None:
        mu, sd = _np(q_mu).reshape(2), _np(q_sd).reshape(2)
        for k, ls in ((1, "-"), (2, "--")):
            ax.add_patch(Ellipse(tuple(mu), 2 * k * sd[0], 2 * k * sd[1], fill=False, color="C3",
                                 ls=ls, lw=1.4))
        lo, hi = np.minimum(lo, mu - 2 * sd - pad), np.maximum(hi, mu + 2 * sd + pad)
    ax.set_xlim(max(lo[0], z[0]), min(hi[0], z[-1]))
    ax.set_ylim(max(lo[1], z[0]), min(hi[1], z[-1]))
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    if title:
        ax.set_title(title)
    return cs


def plot_line(ax, w, b: float, xlim=None, **kw):
    """The line ``w[0] x_1 + w[1] x_2 + b = 0`` across ``xlim`` (default: the current x
    range), e.g. a linear classifier's boundary in a 2-D slice (Fig. 7)."""
    w = _np(w).reshape(-1)[:2]
    x0, x1 = xlim if xlim is not None else ax.get_xlim()
    ylim = ax.get_ylim()
    if abs(w[1]) > 1e-12:
        xs = np.array([x0, x1])
        ys = -(b + w[0] * xs) / w[1]
    else:
        xs = np.full(2, -b / w[0])
        ys = np.array(ylim)
    kw.setdefault("color", "C1")
    out = ax.plot(xs, ys, **kw)
    ax.set_ylim(*ylim)
    return out


def plot_attack(ax, clean, attacked, projected, defended=None, size: float = 160):
    """Fig. 7: the clean points (stars), the attacks (red arrows to the attacked points)
    and the projections (black arrows to the defended points; the end point is green
    where ``defended`` is True and red where False). Arrays [n, >=2]; first two coords."""
    c, a, p = (_np(v)[:, :2] for v in (clean, attacked, projected))
    ax.scatter(c[:, 0], c[:, 1], marker="*", s=size, c="k", zorder=6)
    arrow = dict(length_includes_head=True, head_width=0.03, zorder=5)
    for ci, ai, pi in zip(c, a, p):
        ax.arrow(*ci, *(ai - ci), color="C3", **arrow)
        ax.arrow(*ai, *(pi - ai), color="k", **arrow)
    col = "0.3" if defended is None else np.where(_np(defended).astype(bool), "tab:green", "tab:red")
    return ax.scatter(p[:, 0], p[:, 1], s=40, c=col, edgecolors="k", zorder=7)
