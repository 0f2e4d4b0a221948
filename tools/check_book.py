#!/usr/bin/env python3
"""Check the built html book in a real (headless) browser.

    python tools/check_book.py --html book/_build/html --toc _toc.yml --screens build/screens

Every page of the table of contents (root and all chapters/sections) is served from a
local http server (http://127.0.0.1:<port>, a thread of this process) and opened in
Debian's headless Chromium through Selenium with the system chromedriver (nothing is
downloaded: the driver path is given to Selenium's Service, SE_OFFLINE is set, and
host names other than 127.0.0.1 do not resolve unless --allow-network). A page fails
when

* it is missing from the html build;
* an <img> did not load (naturalWidth 0 after the load event, and decode() fails);
* a resource the page requested (css, js, font, image) answered HTTP 404;
* a code cell's output shows an error: a traceback or error output
  (myst-nb renders them as ``div.output.traceback`` with the ``ipythontb`` lexer), a
  stderr stream (``div.output.stderr``), the text "Traceback (most recent call last)"
  anywhere outside code inputs, or ANSI red text naming an Error/Exception;
* an internal link (same host) is broken: HTTP 404, or its #fragment is not an id on
  the target page;
* a figure has an empty panel: the text "EMPTY PANEL" (printed to stderr by
  ``vaefail_core.plots.install_empty_panel_check`` while the notebook ran).

One full-page screenshot per page is saved as <screens>/<page>.png (<page> is the
page's path relative to the folder all pages share, e.g. ``sec5_failures``). Prints a
table (page, images, links, problems) and one line per problem; exits 1 when there
are problems, 0 when none, 2 when the check cannot run (no browser, no html folder).
"""
from __future__ import annotations

import argparse
import functools
import glob as globmod
import os
import posixpath
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
APT_HINT = "apt-get install chromium chromium-driver"
WIDTH = 1280
USER_AGENT = "check_book-linkcheck"
SOURCE_SUFFIXES = (".ipynb", ".md", ".rst", ".py", ".myst")


class SetupError(Exception):
    """The check cannot run at all (exit 2, one line)."""


# ----------------------------------------------------------------------------- toc

