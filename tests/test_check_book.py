"""tools/check_book.py (the browser check of the built book) and plots.empty_axes."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from vaefail_core import plots
from vaefail_core.plots import empty_axes

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def _load_check_book():
    spec = importlib.util.spec_from_file_location("check_book", ROOT / "tools" / "check_book.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


cb = _load_check_book()


def _ax(title="p"):
    fig = Figure()
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_title(title)
    return fig, ax


# ------------------------------------------------------------------- empty_axes

def test_line_inside_view_is_data():
    fig, ax = _ax()
    ax.plot([0, 1, 2], [1, 3, 2])
    assert empty_axes(fig) == []


def test_line_outside_ylim_is_reported():
    # the real bug: values -365..-174 drawn on an axes fixed to 0..180
    fig = Figure()
    fig.suptitle("ELBO")
    axs = fig.subplots(1, 2)
    axs[0].plot(np.arange(20), np.linspace(-365, -174, 20))
    axs[0].set_ylim(0, 180)
    axs[1].plot(np.arange(20), np.linspace(-365, -174, 20))
    axs[1].set_ylim(0, 180)
    axs[1].set_title("K = 2")
    axs[1].axhline(90, color="k")  # a reference line is not data
    assert empty_axes(fig) == ["ELBO: axes 1 of 2", "ELBO: K = 2"]


def test_segment_crossing_the_view_is_data():
    fig, ax = _ax()
    ax.plot([0, 1], [-10, 200])
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 180)
    assert empty_axes(fig) == []
    fig, ax = _ax()  # markers only: the crossing segment is not drawn
    ax.plot([0, 1], [-10, 200], "o")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 180)
    assert empty_axes(fig) == ["p"]


@pytest.mark.parametrize("draw", [
    lambda ax: ax.scatter([1, 2, 3], [3, 1, 2]),
    lambda ax: ax.bar(["a", "b"], [3, 4]),
    lambda ax: ax.hist(np.random.default_rng(0).normal(size=50)),
    lambda ax: ax.imshow(np.arange(9.0).reshape(3, 3)),
    lambda ax: ax.fill_between([0, 1, 2], [0, 1, 0], [1, 2, 1]),
    lambda ax: ax.pcolormesh(np.arange(12.0).reshape(3, 4)),
    lambda ax: ax.contourf(np.arange(16.0).reshape(4, 4)),
    lambda ax: ax.errorbar([0, 1], [1, 2], yerr=[0.1, 0.2], fmt="none"),
], ids=["scatter", "bar", "hist", "imshow", "fill_between", "pcolormesh", "contourf",
        "errorbar"])
def test_artists_are_data(draw):
    fig, ax = _ax()
    draw(ax)
    assert empty_axes(fig) == []


def test_artists_outside_the_view_are_not_data():
    fig, ax = _ax()
    ax.scatter([10, 11], [10, 11])
    ax.bar([20], [5])
    ax.imshow(np.ones((2, 2)), extent=(30, 31, 30, 31))
    ax.fill_between([40, 41], [0, 1])
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    assert empty_axes(fig) == ["p"]


def test_axis_off_and_colorbar_are_ignored():
    fig = Figure()
    axs = fig.subplots(1, 3)
    im = axs[0].imshow(np.ones((2, 2)))
    fig.colorbar(im, ax=axs[0])
    axs[1].axis("off")  # e.g. a legend slot
    axs[1].legend(*axs[0].get_legend_handles_labels())
    axs[2].set_title("forgotten")
    assert empty_axes(fig) == ["forgotten"]


def test_untitled_axes_are_numbered():
    fig = Figure()
    axs = fig.subplots(2, 2)
    for ax in axs.flat[:3]:
        ax.plot([0, 1])
    assert empty_axes(fig) == ["axes 4 of 4"]


def test_draw_hook_reports_once(capsys):
    fig, ax = _ax("empty one")
    plots._watch_figure(fig)
    fig.canvas.draw()
    fig.canvas.draw()
    assert capsys.readouterr().err == "EMPTY PANEL: empty one\n"
    ax.plot([0, 1])
    fig.canvas.draw()
    assert capsys.readouterr().err == ""


def test_install_outside_ipython_is_a_noop():
    assert plots.install_empty_panel_check() is False


# --------------------------------------------------------------------- check_book

def test_toc_pages(tmp_path):
    toc = tmp_path / "_toc.yml"
    toc.write_text("format: jb-book\nroot: book/intro\nparts:\n  - caption: A\n    chapters:\n"
                   "      - file: book/a.ipynb\n        sections:\n          - file: book/a1\n"
                   "      - url: https://example.org\n  - chapters:\n      - file: book/b.md\n")
    assert cb.toc_pages(toc) == ["book/intro", "book/a", "book/a1", "book/b"]
    assert cb.screen_names(["book/intro", "book/sub/x"]) == {"book/intro": "intro",
                                                             "book/sub/x": "sub__x"}


def test_cli_errors(tmp_path, capsys):
    toc = tmp_path / "_toc.yml"
    toc.write_text("root: index\n")
    assert cb.main(["--html", str(tmp_path / "nope"), "--toc", str(toc)]) == 2
    assert "make book" in capsys.readouterr().err
    (tmp_path / "html").mkdir()
    assert cb.main(["--html", str(tmp_path / "html"), "--toc", str(toc),
                    "--chromium", str(tmp_path / "no-chromium")]) == 2
    err = capsys.readouterr().err
    assert "apt-get install chromium chromium-driver" in err and len(err.strip().splitlines()) == 1


PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>{name}</title></head>
<body><main><h1 id="top">{name}</h1>
<div class="cell docutils container"><div class="cell_input docutils container">
<pre>print("Traceback (most recent call last) in an input is fine")</pre></div>
<div class="cell_output docutils container">{output}</div></div>
{body}
</main></body></html>"""

