"""The ``vaefail`` command line.

    vaefail --version                                   print ``vaefail <version>``
    vaefail data --list                                 list the data sets
    vaefail data NAME [--n N] [--seed S] [--out FILE]   write a sample as CSV
    vaefail surrogates [NAME ...] [--refit]             fit / check the surrogate cache
    vaefail sweep NAME [--profile P] [--workers W]      run / resume a training sweep
    vaefail sweep NAME [--profile P] --dask ADDRESS     ... on a Dask cluster (dask_map.py)
    vaefail sweep NAME [--profile P] --device cuda      ... on this machine's GPU
    vaefail scorecard [--profile P]                     every claim of the paper, judged

``vaefail scorecard`` judges the claims registry (``paper/claims.py``) on the results
cache of the profile (nothing is trained; claims whose sweep is not cached are "not
run"), prints the verdict counts and one line per claim, and writes
``results/<profile>/scorecard.csv``.

``vaefail data`` writes columns ``x1..xD``, ``z1..zK`` (synthetic sets) and ``y``
(labelled sets) to ``FILE`` (default: standard output). ``--n`` defaults to 1000 for
synthetic sets and to all rows for the UCI sets. Also runnable as
``python -m vaefail_core.cli``.

Limits (checked before any data is generated or any file is opened):

* ``--n`` is an integer in [1, ``MAX_ROWS`` = 10,000,000]; a sample costs about
  N x (D+K+1) x 24 bytes (8 for the float64 frame, up to 16 of CSV text per value),
  so the cap keeps ``vaefail data`` under ~1.4 GB. A UCI set also refuses N above its
  number of rows. For more points, write several files with different ``--seed``.
* ``--seed`` is a non-negative integer.
* ``--out`` must name a file (not a folder) in an existing, writable folder; no folders
  are created.
* ``sweep``: NAME is one of ``paper.records.SWEEPS``, ``--profile`` one of quick / reduced /
  paper, ``--workers`` an integer in [1, ``MAX_WORKERS`` = 64].
* ``sweep --dask ADDRESS``: ``local:N`` (a Dask ``LocalCluster`` of N single-threaded
  worker processes on this machine, N in [1, ``MAX_WORKERS``]) or ``tcp://host:port`` (a
  running ``dask scheduler``; port in [1, 65535]). Not together with ``--workers`` W > 1
  (the cluster's workers do the work). A scheduler that does not answer within
  ``dask_map.DEFAULT_TIMEOUT`` = 5 s is an error (status 2), reported before anything is
  trained. The records are written by this process into ``results/<profile>/``, as
  without ``--dask``; the workers need no shared filesystem. Needs the packages
  ``dask`` and ``distributed`` (the ``test`` extra installs them).
* ``sweep --device D``: ``cpu`` (the default; the groups and records are those of a run
  without the flag), ``cuda`` (this machine's GPU; without one, torch reporting
  ``torch.cuda.is_available()`` False, it is an error, status 2, before anything is
  trained) or ``auto`` (``cuda`` if available, else ``cpu``). On the GPU the ensembles are
  sized to its free memory (``sweep.max_models_for``) and ``--workers`` defaults to 1. Not
  with ``--dask``.

Errors. Bad input (usage errors, unknown names, values out of range, an unwritable
``--out``, a missing UCI file, ...) prints exactly one line ``vaefail: error: ...`` to
standard error and exits with status 2; running out of memory is reported the same way.
Ctrl-C prints ``vaefail: error: interrupted`` and exits with status 130. Any other
exception (a bug) is reported as one ``vaefail: error: internal error ...`` line with
status 1. ``VAEFAIL_DEBUG=1`` re-raises every exception instead, with its traceback.
A closed output pipe (``vaefail data circle | head``) ends the command quietly with
status 1.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DEFAULT_N = 1000
#: the largest ``--n`` of ``vaefail data`` (about 1.4 GB for the widest data set, 6 columns)
MAX_ROWS = 10_000_000
#: bytes per value of a sample written as CSV: float64 frame (8) + CSV text (<= 16)
BYTES_PER_VALUE = 8 + 16
#: the largest ``--workers`` of ``vaefail sweep`` (and N of ``--dask local:N``)
MAX_WORKERS = 64
#: ``--workers`` of ``vaefail sweep`` when not given
DEFAULT_WORKERS = 2
DEBUG_ENV = "VAEFAIL_DEBUG"

EXIT_USAGE = 2          # bad input
EXIT_INTERNAL = 1       # a bug (or a closed output pipe)
EXIT_INTERRUPT = 130    # Ctrl-C


class UsageError(Exception):
    """Bad input found by the command line itself (reported as one line, status 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line ``vaefail: error: ...`` (exit status 2)."""

    def error(self, message: str):  # noqa: D102
        where = self.prog.split(" ", 1)[1] if " " in self.prog else ""
        hint = f"see {self.prog} --help"
        self.exit(EXIT_USAGE, f"vaefail: error: {where + ': ' if where else ''}{_one_line(message)} "
                              f"({hint})\n")


def _one_line(message: str) -> str:
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    return "; ".join(lines)


def _fail(message: str, status: int = EXIT_USAGE) -> int:
    print(f"vaefail: error: {_one_line(message)}", file=sys.stderr)
    return status


def _debug() -> bool:
    return os.environ.get(DEBUG_ENV, "").strip().lower() in ("1", "true", "yes")


def _human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def sample_bytes(n: int, n_columns: int) -> int:
    """Estimated peak bytes of writing ``n`` rows of ``n_columns`` values as CSV."""
    return int(n) * int(n_columns) * BYTES_PER_VALUE


def _check_out(out: str | None) -> None:
    """Raise ``UsageError`` unless ``out`` is '-' / None or a writable file path."""
    if out in (None, "-"):
        return
    p = Path(out)
    if p.is_dir():
        raise UsageError(f"--out {out} is a folder; give a file name")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.exists():
        raise UsageError(f"--out {out}: folder {parent} does not exist (no folders are created)")
    if not parent.is_dir():
        raise UsageError(f"--out {out}: {parent} is not a folder")
    if p.exists() and not os.access(p, os.W_OK):
        raise UsageError(f"--out {out}: no permission to write this file")
    if not p.exists() and not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"--out {out}: no permission to create files in {parent}")


def _cmd_data(args) -> int:
    from . import data

    if args.list:
        for name in data.synthetic_names():
            g = data.get(name)
            print(f"{name:<22} K={g.latent_dim} D={g.data_dim} label={g.label or '-':<10} "
                  f"noise_var={g.noise_var:g}  {g.source}")
        for name in data.uci_names():
            print(f"{name:<22} real data (UCI), semi-supervised")
        return 0
    if args.name is None:
        return _fail("give a data set NAME or --list")
    if args.name not in data.names():
        return _fail(f"unknown data set {args.name!r}; valid: {', '.join(data.names())}")
    n = args.n
    if n is None and args.name not in data.uci_names():
        n = DEFAULT_N
    if n is not None and n < 1:
        return _fail(f"--n must be a positive integer, got {n}")
    if n is not None and n > MAX_ROWS:
        if args.name in data.uci_names():
            size = ""
        else:
            g = data.get(args.name)
            cols = g.data_dim + g.latent_dim + (g.label is not None)
            size = (f" (this sample would need about {_human_bytes(sample_bytes(n, cols))}: "
                    f"{n} x {cols} values x {BYTES_PER_VALUE} bytes)")
        return _fail(f"--n {n} is above the limit of {MAX_ROWS:,} rows{size}; "
                     f"write several files with different --seed instead")
    if args.seed < 0:
        return _fail(f"--seed must be a non-negative integer, got {args.seed}")
    _check_out(args.out)
    sample = data.load(args.name, n=n, seed=args.seed)
    frame = data.to_frame(sample)
    if args.out in (None, "-"):
        frame.to_csv(sys.stdout, index=False, float_format="%.8g")
        sys.stdout.flush()
        return 0
    with open(args.out, "w", newline="") as fh:       # no folders are created
        try:
            frame.to_csv(fh, index=False, float_format="%.8g")
        except BaseException:
            fh.close()
            Path(args.out).unlink(missing_ok=True)    # no half-written CSV is left behind
            raise
    return 0


def _cmd_surrogates(args) -> int:
    from .datasets import surrogate as S

    names = args.names or list(S.CONFIGS)
    for n in names:
        if n not in S.CONFIGS:
            return _fail(f"no surrogate for {n!r}; known: {', '.join(S.CONFIGS)}")
    print(f"{'name':<22} {'method':<6} {'steps':>5} {'mse':>9} {'max_err':>9} {'fit_s':>6}  target<{S.TARGET_MSE:g}")
    for n in names:
        r = S.load(n, refit=args.refit)
        ok = "yes" if r["mse"] < S.TARGET_MSE else "NO"
        print(f"{n:<22} {r['method']:<6} {r['steps']:>5} {r['mse']:>9.2e} "
              f"{r['max_abs_err']:>9.2e} {r['fit_seconds']:>6.1f}  {ok}")
    return 0


def _cmd_sweep(args) -> int:
    from .paper.records import SWEEPS, run_named_sweep
    from .profiles import PROFILES

    if args.name not in SWEEPS:
        return _fail(f"unknown sweep {args.name!r}; choose one of {', '.join(sorted(SWEEPS))}")
    if args.profile not in PROFILES:
        return _fail(f"unknown profile {args.profile!r}; choose one of {', '.join(PROFILES)}")
    if args.workers is not None and not 1 <= args.workers <= MAX_WORKERS:
        return _fail(f"--workers must be an integer in [1, {MAX_WORKERS}], got {args.workers}")
    from .sweep import resolve_device

    try:
        device = resolve_device(args.device)
    except ValueError as exc:
        return _fail(str(exc))
    if args.dask is not None and device != "cpu":
        return _fail(f"--dask and --device {args.device} exclude each other: a Dask cluster's "
                     f"workers train on their CPUs")
    # one process per GPU: its ensembles are sized to the whole of its free memory
    workers = (DEFAULT_WORKERS if device == "cpu" else 1) if args.workers is None else args.workers
    if args.dask is not None:
        if args.workers is not None and args.workers > 1:
            return _fail(f"--dask and --workers {args.workers} exclude each other: the Dask "
                         f"cluster's workers train the groups (local:N starts N)")
        try:
            from .dask_map import parse_address
        except ImportError as exc:
            return _fail(f"--dask needs the packages dask and distributed ({exc}); install them "
                         f"with: pip install 'dask[distributed]'")
        try:
            parse_address(args.dask, MAX_WORKERS)
        except ValueError as exc:
            return _fail(str(exc))
    res = run_named_sweep(args.name, args.profile, workers=workers, progress=True, dask=args.dask,
                          device=device)
    print(f"{args.name} [{args.profile}]: {len(res)} tasks, {res.n_computed} computed, "
          f"{res.n_cached} from the cache")
    return 0


def _cmd_scorecard(args) -> int:
    from .paper import scorecard as sc
    from .profiles import PROFILES

    if args.profile not in PROFILES:
        return _fail(f"unknown profile {args.profile!r}; choose one of {', '.join(PROFILES)}")
    frame = sc.scorecard(args.profile)
    path = sc.write_csv(frame, args.profile)
    print(sc.terminal(frame))
    print(f"\nwritten: {path}")
    return 0


def _cmd_diagnose(args) -> int:
    """``vaefail diagnose DATA.csv [--label COL] [--latent-dim K] [--out DIR]``: the
    paper's Section 9 checks on a CSV file (``diagnose.py``); writes ``DIR/report.html``
    (figures embedded) and ``DIR/summary.json`` (default DIR: ``diagnose_<file stem>``,
    created; its parent must exist) and prints a table. Features are every column but
    the label (or ``--columns a,b,...``); an empty label cell is an unlabelled row.
    Bad input (a missing file or column, non-numeric values, NaN, fewer than 100 rows,
    one class, K < 1 or K >= D, ...) is one ``vaefail: error:`` line, status 2."""
    from dataclasses import replace

    from . import diagnose as dg

    if args.latent_dim is not None and args.latent_dim < 1:
        return _fail(f"--latent-dim must be an integer >= 1, got {args.latent_dim}")
    if args.seed < 0:
        return _fail(f"--seed must be a non-negative integer, got {args.seed}")
    if args.epochs is not None and args.epochs < 1:
        return _fail(f"--epochs must be a positive integer, got {args.epochs}")
    out = Path(args.out) if args.out else Path(f"diagnose_{Path(args.data).stem}")
    parent = out.parent if str(out.parent) else Path(".")
    if out.exists() and not out.is_dir():
        return _fail(f"--out {out} is a file; give a folder")
    if not parent.is_dir():
        return _fail(f"--out {out}: folder {parent} does not exist (only the last folder is created)")
    if not os.access(out if out.exists() else parent, os.W_OK | os.X_OK):
        return _fail(f"--out {out}: no permission to write there")
    cols = [c.strip() for c in args.columns.split(",") if c.strip()] if args.columns else None
    cfg = dg.FAST if args.fast else dg.DiagnoseConfig()
    cfg = replace(cfg, seed=args.seed, **({"epochs": args.epochs} if args.epochs else {}))
    try:
        X, y, feats = dg.load_table(args.data, args.label, cols)
        dg.check_inputs(X, y, args.latent_dim)
        try:
            import ripser  # noqa: F401  (persistent homology, guideline 3)
        except ImportError:
            return _fail("vaefail diagnose needs the package ripser: pip install 'vaefail[diagnose]'")
        res = dg.diagnose(X, y, args.latent_dim, cfg, progress=True, source=Path(args.data).name,
                          columns=feats, label=args.label)
    except dg.DiagnoseInputError as exc:
        return _fail(str(exc))
    from .diagnose_report import terminal_table, write_report

    paths = write_report(res, out)
    print(terminal_table(res["summary"]))
    print(f"\nreport: {paths['report']}\nsummary: {paths['summary']}\n"
          f"({res['summary']['seconds']['total']:.0f} s)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    p = _Parser(prog="vaefail", description="Failure modes of VAEs: companion tools.")
    p.add_argument("--version", action="version", version=f"vaefail {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    d = sub.add_parser("data", help="list the data sets or write a sample as CSV")
    d.add_argument("name", nargs="?", metavar="NAME", help="data set (see --list)")
    d.add_argument("--list", action="store_true", help="list the data sets and exit")
    d.add_argument("--n", type=int, default=None,
                   help=f"number of points, 1..{MAX_ROWS:,} (default {DEFAULT_N}; UCI: all rows)")
    d.add_argument("--seed", type=int, default=0, help="random seed, >= 0 (default 0)")
    d.add_argument("--out", default="-", metavar="FILE",
                   help="CSV file to write, in an existing folder (default: standard output)")
    d.set_defaults(func=_cmd_data)
    s = sub.add_parser("surrogates", help="fit or check the cached surrogate networks")
    s.add_argument("names", nargs="*", metavar="NAME", help="closed forms (default: all)")
    s.add_argument("--refit", action="store_true", help="refit even if the cache is valid")
    s.set_defaults(func=_cmd_surrogates)
    w = sub.add_parser("sweep", help="run or resume a named training sweep into results/<profile>/")
    w.add_argument("name", metavar="NAME", help="sweep name (e.g. section5)")
    w.add_argument("--profile", default="reduced", help="quick | reduced | paper (default reduced)")
    w.add_argument("--workers", type=int, default=None,
                   help=f"worker processes, 1..{MAX_WORKERS} (default {DEFAULT_WORKERS})")
    w.add_argument("--dask", default=None, metavar="ADDRESS",
                   help=f"train on a Dask cluster instead: local:N (N in 1..{MAX_WORKERS} local "
                        f"worker processes) or tcp://host:port (a dask scheduler)")
    w.add_argument("--device", default="cpu", metavar="DEVICE",
                   help="cpu | cuda | auto (cuda if available): where the groups train (default cpu; "
                        "cuda sizes the ensembles to the GPU's free memory, --workers defaults to 1)")
    w.set_defaults(func=_cmd_sweep)
    c = sub.add_parser("scorecard", help="judge every claim of the paper on the cached results")
    c.add_argument("--profile", default="reduced", help="quick | reduced | paper (default reduced)")
    c.set_defaults(func=_cmd_scorecard)
    g = sub.add_parser("diagnose", help="Section 9's checks on your own data (CSV): HTML report + summary.json")
    g.add_argument("data", metavar="DATA.csv", help="CSV file with a header row; numeric feature columns")
    g.add_argument("--label", default=None, metavar="COL", help="label column (guideline 1; empty cells: unlabelled)")
    g.add_argument("--latent-dim", type=int, default=None, metavar="K",
                   help="latent dimension K >= 1 (default: the intrinsic-dimension estimate)")
    g.add_argument("--out", default=None, metavar="REPORT_DIR",
                   help="folder for report.html and summary.json (default diagnose_<file stem>)")
    g.add_argument("--columns", default=None, metavar="A,B,...",
                   help="feature columns (default: all but the label)")
    g.add_argument("--seed", type=int, default=0, help="random seed, >= 0 (default 0)")
    g.add_argument("--epochs", type=int, default=None, help="training epochs per model (default 200; --fast 120)")
    g.add_argument("--fast", action="store_true", help="less work (fewer rows, epochs and samples)")
    g.set_defaults(func=_cmd_diagnose)
    return p


def _quiet_broken_pipe() -> int:
    """The reader of standard output went away (``| head``): stop without a message."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())    # so the exit-time flush cannot fail again
    except (OSError, ValueError, AttributeError):   # stdout without a file descriptor
        pass
    return EXIT_INTERNAL


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``vaefail`` console script; returns the exit status."""
    try:
        return _main(argv)
    except SystemExit as exc:                  # argparse: --help, --version, usage errors
        code = exc.code
        if code is None or isinstance(code, int):
            return code or 0
        return _fail(str(code))
    except BaseException as exc:               # noqa: BLE001 (each kind is reported below)
        if _debug():
            raise
        if isinstance(exc, KeyboardInterrupt):
            return _fail("interrupted", EXIT_INTERRUPT)
        if isinstance(exc, BrokenPipeError):
            return _quiet_broken_pipe()
        if isinstance(exc, MemoryError):
            return _fail(f"out of memory ({str(exc) or 'MemoryError'}); try a smaller --n")
        if isinstance(exc, OSError) and exc.strerror:
            where = exc.filename if exc.filename is not None else ""
            return _fail(f"{where}: {exc.strerror}" if where else exc.strerror)
        if isinstance(exc, (UsageError, ValueError, OSError, NotImplementedError)):
            return _fail(str(exc).strip() or type(exc).__name__)
        if not isinstance(exc, Exception):     # GeneratorExit and the like
            raise
        return _fail(f"internal error ({type(exc).__name__}: {exc}); rerun with "
                     f"{DEBUG_ENV}=1 for the traceback", EXIT_INTERNAL)


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        return _fail("give a COMMAND (data, surrogates or sweep); see vaefail --help")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