def toc_pages(toc_path: Path, html: Path | None = None) -> list[str]:
    """Docnames (``book/intro``) of the root and every file entry of a jupyter-book
    ``_toc.yml`` (parts / chapters / sections / subtrees / entries, any depth), in
    order. ``glob`` entries are expanded against the html build when given."""
    import yaml

    try:
        data = yaml.safe_load(toc_path.read_text())
    except FileNotFoundError:
        raise SetupError(f"table of contents {toc_path} does not exist") from None
    except yaml.YAMLError as e:
        raise SetupError(f"cannot parse {toc_path}: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict) or "root" not in data:
        raise SetupError(f"{toc_path} has no 'root' entry")

    def strip(name: str) -> str:
        name = str(name).strip()
        if name.startswith("./"):
            name = name[2:]
        for suf in SOURCE_SUFFIXES:
            if name.endswith(suf):
                return name[: -len(suf)]
        return name

    out: list[str] = []

    def walk(node):
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for key in ("root", "file"):
                if key in node and node[key]:
                    out.append(strip(node[key]))
            if "glob" in node and html is not None:
                pattern = strip(node["glob"])
                for p in sorted(globmod.glob(str(html / (pattern + ".html")))):
                    out.append(Path(p).relative_to(html).with_suffix("").as_posix())
            for key in ("parts", "chapters", "sections", "subtrees", "entries"):
                if key in node:
                    walk(node[key])

    walk(data)
    seen, pages = set(), []
    for p in out:
        if p not in seen:
            seen.add(p)
            pages.append(p)
    return pages


def screen_names(pages: list[str]) -> dict[str, str]:
    """Screenshot file stem of each page: its path relative to the pages' common folder."""
    parents = [posixpath.dirname(p) for p in pages]
    common = posixpath.commonpath(parents) if parents and all(parents) else ""
    names = {}
    for p in pages:
        rel = posixpath.relpath(p, common) if common else p
        names[p] = rel.replace("/", "__")
    return names


# -------------------------------------------------------------------------- server

class _Handler(SimpleHTTPRequestHandler):
    """Static files of the html folder; remembers the 404s browsers asked for."""

    not_found: list[str]
    lock: threading.Lock

    def log_message(self, format, *args):  # noqa: A002 - quiet
        pass

    def send_error(self, code, message=None, explain=None):
        if code == 404 and self.headers.get("User-Agent", "") != USER_AGENT:
            path = urllib.parse.urlsplit(self.path).path
            if path != "/favicon.ico":
                with self.lock:
                    self.not_found.append(path)
        super().send_error(code, message, explain)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # the browser drops requests it no longer needs (navigating on): not a problem
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Server:
    def __init__(self, root: Path):
        handler = type("Handler", (_Handler,), {"not_found": [], "lock": threading.Lock()})
        self.handler = handler
        self.httpd = _HTTPServer(("127.0.0.1", 0),
                                         functools.partial(handler, directory=str(root)))
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def take_not_found(self) -> list[str]:
        with self.handler.lock:
            out = list(dict.fromkeys(self.handler.not_found))
            self.handler.not_found.clear()
        return out


class _Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if v and (k == "id" or (k == "name" and tag == "a")):
                self.ids.add(v)


class LinkChecker:
    """HTTP status (and the ids, for html) of each internal target, fetched once."""

    def __init__(self):
        self.cache: dict[str, tuple[int, set[str] | None]] = {}

    def get(self, url: str) -> tuple[int, set[str] | None]:
        if url not in self.cache:
            req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
            try:
                with urllib.request.urlopen(req, timeout=30) as r:
                    ids = None
                    if "html" in r.headers.get("Content-Type", ""):
                        parser = _Ids()
                        parser.feed(r.read().decode("utf-8", "replace"))
                        ids = parser.ids
                    self.cache[url] = (r.status, ids)
            except urllib.error.HTTPError as e:
                self.cache[url] = (e.code, None)
            except (urllib.error.URLError, OSError):
                self.cache[url] = (0, None)
        return self.cache[url]


# ------------------------------------------------------------------------- browser

def make_driver(chromium: str, chromedriver: str, profile_dir: str, log_path: str,
                allow_network: bool):
    os.environ["SE_OFFLINE"] = "true"  # never let Selenium Manager fetch anything
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        raise SetupError("selenium is not installed; run "
                         "`.venv/bin/pip install -c requirements-lock.txt -e '.[test]'`") from None
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                "--disable-extensions", "--no-default-browser-check", "--mute-audio",
                f"--user-data-dir={profile_dir}", f"--window-size={WIDTH},900"):
        opts.add_argument(arg)
    if not allow_network:
        opts.add_argument("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")
    service = Service(executable_path=chromedriver, log_output=log_path)
    try:
        driver = webdriver.Chrome(service=service, options=opts)
    except Exception as e:  # selenium's WebDriverException and friends
        first = (str(getattr(e, "msg", None) or e).strip().splitlines() or [type(e).__name__])[0]
        first = first.split("; For documentation")[0]
        raise SetupError(f"could not start {chromium} with {chromedriver}: {first} "
                         f"(is it installed? `{APT_HINT}`)") from None
    driver.set_page_load_timeout(120)
    driver.set_script_timeout(60)
    return driver


COLLECT_JS = r"""
const imgs = Array.from(document.images).map(i => ({
  src: i.currentSrc || i.src, raw: i.getAttribute('src') || '', complete: i.complete,
  w: i.naturalWidth}));
const links = Array.from(document.querySelectorAll('a[href]')).map(a => ({
  href: a.href, raw: a.getAttribute('href')}));
const ids = Array.from(document.querySelectorAll('[id]')).map(e => e.id).concat(
  Array.from(document.querySelectorAll('a[name]')).map(e => e.getAttribute('name')));

const SEL = ['div.output.traceback', '.output.error', '.output.stderr',
             '.cell_output .highlight-ipythontb', '.cell_output .traceback',
             '.cell_output .stderr', '.cell_output .error'].join(', ');
const found = [];
for (const e of document.querySelectorAll(SEL)) {
  if (found.some(f => f.contains(e))) continue;
  found.push(e);
}
const errors = found.map(e => {
  const c = e.classList;
  const kind = (c.contains('traceback') || c.contains('highlight-ipythontb')) ? 'traceback'
             : c.contains('stderr') ? 'stderr' : 'error';
  e.setAttribute('data-check-book-seen', '1');
  const c2 = e.cloneNode(true);  // without sphinx-copybutton's button and tooltip
  c2.querySelectorAll('button, .copybtn, [data-tooltip]').forEach(b => b.remove());
  return {kind: kind, text: (c2.textContent || '').slice(0, 4000)};
});

// Text outside code inputs (and outside the error outputs found above).
const root = document.querySelector('main') || document.body;
const clone = root.cloneNode(true);
clone.querySelectorAll('.cell_input, script, style, noscript, textarea, button, .copybtn')
  .forEach(e => e.remove());
const fullText = clone.textContent || '';
clone.querySelectorAll('[data-check-book-seen]').forEach(e => e.remove());
const restText = clone.textContent || '';

// ANSI-coloured red text in outputs that names an error.
const ansi = [];
for (const s of document.querySelectorAll(
    '.cell_output [class*="-Color-Red"], .cell_output [class*="-Color-BrightRed"], ' +
    '.cell_output [class*="-BG-Red"], .cell_output [class*="-BG-BrightRed"]')) {
  if (s.closest('[data-check-book-seen]')) continue;
  const t = (s.textContent || '').trim();
  if (/(Error|Exception)\b|Traceback/.test(t)) ansi.push(t.slice(0, 200));
}
return {images: imgs, links: links, ids: ids, errors: errors, ansi: ansi,
        traceback_text: restText.includes('Traceback (most recent call last)'),
        empty_panels: (fullText.match(/EMPTY PANEL[^\n]*/g) || []).map(s => s.trim()),
        url: location.href};
"""