TRACEBACK = """<div class="output traceback highlight-ipythontb notranslate"><div class="highlight">
<pre><span class="gt">------------------------------------------------</span>
<span class="ne">ZeroDivisionError</span>    Traceback (most recent call last)
<span class="ne">ZeroDivisionError</span>: division by zero</pre></div></div>"""

STDERR_PANEL = """<div class="output stderr highlight-myst-ansi notranslate"><div class="highlight">
<pre>EMPTY PANEL: Fig. 5: axes 2 of 8</pre></div></div>"""


@pytest.fixture(scope="module")
def tiny_site(tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    html = root / "html"
    (html / "book" / "_images").mkdir(parents=True)
    fig = Figure(figsize=(1, 1))
    FigureCanvasAgg(fig)
    fig.savefig(html / "book" / "_images" / "ok.png")
    pages = {
        "fine": dict(output='<img src="_images/ok.png" alt="ok">',
                     body='<p id="sec"><a href="img.html">img</a> <a href="tb.html#top">tb</a> '
                          '<a href="#sec">here</a> <a href="https://example.org/x">ext</a> '
                          '<a href="mailto:a@b.c">mail</a></p>'),
        "img": dict(output='<img src="_images/missing.png" alt="gone">', body=""),
        "tb": dict(output=TRACEBACK, body=""),
        "link": dict(output="<pre>ok</pre>",
                     body='<a href="nowhere.html">a</a> <a href="fine.html#no-such-id">b</a> '
                          '<a href="#top">c</a>'),
        "panel": dict(output=STDERR_PANEL, body=""),
    }
    for name, parts in pages.items():
        (html / "book" / f"{name}.html").write_text(PAGE.format(name=name, **parts))
    toc = root / "_toc.yml"
    toc.write_text("format: jb-book\nroot: book/fine\nchapters:\n"
                   + "".join(f"  - file: book/{n}\n" for n in ("img", "tb", "link", "panel",
                                                                 "absent")))
    return root, html, toc


def test_check_book_in_browser(tiny_site, capsys):
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip(f"needs {CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium chromium-driver)")
    root, html, toc = tiny_site
    screens = root / "screens"
    rc = cb.main(["--html", str(html), "--toc", str(toc), "--screens", str(screens)])
    out = capsys.readouterr().out
    fails = [ln for ln in out.splitlines() if ln.startswith("FAIL ")]
    assert rc == 1, out

    def has(page, *words):
        return any(ln.startswith(f"FAIL book/{page}:") and all(w in ln for w in words)
                   for ln in fails)

    assert has("img", "image did not load", "_images/missing.png"), out
    assert has("img", "missing resource (HTTP 404)", "missing.png"), out
    assert has("tb", "traceback output", "ZeroDivisionError"), out
    assert has("link", "broken link", "nowhere.html", "HTTP 404"), out
    assert has("link", "broken link", "no-such-id"), out
    assert has("panel", "empty panel", "Fig. 5: axes 2 of 8"), out
    assert has("absent", "missing from the html build"), out
    assert not any(ln.startswith("FAIL book/fine:") for ln in fails), out
    assert not has("link", "#top"), out
    assert not has("panel", "stderr output"), out  # the EMPTY PANEL line is reported once
    assert sum(has(p, "") for p in ("img", "tb", "link", "panel", "absent")) == 5
    row = next(ln for ln in out.splitlines() if ln.startswith("book/fine "))
    assert row.split()[1:] == ["1/1", "3", "0"], row  # 3 internal links, external ignored
    for name in ("fine", "img", "tb", "link", "panel"):
        assert (screens / f"{name}.png").stat().st_size > 0
