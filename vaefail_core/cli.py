"""The ``vaefail`` command line.

    vaefail data --list                                 list the data sets
    vaefail data NAME [--n N] [--seed S] [--out FILE]   write a sample as CSV
    vaefail surrogates [NAME ...] [--refit]             fit / check the surrogate cache

``vaefail data`` writes columns ``x1..xD``, ``z1..zK`` (synthetic sets) and ``y``
(labelled sets) to ``FILE`` (default: standard output). ``--n`` defaults to 1000 for
synthetic sets and to all rows for the UCI sets. Bad input (unknown name, non-positive
n, negative seed, unwritable output) prints one line to standard error and exits with
status 2. Also runnable as ``python -m vaefail_core.cli``.
"""
from __future__ import annotations

import argparse
import sys

DEFAULT_N = 1000


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line on stderr (exit status 2)."""

    def error(self, message: str):  # noqa: D102
        self.exit(2, f"{self.prog}: error: {message}\n")


def _fail(message: str) -> int:
    print(f"vaefail: error: {message}", file=sys.stderr)
    return 2


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
    if args.seed < 0:
        return _fail(f"--seed must be a non-negative integer, got {args.seed}")
    sample = data.load(args.name, n=n, seed=args.seed)
    text = data.to_frame(sample).to_csv(index=False, float_format="%.8g")
    if args.out in (None, "-"):
        sys.stdout.write(text)
    else:
        with open(args.out, "w", newline="") as fh:   # no folders are created
            fh.write(text)
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


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="vaefail", description="Failure modes of VAEs: companion tools.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    d = sub.add_parser("data", help="list the data sets or write a sample as CSV")
    d.add_argument("name", nargs="?", metavar="NAME", help="data set (see --list)")
    d.add_argument("--list", action="store_true", help="list the data sets and exit")
    d.add_argument("--n", type=int, default=None,
                   help=f"number of points (default {DEFAULT_N}; UCI: all rows)")
    d.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    d.add_argument("--out", default="-", metavar="FILE",
                   help="CSV file to write (default: standard output)")
    d.set_defaults(func=_cmd_data)
    s = sub.add_parser("surrogates", help="fit or check the cached surrogate networks")
    s.add_argument("names", nargs="*", metavar="NAME", help="closed forms (default: all)")
    s.add_argument("--refit", action="store_true", help="refit even if the cache is valid")
    s.set_defaults(func=_cmd_surrogates)
    w = sub.add_parser("sweep", help="run or resume a named training sweep into results/<profile>/")
    w.add_argument("name", metavar="NAME", help="sweep name (e.g. section5)")
    w.add_argument("--profile", default="reduced", help="quick | reduced | paper (default reduced)")
    w.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    w.set_defaults(func=_cmd_sweep)
    return p


def _cmd_sweep(args) -> int:
    from .experiments import run_named_sweep

    if args.workers < 1:
        return _fail(f"--workers must be >= 1, got {args.workers}")
    res = run_named_sweep(args.name, args.profile, workers=args.workers, progress=True)
    print(f"{args.name} [{args.profile}]: {len(res)} tasks, {res.n_computed} computed, "
          f"{res.n_cached} from the cache")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``vaefail`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.func(args)
    except (ValueError, OSError, NotImplementedError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return _fail(msg)


if __name__ == "__main__":
    sys.exit(main())