DECODE_JS = r"""
const done = arguments[arguments.length - 1];
const bad = Array.from(document.images).filter(i => i.naturalWidth === 0);
Promise.all(bad.map(i => (i.decode ? i.decode() : Promise.reject()).then(
    () => null, () => (i.currentSrc || i.src || i.getAttribute('src') || '(no src)'))))
  .then(r => done(r.filter(x => x !== null)));
"""

HEIGHT_JS = ("return Math.max(document.body ? document.body.scrollHeight : 0, "
             "document.documentElement.scrollHeight);")


def wait_until(fn, timeout: float, step: float = 0.1):
    end = time.monotonic() + timeout
    while True:
        val = fn()
        if val or time.monotonic() > end:
            return val
        time.sleep(step)


def full_page_screenshot(driver, path: Path, max_height: int) -> int:
    """Resize the window to the page's full height (capped) and save a screenshot."""
    driver.set_window_size(WIDTH, 900)
    chrome = max(0, 900 - int(driver.execute_script("return window.innerHeight;")))
    height = 0
    for _ in range(3):  # the layout may change with the height (sticky sidebars, vh units)
        new = min(int(driver.execute_script(HEIGHT_JS)), max_height)
        if new == height:
            break
        height = new
        driver.set_window_size(WIDTH, height + chrome)
        time.sleep(0.2)
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))
    return height


def check_page(driver, server: Server, links: LinkChecker, page: str, shot: Path,
               max_height: int) -> tuple[dict, list[str]]:
    url = server.base + urllib.parse.quote(page + ".html")
    problems: list[str] = []
    server.take_not_found()
    driver.set_window_size(WIDTH, 900)
    driver.get(url)  # returns after the load event
    if not wait_until(lambda: driver.execute_script("return document.readyState") == "complete", 60):
        problems.append("page did not finish loading (document.readyState never 'complete')")
    full_page_screenshot(driver, shot, max_height)  # full height also loads lazy images
    wait_until(lambda: driver.execute_script(
        "return Array.from(document.images).every(i => i.complete);"), 20)
    info = driver.execute_script(COLLECT_JS)

    # images
    broken = set(driver.execute_async_script(DECODE_JS))
    n_img = len(info["images"])
    n_bad = 0
    for im in info["images"]:
        if im["w"] == 0 and (im["src"] in broken or not im["complete"]):
            n_bad += 1
            where = im["raw"] or im["src"] or "(no src)"
            if im["src"].startswith("data:"):
                where = im["src"][:40] + "..."
            ext = "" if not im["src"].startswith("http") or im["src"].startswith(server.base) \
                else " (external; the network is blocked unless --allow-network)"
            problems.append(f"image did not load: {where}{ext}")

    # resources the browser asked for that are not in the build
    for path in server.take_not_found():
        problems.append(f"missing resource (HTTP 404): {urllib.parse.unquote(path)}")

    # error outputs
    for err in info["errors"]:
        text = err["text"].strip()
        lines = [ln for ln in text.splitlines() if ln.strip()]
        if err["kind"] == "stderr":
            # EMPTY PANEL lines are reported below (from the page text), once each
            rest = [ln for ln in lines if "EMPTY PANEL" not in ln]
            if rest:
                more = f" (+{len(rest) - 1} more lines)" if len(rest) > 1 else ""
                problems.append(f"stderr output: {rest[0].strip()[:160]}{more}")
        else:
            last = lines[-1].strip() if lines else ""
            problems.append(f"{err['kind']} output: {last[:160]}")
    if info["traceback_text"]:
        problems.append("text 'Traceback (most recent call last)' in the page")
    for t in dict.fromkeys(info["ansi"]):
        problems.append(f"ANSI-red error text in an output: {t[:160]}")
    for p in dict.fromkeys(info["empty_panels"]):
        problems.append(f"figure with an empty panel: {p[:200]}")

    # internal links
    page_url = urllib.parse.urldefrag(info["url"])[0]
    own_ids = set(info["ids"])
    base = urllib.parse.urlsplit(server.base)
    n_links = 0
    reported = set()
    for ln in info["links"]:
        href = ln["href"]
        parts = urllib.parse.urlsplit(href)
        if parts.scheme not in ("http", "https") or parts.netloc != base.netloc:
            continue
        n_links += 1
        target, frag = urllib.parse.urldefrag(href)
        target = urllib.parse.urlunsplit(urllib.parse.urlsplit(target)._replace(query=""))
        frag = urllib.parse.unquote(frag)
        if target == page_url:
            status, ids = 200, own_ids
        else:
            status, ids = links.get(target)
        raw = ln["raw"]
        if status != 200:
            msg = f"broken link {raw!r}: HTTP {status or 'no answer'}"
        elif frag and ids is not None and frag not in ids:
            msg = f"broken link {raw!r}: no id {frag!r} on {urllib.parse.urlsplit(target).path}"
        else:
            continue
        if msg not in reported:
            reported.add(msg)
            problems.append(msg)

    return {"images": f"{n_img - n_bad}/{n_img}", "links": n_links}, problems


