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
* ``plot_attack``          clean point, attack and projection arrows (Fig. 7);
* ``plot_training_curves`` training loss per epoch, ground-truth vs random restarts (App. D);
* ``empty_axes``           labels of the panels of a figure that show no data in view;
* ``install_empty_panel_check``  under IPython, print ``EMPTY PANEL: ...`` to stderr
                           for each figure with such panels (read by tools/check_book.py).

All functions draw on a given ``Axes`` and return what they drew; they never call
``plt.show()``. Only the first two coordinates of x and f are drawn.
"""
from __future__ import annotations

import sys
from typing import Sequence

import matplotlib as mpl
import numpy as np
import seaborn as sns
from matplotlib._pylab_helpers import Gcf
from matplotlib.collections import LineCollection, QuadMesh
from matplotlib.patches import Ellipse

__all__ = ["star_colors", "plot_density", "plot_curve", "plot_density_with_f", "mark_stars",
           "plot_posteriors", "pick_by_quantile", "plot_posterior_2d", "plot_line", "plot_attack",
           "plot_training_curves"]


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


# --------------------------------------------------------------------------------------
# Empty-panel check: which Axes of a figure show no data inside their view limits.
# --------------------------------------------------------------------------------------

__all__ += ["empty_axes", "install_empty_panel_check"]


def _finite_rows(xy) -> np.ndarray:
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    return xy[np.isfinite(xy).all(axis=1)]


def _points_inside(xy, box) -> bool:
    """Any finite display point of ``xy`` [n, 2] inside ``box`` = (x0, y0, x1, y1)."""
    xy = _finite_rows(xy)
    x0, y0, x1, y1 = box
    return bool(((xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)).any())


def _polyline_crosses(xy, box) -> bool:
    """Any segment between consecutive finite points of the polyline ``xy`` [n, 2]
    (display coordinates; NaN rows break it) meets ``box`` (Liang-Barsky clipping)."""
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    if _points_inside(xy, box):
        return True
    if len(xy) < 2:
        return False
    p, q = xy[:-1], xy[1:]
    ok = np.isfinite(p).all(1) & np.isfinite(q).all(1)
    p, q = p[ok], q[ok]
    if not len(p):
        return False
    x0, y0, x1, y1 = box
    d = q - p
    t0, t1 = np.zeros(len(p)), np.ones(len(p))
    keep = np.ones(len(p), bool)
    for pk, qk in ((-d[:, 0], p[:, 0] - x0), (d[:, 0], x1 - p[:, 0]),
                   (-d[:, 1], p[:, 1] - y0), (d[:, 1], y1 - p[:, 1])):
        par = pk == 0
        keep &= ~(par & (qk < 0))
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(par, 0.0, qk / np.where(par, 1.0, pk))
        t0 = np.where(~par & (pk < 0), np.maximum(t0, r), t0)
        t1 = np.where(~par & (pk > 0), np.minimum(t1, r), t1)
    return bool((keep & (t0 <= t1)).any())


def _extent_overlaps(xy, box) -> bool:
    """The bounding box of the finite points ``xy`` overlaps ``box`` with positive area
    (a zero-height bar or a zero-width polygon draws nothing)."""
    xy = _finite_rows(xy)
    if not len(xy):
        return False
    lo, hi = xy.min(0), xy.max(0)
    x0, y0, x1, y1 = box
    return bool(max(lo[0], x0) < min(hi[0], x1) and max(lo[1], y0) < min(hi[1], y1))


def _is_reference_mark(artist, ax) -> bool:
    """axhline / axvline / axhspan / axvspan: drawn in a transform that spans the whole
    axes in one direction. They mark a reference value and are not data."""
    tr = artist.get_transform()
    spans = [ax.get_xaxis_transform(which=w) for w in ("grid", "tick1", "tick2")]
    spans += [ax.get_yaxis_transform(which=w) for w in ("grid", "tick1", "tick2")]
    return any(tr is s or tr == s for s in spans)


def _axes_has_data(ax) -> bool:
    artists = [a for group in (ax.lines, ax.collections, ax.images, ax.patches)
               for a in group if a.get_visible()]
    if ax.name != "rectilinear":      # polar / 3-D: no clipping test, anything drawn counts
        return bool(artists)
    ax.get_xlim(), ax.get_ylim()     # resolve pending autoscaling before using transData
    b = ax.bbox
    box = (min(b.x0, b.x1), min(b.y0, b.y1), max(b.x0, b.x1), max(b.y0, b.y1))

    for line in ax.lines:
        if not line.get_visible() or _is_reference_mark(line, ax):
            continue
        xy = line.get_transform().transform(np.asarray(line.get_xydata(), float).reshape(-1, 2))
        if line.get_linestyle() in ("None", "none", "", " "):
            if _points_inside(xy, box):
                return True
        elif _polyline_crosses(xy, box):
            return True

    for coll in ax.collections:
        if not coll.get_visible() or _is_reference_mark(coll, ax):
            continue
        tr = coll.get_transform()
        if isinstance(coll, QuadMesh):
            if _extent_overlaps(tr.transform(coll.get_coordinates().reshape(-1, 2)), box):
                return True
        elif isinstance(coll, LineCollection):
            if any(_polyline_crosses(tr.transform(np.asarray(s, float).reshape(-1, 2)), box)
                   for s in coll.get_segments() if len(s)):
                return True
        elif getattr(coll, "_offsets", None) is not None:
            # scatter / hexbin: markers placed at offsets; the marker centre must be inside
            offs = np.asarray(coll.get_offsets(), float).reshape(-1, 2)
            if len(offs) and _points_inside(coll.get_offset_transform().transform(offs), box):
                return True
        else:
            # PolyCollection (fill_between, pcolor, violins), contour sets, patch collections
            for path in coll.get_paths():
                if len(path.vertices) and _extent_overlaps(tr.transform(path.vertices), box):
                    return True

    for im in ax.images:
        if not im.get_visible():
            continue
        arr = im.get_array()
        if arr is not None and np.ma.getmaskarray(arr).all():
            continue
        x0, x1, y0, y1 = im.get_extent()
        if _extent_overlaps(im.get_transform().transform([[x0, y0], [x1, y1]]), box):
            return True

    for patch in ax.patches:
        if not patch.get_visible() or _is_reference_mark(patch, ax):
            continue
        verts = patch.get_path().vertices
        if len(verts) and _extent_overlaps(patch.get_transform().transform(verts), box):
            return True
    return False


def _axes_label(fig, ax, i: int, n: int) -> str:
    sup = fig.get_suptitle() if hasattr(fig, "get_suptitle") else (
        fig._suptitle.get_text() if getattr(fig, "_suptitle", None) else "")
    title = next((t for t in (ax.get_title(loc) for loc in ("center", "left", "right")) if t), "")
    name = title or f"axes {i + 1} of {n}"
    return f"{sup}: {name}" if sup else name


def empty_axes(fig) -> list[str]:
    """Labels of the Axes of ``fig`` that show no data inside their view limits.

    Data are lines (a finite point inside xlim/ylim, or a segment crossing the view),
    collections (scatter offsets, filled polygons such as fill_between / pcolor /
    contourf, QuadMesh, LineCollection segments), images (extent overlapping the view,
    not entirely masked) and patches (bars, histograms: an extent overlapping the view
    with positive area). axhline/axvline/axhspan/axvspan are reference marks, not data;
    text is not data. Axes that are switched off (``ax.axison`` False, e.g. legend or
    blank slots), invisible, or colorbars are not checked.

    A label is ``"<suptitle>: <axes title>"``, with ``"axes i of n"`` (1-based, in
    ``fig.get_axes()`` order) when the axes has no title. The limits used are those
    current now: after a draw (aspect and layout applied) they are the drawn ones."""
    axes = fig.get_axes()
    out = []
    for i, ax in enumerate(axes):
        if not ax.get_visible() or not ax.axison:
            continue
        if getattr(ax, "_colorbar", None) is not None or ax.get_label() == "<colorbar>":
            continue
        if not _axes_has_data(ax):
            out.append(_axes_label(fig, ax, i, len(axes)))
    return out


_EMPTY_HOOK = "vaefail_core.plots:_watch_figure"


def _report_empty(fig) -> None:
    """Print ``EMPTY PANEL: <labels>`` to stderr once per figure and set of labels."""
    try:
        labels = tuple(empty_axes(fig))
    except Exception as e:  # never break rendering, but do not hide the failure either
        print(f"EMPTY PANEL check failed: {e!r}", file=sys.stderr)
        return
    if labels and getattr(fig, "_vaefail_empty_reported", None) != labels:
        print("EMPTY PANEL: " + "; ".join(labels), file=sys.stderr)
    fig._vaefail_empty_reported = labels


def _watch_figure(fig) -> None:
    """``figure.hooks`` entry: check ``fig`` each time it is drawn (savefig, inline
    display, plt.show), i.e. with the final limits and layout."""
    if getattr(fig, "_vaefail_empty_watch", None) is None:
        fig._vaefail_empty_watch = fig.canvas.mpl_connect(
            "draw_event", lambda event: _report_empty(event.canvas.figure))


def _ensure_hook(*_args) -> None:
    hooks = list(mpl.rcParams["figure.hooks"])
    if _EMPTY_HOOK not in hooks:
        mpl.rcParams["figure.hooks"] = hooks + [_EMPTY_HOOK]


def _check_open_figures(*_args) -> None:
    for manager in Gcf.get_all_fig_managers():
        fig = manager.canvas.figure
        _watch_figure(fig)
        _report_empty(fig)


def install_empty_panel_check() -> bool:
    """Under IPython (a notebook kernel), report figures with empty panels: after each
    cell (``post_run_cell``) every open matplotlib figure is checked with
    :func:`empty_axes`, and a line ``EMPTY PANEL: <labels>`` is printed to stderr for
    the empty ones, so it shows in the cell's output (``tools/check_book.py`` fails on
    it).

    The inline backend closes figures on ``plt.show()`` and in its own
    ``post_execute`` hook, i.e. before ``post_run_cell``; so every figure made by
    pyplot is also checked when it is drawn (a ``figure.hooks`` entry connects a
    ``draw_event`` callback, kept in rcParams before each cell). Each figure is
    reported once per distinct set of empty labels. Returns True when installed,
    False (a no-op) outside IPython. Calling it again does not register twice."""
    try:
        from IPython import get_ipython   # optional (not a dependency): only a notebook kernel has it
    except ImportError:
        return False
    ip = get_ipython()
    if ip is None:
        return False
    _ensure_hook()
    for event, fn in (("pre_run_cell", _ensure_hook), ("post_run_cell", _check_open_figures)):
        if fn not in ip.events.callbacks.get(event, []):
            ip.events.register(event, fn)
    return True


def plot_training_curves(ax, curves: dict, title: str | None = None, quantile: float = 0.98):
    """Training loss per epoch of ground-truth (orange) and random (blue) restarts, from
    ``paper.records.training_curves``; a dot at epoch 0 marks each ground-truth start's
    loss. The y-range covers the curves up to their ``quantile`` (one exploding epoch
    would otherwise flatten the rest)."""
    cols = {"gt": "tab:orange", "random": "tab:blue"}
    for kind in ("random", "gt"):
        for i, c in enumerate(curves[kind]):
            ax.plot(curves["epochs"], c, color=cols[kind], lw=1.2, alpha=0.8,
                    label=f"{'ground-truth' if kind == 'gt' else 'random'} start" if i == 0 else None)
    starts = [s for s in curves["gt_start"] if s is not None]
    if starts:
        ax.plot(np.zeros(len(starts)), starts, "o", color=cols["gt"], ms=4)
    allv = np.concatenate([np.asarray(c) for k in ("gt", "random") for c in curves[k]] + [np.asarray(starts, float)])
    lo, hi = np.nanquantile(allv, 1 - quantile), np.nanquantile(allv, quantile)
    pad = 0.05 * (hi - lo or 1.0)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (nats / point)")
    if title:
        ax.set_title(title)
    return ax
