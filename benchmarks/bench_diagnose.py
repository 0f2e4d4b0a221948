"""How long ``vaefail diagnose`` takes, as a user runs it.

Run:  .venv/bin/python benchmarks/bench_diagnose.py [--sets circle,figure8] [--rows 2000] [--fast]

Each benchmark set is exported as CSV (the ``vaefail data`` columns), then the command
runs in a fresh process (``python -m vaefail_core.cli diagnose FILE --columns x1..xD
--latent-dim 1 [--label y]``, ``VAEFAIL_QUIET=1``), so the time includes the imports,
the training of every model and the HTML report. Prints, per set: wall-clock seconds,
the seconds ``diagnose`` itself reports per stage (classifier, topology, model fits,
evaluation), and the bottom line. One torch thread per process (the command's own
setting); on a machine shared with other jobs the wall-clock time grows accordingly.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vaefail_core import data  # noqa: E402
from vaefail_core import diagnose as dg  # noqa: E402


def time_command(name: str, rows: int, fast: bool, seed: int = 0) -> dict:
    g = data.get(name)
    with tempfile.TemporaryDirectory() as tmp:
        csv = dg.export_csv(name, Path(tmp) / f"{name}.csv", n=rows, seed=seed)
        cmd = [sys.executable, "-m", "vaefail_core.cli", "diagnose", str(csv), "--latent-dim", "1",
               "--columns", ",".join(f"x{i + 1}" for i in range(g.data_dim)), "--out", str(Path(tmp) / "rep")]
        if g.label is not None:
            cmd += ["--label", "y"]
        if fast:
            cmd.append("--fast")
        t0 = time.perf_counter()
        run = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "VAEFAIL_QUIET": "1"})
        wall = time.perf_counter() - t0
        if run.returncode:
            raise SystemExit(f"{name}: the command failed: {run.stderr.strip()}")
        s = json.loads((Path(tmp) / "rep" / "summary.json").read_text())
    return {"set": name, "wall": wall, **{k: s["seconds"][k] for k in ("class_separability", "data_shape", "fits", "evaluation")},
            "rich": s["rich_family_recommended"], "reasons": ",".join(s["reasons"]) or "-"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default=",".join(dg.VALIDATION_SETS))
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--fast", action="store_true", help="time `vaefail diagnose --fast`")
    args = ap.parse_args(argv)
    print(f"vaefail diagnose{' --fast' if args.fast else ''}, {args.rows} rows per set (wall-clock seconds)")
    print(f"{'set':<22} {'wall':>6} {'classif':>8} {'topology':>8} {'fits':>6} {'eval':>6}  rich  reasons")
    for name in args.sets.split(","):
        r = time_command(name.strip(), args.rows, args.fast)
        print(f"{r['set']:<22} {r['wall']:>6.1f} {r['class_separability']:>8.1f} {r['data_shape']:>8.1f} "
              f"{r['fits']:>6.1f} {r['evaluation']:>6.1f}  {'YES' if r['rich'] else 'no ':<4}  {r['reasons']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