# ----------------------------------------------------------------------------- cli

def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--html", type=Path, default=Path("book/_build/html"),
                    help="the built html folder (default: book/_build/html)")
    ap.add_argument("--toc", type=Path, default=Path("_toc.yml"), help="jupyter-book _toc.yml")
    ap.add_argument("--screens", type=Path, default=Path("build/screens"),
                    help="folder for one full-page PNG per page (default: build/screens)")
    ap.add_argument("--chromium", default=os.environ.get("CHROMIUM", CHROMIUM))
    ap.add_argument("--chromedriver", default=os.environ.get("CHROMEDRIVER", CHROMEDRIVER))
    ap.add_argument("--max-height", type=int, default=20000,
                    help="cap on the screenshot height in px (default 20000)")
    ap.add_argument("--allow-network", action="store_true",
                    help="let the browser resolve hosts other than 127.0.0.1")
    return ap.parse_args(argv)


def run(args) -> int:
    html = args.html
    if not html.is_dir():
        raise SetupError(f"html folder {html} does not exist; build the book first (`make book`)")
    for name, path in (("chromium", args.chromium), ("chromedriver", args.chromedriver)):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise SetupError(f"{name} not found at {path}; install it with `{APT_HINT}`")
    pages = toc_pages(args.toc, html)
    names = screen_names(pages)
    rows, problems = [], []
    t0 = time.monotonic()
    present = [p for p in pages if (html / (p + ".html")).is_file()]
    for p in pages:
        if p not in present:
            rows.append((p, "-", "-", 1))
            problems.append((p, f"page missing from the html build ({html / (p + '.html')})"))
    if present:
        with tempfile.TemporaryDirectory(prefix="check_book-") as tmp, Server(html) as server:
            log_path = os.path.join(tmp, "chromedriver.log")
            driver = make_driver(args.chromium, args.chromedriver, os.path.join(tmp, "profile"),
                                 log_path, args.allow_network)
            checker = LinkChecker()
            try:
                for p in present:
                    try:
                        stats, probs = check_page(driver, server, checker, p,
                                                  args.screens / f"{names[p]}.png",
                                                  args.max_height)
                    except Exception as e:  # a page that breaks the browser is a problem too
                        first = (str(getattr(e, "msg", None) or e).strip().splitlines()
                                 or [type(e).__name__])[0]
                        stats, probs = {"images": "?", "links": "?"}, [f"check failed: {first}"]
                    rows.append((p, stats["images"], stats["links"], len(probs)))
                    problems += [(p, msg) for msg in probs]
            finally:
                driver.quit()
    order = {p: i for i, p in enumerate(pages)}
    rows.sort(key=lambda r: order[r[0]])
    problems.sort(key=lambda pm: order[pm[0]])  # stable: a page's problems keep their order

    w = max([len("page")] + [len(r[0]) for r in rows])
    print(f"{'page':<{w}}  {'images':>7}  {'links':>5}  {'problems':>8}")
    for page, im, nl, npb in rows:
        print(f"{page:<{w}}  {im:>7}  {nl:>5}  {npb:>8}")
    elapsed = time.monotonic() - t0
    for page, msg in problems:
        print(f"FAIL {page}: {msg}")
    bad_pages = len({p for p, _ in problems})
    if problems:
        print(f"check_book: {len(problems)} problem(s) on {bad_pages} of {len(pages)} page(s) "
              f"({elapsed:.0f} s); screenshots in {args.screens}/")
        return 1
    print(f"check_book: {len(pages)} page(s) OK ({elapsed:.0f} s); screenshots in {args.screens}/")
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except SetupError as e:
        print(f"check_book: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
